//! Screen sharing: the sources, starting and stopping the sub stream.

use roomcast_proto::{Role, Stream};
use tauri::{AppHandle, Manager, State};

use crate::{AppError, AppState, Result, devices};

/// After the engine went on stage by itself (an allowed request), publish as an anchor does.
/// Runs off the event loop: it waits for the call lock like any command.
/// The shared screen or window ended by itself (window closed, "Stop sharing" in the
/// system's indicator): stop publishing it so the others' large view goes away.
pub(crate) fn release_ended_share(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let mut guard = state.call.lock().await;
        if let Some(call) = guard.as_mut().filter(|c| c.sharing) {
            call.engine.stop_local_video(Stream::Sub).await;
            call.sharing = false;
        }
    });
}

#[tauri::command]
pub async fn list_screen_sources() -> Result<Vec<devices::ScreenSource>> {
    let sources = devices::unblock(roomcast_devices::list_screen_sources).await??;
    Ok(sources.into_iter().map(Into::into).collect())
}

/// Publishes a screen or window on the sub stream (sharp text: more bits, fewer frames).
#[tauri::command]
pub async fn start_screen_share(state: State<'_, AppState>, source_id: String) -> Result<()> {
    let anchor_only = || AppError::input("Only anchors can share their screen; go on stage first.");
    let started_ms = {
        let guard = state.call.lock().await;
        let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
        if call.engine.role() != Role::Anchor {
            return Err(anchor_only());
        }
        call.started_ms
    };
    // Not under the call's lock: on Wayland this waits while the user picks in the system's
    // dialog, and mute, leave and the rest must keep working meanwhile.
    let (fps, (w, h)) = (devices::SCREEN_FPS, devices::SCREEN_MAX);
    let source =
        devices::unblock(move || roomcast_devices::open_screen(&source_id, fps, w, h)).await??;
    let mut guard = state.call.lock().await;
    // The call may have ended (or another begun) while the picker was open.
    let call = guard
        .as_mut()
        .filter(|c| c.started_ms == started_ms)
        .ok_or_else(AppError::not_in_room)?;
    if call.engine.role() != Role::Anchor {
        return Err(anchor_only());
    }
    if call.sharing {
        call.engine.stop_local_video(Stream::Sub).await;
    }
    call.engine
        .start_local_video(source, Stream::Sub, devices::SCREEN_BPS)
        .await?;
    call.sharing = true;
    Ok(())
}

#[tauri::command]
pub async fn stop_screen_share(state: State<'_, AppState>) -> Result<()> {
    let mut guard = state.call.lock().await;
    let call = guard.as_mut().ok_or_else(AppError::not_in_room)?;
    if call.sharing {
        call.engine.stop_local_video(Stream::Sub).await;
        call.sharing = false;
    }
    Ok(())
}
