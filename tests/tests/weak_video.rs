//! Video on the virtual network (`roomcast_tests::world`): repairs, copies and the playout
//! under loss and jitter, and the camera and the server following a narrow link. How often
//! the picture freezes is measured by `cargo bench -p roomcast-tests --bench weak_network`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use roomcast_engine::quality::Quality;
use roomcast_tests::vnet::Impairment;
use roomcast_tests::world::uplink::capped_uplink;
use roomcast_tests::world::{World, freezes};

/// Alice publishes a camera at 120 kbit/s (one packet a frame) over a link losing `loss`
/// each way; Bob receives it. Runs for `secs` of virtual time.
fn lossy_camera(seed: u64, loss: f64, secs: u64) -> (World, usize, usize) {
    let w = World::camera_through(seed, Impairment::loss(loss), 120_000, secs);
    (w, 0, 1)
}

#[test]
fn video_arrives_in_the_publishers_order_when_retransmissions_fill_holes() {
    // Many of Alice's frames come only by retransmission, later than the frames behind
    // them. The server used to queue frames to Bob by when their first packet arrived, and
    // so sent such a frame after the ones behind it: Bob's decoder lost a reference and
    // froze until the next keyframe.
    let (w, _, bob) = lossy_camera(7, 0.1, 20);
    let frames = w.clients[bob].video_frames();
    let behind = frames.windows(2).filter(|p| p[1].0 < p[0].0).count();
    println!("{} frames, {behind} behind a later one", frames.len());
    assert!(frames.len() >= 250, "{} of 300 frames", frames.len());
    assert_eq!(behind, 0, "frames sent out of the publisher's order");
}

#[test]
fn at_20_percent_loss_each_way_copied_repairs_bring_back_nearly_every_frame() {
    // A lost packet comes back only if the NACK and then the resend get through, 64 % of the
    // time at 20 % loss each way; str0m asks five times, and a packet it gives up stops the
    // picture until a keyframe. With resends and RTCP copied, eight calls of a minute had 8
    // such holes instead of 28 (keyframes asked: 16 instead of 36, one each at the start).
    let (mut asked, mut stops) = (0, 0);
    for seed in 1..=8 {
        let w = World::camera_through(seed, Impairment::loss(0.2), 300_000, 60);
        asked += w.asked_keyframes(0);
        let shown = w.clients[1].video_shown(w.start);
        stops += freezes(&shown, w.now - Duration::from_secs(40), w.now).0;
    }
    println!("8 calls: {asked} keyframes asked, {stops} freezes in their last 40 s");
    assert!(asked <= 24, "{asked} keyframes asked: frames lost for good");
    assert!(stops <= 4, "{stops} freezes");
}

#[test]
fn under_heavy_jitter_the_video_playout_turns_stalls_into_delay() {
    // Alice's link loses 30 % and delays each datagram 0–700 ms. The server forwards her
    // frames in order, so a frame waiting for a resend holds back those behind it, which then
    // come in a burst: shown as they came, the picture stopped for more than 500 ms 4-8 times
    // in 20 s (9-12 before repairs went out three times; at 20 %, since video goes out
    // twice, only a few times). Bob's video playout holds frames long enough for nearly all
    // of these.
    let bad = Impairment {
        loss: 0.3,
        jitter: Duration::from_millis(700),
        ..Impairment::default()
    };
    // Parities and asks now bring most lost packets back soon, so one call stalls only
    // 0-6 times: eight calls together (20-28 stalls; four calls once had only 5).
    let (mut came, mut seen, mut held) = (0, 0, None);
    for seed in 1..=8 {
        let w = World::camera_through(seed, bad.clone(), 300_000, 40);
        let b = &w.clients[1];
        let since = w.now - Duration::from_secs(20);
        let arrived: Vec<Instant> = b.video_received().map(|r| r.at).collect();
        let shown = b.video_shown(w.start);
        assert_eq!(shown.len(), arrived.len(), "every frame is shown");
        let longest = arrived.iter().zip(&shown).map(|(a, s)| *s - *a).max();
        held = held.max(longest);
        came += freezes(&arrived, since, w.now).0;
        seen += freezes(&shown, since, w.now).0;
    }
    println!("freezes over 8 × 20 s: {came} as they came, {seen} shown; longest hold {held:?}");
    assert!(came >= 6, "the link should stall the video: {came}");
    assert!(
        seen * 2 <= came,
        "{seen} freezes shown, {came} as they came"
    );
    assert!(held <= Some(Duration::from_millis(2_501)), "{held:?}");
}

#[test]
fn after_a_frame_lost_for_good_the_server_forwards_nothing_until_a_keyframe() {
    // At 40 % loss each way some of Alice's frames never make it whole, even with
    // retransmission (at 30 % copied repairs now bring back nearly all). What follows such a frame cannot be decoded, so the server must not
    // waste Bob's link on it, and must ask Alice for a keyframe itself (Bob's own request
    // would come later and could be lost).
    let (w, alice, bob) = lossy_camera(11, 0.4, 30);
    let frames = w.clients[bob].video_frames();
    let interval = 90_000 / 15;
    let after_holes: Vec<bool> = frames
        .windows(2)
        .filter(|p| p[1].0 - p[0].0 > interval * 3 / 2)
        .map(|p| p[1].1)
        .collect();
    let asked = w.asked_keyframes(alice);
    println!(
        "{} frames; after each hole, whether the next frame is a keyframe: {after_holes:?}; {asked} keyframes asked",
        frames.len()
    );
    assert!(!after_holes.is_empty(), "no holes to test with");
    assert!(
        after_holes.iter().all(|&keyframe| keyframe),
        "a frame after a hole was not a keyframe"
    );
    assert!(
        asked as usize >= after_holes.len(),
        "the server did not ask for keyframes"
    );
    // Resends bring back most frames (str0m's own resend budget let through under half).
    assert!(frames.len() >= 360, "{} of 450 frames", frames.len());
}

/// Alice, Bob and Carol in a call; Carol's downlink carries 300 kbit/s (300 ms of queue),
/// the others' are fine.
fn narrow_carol(seed: u64) -> (World, [usize; 3]) {
    let mut w = World::new(seed);
    let who = ["alice", "bob", "carol"].map(|u| w.join(u));
    let narrow = Impairment {
        rate_bps: Some(300_000),
        queue: Duration::from_millis(300),
        ..Impairment::default()
    };
    let addr = w.clients[who[2]].addr;
    w.net.set_link(addr, Impairment::default(), narrow);
    (w, who)
}

#[test]
fn a_subscriber_on_a_narrow_link_gets_the_small_layer_and_the_others_keep_the_big_one() {
    // Alice sends her camera at 600 kbit/s with a 150 kbit/s small layer.
    let (mut w, [alice, bob, carol]) = narrow_carol(31);
    w.publish_camera(alice, 600_000, true);
    w.run_for(Duration::from_secs(40));
    // Over the last 20 s: frame sizes tell the layers apart (big 5000 bytes, small 1250).
    let since = w.now - Duration::from_secs(20);
    let (b, c) = (
        w.clients[bob].video_sizes(since),
        w.clients[carol].video_sizes(since),
    );
    let small = |f: &[usize]| f.iter().filter(|&&s| s < 2_000).count();
    println!(
        "last 20 s: Bob {} frames ({} small), Carol {} frames ({} small)",
        b.len(),
        small(&b),
        c.len(),
        small(&c)
    );
    assert!(b.len() >= 280, "Bob's video suffered: {} frames", b.len());
    assert_eq!(small(&b), 0, "Bob was moved to the small layer");
    assert!(c.len() >= 200, "Carol's video stalled: {} frames", c.len());
    assert!(
        small(&c) * 10 >= c.len() * 7,
        "Carol still gets mostly the big layer"
    );
}

#[test]
fn without_simulcast_a_subscriber_on_a_narrow_link_gets_keyframes_and_its_audio() {
    // Alice talks and sends her camera at 600 kbit/s, one layer, with a keyframe of its own
    // once a minute (as OpenH264 here).
    let (mut w, [alice, bob, carol]) = narrow_carol(41);
    w.publish_audio(alice);
    w.publish_video(alice, 600_000);
    w.set_keyframe_interval(alice, Duration::from_secs(60));
    w.run_for(Duration::from_secs(40));
    let since = w.now - Duration::from_secs(20);
    let (b, c) = (
        w.clients[bob].video_sizes(since),
        w.clients[carol].video_sizes(since),
    );
    // Frames are 5,000 bytes, keyframes 15,000.
    let keyframes = c.iter().filter(|&&s| s > 10_000).count();
    let played = w.clients[carol].play_audio(w.start, w.now);
    let [before, last] = [&played[played.len() - 21], &played[played.len() - 1]];
    let (frames, concealed) = (
        last.frames - before.frames,
        last.concealed - before.concealed,
    );
    println!(
        "last 20 s: Bob {} frames; Carol {} frames ({keyframes} keyframes), {concealed} of {frames} audio frames concealed",
        b.len(),
        c.len()
    );
    assert!(b.len() >= 280, "Bob's video suffered: {} frames", b.len());
    assert!(
        keyframes >= 4,
        "Carol's picture stood still: {keyframes} keyframes"
    );
    assert!(frames >= 990, "Carol played {frames} audio frames");
    assert!(
        concealed * 100 <= frames * 5,
        "Carol's audio: {concealed} of {frames} frames concealed"
    );
}

#[test]
fn keyframes_larger_than_a_narrow_links_queue_still_get_through() {
    // As above, with keyframes of 30 KB (a real 640x360 one at 600 kbit/s): sent at once,
    // each overflowed Carol's 11 KB of queue, and through real sockets she saw 2-4 of them
    // in 20 s. The server paces what goes to her at what her link delivered.
    let mut shown = Vec::new();
    for seed in [43, 44] {
        let (mut w, [alice, _, carol]) = narrow_carol(seed);
        w.publish_audio(alice);
        w.publish_video(alice, 600_000);
        w.set_keyframe_interval(alice, Duration::from_secs(60));
        w.set_keyframe_size(alice, 6);
        w.run_for(Duration::from_secs(40));
        let since = w.now - Duration::from_secs(20);
        let keyframes = w.clients[carol]
            .video_sizes(since)
            .iter()
            .filter(|&&s| s > 20_000)
            .count();
        let played = w.clients[carol].play_audio(w.start, w.now);
        let [before, last] = [&played[played.len() - 21], &played[played.len() - 1]];
        let (frames, concealed) = (
            last.frames - before.frames,
            last.concealed - before.concealed,
        );
        println!("seed {seed}: Carol {keyframes} keyframes, {concealed} of {frames} concealed");
        assert!(concealed * 100 <= frames * 5, "{concealed} of {frames}");
        shown.push(keyframes);
    }
    // One asked for every 3 s.
    assert!(shown.iter().all(|k| *k >= 5), "{shown:?}");
}

#[test]
fn random_loss_does_not_sink_the_camera_to_its_floor() {
    // A call (microphone and a 600 kbit/s camera) on a link losing 20 % at random each way,
    // nothing else in the way. Cutting the rate does not lower such loss, so after the first
    // cut the rate should hold. Judged on single one-second reports (±6 points of noise),
    // every stray one cut again: the camera ended at its 50 kbit/s floor in 18 of 20 calls.
    for seed in 1..=4 {
        let mut w = World::new(seed);
        let alice = w.join("alice");
        w.join("bob");
        let addr = w.clients[alice].addr;
        w.net
            .set_link(addr, Impairment::loss(0.2), Impairment::loss(0.2));
        w.publish_audio(alice);
        w.publish_video(alice, 600_000);
        w.run_for(Duration::from_secs(60));
        let bps = w.video_bitrate(alice).unwrap_or(0);
        println!("seed {seed}: camera at {bps} bit/s after a minute");
        assert!(
            bps >= 120_000,
            "seed {seed}: the camera sank to {bps} bit/s"
        );
    }
}

/// Alice's link delays each datagram by 0–700 ms both ways (they overtake one another) and
/// loses nothing; she publishes a 600 kbit/s camera, with her microphone if `audio`. Returns
/// the camera's rate after a minute.
fn camera_through_jitter(seed: u64, audio: bool) -> u32 {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    w.join("bob");
    let jittery = Impairment {
        jitter: Duration::from_millis(700),
        ..Impairment::default()
    };
    let addr = w.clients[alice].addr;
    w.net.set_link(addr, jittery.clone(), jittery);
    if audio {
        w.publish_audio(alice);
    }
    w.publish_video(alice, 600_000);
    w.run_for(Duration::from_secs(60));
    w.video_bitrate(alice).unwrap_or(0)
}

#[test]
fn packets_that_are_only_late_do_not_sink_the_camera() {
    // Receiver reports count every packet missing below the highest one received as lost:
    // 3–30 % per report here, where nothing is lost, and the camera ended at its 50 kbit/s
    // floor in every call. With a microphone, RED made it worse: a packet RED rebuilt before
    // its original arrived stays counted lost, and audio's reports said 50–70 %. Over 20 calls
    // each the camera now ends at 214–389 kbit/s, and 196–328 with a microphone (the room
    // left for repairs holds it there: packets this late are lost to str0m as well).
    let alone: Vec<u32> = (1..=4).map(|s| camera_through_jitter(s, false)).collect();
    let talking: Vec<u32> = (5..=8).map(|s| camera_through_jitter(s, true)).collect();
    println!("camera alone: {alone:?} bit/s; with a microphone: {talking:?}");
    // One call in 14 runs of this test ended below 150 kbit/s: the bound is on every call
    // staying clear of the floor, and on the median.
    for mut rates in [alone, talking] {
        rates.sort_unstable();
        assert!(rates[0] >= 120_000 && rates[2] >= 200_000, "{rates:?}");
    }
}

#[test]
fn on_a_lossy_jittery_link_the_camera_leaves_room_for_repairs() {
    // str0m's receiver gives a missing packet up once 100 newer ones are in: at 600 kbit/s
    // that is 1.3 s, about one resend round trip through 0-700 ms of jitter each way, and
    // most packets lost for good had been asked for only twice or three times; each stops
    // the picture until a keyframe. The camera stays where 100 packets span three of the
    // longest recent round trips, and its video goes out twice (a packet is then lost only
    // if both copies are), with parities, and the server asks for what is still missing
    // below SRTP (`roomcast_rtc::fetch`). Freezes vary a lot from call to call, so this
    // counts 40 calls: 0-5 now (the server gets some 2,000 packets a call in answer, most
    // of them only late), about 3.5 before the asks, 71-84 before parities, 108-121 with
    // resends alone, 256-260 with room for one round trip.
    let (mut stops, mut answers) = (0, Vec::new());
    for seed in 1..=40 {
        let (n, answered) = jittery_call(seed, 0);
        stops += n;
        answers.push(answered);
    }
    answers.sort_unstable();
    println!("40 calls: {stops} freezes over 500 ms in their last 40 s; answers {answers:?}");
    assert!(answers[0] >= 200, "packets answered: {answers:?}");
    assert!(stops <= 12, "{stops} freezes");
}

#[test]
fn at_twenty_percent_random_loss_the_camera_neither_freezes_nor_sinks() {
    // Resends alone: 4 freezes over 500 ms in 20 calls, and the camera ended at 91-328
    // kbit/s (every report that showed the loss cut it again). With its packets going out
    // twice once the server has seen three seconds of scattered loss, a packet is lost only
    // if both copies are (4 %), resends bring back the rest and the rate grows, and most
    // cameras end at the 600 kbit/s they want; that still froze 4 times in 96 calls on
    // Alice's link, 7 on Bob's. With parities besides (each packet in two groups of four),
    // a packet lost both times comes back from the rest of a group without a round trip,
    // and what is still missing is asked for below SRTP (`roomcast_rtc::fetch`): none in
    // 384 calls either way.
    let (mut stops, mut rates) = (Vec::new(), Vec::new());
    for seed in 1..=12 {
        let whose = (seed % 2) as usize;
        let lossy = Impairment {
            loss: 0.2,
            ..Impairment::default()
        };
        let w = World::camera_over(seed, whose, lossy, 600_000, 60);
        let shown = w.clients[1].video_shown(w.start);
        let (n, longest) = freezes(&shown, w.now - Duration::from_secs(40), w.now);
        if n > 0 {
            stops.push((seed, whose, n, longest));
        }
        rates.push(w.video_bitrate(0).unwrap_or(0));
        let rebuilt = w.server_stats.video_rebuilt.load(Ordering::Relaxed);
        if whose == 0 {
            assert!(
                rebuilt >= 50,
                "seed {seed}: {rebuilt} packets rebuilt from parity"
            );
        }
    }
    rates.sort_unstable();
    println!("12 calls: freezes {stops:?}; camera at {rates:?} bit/s");
    assert!(
        stops.is_empty(),
        "(seed, whose link, freezes, longest): {stops:?}"
    );
    assert!(rates[6] >= 400_000, "{rates:?}");
}

#[test]
fn on_a_500_kbit_uplink_video_adapts_below_the_cap_and_audio_is_unhurt() {
    // Without the camera following the link: no video at all gets through, and audio plays
    // (RED and a queue always full). With it, over 60 runs: 230-435 kbit/s of video (most
    // 280-390; lower when a cut falls in the window), and 0-2.4 % of audio frames concealed
    // (when a probe for more fills the queue).
    for seed in 1..=6 {
        let r = capped_uplink(seed, 500_000, 30);
        assert!(
            r.adapted_after.is_some_and(|t| t <= Duration::from_secs(5)),
            "seed {seed}: the camera sends more than the link carries until {:?}",
            r.adapted_after
        );
        let (video, frames, concealed) = (r.video_bps, r.audio_frames, r.concealed);
        println!(
            "seed {seed}, last 10 s: {video:.0} bit/s of video, {concealed} of {frames} audio frames concealed"
        );
        assert!(
            (200_000.0..500_000.0).contains(&video),
            "seed {seed}: video uses the link, and no more: {video}"
        );
        assert!(frames >= 490, "seed {seed}: {frames} audio frames played");
        // Until the camera fits, the link loses packets, and Alice's tile says so.
        assert!(
            r.worst_uplink.as_number() >= Quality::Poor.as_number(),
            "seed {seed}: the uplink looked {:?} throughout",
            r.worst_uplink
        );
        assert!(
            concealed * 100 <= frames * 3,
            "seed {seed}: audio unhurt: {concealed} of {frames} concealed"
        );
    }
}

#[test]
fn on_a_wide_link_the_camera_sends_all_it_asks_for() {
    let r = capped_uplink(8, 3_000_000, 20);
    assert_eq!(r.lowest_bps, 1_200_000, "camera held: {r:?}");
}

#[test]
fn a_subscriber_losing_a_fifth_at_random_keeps_its_picture() {
    // Bob's link loses 20 % each way and delays each datagram by 0–700 ms; Alice's is clean.
    // The server used to read his receiver reports (late packets counted lost) as a link too
    // narrow for the video, and sent him keyframes only: 118-140 freezes over 500 ms in 12
    // calls. Bob now tells the server what never arrived; loss that is mostly scattered is
    // his link's own, so he keeps every frame, and the video and its resends go out twice
    // towards him: 9-14 freezes; with parities and his engine asking the server for what
    // is still missing (`roomcast_rtc::fetch`), 0-1.
    let (mut stops, mut shown) = (0, Vec::new());
    for seed in 1..=12 {
        let w = jittery(seed, 1);
        let since = w.now - Duration::from_secs(40);
        let frames = w.clients[1].video_shown(w.start);
        stops += freezes(&frames, since, w.now).0;
        shown.push(frames.iter().filter(|t| **t >= since).count());
    }
    shown.sort_unstable();
    println!("12 calls: {stops} freezes in their last 40 s; frames shown {shown:?}");
    assert!(stops <= 6, "{stops} freezes");
    assert!(
        shown[0] >= 500,
        "Bob got less video: {shown:?} of 600 frames"
    );
}

#[test]
fn a_publisher_losing_in_bursts_keeps_its_picture() {
    // Alice's link loses 17 % each way in runs (four datagrams on average, as a radio does)
    // and delays each datagram by 0–700 ms. Most of that loss follows a packet lost as well,
    // so it used to count as a full link's: no copies, no parities, no asks, only str0m's
    // NACKs, and 282 freezes over 500 ms in 192 calls. Copied, the video goes with parities
    // and the server asks for what is missing, which repair runs too: 26 in 192. Copies
    // waited for three lossy seconds in a row, which in one call in a hundred never came
    // (no parity at all); started on three of the last four, 31 in 384 against 57.
    let (stops, _) = bursty_calls(0, |seed, w| {
        let rebuilt = w.server_stats.video_rebuilt.load(Ordering::Relaxed);
        assert!(
            rebuilt >= 50,
            "seed {seed}: {rebuilt} packets rebuilt from parity"
        );
    });
    assert!(stops <= 6, "{stops} freezes");
}

#[test]
fn a_subscriber_losing_in_bursts_keeps_its_picture() {
    // The same on Bob's link. His receiver reports say his link carries the video (str0m's
    // resends bring most of it back), so its loss in runs is no full queue's, yet it counted
    // as one: the server neither copied the video nor sent parities towards him, and held
    // its resends to one each: 552 freezes over 500 ms in 192 calls. Now his loss counts as
    // his link's own once his reports say it carries the video: 1 in 192.
    let (stops, mut shown) = bursty_calls(1, |_, _| {});
    shown.sort_unstable();
    assert!(stops <= 6, "{stops} freezes");
    assert!(
        shown[0] >= 500,
        "Bob got less video: {shown:?} of 600 frames"
    );
}

#[test]
fn a_subscriber_on_a_narrow_lossy_link_gets_the_small_layer_copied() {
    // Bob's link carries 1 Mbit/s (300 ms of queue), loses 20 % at random and delays each
    // datagram by 0–700 ms, each way; Alice sends 600 kbit/s with a 150 kbit/s small layer.
    // The big layer twice, with parities, does not fit there. The server used to stop the
    // copies and send it once: 77 freezes over 500 ms in 24 calls, the picture 2.4 s
    // behind. Bob now gets the small layer copied: none in 24, 0.9 s behind.
    let mut small = Vec::new();
    let (stops, shown) = twelve_calls(1, narrow_lossy(), true, |_, w| {
        let sizes = w.clients[1].video_sizes(w.now - Duration::from_secs(40));
        small.push(sizes.iter().filter(|&&s| s < 2_000).count() * 100 / sizes.len().max(1));
    });
    println!("% of the small layer: {small:?}");
    assert!(stops <= 6, "{stops} freezes");
    assert!(
        shown.iter().all(|&n| n >= 500),
        "Bob got less video: {shown:?} of 600 frames"
    );
    assert!(
        small.iter().all(|&p| p >= 70),
        "% of the small layer: {small:?}"
    );
}

#[test]
fn a_publisher_on_a_narrow_lossy_link_sends_less_so_that_its_copies_fit() {
    // Alice's link carries 1 Mbit/s (300 ms of queue), loses 20 % at random and delays each
    // datagram by 0–700 ms, each way; her camera wants 600 kbit/s. Her video goes out twice
    // with parities, some 2.6 times the camera, and its copies hide the loss from her
    // receiver reports: whenever her rate grew, they flooded the link for seconds, and the
    // picture froze for up to 6 s (156 freezes over 500 ms in 96 calls). Her camera now
    // grows slowly while copies go, and stays under what fitted once they did not (40), or
    // once the server sees her video wait in a queue after her rate rose (15).
    let mut rates = Vec::new();
    let (stops, shown) = twelve_calls(0, narrow_lossy(), false, |_, w| {
        rates.push(w.video_bitrate(0).unwrap_or(0));
    });
    println!("camera at {rates:?} bit/s");
    assert!(stops <= 6, "{stops} freezes");
    assert!(
        shown.iter().all(|&n| n >= 550),
        "Bob got less video: {shown:?} of 600 frames"
    );
    // Where each call ends: 170-180 kbit/s on average, 80-100 at the least of 480 calls on
    // this machine; one CI run caught a call at 66 kbit/s, its rate just cut for a queue.
    // Sunk is at the floor (`FLOOR_BPS`, 50 kbit/s), where such a camera stayed before its
    // copies were judged.
    let mut sorted = rates.clone();
    sorted.sort_unstable();
    assert!(
        sorted[0] >= 60_000 && sorted[sorted.len() / 2] >= 120_000,
        "the camera sank: {rates:?} bit/s"
    );
}

/// A link that carries 1 Mbit/s (300 ms of queue), loses 20 % at random and delays each
/// datagram by 0–700 ms.
fn narrow_lossy() -> Impairment {
    Impairment {
        loss: 0.2,
        jitter: Duration::from_millis(700),
        rate_bps: Some(1_000_000),
        queue: Duration::from_millis(300),
        ..Impairment::default()
    }
}

/// Twelve calls of Alice's camera (600 kbit/s, with a small layer if `simulcast`) to Bob for
/// a minute, the link of `whose` (Alice 0, Bob 1) impaired as `link` says each way; `check`
/// looks at each. The freezes over 500 ms in their last 40 s, and the frames Bob was shown
/// then.
fn twelve_calls(
    whose: usize,
    link: Impairment,
    simulcast: bool,
    mut check: impl FnMut(u64, &World),
) -> (usize, Vec<usize>) {
    let (mut stops, mut shown) = (0, Vec::new());
    for seed in 1..=12 {
        let w = World::camera_with(seed, whose, link.clone(), (600_000, simulcast), 60);
        check(seed, &w);
        let since = w.now - Duration::from_secs(40);
        let frames = w.clients[1].video_shown(w.start);
        stops += freezes(&frames, since, w.now).0;
        shown.push(frames.iter().filter(|t| **t >= since).count());
    }
    println!("12 calls: {stops} freezes in their last 40 s; frames shown {shown:?}");
    (stops, shown)
}

/// [`twelve_calls`] where the link loses 17 % each way in runs and delays each datagram by
/// 0–700 ms.
fn bursty_calls(whose: usize, check: impl Fn(u64, &World)) -> (usize, Vec<usize>) {
    let bursty = Impairment {
        burst: Some((0.05, 0.25)),
        jitter: Duration::from_millis(700),
        ..Impairment::default()
    };
    twelve_calls(whose, bursty, false, check)
}

/// Alice sends a 600 kbit/s camera to Bob for a minute, the link of `whose` (Alice 0, Bob 1)
/// losing 20 % each way and delaying each datagram by 0–700 ms.
fn jittery(seed: u64, whose: usize) -> World {
    let bad = Impairment {
        loss: 0.2,
        jitter: Duration::from_millis(700),
        ..Impairment::default()
    };
    World::camera_over(seed, whose, bad, 600_000, 60)
}

/// Over the last 40 s of [`jittery`]: the gaps over 500 ms between frames Bob's playout
/// showed, and how many packets of Alice's video the server got in answer to its asks.
fn jittery_call(seed: u64, whose: usize) -> (usize, u64) {
    let w = jittery(seed, whose);
    let since = w.now - Duration::from_secs(40);
    let shown = w.clients[1].video_shown(w.start);
    let answered = w.server_stats.video_answered.load(Ordering::Relaxed);
    (freezes(&shown, since, w.now).0, answered)
}

#[test]
fn after_a_ten_second_outage_the_picture_is_live_again() {
    // Bob's link goes away for 10 s (his signaling stays). When it comes back the server's
    // queue of the last 2 s arrives at once. Held to be shown at their pace, those frames
    // made every later frame wait 1.4-2.5 s for the next 15-25 s.
    let mut w = World::new(1);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    w.publish_video(alice, 300_000);
    let from = w.elapsed() + Duration::from_secs(8);
    let out = Impairment {
        outages: vec![(from, from + Duration::from_secs(10))],
        ..Impairment::default()
    };
    let addr = w.clients[bob].addr;
    w.net.set_link(addr, out.clone(), out);
    let back = w.start + from + Duration::from_secs(10);
    w.run_until(back + Duration::from_secs(10), |_| false);
    let b = &w.clients[bob];
    let shown = b.video_shown(w.start);
    let first = shown.iter().find(|t| **t >= back).map(|t| *t - back);
    let held = b
        .video_received()
        .zip(&shown)
        .filter(|(r, _)| r.at >= back)
        .map(|(r, s)| *s - r.at)
        .max();
    println!("first frame {first:?} after the link came back; longest hold after {held:?}");
    assert!(
        first.is_some_and(|d| d <= Duration::from_secs(2)),
        "{first:?}"
    );
    assert!(
        held.is_some_and(|d| d <= Duration::from_millis(100)),
        "{held:?}"
    );
}

#[test]
fn on_a_link_that_only_reorders_no_packet_is_given_up() {
    // Under 0–700 ms of jitter each way str0m's round trip, one sample at a time, now and
    // then reads tens of milliseconds; it then gave up packets only overtaken, and the
    // picture stopped until a keyframe. In 96 calls of a minute, none lost: 11–21 freezes
    // over 500 ms on Alice's link, 69 (in 16 calls) on Bob's. Held until the gap fills, the
    // packets reach str0m in order. Twenty runs of these 24 calls froze 0–3 times in all
    // (under once on average), each time on Alice's link; four without the hold, 6–13.
    let mut all = Vec::new();
    for seed in 1..=24 {
        let whose = (seed % 2) as usize;
        let jittery = Impairment {
            jitter: Duration::from_millis(700),
            ..Impairment::default()
        };
        let w = World::camera_over(seed, whose, jittery, 600_000, 40);
        let since = w.now - Duration::from_secs(30);
        let shown = w.clients[1].video_shown(w.start);
        let (freezes, longest) = freezes(&shown, since, w.now);
        if freezes > 0 {
            all.push((seed, whose, freezes, longest));
        }
    }
    let total: usize = all.iter().map(|f| f.2).sum();
    assert!(
        total <= 4,
        "freezes (seed, whose link, count, longest): {all:?}"
    );
}
