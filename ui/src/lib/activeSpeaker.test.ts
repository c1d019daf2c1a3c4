import { describe, expect, test } from 'vitest';
import { ActiveSpeaker } from './activeSpeaker';

const v = (m: Record<string, number>) => Object.entries(m).map(([userId, volume]) => ({ userId, volume }));

describe('ActiveSpeaker', () => {
  test('nobody above the threshold: no speaker', () => {
    const s = new ActiveSpeaker({ threshold: 20, holdMs: 1000 });
    expect(s.update(v({ a: 10, b: 19 }), 0)).toBeNull();
  });

  test('the loudest above the threshold wins', () => {
    const s = new ActiveSpeaker({ threshold: 20, holdMs: 1000 });
    expect(s.update(v({ a: 30, b: 60, c: 5 }), 0)).toBe('b');
  });

  test('the highlight is held through a short pause, then dropped', () => {
    const s = new ActiveSpeaker({ threshold: 20, holdMs: 1000 });
    s.update(v({ a: 50 }), 0);
    expect(s.update(v({ a: 0 }), 300)).toBe('a');
    expect(s.update(v({ a: 0 }), 999)).toBe('a');
    expect(s.update(v({ a: 0 }), 1000)).toBeNull();
  });

  test('a brief louder interjection does not steal the highlight before the hold ends', () => {
    const s = new ActiveSpeaker({ threshold: 20, holdMs: 1000 });
    s.update(v({ a: 50 }), 0);
    expect(s.update(v({ a: 40, b: 80 }), 300)).toBe('a');
    expect(s.update(v({ a: 45, b: 20 }), 600)).toBe('a'); // a is loudest again: hold refreshed
    expect(s.update(v({ a: 30, b: 90 }), 1500)).toBe('a');
    expect(s.update(v({ a: 30, b: 90 }), 1600)).toBe('b'); // a was last loudest at 600
  });

  test('"" (me) can be the active speaker; forget() drops a leaving user', () => {
    const s = new ActiveSpeaker({ threshold: 20, holdMs: 1000 });
    expect(s.update(v({ '': 70, a: 10 }), 0)).toBe('');
    s.forget('');
    expect(s.current).toBeNull();
    expect(s.update(v({ a: 25 }), 10)).toBe('a');
  });
});
