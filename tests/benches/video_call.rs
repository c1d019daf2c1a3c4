//! A 720p30 camera with every video effect on and both simulcast layers, published into a
//! real call (server in-process on loopback, two viewers: one big, one small): the frame
//! rates that arrive. Writes the "Video call" section of docs/BENCHMARKS.md.
//! Run: `cargo bench -p roomcast-tests --bench video_call`.
//!
//! Everything runs in this process on this machine: the publisher's chain and two encoders,
//! the SFU, and both viewers' decoders compete for the same cores, so the figures are a
//! lower bound for a publisher on its own machine.

use std::time::{Duration, Instant};

use roomcast_engine::media::LoopingY4mSource;
use roomcast_engine::video::scene::person_scene;
use roomcast_engine::video::{Background, BeautyStyle, SmallStream, VideoEffects};
use roomcast_proto::{Role, Scene, Stream, UserId, VideoStreamType};
use roomcast_tests::{FrameLog, TestServer, frame_log_viewer, receiving_engine};

const MARK: &str = "<!-- written by cargo bench -p roomcast-tests --bench video_call -->";
const SECONDS: u64 = 10;

type Arrivals = FrameLog;

fn fps(seen: &Arrivals, from: Instant, to: Instant) -> (f64, (u32, u32)) {
    let v = seen.lock().map(|v| v.clone()).unwrap_or_default();
    let window: Vec<_> = v.iter().filter(|(_, t)| *t >= from && *t < to).collect();
    let size = window.last().map(|(s, _)| *s).unwrap_or_default();
    (
        window.len() as f64 / to.duration_since(from).as_secs_f64(),
        size,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = TestServer::start().await;
    let mut publisher = receiving_engine();
    publisher.enable_small_video_stream(Some(SmallStream::default()));
    publisher
        .set_video_effects(VideoEffects {
            beauty_style: BeautyStyle::Smooth,
            smoothness: 6,
            whiteness: 4,
            ruddiness: 3,
            sharpen: true,
            filter: Some("vivid".into()),
            background: Background::Blur { level: 5 },
            ..VideoEffects::default()
        })
        .expect("effects");
    publisher
        .enter_room(server.params("cam", 1, Role::Anchor, Scene::VideoCall))
        .await
        .expect("enters");
    publisher
        .start_local_video(
            Box::new(LoopingY4mSource::from_frames(
                vec![
                    person_scene(1280, 720)
                        .expect("sample images (scripts/install-test-deps)")
                        .frame,
                ],
                30,
            )),
            Stream::Main,
            2_000_000,
        )
        .await
        .expect("publishes");
    let (mut big, big_seen) = frame_log_viewer();
    let (mut small, small_seen) = frame_log_viewer();
    for (e, user) in [(&mut big, "big"), (&mut small, "small")] {
        e.enter_room(server.params(user, 1, Role::Anchor, Scene::VideoCall))
            .await
            .expect("viewer enters");
    }
    let cam = UserId::new("cam".to_string()).expect("valid");
    small
        .set_remote_video_stream_type(cam, VideoStreamType::Small)
        .await
        .expect("small");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (from, sent0) = (Instant::now(), publisher.statistics());
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    let (to, sent1) = (Instant::now(), publisher.statistics());
    let secs = to.duration_since(from).as_secs_f64();
    let big_sent = ((sent1.video_frames_sent - sent1.small_frames_sent)
        - (sent0.video_frames_sent - sent0.small_frames_sent)) as f64
        / secs;
    let small_sent = (sent1.small_frames_sent - sent0.small_frames_sent) as f64 / secs;
    let (big_fps, big_size) = fps(&big_seen, from, to);
    let (small_fps, small_size) = fps(&small_seen, from, to);
    for mut e in [publisher, big, small] {
        e.exit_room().await;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let section = format!(
        "{MARK}\n## Video call (720p30 camera, every effect on, both layers; {cores} cores)\n\n\
         A person (scikit-image's astronaut over a brick wall) at 1280×720, 30 fps, through\n\
         beauty (smooth 6, whiten 4, ruddy 3, sharpen), background blur 5 and the vivid filter,\n\
         encoded big (2 Mbit/s) and small (320×180, 15 fps),\n\
         into a call on loopback with one viewer of each layer; {SECONDS} s after 3 s of warm-up.\n\
         Publisher, server and both viewers share this machine's cores.\n\n\
         | layer | sent fps | received fps | received size | target |\n|---|---|---|---|---|\n\
         | big | {big_sent:.1} | {big_fps:.1} | {}×{} | ≥ 29 fps |\n\
         | small | {small_sent:.1} | {small_fps:.1} | {}×{} | 15 fps |\n",
        big_size.0, big_size.1, small_size.0, small_size.1
    );
    roomcast_tests::write_bench_section(MARK, &section);
    println!("{section}");
}
