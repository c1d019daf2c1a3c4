import { afterEach, describe, expect, test, vi } from 'vitest';
import type { JoinArgs, RoomEvent } from '../backend';
import { FakePeerConnection, FakeServer, FakeTrack, grantFor, settle } from '../../test/browserFakes';
import { ICE_RESTART_AFTER_MS, Session, type SessionEnv } from './session';

const args: JoinArgs = { server: 'http://h', room: '4242', userId: 'browser', role: 'anchor', scene: 'videocall', sdkAppId: 7, userSig: 'sig' };

const sessions: Session[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.exit();
});

function start(server = new FakeServer(), joinArgs: JoinArgs = args, env: Partial<SessionEnv> = {}) {
  const pc = new FakePeerConnection();
  const events: RoomEvent[] = [];
  const tracks: string[] = [];
  const ended: string[] = [];
  const session = new Session(
    joinArgs,
    {
      wsUrl: 'ws://h/ws',
      connect: server.connect,
      createPeerConnection: () => pc as unknown as RTCPeerConnection,
      videoBitrate: () => 1_000_000,
      ...env,
    },
    {
      emit: (e) => events.push(e),
      remoteTrack: (u, k, s, t) => tracks.push(`${u}/${k}/${s} ${t ? 'on' : 'off'}`),
      ended: (reason, e) => ended.push(`${reason} ${e.code}`),
    },
  );
  sessions.push(session);
  return { session, server, pc, events, tracks, ended };
}

const mic = () => new FakeTrack('audio') as unknown as MediaStreamTrack;
const cam = (width?: number) => new FakeTrack('video', width ? { width, height: (width * 9) / 16 } : {}) as unknown as MediaStreamTrack;

describe('Session', () => {
  test('enters, receives who is there and publishes in one offer, then says what is on', async () => {
    const server = new FakeServer();
    server.users = [{ user_id: 'cli', role: 'anchor', audio: true, video: true, sub_video: false }];
    const { session, pc, tracks } = start(server);
    const entered = await session.enter({ audio: mic(), video: cam() });
    expect(entered).toMatchObject({
      userId: 'browser',
      roomId: 4242,
      users: [{ userId: 'cli', audio: true, video: true, subVideo: false }],
      room: { locked: false, lobby: false, passcode: false, host: 'host' },
    });
    expect(server.of('enter_room')[0]).toMatchObject({ version: 1, sdk_app_id: 7, user_id: 'browser', user_sig: 'sig', room_id: 4242, role: 'anchor', scene: 'videocall' });
    expect(server.of('negotiate')).toHaveLength(1);
    expect(server.of('negotiate')[0].tracks).toEqual([
      { mid: '0', kind: 'audio', stream: 'main', user_id: 'cli' },
      { mid: '1', kind: 'video', stream: 'main', user_id: 'cli' },
      { mid: '2', kind: 'audio', stream: 'main' },
      { mid: '3', kind: 'video', stream: 'main' },
    ]);
    expect(pc.remoteDescription?.sdp).toContain('answer');
    expect(server.of('set_available').map((m) => `${m.kind}/${m.stream}=${m.available}`)).toEqual(['audio/main=true', 'video/main=true']);
    expect(tracks).toEqual(['cli/audio/main on', 'cli/video/main on']);
  });

  test('an empty room and nothing to publish: no offer at all', async () => {
    const { session, server } = start();
    await session.enter({ audio: null, video: null });
    expect(server.of('negotiate')).toHaveLength(0);
  });

  test('users coming and going: subscribe (tracks first, then the UI hears), renegotiate, unsubscribe, reuse', async () => {
    const { session, server, events, tracks } = start();
    await session.enter({ audio: null, video: null });
    server.push({ type: 'user_enter', user_id: 'ann', role: 'anchor' });
    server.push({ type: 'stream_available', user_id: 'ann', kind: 'video', stream: 'main', available: true });
    expect(tracks).toEqual(['ann/video/main on']);
    await settle();
    expect(events).toEqual([{ type: 'user_enter', userId: 'ann' }, { type: 'video_available', userId: 'ann', stream: 'main', available: true }]);
    expect(server.of('negotiate').at(-1)?.tracks).toEqual([{ mid: '0', kind: 'video', stream: 'main', user_id: 'ann' }]);
    expect(session.roster.get('ann')).toMatchObject({ video: true });

    server.push({ type: 'user_leave', user_id: 'ann', reason: 'exited' });
    await settle();
    expect(server.of('unsubscribe')).toEqual([expect.objectContaining({ mid: '0' })]);
    expect(events.at(-1)).toEqual({ type: 'user_leave', userId: 'ann', reason: 'left' });
    expect(tracks).toContain('ann/video/main off');

    server.push({ type: 'stream_available', user_id: 'bo', kind: 'video', stream: 'sub', available: true });
    await settle();
    expect(server.of('negotiate').at(-1)?.tracks).toEqual([{ mid: '0', kind: 'video', stream: 'sub', user_id: 'bo' }]);
  });

  test('a stream turned off and on again is not subscribed twice', async () => {
    const { session, server } = start();
    await session.enter({ audio: null, video: null });
    for (const available of [true, false, true]) {
      server.push({ type: 'stream_available', user_id: 'ann', kind: 'audio', stream: 'main', available });
      await settle();
    }
    expect(server.of('negotiate')).toHaveLength(1);
  });

  test('publishing later adds a line; off and on again only swaps the track', async () => {
    const { session, server, pc } = start();
    await session.enter({ audio: null, video: null });
    await session.publish('video', 'sub', cam());
    expect(server.of('negotiate').at(-1)?.tracks).toEqual([{ mid: '0', kind: 'video', stream: 'sub' }]);
    await session.publish('video', 'sub', null);
    expect(pc.transceivers[0].sender.track).toBeNull();
    await session.publish('video', 'sub', cam());
    expect(server.of('negotiate')).toHaveLength(1);
    expect(server.of('set_available').map((m) => m.available)).toEqual([true, false, true]);
  });

  test('stepping down parks my lines (not listed) and going on stage brings them back', async () => {
    const { session, server, pc } = start();
    await session.enter({ audio: mic(), video: null });
    await session.switchRole('audience');
    await settle();
    expect(server.of('switch_role')).toEqual([expect.objectContaining({ role: 'audience' })]);
    expect(pc.transceivers[0].direction).toBe('inactive');
    expect(server.of('negotiate').at(-1)?.tracks).toEqual([]);
    await expect(session.publish('audio', 'main', mic())).rejects.toMatchObject({ kind: 'unsupported' });
    await session.switchRole('anchor');
    await session.publish('audio', 'main', mic());
    expect(server.of('negotiate').at(-1)?.tracks).toEqual([{ mid: '0', kind: 'audio', stream: 'main' }]);
    expect(server.of('set_available').map((m) => m.available)).toEqual([true, true]);
  });

  test('removed by the server, or the socket lost: the session ends once, with why', async () => {
    const a = start();
    await a.session.enter({ audio: null, video: null });
    a.server.push({ type: 'removed', code: 3004, message: 'same UserID entered elsewhere' });
    expect(a.ended).toEqual(['removed 3004']);
    expect(a.pc.closed).toBe(true);

    const b = start();
    await b.session.enter({ audio: null, video: null });
    b.server.socket!.drop();
    expect(b.ended).toEqual(['connection_lost null']);
  });

  test('the media connection dropping and coming back', async () => {
    const { session, pc, events } = start();
    await session.enter({ audio: null, video: null });
    pc.setConnectionState('connected');
    pc.setConnectionState('disconnected');
    pc.setConnectionState('failed');
    pc.setConnectionState('connected');
    expect(events).toEqual([{ type: 'connection_lost' }, { type: 'connection_recovered' }]);
  });

  test('a connection disconnected for 2 s restarts ICE in a new offer; a short blip does not', async () => {
    vi.useFakeTimers();
    try {
      const { session, pc, server, events } = start();
      await session.enter({ audio: mic(), video: null });
      const offers = () => server.of('negotiate').map((m) => m.sdp as string);
      expect(offers()).toHaveLength(1);
      pc.setConnectionState('connected');
      // A blip: back before the restart is due.
      pc.setConnectionState('disconnected');
      await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS - 500);
      pc.setConnectionState('connected');
      await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS);
      expect(pc.iceRestarts).toBe(0);
      // A network change: still disconnected after 2 s.
      pc.setConnectionState('disconnected');
      await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS);
      expect(pc.iceRestarts).toBe(1);
      expect(offers()).toHaveLength(2);
      expect(offers()[1]).toContain('new ICE credentials');
      pc.setConnectionState('connected');
      // Failed restarts at once.
      pc.setConnectionState('failed');
      await vi.advanceTimersByTimeAsync(0);
      expect(pc.iceRestarts).toBe(2);
      expect(offers()).toHaveLength(3);
      pc.setConnectionState('connected');
      expect(events.filter((e) => e.type.startsWith('connection_'))).toEqual([
        { type: 'connection_lost' },
        { type: 'connection_recovered' },
        { type: 'connection_lost' },
        { type: 'connection_recovered' },
        { type: 'connection_lost' },
        { type: 'connection_recovered' },
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  test('the server seeing my media come from a new address restarts ICE at once', async () => {
    const { session, pc, server } = start();
    await session.enter({ audio: mic(), video: null });
    pc.setConnectionState('connected');
    server.push({ type: 'address_changed' });
    const offers = () => server.of('negotiate').map((m) => m.sdp as string);
    await vi.waitFor(() => expect(offers()).toHaveLength(2));
    expect(pc.iceRestarts).toBe(1);
    expect(offers()[1]).toContain('new ICE credentials');
  });

  test('a refused enter closes everything', async () => {
    const server = new FakeServer();
    server.refuse = { code: 2001, message: 'UserSig expired' };
    const { session, pc } = start(server);
    await expect(session.enter({ audio: null, video: null })).rejects.toMatchObject({ code: 2001 });
    expect(session.closed).toBe(true);
    expect(pc.closed).toBe(false); // never made
    expect(server.socket?.readyState).toBe(3);
  });

  test('a meeting with a lobby: waiting, then the room once the host admits me', async () => {
    const server = new FakeServer();
    server.lobby = true;
    server.users = [{ user_id: 'host', name: 'Host', role: 'anchor', audio: true, video: false, sub_video: false }];
    const guest: JoinArgs = { ...args, room: '', sdkAppId: null, userSig: null, userId: 'user_x1', invite: grantFor({ app: 9, room: 5150 }), displayName: '민지' };
    const { session, events } = start(server, guest);
    let entered: unknown = null;
    const entering = session.enter({ audio: null, video: null }).then((e) => (entered = e));
    await settle();
    expect(server.of('enter_room')[0]).toMatchObject({ sdk_app_id: 9, room_id: 5150, user_sig: '', invite: guest.invite, name: '민지' });
    expect(events).toEqual([{ type: 'waiting_in_lobby' }]);
    expect(entered).toBeNull();
    server.room = { locked: false, lobby: true, passcode: false, host: 'host' };
    server.admit();
    await entering;
    expect(entered).toMatchObject({ userId: 'user_x1', roomId: 5150, users: [{ userId: 'host', name: 'Host' }], room: { lobby: true, host: 'host' } });
    expect(server.of('negotiate')).toHaveLength(1); // the host's microphone
  });

  test('the host says no from the lobby: enter rejects with 3008', async () => {
    const server = new FakeServer();
    server.lobby = true;
    const { session } = start(server);
    const entering = session.enter({ audio: null, video: null });
    await settle();
    server.push({ type: 'removed', code: 3008, message: 'the host did not let you in' });
    await expect(entering).rejects.toEqual({ kind: 'server', code: 3008, message: 'the host did not let you in' });
    expect(server.socket?.readyState).toBe(3);
  });

  test('giving up while waiting: exit_room, the socket closes; enter rejects, cancelled', async () => {
    const server = new FakeServer();
    server.lobby = true;
    const { session } = start(server);
    const entering = session.enter({ audio: null, video: null });
    await settle();
    await session.exit();
    await expect(entering).rejects.toMatchObject({ kind: 'input' });
    expect(session.cancelled).toBe(true);
    expect(server.socket?.readyState).toBe(3);
    // The server takes me off the host's lobby list on exit_room, not on a closed socket.
    expect(server.of('exit_room')).toHaveLength(1);
  });

  test('giving up before the server answered: just close', async () => {
    const { session, server } = start();
    const entering = session.enter({ audio: null, video: null });
    await session.exit();
    await expect(entering).rejects.toMatchObject({ kind: 'input' });
    expect(server.of('exit_room')).toEqual([]);
    expect(server.socket?.readyState).toBe(3);
  });

  test('a host mute stops my sending; locked, it cannot be turned on until unlocked', async () => {
    const { session, server, pc, events } = start();
    await session.enter({ audio: mic(), video: cam() });
    server.push({ type: 'muted', kind: 'audio', by: 'host', locked: true });
    await settle();
    expect(events).toContainEqual({ type: 'muted_by_host', kind: 'audio', by: 'host', locked: true });
    expect(pc.transceivers[0].sender.track).toBeNull();
    expect(pc.transceivers[1].sender.track).not.toBeNull(); // the camera goes on
    expect(server.of('set_available')).toHaveLength(2); // the server turned it off itself
    await expect(session.publish('audio', 'main', mic())).rejects.toMatchObject({ kind: 'server', code: 3013 });
    expect(pc.transceivers[0].sender.track).toBeNull();
    server.push({ type: 'unlocked', kind: 'audio' });
    await session.publish('audio', 'main', mic());
    expect(pc.transceivers[0].sender.track).not.toBeNull();
    expect(server.of('set_available').at(-1)).toMatchObject({ kind: 'audio', stream: 'main', available: true });
  });

  test('chat lines are stamped when they arrive', async () => {
    const { session, server, events } = start();
    await session.enter({ audio: null, video: null });
    const before = Date.now();
    server.push({ type: 'custom', user_id: 'host', cmd_id: 10, seq: 1, data: '{"t":"chat","text":"hello"}', reliable: true, ordered: true });
    const chat = events.find((e) => e.type === 'chat');
    expect(chat).toMatchObject({ userId: 'host', text: 'hello' });
    expect((chat as { atMs: number }).atMs).toBeGreaterThanOrEqual(before);
  });
});

describe('Session: my camera in two layers (simulcast)', () => {
  const layers = (t: { sender: { encodings: RTCRtpEncodingParameters[] } }) =>
    t.sender.encodings.map((e) => `${e.rid}:${e.active ? 'on' : 'off'}`);

  test('the camera goes out as h and l (320 wide, 15 fps, 100 kbit/s); microphone and screen share once', async () => {
    const { session, pc } = start();
    await session.enter({ audio: mic(), video: cam(1280) });
    await session.publish('video', 'sub', cam(1920));
    const [audio, camera, screen] = pc.transceivers;
    expect(audio.sender.encodings).toEqual([]);
    expect(camera.sender.encodings).toEqual([
      { rid: 'h', active: true, maxBitrate: 1_000_000 },
      { rid: 'l', active: true, scaleResolutionDownBy: 4, maxBitrate: 100_000, maxFramerate: 15 },
    ]);
    expect(screen.sender.encodings).toEqual([{ active: true, maxBitrate: 1_000_000 }]);
    // Nothing to change until the server says.
    expect(camera.sender.applied).toEqual([]);
  });

  test('the small layer is scaled from the size the camera delivers, else the one asked for', async () => {
    const a = start();
    await a.session.enter({ audio: null, video: cam(640) });
    expect(a.pc.transceivers[0].sender.encodings[1].scaleResolutionDownBy).toBe(2);
    const b = start(new FakeServer(), args, { cameraWidth: () => 960 });
    await b.session.enter({ audio: null, video: cam() });
    expect(b.pc.transceivers[0].sender.encodings[1].scaleResolutionDownBy).toBe(3);
    // A camera already smaller than 320 is not scaled up.
    const c = start();
    await c.session.enter({ audio: null, video: cam(240) });
    expect(c.pc.transceivers[0].sender.encodings[1].scaleResolutionDownBy).toBe(1);
  });

  test('layer_demand turns each layer on and off; the UI hears nothing of it', async () => {
    const { session, server, pc, events } = start();
    await session.enter({ audio: null, video: cam(1280) });
    const camera = pc.transceivers[0];
    server.push({ type: 'layer_demand', big: false, small: true });
    await settle();
    expect(layers(camera)).toEqual(['h:off', 'l:on']);
    server.push({ type: 'layer_demand', big: false, small: true });
    await settle();
    expect(camera.sender.applied).toHaveLength(1); // nothing changed: no setParameters
    // Two at once: the newest wins (applied once, in order with the others).
    server.push({ type: 'layer_demand', big: true, small: false });
    server.push({ type: 'layer_demand', big: false, small: false });
    await settle();
    expect(layers(camera)).toEqual(['h:off', 'l:off']);
    server.push({ type: 'layer_demand', big: true, small: true });
    await settle();
    expect(layers(camera)).toEqual(['h:on', 'l:on']);
    expect(camera.sender.applied).toHaveLength(3);
    expect(events.filter((e) => e.type !== 'volumes')).toEqual([]);
  });

  test('a demand that came before the camera applies when it goes on; a new camera keeps it and is rescaled', async () => {
    const { session, server, pc } = start();
    await session.enter({ audio: null, video: null });
    server.push({ type: 'layer_demand', big: false, small: true });
    await settle();
    await session.publish('video', 'main', cam(1280));
    const camera = pc.transceivers[0];
    expect(layers(camera)).toEqual(['h:off', 'l:on']);
    // Off and on again with another size (a settings change): the same line, the small layer 320 wide again.
    await session.publish('video', 'main', null);
    await session.publish('video', 'main', cam(1920));
    expect(layers(camera)).toEqual(['h:off', 'l:on']);
    expect(camera.sender.encodings[1].scaleResolutionDownBy).toBe(6);
    expect(server.of('negotiate')).toHaveLength(1);
  });

  test('a browser refusing simulcast sends the camera once; layer_demand then changes nothing', async () => {
    const { session, server, pc } = start();
    pc.refuseSimulcast = true;
    await session.enter({ audio: null, video: cam(1280) });
    const camera = pc.transceivers[0];
    expect(camera.sender.encodings).toEqual([{ active: true, maxBitrate: 1_000_000 }]);
    expect(server.of('set_available')).toEqual([expect.objectContaining({ kind: 'video', stream: 'main', available: true })]);
    server.push({ type: 'layer_demand', big: false, small: true });
    await settle();
    expect(camera.sender.applied).toEqual([]);
    expect(camera.sender.encodings[0].active).toBe(true);
  });

  test('asking for a layer of someone’s camera', async () => {
    const { session, server } = start();
    await session.enter({ audio: null, video: null });
    await session.setRemoteVideoStreamType('ann', 'small');
    await session.setRemoteVideoStreamType('ann', 'big');
    expect(server.of('set_remote_video_stream_type').map(({ id: _, ...m }) => m)).toEqual([
      { type: 'set_remote_video_stream_type', user_id: 'ann', stream_type: 'small' },
      { type: 'set_remote_video_stream_type', user_id: 'ann', stream_type: 'big' },
    ]);
  });
});
