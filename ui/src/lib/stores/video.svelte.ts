import {
  DEFAULT_VIDEO_EFFECTS,
  copyVideoEffects,
  describeError,
  type Backend,
  type VideoEffects,
  type VideoFileKind,
  type VideoFilter,
} from '../backend';

export interface VideoEffectsStateOptions {
  /** How long an error message stays (ms). */
  errorMs?: number;
  /** Also tell someone else (e.g. the call's toasts) about errors. */
  onerror?: (message: string) => void;
}

/** Where the Blur choice starts before a level was picked. */
export const DEFAULT_BLUR_LEVEL = 5;

/** The last part of a stored path (`/…/backgrounds/beach.jpg` → `beach.jpg`, Windows too). */
export const baseName = (path: string): string => path.split(/[\\/]/).filter(Boolean).pop() ?? path;

const same = (a: unknown, b: unknown): boolean =>
  a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/**
 * My video effects (beauty, filter, background, mirroring what others see) and the filters to
 * choose from.
 *
 * Like `AudioState`'s effects they are optimistic: a change shows at once and is sent with
 * set_video_effects; when that fails the last effects the app accepted come back and `error`
 * says why. Requests go one at a time (a slider sends many), and changes made meanwhile are sent
 * together afterwards, so an older request can never land after a newer one.
 *
 * Without the `videoEffects` capability (a browser) nothing is asked of the backend.
 */
export class VideoEffectsState {
  effects = $state<VideoEffects>(copyVideoEffects(DEFAULT_VIDEO_EFFECTS));
  /** Bundled looks, then imported ones (list_video_filters, plus what was imported here). */
  filters = $state<VideoFilter[]>([]);
  /** get_video_effects and list_video_filters have answered (or there is nothing to ask). */
  loaded = $state(false);
  /** The latest error, for people; cleared after a while or by `dismissError`. */
  error = $state<string | null>(null);
  /** import_video_file is running for a filter or a background. */
  importing = $state<VideoFileKind | null>(null);
  /** The level the Blur choice starts at: the last one used. */
  blurLevel = $state(DEFAULT_BLUR_LEVEL);
  /** The background picture as chosen here, to show its own name rather than the stored one. */
  private chosenImage = $state<{ path: string; name: string } | null>(null);

  private confirmed: VideoEffects = copyVideoEffects(DEFAULT_VIDEO_EFFECTS);
  private inflight: Promise<void> | null = null;
  private pending = false;
  private changed = false;
  private errorTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly errorMs: number;
  private readonly onerror?: (message: string) => void;

  constructor(
    private readonly backend: Backend,
    opts: VideoEffectsStateOptions = {},
  ) {
    this.errorMs = opts.errorMs ?? 8000;
    this.onerror = opts.onerror;
  }

  /** What the backend can do (a browser: no video effects). */
  get capabilities(): Backend['capabilities'] {
    return this.backend.capabilities;
  }

  /** The background picture's name, when the background is one. */
  get backgroundName(): string | null {
    const bg = this.effects.background;
    if (bg.kind !== 'image') return null;
    return this.chosenImage?.path === bg.path ? this.chosenImage.name : baseName(bg.path);
  }

  /** Reads the saved effects (unless the user already changed something) and the filters. */
  async load(): Promise<void> {
    if (!this.capabilities.videoEffects) {
      this.loaded = true;
      return;
    }
    await Promise.all([
      this.backend.getVideoEffects().then(
        (saved) => {
          this.confirmed = copyVideoEffects(saved);
          if (this.changed) return;
          this.effects = copyVideoEffects(saved);
          if (saved.background.kind === 'blur') this.blurLevel = saved.background.level;
        },
        (e) => this.report(e),
      ),
      this.backend.listVideoFilters().then(
        (list) => (this.filters = [...list, ...this.filters.filter((f) => !list.some((l) => l.id === f.id))]),
        (e) => this.report(e),
      ),
    ]);
    this.loaded = true;
  }

  /** Changes one effect and applies it at once. */
  set<K extends keyof VideoEffects>(key: K, value: VideoEffects[K]): Promise<void> {
    if (same(this.effects[key], value)) return this.settled();
    this.changed = true;
    this.effects = { ...$state.snapshot(this.effects), [key]: value };
    if (this.inflight) this.pending = true;
    else this.inflight = this.flush();
    return this.inflight;
  }

  /** No background, or the blurred room at the last level used. */
  chooseBackground(kind: 'none' | 'blur'): Promise<void> {
    return this.set('background', kind === 'none' ? { kind } : { kind, level: this.blurLevel });
  }

  setBlurLevel(level: number): Promise<void> {
    this.blurLevel = level;
    return this.set('background', { kind: 'blur', level });
  }

  /** Resolves when every change so far has been sent (and answered). */
  settled(): Promise<void> {
    return this.inflight ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    do {
      this.pending = false;
      const sent = $state.snapshot(this.effects) as VideoEffects;
      try {
        await this.backend.setVideoEffects(sent);
        this.confirmed = sent;
      } catch (e) {
        // A newer change is queued: it decides. Otherwise show what the app really uses.
        if (!this.pending) this.effects = copyVideoEffects(this.confirmed);
        this.report(e);
      }
    } while (this.pending);
    this.inflight = null;
  }

  /** Adds a filter (a PNG LUT image) to the list and uses it. */
  importFilter(file: File): Promise<void> {
    return this.withImport('filter', async () => {
      const filter = await this.backend.importVideoFilter(file);
      this.filters = [...this.filters.filter((f) => f.id !== filter.id), filter];
      await this.set('filter', filter.id);
    });
  }

  /** Stores a picture and puts it behind me. */
  importBackground(file: File): Promise<void> {
    return this.withImport('background', async () => {
      const path = await this.backend.importBackground(file);
      this.chosenImage = { path, name: file.name };
      await this.set('background', { kind: 'image', path });
    });
  }

  private async withImport(kind: VideoFileKind, action: () => Promise<void>): Promise<void> {
    this.importing = kind;
    try {
      await this.run(action);
    } finally {
      this.importing = null;
    }
  }

  /**
   * Runs something that goes with these effects but is saved elsewhere (the self view's
   * mirroring is a setting); a failure shows here. Resolves to whether it worked.
   */
  async run(action: () => Promise<void>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (e) {
      this.report(e);
      return false;
    }
  }

  dismissError(): void {
    if (this.errorTimer) clearTimeout(this.errorTimer);
    this.errorTimer = null;
    this.error = null;
  }

  dispose(): void {
    this.dismissError();
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
