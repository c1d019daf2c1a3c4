/**
 * The Backend of the web page: the browser's own WebRTC against the server that served the
 * page (`ws(s)://<host>/ws`). Media never passes through JavaScript: tiles get MediaStreams
 * (`mediaStream`), remote audio plays in hidden `<audio>` elements.
 */
import {
  CHAT_MAX_BYTES,
  DEFAULT_AUDIO_EFFECTS,
  isAudioOnlyScene,
  toBackendError,
  utf8Bytes,
  type AudioEffects,
  type Backend,
  type BackendError,
  type CallRecord,
  type Capabilities,
  type DeviceList,
  type FrameSink,
  type HostInfo,
  type InviteRequest,
  type JoinArgs,
  type JoinResult,
  type MediaKind,
  type MusicState,
  type RecentRoom,
  type RemoteUser,
  type Role,
  type RoomEvent,
  type RoomOptions,
  type ScreenSource,
  type Settings,
  type StreamKind,
  type VideoEffects,
  type VideoFilter,
  type VideoStreamType,
} from '../backend';
import { toDeviceList } from './devices';
import { LocalMedia, type LocalSource, type MediaDevicesLike } from './localMedia';
import { MicLevel } from './micLevel';
import { encodeMeeting, MEETING_CMD_ID, toWireOptions, type MeetingMessage } from './protocol';
import { browserAudioEffectsOnly, cameraConstraints, cameraWidth, microphoneConstraints } from './rtc';
import { lockedError, Session, VOLUME_INTERVAL_MS, type Entered, type SessionEnv } from './session';
import type { SocketFactory } from './signaling';
import { volumeOf, type Stats } from './stats';
import { LocalStore } from './store';
import { Playout, playTestTone } from './playout';
import { TEXT } from './strings';
import { Views } from './views';

/** The one entry of listScreenSources: the browser shows its own picker. */
export const BROWSER_SCREEN_SOURCE = 'portal:browser';

export type PageState = 'idle' | 'joining' | 'in_room' | 'error' | 'left';

/** Everything the backend takes from the page; tests pass fakes. */
export interface BrowserEnv {
  wsUrl: string;
  origin: string;
  connect: SocketFactory;
  createPeerConnection: () => RTCPeerConnection;
  mediaDevices: (MediaDevicesLike & Partial<Pick<MediaDevices, 'enumerateDevices' | 'addEventListener'>>) | undefined;
  storage: Storage | undefined;
  document: Document;
  /** The page's address, for the invite link it was opened with (`#invite=…`). */
  location?: Pick<Location, 'origin' | 'pathname' | 'search' | 'hash'>;
  /** To take that link out of the address bar once it is handed to the UI. */
  history?: Pick<History, 'replaceState' | 'state'>;
}

/** The longest reaction, in UTF-8 bytes: one emoji, even a family of them. */
const REACTION_MAX_BYTES = 32;

/** A chat line someone else sent, for the page's automation surface. */
export interface ReceivedChat {
  from: string;
  text: string;
}

const unsupported = (message: string): Promise<never> => Promise.reject({ kind: 'unsupported', message } satisfies BackendError);

export class BrowserBackend implements Backend {
  readonly capabilities: Readonly<Capabilities> = Object.freeze({
    hosting: false,
    serverAddress: false,
    audioEffects: false,
    music: false,
    screenPicker: false,
    videoEffects: false,
    videoBackground: false,
  });
  /** For the page's automation surface (`window.roomcast`). */
  state: PageState = 'idle';
  error: { code: number | null; message: string } | null = null;
  /** The room as enter_room last answered (kept after leaving). */
  entered: Entered | null = null;
  session: Session | null = null;
  /** Chat lines received in the current (or last) call. */
  readonly chat: ReceivedChat[] = [];

  private readonly store: LocalStore;
  private readonly media: LocalMedia;
  private readonly playout: Playout;
  private readonly level = new MicLevel();
  private readonly handlers = new Set<(e: RoomEvent) => void>();
  private readonly views = new Views((userId, stream) =>
    userId === ''
      ? this.media.tracks[stream === 'main' ? 'camera' : 'screen']
      : (this.session?.remoteTrack(userId, 'video', stream) ?? null),
  );
  private settings: Settings;
  private effects: AudioEffects;
  private call: { args: JoinArgs; startedMs: number; met: Set<string> } | null = null;
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  /** Browsers name devices only once a page may use one: list them again then. */
  private devicesNamed = false;
  /** pendingInvite hands the page's invite link out once. */
  private inviteTaken = false;

  constructor(private readonly env: BrowserEnv) {
    this.store = new LocalStore(env.storage);
    this.settings = this.store.settings();
    this.effects = this.store.audioEffects();
    this.media = new LocalMedia(
      env.mediaDevices,
      (d) => (d === 'camera' ? cameraConstraints(this.settings) : microphoneConstraints(this.settings, this.effects)),
      (s) => this.localChanged(s),
      (s) => this.localEnded(s),
    );
    this.playout = new Playout(env.document, () => this.emit({ type: 'notice', message: TEXT.clickToHear }));
    this.playout.setSink(this.settings.speaker);
    env.mediaDevices?.addEventListener?.('devicechange', () => {
      this.listDevices().then((devices) => this.emit({ type: 'devices_changed', devices }), () => {});
    });
  }

  // --- the room --------------------------------------------------------------------------------

  async joinRoom(args: JoinArgs): Promise<JoinResult> {
    if (this.session) throw { kind: 'internal', message: TEXT.alreadyInRoom } satisfies BackendError;
    if (!args.invite && (!args.sdkAppId || !args.userSig)) throw { kind: 'input', message: TEXT.needCredentials } satisfies BackendError;
    const started = Date.now();
    this.state = 'joining';
    this.error = null;
    this.chat.length = 0;
    const session = new Session(args, this.sessionEnv(), {
      emit: (e) => this.fromSession(e),
      remoteTrack: (userId, kind, stream, track) => this.remoteTrack(userId, kind, stream, track),
      ended: (reason, error) => this.ended(session, reason, error),
    });
    this.session = session;
    this.stopLevel();
    const publishes = args.role === 'anchor';
    try {
      const entered = await session.enter({
        audio: publishes ? this.media.tracks.microphone : null,
        video: publishes && !isAudioOnlyScene(args.scene) ? this.media.tracks.camera : null,
      });
      this.state = 'in_room';
      this.entered = entered;
      this.call = { args, startedMs: started, met: new Set(entered.users.map((u) => u.userId)) };
      this.store.addRecentRoom({ server: this.env.origin, room: args.room, scene: args.scene, lastJoinedMs: started });
      // A device switched on or off while entering goes out (or stops) now.
      await this.publishLocal();
      return { enterRoomMs: Date.now() - started, users: entered.users, userId: entered.userId, room: entered.room };
    } catch (e) {
      if (this.session === session) this.session = null;
      const err = toBackendError(e);
      if (session.cancelled) {
        this.state = 'left';
        throw err;
      }
      this.state = 'error';
      this.error = { code: err.code ?? null, message: err.message };
      throw err;
    }
  }

  /** Leaves the room; while still entering (waiting in the lobby) it gives up, and joinRoom rejects. */
  async leaveRoom(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = null;
    if (!session.entered) {
      await session.exit();
      this.state = 'left';
      return;
    }
    await session.exit();
    this.state = 'left';
    this.afterCall();
    queueMicrotask(() => this.emit({ type: 'exit_room', reason: 'left' }));
  }

  /** The page is closing: leave at once so the others see it now, not 90 s later. */
  leaveNow(): void {
    this.session?.exitNow();
  }

  private ended(session: Session, reason: string, error: { code: number | null; message: string }): void {
    if (this.session !== session) return;
    this.session = null;
    this.state = 'error';
    this.error = error;
    if (!session.entered) return; // joinRoom is rejecting with it
    this.afterCall();
    // Taken out by the server (removed by the host, the meeting ended, …): exit_room says why,
    // as the app's does. A lost connection is an error first.
    if (reason === 'removed' && error.code != null) {
      this.emit({ type: 'exit_room', reason, code: error.code, message: error.message });
      return;
    }
    this.emit({ type: 'error', code: error.code, message: error.message });
    this.emit({ type: 'exit_room', reason });
  }

  private afterCall(): void {
    if (this.call) {
      const { args, startedMs, met } = this.call;
      this.store.addCall({ room: args.room, startedMs, durationS: (Date.now() - startedMs) / 1000, participants: [...met] });
    }
    this.call = null;
    this.playout.clear();
    this.media.closeAll();
  }

  private fromSession(e: RoomEvent): void {
    if (e.type === 'user_enter') this.call?.met.add(e.userId);
    if (e.type === 'chat') this.chat.push({ from: e.userId, text: e.text });
    // The host turned it off: the session stopped sending it; the device goes off too, as when
    // I turn it off myself (the server has already told the room).
    if (e.type === 'muted_by_host') void this.media.set(e.kind === 'audio' ? 'microphone' : 'camera', false);
    this.emit(e);
    // As the app does: an anchor letting me speak puts me on stage, microphone and camera on.
    if (e.type === 'speak_request_answered' && e.accept && this.session?.role === 'audience') {
      this.goOnStage().catch((err) => this.emit({ type: 'error', code: null, message: toBackendError(err).message }));
    }
  }

  private sessionEnv(): SessionEnv {
    return {
      wsUrl: this.env.wsUrl,
      connect: this.env.connect,
      createPeerConnection: this.env.createPeerConnection,
      videoBitrate: (stream) => (stream === 'main' ? this.settings.bitrateKbps * 1000 : 2_500_000),
      cameraWidth: () => cameraWidth(this.settings),
    };
  }

  private inRoom(): Session {
    if (!this.session?.entered) throw { kind: 'not_in_room', message: TEXT.notInRoom } satisfies BackendError;
    return this.session;
  }

  /** Sends what my devices have now on every line (after entering, switching, restarting). */
  private async publishLocal(): Promise<void> {
    const s = this.session;
    if (!s?.entered || s.role !== 'anchor') return;
    const audioOnly = this.call ? isAudioOnlyScene(this.call.args.scene) : false;
    await s.publish('audio', 'main', this.media.tracks.microphone);
    if (!audioOnly) await s.publish('video', 'main', this.media.tracks.camera);
    if (!audioOnly) await s.publish('video', 'sub', this.media.tracks.screen);
  }

  // --- my devices ------------------------------------------------------------------------------

  setMicrophone = (on: boolean): Promise<void> => this.setDevice('microphone', on);
  setCamera = (on: boolean): Promise<void> => this.setDevice('camera', on);

  private async setDevice(d: 'microphone' | 'camera', on: boolean): Promise<void> {
    const s = this.session;
    const kind: MediaKind = d === 'microphone' ? 'audio' : 'video';
    if (on && s?.entered && s.role !== 'anchor') throw { kind: 'unsupported', message: TEXT.audienceCannotPublish } satisfies BackendError;
    if (on && s?.entered && s.locked.has(kind)) throw lockedError(kind);
    const track = await this.media.set(d, on);
    if (track && !this.devicesNamed) {
      this.devicesNamed = true;
      this.listDevices().then((devices) => this.emit({ type: 'devices_changed', devices }), () => {});
    }
    if (s?.entered && s === this.session) await s.publish(kind, 'main', track);
    if (!s) this.updateLevel();
  }

  listScreenSources = (): Promise<ScreenSource[]> =>
    Promise.resolve([{ id: BROWSER_SCREEN_SOURCE, kind: 'screen', title: TEXT.screenSource, thumbnail: '' }]);

  startScreenShare = async (_sourceId: string): Promise<void> => {
    const s = this.inRoom();
    const track = await this.media.startScreen();
    try {
      await s.publish('video', 'sub', track);
    } catch (e) {
      this.media.close('screen');
      throw e;
    }
  };

  stopScreenShare = async (): Promise<void> => {
    await this.session?.publish('video', 'sub', null);
    this.media.close('screen');
  };

  private localChanged(s: LocalSource): void {
    if (s === 'microphone') this.updateLevel();
    else this.views.changed('', s === 'screen' ? 'sub' : 'main');
  }

  private localEnded(s: LocalSource): void {
    const kind: MediaKind = s === 'microphone' ? 'audio' : 'video';
    const stream: StreamKind = s === 'screen' ? 'sub' : 'main';
    this.session?.publish(kind, stream, null).catch(() => {});
    if (kind === 'video') this.emit({ type: 'local_video_ended', stream });
  }

  // --- roles and speaking ----------------------------------------------------------------------

  switchRole = async (role: Role): Promise<void> => {
    const s = this.inRoom();
    await s.switchRole(role);
    if (role === 'audience') this.media.closeAll();
    this.emit({ type: 'role_changed', role });
  };

  /** An accepted invitation or request: anchor, then microphone and (outside audio scenes) camera on. */
  private async goOnStage(): Promise<void> {
    await this.switchRole('anchor');
    const audioOnly = this.call ? isAudioOnlyScene(this.call.args.scene) : false;
    const errors: string[] = [];
    await this.media.set('microphone', true).catch((e) => errors.push(toBackendError(e).message));
    if (!audioOnly) await this.media.set('camera', true).catch((e) => errors.push(toBackendError(e).message));
    await this.publishLocal();
    for (const message of errors) this.emit({ type: 'error', code: null, message });
  }

  inviteToSpeak = async (userId: string): Promise<void> => this.inRoom().request({ type: 'invite_to_speak', user_id: userId });
  requestToSpeak = async (): Promise<void> => this.inRoom().request({ type: 'request_to_speak' });
  answerRequest = async (userId: string, accept: boolean): Promise<void> =>
    this.inRoom().request({ type: 'answer_request', user_id: userId, accept });
  answerInvite = async (accept: boolean): Promise<void> => {
    await this.inRoom().request({ type: 'answer_invite', accept });
    if (accept) await this.goOnStage();
  };

  // --- meetings: chat, reactions, hands, and the host's controls (the server decides who may) ---

  sendChat = async (text: string): Promise<void> => {
    const line = text.trim();
    if (!line) return;
    const bytes = utf8Bytes(line);
    if (bytes > CHAT_MAX_BYTES) throw { kind: 'input', message: TEXT.chatTooLong(bytes, CHAT_MAX_BYTES) } satisfies BackendError;
    await this.sendMeeting({ t: 'chat', text: line });
  };

  sendReaction = async (emoji: string): Promise<void> => {
    if (!emoji || utf8Bytes(emoji) > REACTION_MAX_BYTES) throw { kind: 'input', message: TEXT.pickOneEmoji } satisfies BackendError;
    await this.sendMeeting({ t: 'reaction', emoji });
  };

  private sendMeeting(m: MeetingMessage): Promise<void> {
    return this.inRoom().request({ type: 'send_custom', cmd_id: MEETING_CMD_ID, data: encodeMeeting(m) });
  }

  raiseHand = async (up: boolean): Promise<void> => this.inRoom().request({ type: 'raise_hand', up });
  muteUser = async (userId: string | null, kind: MediaKind, lock: boolean): Promise<void> =>
    this.inRoom().request({ type: 'mute', ...(userId ? { user_id: userId } : {}), kind, lock });
  unlockUser = async (userId: string | null, kind: MediaKind): Promise<void> =>
    this.inRoom().request({ type: 'unlock', ...(userId ? { user_id: userId } : {}), kind });
  removeUser = async (userId: string): Promise<void> => this.inRoom().request({ type: 'remove_user', user_id: userId });
  setRoomOptions = async (options: RoomOptions): Promise<void> =>
    this.inRoom().request({ type: 'set_room_options', options: toWireOptions(options) });
  endMeeting = async (): Promise<void> => this.inRoom().request({ type: 'end_meeting' });
  admit = async (userId: string, accept: boolean): Promise<void> => this.inRoom().request({ type: 'admit', user_id: userId, accept });

  /** Invites are signed with the app's key, which only the hosting app (or `roomcast invite`) holds. */
  createInvite = (_request: InviteRequest): Promise<string> => unsupported(TEXT.inviteUnsupported);

  /**
   * The invite link this page was opened with (`…/#invite=v1.…`), once: the fragment then leaves
   * the address bar, so that a reload or a copied address does not carry the grant along.
   */
  pendingInvite = (): Promise<string | null> => {
    const loc = this.env.location;
    if (this.inviteTaken || !loc) return Promise.resolve(null);
    this.inviteTaken = true;
    const grant = new URLSearchParams(loc.hash.replace(/^#/, '')).get('invite');
    if (!grant) return Promise.resolve(null);
    try {
      this.env.history?.replaceState(this.env.history.state, '', loc.pathname + loc.search);
    } catch {
      /* a sandboxed page: the fragment stays, nothing else changes */
    }
    return Promise.resolve(`${loc.origin}${loc.pathname}#invite=${grant}`);
  };

  // --- video views -----------------------------------------------------------------------------

  mediaStream(userId: string, stream: StreamKind, show: (s: MediaStream | null) => void): () => void {
    return this.views.watch(userId, stream, show);
  }

  /** Frames are for backends that decode themselves; the page plays MediaStreams instead. */
  setView = (_view: unknown, _sink: FrameSink): Promise<void> => Promise.resolve();
  stopView = (): Promise<void> => Promise.resolve();

  private remoteTrack(userId: string, kind: MediaKind, stream: StreamKind, track: MediaStreamTrack | null): void {
    if (kind === 'audio') this.playout.set(userId, stream, track);
    else this.views.changed(userId, stream);
  }

  setUserVolume = (userId: string, volume: number): Promise<void> => {
    this.playout.setVolume(userId, volume);
    return Promise.resolve();
  };

  /** The server forwards that layer of their camera on the same receive line: the tile's stream stays. */
  setRemoteVideoStreamType = async (userId: string, type: VideoStreamType): Promise<void> =>
    this.inRoom().setRemoteVideoStreamType(userId, type);

  // --- the pre-join microphone level -----------------------------------------------------------

  private updateLevel(): void {
    if (this.session || !this.media.tracks.microphone || this.handlers.size === 0) return this.stopLevel();
    this.levelTimer ??= setInterval(() => {
      const level = this.level.read(this.media.tracks.microphone);
      this.emit({ type: 'volumes', volumes: [{ userId: '', volume: volumeOf(level) }] });
    }, VOLUME_INTERVAL_MS);
  }

  private stopLevel(): void {
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
    this.level.close();
  }

  // --- devices and settings --------------------------------------------------------------------

  async listDevices(): Promise<DeviceList> {
    return toDeviceList((await this.env.mediaDevices?.enumerateDevices?.()) ?? []);
  }

  getSettings = (): Promise<Settings> => Promise.resolve({ ...this.settings });

  async saveSettings(next: Settings): Promise<void> {
    const before = this.settings;
    this.store.saveSettings(next);
    this.settings = { ...next };
    if (next.speaker !== before.speaker) this.playout.setSink(next.speaker);
    const camera = next.camera !== before.camera || next.resolution !== before.resolution || next.fps !== before.fps;
    if (camera) await this.restart('camera');
    if (next.microphone !== before.microphone) await this.restart('microphone');
  }

  private async restart(d: 'camera' | 'microphone'): Promise<void> {
    const track = await this.media.restart(d);
    const s = this.session;
    if (track && s?.entered && s.role === 'anchor') await s.publish(d === 'camera' ? 'video' : 'audio', 'main', track);
  }

  testSpeaker = async (): Promise<string> => {
    await playTestTone(this.env.document, this.settings.speaker).catch((e: unknown) => {
      throw { kind: 'device', message: e instanceof Error ? e.message : String(e) } satisfies BackendError;
    });
    const devices = await this.listDevices().catch(() => null);
    const chosen = devices?.speakers.find((d) => d.id === this.settings.speaker) ?? devices?.speakers.find((d) => d.isDefault);
    return chosen?.name ?? TEXT.defaultSpeaker;
  };

  recentRooms = (): Promise<RecentRoom[]> => Promise.resolve(this.store.recentRooms());
  callHistory = (): Promise<CallRecord[]> => Promise.resolve(this.store.callHistory());
  storeNotice = (): Promise<string | null> => Promise.resolve(null);

  // --- audio effects: what the browser's own processing offers ---------------------------------

  getAudioEffects = (): Promise<AudioEffects> => Promise.resolve({ ...this.effects });

  async setAudioEffects(fx: AudioEffects): Promise<void> {
    if (!browserAudioEffectsOnly(fx, DEFAULT_AUDIO_EFFECTS)) return unsupported(TEXT.audioEffectsUnsupported);
    this.store.saveAudioEffects(fx);
    this.effects = { ...fx };
    await this.restart('microphone');
  }

  hostMeeting = (): Promise<HostInfo> => unsupported(TEXT.hostingUnsupported);
  stopHosting = (): Promise<void> => unsupported(TEXT.hostingUnsupported);
  loadMusic = (_file: File, _publish: boolean): Promise<MusicState> => unsupported(TEXT.musicUnsupported);
  musicControl = (): Promise<void> => unsupported(TEXT.musicUnsupported);
  seekMusic = (): Promise<void> => unsupported(TEXT.musicUnsupported);
  setMusicVolume = (): Promise<void> => unsupported(TEXT.musicUnsupported);
  playSoundEffect = (): Promise<void> => unsupported(TEXT.soundEffectsUnsupported);
  // The page publishes what the browser captured, unprocessed (only Settings.mirror applies).
  getVideoEffects = (): Promise<VideoEffects> => unsupported(TEXT.videoEffectsUnsupported);
  setVideoEffects = (_effects: VideoEffects): Promise<void> => unsupported(TEXT.videoEffectsUnsupported);
  listVideoFilters = (): Promise<VideoFilter[]> => unsupported(TEXT.videoEffectsUnsupported);
  importVideoFilter = (_file: File): Promise<VideoFilter> => unsupported(TEXT.videoEffectsUnsupported);
  importBackground = (_file: File): Promise<string> => unsupported(TEXT.videoEffectsUnsupported);

  // --- events ----------------------------------------------------------------------------------

  onRoomEvent(handler: (e: RoomEvent) => void): Promise<() => void> {
    this.handlers.add(handler);
    this.updateLevel();
    return Promise.resolve(() => {
      this.handlers.delete(handler);
      // Outside a room the devices serve the pre-join check: nobody listening, nobody checking.
      if (this.handlers.size === 0 && !this.session) this.media.closeAll();
      this.updateLevel();
    });
  }

  private emit(e: RoomEvent): void {
    for (const h of [...this.handlers]) h(e);
  }

  // --- for window.roomcast ---------------------------------------------------------------------

  users(): RemoteUser[] {
    return this.session ? [...this.session.roster.values()].map((u) => ({ ...u })) : [];
  }

  stats(): Promise<Stats | null> {
    return this.session?.stats() ?? Promise.resolve(null);
  }
}
