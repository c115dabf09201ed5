//! Runs trials and averages them.

use serde::Serialize;
use thiserror::Error;

use super::algorithm::{Algorithm, TimeUnit};
use super::fanout::FanoutTrace;
use super::metrics::{RunMetrics, Stat};
use super::overlay::OverlayError;
use super::params::SimParams;
use super::rng::trial_seed;
use super::theory::{Prediction, predict};
use super::{anti_entropy, fanout, mesh, rumor};

/// Why a run could not complete.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RunError {
    /// The random regular overlay could not be built (very dense `D` on tiny `n`).
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    /// [`run_trial`] was asked for an algorithm the parameters do not hold.
    #[error("no algorithm #{index}: the parameters hold {count}")]
    NoSuchAlgorithm {
        /// The index asked for.
        index: usize,
        /// How many algorithms the parameters hold.
        count: usize,
    },
}

/// One trial's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The metrics.
    pub metrics: RunMetrics,
    /// Who sent to whom in each period (fan-out model, when asked for).
    pub trace: Option<FanoutTrace>,
}

/// Runs trial `trial` of `params.algorithms()[algorithm]`. The same
/// `(params.seed(), trial)` gives every algorithm the same origin and the same partner
/// draws.
///
/// `trace` asks the fan-out model to record each period's sends; other models ignore it.
///
/// # Errors
///
/// [`RunError::NoSuchAlgorithm`] for an index out of range, [`RunError::Overlay`] if
/// the mesh overlay cannot be built.
pub fn run_trial(
    params: &SimParams,
    algorithm: usize,
    trial: u32,
    trace: bool,
) -> Result<Trial, RunError> {
    let count = params.algorithms().len();
    let algorithm = params
        .algorithms()
        .get(algorithm)
        .ok_or(RunError::NoSuchAlgorithm {
            index: algorithm,
            count,
        })?;
    let seed = trial_seed(params.seed(), trial);
    let (metrics, trace) = match *algorithm {
        Algorithm::AntiEntropy { direction } => (anti_entropy::run(params, direction, seed), None),
        Algorithm::Rumor(variant) => (rumor::run(params, variant, seed), None),
        Algorithm::Fanout { fanout, policy, .. } => {
            fanout::run(params, fanout, policy, seed, trace)
        }
        Algorithm::Mesh(config) => (mesh::run(params, &config, seed)?, None),
    };
    Ok(Trial { metrics, trace })
}

/// The averages of one algorithm over all trials.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Its stable id.
    pub id: String,
    /// Its human-readable name.
    pub label: String,
    /// The unit of every time below.
    pub unit: TimeUnit,
    /// The number of sites.
    pub nodes: u32,
    /// How many trials ran.
    pub trials: u32,
    /// Residue `s`.
    pub residue: Stat,
    /// Traffic `m` (update-carrying messages per site).
    pub traffic: Stat,
    /// Conversations initiated per site.
    pub contacts_per_site: Stat,
    /// Duplicate copies received per site.
    pub duplicates_per_node: Stat,
    /// `t_ave`.
    pub t_ave: Stat,
    /// `t_last`.
    pub t_last: Stat,
    /// Time to 50 % coverage, over the trials that got there.
    pub coverage_50: Stat,
    /// Time to 90 % coverage, over the trials that got there.
    pub coverage_90: Stat,
    /// Time to 99 % coverage, over the trials that got there.
    pub coverage_99: Stat,
    /// Time to full coverage, over the trials that got there (`count` says how many).
    pub coverage_100: Stat,
    /// When runs ended.
    pub end: Stat,
    /// Trials cut off by `--max-cycles`.
    pub truncated: u32,
    /// IHAVE per node (mesh only).
    pub ihave_per_node: Stat,
    /// IWANT per node (mesh only).
    pub iwant_per_node: Stat,
    /// Mean hop count (mesh only).
    pub hops_mean: Stat,
    /// What theory predicts for this algorithm, where there is a closed form.
    pub theory: Option<Prediction>,
    /// The mean fraction of sites reached at time `i * curve_step` (a trial that ended
    /// earlier keeps its final value).
    pub curve: Vec<f64>,
    /// The time between points of `curve`, in `unit`.
    pub curve_step: u32,
    /// The same curve in gossip periods: cycles, fan-out periods, or for the mesh,
    /// heartbeats (`time / heartbeat`); the x axis of the comparison plot.
    pub curve_period_step: f64,
    /// Every trial's metrics.
    pub runs: Vec<RunMetrics>,
}

impl Summary {
    /// Averages `runs` of `algorithm` under `params`.
    pub fn new(algorithm: Algorithm, params: &SimParams, runs: Vec<RunMetrics>) -> Summary {
        let nodes = params.nodes();
        let trials = u32::try_from(runs.len()).unwrap_or(u32::MAX);
        let stat = |f: &dyn Fn(&RunMetrics) -> Option<f64>| Stat::of(runs.iter().map(f));
        let curve_len = runs.iter().map(|r| r.curve.len()).max().unwrap_or(0);
        let mut curve = vec![0f64; curve_len];
        for r in &runs {
            let last = r.curve.last().copied().unwrap_or(0);
            for (i, slot) in curve.iter_mut().enumerate() {
                *slot += f64::from(r.curve.get(i).copied().unwrap_or(last));
            }
        }
        let denom = f64::from(nodes) * runs.len().max(1) as f64;
        for v in &mut curve {
            *v /= denom;
        }
        let curve_step = runs.first().map_or(1, |r| r.curve_step);
        let curve_period_step = match algorithm {
            Algorithm::Mesh(m) => f64::from(curve_step) / f64::from(m.heartbeat_ms),
            _ => f64::from(curve_step),
        };
        Summary {
            id: algorithm.id(),
            label: algorithm.to_string(),
            unit: algorithm.time_unit(),
            nodes,
            trials,
            residue: stat(&|r| Some(r.residue)),
            traffic: stat(&|r| Some(r.traffic)),
            contacts_per_site: stat(&|r| Some(r.contacts_per_site)),
            duplicates_per_node: stat(&|r| Some(r.duplicates_per_node)),
            t_ave: stat(&|r| r.t_ave),
            t_last: stat(&|r| r.t_last),
            coverage_50: stat(&|r| r.coverage.p50),
            coverage_90: stat(&|r| r.coverage.p90),
            coverage_99: stat(&|r| r.coverage.p99),
            coverage_100: stat(&|r| r.coverage.p100),
            end: stat(&|r| Some(r.end)),
            truncated: u32::try_from(runs.iter().filter(|r| r.truncated).count())
                .unwrap_or(u32::MAX),
            ihave_per_node: stat(&|r| r.control.map(|c| c.ihave_per_node)),
            iwant_per_node: stat(&|r| r.control.map(|c| c.iwant_per_node)),
            hops_mean: stat(&|r| r.hops.map(|h| h.mean)),
            theory: predict(&algorithm, nodes, params.loss()),
            algorithm,
            curve,
            curve_step,
            curve_period_step,
            runs,
        }
    }
}

/// A finished simulation: the parameters and one summary per algorithm.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The crate version that produced the report.
    pub version: &'static str,
    /// The validated parameters.
    pub params: SimParams,
    /// One summary per algorithm, in parameter order.
    pub summaries: Vec<Summary>,
    /// The fan-out model's per-period trace of trial 0, when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_trace: Option<FanoutTrace>,
}

/// Progress of a running simulation, for a caller that wants to show it.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The algorithm being run.
    pub algorithm: &'a Algorithm,
    /// Its position among all algorithms (0-based).
    pub index: usize,
    /// How many algorithms there are.
    pub total: usize,
    /// Trials finished for this algorithm.
    pub trials_done: u32,
}

/// The largest population for which the fan-out model records its per-period trace.
pub const TRACE_MAX_NODES: u32 = 256;

/// Runs every algorithm for every trial.
///
/// # Errors
///
/// The first [`RunError`] of any trial.
pub fn run(
    params: &SimParams,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<Report, RunError> {
    let total = params.algorithms().len();
    let mut summaries = Vec::with_capacity(total);
    let mut fanout_trace = None;
    for (index, algorithm) in params.algorithms().iter().enumerate() {
        let mut runs = Vec::with_capacity(params.trials() as usize);
        for trial in 0..params.trials() {
            let want_trace = trial == 0
                && fanout_trace.is_none()
                && params.nodes() <= TRACE_MAX_NODES
                && matches!(algorithm, Algorithm::Fanout { .. });
            let t = run_trial(params, index, trial, want_trace)?;
            if let Some(trace) = t.trace {
                fanout_trace = Some(trace);
            }
            runs.push(t.metrics);
            on_progress(Progress {
                algorithm,
                index,
                total,
                trials_done: trial + 1,
            });
        }
        summaries.push(Summary::new(*algorithm, params, runs));
    }
    Ok(Report {
        version: env!("CARGO_PKG_VERSION"),
        params: params.clone(),
        summaries,
        fanout_trace,
    })
}
