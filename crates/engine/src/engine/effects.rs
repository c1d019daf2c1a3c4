//! The engine's audio effect API (TRTC's `TXAudioEffectManager`; names side by side in
//! docs/AUDIO.md). Settings go to the engine-owned capture chain at once, in or out of a
//! room, and survive a microphone switch.

use std::sync::Arc;

use super::{Engine, EngineError, EngineEvent};
use crate::audio::{
    AudioEffects, MusicError, MusicParam, MusicState, NoiseSuppression, PlayoutHandle, Reverb,
    VoiceChanger, decode_file,
};
use crate::stats::lock;

/// Ids of the built-in sound effects (music ids chosen by callers stay below).
pub const SOUND_EFFECT_IDS: i32 = 1_000_000;

impl Engine {
    /// What a speaker pulls: the mix of every remote user, the local music and the ear
    /// monitor (48 kHz mono). Only for engines made with `headless_playout: false`.
    pub fn playout(&self) -> PlayoutHandle {
        PlayoutHandle(self.playout.clone())
    }

    /// Whether the engine runs its own playout clock (no speaker attached).
    pub fn has_headless_playout(&self) -> bool {
        self.clock.is_some()
    }

    /// TRTC `setRemoteAudioVolume`: 0..=100 for one remote user (0 mutes them locally).
    pub fn set_remote_audio_volume(&self, user: &str, volume: u8) {
        lock(&self.playout).set_user_volume(user, volume);
    }

    /// TRTC `setAudioPlayoutVolume`: 0..=100 for everything we hear.
    pub fn set_audio_playout_volume(&self, volume: u8) {
        lock(&self.playout).set_volume(volume);
    }

    /// The capture chain's settings now.
    pub fn audio_effects(&self) -> AudioEffects {
        lock(&self.chain).effects().clone()
    }

    /// Replaces every capture setting at once (the app's saved settings).
    pub fn set_audio_effects(&self, effects: AudioEffects) -> Result<(), EngineError> {
        lock(&self.chain)
            .set_effects(effects)
            .map_err(EngineError::Audio)
    }

    fn update_effects(&self, f: impl FnOnce(&mut AudioEffects)) -> Result<(), EngineError> {
        let mut chain = lock(&self.chain);
        let mut effects = chain.effects().clone();
        f(&mut effects);
        chain.set_effects(effects).map_err(EngineError::Audio)
    }

    /// TRTC `setVoiceChangerType`.
    pub fn set_voice_changer_type(&self, t: VoiceChanger) -> Result<(), EngineError> {
        self.update_effects(|e| e.voice_changer = t)
    }

    /// TRTC `setVoiceReverbType`.
    pub fn set_voice_reverb_type(&self, t: Reverb) -> Result<(), EngineError> {
        self.update_effects(|e| e.reverb = t)
    }

    /// TRTC `setVoiceCaptureVolume`: 0..=150, 100 = unchanged.
    pub fn set_voice_capture_volume(&self, volume: u8) -> Result<(), EngineError> {
        self.update_effects(|e| e.capture_volume = volume)
    }

    /// Off, classic (WebRTC NS) or AI (RNNoise).
    pub fn set_noise_suppression(&self, ns: NoiseSuppression) -> Result<(), EngineError> {
        self.update_effects(|e| e.noise_suppression = ns)
    }

    pub fn enable_echo_cancellation(&self, on: bool) -> Result<(), EngineError> {
        self.update_effects(|e| e.echo_cancellation = on)
    }

    pub fn enable_auto_gain(&self, on: bool) -> Result<(), EngineError> {
        self.update_effects(|e| e.auto_gain = on)
    }

    /// TRTC `startPlayMusic`: decodes the file off the caller's thread, then plays it from
    /// memory. A file that cannot be played is an error here and an
    /// [`EngineEvent::Error`]; the call goes on.
    pub async fn start_play_music(&self, param: MusicParam) -> Result<MusicState, EngineError> {
        let path = param.path.clone();
        let decoded = tokio::task::spawn_blocking(move || decode_file(&path))
            .await
            .map_err(|e| EngineError::Thread(e.to_string()))
            .and_then(|r| r.map_err(EngineError::from));
        let pcm = match decoded {
            Ok(pcm) => pcm,
            Err(e) => {
                let _ = self.events_tx.send(EngineEvent::Error {
                    code: None,
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        let mut chain = lock(&self.chain);
        let music = chain.music();
        music.start(&param, Arc::from(pcm));
        music
            .state(param.id)
            .ok_or(EngineError::from(MusicError::NotPlaying(param.id)))
    }

    /// A built-in sound effect (`applause`, `bell`, `drumroll`) over the voice, heard by
    /// the room and locally; several can play at once (each name has its own id, so playing
    /// one again restarts it).
    pub fn play_sound_effect(&self, name: &str) -> Result<(), EngineError> {
        let (index, pcm) = crate::audio::sounds::NAMES
            .iter()
            .position(|n| *n == name)
            .zip(crate::audio::sounds::builtin(name))
            .ok_or_else(|| {
                EngineError::Audio(format!(
                    "unknown sound effect '{name}'; use one of: {}",
                    crate::audio::sounds::NAMES.join(", ")
                ))
            })?;
        let param = MusicParam {
            is_short_file: true,
            ..MusicParam::new(SOUND_EFFECT_IDS + index as i32, name)
        };
        lock(&self.chain).music().start(&param, Arc::from(pcm));
        Ok(())
    }

    fn music<T>(
        &self,
        f: impl FnOnce(&mut crate::audio::Music) -> Result<T, MusicError>,
    ) -> Result<T, EngineError> {
        f(lock(&self.chain).music()).map_err(EngineError::from)
    }

    /// TRTC `stopPlayMusic`.
    pub fn stop_play_music(&self, id: i32) -> Result<(), EngineError> {
        self.music(|m| m.stop(id).then_some(()).ok_or(MusicError::NotPlaying(id)))
    }

    /// TRTC `pausePlayMusic`.
    pub fn pause_play_music(&self, id: i32) -> Result<(), EngineError> {
        self.music(|m| m.set_paused(id, true))
    }

    /// TRTC `resumePlayMusic`.
    pub fn resume_play_music(&self, id: i32) -> Result<(), EngineError> {
        self.music(|m| m.set_paused(id, false))
    }

    /// TRTC `seekMusicToPosInMS`.
    pub fn seek_music_to_pos_in_ms(&self, id: i32, ms: u64) -> Result<(), EngineError> {
        self.music(|m| m.seek(id, ms))
    }

    /// TRTC `setMusicPublishVolume`: 0..=100, what the room hears.
    pub fn set_music_publish_volume(&self, id: i32, volume: u8) -> Result<(), EngineError> {
        self.music(|m| m.set_volume(id, Some(volume), None))
    }

    /// TRTC `setMusicPlayoutVolume`: 0..=100, what we hear.
    pub fn set_music_playout_volume(&self, id: i32, volume: u8) -> Result<(), EngineError> {
        self.music(|m| m.set_volume(id, None, Some(volume)))
    }

    /// TRTC `setMusicPitch`: -1.0..=1.0 (±12 semitones).
    pub fn set_music_pitch(&self, id: i32, pitch: f32) -> Result<(), EngineError> {
        self.music(|m| m.set_pitch(id, pitch))
    }

    /// TRTC `setMusicSpeedRate`: 0.5..=2.0.
    pub fn set_music_speed_rate(&self, id: i32, speed: f32) -> Result<(), EngineError> {
        self.music(|m| m.set_speed(id, speed))
    }

    /// TRTC `getMusicCurrentPosInMS` and `getMusicDurationInMS` at once.
    pub fn music_state(&self, id: i32) -> Option<MusicState> {
        lock(&self.chain).music().state(id)
    }
}
