import { describe, expect, test } from 'vitest';
import type { RemoteUser } from '../backend';
import { applyToRoster, SignalError, toRemoteUser, toRoomEvents, toWireUser, wireRoomId } from './protocol';

describe('server events become the UI events', () => {
  test('users entering and leaving; leaving by choice is "left"', () => {
    expect(toRoomEvents({ type: 'user_enter', user_id: 'ann', role: 'anchor' })).toEqual([{ type: 'user_enter', userId: 'ann' }]);
    expect(toRoomEvents({ type: 'user_leave', user_id: 'ann', reason: 'exited' })).toEqual([
      { type: 'user_leave', userId: 'ann', reason: 'left' },
    ]);
    expect(toRoomEvents({ type: 'user_leave', user_id: 'ann', reason: 'connection_lost' })).toEqual([
      { type: 'user_leave', userId: 'ann', reason: 'connection_lost' },
    ]);
  });

  test('stream_available: microphone, camera and screen; screen audio has no flag', () => {
    const ev = (kind: 'audio' | 'video', stream: 'main' | 'sub', available: boolean) =>
      toRoomEvents({ type: 'stream_available', user_id: 'bo', kind, stream, available });
    expect(ev('audio', 'main', true)).toEqual([{ type: 'audio_available', userId: 'bo', available: true }]);
    expect(ev('video', 'main', false)).toEqual([{ type: 'video_available', userId: 'bo', stream: 'main', available: false }]);
    expect(ev('video', 'sub', true)).toEqual([{ type: 'video_available', userId: 'bo', stream: 'sub', available: true }]);
    expect(ev('audio', 'sub', true)).toEqual([]);
  });

  test('speaking, errors; removal is the session’s to report', () => {
    expect(toRoomEvents({ type: 'speak_invited', by: 'host' })).toEqual([{ type: 'speak_invited', by: 'host' }]);
    expect(toRoomEvents({ type: 'speak_requested', user_id: 'fan' })).toEqual([{ type: 'speak_requested', userId: 'fan' }]);
    expect(toRoomEvents({ type: 'speak_request_answered', accept: true, by: 'host' })).toEqual([
      { type: 'speak_request_answered', accept: true, by: 'host' },
    ]);
    expect(toRoomEvents({ type: 'speak_invite_answered', user_id: 'fan', accept: false })).toEqual([
      { type: 'speak_invite_answered', userId: 'fan', accept: false },
    ]);
    expect(toRoomEvents({ type: 'error', code: 1000, message: 'bad frame' })).toEqual([{ type: 'error', code: 1000, message: 'bad frame' }]);
    expect(toRoomEvents({ type: 'removed', code: 3004, message: 'replaced' })).toEqual([]);
  });
});

describe('the roster follows the events', () => {
  test('enter, streams on and off, leave', () => {
    const users = new Map<string, RemoteUser>();
    applyToRoster(users, { type: 'user_enter', user_id: 'ann', role: 'anchor' });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'audio', stream: 'main', available: true });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'video', stream: 'sub', available: true });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'audio', stream: 'sub', available: false });
    expect(users.get('ann')).toEqual({ userId: 'ann', role: 'anchor', audio: true, video: false, subVideo: true });
    // A stream from someone not announced (e.g. entered before a lost event) still counts.
    applyToRoster(users, { type: 'stream_available', user_id: 'bo', kind: 'video', stream: 'main', available: true });
    expect(users.get('bo')?.video).toBe(true);
    applyToRoster(users, { type: 'user_leave', user_id: 'ann', reason: 'exited' });
    expect([...users.keys()]).toEqual(['bo']);
  });
});

test('wire shapes', () => {
  expect(wireRoomId(' 4242 ')).toBe(4242);
  expect(wireRoomId('team.standup')).toBe('team.standup');
  const wire = { user_id: 'ann', role: 'anchor' as const, audio: true, video: false, sub_video: true };
  expect(toRemoteUser(wire)).toEqual({ userId: 'ann', role: 'anchor', audio: true, video: false, subVideo: true });
  expect(toWireUser(toRemoteUser(wire))).toEqual(wire);
  expect(new SignalError(2001, 'UserSig expired').toBackendError()).toEqual({ kind: 'server', code: 2001, message: 'UserSig expired' });
  expect(new SignalError(null, 'connection lost').toBackendError()).toEqual({ kind: 'internal', message: 'connection lost' });
});
