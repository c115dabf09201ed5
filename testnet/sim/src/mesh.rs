//! A gossipsub-like mesh with eager push, lazy IHAVE/IWANT gossip and per-link delay.
//!
//! The model, per message (there is one, published by the origin at time 0):
//! - The overlay is a random `D`-regular graph: each node's mesh peers.
//! - **Eager push.** When a node first receives the message (or publishes it) it sends
//!   the full message to every mesh peer except the one it came from. Later copies
//!   are duplicates and are dropped.
//! - **Lazy gossip.** Each node has a heartbeat every `heartbeat_ms`, at its own random
//!   phase. At each of the first `history_gossip` heartbeats after it received the
//!   message, it sends IHAVE to `D_lazy` peers chosen at random outside its mesh. A
//!   node that gets IHAVE for a message it lacks answers IWANT (at most once per
//!   round trip on the slowest link, so a lost IWANT is retried on a later IHAVE), and
//!   the announcer replies with the full message, which is then handled like an eager
//!   copy.
//! - **Links.** Every message takes the one-way delay of its link. Each link (mesh or
//!   not) has a fixed delay, drawn uniformly from `delay_min_ms..=delay_max_ms` by
//!   hashing the pair. `--loss` drops any message, control or full, at random.
//!
//! The run ends when no event is left, or at `max_time_ms` (then it is marked
//! truncated). Times are milliseconds. Traffic `m` counts full
//! messages (eager copies and IWANT replies); IHAVE and IWANT are reported separately.

use super::algorithm::MeshConfig;
use super::calendar::Calendar;
use super::metrics::{ControlTraffic, Counters, HopStats, NEVER, RunMetrics};
use super::overlay::{Overlay, OverlayError};
use super::params::SimParams;
use super::rng::{SimRng, Stream, chance, mix64, origin, other_than, stream_rng, stream_seed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A full message pushed by a mesh peer.
    Eager,
    /// A full message sent in reply to IWANT.
    Reply,
    /// IHAVE from a non-mesh peer.
    IHave,
    /// IWANT from a node that heard our IHAVE.
    IWant,
    /// One of the node's gossip heartbeats; `arg` heartbeats remain.
    Heartbeat,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    kind: Kind,
    /// The node the event happens at.
    node: u32,
    /// The peer it came from, or the remaining heartbeats.
    arg: u32,
}

/// The fixed one-way delay of the link between `a` and `b`.
#[inline]
fn link_delay(links_seed: u64, a: u32, b: u32, min: u32, span: u64) -> u64 {
    if span == 0 {
        return u64::from(min);
    }
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let key = (u64::from(lo) << 32) | u64::from(hi);
    u64::from(min) + mix64(links_seed ^ key) % (span + 1)
}

struct Mesh<'a> {
    cfg: &'a MeshConfig,
    overlay: Overlay,
    links_seed: u64,
    phase_seed: u64,
    span: u64,
    loss: f64,
    iwant_followup: u64,
    first: Vec<u32>,
    hops: Vec<u16>,
    iwant_at: Vec<u32>,
    reached: u32,
    counters: Counters,
    queue: Calendar<Event>,
    loss_rng: SimRng,
    lazy_rng: SimRng,
    lazy_targets: Vec<u32>,
}

impl Mesh<'_> {
    fn delay(&self, a: u32, b: u32) -> u64 {
        link_delay(self.links_seed, a, b, self.cfg.delay_min_ms, self.span)
    }

    /// Sends `kind` from `from` to `to` now, unless the message is lost.
    fn send(&mut self, now: u64, kind: Kind, from: u32, to: u32) {
        if chance(&mut self.loss_rng, self.loss) {
            return;
        }
        let at = now + self.delay(from, to);
        self.queue.schedule(
            at,
            Event {
                kind,
                node: to,
                arg: from,
            },
        );
    }

    /// `v` has the message from `from` (or publishes it when `from == v`).
    fn accept(&mut self, now: u64, v: u32, from: u32) {
        let t = u32::try_from(now).expect("simulated time fits u32 ms");
        self.first[v as usize] = t;
        self.reached += 1;
        if from != v {
            self.hops[v as usize] = self.hops[from as usize].saturating_add(1);
        }
        for idx in 0..self.overlay.degree() as usize {
            let peer = self.overlay.peers(v)[idx];
            if peer != from {
                self.counters.messages += 1;
                self.send(now, Kind::Eager, v, peer);
            }
        }
        if self.cfg.d_lazy > 0 {
            let hb = u64::from(self.cfg.heartbeat_ms);
            let phase = mix64(self.phase_seed ^ u64::from(v)) % hb;
            let next = if now < phase {
                phase
            } else {
                phase + ((now - phase) / hb + 1) * hb
            };
            self.queue.schedule(
                next,
                Event {
                    kind: Kind::Heartbeat,
                    node: v,
                    arg: self.cfg.history_gossip,
                },
            );
        }
    }

    fn heartbeat(&mut self, now: u64, v: u32, remaining: u32) {
        let n = self.overlay.len();
        self.lazy_targets.clear();
        while self.lazy_targets.len() < self.cfg.d_lazy as usize {
            let u = other_than(&mut self.lazy_rng, n, v);
            if !self.overlay.peers(v).contains(&u) && !self.lazy_targets.contains(&u) {
                self.lazy_targets.push(u);
            }
        }
        for idx in 0..self.lazy_targets.len() {
            let u = self.lazy_targets[idx];
            self.counters.ihave += 1;
            self.send(now, Kind::IHave, v, u);
        }
        if remaining > 1 {
            self.queue.schedule(
                now + u64::from(self.cfg.heartbeat_ms),
                Event {
                    kind: Kind::Heartbeat,
                    node: v,
                    arg: remaining - 1,
                },
            );
        }
    }

    fn handle(&mut self, now: u64, e: Event) {
        let v = e.node;
        match e.kind {
            Kind::Eager | Kind::Reply => {
                self.counters.deliveries += 1;
                if self.first[v as usize] == NEVER {
                    self.accept(now, v, e.arg);
                }
            }
            Kind::IHave => {
                let last = self.iwant_at[v as usize];
                let may_ask = last == NEVER || now - u64::from(last) >= self.iwant_followup;
                if self.first[v as usize] == NEVER && may_ask {
                    self.iwant_at[v as usize] = u32::try_from(now).expect("time fits u32 ms");
                    self.counters.iwant += 1;
                    self.send(now, Kind::IWant, v, e.arg);
                }
            }
            Kind::IWant => {
                self.counters.messages += 1;
                self.send(now, Kind::Reply, v, e.arg);
            }
            Kind::Heartbeat => self.heartbeat(now, v, e.arg),
        }
    }
}

/// Runs one trial of the mesh model.
pub(crate) fn run(
    params: &SimParams,
    cfg: &MeshConfig,
    trial_seed: u64,
) -> Result<RunMetrics, OverlayError> {
    let n = params.nodes();
    let start = origin(trial_seed, n);
    let overlay = Overlay::random_regular(n, cfg.d, &mut stream_rng(trial_seed, Stream::Overlay))?;
    let horizon = cfg.delay_max_ms.max(cfg.heartbeat_ms);
    let mut mesh = Mesh {
        cfg,
        overlay,
        links_seed: stream_seed(trial_seed, Stream::Links),
        phase_seed: stream_seed(trial_seed, Stream::Phases),
        span: u64::from(cfg.delay_max_ms - cfg.delay_min_ms),
        loss: params.loss(),
        iwant_followup: 2 * u64::from(cfg.delay_max_ms) + 1,
        first: vec![NEVER; n as usize],
        hops: vec![0; n as usize],
        iwant_at: vec![NEVER; n as usize],
        reached: 0,
        counters: Counters::default(),
        queue: Calendar::new(horizon),
        loss_rng: stream_rng(trial_seed, Stream::Loss),
        lazy_rng: stream_rng(trial_seed, Stream::Lazy),
        lazy_targets: Vec::with_capacity(cfg.d_lazy as usize),
    };
    mesh.accept(0, start, start);
    let mut spare = Vec::new();
    let mut truncated = false;
    let limit = u64::from(cfg.max_time_ms);
    let mut end = 0u64;
    while let Some((now, mut batch)) = mesh.queue.next_batch(spare) {
        if now > limit {
            truncated = true;
            end = limit;
            break;
        }
        end = now;
        for e in batch.drain(..) {
            mesh.handle(now, e);
        }
        spare = batch;
    }
    let end = end as f64;
    let c = mesh.counters;
    let mut metrics =
        RunMetrics::from_first_seen(&mesh.first, start, c, end, truncated, cfg.sample_ms);
    let nf = f64::from(n);
    metrics.contacts_per_site = (c.messages + c.ihave + c.iwant) as f64 / nf;
    metrics.control = Some(ControlTraffic {
        ihave_per_node: c.ihave as f64 / nf,
        iwant_per_node: c.iwant as f64 / nf,
    });
    let (mut sum, mut max, mut count) = (0u64, 0u16, 0u64);
    for (v, &h) in mesh.hops.iter().enumerate() {
        if mesh.first[v] != NEVER && v != start as usize {
            sum += u64::from(h);
            max = max.max(h);
            count += 1;
        }
    }
    metrics.hops = (count > 0).then(|| HopStats {
        mean: sum as f64 / count as f64,
        max: u32::from(max),
    });
    Ok(metrics)
}

/// The overlay and link delays a trial of the mesh model uses, for tests that check
/// the event engine against shortest paths.
#[cfg(test)]
pub(crate) fn overlay_and_delays(
    n: u32,
    cfg: &MeshConfig,
    trial_seed: u64,
) -> (Overlay, impl Fn(u32, u32) -> u64) {
    let overlay = Overlay::random_regular(n, cfg.d, &mut stream_rng(trial_seed, Stream::Overlay))
        .expect("overlay");
    let links_seed = stream_seed(trial_seed, Stream::Links);
    let (min, span) = (
        cfg.delay_min_ms,
        u64::from(cfg.delay_max_ms - cfg.delay_min_ms),
    );
    (overlay, move |a, b| link_delay(links_seed, a, b, min, span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::trial_seed;
    use crate::selector::AlgoSpec;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    fn params(n: u32, cfg: MeshConfig, loss: f64) -> SimParams {
        SimParams::builder()
            .nodes(n)
            .algo(AlgoSpec::Mesh)
            .mesh(cfg)
            .loss(loss)
            .build()
            .unwrap()
    }

    /// With eager push only, first arrival must be the weighted shortest-path distance
    /// from the origin, and every node but the origin must see exactly D - 1 + ...
    #[test]
    fn eager_push_arrives_along_shortest_paths() {
        let cfg = MeshConfig {
            d: 5,
            d_lazy: 0,
            delay_min_ms: 1,
            delay_max_ms: 40,
            ..MeshConfig::default()
        };
        let n = 2000;
        let p = params(n, cfg, 0.0);
        for trial in 0..3 {
            let seed = trial_seed(p.seed(), trial);
            let m = run(&p, &cfg, seed).unwrap();
            let (g, delay) = overlay_and_delays(n, &cfg, seed);
            let start = origin(seed, n);
            let mut dist = vec![u64::MAX; n as usize];
            let mut heap = BinaryHeap::new();
            dist[start as usize] = 0;
            heap.push(Reverse((0u64, start)));
            while let Some(Reverse((d, v))) = heap.pop() {
                if d > dist[v as usize] {
                    continue;
                }
                for &u in g.peers(v) {
                    let nd = d + delay(v, u);
                    if nd < dist[u as usize] {
                        dist[u as usize] = nd;
                        heap.push(Reverse((nd, u)));
                    }
                }
            }
            let reached = dist.iter().filter(|&&d| d != u64::MAX).count() as u32;
            assert_eq!(m.reached, reached);
            let t_last = dist
                .iter()
                .filter(|&&d| d != u64::MAX)
                .max()
                .copied()
                .unwrap();
            assert_eq!(m.t_last, Some(t_last as f64));
            let mean = dist
                .iter()
                .enumerate()
                .filter(|&(v, &d)| d != u64::MAX && v != start as usize)
                .map(|(_, &d)| d as f64)
                .sum::<f64>()
                / f64::from(reached - 1);
            assert!((m.t_ave.unwrap() - mean).abs() < 1e-9);
            // Every reached node forwards to D - 1 peers (the origin to D): duplicates
            // are exactly n(D - 2) + 2 when everyone is reached.
            if reached == n {
                let expected = (f64::from(n) * f64::from(cfg.d - 2) + 2.0) / f64::from(n);
                assert!((m.duplicates_per_node - expected).abs() < 1e-12);
                assert!(
                    (m.traffic - (f64::from(n) * f64::from(cfg.d - 1) + 1.0) / f64::from(n)).abs()
                        < 1e-12
                );
            }
        }
    }

    #[test]
    fn lazy_gossip_repairs_loss() {
        let eager_only = MeshConfig {
            d: 3,
            d_lazy: 0,
            ..MeshConfig::default()
        };
        let with_gossip = MeshConfig {
            d: 3,
            d_lazy: 6,
            history_gossip: 5,
            ..MeshConfig::default()
        };
        let n = 5000;
        let (mut s_eager, mut s_gossip) = (0.0, 0.0);
        for trial in 0..5 {
            let p = params(n, eager_only, 0.3);
            s_eager += run(&p, &eager_only, trial_seed(p.seed(), trial))
                .unwrap()
                .residue;
            let p = params(n, with_gossip, 0.3);
            s_gossip += run(&p, &with_gossip, trial_seed(p.seed(), trial))
                .unwrap()
                .residue;
        }
        // With 30 % loss and D = 3 the eager tree leaves many nodes out; IHAVE/IWANT
        // reaches most of them.
        assert!(s_eager / 5.0 > 0.05, "eager-only residue {}", s_eager / 5.0);
        assert!(
            s_gossip < s_eager / 4.0,
            "gossip {s_gossip} vs eager {s_eager}"
        );
    }
}
