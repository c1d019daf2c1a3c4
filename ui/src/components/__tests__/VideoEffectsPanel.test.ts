import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import { DEFAULT_VIDEO_EFFECTS } from '../../lib/backend';
import { setLanguage } from '../../lib/i18n';
import { MockBackend } from '../../lib/mockBackend';
import { VideoEffectsState } from '../../lib/stores/video.svelte';
import VideoEffectsPanel from '../VideoEffectsPanel.svelte';

async function setup(backend = new MockBackend(), props: { mirror?: boolean; onmirror?: (on: boolean) => Promise<void> } = {}) {
  const video = new VideoEffectsState(backend);
  const onmirror = props.onmirror ?? vi.fn(() => Promise.resolve());
  const view = render(VideoEffectsPanel, { props: { video, mirror: props.mirror ?? true, onmirror } });
  await waitFor(() => expect(video.loaded).toBe(true));
  return { backend, video, onmirror, view };
}

const input = (id: string) => screen.getByTestId(id) as HTMLInputElement;
const sent = (b: MockBackend) => b.callsOf('set_video_effects').at(-1);

describe('VideoEffectsPanel', () => {
  test('shows the saved effects', async () => {
    const backend = new MockBackend();
    backend.videoEffects = {
      ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural', smoothness: 4, whiteness: 2, ruddiness: 9, sharpen: true,
      filter: 'cool', filterStrength: 0.45, background: { kind: 'blur', level: 6 }, mirrorEncoded: true,
    };
    await setup(backend);
    expect(screen.getByTestId('video-effects-panel')).toBeTruthy();
    expect([input('beauty-style-natural').checked, input('beauty-style-smooth').checked]).toEqual([true, false]);
    expect([input('beauty-smooth').value, input('beauty-whiten').value, input('beauty-ruddy').value]).toEqual(['4', '2', '9']);
    expect(input('beauty-smooth').max).toBe('9');
    expect(input('beauty-sharpen').checked).toBe(true);
    expect(input('filter-cool').checked).toBe(true);
    expect(input('filter-none').checked).toBe(false);
    expect(input('filter-strength').value).toBe('45');
    expect(screen.getByText('45%')).toBeTruthy();
    expect(input('background-blur').checked).toBe(true);
    expect([input('background-blur-level').value, input('background-blur-level').disabled]).toEqual(['6', false]);
    expect(input('mirror-encoded').checked).toBe(true);
    expect(input('mirror-view').checked).toBe(true);
  });

  test('the filters: None first, then thumbnails with their names under them; the chosen one is marked', async () => {
    const { backend } = await setup();
    const looks = [...screen.getByTestId('video-filters').querySelectorAll('input')].map((i) => i.dataset.testid);
    expect(looks).toEqual(['filter-none', 'filter-warm', 'filter-cool', 'filter-mono', 'filter-import']);
    const warm = input('filter-warm').closest('label')!;
    expect(warm.querySelector('img')!.getAttribute('src')).toMatch(/^data:image\//);
    expect(warm.textContent!.trim()).toBe('Warm');
    expect(input('filter-none').closest('label')!.classList.contains('chosen')).toBe(true);
    expect(input('filter-strength').disabled).toBe(true); // no filter: no strength
    await fireEvent.click(input('filter-warm'));
    await waitFor(() => expect(sent(backend)).toEqual({ effects: { ...DEFAULT_VIDEO_EFFECTS, filter: 'warm' } }));
    expect(warm.classList.contains('chosen')).toBe(true);
    expect(input('filter-none').closest('label')!.classList.contains('chosen')).toBe(false);
    expect(input('filter-strength').disabled).toBe(false);
  });

  test('beauty style, sliders, sharpen and filter strength call set_video_effects', async () => {
    const { backend } = await setup();
    await fireEvent.click(input('beauty-style-natural'));
    await fireEvent.input(input('beauty-smooth'), { target: { value: '7' } });
    await fireEvent.input(input('beauty-whiten'), { target: { value: '3' } });
    await fireEvent.input(input('beauty-ruddy'), { target: { value: '1' } });
    await fireEvent.click(input('beauty-sharpen'));
    await fireEvent.click(input('filter-mono'));
    await fireEvent.input(input('filter-strength'), { target: { value: '30' } });
    await fireEvent.click(input('mirror-encoded'));
    await waitFor(() =>
      expect(backend.videoEffects).toEqual({
        ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural', smoothness: 7, whiteness: 3, ruddiness: 1, sharpen: true,
        filter: 'mono', filterStrength: 0.3, mirrorEncoded: true,
      }),
    );
    expect(screen.getByText('30%')).toBeTruthy();
  });

  test('"Add filter…" imports a PNG and selects it', async () => {
    const { backend } = await setup();
    expect(input('filter-import').accept).toBe('.png');
    await fireEvent.change(input('filter-import'), { target: { files: [new File(['x'], 'Teal.png', { type: 'image/png' })] } });
    await waitFor(() => expect(screen.getByText('Teal')).toBeTruthy());
    expect(backend.callsOf('import_video_file')).toEqual([{ kind: 'filter', fileName: 'Teal.png' }]);
    const id = backend.videoFilters.at(-1)!.id;
    await waitFor(() => expect(input(`filter-${id}`).checked).toBe(true));
    expect(backend.videoEffects.filter).toBe(id);
  });

  test('a file that is not a LUT shows why', async () => {
    await setup();
    await fireEvent.change(input('filter-import'), { target: { files: [new File(['x'], 'notes.txt')] } });
    expect((await screen.findByTestId('video-effects-error')).textContent).toContain('notes.txt is not a PNG lookup table');
    expect(input('filter-none').checked).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('video-effects-error')).toBeNull();
  });

  test('background: blur with its level, then a picture whose name shows, then none', async () => {
    const { backend } = await setup();
    expect(input('background-none').checked).toBe(true);
    expect(input('background-blur-level').disabled).toBe(true);
    await fireEvent.click(input('background-blur'));
    await waitFor(() => expect(backend.videoEffects.background).toEqual({ kind: 'blur', level: 5 }));
    expect(input('background-blur-level').disabled).toBe(false);
    await fireEvent.input(input('background-blur-level'), { target: { value: '9' } });
    await waitFor(() => expect(backend.videoEffects.background).toEqual({ kind: 'blur', level: 9 }));
    expect([input('background-blur-level').min, input('background-blur-level').max]).toEqual(['1', '9']);

    expect(input('background-image').accept).toBe('.png,.jpg,.jpeg');
    await fireEvent.change(input('background-image'), { target: { files: [new File(['x'], 'beach.jpg', { type: 'image/jpeg' })] } });
    await waitFor(() => expect(screen.getByTestId('background-image-name').textContent).toBe('Image: beach.jpg'));
    expect(backend.callsOf('import_video_file')).toEqual([{ kind: 'background', fileName: 'beach.jpg' }]);
    expect(backend.videoEffects.background).toEqual({ kind: 'image', path: expect.stringMatching(/beach\.jpg$/) });
    expect(input('background-image').closest('label')!.classList.contains('chosen')).toBe(true);
    expect([input('background-none').checked, input('background-blur').checked]).toEqual([false, false]);

    await fireEvent.click(input('background-none'));
    await waitFor(() => expect(backend.videoEffects.background).toEqual({ kind: 'none' }));
    expect(screen.queryByTestId('background-image-name')).toBeNull();
  });

  test('a refused background goes back and the reason shows', async () => {
    const { backend } = await setup();
    backend.failNext.set('set_video_effects', { kind: 'internal', message: 'Cannot blur: the segmentation model is missing' });
    await fireEvent.click(input('background-blur'));
    expect((await screen.findByTestId('video-effects-error')).textContent).toContain('segmentation model is missing');
    expect(input('background-none').checked).toBe(true);
    expect(input('background-blur').checked).toBe(false);
  });

  test('"Mirror my view" saves the setting through onmirror; refused, the box goes back', async () => {
    let refuse = false;
    const onmirror = vi.fn((_on: boolean) => (refuse ? Promise.reject({ kind: 'store', message: 'The settings could not be saved' }) : Promise.resolve()));
    const { view } = await setup(new MockBackend(), { mirror: true, onmirror });
    await fireEvent.click(input('mirror-view'));
    expect(onmirror).toHaveBeenLastCalledWith(false);
    await view.rerender({ mirror: false });
    expect(input('mirror-view').checked).toBe(false);
    refuse = true;
    await fireEvent.click(input('mirror-view'));
    expect(onmirror).toHaveBeenLastCalledWith(true);
    expect((await screen.findByTestId('video-effects-error')).textContent).toContain('The settings could not be saved');
    expect(input('mirror-view').checked).toBe(false);
  });

  test('in Korean', async () => {
    setLanguage('ko');
    try {
      await setup();
      expect(screen.getByText('얼굴 보정')).toBeTruthy();
      expect(screen.getByText('내 화면 좌우 반전')).toBeTruthy();
      expect(screen.getByText('필터 추가…')).toBeTruthy();
    } finally {
      setLanguage('en');
    }
  });
});

