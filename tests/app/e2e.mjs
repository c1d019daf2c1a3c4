// End-to-end test of the real desktop app, driven through tauri-driver + WebKitWebDriver with
// plain WebDriver HTTP calls (no client library). Run by tests/tests/app.rs, which starts Xvfb
// and tauri-driver and passes: WEBDRIVER (url), APP (binary), ROOMCAST (cli binary),
// DATA_DIR (the app's data dir), ARTIFACTS (screenshots go there).
//
// Host a meeting in the app, have a `roomcast join` participant enter, check its tile shows
// moving video, turn on AI noise suppression and the "child" voice changer in the effects
// panel (the participant records what it hears: RECORD, analysed by tests/tests/app.rs),
// mute the app's microphone and see the participant notice, leave, and check the call
// history row.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ELEMENT, driver, sleep, until } from './webdriver.mjs';

const { WEBDRIVER = 'http://127.0.0.1:4444', APP, ROOMCAST, DATA_DIR, ARTIFACTS = '.', RECORD } = process.env;
const log = (...a) => console.error('[app-e2e]', ...a);
const d = driver(WEBDRIVER);
const { wd, s, find, click, type, text, attr, script, asyncScript } = d;
/// WebKitWebDriver's screenshot can wait forever for a repaint of a page that is not
/// changing; a screenshot is evidence, not the test, so it gets 10 s.
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out`)), ms))]);

async function screenshot(name) {
  const png = await withTimeout(wd('GET', s('/screenshot')), 5000, `screenshot ${name}`).catch((e) => {
    log(e.message);
    return null;
  });
  if (!png) return;
  const file = join(ARTIFACTS, `app-${name}.png`);
  writeFileSync(file, Buffer.from(png, 'base64'));
  log('screenshot', file);
}


let participant;
async function main() {
  log('session', await d.start(APP));

  // Keep the app's own camera light (360p15): CI machines have 2 cores and no GPU. English:
  // the checks below read English sentences, whatever the machine's locale.
  await find('home-name');
  const saved = await asyncScript(
    'const done = arguments[arguments.length - 1]; const i = window.__TAURI_INTERNALS__;' +
      'i.invoke("get_settings").then((s) => i.invoke("save_settings", { settings: { ...s, resolution: "360p", fps: 15, bitrateKbps: 500, language: "en" } }))' +
      '.then(() => done("ok"), (e) => done({ error: e }));',
  );
  if (saved !== 'ok') throw new Error(`cannot save settings: ${JSON.stringify(saved)}`);
  // The UI read its settings at start-up; reload so it uses the saved ones (it writes its copy
  // back when joining).
  await script('location.reload()');
  await sleep(500);

  // Home: name, room, host.
  await type(await find('home-name'), 'Host');
  await type(await find('home-room'), '4321');
  await screenshot('home');
  await click(await find('home-host'));
  const address = await text(await find('host-address'));
  log('hosting at', address);
  // Pre-join check: the (fallback) camera previews and the (fallback) microphone moves the meter.
  const preview = await find('canvas-preview');
  await until('the pre-join camera preview', async () => Number(await attr(preview, 'data-frames')) > 5, 15000);
  const meter = await find('level-meter');
  await until('the pre-join level meter moving', async () => Number(await attr(meter, 'aria-valuenow')) > 0, 15000);
  // The speaker test runs in the engine's playout: a tone on the chosen speaker, or (CI has no
  // sound card) a plain statement that it cannot, never silence.
  await click(await find('prejoin-speaker-test'));
  const spoken = await until('the speaker test result', async () => {
    const t = await text(await find('prejoin-speaker-result'));
    return /^(Played a tone on .+\. Did you hear it\?|Cannot play a tone: .+)$/.test(t) ? t : null;
  }, 10000);
  log('speaker test:', spoken);
  await screenshot('prejoin');
  await click(await find('prejoin-join'));
  await find('call-grid');

  // A headless participant joins the hosted meeting: same app (the in-app server's
  // development app, read from its database), same room.
  const apps = execFileSync(ROOMCAST, ['app', 'list', '--data', join(DATA_DIR, 'server')]).toString().trim().split('\n').map((l) => JSON.parse(l));
  const created = apps.find((a) => a.name === 'development');
  if (!created) throw new Error(`no development app in ${JSON.stringify(apps)}`);
  const report = join(ARTIFACTS, 'app-participant-report.json');
  participant = spawn(ROOMCAST, ['join', '--server', address.trim(), '--app', String(created.sdkAppId), '--key', created.secretKey,
    '--room', '4321', '--user', 'cli', '--duration', '50', '--video-size', '640x360', '--fps', '15', '--report', report,
    '--small-stream', ...(RECORD ? ['--record', RECORD] : [])],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => participant.on('exit', (code) => r(code)));

  // Its tile appears and shows moving video.
  const tile = await find('tile-cli', 20000);
  const canvas = await until('a canvas in the tile', async () => {
    try {
      const v = await wd('POST', s(`/element/${tile}/element`), { using: 'css selector', value: 'canvas' });
      return v[ELEMENT];
    } catch { return null; }
  });
  const frames = async () => Number(await attr(canvas, 'data-frames'));
  await until('first frames drawn', async () => (await frames()) > 5);
  const f1 = await frames();
  const shot1 = await withTimeout(wd('GET', s(`/element/${canvas}/screenshot`)), 10000, 'tile screenshot').catch(() => null);
  // 15 fps sent; a loaded 2-core CI machine (software WebGL, debug build) draws fewer, so
  // wait up to 10 s for 6 more frames: the check is that the picture keeps changing.
  const t1 = Date.now();
  await until('6 more frames drawn', async () => (await frames()) >= f1 + 6, 10000).catch(() => null);
  await sleep(Math.max(0, 3000 - (Date.now() - t1)));
  const f2 = await frames();
  const secs = ((Date.now() - t1) / 1000).toFixed(1);
  const shot2 = await withTimeout(wd('GET', s(`/element/${canvas}/screenshot`)), 10000, 'tile screenshot').catch(() => null);
  log(`frames drawn ${f1} -> ${f2} in ${secs} s, renderer ${await attr(canvas, 'data-renderer')}`);
  if (f2 < f1 + 6) throw new Error(`video is not moving: ${f1} -> ${f2} frames in ${secs} s`);
  if (shot1 && shot2 && shot1 === shot2) throw new Error('the tile shows the same picture 3 s apart');
  // My own tile shows my (fallback) camera too.
  const self = await find('canvas-Host-main');
  await until('my own camera drawn', async () => Number(await attr(self, 'data-frames')) > 5, 10000);
  await screenshot('call');

  // Big and small streams: the participant sends both. Two tiles ask for big; pinning my own
  // tile puts the participant in the strip, which asks for small and receives 320x180; unpin,
  // and it is big again.
  const layerOf = async () => {
    const t = await find('tile-cli'); // pinning moves the tile: look it up each time
    return [await attr(t, 'data-layer'), await attr(t, 'data-video-size')];
  };
  const layer = async (want, size) => until(`the participant's tile ${want} (${size})`, async () => {
    const [l, sz] = await layerOf();
    return l === want && sz === size ? sz : null;
  }, 15000).catch(async (e) => { throw new Error(`${e.message}; tile has ${JSON.stringify(await layerOf())}`); });
  await layer('big', '640x360');
  await click(await find('pin-Host'));
  await layer('small', '320x180');
  // My pinned tile is drawn large.
  const pinnedView = await find('pinned-view');
  const bigSelf = (await wd('POST', s(`/element/${pinnedView}/element`), { using: 'css selector', value: 'canvas' }))[ELEMENT];
  await until('my pinned view drawn', async () => Number(await attr(bigSelf, 'data-frames')) > 5, 10000);
  await screenshot('pinned');
  await click(await find('unpin'));
  await layer('big', '640x360');
  log('tile switched big → small → big');

  // Video effects: beauty (smoothing 9, whitening 3) and background blur from the panel, in
  // the call; saved, and the participant's recording of my camera shows smoother skin and a
  // blurred wall behind a sharp person (checked by app.rs).
  await click(await find('open-video-effects'));
  await find('video-effects-panel');
  await click(await find('beauty-style-smooth'));
  // Keys, as a person would use the sliders: End is the top level (9), then three Right
  // arrows from 0 for whitening.
  const smooth = await find('beauty-smooth');
  await click(smooth);
  await wd('POST', s(`/element/${smooth}/value`), { text: '\uE010' });
  const whiten = await find('beauty-whiten');
  await wd('POST', s(`/element/${whiten}/value`), { text: '\uE014\uE014\uE014' });
  log('sliders', JSON.stringify(await script('return ["beauty-smooth", "beauty-whiten"].map((id) => document.querySelector(`[data-testid=${id}]`).value);')));
  await click(await find('background-blur'));
  const video = await until('the video effects saved', async () => {
    const e = await asyncScript(
      'const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke("get_video_effects").then(done, (e) => done({ error: e }));',
    );
    return e && e.smoothness === 9 && e.whiteness === 3 && e.background?.kind === 'blur' ? e : null;
  }, 10000).catch(async (e) => {
    const shown = await find('video-effects-error', 1000).then(text, () => 'no error shown');
    throw new Error(`${e.message}: ${shown}`);
  });
  log('video effects', JSON.stringify(video));
  // Filters are listed with thumbnails.
  await find('filter-warm');
  await screenshot('video-effects');
  await sleep(4000);
  await click(await find('open-video-effects'));

  // Audio effects during the call: AI noise suppression and the "child" voice changer, from
  // the panel; they are saved and the participant's recording changes (checked by app.rs).
  // First a few seconds of the unchanged voice for the participant to record.
  await sleep(4000);
  await click(await find('btn-effects'));
  await find('effects-panel');
  await click(await find('effects-ns-ai'));
  const changer = await find('effects-voice-changer');
  await script(
    'arguments[0].value = "child"; arguments[0].dispatchEvent(new Event("change", { bubbles: true }));',
    [{ [ELEMENT]: changer }],
  );
  const effects = await until('the effects saved', async () => {
    const e = await asyncScript(
      'const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke("get_audio_effects").then(done, (e) => done({ error: e }));',
    );
    return e && e.voiceChanger === 'child' && e.noiseSuppression === 'ai' ? e : null;
  }, 10000);
  log('effects', JSON.stringify(effects));
  await screenshot('effects');
  // Background music through the real commands: a 3 s WAV made here, sent as the raw body
  // the panel's file picker sends; seek, pause/resume, volumes, a sound effect, stop; and a
  // file that is not music is refused with a message.
  const music = await asyncScript(`
    const done = arguments[arguments.length - 1];
    const i = window.__TAURI_INTERNALS__;
    const rate = 48000, n = rate * 3, wav = new DataView(new ArrayBuffer(44 + n * 2));
    const str = (o, t) => [...t].forEach((c, k) => wav.setUint8(o + k, c.charCodeAt(0)));
    str(0, 'RIFF'); wav.setUint32(4, 36 + n * 2, true); str(8, 'WAVEfmt ');
    wav.setUint32(16, 16, true); wav.setUint16(20, 1, true); wav.setUint16(22, 1, true);
    wav.setUint32(24, rate, true); wav.setUint32(28, rate * 2, true); wav.setUint16(32, 2, true);
    wav.setUint16(34, 16, true); str(36, 'data'); wav.setUint32(40, n * 2, true);
    for (let k = 0; k < n; k++) wav.setInt16(44 + k * 2, Math.round(8000 * Math.sin(2 * Math.PI * 330 * k / rate)), true);
    const bytes = new Uint8Array(wav.buffer);
    const headers = { 'x-file-name': encodeURIComponent('tone 한국.wav'), 'x-publish': 'true' };
    (async () => {
      const started = await i.invoke('load_music', bytes, { headers });
      await i.invoke('seek_music', { ms: 1500 });
      await i.invoke('music_control', { action: 'pause' });
      await i.invoke('music_control', { action: 'resume' });
      await i.invoke('set_music_volume', { publish: 60, playout: 30 });
      await i.invoke('play_sound_effect', { name: 'applause' });
      const refused = await i.invoke('load_music', new Uint8Array([1, 2, 3, 4]), { headers: { 'x-file-name': 'x.mp3' } })
        .then(() => null, (e) => e);
      const badEffect = await i.invoke('play_sound_effect', { name: 'kazoo' }).then(() => null, (e) => e);
      await i.invoke('music_control', { action: 'stop' });
      return { started, refused, badEffect };
    })().then(done, (e) => done({ error: e }));
  `);
  log('music', JSON.stringify(music));
  if (music.error) throw new Error(`music commands failed: ${JSON.stringify(music.error)}`);
  if (music.started.id !== 1 || Math.abs(music.started.durationMs - 3000) > 20) {
    throw new Error(`load_music returned ${JSON.stringify(music.started)}`);
  }
  if (!music.refused || !/supported formats/.test(music.refused.message)) {
    throw new Error(`a file that is not music was not refused clearly: ${JSON.stringify(music.refused)}`);
  }
  if (!music.badEffect || !/applause/.test(music.badEffect.message)) {
    throw new Error(`an unknown sound effect was not refused clearly: ${JSON.stringify(music.badEffect)}`);
  }
  // The participant hears the changed voice for a while before the microphone is muted: 10 s,
  // since with 6 s the participant's pitch tracker once found only 0.36 s of it (9 voiced
  // windows where app.rs asks for 10) while it found 2.4 s of the unchanged voice.
  await sleep(10000);
  await click(await find('btn-effects'));


  // Mute the microphone in the app; the participant hears about it.
  await click(await find('btn-mic'));
  await sleep(1500);
  await screenshot('muted');

  // Share the screen (Xvfb's): the picker lists it with a thumbnail; the participant receives
  // the sub stream.
  await click(await find('btn-share'));
  await find('screen-picker');
  const source = await until('a screen in the picker', async () => {
    try {
      return (await wd('POST', s('/element'), { using: 'css selector', value: '[data-testid^="source-screen:"]' }))[ELEMENT];
    } catch { return null; }
  });
  const thumb = await wd('POST', s(`/element/${source}/element`), { using: 'css selector', value: 'img' }).catch(() => null);
  if (!thumb || !String(await attr(thumb[ELEMENT], 'src')).startsWith('data:image/png;base64,')) {
    throw new Error('the screen in the picker has no thumbnail');
  }
  await screenshot('picker');
  await click(source);
  await until('sharing', async () => (await text(await find('btn-share'))).includes('Stop'), 10000);
  await sleep(3000);
  await screenshot('sharing');

  const code = await exited;
  participant = null;
  if (code !== 0) throw new Error(`roomcast join exited with ${code}`);
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const host = Object.keys(r.remotes).find((u) => u !== 'cli');
  const seen = r.remotes[host];
  log('participant saw', host, JSON.stringify(seen));
  if (!seen || !(seen.video?.frames > 30)) throw new Error(`participant got little video from the app: ${JSON.stringify(r)}`);
  // The saved camera settings (360p) are what the app sends.
  if (seen.video.width !== 640 || seen.video.height !== 360) {
    throw new Error(`the app ignored its 360p camera setting: it sent ${seen.video.width}x${seen.video.height}`);
  }
  if (!(seen.sub_video?.frames >= 10) || !(seen.sub_video.width <= 1920) || seen.sub_video.decode_errors !== 0) {
    throw new Error(`participant got little of the app's screen share: ${JSON.stringify(seen)}`);
  }
  if (!(seen.audio_off_events >= 1) || seen.audio_available !== false) {
    throw new Error(`participant did not see the app's microphone muted: ${JSON.stringify(seen)}`);
  }

  // Leave: back home, and the call is in the history.
  await click(await find('btn-leave'));
  await find('home-host');
  const history = await asyncScript(
    'const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke("call_history").then(done, (e) => done({ error: e }));',
  );
  log('history', JSON.stringify(history));
  if (!Array.isArray(history) || history.length < 1 || !history[0].participants.includes('cli')) {
    throw new Error(`no call history row with the participant: ${JSON.stringify(history)}`);
  }
  await screenshot('after-leave');
}

try {
  await main();
  log('ok');
} catch (e) {
  log('FAILED:', e.message);
  if (d.session) await screenshot('failure').catch(() => {});
  process.exitCode = 1;
} finally {
  if (participant) participant.kill();
  if (d.session) await withTimeout(d.end(), 10000, 'closing the session').catch(() => {});
  process.exit();
}
