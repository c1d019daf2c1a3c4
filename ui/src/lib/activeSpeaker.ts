import type { VolumeEntry } from './backend';

/**
 * Picks the active speaker from `volumes` events: the loudest user at or above `threshold`.
 * The highlight is held for `holdMs` after that user was last the loudest, so that short
 * pauses and brief interjections do not make it flicker between tiles. Time is a parameter.
 */
export interface ActiveSpeakerOptions {
  /** 0..100; below this nobody is speaking. */
  threshold?: number;
  holdMs?: number;
}

export class ActiveSpeaker {
  readonly threshold: number;
  readonly holdMs: number;
  /** userId ("" = me) or null. */
  current: string | null = null;
  private lastLoudestMs = 0;

  constructor(opts: ActiveSpeakerOptions = {}) {
    this.threshold = opts.threshold ?? 15;
    this.holdMs = opts.holdMs ?? 1200;
  }

  update(volumes: readonly VolumeEntry[], nowMs: number): string | null {
    let loudest: VolumeEntry | null = null;
    for (const v of volumes) {
      if (v.volume >= this.threshold && (!loudest || v.volume > loudest.volume)) loudest = v;
    }
    const held = this.current !== null && nowMs - this.lastLoudestMs < this.holdMs;
    if (loudest && (loudest.userId === this.current || !held)) {
      this.current = loudest.userId;
      this.lastLoudestMs = nowMs;
    } else if (!held) {
      this.current = null;
    }
    return this.current;
  }

  /** A user left: drop the highlight at once if it was theirs. */
  forget(userId: string): void {
    if (this.current === userId) this.current = null;
  }
}
