import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import App from '../../App.svelte';
import { DEFAULT_SETTINGS, type HostInfo, type JoinArgs } from '../../lib/backend';
import { MockBackend } from '../../lib/mockBackend';
import Home from '../Home.svelte';

const settings = { ...DEFAULT_SETTINGS, displayName: 'Ada Lovelace', server: '' };

describe('Home', () => {
  test('join builds join_room arguments from the form', async () => {
    const backend = new MockBackend();
    const onjoin = vi.fn();
    render(Home, { props: { backend, settings, onjoin } });
    await fireEvent.input(screen.getByTestId('home-server'), { target: { value: '10.0.0.5:7880/' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '1234' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    expect(onjoin.mock.calls[0][0]).toEqual({
      server: 'http://10.0.0.5:7880',
      room: '1234',
      userId: 'Ada_Lovelace',
      role: 'anchor',
      scene: 'videocall',
      sdkAppId: null,
      userSig: null,
      displayName: 'Ada Lovelace', // the name others see
    } satisfies JoinArgs);
  });

  test('role is asked only in live scenes', async () => {
    const backend = new MockBackend();
    const onjoin = vi.fn();
    render(Home, { props: { backend, settings, onjoin } });
    expect(screen.queryByTestId('home-role-audience')).toBeNull();
    await fireEvent.change(screen.getByTestId('home-scene'), { target: { value: 'live' } });
    await fireEvent.click(screen.getByTestId('home-role-audience'));
    await fireEvent.input(screen.getByTestId('home-server'), { target: { value: 'http://s:7880' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: 'party' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    expect(onjoin.mock.calls[0][0]).toMatchObject({ scene: 'live', role: 'audience', room: 'party' });
  });

  test('an invalid room is refused with a plain message', async () => {
    const onjoin = vi.fn();
    render(Home, { props: { backend: new MockBackend(), settings, onjoin } });
    await fireEvent.input(screen.getByTestId('home-server'), { target: { value: 'http://s:7880' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '0' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    expect(onjoin).not.toHaveBeenCalled();
    expect(screen.getByTestId('home-error').textContent).toMatch(/room number/);
  });

  test('host starts the in-app server, shows the LAN address and joins it', async () => {
    const backend = new MockBackend();
    const onjoin = vi.fn();
    let host: HostInfo | null = null;
    const r = render(Home, { props: { backend, settings, onjoin, onhosted: (h: HostInfo | null) => (host = h) } });
    await fireEvent.click(screen.getByTestId('home-host'));
    await waitFor(() => expect(onjoin).toHaveBeenCalled());
    expect(backend.callsOf('host_meeting')).toHaveLength(1);
    expect(onjoin.mock.calls[0][0]).toMatchObject({ server: null, sdkAppId: null, userSig: null, userId: 'Ada_Lovelace' });
    await r.rerender({ host });
    expect(screen.getByTestId('host-address').textContent).toBe('http://192.168.1.20:7880');
  });

  test('shows the store notice and recent rooms', async () => {
    const backend = new MockBackend({ notice: 'Your settings database was damaged and has been recreated.' });
    backend.recent = [{ server: 'http://s:7880', room: '777', scene: 'audiocall', lastJoinedMs: 1 }];
    render(Home, { props: { backend, settings, onjoin: vi.fn() } });
    expect((await screen.findByTestId('store-notice')).textContent).toMatch(/damaged/);
    await fireEvent.click(await screen.findByTestId('recent-777'));
    expect((screen.getByTestId('home-room') as HTMLInputElement).value).toBe('777');
    expect((screen.getByTestId('home-scene') as HTMLSelectElement).value).toBe('audiocall');
  });
});

describe('App: Home → pre-join check → call', () => {
  test('join calls join_room with the right args after the device check', async () => {
    const backend = new MockBackend({ devices: { cameras: [], microphones: [], speakers: [] } });
    backend.settings = { ...settings };
    render(App, { props: { backend } });
    await fireEvent.input(await screen.findByTestId('home-server'), { target: { value: 'http://10.0.0.5:7880' } });
    await fireEvent.input(screen.getByTestId('home-room'), { target: { value: '42' } });
    await fireEvent.click(screen.getByTestId('home-join'));
    // Pre-join: plain messages when there are no devices; the local preview is requested.
    expect((await screen.findByTestId('pick-camera-empty')).textContent).toBe('No camera found — using the test pattern.');
    await waitFor(() => expect(backend.callsOf('set_view')).toContainEqual(expect.objectContaining({ userId: '', stream: 'main' })));
    expect(backend.callsOf('join_room')).toHaveLength(0);
    // The typed server address is remembered for next time.
    expect(backend.settings.server).toBe('http://10.0.0.5:7880');
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    await screen.findByTestId('call-grid');
    expect(backend.callsOf('join_room')).toEqual([
      {
        server: 'http://10.0.0.5:7880', room: '42', userId: 'Ada_Lovelace', role: 'anchor', scene: 'videocall', sdkAppId: null, userSig: null,
        displayName: 'Ada Lovelace',
      },
    ]);
    expect(screen.getByTestId('tile-Ada_Lovelace')).toBeTruthy();
    // Leaving returns Home.
    await fireEvent.click(screen.getByTestId('btn-leave'));
    await screen.findByTestId('home-join');
    expect(backend.callsOf('leave_room')).toHaveLength(1);
  });

  test('hosting: the address is shown through pre-join and in the call', async () => {
    const backend = new MockBackend();
    backend.settings = { ...settings };
    render(App, { props: { backend } });
    await fireEvent.click(await screen.findByTestId('home-host'));
    expect((await screen.findByTestId('host-address')).textContent).toBe('http://192.168.1.20:7880');
    await fireEvent.click(screen.getByTestId('prejoin-join'));
    await screen.findByTestId('call-grid');
    expect(screen.getByTestId('host-address').textContent).toBe('http://192.168.1.20:7880');
    expect(backend.callsOf('join_room')[0]).toMatchObject({ server: null, userSig: null, sdkAppId: null });
  });
});
