/**
 * Who watches which view (`Backend.mediaStream`): tiles get the MediaStream of a view now and
 * again whenever its track changes. One MediaStream per track, so a `<video>` is not reset by
 * a repeated notice.
 */
import type { StreamKind } from '../backend';

type Show = (s: MediaStream | null) => void;

export class Views {
  private readonly watchers = new Map<string, Set<Show>>();
  private readonly streams = new WeakMap<MediaStreamTrack, MediaStream>();

  /** `trackOf` says which video track a view shows now (userId "" = mine). */
  constructor(private readonly trackOf: (userId: string, stream: StreamKind) => MediaStreamTrack | null) {}

  watch(userId: string, stream: StreamKind, show: Show): () => void {
    const key = `${userId}/${stream}`;
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(show);
    show(this.streamOf(userId, stream));
    return () => {
      set.delete(show);
      if (set.size === 0) this.watchers.delete(key);
    };
  }

  /** The track of this view changed: tell whoever watches it. */
  changed(userId: string, stream: StreamKind): void {
    const set = this.watchers.get(`${userId}/${stream}`);
    if (!set) return;
    const ms = this.streamOf(userId, stream);
    for (const show of [...set]) show(ms);
  }

  private streamOf(userId: string, stream: StreamKind): MediaStream | null {
    const track = this.trackOf(userId, stream);
    if (!track) return null;
    let ms = this.streams.get(track);
    if (!ms) this.streams.set(track, (ms = new MediaStream([track])));
    return ms;
  }
}
