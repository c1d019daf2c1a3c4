import { afterEach, describe, expect, test, vi } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, DEFAULT_VIDEO_EFFECTS, parseInviteLink, type JoinArgs, type RoomEvent } from './backend';
import { parseFrame } from './frame';
import { MockBackend } from './mockBackend';

describe('MockBackend', () => {
  afterEach(() => vi.useRealTimers());

  test('records calls and can fail the next one', async () => {
    const b = new MockBackend();
    await b.setMicrophone(false);
    b.failNext.set('leave_room', { kind: 'not_in_room', message: 'You are not in a room.' });
    await expect(b.leaveRoom()).rejects.toMatchObject({ kind: 'not_in_room' });
    expect(b.calls.map((c) => c.cmd)).toEqual(['set_microphone', 'leave_room']);
  });

  test('views get synthetic I420 frames no larger than asked', async () => {
    const b = new MockBackend();
    const frames: ArrayBuffer[] = [];
    await b.setView({ userId: 'alice', stream: 'main', width: 320, height: 180 }, (f) => frames.push(f));
    b.pushFrames();
    b.pushFrames();
    const f = parseFrame(frames[1]);
    expect([f.width, f.height]).toEqual([320, 180]);
    expect(f.timestampUs).toBeGreaterThan(parseFrame(frames[0]).timestampUs);
    await b.stopView('alice', 'main');
    b.pushFrames();
    expect(frames).toHaveLength(2);
  });

  test('the autoplay meeting is deterministic', async () => {
    vi.useFakeTimers();
    const run = async () => {
      const b = new MockBackend({ autoplay: true });
      const seen: RoomEvent[] = [];
      await b.onRoomEvent((e) => seen.push(e));
      await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
      vi.advanceTimersByTime(45_000);
      b.dispose();
      return seen;
    };
    const a = await run();
    const c = await run();
    expect(a).toEqual(c);
    const types = new Set(a.map((e) => e.type));
    for (const t of ['user_enter', 'video_available', 'volumes', 'network_quality', 'connection_lost', 'connection_recovered', 'user_leave']) {
      expect(types.has(t as RoomEvent['type'])).toBe(true);
    }
  });

  test('remembers the last layer asked for each user', async () => {
    const b = new MockBackend();
    expect(b.remoteStreamTypes.size).toBe(0);
    await b.setRemoteVideoStreamType('alice', 'small');
    await b.setRemoteVideoStreamType('bob', 'small');
    await b.setRemoteVideoStreamType('alice', 'big');
    expect(Object.fromEntries(b.remoteStreamTypes)).toEqual({ alice: 'big', bob: 'small' });
    expect(b.callsOf('set_remote_video_stream_type')).toEqual([
      { userId: 'alice', streamType: 'small' },
      { userId: 'bob', streamType: 'small' },
      { userId: 'alice', streamType: 'big' },
    ]);
  });

  test('audio effects are saved and read back', async () => {
    const b = new MockBackend();
    expect(await b.getAudioEffects()).toEqual(DEFAULT_AUDIO_EFFECTS);
    await b.setAudioEffects({ ...DEFAULT_AUDIO_EFFECTS, reverb: 'ktv' });
    expect((await b.getAudioEffects()).reverb).toBe('ktv');
  });

  test('video effects: saved in memory; filters with thumbnails; imports; refusals', async () => {
    const b = new MockBackend();
    expect(await b.getVideoEffects()).toEqual(DEFAULT_VIDEO_EFFECTS);
    const filters = await b.listVideoFilters();
    expect(filters.map((f) => f.id)).toEqual(['warm', 'cool', 'mono']);
    for (const f of filters) expect(f.thumbnail).toMatch(/^data:image\//);

    const lut = await b.importVideoFilter(new File(['x'], 'Teal Orange.PNG'));
    expect(lut).toMatchObject({ name: 'Teal Orange', thumbnail: expect.stringMatching(/^data:image\//) });
    expect((await b.listVideoFilters()).at(-1)).toEqual(lut);
    await expect(b.importVideoFilter(new File(['x'], 'look.cube'))).rejects.toMatchObject({ kind: 'input', message: expect.stringContaining('look.cube') });
    const path = await b.importBackground(new File(['x'], 'beach.jpg'));
    expect(path).toMatch(/beach\.jpg$/);
    expect(b.callsOf('import_video_file')).toEqual([
      { kind: 'filter', fileName: 'Teal Orange.PNG' },
      { kind: 'filter', fileName: 'look.cube' },
      { kind: 'background', fileName: 'beach.jpg' },
    ]);

    const effects = { ...DEFAULT_VIDEO_EFFECTS, filter: lut.id, background: { kind: 'image' as const, path }, smoothness: 4 };
    await b.setVideoEffects(effects);
    expect(await b.getVideoEffects()).toEqual(effects);
    await expect(b.setVideoEffects({ ...effects, background: { kind: 'image', path: '/gone.png' } })).rejects.toMatchObject({
      message: expect.stringContaining('/gone.png'),
    });
    await expect(b.setVideoEffects({ ...effects, filter: 'nope' })).rejects.toMatchObject({ kind: 'input' });
    expect(b.videoEffects).toEqual(effects);
  });

  test('background music needs a call and a known format, then loops with progress events', async () => {
    const b = new MockBackend({ musicDurationMs: 1000 });
    const seen: RoomEvent[] = [];
    await b.onRoomEvent((e) => seen.push(e));
    const song = new File(['x'], 'song.MP3');
    await expect(b.loadMusic(song, true)).rejects.toMatchObject({ kind: 'not_in_room' });
    await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
    await expect(b.loadMusic(new File(['x'], 'notes.txt'), true)).rejects.toMatchObject({ message: expect.stringContaining('unsupported') });
    expect(await b.loadMusic(song, false)).toEqual({ id: 1, positionMs: 0, durationMs: 1000, paused: false });
    expect(b.callsOf('load_music').at(-1)).toEqual({ fileName: 'song.MP3', publish: false });
    b.musicTick(600);
    await b.musicControl('pause');
    b.musicTick(600); // paused: nothing
    await b.musicControl('resume');
    b.musicTick(600);
    expect(seen.filter((e) => e.type === 'music_progress')).toEqual([
      { type: 'music_progress', id: 1, positionMs: 600, durationMs: 1000 },
      { type: 'music_progress', id: 1, positionMs: 200, durationMs: 1000 },
    ]);
    await b.seekMusic(900);
    expect(b.music?.positionMs).toBe(900);
    await b.musicControl('stop');
    expect(b.music).toBeNull();
  });

  test('autoplay moves the music on a 200 ms timer', async () => {
    vi.useFakeTimers();
    const b = new MockBackend({ autoplay: true });
    const seen: RoomEvent[] = [];
    await b.onRoomEvent((e) => seen.push(e));
    await b.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
    await b.loadMusic(new File(['x'], 'a.ogg'), true);
    vi.advanceTimersByTime(1000);
    b.dispose();
    expect(seen.filter((e) => e.type === 'music_progress').map((e) => (e as { positionMs: number }).positionMs)).toEqual([200, 400, 600, 800, 1000]);
  });
});

const join = (over: Partial<JoinArgs> = {}): JoinArgs => ({
  server: null, room: '1234', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null, ...over,
});

async function withEvents(b: MockBackend): Promise<RoomEvent[]> {
  const seen: RoomEvent[] = [];
  await b.onRoomEvent((e) => seen.push(e));
  return seen;
}

describe('MockBackend meetings', () => {
  afterEach(() => vi.useRealTimers());

  test('invite links are in the real format and parseInviteLink reads them back', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 2, 5, 12, 0) });
    const b = new MockBackend();
    const link = await b.createInvite({ room: '1234', role: 'audience', expiresS: 7200, host: false });
    expect(link).toMatch(/^http:\/\/192\.168\.1\.20:7880\/#invite=v1\.[\w-]+\.[\w-]+$/);
    const parsed = parseInviteLink(link);
    expect(parsed).toEqual({
      server: 'http://192.168.1.20:7880',
      grant: link.split('#invite=')[1],
      sdkAppId: 1400000000,
      room: '1234',
      role: 'audience',
      expires: Date.UTC(2026, 2, 5, 12, 0) / 1000 + 7200,
      host: false,
    });
    const payload = JSON.parse(atob(parsed!.grant.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    expect(Object.keys(payload).sort()).toEqual(['app', 'exp', 'host', 'iat', 'id', 'role', 'room']);
    expect(payload.room).toBe(1234); // a numeric room id is a JSON number, as the server writes it
    expect(parseInviteLink(await b.createInvite({ room: 'standup', role: 'anchor', expiresS: 60, host: true }))).toMatchObject({
      room: 'standup', role: 'anchor', host: true,
    });
  });

  test('I am the host: I see the room view, mute (and lock) others, unlock and remove them', async () => {
    const b = new MockBackend({ initialUsers: [{ userId: 'bob', name: 'Bob Lee', role: 'anchor', audio: true, video: true, subVideo: false }] });
    const seen = await withEvents(b);
    const joined = await b.joinRoom(join());
    expect(joined).toMatchObject({ userId: 'me', room: { host: 'me', locked: false, lobby: false, passcode: false } });
    await b.muteUser('bob', 'audio', true);
    expect(b.meeting.users.get('bob')).toMatchObject({ audio: false, video: true });
    expect(b.meeting.locks.has('bob/audio')).toBe(true);
    await b.muteUser(null, 'video', false);
    expect(b.meeting.users.get('bob')?.video).toBe(false);
    await b.unlockUser('bob', 'audio');
    expect(b.meeting.locks.size).toBe(0);
    await b.removeUser('bob');
    expect(seen).toEqual([
      { type: 'audio_available', userId: 'bob', available: false },
      { type: 'video_available', userId: 'bob', stream: 'main', available: false },
      { type: 'user_leave', userId: 'bob', reason: 'exited' },
    ]);
    await expect(b.removeUser('bob')).rejects.toMatchObject({ kind: 'server', code: 3003 });
  });

  test('a guest may not use host controls', async () => {
    const b = new MockBackend({ meeting: { host: 'anna' } });
    const joined = await b.joinRoom(join());
    expect(joined.room?.host).toBe('anna');
    await expect(b.muteUser(null, 'audio', false)).rejects.toMatchObject({ kind: 'server', code: 3002 });
    await expect(b.endMeeting()).rejects.toMatchObject({ code: 3002 });
  });

  test('lobby: people knock, the host admits or denies them, closing the lobby lets the rest in', async () => {
    const b = new MockBackend();
    const seen = await withEvents(b);
    await b.joinRoom(join());
    await b.setRoomOptions({ locked: false, lobby: true, passcode: '4821' });
    b.meeting.knock('minji', '김민지');
    b.meeting.knock('troll', 'Troll');
    b.meeting.knock('late', 'Late');
    await b.admit('minji', true);
    await b.admit('troll', false);
    await b.setRoomOptions({ locked: false, lobby: false, passcode: '4821' });
    expect(seen.map((e) => e.type)).toEqual([
      'room_changed', 'lobby_joined', 'lobby_joined', 'lobby_joined',
      'lobby_left', 'user_enter', 'audio_available', 'video_available',
      'lobby_left',
      'room_changed', 'lobby_left', 'user_enter', 'audio_available', 'video_available',
    ]);
    expect(seen[0]).toEqual({ type: 'room_changed', room: { locked: false, lobby: true, passcode: true, host: 'me' } });
    expect(seen[5]).toEqual({ type: 'user_enter', userId: 'minji', name: '김민지' });
    expect([...b.meeting.users.keys()]).toEqual(['minji', 'late']);
    await b.endMeeting();
    expect(seen.at(-1)).toEqual({ type: 'exit_room', reason: 'removed', code: 3009, message: 'me ended the meeting for everyone' });
    expect(b.meeting.options).toEqual({ locked: false, lobby: false, passcode: null }); // the room is gone
  });

  test('what a guest meets at the door: passcode, lock, ban, invite checks', async () => {
    vi.useFakeTimers({ now: 1_800_000_000_000 });
    const host = new MockBackend();
    const fresh = parseInviteLink(await host.createInvite({ room: '1234', role: 'anchor', expiresS: 60, host: false }))!.grant;
    const guest = (options = {}) => new MockBackend({ meeting: { host: 'anna', options } });
    await expect(guest({ passcode: '4821' }).joinRoom(join({ passcode: '1111' }))).rejects.toMatchObject({ code: 2007 });
    await expect(guest({ passcode: '4821' }).joinRoom(join({ passcode: '4821' }))).resolves.toMatchObject({ room: { passcode: true } });
    await expect(guest({ locked: true }).joinRoom(join())).rejects.toMatchObject({ code: 3007 });
    await expect(guest().joinRoom(join({ invite: 'v1.garbage.sig' }))).rejects.toMatchObject({ code: 2004 });
    await expect(guest().joinRoom(join({ invite: fresh, room: '999' }))).rejects.toMatchObject({ code: 2006 });
    await expect(guest().joinRoom(join({ invite: fresh }))).resolves.toMatchObject({ userId: 'me' });
    vi.advanceTimersByTime(61_000);
    await expect(guest().joinRoom(join({ invite: fresh }))).rejects.toMatchObject({ code: 2005 });
    const b = new MockBackend({ initialUsers: [{ userId: 'bob', role: 'anchor', audio: true, video: true, subVideo: false }] });
    await b.joinRoom(join());
    await b.removeUser('bob');
    await expect(b.joinRoom(join({ userId: 'bob' }))).rejects.toMatchObject({ code: 3006 });
  });

  test('waiting in the lobby: join_room stays pending until the host answers or I leave', async () => {
    const b = new MockBackend({ lobbyWait: true, meeting: { host: 'anna', options: { lobby: true } } });
    const seen = await withEvents(b);
    const admitted = b.joinRoom(join());
    await vi.waitFor(() => expect(seen).toEqual([{ type: 'waiting_in_lobby' }]));
    b.letMeIn(true);
    await expect(admitted).resolves.toMatchObject({ userId: 'me' });
    expect(b.inRoom).toBe(true);
    const denied = b.joinRoom(join());
    await Promise.resolve();
    b.letMeIn(false);
    await expect(denied).rejects.toEqual({ kind: 'server', code: 3008, message: 'the host did not let this user in' });
    const left = b.joinRoom(join());
    await Promise.resolve();
    await b.leaveRoom();
    await expect(left).rejects.toMatchObject({ kind: 'not_in_room' });
  });

  test('chat: the byte limit and the rate limit are refused with the server codes', async () => {
    vi.useFakeTimers();
    const b = new MockBackend();
    await expect(b.sendChat('hi')).rejects.toMatchObject({ kind: 'not_in_room' });
    await b.joinRoom(join());
    await expect(b.sendChat('가'.repeat(301))).rejects.toMatchObject({ code: 3012 }); // 903 bytes
    for (let i = 0; i < 30; i++) await b.sendChat(`line ${i}`);
    await expect(b.sendChat('one too many')).rejects.toMatchObject({ code: 3011 });
    vi.advanceTimersByTime(1000);
    await b.sendChat('가'.repeat(300)); // 900 bytes: fits
    expect(b.meeting.said).toHaveLength(31);
  });

  test('autoplay: someone answers my chat in its language; the script raises hands and knocks', async () => {
    vi.useFakeTimers();
    const b = new MockBackend({ autoplay: true });
    const seen = await withEvents(b);
    await b.joinRoom(join());
    vi.advanceTimersByTime(15_000); // alice … erin (이서연) are in
    await b.sendChat('안녕하세요');
    await b.sendChat('Can you hear me?');
    vi.advanceTimersByTime(1500);
    expect(seen.filter((e) => e.type === 'chat').map((e) => e.type === 'chat' && [e.userId, e.text])).toEqual([
      ['erin', '네, 좋아요! 👍'],
      ['alice', 'Good question — give me a second.'],
    ]);
    expect(seen).toContainEqual({ type: 'hand', userId: 'bob', hand: 1 });
    expect(seen).toContainEqual({ type: 'user_enter', userId: 'erin', name: '이서연' });
    await b.setRoomOptions({ locked: false, lobby: true, passcode: null });
    vi.advanceTimersByTime(40_000);
    expect(seen).toContainEqual({ type: 'lobby_joined', userId: 'minji', name: '김민지' });
    b.dispose();
  });

  test('pending_invite answers once', async () => {
    const b = new MockBackend({ pendingInvite: 'roomcast://192.168.1.20:7880/#invite=v1.x.y' });
    expect(await b.pendingInvite()).toBe('roomcast://192.168.1.20:7880/#invite=v1.x.y');
    expect(await b.pendingInvite()).toBeNull();
  });
});
