import { describe, expect, test } from 'vitest';
import { CATALOGS, type Message } from '.';

type Loose = Record<string, Message | undefined>;
const texts = (m: Message | undefined): string[] => (m === undefined ? [] : typeof m === 'string' ? [m] : [m.one, m.other]);
const placeholders = (m: Message | undefined): string[] =>
  [...new Set(texts(m).flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((x) => x[1])))].sort();

/** Messages that are the same in every language on purpose: names, identifiers, an address. */
const SAME_EVERYWHERE = new Set([
  'app.name',
  'language.en',
  'language.ko',
  'home.serverPlaceholder',
  'home.sdkAppId',
  'home.userSig',
  'call.inviteePlaceholder',
  'effects.ns.ai',
]);

const catalogs = Object.entries(CATALOGS) as [string, Loose][];
const allKeys = [...new Set(catalogs.flatMap(([, c]) => Object.keys(c)))].sort();

describe('message catalogs', () => {
  test.each(catalogs)('%s has every key, and no message is empty', (_, catalog) => {
    const missing = allKeys.filter((k) => !(k in catalog));
    const empty = allKeys.filter((k) => k in catalog && texts(catalog[k]).some((s) => !s.trim()));
    expect({ missing, empty }).toEqual({ missing: [], empty: [] });
  });

  test('every language fills the same {placeholders} as English', () => {
    const en = CATALOGS.en as Loose;
    const differ = catalogs.flatMap(([loc, c]) =>
      allKeys
        .filter((k) => k in c && placeholders(c[k]).join() !== placeholders(en[k]).join())
        .map((k) => `${loc} ${k}: {${placeholders(c[k]).join('} {')}} instead of {${placeholders(en[k]).join('} {')}}`),
    );
    expect(differ).toEqual([]);
  });

  test('no English is left untranslated in the other catalogs', () => {
    const en = CATALOGS.en as Loose;
    const untranslated = catalogs.flatMap(([loc, c]) =>
      loc === 'en'
        ? []
        : allKeys.filter((k) => !SAME_EVERYWHERE.has(k) && /\p{L}/u.test(texts(c[k]).join()) && texts(c[k]).join() === texts(en[k]).join()),
    );
    expect(untranslated).toEqual([]);
  });
});
