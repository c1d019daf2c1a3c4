import { describe, expect, test } from 'vitest';
import type { RemoteUser } from '../backend';
import { grantFor } from '../../test/browserFakes';
import {
  applyToRoster,
  decodeMeeting,
  encodeMeeting,
  enterRequest,
  SignalError,
  toRemoteUser,
  toRoomEvents,
  toWireOptions,
  toWireUser,
  wireRoomId,
  type ServerEvent,
} from './protocol';

const NOW = 1_700_000_000_000;

describe('server events become the UI events', () => {
  test('users entering and leaving; leaving by choice is "left"', () => {
    expect(toRoomEvents({ type: 'user_enter', user_id: 'ann', role: 'anchor' }, NOW)).toEqual([{ type: 'user_enter', userId: 'ann' }]);
    expect(toRoomEvents({ type: 'user_enter', user_id: 'guest_x1', role: 'anchor', name: '김민지' }, NOW)).toEqual([
      { type: 'user_enter', userId: 'guest_x1', name: '김민지' },
    ]);
    expect(toRoomEvents({ type: 'user_leave', user_id: 'ann', reason: 'exited' }, NOW)).toEqual([
      { type: 'user_leave', userId: 'ann', reason: 'left' },
    ]);
    expect(toRoomEvents({ type: 'user_leave', user_id: 'ann', reason: 'connection_lost' }, NOW)).toEqual([
      { type: 'user_leave', userId: 'ann', reason: 'connection_lost' },
    ]);
  });

  test('stream_available: microphone, camera and screen; screen audio has no flag', () => {
    const ev = (kind: 'audio' | 'video', stream: 'main' | 'sub', available: boolean) =>
      toRoomEvents({ type: 'stream_available', user_id: 'bo', kind, stream, available }, NOW);
    expect(ev('audio', 'main', true)).toEqual([{ type: 'audio_available', userId: 'bo', available: true }]);
    expect(ev('video', 'main', false)).toEqual([{ type: 'video_available', userId: 'bo', stream: 'main', available: false }]);
    expect(ev('video', 'sub', true)).toEqual([{ type: 'video_available', userId: 'bo', stream: 'sub', available: true }]);
    expect(ev('audio', 'sub', true)).toEqual([]);
  });

  test('speaking, errors; removal is the session’s to report', () => {
    expect(toRoomEvents({ type: 'speak_invited', by: 'host' }, NOW)).toEqual([{ type: 'speak_invited', by: 'host' }]);
    expect(toRoomEvents({ type: 'speak_requested', user_id: 'fan' }, NOW)).toEqual([{ type: 'speak_requested', userId: 'fan' }]);
    expect(toRoomEvents({ type: 'speak_request_answered', accept: true, by: 'host' }, NOW)).toEqual([
      { type: 'speak_request_answered', accept: true, by: 'host' },
    ]);
    expect(toRoomEvents({ type: 'speak_invite_answered', user_id: 'fan', accept: false }, NOW)).toEqual([
      { type: 'speak_invite_answered', userId: 'fan', accept: false },
    ]);
    expect(toRoomEvents({ type: 'error', code: 1000, message: 'bad frame' }, NOW)).toEqual([{ type: 'error', code: 1000, message: 'bad frame' }]);
    expect(toRoomEvents({ type: 'removed', code: 3004, message: 'replaced' }, NOW)).toEqual([]);
    // Which layers of my camera anyone receives: the session's to apply, nothing for the UI.
    expect(toRoomEvents({ type: 'layer_demand', big: false, small: true }, NOW)).toEqual([]);
    // What my video loses on the way: the engine's to act on, nothing for the page.
    expect(toRoomEvents({ type: 'uplink_loss', video: 0.2, scattered: 0.16 }, NOW)).toEqual([]);
    expect(toRoomEvents({ type: 'uplink_audio_loss', long_runs: 0.03 }, NOW)).toEqual([]);
    // My media comes from a new address: the session's to restart ICE, nothing for the page.
    expect(toRoomEvents({ type: 'address_changed' }, NOW)).toEqual([]);
  });
});

describe('the roster follows the events', () => {
  test('enter, streams on and off, leave', () => {
    const users = new Map<string, RemoteUser>();
    applyToRoster(users, { type: 'user_enter', user_id: 'ann', role: 'anchor' });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'audio', stream: 'main', available: true });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'video', stream: 'sub', available: true });
    applyToRoster(users, { type: 'stream_available', user_id: 'ann', kind: 'audio', stream: 'sub', available: false });
    expect(users.get('ann')).toEqual({ userId: 'ann', name: 'ann', role: 'anchor', audio: true, video: false, subVideo: true, hand: null });
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
  const wire = { user_id: 'ann', name: 'Ann Lee', role: 'anchor' as const, audio: true, video: false, sub_video: true, hand: 2 };
  expect(toRemoteUser(wire)).toEqual({ userId: 'ann', name: 'Ann Lee', role: 'anchor', audio: true, video: false, subVideo: true, hand: 2 });
  expect(toWireUser(toRemoteUser(wire))).toEqual(wire);
  // A server without names or hands: the UserID is the name, no hand is up.
  expect(toRemoteUser({ user_id: 'bo', role: 'audience', audio: false, video: false, sub_video: false })).toMatchObject({ name: 'bo', hand: null });
  expect(new SignalError(2001, 'UserSig expired').toBackendError()).toEqual({ kind: 'server', code: 2001, message: 'UserSig expired' });
  expect(new SignalError(null, 'connection lost').toBackendError()).toEqual({ kind: 'internal', message: 'connection lost' });
});

describe('meetings on the wire', () => {
  test('chat and reactions are custom messages on id 10; others are not ours', () => {
    const chat = (data: string, cmd_id = 10): ServerEvent => ({ type: 'custom', user_id: 'host', cmd_id, seq: 1, data, reliable: true, ordered: true });
    expect(encodeMeeting({ t: 'chat', text: '안녕하세요' })).toBe('{"t":"chat","text":"안녕하세요"}');
    expect(toRoomEvents(chat('{"t":"chat","text":"안녕하세요"}'), NOW)).toEqual([{ type: 'chat', userId: 'host', text: '안녕하세요', atMs: NOW }]);
    expect(toRoomEvents(chat('{"t":"reaction","emoji":"👏"}'), NOW)).toEqual([{ type: 'reaction', userId: 'host', emoji: '👏' }]);
    expect(toRoomEvents(chat('{"t":"chat","text":"for another app"}', 3), NOW)).toEqual([]);
    for (const junk of ['not json', 'null', '"chat"', '{"t":"chat"}', '{"t":"chat","text":5}', '{"t":"dance"}']) {
      expect(decodeMeeting(10, junk)).toBeNull();
    }
  });

  test('hands, host mutes and unlocks, the room view, the lobby', () => {
    expect(toRoomEvents({ type: 'hand', user_id: 'ann', hand: 3 }, NOW)).toEqual([{ type: 'hand', userId: 'ann', hand: 3 }]);
    expect(toRoomEvents({ type: 'hand', user_id: 'ann' }, NOW)).toEqual([{ type: 'hand', userId: 'ann', hand: null }]);
    expect(toRoomEvents({ type: 'muted', kind: 'audio', by: 'host', locked: true }, NOW)).toEqual([
      { type: 'muted_by_host', kind: 'audio', by: 'host', locked: true },
    ]);
    expect(toRoomEvents({ type: 'unlocked', kind: 'video' }, NOW)).toEqual([{ type: 'unlocked', kind: 'video' }]);
    expect(toRoomEvents({ type: 'room_changed', room: { locked: true, lobby: false, passcode: true, host: 'host' } }, NOW)).toEqual([
      { type: 'room_changed', room: { locked: true, lobby: false, passcode: true, host: 'host' } },
    ]);
    // No host (it left and nobody may take over): the field is absent on the wire.
    expect(toRoomEvents({ type: 'room_changed', room: { locked: false, lobby: true, passcode: false } }, NOW)).toEqual([
      { type: 'room_changed', room: { locked: false, lobby: true, passcode: false, host: null } },
    ]);
    expect(toRoomEvents({ type: 'lobby_joined', user_id: 'guest_a1', name: '민지' }, NOW)).toEqual([
      { type: 'lobby_joined', userId: 'guest_a1', name: '민지' },
    ]);
    expect(toRoomEvents({ type: 'lobby_left', user_id: 'guest_a1' }, NOW)).toEqual([{ type: 'lobby_left', userId: 'guest_a1' }]);
    // Entering after the lobby is the session's to report, as removal is.
    expect(toRoomEvents({ type: 'admitted', room_id: 1, user_id: 'me', role: 'anchor', users: [] }, NOW)).toEqual([]);
  });

  test('names and hands in the roster', () => {
    const users = new Map<string, RemoteUser>();
    applyToRoster(users, { type: 'user_enter', user_id: 'guest_a1', role: 'anchor', name: '민지' });
    applyToRoster(users, { type: 'hand', user_id: 'guest_a1', hand: 1 });
    expect(users.get('guest_a1')).toMatchObject({ name: '민지', hand: 1 });
    applyToRoster(users, { type: 'hand', user_id: 'guest_a1' });
    expect(users.get('guest_a1')?.hand).toBeNull();
    // A hidden audience member's hand: nobody to put it on.
    applyToRoster(users, { type: 'hand', user_id: 'fan', hand: 2 });
    expect(users.has('fan')).toBe(false);
  });

  test('enter_room with a UserSig, with an invite, with a name and a passcode', () => {
    const base = { server: 'http://h', room: '4242', userId: 'ann', role: 'anchor' as const, scene: 'videocall' as const, sdkAppId: 7, userSig: 'sig' };
    expect(enterRequest(base)).toEqual({
      type: 'enter_room', version: 1, sdk_app_id: 7, user_id: 'ann', user_sig: 'sig', room_id: 4242, role: 'anchor', scene: 'videocall',
    });
    // A host creating the meeting with a passcode.
    expect(enterRequest({ ...base, displayName: ' Ann ', passcode: '2468' })).toMatchObject({ name: 'Ann', passcode: '2468' });
    expect(enterRequest({ ...base, displayName: '  ', passcode: '' })).not.toHaveProperty('name');
    const grant = grantFor({ app: 1400000001, room: 5150, role: 'audience' });
    expect(
      enterRequest({ ...base, room: '', role: 'anchor', scene: 'live', sdkAppId: null, userSig: null, invite: grant, displayName: '김민지', userId: 'user_x1' }),
    ).toEqual({
      type: 'enter_room', version: 1, sdk_app_id: 1400000001, user_id: 'user_x1', user_sig: '', room_id: 5150, role: 'audience', scene: 'live',
      invite: grant, name: '김민지',
    });
    expect(enterRequest({ ...base, invite: 'v1.garbage' })).toBeNull();
  });

  test('room options: no passcode is an absent one', () => {
    expect(toWireOptions({ locked: true, lobby: false, passcode: null })).toEqual({ locked: true, lobby: false });
    expect(toWireOptions({ locked: false, lobby: true, passcode: '' })).toEqual({ locked: false, lobby: true });
    expect(toWireOptions({ locked: false, lobby: true, passcode: '1234' })).toEqual({ locked: false, lobby: true, passcode: '1234' });
  });
});
