import { ActiveSpeaker } from '../activeSpeaker';
import { t, tMaybe } from '../i18n';
import { MeetingState, type Reaction } from './meeting.svelte';
import { SpeakState } from './speak.svelte';
import { isLiveScene, type JoinArgs, type JoinResult, type Quality, type RemoteUser, type Role, type RoomEvent } from '../backend';

/** A remote user as the call screen shows them. */
export interface Participant {
  userId: string;
  /** Display name (the UserID when they gave none). */
  name: string;
  role: Role;
  audio: boolean;
  video: boolean;
  subVideo: boolean;
  /** 0..100, from the latest `volumes`. */
  volume: number;
  quality: Quality;
  /** Their raised hand's place (lower went up first); null when down. */
  hand: number | null;
  /** The size of their camera as received ("640x360"), once a frame came. */
  videoSize?: string;
}

/** What a tile needs; the local user is `isSelf` and is viewed with userId "". */
export interface TileInfo extends Participant {
  isSelf: boolean;
  /** userId to pass to set_view ("" for me). */
  viewId: string;
  /** Emojis floating over the tile. */
  reactions: Reaction[];
}

/** A raised hand, for the people list (in the order they went up). */
export interface RaisedHand {
  userId: string;
  name: string;
  hand: number;
  isSelf: boolean;
}

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
}

/** connected → lost (banner) → recovered (short "reconnected" message) → connected. */
export type ConnectionState = 'connected' | 'lost' | 'recovered';

export interface RoomStateOptions {
  toastMs?: number;
  recoveredMs?: number;
  threshold?: number;
  holdMs?: number;
  /** Clock for the active-speaker hold; tests pass a fake. */
  now?: () => number;
  /** How long a reaction floats over a tile. */
  reactionMs?: number;
}

/**
 * State of the room I am in, fed by `room-event`s through `handle`. Timers only dismiss toasts
 * and the "reconnected" message; everything else is a plain function of the events.
 */
export class RoomState {
  readonly args: JoinArgs;
  role = $state<Role>('anchor');
  micOn = $state(true);
  cameraOn = $state(true);
  sharing = $state(false);
  participants = $state<Participant[]>([]);
  activeSpeaker = $state<string | null>(null);
  selfVolume = $state(0);
  selfQuality = $state<Quality>(0);
  /** Playback volumes (0..100) set on this computer; absent = 100. */
  userVolumes = $state<Record<string, number>>({});
  connection = $state<ConnectionState>('connected');
  /** While lost: the engine's attempt at entering the room again (0 before the first). */
  reconnectAttempt = $state(0);
  toasts = $state<Toast[]>([]);
  /** Set when the room was exited (reason), e.g. "left", "kicked". */
  exited = $state<string | null>(null);
  /** The server's code when it took me out (3009 meeting ended, 3010 removed by the host, …). */
  exitCode = $state<number | null>(null);
  enterRoomMs = $state(0);
  /** My UserID: the one I asked for, or the one the Rust side derived (joining with an invite). */
  userId = $state('');
  /** join_room is pending in the meeting's lobby until the host lets me in. */
  waitingInLobby = $state(false);
  /** Invitations and requests to speak (live scenes). */
  readonly speak: SpeakState;
  /** Options and host, chat, reactions, hands, host locks and the lobby. */
  readonly meeting: MeetingState;

  private readonly speaker: ActiveSpeaker;
  private readonly opts: Required<Omit<RoomStateOptions, 'threshold' | 'holdMs' | 'reactionMs'>>;
  private nextToastId = 1;
  private recoveredTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(args: JoinArgs, users: RemoteUser[] = [], opts: RoomStateOptions = {}) {
    this.args = args;
    this.role = args.role;
    this.speaker = new ActiveSpeaker({ threshold: opts.threshold, holdMs: opts.holdMs });
    this.opts = { toastMs: opts.toastMs ?? 4000, recoveredMs: opts.recoveredMs ?? 3000, now: opts.now ?? (() => Date.now()) };
    this.userId = args.userId;
    this.participants = users.map((u) => participant(u));
    this.speak = new SpeakState(this.opts.now);
    this.meeting = new MeetingState((userId) => this.nameOf(userId), { reactionMs: opts.reactionMs });
  }

  /** Merges join_room's user list (events may already have announced some of them). */
  applyJoin(result: JoinResult): void {
    this.enterRoomMs = result.enterRoomMs;
    this.waitingInLobby = false;
    if (result.userId) this.userId = result.userId;
    for (const u of result.users) {
      const p = this.find(u.userId);
      if (p) Object.assign(p, { role: u.role, audio: u.audio, video: u.video, subVideo: u.subVideo, name: u.name ?? p.name, hand: u.hand ?? p.hand });
      else this.participants.push(participant(u));
    }
    if (result.room) this.meeting.setView(result.room);
    // The host's own passcode (set on Home), so that changing the lock keeps it.
    if (this.isHost && this.meeting.view.passcode && this.args.passcode) this.meeting.passcode = this.args.passcode;
  }

  /** The name others see for me. */
  get myName(): string {
    return this.args.displayName?.trim() || this.userId;
  }

  /** A display name for anyone in the room, in the lobby, or me; the UserID otherwise. */
  nameOf(userId: string): string {
    if (userId === this.userId) return this.myName;
    return this.find(userId)?.name ?? this.meeting.lobby.find((w) => w.userId === userId)?.name ?? userId;
  }

  /** I run the meeting (the server says who: `RoomView.host`). */
  get isHost(): boolean {
    return this.meeting.view.host !== null && this.meeting.view.host === this.userId;
  }

  /** Raised hands, mine included, in the order they went up. */
  get raisedHands(): RaisedHand[] {
    const hands: RaisedHand[] = this.participants
      .filter((p) => p.hand !== null)
      .map((p) => ({ userId: p.userId, name: p.name, hand: p.hand as number, isSelf: false }));
    if (this.meeting.myHand !== null) hands.push({ userId: this.userId, name: this.myName, hand: this.meeting.myHand, isSelf: true });
    return hands.sort((a, b) => a.hand - b.hand);
  }

  /** After raise_hand resolved: mine goes after every hand I know of (the server does not echo it). */
  setMyHand(up: boolean): void {
    if (!up) this.meeting.myHand = null;
    else if (this.meeting.myHand === null) {
      this.meeting.myHand = Math.max(0, ...this.participants.map((p) => p.hand ?? 0)) + 1;
    }
  }

  get isLive(): boolean {
    return isLiveScene(this.args.scene);
  }

  /** Tiles to show: in live scenes only anchors (an audience member does not see themself). */
  get tiles(): TileInfo[] {
    const remote = this.participants
      .filter((p) => !this.isLive || p.role === 'anchor')
      .map((p) => ({ ...p, isSelf: false, viewId: p.userId, reactions: this.meeting.reactionsOf(p.userId) }));
    if (this.isLive && this.role !== 'anchor') return remote;
    const self: TileInfo = {
      userId: this.userId,
      name: this.myName,
      role: this.role,
      audio: this.micOn,
      video: this.cameraOn,
      subVideo: this.sharing,
      volume: this.selfVolume,
      quality: this.selfQuality,
      hand: this.meeting.myHand,
      isSelf: true,
      viewId: '',
      reactions: this.meeting.reactionsOf(this.userId),
    };
    return [self, ...remote];
  }

  /**
   * At most `max` tiles, so that a 300-person room does not ask for 300 views: me, the tile I
   * pinned, the active speaker, then cameras on, then the rest, each group in join order.
   * `hidden` = how many were left out (shown as "+N more").
   */
  visibleTiles(max: number, pinned: string | null = null): { tiles: TileInfo[]; hidden: number } {
    const all = this.tiles;
    if (all.length <= max) return { tiles: all, hidden: 0 };
    const speaker = this.activeSpeakerId;
    const rank = (t: TileInfo): number =>
      t.isSelf ? 0 : t.userId === pinned ? 1 : t.userId === speaker ? 2 : t.video ? 3 : 4;
    const chosen = new Set(
      all
        .map((t, i) => ({ t, i }))
        .sort((a, b) => rank(a.t) - rank(b.t) || a.i - b.i)
        .slice(0, max)
        .map(({ t }) => t.userId),
    );
    // Keep join order on screen so tiles do not jump around when the speaker changes.
    return { tiles: all.filter((t) => chosen.has(t.userId)), hidden: all.length - max };
  }

  /** The remote user whose screen share is shown large (the first one that shares). */
  get screenSharer(): Participant | null {
    return this.participants.find((p) => p.subVideo) ?? null;
  }

  /** Active speaker as a display userId (me → my userId). */
  get activeSpeakerId(): string | null {
    return this.activeSpeaker === '' ? this.userId : this.activeSpeaker;
  }

  find(userId: string): Participant | undefined {
    return this.participants.find((p) => p.userId === userId);
  }

  private upsert(userId: string): Participant {
    let p = this.find(userId);
    if (!p) {
      // user_enter carries no role; as in TRTC, only anchors are announced in live scenes.
      this.participants.push(participant({ userId, role: 'anchor', audio: false, video: false, subVideo: false }));
      p = this.participants[this.participants.length - 1];
    }
    return p;
  }

  handle(e: RoomEvent): void {
    const speakNews = this.speak.handle(e);
    if (speakNews) this.toast(speakNews);
    const meetingNews = this.meeting.handle(e);
    if (meetingNews) this.toast(meetingNews);
    switch (e.type) {
      case 'user_enter': {
        const known = this.find(e.userId);
        if (known) {
          if (e.name) known.name = e.name;
        } else {
          const p = this.upsert(e.userId);
          if (e.name) p.name = e.name;
          this.toast(t('toast.joined', { user: p.name }));
        }
        break;
      }
      case 'user_leave': {
        const p = this.find(e.userId);
        if (p) {
          this.participants = this.participants.filter((q) => q.userId !== e.userId);
          this.speaker.forget(e.userId);
          if (this.activeSpeaker === e.userId) this.activeSpeaker = null;
          this.toast(leftToast(p.name, e.reason));
        }
        break;
      }
      case 'hand':
        if (e.userId === this.userId) this.meeting.myHand = e.hand;
        else {
          // Hidden audience members (live scenes) have no row to put a hand on.
          const p = this.find(e.userId);
          if (p) p.hand = e.hand;
        }
        break;
      case 'muted_by_host':
        // The engine has already stopped sending it.
        if (e.kind === 'audio') this.micOn = false;
        else this.cameraOn = false;
        break;
      case 'waiting_in_lobby':
        this.waitingInLobby = true;
        break;
      case 'audio_available':
        this.upsert(e.userId).audio = e.available;
        break;
      case 'video_available': {
        const p = this.upsert(e.userId);
        if (e.stream === 'main') p.video = e.available;
        else p.subVideo = e.available;
        break;
      }
      case 'first_video_frame':
      case 'video_size_changed':
        if (e.stream === 'main') {
          const p = this.find(e.userId);
          if (p) p.videoSize = `${e.width}x${e.height}`;
        }
        break;
      case 'volumes': {
        for (const v of e.volumes) {
          if (v.userId === '') this.selfVolume = v.volume;
          else {
            const p = this.find(v.userId);
            if (p) p.volume = v.volume;
          }
        }
        const audible = e.volumes.filter((v) => (v.userId === '' ? this.micOn : !!this.find(v.userId)));
        this.activeSpeaker = this.speaker.update(audible, this.opts.now());
        break;
      }
      case 'network_quality':
        for (const q of e.qualities) {
          if (q.userId === '') this.selfQuality = q.quality;
          else {
            const p = this.find(q.userId);
            if (p) p.quality = q.quality;
          }
        }
        break;
      case 'connection_lost':
        this.clearRecoveredTimer();
        this.connection = 'lost';
        break;
      case 'reconnecting':
        this.clearRecoveredTimer();
        this.connection = 'lost';
        this.reconnectAttempt = e.attempt;
        break;
      case 'connection_recovered':
      case 'reconnected':
        this.clearRecoveredTimer();
        this.reconnectAttempt = 0;
        this.connection = 'recovered';
        this.recoveredTimer = setTimeout(() => {
          this.recoveredTimer = null;
          if (this.connection === 'recovered') this.connection = 'connected';
        }, this.opts.recoveredMs);
        break;
      case 'role_changed':
        this.role = e.role;
        if (e.role === 'audience') {
          this.sharing = false;
        }
        this.toast(e.role === 'anchor' ? t('toast.onStage') : t('toast.inAudience'));
        break;
      case 'error':
        this.toast(e.code != null ? t('error.withCode', { code: e.code, message: e.message }) : e.message, 'error');
        break;
      case 'notice':
        this.toast(e.message);
        break;
      case 'local_video_ended':
        // The app has already stopped publishing it; a camera is replaced by device following.
        if (e.stream === 'sub' && this.sharing) {
          this.sharing = false;
          this.toast(t('toast.shareEnded'));
        }
        break;
      case 'exit_room':
        this.exitCode = e.code ?? null;
        this.exited = e.reason || 'left';
        break;
    }
  }

  toast(text: string, kind: Toast['kind'] = 'info'): void {
    const id = this.nextToastId++;
    this.toasts.push({ id, text, kind });
    setTimeout(() => this.dismissToast(id), kind === 'error' ? this.opts.toastMs * 2 : this.opts.toastMs);
  }

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  private clearRecoveredTimer(): void {
    if (this.recoveredTimer) clearTimeout(this.recoveredTimer);
    this.recoveredTimer = null;
  }

  dispose(): void {
    this.clearRecoveredTimer();
    this.meeting.dispose();
  }
}

function participant(u: RemoteUser): Participant {
  return { ...u, name: u.name || u.userId, hand: u.hand ?? null, volume: 0, quality: 0 };
}

/** "alice left", with why when it was not her choice (a reason the UI does not know is shown as it is). */
function leftToast(user: string, reason: string): string {
  if (!reason || reason === 'left' || reason === 'exited') return t('toast.left', { user });
  return t('toast.leftBecause', { user, reason: tMaybe(`leave.${reason}`) ?? reason.replace(/_/g, ' ') });
}
