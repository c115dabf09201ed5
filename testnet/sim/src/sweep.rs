//! A knee sweep's results (`sweep.json`): one [`Step`] per (relay mode,
//! offered rate), and each mode's knee. `rumor-testnet sweep` runs it;
//! [`crate::write_sweep`] plots it.

use serde::{Deserialize, Serialize};

use crate::results::{Relay, Summary};

/// The share of the injected load a mode may refuse and still be said to
/// carry it: admission control refuses a little at the edge of capacity,
/// but a mode that turns away more than this has not carried the rate,
/// however fast the rest went.
pub const KNEE_MAX_REFUSED: f64 = 0.05;

/// One step of a sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// The mode.
    pub relay: Relay,
    /// The offered rate, tx/s.
    pub offered: f64,
    /// Submitted, tx/s.
    pub injected: f64,
    /// Accepted at their origin, tx/s.
    pub accepted: f64,
    /// Refused as busy, tx/s.
    pub refused: f64,
    /// Accepted transactions some live node lacked at the end.
    pub lost: usize,
    /// Transactions refused as busy.
    pub refused_txs: usize,
    /// Transactions injected.
    pub injected_txs: usize,
    /// c100 p50, ms.
    pub c100_p50_ms: Option<f64>,
    /// c100 p99, ms.
    pub c100_p99_ms: Option<f64>,
    /// How long the network took to settle after the workload, s.
    pub settle_s: f64,
    /// The step's results folder, relative to the sweep's.
    pub dir: String,
}

impl Step {
    /// The step of `relay` at `offered` tx/s, from its run's summary; its
    /// results folder is `dir`.
    pub fn of(relay: Relay, offered: f64, s: &Summary, dir: String) -> Self {
        let r = s.rates.unwrap_or_default();
        Self {
            relay,
            offered,
            injected: r.injected,
            accepted: r.accepted,
            refused: r.refused,
            lost: s.txs.lost,
            refused_txs: s.txs.refused,
            injected_txs: s.txs.injected,
            c100_p50_ms: s.txs.c100_ms.p50,
            c100_p99_ms: s.txs.c100_ms.p99,
            settle_s: s.settle_s,
            dir,
        }
    }

    /// Whether the mode carried this rate: c100 p99 under `bound_ms`, lost
    /// 0, at most [`KNEE_MAX_REFUSED`] of the injected refused.
    pub fn carried(&self, bound_ms: f64) -> bool {
        self.lost == 0
            && self.c100_p99_ms.is_some_and(|p| p < bound_ms)
            && (self.refused_txs as f64) <= KNEE_MAX_REFUSED * self.injected_txs.max(1) as f64
    }
}

/// A whole sweep (`sweep.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sweep {
    /// The sweep's id.
    pub id: String,
    /// The knee's latency bound, ms.
    pub knee_p99_ms: f64,
    /// Nodes per run.
    pub nodes: usize,
    /// Seconds of workload per run.
    pub duration_s: f64,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
}

impl Sweep {
    /// `relay`'s knee: the highest offered rate it carried, if any.
    pub fn knee(&self, relay: Relay) -> Option<f64> {
        self.steps
            .iter()
            .filter(|s| s.relay == relay && s.carried(self.knee_p99_ms))
            .map(|s| s.offered)
            .max_by(f64::total_cmp)
    }

    /// The modes swept, in order.
    pub fn relays(&self) -> Vec<Relay> {
        let mut out: Vec<Relay> = Vec::new();
        for s in &self.steps {
            if !out.contains(&s.relay) {
                out.push(s.relay);
            }
        }
        out
    }
}
