//! Video views on binary channels, the device list and the speaker test.

use roomcast_devices::Playout;
use roomcast_proto::{Stream, UserId, VideoStreamType};
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::{AppError, AppState, Result, devices, video};

/// The pre-join speaker test: a one-second tone on the chosen speaker, through the same
/// mixer and device path as a call's audio. Returns the speaker's name.
#[tauri::command]
pub async fn test_speaker(state: State<'_, AppState>) -> Result<String> {
    if state.call.lock().await.is_some() {
        return Err(AppError::input(
            "The speaker test runs before joining; in a call, you hear the others on it.",
        ));
    }
    let speaker = state.store.settings().await.unwrap_or_default().speaker;
    Ok(devices::unblock(move || Playout::play_test_tone(speaker.as_deref())).await??)
}

#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn set_view(
    state: State<'_, AppState>,
    user_id: String,
    stream: Stream,
    width: u32,
    height: u32,
    viewer: Option<u64>,
    seq: Option<u64>,
    channel: Channel<InvokeResponseBody>,
) -> Result<()> {
    let req = video::Request { viewer, seq };
    state
        .views
        .set(user_id, stream, (width, height), channel, req);
    Ok(())
}

#[tauri::command]
pub async fn stop_view(
    state: State<'_, AppState>,
    user_id: String,
    stream: Stream,
    viewer: Option<u64>,
    seq: Option<u64>,
) -> Result<()> {
    let req = video::Request { viewer, seq };
    state.views.remove(&user_id, stream, req);
    Ok(())
}

/// Which layer of a user's camera to receive (TRTC `setRemoteVideoStreamType`): the grid
/// asks for small, a pinned tile or a one-to-one call for big.
#[tauri::command]
pub async fn set_remote_video_stream_type(
    state: State<'_, AppState>,
    user_id: String,
    stream_type: VideoStreamType,
) -> Result<()> {
    let user = UserId::new(user_id).map_err(|e| AppError::input(e.to_string()))?;
    let guard = state.call.lock().await;
    let call = guard.as_ref().ok_or_else(AppError::not_in_room)?;
    call.engine
        .set_remote_video_stream_type(user, stream_type)
        .await?;
    Ok(())
}

#[tauri::command]
pub async fn list_devices() -> Result<devices::Devices> {
    let lists = devices::unblock(roomcast_devices::list_devices).await?;
    Ok(devices::Devices::from(&lists))
}
