import { afterEach, describe, expect, test, vi } from 'vitest';
import { DEFAULT_VIDEO_EFFECTS, type VideoEffects } from '../backend';
import { MockBackend } from '../mockBackend';
import { baseName, DEFAULT_BLUR_LEVEL, VideoEffectsState } from './video.svelte';

describe('VideoEffectsState', () => {
  afterEach(() => vi.useRealTimers());

  test('loads the saved effects and the filters', async () => {
    const b = new MockBackend();
    b.videoEffects = { ...DEFAULT_VIDEO_EFFECTS, smoothness: 6, background: { kind: 'blur', level: 8 } };
    const v = new VideoEffectsState(b);
    expect(v.loaded).toBe(false);
    await v.load();
    expect(v.loaded).toBe(true);
    expect(v.effects).toEqual(b.videoEffects);
    expect(v.filters.map((f) => f.id)).toEqual(['warm', 'cool', 'mono']);
    expect(v.blurLevel).toBe(8); // the Blur choice comes back at the saved level
  });

  test('a change shows at once and is applied with set_video_effects', async () => {
    const b = new MockBackend();
    const v = new VideoEffectsState(b);
    await v.load();
    const done = v.set('beautyStyle', 'natural');
    expect(v.effects.beautyStyle).toBe('natural');
    await done;
    await v.set('filter', 'cool');
    await v.set('filterStrength', 0.35);
    expect(b.callsOf('set_video_effects')).toEqual([
      { effects: { ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural' } },
      { effects: { ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural', filter: 'cool' } },
      { effects: { ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural', filter: 'cool', filterStrength: 0.35 } },
    ]);
    await v.set('filterStrength', 0.35); // unchanged: nothing sent
    await v.set('background', { kind: 'none' }); // an equal object: nothing sent either
    expect(b.callsOf('set_video_effects')).toHaveLength(3);
  });

  test('background: none, blur at the last level, a level, an imported picture with its name', async () => {
    const b = new MockBackend();
    const v = new VideoEffectsState(b);
    await v.load();
    await v.chooseBackground('blur');
    expect(v.effects.background).toEqual({ kind: 'blur', level: DEFAULT_BLUR_LEVEL });
    await v.setBlurLevel(2);
    await v.chooseBackground('none');
    await v.chooseBackground('blur');
    expect(b.videoEffects.background).toEqual({ kind: 'blur', level: 2 });
    expect(v.backgroundName).toBeNull();

    await v.importBackground(new File(['x'], 'My beach.jpg'));
    expect(v.importing).toBeNull();
    expect(b.callsOf('import_video_file')).toEqual([{ kind: 'background', fileName: 'My beach.jpg' }]);
    expect(v.effects.background).toEqual({ kind: 'image', path: expect.stringMatching(/My beach\.jpg$/) });
    expect(b.videoEffects.background).toEqual(v.effects.background);
    expect(v.backgroundName).toBe('My beach.jpg');
  });

  test('a saved picture is named by its stored path', async () => {
    const b = new MockBackend();
    b.videoEffects = { ...DEFAULT_VIDEO_EFFECTS, background: { kind: 'image', path: 'C:\\Users\\me\\Roomcast\\backgrounds\\desk.png' } };
    const v = new VideoEffectsState(b);
    await v.load();
    expect(v.backgroundName).toBe('desk.png');
    expect(baseName('/a/b/c.jpg')).toBe('c.jpg');
    expect(baseName('plain.png')).toBe('plain.png');
  });

  test('an imported filter joins the list and is used', async () => {
    const b = new MockBackend();
    const v = new VideoEffectsState(b);
    await v.load();
    await v.importFilter(new File(['x'], 'teal.png'));
    const added = v.filters.at(-1)!;
    expect(added.name).toBe('teal');
    expect(v.filters).toHaveLength(4);
    expect(v.effects.filter).toBe(added.id);
    expect(b.videoEffects.filter).toBe(added.id);
  });

  test('a file that is not a LUT is refused with the reason; nothing else changes', async () => {
    const b = new MockBackend();
    const onerror = vi.fn();
    const v = new VideoEffectsState(b, { onerror });
    await v.load();
    await v.importFilter(new File(['x'], 'look.cube'));
    expect(v.error).toMatch(/look\.cube is not a PNG/);
    expect(onerror).toHaveBeenCalledWith(v.error);
    expect([v.filters.length, v.effects.filter, v.importing]).toEqual([3, null, null]);
    expect(b.callsOf('set_video_effects')).toEqual([]);
  });

  test('a refused change comes back and says why', async () => {
    const b = new MockBackend();
    const v = new VideoEffectsState(b, { errorMs: 1000 });
    await v.load();
    await v.set('smoothness', 3);
    b.failNext.set('set_video_effects', { kind: 'internal', message: 'Cannot read the background image' });
    vi.useFakeTimers();
    await v.chooseBackground('blur');
    expect(v.effects).toEqual({ ...DEFAULT_VIDEO_EFFECTS, smoothness: 3 });
    expect(v.error).toBe('Cannot read the background image');
    vi.advanceTimersByTime(1000);
    expect(v.error).toBeNull();
  });

  test('changes made while a request runs are sent together, after it, in order', async () => {
    const b = new MockBackend();
    const sent: VideoEffects[] = [];
    let release: () => void = () => {};
    b.setVideoEffects = (effects) => {
      sent.push(structuredClone(effects));
      return new Promise<void>((r) => (release = r));
    };
    const v = new VideoEffectsState(b);
    const first = v.set('whiteness', 1);
    v.set('whiteness', 2);
    v.set('ruddiness', 5);
    v.setBlurLevel(7);
    expect(sent.map((e) => e.whiteness)).toEqual([1]);
    release();
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent[1]).toEqual({ ...DEFAULT_VIDEO_EFFECTS, whiteness: 2, ruddiness: 5, background: { kind: 'blur', level: 7 } });
    release();
    await first;
    await v.settled();
    expect(v.effects.whiteness).toBe(2);
  });

  test('a change made before the saved effects arrive is kept', async () => {
    const b = new MockBackend();
    b.videoEffects = { ...DEFAULT_VIDEO_EFFECTS, sharpen: true };
    const v = new VideoEffectsState(b);
    const loading = v.load();
    v.set('mirrorEncoded', true);
    await loading;
    await v.settled();
    expect(v.effects.mirrorEncoded).toBe(true);
  });

  test('without the capability (a browser) nothing is asked; other saves report here', async () => {
    const b = new MockBackend({ capabilities: { videoEffects: false } });
    const v = new VideoEffectsState(b);
    await v.load();
    expect(v.loaded).toBe(true);
    expect(b.calls).toEqual([]);
    expect(await v.run(() => Promise.reject({ kind: 'store', message: 'disk full' }))).toBe(false);
    expect(v.error).toBe('disk full');
    v.dismissError();
    expect(v.error).toBeNull();
    expect(await v.run(() => Promise.resolve())).toBe(true);
  });
});
