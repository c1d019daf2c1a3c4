//! The one error type Tauri commands return. It serialises as `{kind, message, code?}` with
//! a stable `kind` the UI can branch on (never the message text).

use serde::Serialize;

#[derive(Debug, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// The room server refused (bad UserSig, room full, role not allowed…).
    #[error("{message}")]
    Server { code: u32, message: String },
    #[error("{message}")]
    NotInRoom { message: String },
    #[error("{message}")]
    Device { message: String },
    #[error("{message}")]
    Store { message: String },
    #[error("{message}")]
    Input { message: String },
    #[error("{message}")]
    Internal { message: String },
}

impl AppError {
    pub fn input(message: impl Into<String>) -> Self {
        AppError::Input {
            message: message.into(),
        }
    }

    pub fn not_in_room() -> Self {
        AppError::NotInRoom {
            message: "You are not in a room.".into(),
        }
    }
}

impl From<roomcast_engine::EngineError> for AppError {
    fn from(e: roomcast_engine::EngineError) -> Self {
        match e {
            roomcast_engine::EngineError::Server { code, message } => AppError::Server {
                code: code.code(),
                message,
            },
            roomcast_engine::EngineError::NotInRoom => AppError::not_in_room(),
            other => AppError::Internal {
                message: other.to_string(),
            },
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        AppError::Store {
            message: e.to_string(),
        }
    }
}
