import { describe, expect, test } from 'vitest';
import { SPEAK_TIMEOUT_MS } from '../backend';
import { SpeakState } from './speak.svelte';

describe('SpeakState', () => {
  let now = 0;
  const make = () => new SpeakState(() => now);

  test('raised hands: one per user, lowered when they go on stage', () => {
    const s = make();
    s.handle({ type: 'speak_requested', userId: 'fan' });
    s.handle({ type: 'speak_requested', userId: 'fan' });
    s.handle({ type: 'speak_requested', userId: 'kid' });
    expect(s.raisedHands.map((h) => h.userId)).toEqual(['fan', 'kid']);
    s.handle({ type: 'user_enter', userId: 'fan' });
    expect(s.raisedHands.map((h) => h.userId)).toEqual(['kid']);
    s.handle({ type: 'role_changed', role: 'audience' });
    expect(s.raisedHands).toEqual([]);
  });

  test('open items expire with the server timeout', () => {
    now = 0;
    const s = make();
    s.handle({ type: 'speak_invited', by: 'star' });
    s.handle({ type: 'speak_requested', userId: 'fan' });
    s.requestSent();
    now = SPEAK_TIMEOUT_MS - 1;
    s.expire();
    expect([s.invitations.length, s.raisedHands.length, s.requested]).toEqual([1, 1, true]);
    now = SPEAK_TIMEOUT_MS;
    s.handle({ type: 'volumes', volumes: [] });
    expect([s.invitations.length, s.raisedHands.length, s.requested]).toEqual([0, 0, false]);
  });

  test('answers become news; going on stage closes my invitations and request', () => {
    const s = make();
    s.requestSent();
    expect(s.handle({ type: 'speak_request_answered', accept: false, by: 'star' })).toMatch(/star declined/);
    expect(s.requested).toBe(false);
    expect(s.handle({ type: 'speak_invite_answered', userId: 'fan', accept: true })).toMatch(/fan accepted/);
    s.handle({ type: 'speak_invited', by: 'star' });
    s.handle({ type: 'speak_invited', by: 'star' });
    expect(s.invitations).toHaveLength(1);
    s.requestSent();
    s.handle({ type: 'role_changed', role: 'anchor' });
    expect([s.invitations.length, s.requested]).toEqual([0, false]);
  });
});
