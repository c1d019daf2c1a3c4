//! The server's SQLite store: apps (SDKAppID + secret key), the usage ledger and room
//! history. Every query is scoped to one app, so tenants' data never mixes.
//!
//! Role and scene are stored as their wire (serde) names: "anchor", "videocall".

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use roomcast_proto::{Role, Scene, SdkAppId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// The first and last SDKAppID handed out to new apps.
pub const APP_ID_RANGE: std::ops::RangeInclusive<u32> = 1_400_000_000..=1_499_999_999;

/// The name of the app created for local development.
pub const DEV_APP_NAME: &str = "development";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the directory {dir} for the database: {source}; check its permissions")]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open the database {db}: {source}; check that it is a Roomcast SQLite database, or move it away to start afresh"
    )]
    Open { db: String, source: sqlx::Error },
    #[error(
        "cannot bring the database {db} up to date: {source}; it may come from a newer Roomcast or be damaged"
    )]
    Migrate {
        db: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database {db}: {source}")]
    Query { db: String, source: sqlx::Error },
    #[error("database {db} holds a value this server cannot read: {what}")]
    Invalid { db: String, what: String },
    #[error(
        "database {db}: found no unused SDKAppID after {tries} tries; the id range is nearly full"
    )]
    NoFreeAppId { db: String, tries: u32 },
    #[error("database {db}: an app named {name:?} already exists; choose another name")]
    NameTaken { db: String, name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub id: SdkAppId,
    pub name: String,
    pub secret_key: String,
    pub created_at_ms: i64,
}

/// One member's stay in a room.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub app: SdkAppId,
    /// The RoomId's display form.
    pub room: String,
    pub user: String,
    pub role: Role,
    pub joined_at_ms: i64,
    pub left_at_ms: i64,
    pub seconds_connected: f64,
    pub seconds_lost: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomHistory {
    pub app: SdkAppId,
    pub room: String,
    pub scene: Scene,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub peak_users: i64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Where the database lives, for error messages.
    db: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct AppRow {
    id: i64,
    name: String,
    secret_key: String,
    created_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    app_id: i64,
    room: String,
    user_id: String,
    role: String,
    joined_at_ms: i64,
    left_at_ms: i64,
    seconds_connected: f64,
    seconds_lost: f64,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    app_id: i64,
    room: String,
    scene: String,
    opened_at_ms: i64,
    closed_at_ms: Option<i64>,
    peak_users: i64,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StoreError::CreateDir {
                    dir: dir.to_path_buf(),
                    source,
                })?;
        }
        let db: Arc<str> = path.display().to_string().into();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                db: db.to_string(),
                source,
            })?;
        Self::migrate(pool, db).await
    }

    /// A private in-memory database, for tests. One connection that never closes, so the
    /// data lives as long as the store.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let db: Arc<str> = ":memory:".into();
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StoreError::Open {
                db: db.to_string(),
                source,
            })?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                db: db.to_string(),
                source,
            })?;
        Self::migrate(pool, db).await
    }

    async fn migrate(pool: SqlitePool, db: Arc<str>) -> Result<Self, StoreError> {
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| {
                // A file that is not a database only fails when first read.
                StoreError::Migrate {
                    db: db.to_string(),
                    source,
                }
            })?;
        Ok(Self { pool, db })
    }

    fn query_err(&self) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Query {
            db: self.db.to_string(),
            source,
        }
    }

    fn invalid(&self, what: String) -> StoreError {
        StoreError::Invalid {
            db: self.db.to_string(),
            what,
        }
    }

    /// Creates an app with a random unused SDKAppID and a fresh 256-bit secret key.
    pub async fn create_app(&self, name: &str) -> Result<App, StoreError> {
        const TRIES: u32 = 32;
        for _ in 0..TRIES {
            let app = new_app(name)?;
            let inserted = sqlx::query(
                "INSERT INTO apps (id, name, secret_key, created_at_ms) VALUES (?, ?, ?, ?)",
            )
            .bind(i64::from(app.id.get()))
            .bind(&app.name)
            .bind(&app.secret_key)
            .bind(app.created_at_ms)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(app),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    if is_id_clash(&*e) {
                        continue;
                    }
                    return Err(StoreError::NameTaken {
                        db: self.db.to_string(),
                        name: name.to_owned(),
                    });
                }
                Err(e) => return Err(self.query_err()(e)),
            }
        }
        Err(StoreError::NoFreeAppId {
            db: self.db.to_string(),
            tries: TRIES,
        })
    }

    pub async fn app(&self, id: SdkAppId) -> Result<Option<App>, StoreError> {
        let row: Option<AppRow> =
            sqlx::query_as("SELECT id, name, secret_key, created_at_ms FROM apps WHERE id = ?")
                .bind(i64::from(id.get()))
                .fetch_optional(&self.pool)
                .await
                .map_err(self.query_err())?;
        row.map(|r| self.app_from_row(r)).transpose()
    }

    /// Every app, oldest first.
    pub async fn apps(&self) -> Result<Vec<App>, StoreError> {
        let rows: Vec<AppRow> = sqlx::query_as(
            "SELECT id, name, secret_key, created_at_ms FROM apps ORDER BY created_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_err())?;
        rows.into_iter().map(|r| self.app_from_row(r)).collect()
    }

    /// The app named "development", created on the first call: returns (app, created_now).
    pub async fn dev_app(&self) -> Result<(App, bool), StoreError> {
        if let Some(app) = self.find_dev_app().await? {
            return Ok((app, false));
        }
        match self.create_app(DEV_APP_NAME).await {
            Ok(app) => Ok((app, true)),
            // Another caller created it between our look-up and insert.
            Err(StoreError::NameTaken { .. }) => match self.find_dev_app().await? {
                Some(app) => Ok((app, false)),
                None => {
                    Err(self.invalid("the development app vanished while being created".into()))
                }
            },
            Err(e) => Err(e),
        }
    }

    async fn find_dev_app(&self) -> Result<Option<App>, StoreError> {
        let row: Option<AppRow> = sqlx::query_as(
            "SELECT id, name, secret_key, created_at_ms FROM apps WHERE name = ? ORDER BY id LIMIT 1",
        )
        .bind(DEV_APP_NAME)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.query_err())?;
        row.map(|r| self.app_from_row(r)).transpose()
    }

    pub async fn record_usage(&self, u: &Usage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO usage (app_id, room, user_id, role, joined_at_ms, left_at_ms, \
             seconds_connected, seconds_lost) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i64::from(u.app.get()))
        .bind(&u.room)
        .bind(&u.user)
        .bind(role_name(u.role))
        .bind(u.joined_at_ms)
        .bind(u.left_at_ms)
        .bind(u.seconds_connected)
        .bind(u.seconds_lost)
        .execute(&self.pool)
        .await
        .map_err(self.query_err())?;
        Ok(())
    }

    /// The app's usage records, in the order the stays began.
    pub async fn usage(&self, app: SdkAppId) -> Result<Vec<Usage>, StoreError> {
        let rows: Vec<UsageRow> = sqlx::query_as(
            "SELECT app_id, room, user_id, role, joined_at_ms, left_at_ms, seconds_connected, \
             seconds_lost FROM usage WHERE app_id = ? ORDER BY joined_at_ms, id",
        )
        .bind(i64::from(app.get()))
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_err())?;
        rows.into_iter()
            .map(|r| {
                Ok(Usage {
                    app: self.app_id(r.app_id)?,
                    role: parse_role(&r.role)
                        .ok_or_else(|| self.invalid(format!("role {:?}", r.role)))?,
                    room: r.room,
                    user: r.user_id,
                    joined_at_ms: r.joined_at_ms,
                    left_at_ms: r.left_at_ms,
                    seconds_connected: r.seconds_connected,
                    seconds_lost: r.seconds_lost,
                })
            })
            .collect()
    }

    /// Records that a room opened; returns the history row id for [`Store::room_closed`].
    pub async fn room_opened(
        &self,
        app: SdkAppId,
        room: &str,
        scene: Scene,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO room_history (app_id, room, scene, opened_at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(i64::from(app.get()))
        .bind(room)
        .bind(scene_name(scene))
        .bind(at_ms)
        .execute(&self.pool)
        .await
        .map_err(self.query_err())?;
        Ok(done.last_insert_rowid())
    }

    pub async fn room_closed(
        &self,
        id: i64,
        at_ms: i64,
        peak_users: i64,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE room_history SET closed_at_ms = ?, peak_users = ? WHERE id = ?")
                .bind(at_ms)
                .bind(peak_users)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(self.query_err())?;
        if done.rows_affected() == 0 {
            return Err(self.invalid(format!("no room history row {id} to close")));
        }
        Ok(())
    }

    /// The app's rooms, in the order they opened.
    pub async fn room_history(&self, app: SdkAppId) -> Result<Vec<RoomHistory>, StoreError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT app_id, room, scene, opened_at_ms, closed_at_ms, peak_users FROM room_history \
             WHERE app_id = ? ORDER BY opened_at_ms, id",
        )
        .bind(i64::from(app.get()))
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_err())?;
        rows.into_iter()
            .map(|r| {
                Ok(RoomHistory {
                    app: self.app_id(r.app_id)?,
                    scene: parse_scene(&r.scene)
                        .ok_or_else(|| self.invalid(format!("scene {:?}", r.scene)))?,
                    room: r.room,
                    opened_at_ms: r.opened_at_ms,
                    closed_at_ms: r.closed_at_ms,
                    peak_users: r.peak_users,
                })
            })
            .collect()
    }

    fn app_id(&self, raw: i64) -> Result<SdkAppId, StoreError> {
        u32::try_from(raw)
            .ok()
            .and_then(|v| SdkAppId::new(v).ok())
            .ok_or_else(|| self.invalid(format!("SDKAppID {raw}")))
    }

    fn app_from_row(&self, r: AppRow) -> Result<App, StoreError> {
        Ok(App {
            id: self.app_id(r.id)?,
            name: r.name,
            secret_key: r.secret_key,
            created_at_ms: r.created_at_ms,
        })
    }
}

/// A new app with a random id and key; thread-local CSPRNG, kept out of any `.await`.
fn new_app(name: &str) -> Result<App, StoreError> {
    let mut rng = rand::rng();
    let raw = rng.random_range(APP_ID_RANGE);
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    let secret_key = key.iter().map(|b| format!("{b:02x}")).collect();
    let id = SdkAppId::new(raw).map_err(|_| StoreError::Invalid {
        db: String::new(),
        what: format!("generated SDKAppID {raw}"),
    })?;
    Ok(App {
        id,
        name: name.to_owned(),
        secret_key,
        created_at_ms: now_ms(),
    })
}

/// Whether a unique violation is on the id (retry with another) rather than on the name.
fn is_id_clash(e: &dyn sqlx::error::DatabaseError) -> bool {
    !e.message().contains("apps.name")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Anchor => "anchor",
        Role::Audience => "audience",
    }
}

fn parse_role(s: &str) -> Option<Role> {
    [Role::Anchor, Role::Audience]
        .into_iter()
        .find(|r| role_name(*r) == s)
}

fn scene_name(scene: Scene) -> &'static str {
    match scene {
        Scene::VideoCall => "videocall",
        Scene::AudioCall => "audiocall",
        Scene::Live => "live",
        Scene::VoiceChatRoom => "voicechatroom",
    }
}

fn parse_scene(s: &str) -> Option<Scene> {
    [
        Scene::VideoCall,
        Scene::AudioCall,
        Scene::Live,
        Scene::VoiceChatRoom,
    ]
    .into_iter()
    .find(|sc| scene_name(*sc) == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh path under the system temp dir; the caller removes the directory.
    fn temp_db(tag: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        std::env::temp_dir()
            .join(format!(
                "roomcast-store-{tag}-{}-{nanos}-{n}",
                std::process::id()
            ))
            .join("nested")
            .join("roomcast.db")
    }

    fn cleanup(db: &Path) {
        if let Some(dir) = db.parent().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn usage(app: SdkAppId, user: &str, joined: i64) -> Usage {
        Usage {
            app,
            room: "1234".into(),
            user: user.into(),
            role: Role::Audience,
            joined_at_ms: joined,
            left_at_ms: joined + 100_500,
            seconds_connected: 100.5,
            seconds_lost: 12.25,
        }
    }

    #[tokio::test]
    async fn file_db_migrates_and_reopens_with_its_data() {
        let path = temp_db("reopen");
        let store = Store::open(&path).await.expect("fresh db opens");
        assert!(path.exists());
        let (dev, created) = store.dev_app().await.expect("dev app");
        assert!(created);
        let other = store.create_app("acme").await.expect("create");
        store
            .record_usage(&usage(other.id, "alice", 1_000))
            .await
            .expect("usage");
        let hist = store
            .room_opened(dev.id, "standup", Scene::Live, 5)
            .await
            .expect("opened");
        drop(store);

        let store = Store::open(&path).await.expect("reopens");
        let (again, created) = store.dev_app().await.expect("dev app");
        assert!(!created, "the development app is created once");
        assert_eq!(again, dev);
        assert_eq!(store.apps().await.expect("apps").len(), 2);
        assert_eq!(store.app(other.id).await.expect("app"), Some(other.clone()));
        assert_eq!(
            store.usage(other.id).await.expect("usage"),
            vec![usage(other.id, "alice", 1_000)]
        );
        store.room_closed(hist, 9, 3).await.expect("closed");
        assert_eq!(
            store.room_history(dev.id).await.expect("history")[0].closed_at_ms,
            Some(9)
        );
        drop(store);
        cleanup(&path);
    }

    #[tokio::test]
    async fn dev_app_created_once() {
        let store = Store::open_in_memory().await.expect("memory db");
        let (a, created_a) = store.dev_app().await.expect("first");
        let (b, created_b) = store.dev_app().await.expect("second");
        assert!(created_a && !created_b);
        assert_eq!(a, b);
        assert_eq!(a.name, DEV_APP_NAME);
        assert_eq!(store.apps().await.expect("apps"), vec![a]);
    }

    #[tokio::test]
    async fn concurrent_first_starts_share_one_dev_app() {
        let path = temp_db("race");
        let store = Store::open(&path).await.expect("fresh db opens");
        let (a, b) = tokio::join!(store.dev_app(), store.dev_app());
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert_eq!(a.0, b.0);
        assert_eq!(
            u8::from(a.1) + u8::from(b.1),
            1,
            "exactly one call created it"
        );
        assert_eq!(store.apps().await.expect("apps").len(), 1);
        let err = store.create_app(DEV_APP_NAME).await.unwrap_err();
        assert!(matches!(err, StoreError::NameTaken { .. }), "{err}");
        // Other names may repeat.
        store.create_app("team").await.expect("first team");
        store.create_app("team").await.expect("second team");
        drop(store);
        cleanup(&path);
    }

    #[tokio::test]
    async fn created_apps_have_unique_ids_and_hex_keys() {
        let store = Store::open_in_memory().await.expect("memory db");
        let mut ids = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for i in 0..50 {
            let app = store.create_app(&format!("app{i}")).await.expect("create");
            assert!(APP_ID_RANGE.contains(&app.id.get()));
            assert_eq!(app.secret_key.len(), 64);
            assert!(
                app.secret_key
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(ids.insert(app.id));
            assert!(keys.insert(app.secret_key.clone()));
            assert!(app.created_at_ms > 1_600_000_000_000);
        }
        assert_eq!(store.apps().await.expect("apps").len(), 50);
        let unknown = SdkAppId::new(1).expect("valid id");
        assert_eq!(store.app(unknown).await.expect("lookup"), None);
    }

    #[tokio::test]
    async fn usage_and_history_round_trip_per_app() {
        let store = Store::open_in_memory().await.expect("memory db");
        let a = store.create_app("a").await.expect("a").id;
        let b = store.create_app("b").await.expect("b").id;

        let mut anchor = usage(a, "bob", 2_000);
        anchor.role = Role::Anchor;
        anchor.room = "team.standup".into();
        store.record_usage(&anchor).await.expect("record");
        store
            .record_usage(&usage(a, "alice", 1_000))
            .await
            .expect("record");
        store
            .record_usage(&usage(b, "carol", 500))
            .await
            .expect("record");
        assert_eq!(
            store.usage(a).await.expect("usage"),
            vec![usage(a, "alice", 1_000), anchor]
        );
        assert_eq!(
            store.usage(b).await.expect("usage"),
            vec![usage(b, "carol", 500)]
        );

        let scenes = [
            Scene::VideoCall,
            Scene::AudioCall,
            Scene::Live,
            Scene::VoiceChatRoom,
        ];
        let mut ids = Vec::new();
        for (i, scene) in scenes.into_iter().enumerate() {
            let at = i64::try_from(i).expect("small") * 10;
            ids.push(
                store
                    .room_opened(a, &format!("r{i}"), scene, at)
                    .await
                    .expect("opened"),
            );
        }
        store
            .room_opened(b, "other", Scene::Live, 0)
            .await
            .expect("opened");
        store.room_closed(ids[1], 99, 7).await.expect("closed");
        let hist = store.room_history(a).await.expect("history");
        assert_eq!(hist.len(), 4);
        assert_eq!(hist.iter().map(|h| h.scene).collect::<Vec<_>>(), scenes);
        assert_eq!(
            hist[1],
            RoomHistory {
                app: a,
                room: "r1".into(),
                scene: Scene::AudioCall,
                opened_at_ms: 10,
                closed_at_ms: Some(99),
                peak_users: 7
            }
        );
        assert_eq!(hist[0].closed_at_ms, None);
        assert_eq!(store.room_history(b).await.expect("history").len(), 1);
        assert!(matches!(
            store.room_closed(12345, 1, 1).await,
            Err(StoreError::Invalid { .. })
        ));
    }

    #[tokio::test]
    async fn usage_for_unknown_app_is_refused() {
        let store = Store::open_in_memory().await.expect("memory db");
        let ghost = SdkAppId::new(1_400_000_123).expect("valid id");
        let err = store.record_usage(&usage(ghost, "x", 0)).await.unwrap_err();
        assert!(matches!(err, StoreError::Query { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_gives_a_clear_error() {
        let path = temp_db("garbage");
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(
            &path,
            b"this is not an SQLite database, just some text that is long enough ".repeat(100),
        )
        .expect("write");
        let err = Store::open(&path).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            matches!(err, StoreError::Open { .. } | StoreError::Migrate { .. }),
            "{msg}"
        );
        eprintln!("{msg}");
        cleanup(&path);
    }

    #[test]
    fn text_names_match_the_wire_names() {
        for role in [Role::Anchor, Role::Audience] {
            let json = serde_json::to_value(role).expect("serialises");
            assert_eq!(json.as_str(), Some(role_name(role)));
            assert_eq!(parse_role(role_name(role)), Some(role));
        }
        for scene in [
            Scene::VideoCall,
            Scene::AudioCall,
            Scene::Live,
            Scene::VoiceChatRoom,
        ] {
            let json = serde_json::to_value(scene).expect("serialises");
            assert_eq!(json.as_str(), Some(scene_name(scene)));
            assert_eq!(parse_scene(scene_name(scene)), Some(scene));
        }
        assert_eq!(parse_role("king"), None);
    }
}
