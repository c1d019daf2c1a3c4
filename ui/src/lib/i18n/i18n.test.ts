import { describe, expect, test } from 'vitest';
import {
  formatDate,
  formatDateTime,
  formatDuration,
  formatList,
  formatTime,
  locale,
  setLanguage,
  t,
  tMaybe,
  tParts,
  translate,
} from '.';
import { localeFromQuery, resolveLocale, systemLocale } from './locale.svelte';

describe('choosing the language', () => {
  test('the system: the first preferred language we have, else English', () => {
    expect(systemLocale(['ko-KR', 'en-US'])).toBe('ko');
    expect(systemLocale(['ko'])).toBe('ko');
    expect(systemLocale(['ja-JP', 'ko', 'en'])).toBe('ko');
    expect(systemLocale(['en-GB', 'ko'])).toBe('en');
    expect(systemLocale(['fr-FR'])).toBe('en');
    expect(systemLocale([])).toBe('en');
  });

  test('?lang= picks one of ours, anything else is ignored', () => {
    expect(localeFromQuery('?lang=ko')).toBe('ko');
    expect(localeFromQuery('?demo=call&lang=en')).toBe('en');
    expect(localeFromQuery('?lang=fr')).toBeNull();
    expect(localeFromQuery('')).toBeNull();
  });

  test('the URL wins over the setting, the setting over the system', () => {
    expect(resolveLocale({ override: 'en', language: 'ko', system: 'ko' })).toBe('en');
    expect(resolveLocale({ override: null, language: 'ko', system: 'en' })).toBe('ko');
    expect(resolveLocale({ override: null, language: 'system', system: 'ko' })).toBe('ko');
  });

  test('setLanguage applies at once, also to <html lang>', () => {
    setLanguage('ko');
    expect(locale()).toBe('ko');
    expect(document.documentElement.lang).toBe('ko');
    expect(t('common.join')).toBe('참여');
    setLanguage('en');
    expect(document.documentElement.lang).toBe('en');
    expect(t('common.join')).toBe('Join');
  });
});

describe('t', () => {
  test('fills placeholders', () => {
    expect(t('error.server', { code: 4003, message: 'UserSig expired' })).toBe('Server error 4003: UserSig expired');
    expect(translate('ko', 'toast.joined', { user: 'alice' })).toBe('alice님이 들어왔어요');
  });

  test('English plurals pick one or other from count; Korean has one form', () => {
    expect(t('speak.invites', { users: 'star', count: 1 })).toBe('star invites you to speak');
    expect(t('speak.invites', { users: 'star and moon', count: 2 })).toBe('star and moon invite you to speak');
    expect(translate('ko', 'speak.invites', { users: 'star', count: 2 })).toBe('star님이 발언자로 초대했어요');
  });

  test('tParts cuts a message around one placeholder, in each language’s word order', () => {
    expect(tParts('prejoin.hostAddress', 'url', { url: '', room: '42' })).toEqual(['Others on your network join at ', ', room 42.']);
    setLanguage('ko');
    expect(tParts('prejoin.hostAddress', 'url', { url: '', room: '42' })).toEqual([
      '같은 네트워크에 있는 사람은 ',
      ' 주소의 42 방으로 참여해요.',
    ]);
  });

  test('tMaybe: a message for a key built from data, or null', () => {
    expect(tMaybe('exit.room_dismissed')).toBe('The room was closed.');
    expect(tMaybe('exit.something_new')).toBeNull();
    expect(tMaybe('toString')).toBeNull();
  });
});

describe('dates, times, durations and lists follow the locale', () => {
  const at = Date.UTC(2026, 2, 5, 14, 5);

  test('dates and times are Intl’s for the locale', () => {
    for (const loc of ['en', 'ko'] as const) {
      expect(formatDate(at, loc)).toBe(new Intl.DateTimeFormat(loc, { dateStyle: 'medium' }).format(at));
      expect(formatTime(at, loc)).toBe(new Intl.DateTimeFormat(loc, { timeStyle: 'short' }).format(at));
      expect(formatDateTime(at, loc)).toBe(new Intl.DateTimeFormat(loc, { dateStyle: 'medium', timeStyle: 'short' }).format(at));
    }
    expect(formatDate(at, 'ko')).not.toBe(formatDate(at, 'en'));
    setLanguage('ko');
    expect(formatDateTime(at)).toBe(formatDateTime(at, 'ko'));
  });

  test('durations in the largest sensible unit', () => {
    expect(formatDuration(45, 'en')).toBe('45 sec');
    expect(formatDuration(12 * 60 + 10, 'en')).toBe('12 min');
    expect(formatDuration(5400, 'en')).toBe('1.5 hr');
    expect(formatDuration(45, 'ko')).toBe('45초');
    expect(formatDuration(12 * 60 + 10, 'ko')).toBe('12분');
    expect(formatDuration(5400, 'ko')).toBe('1.5시간');
  });

  test('lists', () => {
    expect(formatList(['ann', 'bob', 'cy'], 'en')).toBe('ann, bob, and cy');
    expect(formatList(['ann', 'bob', 'cy'], 'ko')).toBe('ann, bob 및 cy');
  });
});
