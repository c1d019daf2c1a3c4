/** The browser backend wired to the real page: its location, WebSocket, WebRTC and devices. */
import { BrowserBackend, type BrowserEnv } from './browserBackend';
import { testHook, type RoomcastHook } from './testHook';
import { signalingUrl } from './url';

declare global {
  interface Window {
    roomcast?: RoomcastHook;
  }
}

export function pageEnv(win: Window = window): BrowserEnv {
  let storage: Storage | undefined;
  try {
    storage = win.localStorage;
  } catch {
    storage = undefined; // blocked (e.g. third-party storage settings): nothing persists
  }
  return {
    wsUrl: signalingUrl(win.location),
    origin: win.location.origin,
    connect: (url) => new WebSocket(url),
    createPeerConnection: () => new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' }),
    mediaDevices: win.navigator.mediaDevices,
    storage,
    document: win.document,
    location: win.location,
    history: win.history,
  };
}

/** A backend for this page, with `window.roomcast` and leaving when the page goes away. */
export function pageBackend(win: Window = window): BrowserBackend {
  const backend = new BrowserBackend(pageEnv(win));
  win.roomcast = testHook(backend);
  win.addEventListener('pagehide', () => backend.leaveNow());
  return backend;
}
