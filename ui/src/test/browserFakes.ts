/**
 * Fakes of the browser's edges for the browser backend's tests: a WebSocket wired to a
 * scripted room server, and a peer connection that only does the offer/answer bookkeeping.
 */
import type { SocketLike } from '../lib/browser/signaling';

type Json = Record<string, unknown>;

/** A room server behind a fake WebSocket: answers every request, records them, pushes events. */
export class FakeServer {
  readonly sent: Json[] = [];
  socket: FakeSocket | null = null;
  /** What enter_room answers (an `error` reply when `refuse` is set). */
  users: Json[] = [];
  role = 'anchor';
  refuse: { code: number; message: string } | null = null;
  /** The meeting has a lobby: enter_room is answered `waiting` until `admit()`. */
  lobby = false;
  /** The room view entered / admitted carry. */
  room: Json = { locked: false, lobby: false, passcode: false, host: 'host' };
  /** Do not open: the connection fails. */
  unreachable = false;

  connect = (url: string): SocketLike => {
    this.socket = new FakeSocket(url, this);
    return this.socket;
  };

  of(type: string): Json[] {
    return this.sent.filter((m) => m.type === type);
  }

  /** An event from the server. */
  push(m: Json): void {
    this.socket?.deliver(m);
  }

  /** The host lets the one waiting in the lobby in. */
  admit(): void {
    const enter = this.of('enter_room').at(-1)!;
    this.push({ type: 'admitted', room_id: enter.room_id, user_id: enter.user_id, role: this.role, users: this.users, room: this.room });
  }

  answer(m: Json): Json {
    const id = m.id;
    if (m.type === 'enter_room') {
      if (this.refuse) return { type: 'error', id, ...this.refuse };
      if (this.lobby) return { type: 'waiting', id };
      return { type: 'entered', id, room_id: m.room_id, user_id: m.user_id, role: this.role, users: this.users, room: this.room };
    }
    if (m.type === 'negotiate') return { type: 'answer', id, sdp: `v=0 answer to ${(m.tracks as unknown[]).length} tracks` };
    return { type: 'ok', id };
  }
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: SocketLike['onopen'] = null;
  onerror: SocketLike['onerror'] = null;
  onclose: SocketLike['onclose'] = null;
  onmessage: SocketLike['onmessage'] = null;

  constructor(
    readonly url: string,
    private readonly server: FakeServer,
  ) {
    queueMicrotask(() => {
      if (this.readyState === 3) return; // closed while connecting
      if (server.unreachable) {
        this.onerror?.(new Event('error'));
        this.closed(1006, '');
        return;
      }
      this.readyState = 1;
      this.onopen?.(new Event('open'));
    });
  }

  send(data: string): void {
    const m = JSON.parse(data) as Json;
    this.server.sent.push(m);
    const reply = this.server.answer(m);
    queueMicrotask(() => this.deliver(reply));
  }

  deliver(m: Json): void {
    if (this.readyState === 1) this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(m) }));
  }

  close(code = 1000, reason = ''): void {
    this.closed(code, reason);
  }

  /** The server went away. */
  drop(): void {
    this.closed(1006, '');
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.(new CloseEvent('close', { code, reason }));
  }
}

let trackCount = 0;

export class FakeTrack {
  readonly id = `track-${++trackCount}`;
  enabled = true;
  stopped = false;
  onended: (() => void) | null = null;
  contentHint = '';
  constructor(
    readonly kind: 'audio' | 'video',
    /** What getSettings says (a camera's size). */
    readonly settings: MediaTrackSettings = {},
  ) {}
  getSettings(): MediaTrackSettings {
    return { ...this.settings };
  }
  stop(): void {
    this.stopped = true;
  }
  clone(): FakeTrack {
    return new FakeTrack(this.kind, this.settings);
  }
}

/** What RTCRtpSender.getParameters hands out (the encodings, as addTransceiver's sendEncodings). */
export interface FakeSendParameters {
  transactionId: string;
  encodings: RTCRtpEncodingParameters[];
}

export interface FakeSender {
  track: FakeTrack | null;
  replaceTrack: (t: FakeTrack | null) => Promise<void>;
  getParameters: () => FakeSendParameters;
  /** Refused unless given what the last getParameters handed out (as browsers do). */
  setParameters: (p: FakeSendParameters) => Promise<void>;
  /** The encodings as they are now. */
  encodings: RTCRtpEncodingParameters[];
  /** Every setParameters that took. */
  readonly applied: RTCRtpEncodingParameters[][];
}

export class FakeTransceiver {
  mid: string | null = null;
  direction: RTCRtpTransceiverDirection;
  readonly sender: FakeSender;
  readonly receiver: { track: FakeTrack };

  constructor(
    kind: 'audio' | 'video',
    track: FakeTrack | null,
    direction: RTCRtpTransceiverDirection,
    sendEncodings: RTCRtpEncodingParameters[] = [],
  ) {
    this.direction = direction;
    this.receiver = { track: new FakeTrack(kind) };
    let transaction = 0;
    const sender: FakeSender = {
      track,
      encodings: sendEncodings.map((e) => ({ active: true, ...e })),
      applied: [],
      replaceTrack: async (t: FakeTrack | null) => {
        sender.track = t;
      },
      getParameters: () => ({ transactionId: String(++transaction), encodings: sender.encodings.map((e) => ({ ...e })) }),
      setParameters: async (p: FakeSendParameters) => {
        if (p.transactionId !== String(transaction)) throw new DOMException('stale parameters', 'InvalidModificationError');
        if (p.encodings.map((e) => e.rid).join() !== sender.encodings.map((e) => e.rid).join()) {
          throw new DOMException('encodings changed', 'InvalidModificationError');
        }
        sender.encodings = p.encodings.map((e) => ({ ...e }));
        sender.applied.push(sender.encodings.map((e) => ({ ...e })));
      },
    };
    this.sender = sender;
  }
}

/** Mids are handed out by setLocalDescription, as browsers do. */
export class FakePeerConnection {
  readonly transceivers: FakeTransceiver[] = [];
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  signalingState = 'stable';
  iceGatheringState = 'complete';
  connectionState: RTCPeerConnectionState = 'new';
  onconnectionstatechange: (() => void) | null = null;
  closed = false;
  stats: Json[] = [];
  /** A browser without simulcast: addTransceiver with more than one encoding throws. */
  refuseSimulcast = false;
  /** restartIce() calls; the next offer carries new credentials. */
  iceRestarts = 0;
  private restartPending = false;
  private nextMid = 0;

  addTransceiver(
    trackOrKind: FakeTrack | 'audio' | 'video',
    init: { direction: RTCRtpTransceiverDirection; sendEncodings?: RTCRtpEncodingParameters[] },
  ): FakeTransceiver {
    if (this.refuseSimulcast && (init.sendEncodings?.length ?? 0) > 1) throw new DOMException('no simulcast', 'OperationError');
    const t =
      typeof trackOrKind === 'string'
        ? new FakeTransceiver(trackOrKind, null, init.direction, init.sendEncodings)
        : new FakeTransceiver(trackOrKind.kind, trackOrKind, init.direction, init.sendEncodings);
    this.transceivers.push(t);
    return t;
  }

  getTransceivers(): FakeTransceiver[] {
    return [...this.transceivers];
  }

  async createOffer(): Promise<{ type: 'offer'; sdp: string }> {
    const restart = this.restartPending ? ' and new ICE credentials' : '';
    this.restartPending = false;
    return { type: 'offer', sdp: `v=0 offer with ${this.transceivers.length} m-lines${restart}` };
  }

  restartIce(): void {
    this.iceRestarts += 1;
    this.restartPending = true;
  }

  async setLocalDescription(d: { type: string; sdp?: string }): Promise<void> {
    if (d.type === 'rollback') {
      this.signalingState = 'stable';
      return;
    }
    for (const t of this.transceivers) if (t.mid == null) t.mid = String(this.nextMid++);
    this.localDescription = { type: d.type, sdp: d.sdp ?? '' };
    this.signalingState = 'have-local-offer';
  }

  async setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
    this.remoteDescription = d;
    this.signalingState = 'stable';
  }

  async getStats(): Promise<Map<string, Json>> {
    return new Map(this.stats.map((s) => [String(s.id), s]));
  }

  setConnectionState(s: RTCPeerConnectionState): void {
    this.connectionState = s;
    this.onconnectionstatechange?.();
  }

  addEventListener(): void {}
  removeEventListener(): void {}

  close(): void {
    this.closed = true;
  }
}

/** getUserMedia / getDisplayMedia handing out fake tracks; `deny` refuses a kind. */
export class FakeMediaDevices {
  readonly asked: MediaStreamConstraints[] = [];
  deny = new Set<'audio' | 'video' | 'display'>();
  devices: { kind: MediaDeviceKind; deviceId: string; label: string; groupId: string }[] = [];

  async getUserMedia(c: MediaStreamConstraints): Promise<MediaStream> {
    this.asked.push(c);
    const tracks: FakeTrack[] = [];
    for (const kind of ['audio', 'video'] as const) {
      if (!c[kind]) continue;
      if (this.deny.has(kind)) throw new DOMException('denied', 'NotAllowedError');
      // A camera delivers the size asked for.
      const v = c.video as MediaTrackConstraints;
      const ideal = (x: MediaTrackConstraints['width']) => (typeof x === 'object' ? (x.ideal as number | undefined) : x);
      tracks.push(kind === 'video' ? new FakeTrack(kind, { width: ideal(v.width), height: ideal(v.height) }) : new FakeTrack(kind));
    }
    return fakeStream(tracks);
  }

  async getDisplayMedia(): Promise<MediaStream> {
    if (this.deny.has('display')) throw new DOMException('cancelled', 'NotAllowedError');
    return fakeStream([new FakeTrack('video')]);
  }

  async enumerateDevices(): Promise<MediaDeviceInfo[]> {
    return this.devices as unknown as MediaDeviceInfo[];
  }
}

function fakeStream(tracks: FakeTrack[]): MediaStream {
  return {
    getTracks: () => tracks,
    getAudioTracks: () => tracks.filter((t) => t.kind === 'audio'),
    getVideoTracks: () => tracks.filter((t) => t.kind === 'video'),
  } as unknown as MediaStream;
}

/** jsdom has no MediaStream: enough of one to hold tracks. */
export function installMediaStream(): void {
  if ('MediaStream' in globalThis) return;
  class FakeMediaStream {
    constructor(readonly tracks: FakeTrack[] = []) {}
    getTracks() {
      return this.tracks;
    }
    getVideoTracks() {
      return this.tracks.filter((t) => t.kind === 'video');
    }
    getAudioTracks() {
      return this.tracks.filter((t) => t.kind === 'audio');
    }
  }
  (globalThis as Record<string, unknown>).MediaStream = FakeMediaStream;
}

/** Lets pending promise chains (and zero-delay timers) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

/** A grant as `roomcast invite` makes one (the mac is not checked here). */
export function grantFor(g: { app: number; room: number | string; role?: string; host?: boolean }): string {
  const json = JSON.stringify({ role: 'anchor', host: false, iat: 1, exp: 4_000_000_000, id: 'a1b2c3d4', ...g });
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(json)));
  return `v1.${b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}.bWFj`;
}
