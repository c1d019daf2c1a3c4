//! A simulated network for sans-IO tests: datagrams between addresses, each endpoint's link
//! with its own loss (random or bursty), delay, jitter (which reorders), bandwidth cap and
//! outages, all driven by a virtual clock and a seeded generator, so a run is repeatable and
//! minutes of network take milliseconds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What one direction of a link does to datagrams.
#[derive(Debug, Clone, Default)]
pub struct Impairment {
    /// Chance of losing each datagram, 0..1.
    pub loss: f64,
    /// Bursty loss (Gilbert–Elliott): the chances per datagram of a burst starting and of it
    /// ending; inside a burst every datagram is lost.
    pub burst: Option<(f64, f64)>,
    pub delay: Duration,
    /// Extra delay, uniform in 0..jitter per datagram (datagrams overtake one another).
    pub jitter: Duration,
    /// Bandwidth cap in bit/s: datagrams queue behind one another, and are dropped when the
    /// queue would hold more than `queue` of sending time.
    pub rate_bps: Option<u64>,
    pub queue: Duration,
    /// Windows (from the network's start) in which nothing gets through.
    pub outages: Vec<(Duration, Duration)>,
}

impl Impairment {
    pub fn loss(p: f64) -> Self {
        Self {
            loss: p,
            ..Self::default()
        }
    }
}

/// A datagram on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

/// Counts per direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub dropped_by_cap: u64,
    /// Bytes of the datagrams sent (lost ones too).
    pub bytes: u64,
}

struct Direction {
    imp: Impairment,
    /// Each direction draws from its own stream, so what one link loses does not depend on
    /// how its datagrams interleave with other links' (the order peers are polled in).
    rng: Rng,
    in_burst: bool,
    /// When the cap's queue is empty again.
    busy_until: Option<Instant>,
    stats: LinkStats,
}

struct Link {
    up: Direction,
    down: Direction,
}

impl Link {
    fn new(seed: u64, addr: SocketAddr) -> Self {
        let mut h = seed ^ 0x5eed;
        for b in addr.to_string().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let dir = |k: u64| Direction {
            imp: Impairment::default(),
            rng: Rng(h ^ k),
            in_burst: false,
            busy_until: None,
            stats: LinkStats::default(),
        };
        Self {
            up: dir(1),
            down: dir(2),
        }
    }
}

/// SplitMix64: small, fast and good enough to draw losses and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..1.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct Network {
    start: Instant,
    seed: u64,
    links: HashMap<SocketAddr, Link>,
    /// (arrival, order sent, datagram)
    flight: BinaryHeap<Reverse<(Instant, u64, Slot)>>,
    sent: u64,
}

/// A datagram in the heap, ordered by nothing (time and sequence decide).
struct Slot(Datagram);

impl PartialEq for Slot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Slot {}
impl PartialOrd for Slot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Slot {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Network {
    pub fn new(start: Instant, seed: u64) -> Self {
        Self {
            start,
            seed,
            links: HashMap::new(),
            flight: BinaryHeap::new(),
            sent: 0,
        }
    }

    /// Sets what `addr`'s link does to datagrams it sends (`up`) and receives (`down`).
    /// Addresses without a link get a perfect one.
    pub fn set_link(&mut self, addr: SocketAddr, up: Impairment, down: Impairment) {
        let seed = self.seed;
        let link = self
            .links
            .entry(addr)
            .or_insert_with(|| Link::new(seed, addr));
        link.up.imp = up;
        link.down.imp = down;
    }

    /// (sent by, sent to) counts of `addr`'s link.
    pub fn stats(&self, addr: SocketAddr) -> (LinkStats, LinkStats) {
        self.links
            .get(&addr)
            .map(|l| (l.up.stats, l.down.stats))
            .unwrap_or_default()
    }

    /// Datagrams lost or dropped by a cap, on every link.
    pub fn lost(&self) -> u64 {
        self.links
            .values()
            .flat_map(|l| [&l.up.stats, &l.down.stats])
            .map(|s| s.lost + s.dropped_by_cap)
            .sum()
    }

    /// Whether `addr`'s link is in an outage (either way) at `now`.
    pub fn is_out(&self, addr: SocketAddr, now: Instant) -> bool {
        let t = now.saturating_duration_since(self.start);
        self.links.get(&addr).is_some_and(|l| {
            [&l.up, &l.down].iter().any(|d| {
                d.imp
                    .outages
                    .iter()
                    .any(|&(from, to)| (from..to).contains(&t))
            })
        })
    }

    /// Sends a datagram at `now`; it arrives later, or never.
    pub fn send(&mut self, now: Instant, d: Datagram) {
        let size = d.data.len();
        let Some(t) = self.pass(d.from, true, now, size) else {
            return;
        };
        let Some(t) = self.pass(d.to, false, t, size) else {
            return;
        };
        self.sent += 1;
        self.flight.push(Reverse((t, self.sent, Slot(d))));
    }

    /// One direction of one link: when the datagram leaves it, or `None` if lost.
    fn pass(&mut self, addr: SocketAddr, up: bool, now: Instant, size: usize) -> Option<Instant> {
        let (start, seed) = (self.start, self.seed);
        let link = self
            .links
            .entry(addr)
            .or_insert_with(|| Link::new(seed, addr));
        let dir = if up { &mut link.up } else { &mut link.down };
        dir.stats.sent += 1;
        dir.stats.bytes += size as u64;
        let since = now.saturating_duration_since(start);
        let out = dir
            .imp
            .outages
            .iter()
            .any(|&(from, to)| (from..to).contains(&since));
        if let Some((enter, leave)) = dir.imp.burst {
            let p = if dir.in_burst { leave } else { enter };
            if dir.rng.unit() < p {
                dir.in_burst = !dir.in_burst;
            }
        }
        let random = dir.imp.loss > 0.0 && dir.rng.unit() < dir.imp.loss;
        if out || dir.in_burst || random {
            dir.stats.lost += 1;
            return None;
        }
        let mut t = now;
        if let Some(rate) = dir.imp.rate_bps {
            let begin = dir.busy_until.map_or(now, |b| b.max(now));
            if begin.saturating_duration_since(now) > dir.imp.queue {
                dir.stats.dropped_by_cap += 1;
                return None;
            }
            let sending = Duration::from_secs_f64(size as f64 * 8.0 / rate.max(1) as f64);
            dir.busy_until = Some(begin + sending);
            t = begin + sending;
        }
        let jitter = dir.imp.jitter.mul_f64(dir.rng.unit());
        Some(t + dir.imp.delay + jitter)
    }

    /// When the next datagram arrives, if any is on its way.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.flight.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next datagram that has arrived by `now`.
    pub fn receive(&mut self, now: Instant) -> Option<Datagram> {
        if self.next_arrival()? > now {
            return None;
        }
        self.flight.pop().map(|Reverse((_, _, Slot(d)))| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    /// Sends `n` datagrams of `size` bytes from a to b, one every `every`; returns
    /// (arrival, index) in arrival order.
    fn run(net: &mut Network, n: u64, size: usize, every: Duration) -> Vec<(Instant, u64)> {
        let t0 = net.start;
        let mut got = Vec::new();
        for i in 0..n {
            let now = t0 + every * i as u32;
            while let Some(d) = net.receive(now) {
                got.push((now, u64::from_le_bytes(d.data[..8].try_into().unwrap())));
            }
            let mut data = vec![0u8; size.max(8)];
            data[..8].copy_from_slice(&i.to_le_bytes());
            let (from, to) = (addr(1), addr(2));
            net.send(now, Datagram { from, to, data });
        }
        while let Some(t) = net.next_arrival() {
            let d = net.receive(t).unwrap();
            got.push((t, u64::from_le_bytes(d.data[..8].try_into().unwrap())));
        }
        got
    }

    #[test]
    fn random_loss_is_near_its_rate_and_repeatable() {
        let t0 = Instant::now();
        let mut a = Network::new(t0, 7);
        a.set_link(addr(1), Impairment::loss(0.3), Impairment::default());
        let got = run(&mut a, 10_000, 100, Duration::from_millis(20));
        let lost = 1.0 - got.len() as f64 / 10_000.0;
        assert!((lost - 0.3).abs() < 0.02, "lost {lost}");
        let mut b = Network::new(t0, 7);
        b.set_link(addr(1), Impairment::loss(0.3), Impairment::default());
        assert_eq!(got, run(&mut b, 10_000, 100, Duration::from_millis(20)));
        assert_eq!(a.stats(addr(1)).0.lost, 10_000 - got.len() as u64);
    }

    #[test]
    fn bursty_loss_loses_runs() {
        let mut net = Network::new(Instant::now(), 1);
        let burst = Impairment {
            burst: Some((0.05, 0.25)),
            ..Impairment::default()
        };
        net.set_link(addr(2), Impairment::default(), burst);
        let got = run(&mut net, 10_000, 100, Duration::from_millis(20));
        let ids: Vec<u64> = got.iter().map(|g| g.1).collect();
        let gaps: Vec<u64> = ids
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|&g| g > 0)
            .collect();
        let mean_run = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
        // Bursts last 1 / 0.25 = 4 datagrams on average; the loss rate is 0.05 / 0.30.
        assert!((3.0..5.0).contains(&mean_run), "mean burst {mean_run}");
        let lost = 1.0 - ids.len() as f64 / 10_000.0;
        assert!((0.12..0.22).contains(&lost), "lost {lost}");
    }

    #[test]
    fn delay_and_jitter_bound_arrival_and_reorder() {
        let mut net = Network::new(Instant::now(), 3);
        let imp = Impairment {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(200),
            ..Impairment::default()
        };
        net.set_link(addr(1), imp, Impairment::default());
        let every = Duration::from_millis(20);
        let t0 = net.start;
        let got = run(&mut net, 1000, 100, every);
        assert_eq!(got.len(), 1000);
        for &(t, i) in &got {
            let sent = t0 + every * i as u32;
            let transit = t - sent;
            assert!(transit >= Duration::from_millis(50), "{transit:?}");
            assert!(transit <= Duration::from_millis(270), "{transit:?}");
        }
        let reordered = got.windows(2).filter(|w| w[1].1 < w[0].1).count();
        assert!(reordered > 100, "only {reordered} reordered");
    }

    #[test]
    fn a_cap_limits_throughput_and_drops_what_does_not_fit() {
        let mut net = Network::new(Instant::now(), 5);
        let cap = Impairment {
            rate_bps: Some(500_000),
            queue: Duration::from_millis(200),
            ..Impairment::default()
        };
        net.set_link(addr(1), cap, Impairment::default());
        // 1000-byte datagrams every 8 ms: 1 Mbit/s offered into 500 kbit/s for 10 s.
        let got = run(&mut net, 1250, 1000, Duration::from_millis(8));
        let span = (got.last().unwrap().0 - got[0].0).as_secs_f64();
        let rate = got.len() as f64 * 8000.0 / span;
        assert!((450_000.0..=510_000.0).contains(&rate), "{rate} bit/s");
        assert!(net.stats(addr(1)).0.dropped_by_cap > 500);
    }

    #[test]
    fn an_outage_drops_everything_inside_its_window() {
        let mut net = Network::new(Instant::now(), 9);
        let out = Impairment {
            outages: vec![(Duration::from_secs(2), Duration::from_secs(4))],
            ..Impairment::default()
        };
        net.set_link(addr(1), out, Impairment::default());
        let got = run(&mut net, 300, 100, Duration::from_millis(20));
        let ids: Vec<u64> = got.iter().map(|g| g.1).collect();
        assert_eq!(ids.len(), 200);
        assert!(ids.iter().all(|&i| !(100..200).contains(&i)));
        assert!(net.is_out(addr(1), net.start + Duration::from_secs(3)));
    }
}
