/**
 * Which layer of each remote camera to receive (simulcast: big or small), from what the call
 * screen shows. Pure, so it is tested on its own; Call.svelte applies the result through
 * {@link LayerRequests}, which asks the backend only for what changed.
 *
 * - A grid of 1 or 2 tiles (a one-to-one call): big. A grid of 3 or more: small.
 * - A stage (one view large, the others in a strip below): the large one big when it is a
 *   camera (a pinned tile), every strip tile small. While a screen share fills the stage every
 *   camera is in the strip: all small. A screen share itself has no layers and is never asked.
 */
import type { VideoStreamType } from './backend';

/** What the decision needs of a tile (TileInfo has it). */
export interface LayerTile {
  userId: string;
  isSelf: boolean;
}

/**
 * `grid`: every tile the same size (VideoGrid). `share`: a screen share takes the large view,
 * the cameras are in the strip. With `pinned` (and no share), that tile takes the large view.
 */
export type CallLayout = 'grid' | 'share';

/** A grid with this many tiles or more asks for the small layer. */
export const SMALL_GRID_FROM = 3;

/**
 * The pinned tile that is shown large: `pinned` when it is one of `tiles`, there is someone
 * else to put in the strip, and no screen share holds the stage; null otherwise (the pin then
 * waits: until the share ends, or someone else is there).
 */
export function stageTile<T extends LayerTile>(tiles: readonly T[], layout: CallLayout, pinned: string | null): T | null {
  if (pinned === null || layout === 'share' || tiles.length < 2) return null;
  return tiles.find((t) => t.userId === pinned) ?? null;
}

/**
 * The layer to receive for every remote camera tile in `tiles` (my own tile is never asked
 * for). A user with their camera off is included too, so that the right layer comes as soon
 * as it is turned on.
 */
export function wantedLayers(tiles: readonly LayerTile[], layout: CallLayout, pinned: string | null): Map<string, VideoStreamType> {
  const large = stageTile(tiles, layout, pinned);
  const onStage = layout === 'share' || large !== null;
  const out = new Map<string, VideoStreamType>();
  for (const t of tiles) {
    if (t.isSelf) continue;
    const big = onStage ? t === large : tiles.length < SMALL_GRID_FROM;
    out.set(t.userId, big ? 'big' : 'small');
  }
  return out;
}

/**
 * Asks for each user's layer only when it changes. A user who is no longer wanted (left, or
 * out of view) is forgotten, so that they are asked again when they come back; `reset` forgets
 * everyone (e.g. after a reconnection). A refused request is only reported: asking again at
 * once would repeat it every time the tiles change (the volumes do, every 300 ms), so it is
 * asked again when that user's layer changes, or after a reset.
 */
export class LayerRequests {
  private readonly asked = new Map<string, VideoStreamType>();

  constructor(
    private readonly send: (userId: string, type: VideoStreamType) => Promise<void>,
    /** A request was refused (the picture just stays at the layer it was). */
    private readonly refused: (userId: string, type: VideoStreamType, e: unknown) => void = (userId, type, e) =>
      console.warn(`set_remote_video_stream_type ${userId} ${type}:`, e),
  ) {}

  /** Sends what differs from what was last asked; returns those requests. */
  apply(wanted: ReadonlyMap<string, VideoStreamType>): [string, VideoStreamType][] {
    for (const userId of [...this.asked.keys()]) if (!wanted.has(userId)) this.asked.delete(userId);
    const sent: [string, VideoStreamType][] = [];
    for (const [userId, type] of wanted) {
      if (this.asked.get(userId) === type) continue;
      this.asked.set(userId, type);
      sent.push([userId, type]);
      this.send(userId, type).catch((e: unknown) => this.refused(userId, type, e));
    }
    return sent;
  }

  reset(): void {
    this.asked.clear();
  }

  /** What was last asked for this user (undefined: nothing yet). */
  layerOf(userId: string): VideoStreamType | undefined {
    return this.asked.get(userId);
  }
}
