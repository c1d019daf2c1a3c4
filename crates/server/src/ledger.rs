//! Writes what the media worker reports (stays in rooms, rooms opening and closing) to the
//! store, off the forwarding path: the worker never waits for SQLite.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use roomcast_proto::{Role, Scene, SdkAppId};
use tokio::sync::mpsc;

use crate::store::{Store, Usage};

/// Rooms are told apart by a number the worker gives them.
pub type RoomKey = u64;

#[derive(Debug)]
pub enum LedgerEvent {
    RoomOpened {
        key: RoomKey,
        app: SdkAppId,
        room: String,
        scene: Scene,
        at_ms: i64,
    },
    RoomClosed {
        key: RoomKey,
        at_ms: i64,
        peak_users: i64,
    },
    Stay {
        app: SdkAppId,
        room: String,
        user: String,
        role: Role,
        left_at_ms: i64,
        seconds_connected: f64,
        seconds_lost: f64,
    },
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<LedgerEvent>) {
    let mut rows: HashMap<RoomKey, i64> = HashMap::new();
    while let Some(event) = rx.recv().await {
        let result = match event {
            LedgerEvent::RoomOpened {
                key,
                app,
                room,
                scene,
                at_ms,
            } => store.room_opened(app, &room, scene, at_ms).await.map(|id| {
                rows.insert(key, id);
            }),
            LedgerEvent::RoomClosed {
                key,
                at_ms,
                peak_users,
            } => match rows.remove(&key) {
                Some(id) => store.room_closed(id, at_ms, peak_users).await,
                None => Ok(()),
            },
            LedgerEvent::Stay {
                app,
                room,
                user,
                role,
                left_at_ms,
                seconds_connected,
                seconds_lost,
            } => {
                let usage = Usage {
                    app,
                    room,
                    user,
                    role,
                    joined_at_ms: left_at_ms - (seconds_connected * 1000.0) as i64,
                    left_at_ms,
                    seconds_connected,
                    seconds_lost,
                };
                store.record_usage(&usage).await
            }
        };
        if let Err(e) = result {
            tracing::error!("usage ledger write failed: {e}");
        }
    }
}
