//! Calls on the virtual network (`roomcast_tests::world`): the real worker and session cores,
//! seeded loss, delay and outages, minutes of virtual time in seconds. How setup and delivery
//! fare under loss is measured by `cargo bench -p roomcast-tests --bench weak_network`.

use std::time::Duration;

use roomcast_engine::EngineEvent;
use roomcast_engine::quality::Quality;
use roomcast_proto::MediaKind;
use roomcast_tests::vnet::Impairment;
use roomcast_tests::world::World;

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
    let late = transits.iter().filter(|t| **t - least > 100.0).count();
    println!(
        "{} packets, transit spread {:.0} ms, {late} over 100 ms",
        transits.len(),
        most - least
    );
    assert!(transits.len() >= 800, "{} packets", transits.len());
    // A frame RED brings back comes with a later packet: at most 80 ms (distance 4) late.
    // Runs longer than RED reaches are sent again 200 ms later (`roomcast_rtc::spread`):
    // those few come that late, and nothing waits longer.
    let spread = 200.0; // roomcast_rtc::spread::SPREAD_AFTER
    assert!(late * 100 <= transits.len() * 3, "{late} held over 100 ms");
    assert!(most - least <= spread + 40.0, "held {:.0} ms", most - least);
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

#[test]
fn on_links_that_lose_in_runs_audio_goes_again_later_and_little_is_lost() {
    // Both links lose 17 % of datagrams in runs of four on average (some of ten and more).
    // RED's earlier frames (four then) could not bring back the fifth of a run: 6-11 % of the
    // frames were concealed. Sent again 200 ms later, each is lost only if a run covers both.
    let bursty = Impairment {
        burst: Some((0.05, 0.25)),
        ..Impairment::default()
    };
    let mut concealed = Vec::new();
    for seed in [31, 32] {
        let (mut w, _, bob) = call(seed);
        for i in [0, bob] {
            let addr = w.clients[i].addr;
            w.net.set_link(addr, bursty.clone(), bursty.clone());
        }
        w.run_for(Duration::from_secs(40));
        let s = w.clients[bob].play_audio(w.start, w.now);
        let (early, last) = (&s[s.len() - 21], s.last().expect("statistics"));
        let share = (last.concealed - early.concealed) as f64 / (last.frames - early.frames) as f64;
        concealed.push(share);
    }
    println!("concealed over the last 20 s: {concealed:?}");
    assert!(concealed.iter().all(|c| *c <= 0.025), "{concealed:?}");
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
