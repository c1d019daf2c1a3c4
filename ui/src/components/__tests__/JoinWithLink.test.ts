import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import App from '../../App.svelte';
import { DEFAULT_SETTINGS, isValidUserId, type JoinArgs } from '../../lib/backend';
import { setLanguage } from '../../lib/i18n';
import { MockBackend } from '../../lib/mockBackend';
import Home from '../Home.svelte';
import PreJoin from '../PreJoin.svelte';

const settings = { ...DEFAULT_SETTINGS, displayName: '' };

/** A link in the real format, made by the mock's in-app server. */
async function inviteLink(over: { room?: string; role?: 'anchor' | 'audience'; expiresS?: number; host?: boolean } = {}): Promise<string> {
  return new MockBackend().createInvite({ room: '1234', role: 'anchor', expiresS: 7200, host: false, ...over });
}

afterEach(() => vi.useRealTimers());

describe('Home: join with an invite link', () => {
  test('a valid link shows its room and server, asks a name (Korean is fine) and goes on with the grant', async () => {
    const link = await inviteLink();
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend(), settings, onjoin } });
    expect(screen.queryByTestId('join-link-name')).toBeNull();
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: `  ${link}  ` } });
    expect(screen.getByTestId('join-link-details').textContent).toContain('Room 1234 on http://192.168.1.20:7880');
    expect(screen.getByTestId('join-link-expiry').textContent).toMatch(/^Works until /);
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(screen.getByTestId('join-link-error').textContent).toBe('Enter your name.');
    await fireEvent.input(screen.getByTestId('join-link-name'), { target: { value: ' 김민지 ' } });
    await fireEvent.input(screen.getByTestId('join-link-passcode'), { target: { value: '4821' } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(onjoin).toHaveBeenCalledTimes(1);
    const [args, name] = onjoin.mock.calls[0] as [JoinArgs, string];
    expect(name).toBe('김민지');
    expect(args).toEqual({
      server: 'http://192.168.1.20:7880',
      room: '1234',
      role: 'anchor',
      scene: 'videocall',
      sdkAppId: null,
      userSig: null,
      invite: link.split('#invite=')[1],
      displayName: '김민지',
      passcode: '4821',
      userId: expect.stringMatching(/^guest_[a-z0-9]+$/),
    });
    expect(isValidUserId(args.userId)).toBe(true);
  });

  test('a roomcast:// link, an audience link, no passcode', async () => {
    const link = (await inviteLink({ role: 'audience', room: 'standup' })).replace('http://', 'roomcast://');
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend(), settings: { ...settings, displayName: 'Ada Lovelace' }, onjoin } });
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: link } });
    expect(screen.getByTestId('join-link-details').textContent).toContain('You join as audience');
    expect((screen.getByTestId('join-link-name') as HTMLInputElement).value).toBe('Ada Lovelace');
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(onjoin.mock.calls[0][0]).toMatchObject({
      server: 'http://192.168.1.20:7880', room: 'standup', role: 'audience', scene: 'live', passcode: null, displayName: 'Ada Lovelace',
      userId: expect.stringMatching(/^Ada_Lovelace_[a-z0-9]+$/),
    });
  });

  test('not a link: a clear message; a name over 64 characters: another', async () => {
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend(), settings, onjoin } });
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: 'http://192.168.1.20:7880/room/1234' } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(screen.getByTestId('join-link-error').textContent).toMatch(/^This is not an invite link\. Copy the whole link/);
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: await inviteLink() } });
    expect(screen.queryByTestId('join-link-error')).toBeNull();
    await fireEvent.input(screen.getByTestId('join-link-name'), { target: { value: '가'.repeat(65) } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(screen.getByTestId('join-link-error').textContent).toBe('Your name can have at most 64 characters.');
    expect(onjoin).not.toHaveBeenCalled();
  });

  test('an expired link says so (the server decides)', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
    const link = await inviteLink({ expiresS: 60 });
    vi.setSystemTime(Date.UTC(2026, 0, 2));
    render(Home, { props: { backend: new MockBackend(), settings, onjoin: vi.fn() } });
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: link } });
    expect(screen.getByTestId('join-link-expiry').textContent).toMatch(/^This link expired at .+ Ask the host for a new one\.$/);
  });

  test('in Korean', async () => {
    setLanguage('ko');
    render(Home, { props: { backend: new MockBackend(), settings, onjoin: vi.fn() } });
    expect(screen.getByRole('heading', { name: '초대 링크로 참여' })).toBeTruthy();
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: 'garbage' } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    expect(screen.getByTestId('join-link-error').textContent).toMatch(/^초대 링크가 아니에요/);
    await fireEvent.input(screen.getByTestId('join-link'), { target: { value: await inviteLink() } });
    expect(screen.getByTestId('join-link-details').textContent).toContain('http://192.168.1.20:7880의 1234 방');
  });

  test('the host may set a passcode for the meeting it hosts', async () => {
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend(), settings: { ...settings, displayName: 'Ada' }, onjoin } });
    await fireEvent.input(screen.getByTestId('home-host-passcode'), { target: { value: ' 4821 ' } });
    await fireEvent.click(screen.getByTestId('home-host'));
    await waitFor(() => expect(onjoin).toHaveBeenCalled());
    expect(onjoin.mock.calls[0][0]).toMatchObject({ server: null, passcode: '4821', displayName: 'Ada' });
  });
});

describe('PreJoin: the lobby', () => {
  const args: JoinArgs = {
    server: 'http://192.168.1.20:7880', room: '1234', userId: 'user_ab12', role: 'anchor', scene: 'videocall',
    sdkAppId: null, userSig: null, displayName: '김민지',
  };

  function renderPreJoin(backend: MockBackend) {
    const onjoined = vi.fn();
    const onrefused = vi.fn();
    render(PreJoin, { props: { backend, args, settings, onjoined, onback: vi.fn(), onrefused } });
    return { onjoined, onrefused };
  }
  const lobbyBackend = () => new MockBackend({ lobbyWait: true, meeting: { host: 'anna', options: { lobby: true } } });

  test('"Waiting for the host to let you in…" until admitted', async () => {
    const backend = lobbyBackend();
    const { onjoined } = renderPreJoin(backend);
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    expect((await screen.findByTestId('prejoin-waiting')).textContent).toContain('Waiting for the host to let you in…');
    backend.letMeIn(true);
    await waitFor(() => expect(onjoined).toHaveBeenCalled());
    expect(onjoined.mock.calls[0][0].userId).toBe('user_ab12');
  });

  test('Cancel leaves the lobby and lets me try again', async () => {
    const backend = lobbyBackend();
    const { onjoined, onrefused } = renderPreJoin(backend);
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    await fireEvent.click(await screen.findByTestId('prejoin-cancel-wait'));
    expect(screen.queryByTestId('prejoin-waiting')).toBeNull();
    await waitFor(() => expect(backend.callsOf('leave_room')).toHaveLength(1));
    expect((screen.getByTestId('prejoin-join') as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId('prejoin-error')).toBeNull();
    expect(onjoined).not.toHaveBeenCalled();
    expect(onrefused).not.toHaveBeenCalled();
  });

  test('the host says no: Home is told why (3008)', async () => {
    const backend = lobbyBackend();
    const { onrefused } = renderPreJoin(backend);
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    await screen.findByTestId('prejoin-waiting');
    backend.letMeIn(false);
    await waitFor(() => expect(onrefused).toHaveBeenCalledWith(3008));
  });

  test('other server errors stay on the pre-join', async () => {
    const backend = new MockBackend();
    backend.failNext.set('join_room', { kind: 'server', code: 2001, message: 'UserSig expired' });
    const { onrefused } = renderPreJoin(backend);
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    expect((await screen.findByTestId('prejoin-error')).textContent).toBe('Server error 2001: UserSig expired');
    expect(onrefused).not.toHaveBeenCalled();
  });
});

describe('App: invite links and why I am back on Home', () => {
  test('a link the app was opened with fills the field; a link opened later replaces it', async () => {
    const first = await inviteLink();
    const backend = new MockBackend({ pendingInvite: first.replace('http://', 'roomcast://') });
    render(App, { props: { backend } });
    await waitFor(() => expect((screen.getByTestId('join-link') as HTMLInputElement).value).toBe(first.replace('http://', 'roomcast://')));
    const second = await inviteLink({ room: 'standup' });
    backend.emit({ type: 'invite_opened', link: second });
    flushSync();
    expect((screen.getByTestId('join-link') as HTMLInputElement).value).toBe(second);
    expect(screen.getByTestId('join-link-details').textContent).toContain('Room standup');
  });

  test('a wrong passcode: back on Home with the reason and the link, ready to retry', async () => {
    const backend = new MockBackend({ meeting: { host: 'anna', options: { passcode: '4821' } } });
    backend.settings = { ...settings, displayName: '김민지' };
    render(App, { props: { backend } });
    const link = await inviteLink();
    await fireEvent.input(await screen.findByTestId('join-link'), { target: { value: link } });
    await fireEvent.input(screen.getByTestId('join-link-passcode'), { target: { value: '1111' } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    await fireEvent.click(await screen.findByTestId('prejoin-join'));
    expect((await screen.findByTestId('home-message')).textContent).toBe('The passcode is missing or wrong. Check it and join again.');
    expect((screen.getByTestId('join-link') as HTMLInputElement).value).toBe(link);
    expect((screen.getByTestId('join-link-name') as HTMLInputElement).value).toBe('김민지');
    await fireEvent.input(screen.getByTestId('join-link-passcode'), { target: { value: '4821' } });
    await fireEvent.click(screen.getByTestId('btn-join-link'));
    await fireEvent.click(await screen.findByTestId('prejoin-join'));
    await screen.findByTestId('call-grid');
    expect(backend.callsOf('join_room').map((a) => (a as JoinArgs).passcode)).toEqual(['1111', '4821']);
  });

  test.each([
    [3010, 'The host removed you from the meeting.'],
    [3009, 'The host ended the meeting.'],
  ])('taken out of the call with %i: Home says "%s"', async (code, text) => {
    const backend = new MockBackend();
    backend.settings = { ...settings, displayName: 'Ada' };
    render(App, { props: { backend } });
    await fireEvent.input(await screen.findByTestId('home-server'), { target: { value: 'http://s:7880' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '42' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    await fireEvent.click(await screen.findByTestId('prejoin-join'));
    await screen.findByTestId('call-grid');
    backend.emit({ type: 'exit_room', reason: 'removed', code, message: 'from the server' });
    expect((await screen.findByTestId('home-message')).textContent).toBe(text);
  });

  test('the host who ended the meeting is told so, not that "the host" did', async () => {
    const backend = new MockBackend();
    backend.settings = { ...settings, displayName: 'Ada' };
    render(App, { props: { backend } });
    await fireEvent.click(await screen.findByTestId('home-host'));
    await fireEvent.click(await screen.findByTestId('prejoin-join'));
    await fireEvent.click(await screen.findByTestId('btn-meeting'));
    await fireEvent.click(screen.getByTestId('host-end'));
    await fireEvent.click(screen.getByTestId('confirm-ok'));
    expect((await screen.findByTestId('home-message')).textContent).toBe('You ended the meeting for everyone.');
  });
});
