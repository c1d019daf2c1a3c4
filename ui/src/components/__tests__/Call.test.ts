import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { JoinArgs, RemoteUser } from '../../lib/backend';
import { setLanguage } from '../../lib/i18n';
import { MockBackend } from '../../lib/mockBackend';
import { RoomState } from '../../lib/stores/room.svelte';
import App from '../../App.svelte';
import Call from '../Call.svelte';

const args = (over: Partial<JoinArgs> = {}): JoinArgs => ({
  server: 'http://s:7880', room: '1234', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: 1, userSig: 'sig', ...over,
});

async function setup(over: Partial<JoinArgs> = {}, users: RemoteUser[] = []) {
  const backend = new MockBackend();
  const room = new RoomState(args(over), users, { toastMs: 1000 });
  await backend.onRoomEvent((e) => room.handle(e));
  const onleft = vi.fn();
  render(Call, { props: { backend, room, onleft } });
  return { backend, room, onleft };
}

afterEach(() => vi.useRealTimers());

describe('Call', () => {
  test('tiles appear and disappear on user events, with a toast', async () => {
    const { backend } = await setup();
    expect(screen.getByTestId('tile-me')).toBeTruthy();
    backend.emit({ type: 'user_enter', userId: 'alice' });
    flushSync();
    expect(screen.getByTestId('tile-alice')).toBeTruthy();
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toContainEqual(expect.stringContaining('alice joined'));
    expect(screen.getByTestId('call-grid').dataset.cols).toBe('2');
    backend.emit({ type: 'user_leave', userId: 'alice', reason: 'left' });
    flushSync();
    expect(screen.queryByTestId('tile-alice')).toBeNull();
  });

  test("a remote user's volume slider in the people list sets their playback volume and is kept", async () => {
    const { backend, room } = await setup({}, [{ userId: 'bob', role: 'anchor', audio: true, video: false, subVideo: false }]);
    await fireEvent.click(screen.getByTestId('btn-people'));
    expect(screen.queryByTestId('volume-me')).toBeNull();
    const slider = screen.getByTestId('volume-bob') as HTMLInputElement;
    expect(slider.value).toBe('100');
    await fireEvent.input(slider, { target: { value: '35' } });
    await waitFor(() => expect(backend.callsOf('set_user_volume')).toEqual([{ userId: 'bob', volume: 35 }]));
    expect(room.userVolumes).toEqual({ bob: 35 });
    await fireEvent.click(screen.getByTestId('btn-people'));
    await fireEvent.click(screen.getByTestId('btn-people'));
    expect((screen.getByTestId('volume-bob') as HTMLInputElement).value).toBe('35');
  });

  test('the Effects button opens the audio effects beside the call; the music keeps its place while it is closed', async () => {
    const { backend } = await setup();
    expect(screen.queryByTestId('effects-panel')).toBeNull();
    const button = screen.getByTestId('btn-effects');
    await fireEvent.click(button);
    expect(button.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('effects-panel')).toBeTruthy();
    await fireEvent.change(screen.getByTestId('effects-voice-changer'), { target: { value: 'ethereal' } });
    await waitFor(() => expect(backend.effects.voiceChanger).toBe('ethereal'));
    // In a call: music can be loaded (MockBackend needs to be in the room for it).
    backend.inRoom = true;
    expect((screen.getByTestId('music-file') as HTMLInputElement).disabled).toBe(false);
    await fireEvent.change(screen.getByTestId('music-file'), { target: { files: [new File(['x'], 'tune.flac')] } });
    await waitFor(() => expect(backend.callsOf('load_music')).toEqual([{ fileName: 'tune.flac', publish: true }]));
    await fireEvent.click(button);
    expect(screen.queryByTestId('effects-panel')).toBeNull();
    backend.emit({ type: 'music_progress', id: 1, positionMs: 61_000, durationMs: 180_000 });
    await fireEvent.click(button);
    expect(screen.getByTestId('music-time').textContent).toBe('1:01 / 3:00');
    expect(screen.getByTestId('music-status').textContent).toContain('tune.flac');
    await fireEvent.click(screen.getByRole('button', { name: 'Close audio effects' }));
    expect(screen.queryByTestId('effects-panel')).toBeNull();
  });

  test('the video effects open beside the audio effects; "Mirror my view" goes to onmirror and mirrors the self view', async () => {
    const backend = new MockBackend();
    const room = new RoomState(args());
    const onmirror = vi.fn(() => Promise.resolve());
    const view = render(Call, { props: { backend, room, onleft: vi.fn(), mirror: true, onmirror } });
    expect(screen.queryByTestId('video-effects-panel')).toBeNull();
    const button = screen.getByTestId('open-video-effects');
    await fireEvent.click(button);
    expect(button.getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(screen.getByTestId('btn-effects'));
    expect(screen.getByTestId('effects-panel')).toBeTruthy(); // both at once
    expect(screen.getByTestId('video-effects-panel')).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId('filter-mono')).toBeTruthy());
    await fireEvent.click(screen.getByTestId('filter-mono'));
    await waitFor(() => expect(backend.videoEffects.filter).toBe('mono'));
    await fireEvent.click(screen.getByTestId('mirror-view'));
    expect(onmirror).toHaveBeenCalledWith(false);
    await view.rerender({ mirror: false });
    expect((screen.getByTestId('mirror-view') as HTMLInputElement).checked).toBe(false);
    await fireEvent.click(screen.getByRole('button', { name: 'Close video effects' }));
    expect(screen.queryByTestId('video-effects-panel')).toBeNull();
    expect(button.getAttribute('aria-pressed')).toBe('false');
  });

  test('in the app, "Mirror my view" is the saved setting the settings dialog shows', async () => {
    const backend = new MockBackend();
    const room = new RoomState(args());
    render(App, { props: { backend, initial: { kind: 'call', room, unlisten: () => {} } } });
    await fireEvent.click(await screen.findByTestId('open-video-effects'));
    const box = screen.getByTestId('mirror-view') as HTMLInputElement;
    expect(box.checked).toBe(true);
    await fireEvent.click(box);
    await waitFor(() => expect(backend.callsOf('save_settings')).toEqual([{ settings: { ...backend.settings, mirror: false } }]));
    expect(box.checked).toBe(false);
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    expect((screen.getByRole('checkbox', { name: 'Mirror my preview' }) as HTMLInputElement).checked).toBe(false);
  });

  test('no video effects in an audio-only call', async () => {
    await setup({ scene: 'audiocall' });
    expect(screen.getByTestId('btn-effects')).toBeTruthy();
    expect(screen.queryByTestId('open-video-effects')).toBeNull();
  });

  test('toasts dismiss themselves', async () => {
    vi.useFakeTimers();
    const { backend } = await setup();
    backend.emit({ type: 'user_enter', userId: 'bob' });
    flushSync();
    expect(screen.getAllByTestId('toast')).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    flushSync();
    expect(screen.queryAllByTestId('toast')).toHaveLength(0);
  });

  test('video availability requests and stops the view; mic state icon follows audio', async () => {
    const { backend } = await setup({}, [{ userId: 'bob', role: 'anchor', audio: false, video: false, subVideo: false }]);
    expect(screen.getByTestId('mic-state-bob').dataset.on).toBe('false');
    backend.emit({ type: 'audio_available', userId: 'bob', available: true });
    backend.emit({ type: 'video_available', userId: 'bob', stream: 'main', available: true });
    flushSync();
    expect(screen.getByTestId('mic-state-bob').dataset.on).toBe('true');
    await waitFor(() => expect(backend.callsOf('set_view')).toContainEqual(expect.objectContaining({ userId: 'bob', stream: 'main' })));
    const req = backend.callsOf('set_view').find((a) => (a as { userId: string }).userId === 'bob') as { width: number; height: number };
    expect(req.width % 2).toBe(0);
    expect(req.height % 2).toBe(0);
    backend.emit({ type: 'video_available', userId: 'bob', stream: 'main', available: false });
    flushSync();
    await waitFor(() => expect(backend.callsOf('stop_view')).toContainEqual({ userId: 'bob', stream: 'main' }));
  });

  test('the active speaker tile is highlighted', async () => {
    const { backend } = await setup({}, [{ userId: 'bob', role: 'anchor', audio: true, video: true, subVideo: false }]);
    backend.emit({ type: 'volumes', volumes: [{ userId: 'bob', volume: 80 }, { userId: '', volume: 3 }] });
    flushSync();
    expect(screen.getByTestId('tile-bob').dataset.speaking).toBe('true');
    expect(screen.getByTestId('tile-me').dataset.speaking).toBe('false');
  });

  test('connection banner while lost, "reconnected" after', async () => {
    const { backend } = await setup();
    expect(screen.queryByTestId('banner-connection')).toBeNull();
    backend.emit({ type: 'connection_lost' });
    flushSync();
    expect(screen.getByTestId('banner-connection').textContent).toMatch(/Connection lost/);
    backend.emit({ type: 'connection_recovered' });
    flushSync();
    expect(screen.getByTestId('banner-connection').textContent).toMatch(/Reconnected/);
  });

  test('while the engine enters again the banner shows the attempt, and the call stays', async () => {
    const { backend } = await setup({}, [{ userId: 'bob', role: 'anchor', audio: true, video: true, subVideo: false }]);
    backend.emit({ type: 'connection_lost' });
    backend.emit({ type: 'reconnecting', attempt: 2 });
    flushSync();
    expect(screen.getByTestId('banner-attempt').textContent).toMatch(/attempt 2/);
    expect(screen.getByTestId('tile-bob')).toBeTruthy();
    backend.emit({ type: 'reconnected' });
    flushSync();
    expect(screen.getByTestId('banner-connection').textContent).toMatch(/Reconnected/);
    expect(screen.queryByTestId('banner-attempt')).toBeNull();
  });

  test('a screen share shows the large view with the cameras in a strip', async () => {
    const { backend } = await setup({}, [{ userId: 'carol', role: 'anchor', audio: true, video: true, subVideo: false }]);
    backend.emit({ type: 'video_available', userId: 'carol', stream: 'sub', available: true });
    flushSync();
    expect(screen.getByTestId('screen-share-view')).toBeTruthy();
    expect(screen.getByTestId('tile-carol-sub')).toBeTruthy();
    expect(screen.getByTestId('call-grid').dataset.layout).toBe('strip');
    await waitFor(() => expect(backend.callsOf('set_view')).toContainEqual(expect.objectContaining({ userId: 'carol', stream: 'sub' })));
  });

  test('mic, camera and screen-share controls call the backend', async () => {
    const { backend, room } = await setup();
    await fireEvent.click(screen.getByTestId('btn-mic'));
    await waitFor(() => expect(room.micOn).toBe(false));
    expect(backend.callsOf('set_microphone')).toEqual([{ on: false }]);
    await fireEvent.click(screen.getByTestId('btn-camera'));
    await waitFor(() => expect(room.cameraOn).toBe(false));
    await fireEvent.click(screen.getByTestId('btn-share'));
    await fireEvent.click(await screen.findByTestId('source-window:1'));
    await waitFor(() => expect(room.sharing).toBe(true));
    expect(backend.callsOf('start_screen_share')).toEqual([{ sourceId: 'window:1' }]);
  });

  test('Wayland: while the system picker is open the app says so; a share the system stops turns off', async () => {
    const { backend, room } = await setup();
    backend.listScreenSources = async () => [
      { id: 'portal:screen', kind: 'screen', title: 'A whole screen (your system asks which)', thumbnail: '' },
    ];
    let chosen: () => void = () => {};
    backend.startScreenShare = () => new Promise<void>((resolve) => (chosen = resolve));
    await fireEvent.click(screen.getByTestId('btn-share'));
    await fireEvent.click(await screen.findByTestId('source-portal:screen'));
    expect(screen.getByTestId('share-waiting').textContent).toMatch(/system/);
    expect((screen.getByTestId('btn-share') as HTMLButtonElement).disabled).toBe(true);
    chosen();
    await waitFor(() => expect(room.sharing).toBe(true));
    expect(screen.queryByTestId('share-waiting')).toBeNull();
    expect((screen.getByTestId('btn-share') as HTMLButtonElement).disabled).toBe(false);
    backend.emit({ type: 'local_video_ended', stream: 'sub' });
    await waitFor(() => expect(room.sharing).toBe(false));
    expect(screen.getByTestId('toast').textContent).toMatch(/Screen sharing ended/);
  });

  test('a failing command shows an error toast with the server code', async () => {
    const { backend } = await setup();
    backend.failNext.set('set_camera', { kind: 'device', message: 'The camera is used by another application.' });
    await fireEvent.click(screen.getByTestId('btn-camera'));
    await waitFor(() => expect(screen.getByTestId('toast').textContent).toMatch(/another application/));
  });

  test('live audience: anchors only, and "Go on stage" switches my role directly', async () => {
    const { backend } = await setup({ scene: 'live', role: 'audience' }, [
      { userId: 'star', role: 'anchor', audio: true, video: true, subVideo: false },
    ]);
    expect(screen.queryByTestId('tile-me')).toBeNull();
    expect(screen.queryByTestId('btn-mic')).toBeNull();
    await fireEvent.click(screen.getByTestId('btn-go-on-stage'));
    await waitFor(() => expect(screen.getByTestId('tile-me')).toBeTruthy());
    expect(backend.callsOf('switch_role')).toEqual([{ role: 'anchor' }]);
    expect((screen.getByTestId('btn-invite') as HTMLButtonElement).disabled).toBe(false);
  });

  test('"Request to speak" asks the anchors; an allowed request puts me on stage', async () => {
    const { backend } = await setup({ scene: 'live', role: 'audience' }, [
      { userId: 'star', role: 'anchor', audio: true, video: true, subVideo: false },
    ]);
    await fireEvent.click(screen.getByTestId('btn-request-speak'));
    await waitFor(() => expect(screen.getByTestId('btn-request-speak').textContent).toMatch(/Request sent/));
    expect(backend.callsOf('request_to_speak')).toEqual([{}]);
    expect(backend.callsOf('switch_role')).toEqual([]);
    expect((screen.getByTestId('btn-request-speak') as HTMLButtonElement).disabled).toBe(true);
    backend.emit({ type: 'speak_request_answered', accept: true, by: 'star' });
    backend.emit({ type: 'role_changed', role: 'anchor' });
    flushSync();
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toContainEqual(expect.stringContaining('star let you on stage'));
    expect(screen.getByTestId('tile-me')).toBeTruthy();
  });

  test('an invitation prompts "X invites you to speak"; Accept answers and goes on stage', async () => {
    const { backend } = await setup({ scene: 'live', role: 'audience' });
    backend.emit({ type: 'speak_invited', by: 'star' });
    flushSync();
    expect(screen.getByTestId('speak-invitation').textContent).toMatch(/star invites you to speak/);
    await fireEvent.click(screen.getByTestId('btn-accept-invite'));
    await waitFor(() => expect(screen.getByTestId('tile-me')).toBeTruthy());
    expect(backend.callsOf('answer_invite')).toEqual([{ accept: true }]);
    expect(screen.queryByTestId('speak-invitation')).toBeNull();
  });

  test('declining an invitation answers no and stays in the audience', async () => {
    const { backend, room } = await setup({ scene: 'live', role: 'audience' });
    backend.emit({ type: 'speak_invited', by: 'star' });
    flushSync();
    await fireEvent.click(screen.getByTestId('btn-decline-invite'));
    expect(backend.callsOf('answer_invite')).toEqual([{ accept: false }]);
    expect(screen.queryByTestId('speak-invitation')).toBeNull();
    expect(room.role).toBe('audience');
  });

  test('an anchor sees "Y asks to speak" and allows or declines', async () => {
    const { backend } = await setup({ scene: 'live', role: 'anchor' });
    backend.emit({ type: 'speak_requested', userId: 'fan' });
    backend.emit({ type: 'speak_requested', userId: 'troll' });
    flushSync();
    expect(screen.getByTestId('speak-request-fan').textContent).toMatch(/fan asks to speak/);
    await fireEvent.click(screen.getByTestId('btn-allow-fan'));
    await fireEvent.click(screen.getByTestId('btn-decline-troll'));
    expect(backend.callsOf('answer_request')).toEqual([
      { userId: 'fan', accept: true },
      { userId: 'troll', accept: false },
    ]);
    expect(screen.queryByTestId('speak-request-fan')).toBeNull();
    expect(screen.queryByTestId('speak-request-troll')).toBeNull();
  });

  test('an anchor invites by UserID and hears the answer', async () => {
    const { backend } = await setup({ scene: 'live', role: 'anchor' });
    await fireEvent.click(screen.getByTestId('btn-invite'));
    await fireEvent.input(screen.getByTestId('invitee-id'), { target: { value: 'fan' } });
    await fireEvent.click(screen.getByTestId('btn-send-invite'));
    await waitFor(() => expect(backend.callsOf('invite_to_speak')).toEqual([{ userId: 'fan' }]));
    backend.emit({ type: 'speak_invite_answered', userId: 'fan', accept: true });
    flushSync();
    expect(screen.getAllByTestId('toast').map((t) => t.textContent)).toContainEqual(
      expect.stringContaining('fan accepted your invitation'),
    );
  });

  test('a refused invitation (unknown user) shows the server error', async () => {
    const { backend } = await setup({ scene: 'live', role: 'anchor' });
    backend.failNext.set('invite_to_speak', { kind: 'server', code: 3003, message: 'zed is not in this room' });
    await fireEvent.click(screen.getByTestId('btn-invite'));
    await fireEvent.input(screen.getByTestId('invitee-id'), { target: { value: 'zed' } });
    await fireEvent.click(screen.getByTestId('btn-send-invite'));
    await waitFor(() => expect(screen.getByTestId('toast').textContent).toMatch(/3003/));
  });

  test('exit_room from the server ends the call', async () => {
    const { backend, onleft } = await setup();
    backend.emit({ type: 'exit_room', reason: 'kicked' });
    flushSync();
    expect(onleft).toHaveBeenCalledWith('kicked');
  });
});

describe('Call: big and small streams, and pinning', () => {
  const cam = (userId: string): RemoteUser => ({ userId, role: 'anchor', audio: true, video: true, subVideo: false });
  const asked = (backend: MockBackend) =>
    (backend.callsOf('set_remote_video_stream_type') as { userId: string; streamType: string }[]).map((a) => `${a.userId}=${a.streamType}`);
  const layerOf = (userId: string) => screen.getByTestId(`tile-${userId}`).dataset.layer;

  test('one-to-one: big; three tiles or more: small; asked only on change, and again when someone comes back', async () => {
    const { backend } = await setup({}, [cam('bob')]);
    await waitFor(() => expect(asked(backend)).toEqual(['bob=big']));
    expect(layerOf('bob')).toBe('big');
    expect(screen.getByTestId('tile-me').hasAttribute('data-layer')).toBe(false);
    backend.emit({ type: 'user_enter', userId: 'carol' });
    flushSync();
    await waitFor(() => expect(asked(backend)).toEqual(['bob=big', 'bob=small', 'carol=small']));
    expect([layerOf('bob'), layerOf('carol')]).toEqual(['small', 'small']);
    // Nothing changes: nothing asked (the speaker, the volumes, a camera going off).
    backend.emit({ type: 'volumes', volumes: [{ userId: 'bob', volume: 80 }] });
    backend.emit({ type: 'video_available', userId: 'carol', stream: 'main', available: true });
    flushSync();
    backend.emit({ type: 'user_leave', userId: 'carol', reason: 'left' });
    flushSync();
    await waitFor(() => expect(asked(backend).at(-1)).toBe('bob=big'));
    backend.emit({ type: 'user_enter', userId: 'carol' });
    flushSync();
    await waitFor(() => expect(asked(backend)).toEqual(['bob=big', 'bob=small', 'carol=small', 'bob=big', 'bob=small', 'carol=small']));
    expect(Object.fromEntries(backend.remoteStreamTypes)).toEqual({ bob: 'small', carol: 'small' });
  });

  test('Pin shows a tile large (big) with the others in a strip (small); Unpin goes back to the grid', async () => {
    const { backend } = await setup({}, [cam('bob'), cam('carol')]);
    await waitFor(() => expect(asked(backend)).toEqual(['bob=small', 'carol=small']));
    expect(screen.queryByTestId('unpin')).toBeNull();
    await fireEvent.click(screen.getByTestId('pin-bob'));
    expect(screen.getByTestId('pinned-view').contains(screen.getByTestId('tile-bob'))).toBe(true);
    expect(screen.getByTestId('call-grid').dataset.layout).toBe('strip');
    expect(screen.getByTestId('call-grid').contains(screen.getByTestId('tile-carol'))).toBe(true);
    expect(screen.queryByTestId('pin-bob')).toBeNull();
    await waitFor(() => expect(asked(backend)).toEqual(['bob=small', 'carol=small', 'bob=big']));
    expect([layerOf('bob'), layerOf('carol')]).toEqual(['big', 'small']);
    // Another pin from the strip moves the large view.
    await fireEvent.click(screen.getByTestId('pin-carol'));
    await waitFor(() => expect(asked(backend).slice(3)).toEqual(['bob=small', 'carol=big']));
    expect(screen.getByTestId('pinned-view').contains(screen.getByTestId('tile-carol'))).toBe(true);
    await fireEvent.click(screen.getByTestId('unpin'));
    expect(screen.queryByTestId('pinned-view')).toBeNull();
    expect(screen.getByTestId('call-grid').dataset.layout).toBeUndefined();
    await waitFor(() => expect(asked(backend).slice(5)).toEqual(['carol=small']));
    expect([layerOf('bob'), layerOf('carol')]).toEqual(['small', 'small']);
  });

  test('the pin and unpin buttons are labelled, in Korean too', async () => {
    await setup({}, [cam('bob')]);
    expect(screen.getByTestId('pin-bob').getAttribute('aria-label')).toBe('Pin bob: show large');
    await fireEvent.click(screen.getByTestId('pin-bob'));
    expect(screen.getByTestId('unpin').getAttribute('title')).toBe('Unpin bob: back to the grid');
    setLanguage('ko');
    flushSync();
    expect(screen.getByTestId('unpin').getAttribute('aria-label')).toBe('bob님 고정 해제: 격자 보기로 돌아가기');
    expect(screen.getByTestId('pin-me').getAttribute('title')).toBe('내 화면 고정: 크게 보기');
  });

  test('a screen share holds the stage: every camera small, no pinning; a pin waits for the share to end', async () => {
    const { backend } = await setup({}, [cam('bob')]);
    await fireEvent.click(screen.getByTestId('pin-me'));
    await waitFor(() => expect(asked(backend)).toEqual(['bob=big', 'bob=small']));
    backend.emit({ type: 'video_available', userId: 'bob', stream: 'sub', available: true });
    flushSync();
    expect(screen.getByTestId('screen-share-view')).toBeTruthy();
    expect(screen.queryByTestId('unpin')).toBeNull();
    expect(screen.queryByTestId('pin-bob')).toBeNull();
    expect(layerOf('bob')).toBe('small');
    expect(screen.getByTestId('tile-bob-sub').hasAttribute('data-layer')).toBe(false);
    backend.emit({ type: 'video_available', userId: 'bob', stream: 'sub', available: false });
    flushSync();
    expect(screen.getByTestId('pinned-view').contains(screen.getByTestId('tile-me'))).toBe(true);
    // Never a question about the screen share; nothing changed for bob's camera.
    expect(asked(backend)).toEqual(['bob=big', 'bob=small']);
  });

  test('a pinned person leaving unpins', async () => {
    const { backend } = await setup({}, [cam('bob'), cam('carol')]);
    await fireEvent.click(screen.getByTestId('pin-bob'));
    backend.emit({ type: 'user_leave', userId: 'bob', reason: 'left' });
    flushSync();
    expect(screen.queryByTestId('pinned-view')).toBeNull();
    await waitFor(() => expect(asked(backend).at(-1)).toBe('carol=big'));
    backend.emit({ type: 'user_enter', userId: 'bob' });
    flushSync();
    expect(screen.queryByTestId('pinned-view')).toBeNull();
  });

  test('after a lost connection every layer is asked again', async () => {
    const { backend } = await setup({}, [cam('bob'), cam('carol')]);
    await waitFor(() => expect(asked(backend)).toHaveLength(2));
    backend.emit({ type: 'connection_lost' });
    backend.emit({ type: 'connection_recovered' });
    await waitFor(() => expect(asked(backend)).toEqual(['bob=small', 'carol=small', 'bob=small', 'carol=small']));
  });

  test('audio-only calls ask for no layers and offer no pinning', async () => {
    const { backend } = await setup({ scene: 'audiocall' }, [cam('bob'), cam('carol')]);
    flushSync();
    await Promise.resolve();
    expect(screen.queryByTestId('pin-bob')).toBeNull();
    expect(asked(backend)).toEqual([]);
    expect(screen.getByTestId('tile-bob').hasAttribute('data-layer')).toBe(false);
  });
});
