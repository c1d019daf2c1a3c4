// The meeting as a host runs it, in the app, in Korean (Settings → Language), with a
// browser guest: run by tests/tests/app.rs, which starts Xvfb and tauri-driver and passes
// WEBDRIVER, APP, ROOMCAST, ARTIFACTS and CHROMIUM.
//
// The host starts a meeting on this computer and copies its invite link; headless Chromium
// opens that link (the server's web page, with its fake camera and microphone) and joins
// under a Korean name; media flows both ways; chat lines and raised hands pass both ways; the
// host mutes the guest's microphone (the guest is told and the app sees it off), then removes
// the guest, who is told why (3010).
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { ELEMENT, driver, sleep, until } from './webdriver.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { chromium } = createRequire(join(here, '../browser/package.json'))('playwright-core');
const { WEBDRIVER = 'http://127.0.0.1:4444', APP, ARTIFACTS = '.', CHROMIUM = '/usr/bin/chromium' } = process.env;
const log = (...a) => console.error('[meeting-e2e]', ...a);
const d = driver(WEBDRIVER);
const { wd, s, find, click, type, text, attr, script, asyncScript } = d;
const HANGUL = /[\uAC00-\uD7A3]/;

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out`)), ms))]);

async function screenshot(name) {
  const png = await withTimeout(wd('GET', s('/screenshot')), 5000, `screenshot ${name}`).catch(() => null);
  if (!png) return;
  const file = join(ARTIFACTS, `app-meeting-${name}.png`);
  writeFileSync(file, Buffer.from(png, 'base64'));
  log('screenshot', file);
}

/** The guest: a Chromium page on the invite link, seen through the page's test hook. */
async function openGuest(link) {
  // The invite link opens the page over https with the in-app server's self-signed
  // certificate: a guest accepts the browser's warning once; this flag does that here.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required', '--lang=ko-KR', '--ignore-certificate-errors'],
  });
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 700 }, locale: 'ko-KR' })).newPage();
  page.on('pageerror', (e) => log('[guest] uncaught', e.message));
  const url = `${link}&name=${encodeURIComponent('민지')}&autojoin=1`;
  await page.goto(url, { waitUntil: 'load' });
  const hook = (fn, arg) => page.evaluate(fn, arg);
  return {
    browser,
    page,
    state: () => hook(() => ({ state: window.roomcast?.state, error: window.roomcast?.error ?? null, userId: window.roomcast?.userId })),
    messages: () => hook(() => (window.roomcast?.messages ?? []).map((m) => m.text)),
    handOf: (user) => hook((user) => (window.roomcast?.users ?? []).find((u) => u.user_id === user)?.hand ?? null, user),
    mutedByHost: () => hook(() => window.roomcast?.mutedByHost ?? null),
    sendChat: (t) => hook((t) => window.roomcast.sendChat(t), t),
    raiseHand: (up) => hook((up) => window.roomcast.raiseHand(up), up),
    decodedFrom: (user) => hook(async (user) => {
      const st = await window.roomcast.stats();
      const v = (st.inbound ?? []).find((r) => r.kind === 'video' && r.user_id === user);
      return v ? v.framesDecoded : 0;
    }, user),
  };
}

let guest = null;
async function main() {
  log('session', await d.start(APP));
  await find('home-name');
  const saved = await asyncScript(
    'const done = arguments[arguments.length - 1]; const i = window.__TAURI_INTERNALS__;' +
      'i.invoke("get_settings").then((s) => i.invoke("save_settings", { settings: { ...s, resolution: "360p", fps: 15, bitrateKbps: 500, language: "ko" } }))' +
      '.then(() => done("ok"), (e) => done({ error: e }));',
  );
  if (saved !== 'ok') throw new Error(`cannot save settings: ${JSON.stringify(saved)}`);
  await script('location.reload()');
  await sleep(500);

  // Korean, chosen in Settings (WebKitGTK reports the system's language only when that
  // locale is installed, which a CI image need not have; following the system is unit-tested).
  const lang = await script('return document.documentElement.lang');
  const title = await text(await find('home-host'));
  log('lang', lang, 'host button', title);
  if (!HANGUL.test(title)) throw new Error(`the UI is not in Korean: "${title}" (lang ${lang})`);

  await type(await find('home-name'), '호스트');
  await type(await find('home-room'), '5150');
  await click(await find('home-host'));
  await find('host-address');
  await click(await find('prejoin-join'));
  await find('call-grid');

  // Copy invite link: the link is shown (and copied where a clipboard exists).
  await click(await find('btn-copy-invite'));
  const field = await find('invite-link');
  const link = await until('the invite link', async () => {
    const v = await script('return arguments[0].value', [{ [ELEMENT]: field }]);
    return /#invite=v1\./.test(v ?? '') ? v : null;
  });
  log('invite link', link.replace(/invite=(.{12}).*/, 'invite=$1…'));
  if (!link.startsWith('https://')) throw new Error(`the invite link is not https (browsers need it for camera and microphone): ${link}`);

  guest = await openGuest(link);
  const joined = await until('the guest in the room', async () => {
    const st = await guest.state();
    if (st.state === 'error') throw new Error(`the guest could not join: ${JSON.stringify(st.error)}`);
    return st.state === 'in_room' ? st : null;
  }, 30000);
  const gid = joined.userId;
  log('guest entered as', gid);

  // Media both ways: the app draws the guest's camera; the guest decodes the host's.
  const tile = await find(`tile-${gid}`, 20000);
  const canvas = (await wd('POST', s(`/element/${tile}/element`), { using: 'css selector', value: 'canvas' }))[ELEMENT];
  await until('the guest drawn in the app', async () => Number(await attr(canvas, 'data-frames')) > 10, 20000);
  const hostId = await until('the host in the guest roster', async () =>
    guest.page.evaluate(() => (window.roomcast.users ?? []).map((u) => u.user_id).find(Boolean)), 10000);
  await until('the host decoded in the browser', async () => (await guest.decodedFrom(hostId)) > 15, 20000);
  log('media both ways; host is', hostId);
  // The guest's Korean name is shown in the app.
  const tileLabel = await attr(tile, 'aria-label');
  if (!String(tileLabel).includes('민지')) throw new Error(`the guest's tile is labelled "${tileLabel}", not with 민지`);

  await until('the guest microphone on in the app', async () =>
    String(await attr(await find(`mic-state-${gid}`), 'data-on')) === 'true', 10000);

  // Chat, app → guest and guest → app.
  await click(await find('btn-chat'));
  await type(await find('chat-input'), '안녕하세요, 민지님');
  await click(await find('chat-send'));
  await until('the host line in the browser', async () => (await guest.messages()).includes('안녕하세요, 민지님'), 10000);
  await guest.sendChat('반가워요 👋');
  await until('the guest line in the app', async () => {
    const lines = await script('return [...document.querySelectorAll("[data-testid=chat-line]")].map((e) => e.textContent)');
    return lines.some((l) => l.includes('반가워요'));
  }, 10000);
  log('chat both ways');

  // Hands, guest → app (in the people list) and app → guest.
  await guest.raiseHand(true);
  await click(await find('btn-people'));
  await find(`hand-${gid}`, 10000);
  await click(await find('btn-hand'));
  await until('the host hand in the browser', async () => (await guest.handOf(hostId)) != null, 10000);
  log('hands both ways');
  await screenshot('korean');

  // The host mutes the guest's microphone: the guest is told, the app sees it off.
  await click(await find(`host-mute-audio-${gid}`));
  await until('the guest told it was muted', async () => (await guest.mutedByHost()) != null, 10000);
  // Before the mute the app showed the guest's microphone on; now off.
  await until('the guest audio off in the app', async () =>
    String(await attr(await find(`mic-state-${gid}`), 'data-on')) === 'false', 10000);
  log('muted by the host');

  // Removed: the guest is told why and cannot come back with the same name on this link.
  await click(await find(`host-remove-${gid}`));
  await click(await find('confirm-ok'));
  const gone = await until('the guest removed', async () => {
    const st = await guest.state();
    return st.state !== 'in_room' ? st : null;
  }, 10000);
  if (gone.error?.code !== 3010) throw new Error(`the guest was not told it was removed: ${JSON.stringify(gone)}`);
  await guest.page.screenshot({ path: join(ARTIFACTS, 'browser-guest-removed.png') }).catch(() => {});
  log('guest removed with', gone.error.code);
  await screenshot('after-remove');
  await click(await find('btn-leave'));
  await find('home-host');
}

try {
  await main();
  log('ok');
} catch (e) {
  log('FAILED:', e.message);
  if (d.session) await screenshot('failure').catch(() => {});
  if (guest) await guest.page.screenshot({ path: join(ARTIFACTS, 'browser-guest-failure.png') }).catch(() => {});
  process.exitCode = 1;
} finally {
  if (guest) await guest.browser.close().catch(() => {});
  if (d.session) await withTimeout(d.end(), 10000, 'closing the session').catch(() => {});
  process.exit();
}
