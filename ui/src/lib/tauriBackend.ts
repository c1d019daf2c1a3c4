import { Channel, invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import {
  ALL_CAPABILITIES,
  type Capabilities,
  ROOM_EVENT,
  toBackendError,
  type AudioEffects,
  type Backend,
  type CommandArgs,
  type CommandName,
  type DeviceList,
  type FrameSink,
  type HostInfo,
  type InviteRequest,
  type JoinArgs,
  type JoinResult,
  type LoadMusicHeaders,
  type MediaKind,
  type MusicAction,
  type MusicState,
  type CallRecord,
  type RecentRoom,
  type Role,
  type RoomEvent,
  type RoomOptions,
  type ScreenSource,
  type Settings,
  type SoundEffect,
  type StreamKind,
  type VideoEffects,
  type VideoFileKind,
  type VideoFilter,
  type VideoStreamType,
  type ViewRequest,
} from './backend';

/** Invokes a command with typed arguments; rejections become BackendError. */
async function call<T, K extends CommandName = CommandName>(
  cmd: K,
  args?: CommandArgs[K] & { channel?: Channel<ArrayBuffer> },
): Promise<T> {
  try {
    return await invoke<T>(cmd, args as Record<string, unknown> | undefined);
  } catch (e) {
    throw toBackendError(e);
  }
}

/** Bytes → base64 (in chunks: a spread of a whole picture would overflow the stack). */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** `import_video_file`: the file's bytes travel as base64 in the JSON arguments. */
async function importVideoFile<T>(kind: VideoFileKind, file: File): Promise<T> {
  let data: string;
  try {
    data = base64Of(new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    throw toBackendError(e);
  }
  return call('import_video_file', { kind, fileName: file.name, data });
}

/** The Backend running inside the Tauri app: a one-to-one mapping onto the commands. */
export class TauriBackend implements Backend {
  /** Everything: the engine runs every effect, backgrounds included. */
  readonly capabilities: Readonly<Capabilities> = Object.freeze({ ...ALL_CAPABILITIES });
  hostMeeting = (): Promise<HostInfo> => call('host_meeting');
  stopHosting = (): Promise<void> => call('stop_hosting');
  joinRoom = (args: JoinArgs): Promise<JoinResult> => call('join_room', args);
  leaveRoom = (): Promise<void> => call('leave_room');
  setMicrophone = (on: boolean): Promise<void> => call('set_microphone', { on });
  setCamera = (on: boolean): Promise<void> => call('set_camera', { on });
  listScreenSources = (): Promise<ScreenSource[]> => call('list_screen_sources');
  startScreenShare = (sourceId: string): Promise<void> => call('start_screen_share', { sourceId });
  stopScreenShare = (): Promise<void> => call('stop_screen_share');
  switchRole = (role: Role): Promise<void> => call('switch_role', { role });
  setUserVolume = (userId: string, volume: number): Promise<void> => call('set_user_volume', { userId, volume });
  setRemoteVideoStreamType = (userId: string, streamType: VideoStreamType): Promise<void> =>
    call('set_remote_video_stream_type', { userId, streamType });
  testSpeaker = (): Promise<string> => call('test_speaker');
  /**
   * Each canvas (each sink) is its own viewer on the Rust side, so two canvases of one stream
   * (the pre-join preview and the call's self view) come and go independently; requests are
   * numbered because Tauri runs commands concurrently and an older one must not undo a newer.
   */
  private viewSeq = 0;
  private viewers = new WeakMap<FrameSink, number>();
  private nextViewer = 1;
  private viewerOf(sink: FrameSink): number {
    let v = this.viewers.get(sink);
    if (v === undefined) {
      v = this.nextViewer++;
      this.viewers.set(sink, v);
    }
    return v;
  }
  stopView = (userId: string, stream: StreamKind, sink?: FrameSink): Promise<void> =>
    call('stop_view', { userId, stream, ...(sink ? { viewer: this.viewerOf(sink) } : {}), seq: ++this.viewSeq });
  listDevices = (): Promise<DeviceList> => call('list_devices');
  getSettings = (): Promise<Settings> => call('get_settings');
  saveSettings = (settings: Settings): Promise<void> => call('save_settings', { settings });
  recentRooms = (): Promise<RecentRoom[]> => call('recent_rooms');
  callHistory = (): Promise<CallRecord[]> => call('call_history');
  storeNotice = (): Promise<string | null> => call('store_notice');
  inviteToSpeak = (userId: string): Promise<void> => call('invite_to_speak', { userId });
  requestToSpeak = (): Promise<void> => call('request_to_speak');
  answerInvite = (accept: boolean): Promise<void> => call('answer_invite', { accept });
  answerRequest = (userId: string, accept: boolean): Promise<void> =>
    call('answer_request', { userId, accept });
  getAudioEffects = (): Promise<AudioEffects> => call('get_audio_effects');
  setAudioEffects = (effects: AudioEffects): Promise<void> => call('set_audio_effects', { effects });
  /** The file travels as the raw invoke body (no JSON number array), its name and flag as headers. */
  loadMusic = async (file: File, publish: boolean): Promise<MusicState> => {
    const headers: LoadMusicHeaders = { 'x-file-name': encodeURIComponent(file.name), 'x-publish': publish ? 'true' : 'false' };
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      return await invoke<MusicState>('load_music', bytes, { headers: { ...headers } });
    } catch (e) {
      throw toBackendError(e);
    }
  };
  musicControl = (action: MusicAction): Promise<void> => call('music_control', { action });
  seekMusic = (ms: number): Promise<void> => call('seek_music', { ms: Math.max(0, Math.round(ms)) });
  setMusicVolume = (publish: number, playout: number): Promise<void> => call('set_music_volume', { publish, playout });
  playSoundEffect = (name: SoundEffect): Promise<void> => call('play_sound_effect', { name });
  getVideoEffects = (): Promise<VideoEffects> => call('get_video_effects');
  setVideoEffects = (effects: VideoEffects): Promise<void> => call('set_video_effects', { effects });
  listVideoFilters = (): Promise<VideoFilter[]> => call('list_video_filters');
  importVideoFilter = (file: File): Promise<VideoFilter> => importVideoFile('filter', file);
  importBackground = (file: File): Promise<string> => importVideoFile('background', file);
  createInvite = (request: InviteRequest): Promise<string> => call('create_invite', { request });
  sendChat = (text: string): Promise<void> => call('send_chat', { text });
  sendReaction = (emoji: string): Promise<void> => call('send_reaction', { emoji });
  raiseHand = (up: boolean): Promise<void> => call('raise_hand', { up });
  muteUser = (userId: string | null, kind: MediaKind, lock: boolean): Promise<void> =>
    call('mute_user', { userId, kind, lock });
  unlockUser = (userId: string | null, kind: MediaKind): Promise<void> => call('unlock_user', { userId, kind });
  removeUser = (userId: string): Promise<void> => call('remove_user', { userId });
  setRoomOptions = (options: RoomOptions): Promise<void> => call('set_room_options', { options });
  endMeeting = (): Promise<void> => call('end_meeting');
  admit = (userId: string, accept: boolean): Promise<void> => call('admit', { userId, accept });
  pendingInvite = (): Promise<string | null> => call('pending_invite');

  setView(view: ViewRequest, sink: FrameSink): Promise<void> {
    const channel = new Channel<ArrayBuffer>();
    channel.onmessage = (msg) => {
      // Binary channel payloads arrive as ArrayBuffer; tolerate typed arrays and number arrays.
      if (msg instanceof ArrayBuffer) sink(msg);
      else if (ArrayBuffer.isView(msg)) {
        const v = msg as ArrayBufferView;
        sink(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer);
      } else if (Array.isArray(msg)) sink(new Uint8Array(msg as number[]).buffer);
    };
    return call('set_view', { ...view, viewer: this.viewerOf(sink), seq: ++this.viewSeq, channel });
  }

  async onRoomEvent(handler: (e: RoomEvent) => void): Promise<() => void> {
    return listen<RoomEvent>(ROOM_EVENT, (e) => handler(e.payload));
  }
}

/** True inside the Tauri webview. */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}
