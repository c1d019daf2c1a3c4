import { describe, expect, test } from 'vitest';
import { grantFor } from '../../test/browserFakes';
import { parseJoinLink, signalingUrl } from './url';

const ORIGIN = 'http://127.0.0.1:17880';

describe('join links', () => {
  test('the interop test’s link enters at once as an anchor in a video call', () => {
    expect(parseJoinLink('?app=1400000001&user=browser&sig=a%2Bb%3D&room=4242&autojoin=1', '', ORIGIN)).toEqual({
      args: { server: ORIGIN, room: '4242', userId: 'browser', role: 'anchor', scene: 'videocall', sdkAppId: 1400000001, userSig: 'a+b=' },
      audio: true,
      video: true,
      autojoin: true,
    });
  });

  test('role, scene and devices; a role only counts in live scenes', () => {
    const live = parseJoinLink('?app=1&user=fan&sig=s&room=party&scene=live&role=audience&audio=0&video=0', '', ORIGIN);
    expect(live).toMatchObject({ args: { scene: 'live', role: 'audience', room: 'party' }, audio: false, video: false, autojoin: false });
    expect(parseJoinLink('?app=1&user=u&sig=s&room=1&scene=videocall&role=audience', '', ORIGIN)?.args.role).toBe('anchor');
    expect(parseJoinLink('?app=1&user=u&sig=s&room=1&scene=dance&role=king', '', ORIGIN)?.args).toMatchObject({
      scene: 'videocall',
      role: 'anchor',
    });
  });

  test('the fragment carries the same parameters, and wins', () => {
    const link = parseJoinLink('?room=1', '#app=7&user=ann&sig=secret&room=2', ORIGIN);
    expect(link?.args).toMatchObject({ sdkAppId: 7, userId: 'ann', userSig: 'secret', room: '2' });
  });

  test('without app, user, UserSig and room there is no join', () => {
    expect(parseJoinLink('', '', ORIGIN)).toBeNull();
    expect(parseJoinLink('?app=1&user=u&room=1', '', ORIGIN)).toBeNull();
    expect(parseJoinLink('?app=x&user=u&sig=s&room=1', '', ORIGIN)).toBeNull();
    expect(parseJoinLink('?mock&demo=call', '', ORIGIN)).toBeNull();
  });
});

describe('invite links with a name (the browser test’s autojoin)', () => {
  const grant = grantFor({ app: 1400000001, room: 5150 });

  test('room and role from the grant, the server is this page, the UserID from the name', () => {
    const link = parseJoinLink('', `#invite=${grant}&name=%EB%AF%BC%EC%A7%80&autojoin=1`, ORIGIN, () => 'k3x9');
    expect(link).toEqual({
      args: {
        server: ORIGIN,
        room: '5150',
        userId: 'guest_k3x9',
        role: 'anchor',
        scene: 'videocall',
        sdkAppId: null,
        userSig: null,
        invite: grant,
        displayName: '민지',
        passcode: null,
      },
      audio: true,
      video: true,
      autojoin: true,
    });
    expect(parseJoinLink('', `#invite=${grant}&name=Anna Kim&passcode=2468&video=0`, ORIGIN)).toMatchObject({
      args: { userId: expect.stringMatching(/^Anna_Kim_[a-z0-9]+$/), displayName: 'Anna Kim', passcode: '2468' },
      video: false,
      autojoin: false,
    });
  });

  test('an audience grant watches a live room', () => {
    const audience = grantFor({ app: 1, room: 'town.hall', role: 'audience' });
    expect(parseJoinLink('', `#invite=${audience}&name=fan`, ORIGIN)?.args).toMatchObject({ room: 'town.hall', role: 'audience', scene: 'live' });
  });

  test('the grant and the name are read from the fragment only; without a name Home asks', () => {
    expect(parseJoinLink(`?invite=${grant}&name=a&autojoin=1`, '', ORIGIN)).toBeNull();
    expect(parseJoinLink(`?name=a&autojoin=1`, `#invite=${grant}`, ORIGIN)).toBeNull();
    expect(parseJoinLink('', `#invite=${grant}`, ORIGIN)).toBeNull();
  });

  test('a grant that cannot be read still goes to joinRoom, which says so', () => {
    expect(parseJoinLink('', '#invite=v1.broken&name=a&autojoin=1', ORIGIN)?.args).toMatchObject({ invite: 'v1.broken', room: '' });
  });
});

test('the signaling socket is the page’s own server', () => {
  expect(signalingUrl({ protocol: 'http:', host: '10.0.0.5:7880' })).toBe('ws://10.0.0.5:7880/ws');
  expect(signalingUrl({ protocol: 'https:', host: 'meet.example.com' })).toBe('wss://meet.example.com/ws');
});
