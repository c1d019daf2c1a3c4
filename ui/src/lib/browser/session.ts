/**
 * One visit to a room with the browser's own WebRTC: the signaling socket and one peer
 * connection to the server, on which this page is always the offerer (docs/PROTOCOL.md).
 * Publishing adds send-only m-lines, subscribing receive-only ones, and every `negotiate`
 * lists them all by mid.
 */
import type { BackendError, JoinArgs, RemoteUser, Role, RoomEvent, RoomView, StreamKind, VideoStreamType } from '../backend';
import {
  applyToRoster,
  asBackendError,
  enterRequest,
  SignalError,
  toRemoteUser,
  toRoomEvents,
  toRoomView,
  type MediaKind,
  type Reply,
  type Request,
  type ServerEvent,
  type WireEntered,
} from './protocol';
import { applyLayers, iceGatheringDone, preferCodecs, simulcastEncodings, type LayerDemand } from './rtc';
import { Signaling, type SocketFactory } from './signaling';
import { MediaMonitor, readStats, type Stats } from './stats';
import { TEXT } from './strings';
import { TrackTable } from './tracks';

export const PING_INTERVAL_MS = 10_000;
export const VOLUME_INTERVAL_MS = 300;
/**
 * The media connection disconnected this long (or failed): restart ICE, as after a network
 * change (Wi-Fi to Ethernet). Browsers call a pair disconnected after ~5 s without answers
 * and do not restart by themselves; the room, DTLS and every m-line stay.
 */
export const ICE_RESTART_AFTER_MS = 2_000;
/** network_quality every 2 s = every this many volume ticks. */
const QUALITY_EVERY = Math.round(2000 / VOLUME_INTERVAL_MS);

/** What the session tells the backend that owns it. */
export interface SessionHost {
  emit(e: RoomEvent): void;
  /** A remote track appeared (or went: null) for this user's stream. */
  remoteTrack(userId: string, kind: MediaKind, stream: StreamKind, track: MediaStreamTrack | null): void;
  /** The session is over without leaveRoom: removed by the server, or the connection was lost. */
  ended(reason: string, error: { code: number | null; message: string }): void;
}

export interface SessionEnv {
  wsUrl: string;
  connect: SocketFactory;
  createPeerConnection: () => RTCPeerConnection;
  /** Max bitrate for a published video stream, in bits per second. */
  videoBitrate: (stream: StreamKind) => number;
  /**
   * The camera's width as asked for, when its track does not say (the small simulcast layer is
   * scaled from it). Default 1280.
   */
  cameraWidth?: () => number;
}

/** What enter_room answered (or `admitted`, after the lobby). */
export interface Entered {
  userId: string;
  roomId: number | string;
  role: Role;
  users: RemoteUser[];
  room: RoomView;
}

interface Deferred<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export class Session {
  readonly roster = new Map<string, RemoteUser>();
  readonly table = new TrackTable<RTCRtpTransceiver>();
  role: Role = 'anchor';
  entered: Entered | null = null;
  private signal: Signaling;
  private pc: RTCPeerConnection | null = null;
  private negotiating: Promise<void> | null = null;
  private negotiateAgain = false;
  private readonly available = new Set<string>();
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly monitor = new MediaMonitor();
  private ticks = 0;
  private lost = false;
  /** A pending ICE restart while the connection is disconnected. */
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  /** enter_room was answered `waiting`: the host has not let me in yet. */
  private lobby: Deferred<WireEntered> | null = null;
  /** What the host turned off and locked: turning it on again is refused until `unlocked`. */
  readonly locked = new Set<MediaKind>();
  /** Which layers of my camera anyone receives (`layer_demand`): both until the server says. */
  readonly demand: LayerDemand = { big: true, small: true };
  /** setParameters one at a time (a second one during the first is refused). */
  private layering: Promise<void> = Promise.resolve();
  closed = false;
  /** leaveRoom while entering (e.g. waiting in the lobby). */
  cancelled = false;

  constructor(
    private readonly args: JoinArgs,
    private readonly env: SessionEnv,
    private readonly host: SessionHost,
  ) {
    this.signal = new Signaling(env.wsUrl, env.connect, (m) => this.onServerEvent(m), (why) =>
      this.end('connection_lost', { code: null, message: why }),
    );
  }

  /**
   * Enters the room, subscribes to what is already published, and publishes `tracks` (the
   * local microphone and camera, when on). Rejects with a BackendError (the server's code kept).
   */
  async enter(tracks: { audio: MediaStreamTrack | null; video: MediaStreamTrack | null }): Promise<Entered> {
    try {
      return await this.enterOnce(tracks);
    } catch (e) {
      this.teardown();
      // Given up (leaveRoom) while connecting or waiting: say so, whatever the socket said.
      throw this.cancelled ? ({ kind: 'input', message: TEXT.joinCancelled } satisfies BackendError) : asBackendError(e);
    }
  }

  private async enterOnce(tracks: { audio: MediaStreamTrack | null; video: MediaStreamTrack | null }): Promise<Entered> {
    const enter = enterRequest(this.args);
    if (!enter) throw { kind: 'input', message: TEXT.inviteUnreadable } satisfies BackendError;
    await this.signal.open();
    const reply = await this.signal.request<Extract<Reply, { type: 'entered' | 'waiting' }>>(enter);
    let r: WireEntered = reply as WireEntered;
    if (reply.type === 'waiting') {
      const admitted = new Promise<WireEntered>((resolve, reject) => (this.lobby = { resolve, reject }));
      this.host.emit({ type: 'waiting_in_lobby' });
      r = await admitted;
    }
    if (this.closed || this.cancelled) throw new SignalError(null, TEXT.connectionLost);
    this.role = r.role;
    this.entered = {
      userId: r.user_id,
      roomId: r.room_id,
      role: r.role,
      users: r.users.map(toRemoteUser),
      room: toRoomView(r.room),
    };
    this.timers.push(setInterval(() => this.signal.request({ type: 'ping' }).catch(() => {}), PING_INTERVAL_MS));

    const pc = this.env.createPeerConnection();
    this.pc = pc;
    pc.onconnectionstatechange = () => this.connectionChanged(pc.connectionState);
    for (const u of this.entered.users) this.roster.set(u.userId, { ...u });
    for (const u of this.entered.users) {
      if (u.audio) this.subscribe(u.userId, 'audio', 'main');
      if (u.video) this.subscribe(u.userId, 'video', 'main');
      if (u.subVideo) this.subscribe(u.userId, 'video', 'sub');
    }
    const publishing: MediaKind[] = [];
    if (this.role === 'anchor') {
      if (tracks.audio) publishing.push(this.addPublisher('audio', 'main', tracks.audio));
      if (tracks.video) publishing.push(this.addPublisher('video', 'main', tracks.video));
    }
    if (pc.getTransceivers().length > 0) await this.negotiate();
    if (publishing.includes('video')) await this.applyLayers();
    for (const kind of publishing) await this.setAvailable(kind, 'main', true);
    this.timers.push(setInterval(() => void this.tick(), VOLUME_INTERVAL_MS));
    return this.entered;
  }

  // --- publishing ------------------------------------------------------------------------------

  /**
   * Sends `track` on my line for this stream (null: stop sending), telling the room. Like every
   * public method here it rejects with a BackendError.
   */
  publish(kind: MediaKind, stream: StreamKind, track: MediaStreamTrack | null): Promise<void> {
    return this.publishOnce(kind, stream, track).catch((e: unknown) => {
      throw asBackendError(e);
    });
  }

  private async publishOnce(kind: MediaKind, stream: StreamKind, track: MediaStreamTrack | null): Promise<void> {
    if (this.closed || !this.pc) return;
    const t = this.table.publisher(kind, stream);
    if (track) {
      if (this.role !== 'anchor') throw { kind: 'unsupported', message: TEXT.audienceCannotPublish };
      if (stream === 'main' && this.locked.has(kind)) throw lockedError(kind);
      if (!t) {
        this.addPublisher(kind, stream, track);
        await this.negotiate();
      } else {
        await t.sender.replaceTrack(track);
        if (t.direction !== 'sendonly') {
          t.direction = 'sendonly';
          await this.negotiate();
        }
      }
      // The camera's layers as the server asks, the small one scaled from this track's size.
      if (kind === 'video' && stream === 'main') await this.applyLayers();
      await this.setAvailable(kind, stream, true);
    } else if (t) {
      await t.sender.replaceTrack(null);
      if (this.role === 'anchor') await this.setAvailable(kind, stream, false);
    }
  }

  private addPublisher(kind: MediaKind, stream: StreamKind, track: MediaStreamTrack): MediaKind {
    const pc = this.pc!;
    const maxBitrate = this.env.videoBitrate(stream);
    let t: RTCRtpTransceiver | null = null;
    if (kind === 'video' && stream === 'main') {
      // The camera goes out twice (simulcast): big (RID h) and a small copy (RID l). A browser
      // that refuses gets one encoding; the server then forwards it whatever layer is asked.
      try {
        t = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: simulcastEncodings(maxBitrate, this.widthOf(track)) });
      } catch (e) {
        console.warn('simulcast refused, sending one encoding:', e);
      }
    }
    t ??= pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: kind === 'video' ? [{ maxBitrate }] : undefined });
    preferCodecs(t, kind);
    this.table.addPublisher(t, kind, stream);
    return kind;
  }

  /** A camera track's width: what it delivers, else what was asked for. */
  private widthOf(track: MediaStreamTrack): number {
    const width = typeof track.getSettings === 'function' ? track.getSettings().width : undefined;
    return width && width > 0 ? width : (this.env.cameraWidth?.() ?? 1280);
  }

  /**
   * Turns my camera's layers on and off as `demand` says (and keeps the small one 320 wide);
   * nothing for a camera sent without simulcast. A browser refusing is only logged: the
   * layers then stay as they were.
   */
  private applyLayers(): Promise<void> {
    this.layering = this.layering
      .then(async () => {
        const sender = this.table.publisher('video', 'main')?.sender;
        if (!sender || this.closed || typeof sender.getParameters !== 'function') return;
        const params = sender.getParameters();
        const width = sender.track ? this.widthOf(sender.track) : null;
        if (params.encodings && applyLayers(params.encodings, this.demand, width)) await sender.setParameters(params);
      })
      .catch((e: unknown) => console.warn('simulcast layers:', e));
    return this.layering;
  }

  private async setAvailable(kind: MediaKind, stream: StreamKind, available: boolean): Promise<void> {
    const key = `${kind}/${stream}`;
    if (this.available.has(key) === available) return;
    await this.signal.request({ type: 'set_available', kind, stream, available });
    if (available) this.available.add(key);
    else this.available.delete(key);
  }

  /** Switches role; going to the audience parks every line I publish on. */
  async switchRole(role: Role): Promise<void> {
    await this.request({ type: 'switch_role', role });
    this.role = role;
    if (role === 'audience') {
      for (const t of this.table.publishers()) {
        await t.sender.replaceTrack(null);
        t.direction = 'inactive';
      }
      this.available.clear();
      if (this.table.publishers().length) this.renegotiate();
    }
  }

  /**
   * The host turned my microphone or camera off (the server already told the room): stop
   * sending it. The owner closes the device; with `locked` it stays off until `unlocked`.
   */
  private async mutedByHost(kind: MediaKind, locked: boolean): Promise<void> {
    if (locked) this.locked.add(kind);
    this.available.delete(`${kind}/main`);
    await this.table.publisher(kind, 'main')?.sender.replaceTrack(null);
  }

  /** Which layer of this user's camera to receive (`set_remote_video_stream_type`). */
  setRemoteVideoStreamType(userId: string, type: VideoStreamType): Promise<void> {
    return this.request({ type: 'set_remote_video_stream_type', user_id: userId, stream_type: type });
  }

  request(req: Request): Promise<void> {
    return this.signal.request(req).then(
      () => undefined,
      (e: unknown) => {
        throw asBackendError(e);
      },
    );
  }

  // --- subscribing -----------------------------------------------------------------------------

  private subscribe(userId: string, kind: MediaKind, stream: StreamKind): boolean {
    const pc = this.pc;
    if (!pc) return false;
    const t = this.table.subscribe(userId, kind, stream, (k) => {
      const created = pc.addTransceiver(k, { direction: 'recvonly' });
      preferCodecs(created, k);
      return created;
    });
    if (!t) return false;
    this.host.remoteTrack(userId, kind, stream, t.receiver.track);
    return true;
  }

  private unsubscribeUser(userId: string): void {
    for (const t of this.table.unsubscribeUser(userId)) {
      if (t.mid != null) this.signal.request({ type: 'unsubscribe', mid: t.mid }).catch(() => {});
    }
    for (const [kind, stream] of [['audio', 'main'], ['audio', 'sub'], ['video', 'main'], ['video', 'sub']] as const) {
      this.host.remoteTrack(userId, kind, stream, null);
    }
    this.monitor.forget(userId);
  }

  remoteTrack(userId: string, kind: MediaKind, stream: StreamKind): MediaStreamTrack | null {
    return this.table.received(userId, kind, stream)?.receiver.track ?? null;
  }

  // --- negotiation -----------------------------------------------------------------------------

  /** One offer/answer round; a request during a round queues exactly one more. */
  negotiate(): Promise<void> {
    if (this.negotiating) {
      this.negotiateAgain = true;
      return this.negotiating;
    }
    this.negotiating = (async () => {
      try {
        do {
          this.negotiateAgain = false;
          await this.negotiateOnce();
        } while (this.negotiateAgain && !this.closed);
      } finally {
        this.negotiating = null;
      }
    })();
    return this.negotiating;
  }

  private async negotiateOnce(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed) return;
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc);
    const tracks = this.table.describe(pc.getTransceivers());
    let reply: Extract<Reply, { type: 'answer' }>;
    try {
      reply = await this.signal.request({ type: 'negotiate', sdp: pc.localDescription!.sdp, tracks });
    } catch (e) {
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      throw e;
    }
    if (!this.closed) await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
  }

  private renegotiate(): void {
    this.negotiate().catch((e: unknown) => {
      if (this.closed) return;
      const detail = e instanceof SignalError ? e.detail : e instanceof Error ? e.message : String(e);
      this.host.emit({ type: 'error', code: e instanceof SignalError ? e.code : null, message: TEXT.negotiationFailed(detail) });
    });
  }

  // --- the server's events ---------------------------------------------------------------------

  private onServerEvent(m: ServerEvent): void {
    if (this.closed) return;
    if (m.type === 'removed') {
      this.end('removed', { code: m.code, message: m.message });
      return;
    }
    if (m.type === 'admitted') {
      if (this.cancelled) return; // leaving: too late
      const lobby = this.lobby;
      this.lobby = null;
      lobby?.resolve(m);
      return;
    }
    if (m.type === 'layer_demand') {
      this.demand.big = m.big;
      this.demand.small = m.small;
      void this.applyLayers();
      return;
    }
    // Before the UI hears it, so that turning the device on again finds it locked.
    if (m.type === 'muted') void this.mutedByHost(m.kind, m.locked).catch(() => {});
    if (m.type === 'unlocked') this.locked.delete(m.kind);
    if (m.type === 'address_changed') this.restartIce();
    applyToRoster(this.roster, m);
    if (m.type === 'user_leave') this.unsubscribeUser(m.user_id);
    // Subscribe before telling the UI, so that a tile asking for the stream finds its track.
    if (m.type === 'stream_available' && m.available && this.subscribe(m.user_id, m.kind, m.stream)) this.renegotiate();
    for (const e of toRoomEvents(m, Date.now())) this.host.emit(e);
  }

  private connectionChanged(state: RTCPeerConnectionState): void {
    if (this.closed) return;
    if ((state === 'disconnected' || state === 'failed') && !this.lost) {
      this.lost = true;
      this.host.emit({ type: 'connection_lost' });
    } else if (state === 'connected' && this.lost) {
      this.lost = false;
      this.host.emit({ type: 'connection_recovered' });
    }
    if (state === 'failed') this.restartIce();
    else if (state === 'disconnected') this.restartTimer ??= setTimeout(() => this.restartIce(), ICE_RESTART_AFTER_MS);
    else this.cancelRestart();
  }

  /** New ICE credentials in the next offer (the signaling connection is still up). */
  restartIce(): void {
    this.cancelRestart();
    const pc = this.pc;
    if (!pc || this.closed) return;
    pc.restartIce();
    this.renegotiate();
  }

  /** The ICE username fragment of my current offer (changes with each ICE restart). */
  iceUfrag(): string | null {
    return /a=ice-ufrag:(\S+)/.exec(this.pc?.localDescription?.sdp ?? '')?.[1] ?? null;
  }

  private cancelRestart(): void {
    if (this.restartTimer != null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  // --- measuring -------------------------------------------------------------------------------

  async stats(): Promise<Stats | null> {
    const pc = this.pc;
    if (!pc || this.closed) return null;
    const byMid = new Map<string, RTCRtpTransceiver>();
    for (const t of pc.getTransceivers()) if (t.mid != null) byMid.set(t.mid, t);
    const report = await pc.getStats();
    return readStats(
      report.values() as Iterable<Record<string, unknown>>,
      (mid) => {
        const t = mid != null ? byMid.get(mid) : undefined;
        if (!t) return null;
        return this.table.lineOf(t) ?? (t.direction === 'inactive' ? 'freed' : null);
      },
      pc.connectionState,
    );
  }

  private async tick(): Promise<void> {
    const s = await this.stats().catch(() => null);
    if (!s || this.closed) return;
    const micOn = !!this.table.publisher('audio', 'main')?.sender.track && this.role === 'anchor';
    this.host.emit(this.monitor.volumes(s, micOn));
    for (const e of this.monitor.firstFrames(s)) this.host.emit(e);
    if (++this.ticks % QUALITY_EVERY === 0) this.host.emit(this.monitor.quality(s));
  }

  // --- leaving ---------------------------------------------------------------------------------

  /**
   * Leaves the room (best effort: the server also notices a closed socket). While still
   * entering it gives up: the socket closes and `enter` rejects. From the lobby it says
   * exit_room first, since the server forgets a closed socket's place in the lobby only then
   * (the host would go on seeing me wait).
   */
  async exit(): Promise<void> {
    if (this.closed) return;
    if (!this.entered) {
      this.cancelled = true;
      if (this.lobby) await this.signal.request({ type: 'exit_room' }).catch(() => {});
      this.teardown({ kind: 'input', message: TEXT.joinCancelled });
      return;
    }
    await this.signal.request({ type: 'exit_room' }).catch(() => {});
    this.teardown();
  }

  /** The page is going away: no time to wait for an answer. */
  exitNow(): void {
    if (this.closed) return;
    this.signal.sendNow({ type: 'exit_room' });
    this.teardown();
  }

  private end(reason: string, error: { code: number | null; message: string }): void {
    if (this.closed) return;
    this.teardown(new SignalError(error.code, error.message));
    this.host.ended(reason, error);
  }

  /** `why`: what a wait in the lobby rejects with. */
  private teardown(why: unknown = new SignalError(null, TEXT.connectionLost)): void {
    this.closed = true;
    const lobby = this.lobby;
    this.lobby = null;
    lobby?.reject(why);
    this.timers.forEach(clearInterval);
    this.timers = [];
    this.cancelRestart();
    for (const [line] of this.table.receivers()) this.host.remoteTrack(line.userId, line.kind, line.stream, null);
    this.pc?.close();
    this.signal.close();
  }
}

/** Turning on what the host locked: refused here as the server would (3013 MutedByHost). */
export function lockedError(kind: MediaKind): BackendError {
  return { kind: 'server', code: MUTED_BY_HOST, message: TEXT.lockedByHost(kind === 'audio' ? 'microphone' : 'camera') };
}

/** The server's code for a stream the host turned off and locked. */
export const MUTED_BY_HOST = 3013;
