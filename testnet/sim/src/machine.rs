//! Whether a run measured the protocol or the machine: [`MachineCpu`], the
//! host's CPU over a run's measurement window (`summary.json` `cpu`), and
//! the rule that calls a run CPU-saturated.
//!
//! On one machine every node shares its cores. Once they are all busy,
//! work waits for a core and every hop gets slower: c100 then grows with
//! the number of nodes because the machine ran out, not because the
//! protocol did (issue 19: efficiency 1.16 at 64 nodes, 2.93 at 128 with
//! both cores busy). A run is flagged when all cores were at least
//! [`SATURATED_BUSY`] busy for at least [`SATURATED_SHARE`] of its window.

use serde::{Deserialize, Serialize};

use crate::results::Percentiles;

/// The share of all cores busy, 0–1, at or above which a sample counts as
/// saturated: a little idle time remains while runnable work queues.
pub const SATURATED_BUSY: f64 = 0.9;
/// The share of a window's samples, 0–1, that must be saturated for the run
/// to be flagged: a burst at the start of a run is not enough, a third of
/// it is.
pub const SATURATED_SHARE: f64 = 0.33;

/// The machine's CPU during a run's measurement window (from the workload's
/// start until every node held every object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineCpu {
    /// Cores the machine has.
    pub cores: usize,
    /// Length of the window, s.
    pub window_s: f64,
    /// Samples of the whole machine's busy share taken in it.
    pub samples: usize,
    /// Mean share of all cores busy, %.
    pub mean_busy_pct: f64,
    /// Share of the samples with at least [`SATURATED_BUSY`] of all cores
    /// busy, %.
    pub saturated_time_pct: f64,
    /// Whether the machine was CPU-saturated (see the module docs): the
    /// run's latencies then measure the machine, not the protocol.
    pub saturated: bool,
    /// CPU each node used over the window, ms per s (p50, p90, p99, max;
    /// nodes restarted in the window are left out).
    pub node_ms_per_s: Percentiles,
    /// The mean of that over nodes, ms per s.
    pub node_mean_ms_per_s: Option<f64>,
}

impl MachineCpu {
    /// Judges a window of `window_s` seconds on `cores` cores from its
    /// samples of the machine's busy share (each 0–1) and each node's CPU
    /// over it (ms per s). With no samples nothing is known and nothing is
    /// flagged.
    pub fn judge(cores: usize, window_s: f64, busy: &[f64], node_ms_per_s: &[f64]) -> Self {
        let valid: Vec<f64> = busy.iter().copied().filter(|b| b.is_finite()).collect();
        let saturated_samples = valid.iter().filter(|b| **b >= SATURATED_BUSY).count();
        let share = if valid.is_empty() {
            0.0
        } else {
            saturated_samples as f64 / valid.len() as f64
        };
        let mean = if valid.is_empty() {
            0.0
        } else {
            valid.iter().sum::<f64>() / valid.len() as f64
        };
        let nodes: Vec<f64> = node_ms_per_s
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        Self {
            cores,
            window_s,
            samples: valid.len(),
            mean_busy_pct: 100.0 * mean,
            saturated_time_pct: 100.0 * share,
            saturated: !valid.is_empty() && share >= SATURATED_SHARE,
            node_ms_per_s: Percentiles::of(&nodes),
            node_mean_ms_per_s: (!nodes.is_empty())
                .then(|| nodes.iter().sum::<f64>() / nodes.len() as f64),
        }
    }

    /// One line for the terminal table.
    pub fn line(&self) -> String {
        let nodes = self.node_mean_ms_per_s.map_or_else(String::new, |m| {
            format!(
                "; per node {m:.1} ms/s mean, {:.1} max",
                self.node_ms_per_s.max.unwrap_or(m)
            )
        });
        let verdict = if self.saturated {
            " — CPU-SATURATED: these latencies measure this machine, not the protocol"
        } else {
            ""
        };
        format!(
            "machine: {} cores, {:.0} % busy on average, ≥ {:.0} % busy for {:.0} % of the {:.1} s window{nodes}{verdict}",
            self.cores,
            self.mean_busy_pct,
            SATURATED_BUSY * 100.0,
            self.saturated_time_pct,
            self.window_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_saturated_only_when_all_cores_stay_busy_for_a_good_part_of_it() {
        // Busy all along: flagged.
        let all = MachineCpu::judge(2, 10.0, &[0.97; 40], &[7.0, 9.0]);
        assert!(all.saturated);
        assert_eq!(all.saturated_time_pct, 100.0);
        assert_eq!(all.node_mean_ms_per_s, Some(8.0));
        assert_eq!(all.node_ms_per_s.max, Some(9.0));
        assert!(all.line().contains("CPU-SATURATED"), "{}", all.line());
        // A burst of a quarter of the window: not flagged.
        let mut burst = vec![0.99; 10];
        burst.extend([0.3; 30]);
        let b = MachineCpu::judge(2, 10.0, &burst, &[]);
        assert!(!b.saturated, "{b:?}");
        assert_eq!(b.saturated_time_pct, 25.0);
        assert!(!b.line().contains("SATURATED"));
        // Half the window at or above 90 %: flagged; 89 % is not busy enough.
        let mut half = vec![0.9; 20];
        half.extend([0.5; 20]);
        assert!(MachineCpu::judge(2, 10.0, &half, &[]).saturated);
        let below = MachineCpu::judge(2, 10.0, &[0.89; 40], &[]);
        assert!(!below.saturated);
        assert!((below.mean_busy_pct - 89.0).abs() < 1e-9);
        // Nothing sampled: nothing known, nothing flagged.
        let none = MachineCpu::judge(2, 0.0, &[], &[]);
        assert!(!none.saturated);
        assert_eq!(none.node_mean_ms_per_s, None);
        assert_eq!(none.node_ms_per_s.n, 0);
    }
}
