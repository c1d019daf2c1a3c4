/**
 * My camera, microphone and shared screen as browser tracks. Turning a device off stops its
 * track (the camera light goes out); turning it on asks getUserMedia again. Camera and
 * microphone asked for together share one getUserMedia call: one permission prompt.
 */
import type { BackendError } from '../backend';
import { TEXT } from './strings';

export type LocalSource = 'camera' | 'microphone' | 'screen';
type Device = 'camera' | 'microphone';

/** The part of MediaDevices this uses. */
export interface MediaDevicesLike {
  getUserMedia(c: MediaStreamConstraints): Promise<MediaStream>;
  getDisplayMedia?(c?: DisplayMediaStreamOptions): Promise<MediaStream>;
}

interface Waiter {
  resolve: (t: MediaStreamTrack) => void;
  reject: (e: unknown) => void;
}

export class LocalMedia {
  readonly tracks: Record<LocalSource, MediaStreamTrack | null> = { camera: null, microphone: null, screen: null };
  private readonly wanted: Record<Device, boolean> = { camera: false, microphone: false };
  private readonly inflight: Partial<Record<Device, Promise<MediaStreamTrack | null>>> = {};
  private queue: Partial<Record<Device, Waiter[]>> = {};
  private flushQueued = false;

  constructor(
    private readonly devices: MediaDevicesLike | undefined,
    private readonly constraints: (d: Device) => MediaTrackConstraints,
    /** A track was opened, replaced or closed. */
    private readonly changed: (s: LocalSource) => void,
    /** A track ended by itself (unplugged, or the browser's "Stop sharing"). */
    private readonly ended: (s: LocalSource) => void,
  ) {}

  /** Opens or closes a device; resolves to its track (null when off). Rejects with a BackendError. */
  set(d: Device, on: boolean): Promise<MediaStreamTrack | null> {
    this.wanted[d] = on;
    if (!on) {
      this.close(d);
      return Promise.resolve(null);
    }
    if (this.tracks[d]) return Promise.resolve(this.tracks[d]);
    const busy = this.inflight[d];
    if (busy) return busy;
    const p = this.open(d).then(
      (track) => {
        delete this.inflight[d];
        if (!this.wanted[d]) {
          track.stop();
          return null;
        }
        this.adopt(d, track);
        return track;
      },
      (e: unknown) => {
        delete this.inflight[d];
        this.wanted[d] = false;
        throw deviceError(d, e);
      },
    );
    this.inflight[d] = p;
    return p;
  }

  /** A new track with the current constraints (another device, size, processing); null when off. */
  async restart(d: Device): Promise<MediaStreamTrack | null> {
    if (!this.tracks[d]) return null;
    let track: MediaStreamTrack;
    try {
      track = await this.open(d);
    } catch (e) {
      throw deviceError(d, e);
    }
    if (!this.wanted[d]) {
      track.stop();
      return null;
    }
    this.tracks[d]?.stop();
    this.adopt(d, track);
    return track;
  }

  async startScreen(): Promise<MediaStreamTrack> {
    if (!this.devices?.getDisplayMedia) throw deviceError('screen', new DOMException('', 'NotSupportedError'));
    let stream: MediaStream;
    try {
      stream = await this.devices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch (e) {
      throw deviceError('screen', e);
    }
    const track = stream.getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'detail';
    this.close('screen');
    this.adopt('screen', track);
    return track;
  }

  close(s: LocalSource): void {
    const t = this.tracks[s];
    if (!t) return;
    t.onended = null;
    t.stop();
    this.tracks[s] = null;
    this.changed(s);
  }

  closeAll(): void {
    this.wanted.camera = this.wanted.microphone = false;
    for (const s of ['camera', 'microphone', 'screen'] as const) this.close(s);
  }

  private adopt(s: LocalSource, track: MediaStreamTrack): void {
    this.tracks[s] = track;
    track.onended = () => {
      if (this.tracks[s] !== track) return;
      this.tracks[s] = null;
      if (s !== 'screen') this.wanted[s] = false;
      this.changed(s);
      this.ended(s);
    };
    this.changed(s);
  }

  /** Queues a device; everything queued in the same task is opened by one getUserMedia. */
  private open(d: Device): Promise<MediaStreamTrack> {
    return new Promise((resolve, reject) => {
      (this.queue[d] ??= []).push({ resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushQueued = false;
    const queue = this.queue;
    this.queue = {};
    const asked = (Object.keys(queue) as Device[]).filter((d) => queue[d]?.length);
    const settle = (d: Device, stream: MediaStream) => {
      const track = (d === 'camera' ? stream.getVideoTracks() : stream.getAudioTracks())[0];
      const waiters = queue[d] ?? [];
      if (!track) {
        for (const w of waiters) w.reject(new DOMException('', 'NotFoundError'));
        return;
      }
      // Several waiters for one device (a restart while opening) each get their own track.
      waiters.forEach((w, i) => w.resolve(i === 0 ? track : track.clone()));
    };
    try {
      const stream = await this.getUserMedia(asked);
      for (const d of asked) settle(d, stream);
    } catch (e) {
      if (asked.length === 1) {
        for (const w of queue[asked[0]] ?? []) w.reject(e);
        return;
      }
      // One missing or refused device must not cost the other: ask again one by one.
      for (const d of asked) {
        try {
          settle(d, await this.getUserMedia([d]));
        } catch (e2) {
          for (const w of queue[d] ?? []) w.reject(e2);
        }
      }
    }
  }

  private getUserMedia(asked: Device[]): Promise<MediaStream> {
    if (!this.devices) return Promise.reject(new DOMException('', 'NotSupportedError'));
    return this.devices.getUserMedia({
      audio: asked.includes('microphone') ? this.constraints('microphone') : false,
      video: asked.includes('camera') ? this.constraints('camera') : false,
    });
  }
}

/** A getUserMedia / getDisplayMedia failure as a sentence for people. */
export function deviceError(s: LocalSource, e: unknown): BackendError {
  const device = TEXT.devices[s];
  const name = e instanceof DOMException || e instanceof Error ? e.name : '';
  switch (name) {
    case 'NotSupportedError':
      // Browsers offer cameras and microphones only to secure pages (https, or localhost).
      if (globalThis.isSecureContext === false) return { kind: 'device', message: TEXT.needsHttps };
      return { kind: 'device', message: TEXT.deviceFailed(device, name) };
    case 'NotAllowedError':
      // Closing the browser's screen picker without choosing says the same.
      return { kind: 'device', message: s === 'screen' ? TEXT.shareCancelled : TEXT.deviceDenied(device) };
    case 'SecurityError':
      return { kind: 'device', message: TEXT.deviceDenied(device) };
    case 'NotFoundError':
    case 'OverconstrainedError':
      return { kind: 'device', message: TEXT.deviceMissing(device) };
    case 'NotReadableError':
    case 'AbortError':
      return { kind: 'device', message: TEXT.deviceBusy(device) };
    default: {
      const detail = e instanceof Error && e.message ? e.message : name || String(e);
      return { kind: 'device', message: TEXT.deviceFailed(device, detail) };
    }
  }
}
