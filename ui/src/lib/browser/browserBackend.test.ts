import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, DEFAULT_SETTINGS, type JoinArgs, type RoomEvent } from '../backend';
import { FakeMediaDevices, FakePeerConnection, FakeServer, FakeTrack, installMediaStream, settle } from '../../test/browserFakes';
import { BROWSER_SCREEN_SOURCE, BrowserBackend } from './browserBackend';
import { testHook } from './testHook';

const args: JoinArgs = { server: 'http://h', room: '4242', userId: 'browser', role: 'anchor', scene: 'videocall', sdkAppId: 7, userSig: 'sig' };

beforeAll(() => {
  installMediaStream();
  vi.spyOn(HTMLMediaElement.prototype, 'play').mockImplementation(() => Promise.resolve());
});

class MemoryStorage {
  readonly map = new Map<string, string>();
  getItem = (k: string) => this.map.get(k) ?? null;
  setItem = (k: string, v: string) => void this.map.set(k, v);
}

const backends: BrowserBackend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.leaveRoom();
  document.body.innerHTML = '';
});

function make(o: { server?: FakeServer; storage?: MemoryStorage; devices?: FakeMediaDevices } = {}) {
  const server = o.server ?? new FakeServer();
  const devices = o.devices ?? new FakeMediaDevices();
  const pcs: FakePeerConnection[] = [];
  const b = new BrowserBackend({
    wsUrl: 'ws://h/ws',
    origin: 'http://h',
    connect: server.connect,
    createPeerConnection: () => {
      const pc = new FakePeerConnection();
      pcs.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    mediaDevices: devices,
    storage: (o.storage ?? new MemoryStorage()) as unknown as Storage,
    document,
  });
  backends.push(b);
  const events: RoomEvent[] = [];
  void b.onRoomEvent((e) => events.push(e));
  return { b, server, devices, pcs, events, hook: testHook(b) };
}

describe('BrowserBackend: what a browser cannot do', () => {
  test('says so in its capabilities and rejects with kind "unsupported"', async () => {
    const { b } = make();
    expect(b.capabilities).toEqual({ hosting: false, serverAddress: false, audioEffects: false, music: false, screenPicker: false });
    expect(typeof b.mediaStream).toBe('function');
    for (const p of [
      b.hostMeeting(),
      b.stopHosting(),
      b.loadMusic(new File([], 'a.mp3'), true),
      b.musicControl(),
      b.seekMusic(),
      b.setMusicVolume(),
      b.playSoundEffect(),
      b.setAudioEffects({ ...DEFAULT_AUDIO_EFFECTS, voiceChanger: 'child' }),
    ]) {
      await expect(p).rejects.toMatchObject({ kind: 'unsupported', message: expect.any(String) });
    }
  });

  test('joining needs the SDKAppID and the UserSig', async () => {
    const { b, server } = make();
    await expect(b.joinRoom({ ...args, userSig: null })).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/UserSig/) });
    expect(server.socket).toBeNull();
  });
});

describe('BrowserBackend: a call', () => {
  test('devices opened together ask once; the preview watches my camera', async () => {
    const { b, devices } = make();
    const shown: (MediaStream | null)[] = [];
    const stop = b.mediaStream('', 'main', (s) => shown.push(s));
    await Promise.all([b.setCamera(true), b.setMicrophone(true)]);
    expect(devices.asked).toHaveLength(1);
    expect(devices.asked[0]).toMatchObject({ audio: { echoCancellation: true }, video: { width: { ideal: 1280 } } });
    expect(shown.at(-1)?.getVideoTracks()).toHaveLength(1);
    await b.setCamera(false);
    expect(shown.at(-1)).toBeNull();
    stop();
  });

  test('enter, publish what is on, hear and see the others, leave', async () => {
    const server = new FakeServer();
    server.users = [{ user_id: 'cli', role: 'anchor', audio: true, video: true, sub_video: false }];
    const storage = new MemoryStorage();
    const { b, pcs, events, hook } = make({ server, storage });
    expect(hook.state).toBe('idle');
    await b.setMicrophone(true);
    await b.setCamera(true);
    const joining = b.joinRoom(args);
    expect(hook.state).toBe('joining');
    const result = await joining;
    expect(result.users).toEqual([{ userId: 'cli', role: 'anchor', audio: true, video: true, subVideo: false }]);
    expect(hook).toMatchObject({ state: 'in_room', userId: 'browser', roomId: 4242, error: null });
    expect(hook.users).toEqual([{ user_id: 'cli', role: 'anchor', audio: true, video: true, sub_video: false }]);
    expect(server.of('negotiate')[0].tracks).toHaveLength(4);
    // cli's sound plays in a hidden <audio>; its camera is a MediaStream for the tile.
    const audio = document.querySelector('audio[data-user="cli"]') as HTMLAudioElement;
    expect(audio).not.toBeNull();
    await b.setUserVolume('cli', 25);
    expect(audio.volume).toBe(0.25);
    let cliVideo: MediaStream | null = null;
    b.mediaStream('cli', 'main', (s) => (cliVideo = s))();
    expect(cliVideo).not.toBeNull();

    await b.leaveRoom();
    await settle(1);
    expect(events.at(-1)).toEqual({ type: 'exit_room', reason: 'left' });
    expect(hook.state).toBe('left');
    expect(server.of('exit_room')).toHaveLength(1);
    expect(pcs[0].closed).toBe(true);
    expect(document.querySelector('audio')).toBeNull();
    expect(JSON.parse(storage.map.get('roomcast.recentRooms')!)).toEqual([
      { server: 'http://h', room: '4242', scene: 'videocall', lastJoinedMs: expect.any(Number) },
    ]);
    expect(JSON.parse(storage.map.get('roomcast.callHistory')!)[0]).toMatchObject({ room: '4242', participants: ['cli'] });
  });

  test('a refused UserSig: the page says error, with the server’s code', async () => {
    const server = new FakeServer();
    server.refuse = { code: 2000, message: 'UserSig invalid' };
    const { b, hook } = make({ server });
    await expect(b.joinRoom(args)).rejects.toEqual({ kind: 'server', code: 2000, message: 'UserSig invalid' });
    expect(hook).toMatchObject({ state: 'error', error: { code: 2000, message: 'UserSig invalid' } });
  });

  test('removed by the server: an error, then exit_room "removed"', async () => {
    const { b, server, events, hook } = make();
    await b.joinRoom(args);
    server.push({ type: 'removed', code: 3004, message: 'The same UserID entered from another client' });
    expect(events.slice(-2)).toEqual([
      { type: 'error', code: 3004, message: 'The same UserID entered from another client' },
      { type: 'exit_room', reason: 'removed' },
    ]);
    expect(hook).toMatchObject({ state: 'error', error: { code: 3004 } });
  });

  test('screen share: one source, the browser’s own picker; its end is told to the room and the UI', async () => {
    const { b, server, events } = make();
    expect(await b.listScreenSources()).toEqual([{ id: BROWSER_SCREEN_SOURCE, kind: 'screen', title: 'Screen, window or tab', thumbnail: '' }]);
    await expect(b.startScreenShare(BROWSER_SCREEN_SOURCE)).rejects.toMatchObject({ kind: 'not_in_room' });
    await b.joinRoom(args);
    await b.startScreenShare(BROWSER_SCREEN_SOURCE);
    expect(server.of('set_available').at(-1)).toMatchObject({ kind: 'video', stream: 'sub', available: true });
    let mine: MediaStream | null = null;
    b.mediaStream('', 'sub', (s) => (mine = s))();
    const track = (mine as unknown as MediaStream).getVideoTracks()[0] as unknown as FakeTrack;
    track.onended?.(); // "Stop sharing" in the browser's bar
    await settle();
    expect(events).toContainEqual({ type: 'local_video_ended', stream: 'sub' });
    expect(server.of('set_available').at(-1)).toMatchObject({ kind: 'video', stream: 'sub', available: false });
  });

  test('accepting an invitation goes on stage: role, then microphone and camera', async () => {
    const server = new FakeServer();
    server.role = 'audience';
    const { b, events } = make({ server });
    await b.joinRoom({ ...args, scene: 'live', role: 'audience' });
    await expect(b.setMicrophone(true)).rejects.toMatchObject({ kind: 'unsupported' });
    server.push({ type: 'speak_invited', by: 'host' });
    await b.answerInvite(true);
    expect(server.sent.map((m) => m.type)).toEqual(expect.arrayContaining(['answer_invite', 'switch_role']));
    expect(events).toContainEqual({ type: 'role_changed', role: 'anchor' });
    expect(server.of('set_available').map((m) => `${m.kind}/${m.stream}`)).toEqual(['audio/main', 'video/main']);
  });

  test('a request the server refuses rejects with its code; the connection stays', async () => {
    const server = new FakeServer();
    const answer = server.answer.bind(server);
    server.answer = (m) => (m.type === 'invite_to_speak' ? { type: 'error', id: m.id, code: 3003, message: 'no user nobody' } : answer(m));
    const { b, hook } = make({ server });
    await b.joinRoom(args);
    await expect(b.inviteToSpeak('nobody')).rejects.toEqual({ kind: 'server', code: 3003, message: 'no user nobody' });
    await expect(b.requestToSpeak()).resolves.toBeUndefined();
    expect(hook.state).toBe('in_room');
  });

  test('going on stage by myself only changes the role; the devices wait for the buttons (as in the app)', async () => {
    const server = new FakeServer();
    server.role = 'audience';
    const { b, events, devices } = make({ server });
    await b.joinRoom({ ...args, scene: 'live', role: 'audience' });
    await b.switchRole('anchor');
    expect(events).toContainEqual({ type: 'role_changed', role: 'anchor' });
    expect(devices.asked).toEqual([]);
    await b.setMicrophone(true);
    expect(server.of('set_available').map((m) => `${m.kind}/${m.stream}`)).toEqual(['audio/main']);
  });

  test('an anchor allowing my request puts me on stage with microphone and camera', async () => {
    const server = new FakeServer();
    server.role = 'audience';
    const { b, events } = make({ server });
    await b.joinRoom({ ...args, scene: 'live', role: 'audience' });
    await b.requestToSpeak();
    server.push({ type: 'speak_request_answered', accept: true, by: 'host' });
    await settle();
    expect(server.of('switch_role')).toEqual([expect.objectContaining({ role: 'anchor' })]);
    expect(events).toContainEqual({ type: 'speak_request_answered', accept: true, by: 'host' });
    expect(server.of('set_available').map((m) => `${m.kind}/${m.stream}`)).toEqual(['audio/main', 'video/main']);
  });
});

describe('BrowserBackend: settings in localStorage', () => {
  test('settings and the browser-side effects survive a reload; the microphone reopens with them', async () => {
    const storage = new MemoryStorage();
    const first = make({ storage });
    await first.b.saveSettings({ ...DEFAULT_SETTINGS, displayName: 'Ada', resolution: '360p' });
    await first.b.setMicrophone(true);
    await first.b.setAudioEffects({ ...DEFAULT_AUDIO_EFFECTS, noiseSuppression: 'off' });
    expect(first.devices.asked.at(-1)).toMatchObject({ audio: { noiseSuppression: false } });
    const again = make({ storage });
    expect(await again.b.getSettings()).toMatchObject({ displayName: 'Ada', resolution: '360p' });
    expect((await again.b.getAudioEffects()).noiseSuppression).toBe('off');
  });

  test('devices without names before permission get numbered ones; the default is marked', async () => {
    const devices = new FakeMediaDevices();
    devices.devices = [
      { kind: 'audioinput', deviceId: 'default', label: '', groupId: 'g2' },
      { kind: 'audioinput', deviceId: 'm1', label: '', groupId: 'g1' },
      { kind: 'audioinput', deviceId: 'm2', label: '', groupId: 'g2' },
      { kind: 'videoinput', deviceId: 'c1', label: 'USB camera', groupId: 'g3' },
    ];
    const { b } = make({ devices });
    expect(await b.listDevices()).toEqual({
      cameras: [{ id: 'c1', name: 'USB camera', isDefault: true }],
      microphones: [
        { id: 'm1', name: 'Microphone 1', isDefault: false },
        { id: 'm2', name: 'Microphone 2', isDefault: true },
      ],
      speakers: [{ id: 'default', name: 'Default speaker', isDefault: true }],
    });
  });
});
