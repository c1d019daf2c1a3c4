//! The real audio and camera code paths on this machine: cpal's ALSA enumeration (and its
//! `null` device where present), nokhwa without cameras.

use roomcast_devices::{
    DeviceError, Playout, TestTone, list_devices, open_camera, open_microphone,
};
use roomcast_engine::media::{FRAME_SAMPLES, SAMPLE_RATE};

#[test]
fn audio_devices_enumerate_and_null_device_round_trips() {
    let lists = list_devices();
    println!(
        "microphones: {:?}\nspeakers: {:?}",
        lists.microphones, lists.speakers
    );
    match open_microphone(Some("nope")) {
        Err(DeviceError::NotFound(m)) => assert!(m.contains("No microphone 'nope' found"), "{m}"),
        Err(e) => panic!("expected NotFound, got {e}"),
        Ok(_) => panic!("a microphone called 'nope' opened"),
    }
    assert!(matches!(
        Playout::open(Some("nope")),
        Err(DeviceError::NotFound(_))
    ));

    let null_mic = lists.microphones.iter().find(|d| d.id.ends_with(":null"));
    let null_out = lists.speakers.iter().find(|d| d.id.ends_with(":null"));
    let (Some(mic), Some(out)) = (null_mic, null_out) else {
        println!("SKIPPED device round trip: ALSA's null device is not listed by cpal here");
        return;
    };
    let mut source = open_microphone(Some(&mic.id)).expect("open the null microphone");
    assert_eq!(source.channels(), 1);
    for _ in 0..2 {
        let f = source
            .next_frame(7)
            .expect("frame from the null microphone");
        assert_eq!(
            (f.samples.len(), f.sample_rate, f.channels),
            (FRAME_SAMPLES, SAMPLE_RATE, 1)
        );
    }
    drop(source);

    // The speaker's own clock pulls what it plays (the engine's playout in a call).
    let playout = Playout::open(Some(&out.id)).expect("open the null speaker");
    let tone = std::sync::Arc::new(TestTone::new(440.0, 200));
    playout.attach(Some(tone.clone()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !tone.finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the speaker did not pull 200 ms of audio in 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    playout.attach(None);
}

#[test]
fn no_camera_here_is_a_clear_not_found() {
    let cameras = list_devices().cameras;
    if !cameras.is_empty() {
        println!("SKIPPED: this machine has cameras: {cameras:?}");
        return;
    }
    match open_camera(None, 640, 360, 15) {
        Err(DeviceError::NotFound(m)) => assert_eq!(m, "No camera found"),
        Err(e) => panic!("expected NotFound, got {e}"),
        Ok(_) => panic!("a camera opened on a machine without cameras"),
    }
}
