import { SPEAK_TIMEOUT_MS, type RoomEvent } from '../backend';
import { t } from '../i18n';

/** An open invitation (to me) or a raised hand (someone asking me, an anchor). */
export interface SpeakItem {
  userId: string;
  /** When it arrived (the server closes it SPEAK_TIMEOUT_MS later). */
  at: number;
}

/**
 * Invitations and requests to speak in a live room, as the prompts show them. Open items
 * expire on the server's clock; `expire` (called on every room event, volumes arrive every
 * 300 ms) drops them here too.
 */
export class SpeakState {
  /** Anchors who invited me; one answer answers them all. */
  invitations = $state<SpeakItem[]>([]);
  /** Audience members asking to speak (only an anchor sees these). */
  raisedHands = $state<SpeakItem[]>([]);
  /** When my own request was sent; null when none is open. */
  requestedAt = $state<number | null>(null);

  constructor(private readonly now: () => number) {}

  get requested(): boolean {
    return this.requestedAt !== null;
  }

  /** Applies a speaking event; returns a sentence for a toast when there is news to tell. */
  handle(e: RoomEvent): string | null {
    this.expire();
    switch (e.type) {
      case 'speak_invited':
        this.invitations = [...this.invitations.filter((i) => i.userId !== e.by), { userId: e.by, at: this.now() }];
        return null;
      case 'speak_requested':
        if (!this.raisedHands.some((h) => h.userId === e.userId)) this.raisedHands.push({ userId: e.userId, at: this.now() });
        return null;
      case 'speak_request_answered':
        this.requestedAt = null;
        return t(e.accept ? 'toast.letOnStage' : 'toast.requestDeclined', { user: e.by });
      case 'speak_invite_answered':
        return t(e.accept ? 'toast.inviteAccepted' : 'toast.inviteDeclined', { user: e.userId });
      case 'role_changed':
        // On stage nobody needs to invite me; in the audience I answer no hands.
        if (e.role === 'anchor') {
          this.invitations = [];
          this.requestedAt = null;
        } else this.raisedHands = [];
        return null;
      case 'user_enter':
        // They went on stage (announced as an anchor): the hand is down.
        this.lowerHand(e.userId);
        return null;
      default:
        return null;
    }
  }

  requestSent(): void {
    this.requestedAt = this.now();
  }

  invitationsAnswered(): void {
    this.invitations = [];
  }

  lowerHand(userId: string): void {
    this.raisedHands = this.raisedHands.filter((h) => h.userId !== userId);
  }

  expire(): void {
    const open = (at: number) => this.now() - at < SPEAK_TIMEOUT_MS;
    if (this.invitations.some((i) => !open(i.at))) this.invitations = this.invitations.filter((i) => open(i.at));
    if (this.raisedHands.some((h) => !open(h.at))) this.raisedHands = this.raisedHands.filter((h) => open(h.at));
    if (this.requestedAt !== null && !open(this.requestedAt)) this.requestedAt = null;
  }
}
