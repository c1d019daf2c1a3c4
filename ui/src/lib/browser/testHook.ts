/**
 * The page's automation surface, read by tests/browser/join.mjs:
 * `window.roomcast = { state, error, users, userId, roomId, messages, stats(), leave(),
 * sendChat(text), raiseHand(up), mutedByHost, iceUfrag, restartIce() }`, where `state` is idle | joining | in_room | error | left
 * (joining includes waiting in a lobby), `error` is `{code, message}` (code null for a lost
 * connection rather than a server error; 3010 when the host removed me, …), `messages` are the
 * chat lines received (`{from, text}`, from = UserID), and `users` and the stats rows use the
 * protocol's snake_case names. `mutedByHost` is the last `muted_by_host` event (null before).
 */
import type { BrowserBackend, ReceivedChat } from './browserBackend';
import { toWireUser, type WireRemoteUser } from './protocol';
import type { InboundRow, OutboundRow, Stats } from './stats';

export interface RoomcastHook {
  readonly state: BrowserBackend['state'];
  readonly error: BrowserBackend['error'];
  readonly users: WireRemoteUser[];
  readonly userId: string | null;
  readonly roomId: number | string | null;
  readonly messages: ReceivedChat[];
  stats(): Promise<{ inbound: InboundRow[]; outbound: OutboundRow[]; connection: Stats['connection'] }>;
  leave(): Promise<void>;
  sendChat(text: string): Promise<void>;
  raiseHand(up: boolean): Promise<void>;
  readonly mutedByHost: { kind: string; by: string; locked: boolean } | null;
  /** My current ICE username fragment, and an ICE restart as a network change would make. */
  readonly iceUfrag: string | null;
  restartIce(): void;
}

export function testHook(b: BrowserBackend): RoomcastHook {
  let muted: RoomcastHook['mutedByHost'] = null;
  void b.onRoomEvent((e) => {
    if (e.type === 'muted_by_host') muted = { kind: e.kind, by: e.by, locked: e.locked };
  });
  return {
    get mutedByHost() {
      return muted;
    },
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
    get messages() {
      return b.chat.map((m) => ({ ...m }));
    },
    async stats() {
      const s = await b.stats();
      return { inbound: s?.inbound ?? [], outbound: s?.outbound ?? [], connection: s?.connection ?? null };
    },
    leave: () => b.leaveRoom(),
    sendChat: (text) => b.sendChat(text),
    raiseHand: (up) => b.raiseHand(up),
    get iceUfrag() {
      return b.session?.iceUfrag() ?? null;
    },
    restartIce: () => b.session?.restartIce(),
  };
}
