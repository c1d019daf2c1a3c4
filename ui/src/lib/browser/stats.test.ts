import { describe, expect, test } from 'vitest';
import { MediaMonitor, qualityOf, readStats, volumeOf, type LineResolver } from './stats';

const lines: Record<string, ReturnType<LineResolver>> = {
  '0': { kind: 'audio', stream: 'main', userId: 'cli' },
  '1': { kind: 'video', stream: 'main', userId: 'cli' },
  '2': { kind: 'audio', stream: 'main', userId: null },
  '5': 'freed',
};
const resolve: LineResolver = (mid) => (mid != null ? (lines[mid] ?? null) : null);

function report(o: { audioRecv?: number; audioLost?: number; frames?: number; level?: number; mine?: number; rtt?: number }) {
  return [
    { id: 'c1', type: 'codec', mimeType: 'audio/opus' },
    { id: 'c2', type: 'codec', mimeType: 'video/H264' },
    { id: 'ia', type: 'inbound-rtp', kind: 'audio', mid: '0', codecId: 'c1', packetsReceived: o.audioRecv ?? 100,
      packetsLost: o.audioLost ?? 0, totalSamplesReceived: 48000, concealedSamples: 10, audioLevel: o.level ?? 0.1 },
    { id: 'iv', type: 'inbound-rtp', kind: 'video', mid: '1', codecId: 'c2', packetsReceived: 300, framesDecoded: o.frames ?? 0,
      frameWidth: 640, frameHeight: 360 },
    { id: 'old', type: 'inbound-rtp', kind: 'video', mid: '5', packetsReceived: 9 },
    { id: 'oa', type: 'outbound-rtp', kind: 'audio', mid: '2', codecId: 'c1', packetsSent: 50 },
    { id: 'ms', type: 'media-source', kind: 'audio', audioLevel: o.mine ?? 0.5 },
    { id: 'ri', type: 'remote-inbound-rtp', kind: 'audio', fractionLost: 0 },
    { id: 'cp', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: o.rtt ?? 0.004, bytesSent: 1, bytesReceived: 2 },
  ];
}

describe('readStats', () => {
  test('rows in the shape join.mjs reads, with users from my mids; freed lines are left out', () => {
    const s = readStats(report({ frames: 120 }), resolve, 'connected');
    expect(s.inbound).toHaveLength(2);
    expect(s.inbound[1]).toMatchObject({ kind: 'video', mid: '1', user_id: 'cli', stream: 'main', framesDecoded: 120,
      frameWidth: 640, codec: 'video/H264' });
    expect(s.inbound[0]).toMatchObject({ kind: 'audio', user_id: 'cli', totalSamplesReceived: 48000, codec: 'audio/opus' });
    expect(s.outbound).toEqual([expect.objectContaining({ kind: 'audio', mid: '2', stream: 'main', packetsSent: 50, codec: 'audio/opus' })]);
    expect(s.connection).toEqual({ state: 'connected', currentRoundTripTime: 0.004, bytesSent: 1, bytesReceived: 2 });
    expect(s.localAudioLevel).toBe(0.5);
    expect(s.sentLoss).toBe(0);
  });

  test('my simulcast camera: one outbound row per layer, with its RID and whether it is sent', () => {
    const mine: ReturnType<LineResolver> = { kind: 'video', stream: 'main', userId: null };
    const s = readStats(
      [
        { id: 'oh', type: 'outbound-rtp', kind: 'video', mid: '3', rid: 'h', active: true, frameWidth: 1280, framesEncoded: 90 },
        { id: 'ol', type: 'outbound-rtp', kind: 'video', mid: '3', rid: 'l', active: false, frameWidth: 320, framesEncoded: 45 },
        { id: 'oa', type: 'outbound-rtp', kind: 'audio', mid: '2', packetsSent: 50 },
      ],
      (mid) => (mid === '3' ? mine : resolve(mid)),
      'connected',
    );
    expect(s.outbound.map((r) => [r.mid, r.stream, r.rid, r.active, r.frameWidth])).toEqual([
      ['3', 'main', 'h', true, 1280],
      ['3', 'main', 'l', false, 320],
      ['2', 'main', null, null, 0],
    ]);
  });

  test('before the connection: just its state', () => {
    expect(readStats([], resolve, 'new')).toMatchObject({ inbound: [], outbound: [], connection: { state: 'new' } });
  });
});

test('levels use the engine’s scale: -60 dBFS..0 dBFS → 0..100', () => {
  expect(volumeOf(null)).toBe(0);
  expect(volumeOf(0)).toBe(0);
  expect(volumeOf(1)).toBe(100);
  expect(volumeOf(0.001)).toBe(0);
  expect(volumeOf(0.1)).toBe(67);
});

test('quality from loss and round-trip time', () => {
  expect(qualityOf(0, 5)).toBe(1);
  expect(qualityOf(0.02, 5)).toBe(2);
  expect(qualityOf(0, 250)).toBe(2);
  expect(qualityOf(0.05, 5)).toBe(3);
  expect(qualityOf(0.1, 5)).toBe(4);
  expect(qualityOf(0.5, 5)).toBe(5);
});

describe('MediaMonitor', () => {
  test('volumes: me (0 when muted) and each user I hear', () => {
    const m = new MediaMonitor();
    const s = readStats(report({ level: 1, mine: 0.1 }), resolve, 'connected');
    expect(m.volumes(s, true)).toEqual({ type: 'volumes', volumes: [{ userId: '', volume: 67 }, { userId: 'cli', volume: 100 }] });
    expect(m.volumes(s, false)).toMatchObject({ volumes: [{ userId: '', volume: 0 }, { userId: 'cli', volume: 100 }] });
  });

  test('first_video_frame once per user and stream, again after the user is forgotten', () => {
    const m = new MediaMonitor();
    expect(m.firstFrames(readStats(report({ frames: 0 }), resolve, 'connected'))).toEqual([]);
    const s = readStats(report({ frames: 3 }), resolve, 'connected');
    expect(m.firstFrames(s)).toEqual([{ type: 'first_video_frame', userId: 'cli', stream: 'main', width: 640, height: 360 }]);
    expect(m.firstFrames(s)).toEqual([]);
    m.forget('cli');
    expect(m.firstFrames(s)).toHaveLength(1);
  });

  test('network quality from what arrived since the last time', () => {
    const m = new MediaMonitor();
    const q = (o: Parameters<typeof report>[0]) => {
      const e = m.quality(readStats(report(o), resolve, 'connected'));
      return e.type === 'network_quality' ? e.qualities : [];
    };
    expect(q({ audioRecv: 100, audioLost: 0 })).toEqual([{ userId: '', quality: 1 }, { userId: 'cli', quality: 1 }]);
    // 20 of the next 100 lost.
    expect(q({ audioRecv: 180, audioLost: 20 })).toContainEqual({ userId: 'cli', quality: 5 });
    // Nothing new (the video counter stays too): unknown.
    expect(q({ audioRecv: 180, audioLost: 20 })).toContainEqual({ userId: 'cli', quality: 0 });
    expect(q({ audioRecv: 280, audioLost: 20, rtt: 0.35 })).toContainEqual({ userId: 'cli', quality: 3 });
  });
});
