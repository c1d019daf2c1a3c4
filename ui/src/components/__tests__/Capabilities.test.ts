import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import { DEFAULT_SETTINGS, type Backend, type Capabilities, type JoinArgs, type StreamKind } from '../../lib/backend';
import { MockBackend } from '../../lib/mockBackend';
import { AudioState } from '../../lib/stores/audio.svelte';
import { VideoEffectsState } from '../../lib/stores/video.svelte';
import { RoomState } from '../../lib/stores/room.svelte';
import { installMediaStream } from '../../test/browserFakes';
import AudioEffectsPanel from '../AudioEffectsPanel.svelte';
import Call from '../Call.svelte';
import Home from '../Home.svelte';
import VideoEffectsPanel from '../VideoEffectsPanel.svelte';
import VideoView from '../VideoView.svelte';

/** What the browser backend can do. */
const BROWSER: Capabilities = {
  hosting: false, serverAddress: false, audioEffects: false, music: false, screenPicker: false, videoEffects: false, videoBackground: false,
};

describe('the UI hides what a backend cannot do', () => {
  test('the app leaves backgrounds out of the video effects until the engine can segment a person', async () => {
    const backend = new MockBackend({ capabilities: { videoBackground: false } });
    const video = new VideoEffectsState(backend);
    render(VideoEffectsPanel, { props: { video, mirror: true } });
    await screen.findByTestId('beauty-smooth');
    expect(screen.queryByTestId('background-blur')).toBeNull();
    expect(screen.queryByTestId('background-image')).toBeNull();
  });

  test('Home in a browser: no server field, no hosting, the SDKAppID and UserSig in view; joins this page’s server', async () => {
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend({ capabilities: BROWSER }), settings: { ...DEFAULT_SETTINGS, displayName: 'ann' }, onjoin } });
    expect(screen.queryByTestId('home-server')).toBeNull();
    expect(screen.queryByTestId('home-host')).toBeNull();
    expect((screen.getByTestId('home-usersig').closest('details') as HTMLDetailsElement).open).toBe(true);
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '4242' } });
    await fireEvent.input(screen.getByTestId('home-sdkappid'), { target: { value: '7' } });
    await fireEvent.input(screen.getByTestId('home-usersig'), { target: { value: 'sig' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    expect(onjoin.mock.calls[0][0]).toEqual({
      server: location.origin, room: '4242', userId: 'ann', role: 'anchor', scene: 'videocall', sdkAppId: 7, userSig: 'sig',
      displayName: 'ann',
    } satisfies JoinArgs);
  });

  test('audio effects in a browser: echo, classic noise suppression and gain only', async () => {
    const backend = new MockBackend({ capabilities: BROWSER });
    const audio = new AudioState(backend);
    render(AudioEffectsPanel, { props: { audio, inCall: true } });
    await waitFor(() => expect(audio.loaded).toBe(true));
    for (const id of ['effects-aec', 'effects-agc', 'effects-ns-off', 'effects-ns-classic']) expect(screen.getByTestId(id)).toBeTruthy();
    for (const id of ['effects-ns-ai', 'effects-high-pass', 'effects-voice-changer', 'effects-reverb', 'effects-ear-monitor', 'music-file', 'effect-bell']) {
      expect(screen.queryByTestId(id)).toBeNull();
    }
  });

  test('video effects in a browser: only "Mirror my view", and nothing asked of the backend', async () => {
    const backend = new MockBackend({ capabilities: BROWSER });
    const video = new VideoEffectsState(backend);
    render(VideoEffectsPanel, { props: { video, mirror: true, onmirror: () => Promise.resolve() } });
    await waitFor(() => expect(video.loaded).toBe(true));
    expect(screen.getByTestId('mirror-view')).toBeTruthy();
    expect(screen.getByTestId('video-effects-app-only').textContent).toMatch(/need the Roomcast app/);
    for (const id of [
      'beauty-style-smooth', 'beauty-style-natural', 'beauty-smooth', 'beauty-whiten', 'beauty-ruddy', 'beauty-sharpen', 'filter-none',
      'filter-strength', 'filter-import', 'background-none', 'background-blur', 'background-blur-level', 'background-image', 'mirror-encoded',
    ]) {
      expect(screen.queryByTestId(id), id).toBeNull();
    }
    expect(backend.calls).toEqual([]);
  });

  test('video effects in the app: every control', async () => {
    const backend = new MockBackend();
    const video = new VideoEffectsState(backend);
    render(VideoEffectsPanel, { props: { video, mirror: true, onmirror: () => Promise.resolve() } });
    await waitFor(() => expect(video.loaded).toBe(true));
    for (const id of [
      'video-effects-panel', 'beauty-style-smooth', 'beauty-style-natural', 'beauty-smooth', 'beauty-whiten', 'beauty-ruddy',
      'beauty-sharpen', 'filter-none', 'filter-warm', 'filter-strength', 'filter-import', 'background-none', 'background-blur',
      'background-blur-level', 'background-image', 'mirror-view', 'mirror-encoded',
    ]) {
      expect(screen.getByTestId(id), id).toBeTruthy();
    }
    expect(screen.queryByTestId('video-effects-app-only')).toBeNull();
  });

  test('sharing without the app’s picker starts at once with the only source', async () => {
    const backend = new MockBackend({ capabilities: BROWSER });
    backend.listScreenSources = async () => [{ id: 'portal:browser', kind: 'screen', title: 'Screen, window or tab', thumbnail: '' }];
    const room = new RoomState({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: 7, userSig: 's' });
    render(Call, { props: { backend, room, onleft: vi.fn() } });
    await fireEvent.click(screen.getByTestId('btn-share'));
    await waitFor(() => expect(room.sharing).toBe(true));
    expect(backend.callsOf('start_screen_share')).toEqual([{ sourceId: 'portal:browser' }]);
    expect(screen.queryByTestId('screen-picker')).toBeNull();
  });
});

describe('VideoView', () => {
  test('a backend with MediaStreams gets a muted <video> that follows them; others a canvas', async () => {
    installMediaStream();
    vi.spyOn(HTMLMediaElement.prototype, 'play').mockImplementation(() => Promise.resolve());
    const backend: MockBackend & Pick<Backend, 'mediaStream'> = new MockBackend();
    let show: ((s: MediaStream | null) => void) | null = null;
    const watched: string[] = [];
    const stop = vi.fn();
    backend.mediaStream = (userId: string, stream: StreamKind, cb: (s: MediaStream | null) => void) => {
      watched.push(`${userId}/${stream}`);
      show = cb;
      cb(null);
      return stop;
    };
    const view = render(VideoView, { props: { backend, viewId: 'cli', active: true, mirror: true, testid: 'v' } });
    const video = screen.getByTestId('v') as HTMLVideoElement;
    expect(video.tagName).toBe('VIDEO');
    expect(video.muted).toBe(true);
    expect(video.hidden).toBe(true); // nothing to show yet
    const ms = new MediaStream();
    show!(ms);
    await waitFor(() => expect(video.srcObject).toBe(ms));
    expect(video.hidden).toBe(false);
    expect(video.classList.contains('mirror')).toBe(true);
    await view.rerender({ backend, viewId: 'cli', active: false, mirror: true, testid: 'v' });
    expect(stop).toHaveBeenCalledTimes(1);
    expect(watched).toEqual(['cli/main']);
    view.unmount();

    render(VideoView, { props: { backend: new MockBackend(), viewId: 'cli', active: true, testid: 'c' } });
    expect(screen.getByTestId('c').tagName).toBe('CANVAS');
  });
});
