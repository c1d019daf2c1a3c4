import {
  ALL_CAPABILITIES,
  DEFAULT_AUDIO_EFFECTS,
  DEFAULT_SETTINGS,
  DEFAULT_VIDEO_EFFECTS,
  MUSIC_EXTENSIONS,
  VIDEO_FILTER_EXTENSIONS,
  copyVideoEffects,
  type AudioEffects,
  type Backend,
  type BackendError,
  type CallRecord,
  type Capabilities,
  type CommandName,
  type DeviceList,
  type FrameSink,
  type HostInfo,
  type InviteRequest,
  type JoinArgs,
  type JoinResult,
  type MediaKind,
  type MusicAction,
  type MusicState,
  type Quality,
  type RecentRoom,
  type RemoteUser,
  type Role,
  type RoomEvent,
  type RoomOptions,
  type ScreenSource,
  type Settings,
  type SoundEffect,
  type StreamKind,
  type VideoEffects,
  type VideoFilter,
  type VideoStreamType,
  type ViewRequest,
} from './backend';
import { gradientFrame } from './frame';
import { MockMeeting, type MockMeetingOptions } from './mockMeeting';

/**
 * An in-memory Backend: no Rust, no network. Deterministic: no randomness, and time only moves
 * when the caller says so (`tick`) or, in `autoplay` mode (npm run dev in a browser), on a
 * timer. Tests drive it with `emit(...)` and read `calls` to see what the UI invoked.
 */
export interface MockOptions {
  /** Run a scripted meeting on a timer (fake users enter, talk, share, leave). */
  autoplay?: boolean;
  /** Users already in the room when joining. */
  initialUsers?: RemoteUser[];
  devices?: DeviceList;
  notice?: string | null;
  /** Frame interval in autoplay mode. */
  frameIntervalMs?: number;
  /** How long every loaded music file lasts (the mock decodes nothing). Default 3 minutes. */
  musicDurationMs?: number;
  /** Pretend to be a backend that cannot do everything (e.g. the browser's). */
  capabilities?: Partial<Capabilities>;
  /** The meeting: its host (default: me), its options (lobby, lock, passcode). */
  meeting?: MockMeetingOptions;
  /** join_room waits in the lobby (`waiting_in_lobby`) until `letMeIn(accept)` or leave_room. */
  lobbyWait?: boolean;
  /** What pending_invite returns once (a roomcast:// link the app was started with). */
  pendingInvite?: string | null;
}

export interface MockCall {
  cmd: CommandName;
  args: unknown;
}

const SAMPLE_DEVICES: DeviceList = {
  cameras: [{ id: 'cam0', name: 'Mock camera', isDefault: true }],
  microphones: [{ id: 'mic0', name: 'Mock microphone', isDefault: true }],
  speakers: [{ id: 'spk0', name: 'Mock speakers', isDefault: true }],
};

const SCRIPT_USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const SCRIPT_NAMES: Record<string, string> = { alice: 'Alice', bob: 'Bob Lee', carol: 'Carol', dave: 'Dave', erin: '이서연' };
const HANGUL = /[\u3131-\u318e\uac00-\ud7a3]/;

export class MockBackend implements Backend {
  readonly calls: MockCall[] = [];
  /** Make the next call of this command reject with this error. */
  failNext = new Map<CommandName, BackendError>();
  settings: Settings = { ...DEFAULT_SETTINGS, displayName: 'Me' };
  recent: RecentRoom[] = [];
  history: CallRecord[] = [];
  inRoom = false;
  hosting = false;
  /** What set_audio_effects saved. */
  effects: AudioEffects = { ...DEFAULT_AUDIO_EFFECTS };
  /** The background music playing (null = none); moves on with musicTick. */
  music: (MusicState & { fileName: string; publish: boolean }) | null = null;
  musicVolume = { publish: 100, playout: 100 };
  /** What set_video_effects saved. */
  videoEffects: VideoEffects = copyVideoEffects(DEFAULT_VIDEO_EFFECTS);
  /** What list_video_filters lists: three bundled looks, then the imported ones. */
  videoFilters: VideoFilter[] = [
    { id: 'warm', name: 'Warm', thumbnail: swatch('#f6ad55', '#c05621') },
    { id: 'cool', name: 'Cool', thumbnail: swatch('#90cdf4', '#2c5282') },
    { id: 'mono', name: 'Mono', thumbnail: swatch('#e2e8f0', '#1a202c') },
  ];
  /** Paths import_background handed out (set_video_effects refuses any other image). */
  readonly backgrounds = new Set<string>();
  private imported = 0;
  private musicTimer: ReturnType<typeof setInterval> | null = null;
  /** The last layer set_remote_video_stream_type asked for, per remote user. */
  readonly remoteStreamTypes = new Map<string, VideoStreamType>();
  /** Active views: key `${userId}/${stream}`. */
  readonly views = new Map<string, { req: ViewRequest; sink: FrameSink }>();
  private handlers = new Set<(e: RoomEvent) => void>();
  private timers: ReturnType<typeof setInterval>[] = [];
  /** Autoplay: chat replies on their way. */
  private replies: ReturnType<typeof setTimeout>[] = [];
  /** The room server's side of the meeting (host, lobby, locks, chat limits). */
  readonly meeting: MockMeeting;
  private lobbyWait: { resolve: () => void; reject: (e: BackendError) => void } | null = null;
  private pending: string | null;
  private t = 0;
  private readonly opts: MockOptions;

  readonly capabilities: Readonly<Capabilities>;

  constructor(opts: MockOptions = {}) {
    this.opts = opts;
    this.capabilities = { ...ALL_CAPABILITIES, ...opts.capabilities };
    this.meeting = new MockMeeting((e) => this.emit(e), opts.meeting);
    this.pending = opts.pendingInvite ?? null;
  }

  private async record<T>(cmd: CommandName, args: unknown, result: () => T | Promise<T>): Promise<T> {
    this.calls.push({ cmd, args });
    await Promise.resolve();
    const err = this.failNext.get(cmd);
    if (err) {
      this.failNext.delete(cmd);
      throw err;
    }
    return result();
  }

  callsOf(cmd: CommandName): unknown[] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  }

  /** Delivers a room event to every listener, synchronously. */
  emit(e: RoomEvent): void {
    for (const h of [...this.handlers]) h(e);
  }

  /** Sends one synthetic frame to every active view (or to one). */
  pushFrames(only?: { userId: string; stream: StreamKind }): void {
    this.t += 33;
    for (const [key, { req, sink }] of this.views) {
      if (only && key !== `${only.userId}/${only.stream}`) continue;
      const seed = req.userId === '' ? 0 : [...req.userId].reduce((a, c) => a + c.charCodeAt(0), 0);
      const w = Math.min(req.width, 640) & ~1 || 2;
      const h = Math.min(req.height, 360) & ~1 || 2;
      sink(gradientFrame(w, h, this.t * (req.stream === 'sub' ? 0.25 : 1), seed + (req.stream === 'sub' ? 7 : 0)));
    }
  }

  hostMeeting = (): Promise<HostInfo> =>
    this.record('host_meeting', {}, () => {
      this.hosting = true;
      return { url: 'http://192.168.1.20:7880', sdkAppId: 1400000000 };
    });
  stopHosting = (): Promise<void> => this.record('stop_hosting', {}, () => void (this.hosting = false));

  joinRoom = (args: JoinArgs): Promise<JoinResult> =>
    this.record('join_room', args, () => {
      this.meeting.enter(args, Date.now());
      const entered = (): JoinResult => {
        this.inRoom = true;
        this.recent = [
          { server: args.server ?? '', room: args.room, scene: args.scene, lastJoinedMs: 1_700_000_000_000 },
          ...this.recent.filter((r) => r.room !== args.room),
        ];
        const users = (this.opts.initialUsers ?? []).map((u) => ({ ...u }));
        for (const u of users) this.meeting.users.set(u.userId, { ...u });
        if (this.opts.autoplay) this.startPump(true);
        return { enterRoomMs: 42, users, userId: args.userId, room: this.meeting.view() };
      };
      if (!this.opts.lobbyWait) return entered();
      queueMicrotask(() => this.emit({ type: 'waiting_in_lobby' }));
      return new Promise<JoinResult>((resolve, reject) => {
        this.lobbyWait = { resolve: () => resolve(entered()), reject };
      });
    });

  /** The host answers me while I wait in the lobby (MockOptions.lobbyWait). */
  letMeIn(accept: boolean): void {
    const wait = this.lobbyWait;
    this.lobbyWait = null;
    if (accept) wait?.resolve();
    else wait?.reject({ kind: 'server', code: 3008, message: 'the host did not let this user in' });
  }

  leaveRoom = (): Promise<void> =>
    this.record('leave_room', {}, () => {
      this.lobbyWait?.reject({ kind: 'not_in_room', message: 'You left the lobby before the host let you in.' });
      this.lobbyWait = null;
      this.inRoom = false;
      this.step = 0;
      this.meeting.leave();
      this.stopMusic();
      queueMicrotask(() => this.emit({ type: 'exit_room', reason: 'left' }));
    });

  setMicrophone = (on: boolean): Promise<void> => this.record('set_microphone', { on }, () => undefined);
  setCamera = (on: boolean): Promise<void> => this.record('set_camera', { on }, () => undefined);

  listScreenSources = (): Promise<ScreenSource[]> =>
    this.record('list_screen_sources', {}, () => [
      { id: 'screen:0', kind: 'screen' as const, title: 'Entire screen', thumbnail: thumb('#2b6cb0') },
      { id: 'window:1', kind: 'window' as const, title: 'Slides — Presentation', thumbnail: thumb('#9c4221') },
      { id: 'window:2', kind: 'window' as const, title: 'Terminal', thumbnail: thumb('#276749') },
    ]);
  startScreenShare = (sourceId: string): Promise<void> => this.record('start_screen_share', { sourceId }, () => undefined);
  stopScreenShare = (): Promise<void> => this.record('stop_screen_share', {}, () => undefined);

  switchRole = (role: Role): Promise<void> =>
    this.record('switch_role', { role }, () => {
      queueMicrotask(() => this.emit({ type: 'role_changed', role }));
    });

  setUserVolume = (userId: string, volume: number): Promise<void> =>
    this.record('set_user_volume', { userId, volume }, () => undefined);
  setRemoteVideoStreamType = (userId: string, streamType: VideoStreamType): Promise<void> =>
    this.record('set_remote_video_stream_type', { userId, streamType }, () => void this.remoteStreamTypes.set(userId, streamType));

  testSpeaker = (): Promise<string> =>
    this.record('test_speaker', {}, () => {
      const speakers = (this.opts.devices ?? SAMPLE_DEVICES).speakers;
      const chosen = speakers.find((d) => d.id === this.settings.speaker) ?? speakers.find((d) => d.isDefault);
      if (!chosen) throw { kind: 'device', message: 'No speaker found' } satisfies BackendError;
      return chosen.name;
    });

  setView = (view: ViewRequest, sink: FrameSink): Promise<void> =>
    this.record('set_view', { ...view }, () => {
      this.views.set(`${view.userId}/${view.stream}`, { req: { ...view }, sink });
      if (this.opts.autoplay) this.startPump(false);
    });
  stopView = (userId: string, stream: StreamKind): Promise<void> =>
    this.record('stop_view', { userId, stream }, () => {
      this.views.delete(`${userId}/${stream}`);
    });

  listDevices = (): Promise<DeviceList> => this.record('list_devices', {}, () => this.opts.devices ?? SAMPLE_DEVICES);
  getSettings = (): Promise<Settings> => this.record('get_settings', {}, () => ({ ...this.settings }));
  saveSettings = (settings: Settings): Promise<void> =>
    this.record('save_settings', { settings }, () => void (this.settings = { ...settings }));
  recentRooms = (): Promise<RecentRoom[]> => this.record('recent_rooms', {}, () => [...this.recent]);
  callHistory = (): Promise<CallRecord[]> => this.record('call_history', {}, () => [...this.history]);
  storeNotice = (): Promise<string | null> => this.record('store_notice', {}, () => this.opts.notice ?? null);

  // Speaking: the mock has no anchors of its own, so answers come from tests via emit(...),
  // except that accepting an invitation puts me on stage as the app does.
  inviteToSpeak = (userId: string): Promise<void> => this.record('invite_to_speak', { userId }, () => undefined);
  requestToSpeak = (): Promise<void> => this.record('request_to_speak', {}, () => undefined);
  answerInvite = (accept: boolean): Promise<void> =>
    this.record('answer_invite', { accept }, () => {
      if (accept) queueMicrotask(() => this.emit({ type: 'role_changed', role: 'anchor' }));
    });
  answerRequest = (userId: string, accept: boolean): Promise<void> =>
    this.record('answer_request', { userId, accept }, () => undefined);

  getAudioEffects = (): Promise<AudioEffects> => this.record('get_audio_effects', {}, () => ({ ...this.effects }));
  setAudioEffects = (effects: AudioEffects): Promise<void> =>
    this.record('set_audio_effects', { effects: { ...effects } }, () => void (this.effects = { ...effects }));

  loadMusic = (file: File, publish: boolean): Promise<MusicState> =>
    this.record('load_music', { fileName: file.name, publish }, () => {
      if (!this.inRoom) throw { kind: 'not_in_room', message: 'Background music plays in a call: join a room first.' } satisfies BackendError;
      const dot = file.name.lastIndexOf('.');
      if (dot < 0 || !MUSIC_EXTENSIONS.includes(file.name.slice(dot).toLowerCase())) {
        throw { kind: 'internal', message: `Cannot play ${file.name}: unsupported audio format` } satisfies BackendError;
      }
      this.music = { id: 1, positionMs: 0, durationMs: this.opts.musicDurationMs ?? 180_000, paused: false, fileName: file.name, publish };
      if (this.opts.autoplay && !this.musicTimer) this.musicTimer = setInterval(() => this.musicTick(200), 200);
      const { id, positionMs, durationMs, paused } = this.music;
      return { id, positionMs, durationMs, paused };
    });

  musicControl = (action: MusicAction): Promise<void> =>
    this.record('music_control', { action }, () => {
      if (action === 'stop') this.stopMusic();
      else if (this.music) this.music.paused = action === 'pause';
    });
  seekMusic = (ms: number): Promise<void> =>
    this.record('seek_music', { ms }, () => {
      if (this.music) this.music.positionMs = Math.max(0, Math.min(ms, this.music.durationMs));
    });
  setMusicVolume = (publish: number, playout: number): Promise<void> =>
    this.record('set_music_volume', { publish, playout }, () => void (this.musicVolume = { publish, playout }));
  playSoundEffect = (name: SoundEffect): Promise<void> =>
    this.record('play_sound_effect', { name }, () => {
      if (!this.inRoom) throw { kind: 'not_in_room', message: 'You are not in a room.' } satisfies BackendError;
    });

  getVideoEffects = (): Promise<VideoEffects> => this.record('get_video_effects', {}, () => copyVideoEffects(this.videoEffects));
  setVideoEffects = (effects: VideoEffects): Promise<void> =>
    this.record('set_video_effects', { effects: copyVideoEffects(effects) }, () => {
      if (effects.filter !== null && !this.videoFilters.some((f) => f.id === effects.filter)) {
        throw { kind: 'input', message: `No video filter ${effects.filter}` } satisfies BackendError;
      }
      const bg = effects.background;
      if (bg.kind === 'image' && !this.backgrounds.has(bg.path)) {
        throw { kind: 'internal', message: `Cannot read the background image ${bg.path}` } satisfies BackendError;
      }
      this.videoEffects = copyVideoEffects(effects);
    });
  listVideoFilters = (): Promise<VideoFilter[]> => this.record('list_video_filters', {}, () => this.videoFilters.map((f) => ({ ...f })));
  /** Recorded without the bytes (`data`), as load_music is. */
  importVideoFilter = (file: File): Promise<VideoFilter> =>
    this.record('import_video_file', { kind: 'filter', fileName: file.name }, () => {
      const dot = file.name.lastIndexOf('.');
      if (dot < 0 || !VIDEO_FILTER_EXTENSIONS.includes(file.name.slice(dot).toLowerCase())) {
        throw { kind: 'input', message: `${file.name} is not a PNG lookup table (LUT) image` } satisfies BackendError;
      }
      const filter = { id: `imported-${++this.imported}`, name: file.name.slice(0, dot), thumbnail: swatch('#b794f4', '#553c9a') };
      this.videoFilters = [...this.videoFilters, filter];
      return { ...filter };
    });
  importBackground = (file: File): Promise<string> =>
    this.record('import_video_file', { kind: 'background', fileName: file.name }, () => {
      const path = `/mock/backgrounds/${++this.imported}-${file.name}`;
      this.backgrounds.add(path);
      return path;
    });

  // Meetings: the decisions are MockMeeting's; in autoplay someone answers my chat lines.
  createInvite = (request: InviteRequest): Promise<string> =>
    this.record('create_invite', { request }, () => this.meeting.createInvite(request, Date.now()));
  sendChat = (text: string): Promise<void> =>
    this.record('send_chat', { text }, () => {
      this.requireRoom();
      this.meeting.sendChat(text, Date.now());
      if (this.opts.autoplay) this.replyTo(text);
    });
  sendReaction = (emoji: string): Promise<void> =>
    this.record('send_reaction', { emoji }, () => this.requireRoom());
  raiseHand = (up: boolean): Promise<void> =>
    this.record('raise_hand', { up }, () => {
      this.requireRoom();
      this.meeting.raiseHand(up);
    });
  muteUser = (userId: string | null, kind: MediaKind, lock: boolean): Promise<void> =>
    this.record('mute_user', { userId, kind, lock }, () => this.meeting.mute(userId, kind, lock));
  unlockUser = (userId: string | null, kind: MediaKind): Promise<void> =>
    this.record('unlock_user', { userId, kind }, () => this.meeting.unlock(userId, kind));
  removeUser = (userId: string): Promise<void> => this.record('remove_user', { userId }, () => this.meeting.remove(userId));
  setRoomOptions = (options: RoomOptions): Promise<void> =>
    this.record('set_room_options', { options: { ...options } }, () => this.meeting.setOptions(options));
  endMeeting = (): Promise<void> =>
    this.record('end_meeting', {}, () => {
      this.meeting.end();
      this.inRoom = false;
      this.step = 0;
      this.stopMusic();
    });
  admit = (userId: string, accept: boolean): Promise<void> =>
    this.record('admit', { userId, accept }, () => this.meeting.admit(userId, accept));
  pendingInvite = (): Promise<string | null> =>
    this.record('pending_invite', {}, () => {
      const link = this.pending;
      this.pending = null;
      return link;
    });

  private requireRoom(): void {
    if (!this.inRoom) throw { kind: 'not_in_room', message: 'You are not in a room.' } satisfies BackendError;
  }

  /** Someone in the room answers a chat line a moment later, in its language. */
  private replyTo(text: string): void {
    const users = [...this.meeting.users.values()];
    const korean = HANGUL.test(text);
    const who = (korean ? users.find((u) => HANGUL.test(u.name ?? '')) : undefined) ?? users[0];
    if (!who) return;
    const reply = korean ? '네, 좋아요! 👍' : text.trim().endsWith('?') ? 'Good question — give me a second.' : 'Got it, thanks!';
    this.replies.push(setTimeout(() => this.meeting.remoteChat(who.userId, reply, Date.now()), 1200));
  }

  /** Moves the playing music on by `ms` (it loops) and emits `music_progress`, as the app does
   * every 200 ms. Tests call it; autoplay runs it on a timer. */
  musicTick(ms = 200): void {
    const m = this.music;
    if (!m || m.paused) return;
    m.positionMs = (m.positionMs + ms) % m.durationMs;
    this.emit({ type: 'music_progress', id: m.id, positionMs: m.positionMs, durationMs: m.durationMs });
  }

  private stopMusic(): void {
    if (this.musicTimer) clearInterval(this.musicTimer);
    this.musicTimer = null;
    this.music = null;
  }

  async onRoomEvent(handler: (e: RoomEvent) => void): Promise<() => void> {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  // -------------------------------------------------------------------------------------------
  // The autoplay script: a small meeting that exercises every part of the call screen.
  // -------------------------------------------------------------------------------------------
  private step = 0;

  /** Autoplay: frames for every view, and every 300 ms either the meeting script or (outside a
   * room, for the pre-join meter) my own microphone level. */
  private startPump(restartScript: boolean): void {
    if (restartScript) this.step = 0;
    if (this.timers.length) return;
    this.timers.push(setInterval(() => this.pushFrames(), this.opts.frameIntervalMs ?? 66));
    this.timers.push(
      setInterval(() => {
        if (this.inRoom) this.scriptTick();
        else this.emit({ type: 'volumes', volumes: [{ userId: '', volume: (this.t / 33) % 17 < 8 ? 35 + ((this.t / 33) % 30) : 4 }] });
      }, 300),
    );
  }

  private stopPump(): void {
    this.timers.forEach(clearInterval);
    this.timers = [];
  }

  /** One 300 ms step of the scripted meeting. */
  scriptTick(): void {
    const s = this.step++;
    const present = SCRIPT_USERS.slice(0, Math.min(SCRIPT_USERS.length, 1 + Math.floor(s / 10)));
    if (s % 10 === 0 && s / 10 < SCRIPT_USERS.length) {
      const userId = SCRIPT_USERS[s / 10];
      this.meeting.addUser({ userId, name: SCRIPT_NAMES[userId], role: 'anchor', audio: true, video: userId !== 'dave', subVideo: false });
    }
    // The meeting: hands go up and down, reactions float, people knock (they wait when I turn
    // the lobby on).
    if (s === 45) this.meeting.remoteHand('bob', true);
    if (s === 55) this.meeting.remoteReaction('carol', '👏');
    if (s === 65) this.meeting.remoteReaction('alice', '😂');
    if (s === 100) this.meeting.knock('frank', 'Frank');
    if (s === 110) this.meeting.remoteHand('alice', true);
    if (s === 125) this.meeting.remoteHand('bob', false);
    if (s === 160) this.meeting.knock('minji', '김민지');
    if (s === 60) this.emit({ type: 'video_available', userId: 'carol', stream: 'sub', available: true });
    if (s === 120) this.emit({ type: 'video_available', userId: 'carol', stream: 'sub', available: false });
    if (s === 80) this.emit({ type: 'connection_lost' });
    if (s === 90) this.emit({ type: 'connection_recovered' });
    if (s === 140) this.meeting.removeUserEntry('erin', 'left');
    // Speakers take turns every ~3 s; "me" is quiet-ish.
    const speaker = present[Math.floor(s / 10) % present.length];
    this.emit({
      type: 'volumes',
      volumes: [
        { userId: '', volume: (s * 7) % 23 },
        ...present.map((u) => ({ userId: u, volume: u === speaker ? 40 + ((s * 13) % 50) : (s * 3) % 9 })),
      ],
    });
    if (s % 7 === 0) {
      this.emit({
        type: 'network_quality',
        qualities: [
          { userId: '', quality: 1 },
          ...present.map((u, i) => ({ userId: u, quality: (1 + ((i + Math.floor(s / 7)) % 4)) as Quality })),
        ],
      });
    }
  }

  dispose(): void {
    this.stopPump();
    this.replies.forEach(clearTimeout);
    this.replies = [];
    this.stopMusic();
    this.handlers.clear();
    this.views.clear();
  }
}

/** A tiny SVG data URL standing in for a filter's thumbnail (the app's are PNG). */
function swatch(light: string, dark: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><defs><linearGradient id="g"><stop offset="0" stop-color="${light}"/><stop offset="1" stop-color="${dark}"/></linearGradient></defs><rect width="64" height="48" fill="url(#g)"/><circle cx="32" cy="20" r="9" fill="#fff6"/><rect x="18" y="32" width="28" height="16" rx="8" fill="#fff6"/></svg>`;
  return 'data:image/svg+xml;base64,' + btoa(svg);
}

/** A tiny SVG data URL standing in for a screenshot. */
function thumb(color: string): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90"><rect width="160" height="90" fill="${color}"/><rect x="10" y="10" width="90" height="8" fill="#fff8"/><rect x="10" y="26" width="140" height="4" fill="#fff5"/><rect x="10" y="36" width="120" height="4" fill="#fff5"/></svg>`;
  return 'data:image/svg+xml;base64,' + btoa(svg);
}
