/**
 * The signaling WebSocket: JSON requests numbered by `id`, each answered exactly once with the
 * same id (or an `error` with it); everything else the server sends is an event.
 */
import { SignalError, type Reply, type Request, type ServerEvent, type ServerMessage } from './protocol';
import { TEXT } from './strings';

export const REQUEST_TIMEOUT_MS = 15_000;

/** The part of the DOM's WebSocket this uses (tests pass a fake). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string) => SocketLike;

const OPEN = 1;

interface Pending {
  resolve: (m: Reply) => void;
  reject: (e: SignalError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Signaling {
  private socket: SocketLike | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closing = false;

  constructor(
    private readonly url: string,
    private readonly connect: SocketFactory,
    /** Events (messages without a pending id). */
    private readonly onEvent: (m: ServerEvent) => void,
    /** The socket closed without `close()` being called. */
    private readonly onLost: (why: string) => void,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = this.connect(this.url);
      this.socket = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        resolve();
      };
      ws.onerror = () => {
        if (!opened) reject(new SignalError(null, TEXT.cannotConnect(this.url)));
      };
      ws.onmessage = (ev) => this.receive(ev.data);
      ws.onclose = (ev) => {
        const why = TEXT.connectionLost;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new SignalError(null, why));
        }
        this.pending.clear();
        if (!opened) reject(new SignalError(null, TEXT.cannotConnect(this.url)));
        else if (!this.closing) this.onLost(`${why} (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`);
      };
    });
  }

  request<T extends Reply = Reply>(req: Request): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const ws = this.socket;
      if (!ws || ws.readyState !== OPEN) {
        reject(new SignalError(null, TEXT.notConnected));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalError(null, TEXT.noReply(req.type, this.timeoutMs / 1000)));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (m: Reply) => void, reject, timer });
      ws.send(JSON.stringify({ id, ...req }));
    });
  }

  /** Sends without waiting for the answer (leaving while the page goes away). */
  sendNow(req: Request): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify({ id: this.nextId++, ...req }));
  }

  private receive(data: unknown): void {
    let m: ServerMessage;
    try {
      m = JSON.parse(String(data)) as ServerMessage;
    } catch {
      console.warn('signaling: not JSON:', data);
      return;
    }
    const id = 'id' in m ? m.id : undefined;
    const p = id != null ? this.pending.get(id) : undefined;
    if (p && id != null) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(new SignalError(m.code, m.message));
      else p.resolve(m as Reply);
      return;
    }
    if (m.type === 'entered' || m.type === 'waiting' || m.type === 'ok' || m.type === 'answer') return; // a reply nobody waits for
    this.onEvent(m);
  }

  close(): void {
    this.closing = true;
    this.socket?.close(1000, 'bye');
  }
}
