/**
 * The UI's languages: `t(key, params)` for every sentence and label, `format*` for dates, times,
 * durations and lists, all in the current {@link locale} (reactive: a template that calls them
 * shows the new language as soon as `setLanguage` changes it).
 *
 * Our own, small: catalogs are plain objects (`en.ts`, `ko.ts`), placeholders are `{name}`,
 * plurals are `{ one, other }` picked with `Intl.PluralRules` from `params.count`. Text that
 * comes from the Rust side or the server (error messages, device names) is shown as it is.
 */
import { en, type Catalog, type Message, type MessageKey } from './en';
import { ko } from './ko';
import { locale, type Locale } from './locale.svelte';

export { LOCALES, language, locale, setLanguage, systemLanguage, type Locale } from './locale.svelte';
export type { Catalog, Message, MessageKey } from './en';

export const CATALOGS: Record<Locale, Catalog> = { en, ko };

type Value = string | number;
/** `'{a} and {b}'` → `'a' | 'b'`. */
type Placeholders<S> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
type TextOf<M> = M extends string ? M : M extends { one: infer A; other: infer B } ? A | B : never;
/** The parameters a message needs: its English placeholders, plus `count` for plurals. */
export type Params<K extends MessageKey> = { [P in Placeholders<TextOf<(typeof en)[K]>>]: Value } & ((typeof en)[K] extends string
  ? unknown
  : { count: number });
type Args<K extends MessageKey> = [keyof Params<K>] extends [never] ? [] : [params: Params<K>];

/** The message `key` in the current language, with its `{placeholders}` filled in. */
export function t<K extends MessageKey>(key: K, ...args: Args<K>): string {
  return translate(locale(), key, args[0] as Record<string, Value> | undefined);
}

/** `t` in a given language (for tests, and for text that must not follow the UI's language). */
export function translate(loc: Locale, key: MessageKey, params?: Record<string, Value>): string {
  const msg: Message | undefined = CATALOGS[loc][key] ?? en[key];
  // Keys built from data the types cannot see (a scene name from an older database).
  if (msg === undefined) return key;
  const text = typeof msg === 'string' ? msg : msg[plural(loc, Number(params?.count)) === 'one' ? 'one' : 'other'];
  return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m)) : text;
}

/**
 * The message for a key built from data (`exit.${reason}`), or null when there is none (a
 * reason the UI does not know yet). Such messages take no parameters.
 */
export function tMaybe(key: string): string | null {
  return Object.hasOwn(en, key) ? translate(locale(), key as MessageKey) : null;
}

const SLOT = '\u0000';
/**
 * A message cut around one placeholder, for markup that wraps its value in an element
 * (`{before}<code>{url}</code>{after}`): the words around it may come in any order per language.
 */
export function tParts<K extends MessageKey>(key: K, slot: keyof Params<K> & string, ...args: Args<K>): [string, string] {
  const params = { ...(args[0] as Record<string, Value> | undefined), [slot]: SLOT };
  const [before, after = ''] = translate(locale(), key, params).split(SLOT);
  return [before, after];
}

// Intl objects are slow to build and are asked for on every render: one per locale and options.
const formatters = new Map<string, unknown>();
function cached<T>(kind: string, loc: Locale, options: object, make: () => T): T {
  const id = `${kind}|${loc}|${JSON.stringify(options)}`;
  let f = formatters.get(id) as T | undefined;
  if (!f) formatters.set(id, (f = make()));
  return f;
}

function plural(loc: Locale, count: number): Intl.LDMLPluralRule {
  return cached('plural', loc, {}, () => new Intl.PluralRules(loc)).select(count);
}

const dateTime = (loc: Locale, options: Intl.DateTimeFormatOptions) =>
  cached('date', loc, options, () => new Intl.DateTimeFormat(loc, options));

/** A day, e.g. "Mar 5, 2026" / "2026. 3. 5.". `ms` since the epoch. */
export function formatDate(ms: number, loc: Locale = locale()): string {
  return dateTime(loc, { dateStyle: 'medium' }).format(ms);
}

/** A time of day, e.g. "2:05 PM" / "오후 2:05". */
export function formatTime(ms: number, loc: Locale = locale()): string {
  return dateTime(loc, { timeStyle: 'short' }).format(ms);
}

/** Both, e.g. "Mar 5, 2026, 2:05 PM" / "2026. 3. 5. 오후 2:05". */
export function formatDateTime(ms: number, loc: Locale = locale()): string {
  return dateTime(loc, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** How long something lasted, in the largest sensible unit: "45 sec", "12 min", "1.5 hr" / "45초", "12분", "1.5시간". */
export function formatDuration(seconds: number, loc: Locale = locale()): string {
  const [value, unit] =
    seconds < 60 ? [Math.round(seconds), 'second'] : seconds < 3600 ? [Math.round(seconds / 60), 'minute'] : [seconds / 3600, 'hour'];
  const options: Intl.NumberFormatOptions = { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 };
  return cached('number', loc, options, () => new Intl.NumberFormat(loc, options)).format(value);
}

/** "a, b, and c" / "a, b 및 c". */
export function formatList(items: readonly string[], loc: Locale = locale()): string {
  return cached('list', loc, {}, () => new Intl.ListFormat(loc, { type: 'conjunction' })).format(items);
}
