import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { JoinArgs } from '../backend';
import { RoomState } from './room.svelte';

const args = (over: Partial<JoinArgs> = {}): JoinArgs => ({
  server: null,
  room: '1234',
  userId: 'me',
  role: 'anchor',
  scene: 'videocall',
  sdkAppId: null,
  userSig: null,
  ...over,
});

describe('RoomState', () => {
  let now = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
  });
  afterEach(() => vi.useRealTimers());
  const make = (a = args(), users = [] as ConstructorParameters<typeof RoomState>[1]) =>
    new RoomState(a, users, { now: () => now, threshold: 20, holdMs: 1000, toastMs: 3000, recoveredMs: 2000 });

  test('users entering and leaving update participants, tiles and toasts', () => {
    const r = make();
    expect(r.tiles.map((t) => t.userId)).toEqual(['me']);
    r.handle({ type: 'user_enter', userId: 'alice' });
    expect(r.tiles.map((t) => t.userId)).toEqual(['me', 'alice']);
    expect(r.toasts.map((t) => t.text)).toEqual(['alice joined']);
    r.handle({ type: 'user_enter', userId: 'alice' }); // duplicate: no second toast
    expect(r.participants).toHaveLength(1);
    r.handle({ type: 'user_leave', userId: 'alice', reason: 'left' });
    expect(r.participants).toHaveLength(0);
    expect(r.toasts.map((t) => t.text)).toEqual(['alice joined', 'alice left']);
    vi.advanceTimersByTime(3000);
    expect(r.toasts).toHaveLength(0);
  });

  test('someone who left not by choice: the toast says why, in words for the reasons we know', () => {
    const r = make(args(), ['a', 'b', 'c', 'd'].map((userId) => ({ userId, role: 'anchor' as const, audio: false, video: false, subVideo: false })));
    r.handle({ type: 'user_leave', userId: 'a', reason: 'exited' });
    r.handle({ type: 'user_leave', userId: 'b', reason: 'connection_lost' });
    r.handle({ type: 'user_leave', userId: 'c', reason: 'became_audience' });
    r.handle({ type: 'user_leave', userId: 'd', reason: 'something_new' });
    expect(r.toasts.map((t) => t.text)).toEqual([
      'a left',
      'b left (connection lost)',
      'c left (now in the audience)',
      'd left (something new)',
    ]);
  });

  test('audio and video availability per stream', () => {
    const r = make(args(), [{ userId: 'bob', role: 'anchor', audio: false, video: false, subVideo: false }]);
    r.handle({ type: 'audio_available', userId: 'bob', available: true });
    r.handle({ type: 'video_available', userId: 'bob', stream: 'main', available: true });
    expect(r.find('bob')).toMatchObject({ audio: true, video: true, subVideo: false });
    expect(r.screenSharer).toBeNull();
    r.handle({ type: 'video_available', userId: 'bob', stream: 'sub', available: true });
    expect(r.screenSharer?.userId).toBe('bob');
    r.handle({ type: 'video_available', userId: 'bob', stream: 'main', available: false });
    expect(r.find('bob')).toMatchObject({ video: false, subVideo: true });
  });

  test('the size of a camera as received follows its first frame and later changes', () => {
    const r = make();
    r.handle({ type: 'user_enter', userId: 'alice' });
    r.handle({ type: 'first_video_frame', userId: 'alice', stream: 'main', width: 1280, height: 720 });
    r.handle({ type: 'first_video_frame', userId: 'alice', stream: 'sub', width: 1920, height: 1080 });
    expect(r.tiles.find((t) => t.userId === 'alice')?.videoSize).toBe('1280x720');
    r.handle({ type: 'video_size_changed', userId: 'alice', stream: 'main', width: 320, height: 180 });
    expect(r.tiles.find((t) => t.userId === 'alice')?.videoSize).toBe('320x180');
  });

  test('volumes drive levels and the active speaker, with hold time', () => {
    const r = make(args(), [
      { userId: 'a', role: 'anchor', audio: true, video: true, subVideo: false },
      { userId: 'b', role: 'anchor', audio: true, video: true, subVideo: false },
    ]);
    r.handle({ type: 'volumes', volumes: [{ userId: '', volume: 5 }, { userId: 'a', volume: 60 }, { userId: 'b', volume: 10 }] });
    expect(r.selfVolume).toBe(5);
    expect(r.find('a')?.volume).toBe(60);
    expect(r.activeSpeakerId).toBe('a');
    now = 500;
    r.handle({ type: 'volumes', volumes: [{ userId: 'a', volume: 0 }, { userId: 'b', volume: 90 }] });
    expect(r.activeSpeakerId).toBe('a');
    now = 1000;
    r.handle({ type: 'volumes', volumes: [{ userId: 'a', volume: 0 }, { userId: 'b', volume: 90 }] });
    expect(r.activeSpeakerId).toBe('b');
    now = 1100;
    r.handle({ type: 'volumes', volumes: [{ userId: '', volume: 99 }] });
    expect(r.activeSpeakerId).toBe('b'); // held
    now = 2100;
    r.handle({ type: 'volumes', volumes: [{ userId: '', volume: 99 }] });
    expect(r.activeSpeakerId).toBe('me'); // "" is me
  });

  test('a muted local mic is never the active speaker', () => {
    const r = make();
    r.micOn = false;
    r.handle({ type: 'volumes', volumes: [{ userId: '', volume: 99 }] });
    expect(r.activeSpeaker).toBeNull();
  });

  test('network quality for me and others', () => {
    const r = make(args(), [{ userId: 'a', role: 'anchor', audio: true, video: true, subVideo: false }]);
    r.handle({ type: 'network_quality', qualities: [{ userId: '', quality: 1 }, { userId: 'a', quality: 4 }] });
    expect(r.selfQuality).toBe(1);
    expect(r.find('a')?.quality).toBe(4);
  });

  test('connection lost shows the banner; recovered shows "reconnected" briefly', () => {
    const r = make();
    r.handle({ type: 'connection_lost' });
    expect(r.connection).toBe('lost');
    vi.advanceTimersByTime(60_000);
    expect(r.connection).toBe('lost');
    r.handle({ type: 'connection_recovered' });
    expect(r.connection).toBe('recovered');
    vi.advanceTimersByTime(1999);
    expect(r.connection).toBe('recovered');
    vi.advanceTimersByTime(1);
    expect(r.connection).toBe('connected');
  });

  test('reconnecting keeps the banner with the attempt; reconnected clears it', () => {
    const r = make();
    r.handle({ type: 'connection_lost' });
    r.handle({ type: 'reconnecting', attempt: 3 });
    expect(r.connection).toBe('lost');
    expect(r.reconnectAttempt).toBe(3);
    expect(r.exited).toBeNull();
    r.handle({ type: 'reconnected' });
    expect(r.connection).toBe('recovered');
    expect(r.reconnectAttempt).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(r.connection).toBe('connected');
  });

  test('a loss right after recovery is not hidden by the pending timer', () => {
    const r = make();
    r.handle({ type: 'connection_lost' });
    r.handle({ type: 'connection_recovered' });
    r.handle({ type: 'connection_lost' });
    vi.advanceTimersByTime(5000);
    expect(r.connection).toBe('lost');
  });

  test('live: an audience member sees anchors only, and not themself', () => {
    const r = make(args({ scene: 'live', role: 'audience' }), [
      { userId: 'host', role: 'anchor', audio: true, video: true, subVideo: false },
      { userId: 'viewer', role: 'audience', audio: false, video: false, subVideo: false },
    ]);
    expect(r.tiles.map((t) => t.userId)).toEqual(['host']);
    r.handle({ type: 'role_changed', role: 'anchor' });
    expect(r.role).toBe('anchor');
    expect(r.tiles.map((t) => t.userId)).toEqual(['me', 'host']);
  });

  test('errors become error toasts; exit_room records the reason', () => {
    const r = make();
    r.handle({ type: 'error', code: 4003, message: 'UserSig expired' });
    expect(r.toasts[0]).toMatchObject({ kind: 'error', text: 'Error 4003: UserSig expired' });
    r.handle({ type: 'notice', message: 'Microphone: now using USB headset' });
    expect(r.toasts[1]).toMatchObject({ kind: 'info', text: 'Microphone: now using USB headset' });
    r.handle({ type: 'exit_room', reason: 'kicked' });
    expect(r.exited).toBe('kicked');
  });

  test('a share that ends by itself turns sharing off and says why', () => {
    const r = make();
    r.sharing = true;
    r.handle({ type: 'local_video_ended', stream: 'sub' });
    expect(r.sharing).toBe(false);
    expect(r.toasts[0]).toMatchObject({ kind: 'info', text: expect.stringContaining('Screen sharing ended') });
    r.handle({ type: 'local_video_ended', stream: 'main' });
    expect(r.toasts).toHaveLength(1);
  });
});

describe('RoomState.visibleTiles', () => {
  test('caps the tiles: me, the speaker, cameras first; join order kept on screen', () => {
    const users = Array.from({ length: 10 }, (_, i) => ({
      userId: `u${i}`, role: 'anchor' as const, audio: true, video: i % 3 === 0, subVideo: false,
    }));
    const r = new RoomState(args(), users, { now: () => 0, threshold: 20, holdMs: 1000 });
    expect(r.visibleTiles(20)).toMatchObject({ hidden: 0 });
    r.handle({ type: 'volumes', volumes: [{ userId: 'u8', volume: 90 }] });
    const v = r.visibleTiles(5);
    expect(v.hidden).toBe(6);
    // me, speaker u8, then cameras u0, u3, u6 — shown in join order.
    expect(v.tiles.map((t) => t.userId)).toEqual(['me', 'u0', 'u3', 'u6', 'u8']);
    // A pinned tile stays in view, before the speaker.
    expect(r.visibleTiles(5, 'u7').tiles.map((t) => t.userId)).toEqual(['me', 'u0', 'u3', 'u7', 'u8']);
    expect(r.visibleTiles(3, 'u7').tiles.map((t) => t.userId)).toEqual(['me', 'u7', 'u8']);
  });
});
