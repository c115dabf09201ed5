//! The seed document's fan-out relay.
//!
//! Time advances in periods. In each period every node that had the update at the
//! start of the period sends it to up to `fanout` peers, chosen uniformly at random
//! among the peers it has not sent to yet, never to itself and never back to the node
//! it first received the update from. With [`FanoutPolicy::EveryPeriod`] a node keeps
//! doing so every period (until it has sent to everyone) and the run ends when every
//! node has the update; with [`FanoutPolicy::Once`] a node sends only in the period
//! after it first got the update (rumor's one-shot SIR relay with fan-out `D`), and the
//! run ends when nobody has anything left to send.
//!
//! "Never the same peer twice" needs no per-node set: node `v`'s targets are read in
//! order from its own pseudo-random permutation of the node ids (a keyed Feistel
//! network with cycle walking), so each node keeps only a cursor into it.

use serde::Serialize;

use super::algorithm::FanoutPolicy;
use super::metrics::{Counters, NEVER, RunMetrics};
use super::params::SimParams;
use super::rng::{Stream, chance, mix64, origin, stream_rng, stream_seed};

const FEISTEL_ROUNDS: u64 = 6;

/// A keyed pseudo-random permutation of `0..n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    key: u64,
}

impl Permutation {
    /// The permutation of `0..n` selected by `key`.
    pub(crate) fn new(n: u32, key: u64) -> Permutation {
        let bits = (64 - u64::from(n.max(2) - 1).leading_zeros()).max(2);
        Permutation {
            n: u64::from(n),
            half_bits: bits.div_ceil(2),
            key,
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for round in 0..FEISTEL_ROUNDS {
            let f = mix64(self.key ^ (round << 58) ^ right) & mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }

    /// The element at position `index` (`index < n`).
    pub(crate) fn at(&self, index: u32) -> u32 {
        let mut x = self.feistel(u64::from(index));
        while x >= self.n {
            x = self.feistel(x);
        }
        u32::try_from(x).expect("x < n fits u32")
    }
}

/// One period of the fan-out relay, as recorded for the demo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FanoutPeriod {
    /// The period number (the origin has the update at period 0).
    pub period: u32,
    /// Every `(from, to)` send of this period, in order.
    pub sends: Vec<(u32, u32)>,
    /// The nodes that first got the update in this period.
    pub newly_infected: Vec<u32>,
    /// All nodes that have the update at the end of the period, sorted.
    pub infected: Vec<u32>,
}

/// The demo's per-period record of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FanoutTrace {
    /// The number of nodes.
    pub nodes: u32,
    /// The fan-out.
    pub fanout: u32,
    /// The node that had the update at period 0.
    pub origin: u32,
    /// Periods 1, 2, ... in order.
    pub periods: Vec<FanoutPeriod>,
}

/// Runs one trial of the fan-out relay, optionally recording every send.
pub(crate) fn run(
    params: &SimParams,
    fanout: u32,
    policy: FanoutPolicy,
    trial_seed: u64,
    record: bool,
) -> (RunMetrics, Option<FanoutTrace>) {
    let n = params.nodes();
    let start = origin(trial_seed, n);
    let perm_seed = stream_seed(trial_seed, Stream::Permutation);
    let mut loss_rng = stream_rng(trial_seed, Stream::Loss);
    let loss = params.loss();

    let mut first = vec![NEVER; n as usize];
    let mut sender = vec![NEVER; n as usize];
    let mut cursor = vec![0u32; n as usize];
    first[start as usize] = 0;
    let mut reached = 1u32;
    let mut c = Counters::default();
    let mut trace = record.then(|| FanoutTrace {
        nodes: n,
        fanout,
        origin: start,
        periods: Vec::new(),
    });
    let mut t = 0u32;
    let mut truncated = false;
    loop {
        let done = match policy {
            FanoutPolicy::EveryPeriod => reached == n,
            FanoutPolicy::Once => false,
        };
        if done {
            break;
        }
        if t == params.max_cycles() {
            truncated = true;
            break;
        }
        t += 1;
        let mut any_sender = false;
        let mut sends = Vec::new();
        let mut newly = Vec::new();
        for i in 0..n {
            let fi = first[i as usize];
            let active = match policy {
                FanoutPolicy::EveryPeriod => fi < t,
                FanoutPolicy::Once => fi == t - 1,
            };
            if !active || cursor[i as usize] >= n {
                continue;
            }
            let perm = Permutation::new(n, mix64(perm_seed ^ u64::from(i)));
            let mut sent = 0;
            while sent < fanout && cursor[i as usize] < n {
                let x = perm.at(cursor[i as usize]);
                cursor[i as usize] += 1;
                if x == i || x == sender[i as usize] {
                    continue;
                }
                sent += 1;
                any_sender = true;
                c.messages += 1;
                c.contacts += 1;
                if record {
                    sends.push((i, x));
                }
                if chance(&mut loss_rng, loss) {
                    continue;
                }
                c.deliveries += 1;
                if first[x as usize] == NEVER {
                    first[x as usize] = t;
                    sender[x as usize] = i;
                    reached += 1;
                    if record {
                        newly.push(x);
                    }
                }
            }
        }
        if let Some(trace) = trace.as_mut() {
            newly.sort_unstable();
            let infected = (0..n).filter(|&v| first[v as usize] != NEVER).collect();
            trace.periods.push(FanoutPeriod {
                period: t,
                sends,
                newly_infected: newly,
                infected,
            });
        }
        if !any_sender {
            // Nobody could send: with `once`, the last wave is over; with
            // `every-period`, every node has sent to every peer it may.
            t -= 1;
            if let Some(trace) = trace.as_mut() {
                trace.periods.pop();
            }
            break;
        }
    }
    let metrics = RunMetrics::from_first_seen(&first, start, c, f64::from(t), truncated, 1);
    (metrics, trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [2u32, 3, 16, 17, 1000, 4097] {
            for key in [0u64, 1, 0xDEAD_BEEF] {
                let p = Permutation::new(n, key);
                let mut seen = vec![false; n as usize];
                for i in 0..n {
                    let x = p.at(i);
                    assert!(x < n);
                    assert!(!seen[x as usize], "n={n} key={key}: {x} twice");
                    seen[x as usize] = true;
                }
            }
        }
    }

    #[test]
    fn first_target_is_roughly_uniform() {
        // Over many keys, position 0 of a permutation of 0..10 should hit each value
        // about 10 % of the time.
        let n = 10u32;
        let keys = 20_000u64;
        let mut counts = vec![0u32; n as usize];
        for key in 0..keys {
            counts[Permutation::new(n, mix64(key)).at(0) as usize] += 1;
        }
        for (v, &c) in counts.iter().enumerate() {
            // expected 2000, sd ~ 42; allow 6 sd.
            assert!((1750..=2250).contains(&c), "value {v} drawn {c} times");
        }
    }
}
