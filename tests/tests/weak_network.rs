//! Calls on the virtual network (`roomcast_tests::world`): the real worker and session cores,
//! seeded loss, delay and outages, minutes of virtual time in seconds. How setup and delivery
//! fare under loss is measured by `cargo bench -p roomcast-tests --bench weak_network`.

use std::time::{Duration, Instant};

use roomcast_engine::EngineEvent;
use roomcast_engine::quality::Quality;
use roomcast_proto::MediaKind;
use roomcast_tests::vnet::Impairment;
use roomcast_tests::world::uplink::capped_uplink;
use roomcast_tests::world::{World, freezes};

#[test]
fn audio_flows_on_a_clean_network_at_fifty_packets_a_second() {
    let mut w = World::new(1);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    w.run_for(Duration::from_secs(12));
    let b = &w.clients[bob];
    let first = b.first_media().expect("audio arrived") - w.start;
    println!("first audio after {first:?}, {} packets", b.received.len());
    assert!(first < Duration::from_millis(500), "{first:?}");
    let steady = b
        .received
        .iter()
        .filter(|r| r.at - w.start >= Duration::from_secs(2))
        .count();
    assert!((495..=505).contains(&steady), "{steady} packets in 10 s");
}

/// How long until Bob first hears Alice when both users' links lose `loss` each way; None
/// when not within `limit`.
fn setup_time(seed: u64, loss: f64, limit: Duration) -> Option<Duration> {
    setup_time_on(seed, limit, |w, users| {
        for c in users {
            let (addr, l) = (w.clients[c].addr, Impairment::loss(loss));
            w.net.set_link(addr, l.clone(), l);
        }
    })
}

/// How long until Bob first hears Alice on the links `impair` sets for `[alice, bob]`.
fn setup_time_on(
    seed: u64,
    limit: Duration,
    impair: impl FnOnce(&mut World, [usize; 2]),
) -> Option<Duration> {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    impair(&mut w, [alice, bob]);
    w.publish_audio(alice);
    let start = w.now;
    w.run_until(start + limit, |w| w.clients[bob].first_media().is_some())
        .then(|| w.clients[bob].first_media().expect("first audio") - start)
}

#[test]
fn calls_set_up_within_two_seconds_at_thirty_percent_loss() {
    // Both users' links lose 30 % each way. Setup used to take 2.8 s (median) and up to 9 s,
    // with dimpl's 1 s first DTLS resend and str0m's nine STUN resends.
    let mut setups: Vec<Duration> = (1..=5)
        .map(|seed| {
            setup_time(seed, 0.3, Duration::from_secs(20))
                .unwrap_or_else(|| panic!("seed {seed}: no audio in 20 s"))
        })
        .collect();
    setups.sort();
    println!("setup times: {setups:?}");
    assert!(
        setups[2] <= Duration::from_secs(2),
        "median {:?}",
        setups[2]
    );
}

#[test]
fn at_fifty_percent_loss_every_call_sets_up() {
    // A DTLS handshake whose flights keep getting lost waited ever longer between resends
    // (dimpl doubles the wait, without a cap): 3–4 calls in 10 did not set up within 30 s.
    // Now the last flight goes again at least every 500 ms, and after 5 s without a media
    // connection the engine starts over with a fresh one (in 100 seeds: median 2.6 s, 90 %
    // within 4.7 s, slowest 7.6 s; with only the second, once in CI a call did not set up
    // in 25 s).
    let setups: Vec<Option<Duration>> = (1..=10)
        .map(|seed| setup_time(seed, 0.5, Duration::from_secs(25)))
        .collect();
    println!("setup times: {setups:?}");
    assert!(setups.iter().all(Option::is_some), "{setups:?}");
}

#[test]
fn at_seventy_percent_downlink_loss_calls_set_up_within_five_seconds() {
    // Bob's downlink loses 70 %: the answers to his connectivity checks and the server's
    // handshake flights. With checks resent every 500 ms: median 1.8 s, slowest 22.8 s (40
    // seeds); every 250 ms: 1.6 s, 90 % within 6.8 s, slowest 12 s (100 seeds); with the
    // server's final flight also sent again at once: 1.2–1.3 s, 3.2–3.7 s, 6.3–6.9 s.
    // With checks, answers and handshake flights sent three times until connected, every
    // seed sets up within 5 s.
    ten_calls_set_up_within_five_seconds(|seed, limit| {
        setup_time_on(seed, limit, |w, [_, bob]| {
            let addr = w.clients[bob].addr;
            w.net
                .set_link(addr, Impairment::default(), Impairment::loss(0.7));
        })
    });
}

/// Runs `setup` (seed, limit) for ten seeds: each call has audio within 5 s.
fn ten_calls_set_up_within_five_seconds(setup: impl Fn(u64, Duration) -> Option<Duration>) {
    let limit = Duration::from_secs(25);
    let setups: Vec<Duration> = (1..=10)
        .map(|seed| setup(seed, limit).unwrap_or_else(|| panic!("seed {seed}: no audio in 25 s")))
        .collect();
    println!("setup times: {setups:?}");
    assert!(
        setups.iter().all(|s| *s <= Duration::from_secs(5)),
        "{setups:?}"
    );
}

#[test]
fn at_seventy_percent_loss_each_way_calls_set_up_within_five_seconds() {
    // Both users' links lose 70 % each way, so 91 % of Alice's packets never reach Bob and
    // each connection's round trips succeed 9 % of the time. With single checks and
    // flights: median 11 s, 1 call in 10 without audio after 30 s; copies of each check,
    // answer and flight until connected: median 1.2 s, slowest 3.2 s (40 seeds).
    ten_calls_set_up_within_five_seconds(|seed, limit| setup_time(seed, 0.7, limit));
}

/// Alice and Bob talk; both publish audio.
fn call(seed: u64) -> (World, usize, usize) {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    w.publish_audio(bob);
    (w, alice, bob)
}

#[test]
fn a_ten_second_wifi_drop_reenters_and_media_is_back_within_two_seconds() {
    let (mut w, alice, bob) = call(3);
    // Bob's network goes away for 10 s: datagrams and the signaling connection with it.
    w.signaling_follows_link = true;
    let from = w.elapsed() + Duration::from_secs(5);
    let down = Impairment {
        outages: vec![(from, from + Duration::from_secs(10))],
        ..Impairment::default()
    };
    let addr = w.clients[bob].addr;
    w.net.set_link(addr, down.clone(), down);
    let back = w.start + from + Duration::from_secs(10);
    w.run_until(back + Duration::from_secs(10), |_| false);

    let (a, b) = (&w.clients[alice], &w.clients[bob]);
    let after = |c: &roomcast_tests::world::Client| {
        c.received
            .iter()
            .find(|r| r.at >= back)
            .map(|r| r.at - back)
    };
    println!(
        "reconnected {:?} after the network came back; audio back for Bob after {:?}, for Alice after {:?}",
        b.saw("Reconnected")
            .first()
            .map(|t| t.saturating_duration_since(back)),
        after(b),
        after(a)
    );
    assert!(!b.finished, "the call did not end");
    assert_eq!(b.saw("ConnectionLost").len(), 1, "{:?}", b.engine_events);
    assert!(
        b.saw("Reconnecting").len() >= 2,
        "attempts while the network was out"
    );
    assert_eq!(b.saw("Reconnected").len(), 1);
    assert_eq!(b.registry.snapshot().reconnects, 1);
    let two = Duration::from_secs(2);
    assert!(
        b.received_between(back, back + two),
        "Bob hears Alice again"
    );
    assert!(
        a.received_between(back, back + two),
        "Alice hears Bob again"
    );
    // Alice saw Bob's audio pause, not Bob leave and enter again.
    assert!(a.saw("RemoteUserLeave").is_empty(), "{:?}", a.engine_events);
    assert_eq!(a.saw("RemoteUserEnter").len(), 1);
    let delivered_after = |c: &roomcast_tests::world::Client| {
        c.received
            .iter()
            .filter(|r| r.at >= back + two && r.at < back + Duration::from_secs(10))
            .count()
    };
    // 8 s at 50 packets a second: the flow is whole again, not a trickle.
    assert!(delivered_after(a) >= 390, "{}", delivered_after(a));
    assert!(delivered_after(b) >= 390, "{}", delivered_after(b));
}

/// Alice sends audio and a camera, Bob audio; after 5 s Bob's network changes to a new
/// address (his signaling connection survives, as when Wi-Fi and Ethernet are both up).
fn network_change(seed: u64) -> (World, usize, usize, std::time::Instant) {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    w.publish_video(alice, 300_000);
    w.publish_audio(bob);
    w.run_for(Duration::from_secs(5));
    let changed = w.now;
    w.change_address(bob, std::net::SocketAddr::from(([10, 0, 2, 7], 41_000)));
    w.run_for(Duration::from_secs(10));
    (w, alice, bob, changed)
}

#[test]
fn after_a_network_change_ice_restarts_and_media_is_back_within_a_second() {
    let (w, alice, bob, changed) = network_change(5);
    let (a, b) = (&w.clients[alice], &w.clients[bob]);
    let back = |c: &roomcast_tests::world::Client, kind: MediaKind| {
        c.received
            .iter()
            .find(|r| r.at > changed && c.kinds.get(&r.mid) == Some(&kind))
            .map(|r| r.at - changed)
    };
    let (b_audio, b_video, a_audio) = (
        back(b, MediaKind::Audio),
        back(b, MediaKind::Video),
        back(a, MediaKind::Audio),
    );
    println!(
        "after the change: Bob hears Alice after {b_audio:?}, sees her after {b_video:?}; Alice hears Bob after {a_audio:?}"
    );
    let second = Some(Duration::from_secs(1));
    assert!(b_audio.is_some() && b_audio < second, "{b_audio:?}");
    assert!(a_audio.is_some() && a_audio < second, "{a_audio:?}");
    assert!(b_video.is_some() && b_video < second, "{b_video:?}");
    // The same session carried on: no entering again, and Alice saw nobody leave.
    assert!(!b.finished);
    assert!(b.saw("Reconnecting").is_empty(), "{:?}", b.engine_events);
    assert_eq!(b.registry.snapshot().reconnects, 0);
    assert_eq!(b.saw("ConnectionLost").len(), 1);
    assert_eq!(b.saw("ConnectionRecovered").len(), 1);
    assert!(a.saw("RemoteUserLeave").is_empty(), "{:?}", a.engine_events);
    // And the flow is whole again: 8 s of 20 ms frames each way, and Alice's camera.
    let (from, to) = (
        changed + Duration::from_secs(2),
        changed + Duration::from_secs(10),
    );
    assert!(
        a.frames_between(from, to) >= 390,
        "{}",
        a.frames_between(from, to)
    );
    assert!(
        b.frames_between(from, to) >= 390,
        "{}",
        b.frames_between(from, to)
    );
    assert!(
        b.video_bps_between(from, to) > 150_000.0,
        "{}",
        b.video_bps_between(from, to)
    );
}

#[test]
fn a_second_network_change_during_the_first_restart_ends_on_the_last_address() {
    // Two changes at once (Wi-Fi, a hotspot, then Ethernet): the second restart waits for the
    // first one's answer, and media ends up flowing from the last address.
    let (mut w, alice, bob) = call(6);
    w.run_for(Duration::from_secs(3));
    let changed = w.now;
    w.change_address(bob, std::net::SocketAddr::from(([10, 0, 2, 7], 41_000)));
    w.change_address(bob, std::net::SocketAddr::from(([10, 0, 3, 9], 42_000)));
    w.run_for(Duration::from_secs(5));
    let (a, b) = (&w.clients[alice], &w.clients[bob]);
    let heard = |c: &roomcast_tests::world::Client| {
        c.frames_between(changed + Duration::from_secs(1), w.now)
    };
    // 4 s of 20 ms frames each way.
    assert!(heard(a) >= 195, "{}", heard(a));
    assert!(heard(b) >= 195, "{}", heard(b));
    assert!(b.saw("Reconnecting").is_empty(), "{:?}", b.engine_events);
}

#[test]
fn after_a_server_restart_everyone_enters_again() {
    let (mut w, alice, bob) = call(4);
    w.run_for(Duration::from_secs(5));
    w.restart_server();
    let restarted = w.now;
    w.run_for(Duration::from_secs(6));
    for c in [alice, bob] {
        let c = &w.clients[c];
        assert!(!c.finished, "{} stays in the call", c.user);
        assert_eq!(c.registry.snapshot().reconnects, 1, "{}", c.user);
        assert!(
            c.received_between(restarted + Duration::from_secs(2), w.now),
            "{} hears the other again",
            c.user
        );
        let recent = c
            .received
            .iter()
            .filter(|r| r.at >= w.now - Duration::from_secs(3));
        assert!(
            recent.count() >= 140,
            "{} gets the whole flow again",
            c.user
        );
    }
}

/// After 2 s of a call Bob's signaling breaks, and every attempt to enter again is refused
/// with `code`.
fn reentry_refused(seed: u64, code: roomcast_proto::ErrorCode) -> (World, usize) {
    let (mut w, _alice, bob) = call(seed);
    w.run_for(Duration::from_secs(2));
    w.refuse_reentry = Some(code);
    w.drop_signaling(bob);
    (w, bob)
}

#[test]
fn a_refused_reentry_ends_the_call_with_a_clear_error() {
    // A refusal that will not change (here an expired UserSig) is reported and the session
    // ends, rather than retrying for 90 s.
    let (mut w, bob) = reentry_refused(5, roomcast_proto::ErrorCode::UserSigExpired);
    w.run_for(Duration::from_secs(2));
    let b = &w.clients[bob];
    assert!(b.finished);
    let errors: Vec<String> = b
        .engine_events
        .iter()
        .filter_map(|(_, e)| match e {
            roomcast_engine::EngineEvent::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("could not enter the room again") && m.contains("expired")),
        "{errors:?}"
    );
}

#[test]
fn without_a_server_for_ninety_seconds_the_call_ends() {
    let (mut w, bob) = reentry_refused(6, roomcast_proto::ErrorCode::Internal);
    w.run_for(Duration::from_secs(89));
    assert!(!w.clients[bob].finished, "still trying within the window");
    w.run_for(Duration::from_secs(2));
    let b = &w.clients[bob];
    assert!(b.finished);
    assert!(
        b.saw("Reconnecting").len() > 80,
        "about one attempt a second"
    );
}

/// Alice publishes to Bob, whose links lose `up`/`down` of datagrams; runs 30 s after
/// Bob's first audio. Returns the share of Alice's frames Bob got in the last 20 s (none if
/// audio never started).
fn delivered(seed: u64, lossy: &[(usize, f64, f64)]) -> (World, Option<f64>) {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    for &(c, up, down) in lossy {
        let addr = w.clients[c].addr;
        w.net
            .set_link(addr, Impairment::loss(up), Impairment::loss(down));
    }
    w.publish_audio(alice);
    let start = w.now;
    if !w.run_until(start + Duration::from_secs(30), |w| {
        w.clients[bob].first_media().is_some()
    }) {
        return (w, None);
    }
    w.run_for(Duration::from_secs(30));
    let from = w.now - Duration::from_secs(20);
    let share = w.clients[bob].frames_between(from, w.now) as f64 / 1000.0;
    (w, Some(share))
}

#[test]
fn a_clean_call_sends_no_redundancy() {
    let (w, share) = delivered(1, &[]);
    assert!(share.expect("audio") >= 0.99);
    assert_eq!(w.audio_expected_loss(0), 0, "no FEC without loss");
    assert_eq!(uplink_quality(&w, 0), Some(Quality::Excellent));
}

/// The last quality client `i`'s core reported for its own uplink.
fn uplink_quality(w: &World, i: usize) -> Option<Quality> {
    w.clients[i]
        .engine_events
        .iter()
        .rev()
        .find_map(|(_, e)| match e {
            EngineEvent::NetworkQuality(q) => q.iter().find(|(u, _)| u.is_none()).map(|(_, q)| *q),
            _ => None,
        })
}

#[test]
fn at_thirty_percent_loss_each_way_red_recovers_nearly_every_frame() {
    // Without redundancy half of the frames would be gone (0.7 × 0.7 reach Bob); audio has
    // no retransmission.
    let (w, share) = delivered(2, &[(0, 0.3, 0.3), (1, 0.3, 0.3)]);
    let share = share.expect("audio started");
    println!("30 % each way: {:.1} % of frames", share * 100.0);
    assert!(share >= 0.95, "{share}");
    // RED brings a frame back whole from the next packet, where Opus FEC would have been
    // read: FEC would only cost the primary frames their quality.
    assert_eq!(w.audio_expected_loss(0), 0, "no Opus FEC while RED covers");
}

#[test]
fn a_lost_audio_packet_does_not_hold_back_the_ones_after_it() {
    // Alice's uplink loses bursts of packets, more than RED can bring back. What is gone
    // is gone for good, and the server must forward the packets behind it at once: str0m's
    // reordering held up to 15 of them (300 ms) waiting for it, and each such stall pushed
    // Bob's jitter buffer up.
    let mut w = World::new(3);
    let alice = w.join("alice");
    let bob = w.join("bob");
    let bursts = Impairment {
        burst: Some((0.01, 0.15)),
        ..Impairment::default()
    };
    let addr = w.clients[alice].addr;
    w.net.set_link(addr, bursts, Impairment::default());
    w.publish_audio(alice);
    w.run_for(Duration::from_secs(25));
    let c = &w.clients[bob];
    let from = w.now - Duration::from_secs(20);
    let transits: Vec<f64> = c
        .received
        .iter()
        .filter(|r| r.at >= from && c.kinds.get(&r.mid) == Some(&MediaKind::Audio))
        .map(|r| (r.at - w.start).as_secs_f64() * 1000.0 - r.rtp_time as f64 / 48.0)
        .collect();
    let least = transits.iter().copied().fold(f64::MAX, f64::min);
    let most = transits.iter().copied().fold(f64::MIN, f64::max);
    println!(
        "{} packets, transit spread {:.0} ms",
        transits.len(),
        most - least
    );
    assert!(transits.len() >= 800, "{} packets", transits.len());
    // A frame RED brings back comes with a later packet: at most 80 ms (distance 4) late.
    assert!(most - least <= 100.0, "held {:.0} ms", most - least);
}

/// Alice publishes audio with 30 % loss on her uplink (`uplink`) or Bob's downlink: how
/// many of the 150 frames of Bob's first 3 s arrive.
fn first_three_seconds(seed: u64, uplink: bool) -> usize {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    let (lossy, clean) = (Impairment::loss(0.3), Impairment::default());
    if uplink {
        let addr = w.clients[alice].addr;
        w.net.set_link(addr, lossy, clean);
    } else {
        let addr = w.clients[bob].addr;
        w.net.set_link(addr, clean, lossy);
    }
    w.publish_audio(alice);
    let start = w.now;
    assert!(
        w.run_until(start + Duration::from_secs(10), |w| w.clients[bob]
            .first_media()
            .is_some()),
        "no audio"
    );
    let first = w.clients[bob].first_media().expect("first audio");
    w.run_for(Duration::from_secs(4));
    let got = w.clients[bob].frames_between(first, first + Duration::from_secs(3));
    println!("{got} of 150 frames in Bob's first 3 s");
    got
}

#[test]
fn a_new_subscriber_on_a_lossy_downlink_is_protected_from_its_first_packet() {
    // Bob's downlink loses 30 %. His first receiver report reaches the server 2–3 s after
    // his media starts; without redundancy until then, a third of Alice's first words were
    // gone.
    let got = first_three_seconds(5, false);
    // Four earlier frames in every packet: a frame is gone only when five in a row are.
    assert!(got >= 145, "{got} of 150 frames in Bob's first 3 s");
}

#[test]
fn a_publisher_on_a_lossy_uplink_is_protected_from_its_first_packet() {
    // Alice's uplink loses 30 %. The server's first report on her audio reaches her 1–3 s
    // after it starts; without redundancy until then, 109 of her first 150 frames arrived.
    let got = first_three_seconds(6, true);
    assert!(got >= 145, "{got} of 150 frames in Bob's first 3 s");
}

#[test]
fn at_seventy_percent_downlink_loss_nearly_all_the_audio_arrives() {
    // Four earlier frames ride in every packet while the loss lasts, and at this loss each
    // packet goes out three times: a frame is gone only when fifteen packets in a row are.
    // With RED alone (five) 17 % of frames were lost, and 76-83 % arrived; now 98.7-99.6 %.
    // Setup at 70 % loss still fails now and then (str0m's own randomness varies runs): five
    // seeds, at least three must set up.
    let shares: Vec<Option<f64>> = (1..=5)
        .map(|seed| delivered(seed, &[(1, 0.0, 0.7)]).1)
        .collect();
    println!("70 % downlink: {shares:?}");
    let got: Vec<f64> = shares.iter().flatten().copied().collect();
    assert!(
        got.len() >= 3,
        "calls set up in fewer than three of five runs: {shares:?}"
    );
    for s in got {
        assert!(s >= 0.95, "{shares:?}");
    }
}

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
    // come in a burst: shown as they came, the picture stops for more than 500 ms about
    // every two seconds (9-12 times in 20 s; at 20 %, since video goes out twice, only a
    // few times). Bob's video playout holds frames long enough for nearly all of these.
    let bad = Impairment {
        loss: 0.3,
        jitter: Duration::from_millis(700),
        ..Impairment::default()
    };
    let w = World::camera_through(3, bad, 300_000, 40);
    let b = &w.clients[1];
    let since = w.now - Duration::from_secs(20);
    let arrived: Vec<Instant> = b.video_received().map(|r| r.at).collect();
    let shown = b.video_shown(w.start);
    assert_eq!(shown.len(), arrived.len(), "every frame is shown");
    let held = arrived.iter().zip(&shown).map(|(a, s)| *s - *a).max();
    let (came, seen) = (
        freezes(&arrived, since, w.now).0,
        freezes(&shown, since, w.now).0,
    );
    println!("freezes over 20 s: {came} as they came, {seen} shown; longest hold {held:?}");
    assert!(came >= 5, "the link should stall the video: {came}");
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

/// Bob's downlink delays each datagram by `jitter` at most (uniformly: they overtake one
/// another); Alice talks for a minute. Returns Bob's playout statistics each second.
fn played_with_jitter(seed: u64, jitter: Duration) -> Vec<roomcast_engine::stats::AudioStats> {
    let (mut w, _, bob) = call(seed);
    let jittery = Impairment {
        jitter,
        ..Impairment::default()
    };
    let addr = w.clients[bob].addr;
    w.net.set_link(addr, Impairment::default(), jittery);
    w.run_for(Duration::from_secs(60));
    w.clients[bob].play_audio(w.start, w.now)
}

#[test]
fn on_a_clean_network_playout_conceals_nothing_and_stays_short() {
    let s = played_with_jitter(23, Duration::ZERO);
    let last = s.last().expect("a minute of statistics");
    println!("{last:?}");
    assert!(last.frames >= 2_900, "{} frames played", last.frames);
    assert_eq!(last.concealed, 0, "concealed on a clean network");
    assert!(last.jitter_target_ms <= 60.0, "{last:?}");
}

#[test]
fn with_a_second_of_jitter_playout_adapts_and_plays_nearly_everything() {
    let s = played_with_jitter(24, Duration::from_millis(1000));
    // Once adapted (after 20 s), what is played is decoded, not concealed.
    let (early, last) = (&s[19], s.last().expect("a minute of statistics"));
    let frames = last.frames - early.frames;
    let concealed = last.concealed - early.concealed;
    println!(
        "20-60 s: {concealed} of {frames} frames concealed; target {} ms, delay {} ms",
        last.jitter_target_ms, last.jitter_delay_ms
    );
    assert!(frames >= 1_950, "{frames} frames in 40 s");
    // str0m's own audio reordering used to drop one packet in eight (the most delayed) before
    // the jitter buffer saw it: 2,589-2,634 of 3,000 arrived; 2,944-2,948 now.
    assert!(
        last.packets >= 2_850,
        "{} packets reached playout",
        last.packets
    );
    // About 2 % by design (the buffer covers 98 % of delays); 2.2-3.0 % seen.
    assert!(
        concealed * 100 <= frames * 4,
        "{concealed} of {frames} frames concealed"
    );
    // The target follows the last 5 s of delays, so it moves (670-890 ms seen); on a clean
    // link it is 20 ms.
    assert!(
        (500.0..=1_400.0).contains(&last.jitter_target_ms),
        "the buffer covers the jitter, and not much more: {last:?}"
    );
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
    assert!(alone.iter().all(|b| *b >= 150_000), "{alone:?}");
    assert!(talking.iter().all(|b| *b >= 150_000), "{talking:?}");
}

#[test]
fn on_a_lossy_jittery_link_the_camera_leaves_room_for_repairs() {
    // str0m's receiver gives a missing packet up once 100 newer ones are in: at 600 kbit/s
    // that is 1.3 s, about one resend round trip through 0-700 ms of jitter each way, and
    // most packets lost for good had been asked for only twice or three times; each stops
    // the picture until a keyframe. The camera stays where 100 packets span three of the
    // longest recent round trips, and its video goes out twice (a packet is then lost only
    // if both copies are). Freezes vary a lot from call to call (0-14 in 40 s), so this
    // counts 40 calls: 71-84 now, 108-121 with resends alone, 173-202 with room for two
    // round trips, 256-260 without.
    let mut stops = 0;
    for seed in 1..=40 {
        let bad = Impairment {
            loss: 0.2,
            jitter: Duration::from_millis(700),
            ..Impairment::default()
        };
        let w = World::camera_through(seed, bad, 600_000, 60);
        let shown = w.clients[1].video_shown(w.start);
        stops += freezes(&shown, w.now - Duration::from_secs(40), w.now).0;
    }
    println!("40 calls: {stops} freezes over 500 ms in their last 40 s");
    assert!(stops <= 105, "{stops} freezes");
}

#[test]
fn at_twenty_percent_random_loss_the_camera_neither_freezes_nor_sinks() {
    // Resends alone: 4 freezes over 500 ms in 20 calls, and the camera ended at 91-328
    // kbit/s (every report that showed the loss cut it again). With its packets going out
    // twice once the server has seen three seconds of scattered loss, a packet is lost only
    // if both copies are (4 %), resends bring back the rest and the rate grows: 0-2 freezes
    // in 20 calls, and most cameras end at the 600 kbit/s they want.
    let (mut stops, mut rates) = (0, Vec::new());
    for seed in 1..=10 {
        let lossy = Impairment {
            loss: 0.2,
            ..Impairment::default()
        };
        let w = World::camera_through(seed, lossy, 600_000, 60);
        let shown = w.clients[1].video_shown(w.start);
        stops += freezes(&shown, w.now - Duration::from_secs(40), w.now).0;
        rates.push(w.video_bitrate(0).unwrap_or(0));
    }
    rates.sort_unstable();
    println!("10 calls: {stops} freezes; camera at {rates:?} bit/s");
    assert!(stops <= 1, "{stops} freezes");
    assert!(rates[5] >= 400_000, "{rates:?}");
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
fn on_a_clean_network_speech_arrives_as_the_codec_left_it() {
    use roomcast_engine::codec::AudioProfile;
    use roomcast_tests::pesq::{lag, opus_alone, pesq_wb, speech};
    use roomcast_tests::world::speech::speech_call;
    let Some(speech) = speech(25.0) else {
        return;
    };
    let run = speech_call(51, &speech, |_, _, _| {});
    let Some(call) = run.pesq else {
        return;
    };
    let coded = opus_alone(&speech, AudioProfile::Default.bitrate_bps());
    let shift = lag(&speech, &coded, 4_800);
    let (from, to) = (5 * 48_000, speech.len() - 4_800);
    let alone = pesq_wb(&speech[from..to], &coded[from + shift..to + shift]).expect("pesq");
    println!("PESQ-WB through the call {call:.2}, Opus alone {alone:.2}; {run:?}");
    assert_eq!(run.concealed, 0.0, "a clean call conceals nothing: {run:?}");
    // The issue measured 3.7 through a call where Opus alone scored 4.0: the call path cost
    // 0.3. Now it costs nothing.
    assert!(
        call >= alone - 0.1,
        "the call costs {:.2}: {call:.2} vs {alone:.2}",
        alone - call
    );
    assert!(run.delay_ms < 100.0, "mouth to ear {:.0} ms", run.delay_ms);
    // At the default bitrate, what a clean call plays scores what the issue asks.
    assert!(call >= 4.2, "PESQ-WB {call:.2} on a clean call");
}

/// Alice reads speech to Bob through the links `links` sets: PESQ-WB of what Bob heard
/// (None without espeak-ng or the `pesq` package, which the test setup installs).
fn speech_through(
    seed: u64,
    links: impl FnOnce(&mut World, usize, usize),
) -> Option<(f64, roomcast_tests::world::speech::SpeechRun)> {
    let speech = roomcast_tests::pesq::speech(25.0)?;
    let run = roomcast_tests::world::speech::speech_call(seed, &speech, links);
    Some((run.pesq?, run))
}

#[test]
fn at_thirty_percent_loss_each_way_speech_stays_clear() {
    let Some((pesq, run)) = speech_through(4, |w, alice, bob| {
        for i in [alice, bob] {
            let addr = w.clients[i].addr;
            w.net
                .set_link(addr, Impairment::loss(0.3), Impairment::loss(0.3));
        }
    }) else {
        return;
    };
    println!("PESQ-WB at 30 % loss each way {pesq:.2}; {run:?}");
    // Before: 1.8–2.1. The server held audio behind every packet lost for good, Opus spent
    // its bits on FEC that RED made useless, and the jitter buffer spliced 20 ms into words
    // each time its target moved.
    assert!(pesq >= 3.2, "PESQ-WB {pesq:.2}: {run:?}");
    assert!(run.delay_ms < 250.0, "mouth to ear {:.0} ms", run.delay_ms);
}

#[test]
fn at_seventy_percent_downlink_loss_speech_stays_clear() {
    let Some((pesq, run)) = speech_through(2, |w, _, bob| {
        let addr = w.clients[bob].addr;
        w.net
            .set_link(addr, Impairment::default(), Impairment::loss(0.7));
    }) else {
        return;
    };
    println!("PESQ-WB at 70 % downlink loss {pesq:.2}; {run:?}");
    // With RED alone: 1.24-1.35 (a fifth of the frames concealed).
    assert!(pesq >= 3.0, "PESQ-WB {pesq:.2}: {run:?}");
}
