// Rendering benchmark for the desktop app (scripts/bench-render starts Xvfb, tauri-driver and
// this). The app hosts a meeting; four headless participants send 640x360 at 15 fps and one of
// them also shares a 1920x1080 "screen" at 10 fps. We then count the frames each canvas drew
// over a window and the CPU time of the app's process tree (the app and its WebKit processes),
// and print one JSON object on stdout.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { driver, sleep } from './webdriver.mjs';

const { WEBDRIVER, APP, ROOMCAST, DATA_DIR, WINDOW_S = '20' } = process.env;
const log = (...a) => console.error('[bench-render]', ...a);
const d = driver(WEBDRIVER);
const { wd, s, find, click, type, text, script, asyncScript } = d;

// --- /proc accounting -------------------------------------------------------------------------
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
function procs() {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      const comm = st.slice(st.indexOf('(') + 1, close);
      const f = st.slice(close + 2).split(' ');
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const rss = Number((/VmRSS:\s+(\d+)/.exec(status) || [0, 0])[1]);
      out.push({ pid: Number(d), comm, ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]), rssKb: rss });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}
/** The app and every descendant (WebKitWebProcess, WebKitNetworkProcess). */
function appTree() {
  const all = procs();
  const root = all.find((p) => p.comm.startsWith('roomcast-app'));
  if (!root) throw new Error('the app process is not running');
  const tree = new Map([[root.pid, root]]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!tree.has(p.pid) && tree.has(p.ppid)) { tree.set(p.pid, p); grew = true; }
  }
  return [...tree.values()];
}
const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0);

let participants = [];
async function main() {
  await d.start(APP);
  await find('home-name');
  // The app's own camera is off for the measurement (what is measured is receiving and drawing).
  await asyncScript(
    'const done = arguments[arguments.length - 1]; const i = window.__TAURI_INTERNALS__;' +
      'i.invoke("get_settings").then((s) => i.invoke("save_settings", { settings: { ...s, resolution: "360p", fps: 15 } })).then(() => done("ok"), (e) => done(e));',
  );
  await script('location.reload()');
  await sleep(500);
  await type(await find('home-name'), 'Host');
  await type(await find('home-room'), '777');
  await click(await find('home-host'));
  const address = (await text(await find('host-address'))).trim();
  await click(await find('prejoin-join'));
  await find('call-grid');
  await click(await find('btn-camera'));

  const apps = execFileSync(ROOMCAST, ['app', 'list', '--data', join(DATA_DIR, 'server')]).toString().trim().split('\n').map((l) => JSON.parse(l));
  const dev = apps.find((a) => a.name === 'development');
  const window = Number(WINDOW_S);
  const users = ['p1', 'p2', 'p3', 'p4'];
  participants = users.map((u, i) =>
    spawn(ROOMCAST, ['join', '--server', address, '--app', String(dev.sdkAppId), '--key', dev.secretKey, '--room', '777', '--user', u,
      '--duration', String(window + 40), '--video-size', '640x360', '--fps', '15', '--audio', 'tone',
      ...(i === 0 ? ['--share', '1920x1080', '--share-fps', '10', '--share-kbps', '2500'] : [])],
    { stdio: ['ignore', 'ignore', 'ignore'] }));

  const canvases = [...users.map((u) => `canvas-${u}-main`), 'canvas-p1-sub'];
  for (const c of canvases) await find(c, 40000);
  // Let every stream settle (first keyframes, the layout switching to the shared screen)
  // before measuring. Tiles are re-created when the layout changes, so elements are looked up
  // afresh for every reading.
  await sleep(8000);
  const attr = async (c, name) => wd('GET', s(`/element/${await find(c, 5000)}/attribute/${name}`));
  const frames = async () => Object.fromEntries(await Promise.all(canvases.map(async (c) => [c, Number(await attr(c, 'data-frames'))])));
  const sizes = Object.fromEntries(await Promise.all(canvases.map(async (c) => {
    const r = await wd('GET', s(`/element/${await find(c, 5000)}/rect`));
    return [c, `${Math.round(r.width)}x${Math.round(r.height)}`];
  })));
  const f0 = await frames();
  const p0 = appTree();
  const t0 = Date.now();
  await sleep(window * 1000);
  const f1 = await frames();
  const p1 = appTree();
  const secs = (Date.now() - t0) / 1000;
  const renderer = await attr(canvases[0], 'data-renderer');
  const fps = Object.fromEntries(canvases.map((c) => [c, +((f1[c] - f0[c]) / secs).toFixed(1)]));
  const cpuS = (sum(p1, 'cpu') - sum(p0, 'cpu')) / TICK;
  const byProc = {};
  for (const p of p1) {
    const before = p0.find((x) => x.pid === p.pid);
    const name = p.comm;
    byProc[name] = (byProc[name] || 0) + (p.cpu - (before ? before.cpu : p.cpu)) / TICK / secs * 100;
  }
  return {
    window_s: +secs.toFixed(1),
    renderer,
    tile_css_px: sizes,
    fps,
    app_cpu_pct_of_one_core: +(cpuS / secs * 100).toFixed(0),
    cpu_pct_by_process: Object.fromEntries(Object.entries(byProc).map(([k, v]) => [k, +v.toFixed(0)])),
    app_rss_mib: +(sum(p1, 'rssKb') / 1024).toFixed(0),
  };
}

try {
  const r = await main();
  console.log(JSON.stringify(r));
} catch (e) {
  log('FAILED:', e.message);
  process.exitCode = 1;
} finally {
  for (const p of participants) p.kill();
  await d.end().catch(() => {});
  process.exit();
}
