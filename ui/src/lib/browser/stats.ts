/**
 * What getStats says, in three forms: the rows `window.roomcast.stats()` returns (the shape
 * tests/browser/join.mjs reads), and the UI's `volumes`, `network_quality` and
 * `first_video_frame` events, computed from consecutive snapshots.
 */
import type { Quality, QualityEntry, RoomEvent, StreamKind, VolumeEntry } from '../backend';
import type { LineInfo } from './tracks';

export interface InboundRow {
  kind: string;
  mid: string | null;
  user_id: string | null;
  stream: StreamKind | null;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  framesPerSecond: number;
  totalSamplesReceived: number;
  concealedSamples: number;
  audioLevel: number | null;
  jitter: number | null;
  codec: string | null;
}

export interface OutboundRow {
  kind: string;
  mid: string | null;
  stream: StreamKind | null;
  /** The simulcast layer (`h` big, `l` small) of my camera; null for a line sent once. */
  rid: string | null;
  /** Whether the browser sends this encoding (false: a layer nobody receives). */
  active: boolean | null;
  packetsSent: number;
  bytesSent: number;
  framesEncoded: number;
  frameWidth: number;
  frameHeight: number;
  framesPerSecond: number;
  codec: string | null;
  encoderImplementation: string | null;
}

export interface Stats {
  inbound: InboundRow[];
  outbound: OutboundRow[];
  connection: { state: string; currentRoundTripTime?: number | null; bytesSent?: number; bytesReceived?: number } | null;
  /** My microphone's level (0..1) as the browser measures it; null when not sending audio. */
  localAudioLevel: number | null;
  /** What the server reports of my sending: the fraction of packets lost (0..1). */
  sentLoss: number | null;
}

/** How a stats row's mid maps onto my lines; 'freed' = a line whose user has left (skipped). */
export type LineResolver = (mid: string | null) => LineInfo | 'freed' | null;

type Any = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Reads an RTCStatsReport (any iterable of stats objects). */
export function readStats(report: Iterable<Any>, resolve: LineResolver, connectionState: string): Stats {
  const byId = new Map<string, Any>();
  for (const s of report) byId.set(String(s.id), s);
  const codecOf = (s: Any): string | null => {
    const c = byId.get(String(s.codecId));
    return c && typeof c.mimeType === 'string' ? c.mimeType : null;
  };
  const out: Stats = { inbound: [], outbound: [], connection: null, localAudioLevel: null, sentLoss: null };
  for (const s of byId.values()) {
    const mid = typeof s.mid === 'string' ? s.mid : null;
    if (s.type === 'inbound-rtp') {
      const line = resolve(mid);
      if (line === 'freed') continue;
      out.inbound.push({
        kind: String(s.kind),
        mid,
        user_id: line?.userId ?? null,
        stream: line?.stream ?? null,
        packetsReceived: num(s.packetsReceived),
        packetsLost: num(s.packetsLost),
        bytesReceived: num(s.bytesReceived),
        framesDecoded: num(s.framesDecoded),
        frameWidth: num(s.frameWidth),
        frameHeight: num(s.frameHeight),
        framesPerSecond: num(s.framesPerSecond),
        totalSamplesReceived: num(s.totalSamplesReceived),
        concealedSamples: num(s.concealedSamples),
        audioLevel: numOrNull(s.audioLevel),
        jitter: numOrNull(s.jitter),
        codec: codecOf(s),
      });
    } else if (s.type === 'outbound-rtp') {
      const line = resolve(mid);
      out.outbound.push({
        kind: String(s.kind),
        mid,
        stream: line && line !== 'freed' ? line.stream : null,
        rid: typeof s.rid === 'string' ? s.rid : null,
        active: typeof s.active === 'boolean' ? s.active : null,
        packetsSent: num(s.packetsSent),
        bytesSent: num(s.bytesSent),
        framesEncoded: num(s.framesEncoded),
        frameWidth: num(s.frameWidth),
        frameHeight: num(s.frameHeight),
        framesPerSecond: num(s.framesPerSecond),
        codec: codecOf(s),
        encoderImplementation: typeof s.encoderImplementation === 'string' ? s.encoderImplementation : null,
      });
    } else if (s.type === 'media-source' && s.kind === 'audio') {
      out.localAudioLevel = Math.max(out.localAudioLevel ?? 0, num(s.audioLevel));
    } else if (s.type === 'remote-inbound-rtp' && typeof s.fractionLost === 'number') {
      out.sentLoss = Math.max(out.sentLoss ?? 0, s.fractionLost);
    } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      out.connection = {
        state: connectionState,
        currentRoundTripTime: numOrNull(s.currentRoundTripTime),
        bytesSent: num(s.bytesSent),
        bytesReceived: num(s.bytesReceived),
      };
    }
  }
  out.connection ??= { state: connectionState };
  return out;
}

/** Linear level (0..1, 1 = full scale) → 0..100, -60 dB..0 dB: the engine's scale. */
export function volumeOf(level: number | null): number {
  if (level == null || !(level > 0)) return 0;
  const db = 20 * Math.log10(level);
  return Math.round(Math.min(100, Math.max(0, ((db + 60) / 60) * 100)));
}

/** TRTC's scale from loss (0..1) and round-trip time: 1 excellent … 5 very bad. */
export function qualityOf(loss: number, rttMs: number | null): Quality {
  const rtt = rttMs ?? 0;
  if (loss < 0.01 && rtt < 150) return 1;
  if (loss < 0.03 && rtt < 300) return 2;
  if (loss < 0.08 && rtt < 500) return 3;
  if (loss < 0.15 && rtt < 1000) return 4;
  return 5;
}

/** Turns consecutive snapshots into the UI's events. No clock: the caller decides when. */
export class MediaMonitor {
  private readonly lastCounts = new Map<string, { received: number; lost: number }>();
  private readonly firstFrameSeen = new Set<string>();

  volumes(s: Stats, micOn: boolean): RoomEvent {
    const perUser = new Map<string, number>();
    for (const r of s.inbound) {
      if (r.kind !== 'audio' || !r.user_id) continue;
      perUser.set(r.user_id, Math.max(perUser.get(r.user_id) ?? 0, volumeOf(r.audioLevel)));
    }
    const volumes: VolumeEntry[] = [{ userId: '', volume: micOn ? volumeOf(s.localAudioLevel) : 0 }];
    for (const [userId, volume] of perUser) volumes.push({ userId, volume });
    return { type: 'volumes', volumes };
  }

  /** One `first_video_frame` per user and stream (again after `forget`). */
  firstFrames(s: Stats): RoomEvent[] {
    const events: RoomEvent[] = [];
    for (const r of s.inbound) {
      if (r.kind !== 'video' || !r.user_id || !r.stream || r.framesDecoded <= 0) continue;
      const key = `${r.user_id}/${r.stream}`;
      if (this.firstFrameSeen.has(key)) continue;
      this.firstFrameSeen.add(key);
      events.push({ type: 'first_video_frame', userId: r.user_id, stream: r.stream, width: r.frameWidth, height: r.frameHeight });
    }
    return events;
  }

  /** Per remote user from what arrived since the last call; mine from what the server lost of mine. */
  quality(s: Stats): RoomEvent {
    const rttS = s.connection?.currentRoundTripTime;
    const rttMs = typeof rttS === 'number' ? rttS * 1000 : null;
    const now = new Map<string, { received: number; lost: number }>();
    for (const r of s.inbound) {
      if (!r.user_id) continue;
      const c = now.get(r.user_id) ?? { received: 0, lost: 0 };
      c.received += r.packetsReceived;
      c.lost += Math.max(0, r.packetsLost);
      now.set(r.user_id, c);
    }
    const qualities: QualityEntry[] = [
      { userId: '', quality: rttMs == null && s.sentLoss == null ? 0 : qualityOf(s.sentLoss ?? 0, rttMs) },
    ];
    for (const [userId, c] of now) {
      const before = this.lastCounts.get(userId) ?? { received: 0, lost: 0 };
      const received = Math.max(0, c.received - before.received);
      const lost = Math.max(0, c.lost - before.lost);
      const quality: Quality = received + lost === 0 ? 0 : qualityOf(lost / (received + lost), rttMs);
      qualities.push({ userId, quality });
    }
    this.lastCounts.clear();
    for (const [k, v] of now) this.lastCounts.set(k, v);
    return { type: 'network_quality', qualities };
  }

  forget(userId: string): void {
    for (const key of [...this.firstFrameSeen]) if (key.startsWith(`${userId}/`)) this.firstFrameSeen.delete(key);
    this.lastCounts.delete(userId);
  }
}
