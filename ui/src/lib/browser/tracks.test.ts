import { describe, expect, test } from 'vitest';
import { TrackTable, type TransceiverLike } from './tracks';

class T implements TransceiverLike {
  mid: string | null = null;
  constructor(public direction: RTCRtpTransceiverDirection) {}
}

/** Stands in for the peer connection: lines in creation order, mids on "setLocalDescription". */
function pc() {
  const all: T[] = [];
  let next = 0;
  return {
    all,
    create: (dir: RTCRtpTransceiverDirection) => {
      const t = new T(dir);
      all.push(t);
      return t;
    },
    assignMids: () => all.forEach((t) => (t.mid ??= String(next++))),
  };
}

describe('TrackTable', () => {
  test('negotiate lists what I publish and whom I receive, by mid', () => {
    const p = pc();
    const table = new TrackTable<T>();
    const mic = p.create('sendonly');
    table.addPublisher(mic, 'audio', 'main');
    expect(table.subscribe('ann', 'video', 'main', () => p.create('recvonly'))).not.toBeNull();
    table.subscribe('ann', 'audio', 'main', () => p.create('recvonly'));
    expect(table.describe(p.all)).toEqual([]); // no mids before the offer
    p.assignMids();
    expect(table.describe(p.all)).toEqual([
      { mid: '0', kind: 'audio', stream: 'main' },
      { mid: '1', kind: 'video', stream: 'main', user_id: 'ann' },
      { mid: '2', kind: 'audio', stream: 'main', user_id: 'ann' },
    ]);
    expect(table.publisher('audio', 'main')).toBe(mic);
    expect(table.received('ann', 'video', 'main')).toBe(p.all[1]);
  });

  test('subscribing twice adds nothing', () => {
    const p = pc();
    const table = new TrackTable<T>();
    table.subscribe('ann', 'video', 'sub', () => p.create('recvonly'));
    expect(table.subscribe('ann', 'video', 'sub', () => p.create('recvonly'))).toBeNull();
    expect(p.all).toHaveLength(1);
  });

  test('a leaving user’s lines go inactive, drop out of negotiate, and are reused by kind', () => {
    const p = pc();
    const table = new TrackTable<T>();
    table.subscribe('ann', 'video', 'main', () => p.create('recvonly'));
    table.subscribe('ann', 'audio', 'main', () => p.create('recvonly'));
    table.subscribe('bo', 'video', 'main', () => p.create('recvonly'));
    p.assignMids();
    const freed = table.unsubscribeUser('ann');
    expect(freed.map((t) => t.mid)).toEqual(['0', '1']);
    expect(freed.every((t) => t.direction === 'inactive')).toBe(true);
    expect(table.describe(p.all)).toEqual([{ mid: '2', kind: 'video', stream: 'main', user_id: 'bo' }]);
    expect(table.received('ann', 'video', 'main')).toBeUndefined();

    const reused = table.subscribe('cy', 'audio', 'main', () => p.create('recvonly'));
    expect(reused).toBe(p.all[1]);
    expect(reused?.direction).toBe('recvonly');
    expect(p.all).toHaveLength(3);
    expect(table.describe(p.all)).toContainEqual({ mid: '1', kind: 'audio', stream: 'main', user_id: 'cy' });
    expect([...table.receivers()].map(([l]) => `${l.userId}/${l.kind}`)).toEqual(['bo/video', 'cy/audio']);
  });

  test('a parked publishing line (in the audience) is not listed', () => {
    const p = pc();
    const table = new TrackTable<T>();
    const cam = p.create('sendonly');
    table.addPublisher(cam, 'video', 'main');
    p.assignMids();
    cam.direction = 'inactive';
    expect(table.describe(p.all)).toEqual([]);
    cam.direction = 'sendonly';
    expect(table.describe(p.all)).toEqual([{ mid: '0', kind: 'video', stream: 'main' }]);
    expect(table.lineOf(cam)).toEqual({ kind: 'video', stream: 'main', userId: null });
  });
});
