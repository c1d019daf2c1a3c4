import { afterEach, describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, type AudioEffects } from '../backend';
import { MockBackend } from '../mockBackend';
import { AudioState } from './audio.svelte';

const join = (b: MockBackend) =>
  b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });

describe('AudioState', () => {
  afterEach(() => vi.useRealTimers());

  test('loads the saved effects', async () => {
    const b = new MockBackend();
    b.effects = { ...DEFAULT_AUDIO_EFFECTS, reverb: 'great-hall' };
    const a = new AudioState(b);
    expect(a.loaded).toBe(false);
    await a.load();
    expect([a.loaded, a.effects.reverb]).toEqual([true, 'great-hall']);
  });

  test('a change shows at once and is applied with set_audio_effects', async () => {
    const b = new MockBackend();
    const a = new AudioState(b);
    await a.load();
    const done = a.set('voiceChanger', 'child');
    expect(a.effects.voiceChanger).toBe('child');
    await done;
    expect(b.callsOf('set_audio_effects')).toEqual([{ effects: { ...DEFAULT_AUDIO_EFFECTS, voiceChanger: 'child' } }]);
    await a.set('voiceChanger', 'child'); // unchanged: nothing sent
    expect(b.callsOf('set_audio_effects')).toHaveLength(1);
  });

  test('a failed change comes back and says why', async () => {
    const b = new MockBackend();
    const onerror = vi.fn();
    const a = new AudioState(b, { onerror, errorMs: 1000 });
    await a.load();
    b.failNext.set('set_audio_effects', { kind: 'device', message: 'AI noise suppression is not available' });
    vi.useFakeTimers();
    await a.set('noiseSuppression', 'ai');
    expect(a.effects.noiseSuppression).toBe('classic');
    expect(a.error).toBe('AI noise suppression is not available');
    expect(onerror).toHaveBeenCalledWith('AI noise suppression is not available');
    vi.advanceTimersByTime(1000);
    expect(a.error).toBeNull();
  });

  test('changes made while a request runs are sent together, after it, in order', async () => {
    const b = new MockBackend();
    const sent: AudioEffects[] = [];
    let release: () => void = () => {};
    b.setAudioEffects = (effects) => {
      sent.push({ ...effects });
      return new Promise<void>((r) => (release = r));
    };
    const a = new AudioState(b);
    const first = a.set('captureVolume', 110);
    a.set('captureVolume', 120);
    a.set('captureVolume', 130);
    expect(sent.map((e) => e.captureVolume)).toEqual([110]);
    release();
    await vi.waitFor(() => expect(sent.map((e) => e.captureVolume)).toEqual([110, 130]));
    release();
    await first;
    await a.settled();
    expect(a.effects.captureVolume).toBe(130);
  });

  test('music: loading, progress, pause, seek, stop, complete', async () => {
    const b = new MockBackend({ musicDurationMs: 90_000 });
    await join(b);
    const a = new AudioState(b);
    await b.onRoomEvent((e) => a.handle(e));
    a.publishMusic = false;
    await a.loadMusic(new File(['x'], 'song.mp3'));
    expect(b.callsOf('load_music')).toEqual([{ fileName: 'song.mp3', publish: false }]);
    expect(a.music).toEqual({ id: 1, fileName: 'song.mp3', positionMs: 0, durationMs: 90_000, paused: false });
    b.musicTick(1200);
    expect(a.music?.positionMs).toBe(1200);
    await a.togglePause();
    expect([a.music?.paused, b.music?.paused]).toEqual([true, true]);
    await a.togglePause();
    expect(b.callsOf('music_control')).toEqual([{ action: 'pause' }, { action: 'resume' }]);
    await a.seek(30_000.7);
    expect(b.callsOf('seek_music')).toEqual([{ ms: 30_001 }]);
    expect(a.music?.positionMs).toBe(30_001);
    await a.stopMusic();
    expect(a.music).toBeNull();
    a.handle({ type: 'music_progress', id: 1, positionMs: 5, durationMs: 10 });
    expect(a.music?.fileName).toBe('');
    a.handle({ type: 'music_complete', id: 1 });
    expect(a.music).toBeNull();
  });

  test('music errors are shown; a failed seek goes back', async () => {
    const b = new MockBackend();
    const a = new AudioState(b);
    await a.loadMusic(new File(['x'], 'song.mp3'));
    expect(a.error).toMatch(/join a room/);
    expect(a.loadingMusic).toBe(false);
    await join(b);
    await a.loadMusic(new File(['x'], 'song.mp3'));
    b.failNext.set('seek_music', { kind: 'internal', message: 'cannot seek' });
    await a.seek(1000);
    expect([a.music?.positionMs, a.error]).toEqual([0, 'cannot seek']);
    a.dismissError();
    expect(a.error).toBeNull();
  });

  test('music volume requests go one at a time with the newest values', async () => {
    const b = new MockBackend();
    const sent: [number, number][] = [];
    let release: () => void = () => {};
    b.setMusicVolume = (publish, playout) => {
      sent.push([publish, playout]);
      return new Promise<void>((r) => (release = r));
    };
    const a = new AudioState(b);
    const done = a.setMusicVolume('publish', 10);
    a.setMusicVolume('publish', 20);
    a.setMusicVolume('playout', 30);
    release();
    await vi.waitFor(() => expect(sent).toEqual([[10, 100], [20, 30]]));
    release();
    await done;
  });

  test('music volumes and sound effects', async () => {
    const b = new MockBackend();
    await join(b);
    const a = new AudioState(b);
    await a.setMusicVolume('publish', 40);
    await a.setMusicVolume('playout', 70);
    await a.playSoundEffect('bell');
    expect(b.callsOf('set_music_volume')).toEqual([{ publish: 40, playout: 100 }, { publish: 40, playout: 70 }]);
    expect(b.callsOf('play_sound_effect')).toEqual([{ name: 'bell' }]);
  });
});
