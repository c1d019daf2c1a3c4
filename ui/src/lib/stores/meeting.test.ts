import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { JoinArgs, RemoteUser } from '../backend';
import { RoomState } from './room.svelte';

const args = (over: Partial<JoinArgs> = {}): JoinArgs => ({
  server: 'http://192.168.1.20:7880', room: '1234', userId: 'user_x1', role: 'anchor', scene: 'videocall',
  sdkAppId: null, userSig: null, ...over,
});
const user = (userId: string, over: Partial<RemoteUser> = {}): RemoteUser => ({
  userId, role: 'anchor', audio: true, video: true, subVideo: false, ...over,
});
const view = (host: string | null, over = {}) => ({ locked: false, lobby: false, passcode: false, host, ...over });

describe('meetings in RoomState', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const make = (a = args(), users: RemoteUser[] = []) => new RoomState(a, users, { toastMs: 3000, reactionMs: 3000 });

  test('display names everywhere, falling back to the UserID', () => {
    const r = make(args({ displayName: '김민지' }), [user('bob', { name: 'Bob Lee' }), user('nameless')]);
    r.handle({ type: 'user_enter', userId: 'minsu', name: '박민수' });
    r.handle({ type: 'user_enter', userId: 'anon' });
    expect(r.tiles.map((t) => [t.userId, t.name])).toEqual([
      ['user_x1', '김민지'], ['bob', 'Bob Lee'], ['nameless', 'nameless'], ['minsu', '박민수'], ['anon', 'anon'],
    ]);
    expect(r.toasts.map((t) => t.text)).toEqual(['박민수 joined', 'anon joined']);
    r.handle({ type: 'user_leave', userId: 'minsu', reason: 'left' });
    expect(r.toasts.at(-1)?.text).toBe('박민수 left');
  });

  test('my UserID comes from join_room when the Rust side derived it; am I host follows room.host', () => {
    const r = make(args({ userId: 'user_asked', displayName: '김민지' }));
    expect(r.isHost).toBe(false);
    r.applyJoin({ enterRoomMs: 5, users: [], userId: 'user_given', room: view('user_given') });
    expect(r.userId).toBe('user_given');
    expect(r.tiles[0]).toMatchObject({ userId: 'user_given', name: '김민지', isSelf: true });
    expect(r.isHost).toBe(true);
    r.handle({ type: 'room_changed', room: view('someone_else', { locked: true }) });
    expect(r.isHost).toBe(false);
    expect(r.meeting.view.locked).toBe(true);
    r.handle({ type: 'room_changed', room: view(null) });
    expect(r.isHost).toBe(false);
  });

  test('the host keeps the passcode it set on Home, until the room says there is none', () => {
    const r = make(args({ server: null, passcode: '4821' }));
    r.applyJoin({ enterRoomMs: 5, users: [], userId: 'user_x1', room: view('user_x1', { passcode: true }) });
    expect(r.meeting.passcode).toBe('4821');
    r.handle({ type: 'room_changed', room: view('user_x1', { passcode: false }) });
    expect(r.meeting.passcode).toBeNull();
    const guest = make(args({ passcode: '4821' }));
    guest.applyJoin({ enterRoomMs: 5, users: [], room: view('host', { passcode: true }) });
    expect(guest.meeting.passcode).toBeNull();
  });

  test('chat: lines in order with names and times; unread counts while the panel is closed', () => {
    const r = make(args(), [user('bob', { name: 'Bob Lee' })]);
    r.handle({ type: 'chat', userId: 'bob', text: 'hi', atMs: 1000 });
    r.handle({ type: 'chat', userId: 'bob', text: 'anyone?', atMs: 2000 });
    expect(r.meeting.unread).toBe(2);
    r.meeting.setChatOpen(true);
    expect(r.meeting.unread).toBe(0);
    r.meeting.addMine(r.userId, r.myName, '안녕하세요', 3000);
    r.handle({ type: 'chat', userId: 'bob', text: 'welcome', atMs: 4000 });
    expect(r.meeting.unread).toBe(0); // open: read as it arrives
    r.handle({ type: 'user_leave', userId: 'bob', reason: 'left' });
    r.meeting.setChatOpen(false);
    r.handle({ type: 'chat', userId: 'ghost', text: '?', atMs: 5000 });
    expect(r.meeting.unread).toBe(1);
    expect(r.meeting.chat.map((l) => [l.name, l.text, l.atMs, l.mine])).toEqual([
      ['Bob Lee', 'hi', 1000, false],
      ['Bob Lee', 'anyone?', 2000, false],
      ['user_x1', '안녕하세요', 3000, true],
      ['Bob Lee', 'welcome', 4000, false], // the name stays after Bob left
      ['ghost', '?', 5000, false],
    ]);
  });

  test('raised hands in the order they went up, mine included', () => {
    const r = make(args(), [user('a', { hand: 7 }), user('b'), user('c')]);
    r.handle({ type: 'hand', userId: 'c', hand: 9 });
    r.handle({ type: 'hand', userId: 'b', hand: 8 });
    r.setMyHand(true); // after every hand I know of
    expect(r.raisedHands.map((h) => [h.userId, h.isSelf])).toEqual([['a', false], ['b', false], ['c', false], ['user_x1', true]]);
    expect(r.tiles.find((t) => t.isSelf)?.hand).toBe(10);
    r.handle({ type: 'hand', userId: 'a', hand: null });
    r.setMyHand(false);
    expect(r.raisedHands.map((h) => h.userId)).toEqual(['b', 'c']);
    r.handle({ type: 'hand', userId: 'nobody_here', hand: 11 }); // a hidden audience member: no row
    expect(r.participants).toHaveLength(3);
  });

  test('reactions float over the sender’s tile for a while, mine too', () => {
    const r = make(args(), [user('bob')]);
    r.handle({ type: 'reaction', userId: 'bob', emoji: '👏' });
    vi.advanceTimersByTime(1000);
    r.meeting.addReaction(r.userId, '🎉');
    expect(r.tiles.map((t) => t.reactions.map((x) => x.emoji))).toEqual([['🎉'], ['👏']]);
    vi.advanceTimersByTime(2000);
    expect(r.tiles.map((t) => t.reactions.map((x) => x.emoji))).toEqual([['🎉'], []]);
    vi.advanceTimersByTime(1000);
    expect(r.meeting.reactions).toEqual([]);
    for (const e of ['1', '2', '3', '4']) r.handle({ type: 'reaction', userId: 'bob', emoji: e });
    expect(r.meeting.reactionsOf('bob').map((x) => x.emoji)).toEqual(['2', '3', '4']);
  });

  test('muted by the host: my mic goes off and stays locked until unlocked, with toasts', () => {
    const r = make();
    r.handle({ type: 'muted_by_host', kind: 'audio', by: 'host', locked: false });
    expect(r.micOn).toBe(false);
    expect(r.meeting.locked.audio).toBe(false);
    r.micOn = true;
    r.handle({ type: 'muted_by_host', kind: 'audio', by: 'host', locked: true });
    r.handle({ type: 'muted_by_host', kind: 'video', by: 'host', locked: true });
    expect([r.micOn, r.cameraOn]).toEqual([false, false]);
    expect(r.meeting.locked).toEqual({ audio: true, video: true });
    r.handle({ type: 'unlocked', kind: 'audio' });
    expect(r.meeting.locked).toEqual({ audio: false, video: true });
    expect(r.micOn).toBe(false); // unlocking does not turn it on
    expect(r.toasts.map((t) => t.text)).toEqual([
      'The host muted your microphone',
      'The host muted your microphone and locked it',
      'The host turned your camera off and locked it',
      'The host unlocked your microphone: you can turn it on again',
    ]);
  });

  test('host: the lobby list with a toast per newcomer; my locks per user', () => {
    const r = make(args(), [user('bob'), user('cy')]);
    r.handle({ type: 'lobby_joined', userId: 'minji', name: '김민지' });
    r.handle({ type: 'lobby_joined', userId: 'minji', name: '김민지' });
    r.handle({ type: 'lobby_joined', userId: 'late', name: '' });
    expect(r.meeting.lobby).toEqual([{ userId: 'minji', name: '김민지' }, { userId: 'late', name: 'late' }]);
    expect(r.nameOf('minji')).toBe('김민지');
    expect(r.toasts.map((t) => t.text)).toEqual(['김민지 is waiting in the lobby', 'late is waiting in the lobby']);
    r.handle({ type: 'lobby_left', userId: 'minji' });
    expect(r.meeting.lobby.map((w) => w.userId)).toEqual(['late']);

    r.meeting.noteMuted(['bob', 'cy'], 'audio', true);
    r.meeting.noteMuted(['bob'], 'video', true);
    r.meeting.noteMuted(['cy'], 'video', false);
    expect(r.meeting.lockedByMe).toEqual({ bob: ['audio', 'video'], cy: ['audio'] });
    r.meeting.noteUnlocked('cy', 'audio');
    r.handle({ type: 'user_leave', userId: 'bob', reason: 'exited' });
    expect(r.meeting.lockedByMe).toEqual({});
  });

  test('exit_room keeps the server’s code; waiting in the lobby ends when join_room resolves', () => {
    const r = make();
    r.handle({ type: 'waiting_in_lobby' });
    expect(r.waitingInLobby).toBe(true);
    r.applyJoin({ enterRoomMs: 5000, users: [] });
    expect(r.waitingInLobby).toBe(false);
    r.handle({ type: 'exit_room', reason: 'removed', code: 3010, message: 'the host removed you from the meeting' });
    expect([r.exited, r.exitCode]).toEqual(['removed', 3010]);
  });
});
