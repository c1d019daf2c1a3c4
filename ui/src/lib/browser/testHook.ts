/**
 * The page's automation surface, read by tests/browser/join.mjs:
 * `window.roomcast = { state, error, users, userId, roomId, stats(), leave() }`, where
 * `state` is idle | joining | in_room | error | left, `error` is `{code, message}` (code null
 * for a lost connection rather than a server error), and `users` and the stats rows use the
 * protocol's snake_case names.
 */
import type { BrowserBackend } from './browserBackend';
import { toWireUser, type WireRemoteUser } from './protocol';
import type { InboundRow, OutboundRow, Stats } from './stats';

export interface RoomcastHook {
  readonly state: BrowserBackend['state'];
  readonly error: BrowserBackend['error'];
  readonly users: WireRemoteUser[];
  readonly userId: string | null;
  readonly roomId: number | string | null;
  stats(): Promise<{ inbound: InboundRow[]; outbound: OutboundRow[]; connection: Stats['connection'] }>;
  leave(): Promise<void>;
}

export function testHook(b: BrowserBackend): RoomcastHook {
  return {
    get state() {
      return b.state;
    },
    get error() {
      return b.error;
    },
    get users() {
      return b.users().map(toWireUser);
    },
    get userId() {
      return b.entered?.userId ?? null;
    },
    get roomId() {
      return b.entered?.roomId ?? null;
    },
    async stats() {
      const s = await b.stats();
      return { inbound: s?.inbound ?? [], outbound: s?.outbound ?? [], connection: s?.connection ?? null };
    },
    leave: () => b.leaveRoom(),
  };
}
