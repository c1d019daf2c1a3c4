import { afterEach, describe, expect, test, vi } from 'vitest';
import { FakeServer } from '../../test/browserFakes';
import { SignalError, type ServerEvent } from './protocol';
import { Signaling } from './signaling';

afterEach(() => vi.useRealTimers());

function open(server = new FakeServer(), timeoutMs = 15_000) {
  const events: ServerEvent[] = [];
  const lost: string[] = [];
  const s = new Signaling('ws://h/ws', server.connect, (e) => events.push(e), (w) => lost.push(w), timeoutMs);
  return { s, server, events, lost };
}

describe('Signaling', () => {
  test('each request gets its own id and its own reply; events go to the listener', async () => {
    const { s, server, events } = open();
    await s.open();
    const [a, b] = await Promise.all([s.request({ type: 'ping' }), s.request({ type: 'switch_role', role: 'audience' })]);
    expect(server.sent).toEqual([{ id: 1, type: 'ping' }, { id: 2, type: 'switch_role', role: 'audience' }]);
    expect([a, b]).toEqual([{ type: 'ok', id: 1 }, { type: 'ok', id: 2 }]);
    server.push({ type: 'user_enter', user_id: 'ann', role: 'anchor' });
    expect(events).toEqual([{ type: 'user_enter', user_id: 'ann', role: 'anchor' }]);
  });

  test('an error reply rejects that request with the server’s code', async () => {
    const server = new FakeServer();
    server.refuse = { code: 2000, message: 'UserSig invalid' };
    const { s } = open(server);
    await s.open();
    const e = await s
      .request({ type: 'enter_room', version: 1, sdk_app_id: 1, user_id: 'u', user_sig: 'x', room_id: 1, role: 'anchor', scene: 'videocall' })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(SignalError);
    expect((e as SignalError).toBackendError()).toEqual({ kind: 'server', code: 2000, message: 'UserSig invalid' });
  });

  test('no answer in time rejects; a lost socket rejects what waits and says so once', async () => {
    const server = new FakeServer();
    server.answer = () => ({ type: 'nothing' }); // a server that never answers
    const { s, lost } = open(server, 50);
    await s.open();
    await expect(s.request({ type: 'ping' })).rejects.toMatchObject({ code: null, detail: expect.stringContaining('ping') });
    const waiting = s.request({ type: 'exit_room' });
    server.socket!.drop();
    await expect(waiting).rejects.toMatchObject({ detail: expect.stringContaining('lost') });
    expect(lost).toHaveLength(1);
    await expect(s.request({ type: 'ping' })).rejects.toMatchObject({ code: null });
  });

  test('an unreachable server rejects open; closing on purpose is not a loss', async () => {
    const server = new FakeServer();
    server.unreachable = true;
    await expect(open(server).s.open()).rejects.toMatchObject({ detail: expect.stringContaining('ws://h/ws') });
    const ok = open();
    await ok.s.open();
    ok.s.close();
    expect(ok.lost).toEqual([]);
  });
});
