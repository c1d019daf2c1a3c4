//! Invitations and requests to speak (live scenes). Going on stage publishes the microphone
//! and camera, as entering as an anchor does.

use roomcast_proto::{Role, UserId};
use tauri::{AppHandle, Manager, State};

use crate::call::{start_camera, start_microphone};
use crate::{AppError, AppState, Result};

pub(crate) fn publish_on_stage(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Err(e) = go_on_stage(&app, &state).await {
            crate::events::RoomEvent::error(e.to_string()).emit(&app);
        }
    });
}

pub async fn go_on_stage(app: &AppHandle, state: &AppState) -> Result<()> {
    let mut guard = state.call.lock().await;
    let Some(call) = guard.as_mut() else {
        return Ok(());
    };
    if call.engine.role() != Role::Anchor {
        return Ok(());
    }
    let settings = state.store.settings().await.unwrap_or_default();
    if !call.mic_on {
        start_microphone(app, state, call, &settings).await?;
    }
    if !call.camera_on {
        start_camera(app, state, call, &settings).await?;
    }
    Ok(())
}

pub(crate) fn speaker_id(user_id: String) -> Result<UserId> {
    UserId::new(user_id).map_err(|e| AppError::input(e.to_string()))
}

#[tauri::command]
pub async fn invite_to_speak(state: State<'_, AppState>, user_id: String) -> Result<()> {
    let user = speaker_id(user_id)?;
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.invite_to_speak(user).await?)
}

#[tauri::command]
pub async fn request_to_speak(state: State<'_, AppState>) -> Result<()> {
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.request_to_speak().await?)
}

#[tauri::command]
pub async fn answer_invite(app: AppHandle, state: State<'_, AppState>, accept: bool) -> Result<()> {
    {
        let mut guard = state.call.lock().await;
        let call = guard.as_mut().ok_or_else(AppError::not_in_room)?;
        call.engine.answer_invite(accept).await?;
    }
    if accept {
        go_on_stage(&app, &state).await?;
    }
    Ok(())
}

#[tauri::command]
pub async fn answer_request(
    state: State<'_, AppState>,
    user_id: String,
    accept: bool,
) -> Result<()> {
    let user = speaker_id(user_id)?;
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    Ok(call.engine.answer_request(user, accept).await?)
}
