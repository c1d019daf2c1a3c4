import type { MediaKind, RoomEvent, RoomView } from '../backend';
import { t } from '../i18n';

/** A line in the chat; `mine` lines were added here when send_chat resolved (they are not echoed). */
export interface ChatLine {
  id: number;
  userId: string;
  /** The sender's display name when the line arrived (it stays when they leave). */
  name: string;
  text: string;
  /** Unix ms. */
  atMs: number;
  mine: boolean;
}

/** An emoji floating over someone's tile for a few seconds. */
export interface Reaction {
  id: number;
  userId: string;
  emoji: string;
}

export interface LobbyEntry {
  userId: string;
  name: string;
}

export interface MeetingStateOptions {
  /** How long a reaction floats. */
  reactionMs?: number;
  /** The chat keeps this many lines. */
  maxChatLines?: number;
}

/** At most this many reactions float over one tile at once (the oldest goes first). */
const REACTIONS_PER_USER = 3;

/**
 * The meeting side of the room: its options and host, the chat, reactions, my hand, what the
 * host locked on me, and (as host) the lobby and whom I locked. Fed by RoomState.handle; names
 * come from the room (`nameOf`), which knows the participants.
 */
export class MeetingState {
  view = $state<RoomView>({ locked: false, lobby: false, passcode: false, host: null });
  /**
   * The passcode I set as host. The view only says whether there is one, and set_room_options
   * takes all the options at once, so a change of the lock or the lobby must repeat it.
   */
  passcode = $state<string | null>(null);
  chat = $state<ChatLine[]>([]);
  /** Lines that arrived while the chat panel was closed. */
  unread = $state(0);
  chatOpen = $state(false);
  reactions = $state<Reaction[]>([]);
  /** My raised hand's place (the server does not echo my own hand); null when it is down. */
  myHand = $state<number | null>(null);
  /** The host turned my microphone / camera off and locked it: I cannot turn it on. */
  locked = $state<Record<MediaKind, boolean>>({ audio: false, video: false });
  /** (Host) people waiting to be let in, in the order they came. */
  lobby = $state<LobbyEntry[]>([]);
  /** (Host) what I turned off and locked, per user: the server tells only them. */
  lockedByMe = $state<Record<string, MediaKind[]>>({});
  /** I ended the meeting: the server removes me too (3009), which is then no surprise. */
  endedByMe = false;

  private readonly nameOf: (userId: string) => string;
  private readonly reactionMs: number;
  private readonly maxChatLines: number;
  private nextId = 1;
  private timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(nameOf: (userId: string) => string, opts: MeetingStateOptions = {}) {
    this.nameOf = nameOf;
    this.reactionMs = opts.reactionMs ?? 3000;
    this.maxChatLines = opts.maxChatLines ?? 500;
  }

  /** Applies a meeting event; returns a sentence for a toast when there is news to tell. */
  handle(e: RoomEvent): string | null {
    switch (e.type) {
      case 'room_changed':
        this.setView(e.room);
        return null;
      case 'chat':
        this.addLine({ userId: e.userId, name: this.nameOf(e.userId), text: e.text, atMs: e.atMs, mine: false });
        if (!this.chatOpen) this.unread++;
        return null;
      case 'reaction':
        this.addReaction(e.userId, e.emoji);
        return null;
      case 'muted_by_host':
        this.locked[e.kind] = e.locked;
        return e.locked ? t(`toast.mutedByHost.${e.kind}Locked`) : t(`toast.mutedByHost.${e.kind}`);
      case 'unlocked':
        this.locked[e.kind] = false;
        return t(`toast.unlocked.${e.kind}`);
      case 'lobby_joined':
        if (this.lobby.some((w) => w.userId === e.userId)) return null;
        this.lobby.push({ userId: e.userId, name: e.name || e.userId });
        return t('toast.lobbyJoined', { user: e.name || e.userId });
      case 'lobby_left':
        this.lobby = this.lobby.filter((w) => w.userId !== e.userId);
        return null;
      case 'user_leave':
        this.forget(e.userId);
        return null;
      default:
        return null;
    }
  }

  setView(view: RoomView): void {
    this.view = view;
    if (!view.passcode) this.passcode = null;
  }

  /** My own line, once send_chat resolved. */
  addMine(userId: string, name: string, text: string, atMs: number): void {
    this.addLine({ userId, name, text, atMs, mine: true });
  }

  setChatOpen(open: boolean): void {
    this.chatOpen = open;
    if (open) this.unread = 0;
  }

  /** Floats `emoji` over the user's tile (mine too: reactions are not echoed). */
  addReaction(userId: string, emoji: string): void {
    const id = this.nextId++;
    const theirs = this.reactions.filter((r) => r.userId === userId);
    const drop = theirs.length >= REACTIONS_PER_USER ? theirs[0].id : null;
    this.reactions = [...this.reactions.filter((r) => r.id !== drop), { id, userId, emoji }];
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.reactions = this.reactions.filter((r) => r.id !== id);
    }, this.reactionMs);
    this.timers.add(timer);
  }

  reactionsOf(userId: string): Reaction[] {
    return this.reactions.filter((r) => r.userId === userId);
  }

  /** (Host) after mute_user succeeded: remember the locks, to offer "Unlock". */
  noteMuted(userIds: string[], kind: MediaKind, lock: boolean): void {
    if (!lock) return;
    const next = { ...this.lockedByMe };
    for (const u of userIds) next[u] = [...new Set([...(next[u] ?? []), kind])];
    this.lockedByMe = next;
  }

  /** (Host) after unlock_user succeeded. */
  noteUnlocked(userId: string, kind: MediaKind): void {
    const kinds = (this.lockedByMe[userId] ?? []).filter((k) => k !== kind);
    const { [userId]: _, ...rest } = this.lockedByMe;
    this.lockedByMe = kinds.length ? { ...rest, [userId]: kinds } : rest;
  }

  private addLine(line: Omit<ChatLine, 'id'>): void {
    this.chat.push({ ...line, id: this.nextId++ });
    if (this.chat.length > this.maxChatLines) this.chat = this.chat.slice(-this.maxChatLines);
  }

  /** They left: their reactions and the locks I put on them go; their chat lines stay. */
  private forget(userId: string): void {
    if (this.reactions.some((r) => r.userId === userId)) this.reactions = this.reactions.filter((r) => r.userId !== userId);
    if (userId in this.lockedByMe) {
      const { [userId]: _, ...rest } = this.lockedByMe;
      this.lockedByMe = rest;
    }
  }

  dispose(): void {
    this.timers.forEach(clearTimeout);
    this.timers.clear();
  }
}
