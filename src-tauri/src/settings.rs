//! Settings, recent rooms, call history and the store notice.

use tauri::{AppHandle, State};

use crate::store::{CallRecord, RecentRoom, Settings};
use crate::{AppState, Result, devices};

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    Ok(state.store.settings().await?)
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<()> {
    state.store.save_settings(&settings).await?;
    // In a call, another microphone, camera or speaker takes over at once.
    if state.call.lock().await.is_some() {
        let lists = devices::unblock(roomcast_devices::list_devices).await?;
        devices::follow(&app, lists).await;
    }
    Ok(())
}

#[tauri::command]
pub async fn recent_rooms(state: State<'_, AppState>) -> Result<Vec<RecentRoom>> {
    Ok(state.store.recent_rooms().await?)
}

#[tauri::command]
pub async fn call_history(state: State<'_, AppState>) -> Result<Vec<CallRecord>> {
    Ok(state.store.call_history().await?)
}

#[tauri::command]
pub async fn store_notice(state: State<'_, AppState>) -> Result<Option<String>> {
    Ok(state.notice.clone())
}
