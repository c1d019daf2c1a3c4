import {
  DEFAULT_AUDIO_EFFECTS,
  describeError,
  type AudioEffects,
  type Backend,
  type RoomEvent,
  type SoundEffect,
} from '../backend';

/** The background music as the panel shows it. */
export interface MusicView {
  id: number;
  /** The file's name as chosen ("" when the music was started elsewhere). */
  fileName: string;
  positionMs: number;
  durationMs: number;
  paused: boolean;
}

export interface AudioStateOptions {
  /** How long an error message stays (ms). */
  errorMs?: number;
  /** Also tell someone else (e.g. the call's toasts) about errors. */
  onerror?: (message: string) => void;
}

/**
 * My audio effects and the background music.
 *
 * Effects are optimistic: a change shows at once and is sent with set_audio_effects; when that
 * fails the last effects the app accepted come back and `error` says why. Requests go one at a
 * time (a slider sends many), and changes made meanwhile are sent together afterwards, so an
 * older request can never land after a newer one.
 *
 * The music follows `music_progress` / `music_complete` events (feed them to `handle`).
 */
export class AudioState {
  effects = $state<AudioEffects>({ ...DEFAULT_AUDIO_EFFECTS });
  /** get_audio_effects has answered. */
  loaded = $state(false);
  /** The latest error, for people; cleared after a while or by `dismissError`. */
  error = $state<string | null>(null);
  music = $state<MusicView | null>(null);
  /** load_music is running. */
  loadingMusic = $state(false);
  /** Whether the next loaded music is sent to the room (or only played to me). */
  publishMusic = $state(true);
  /** 0..100: what the room hears / what I hear. */
  musicVolume = $state({ publish: 100, playout: 100 });

  private confirmed: AudioEffects = { ...DEFAULT_AUDIO_EFFECTS };
  private inflight: Promise<void> | null = null;
  private pending = false;
  private changed = false;
  private volumeInflight: Promise<void> | null = null;
  private volumePending = false;
  private errorTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly errorMs: number;
  private readonly onerror?: (message: string) => void;

  constructor(
    private readonly backend: Backend,
    opts: AudioStateOptions = {},
  ) {
    this.errorMs = opts.errorMs ?? 8000;
    this.onerror = opts.onerror;
  }

  /** What the backend can do (a browser: no voice effects, no music). */
  get capabilities(): Backend['capabilities'] {
    return this.backend.capabilities;
  }

  /** Reads the saved effects (unless the user already changed something). */
  async load(): Promise<void> {
    try {
      const saved = await this.backend.getAudioEffects();
      this.confirmed = { ...saved };
      if (!this.changed) this.effects = { ...saved };
    } catch (e) {
      this.report(e);
    } finally {
      this.loaded = true;
    }
  }

  /** Changes one effect and applies it at once. */
  set<K extends keyof AudioEffects>(key: K, value: AudioEffects[K]): Promise<void> {
    if (this.effects[key] === value) return this.settled();
    this.changed = true;
    this.effects = { ...this.effects, [key]: value };
    if (this.inflight) this.pending = true;
    else this.inflight = this.flush();
    return this.inflight;
  }

  /** Resolves when every change so far has been sent (and answered). */
  settled(): Promise<void> {
    return this.inflight ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    do {
      this.pending = false;
      const sent = { ...this.effects };
      try {
        await this.backend.setAudioEffects(sent);
        this.confirmed = sent;
      } catch (e) {
        // A newer change is queued: it decides. Otherwise show what the app really uses.
        if (!this.pending) this.effects = { ...this.confirmed };
        this.report(e);
      }
    } while (this.pending);
    this.inflight = null;
  }

  handle(e: RoomEvent): void {
    if (e.type === 'music_progress') {
      if (this.music && this.music.id === e.id) {
        this.music.positionMs = e.positionMs;
        this.music.durationMs = e.durationMs;
      } else {
        this.music = { id: e.id, fileName: '', positionMs: e.positionMs, durationMs: e.durationMs, paused: false };
      }
    } else if (e.type === 'music_complete') {
      if (this.music?.id === e.id) this.music = null;
    } else if (e.type === 'exit_room') {
      this.music = null;
    }
  }

  async loadMusic(file: File): Promise<void> {
    this.loadingMusic = true;
    try {
      const s = await this.backend.loadMusic(file, this.publishMusic);
      this.music = { ...s, fileName: file.name };
    } catch (e) {
      this.report(e);
    } finally {
      this.loadingMusic = false;
    }
  }

  /** Pauses playing music, resumes paused music. */
  togglePause(): Promise<void> {
    const m = this.music;
    if (!m) return Promise.resolve();
    const paused = !m.paused;
    return this.run(async () => {
      await this.backend.musicControl(paused ? 'pause' : 'resume');
      if (this.music) this.music.paused = paused;
    });
  }

  stopMusic(): Promise<void> {
    return this.run(async () => {
      await this.backend.musicControl('stop');
      this.music = null;
    });
  }

  /** Jumps there at once; progress events carry on from the new place. */
  seek(ms: number): Promise<void> {
    const m = this.music;
    if (!m) return Promise.resolve();
    const to = Math.max(0, Math.min(Math.round(ms), m.durationMs));
    const before = m.positionMs;
    m.positionMs = to;
    return this.run(
      () => this.backend.seekMusic(to),
      () => {
        if (this.music) this.music.positionMs = before;
      },
    );
  }

  /** Like the effects, one request at a time with the newest values (sliders send many). */
  setMusicVolume(which: 'publish' | 'playout', volume: number): Promise<void> {
    this.musicVolume = { ...this.musicVolume, [which]: volume };
    if (this.volumeInflight) this.volumePending = true;
    else this.volumeInflight = this.flushVolume();
    return this.volumeInflight;
  }

  private async flushVolume(): Promise<void> {
    do {
      this.volumePending = false;
      const { publish, playout } = this.musicVolume;
      await this.run(() => this.backend.setMusicVolume(publish, playout));
    } while (this.volumePending);
    this.volumeInflight = null;
  }

  playSoundEffect(name: SoundEffect): Promise<void> {
    return this.run(() => this.backend.playSoundEffect(name));
  }

  dismissError(): void {
    if (this.errorTimer) clearTimeout(this.errorTimer);
    this.errorTimer = null;
    this.error = null;
  }

  dispose(): void {
    this.dismissError();
  }

  private async run(action: () => Promise<void>, undo?: () => void): Promise<void> {
    try {
      await action();
    } catch (e) {
      undo?.();
      this.report(e);
    }
  }

  private report(e: unknown): void {
    const message = describeError(e);
    this.dismissError();
    this.error = message;
    this.errorTimer = setTimeout(() => {
      this.errorTimer = null;
      this.error = null;
    }, this.errorMs);
    this.onerror?.(message);
  }
}
