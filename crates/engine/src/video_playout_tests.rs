use super::*;

const FRAME_US: u64 = 66_667;
const TICKS_PER_FRAME: u64 = 6_000;

/// A seeded xorshift: 0..1.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f64 / 1_000_000.0
    }
}

/// Frames `0..n` at 15 fps, frame `i` arriving at `arrive(i)` µs (made non-decreasing: the
/// server forwards in order). Returns (arrival, shown) µs per frame, running the playout as
/// the decode thread does: handing over each arrival, popping whenever something is due.
fn run(n: u64, arrive: impl Fn(u64) -> u64) -> Vec<(u64, u64)> {
    let mut arrivals: Vec<u64> = (0..n).map(arrive).collect();
    for i in 1..arrivals.len() {
        arrivals[i] = arrivals[i].max(arrivals[i - 1]);
    }
    let mut p = VideoPlayout::default();
    let mut shown = Vec::new();
    let mut next = 0;
    while shown.len() < arrivals.len() {
        let due = p.next_due_us().unwrap_or(u64::MAX);
        let now = arrivals.get(next).copied().unwrap_or(u64::MAX).min(due);
        if arrivals.get(next) == Some(&now) {
            p.push(now, 1_000_000 + next as u64 * TICKS_PER_FRAME, next);
            next += 1;
        }
        while let Some(i) = p.pop(now) {
            assert_eq!(i, shown.len(), "frames leave in the order they came");
            shown.push(now);
        }
    }
    arrivals.into_iter().zip(shown).collect()
}

/// Gaps between consecutive times from frame `from` on, µs.
fn gaps(times: impl Iterator<Item = u64>, from: usize) -> Vec<u64> {
    let t: Vec<u64> = times.skip(from).collect();
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn on_a_clean_link_frames_show_as_they_come() {
    let mut rng = Rng(7);
    let jitter: Vec<u64> = (0..300).map(|_| (rng.next() * 3_000.0) as u64).collect();
    let frames = run(300, |i| i * FRAME_US + 20_000 + jitter[i as usize]);
    let held = frames.iter().map(|(a, s)| s - a).max().unwrap();
    assert!(held <= 3_000, "held {held} µs");
}

#[test]
fn frames_held_back_by_resends_are_shown_at_their_own_pace() {
    // 0–700 ms of jitter on each frame, and one frame in ten waiting 1.2 s more for a
    // resend; the server forwards in order, so the frames behind a late one come with it.
    let mut rng = Rng(11);
    let delay: Vec<u64> = (0..900)
        .map(|_| {
            let resend = if rng.next() < 0.1 { 1_200_000.0 } else { 0.0 };
            (rng.next() * 700_000.0 + resend) as u64
        })
        .collect();
    let frames = run(900, |i| i * FRAME_US + delay[i as usize]);
    // After the first 20 s (the target has seen what this link does).
    let arrived = gaps(frames.iter().map(|f| f.0), 300);
    let shown = gaps(frames.iter().map(|f| f.1), 300);
    let freezes = |g: &[u64]| g.iter().filter(|&&g| g > 500_000).count();
    println!(
        "freezes as they came {}, shown {}; longest shown gap {} µs",
        freezes(&arrived),
        freezes(&shown),
        shown.iter().max().unwrap()
    );
    assert!(freezes(&arrived) >= 10, "the link should have stalled");
    assert_eq!(freezes(&shown), 0);
    // The 1 % the target leaves out come late, briefly.
    let uneven = shown.iter().filter(|&&g| g > 100_000).count();
    assert!(
        uneven * 100 <= 3 * shown.len(),
        "{uneven} uneven: {shown:?}"
    );
    let held = frames.iter().map(|(a, s)| s - a).max().unwrap();
    assert!(held <= MAX_DELAY_US, "held {held} µs");
}

#[test]
fn after_a_late_frame_the_delay_comes_back_down_slowly() {
    let mut p = VideoPlayout::default();
    let (mut now, mut ts) = (0u64, 0u64);
    let mut frames = |p: &mut VideoPlayout<()>, n: usize, late: u64| {
        for _ in 0..n {
            now += FRAME_US;
            ts += TICKS_PER_FRAME;
            p.push(now + late, ts, ());
            while p.pop(u64::MAX).is_some() {}
        }
    };
    frames(&mut p, 30, 0);
    frames(&mut p, 1, 800_000);
    assert!(
        (790.0..=810.0).contains(&p.target_ms()),
        "that late, no stall is left to show: {}",
        p.target_ms()
    );
    // At 15 frames a second the 99.5th percentile of the window's 150 is its latest: the
    // target holds until the late frame (which arrived 0.8 s after its turn) leaves the
    // window, then falls 100 ms a second, not at once.
    frames(&mut p, 160, 0);
    assert!(p.target_ms() >= 790.0, "{}", p.target_ms());
    frames(&mut p, 3, 0);
    let before = p.target_ms();
    assert!(before > 450.0, "{before}");
    frames(&mut p, 15, 0);
    let fell = before - p.target_ms();
    assert!((90.0..=110.0).contains(&fell), "fell {fell} ms in a second");
    frames(&mut p, 120, 0);
    assert!(p.target_ms() < 1.0, "{}", p.target_ms());
}

#[test]
fn a_new_stream_shows_what_was_queued_at_once_and_starts_over() {
    let mut p = VideoPlayout::default();
    p.push(0, 90_000, 'a');
    assert_eq!(p.pop(0), Some('a'));
    // b comes 733 ms late: due already, and the target grows.
    p.push(800_000, 96_000, 'b');
    assert_eq!(p.pop(800_000), Some('b'));
    assert!(p.target_ms() > 500.0, "{}", p.target_ms());
    // c comes on time, so it waits.
    p.push(1_000_000, 180_000, 'c');
    assert_eq!(p.pop(1_000_000), None);
    // Then the stream starts over with other timestamps.
    p.push(1_010_000, 90_000_000, 'd');
    assert_eq!(p.pop(1_010_000), Some('c'));
    assert_eq!(p.pop(1_010_000), Some('d'));
    assert_eq!(p.target_ms(), 0.0);
    assert_eq!(p.queued(), 0);
}

#[test]
fn nothing_is_held_longer_than_the_cap() {
    // A frame 10 s late would make every frame after it wait 10 s.
    let frames = run(400, |i| {
        i * FRAME_US + if i == 100 { 10_000_000 } else { 0 }
    });
    let held = frames.iter().map(|(a, s)| s - a).max().unwrap();
    assert!(held <= MAX_DELAY_US, "held {held} µs");
}

#[test]
fn after_an_outage_the_burst_is_shown_at_once_and_the_delay_stays_short() {
    // 10 s without frames; then the 2 s of frames the sender had queued come at once, and
    // live frames after them at their pace.
    let frames = run(600, |i| match i {
        0..150 => i * FRAME_US,
        150..300 => 20_000_000,
        _ => 20_000_000 + (i - 300) * FRAME_US,
    });
    // The burst is not held to be played at its pace (it would hold every frame after it
    // by 2 s), and live frames show as they come.
    let held: Vec<u64> = frames[150..].iter().map(|(a, s)| s - a).collect();
    assert!(held.iter().all(|h| *h == 0), "held {:?}", &held[..20]);
}

#[test]
fn a_stall_shorter_than_an_outage_is_still_smoothed() {
    // One frame 3.5 s late, the ones behind it with it: those are held to their pace.
    let frames = run(300, |i| {
        if (100..153).contains(&i) {
            100 * FRAME_US + 3_500_000
        } else {
            i * FRAME_US
        }
    });
    let shown = gaps(frames.iter().map(|(_, s)| *s), 153);
    assert!(shown.iter().all(|g| *g <= 2 * FRAME_US), "{shown:?}");
}

/// The playout's target after frames `0..n` at 15 fps, frame `i` arriving `late(i)` µs
/// after its turn.
fn target_after(n: u64, late: impl Fn(u64) -> u64) -> f64 {
    let mut p = VideoPlayout::default();
    let (mut now, mut ts) = (0u64, 0u64);
    for i in 0..n {
        now += FRAME_US;
        ts += TICKS_PER_FRAME;
        p.push(now + late(i), ts, ());
        while p.pop(u64::MAX).is_some() {}
    }
    p.target_ms()
}

#[test]
fn a_short_stall_is_left_to_show_but_not_on_top_of_a_long_hold() {
    // Stalls that recur (frames 30 and 60, 2 s apart) are the link's.
    for (late_ms, target_ms) in [(140, 0.0), (250, 100.0), (375, 300.0), (600, 600.0)] {
        let got = target_after(70, |i| {
            if i == 30 || i == 60 {
                late_ms * 1000
            } else {
                0
            }
        });
        assert!(
            (got - target_ms).abs() < 15.0,
            "frames {late_ms} ms late: target {got} ms, not {target_ms}",
        );
    }
}

#[test]
fn a_lone_stall_in_a_calm_window_is_left_to_show_until_it_recurs() {
    // Frames up to 150 ms late (resends on a loopback), and after 3.3 s one 375 ms late.
    let jitter = |i: u64| (i * 7919 % 11) * 15_000;
    let once = |i: u64| if i == 50 { 375_000 } else { jitter(i) };
    let got = target_after(90, once);
    assert!(got < 1.0, "one stall held later frames {got} ms");
    // Twice within the window, it is covered.
    let twice = |i: u64| if i == 120 { 375_000 } else { once(i) };
    let got = target_after(130, twice);
    assert!(
        (got - 300.0).abs() < 15.0,
        "a recurring stall: target {got} ms"
    );
    // One longer than a freeze is covered at once (the next would freeze too).
    let long = target_after(90, |i| if i == 50 { 600_000 } else { jitter(i) });
    assert!(
        (long - 600.0).abs() < 15.0,
        "one 600 ms stall: target {long} ms"
    );
    // Too soon after the start to know the link calm, it is covered too.
    let early = target_after(40, |i| if i == 20 { 375_000 } else { jitter(i) });
    assert!(early > 200.0, "a stall 1.3 s in: target {early} ms");
}

#[test]
fn the_lone_stall_rule_does_not_apply_where_frames_are_held_for_jitter() {
    // Frames up to 400 ms late all along, and one 480 ms late: no calm window.
    let got = target_after(100, |i| {
        if i == 50 {
            480_000
        } else {
            (i * 7919 % 9) * 50_000
        }
    });
    assert!(got > 450.0, "target {got} ms");
}
