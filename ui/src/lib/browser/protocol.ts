/**
 * The signaling protocol on the wire (docs/PROTOCOL.md; the Rust types are in
 * crates/proto/src/signal.rs), and its pure mapping onto the UI's contract (backend.ts).
 */
import {
  parseInviteLink,
  toBackendError,
  type BackendError,
  type JoinArgs,
  type MediaKind,
  type RemoteUser,
  type Role,
  type RoomEvent,
  type RoomOptions,
  type RoomView,
  type Scene,
  type StreamKind,
  type VideoStreamType,
} from '../backend';

export type { MediaKind } from '../backend';

export const PROTOCOL_VERSION = 1;

/** The custom command id the meeting's chat and reactions use (crates/proto/src/chat.rs). */
export const MEETING_CMD_ID = 10;

/** What one m-line carries: without `user_id` I publish on it, with it I receive that user. */
export interface WireTrack {
  mid: string;
  kind: MediaKind;
  stream: StreamKind;
  user_id?: string;
}

export interface WireRemoteUser {
  user_id: string;
  /** Display name; absent or empty from a server that predates names. */
  name?: string;
  role: Role;
  audio: boolean;
  video: boolean;
  sub_video: boolean;
  /** Their hand is up; lower went up first. */
  hand?: number | null;
}

/** The room's options as every member sees them (the passcode itself is not sent). */
export interface WireRoomView {
  locked: boolean;
  lobby: boolean;
  passcode: boolean;
  host?: string | null;
}

/** What `entered` (a reply) and `admitted` (an event, after the lobby) both say. */
export interface WireEntered {
  room_id: number | string;
  user_id: string;
  role: Role;
  users: WireRemoteUser[];
  room?: WireRoomView;
}

/** Requests without their `id` (the Signaling class numbers them). */
export type Request =
  | {
      type: 'enter_room';
      version: number;
      sdk_app_id: number;
      user_id: string;
      user_sig: string;
      room_id: number | string;
      role: Role;
      scene: Scene;
      /** Instead of a UserSig (then ""): an invite grant. */
      invite?: string;
      /** The name others see. */
      name?: string;
      passcode?: string;
    }
  | { type: 'exit_room' }
  | { type: 'switch_role'; role: Role }
  | { type: 'negotiate'; sdp: string; tracks: WireTrack[] }
  | { type: 'unsubscribe'; mid: string }
  | { type: 'set_available'; kind: MediaKind; stream: StreamKind; available: boolean }
  | { type: 'ping' }
  | { type: 'invite_to_speak'; user_id: string }
  | { type: 'request_to_speak' }
  | { type: 'answer_invite'; accept: boolean }
  | { type: 'answer_request'; user_id: string; accept: boolean }
  | { type: 'send_custom'; cmd_id: number; data: string }
  | { type: 'raise_hand'; up: boolean }
  /** Host; without `user_id`: everyone but the host. */
  | { type: 'mute'; user_id?: string; kind: MediaKind; lock: boolean }
  | { type: 'unlock'; user_id?: string; kind: MediaKind }
  | { type: 'remove_user'; user_id: string }
  | { type: 'set_room_options'; options: { locked: boolean; lobby: boolean; passcode?: string } }
  | { type: 'end_meeting' }
  | { type: 'admit'; user_id: string; accept: boolean }
  /** Which layer of this user's simulcast camera to receive (big until asked). */
  | { type: 'set_remote_video_stream_type'; user_id: string; stream_type: VideoStreamType };

export type Reply =
  | ({ type: 'entered'; id: number } & WireEntered)
  /** enter_room into a meeting with a lobby: wait for `admitted` (or `removed` 3008). */
  | { type: 'waiting'; id: number }
  | { type: 'ok'; id: number }
  | { type: 'answer'; id: number; sdp: string };

export type LeaveReason = 'exited' | 'connection_lost' | 'became_audience' | 'removed';

/** Messages the server sends on its own (no `id`), plus a connection-level error. */
export type ServerEvent =
  | { type: 'error'; id?: number; code: number; message: string }
  | { type: 'user_enter'; user_id: string; role: Role; name?: string }
  | { type: 'user_leave'; user_id: string; reason: LeaveReason }
  | { type: 'stream_available'; user_id: string; kind: MediaKind; stream: StreamKind; available: boolean }
  | { type: 'removed'; code: number; message: string }
  | { type: 'speak_invited'; by: string }
  | { type: 'speak_requested'; user_id: string }
  | { type: 'speak_request_answered'; accept: boolean; by: string }
  | { type: 'speak_invite_answered'; user_id: string; accept: boolean }
  | ({ type: 'admitted' } & WireEntered)
  | { type: 'custom'; user_id: string; cmd_id: number; seq: number; data: string; reliable: boolean; ordered: boolean }
  | { type: 'hand'; user_id: string; hand?: number | null }
  | { type: 'muted'; kind: MediaKind; by: string; locked: boolean }
  | { type: 'unlocked'; kind: MediaKind }
  | { type: 'room_changed'; room: WireRoomView }
  | { type: 'lobby_joined'; user_id: string; name: string }
  | { type: 'lobby_left'; user_id: string }
  /** To me as a publisher of a simulcast camera: which of its layers anyone receives now. */
  | { type: 'layer_demand'; big: boolean; small: boolean }
  /** To me as a publisher of video: what of it never reached the server (the engine's). */
  | { type: 'uplink_loss'; video: number; scattered: number; queue_ms?: number }
  | { type: 'uplink_audio_loss'; long_runs: number }
  /** My media reaches the server from a new address: restart ICE so that its media follows. */
  | { type: 'address_changed' };

export type ServerMessage = Reply | ServerEvent;

/** A request the server refused, or one that never got an answer (code null). */
export class SignalError extends Error {
  constructor(
    readonly code: number | null,
    readonly detail: string,
  ) {
    super(code != null ? `${code}: ${detail}` : detail);
  }

  toBackendError(): BackendError {
    return this.code != null ? { kind: 'server', code: this.code, message: this.detail } : { kind: 'internal', message: this.detail };
  }
}

/** What the UI gets from a failed request: the server's code kept. */
export function asBackendError(e: unknown): BackendError {
  return e instanceof SignalError ? e.toBackendError() : toBackendError(e);
}

/** Room ids are numbers (1..=4294967295) when they look like one, names otherwise. */
export function wireRoomId(room: string): number | string {
  const r = room.trim();
  return /^\d+$/.test(r) ? Number(r) : r;
}

export type EnterRoom = Extract<Request, { type: 'enter_room' }>;

/**
 * The enter_room a join asks for. With an invite the grant names the app, the room and the
 * role, and there is no UserSig; null when the grant cannot be read. A display name and a
 * passcode go along when given (a host creating a meeting sets its passcode this way).
 */
export function enterRequest(args: JoinArgs): EnterRoom | null {
  const name = args.displayName?.trim();
  const extra = { ...(name ? { name } : {}), ...(args.passcode ? { passcode: args.passcode } : {}) };
  const base = { type: 'enter_room' as const, version: PROTOCOL_VERSION, user_id: args.userId, scene: args.scene };
  if (args.invite) {
    // The grant alone, in a link of any server: only its payload is read here.
    const link = parseInviteLink(`http://invite/#invite=${args.invite}`);
    if (!link) return null;
    const room = wireRoomId(link.room);
    return { ...base, sdk_app_id: link.sdkAppId, user_sig: '', room_id: room, role: link.role, invite: link.grant, ...extra };
  }
  return { ...base, sdk_app_id: args.sdkAppId ?? 0, user_sig: args.userSig ?? '', room_id: wireRoomId(args.room), role: args.role, ...extra };
}

export function toRemoteUser(u: WireRemoteUser): RemoteUser {
  return {
    userId: u.user_id,
    name: u.name || u.user_id,
    role: u.role,
    audio: u.audio,
    video: u.video,
    subVideo: u.sub_video,
    hand: u.hand ?? null,
  };
}

export function toWireUser(u: RemoteUser): WireRemoteUser {
  return {
    user_id: u.userId,
    name: u.name ?? u.userId,
    role: u.role,
    audio: u.audio,
    video: u.video,
    sub_video: u.subVideo,
    hand: u.hand ?? null,
  };
}

export function toRoomView(v: WireRoomView | undefined): RoomView {
  return { locked: !!v?.locked, lobby: !!v?.lobby, passcode: !!v?.passcode, host: v?.host ?? null };
}

/** `set_room_options`: no passcode is an absent one (an empty one would be a passcode too). */
export function toWireOptions(o: RoomOptions): { locked: boolean; lobby: boolean; passcode?: string } {
  return o.passcode ? { locked: o.locked, lobby: o.lobby, passcode: o.passcode } : { locked: o.locked, lobby: o.lobby };
}

/** A chat line or a reaction as the body of a meeting custom message. */
export type MeetingMessage = { t: 'chat'; text: string } | { t: 'reaction'; emoji: string };

export const encodeMeeting = (m: MeetingMessage): string => JSON.stringify(m);

/** null for anything else (another application's message, or one on another command id). */
export function decodeMeeting(cmdId: number, data: string): MeetingMessage | null {
  if (cmdId !== MEETING_CMD_ID) return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.t === 'chat' && typeof o.text === 'string') return { t: 'chat', text: o.text };
  if (o.t === 'reaction' && typeof o.emoji === 'string') return { t: 'reaction', emoji: o.emoji };
  return null;
}

/**
 * The UI events a server event means; `nowMs` stamps chat lines. `removed` and `admitted` are
 * not mapped here: they end or complete entering, which the session itself reports.
 */
export function toRoomEvents(m: ServerEvent, nowMs: number): RoomEvent[] {
  switch (m.type) {
    case 'user_enter':
      return [m.name ? { type: 'user_enter', userId: m.user_id, name: m.name } : { type: 'user_enter', userId: m.user_id }];
    case 'user_leave':
      // The UI's word for leaving by choice is "left" (it says nothing more then).
      return [{ type: 'user_leave', userId: m.user_id, reason: m.reason === 'exited' ? 'left' : m.reason }];
    case 'stream_available':
      if (m.kind === 'audio') {
        // Screen-share audio has no flag of its own (RemoteUser has none either).
        return m.stream === 'main' ? [{ type: 'audio_available', userId: m.user_id, available: m.available }] : [];
      }
      return [{ type: 'video_available', userId: m.user_id, stream: m.stream, available: m.available }];
    case 'speak_invited':
      return [{ type: 'speak_invited', by: m.by }];
    case 'speak_requested':
      return [{ type: 'speak_requested', userId: m.user_id }];
    case 'speak_request_answered':
      return [{ type: 'speak_request_answered', accept: m.accept, by: m.by }];
    case 'speak_invite_answered':
      return [{ type: 'speak_invite_answered', userId: m.user_id, accept: m.accept }];
    case 'custom': {
      const msg = decodeMeeting(m.cmd_id, m.data);
      if (msg?.t === 'chat') return [{ type: 'chat', userId: m.user_id, text: msg.text, atMs: nowMs }];
      if (msg?.t === 'reaction') return [{ type: 'reaction', userId: m.user_id, emoji: msg.emoji }];
      return [];
    }
    case 'hand':
      return [{ type: 'hand', userId: m.user_id, hand: m.hand ?? null }];
    case 'muted':
      return [{ type: 'muted_by_host', kind: m.kind, by: m.by, locked: m.locked }];
    case 'unlocked':
      return [{ type: 'unlocked', kind: m.kind }];
    case 'room_changed':
      return [{ type: 'room_changed', room: toRoomView(m.room) }];
    case 'lobby_joined':
      return [{ type: 'lobby_joined', userId: m.user_id, name: m.name }];
    case 'lobby_left':
      return [{ type: 'lobby_left', userId: m.user_id }];
    case 'error':
      return [{ type: 'error', code: m.code, message: m.message }];
    case 'removed':
    case 'admitted':
    case 'layer_demand': // for the session's encoder (which layers of my camera to send)
    case 'uplink_loss': // the browser's own WebRTC stack paces and protects its video
    case 'uplink_audio_loss': // …and its audio
    case 'address_changed': // for the session (an ICE restart)
      return [];
  }
}

/** Keeps the roster (for `window.roomcast.users`) in step with the server's events. */
export function applyToRoster(users: Map<string, RemoteUser>, m: ServerEvent): void {
  switch (m.type) {
    case 'user_enter': {
      const u = users.get(m.user_id);
      if (!u) users.set(m.user_id, { ...absent(m.user_id), role: m.role, name: m.name || m.user_id });
      else {
        u.role = m.role;
        if (m.name) u.name = m.name;
      }
      break;
    }
    case 'user_leave':
      users.delete(m.user_id);
      break;
    case 'stream_available': {
      let u = users.get(m.user_id);
      if (!u) {
        u = absent(m.user_id);
        users.set(m.user_id, u);
      }
      if (m.kind === 'audio') {
        if (m.stream === 'main') u.audio = m.available;
      } else if (m.stream === 'main') u.video = m.available;
      else u.subVideo = m.available;
      break;
    }
    case 'hand': {
      // Hidden audience members (live scenes) are not in the roster: nothing to put it on.
      const u = users.get(m.user_id);
      if (u) u.hand = m.hand ?? null;
      break;
    }
    default:
      break;
  }
}

/** Someone heard of before being announced (e.g. entered before a lost event). */
const absent = (userId: string): RemoteUser => ({
  userId,
  name: userId,
  role: 'anchor',
  audio: false,
  video: false,
  subVideo: false,
  hand: null,
});
