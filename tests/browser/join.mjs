#!/usr/bin/env node
// Puts Debian's headless Chromium into a Roomcast room through the web page and reports what
// it sent and decoded.
//
//   node tests/browser/join.mjs --url 'http://127.0.0.1:PORT/?app=..&user=..&sig=..&room=..&autojoin=1' \
//        --duration 8 --out stats.json [--screenshot shot.png] [--say TEXT] [--restart-ice-at SECONDS]
//
// --restart-ice-at restarts ICE that many seconds into the stay, as a network change would;
// the result then has `restart: {ufrag_before, ufrag_after, before}` (before: the page as read
// just before it).
//
// or with an invite link: --url 'http://127.0.0.1:PORT/#invite=v1.…&name=민지&autojoin=1'.
//
// Exit codes: 0 in the room for the whole duration; 1 usage or launch failure; 2 the page
// reported an error (entering failed, or it was removed from the room); 3 hard timeout.
// Uses playwright-core only, with the system's Chromium (CHROMIUM, default /usr/bin/chromium):
// it never downloads a browser.

import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const USAGE = `usage: node join.mjs --url URL [--duration SECONDS] [--out FILE] [--screenshot FILE] [--enter-timeout SECONDS] [--say TEXT] [--restart-ice-at SECONDS]`;

function parseArgs(argv) {
  const args = { url: null, duration: 8, out: null, screenshot: null, enterTimeout: 20, say: null, restartIceAt: null };
  const names = {
    '--url': 'url',
    '--duration': 'duration',
    '--out': 'out',
    '--screenshot': 'screenshot',
    '--enter-timeout': 'enterTimeout',
    '--say': 'say',
    '--restart-ice-at': 'restartIceAt',
  };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s, 2);
    if (flag === '-h' || flag === '--help') {
      console.log(USAGE);
      process.exit(0);
    }
    const key = names[flag];
    if (!key) die(1, `unknown argument ${argv[i]}\n${USAGE}`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) die(1, `${flag} needs a value\n${USAGE}`);
    }
    args[key] = value;
  }
  if (!args.url) die(1, `--url is required\n${USAGE}`);
  args.duration = Number(args.duration);
  args.enterTimeout = Number(args.enterTimeout);
  if (!(args.duration >= 0)) die(1, `--duration must be a number of seconds`);
  if (!(args.enterTimeout > 0)) die(1, `--enter-timeout must be a positive number of seconds`);
  if (args.restartIceAt != null) {
    args.restartIceAt = Number(args.restartIceAt);
    if (!(args.restartIceAt >= 0)) die(1, `--restart-ice-at must be a number of seconds`);
  }
  return args;
}

function die(code, message) {
  console.error(`join.mjs: ${message}`);
  process.exit(code);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const args = parseArgs(process.argv.slice(2));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
let browser = null;

// Whatever happens, we are gone after duration + 30 s.
const hardTimeoutS = args.duration + 30;
const hardTimer = setTimeout(() => {
  console.error(`join.mjs: hard timeout: not done after ${hardTimeoutS} s (duration ${args.duration} s + 30 s); giving up`);
  process.exit(3); // playwright kills the browser it launched on exit
}, hardTimeoutS * 1000);

async function readPage(page) {
  return page.evaluate(async () => {
    const rc = window.roomcast;
    if (!rc) return { state: 'no-page', error: { code: null, message: 'window.roomcast is missing' }, users: [], messages: [], stats: null };
    let stats = null;
    try {
      stats = await rc.stats();
    } catch (e) {
      stats = { error: String(e) };
    }
    return { state: rc.state, error: rc.error, users: rc.users, messages: rc.messages, stats };
  });
}

async function screenshot(page) {
  if (args.screenshot) await page.screenshot({ path: args.screenshot }).catch((e) => console.error(`join.mjs: screenshot: ${e.message}`));
}

function writeResult(result) {
  const text = JSON.stringify(result, null, 2) + '\n';
  if (args.out) writeFileSync(args.out, text);
  else process.stdout.write(text);
}

function summarize(result) {
  for (const m of result.messages || []) console.error(`join.mjs: chat from ${m.from}: ${m.text}`);
  const s = result.stats || {};
  for (const r of s.outbound || []) {
    console.error(`join.mjs: sent ${r.kind} ${r.codec ?? '?'}: ${r.packetsSent} packets` +
      (r.kind === 'video' ? `, ${r.framesEncoded} frames ${r.frameWidth}x${r.frameHeight}` : ''));
  }
  for (const r of s.inbound || []) {
    console.error(`join.mjs: got ${r.kind} from ${r.user_id ?? '?'} ${r.codec ?? '?'}: ${r.packetsReceived} packets` +
      (r.kind === 'video' ? `, ${r.framesDecoded} frames ${r.frameWidth}x${r.frameHeight}` : `, ${r.totalSamplesReceived} samples (${r.concealedSamples} concealed)`));
  }
}

async function main() {
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        '--allow-loopback-in-peer-connection',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  } catch (e) {
    die(1, `cannot launch Chromium at ${executablePath} (set CHROMIUM to override): ${e.message}`);
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('console', (msg) => console.error(`[page] ${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => console.error(`[page] uncaught: ${err.message}`));
  page.on('crash', () => console.error('[page] crashed'));

  const response = await page.goto(args.url, { waitUntil: 'load', timeout: args.enterTimeout * 1000 }).catch((e) => {
    die(1, `cannot open ${args.url}: ${e.message}`);
  });
  if (response && !response.ok()) die(1, `${args.url} answered HTTP ${response.status()}`);

  // Wait for the page to enter the room (or fail).
  let state;
  try {
    const handle = await page.waitForFunction(
      () => window.roomcast && ['in_room', 'error', 'left'].includes(window.roomcast.state) && window.roomcast.state,
      null,
      { timeout: args.enterTimeout * 1000, polling: 100 },
    );
    state = await handle.jsonValue();
  } catch {
    const now = await readPage(page).catch(() => ({ state: 'unknown' }));
    writeResult({ ...now, failure: `not in the room after ${args.enterTimeout} s` });
    await screenshot(page);
    await browser.close();
    die(2, `not in the room after ${args.enterTimeout} s (state ${now.state})`);
  }
  if (state !== 'in_room') {
    const now = await readPage(page);
    writeResult(now);
    await screenshot(page);
    const err = now.error || {};
    await browser.close();
    die(2, `entering the room failed: state ${now.state}, error ${err.code ?? '-'}: ${err.message ?? '(none)'}`);
  }
  console.error(`join.mjs: in the room; staying ${args.duration} s`);

  // Stay, but notice early if the page drops out of the room. --say goes out once someone else
  // is there to read it (chat has no history).
  const until = Date.now() + args.duration * 1000;
  const restartAt = args.restartIceAt == null ? null : Date.now() + args.restartIceAt * 1000;
  let said = null;
  let restart = null;
  while (Date.now() < until) {
    await sleep(Math.min(250, Math.max(0, until - Date.now())));
    const now = await page.evaluate(() => ({ state: window.roomcast.state, others: window.roomcast.users.length }));
    if (now.state !== 'in_room') break;
    if (args.say != null && said == null && now.others > 0) {
      said = await page.evaluate((text) => window.roomcast.sendChat(text).then(() => 'sent', (e) => `refused: ${e.code ?? '-'} ${e.message}`), args.say);
      console.error(`join.mjs: said ${JSON.stringify(args.say)}: ${said}`);
    }
    if (restartAt != null && restart == null && Date.now() >= restartAt) {
      const before = await readPage(page);
      const ufrag = await page.evaluate(() => {
        const u = window.roomcast.iceUfrag;
        window.roomcast.restartIce();
        return u;
      });
      restart = { ufrag_before: ufrag, before };
      console.error(`join.mjs: restarting ICE (ufrag ${ufrag})`);
    }
  }
  if (restart) restart.ufrag_after = await page.evaluate(() => window.roomcast.iceUfrag);

  const result = { ...(await readPage(page)), ...(args.say != null ? { said } : {}), ...(restart ? { restart } : {}) };
  await screenshot(page);
  writeResult(result);
  summarize(result);
  // Leave as a person would, so the others see it now rather than 90 s later (closing the
  // browser does not always let the page say goodbye).
  if (result.state === 'in_room') await page.evaluate(() => window.roomcast.leave()).catch(() => {});
  await browser.close();
  if (result.state !== 'in_room') {
    const err = result.error || {};
    die(2, `dropped out of the room: state ${result.state}, error ${err.code ?? '-'}: ${err.message ?? '(none)'}`);
  }
  clearTimeout(hardTimer);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`join.mjs: ${e.stack || e}`);
    if (browser) browser.close().catch(() => {});
    process.exit(1);
  },
);
