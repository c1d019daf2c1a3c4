//! In a meeting: chat, reactions, hands, and the host's controls. The server decides who may
//! do what; its refusals reach the window as server errors with their codes.

use roomcast_engine::Engine;
use roomcast_proto::{MediaKind, RoomOptions, UserId};
use tauri::State;

use crate::{AppError, AppState, Result};

/// A chat line is a custom message of at most 1 KB; this leaves room for its JSON wrapper.
const CHAT_MAX_BYTES: usize = 900;

/// Runs `f` on the call's engine.
async fn in_call<T>(
    state: &AppState,
    f: impl AsyncFnOnce(&Engine) -> std::result::Result<T, roomcast_engine::EngineError>,
) -> Result<T> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(f(&call.engine).await?)
}

fn user(id: String) -> Result<UserId> {
    UserId::new(id).map_err(|e| AppError::input(e.to_string()))
}

fn maybe_user(id: Option<String>) -> Result<Option<UserId>> {
    id.filter(|s| !s.is_empty()).map(user).transpose()
}

#[tauri::command]
pub async fn send_chat(state: State<'_, AppState>, text: String) -> Result<()> {
    let text = text.trim().to_string();
    if text.is_empty() {
        return Ok(());
    }
    if text.len() > CHAT_MAX_BYTES {
        return Err(AppError::input(format!(
            "The message is too long ({} bytes; at most {CHAT_MAX_BYTES}).",
            text.len()
        )));
    }
    in_call(&state, async |e| e.send_chat(&text).await).await
}

#[tauri::command]
pub async fn send_reaction(state: State<'_, AppState>, emoji: String) -> Result<()> {
    if emoji.is_empty() || emoji.len() > 32 {
        return Err(AppError::input("Pick one emoji."));
    }
    in_call(&state, async |e| e.send_reaction(&emoji).await).await
}

#[tauri::command]
pub async fn raise_hand(state: State<'_, AppState>, up: bool) -> Result<()> {
    in_call(&state, async |e| e.raise_hand(up).await).await
}

#[tauri::command]
pub async fn mute_user(
    state: State<'_, AppState>,
    user_id: Option<String>,
    kind: MediaKind,
    lock: bool,
) -> Result<()> {
    let target = maybe_user(user_id)?;
    in_call(&state, async |e| e.mute_remote(target, kind, lock).await).await
}

#[tauri::command]
pub async fn unlock_user(
    state: State<'_, AppState>,
    user_id: Option<String>,
    kind: MediaKind,
) -> Result<()> {
    let target = maybe_user(user_id)?;
    in_call(&state, async |e| e.unlock_remote(target, kind).await).await
}

#[tauri::command]
pub async fn remove_user(state: State<'_, AppState>, user_id: String) -> Result<()> {
    let target = user(user_id)?;
    in_call(&state, async |e| e.remove_user(target).await).await
}

#[tauri::command]
pub async fn set_room_options(state: State<'_, AppState>, options: RoomOptions) -> Result<()> {
    in_call(&state, async |e| e.set_room_options(options).await).await
}

#[tauri::command]
pub async fn end_meeting(state: State<'_, AppState>) -> Result<()> {
    in_call(&state, async |e| e.end_meeting().await).await
}

#[tauri::command]
pub async fn admit(state: State<'_, AppState>, user_id: String, accept: bool) -> Result<()> {
    let target = user(user_id)?;
    in_call(&state, async |e| e.admit(target, accept).await).await
}
