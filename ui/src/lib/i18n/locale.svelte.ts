import type { Language } from '../backend';

/** The languages the UI is written in. */
export type Locale = 'en' | 'ko';
export const LOCALES: readonly Locale[] = ['en', 'ko'];

/**
 * The first of the system's preferred languages (`navigator.languages`, most wanted first)
 * that we have: `ko`, `ko-KR` → Korean, `en-*` → English; nothing we have → English.
 */
export function systemLocale(languages: readonly string[]): Locale {
  for (const tag of languages) {
    const primary = tag.toLowerCase().split(/[-_]/)[0];
    if (primary === 'ko' || primary === 'en') return primary;
  }
  return 'en';
}

/**
 * The `?lang=ko` / `?lang=en` query of the page's URL, or null. Tests and screenshots use it
 * to pick a language without touching the saved settings; it wins over the system and over
 * the setting.
 */
export function localeFromQuery(search: string): Locale | null {
  const lang = new URLSearchParams(search).get('lang');
  return lang === 'ko' || lang === 'en' ? lang : null;
}

/** Which language wins: the URL override, then the setting, then the system. */
export function resolveLocale(s: { override: Locale | null; language: Language; system: Locale }): Locale {
  return s.override ?? (s.language === 'system' ? s.system : s.language);
}

const hasWindow = typeof window !== 'undefined';
const navigatorLanguages = (): readonly string[] =>
  typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language ?? ''];

const state = $state({
  override: hasWindow ? localeFromQuery(window.location.search) : null,
  language: 'system' as Language,
  system: systemLocale(navigatorLanguages()),
});

/** The language the UI shows now. Reactive: templates and `$derived`s reading it re-run when it changes. */
export function locale(): Locale {
  return resolveLocale(state);
}

/** The saved choice (`Settings.language`). */
export function language(): Language {
  return state.language;
}

/** The language the system asks for (what `'system'` means right now). */
export function systemLanguage(): Locale {
  return state.system;
}

/** Applies a language choice at once (from the settings, or while the settings dialog is open). */
export function setLanguage(language: Language): void {
  state.language = language;
  syncDocument();
}

// <html lang> lets screen readers pick a voice and the webview pick CJK glyphs.
function syncDocument(): void {
  if (typeof document !== 'undefined') document.documentElement.lang = locale();
}

if (hasWindow) {
  window.addEventListener('languagechange', () => {
    state.system = systemLocale(navigatorLanguages());
    syncDocument();
  });
  syncDocument();
}
