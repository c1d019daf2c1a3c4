//! The app's local database (SQLite through sqlx, with migrations): settings, recent rooms
//! and call history. A damaged or unreadable database is moved aside and recreated, with a
//! notice for the user; it never stops the app from starting.

use std::path::{Path, PathBuf};

use roomcast_engine::audio::AudioEffects;
use roomcast_engine::video::VideoEffects;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, migrate::Migrator};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
#[error("local database {path}: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub display_name: String,
    pub server: String,
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
    pub resolution: String,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub mirror: bool,
    pub audio_profile: String,
    /// The UI's language; `System` follows the system locale.
    pub language: Language,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    System,
    En,
    Ko,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            display_name: String::new(),
            server: String::new(),
            camera: None,
            microphone: None,
            speaker: None,
            resolution: "720p".into(),
            fps: 30,
            bitrate_kbps: 1500,
            mirror: true,
            audio_profile: "default".into(),
            language: Language::System,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentRoom {
    pub server: String,
    pub room: String,
    pub scene: String,
    pub last_joined_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub server: String,
    pub room: String,
    pub started_ms: i64,
    pub duration_s: f64,
    pub participants: Vec<String>,
}

#[derive(Clone)]
pub struct LocalStore {
    pool: SqlitePool,
    path: String,
}

impl LocalStore {
    /// Opens (creating) the database at `path`. If it cannot be opened or migrated, it is
    /// renamed to `*.damaged-<time>` and a fresh one is made; the notice says so.
    pub async fn open(path: &Path) -> Result<(Self, Option<String>), StoreError> {
        match Self::try_open(path).await {
            Ok(s) => Ok((s, None)),
            Err(first) => {
                let aside = PathBuf::from(format!("{}.damaged-{}", path.display(), now_ms()));
                let _ = std::fs::rename(path, &aside);
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                let store = Self::try_open(path).await?;
                let notice = format!(
                    "Your settings and call history could not be read ({}) and were reset. The old file was kept as {}.",
                    first.message,
                    aside.display()
                );
                Ok((store, Some(notice)))
            }
        }
    }

    async fn try_open(path: &Path) -> Result<Self, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| err(&e))?;
        MIGRATOR.run(&pool).await.map_err(|e| err(&e))?;
        Ok(Self {
            pool,
            path: path.display().to_string(),
        })
    }

    fn err(&self, e: sqlx::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    pub async fn settings(&self) -> Result<Settings, StoreError> {
        self.json_row("settings").await
    }

    pub async fn save_settings(&self, s: &Settings) -> Result<(), StoreError> {
        self.save_json_row("settings", s).await
    }

    /// The microphone's effects (saved apart from [`Settings`], which the settings dialog
    /// writes whole: a dialog that does not know them cannot reset them).
    pub async fn audio_effects(&self) -> Result<AudioEffects, StoreError> {
        self.json_row("audio_effects").await
    }

    pub async fn video_effects(&self) -> Result<VideoEffects, StoreError> {
        self.json_row("video_effects").await
    }

    pub async fn save_video_effects(&self, e: &VideoEffects) -> Result<(), StoreError> {
        self.save_json_row("video_effects", e).await
    }

    pub async fn save_audio_effects(&self, e: &AudioEffects) -> Result<(), StoreError> {
        self.save_json_row("audio_effects", e).await
    }

    /// The one JSON row of a single-row table; defaults when missing or unreadable.
    async fn json_row<T: DeserializeOwned + Default>(
        &self,
        table: &'static str,
    ) -> Result<T, StoreError> {
        let row = sqlx::query(&format!("SELECT json FROM {table} WHERE id = 1"))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(row
            .and_then(|r| r.try_get::<String, _>("json").ok())
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    async fn save_json_row(
        &self,
        table: &'static str,
        value: &impl Serialize,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(value).expect("settings always serialise");
        sqlx::query(&format!(
            "INSERT INTO {table} (id, json) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json"
        ))
        .bind(json)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn remember_room(
        &self,
        server: &str,
        room: &str,
        scene: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recent_rooms (server, room, scene, last_joined_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT(server, room) DO UPDATE SET scene = excluded.scene, last_joined_ms = excluded.last_joined_ms",
        )
        .bind(server)
        .bind(room)
        .bind(scene)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn recent_rooms(&self) -> Result<Vec<RecentRoom>, StoreError> {
        let rows = sqlx::query("SELECT server, room, scene, last_joined_ms FROM recent_rooms ORDER BY last_joined_ms DESC LIMIT 20")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| RecentRoom {
                server: r.get("server"),
                room: r.get("room"),
                scene: r.get("scene"),
                last_joined_ms: r.get("last_joined_ms"),
            })
            .collect())
    }

    pub async fn record_call(&self, c: &CallRecord) -> Result<(), StoreError> {
        let who = serde_json::to_string(&c.participants).expect("strings always serialise");
        sqlx::query("INSERT INTO call_history (server, room, started_ms, duration_s, participants) VALUES (?, ?, ?, ?, ?)")
            .bind(&c.server)
            .bind(&c.room)
            .bind(c.started_ms)
            .bind(c.duration_s)
            .bind(who)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn call_history(&self) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT server, room, started_ms, duration_s, participants FROM call_history ORDER BY started_ms DESC LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| CallRecord {
                server: r.get("server"),
                room: r.get("room"),
                started_ms: r.get("started_ms"),
                duration_s: r.get("duration_s"),
                participants: serde_json::from_str(r.get::<&str, _>("participants"))
                    .unwrap_or_default(),
            })
            .collect())
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("roomcast-app-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("app.db")
    }

    #[tokio::test]
    async fn settings_rooms_and_history_persist() {
        let path = temp("persist");
        let (store, notice) = LocalStore::open(&path).await.expect("opens");
        assert!(notice.is_none());
        assert_eq!(
            store.settings().await.expect("settings"),
            Settings::default()
        );
        let s = Settings {
            display_name: "Ada".into(),
            fps: 15,
            language: Language::Ko,
            ..Settings::default()
        };
        store.save_settings(&s).await.expect("save");
        store
            .remember_room("http://h:7880", "1234", "videocall")
            .await
            .expect("room");
        store
            .remember_room("http://h:7880", "1234", "videocall")
            .await
            .expect("same room again");
        let call = CallRecord {
            server: "http://h:7880".into(),
            room: "1234".into(),
            started_ms: 1,
            duration_s: 62.5,
            participants: vec!["bob".into()],
        };
        store.record_call(&call).await.expect("history");
        drop(store);
        let (store, _) = LocalStore::open(&path).await.expect("reopens");
        assert_eq!(store.settings().await.expect("settings"), s);
        assert_eq!(store.recent_rooms().await.expect("rooms").len(), 1);
        assert_eq!(
            store.audio_effects().await.expect("effects"),
            AudioEffects::default()
        );
        let effects = AudioEffects {
            voice_changer: roomcast_engine::audio::VoiceChanger::Uncle,
            ear_monitor: true,
            ..AudioEffects::default()
        };
        store.save_audio_effects(&effects).await.expect("save");
        store.save_settings(&s).await.expect("settings again");
        assert_eq!(store.audio_effects().await.expect("effects"), effects);
        assert_eq!(store.call_history().await.expect("history"), vec![call]);
        let video = VideoEffects {
            smoothness: 7,
            filter: Some("warm".into()),
            ..VideoEffects::default()
        };
        store.save_video_effects(&video).await.expect("save video");
        drop(store);
        let (store, _) = LocalStore::open(&path).await.expect("reopens");
        assert_eq!(store.video_effects().await.expect("video effects"), video);
    }

    #[tokio::test]
    async fn a_corrupt_database_is_recreated_with_a_notice() {
        let path = temp("corrupt");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, b"this is not a database, it is a shopping list").expect("write");
        let (store, notice) = LocalStore::open(&path).await.expect("recovers");
        let notice = notice.expect("a notice");
        assert!(notice.contains("reset"), "{notice}");
        assert_eq!(
            store.settings().await.expect("fresh settings"),
            Settings::default()
        );
    }
}
