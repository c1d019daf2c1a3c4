/**
 * The contract between the UI and the Rust side of the desktop app (src-tauri).
 *
 * This file IS the contract: every Tauri command the UI invokes, its argument object, its
 * result, the `room-event` payloads and the error shape are declared here. When the Rust
 * types change, change this file in the same commit (or, better, generate it with
 * tauri-specta and keep these names).
 *
 * Conventions
 * - Command names are snake_case (`join_room`); argument and field names are camelCase
 *   (Tauri's default renaming of Rust `snake_case` parameters, `#[serde(rename_all =
 *   "camelCase")]` on structs).
 * - Enums are lowercase strings (`"anchor"`, `"videocall"`, `"main"`).
 * - Every command rejects with a {@link BackendError}; `kind` is stable and the UI branches on
 *   it, never on `message` (which is for people).
 * - Events arrive on the single Tauri event `room-event`, tagged by `type`
 *   (`#[serde(tag = "type", rename_all = "snake_case")]` on the Rust enum, fields camelCase).
 */

import { t } from './i18n';

// ---------------------------------------------------------------------------------------------
// Concepts (MISSION.md)
// ---------------------------------------------------------------------------------------------

/** anchor: may publish and subscribe; audience: subscribe only. */
export type Role = 'anchor' | 'audience';
/** Call scenes (everyone is an anchor) and live scenes (roles can be switched). */
export type Scene = 'videocall' | 'audiocall' | 'live' | 'voicechatroom';
/** main = camera, sub = screen share. */
export type StreamKind = 'main' | 'sub';
/**
 * The two layers of a camera published with simulcast (TRTC `TRTCVideoStreamType`): big = as
 * the publisher sends it (RID `h`), small = a 320-wide copy at 15 fps (RID `l`). A screen share
 * has one layer.
 */
export type VideoStreamType = 'big' | 'small';

export const LIVE_SCENES: readonly Scene[] = ['live', 'voicechatroom'];
export const isLiveScene = (s: Scene): boolean => LIVE_SCENES.includes(s);
export const isAudioOnlyScene = (s: Scene): boolean => s === 'audiocall' || s === 'voicechatroom';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Stable error kinds. `server` errors also carry the server's numeric `code` (docs/PROTOCOL.md). */
export type ErrorKind =
  | 'server'
  | 'not_in_room'
  | 'device'
  | 'store'
  | 'internal'
  /** This backend cannot do it (see {@link Capabilities}). */
  | 'unsupported'
  | (string & {});

/** What every command rejects with (Rust `AppError`, serialised `{kind, message, code?}`). */
export interface BackendError {
  kind: ErrorKind;
  message: string;
  /** Present when kind === "server". */
  code?: number;
}

export function isBackendError(e: unknown): e is BackendError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as BackendError).kind === 'string' &&
    typeof (e as BackendError).message === 'string'
  );
}

/** Turns anything a command rejected with into a BackendError (a plain string becomes "internal"). */
export function toBackendError(e: unknown): BackendError {
  if (isBackendError(e)) return e;
  if (e instanceof Error) return { kind: 'internal', message: e.message };
  return { kind: 'internal', message: String(e) };
}

/**
 * A sentence for a person: "Server error 4003: UserSig expired…" ("서버 오류 4003: …"). The
 * message itself comes from the Rust side or the server and is shown as it is.
 */
export function describeError(e: unknown): string {
  const err = toBackendError(e);
  if (err.kind === 'server' && err.code != null) return t('error.server', { code: err.code, message: err.message });
  return err.message;
}

// ---------------------------------------------------------------------------------------------
// Command results and arguments
// ---------------------------------------------------------------------------------------------

/** `host_meeting()` result. */
export interface HostInfo {
  /** The address others on the LAN use, e.g. `http://192.168.1.20:7880`. */
  url: string;
  /** The app the in-app server created for this machine. */
  sdkAppId: number;
}

/** `join_room(args)` arguments (top-level invoke args, not wrapped). */
export interface JoinArgs {
  /** Server address (`http://host:7880`); null = the in-app server started by host_meeting. */
  server: string | null;
  /** Numeric room id (1..=4294967295) or a room name, as typed. */
  room: string;
  /** UserID: up to 32 bytes of `[A-Za-z0-9_]`. */
  userId: string;
  role: Role;
  scene: Scene;
  /** Required for external servers; null for the in-app server. */
  sdkAppId: number | null;
  /** null when joining the in-app server: the app signs its own UserSig. */
  userSig: string | null;
  /**
   * An invite grant (the `#invite=` part of an invite link, see {@link parseInviteLink}) instead
   * of a UserSig: then `server` is the link's server, `room` and `role` come from the grant, and
   * `sdkAppId`/`userSig` are null.
   */
  invite?: string | null;
  /** The name others see (any Unicode, up to 64 characters); the UserID is derived from it. */
  displayName?: string;
  /** The meeting's passcode (guests), or the one to set when I create the meeting as host. */
  passcode?: string | null;
}

/** An invite link taken apart (`http://host:7880/#invite=v1.…` or `roomcast://host:7880/#invite=v1.…`). */
export interface InviteLink {
  /** `http://host:port` (roomcast:// → http, roomcasts:// → https). */
  server: string;
  /** The grant, passed as `JoinArgs.invite`. */
  grant: string;
  /** Decoded from the grant without checking it (the server checks). */
  sdkAppId: number;
  room: string;
  role: Role;
  /** Unix seconds. */
  expires: number;
  /** The holder may run the meeting. */
  host: boolean;
}

/** `create_invite` arguments. */
export interface InviteRequest {
  room: string;
  role: Role;
  /** Seconds the link works. */
  expiresS: number;
  /** Whoever uses it may run the meeting too. */
  host: boolean;
}

/** What the host decides about the room (`set_room_options`). */
export interface RoomOptions {
  locked: boolean;
  /** Guests wait until the host admits them. */
  lobby: boolean;
  /** Absent: keep the passcode as it is; null (or ""): no passcode; a string: this one. */
  passcode?: string | null;
}

/** The room as every member sees it (`room_changed`). */
export interface RoomView {
  locked: boolean;
  lobby: boolean;
  /** Whether there is a passcode (its value is not sent). */
  passcode: boolean;
  /** The host's UserID, or null. */
  host: string | null;
}

export type MediaKind = 'audio' | 'video';

/** Reactions the UI offers (any emoji passes the protocol). */
export const REACTIONS: readonly string[] = ['👍', '👏', '😂', '❤️', '🎉', '😮'];

/** A chat line is a custom message of at most 1 KB; this leaves room for its JSON wrapper. */
export const CHAT_MAX_BYTES = 900;

/** A user already in the room (or entering it). */
export interface RemoteUser {
  userId: string;
  /** Display name (any Unicode); the UserID when they gave none. */
  name?: string;
  role: Role;
  audio: boolean;
  /** Camera (main stream) published. */
  video: boolean;
  /** Screen share (sub stream) published. */
  subVideo: boolean;
  /** Their hand is up: orders raised hands (lower went up first). */
  hand?: number | null;
}

/** `join_room` result. */
export interface JoinResult {
  /** Time from the call to "in the room", in milliseconds. */
  enterRoomMs: number;
  users: RemoteUser[];
  /** My UserID (derived from the display name when joining with an invite). */
  userId?: string;
  /** The room's options and host as I entered. */
  room?: RoomView;
}

export interface ScreenSource {
  id: string;
  kind: 'screen' | 'window';
  title: string;
  /** A data URL (`data:image/png;base64,…`); may be empty. */
  thumbnail: string;
}

export interface Device {
  id: string;
  name: string;
  isDefault: boolean;
}

/** `list_devices()` result. Lists may be empty: the app then uses its test tone / test pattern. */
export interface DeviceList {
  cameras: Device[];
  microphones: Device[];
  speakers: Device[];
}

export type Resolution = '360p' | '540p' | '720p' | '1080p';
export type Fps = 15 | 24 | 30;
export type AudioProfile = 'speech' | 'default' | 'music';
/** The UI's language: `system` follows the system's preferred languages (see i18n/locale.svelte.ts). */
export type Language = 'system' | 'en' | 'ko';

/** Persisted by the Rust side (`get_settings` / `save_settings`). */
export interface Settings {
  displayName: string;
  /** Last server address typed on Home ("" = none). */
  server: string;
  /** Device ids; null = the system default. */
  camera: string | null;
  microphone: string | null;
  speaker: string | null;
  resolution: Resolution;
  fps: Fps;
  bitrateKbps: number;
  /** Mirror the local preview (what others see is never mirrored). */
  mirror: boolean;
  audioProfile: AudioProfile;
  language: Language;
}

export const DEFAULT_SETTINGS: Settings = {
  displayName: '',
  server: '',
  camera: null,
  microphone: null,
  speaker: null,
  resolution: '720p',
  fps: 15,
  bitrateKbps: 1200,
  mirror: true,
  audioProfile: 'default',
  language: 'system',
};

export interface RecentRoom {
  server: string;
  room: string;
  scene: Scene;
  lastJoinedMs: number;
}

export interface CallRecord {
  room: string;
  startedMs: number;
  durationS: number;
  participants: string[];
}

/**
 * `set_view` request. `userId` "" = the local preview. `width`/`height` are device pixels
 * (CSS size × devicePixelRatio, rounded to even numbers); the Rust side scales to them. Call
 * set_view again (with a new channel) when the tile resizes; the newest call for a
 * (userId, stream) pair replaces the previous one.
 */
export interface ViewRequest {
  userId: string;
  stream: StreamKind;
  width: number;
  height: number;
}

/**
 * Receives one video frame: a 16-byte little-endian header `u32 width, u32 height,
 * u64 timestamp_us`, then I420 planes Y (w×h), U and V (⌈w/2⌉×⌈h/2⌉ each). See `frame.ts`.
 */
export type FrameSink = (frame: ArrayBuffer) => void;

// ---------------------------------------------------------------------------------------------
// Audio effects, background music and sound effects
// ---------------------------------------------------------------------------------------------

export type NoiseSuppression = 'off' | 'classic' | 'ai';
export type VoiceChanger =
  | 'off'
  | 'child'
  | 'little-girl'
  | 'uncle'
  | 'heavy-metal'
  | 'cold'
  | 'foreigner'
  | 'trapped-beast'
  | 'fatso'
  | 'strong-current'
  | 'heavy-machinery'
  | 'ethereal';
export type Reverb = 'off' | 'ktv' | 'small-room' | 'great-hall' | 'deep' | 'loud' | 'metallic' | 'magnetic';

export const NOISE_SUPPRESSIONS: readonly NoiseSuppression[] = ['off', 'classic', 'ai'];
export const VOICE_CHANGERS: readonly VoiceChanger[] = [
  'off', 'child', 'little-girl', 'uncle', 'heavy-metal', 'cold', 'foreigner', 'trapped-beast', 'fatso',
  'strong-current', 'heavy-machinery', 'ethereal',
];
export const REVERBS: readonly Reverb[] = ['off', 'ktv', 'small-room', 'great-hall', 'deep', 'loud', 'metallic', 'magnetic'];

/**
 * How my microphone is processed (`get_audio_effects` / `set_audio_effects`). Saved by the Rust
 * side and applied at once, in a call and in the pre-join check (where the ear monitor lets me
 * hear the result).
 */
export interface AudioEffects {
  echoCancellation: boolean;
  autoGain: boolean;
  noiseSuppression: NoiseSuppression;
  /** A low-cut filter against rumble. */
  highPass: boolean;
  /** 0..150; 100 = unchanged. */
  captureVolume: number;
  voiceChanger: VoiceChanger;
  reverb: Reverb;
  /** Hear my own processed voice (use headphones). */
  earMonitor: boolean;
  /** 0..100. */
  earMonitorVolume: number;
}

/** What `get_audio_effects` returns before anything was saved. */
export const DEFAULT_AUDIO_EFFECTS: AudioEffects = {
  echoCancellation: true,
  autoGain: true,
  noiseSuppression: 'classic',
  highPass: true,
  captureVolume: 100,
  voiceChanger: 'off',
  reverb: 'off',
  earMonitor: false,
  earMonitorVolume: 100,
};

/** Background music: `load_music` result (the app plays one piece, id 1, looping). */
export interface MusicState {
  id: number;
  positionMs: number;
  durationMs: number;
  paused: boolean;
}

export type MusicAction = 'pause' | 'resume' | 'stop';
/** Built-in sound effects (`play_sound_effect`); several may play at once; everyone hears them. */
export type SoundEffect = 'applause' | 'bell' | 'drumroll';
export const SOUND_EFFECTS: readonly SoundEffect[] = ['applause', 'bell', 'drumroll'];
/** File types `load_music` decodes (the file input's `accept`). */
export const MUSIC_EXTENSIONS: readonly string[] = ['.mp3', '.m4a', '.aac', '.flac', '.ogg', '.wav'];

/** Headers of `load_music`, whose body is the file's raw bytes. */
export interface LoadMusicHeaders {
  /** `encodeURIComponent(file.name)` (header values must be ASCII). */
  'x-file-name': string;
  /** Whether the room hears the music too ("false": only me). */
  'x-publish': 'true' | 'false';
}

// ---------------------------------------------------------------------------------------------
// Video effects: beauty, filters, virtual background, mirroring what others see
// ---------------------------------------------------------------------------------------------

export type BeautyStyle = 'smooth' | 'natural';
export const BEAUTY_STYLES: readonly BeautyStyle[] = ['smooth', 'natural'];
/** Smoothness, whiteness and ruddiness go from 0 (off) to this. */
export const BEAUTY_MAX = 9;
/** The background blur levels. */
export const BLUR_MIN = 1;
export const BLUR_MAX = 9;

export type VideoBackground =
  | { kind: 'none' }
  /** 1..9. */
  | { kind: 'blur'; level: number }
  /** A path returned by `import_video_file` (kind 'background'). */
  | { kind: 'image'; path: string };

/**
 * How my camera picture is processed (`get_video_effects` / `set_video_effects`). Saved by the
 * Rust side and applied at once, in a call and in the pre-join preview (the self view shows the
 * processed picture). The self view's own mirroring is {@link Settings.mirror} (display only).
 */
export interface VideoEffects {
  beautyStyle: BeautyStyle;
  /** 0..9. */
  smoothness: number;
  /** 0..9. */
  whiteness: number;
  /** 0..9. */
  ruddiness: number;
  sharpen: boolean;
  /** An id from `list_video_filters` (a bundled look or an imported file); null = none. */
  filter: string | null;
  /** 0..1. */
  filterStrength: number;
  background: VideoBackground;
  /** Mirror what others see (TRTC setVideoEncoderMirror). */
  mirrorEncoded: boolean;
}

/** What `get_video_effects` returns before anything was saved. */
export const DEFAULT_VIDEO_EFFECTS: VideoEffects = {
  beautyStyle: 'smooth',
  smoothness: 0,
  whiteness: 0,
  ruddiness: 0,
  sharpen: false,
  filter: null,
  filterStrength: 0.8,
  background: { kind: 'none' },
  mirrorEncoded: false,
};

/** A copy that shares nothing with `e` (its background is an object too). */
export const copyVideoEffects = (e: VideoEffects): VideoEffects => ({ ...e, background: { ...e.background } });

/** `list_video_filters` entry: bundled looks first, then imported ones. */
export interface VideoFilter {
  id: string;
  name: string;
  /** A data URL (`data:image/png;base64,…`). */
  thumbnail: string;
}

/** What `import_video_file` stores: a filter (a PNG LUT image) or a background picture. */
export type VideoFileKind = 'filter' | 'background';
/** The file input's `accept` for filters (LUTs are PNG images). */
export const VIDEO_FILTER_EXTENSIONS: readonly string[] = ['.png'];
/** The file input's `accept` for background pictures. */
export const BACKGROUND_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

// ---------------------------------------------------------------------------------------------
// Events: Tauri event "room-event"
// ---------------------------------------------------------------------------------------------

export interface VolumeEntry {
  /** "" = me. */
  userId: string;
  /** 0..100. */
  volume: number;
}

/** 0 unknown, 1 excellent, 2 good, 3 poor, 4 bad, 5 very bad, 6 down. */
export type Quality = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface QualityEntry {
  /** "" = me. */
  userId: string;
  quality: Quality;
}

/**
 * Payload of the `room-event` Tauri event. As in TRTC, in live scenes only anchors produce
 * user_enter / user_leave (audience members are not announced).
 */
export type RoomEvent =
  | { type: 'user_enter'; userId: string; name?: string }
  | { type: 'user_leave'; userId: string; reason: string }
  | { type: 'audio_available'; userId: string; available: boolean }
  | { type: 'video_available'; userId: string; stream: StreamKind; available: boolean }
  | { type: 'first_video_frame'; userId: string; stream: StreamKind; width: number; height: number }
  /** What is received changed size after the first frame (e.g. the small simulcast layer). */
  | { type: 'video_size_changed'; userId: string; stream: StreamKind; width: number; height: number }
  /** About every 300 ms. */
  | { type: 'volumes'; volumes: VolumeEntry[] }
  /** Every 2 s. */
  | { type: 'network_quality'; qualities: QualityEntry[] }
  | { type: 'connection_lost' }
  | { type: 'connection_recovered' }
  /** Entering the room again after a lost connection (attempt 1, 2, …); the call goes on. */
  | { type: 'reconnecting'; attempt: number }
  /** Back in the room after entering again: publishing and watching as before. */
  | { type: 'reconnected' }
  /** My own role changed (after switch_role, or by the server). */
  | { type: 'role_changed'; role: Role }
  /** Also device notices, e.g. "No microphone found — sending a test tone" (code null). */
  | { type: 'error'; code: number | null; message: string }
  /** My camera or shared screen ended by itself (window closed, the system stopped the share). */
  | { type: 'local_video_ended'; stream: StreamKind }
  /** Information for the user, e.g. "Microphone: now using USB headset" after a device change. */
  | { type: 'notice'; message: string }
  /** A camera, microphone or speaker was plugged or unplugged, or a default changed. */
  | { type: 'devices_changed'; devices: DeviceList }
  /**
   * I left the room (reason e.g. "left", "kicked", "room_dismissed"). When the server took me
   * out (reason "removed") it says why: `code` (3009 meeting ended, 3010 removed by the host, …)
   * and its `message`.
   */
  | { type: 'exit_room'; reason: string; code?: number; message?: string }
  // Invitations and requests to speak (live scenes); open ones expire after SPEAK_TIMEOUT_MS.
  /** An anchor invites me (audience) to speak: answer with answerInvite. */
  | { type: 'speak_invited'; by: string }
  /** An audience member asks to speak (I am an anchor): answer with answerRequest. */
  | { type: 'speak_requested'; userId: string }
  /** An anchor answered my request; when accepted I go on stage by myself (role_changed follows). */
  | { type: 'speak_request_answered'; accept: boolean; by: string }
  /** The audience member I invited answered. */
  | { type: 'speak_invite_answered'; userId: string; accept: boolean }
  /** Background music: about every 200 ms while it plays. */
  | { type: 'music_progress'; id: number; positionMs: number; durationMs: number }
  /** Background music ended (it loops, so normally only after music_control stop or an error). */
  | { type: 'music_complete'; id: number }
  // Meetings
  /** joinRoom is pending: the meeting has a lobby and I wait for the host. */
  | { type: 'waiting_in_lobby' }
  /** The room's options or host changed. */
  | { type: 'room_changed'; room: RoomView }
  /** A chat line from someone else (my own lines are not echoed). `atMs`: unix ms when received. */
  | { type: 'chat'; userId: string; text: string; atMs: number }
  | { type: 'reaction'; userId: string; emoji: string }
  /** Someone's hand went up (`hand` orders them) or down (null). */
  | { type: 'hand'; userId: string; hand: number | null }
  /** The host turned my microphone or camera off; with `locked` I cannot turn it on. */
  | { type: 'muted_by_host'; kind: MediaKind; by: string; locked: boolean }
  | { type: 'unlocked'; kind: MediaKind }
  /** (Host) someone waits in the lobby: admit with admit(). */
  | { type: 'lobby_joined'; userId: string; name: string }
  | { type: 'lobby_left'; userId: string }
  /** An invite link was opened (roomcast:// deep link) while the app runs or at start. */
  | { type: 'invite_opened'; link: string };

/** How long an invitation or request to speak stays open (the server's 60 s). */
export const SPEAK_TIMEOUT_MS = 60_000;

export type RoomEventType = RoomEvent['type'];
export const ROOM_EVENT = 'room-event';

// ---------------------------------------------------------------------------------------------
// The interface the UI programs against (TauriBackend, MockBackend, BrowserBackend)
// ---------------------------------------------------------------------------------------------

/**
 * What a backend can do; the UI hides the rest. The desktop app (and the mock) can do
 * everything; a plain browser cannot host a server, process audio beyond its own
 * echo cancellation / noise suppression / gain control, or list screens with thumbnails. A
 * command a backend cannot do rejects with `{ kind: 'unsupported', message }`.
 */
export interface Capabilities {
  /** `hostMeeting` / `stopHosting`: a room server inside the app. */
  hosting: boolean;
  /** The user chooses the server (false: always the server that served this page). */
  serverAddress: boolean;
  /**
   * Every {@link AudioEffects} field. Without it only `echoCancellation`, `autoGain` and
   * `noiseSuppression` 'off' | 'classic' apply; the others stay at their defaults.
   */
  audioEffects: boolean;
  /** Background music and sound effects. */
  music: boolean;
  /**
   * `listScreenSources` lists screens and windows with thumbnails to pick from. Without it the
   * list has one entry whose start opens the system's (or browser's) own picker.
   */
  screenPicker: boolean;
  /**
   * Beauty, filters, virtual backgrounds and mirroring what others see ({@link VideoEffects}).
   * Without it (a browser publishes what it captured, unprocessed) the video effects commands
   * reject and only the self view's mirroring ({@link Settings.mirror}) is offered.
   */
  videoEffects: boolean;
  /**
   * Background blur and virtual backgrounds. The engine has no person segmentation yet
   * (docs/DECISIONS.md), so the app says false and the panel leaves the section out.
   */
  videoBackground: boolean;
}

export const ALL_CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  hosting: true,
  serverAddress: true,
  audioEffects: true,
  music: true,
  screenPicker: true,
  videoEffects: true,
  videoBackground: true,
});

export interface Backend {
  readonly capabilities: Readonly<Capabilities>;
  /**
   * Optional, for backends whose media already lives in the page (the browser's WebRTC):
   * calls `show` with the MediaStream for this view ("" = my own preview) at once and whenever
   * it changes (null: nothing to show yet, or any more); returns a function that stops
   * watching. A tile then plays it in a `<video>` instead of drawing `setView`'s I420 frames.
   */
  mediaStream?(userId: string, stream: StreamKind, show: (s: MediaStream | null) => void): () => void;
  /** `host_meeting()` — starts the room server inside the app; returns its LAN address. */
  hostMeeting(): Promise<HostInfo>;
  /** `stop_hosting()` — stops the in-app server (everyone in its rooms is disconnected). */
  stopHosting(): Promise<void>;
  /** `join_room({server, room, userId, role, scene, sdkAppId, userSig})`. */
  joinRoom(args: JoinArgs): Promise<JoinResult>;
  /** `leave_room()`. An `exit_room` event follows. */
  leaveRoom(): Promise<void>;
  /** `set_microphone({on})` — the test tone is used when the machine has no microphone. */
  setMicrophone(on: boolean): Promise<void>;
  /** `set_camera({on})` — the test pattern is used when the machine has no camera. */
  setCamera(on: boolean): Promise<void>;
  /** `list_screen_sources()` — whole screens and windows, with thumbnails. */
  listScreenSources(): Promise<ScreenSource[]>;
  /** `start_screen_share({sourceId})` — publishes the sub stream. */
  startScreenShare(sourceId: string): Promise<void>;
  /** `stop_screen_share()`. */
  stopScreenShare(): Promise<void>;
  /** `switch_role({role})` — for myself; a `role_changed` event follows. */
  switchRole(role: Role): Promise<void>;
  /** `set_user_volume({userId, volume})` — 0..100 (default 100) for one remote user's audio. */
  setUserVolume(userId: string, volume: number): Promise<void>;
  /**
   * `set_remote_video_stream_type({userId, streamType})` — which layer of this user's camera to
   * receive when they publish simulcast (big until asked; see `layers.ts` for the UI's choice).
   */
  setRemoteVideoStreamType(userId: string, type: VideoStreamType): Promise<void>;
  /** `test_speaker()` — before joining: a 1 s tone on the chosen speaker; resolves to its name. */
  testSpeaker(): Promise<string>;
  /**
   * `set_view({userId, stream, width, height, channel})` — frames for this view are delivered to
   * `sink` (over a Tauri `Channel<ArrayBuffer>` in the app).
   */
  setView(view: ViewRequest, sink: FrameSink): Promise<void>;
  /** `stop_view({userId, stream})`; `sink` = the one given to setView (that canvas stops). */
  stopView(userId: string, stream: StreamKind, sink?: FrameSink): Promise<void>;
  /** `list_devices()`. */
  listDevices(): Promise<DeviceList>;
  /** `get_settings()`. */
  getSettings(): Promise<Settings>;
  /** `save_settings({settings})`. */
  saveSettings(settings: Settings): Promise<void>;
  /** `recent_rooms()` — newest first. */
  recentRooms(): Promise<RecentRoom[]>;
  /** `call_history()` — newest first. */
  callHistory(): Promise<CallRecord[]>;
  /** `store_notice()` — e.g. "Your settings database was damaged and has been recreated." */
  storeNotice(): Promise<string | null>;
  /** `invite_to_speak({userId})` — as an anchor in a live scene, invite an audience member. */
  inviteToSpeak(userId: string): Promise<void>;
  /** `request_to_speak()` — as audience, raise my hand; the anchors get `speak_requested`. */
  requestToSpeak(): Promise<void>;
  /** `answer_invite({accept})` — accepting puts me on stage (mic and camera on). */
  answerInvite(accept: boolean): Promise<void>;
  /** `answer_request({userId, accept})` — as an anchor. */
  answerRequest(userId: string, accept: boolean): Promise<void>;
  /** `get_audio_effects()` — the saved effects ({@link DEFAULT_AUDIO_EFFECTS} at first). */
  getAudioEffects(): Promise<AudioEffects>;
  /** `set_audio_effects({effects})` — saves them and applies them at once, in or out of a call. */
  setAudioEffects(effects: AudioEffects): Promise<void>;
  /**
   * `load_music` — the body is the file's raw bytes, with headers {@link LoadMusicHeaders}; the
   * app stores the file and starts playing it as background music (id 1, looping). In a call
   * only; rejects e.g. for an unsupported format. `music_progress` events follow.
   */
  loadMusic(file: File, publish: boolean): Promise<MusicState>;
  /** `music_control({action})` — pause, resume or stop the background music. */
  musicControl(action: MusicAction): Promise<void>;
  /** `seek_music({ms})`. */
  seekMusic(ms: number): Promise<void>;
  /** `set_music_volume({publish, playout})` — 0..100 each: what the room hears / what I hear. */
  setMusicVolume(publish: number, playout: number): Promise<void>;
  /** `play_sound_effect({name})` — a built-in sound everyone in the call hears. */
  playSoundEffect(name: SoundEffect): Promise<void>;
  /** `get_video_effects()` — the saved effects ({@link DEFAULT_VIDEO_EFFECTS} at first). */
  getVideoEffects(): Promise<VideoEffects>;
  /**
   * `set_video_effects({effects})` — saves them and applies them at once, in a call and in the
   * pre-join preview. Rejects e.g. when the background image cannot be read.
   */
  setVideoEffects(effects: VideoEffects): Promise<void>;
  /** `list_video_filters()` — bundled looks, then imported ones. */
  listVideoFilters(): Promise<VideoFilter[]>;
  /**
   * `import_video_file({kind: 'filter', fileName, data})` — `data` is the file's bytes in base64;
   * resolves to the new filter. Rejects when the file is not a PNG LUT image.
   */
  importVideoFilter(file: File): Promise<VideoFilter>;
  /**
   * `import_video_file({kind: 'background', fileName, data})` — resolves to the stored path, for
   * `{ kind: 'image', path }`.
   */
  importBackground(file: File): Promise<string>;
  // Meetings (the server enforces who may do what; refusals carry its code, e.g. 3002)
  /** `create_invite({request})` — (hosting on this computer) an invite link for the room. */
  createInvite(request: InviteRequest): Promise<string>;
  /** `send_chat({text})` — at most {@link CHAT_MAX_BYTES} bytes of UTF-8. */
  sendChat(text: string): Promise<void>;
  /** `send_reaction({emoji})`. */
  sendReaction(emoji: string): Promise<void>;
  /** `raise_hand({up})`. */
  raiseHand(up: boolean): Promise<void>;
  /** `mute_user({userId, kind, lock})` — host; userId null = everyone but me. */
  muteUser(userId: string | null, kind: MediaKind, lock: boolean): Promise<void>;
  /** `unlock_user({userId, kind})` — host: they may turn it on again. */
  unlockUser(userId: string | null, kind: MediaKind): Promise<void>;
  /** `remove_user({userId})` — host; they cannot come back to this meeting. */
  removeUser(userId: string): Promise<void>;
  /** `set_room_options({options})` — host. */
  setRoomOptions(options: RoomOptions): Promise<void>;
  /** `end_meeting()` — host: everyone leaves (an exit_room event with code 3009 follows). */
  endMeeting(): Promise<void>;
  /** `admit({userId, accept})` — host, for someone in the lobby. */
  admit(userId: string, accept: boolean): Promise<void>;
  /** `pending_invite()` — a roomcast:// link the app was started with (once), or null. */
  pendingInvite(): Promise<string | null>;
  /** Subscribes to `room-event`; resolves to an unsubscribe function. */
  onRoomEvent(handler: (e: RoomEvent) => void): Promise<() => void>;
}

/**
 * The exact `invoke` command names and argument objects. TauriBackend is a one-line mapping of
 * each Backend method onto these; tests assert on them.
 */
export interface CommandArgs {
  host_meeting: Record<string, never>;
  stop_hosting: Record<string, never>;
  join_room: JoinArgs;
  leave_room: Record<string, never>;
  set_microphone: { on: boolean };
  set_camera: { on: boolean };
  list_screen_sources: Record<string, never>;
  start_screen_share: { sourceId: string };
  stop_screen_share: Record<string, never>;
  switch_role: { role: Role };
  set_user_volume: { userId: string; volume: number };
  set_remote_video_stream_type: { userId: string; streamType: VideoStreamType };
  test_speaker: Record<string, never>;
  /** plus `channel: Channel<ArrayBuffer>` */
  /** `viewer`: which canvas (TauriBackend gives each sink a number); `seq`: request order. */
  set_view: ViewRequest & { viewer?: number; seq?: number };
  stop_view: { userId: string; stream: StreamKind; viewer?: number; seq?: number };
  list_devices: Record<string, never>;
  get_settings: Record<string, never>;
  /** Rust: `fn save_settings(settings: Settings)`. */
  save_settings: { settings: Settings };
  recent_rooms: Record<string, never>;
  call_history: Record<string, never>;
  store_notice: Record<string, never>;
  invite_to_speak: { userId: string };
  request_to_speak: Record<string, never>;
  answer_invite: { accept: boolean };
  answer_request: { userId: string; accept: boolean };
  get_audio_effects: Record<string, never>;
  /** Rust: `fn set_audio_effects(effects: AudioEffects)`. */
  set_audio_effects: { effects: AudioEffects };
  /**
   * Not an argument object: the invoke body is the file's bytes (`Uint8Array`) and these travel
   * as the headers {@link LoadMusicHeaders} (`x-file-name` URI-encoded, `x-publish`).
   * Rust: `fn load_music(request: tauri::ipc::Request)`.
   */
  load_music: { fileName: string; publish: boolean };
  music_control: { action: MusicAction };
  seek_music: { ms: number };
  set_music_volume: { publish: number; playout: number };
  play_sound_effect: { name: SoundEffect };
  get_video_effects: Record<string, never>;
  /** Rust: `fn set_video_effects(effects: VideoEffects)`. */
  set_video_effects: { effects: VideoEffects };
  list_video_filters: Record<string, never>;
  /**
   * `data`: the file's bytes in base64. Resolves to a {@link VideoFilter} (kind 'filter') or to
   * the stored path (kind 'background').
   */
  import_video_file: { kind: VideoFileKind; fileName: string; data: string };
  create_invite: { request: InviteRequest };
  send_chat: { text: string };
  send_reaction: { emoji: string };
  raise_hand: { up: boolean };
  mute_user: { userId: string | null; kind: MediaKind; lock: boolean };
  unlock_user: { userId: string | null; kind: MediaKind };
  remove_user: { userId: string };
  set_room_options: { options: RoomOptions };
  end_meeting: Record<string, never>;
  admit: { userId: string; accept: boolean };
  pending_invite: Record<string, never>;
}
export type CommandName = keyof CommandArgs;

/** UserID rules (MISSION.md): up to 32 bytes of [A-Za-z0-9_]. Derives one from a display name. */
export function userIdFromName(name: string, fallbackSuffix = ''): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .replace(/\s+/g, '_')
    .replace(/[^A-Za-z0-9_]/g, '')
    .slice(0, 32);
  if (cleaned) return cleaned;
  return ('user_' + fallbackSuffix).slice(0, 32).replace(/[^A-Za-z0-9_]/g, '') || 'user';
}

/**
 * The UserID of a guest joining with an invite: like {@link userIdFromName}, always followed by
 * `_` and `suffix`, so two guests who pick the same name never take each other's place (the
 * server replaces a UserID that enters twice). Same rule as `user_id_for` in the Rust proto.
 */
export function guestUserId(name: string, suffix: string): string {
  const tail = suffix.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  const base = userIdFromName(name).replace(/^user_?$/, '') || 'guest';
  return `${base.replace(/^_+|_+$/g, '').slice(0, 31 - tail.length) || 'guest'}_${tail}`;
}

export const isValidUserId = (id: string): boolean => /^[A-Za-z0-9_]{1,32}$/.test(id);

/** Numeric room ids are 1..=4294967295; anything else non-empty is a room name. */
export function roomIdKind(room: string): 'number' | 'name' | 'invalid' {
  const r = room.trim();
  if (!r) return 'invalid';
  if (/^\d+$/.test(r)) {
    const n = Number(r);
    return n >= 1 && n <= 4294967295 ? 'number' : 'invalid';
  }
  return 'name';
}

/** base64url → string (UTF-8). */
function fromBase64Url(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * Takes an invite link apart (the format is in docs/PROTOCOL.md); null when it is not one.
 * Nothing is verified here: the server checks the signature, the expiry and the room.
 */
export function parseInviteLink(text: string): InviteLink | null {
  const link = text.trim();
  const hash = link.indexOf('#');
  if (hash < 0) return null;
  const grant = new URLSearchParams(link.slice(hash + 1)).get('invite');
  const m = /^(https?|roomcasts?):\/\/([^/?#]+)/i.exec(link.slice(0, hash));
  if (!grant || !m) return null;
  const scheme = m[1].toLowerCase();
  // `&http=PORT`: the page is https with a self-signed certificate; the app talks plain http
  // to that port of the same host (docs/PROTOCOL.md, "Invites").
  const plainPort = Number(new URLSearchParams(link.slice(hash + 1)).get('http'));
  const server =
    Number.isInteger(plainPort) && plainPort > 0 && plainPort < 65536
      ? `http://${m[2].replace(/:\d+$/, '')}:${plainPort}`
      : `${scheme === 'https' || scheme === 'roomcasts' ? 'https' : 'http'}://${m[2]}`;
  const parts = grant.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') return null;
  try {
    const g = JSON.parse(fromBase64Url(parts[1]));
    if (typeof g.app !== 'number' || (typeof g.room !== 'number' && typeof g.room !== 'string')) return null;
    return {
      server,
      grant,
      sdkAppId: g.app,
      room: String(g.room),
      role: g.role === 'audience' ? 'audience' : 'anchor',
      expires: Number(g.exp) || 0,
      host: g.host === true,
    };
  } catch {
    return null;
  }
}

/** UTF-8 length, for the chat limit. */
export const utf8Bytes = (s: string): number => new TextEncoder().encode(s).length;
