/**
 * Remote audio: one hidden `<audio>` per received audio track, with each user's playback
 * volume and the chosen speaker. Tiles come and go (and an audio call has none), so the
 * sound does not live in them.
 */
type SinkAudio = HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };

export class Playout {
  private readonly elements = new Map<string, { userId: string; el: SinkAudio }>();
  private readonly volumes = new Map<string, number>();
  private sink: string | null = null;
  private blocked = false;

  constructor(
    private readonly doc: Document,
    /** Autoplay was refused: tell the person to click (once per refusal). */
    private readonly onBlocked: () => void,
  ) {}

  /** Plays this track (null: stops what played for this user's stream). */
  set(userId: string, stream: string, track: MediaStreamTrack | null): void {
    const key = `${userId}/${stream}`;
    const had = this.elements.get(key);
    if (had) {
      had.el.srcObject = null;
      had.el.remove();
      this.elements.delete(key);
    }
    if (!track) return;
    const el = this.doc.createElement('audio') as SinkAudio;
    el.autoplay = true;
    el.hidden = true;
    el.dataset.user = userId;
    el.dataset.stream = stream;
    el.srcObject = new MediaStream([track]);
    el.volume = (this.volumes.get(userId) ?? 100) / 100;
    if (this.sink) el.setSinkId?.(this.sink).catch(() => {});
    this.doc.body.append(el);
    this.elements.set(key, { userId, el });
    this.play(el);
  }

  /** 0..100 for one user. */
  setVolume(userId: string, volume: number): void {
    const v = Math.max(0, Math.min(100, volume));
    this.volumes.set(userId, v);
    for (const e of this.elements.values()) if (e.userId === userId) e.el.volume = v / 100;
  }

  /** A speaker's device id (null: the system default). */
  setSink(id: string | null): void {
    this.sink = id;
    for (const { el } of this.elements.values()) el.setSinkId?.(id ?? '').catch(() => {});
  }

  clear(): void {
    for (const { el } of this.elements.values()) {
      el.srcObject = null;
      el.remove();
    }
    this.elements.clear();
    this.volumes.clear();
  }

  private play(el: HTMLAudioElement): void {
    const p = el.play?.();
    if (!p) return;
    p.catch((e: unknown) => {
      if (!(e instanceof Error) || e.name !== 'NotAllowedError' || this.blocked) return;
      this.blocked = true;
      this.onBlocked();
      const resume = () => {
        this.blocked = false;
        for (const { el: each } of this.elements.values()) each.play().catch(() => {});
      };
      this.doc.addEventListener('pointerdown', resume, { once: true });
      this.doc.addEventListener('keydown', resume, { once: true });
    });
  }
}

/** A one-second 440 Hz tone on a speaker (null: the default). */
export async function playTestTone(doc: Document, sink: string | null): Promise<void> {
  const Ctx = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!Ctx) throw new Error('Web Audio is not available');
  const ctx = new Ctx();
  try {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.2;
    osc.frequency.value = 440;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    const el = doc.createElement('audio') as SinkAudio;
    el.srcObject = dest.stream;
    if (sink) await el.setSinkId?.(sink);
    osc.start();
    await el.play();
    await new Promise((r) => setTimeout(r, 1000));
    osc.stop();
    el.srcObject = null;
  } finally {
    await ctx.close().catch(() => {});
  }
}
