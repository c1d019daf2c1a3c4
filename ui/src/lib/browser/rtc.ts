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
