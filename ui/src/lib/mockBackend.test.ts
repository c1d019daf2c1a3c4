import { afterEach, describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, type RoomEvent } from './backend';
import { parseFrame } from './frame';
import { MockBackend } from './mockBackend';

describe('MockBackend', () => {
  afterEach(() => vi.useRealTimers());

  test('records calls and can fail the next one', async () => {
    const b = new MockBackend();
    await b.setMicrophone(false);
    b.failNext.set('leave_room', { kind: 'not_in_room', message: 'You are not in a room.' });
    await expect(b.leaveRoom()).rejects.toMatchObject({ kind: 'not_in_room' });
    expect(b.calls.map((c) => c.cmd)).toEqual(['set_microphone', 'leave_room']);
  });

  test('views get synthetic I420 frames no larger than asked', async () => {
    const b = new MockBackend();
    const frames: ArrayBuffer[] = [];
    await b.setView({ userId: 'alice', stream: 'main', width: 320, height: 180 }, (f) => frames.push(f));
    b.pushFrames();
    b.pushFrames();
    const f = parseFrame(frames[1]);
    expect([f.width, f.height]).toEqual([320, 180]);
    expect(f.timestampUs).toBeGreaterThan(parseFrame(frames[0]).timestampUs);
    await b.stopView('alice', 'main');
    b.pushFrames();
    expect(frames).toHaveLength(2);
  });

  test('the autoplay meeting is deterministic', async () => {
    vi.useFakeTimers();
    const run = async () => {
      const b = new MockBackend({ autoplay: true });
      const seen: RoomEvent[] = [];
      await b.onRoomEvent((e) => seen.push(e));
      await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
      vi.advanceTimersByTime(45_000);
      b.dispose();
      return seen;
    };
    const a = await run();
    const c = await run();
    expect(a).toEqual(c);
    const types = new Set(a.map((e) => e.type));
    for (const t of ['user_enter', 'video_available', 'volumes', 'network_quality', 'connection_lost', 'connection_recovered', 'user_leave']) {
      expect(types.has(t as RoomEvent['type'])).toBe(true);
    }
  });

  test('audio effects are saved and read back', async () => {
    const b = new MockBackend();
    expect(await b.getAudioEffects()).toEqual(DEFAULT_AUDIO_EFFECTS);
    await b.setAudioEffects({ ...DEFAULT_AUDIO_EFFECTS, reverb: 'ktv' });
    expect((await b.getAudioEffects()).reverb).toBe('ktv');
  });

  test('background music needs a call and a known format, then loops with progress events', async () => {
    const b = new MockBackend({ musicDurationMs: 1000 });
    const seen: RoomEvent[] = [];
    await b.onRoomEvent((e) => seen.push(e));
    const song = new File(['x'], 'song.MP3');
    await expect(b.loadMusic(song, true)).rejects.toMatchObject({ kind: 'not_in_room' });
    await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
    await expect(b.loadMusic(new File(['x'], 'notes.txt'), true)).rejects.toMatchObject({ message: expect.stringContaining('unsupported') });
    expect(await b.loadMusic(song, false)).toEqual({ id: 1, positionMs: 0, durationMs: 1000, paused: false });
    expect(b.callsOf('load_music').at(-1)).toEqual({ fileName: 'song.MP3', publish: false });
    b.musicTick(600);
    await b.musicControl('pause');
    b.musicTick(600); // paused: nothing
    await b.musicControl('resume');
    b.musicTick(600);
    expect(seen.filter((e) => e.type === 'music_progress')).toEqual([
      { type: 'music_progress', id: 1, positionMs: 600, durationMs: 1000 },
      { type: 'music_progress', id: 1, positionMs: 200, durationMs: 1000 },
    ]);
    await b.seekMusic(900);
    expect(b.music?.positionMs).toBe(900);
    await b.musicControl('stop');
    expect(b.music).toBeNull();
  });

  test('autoplay moves the music on a 200 ms timer', async () => {
    vi.useFakeTimers();
    const b = new MockBackend({ autoplay: true });
    const seen: RoomEvent[] = [];
    await b.onRoomEvent((e) => seen.push(e));
    await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
    await b.loadMusic(new File(['x'], 'a.ogg'), true);
    vi.advanceTimersByTime(1000);
    b.dispose();
    expect(seen.filter((e) => e.type === 'music_progress').map((e) => (e as { positionMs: number }).positionMs)).toEqual([200, 400, 600, 800, 1000]);
  });
});
