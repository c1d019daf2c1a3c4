//! The video effects as people meet them: `roomcast process-video` on a clip, and a call in
//! which one participant publishes with beauty on and another sees it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roomcast_engine::media::{
    CallbackVideoSink, LoopingY4mSource, VideoFrame, VideoSink, VideoSource, Y4mSink, Y4mSource,
};
use roomcast_engine::video::scene::person_scene;
use roomcast_engine::video::testsig::{Portrait, Region, hf_energy, mean_luma, portrait};
use roomcast_engine::video::{BeautyStyle, VideoEffects};
use roomcast_engine::{Engine, EngineConfig};
use roomcast_proto::{Role, Scene, Stream};
use roomcast_tests::{TestServer, eventually, roomcast_bin};
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    roomcast_tests::temp_dir(&format!("video-{name}"))
}

fn read_all(path: &std::path::Path) -> Vec<VideoFrame> {
    let mut src = Y4mSource::open(path).expect("Y4M");
    std::iter::from_fn(|| src.next_frame(0)).collect()
}

/// A 30 fps clip of `n` copies of `frame`.
fn write_clip(path: &std::path::Path, frame: &VideoFrame, n: usize) {
    let mut sink = Y4mSink::create(path).expect("create").with_fps(30);
    for _ in 0..n {
        sink.write(frame).expect("write");
    }
    sink.finish().expect("finish");
}

/// `roomcast process-video --in IN --out OUT`, more arguments to add.
fn process_video(input: &std::path::Path, out: &std::path::Path) -> Command {
    let mut cmd = Command::new(roomcast_bin());
    cmd.args(["process-video", "--in"])
        .arg(input)
        .arg("--out")
        .arg(out);
    cmd
}

/// Runs `cmd`, which must succeed, and returns the JSON report it prints.
fn report_of(cmd: &mut Command) -> Value {
    let run = cmd.output().expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("JSON report")
}

/// A clip through beauty and a bundled look comes out with the same frames, smoother and
/// lighter skin and warmer colour; bad options are refused with what to do.
#[test]
fn process_video_runs_a_clip_through_beauty_and_a_filter() {
    let dir = temp_dir("process");
    let input = dir.join("in.y4m");
    let p = portrait(640, 360);
    write_clip(&input, &p.frame, 6);
    let out = dir.join("out.y4m");
    let report = report_of(
        process_video(&input, &out)
            .args(["--beauty", "smooth", "--smooth", "9", "--whiten", "5"])
            .args(["--sharpen", "--lut", "warm", "--lut-strength", "1"]),
    );
    assert_eq!(
        (report["frames"].as_u64(), report["width"].as_u64()),
        (Some(6), Some(640))
    );
    assert_eq!(report["effects"]["smoothness"], 9);
    assert_eq!(report["effects"]["filter"], "warm");
    let frames = read_all(&out);
    assert_eq!(frames.len(), 6);
    let f = &frames[5];
    let hf = hf_energy(f, &p.regions, Region::Skin) / hf_energy(&p.frame, &p.regions, Region::Skin);
    assert!(hf < 0.5, "skin texture left: {hf:.2}");
    assert!(
        mean_luma(f, &p.regions, Region::Skin)
            > mean_luma(&p.frame, &p.regions, Region::Skin) + 5.0
    );
    let cr = |f: &VideoFrame| f.v.iter().map(|&v| f64::from(v)).sum::<f64>() / f.v.len() as f64;
    assert!(cr(f) > cr(&p.frame) + 2.0, "the warm look adds red");

    let refused = |args: &[&str]| {
        let out = Command::new(roomcast_bin())
            .args(["process-video", "--in"])
            .arg(&input)
            .args(args)
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let garbage = dir.join("garbage.png");
    std::fs::write(&garbage, b"not an image").expect("write");
    let err = refused(&["--lut", garbage.to_str().expect("utf-8")]);
    assert!(err.contains("not a PNG"), "{err}");
    let err = refused(&["--smooth", "12"]);
    assert!(err.contains("12") && err.contains("0..=9"), "{err}");
    let missing = Command::new(roomcast_bin())
        .args(["process-video", "--in", "/nonexistent/clip.y4m"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("--in") && err.contains("/nonexistent/clip.y4m"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `--background blur:6` on a clip of a person in front of a brick wall: the wall loses its
/// texture, she keeps hers; a picture that is not one is refused by name.
#[test]
fn process_video_blurs_the_background_behind_a_person() {
    let dir = temp_dir("blur");
    let input = dir.join("person.y4m");
    let scene = person_scene(640, 360).expect("sample images (scripts/install-test-deps)");
    write_clip(&input, &scene.frame, 4);
    let out = dir.join("out.y4m");
    let report = report_of(process_video(&input, &out).args(["--background", "blur:6"]));
    assert_eq!(report["effects"]["background"]["kind"], "blur");
    let frames = read_all(&out);
    assert_eq!(frames.len(), 4);
    let kept =
        |r| hf_energy(&frames[3], &scene.regions, r) / hf_energy(&scene.frame, &scene.regions, r);
    let (wall, her) = (kept(Region::Outside), kept(Region::Person));
    println!("texture kept: wall {wall:.3}, person {her:.3}");
    assert!(wall < 0.1, "the wall kept {wall:.3} of its texture");
    assert!(her > 0.9, "she kept only {her:.3} of hers");

    let garbage = dir.join("beach.jpg");
    std::fs::write(&garbage, b"not a picture").expect("write");
    let refused = Command::new(roomcast_bin())
        .args(["process-video", "--in"])
        .arg(&input)
        .arg("--background")
        .arg(&garbage)
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("beach.jpg") && err.contains("not a PNG or JPEG"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

type Measures = Arc<Mutex<Vec<f64>>>;

/// A sink that keeps the skin texture left in each frame, relative to the portrait's.
fn texture_sink(p: &Arc<Portrait>, into: &Measures) -> Box<dyn VideoSink> {
    let (p, into) = (p.clone(), into.clone());
    let hf0 = hf_energy(&p.frame, &p.regions, Region::Skin);
    Box::new(CallbackVideoSink::new(move |f| {
        if (f.width, f.height) == (p.frame.width, p.frame.height) {
            let hf = hf_energy(f, &p.regions, Region::Skin) / hf0;
            into.lock().unwrap_or_else(|e| e.into_inner()).push(hf);
        }
    }))
}

fn median(m: &Measures) -> Option<f64> {
    let mut v = m.lock().unwrap_or_else(|e| e.into_inner()).clone();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Two people publish the same face, one with beauty on: the viewer sees smooth skin on one
/// and texture on the other, and the publisher's self view shows what was sent. Changing the
/// level mid-call changes what the viewer sees.
#[tokio::test]
async fn a_participant_sees_beauty_applied_in_a_call() {
    let server = TestServer::start().await;
    let p = Arc::new(portrait(640, 360));
    let seen: [Measures; 2] = Default::default();
    let sinks = seen.clone();
    let p2 = p.clone();
    let mut viewer = Engine::new(EngineConfig {
        auto_subscribe_video: true,
        audio_effects: roomcast_engine::audio::AudioEffects::off(),
        video_sink: Arc::new(move |user, _| {
            texture_sink(&p2, &sinks[usize::from(user == "plain")])
        }),
        ..EngineConfig::default()
    });
    viewer
        .enter_room(server.params("viewer", 9, Role::Anchor, Scene::VideoCall))
        .await
        .expect("viewer enters");
    let mut publishers = Vec::new();
    let own_view = Measures::default();
    for (user, smooth) in [("pretty", 9), ("plain", 0)] {
        let mut e = roomcast_tests::receiving_engine();
        e.set_video_effects(VideoEffects {
            beauty_style: BeautyStyle::Smooth,
            smoothness: smooth,
            ..VideoEffects::default()
        })
        .expect("effects");
        if smooth > 0 {
            e.set_local_view(Stream::Main, Some(texture_sink(&p, &own_view)));
        }
        e.enter_room(server.params(user, 9, Role::Anchor, Scene::VideoCall))
            .await
            .expect("publisher enters");
        e.start_local_video(
            Box::new(LoopingY4mSource::from_frames(vec![p.frame.clone()], 15)),
            Stream::Main,
            2_000_000,
        )
        .await
        .expect("publishes");
        publishers.push(e);
    }
    let enough = |m: &Measures| m.lock().map(|v| v.len() >= 20).unwrap_or(false);
    assert!(
        eventually(Duration::from_secs(15), || seen.iter().all(enough)).await,
        "frames seen: {:?}",
        seen.iter()
            .map(|m| m.lock().map(|v| v.len()).unwrap_or(0))
            .collect::<Vec<_>>()
    );
    let (pretty, plain) = (
        median(&seen[0]).expect("pretty"),
        median(&seen[1]).expect("plain"),
    );
    let own = median(&own_view).expect("self view");
    println!("skin texture seen: with beauty {pretty:.2}, without {plain:.2}; self view {own:.2}");
    assert!(
        plain > 0.5,
        "the encoder alone kept {plain:.2} of the texture"
    );
    assert!(
        pretty < 0.5 * plain,
        "beauty: {pretty:.2} against {plain:.2}"
    );
    assert!(
        own < 0.25,
        "the self view shows the processed picture: {own:.2}"
    );

    // Beauty off mid-call: the texture comes back.
    publishers[0]
        .set_video_effects(VideoEffects::default())
        .expect("off");
    seen[0].lock().unwrap_or_else(|e| e.into_inner()).clear();
    assert!(eventually(Duration::from_secs(10), || enough(&seen[0])).await);
    let after = median(&seen[0]).expect("after");
    assert!(
        after > 0.8 * plain,
        "texture after turning beauty off: {after:.2} ({plain:.2})"
    );
    for mut e in publishers {
        e.exit_room().await;
    }
    viewer.exit_room().await;
}
