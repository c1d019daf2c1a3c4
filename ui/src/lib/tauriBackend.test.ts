import { beforeEach, describe, expect, test, vi } from 'vitest';

// The contract test: each Backend method invokes the documented command with the documented
// argument object, and rejections become {kind, message}.
const invoke = vi.fn();
const listen = vi.fn();
class FakeChannel<T> {
  onmessage: (m: T) => void = () => {};
}
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a), Channel: FakeChannel }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));

const { TauriBackend, base64Of } = await import('./tauriBackend');
const { DEFAULT_AUDIO_EFFECTS, DEFAULT_SETTINGS, DEFAULT_VIDEO_EFFECTS } = await import('./backend');
const { buildFrame } = await import('./frame');

describe('TauriBackend', () => {
  beforeEach(() => {
    invoke.mockReset().mockResolvedValue(undefined);
    listen.mockReset();
  });

  test('commands and their arguments', async () => {
    const b = new TauriBackend();
    const join = { server: null, room: '9', userId: 'u', role: 'anchor' as const, scene: 'live' as const, sdkAppId: null, userSig: null };
    await b.hostMeeting();
    await b.stopHosting();
    await b.joinRoom(join);
    await b.leaveRoom();
    await b.setMicrophone(true);
    await b.setCamera(false);
    await b.listScreenSources();
    await b.startScreenShare('screen:0');
    await b.stopScreenShare();
    await b.switchRole('audience');
    await b.setUserVolume('bob', 40);
    await b.testSpeaker();
    await b.stopView('bob', 'sub');
    await b.listDevices();
    await b.getSettings();
    await b.saveSettings(DEFAULT_SETTINGS);
    await b.recentRooms();
    await b.callHistory();
    await b.storeNotice();
    expect(invoke.mock.calls).toEqual([
      ['host_meeting', undefined],
      ['stop_hosting', undefined],
      ['join_room', join],
      ['leave_room', undefined],
      ['set_microphone', { on: true }],
      ['set_camera', { on: false }],
      ['list_screen_sources', undefined],
      ['start_screen_share', { sourceId: 'screen:0' }],
      ['stop_screen_share', undefined],
      ['switch_role', { role: 'audience' }],
      ['set_user_volume', { userId: 'bob', volume: 40 }],
      ['test_speaker', undefined],
      ['stop_view', { userId: 'bob', stream: 'sub', seq: 1 }],
      ['list_devices', undefined],
      ['get_settings', undefined],
      ['save_settings', { settings: DEFAULT_SETTINGS }],
      ['recent_rooms', undefined],
      ['call_history', undefined],
      ['store_notice', undefined],
    ]);
  });

  test('speaking commands map onto invite/request/answer commands', async () => {
    const b = new TauriBackend();
    await b.inviteToSpeak('fan');
    await b.requestToSpeak();
    await b.answerInvite(true);
    await b.answerRequest('fan', false);
    expect(invoke.mock.calls).toEqual([
      ['invite_to_speak', { userId: 'fan' }],
      ['request_to_speak', undefined],
      ['answer_invite', { accept: true }],
      ['answer_request', { userId: 'fan', accept: false }],
    ]);
  });

  test('audio effects, music and sound effect commands', async () => {
    const b = new TauriBackend();
    const effects = { ...DEFAULT_AUDIO_EFFECTS, voiceChanger: 'uncle' as const, captureVolume: 120 };
    await b.getAudioEffects();
    await b.setAudioEffects(effects);
    await b.musicControl('pause');
    await b.musicControl('resume');
    await b.musicControl('stop');
    await b.seekMusic(61_500.4);
    await b.setMusicVolume(30, 80);
    await b.playSoundEffect('drumroll');
    expect(invoke.mock.calls).toEqual([
      ['get_audio_effects', undefined],
      ['set_audio_effects', { effects }],
      ['music_control', { action: 'pause' }],
      ['music_control', { action: 'resume' }],
      ['music_control', { action: 'stop' }],
      ['seek_music', { ms: 61_500 }],
      ['set_music_volume', { publish: 30, playout: 80 }],
      ['play_sound_effect', { name: 'drumroll' }],
    ]);
  });

  test('which layer of a camera to receive: set_remote_video_stream_type', async () => {
    const b = new TauriBackend();
    await b.setRemoteVideoStreamType('bob', 'small');
    await b.setRemoteVideoStreamType('bob', 'big');
    expect(invoke.mock.calls).toEqual([
      ['set_remote_video_stream_type', { userId: 'bob', streamType: 'small' }],
      ['set_remote_video_stream_type', { userId: 'bob', streamType: 'big' }],
    ]);
  });

  test('meeting commands: invites, chat, reactions, hands, host controls, lobby', async () => {
    const b = new TauriBackend();
    const request = { room: '1234', role: 'anchor' as const, expiresS: 7200, host: false };
    const options = { locked: true, lobby: false, passcode: '4821' };
    await b.createInvite(request);
    await b.sendChat('안녕하세요');
    await b.sendReaction('👍');
    await b.raiseHand(true);
    await b.muteUser('bob', 'audio', true);
    await b.muteUser(null, 'video', false);
    await b.unlockUser('bob', 'audio');
    await b.removeUser('bob');
    await b.setRoomOptions(options);
    await b.endMeeting();
    await b.admit('minji', false);
    await b.pendingInvite();
    expect(invoke.mock.calls).toEqual([
      ['create_invite', { request }],
      ['send_chat', { text: '안녕하세요' }],
      ['send_reaction', { emoji: '👍' }],
      ['raise_hand', { up: true }],
      ['mute_user', { userId: 'bob', kind: 'audio', lock: true }],
      ['mute_user', { userId: null, kind: 'video', lock: false }],
      ['unlock_user', { userId: 'bob', kind: 'audio' }],
      ['remove_user', { userId: 'bob' }],
      ['set_room_options', { options }],
      ['end_meeting', undefined],
      ['admit', { userId: 'minji', accept: false }],
      ['pending_invite', undefined],
    ]);
  });

  test('join_room carries an invite, a display name and a passcode as top-level args', async () => {
    const b = new TauriBackend();
    const join = {
      server: 'http://192.168.1.20:7880', room: '1234', userId: 'user_ab12', role: 'anchor' as const, scene: 'videocall' as const,
      sdkAppId: null, userSig: null, invite: 'v1.e30.sig', displayName: '김민지', passcode: '4821',
    };
    invoke.mockResolvedValueOnce({ enterRoomMs: 5, users: [], userId: 'user_ab12', room: { locked: false, lobby: false, passcode: true, host: 'host' } });
    expect((await b.joinRoom(join)).userId).toBe('user_ab12');
    expect(invoke.mock.calls).toEqual([['join_room', join]]);
  });

  test('load_music sends the raw bytes as the body, the name and the publish flag as headers', async () => {
    const b = new TauriBackend();
    invoke.mockResolvedValueOnce({ id: 1, positionMs: 0, durationMs: 1000, paused: false });
    const file = new File([new Uint8Array([1, 2, 3])], 'Café del Mar.mp3', { type: 'audio/mpeg' });
    expect(await b.loadMusic(file, false)).toEqual({ id: 1, positionMs: 0, durationMs: 1000, paused: false });
    const [cmd, body, options] = invoke.mock.calls[0] as [string, Uint8Array, { headers: Record<string, string> }];
    expect(cmd).toBe('load_music');
    expect(body).toBeInstanceOf(Uint8Array);
    expect([...body]).toEqual([1, 2, 3]);
    expect(options.headers).toEqual({ 'x-file-name': 'Caf%C3%A9%20del%20Mar.mp3', 'x-publish': 'false' });
    invoke.mockRejectedValueOnce({ kind: 'internal', message: 'Unsupported audio format' });
    await expect(b.loadMusic(file, true)).rejects.toEqual({ kind: 'internal', message: 'Unsupported audio format' });
    expect((invoke.mock.calls[1][2] as { headers: Record<string, string> }).headers['x-publish']).toBe('true');
  });

  test('video effects commands; imported files travel as base64 with their name', async () => {
    const b = new TauriBackend();
    const effects = {
      ...DEFAULT_VIDEO_EFFECTS, beautyStyle: 'natural' as const, smoothness: 7, filter: 'warm', filterStrength: 0.5,
      background: { kind: 'blur' as const, level: 3 }, mirrorEncoded: true,
    };
    await b.getVideoEffects();
    await b.setVideoEffects(effects);
    await b.listVideoFilters();
    const filter = { id: 'user:teal', name: 'teal', thumbnail: 'data:image/png;base64,AA==' };
    invoke.mockResolvedValueOnce(filter);
    expect(await b.importVideoFilter(new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'teal.png'))).toEqual(filter);
    invoke.mockResolvedValueOnce('/data/backgrounds/beach.jpg');
    expect(await b.importBackground(new File(['hi!'], '해변.jpg'))).toBe('/data/backgrounds/beach.jpg');
    expect(invoke.mock.calls).toEqual([
      ['get_video_effects', undefined],
      ['set_video_effects', { effects }],
      ['list_video_filters', undefined],
      ['import_video_file', { kind: 'filter', fileName: 'teal.png', data: 'iVBORw==' }],
      ['import_video_file', { kind: 'background', fileName: '해변.jpg', data: 'aGkh' }],
    ]);
    invoke.mockRejectedValueOnce({ kind: 'input', message: 'notes.png is not a PNG LUT image' });
    await expect(b.importVideoFilter(new File(['x'], 'notes.png'))).rejects.toEqual({ kind: 'input', message: 'notes.png is not a PNG LUT image' });
  });

  test('base64Of: a picture larger than one chunk comes back byte for byte', () => {
    const bytes = Uint8Array.from({ length: 100_001 }, (_, i) => (i * 31 + (i >> 8)) % 256);
    const encoded = base64Of(bytes);
    expect(encoded).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0))).toEqual(bytes);
    expect(base64Of(new Uint8Array([0xff, 0xfe]))).toBe('//4=');
    expect(base64Of(new Uint8Array())).toBe('');
  });

  test('set_view passes a channel whose ArrayBuffers reach the sink', async () => {
    const b = new TauriBackend();
    const sink = vi.fn();
    await b.setView({ userId: '', stream: 'main', width: 640, height: 360 }, sink);
    const [cmd, a] = invoke.mock.calls[0] as [string, { channel: FakeChannel<unknown> } & Record<string, unknown>];
    expect(cmd).toBe('set_view');
    expect(a).toMatchObject({ userId: '', stream: 'main', width: 640, height: 360 });
    const frame = buildFrame(2, 2, 7, () => {});
    a.channel.onmessage(frame);
    a.channel.onmessage(new Uint8Array(frame));
    expect(sink).toHaveBeenCalledTimes(2);
    expect(new Uint8Array(sink.mock.calls[1][0])).toEqual(new Uint8Array(frame));
  });

  test('view requests name their canvas and are numbered in order', async () => {
    const b = new TauriBackend();
    const preview = vi.fn();
    const self = vi.fn();
    await b.setView({ userId: '', stream: 'main', width: 320, height: 180 }, preview);
    await b.setView({ userId: '', stream: 'main', width: 640, height: 360 }, self);
    await b.stopView('', 'main', preview);
    const args = invoke.mock.calls.map((c) => c[1] as { viewer: number; seq: number });
    expect(args.map((a) => a.seq)).toEqual([1, 2, 3]);
    expect(args[0].viewer).not.toBe(args[1].viewer);
    expect(args[2].viewer).toBe(args[0].viewer);
  });

  test('errors keep their stable kind; strings become "internal"', async () => {
    const b = new TauriBackend();
    invoke.mockRejectedValueOnce({ kind: 'server', code: 4003, message: 'UserSig expired' });
    await expect(b.leaveRoom()).rejects.toEqual({ kind: 'server', code: 4003, message: 'UserSig expired' });
    invoke.mockRejectedValueOnce('boom');
    await expect(b.leaveRoom()).rejects.toEqual({ kind: 'internal', message: 'boom' });
  });

  test('room events come from the "room-event" Tauri event', async () => {
    const unlisten = () => {};
    listen.mockImplementation(async (name: string, cb: (e: { payload: unknown }) => void) => {
      expect(name).toBe('room-event');
      cb({ payload: { type: 'connection_lost' } });
      return unlisten;
    });
    const handler = vi.fn();
    expect(await new TauriBackend().onRoomEvent(handler)).toBe(unlisten);
    expect(handler).toHaveBeenCalledWith({ type: 'connection_lost' });
  });
});
