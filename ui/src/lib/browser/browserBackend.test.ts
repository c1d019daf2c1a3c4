import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, DEFAULT_SETTINGS, DEFAULT_VIDEO_EFFECTS, type JoinArgs, type RoomEvent } from '../backend';
import { FakeMediaDevices, FakePeerConnection, FakeServer, FakeTrack, grantFor, installMediaStream, settle } from '../../test/browserFakes';
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

interface Page {
  location: { origin: string; pathname: string; search: string; hash: string };
  history: { state: unknown; replaceState: (state: unknown, unused: string, url: string) => void };
}

function make(o: { server?: FakeServer; storage?: MemoryStorage; devices?: FakeMediaDevices; page?: Page } = {}) {
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
    location: o.page?.location,
    history: o.page?.history as History | undefined,
  });
  backends.push(b);
  const events: RoomEvent[] = [];
  void b.onRoomEvent((e) => events.push(e));
  return { b, server, devices, pcs, events, hook: testHook(b) };
}

describe('BrowserBackend: what a browser cannot do', () => {
  test('says so in its capabilities and rejects with kind "unsupported"', async () => {
    const { b } = make();
    expect(b.capabilities).toEqual({
      hosting: false, serverAddress: false, audioEffects: false, music: false, screenPicker: false, videoEffects: false, videoBackground: false,
    });
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
      // The page publishes what the browser captured, unprocessed.
      b.getVideoEffects(),
      b.setVideoEffects(DEFAULT_VIDEO_EFFECTS),
      b.listVideoFilters(),
      b.importVideoFilter(new File([], 'look.png')),
      b.importBackground(new File([], 'beach.jpg')),
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
    expect(result.users).toEqual([{ userId: 'cli', name: 'cli', role: 'anchor', audio: true, video: true, subVideo: false, hand: null }]);
    expect(result).toMatchObject({ userId: 'browser', room: { locked: false, lobby: false, passcode: false, host: 'host' } });
    expect(hook).toMatchObject({ state: 'in_room', userId: 'browser', roomId: 4242, error: null });
    expect(hook.users).toEqual([{ user_id: 'cli', name: 'cli', role: 'anchor', audio: true, video: true, sub_video: false, hand: null }]);
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

  test('removed by the server: exit_room "removed" says why, as the app’s does', async () => {
    for (const [code, message] of [
      [3004, 'The same UserID entered from another client'],
      [3010, 'the host removed you from the meeting'],
      [3009, 'the host ended the meeting for everyone'],
    ] as const) {
      const { b, server, events, hook } = make();
      await b.joinRoom(args);
      server.push({ type: 'removed', code, message });
      expect(events.filter((e) => e.type === 'error' || e.type === 'exit_room')).toEqual([{ type: 'exit_room', reason: 'removed', code, message }]);
      expect(hook).toMatchObject({ state: 'error', error: { code, message } });
    }
  });

  test('the connection lost for good: an error, then exit_room', async () => {
    const { b, server, events, hook } = make();
    await b.joinRoom(args);
    server.socket!.drop();
    expect(events.slice(-2)).toEqual([
      { type: 'error', code: null, message: expect.stringMatching(/lost/) },
      { type: 'exit_room', reason: 'connection_lost' },
    ]);
    expect(hook).toMatchObject({ state: 'error', error: { code: null } });
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

describe('BrowserBackend: big and small streams (simulcast)', () => {
  const layers = (pc: FakePeerConnection) => {
    const camera = pc.transceivers.find((t) => t.sender.track?.kind === 'video')!;
    return camera.sender.encodings.map((e) => `${e.rid}:${e.active ? 'on' : 'off'}:${e.scaleResolutionDownBy ?? 1}`);
  };

  test('my camera goes out as h and l, the small one 320 wide; the server’s demand turns them on and off', async () => {
    const { b, server, pcs } = make();
    await b.saveSettings({ ...DEFAULT_SETTINGS, resolution: '360p', bitrateKbps: 800 });
    await b.setCamera(true);
    await b.joinRoom(args);
    const camera = pcs[0].transceivers[0];
    expect(camera.sender.encodings).toEqual([
      { rid: 'h', active: true, maxBitrate: 800_000 },
      { rid: 'l', active: true, scaleResolutionDownBy: 2, maxBitrate: 100_000, maxFramerate: 15 },
    ]);
    server.push({ type: 'layer_demand', big: false, small: true });
    await settle();
    expect(layers(pcs[0])).toEqual(['h:off:1', 'l:on:2']);
    // A bigger camera (a new track on the same line) keeps the demand; its small layer is 320 wide again.
    await b.saveSettings({ ...DEFAULT_SETTINGS, resolution: '1080p', bitrateKbps: 800 });
    expect(layers(pcs[0])).toEqual(['h:off:1', 'l:on:6']);
    server.push({ type: 'layer_demand', big: true, small: true });
    await settle();
    expect(layers(pcs[0])).toEqual(['h:on:1', 'l:on:6']);
    expect(server.of('negotiate')).toHaveLength(1);
  });

  test('asking for a layer of someone’s camera is the protocol’s request; outside a room it says so', async () => {
    const { b, server } = make();
    await expect(b.setRemoteVideoStreamType('cli', 'small')).rejects.toMatchObject({ kind: 'not_in_room' });
    await b.joinRoom(args);
    await b.setRemoteVideoStreamType('cli', 'small');
    await b.setRemoteVideoStreamType('cli', 'big');
    expect(server.of('set_remote_video_stream_type').map(({ id: _, ...m }) => m)).toEqual([
      { type: 'set_remote_video_stream_type', user_id: 'cli', stream_type: 'small' },
      { type: 'set_remote_video_stream_type', user_id: 'cli', stream_type: 'big' },
    ]);
  });

  test('a refused layer request keeps the server’s code', async () => {
    const server = new FakeServer();
    const answer = server.answer.bind(server);
    server.answer = (m) =>
      m.type === 'set_remote_video_stream_type' ? { type: 'error', id: m.id, code: 1001, message: 'unknown request' } : answer(m);
    const { b } = make({ server });
    await b.joinRoom(args);
    await expect(b.setRemoteVideoStreamType('cli', 'small')).rejects.toEqual({ kind: 'server', code: 1001, message: 'unknown request' });
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

const guest = (): JoinArgs => ({
  server: 'http://h',
  room: '5150',
  userId: 'user_x1',
  role: 'anchor',
  scene: 'videocall',
  sdkAppId: null,
  userSig: null,
  invite: grantFor({ app: 1400000001, room: 5150 }),
  displayName: '김민지',
  passcode: '2468',
});

describe('BrowserBackend: meetings', () => {
  test('joining with an invite: no UserSig, the grant’s app and room, my name and the passcode', async () => {
    const { b, server } = make();
    const result = await b.joinRoom(guest());
    expect(server.of('enter_room')[0]).toMatchObject({
      sdk_app_id: 1400000001,
      user_id: 'user_x1',
      user_sig: '',
      room_id: 5150,
      invite: guest().invite,
      name: '김민지',
      passcode: '2468',
    });
    expect(result).toMatchObject({ userId: 'user_x1', room: { host: 'host' } });
  });

  test('a damaged invite is refused before connecting', async () => {
    const { b, server, hook } = make();
    await expect(b.joinRoom({ ...guest(), invite: 'v1.nothing' })).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/invite link/) });
    expect(server.socket).toBeNull();
    expect(hook.state).toBe('error');
  });

  test('the lobby: joinRoom waits (waiting_in_lobby) and resolves once admitted', async () => {
    const server = new FakeServer();
    server.lobby = true;
    const { b, events, hook } = make({ server });
    let done = false;
    const joining = b.joinRoom(guest()).then((r) => ((done = true), r));
    await settle();
    expect(events).toContainEqual({ type: 'waiting_in_lobby' });
    expect(hook.state).toBe('joining');
    expect(done).toBe(false);
    server.admit();
    expect((await joining).userId).toBe('user_x1');
    expect(hook.state).toBe('in_room');
  });

  test('the lobby: denied (3008) rejects with the server’s code', async () => {
    const server = new FakeServer();
    server.lobby = true;
    const { b, events, hook } = make({ server });
    const joining = b.joinRoom(guest());
    await settle();
    server.push({ type: 'removed', code: 3008, message: 'the host did not let you in' });
    await expect(joining).rejects.toEqual({ kind: 'server', code: 3008, message: 'the host did not let you in' });
    expect(hook).toMatchObject({ state: 'error', error: { code: 3008 } });
    expect(events.some((e) => e.type === 'exit_room')).toBe(false);
  });

  test('the lobby: leaving while waiting gives up (the socket closes) and joinRoom rejects', async () => {
    const server = new FakeServer();
    server.lobby = true;
    const { b, events, hook } = make({ server });
    const joining = b.joinRoom(guest());
    await settle();
    await b.leaveRoom();
    await expect(joining).rejects.toMatchObject({ kind: 'input', message: 'Joining was cancelled.' });
    expect(server.socket?.readyState).toBe(3);
    expect(server.of('exit_room')).toHaveLength(1);
    expect(hook).toMatchObject({ state: 'left', error: null });
    expect(events.some((e) => e.type === 'exit_room')).toBe(false);
    // And a new attempt may start.
    server.lobby = false;
    await b.joinRoom(guest());
    expect(hook.state).toBe('in_room');
  });

  test('chat, reactions and hands go out as the protocol’s requests', async () => {
    const { b, server, hook } = make();
    await b.joinRoom(args);
    await b.sendChat('  안녕  ');
    await b.sendChat('   '); // nothing to send
    await b.sendReaction('👏');
    await hook.raiseHand(true);
    await hook.sendChat('hello');
    expect(server.of('send_custom').map((m) => [m.cmd_id, m.data])).toEqual([
      [10, '{"t":"chat","text":"안녕"}'],
      [10, '{"t":"reaction","emoji":"👏"}'],
      [10, '{"t":"chat","text":"hello"}'],
    ]);
    expect(server.of('raise_hand')).toEqual([expect.objectContaining({ up: true })]);
    await expect(b.sendChat('가'.repeat(301))).rejects.toMatchObject({ kind: 'input', message: expect.stringMatching(/903 bytes/) });
    await expect(b.sendReaction('')).rejects.toMatchObject({ kind: 'input' });
    expect(server.of('send_custom')).toHaveLength(3);
  });

  test('chat lines from others: chat events and window.roomcast.messages', async () => {
    const { b, server, events, hook } = make();
    await b.joinRoom(args);
    const custom = (user_id: string, cmd_id: number, data: string) =>
      server.push({ type: 'custom', user_id, cmd_id, seq: 1, data, reliable: true, ordered: true });
    custom('host', 10, '{"t":"chat","text":"hello"}');
    custom('host', 10, '{"t":"reaction","emoji":"🎉"}');
    custom('app', 4, '{"t":"chat","text":"not a chat line"}');
    expect(events.filter((e) => e.type === 'chat' || e.type === 'reaction')).toEqual([
      { type: 'chat', userId: 'host', text: 'hello', atMs: expect.any(Number) },
      { type: 'reaction', userId: 'host', emoji: '🎉' },
    ]);
    expect(hook.messages).toEqual([{ from: 'host', text: 'hello' }]);
  });

  test('the host’s controls are the protocol’s requests; a refusal keeps the server’s code', async () => {
    const server = new FakeServer();
    const answer = server.answer.bind(server);
    server.answer = (m) => (m.type === 'remove_user' ? { type: 'error', id: m.id, code: 3002, message: 'only the host may remove others' } : answer(m));
    const { b, hook } = make({ server });
    await b.joinRoom(args);
    await b.muteUser('ann', 'audio', true);
    await b.muteUser(null, 'video', false);
    await b.unlockUser('ann', 'audio');
    await b.unlockUser(null, 'video');
    await b.setRoomOptions({ locked: false, lobby: true, passcode: null });
    await b.setRoomOptions({ locked: true, lobby: true, passcode: '1234' });
    await b.admit('guest_a1', true);
    await b.endMeeting();
    await expect(b.removeUser('ann')).rejects.toEqual({ kind: 'server', code: 3002, message: 'only the host may remove others' });
    const sent = server.sent.filter((m) => !['enter_room', 'negotiate', 'set_available', 'ping'].includes(m.type as string));
    expect(sent.map(({ id: _, ...m }) => m)).toEqual([
      { type: 'mute', user_id: 'ann', kind: 'audio', lock: true },
      { type: 'mute', kind: 'video', lock: false },
      { type: 'unlock', user_id: 'ann', kind: 'audio' },
      { type: 'unlock', kind: 'video' },
      { type: 'set_room_options', options: { locked: false, lobby: true } },
      { type: 'set_room_options', options: { locked: true, lobby: true, passcode: '1234' } },
      { type: 'admit', user_id: 'guest_a1', accept: true },
      { type: 'end_meeting' },
      { type: 'remove_user', user_id: 'ann' },
    ]);
    expect(hook.state).toBe('in_room');
  });

  test('outside a room the meeting requests say so', async () => {
    const { b } = make();
    for (const p of [b.sendChat('hi'), b.raiseHand(true), b.muteUser(null, 'audio', false), b.endMeeting(), b.admit('x', true)]) {
      await expect(p).rejects.toMatchObject({ kind: 'not_in_room' });
    }
  });

  test('muted by the host and locked: the microphone goes off and stays off until unlocked', async () => {
    const { b, server, devices, events, pcs } = make();
    await b.setMicrophone(true);
    await b.setCamera(true);
    await b.joinRoom(args);
    let mine: MediaStream | null = null;
    const micTrack = () => pcs[0].transceivers.find((t) => t.receiver.track.kind === 'audio')!;
    const sentTrack = micTrack().sender.track!;
    server.push({ type: 'muted', kind: 'audio', by: 'host', locked: true });
    await settle();
    expect(events).toContainEqual({ type: 'muted_by_host', kind: 'audio', by: 'host', locked: true });
    expect(micTrack().sender.track).toBeNull();
    expect(sentTrack.stopped).toBe(true);
    expect(server.of('set_available')).toHaveLength(2); // nothing more: the server turned it off
    const asked = devices.asked.length;
    await expect(b.setMicrophone(true)).rejects.toEqual({ kind: 'server', code: 3013, message: expect.stringMatching(/microphone/) });
    expect(devices.asked).toHaveLength(asked); // never opened
    // The camera was not touched.
    b.mediaStream('', 'main', (s) => (mine = s))();
    expect((mine as unknown as MediaStream).getVideoTracks()).toHaveLength(1);

    server.push({ type: 'unlocked', kind: 'audio' });
    expect(events.at(-1)).toEqual({ type: 'unlocked', kind: 'audio' });
    await b.setMicrophone(true);
    expect(micTrack().sender.track).not.toBeNull();
    expect(server.of('set_available').at(-1)).toMatchObject({ kind: 'audio', stream: 'main', available: true });
  });

  test('muted by the host without a lock: I may turn it on again myself', async () => {
    const { b, server } = make();
    await b.setCamera(true);
    await b.joinRoom(args);
    server.push({ type: 'muted', kind: 'video', by: 'host', locked: false });
    await settle();
    await b.setCamera(true);
    expect(server.of('set_available').map((m) => `${m.kind}=${m.available}`)).toEqual(['video=true', 'video=true']);
  });

  test('names, hands and the room as the server says', async () => {
    const server = new FakeServer();
    server.users = [{ user_id: 'guest_a1', name: '민지', role: 'anchor', audio: false, video: false, sub_video: false, hand: 4 }];
    const { b, events, hook } = make({ server });
    const result = await b.joinRoom(args);
    expect(result.users[0]).toMatchObject({ name: '민지', hand: 4 });
    server.push({ type: 'user_enter', user_id: 'bo', role: 'anchor', name: 'Bo Kim' });
    server.push({ type: 'hand', user_id: 'guest_a1' });
    server.push({ type: 'room_changed', room: { locked: true, lobby: false, passcode: false, host: 'bo' } });
    server.push({ type: 'lobby_joined', user_id: 'guest_b2', name: '준호' });
    server.push({ type: 'lobby_left', user_id: 'guest_b2' });
    expect(events.filter((e) => !['volumes', 'network_quality'].includes(e.type))).toEqual([
      { type: 'user_enter', userId: 'bo', name: 'Bo Kim' },
      { type: 'hand', userId: 'guest_a1', hand: null },
      { type: 'room_changed', room: { locked: true, lobby: false, passcode: false, host: 'bo' } },
      { type: 'lobby_joined', userId: 'guest_b2', name: '준호' },
      { type: 'lobby_left', userId: 'guest_b2' },
    ]);
    expect(hook.users.map((u) => [u.user_id, u.name, u.hand])).toEqual([
      ['guest_a1', '민지', null],
      ['bo', 'Bo Kim', null],
    ]);
  });
});

describe('BrowserBackend: invite links', () => {
  test('a browser does not make invites', async () => {
    const { b } = make();
    await expect(b.createInvite({ room: '1', role: 'anchor', expiresS: 3600, host: false })).rejects.toMatchObject({ kind: 'unsupported' });
  });

  test('the link the page was opened with, once; then it leaves the address bar', async () => {
    const replaced: string[] = [];
    const page: Page = {
      location: { origin: 'http://10.0.0.5:7880', pathname: '/', search: '', hash: '#invite=v1.abc.def' },
      history: { state: null, replaceState: (_s, _u, url) => void replaced.push(url) },
    };
    const { b } = make({ page });
    expect(await b.pendingInvite()).toBe('http://10.0.0.5:7880/#invite=v1.abc.def');
    expect(replaced).toEqual(['/']);
    expect(await b.pendingInvite()).toBeNull();
  });

  test('a page opened without one has none', async () => {
    const page: Page = {
      location: { origin: 'http://h', pathname: '/', search: '?mock', hash: '#app=1&user=u' },
      history: { state: null, replaceState: () => expect.unreachable() },
    };
    expect(await make({ page }).b.pendingInvite()).toBeNull();
    expect(await make().b.pendingInvite()).toBeNull();
  });
});
