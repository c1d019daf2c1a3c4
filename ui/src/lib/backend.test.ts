import { describe, expect, test } from 'vitest';
import { describeError, isValidUserId, roomIdKind, toBackendError, userIdFromName } from './backend';

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
});
