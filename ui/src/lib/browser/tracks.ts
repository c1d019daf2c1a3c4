/**
 * Which m-line (transceiver) of the peer connection carries what: the lines I publish on
 * (per kind and stream) and the lines I receive other users on. This is what `negotiate`
 * describes in `tracks`, by mid.
 *
 * Receive lines are never removed (the server has seen their mids): when a user leaves, their
 * lines go `inactive` and are reused for the next subscription of the same kind.
 */
import type { StreamKind } from '../backend';
import type { MediaKind, WireTrack } from './protocol';

export interface LineInfo {
  kind: MediaKind;
  stream: StreamKind;
  /** null: I publish on this line. */
  userId: string | null;
}

/** The part of RTCRtpTransceiver the bookkeeping needs. */
export interface TransceiverLike {
  readonly mid: string | null;
  direction: RTCRtpTransceiverDirection;
  readonly stopped?: boolean;
}

const subKey = (userId: string, kind: MediaKind, stream: StreamKind) => `${userId}/${kind}/${stream}`;
const pubKey = (kind: MediaKind, stream: StreamKind) => `${kind}/${stream}`;

export class TrackTable<T extends TransceiverLike> {
  private readonly info = new Map<T, LineInfo>();
  private readonly subs = new Map<string, T>();
  private readonly pubs = new Map<string, T>();
  private readonly free: Record<MediaKind, T[]> = { audio: [], video: [] };

  /**
   * A receive line for this user's stream: a freed line of the same kind when there is one,
   * a new one from `create` otherwise. null when already subscribed (nothing to negotiate).
   */
  subscribe(userId: string, kind: MediaKind, stream: StreamKind, create: (kind: MediaKind) => T): T | null {
    const key = subKey(userId, kind, stream);
    if (this.subs.has(key)) return null;
    let t = this.free[kind].pop();
    if (t) t.direction = 'recvonly';
    else t = create(kind);
    this.info.set(t, { kind, stream, userId });
    this.subs.set(key, t);
    return t;
  }

  received(userId: string, kind: MediaKind, stream: StreamKind): T | undefined {
    return this.subs.get(subKey(userId, kind, stream));
  }

  /** Frees every receive line of this user; returns them (their mids are to be unsubscribed). */
  unsubscribeUser(userId: string): T[] {
    const freed: T[] = [];
    for (const [key, t] of this.subs) {
      const line = this.info.get(t);
      if (!line || line.userId !== userId) continue;
      this.subs.delete(key);
      this.info.delete(t);
      t.direction = 'inactive';
      this.free[line.kind].push(t);
      freed.push(t);
    }
    return freed;
  }

  /** Every receive line, with what it carries. */
  *receivers(): Generator<[LineInfo & { userId: string }, T]> {
    for (const t of this.subs.values()) {
      const line = this.info.get(t);
      if (line?.userId != null) yield [line as LineInfo & { userId: string }, t];
    }
  }

  publisher(kind: MediaKind, stream: StreamKind): T | undefined {
    return this.pubs.get(pubKey(kind, stream));
  }

  addPublisher(t: T, kind: MediaKind, stream: StreamKind): void {
    this.info.set(t, { kind, stream, userId: null });
    this.pubs.set(pubKey(kind, stream), t);
  }

  publishers(): T[] {
    return [...this.pubs.values()];
  }

  lineOf(t: T): LineInfo | undefined {
    return this.info.get(t);
  }

  /**
   * `negotiate.tracks`: every line in use that has a mid, in the peer connection's order.
   * Inactive lines (freed, or parked while I am in the audience) are left out: the server
   * sends nothing on them, and an audience member may not list a line it publishes on.
   */
  describe(all: readonly T[]): WireTrack[] {
    const out: WireTrack[] = [];
    for (const t of all) {
      const line = this.info.get(t);
      if (t.mid == null || t.stopped || t.direction === 'inactive' || !line) continue;
      const track: WireTrack = { mid: t.mid, kind: line.kind, stream: line.stream };
      if (line.userId != null) track.user_id = line.userId;
      out.push(track);
    }
    return out;
  }
}
