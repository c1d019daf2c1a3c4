import { mount } from 'svelte';
import App from './App.svelte';
import type { Backend } from './lib/backend';
import { MockBackend } from './lib/mockBackend';
import { inTauri, TauriBackend } from './lib/tauriBackend';
import './app.css';

// Inside the Tauri app: the real backend. In a plain browser (npm run dev): a scripted
// in-memory meeting, so the UI can be developed and shown without the Rust side.
const backend: Backend = inTauri()
  ? new TauriBackend()
  : new MockBackend({
      autoplay: true,
      initialUsers: [{ userId: 'host_anna', role: 'anchor', audio: true, video: true, subVideo: false }],
      notice: new URLSearchParams(location.search).get('notice'),
    });

const app = mount(App, { target: document.getElementById('app')!, props: { backend } });
export default app;
