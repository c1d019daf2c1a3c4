import { ActiveSpeaker } from '../activeSpeaker';
import { t, tMaybe } from '../i18n';
import { SpeakState } from './speak.svelte';
import { isLiveScene, type JoinArgs, type JoinResult, type Quality, type RemoteUser, type Role, type RoomEvent } from '../backend';

/** A remote user as the call screen shows them. */
export interface Participant {
  userId: string;
  role: Role;
  audio: boolean;
  video: boolean;
  subVideo: boolean;
  /** 0..100, from the latest `volumes`. */
  volume: number;
  quality: Quality;
}

/** What a tile needs; the local user is `isSelf` and is viewed with userId "". */
export interface TileInfo extends Participant {
  isSelf: boolean;
  /** userId to pass to set_view ("" for me). */
  viewId: string;
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
  toasts = $state<Toast[]>([]);
  /** Set when the room was exited (reason), e.g. "left", "kicked". */
  exited = $state<string | null>(null);
  enterRoomMs = $state(0);
  /** Invitations and requests to speak (live scenes). */
  readonly speak: SpeakState;

  private readonly speaker: ActiveSpeaker;
  private readonly opts: Required<Omit<RoomStateOptions, 'threshold' | 'holdMs'>>;
  private nextToastId = 1;
  private recoveredTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(args: JoinArgs, users: RemoteUser[] = [], opts: RoomStateOptions = {}) {
    this.args = args;
    this.role = args.role;
    this.speaker = new ActiveSpeaker({ threshold: opts.threshold, holdMs: opts.holdMs });
    this.opts = { toastMs: opts.toastMs ?? 4000, recoveredMs: opts.recoveredMs ?? 3000, now: opts.now ?? (() => Date.now()) };
    this.participants = users.map((u) => ({ ...u, volume: 0, quality: 0 }));
    this.speak = new SpeakState(this.opts.now);
  }

  /** Merges join_room's user list (events may already have announced some of them). */
  applyJoin(result: JoinResult): void {
    this.enterRoomMs = result.enterRoomMs;
    for (const u of result.users) {
      const p = this.find(u.userId);
      if (p) Object.assign(p, { role: u.role, audio: u.audio, video: u.video, subVideo: u.subVideo });
      else this.participants.push({ ...u, volume: 0, quality: 0 });
    }
  }

  get isLive(): boolean {
    return isLiveScene(this.args.scene);
  }

  /** Tiles to show: in live scenes only anchors (an audience member does not see themself). */
  get tiles(): TileInfo[] {
    const remote = this.participants
      .filter((p) => !this.isLive || p.role === 'anchor')
      .map((p) => ({ ...p, isSelf: false, viewId: p.userId }));
    if (this.isLive && this.role !== 'anchor') return remote;
    const self: TileInfo = {
      userId: this.args.userId,
      role: this.role,
      audio: this.micOn,
      video: this.cameraOn,
      subVideo: this.sharing,
      volume: this.selfVolume,
      quality: this.selfQuality,
      isSelf: true,
      viewId: '',
    };
    return [self, ...remote];
  }

  /**
   * At most `max` tiles, so that a 300-person room does not ask for 300 views: me, the active
   * speaker, then cameras on, then the rest, each group in join order. `hidden` = how many
   * were left out (shown as "+N more").
   */
  visibleTiles(max: number): { tiles: TileInfo[]; hidden: number } {
    const all = this.tiles;
    if (all.length <= max) return { tiles: all, hidden: 0 };
    const speaker = this.activeSpeakerId;
    const rank = (t: TileInfo): number => (t.isSelf ? 0 : t.userId === speaker ? 1 : t.video ? 2 : 3);
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
    return this.activeSpeaker === '' ? this.args.userId : this.activeSpeaker;
  }

  find(userId: string): Participant | undefined {
    return this.participants.find((p) => p.userId === userId);
  }

  private upsert(userId: string): Participant {
    let p = this.find(userId);
    if (!p) {
      // user_enter carries no role; as in TRTC, only anchors are announced in live scenes.
      this.participants.push({ userId, role: 'anchor', audio: false, video: false, subVideo: false, volume: 0, quality: 0 });
      p = this.participants[this.participants.length - 1];
    }
    return p;
  }

  handle(e: RoomEvent): void {
    const speakNews = this.speak.handle(e);
    if (speakNews) this.toast(speakNews);
    switch (e.type) {
      case 'user_enter':
        if (!this.find(e.userId)) {
          this.upsert(e.userId);
          this.toast(t('toast.joined', { user: e.userId }));
        }
        break;
      case 'user_leave':
        if (this.find(e.userId)) {
          this.participants = this.participants.filter((p) => p.userId !== e.userId);
          this.speaker.forget(e.userId);
          if (this.activeSpeaker === e.userId) this.activeSpeaker = null;
          this.toast(leftToast(e.userId, e.reason));
        }
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
      case 'connection_recovered':
        this.clearRecoveredTimer();
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
  }
}

/** "alice left", with why when it was not her choice (a reason the UI does not know is shown as it is). */
function leftToast(user: string, reason: string): string {
  if (!reason || reason === 'left' || reason === 'exited') return t('toast.left', { user });
  return t('toast.leftBecause', { user, reason: tMaybe(`leave.${reason}`) ?? reason.replace(/_/g, ' ') });
}
