import { mount } from 'svelte';
import App from './App.svelte';
import { describeError, isAudioOnlyScene, type Backend, type JoinArgs } from './lib/backend';
import { pageBackend } from './lib/browser/page';
import { parseJoinLink, type LinkJoin } from './lib/browser/url';
import { MockBackend } from './lib/mockBackend';
import { RoomState } from './lib/stores/room.svelte';
import { inTauri, TauriBackend } from './lib/tauriBackend';
import './app.css';

const target = document.getElementById('app')!;
const q = new URLSearchParams(location.search);

if (inTauri()) {
  mount(App, { target, props: { backend: new TauriBackend() } });
} else if (q.has('mock')) {
  startMock();
} else {
  startBrowser();
}

/**
 * The web page served by a Roomcast server: the browser's own WebRTC. A link with the app,
 * user, UserSig and room opens the pre-join check (`autojoin=1`: straight into the call).
 */
function startBrowser(): void {
  const backend = pageBackend();
  const link = parseJoinLink(location.search, location.hash, location.origin);
  if (!link) {
    mount(App, { target, props: { backend } });
  } else if (!link.autojoin) {
    mount(App, { target, props: { backend, initial: { kind: 'prejoin', args: link.args } } });
  } else {
    autojoin(backend, link).then(
      ({ room, unlisten }) => mount(App, { target, props: { backend, initial: { kind: 'call', room, unlisten } } }),
      (e) => mount(App, { target, props: { backend, initial: { kind: 'home', message: describeError(e) } } }),
    );
  }
}

/** What PreJoin does, without asking: devices on as the link says, then enter. */
async function autojoin(backend: Backend, link: LinkJoin): Promise<{ room: RoomState; unlisten: () => void }> {
  const room = new RoomState(link.args);
  const anchor = link.args.role === 'anchor';
  room.micOn = anchor && link.audio && (await backend.setMicrophone(true).then(() => true, () => false));
  room.cameraOn =
    anchor && link.video && !isAudioOnlyScene(link.args.scene) && (await backend.setCamera(true).then(() => true, () => false));
  const unlisten = await startCall(backend, room);
  return { room, unlisten };
}

/**
 * A scripted in-memory meeting (`?mock`), so the UI can be developed and shown without a
 * server. `&demo=prejoin` / `&demo=call` start on those screens, `&notice=text` shows the store
 * notice, `&scene=live&role=audience` picks a scene.
 */
function startMock(): void {
  const backend = new MockBackend({
    autoplay: true,
    initialUsers: [{ userId: 'host_anna', role: 'anchor', audio: true, video: true, subVideo: false }],
    notice: q.get('notice'),
  });
  const args: JoinArgs = {
    server: 'http://192.168.1.20:7880',
    room: '1234',
    userId: 'me',
    role: (q.get('role') as JoinArgs['role']) ?? 'anchor',
    scene: (q.get('scene') as JoinArgs['scene']) ?? 'videocall',
    sdkAppId: null,
    userSig: null,
  };
  const demo = q.get('demo');
  if (demo === 'call') {
    const room = new RoomState(args);
    room.role = args.role;
    room.cameraOn = room.micOn = args.role === 'anchor';
    startCall(backend, room).then((unlisten) =>
      mount(App, { target, props: { backend, initial: { kind: 'call', room, unlisten } } }),
    );
  } else {
    mount(App, {
      target,
      props: { backend, initial: demo === 'prejoin' ? { kind: 'prejoin', args } : { kind: 'home' } },
    });
  }
}

/** Listens before entering, so no event is missed; stops listening when entering fails. */
async function startCall(backend: Backend, room: RoomState): Promise<() => void> {
  const unlisten = await backend.onRoomEvent((e) => room.handle(e));
  try {
    room.applyJoin(await backend.joinRoom(room.args));
  } catch (e) {
    unlisten();
    room.dispose();
    throw e;
  }
  return unlisten;
}
