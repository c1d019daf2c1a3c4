//! How calls fare on bad networks, measured on the virtual network (`roomcast_tests::world`:
//! the real media worker and engine session cores, seeded impairments, virtual time). Writes
//! the "Weak networks" section of docs/BENCHMARKS.md.
//! Run: `cargo bench -p roomcast-tests --bench weak_network`.

use std::time::Duration;

use roomcast_engine::codec::AudioProfile;
use roomcast_tests::pesq::{lag, opus_alone, pesq_wb, speech};
use roomcast_tests::vnet::Impairment;
use roomcast_tests::world::speech::{SpeechRun, speech_call};
use roomcast_tests::world::uplink::{CappedRun, capped_uplink};
use roomcast_tests::world::{World, freezes};

const MARK: &str = "<!-- written by cargo bench -p roomcast-tests --bench weak_network -->";
const SEEDS: u64 = 10;
/// Calls per row of the video table (seeds): a handful said little, freezes come a few a
/// call at most and not every call has one.
const VIDEO_CALLS: u64 = 24;
/// How long a run waits for the first audio before it counts as "never".
const LIMIT: Duration = Duration::from_secs(30);
/// How long audio is counted after it first arrives.
const LISTEN: Duration = Duration::from_secs(20);

struct Run {
    /// From both being in the room to Bob's first audio packet.
    setup: Option<Duration>,
    /// Share of Alice's 20 ms frames in `LISTEN` after that which reached Bob (in a packet of
    /// their own, or recovered from a later one's redundancy).
    delivered: f64,
}

/// Where datagrams are lost.
#[derive(Clone, Copy)]
enum Lossy {
    /// Both users' links, both ways.
    Everywhere,
    /// Only what reaches Bob (a receiver on a bad downlink).
    BobDown,
}

/// Alice publishes audio to Bob; links lose `loss` of datagrams as `lossy` says.
fn run(loss: f64, lossy: Lossy, seed: u64) -> Run {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    let (l, ok) = (Impairment::loss(loss), Impairment::default());
    match lossy {
        Lossy::Everywhere => {
            for c in [alice, bob] {
                let addr = w.clients[c].addr;
                w.net.set_link(addr, l.clone(), l.clone());
            }
        }
        Lossy::BobDown => {
            let addr = w.clients[bob].addr;
            w.net.set_link(addr, ok, l);
        }
    }
    w.publish_audio(alice);
    let start = w.now;
    if !w.run_until(start + LIMIT, |w| w.clients[bob].first_media().is_some()) {
        return Run {
            setup: None,
            delivered: 0.0,
        };
    }
    let first = w.now;
    w.run_for(LISTEN);
    let got = w.clients[bob].frames_between(first, w.now);
    Run {
        setup: Some(first - start),
        delivered: got as f64 / (LISTEN.as_millis() / 20) as f64,
    }
}

/// Bob's link goes down for `outage` after 5 s of a clean call (his WebSocket too if
/// `signaling`, so he must enter again): how long after it comes back Bob hears Alice again
/// (`None`: not within 60 s).
fn recovery(outage: Duration, signaling: bool, seed: u64) -> Option<Duration> {
    let mut w = World::new(seed);
    w.signaling_follows_link = signaling;
    let alice = w.join("alice");
    let bob = w.join("bob");
    let from = w.elapsed() + Duration::from_secs(5);
    let down = Impairment {
        outages: vec![(from, from + outage)],
        ..Impairment::default()
    };
    let addr = w.clients[bob].addr;
    w.net.set_link(addr, down.clone(), down);
    w.publish_audio(alice);
    let back = w.start + from + outage;
    w.run_until(back, |_| false);
    let heard = |w: &World| w.clients[bob].received.last().is_some_and(|r| r.at >= back);
    w.run_until(back + Duration::from_secs(60), heard)
        .then(|| w.clients[bob].received.last().map(|r| r.at - back))
        .flatten()
}

/// Bob's address changes after 5 s of a call whose links (old and new) lose `loss` each way;
/// his WebSocket survives. How long after the change Bob hears Alice again (`None`: not
/// within 30 s).
fn network_change(loss: f64, seed: u64) -> Option<Duration> {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    let new: std::net::SocketAddr = ([10, 0, 2, 7], 41_000).into();
    let l = Impairment::loss(loss);
    for addr in [w.clients[bob].addr, new] {
        w.net.set_link(addr, l.clone(), l.clone());
    }
    w.publish_audio(alice);
    w.run_for(Duration::from_secs(5));
    let changed = w.now;
    w.change_address(bob, new);
    let heard = |w: &World| {
        let b = &w.clients[bob];
        b.received.last().is_some_and(|r| r.at > changed) && b.saw("Reconnecting").is_empty()
    };
    w.run_until(changed + Duration::from_secs(30), heard)
        .then(|| w.clients[bob].received.last().map(|r| r.at - changed))
        .flatten()
}

/// Bob's downlink delays each datagram by up to `jitter`; Alice talks for a minute. Returns
/// the share of Bob's 20 ms frames concealed after the first 20 s, and where the jitter
/// buffer aims at the end (ms).
fn jitter_run(jitter: Duration, seed: u64) -> (f64, f64) {
    let mut w = World::new(seed);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    let jittery = Impairment {
        jitter,
        ..Impairment::default()
    };
    let addr = w.clients[bob].addr;
    w.net.set_link(addr, Impairment::default(), jittery);
    w.run_for(Duration::from_secs(60));
    let s = w.clients[bob].play_audio(w.start, w.now);
    let (early, last) = (&s[19], &s[s.len() - 1]);
    let frames = (last.frames - early.frames).max(1) as f64;
    let concealed = (last.concealed - early.concealed) as f64;
    (concealed / frames, last.jitter_target_ms)
}

/// Over Bob's last 40 s of a video call.
struct VideoRun {
    /// Gaps between frames shown longer than 500 ms, and the longest (ms).
    freezes: usize,
    longest_ms: f64,
    /// The same for frames as str0m handed them over (shown as they came).
    arrived_freezes: usize,
    /// The share of Alice's frames shown.
    share: f64,
    /// How long frames waited to be shown, median (ms).
    held_ms: f64,
    /// What the impaired link carried over the call, both ways (kbit/s, before loss).
    link_kbps: f64,
}

/// Alice sends a 600 kbit/s camera through a link losing `loss` each way (or, `bursty`,
/// 17 % in runs of four datagrams on average) and delaying each datagram by 0–700 ms, for a
/// minute; Bob's frames go through the engine's video playout. `narrow`: the link carries
/// 1 Mbit/s (300 ms of queue), and the camera has a small layer.
fn video_run(whose: usize, (loss, bursty, narrow): (f64, bool, bool), seed: u64) -> VideoRun {
    let bad = Impairment {
        loss,
        burst: bursty.then_some((0.05, 0.25)),
        jitter: Duration::from_millis(700),
        rate_bps: narrow.then_some(1_000_000),
        queue: Duration::from_millis(300),
        ..Impairment::default()
    };
    let w = if narrow {
        World::camera_with(seed, whose, bad, (600_000, true), 60)
    } else {
        World::camera_over(seed, whose, bad, 600_000, 60)
    };
    let since = w.now - Duration::from_secs(40);
    let b = &w.clients[1];
    let arrived: Vec<std::time::Instant> = b.video_received().map(|r| r.at).collect();
    let shown = b.video_shown(w.start);
    let (shown_freezes, longest) = freezes(&shown, since, w.now);
    let (arrived_freezes, _) = freezes(&arrived, since, w.now);
    let count = shown.iter().filter(|t| **t >= since).count();
    let mut held: Vec<f64> = arrived
        .iter()
        .zip(&shown)
        .filter(|(a, _)| **a >= since)
        .map(|(a, s)| (*s - *a).as_secs_f64() * 1000.0)
        .collect();
    held.sort_by(f64::total_cmp);
    let (up, down) = w.net.stats(w.clients[whose].addr);
    VideoRun {
        link_kbps: (up.bytes + down.bytes) as f64 * 8.0 / 60.0 / 1000.0,
        freezes: shown_freezes,
        longest_ms: longest.as_secs_f64() * 1000.0,
        arrived_freezes,
        share: count as f64 / (40.0 * 15.0),
        held_ms: held.get(held.len() / 2).copied().unwrap_or(0.0),
    }
}

/// PESQ-WB of speech through the call on the links the issue names (four seeds each), and
/// of Opus alone; rows of the table.
fn speech_table() -> Vec<String> {
    let (Some(speech), Some(_)) = (speech(25.0), roomcast_tests::pesq::python()) else {
        return vec!["| (espeak-ng, sox or pesq missing: not measured) | | | | |".into()];
    };
    let coded = opus_alone(&speech, AudioProfile::Default.bitrate_bps());
    let shift = lag(&speech, &coded, 4_800);
    let (from, to) = (5 * 48_000, speech.len() - 4_800);
    let alone = pesq_wb(&speech[from..to], &coded[from + shift..to + shift]).unwrap_or(0.0);
    let mut rows = vec![format!("| Opus alone | {alone:.2} | — | — | |")];
    let each_way = |loss: f64| {
        move |w: &mut World, a: usize, b: usize| {
            let bad = Impairment {
                loss,
                ..Impairment::default()
            };
            for i in [a, b] {
                let addr = w.clients[i].addr;
                w.net.set_link(addr, bad.clone(), bad.clone());
            }
        }
    };
    let bursty_each_way = |w: &mut World, a: usize, b: usize| {
        // Bursts start at 5 % of datagrams and end at 25 %: 17 % lost, 4 in a row on average.
        let bad = Impairment {
            burst: Some((0.05, 0.25)),
            ..Impairment::default()
        };
        for i in [a, b] {
            let addr = w.clients[i].addr;
            w.net.set_link(addr, bad.clone(), bad.clone());
        }
    };
    let bob_down = |bad: Impairment| {
        move |w: &mut World, _: usize, b: usize| {
            let addr = w.clients[b].addr;
            w.net.set_link(addr, Impairment::default(), bad.clone());
        }
    };
    type Links = Box<dyn Fn(&mut World, usize, usize)>;
    let cases: Vec<(&str, Links, &str)> = vec![
        ("clean", Box::new(each_way(0.0)), "≥ 4.2"),
        ("10 % loss each way", Box::new(each_way(0.1)), ""),
        ("30 % loss each way", Box::new(each_way(0.3)), "≥ 3.5"),
        ("50 % loss each way", Box::new(each_way(0.5)), ""),
        (
            "bursty loss each way (17 %, runs of 4)",
            Box::new(bursty_each_way),
            "",
        ),
        (
            "70 % loss, Bob's downlink",
            Box::new(bob_down(Impairment {
                loss: 0.7,
                ..Impairment::default()
            })),
            "≥ 3.0",
        ),
        (
            "0–200 ms jitter, Bob's downlink",
            Box::new(bob_down(Impairment {
                jitter: Duration::from_millis(200),
                ..Impairment::default()
            })),
            "",
        ),
        (
            "0–1000 ms jitter, Bob's downlink",
            Box::new(bob_down(Impairment {
                jitter: Duration::from_millis(1000),
                ..Impairment::default()
            })),
            "≥ 3.5",
        ),
    ];
    for (name, links, target) in cases {
        let runs: Vec<SpeechRun> = (1..=4)
            .map(|seed| speech_call(seed, &speech, |w, a, b| links(w, a, b)))
            .collect();
        let cells =
            |f: &dyn Fn(&SpeechRun) -> String| runs.iter().map(f).collect::<Vec<_>>().join(", ");
        let pesq = cells(&|r| r.pesq.map_or("—".into(), |p| format!("{p:.2}")));
        let concealed = cells(&|r| format!("{:.1} %", r.concealed * 100.0));
        let delay = cells(&|r| format!("{:.0}", r.delay_ms));
        eprintln!("speech, {name}: PESQ-WB {pesq}; concealed {concealed}; delay {delay} ms");
        rows.push(format!(
            "| {name} | {pesq} | {concealed} | {delay} | {target} |"
        ));
    }
    rows
}

fn main() {
    let mut jitters = Vec::new();
    for (ms, target) in [(200, ""), (1000, "PESQ-WB ≥ 3.5"), (2000, "")] {
        let runs: Vec<(f64, f64)> = (1..=3)
            .map(|seed| jitter_run(Duration::from_millis(ms), seed))
            .collect();
        let concealed = runs
            .iter()
            .map(|r| format!("{:.1} %", r.0 * 100.0))
            .collect::<Vec<_>>()
            .join(", ");
        let aims = runs
            .iter()
            .map(|r| format!("{:.0}", r.1))
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!("jitter {ms} ms: concealed {concealed}; buffer aims at {aims} ms");
        jitters.push(format!("| 0–{ms} ms | {concealed} | {aims} | {target} |"));
    }
    let mut videos = Vec::new();
    let rows = [
        (0, "Alice's", 0, false, ""),
        (0, "Alice's", 20, false, "no freeze > 500 ms"),
        (0, "Alice's", 40, false, ""),
        (0, "Alice's", 17, true, ""),
        (0, "Alice's 1 Mbit/s", 20, false, ""),
        (1, "Bob's", 0, false, ""),
        (1, "Bob's", 20, false, "no freeze > 500 ms"),
        (1, "Bob's", 40, false, ""),
        (1, "Bob's", 17, true, ""),
        (1, "Bob's 1 Mbit/s (small layer sent)", 20, false, ""),
    ];
    for (whose, name, pct, bursty, target) in rows {
        let loss = if bursty { 0.0 } else { f64::from(pct) / 100.0 };
        let narrow = name.contains("Mbit/s");
        let runs: Vec<VideoRun> = (1..=VIDEO_CALLS)
            .map(|seed| video_run(whose, (loss, bursty, narrow), seed))
            .collect();
        let pct = if bursty {
            format!("{pct} % in runs")
        } else {
            format!("{pct} %")
        };
        let sum = |f: &dyn Fn(&VideoRun) -> usize| runs.iter().map(f).sum::<usize>();
        let (freezes, arrived) = (sum(&|r| r.freezes), sum(&|r| r.arrived_freezes));
        let smooth = runs.iter().filter(|r| r.freezes == 0).count();
        let median = |f: &dyn Fn(&VideoRun) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let worst = runs.iter().map(|r| r.longest_ms).fold(0.0, f64::max);
        let longest = median(&|r| r.longest_ms);
        let share = median(&|r| r.share) * 100.0;
        let held = median(&|r| r.held_ms);
        let kbps = median(&|r| r.link_kbps);
        eprintln!(
            "video, {name} link {pct} + 700 ms: {freezes} freezes ({arrived} as they came) in \
             {VIDEO_CALLS} calls, {smooth} without; longest {longest:.0} ms (worst {worst:.0}); \
             {share:.0} %; held {held:.0} ms; {kbps:.0} kbit/s on the link"
        );
        videos.push(format!(
            "| {name}, {pct} + 0–700 ms | {freezes} ({arrived}) | {smooth} | {longest:.0} \
             ({worst:.0}) | {share:.0} % | {held:.0} | {kbps:.0} | {target} |"
        ));
    }
    let mut uplinks = Vec::new();
    for (kbps, target) in [(300, ""), (500, "audio unhurt"), (1000, "")] {
        let runs: Vec<CappedRun> = (1..=3)
            .map(|seed| capped_uplink(seed, kbps * 1000, 30))
            .collect();
        let cells =
            |f: &dyn Fn(&CappedRun) -> String| runs.iter().map(f).collect::<Vec<_>>().join(", ");
        let adapted = cells(&|r| {
            r.adapted_after
                .map_or("never".into(), |t| format!("{:.1}", t.as_secs_f64()))
        });
        let video = cells(&|r| format!("{:.0}", r.video_bps / 1000.0));
        let concealed = cells(&|r| {
            format!(
                "{:.1} %",
                100.0 * r.concealed as f64 / r.audio_frames.max(1) as f64
            )
        });
        eprintln!(
            "uplink {kbps} kbit/s: below after {adapted} s; video {video} kbit/s; audio concealed {concealed}"
        );
        uplinks.push(format!(
            "| {kbps} kbit/s | {adapted} | {video} | {concealed} | {target} |"
        ));
    }
    let speeches = speech_table();
    let mut recoveries = Vec::new();
    for secs in [2, 10, 30] {
        let times = |signaling| {
            (1..=3)
                .map(|seed| {
                    recovery(Duration::from_secs(secs), signaling, seed)
                        .map_or("never".into(), |d| format!("{:.2}", d.as_secs_f64()))
                })
                .collect::<Vec<String>>()
                .join(", ")
        };
        let (media, all) = (times(false), times(true));
        eprintln!("outage {secs} s: audio back after {media}; entering again: {all}");
        recoveries.push(format!("| {secs} s | {media} | {all} | ≤ 2 s |"));
    }
    let mut changes = Vec::new();
    for (loss, link, target) in [(0.0, "clean", "≤ 2 s"), (0.3, "30 % loss each way", "")] {
        let times: Vec<String> = (1..=3)
            .map(|seed| {
                network_change(loss, seed)
                    .map_or("never".into(), |d| format!("{:.2}", d.as_secs_f64()))
            })
            .collect();
        let times = times.join(", ");
        eprintln!("network change, {link}: audio back after {times}");
        changes.push(format!("| {link} | {times} | {target} |"));
    }
    let mut rows = Vec::new();
    for (loss, lossy, target) in [
        (0.0, Lossy::Everywhere, ""),
        (0.1, Lossy::Everywhere, ""),
        (0.3, Lossy::Everywhere, "≤ 2 s"),
        (0.5, Lossy::Everywhere, ""),
        (0.7, Lossy::Everywhere, "≤ 5 s"),
        (0.3, Lossy::BobDown, "≤ 2 s"),
        (0.7, Lossy::BobDown, "≤ 5 s"),
    ] {
        let runs: Vec<Run> = (1..=SEEDS).map(|seed| run(loss, lossy, seed)).collect();
        let mut setups: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.setup.map(|d| d.as_secs_f64()))
            .collect();
        setups.sort_by(f64::total_cmp);
        let never = runs.len() - setups.len();
        let median = setups
            .get(setups.len() / 2)
            .map_or("—".into(), |s| format!("{s:.2}"));
        let worst = setups.last().map_or("—".into(), |s| format!("{s:.2}"));
        let delivered: Vec<f64> = runs
            .iter()
            .filter(|r| r.setup.is_some())
            .map(|r| r.delivered)
            .collect();
        let mean_delivered = if delivered.is_empty() {
            "—".into()
        } else {
            format!(
                "{:.0} %",
                100.0 * delivered.iter().sum::<f64>() / delivered.len() as f64
            )
        };
        let pct = loss * 100.0;
        let place = match lossy {
            Lossy::Everywhere => "both users, each way",
            Lossy::BobDown => "Bob's downlink only",
        };
        eprintln!(
            "loss {pct:.0} % {place}: setup median {median} s, worst {worst} s, never {never}"
        );
        rows.push(format!(
            "| {pct:.0} % | {place} | {median} | {worst} | {never} of {SEEDS} | {mean_delivered} | {target} |"
        ));
    }
    let section = format!(
        "{MARK}\n## Weak networks (virtual network)\n\n\
         Alice publishes Opus audio to Bob through the real media worker; their links lose the \
         given share of datagrams where the table says (independently, seeded; str0m draws \
         its own randomness for ICE and DTLS, so runs differ a little). Setup is \
         from both being in the room to Bob's first audio packet ({SEEDS} seeds; \"never\": no \
         audio within {} s). Delivered is the share of Alice's 20 ms frames that reached Bob in \
         the {} s after that, in their own packet or recovered from a later packet's RED \
         redundancy (which goes on once receiver reports show loss, within about a second); \
         audio is not retransmitted, but where more is lost in runs than RED reaches (at 50 % \
         and 70 %) each packet goes again 200 ms later.\n\n\
         | loss | where | setup median s | setup worst s | never | audio frames delivered | target |\n\
         |---|---|---|---|---|---|---|\n{}\n\n\
         After an outage of Bob's link (both ways) in a clean call, the time from the network \
         coming back to Bob hearing Alice again (three seeds): when only media is cut (the \
         WebSocket survives, ICE resumes), and when the WebSocket breaks too, so Bob's engine \
         enters the room again (attempts every second at most while the network is out):\n\n\
         | outage | audio back after s (media only) | after s (entering again) | target |\n|---|---|---|---|\n{}\n\n\
         A network change: Bob's address changes mid-call (Wi-Fi to Ethernet) while his \
         WebSocket survives. His engine restarts ICE from the new address (an offer with new \
         ICE credentials; the room, DTLS and m-lines stay), and nobody sees him leave. The time \
         from the change to Bob hearing Alice again (three seeds), when the driver learns of \
         the new address (it looks at the route to the server every second, which a real change adds):\n\n\
         | link | audio back after s | target |\n|---|---|---|\n{}\n\n\
         Jitter on Bob's downlink (each datagram delayed uniformly, so they overtake one \
         another), a minute of Alice's speech played through the engine's real playout on the \
         virtual clock (three seeds): the share of 20 ms frames concealed after the first 20 s, \
         and the delay the jitter buffer aims at in the end. It covers 99.5 % of recent delays, \
         so about 0.5 % conceal by design.\n\n\
         | jitter | frames concealed | buffer aims at ms | target |\n|---|---|---|---|\n{}\n\n\
         Video: Alice's 600 kbit/s camera to Bob, her link or his losing the given share each \
         way (at random, or in runs of four datagrams on average, as a radio does) and delaying \
         each datagram by 0–700 ms ({VIDEO_CALLS} calls, seeded); over Bob's last \
         40 s of a minute, the gaps between frames shown longer than 500 ms in all the calls \
         together, how many calls had none, the longest gap (median over the calls, and the \
         worst), the share of Alice's frames shown (median) (the receiving ends hand video \
         overtaken by later packets to str0m in order, waiting up to 300 ms as recent packets \
         were overtaken; video packets sent twice while the receiving end sees a tenth or more \
         lost at random, with parities in two staggered series of four packets that rebuild what \
         is lost, and what is still missing asked for below SRTP (every 100 ms, answered twice); \
         NACK/RTX resends, sent twice while the link is lossy, and while video is copied NACKs \
         and keyframe requests again every 25 ms for 300 ms; keyframes after holes; above 100 % \
         when the playout's hold shrinks within the 40 s), how long the engine's video playout \
         held a frame (median), and what the impaired link carried both ways (median, kbit/s, \
         all datagrams before loss). Frames are shown when the playout releases them \
         (`video_shown`: the engine's `VideoPlayout` on the virtual clock); in brackets, the \
         freezes if each frame were shown as str0m handed it over, as before the playout. In \
         the rows at 1 Mbit/s that link also carries only 1 Mbit/s (300 ms of queue) and \
         Alice's camera has a 150 kbit/s small layer. On Alice's, her video twice with its \
         parities (some 2.6 times the camera) fits only at 200-250 kbit/s: her camera grows \
         slowly while copies go, and comes down under what fitted when the server's measures \
         say they did not, or that her video waits in a queue (before that: 165 freezes in 96 \
         calls). On Bob's, twice the big \
         layer with its parities does not fit, so the server sends him the small layer twice \
         (held ms includes the flood before it found that out).\n\n\
         | link, loss + jitter | freezes > 500 ms (as they came) | calls without | longest gap ms (worst) | frames | held ms | link kbit/s | target |\n|---|---|---|---|---|---|---|---|\n{}\n\n\
         A narrow uplink: Alice talks and sends a 1.2 Mbit/s camera through an uplink that \
         carries the given rate with 300 ms of queue (three seeds, 30 s): when her camera first \
         sends below the link's rate, and over the last 10 s the video Bob receives and the \
         share of audio frames his playout conceals. Without the camera following the link, \
         no video got through at 500 kbit/s.\n\n\
         | uplink | camera below it after s | video kbit/s | audio concealed | target |\n|---|---|---|---|---|\n{}\n\n\
         Speech: Alice reads 25 s of espeak-ng's speech (48 kHz) to Bob with the Opus bitrate \
         `roomcast join` uses ({} kbit/s); PESQ-WB (ITU-T P.862.2, PyPI `pesq`) of what Bob's \
         speaker played from 5 s on, against what Alice said, aligned by their envelopes (four \
         seeds); the share of frames concealed over the call; mouth-to-ear delay (longer where \
         runs of loss have each packet sent again 200 ms later). Opus alone: the same speech \
         encoded and decoded with no network.\n\n\
         | link | PESQ-WB | concealed | delay ms | target |\n|---|---|---|---|---|\n{}\n",
        LIMIT.as_secs(),
        LISTEN.as_secs(),
        rows.join("\n"),
        recoveries.join("\n"),
        changes.join("\n"),
        jitters.join("\n"),
        videos.join("\n"),
        uplinks.join("\n"),
        AudioProfile::Default.bitrate_bps() / 1000,
        speeches.join("\n")
    );
    roomcast_tests::write_bench_section(MARK, &section);
    println!("{section}");
}
