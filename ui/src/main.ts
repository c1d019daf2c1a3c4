import { mount } from 'svelte';
import App from './App.svelte';
import type { Backend, JoinArgs } from './lib/backend';
import { MockBackend } from './lib/mockBackend';
import { RoomState } from './lib/stores/room.svelte';
import { inTauri, TauriBackend } from './lib/tauriBackend';
import './app.css';

const target = document.getElementById('app')!;

if (inTauri()) {
  mount(App, { target, props: { backend: new TauriBackend() } });
} else {
  // A plain browser (npm run dev): a scripted in-memory meeting, so the UI can be developed
  // and shown without the Rust side. `?demo=prejoin` / `?demo=call` start on those screens,
  // `?notice=text` shows the store notice, `&scene=live&role=audience` picks a scene.
  const q = new URLSearchParams(location.search);
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

async function startCall(backend: Backend, room: RoomState): Promise<() => void> {
  const unlisten = await backend.onRoomEvent((e) => room.handle(e));
  room.applyJoin(await backend.joinRoom(room.args));
  return unlisten;
}
