import { expect, test } from 'vitest';
import { DEFAULT_AUDIO_EFFECTS, DEFAULT_SETTINGS } from '../backend';
import {
  applyLayers,
  browserAudioEffectsOnly,
  cameraConstraints,
  cameraWidth,
  microphoneConstraints,
  rankCodecs,
  simulcastEncodings,
  smallLayerScale,
} from './rtc';

test('H.264 constrained baseline with packetization-mode 1 first, Opus first; the rest keeps its order', () => {
  const video = [
    { mimeType: 'video/VP8' },
    { mimeType: 'video/rtx' },
    { mimeType: 'video/H264', sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f' },
    { mimeType: 'video/H264', sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f' },
    { mimeType: 'video/H264', sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  ];
  expect(rankCodecs('video', video).map((c) => `${c.mimeType} ${c.sdpFmtpLine ?? ''}`.trim())).toEqual([
    'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'video/H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f',
    'video/H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
    'video/VP8',
    'video/rtx',
  ]);
  expect(rankCodecs('audio', [{ mimeType: 'audio/red' }, { mimeType: 'audio/opus' }, { mimeType: 'audio/PCMU' }]).map((c) => c.mimeType))
    .toEqual(['audio/opus', 'audio/red', 'audio/PCMU']);
});

test('capture constraints follow the settings and the browser-side effects', () => {
  expect(cameraConstraints({ ...DEFAULT_SETTINGS, resolution: '360p', fps: 24, camera: 'cam-2' })).toEqual({
    deviceId: { exact: 'cam-2' },
    width: { ideal: 640 },
    height: { ideal: 360 },
    frameRate: { ideal: 24 },
  });
  expect(microphoneConstraints(DEFAULT_SETTINGS, { ...DEFAULT_AUDIO_EFFECTS, noiseSuppression: 'off', autoGain: false })).toEqual({
    echoCancellation: true,
    noiseSuppression: false,
    autoGainControl: false,
  });
});

test('which effects a browser can apply', () => {
  const d = DEFAULT_AUDIO_EFFECTS;
  expect(browserAudioEffectsOnly({ ...d, echoCancellation: false, autoGain: false, noiseSuppression: 'off' }, d)).toBe(true);
  expect(browserAudioEffectsOnly({ ...d, noiseSuppression: 'ai' }, d)).toBe(false);
  expect(browserAudioEffectsOnly({ ...d, voiceChanger: 'child' }, d)).toBe(false);
  expect(browserAudioEffectsOnly({ ...d, reverb: 'ktv' }, d)).toBe(false);
  expect(browserAudioEffectsOnly({ ...d, earMonitor: true }, d)).toBe(false);
  expect(browserAudioEffectsOnly({ ...d, captureVolume: 120 }, d)).toBe(false);
  expect(browserAudioEffectsOnly({ ...d, highPass: !d.highPass }, d)).toBe(false);
});

test('simulcast: the camera as h at the chosen bitrate and l 320 wide at 15 fps and 100 kbit/s', () => {
  expect(simulcastEncodings(1_200_000, 1280)).toEqual([
    { rid: 'h', maxBitrate: 1_200_000 },
    { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 100_000, maxFramerate: 15 },
  ]);
  expect(smallLayerScale(1920)).toBe(6);
  expect(smallLayerScale(960)).toBe(3);
  expect(smallLayerScale(320)).toBe(1);
  expect(smallLayerScale(176)).toBe(1); // never scaled up
  expect(smallLayerScale(0)).toBe(1);
  expect(cameraWidth({ ...DEFAULT_SETTINGS, resolution: '540p' })).toBe(960);
});

test('layer_demand sets each layer’s active (and the small one’s scale); a single encoding is left alone', () => {
  const enc = simulcastEncodings(1_000_000, 1280).map((e) => ({ ...e, active: true }));
  expect(applyLayers(enc, { big: true, small: true }, 1280)).toBe(false);
  expect(applyLayers(enc, { big: false, small: true }, 1280)).toBe(true);
  expect(enc.map((e) => e.active)).toEqual([false, true]);
  expect(applyLayers(enc, { big: false, small: true }, null)).toBe(false);
  expect(applyLayers(enc, { big: false, small: true }, 640)).toBe(true);
  expect(enc[1].scaleResolutionDownBy).toBe(2);
  const single = [{ maxBitrate: 1_000_000, active: true }];
  expect(applyLayers(single, { big: false, small: false }, 1280)).toBe(false);
  expect(single[0].active).toBe(true);
});
