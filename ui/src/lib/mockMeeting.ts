import {
  CHAT_MAX_BYTES,
  parseInviteLink,
  utf8Bytes,
  type BackendError,
  type InviteRequest,
  type JoinArgs,
  type MediaKind,
  type RemoteUser,
  type RoomEvent,
  type RoomOptions,
  type RoomView,
} from './backend';

/**
 * The meeting part of MockBackend: what the room server decides (who is host, the lobby, locks,
 * bans, passcode, invites, the chat limits) and what the Rust side reports back as events. It
 * holds state and emits events; it owns no timers, and time is a parameter, so MockBackend's
 * tests and its scripted demo drive it the same way.
 */
export interface MockMeetingOptions {
  /** The host's UserID. Left out: whoever joins through the mock (the mock host is me). */
  host?: string | null;
  /** The room's options when I join (a guest meets a lobby, a lock or a passcode). */
  options?: Partial<RoomOptions>;
  /** Where invite links point (the in-app server's LAN address). */
  url?: string;
  sdkAppId?: number;
}

const serverError = (code: number, message: string): BackendError => ({ kind: 'server', code, message });

/** TRTC's custom message limit the server enforces: 30 messages per second per user. */
const MESSAGES_PER_SECOND = 30;

function toBase64Url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class MockMeeting {
  /** My UserID once joined. */
  me = '';
  host: string | null = null;
  options: Required<RoomOptions> & { passcode: string | null };
  /** Remote users in the room (muting one changes its state here and for everyone). */
  readonly users = new Map<string, RemoteUser>();
  /** Who waits in the lobby: UserID → display name. */
  readonly lobby = new Map<string, string>();
  /** Removed by the host: cannot come back. */
  readonly banned = new Set<string>();
  /** `${userId}/${kind}` the host turned off and locked. */
  readonly locks = new Set<string>();
  myHand = false;
  /** What I said in the chat, in order. */
  readonly said: string[] = [];
  private hands = 0;
  private invites = 0;
  private chatTimes: number[] = [];
  private readonly opts: MockMeetingOptions;
  private readonly emit: (e: RoomEvent) => void;

  constructor(emit: (e: RoomEvent) => void, opts: MockMeetingOptions = {}) {
    this.emit = emit;
    this.opts = opts;
    this.options = { locked: false, lobby: false, passcode: null, ...opts.options };
  }

  view(): RoomView {
    return { locked: this.options.locked, lobby: this.options.lobby, passcode: this.options.passcode !== null, host: this.host };
  }

  get amHost(): boolean {
    return this.host !== null && this.host === this.me;
  }

  /** Entering: the server's checks, in its order; throws its refusal. Returns the room as I enter it. */
  enter(args: JoinArgs, nowMs: number): RoomView {
    const guest = this.opts.host !== undefined && this.opts.host !== args.userId;
    if (args.invite) {
      const link = parseInviteLink(`http://mock/#invite=${args.invite}`);
      if (!link) throw serverError(2004, 'the invite link is damaged, was changed, or is not for this server');
      if (link.expires * 1000 <= nowMs) throw serverError(2005, 'the invite link has expired; ask the host for a new one');
      if (link.room !== args.room) throw serverError(2006, 'the invite link is for another room');
    }
    if (this.banned.has(args.userId)) throw serverError(3006, 'the host removed this user from the meeting; they cannot come back to it');
    if (guest && this.options.locked) throw serverError(3007, 'the host locked the meeting: nobody new can enter');
    if (guest && this.options.passcode !== null && args.passcode !== this.options.passcode) {
      throw serverError(2007, "the meeting's passcode is missing or wrong");
    }
    this.me = args.userId;
    this.host = this.opts.host === undefined ? args.userId : this.opts.host;
    if (!guest && args.passcode) this.options.passcode = args.passcode;
    return this.view();
  }

  leave(): void {
    this.me = '';
    this.myHand = false;
    this.users.clear();
    this.lobby.clear();
    this.locks.clear();
  }

  /** A remote user enters (from the script, a test, or the lobby). */
  addUser(u: RemoteUser): void {
    const user = { ...u, name: u.name ?? u.userId };
    this.users.set(u.userId, user);
    this.emit({ type: 'user_enter', userId: u.userId, name: user.name });
    if (u.audio) this.emit({ type: 'audio_available', userId: u.userId, available: true });
    if (u.video) this.emit({ type: 'video_available', userId: u.userId, stream: 'main', available: true });
    if (u.hand != null) this.emit({ type: 'hand', userId: u.userId, hand: u.hand });
  }

  removeUserEntry(userId: string, reason: string): void {
    if (!this.users.delete(userId)) return;
    this.emit({ type: 'user_leave', userId, reason });
  }

  /** Someone knocks: they wait when the lobby is on, otherwise they come straight in. */
  knock(userId: string, name: string): void {
    if (!this.options.lobby) {
      this.addUser({ userId, name, role: 'anchor', audio: true, video: true, subVideo: false });
      return;
    }
    this.lobby.set(userId, name);
    if (this.amHost) this.emit({ type: 'lobby_joined', userId, name });
  }

  remoteChat(userId: string, text: string, atMs: number): void {
    if (this.users.has(userId)) this.emit({ type: 'chat', userId, text, atMs });
  }

  remoteReaction(userId: string, emoji: string): void {
    if (this.users.has(userId)) this.emit({ type: 'reaction', userId, emoji });
  }

  remoteHand(userId: string, up: boolean): void {
    const u = this.users.get(userId);
    if (!u || (u.hand != null) === up) return;
    u.hand = up ? ++this.hands : null;
    this.emit({ type: 'hand', userId, hand: u.hand });
  }

  // --- commands -------------------------------------------------------------------------------

  createInvite(r: InviteRequest, nowMs: number): string {
    const iat = Math.floor(nowMs / 1000);
    const id = `mock${++this.invites}`;
    const room = /^\d+$/.test(r.room) ? Number(r.room) : r.room;
    const grant = { app: this.opts.sdkAppId ?? 1400000000, room, role: r.role, host: r.host, iat, exp: iat + r.expiresS, id };
    const payload = toBase64Url(JSON.stringify(grant));
    return `${this.opts.url ?? 'http://192.168.1.20:7880'}/#invite=v1.${payload}.${toBase64Url(`mock-signature-${id}`)}`;
  }

  sendChat(text: string, nowMs: number): void {
    if (utf8Bytes(text) > CHAT_MAX_BYTES) throw serverError(3012, 'a custom message may carry at most 1 KB');
    this.chatTimes = this.chatTimes.filter((t) => nowMs - t < 1000);
    if (this.chatTimes.length >= MESSAGES_PER_SECOND) {
      throw serverError(3011, 'too many messages: at most 30 per second and 8 KB per second per user');
    }
    this.chatTimes.push(nowMs);
    this.said.push(text);
  }

  raiseHand(up: boolean): void {
    if (up && !this.myHand) this.hands++;
    this.myHand = up;
  }

  private requireHost(what: string): void {
    if (!this.amHost) throw serverError(3002, `only the host may ${what}`);
  }

  private targets(userId: string | null): RemoteUser[] {
    if (userId === null) return [...this.users.values()];
    const u = this.users.get(userId);
    if (!u) throw serverError(3003, `${userId} is not in this room`);
    return [u];
  }

  mute(userId: string | null, kind: MediaKind, lock: boolean): void {
    this.requireHost('mute others');
    for (const u of this.targets(userId)) {
      if (lock) this.locks.add(`${u.userId}/${kind}`);
      if (kind === 'audio' && u.audio) {
        u.audio = false;
        this.emit({ type: 'audio_available', userId: u.userId, available: false });
      }
      if (kind === 'video' && u.video) {
        u.video = false;
        this.emit({ type: 'video_available', userId: u.userId, stream: 'main', available: false });
      }
    }
  }

  unlock(userId: string | null, kind: MediaKind): void {
    this.requireHost('unlock microphones and cameras');
    for (const u of this.targets(userId)) this.locks.delete(`${u.userId}/${kind}`);
  }

  remove(userId: string): void {
    this.requireHost('remove people');
    this.targets(userId);
    this.banned.add(userId);
    this.removeUserEntry(userId, 'exited');
  }

  setOptions(options: RoomOptions): void {
    this.requireHost("change the meeting's options");
    const lobbyClosed = this.options.lobby && !options.lobby;
    this.options = { ...this.options, ...options, passcode: options.passcode === undefined ? this.options.passcode : options.passcode || null };
    this.emit({ type: 'room_changed', room: this.view() });
    if (lobbyClosed) for (const userId of [...this.lobby.keys()]) this.admit(userId, true);
  }

  end(): void {
    this.requireHost('end the meeting');
    const by = this.me;
    this.leave();
    // The server destroys the room: the next meeting in it starts afresh.
    this.options = { locked: false, lobby: false, passcode: null, ...this.opts.options };
    this.emit({ type: 'exit_room', reason: 'removed', code: 3009, message: `${by} ended the meeting for everyone` });
  }

  admit(userId: string, accept: boolean): void {
    this.requireHost('admit people from the lobby');
    const name = this.lobby.get(userId);
    if (name === undefined) throw serverError(3003, `${userId} is not waiting in the lobby`);
    this.lobby.delete(userId);
    this.emit({ type: 'lobby_left', userId });
    if (accept) this.addUser({ userId, name, role: 'anchor', audio: true, video: true, subVideo: false });
  }
}
