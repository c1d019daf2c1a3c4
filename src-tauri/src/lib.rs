//! The Roomcast desktop app's bridge: Tauri commands that validate and call the engine, the
//! in-app room server ("Host on this computer"), engine events forwarded to the UI, decoded
//! video on binary channels, and the local store. Business logic lives in the engine and the
//! server crates; this crate only connects them to the window.

mod audio;
mod call;
mod check;
mod devices;
mod error;
mod events;
mod handoff;
mod host;
mod meeting;
mod settings;
mod share;
mod stage;
mod store;
mod video;
mod video_effects;
mod view;

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use roomcast_devices::{DeviceWatcher, Playout};
use roomcast_engine::audio::CaptureChain;
use roomcast_engine::video::VideoChain;

use tauri::Manager;
use tokio::sync::Mutex;

use call::Call;
pub use error::AppError;
use host::Hosted;
use store::LocalStore;
use video::Views;

type Result<T> = std::result::Result<T, AppError>;

pub struct AppState {
    store: LocalStore,
    notice: Option<String>,
    data_dir: PathBuf,
    hosted: Mutex<Option<Hosted>>,
    call: Mutex<Option<Call>>,
    views: Arc<Views>,
    fallbacks: Arc<devices::Fallbacks>,
    _watcher: Option<DeviceWatcher>,
    /// The pre-join device check (camera preview, microphone level) outside a room.
    check: StdMutex<DeviceCheck>,
    /// Set while `join_room` is entering: `leave_room` cancels through it.
    joining: StdMutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// An invite link the app was opened with, until the window asks for it.
    pending_invite: StdMutex<Option<String>>,
}

fn lock_std<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct DeviceCheck {
    camera: Option<check::Check>,
    microphone: Option<check::Check>,
    /// The effects the microphone check runs through (the same chain a call uses).
    chain: Option<Arc<StdMutex<CaptureChain>>>,
    /// The speaker playing the ear monitor ("hear yourself") before joining.
    ear: Option<Playout>,
    /// The video effects the camera preview runs through before joining.
    video_chain: Arc<StdMutex<VideoChain>>,
}

fn lock_check(state: &AppState) -> std::sync::MutexGuard<'_, DeviceCheck> {
    state.check.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the app. `ROOMCAST_DATA_DIR` overrides where its data lives (tests use it).
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,roomcast=info".into()),
        )
        .try_init();
    // A second start with an invite link hands it to the running app and ends.
    if let Some(link) = handoff::link_in_args(std::env::args())
        && handoff::send_to_running(&link)
    {
        return;
    }
    tauri::Builder::default()
        .plugin(tauri_plugin_deep_link::init())
        .setup(|app| {
            let data_dir = match std::env::var_os("ROOMCAST_DATA_DIR") {
                Some(d) => PathBuf::from(d),
                None => app.path().app_data_dir()?,
            };
            let (store, notice) =
                tauri::async_runtime::block_on(LocalStore::open(&data_dir.join("app.db")))
                    .map_err(Box::new)?;
            let saved_video =
                tauri::async_runtime::block_on(store.video_effects()).unwrap_or_default();
            app.manage(AppState {
                store,
                notice,
                data_dir,
                hosted: Mutex::new(None),
                call: Mutex::new(None),
                views: Arc::new(Views::default()),
                fallbacks: Arc::default(),
                _watcher: devices::watch(app.handle().clone()),
                check: StdMutex::new(DeviceCheck {
                    camera: None,
                    microphone: None,
                    chain: None,
                    ear: None,
                    video_chain: video_effects::check_chain(saved_video),
                }),
                joining: StdMutex::new(None),
                pending_invite: StdMutex::new(handoff::link_in_args(std::env::args())),
            });
            handoff::listen(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            host::host_meeting,
            host::stop_hosting,
            call::join_room,
            call::leave_room,
            call::set_microphone,
            call::set_camera,
            call::switch_role,
            share::list_screen_sources,
            share::start_screen_share,
            share::stop_screen_share,
            call::set_user_volume,
            view::test_speaker,
            view::set_view,
            view::stop_view,
            view::set_remote_video_stream_type,
            view::list_devices,
            settings::get_settings,
            settings::save_settings,
            settings::recent_rooms,
            settings::call_history,
            settings::store_notice,
            stage::invite_to_speak,
            stage::request_to_speak,
            stage::answer_invite,
            stage::answer_request,
            host::create_invite,
            host::pending_invite,
            video_effects::get_video_effects,
            video_effects::set_video_effects,
            video_effects::list_video_filters,
            video_effects::import_video_file,
            meeting::send_chat,
            meeting::send_reaction,
            meeting::raise_hand,
            meeting::mute_user,
            meeting::unlock_user,
            meeting::remove_user,
            meeting::set_room_options,
            meeting::end_meeting,
            meeting::admit,
            audio::get_audio_effects,
            audio::set_audio_effects,
            audio::load_music,
            audio::music_control,
            audio::seek_music,
            audio::set_music_volume,
            audio::play_sound_effect,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .unwrap_or_else(|e| {
            eprintln!("Roomcast could not start: {e}");
            std::process::exit(1);
        });
}
