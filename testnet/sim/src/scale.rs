//! A scale run's results (`scale.json`): one [`ScaleRow`] per node count,
//! measured on real nodes beside the relay-driven simulator's prediction
//! for the same topology, and the fit of c100 against ln n.
//! `rumor-testnet scale` runs it; [`crate::write_scale`] plots it.

use serde::{Deserialize, Serialize};

use crate::results::Summary;

/// One node count: the measured run and the simulated one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleRow {
    /// Nodes.
    pub nodes: usize,
    /// The live graph's diameter at the end.
    pub diameter: Option<usize>,
    /// Measured: transactions' c50 p50 and p99, ms.
    pub c50_p50_ms: Option<f64>,
    /// See `c50_p50_ms`.
    pub c50_p99_ms: Option<f64>,
    /// Measured: c100 p50, ms.
    pub c100_p50_ms: Option<f64>,
    /// Measured: c100 p99, ms.
    pub c100_p99_ms: Option<f64>,
    /// The ideal c100 (eccentricity × per-hop cost), p99, ms.
    pub ideal_p99_ms: Option<f64>,
    /// Measured p99(c100) / p99(ideal).
    pub efficiency_p99: Option<f64>,
    /// Accepted transactions some live node lacked at the end.
    pub lost: usize,
    /// Each node's CPU over the measurement window, mean, ms per s.
    pub node_cpu_ms_per_s: Option<f64>,
    /// The machine's mean busy share over the window, %.
    pub machine_busy_pct: Option<f64>,
    /// Whether the machine was CPU-saturated (the row then measures the
    /// machine, not the protocol).
    pub saturated: bool,
    /// Simulated (same topology, seed and workload): c50 p50, ms.
    pub sim_c50_p50_ms: Option<f64>,
    /// Simulated c100 p50, ms.
    pub sim_c100_p50_ms: Option<f64>,
    /// Simulated c100 p99, ms.
    pub sim_c100_p99_ms: Option<f64>,
    /// Simulated p99 efficiency.
    pub sim_efficiency_p99: Option<f64>,
    /// Seconds the measured run took, start to teardown.
    pub wall_s: f64,
    /// The measured run's results folder, relative to the scale run's.
    pub dir: String,
}

impl ScaleRow {
    /// The row of a measured run (`measured`) and its simulation
    /// (`simulated`, if it could be simulated).
    pub fn of(measured: &Summary, simulated: Option<&Summary>, wall_s: f64, dir: String) -> Self {
        let t = &measured.txs;
        let sim = simulated.map(|s| &s.txs);
        Self {
            nodes: measured.nodes,
            diameter: measured.graph.diameter,
            c50_p50_ms: t.c50_ms.p50,
            c50_p99_ms: t.c50_ms.p99,
            c100_p50_ms: t.c100_ms.p50,
            c100_p99_ms: t.c100_ms.p99,
            ideal_p99_ms: t.ideal_ms.p99,
            efficiency_p99: t.p99_efficiency,
            lost: t.lost,
            node_cpu_ms_per_s: measured.cpu.as_ref().and_then(|c| c.node_mean_ms_per_s),
            machine_busy_pct: measured.cpu.as_ref().map(|c| c.mean_busy_pct),
            saturated: measured.cpu.as_ref().is_some_and(|c| c.saturated),
            sim_c50_p50_ms: sim.and_then(|s| s.c50_ms.p50),
            sim_c100_p50_ms: sim.and_then(|s| s.c100_ms.p50),
            sim_c100_p99_ms: sim.and_then(|s| s.c100_ms.p99),
            sim_efficiency_p99: sim.and_then(|s| s.p99_efficiency),
            wall_s,
            dir,
        }
    }
}

/// The least-squares fit `y = a + b ln n` of a column against n.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogFit {
    /// The intercept, ms.
    pub a: f64,
    /// The slope, ms per e-fold of n.
    pub b: f64,
    /// Points fitted.
    pub points: usize,
}

impl LogFit {
    /// The fit of `points` (n, y); `None` with fewer than two distinct n.
    pub fn of(points: &[(f64, f64)]) -> Option<Self> {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(n, y)| *n > 0.0 && y.is_finite())
            .collect();
        if pts.len() < 2 {
            return None;
        }
        let k = pts.len() as f64;
        let mx = pts.iter().map(|(n, _)| n.ln()).sum::<f64>() / k;
        let my = pts.iter().map(|(_, y)| y).sum::<f64>() / k;
        let (num, den) = pts.iter().fold((0.0, 0.0), |(num, den), (n, y)| {
            let dx = n.ln() - mx;
            (num + dx * (y - my), den + dx * dx)
        });
        (den > 0.0).then(|| Self {
            a: my - num / den * mx,
            b: num / den,
            points: pts.len(),
        })
    }

    /// The fitted value at `n`.
    pub fn at(&self, n: f64) -> f64 {
        self.a + self.b * n.ln()
    }
}

/// A whole scale run (`scale.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scale {
    /// Its id.
    pub id: String,
    /// The relay mode.
    pub relay: crate::results::Relay,
    /// Transactions per run and their rate, tx/s.
    pub txs: usize,
    /// See `txs`.
    pub tx_rate: f64,
    /// One-way link delay, ms.
    pub link_delay_ms: f64,
    /// Links per node.
    pub degree: usize,
    /// Cores of the machine the runs shared.
    pub cores: usize,
    /// One row per node count, in the order run.
    pub rows: Vec<ScaleRow>,
}

impl Scale {
    /// The fit of measured c100 p50 against ln n, over every row or only
    /// those whose machine was not saturated.
    pub fn fit_measured(&self, unsaturated_only: bool) -> Option<LogFit> {
        LogFit::of(
            &self
                .rows
                .iter()
                .filter(|r| !(unsaturated_only && r.saturated))
                .filter_map(|r| r.c100_p50_ms.map(|c| (r.nodes as f64, c)))
                .collect::<Vec<_>>(),
        )
    }

    /// The fit of simulated c100 p50 against ln n.
    pub fn fit_simulated(&self) -> Option<LogFit> {
        LogFit::of(
            &self
                .rows
                .iter()
                .filter_map(|r| r.sim_c100_p50_ms.map(|c| (r.nodes as f64, c)))
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_fit_recovers_its_line_and_needs_two_node_counts() {
        let pts: Vec<(f64, f64)> = [16.0, 64.0, 256.0]
            .iter()
            .map(|n: &f64| (*n, 100.0 + 150.0 * n.ln()))
            .collect();
        let f = LogFit::of(&pts).unwrap();
        assert!(
            (f.a - 100.0).abs() < 1e-6 && (f.b - 150.0).abs() < 1e-6,
            "{f:?}"
        );
        assert_eq!(f.points, 3);
        assert!((f.at(32.0) - (100.0 + 150.0 * 32f64.ln())).abs() < 1e-6);
        assert_eq!(LogFit::of(&pts[..1]), None);
        assert_eq!(LogFit::of(&[(16.0, 1.0), (16.0, 2.0)]), None, "one n");
        assert_eq!(LogFit::of(&[(16.0, 1.0), (32.0, f64::NAN)]), None);
    }
}
