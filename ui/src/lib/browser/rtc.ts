/** Small WebRTC helpers: codec order, ICE gathering, capture constraints. */
import type { AudioEffects, Resolution, Settings } from '../backend';
import type { MediaKind } from './protocol';

/** Codec capabilities as RTCRtpReceiver.getCapabilities lists them. */
export interface CodecLike {
  mimeType: string;
  sdpFmtpLine?: string;
}

/**
 * The server speaks Opus and H.264 constrained baseline with packetization-mode 1: those go
 * first (a stable sort keeps the browser's order otherwise, so RTX and FEC stay).
 */
export function rankCodecs<C extends CodecLike>(kind: MediaKind, codecs: readonly C[]): C[] {
  const rank = (c: C): number => {
    const mime = c.mimeType.toLowerCase();
    const fmtp = (c.sdpFmtpLine ?? '').toLowerCase();
    if (kind === 'audio') return mime === 'audio/opus' ? 0 : 1;
    if (mime !== 'video/h264') return 3;
    const mode1 = fmtp.includes('packetization-mode=1');
    return fmtp.includes('profile-level-id=42e01f') && mode1 ? 0 : mode1 ? 1 : 2;
  };
  return [...codecs].sort((a, b) => rank(a) - rank(b));
}

export function preferCodecs(t: RTCRtpTransceiver, kind: MediaKind): void {
  if (typeof t.setCodecPreferences !== 'function' || typeof RTCRtpReceiver === 'undefined') return;
  const caps = RTCRtpReceiver.getCapabilities?.(kind);
  if (!caps) return;
  try {
    t.setCodecPreferences(rankCodecs(kind, caps.codecs));
  } catch (e) {
    console.warn('setCodecPreferences:', e);
  }
}

/** The server is ICE-lite and gets our candidates in the offer: wait for them (bounded). */
export function iceGatheringDone(pc: RTCPeerConnection, timeoutMs = 2000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

const SIZES: Record<Resolution, [number, number]> = {
  '360p': [640, 360],
  '540p': [960, 540],
  '720p': [1280, 720],
  '1080p': [1920, 1080],
};

/** The camera's width as asked for (the track says what it got). */
export const cameraWidth = (s: Settings): number => (SIZES[s.resolution] ?? SIZES['720p'])[0];

/**
 * The camera's two simulcast layers, as the server and the app send them (RIDs `h` and `l`):
 * the small one is 320 wide at 15 fps and 100 kbit/s.
 */
export const BIG_RID = 'h';
export const SMALL_RID = 'l';
export const SMALL_LAYER = { width: 320, maxBitrate: 100_000, maxFramerate: 15 } as const;

/** How much the small layer scales a camera `width` pixels wide down: to 320, never up. */
export function smallLayerScale(width: number): number {
  return width > SMALL_LAYER.width ? width / SMALL_LAYER.width : 1;
}

/** `sendEncodings` of a camera published with simulcast: the big layer at `maxBitrate`, the small one. */
export function simulcastEncodings(maxBitrate: number, width: number): RTCRtpEncodingParameters[] {
  return [
    { rid: BIG_RID, maxBitrate },
    {
      rid: SMALL_RID,
      scaleResolutionDownBy: smallLayerScale(width),
      maxBitrate: SMALL_LAYER.maxBitrate,
      maxFramerate: SMALL_LAYER.maxFramerate,
    },
  ];
}

/** Which layers of my camera anyone receives (the server's `layer_demand`). */
export interface LayerDemand {
  big: boolean;
  small: boolean;
}

/**
 * Sets the layers' `active` from the demand and, given the camera's width, the small layer's
 * scale; true when an encoding changed (then `setParameters`). Encodings without one of the
 * two RIDs (a camera published without simulcast) are left alone.
 */
export function applyLayers(encodings: RTCRtpEncodingParameters[], demand: LayerDemand, width: number | null): boolean {
  let changed = false;
  for (const e of encodings) {
    if (e.rid !== BIG_RID && e.rid !== SMALL_RID) continue;
    const active = e.rid === BIG_RID ? demand.big : demand.small;
    if (e.active !== active) {
      e.active = active;
      changed = true;
    }
    if (e.rid === SMALL_RID && width !== null && width > 0) {
      const scale = smallLayerScale(width);
      if (e.scaleResolutionDownBy !== scale) {
        e.scaleResolutionDownBy = scale;
        changed = true;
      }
    }
  }
  return changed;
}

export function cameraConstraints(s: Settings): MediaTrackConstraints {
  const [width, height] = SIZES[s.resolution] ?? SIZES['720p'];
  return {
    ...(s.camera ? { deviceId: { exact: s.camera } } : {}),
    width: { ideal: width },
    height: { ideal: height },
    frameRate: { ideal: s.fps },
  };
}

/** The browser's own processing is all it has: echo cancellation, noise suppression, gain. */
export function microphoneConstraints(s: Settings, fx: AudioEffects): MediaTrackConstraints {
  return {
    ...(s.microphone ? { deviceId: { exact: s.microphone } } : {}),
    echoCancellation: fx.echoCancellation,
    noiseSuppression: fx.noiseSuppression !== 'off',
    autoGainControl: fx.autoGain,
  };
}

/** The fields of AudioEffects a browser can honour. */
export function browserAudioEffectsOnly(fx: AudioEffects, defaults: AudioEffects): boolean {
  return (
    fx.noiseSuppression !== 'ai' &&
    fx.highPass === defaults.highPass &&
    fx.captureVolume === defaults.captureVolume &&
    fx.voiceChanger === defaults.voiceChanger &&
    fx.reverb === defaults.reverb &&
    fx.earMonitor === defaults.earMonitor
  );
}
