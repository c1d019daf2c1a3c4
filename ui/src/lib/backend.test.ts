import { describe, expect, test } from 'vitest';
import { describeError, guestUserId, isValidUserId, parseInviteLink, roomIdKind, toBackendError, userIdFromName, utf8Bytes } from './backend';

describe('contract helpers', () => {
  test('userIdFromName keeps [A-Za-z0-9_] and 32 bytes', () => {
    expect(userIdFromName('Ada Lovelace')).toBe('Ada_Lovelace');
    expect(userIdFromName('Zoë-Ann')).toBe('ZoeAnn');
    expect(userIdFromName('李雷', '123')).toBe('user_123');
    expect(userIdFromName('x'.repeat(40))).toHaveLength(32);
    expect(isValidUserId(userIdFromName('  !!  ', 'a b'))).toBe(true);
  });

  test('roomIdKind: numbers 1..=u32::MAX, otherwise names', () => {
    expect(roomIdKind('1')).toBe('number');
    expect(roomIdKind('4294967295')).toBe('number');
    expect(roomIdKind('4294967296')).toBe('invalid');
    expect(roomIdKind('0')).toBe('invalid');
    expect(roomIdKind(' ')).toBe('invalid');
    expect(roomIdKind('standup')).toBe('name');
  });

  test('errors', () => {
    expect(describeError({ kind: 'server', code: 4003, message: 'UserSig expired' })).toBe('Server error 4003: UserSig expired');
    expect(toBackendError(new Error('x'))).toEqual({ kind: 'internal', message: 'x' });
  });

  test('utf8Bytes counts what the server counts', () => {
    expect([utf8Bytes('hi'), utf8Bytes('안녕'), utf8Bytes('👍'), utf8Bytes('❤️')]).toEqual([2, 6, 4, 6]);
  });
});

describe('parseInviteLink', () => {
  /** base64url without padding, as the server writes the grant's payload. */
  const b64url = (text: string): string =>
    btoa(String.fromCharCode(...new TextEncoder().encode(text))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const grant = (payload: object) => `v1.${b64url(JSON.stringify(payload))}.c2lnbmF0dXJl`;
  const g = grant({ app: 1400000000, room: 1234, role: 'anchor', host: false, iat: 1_800_000_000, exp: 1_800_007_200, id: 'k3Jd9' });
  const expected = { server: 'http://192.168.1.20:7880', grant: g, sdkAppId: 1400000000, room: '1234', role: 'anchor', expires: 1_800_007_200, host: false };

  test('the web form and the app form of the same link', () => {
    expect(parseInviteLink(`http://192.168.1.20:7880/#invite=${g}`)).toEqual(expected);
    expect(parseInviteLink(`  roomcast://192.168.1.20:7880/#invite=${g}\n`)).toEqual(expected);
    expect(parseInviteLink(`roomcasts://meet.example.com/#invite=${g}`)).toEqual({ ...expected, server: 'https://meet.example.com' });
    expect(parseInviteLink(`https://meet.example.com:8443/#invite=${g}`)?.server).toBe('https://meet.example.com:8443');
    expect(parseInviteLink(`http://h:7880/#lang=ko&invite=${g}`)?.grant).toBe(g);
  });

  test('room names, audience and host grants, Unicode in the payload', () => {
    const named = grant({ app: 7, room: '주간 회의', role: 'audience', host: true, iat: 0, exp: 60, id: 'x' });
    expect(parseInviteLink(`http://h:7880/#invite=${named}`)).toMatchObject({ room: '주간 회의', role: 'audience', host: true, sdkAppId: 7 });
  });

  test('garbage is null, not an exception', () => {
    for (const text of [
      '',
      'hello',
      'http://192.168.1.20:7880/',
      `http://192.168.1.20:7880/?invite=${g}`, // must be in the fragment
      `ftp://h/#invite=${g}`,
      '#invite=' + g, // no server
      'http://h/#invite=',
      'http://h/#invite=v2.abc.def',
      'http://h/#invite=v1.abc',
      'http://h/#invite=v1.!!!.sig',
      `http://h/#invite=v1.${b64url('not json')}.sig`,
      `http://h/#invite=${grant({ room: 1 })}`, // no app
      `http://h/#invite=${grant({ app: 1 })}`, // no room
    ]) {
      expect(parseInviteLink(text), text).toBeNull();
    }
  });
});

describe('guestUserId', () => {
  test('always ends with the suffix, so two guests of the same name stay apart', () => {
    expect(guestUserId('Jun', 'a1b2')).toBe('Jun_a1b2');
    expect(guestUserId('Jun', 'c3d4')).not.toBe(guestUserId('Jun', 'a1b2'));
    expect(guestUserId('김민지', 'x9')).toBe('guest_x9');
    expect(guestUserId('Anna Kim', 'q')).toBe('Anna_Kim_q');
    const long = guestUserId('a'.repeat(80), '12345678');
    expect(long.length).toBeLessThanOrEqual(32);
    for (const id of [long, guestUserId('Zoë 🎉', '9'), guestUserId('', 'z')]) expect(isValidUserId(id)).toBe(true);
  });
});

test('an https invite link with a plain port: the app uses that port over http', () => {
  const payload = btoa(JSON.stringify({ app: 7, room: 5150, role: 'anchor', iat: 0, exp: 9, id: 'x' }))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const l = parseInviteLink(`https://192.168.1.20:7443/#invite=v1.${payload}.sig&http=7880`);
  expect(l?.server).toBe('http://192.168.1.20:7880');
  expect(l?.room).toBe('5150');
});
