import { afterEach, describe, expect, test, vi } from 'vitest';
import type { RoomEvent } from './backend';
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
});
