/**
 * The microphone's level before joining (in a room getStats measures it): an AnalyserNode's
 * RMS over its last window.
 */
export class MicLevel {
  private ctx: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private source: MediaStreamAudioSourceNode | null = null;
  private buf: Float32Array<ArrayBuffer> | null = null;
  private track: MediaStreamTrack | null = null;

  /** Linear RMS 0..1 of `track` (null when there is none, or no Web Audio). */
  read(track: MediaStreamTrack | null): number | null {
    if (track !== this.track) this.attach(track);
    if (!this.analyser || !this.buf) return null;
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const x of this.buf) sum += x * x;
    return Math.sqrt(sum / this.buf.length);
  }

  close(): void {
    this.attach(null);
    this.ctx?.close().catch(() => {});
    this.ctx = null;
  }

  private attach(track: MediaStreamTrack | null): void {
    this.source?.disconnect();
    this.source = null;
    this.track = track;
    if (!track) return;
    const Ctx = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
    if (!Ctx) return;
    try {
      this.ctx ??= new Ctx();
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
      this.analyser ??= this.ctx.createAnalyser();
      this.analyser.fftSize = 2048;
      this.buf ??= new Float32Array(this.analyser.fftSize);
      this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
      this.source.connect(this.analyser);
    } catch (e) {
      console.warn('microphone level:', e);
    }
  }
}
