import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, DEFAULT_SETTINGS, DEFAULT_VIDEO_EFFECTS, type JoinArgs } from '../../lib/backend';
import { MockBackend } from '../../lib/mockBackend';
import PreJoin from '../PreJoin.svelte';

const args: JoinArgs = {
  server: 'http://10.0.0.5:7880',
  room: '1234',
  userId: 'ada',
  role: 'anchor',
  scene: 'videocall',
  sdkAppId: null,
  userSig: null,
};

function renderPreJoin(backend: MockBackend, speaker: string | null = null) {
  const settings = { ...DEFAULT_SETTINGS, displayName: 'Ada', speaker };
  backend.settings = settings;
  return render(PreJoin, { props: { backend, args, settings, onjoined: vi.fn(), onback: vi.fn() } });
}

describe('PreJoin speaker test', () => {
  test('plays the tone through the engine on the chosen speaker and names it', async () => {
    const backend = new MockBackend({
      devices: {
        cameras: [],
        microphones: [],
        speakers: [
          { id: 'spk0', name: 'Built-in speakers', isDefault: true },
          { id: 'usb1', name: 'USB headset', isDefault: false },
        ],
      },
    });
    renderPreJoin(backend, 'usb1');
    await fireEvent.click(screen.getByTestId('prejoin-speaker-test'));
    await waitFor(() =>
      expect(screen.getByTestId('prejoin-speaker-result').textContent).toBe('Played a tone on USB headset. Did you hear it?'),
    );
    expect(backend.callsOf('test_speaker')).toHaveLength(1);
  });

  test('without a speaker it says so instead of failing silently', async () => {
    const backend = new MockBackend({ devices: { cameras: [], microphones: [], speakers: [] } });
    renderPreJoin(backend);
    await fireEvent.click(screen.getByTestId('prejoin-speaker-test'));
    await waitFor(() =>
      expect(screen.getByTestId('prejoin-speaker-result').textContent).toBe('Cannot play a tone: No speaker found'),
    );
  });
});

describe('PreJoin audio effects', () => {
  test('a collapsible section where I can hear my voice through the effects before joining', async () => {
    const backend = new MockBackend();
    renderPreJoin(backend);
    const section = screen.getByTestId('prejoin-effects') as HTMLDetailsElement;
    expect(section.open).toBe(false);
    await fireEvent.click(section.querySelector('summary')!);
    expect(section.open).toBe(true);
    await waitFor(() => expect(backend.callsOf('get_audio_effects')).toHaveLength(1));
    await fireEvent.change(screen.getByTestId('effects-reverb'), { target: { value: 'ktv' } });
    await fireEvent.click(screen.getByTestId('effects-ear-monitor'));
    await waitFor(() => expect(backend.effects).toEqual({ ...DEFAULT_AUDIO_EFFECTS, reverb: 'ktv', earMonitor: true }));
    expect((screen.getByTestId('music-file') as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByTestId('effect-bell') as HTMLButtonElement).disabled).toBe(true);
  });

  test('not offered to the audience, who do not publish', async () => {
    const backend = new MockBackend();
    render(PreJoin, {
      props: { backend, args: { ...args, role: 'audience', scene: 'live' }, settings: DEFAULT_SETTINGS, onjoined: vi.fn(), onback: vi.fn() },
    });
    expect(screen.queryByTestId('prejoin-effects')).toBeNull();
  });
});

describe('PreJoin video effects', () => {
  test('a collapsible section whose changes the preview shows; "Mirror my view" saves the setting', async () => {
    const backend = new MockBackend();
    const onsettingschange = vi.fn();
    const settings = { ...DEFAULT_SETTINGS, displayName: 'Ada', mirror: true };
    backend.settings = settings;
    render(PreJoin, { props: { backend, args, settings, onjoined: vi.fn(), onback: vi.fn(), onsettingschange } });
    const section = screen.getByTestId('prejoin-video-effects') as HTMLDetailsElement;
    expect(section.open).toBe(false);
    await fireEvent.click(section.querySelector('summary')!);
    await waitFor(() => expect(backend.callsOf('list_video_filters')).toHaveLength(1));
    expect(section.textContent).toContain('The preview shows your camera with these effects.');
    await fireEvent.input(screen.getByTestId('beauty-smooth'), { target: { value: '5' } });
    await fireEvent.click(screen.getByTestId('background-blur'));
    await waitFor(() => expect(backend.videoEffects).toEqual({ ...DEFAULT_VIDEO_EFFECTS, smoothness: 5, background: { kind: 'blur', level: 5 } }));
    await fireEvent.click(screen.getByTestId('mirror-view'));
    await waitFor(() => expect(onsettingschange).toHaveBeenCalledWith({ ...settings, mirror: false }));
    expect(backend.settings.mirror).toBe(false);
  });

  test('not offered in audio-only scenes nor to the audience', async () => {
    const backend = new MockBackend();
    const view = render(PreJoin, {
      props: { backend, args: { ...args, scene: 'audiocall' }, settings: DEFAULT_SETTINGS, onjoined: vi.fn(), onback: vi.fn() },
    });
    expect(screen.getByTestId('prejoin-effects')).toBeTruthy();
    expect(screen.queryByTestId('prejoin-video-effects')).toBeNull();
    view.unmount();
    render(PreJoin, {
      props: { backend, args: { ...args, role: 'audience', scene: 'live' }, settings: DEFAULT_SETTINGS, onjoined: vi.fn(), onback: vi.fn() },
    });
    expect(screen.queryByTestId('prejoin-video-effects')).toBeNull();
  });
});
