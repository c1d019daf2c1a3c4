/**
 * Fails when the UI hard-codes words instead of taking them from the catalogs: text nodes and
 * user-visible attributes (title, aria-label, placeholder, …) of every component, and string
 * literals that read like a sentence or a label in component scripts, markup expressions and
 * lib/ code. Pragmatic, not a parser: what it flags is either moved into en.ts/ko.ts or, when
 * it is not for people, allowed in NOT_TEXT (a literal) or NOT_FOR_PEOPLE (a module) with a
 * reason.
 */
import { describe, expect, test } from 'vitest';

const components = import.meta.glob('/src/**/*.svelte', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

/** lib/ modules that hold no words for people, each with the reason. */
const NOT_FOR_PEOPLE: [RegExp, string][] = [
  [/\.test\.ts$/, 'tests'],
  [/\/i18n\//, 'the catalogs themselves'],
  [/\/mockBackend\.ts$/, 'stands in for the Rust side: its messages play the part of the server’s and the app’s'],
  [/\/mockMeeting\.ts$/, 'the mock’s room server: its refusals play the part of the server’s'],
  [/\/frame\.ts$/, 'a bad frame is dropped with a console warning'],
  [/\/gl\//, 'shader source; a WebGL failure falls back to the 2D canvas'],
];
const modules = Object.fromEntries(
  Object.entries(import.meta.glob('/src/lib/**/*.ts', { query: '?raw', import: 'default', eager: true }) as Record<string, string>).filter(
    ([file]) => !NOT_FOR_PEOPLE.some(([re]) => re.test(file)),
  ),
);

/** Literals that look like words but are not for people. */
const NOT_TEXT = new Set([
  'Escape', // KeyboardEvent.key
  'Web Audio is not available', // the {detail} of a catalog sentence, for bug reports
  'no localStorage', // likewise
  'Enter', // KeyboardEvent.key
]);

/** Attributes whose value people read or hear. */
const VISIBLE_ATTRIBUTES = new Set([
  'title',
  'placeholder',
  'alt',
  'label',
  'emptyText',
  'aria-label',
  'aria-description',
  'aria-valuetext',
  'aria-roledescription',
  'aria-placeholder',
]);

/** Attributes whose expressions hold code, not words (CSS classes, ids, test ids). */
const CODE_ATTRIBUTE = /^(class|style|id|for|name|type|role|href|src|data-[\w-]+|testid|class:.*|style:.*)$/;

interface Finding {
  line: number;
  text: string;
}

const hasLetter = (s: string): boolean => /\p{L}/u.test(s);

/** Whether a string literal reads like words for people rather than an identifier, a key or a URL. */
function looksLikeText(literal: string): boolean {
  const v = literal.replace(/\{\}/g, '0').trim();
  if (!hasLetter(v) || NOT_TEXT.has(v)) return false;
  if (/[^\x00-\x7f]/u.test(v) && hasLetter(v.replace(/[\x00-\x7f]/g, ''))) return true; // Hangul and other scripts
  if (/^[A-Z][a-z]+$/.test(v)) return true; // "Mute", "Share"
  if (!/[A-Za-z][a-z]/.test(v)) return false; // no word: SVG paths, units
  return !/^[\w:./#?&=%@$-]*$/.test(v); // identifiers, kebab-case, paths, URLs
}

interface Literal {
  text: string;
  at: number;
}

/**
 * Reads JavaScript from `i` and collects its string literals (a template's `${…}` becomes `{}`),
 * skipping comments and regular expressions. With `untilBrace`, stops at the `}` that closes the
 * expression begun before `i` and returns the index after it.
 */
function readJs(src: string, i: number, untilBrace: boolean, out: Literal[]): number {
  let depth = 0;
  let prev = ''; // the last significant character, to tell a regex from a division
  while (i < src.length) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && (inClass || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j++;
      }
      i = j + 1;
      prev = '/';
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        text += src[j++];
      }
      out.push({ text, at: i });
      i = j + 1;
      prev = c;
      continue;
    }
    if (c === '`') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== '`') {
        if (src[j] === '\\') {
          text += src[j + 1];
          j += 2;
        } else if (src[j] === '$' && src[j + 1] === '{') {
          j = readJs(src, j + 2, true, out);
          text += '{}';
        } else text += src[j++];
      }
      out.push({ text, at: i });
      i = j + 1;
      prev = c;
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      if (depth === 0 && untilBrace) return i + 1;
      depth--;
    }
    if (!/\s/.test(c)) prev = c;
    i++;
  }
  return i;
}

const lineOf = (src: string, at: number): number => src.slice(0, at).split('\n').length;
const blank = (s: string): string => s.replace(/[^\n]/g, ' ');

/** Literals in script code that look like words, except on lines that only talk to developers. */
function scriptFindings(src: string, code: string, offset: number): Finding[] {
  const found: Literal[] = [];
  readJs(code, 0, false, found);
  return found
    .filter((l) => looksLikeText(l.text))
    .map((l) => ({ line: lineOf(src, offset + l.at), text: l.text }))
    .filter((f) => !/console\.\w+\(/.test(src.split('\n')[f.line - 1]));
}

/** Everything hard-coded in one component. */
function scanComponent(src: string): Finding[] {
  const findings: Finding[] = [];
  let markup = src.replace(/<!--[\s\S]*?-->/g, blank).replace(/<style[\s\S]*?<\/style>/g, blank);
  markup = markup.replace(/(<script[^>]*>)([\s\S]*?)<\/script>/g, (whole, open: string, code: string, at: number) => {
    findings.push(...scriptFindings(src, code, at + open.length));
    return blank(whole);
  });

  // Expressions: words in their literals count unless they sit in a code attribute; then blank
  // them, so that what is left of the markup is plain text and plain attribute values.
  let out = '';
  for (let i = 0; i < markup.length; ) {
    if (markup[i] !== '{') {
      out += markup[i++];
      continue;
    }
    const literals: Literal[] = [];
    // `{/if}`, `{/each}`: a block's end, not a regular expression.
    const end = markup[i + 1] === '/' ? markup.indexOf('}', i) + 1 : readJs(markup, i + 1, true, literals);
    const before = markup.slice(Math.max(markup.lastIndexOf('<', i), markup.lastIndexOf('>', i)), i);
    const attribute = before.startsWith('<') ? /([\w:.|-]+)\s*=\s*["']?[^"'=]*$/.exec(before)?.[1] : undefined;
    if (!attribute || !CODE_ATTRIBUTE.test(attribute)) {
      for (const l of literals) {
        if (looksLikeText(l.text)) findings.push({ line: lineOf(src, l.at), text: l.text });
      }
    }
    out += blank(markup.slice(i, end));
    i = end;
  }

  for (const tag of out.matchAll(/<\/?[A-Za-z][^>]*>/g)) {
    for (const a of tag[0].matchAll(/([\w:.|-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      const value = (a[2] ?? a[3]).trim();
      if (VISIBLE_ATTRIBUTES.has(a[1]) && hasLetter(value)) {
        findings.push({ line: lineOf(src, tag.index + a.index), text: `${a[1]}="${value.replace(/\s+/g, ' ')}"` });
      }
    }
  }
  for (const text of out.matchAll(/>([^<]+)</g)) {
    const value = text[1].trim();
    if (hasLetter(value)) findings.push({ line: lineOf(src, text.index + 1 + text[1].search(/\S/)), text: value.replace(/\s+/g, ' ') });
  }
  return findings.sort((a, b) => a.line - b.line);
}

function scanModule(src: string): Finding[] {
  return scriptFindings(src, src, 0);
}

const report = (files: Record<string, string>, scan: (src: string) => Finding[]): string[] =>
  Object.entries(files).flatMap(([file, src]) => scan(src).map((f) => `${file.slice(1)}:${f.line}: ${f.text}`));

describe('no hard-coded words outside the catalogs', () => {
  test('the scan sees components and modules', () => {
    expect(Object.keys(components).length).toBeGreaterThan(15);
    expect(Object.keys(modules)).toContain('/src/lib/stores/room.svelte.ts');
  });

  test('components', () => {
    expect(report(components, scanComponent)).toEqual([]);
  });

  test('lib modules', () => {
    expect(report(modules, scanModule)).toEqual([]);
  });
});

describe('the scan itself', () => {
  test('finds text nodes, visible attributes and words in expressions and scripts', () => {
    const src = [
      '<script lang="ts">',
      "  const label = 'Hello there'; // 'not this'",
      "  const icon = 'mic-off', path = /a'b/g, url = `http://${host}/x`;",
      "  console.warn('for developers only');",
      '</script>',
      '<p>Plain text</p>',
      "<button title=\"Close it\" aria-label={x ? 'Yes' : t('no')} class={on ? 'ctl on' : 'ctl'}>{t('ok')} ×</button>",
      '<input placeholder="{n} more" data-testid="tile-{id}" />',
      '<span>{name}{self ? \' (you)\' : \'\'}</span>',
      '<!-- <p>a comment</p> -->',
      "<style> .a::after { content: 'x y'; } </style>",
    ].join('\n');
    expect(scanComponent(src)).toEqual([
      { line: 2, text: 'Hello there' },
      { line: 6, text: 'Plain text' },
      { line: 7, text: 'Yes' },
      { line: 7, text: 'title="Close it"' },
      { line: 8, text: 'placeholder="more"' },
      { line: 9, text: ' (you)' },
    ]);
  });

  test('finds words in module code, and passes keys, identifiers and URLs', () => {
    expect(scanModule("toast(`${user} joined`);\nt('toast.joined', { user });\nconst s = 'http://x:1';\nconst k = '이름';")).toEqual([
      { line: 1, text: '{} joined' },
      { line: 4, text: '이름' },
    ]);
  });
});
