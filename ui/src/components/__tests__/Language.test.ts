import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, test, vi } from 'vitest';
import App from '../../App.svelte';
import { DEFAULT_SETTINGS, type JoinArgs } from '../../lib/backend';
import { formatDateTime, locale, setLanguage } from '../../lib/i18n';
import { MockBackend } from '../../lib/mockBackend';
import { AudioState } from '../../lib/stores/audio.svelte';
import { RoomState } from '../../lib/stores/room.svelte';
import AudioEffectsPanel from '../AudioEffectsPanel.svelte';
import Call from '../Call.svelte';
import Home from '../Home.svelte';
import PreJoin from '../PreJoin.svelte';
import SettingsDialog from '../SettingsDialog.svelte';

const toastTexts = () => screen.getAllByTestId('toast').map((t) => t.querySelector('span')?.textContent);
const select = (id: string) => screen.getByTestId(id) as HTMLSelectElement;

describe('the language setting', () => {
  test('a language chosen in Settings shows at once and is saved', async () => {
    const backend = new MockBackend();
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend, settings: { ...DEFAULT_SETTINGS }, onclose } });
    expect(screen.getByRole('heading').textContent).toBe('Settings');
    expect(select('settings-language').value).toBe('system');
    await fireEvent.change(select('settings-language'), { target: { value: 'ko' } });
    expect(locale()).toBe('ko');
    expect(screen.getByRole('heading').textContent).toBe('설정');
    expect(screen.getByRole('button', { name: '저장' })).toBeTruthy();
    await fireEvent.click(screen.getByTestId('settings-save'));
    await waitFor(() => expect(onclose).toHaveBeenCalledWith({ ...DEFAULT_SETTINGS, language: 'ko' }));
    expect(backend.callsOf('save_settings')).toEqual([{ settings: { ...DEFAULT_SETTINGS, language: 'ko' } }]);
  });

  test('Cancel goes back to the saved language', async () => {
    setLanguage('ko');
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend: new MockBackend(), settings: { ...DEFAULT_SETTINGS, language: 'ko' }, onclose } });
    await fireEvent.change(select('settings-language'), { target: { value: 'en' } });
    expect(screen.getByRole('heading').textContent).toBe('Settings');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onclose).toHaveBeenCalledWith(null);
    expect(locale()).toBe('ko');
  });

  test('the app starts in the saved language; settings without one follow the system', async () => {
    const backend = new MockBackend();
    backend.settings = { ...DEFAULT_SETTINGS, language: 'ko' };
    const r = render(App, { props: { backend } });
    await waitFor(() => expect(locale()).toBe('ko'));
    r.unmount();
    // What a Rust side without the field sends.
    const { language: _, ...older } = DEFAULT_SETTINGS;
    backend.settings = older as typeof DEFAULT_SETTINGS;
    render(App, { props: { backend } });
    await waitFor(() => expect(locale()).toBe('en')); // jsdom's navigator.languages: en-US
  });
});

describe('screens in Korean', () => {
  const settings = { ...DEFAULT_SETTINGS, displayName: 'Ada' };

  test('Home speaks Korean, and switches to English without a reload', async () => {
    setLanguage('ko');
    render(Home, { props: { backend: new MockBackend(), settings, onjoin: vi.fn() } });
    expect(screen.getByRole('heading', { name: '방에 참여' })).toBeTruthy();
    expect(screen.getByRole('form', { name: '방에 참여' })).toBeTruthy();
    expect(screen.getByTestId('home-join').textContent).toBe('참여');
    expect((screen.getByTestId('home-name') as HTMLInputElement).placeholder).toBe('홍길동');
    expect([...(screen.getByTestId('home-scene') as HTMLSelectElement).options].map((o) => o.text)).toEqual([
      '영상 통화',
      '음성 통화',
      '라이브',
      '음성 채팅방',
    ]);
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '0' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    expect(screen.getByTestId('home-error').textContent).toBe('방 번호(1~4294967295)나 방 이름을 입력해 주세요.');

    setLanguage('en');
    flushSync();
    expect(screen.getByRole('heading', { name: 'Join a room' })).toBeTruthy();
    expect(screen.getByTestId('home-join').textContent).toBe('Join');
    expect((screen.getByTestId('home-name') as HTMLInputElement).placeholder).toBe('Ada');
    expect((screen.getByTestId('home-scene') as HTMLSelectElement).options[0].text).toBe('Video call');
  });

  test('call history: dates, durations and names in the locale’s own way', async () => {
    setLanguage('ko');
    const backend = new MockBackend();
    const startedMs = Date.UTC(2026, 2, 5, 5, 30);
    backend.history = [{ room: '42', startedMs, durationS: 750, participants: ['bob', 'cy'] }];
    render(Home, { props: { backend, settings, onjoin: vi.fn() } });
    const row = await screen.findByTestId(`call-history-${startedMs}`);
    expect(row.textContent?.replace(/\s+/g, ' ').trim()).toBe(`${formatDateTime(startedMs, 'ko')} · 13분 · bob 및 cy`);
    setLanguage('en');
    flushSync();
    expect(row.textContent?.replace(/\s+/g, ' ').trim()).toBe(`${formatDateTime(startedMs, 'en')} · 13 min · bob and cy`);
  });

  test('PreJoin speaks Korean', async () => {
    setLanguage('ko');
    const args: JoinArgs = { server: null, room: '1234', userId: 'ada', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null };
    const backend = new MockBackend({ devices: { cameras: [], microphones: [], speakers: [] } });
    const host = { url: 'http://192.168.1.20:7880', sdkAppId: 1 };
    render(PreJoin, { props: { backend, args, settings, host, onjoined: vi.fn(), onback: vi.fn() } });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('1234 방에 참여할까요?');
    expect(screen.getByTestId('host-address').parentElement?.textContent).toBe(
      '같은 네트워크에 있는 사람은 http://192.168.1.20:7880 주소의 1234 방으로 참여해요.',
    );
    expect((await screen.findByTestId('pick-camera-empty')).textContent).toBe('카메라를 찾지 못했어요 — 테스트 화면을 보내요.');
    expect(screen.getByTestId('prejoin-join').textContent?.trim()).toBe('참여');
    await fireEvent.click(screen.getByTestId('prejoin-speaker-test'));
    await waitFor(() =>
      expect(screen.getByTestId('prejoin-speaker-result').textContent).toBe('신호음을 재생할 수 없어요: No speaker found'),
    );
  });
});

describe('a call in Korean', () => {
  const args = (over: Partial<JoinArgs> = {}): JoinArgs => ({
    server: 'http://s:7880', room: '1234', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: 1, userSig: 'sig', ...over,
  });

  async function call(over: Partial<JoinArgs> = {}) {
    const backend = new MockBackend();
    const room = new RoomState(args(over));
    await backend.onRoomEvent((e) => room.handle(e));
    render(Call, { props: { backend, room, onleft: vi.fn() } });
    return { backend, room };
  }

  test('controls, tiles and toasts speak Korean; a language change relabels the controls at once', async () => {
    setLanguage('ko');
    const { backend } = await call();
    expect(screen.getByRole('button', { name: '마이크 끄기' }).textContent).toBe('음소거');
    expect(screen.getByRole('button', { name: '방 나가기' })).toBeTruthy();
    expect(screen.getByTestId('tile-me').getAttribute('aria-label')).toBe('me (나)');
    backend.emit({ type: 'user_enter', userId: 'alice' });
    backend.emit({ type: 'connection_lost' });
    flushSync();
    expect(toastTexts()).toEqual(['alice님이 들어왔어요']);
    expect(screen.getByTestId('banner-connection').textContent?.trim()).toMatch(/^연결이 끊겼어요/);

    setLanguage('en');
    flushSync();
    expect(screen.getByRole('button', { name: 'Mute microphone' }).textContent).toBe('Mute');
    expect(screen.getByTestId('banner-connection').textContent?.trim()).toMatch(/^Connection lost/);
  });

  test('errors from the server keep their words, inside Korean phrasing', async () => {
    setLanguage('ko');
    const { backend } = await call({ scene: 'live' });
    backend.failNext.set('invite_to_speak', { kind: 'server', code: 3003, message: 'zed is not in this room' });
    await fireEvent.click(screen.getByTestId('btn-invite'));
    expect((screen.getByTestId('invitee-id') as HTMLInputElement).getAttribute('aria-label')).toBe('초대할 UserID');
    await fireEvent.input(screen.getByTestId('invitee-id'), { target: { value: 'zed' } });
    await fireEvent.click(screen.getByTestId('btn-send-invite'));
    await waitFor(() => expect(toastTexts()).toEqual(['서버 오류 3003: zed is not in this room']));
  });

  test('invitations from several anchors: one Korean sentence, English plural forms', async () => {
    setLanguage('ko');
    const { backend } = await call({ scene: 'live', role: 'audience' });
    backend.emit({ type: 'speak_invited', by: 'star' });
    backend.emit({ type: 'speak_invited', by: 'moon' });
    flushSync();
    expect(screen.getByTestId('speak-invitation').querySelector('span')?.textContent).toBe('star 및 moon님이 발언자로 초대했어요');
    setLanguage('en');
    flushSync();
    expect(screen.getByTestId('speak-invitation').querySelector('span')?.textContent).toBe('star and moon invite you to speak');
  });
});

test('the audio effects panel in Korean', async () => {
  setLanguage('ko');
  const backend = new MockBackend();
  await backend.joinRoom({ server: null, room: '1', userId: 'me', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null });
  const audio = new AudioState(backend);
  render(AudioEffectsPanel, { props: { audio, inCall: true } });
  expect(screen.getByRole('option', { name: '노래방' })).toBeTruthy();
  expect(screen.getByTestId('music-status').textContent?.trim()).toBe('재생 중인 음악이 없어요. 파일을 고르면 재생돼요.');
  await fireEvent.change(screen.getByTestId('music-file'), { target: { files: [new File(['x'], '노래.mp3')] } });
  await waitFor(() => expect(screen.getByTestId('music-status').textContent?.trim()).toBe('재생 중: 노래.mp3'));
  expect(screen.getByRole('button', { name: '음악 일시정지' })).toBeTruthy();
});
