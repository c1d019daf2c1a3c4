//! The engine's public API, in the spirit of TRTCCloud: enter/exit a room, publish local
//! audio and video from any source, view remote users, and read events and statistics.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use roomcast_proto::{
    ErrorCode, LeaveReason, MediaKind, Request, Role, RoomId, RoomView, Scene, Stream, UserId,
};
use tokio::sync::{mpsc, oneshot};

use crate::audio::{
    AudioEffects, CaptureChain, HeadlessClock, MusicError, MusicState, Playout, PlayoutHandle,
};
use crate::capture::{self, AudioNotice, Capture, Encoded, LocalViews};
use crate::video::{SmallStream, VideoChain, VideoEffects};

mod effects;
mod meeting;
mod video;
use crate::codec::{AudioProfile, CodecError};
use crate::media::{AudioSink, AudioSource, NullSink, VideoSink, VideoSource};
use crate::session::{self, Ask, Cmd, Command, Session};
use crate::stats::{Registry, Statistics, lock};

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The server refused: the code says why (bad UserSig, room full, role not allowed…).
    #[error("error {}: {message}", code.code())]
    Server { code: ErrorCode, message: String },
    #[error("{0}")]
    Connect(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("not in a room; enter a room first")]
    NotInRoom,
    #[error("already in a room; exit it first")]
    AlreadyInRoom,
    #[error("codec: {0}")]
    Codec(String),
    #[error("cannot start a media thread: {0}")]
    Thread(String),
    /// A bad audio effect setting or a music file that cannot be played.
    #[error("{0}")]
    Audio(String),
    /// A bad video effect setting (a filter image that is not a LUT…).
    #[error("{0}")]
    Video(String),
}

impl From<crate::video::VideoError> for EngineError {
    fn from(e: crate::video::VideoError) -> Self {
        EngineError::Video(e.to_string())
    }
}

impl From<MusicError> for EngineError {
    fn from(e: MusicError) -> Self {
        EngineError::Audio(e.to_string())
    }
}

impl From<CodecError> for EngineError {
    fn from(e: CodecError) -> Self {
        EngineError::Codec(e.to_string())
    }
}

pub type AudioSinkFactory = Arc<dyn Fn(&str) -> Box<dyn AudioSink> + Send + Sync>;
pub type VideoSinkFactory = Arc<dyn Fn(&str, Stream) -> Box<dyn VideoSink> + Send + Sync>;

/// How the engine treats remote media.
#[derive(Clone)]
pub struct EngineConfig {
    /// Receive every remote user's audio as soon as it is available (TRTC's default).
    pub auto_subscribe_audio: bool,
    /// Receive every remote video without `start_remote_view` (the headless client does).
    pub auto_subscribe_video: bool,
    /// Where remote audio goes, per user (speaker, file, callback).
    pub audio_sink: AudioSinkFactory,
    /// Where remote video goes when `start_remote_view` names no sink.
    pub video_sink: VideoSinkFactory,
    /// The microphone's processing at start (3A on, as TRTC's speech default); change it
    /// at any time with [`Engine::set_audio_effects`].
    pub audio_effects: AudioEffects,
    /// Pull the playout on the engine's own 10 ms clock (no speaker: CLI, tests). An app
    /// with a speaker sets this false and lets the speaker pull [`Engine::playout`].
    pub headless_playout: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            auto_subscribe_audio: true,
            auto_subscribe_video: false,
            audio_sink: Arc::new(|_| Box::new(NullSink)),
            video_sink: Arc::new(|_, _| Box::new(NullSink)),
            audio_effects: AudioEffects::default(),
            headless_playout: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnterRoomParams {
    /// `http://host:port` of the room server.
    pub server_url: String,
    pub sdk_app_id: u32,
    pub user_id: String,
    pub user_sig: String,
    pub room_id: RoomId,
    pub role: Role,
    pub scene: Scene,
    pub hidden: bool,
    /// Instead of a UserSig (then empty): an invite grant (see `roomcast_proto::invite`).
    pub invite: Option<String>,
    /// The name others see (any Unicode); `None` = the UserID.
    pub name: Option<String>,
    /// The meeting's passcode, or the one to set when creating it as its host.
    pub passcode: Option<String>,
}

/// What happens in the room, in order.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    EnterRoom {
        elapsed_ms: f64,
    },
    ExitRoom,
    SwitchRole {
        role: Role,
    },
    RemoteUserEnter {
        user: UserId,
        /// The display name (any Unicode).
        name: String,
    },
    RemoteUserLeave {
        user: UserId,
        reason: LeaveReason,
    },
    UserAudioAvailable {
        user: UserId,
        available: bool,
    },
    UserVideoAvailable {
        user: UserId,
        stream: Stream,
        available: bool,
    },
    FirstAudioFrame {
        user: UserId,
        elapsed_ms: f64,
    },
    FirstVideoFrame {
        user: UserId,
        stream: Stream,
        width: u32,
        height: u32,
        elapsed_ms: f64,
    },
    /// A remote video's decoded size changed after its first frame (TRTC
    /// `onUserVideoSizeChanged`): another simulcast layer, or the sender changed size.
    VideoSizeChanged {
        user: UserId,
        stream: Stream,
        width: u32,
        height: u32,
    },
    /// Every 2 s while in a room: what was sent and received so far.
    Statistics(Box<Statistics>),
    /// Every 300 ms: loudness 0..=100 of the local user (None) and each remote user.
    Volumes(Vec<(Option<UserId>, u8)>),
    /// Every 2 s: each remote user's reception quality.
    /// Every 2 s; `None` is our own uplink.
    NetworkQuality(Vec<(Option<UserId>, crate::quality::Quality)>),
    /// A local video source ended by itself: the shared window closed, the user stopped the
    /// share from the system (Wayland's indicator), the camera went away. Others see its last
    /// picture until [`Engine::stop_local_video`] releases the stream.
    LocalVideoEnded {
        stream: Stream,
    },
    /// Every 200 ms while music or sound effects play: where each is.
    MusicProgress(Vec<MusicState>),
    /// A music track or sound effect played to its end (TRTC `onComplete`).
    MusicComplete {
        id: i32,
    },
    /// The connection to the room server or the media connection broke; the engine tries to
    /// get back by itself (see `Reconnecting`).
    ConnectionLost,
    /// The media connection came back by itself.
    ConnectionRecovered,
    /// Entering the room again after a lost connection, attempt number `attempt`.
    Reconnecting {
        attempt: u32,
    },
    /// Back in the room: publishing and watching what we did before.
    Reconnected,
    /// An anchor invites us (audience) to speak; answer with [`Engine::answer_invite`].
    SpeakInvited {
        by: UserId,
    },
    /// An audience member asks to speak (we are an anchor); answer with
    /// [`Engine::answer_request`].
    SpeakRequested {
        user: UserId,
    },
    /// An anchor answered our request to speak. When it is accepted the engine switches to
    /// anchor by itself; [`EngineEvent::SwitchRole`] follows.
    SpeakRequestAnswered {
        accept: bool,
        by: UserId,
    },
    /// The audience member we invited answered.
    SpeakInviteAnswered {
        user: UserId,
        accept: bool,
    },
    /// The server took us out of the room (e.g. the same user logged in elsewhere).
    Removed {
        code: ErrorCode,
        message: String,
    },
    Error {
        code: Option<ErrorCode>,
        message: String,
    },
    /// The meeting has a lobby and we wait in it for the host (`enter_room` returns once
    /// admitted).
    WaitingInLobby,
    /// The room's options or host changed; also right after entering.
    RoomChanged(RoomView),
    /// A custom command message (TRTC `onRecvCustomCmdMsg`) other than chat and reactions.
    CustomCmdMsg {
        user: UserId,
        cmd_id: u32,
        seq: u64,
        data: String,
    },
    /// A chat line from another member.
    Chat {
        user: UserId,
        text: String,
    },
    /// An emoji reaction from another member.
    Reaction {
        user: UserId,
        emoji: String,
    },
    /// A member's hand went up (`Some(order)`) or down.
    Hand {
        user: UserId,
        hand: Option<u64>,
    },
    /// The host turned our microphone or camera off (the engine already stopped sending it).
    /// With `locked`, turning it on fails until [`EngineEvent::Unlocked`].
    MutedByHost {
        kind: MediaKind,
        by: UserId,
        locked: bool,
    },
    Unlocked {
        kind: MediaKind,
    },
    /// As host: someone waits in the lobby; answer with [`Engine::admit`].
    LobbyJoined {
        user: UserId,
        name: String,
    },
    LobbyLeft {
        user: UserId,
    },
    /// An SEI message that came with one of `user`'s camera frames (TRTC `onRecvSEIMsg`).
    SeiMessage {
        user: UserId,
        data: Vec<u8>,
    },
}

struct Running {
    cmds: mpsc::UnboundedSender<Cmd>,
    media: mpsc::UnboundedSender<Encoded>,
    task: tokio::task::JoinHandle<()>,
}

pub struct Engine {
    config: EngineConfig,
    events_tx: mpsc::UnboundedSender<EngineEvent>,
    events_rx: mpsc::UnboundedReceiver<EngineEvent>,
    registry: Arc<Registry>,
    running: Option<Running>,
    audio: Option<Capture>,
    /// The microphone's processing; outlives any one capture (a new microphone keeps it).
    chain: Arc<Mutex<CaptureChain>>,
    /// Remote users' audio, mixed; pulled by the speaker or by `clock`.
    playout: Arc<Mutex<Playout>>,
    clock: Option<HeadlessClock>,
    video: HashMap<Stream, Capture>,
    /// The camera's processing; outlives any one capture (a new camera keeps it).
    video_chain: Arc<Mutex<VideoChain>>,
    /// Where the processed local video is shown (the self view), per stream.
    local_views: LocalViews,
    /// Publish the camera with a small layer too (simulcast).
    small_stream: Option<SmallStream>,
    /// Shared with the session, which also switches role by itself (accepted request).
    role: Arc<Mutex<Role>>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let chain = CaptureChain::new(config.audio_effects.clone());
        let playout = Arc::new(Mutex::new(Playout::new(chain.far_end(), chain.local_out())));
        let clock = config.headless_playout.then(|| {
            HeadlessClock::start(Arc::new(PlayoutHandle(playout.clone())))
                .inspect_err(|e| tracing::error!("cannot start the playout clock: {e}"))
                .ok()
        });
        Self {
            config,
            events_tx,
            events_rx,
            registry: Arc::new(Registry::default()),
            running: None,
            audio: None,
            chain: Arc::new(Mutex::new(chain)),
            playout,
            clock: clock.flatten(),
            video: HashMap::new(),
            video_chain: Arc::new(Mutex::new(
                VideoChain::new(VideoEffects::default()).expect("the default effects need no file"),
            )),
            local_views: LocalViews::default(),
            small_stream: None,
            role: Arc::new(Mutex::new(Role::Anchor)),
        }
    }

    /// Connects, authenticates and enters the room; returns how long it took in ms.
    /// Must be called inside a tokio runtime.
    pub async fn enter_room(&mut self, params: EnterRoomParams) -> Result<f64, EngineError> {
        if self.running.as_ref().is_some_and(|r| !r.task.is_finished()) {
            return Err(EngineError::AlreadyInRoom);
        }
        let started = Instant::now();
        let result = async {
            let (ws, entered) = session::connect(&params, &self.events_tx).await?;
            let (cmds, cmd_rx) = mpsc::unbounded_channel();
            let session = Session::new(
                ws,
                params.clone(),
                self.events_tx.clone(),
                cmds.clone(),
                self.config.clone(),
                self.registry.clone(),
                self.playout.clone(),
                self.role.clone(),
                started,
            )
            .await?;
            Ok::<_, EngineError>((session, entered, cmds, cmd_rx))
        }
        .await;
        let (session, entered, cmds, cmd_rx) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = self.events_tx.send(EngineEvent::Error {
                    code: e.code(),
                    message: e.to_string(),
                });
                return Err(e);
            }
        };
        if let roomcast_proto::ServerMessage::Entered { role, .. } = &entered {
            *lock(&self.role) = *role;
        }
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        lock(&self.registry.local).enter_room_ms = Some(elapsed_ms);
        let _ = self.events_tx.send(EngineEvent::EnterRoom { elapsed_ms });
        let (media, media_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(session.run(entered, cmd_rx, media_rx));
        self.running = Some(Running { cmds, media, task });
        Ok(elapsed_ms)
    }

    /// Stops publishing, leaves the room and waits until the session has ended.
    pub async fn exit_room(&mut self) {
        self.stop_local_audio().await;
        for (_, c) in self.video.drain() {
            c.stop();
        }
        if let Some(r) = self.running.take() {
            let (done, wait) = oneshot::channel();
            if r.cmds.send(Cmd::Exit { done }).is_ok() {
                let _ = wait.await;
            }
            let _ = r.task.await;
        }
    }

    fn cmds(&self) -> Result<&mpsc::UnboundedSender<Cmd>, EngineError> {
        self.running
            .as_ref()
            .map(|r| &r.cmds)
            .ok_or(EngineError::NotInRoom)
    }

    async fn ask(&self, ask: Ask) -> Result<(), EngineError> {
        let (done, wait) = oneshot::channel();
        self.cmds()?
            .send(Cmd::Ask(ask, done))
            .map_err(|_| EngineError::NotInRoom)?;
        wait.await.map_err(|_| EngineError::NotInRoom)?
    }

    /// Anchor ↔ audience in live scenes. Becoming audience stops publishing first.
    pub async fn switch_role(&mut self, role: Role) -> Result<(), EngineError> {
        if role == Role::Audience {
            self.stop_local_audio().await;
            let streams: Vec<Stream> = self.video.keys().copied().collect();
            for s in streams {
                self.stop_local_video(s).await;
            }
        }
        self.ask(Ask::SwitchRole { role }).await
    }

    /// As an anchor in a live scene: invite audience member `user` to speak. They get
    /// [`EngineEvent::SpeakInvited`]; their answer arrives as
    /// [`EngineEvent::SpeakInviteAnswered`].
    pub async fn invite_to_speak(&self, user: UserId) -> Result<(), EngineError> {
        self.send_request(Request::InviteToSpeak { user_id: user })
            .await
    }

    /// As audience: ask the anchors to let us speak; the answer arrives as
    /// [`EngineEvent::SpeakRequestAnswered`], and when it is yes the engine switches to
    /// anchor by itself.
    pub async fn request_to_speak(&self) -> Result<(), EngineError> {
        self.send_request(Request::RequestToSpeak).await
    }

    /// Answers the invitations we have open; accepting also switches us to anchor, after
    /// which the caller publishes as after any [`Engine::switch_role`].
    pub async fn answer_invite(&mut self, accept: bool) -> Result<(), EngineError> {
        self.send_request(Request::AnswerInvite { accept }).await?;
        if accept {
            self.switch_role(Role::Anchor).await?;
        }
        Ok(())
    }

    /// As an anchor: allow or decline `user`'s request to speak.
    pub async fn answer_request(&self, user: UserId, accept: bool) -> Result<(), EngineError> {
        self.send_request(Request::AnswerRequest {
            user_id: user,
            accept,
        })
        .await
    }

    async fn send_request(&self, request: Request) -> Result<(), EngineError> {
        self.ask(Ask::Request { request }).await
    }

    /// Adds the publishing m-line (the server checks the role) and returns where encoded
    /// frames go and how capture errors are reported.
    async fn publish(
        &self,
        kind: MediaKind,
        stream: Stream,
    ) -> Result<
        (
            mpsc::UnboundedSender<Encoded>,
            impl Fn(String) + Send + 'static,
        ),
        EngineError,
    > {
        let simulcast =
            kind == MediaKind::Video && stream == Stream::Main && self.small_stream.is_some();
        self.ask(Ask::Publish {
            kind,
            stream,
            simulcast,
        })
        .await?;
        let media = self
            .running
            .as_ref()
            .ok_or(EngineError::NotInRoom)?
            .media
            .clone();
        let events = self.events_tx.clone();
        let on_error = move |message| {
            let _ = events.send(EngineEvent::Error {
                code: None,
                message,
            });
        };
        Ok((media, on_error))
    }

    /// Publishes audio from `source` (microphone, file, tone, custom push).
    pub async fn start_local_audio(
        &mut self,
        source: Box<dyn AudioSource>,
        profile: AudioProfile,
    ) -> Result<(), EngineError> {
        let (media, _) = self.publish(MediaKind::Audio, Stream::Main).await?;
        let events = self.events_tx.clone();
        let notify = move |n: AudioNotice| {
            let _ = events.send(match n {
                AudioNotice::Error(message) => EngineEvent::Error {
                    code: None,
                    message,
                },
                AudioNotice::Chain(crate::audio::ChainEvent::MusicComplete { id }) => {
                    EngineEvent::MusicComplete { id }
                }
                AudioNotice::MusicProgress(states) => EngineEvent::MusicProgress(states),
            });
        };
        let capture = capture::start_audio(source, profile, self.chain.clone(), media, notify)?;
        self.cmds()?
            .send(Cmd::Core(Command::RegisterAudio(capture.controls.clone())))
            .map_err(|_| EngineError::NotInRoom)?;
        // A new source (another microphone) replaces the old one on the same track, muted
        // if it was.
        let muted = self.audio.as_ref().is_some_and(|c| c.controls.is_muted());
        capture.controls.muted.store(muted, Ordering::Relaxed);
        if let Some(old) = self.audio.replace(capture) {
            old.stop();
        }
        self.set_available(MediaKind::Audio, Stream::Main, !muted);
        Ok(())
    }

    pub async fn stop_local_audio(&mut self) {
        if let Some(c) = self.audio.take() {
            c.stop();
            self.set_available(MediaKind::Audio, Stream::Main, false);
        }
    }

    /// Keeps the microphone open but sends nothing; others see audio unavailable.
    pub async fn mute_local_audio(&mut self, mute: bool) {
        if let Some(c) = &self.audio {
            c.controls.muted.store(mute, Ordering::Relaxed);
            self.set_available(MediaKind::Audio, Stream::Main, !mute);
        }
    }

    /// Publishes video from `source` on `stream` (Main: camera, Sub: screen share).
    pub async fn start_local_video(
        &mut self,
        source: Box<dyn VideoSource>,
        stream: Stream,
        bitrate_bps: u32,
    ) -> Result<(), EngineError> {
        let (media, on_error) = self.publish(MediaKind::Video, stream).await?;
        let events = self.events_tx.clone();
        let on_end = move || {
            let _ = events.send(EngineEvent::LocalVideoEnded { stream });
        };
        let chain = (stream == Stream::Main).then(|| self.video_chain.clone());
        let capture = capture::start_video(
            source,
            capture::VideoPath {
                stream,
                chain,
                views: self.local_views.clone(),
                small: self.small_stream.filter(|_| stream == Stream::Main),
            },
            bitrate_bps,
            media,
            on_error,
            on_end,
        )?;
        self.cmds()?
            .send(Cmd::Core(Command::RegisterVideo(
                stream,
                capture.controls.clone(),
            )))
            .map_err(|_| EngineError::NotInRoom)?;
        let muted = self
            .video
            .get(&stream)
            .is_some_and(|c| c.controls.is_muted());
        capture.controls.muted.store(muted, Ordering::Relaxed);
        if let Some(old) = self.video.insert(stream, capture) {
            old.stop();
        }
        self.set_available(MediaKind::Video, stream, !muted);
        Ok(())
    }

    pub async fn stop_local_video(&mut self, stream: Stream) {
        if let Some(c) = self.video.remove(&stream) {
            c.stop();
            self.set_available(MediaKind::Video, stream, false);
        }
    }

    pub async fn mute_local_video(&mut self, stream: Stream, mute: bool) {
        if let Some(c) = self.video.get(&stream) {
            c.controls.muted.store(mute, Ordering::Relaxed);
            self.set_available(MediaKind::Video, stream, !mute);
        }
    }

    /// Changes the video encoder's target bitrate.
    pub fn set_video_bitrate(&self, stream: Stream, bitrate_bps: u32) {
        if let Some(c) = self.video.get(&stream) {
            c.controls.bitrate_bps.store(bitrate_bps, Ordering::Relaxed);
        }
    }

    fn set_available(&self, kind: MediaKind, stream: Stream, available: bool) {
        if let Ok(c) = self.cmds() {
            let _ = c.send(Cmd::Core(Command::SetAvailable {
                kind,
                stream,
                available,
            }));
        }
    }

    /// Starts receiving `user`'s video `stream` into `sink` (or the configured default).
    pub fn start_remote_view(
        &self,
        user: UserId,
        stream: Stream,
        sink: Option<Box<dyn VideoSink>>,
    ) -> Result<(), EngineError> {
        self.cmds()?
            .send(Cmd::Subscribe {
                user,
                kind: MediaKind::Video,
                stream,
                video_sink: sink,
            })
            .map_err(|_| EngineError::NotInRoom)
    }

    pub fn stop_remote_view(&self, user: UserId, stream: Stream) -> Result<(), EngineError> {
        self.cmds()?
            .send(Cmd::Core(Command::Unsubscribe {
                user,
                kind: MediaKind::Video,
                stream,
            }))
            .map_err(|_| EngineError::NotInRoom)
    }

    pub fn role(&self) -> Role {
        *lock(&self.role)
    }

    /// The next event; None only if the engine is gone.
    pub async fn next_event(&mut self) -> Option<EngineEvent> {
        self.events_rx.recv().await
    }

    /// Takes the event stream out of the engine (e.g. to forward it from its own task);
    /// afterwards `next_event` returns None.
    pub fn take_events(&mut self) -> mpsc::UnboundedReceiver<EngineEvent> {
        let (_, empty) = mpsc::unbounded_channel();
        std::mem::replace(&mut self.events_rx, empty)
    }

    pub fn try_event(&mut self) -> Option<EngineEvent> {
        self.events_rx.try_recv().ok()
    }

    pub fn statistics(&self) -> Statistics {
        self.registry.snapshot()
    }
}
