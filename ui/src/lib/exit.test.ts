import { describe, expect, test } from 'vitest';
import { setLanguage } from './i18n';
import { exitMessage, refusalMessage } from './exit';

describe('why a call ended', () => {
  test('the server code wins, then the reason; my own leaving says nothing', () => {
    expect(exitMessage('left')).toBeNull();
    expect(exitMessage('removed', 3010)).toBe('The host removed you from the meeting.');
    expect(exitMessage('removed', 3009)).toBe('The host ended the meeting.');
    expect(exitMessage('removed', 3009, true)).toBe('You ended the meeting for everyone.');
    expect(exitMessage('removed', 3004)).toBe('You were removed from the room.');
    expect(exitMessage('room_dismissed')).toBe('The room was closed.');
    expect(exitMessage('something_new')).toBe('The call ended: something new.');
  });

  test('refusals at the door, in both languages', () => {
    expect([2004, 2005, 2006, 2007, 3006, 3007, 3008].map((c) => refusalMessage(c) !== null)).toEqual(Array(7).fill(true));
    expect(refusalMessage(4003)).toBeNull();
    expect(refusalMessage(undefined)).toBeNull();
    expect(refusalMessage(2007)).toBe('The passcode is missing or wrong. Check it and join again.');
    setLanguage('ko');
    expect(refusalMessage(3008)).toBe('호스트가 입장을 허락하지 않았어요.');
    expect(exitMessage('removed', 3010)).toBe('호스트가 회의에서 내보냈어요.');
  });
});
