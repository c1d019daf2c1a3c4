//! Audio effects, background music and sound effects: commands that validate and call the
//! engine (in a call) or the pre-join check's capture chain (before one), and keep the
//! effects in the local store so they survive restarts.

use std::path::PathBuf;
use std::sync::Arc;

use roomcast_engine::audio::{AudioEffects, AudioPull, MusicParam, MusicState};
use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use crate::{AppError, AppState, Result, devices, lock_check};

/// The background music's id (one track at a time from the app).
const MUSIC_ID: i32 = 1;

#[tauri::command]
pub async fn get_audio_effects(state: State<'_, AppState>) -> Result<AudioEffects> {
    Ok(state.store.audio_effects().await?)
}

/// Saves the effects and applies them at once: to the call, or to the pre-join check (whose
/// "hear yourself" opens or closes the speaker).
#[tauri::command]
pub async fn set_audio_effects(state: State<'_, AppState>, effects: AudioEffects) -> Result<()> {
    effects.validate().map_err(AppError::input)?;
    state.store.save_audio_effects(&effects).await?;
    if let Some(call) = state.call.lock().await.as_ref() {
        call.engine.set_audio_effects(effects)?;
        return Ok(());
    }
    let chain = lock_check(&state).chain.clone();
    let Some(chain) = chain else {
        return Ok(());
    };
    roomcast_engine::stats::lock(&chain)
        .set_effects(effects.clone())
        .map_err(AppError::input)?;
    let speaker_open = lock_check(&state).ear.is_some();
    if effects.ear_monitor && !speaker_open {
        let settings = state.store.settings().await.unwrap_or_default();
        let (playout, _) =
            devices::unblock(move || devices::playout(settings.speaker.as_deref())).await?;
        if let Some(p) = &playout {
            let queue: Arc<dyn AudioPull> = roomcast_engine::stats::lock(&chain).local_out();
            p.attach(Some(queue));
        }
        lock_check(&state).ear = playout;
    } else if !effects.ear_monitor {
        let old = lock_check(&state).ear.take();
        drop(old);
    }
    Ok(())
}

/// `load_music`: the file's bytes as the raw invoke body, its name in `x-file-name`
/// (URI-encoded) and `x-publish: true|false`. Kept in the app's data directory and played
/// (looping) as the call's background music.
#[tauri::command]
pub async fn load_music(state: State<'_, AppState>, request: Request<'_>) -> Result<MusicState> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::input(
            "Send the music file's bytes as the request body.",
        ));
    };
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let name = file_name(&header("x-file-name").unwrap_or_default());
    let publish = header("x-publish").as_deref() != Some("false");
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    let dir = state.data_dir.join("music");
    let path = dir.join(&name);
    let data = bytes.clone();
    let write = {
        let path = path.clone();
        move || std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, data))
    };
    tokio::task::spawn_blocking(write)
        .await
        .map_err(|e| AppError::Internal {
            message: e.to_string(),
        })?
        .map_err(|e| AppError::Store {
            message: format!("Cannot keep the music file {}: {e}", path.display()),
        })?;
    let state = call
        .engine
        .start_play_music(MusicParam {
            loop_count: u32::MAX,
            publish,
            ..MusicParam::new(MUSIC_ID, path)
        })
        .await
        .map_err(|e| AppError::input(e.to_string()))?;
    Ok(state)
}

/// The last path component of what the UI sent, URI-decoded, with nothing that could leave
/// the music directory.
fn file_name(encoded: &str) -> String {
    let mut bytes = Vec::new();
    let mut it = encoded.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex: Vec<u8> = it.by_ref().take(2).collect();
            match std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => bytes.push(v),
                None => bytes.extend(b"%".iter().chain(&hex)),
            }
        } else {
            bytes.push(b);
        }
    }
    let decoded = String::from_utf8_lossy(&bytes).to_string();
    let base = PathBuf::from(decoded.replace('\\', "/"))
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if base.is_empty() || base.starts_with('.') {
        "music".into()
    } else {
        base
    }
}

#[tauri::command]
pub async fn music_control(state: State<'_, AppState>, action: String) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    match action.as_str() {
        "pause" => call.engine.pause_play_music(MUSIC_ID),
        "resume" => call.engine.resume_play_music(MUSIC_ID),
        "stop" => call.engine.stop_play_music(MUSIC_ID),
        other => {
            return Err(AppError::input(format!(
                "Unknown music action '{other}'; use pause, resume or stop."
            )));
        }
    }
    .map_err(|e| AppError::input(e.to_string()))
}

#[tauri::command]
pub async fn seek_music(state: State<'_, AppState>, ms: u64) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .seek_music_to_pos_in_ms(MUSIC_ID, ms)
        .map_err(|e| AppError::input(e.to_string()))
}

#[tauri::command]
pub async fn set_music_volume(state: State<'_, AppState>, publish: u8, playout: u8) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .set_music_publish_volume(MUSIC_ID, publish)
        .and_then(|()| call.engine.set_music_playout_volume(MUSIC_ID, playout))
        .map_err(|e| AppError::input(e.to_string()))
}

#[tauri::command]
pub async fn play_sound_effect(state: State<'_, AppState>, name: String) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .play_sound_effect(&name)
        .map_err(|e| AppError::input(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn music_file_names_stay_in_the_music_directory() {
        assert_eq!(file_name("song%20one.mp3"), "song one.mp3");
        assert_eq!(file_name("%ED%95%9C%EA%B5%AD.ogg"), "한국.ogg");
        assert_eq!(file_name("..%2F..%2Fetc%2Fpasswd"), "passwd");
        assert_eq!(file_name("C:%5Cmusic%5Ca.flac"), "a.flac");
        assert_eq!(file_name(".."), "music");
        assert_eq!(file_name(""), "music");
        assert_eq!(file_name("bad%zzname.wav"), "bad%zzname.wav");
    }
}
