// Plain WebDriver HTTP for the desktop app's scripts (e2e.mjs, bench-render.mjs): one session
// of the app through tauri-driver, elements found by data-testid.
export const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

export function driver(url) {
  let session = null;
  async function wd(method, path, body) {
    const res = await fetch(url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  }
  const s = (p) => `/session/${session}${p}`;
  const d = {
    wd,
    s,
    get session() { return session; },
    async start(app) {
      session = (await wd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application: app } } } })).sessionId;
      return session;
    },
    async end() {
      if (session) await wd('DELETE', `/session/${session}`);
      session = null;
    },
    async find(testid, timeoutMs = 20000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        try {
          return (await wd('POST', s('/element'), { using: 'css selector', value: `[data-testid="${testid}"]` }))[ELEMENT];
        } catch {
          if (Date.now() > end) throw new Error(`no element ${testid} after ${timeoutMs} ms`);
          await sleep(250);
        }
      }
    },
    click: (id) => wd('POST', s(`/element/${id}/click`), {}),
    async type(id, text) {
      await wd('POST', s(`/element/${id}/clear`), {});
      await wd('POST', s(`/element/${id}/value`), { text });
    },
    text: (id) => wd('GET', s(`/element/${id}/text`)),
    attr: (id, name) => wd('GET', s(`/element/${id}/attribute/${name}`)),
    script: (code, args = []) => wd('POST', s('/execute/sync'), { script: code, args }),
    asyncScript: (code, args = []) => wd('POST', s('/execute/async'), { script: code, args }),
  };
  return d;
}
