import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, test } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS } from '../../lib/backend';
import { MockBackend } from '../../lib/mockBackend';
import { AudioState } from '../../lib/stores/audio.svelte';
import AudioEffectsPanel, { formatPosition } from '../AudioEffectsPanel.svelte';

async function setup(inCall = true, backend = new MockBackend({ musicDurationMs: 200_000 })) {
  if (inCall) {
    await backend.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
  }
  const audio = new AudioState(backend);
  await backend.onRoomEvent((e) => audio.handle(e));
  render(AudioEffectsPanel, { props: { audio, inCall } });
  await waitFor(() => expect(audio.loaded).toBe(true));
  return { backend, audio };
}

const input = (id: string) => screen.getByTestId(id) as HTMLInputElement;

async function chooseFile(name: string): Promise<void> {
  const file = new File(['x'], name, { type: 'audio/mpeg' });
  await fireEvent.change(input('music-file'), { target: { files: [file] } });
}

describe('AudioEffectsPanel', () => {
  test('shows the saved effects', async () => {
    const backend = new MockBackend();
    backend.effects = { ...DEFAULT_AUDIO_EFFECTS, voiceChanger: 'uncle', noiseSuppression: 'ai', echoCancellation: false };
    await setup(false, backend);
    expect((screen.getByTestId('effects-voice-changer') as HTMLSelectElement).value).toBe('uncle');
    expect(input('effects-ns-ai').checked).toBe(true);
    expect(input('effects-aec').checked).toBe(false);
    expect(screen.getByRole('option', { name: 'Little girl' })).toBeTruthy();
    expect(screen.getByRole('option', { name: 'Great hall' })).toBeTruthy();
  });

  test('changing the voice changer applies it with set_audio_effects', async () => {
    const { backend } = await setup(false);
    await fireEvent.change(screen.getByTestId('effects-voice-changer'), { target: { value: 'heavy-metal' } });
    await waitFor(() =>
      expect(backend.callsOf('set_audio_effects')).toEqual([{ effects: { ...DEFAULT_AUDIO_EFFECTS, voiceChanger: 'heavy-metal' } }]),
    );
    expect(backend.effects.voiceChanger).toBe('heavy-metal');
  });

  test('noise suppression, ear monitor and microphone volume', async () => {
    const { backend } = await setup(false);
    expect(input('effects-ear-monitor-volume').disabled).toBe(true);
    await fireEvent.click(input('effects-ns-off'));
    await fireEvent.click(input('effects-ear-monitor'));
    expect(input('effects-ear-monitor-volume').disabled).toBe(false);
    await fireEvent.input(input('effects-mic-volume'), { target: { value: '130' } });
    await waitFor(() => expect(backend.effects).toMatchObject({ noiseSuppression: 'off', earMonitor: true, captureVolume: 130 }));
    expect(screen.getByText('130%')).toBeTruthy();
  });

  test('a refused change goes back and the reason shows', async () => {
    const { backend } = await setup(false);
    backend.failNext.set('set_audio_effects', { kind: 'device', message: 'AI noise suppression is not available on this computer' });
    await fireEvent.click(input('effects-ns-ai'));
    expect((await screen.findByTestId('effects-error')).textContent).toContain('AI noise suppression is not available');
    expect(input('effects-ns-classic').checked).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('effects-error')).toBeNull();
  });

  test('music and sound effects are disabled with a hint outside a call', async () => {
    await setup(false);
    expect(screen.getByTestId('music-hint').textContent).toBe('Join a call to play music and sound effects.');
    for (const id of ['music-file', 'music-publish', 'music-seek', 'music-volume-room', 'music-volume-me']) {
      expect(input(id).disabled).toBe(true);
    }
    for (const id of ['music-play-pause', 'music-stop', 'effect-applause', 'effect-bell', 'effect-drumroll']) {
      expect((screen.getByTestId(id) as HTMLButtonElement).disabled).toBe(true);
    }
  });

  test('choosing a file loads it (with the send-to-room choice); progress moves the seek bar and the time', async () => {
    const { backend } = await setup();
    expect(input('music-file').accept).toBe('.mp3,.m4a,.aac,.flac,.ogg,.wav');
    await fireEvent.click(input('music-publish'));
    await chooseFile('song.mp3');
    await waitFor(() => expect(screen.getByTestId('music-status').textContent).toContain('Playing: song.mp3'));
    expect(backend.callsOf('load_music')).toEqual([{ fileName: 'song.mp3', publish: false }]);
    expect(screen.getByTestId('music-time').textContent).toBe('0:00 / 3:20');
    backend.emit({ type: 'music_progress', id: 1, positionMs: 75_300, durationMs: 200_000 });
    flushSync();
    expect(input('music-seek').value).toBe('75300');
    expect(input('music-seek').max).toBe('200000');
    expect(screen.getByTestId('music-time').textContent).toBe('1:15 / 3:20');
  });

  test('seeking, pausing, stopping, volumes and sound effects call the app', async () => {
    const { backend } = await setup();
    await chooseFile('song.ogg');
    await waitFor(() => expect((screen.getByTestId('music-stop') as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.input(input('music-seek'), { target: { value: '120000' } });
    backend.emit({ type: 'music_progress', id: 1, positionMs: 400, durationMs: 200_000 });
    flushSync();
    expect(screen.getByTestId('music-time').textContent).toBe('2:00 / 3:20'); // dragging: not moved back
    await fireEvent.change(input('music-seek'), { target: { value: '120000' } });
    await waitFor(() => expect(backend.callsOf('seek_music')).toEqual([{ ms: 120_000 }]));
    expect(backend.music?.positionMs).toBe(120_000);

    await fireEvent.click(screen.getByRole('button', { name: 'Pause music' }));
    await waitFor(() => expect(screen.getByTestId('music-status').textContent).toContain('Paused'));
    await fireEvent.click(screen.getByRole('button', { name: 'Play music' }));
    await waitFor(() => expect(backend.callsOf('music_control')).toEqual([{ action: 'pause' }, { action: 'resume' }]));

    await fireEvent.input(input('music-volume-room'), { target: { value: '30' } });
    await fireEvent.input(input('music-volume-me'), { target: { value: '60' } });
    await waitFor(() => expect(backend.musicVolume).toEqual({ publish: 30, playout: 60 }));

    await fireEvent.click(screen.getByTestId('effect-applause'));
    await fireEvent.click(screen.getByTestId('effect-drumroll'));
    await waitFor(() => expect(backend.callsOf('play_sound_effect')).toEqual([{ name: 'applause' }, { name: 'drumroll' }]));

    await fireEvent.click(screen.getByTestId('music-stop'));
    await waitFor(() => expect(screen.getByTestId('music-status').textContent).toContain('No music playing'));
    expect(backend.callsOf('music_control').at(-1)).toEqual({ action: 'stop' });
  });

  test('a file the app cannot play shows why', async () => {
    await setup();
    await chooseFile('notes.txt');
    expect((await screen.findByTestId('effects-error')).textContent).toContain('Cannot play notes.txt: unsupported audio format');
    expect(screen.getByTestId('music-status').textContent).toContain('No music playing');
  });

  test('formatPosition', () => {
    expect(formatPosition(0)).toBe('0:00');
    expect(formatPosition(59_999)).toBe('0:59');
    expect(formatPosition(3_725_000)).toBe('1:02:05');
  });
});
