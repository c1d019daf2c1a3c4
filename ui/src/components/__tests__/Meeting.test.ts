import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { CHAT_MAX_BYTES, parseInviteLink, type HostInfo, type JoinArgs, type RemoteUser } from '../../lib/backend';
import { formatTime, setLanguage } from '../../lib/i18n';
import { MockBackend, type MockOptions } from '../../lib/mockBackend';
import { RoomState } from '../../lib/stores/room.svelte';
import Call from '../Call.svelte';

const args = (over: Partial<JoinArgs> = {}): JoinArgs => ({
  server: null, room: '1234', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null, displayName: 'Ada', ...over,
});
const bob: RemoteUser = { userId: 'bob', name: 'Bob Lee', role: 'anchor', audio: true, video: true, subVideo: false };
const minji: RemoteUser = { userId: 'minji', name: '김민지', role: 'anchor', audio: true, video: false, subVideo: false };

/** A call joined through the mock: I am the host unless `meeting.host` says otherwise. */
async function setup(opts: { mock?: MockOptions; join?: Partial<JoinArgs>; host?: HostInfo | null } = {}) {
  const backend = new MockBackend({ initialUsers: [bob, minji], ...opts.mock });
  const room = new RoomState(args(opts.join), [], { toastMs: 60_000 });
  await backend.onRoomEvent((e) => room.handle(e));
  room.applyJoin(await backend.joinRoom(room.args));
  const onleft = vi.fn();
  render(Call, { props: { backend, room, onleft, host: opts.host ?? null } });
  return { backend, room, onleft };
}
const toastTexts = () => screen.queryAllByTestId('toast').map((t) => t.querySelector('span')?.textContent);
const chatLines = () => screen.getAllByTestId('chat-line').map((l) => l.textContent?.replace(/\s+/g, ' ').trim());

afterEach(() => vi.useRealTimers());

describe('chat', () => {
  test('the toggle shows the unread count while closed; opening shows the lines and resets it', async () => {
    const { backend } = await setup();
    expect(screen.queryByTestId('chat-unread')).toBeNull();
    backend.meeting.remoteChat('bob', 'hello?', Date.UTC(2026, 2, 5, 14, 5));
    backend.meeting.remoteChat('minji', '안녕하세요', Date.UTC(2026, 2, 5, 14, 6));
    flushSync();
    expect(screen.getByTestId('chat-unread').textContent).toBe('2');
    expect(screen.getByTestId('btn-chat').getAttribute('aria-label')).toBe('Open the chat (2 unread messages)');
    await fireEvent.click(screen.getByTestId('btn-chat'));
    expect(screen.queryByTestId('chat-unread')).toBeNull();
    expect(screen.getAllByTestId('chat-line')).toHaveLength(2);
    expect(screen.getAllByTestId('chat-line')[1].textContent).toContain('김민지');
    expect(screen.getAllByTestId('chat-line')[1].querySelector('time')?.textContent).toBe(formatTime(Date.UTC(2026, 2, 5, 14, 6)));
  });

  test('Enter sends; my line is added when send_chat resolves, with my name as "You"', async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-chat'));
    const input = screen.getByTestId('chat-input') as HTMLTextAreaElement;
    expect((screen.getByTestId('chat-send') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(input, { target: { value: '  좋은 아침이에요  ' } });
    await fireEvent.keyDown(input, { key: 'Enter', isComposing: true }); // a Korean IME finishing a syllable
    expect(backend.callsOf('send_chat')).toEqual([]);
    await fireEvent.keyDown(input, { key: 'Enter', shiftKey: true });
    expect(backend.callsOf('send_chat')).toEqual([]);
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(screen.getAllByTestId('chat-line')).toHaveLength(1));
    expect(backend.callsOf('send_chat')).toEqual([{ text: '좋은 아침이에요' }]);
    expect(chatLines()[0]).toMatch(/^You .+ 좋은 아침이에요$/);
    expect(input.value).toBe('');
    await fireEvent.input(input, { target: { value: 'second' } });
    await fireEvent.click(screen.getByTestId('chat-send'));
    await waitFor(() => expect(screen.getAllByTestId('chat-line')).toHaveLength(2));
    expect(screen.queryByTestId('chat-unread')).toBeNull();
  });

  test('a byte counter against the limit; too long cannot be sent', async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-chat'));
    const input = screen.getByTestId('chat-input');
    await fireEvent.input(input, { target: { value: '가'.repeat(300) } }); // 3 bytes each
    expect(screen.getByTestId('chat-bytes').textContent?.trim()).toBe(`900 / ${CHAT_MAX_BYTES} bytes`);
    expect((screen.getByTestId('chat-send') as HTMLButtonElement).disabled).toBe(false);
    await fireEvent.input(input, { target: { value: '가'.repeat(300) + 'a' } });
    expect(screen.getByTestId('chat-bytes').textContent?.trim()).toBe('901 / 900 bytes');
    expect((screen.getByTestId('chat-send') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('chat-error').textContent).toBe('This message is too long: shorten it to 900 bytes.');
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(backend.callsOf('send_chat')).toEqual([]);
  });

  test("the server's rate limit is said plainly and the text is kept", async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-chat'));
    backend.failNext.set('send_chat', { kind: 'server', code: 3011, message: 'too many messages' });
    await fireEvent.input(screen.getByTestId('chat-input'), { target: { value: 'spam' } });
    await fireEvent.click(screen.getByTestId('chat-send'));
    expect((await screen.findByTestId('chat-error')).textContent).toBe('You are sending messages too fast. Wait a moment and try again.');
    expect((screen.getByTestId('chat-input') as HTMLTextAreaElement).value).toBe('spam');
    expect(screen.queryAllByTestId('chat-line')).toHaveLength(0);
  });
});

describe('hands and reactions', () => {
  test('raised hands are listed first in the order they went up, with a hand on their tiles', async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-people'));
    backend.meeting.remoteHand('minji', true);
    backend.meeting.remoteHand('bob', true);
    flushSync();
    await fireEvent.click(screen.getByTestId('btn-hand'));
    await waitFor(() => expect(screen.getByTestId('btn-hand').getAttribute('aria-pressed')).toBe('true'));
    expect(backend.callsOf('raise_hand')).toEqual([{ up: true }]);
    const rows = within(screen.getByTestId('participants')).getAllByRole('listitem');
    expect(rows.map((r) => [r.dataset.testid, r.dataset.hand ?? null])).toEqual([
      ['person-minji', '1'], ['person-bob', '2'], ['person-me', '3'],
    ]);
    expect(screen.getByTestId('hand-minji').getAttribute('aria-label')).toBe('Hand raised (#1)');
    expect(screen.getByTestId('tile-hand-bob')).toBeTruthy();
    expect(screen.getByTestId('tile-hand-me')).toBeTruthy();
    backend.meeting.remoteHand('minji', false);
    await fireEvent.click(screen.getByTestId('btn-hand'));
    await waitFor(() => expect(screen.queryByTestId('tile-hand-me')).toBeNull());
    expect(screen.queryByTestId('tile-hand-minji')).toBeNull();
    expect(screen.getByTestId('person-bob').dataset.hand).toBe('1');
  });

  test('a reaction floats over the sender’s tile for 3 s, mine too', async () => {
    const { backend } = await setup();
    vi.useFakeTimers();
    await fireEvent.click(screen.getByTestId('btn-reactions'));
    await fireEvent.click(screen.getByTestId('reaction-🎉'));
    await vi.waitFor(() => expect(backend.callsOf('send_reaction')).toEqual([{ emoji: '🎉' }]));
    backend.meeting.remoteReaction('bob', '👏');
    flushSync();
    await vi.waitFor(() => expect(screen.getByTestId('reaction-float-me').textContent).toBe('🎉'));
    expect(screen.getByTestId('reaction-float-bob').textContent).toBe('👏');
    expect(screen.queryByTestId('reactions-menu')).toBeNull();
    vi.advanceTimersByTime(3000);
    flushSync();
    expect(screen.queryByTestId('reaction-float-me')).toBeNull();
    expect(screen.queryByTestId('reaction-float-bob')).toBeNull();
  });
});

describe('muted by the host', () => {
  test('a toast, the mic turns off, and a locked mic cannot be turned on until unlocked', async () => {
    const { backend, room } = await setup({ mock: { meeting: { host: 'anna' } } });
    backend.emit({ type: 'muted_by_host', kind: 'audio', by: 'anna', locked: true });
    flushSync();
    expect(toastTexts()).toContain('The host muted your microphone and locked it');
    const mic = screen.getByTestId('btn-mic') as HTMLButtonElement;
    expect(room.micOn).toBe(false);
    expect(mic.disabled).toBe(true);
    expect(mic.dataset.locked).toBe('true');
    expect(mic.title).toBe('The host turned your microphone off and locked it');
    backend.emit({ type: 'unlocked', kind: 'audio' });
    flushSync();
    expect(toastTexts()).toContain('The host unlocked your microphone: you can turn it on again');
    expect(mic.disabled).toBe(false);
    await fireEvent.click(mic);
    await waitFor(() => expect(room.micOn).toBe(true));
    backend.emit({ type: 'muted_by_host', kind: 'video', by: 'anna', locked: false });
    flushSync();
    expect(toastTexts()).toContain('The host turned your camera off');
    expect((screen.getByTestId('btn-camera') as HTMLButtonElement).disabled).toBe(false);
    expect(room.cameraOn).toBe(false);
  });
});

describe('host controls', () => {
  test('only the host gets the meeting menu, the host buttons and the lobby', async () => {
    const { backend } = await setup({ mock: { meeting: { host: 'anna' } } });
    await fireEvent.click(screen.getByTestId('btn-people'));
    expect(screen.queryByTestId('btn-meeting')).toBeNull();
    expect(screen.queryByTestId('host-mute-all')).toBeNull();
    expect(screen.queryByTestId('host-mute-audio-bob')).toBeNull();
    expect(screen.queryByTestId('host-badge')).toBeNull();
    backend.emit({ type: 'lobby_joined', userId: 'late', name: 'Late' });
    flushSync();
    expect(screen.queryByTestId('lobby')).toBeNull();
    backend.emit({ type: 'room_changed', room: { locked: true, lobby: false, passcode: false, host: 'me' } });
    flushSync();
    expect(screen.getByTestId('btn-meeting')).toBeTruthy();
    expect(screen.getByTestId('host-mute-audio-bob')).toBeTruthy();
    expect(screen.queryByTestId('host-mute-audio-me')).toBeNull(); // not on my own row
    expect(screen.getByTestId('locked-badge')).toBeTruthy();
  });

  test('mute one (locked), unlock, mute all; the list shows their mic off', async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-people'));
    expect(screen.getByTestId('host-badge').textContent).toBe('Host');
    await fireEvent.click(screen.getByTestId('host-mute-lock'));
    await fireEvent.click(screen.getByTestId('host-mute-audio-bob'));
    await waitFor(() => expect(screen.getByTestId('host-unlock-bob')).toBeTruthy());
    expect(backend.callsOf('mute_user')).toEqual([{ userId: 'bob', kind: 'audio', lock: true }]);
    expect(screen.getByTestId('mic-state-bob').dataset.on).toBe('false');
    await fireEvent.click(screen.getByTestId('host-unlock-bob'));
    await waitFor(() => expect(screen.queryByTestId('host-unlock-bob')).toBeNull());
    expect(backend.callsOf('unlock_user')).toEqual([{ userId: 'bob', kind: 'audio' }]);
    await fireEvent.click(screen.getByTestId('host-mute-lock'));
    await fireEvent.click(screen.getByTestId('host-mute-all'));
    await waitFor(() => expect(toastTexts()).toContain('Everyone else is muted'));
    expect(backend.callsOf('mute_user').at(-1)).toEqual({ userId: null, kind: 'audio', lock: false });
    expect(screen.getByTestId('mic-state-minji').dataset.on).toBe('false');
  });

  test('remove asks first', async () => {
    const { backend } = await setup();
    await fireEvent.click(screen.getByTestId('btn-people'));
    await fireEvent.click(screen.getByTestId('host-remove-bob'));
    expect(screen.getByTestId('confirm-dialog').textContent).toContain('Remove Bob Lee from the meeting? They cannot come back to it.');
    await fireEvent.click(screen.getByTestId('confirm-cancel'));
    expect(backend.callsOf('remove_user')).toEqual([]);
    await fireEvent.click(screen.getByTestId('host-remove-bob'));
    await fireEvent.click(screen.getByTestId('confirm-ok'));
    await waitFor(() => expect(screen.queryByTestId('person-bob')).toBeNull());
    expect(backend.callsOf('remove_user')).toEqual([{ userId: 'bob' }]);
    expect(screen.queryByTestId('tile-bob')).toBeNull();
  });

  test('the meeting menu locks the room, turns the lobby on, sets and clears a passcode, keeping the others', async () => {
    const { backend } = await setup({ join: { passcode: '4821' } });
    await fireEvent.click(screen.getByTestId('btn-meeting'));
    expect(screen.getByTestId('host-passcode-state').textContent?.trim()).toBe('Guests need the passcode 4821.');
    await fireEvent.click(screen.getByTestId('host-lock'));
    await waitFor(() => expect(screen.getByTestId('host-lock').getAttribute('aria-checked')).toBe('true'));
    await fireEvent.click(screen.getByTestId('host-lobby'));
    await waitFor(() => expect(screen.getByTestId('host-lobby').getAttribute('aria-checked')).toBe('true'));
    await fireEvent.input(screen.getByTestId('host-passcode'), { target: { value: ' 0000 ' } });
    await fireEvent.click(screen.getByTestId('host-passcode-set'));
    await waitFor(() => expect(screen.getByTestId('host-passcode-state').textContent?.trim()).toBe('Guests need the passcode 0000.'));
    await fireEvent.click(screen.getByTestId('host-passcode-clear'));
    await waitFor(() => expect(screen.queryByTestId('host-passcode-clear')).toBeNull());
    expect(backend.callsOf('set_room_options')).toEqual([
      // Without a passcode the server keeps it.
      { options: { locked: true, lobby: false } },
      { options: { locked: true, lobby: true } },
      { options: { locked: true, lobby: true, passcode: '0000' } },
      { options: { locked: true, lobby: true, passcode: null } },
    ]);
    expect(screen.getByTestId('locked-badge')).toBeTruthy();
  });

  test('ending the meeting asks first, then everyone (me too) leaves with 3009', async () => {
    const { backend, room, onleft } = await setup();
    await fireEvent.click(screen.getByTestId('btn-meeting'));
    await fireEvent.click(screen.getByTestId('host-end'));
    expect(screen.getByTestId('confirm-dialog').textContent).toContain('End the meeting for everyone?');
    await fireEvent.click(screen.getByTestId('confirm-ok'));
    await waitFor(() => expect(onleft).toHaveBeenCalledWith('removed'));
    expect(backend.callsOf('end_meeting')).toEqual([{}]);
    expect([room.exitCode, room.meeting.endedByMe]).toEqual([3009, true]);
  });

  test('someone in the lobby: a toast and Admit / Deny over the call', async () => {
    const { backend } = await setup();
    await backend.setRoomOptions({ locked: false, lobby: true, passcode: null });
    backend.meeting.knock('yuna', '최유나');
    backend.meeting.knock('troll', 'Troll');
    flushSync();
    expect(toastTexts()).toContain('최유나 is waiting in the lobby');
    expect(within(screen.getByTestId('lobby')).getByRole('heading').textContent).toBe('2 people are waiting in the lobby');
    await fireEvent.click(screen.getByTestId('lobby-admit-yuna'));
    await waitFor(() => expect(screen.getByTestId('tile-yuna')).toBeTruthy());
    await fireEvent.click(screen.getByTestId('lobby-deny-troll'));
    await waitFor(() => expect(screen.queryByTestId('lobby')).toBeNull());
    expect(backend.callsOf('admit')).toEqual([{ userId: 'yuna', accept: true }, { userId: 'troll', accept: false }]);
    expect(screen.queryByTestId('tile-troll')).toBeNull();
  });
});

describe('copy invite link', () => {
  const host: HostInfo = { url: 'http://192.168.1.20:7880', sdkAppId: 1400000000 };

  test('only when this computer hosts; copies a 2-hour anchor link and shows it', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    await setup({ host });
    await fireEvent.click(screen.getByTestId('btn-copy-invite'));
    await waitFor(() => expect(writeText).toHaveBeenCalled());
    const link = writeText.mock.calls[0][0] as string;
    expect(parseInviteLink(link)).toMatchObject({ server: host.url, room: '1234', role: 'anchor', host: false });
    expect((screen.getByTestId('invite-link') as HTMLInputElement).value).toBe(link);
    expect(screen.getByTestId('invite-result').textContent).toContain('Invite link copied');
    expect(screen.queryByTestId('btn-copy-invite-audience')).toBeNull();
    Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
  });

  test('without a clipboard the link is shown selected; live scenes offer an audience link', async () => {
    Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
    const { backend } = await setup({ host, join: { scene: 'live' } });
    await fireEvent.click(screen.getByTestId('btn-copy-invite-audience'));
    const field = (await screen.findByTestId('invite-link')) as HTMLInputElement;
    expect(backend.callsOf('create_invite')).toEqual([{ request: { room: '1234', role: 'audience', expiresS: 7200, host: false } }]);
    expect(parseInviteLink(field.value)?.role).toBe('audience');
    expect(document.activeElement).toBe(field);
    expect([field.selectionStart, field.selectionEnd]).toEqual([0, field.value.length]);
    expect(screen.getByTestId('invite-result').textContent).toContain('Copy this link');
  });

  test('not offered when the meeting runs elsewhere', async () => {
    await setup({ host: null });
    expect(screen.queryByTestId('btn-copy-invite')).toBeNull();
  });
});

test('the meeting in Korean', async () => {
  setLanguage('ko');
  const { backend } = await setup();
  backend.meeting.remoteChat('bob', 'hi', 0);
  backend.emit({ type: 'lobby_joined', userId: 'yuna', name: '최유나' });
  flushSync();
  expect(screen.getByTestId('btn-chat').getAttribute('aria-label')).toBe('채팅 열기 (읽지 않은 메시지 1개)');
  expect(toastTexts()).toContain('최유나님이 대기실에서 기다리고 있어요');
  expect(screen.getByTestId('lobby-admit-yuna').textContent).toBe('입장 허락');
  expect(screen.getByTestId('btn-hand').textContent).toBe('손 들기');
  await fireEvent.click(screen.getByTestId('btn-meeting'));
  expect(screen.getByTestId('host-end').textContent).toBe('모두에게 회의 종료');
});
