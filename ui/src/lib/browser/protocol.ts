/**
 * The signaling protocol on the wire (docs/PROTOCOL.md; the Rust types are in
 * crates/proto/src/signal.rs), and its pure mapping onto the UI's contract (backend.ts).
 */
import { toBackendError, type BackendError, type RemoteUser, type Role, type RoomEvent, type Scene, type StreamKind } from '../backend';

export const PROTOCOL_VERSION = 1;

export type MediaKind = 'audio' | 'video';

/** What one m-line carries: without `user_id` I publish on it, with it I receive that user. */
export interface WireTrack {
  mid: string;
  kind: MediaKind;
  stream: StreamKind;
  user_id?: string;
}

export interface WireRemoteUser {
  user_id: string;
  role: Role;
  audio: boolean;
  video: boolean;
  sub_video: boolean;
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
  | { type: 'answer_request'; user_id: string; accept: boolean };

export type Reply =
  | { type: 'entered'; id: number; room_id: number | string; user_id: string; role: Role; users: WireRemoteUser[] }
  | { type: 'ok'; id: number }
  | { type: 'answer'; id: number; sdp: string };

export type LeaveReason = 'exited' | 'connection_lost' | 'became_audience' | 'removed';

/** Messages the server sends on its own (no `id`), plus a connection-level error. */
export type ServerEvent =
  | { type: 'error'; id?: number; code: number; message: string }
  | { type: 'user_enter'; user_id: string; role: Role }
  | { type: 'user_leave'; user_id: string; reason: LeaveReason }
  | { type: 'stream_available'; user_id: string; kind: MediaKind; stream: StreamKind; available: boolean }
  | { type: 'removed'; code: number; message: string }
  | { type: 'speak_invited'; by: string }
  | { type: 'speak_requested'; user_id: string }
  | { type: 'speak_request_answered'; accept: boolean; by: string }
  | { type: 'speak_invite_answered'; user_id: string; accept: boolean };

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

export function toRemoteUser(u: WireRemoteUser): RemoteUser {
  return { userId: u.user_id, role: u.role, audio: u.audio, video: u.video, subVideo: u.sub_video };
}

export function toWireUser(u: RemoteUser): WireRemoteUser {
  return { user_id: u.userId, role: u.role, audio: u.audio, video: u.video, sub_video: u.subVideo };
}

/**
 * The UI events a server event means. `removed` is not mapped here: it ends the session,
 * which the session itself reports (error, then exit_room).
 */
export function toRoomEvents(m: ServerEvent): RoomEvent[] {
  switch (m.type) {
    case 'user_enter':
      return [{ type: 'user_enter', userId: m.user_id }];
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
    case 'error':
      return [{ type: 'error', code: m.code, message: m.message }];
    case 'removed':
      return [];
  }
}

/** Keeps the roster (for `window.roomcast.users`) in step with the server's events. */
export function applyToRoster(users: Map<string, RemoteUser>, m: ServerEvent): void {
  switch (m.type) {
    case 'user_enter':
      if (!users.has(m.user_id)) users.set(m.user_id, { userId: m.user_id, role: m.role, audio: false, video: false, subVideo: false });
      else users.get(m.user_id)!.role = m.role;
      break;
    case 'user_leave':
      users.delete(m.user_id);
      break;
    case 'stream_available': {
      let u = users.get(m.user_id);
      if (!u) {
        u = { userId: m.user_id, role: 'anchor', audio: false, video: false, subVideo: false };
        users.set(m.user_id, u);
      }
      if (m.kind === 'audio') {
        if (m.stream === 'main') u.audio = m.available;
      } else if (m.stream === 'main') u.video = m.available;
      else u.subVideo = m.available;
      break;
    }
    default:
      break;
  }
}
