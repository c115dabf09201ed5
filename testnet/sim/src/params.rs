//! Validated simulation parameters.
//!
//! A [`SimParams`] exists only through [`SimParamsBuilder::build`], which checks every
//! rule before any work starts, so a simulation never begins with parameters that make
//! no sense.

use serde::Serialize;
use thiserror::Error;

use super::algorithm::{Algorithm, FanoutPolicy, MeshConfig};
use super::selector::{AlgoSpec, Expansion};

/// The largest population the simulator accepts: node ids are `u32`, and a few arrays
/// hold `n * D` entries.
pub const MAX_NODES: u32 = 1 << 30;

/// The largest link delay or heartbeat, in milliseconds. The mesh model's event queue
/// keeps one bucket per millisecond of its horizon.
pub const MAX_MESH_MS: u32 = 600_000;

/// The longest simulated time a mesh run may be given (one day), which bounds its
/// per-millisecond histogram.
pub const MAX_MESH_RUN_MS: u32 = 86_400_000;

/// How the contacts of one cycle see each other (cycle-based models only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Demers' and Pittel's synchronous cycles: every decision in cycle `t` (who
    /// sends, and whether the partner "already knew" for feedback) uses the state at
    /// the start of cycle `t`. Two sites that push to the same susceptible site in the
    /// same cycle both see it as susceptible.
    #[default]
    Synchronous,
    /// The contacts of a cycle happen one at a time, in a fresh random order each
    /// cycle, and each sees the effects of the earlier ones (the jump chain of Demers'
    /// continuous-time equations). Sites infected during cycle `t` still start
    /// spreading only in cycle `t + 1`.
    Sequential,
}

impl Schedule {
    /// The CLI name.
    pub const fn name(self) -> &'static str {
        match self {
            Schedule::Synchronous => "sync",
            Schedule::Sequential => "sequential",
        }
    }
}

/// A parameter rule that the requested simulation breaks.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ParamError {
    /// `n < 2`: gossip needs someone to talk to.
    #[error("--nodes must be at least 2 (got {0}): a site needs a partner to gossip with")]
    TooFewNodes(u32),
    /// `n` is larger than [`MAX_NODES`].
    #[error("--nodes {0} is larger than the supported maximum of {MAX_NODES}")]
    TooManyNodes(u32),
    /// No trials requested.
    #[error("--trials must be at least 1")]
    NoTrials,
    /// No algorithm selected.
    #[error("no algorithm selected (use --algo)")]
    NoAlgorithms,
    /// A rumor-mongering `k` of 0.
    #[error(
        "--k must be at least 1 (got 0): a counter of 0 stops before the first contact, \
         and a coin of probability 1/0 is meaningless"
    )]
    ZeroK,
    /// No `k` given although a rumor-mongering variant was selected.
    #[error("rumor mongering needs at least one --k value")]
    NoK,
    /// A fan-out of 0.
    #[error("--fanout must be at least 1")]
    ZeroFanout,
    /// A fan-out of `n` or more: there are only `n - 1` other nodes.
    #[error("--fanout {fanout} must be smaller than --nodes {nodes} (a node has only {} peers)", nodes - 1)]
    FanoutTooLarge {
        /// The requested fan-out.
        fanout: u32,
        /// The population size.
        nodes: u32,
    },
    /// A period of 0 ms.
    #[error("--period-ms must be at least 1")]
    ZeroPeriod,
    /// A loss probability outside `[0, 1)` (or NaN).
    #[error("--loss {0} is not a probability in [0, 1) (1 would lose every message)")]
    LossOutOfRange(f64),
    /// A cycle limit of 0.
    #[error("--max-cycles must be at least 1")]
    ZeroMaxCycles,
    /// A mesh degree of 0.
    #[error("--mesh-d must be at least 1")]
    ZeroMeshDegree,
    /// A mesh degree above `n - 1`.
    #[error("--mesh-d {d} is larger than n - 1 = {}: a node has only that many peers", nodes - 1)]
    MeshDegreeTooLarge {
        /// The requested degree.
        d: u32,
        /// The population size.
        nodes: u32,
    },
    /// `n * D` odd: no `D`-regular graph on `n` nodes exists.
    #[error(
        "--nodes {nodes} times --mesh-d {d} is odd, and no {d}-regular graph on {nodes} nodes exists"
    )]
    MeshDegreeParity {
        /// The requested degree.
        d: u32,
        /// The population size.
        nodes: u32,
    },
    /// More lazy-gossip targets than peers outside the mesh.
    #[error(
        "--mesh-d-lazy {d_lazy} is larger than the {available} peers outside a node's mesh (n - 1 - D)"
    )]
    LazyTooLarge {
        /// The requested `D_lazy`.
        d_lazy: u32,
        /// `n - 1 - D`.
        available: u32,
    },
    /// A heartbeat of 0 ms or above [`MAX_MESH_MS`].
    #[error("--heartbeat-ms must be in 1..={MAX_MESH_MS} (got {0})")]
    HeartbeatOutOfRange(u32),
    /// A gossip history of 0 heartbeats while lazy gossip is on.
    #[error("--history-gossip must be at least 1 when --mesh-d-lazy is above 0")]
    ZeroHistoryGossip,
    /// A delay range whose minimum exceeds its maximum.
    #[error("--delay-ms {min}..{max}: the minimum is larger than the maximum")]
    DelayRangeInverted {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// A delay above [`MAX_MESH_MS`].
    #[error("--delay-ms maximum {0} is above the supported {MAX_MESH_MS} ms")]
    DelayTooLarge(u32),
    /// A curve resolution of 0 ms.
    #[error("--sample-ms must be at least 1")]
    ZeroSampleStep,
    /// A mesh time limit of 0 or above [`MAX_MESH_RUN_MS`].
    #[error("--max-time-ms must be in 1..={MAX_MESH_RUN_MS} (got {0})")]
    MaxTimeOutOfRange(u32),
}

/// Everything one simulation needs, checked.
#[derive(Debug, Clone, Serialize)]
pub struct SimParams {
    nodes: u32,
    trials: u32,
    seed: u64,
    schedule: Schedule,
    loss: f64,
    max_cycles: u32,
    algorithms: Vec<Algorithm>,
}

impl SimParams {
    /// A builder with the defaults listed on each of its setters.
    pub fn builder() -> SimParamsBuilder {
        SimParamsBuilder::default()
    }

    /// The number of sites `n`.
    pub const fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Trials per algorithm.
    pub const fn trials(&self) -> u32 {
        self.trials
    }

    /// The master seed.
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// How contacts within a cycle see each other.
    pub const fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// The probability that any one message is lost.
    pub const fn loss(&self) -> f64 {
        self.loss
    }

    /// The cycle (or period) after which a cycle-based run is cut off and marked
    /// truncated.
    pub const fn max_cycles(&self) -> u32 {
        self.max_cycles
    }

    /// The concrete algorithms, in the order they run and are reported.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }
}

/// Builds a [`SimParams`]; [`build`](Self::build) validates everything.
#[derive(Debug, Clone)]
pub struct SimParamsBuilder {
    nodes: u32,
    trials: u32,
    seed: u64,
    schedule: Schedule,
    loss: f64,
    max_cycles: u32,
    specs: Vec<AlgoSpec>,
    ks: Vec<u32>,
    fanout: u32,
    fanout_policy: FanoutPolicy,
    period_ms: u32,
    mesh: MeshConfig,
}

impl Default for SimParamsBuilder {
    fn default() -> Self {
        SimParamsBuilder {
            nodes: 1000,
            trials: 10,
            seed: 1,
            schedule: Schedule::Synchronous,
            loss: 0.0,
            max_cycles: 100_000,
            specs: Vec::new(),
            ks: vec![1],
            fanout: 3,
            fanout_policy: FanoutPolicy::EveryPeriod,
            period_ms: 1000,
            mesh: MeshConfig::default(),
        }
    }
}

impl SimParamsBuilder {
    /// Number of sites `n` (default 1000).
    pub fn nodes(mut self, nodes: u32) -> Self {
        self.nodes = nodes;
        self
    }

    /// Trials per algorithm (default 10).
    pub fn trials(mut self, trials: u32) -> Self {
        self.trials = trials;
        self
    }

    /// Master seed (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Contact schedule within a cycle (default [`Schedule::Synchronous`]).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Probability that a message is lost (default 0).
    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Cut-off for cycle-based runs (default 100 000).
    pub fn max_cycles(mut self, max_cycles: u32) -> Self {
        self.max_cycles = max_cycles;
        self
    }

    /// Adds an algorithm selector (none by default).
    pub fn algo(mut self, spec: AlgoSpec) -> Self {
        self.specs.push(spec);
        self
    }

    /// Adds several algorithm selectors.
    pub fn algos(mut self, specs: impl IntoIterator<Item = AlgoSpec>) -> Self {
        self.specs.extend(specs);
        self
    }

    /// The rumor-mongering `k` values; each selected variant runs once per value
    /// (default `[1]`).
    pub fn ks(mut self, ks: impl IntoIterator<Item = u32>) -> Self {
        self.ks = ks.into_iter().collect();
        self
    }

    /// Fan-out of the fan-out relay (default 3).
    pub fn fanout(mut self, fanout: u32) -> Self {
        self.fanout = fanout;
        self
    }

    /// Sending policy of the fan-out relay (default [`FanoutPolicy::EveryPeriod`]).
    pub fn fanout_policy(mut self, policy: FanoutPolicy) -> Self {
        self.fanout_policy = policy;
        self
    }

    /// Period of the fan-out relay in ms (default 1000).
    pub fn period_ms(mut self, period_ms: u32) -> Self {
        self.period_ms = period_ms;
        self
    }

    /// Mesh model parameters (default [`MeshConfig::default`]).
    pub fn mesh(mut self, mesh: MeshConfig) -> Self {
        self.mesh = mesh;
        self
    }

    /// Checks every rule and expands the selectors into concrete algorithms.
    ///
    /// # Errors
    ///
    /// The first broken rule, as a [`ParamError`] variant naming it. Parameters of an
    /// algorithm family are checked only when that family is selected, except `k`,
    /// the loss probability and the population, which are always checked.
    pub fn build(self) -> Result<SimParams, ParamError> {
        let n = self.nodes;
        if n < 2 {
            return Err(ParamError::TooFewNodes(n));
        }
        if n > MAX_NODES {
            return Err(ParamError::TooManyNodes(n));
        }
        if self.trials == 0 {
            return Err(ParamError::NoTrials);
        }
        if !(0.0..1.0).contains(&self.loss) {
            return Err(ParamError::LossOutOfRange(self.loss));
        }
        if self.max_cycles == 0 {
            return Err(ParamError::ZeroMaxCycles);
        }
        if self.ks.contains(&0) {
            return Err(ParamError::ZeroK);
        }
        if self.specs.is_empty() {
            return Err(ParamError::NoAlgorithms);
        }
        let mut algorithms = Vec::new();
        let expansion = Expansion {
            ks: &self.ks,
            fanout: self.fanout,
            fanout_policy: self.fanout_policy,
            period_ms: self.period_ms,
            mesh: self.mesh,
        };
        for spec in &self.specs {
            let rumor_selected = matches!(spec, AlgoSpec::All | AlgoSpec::Rumor { .. });
            if rumor_selected && self.ks.is_empty() {
                return Err(ParamError::NoK);
            }
            spec.expand(&expansion, &mut algorithms);
        }
        let mut seen = std::collections::HashSet::new();
        algorithms.retain(|a| seen.insert(*a));
        for algo in &algorithms {
            match algo {
                Algorithm::Fanout {
                    fanout, period_ms, ..
                } => {
                    if *fanout == 0 {
                        return Err(ParamError::ZeroFanout);
                    }
                    if *fanout >= n {
                        return Err(ParamError::FanoutTooLarge {
                            fanout: *fanout,
                            nodes: n,
                        });
                    }
                    if *period_ms == 0 {
                        return Err(ParamError::ZeroPeriod);
                    }
                }
                Algorithm::Mesh(m) => validate_mesh(m, n)?,
                Algorithm::AntiEntropy { .. } | Algorithm::Rumor(_) => {}
            }
        }
        Ok(SimParams {
            nodes: n,
            trials: self.trials,
            seed: self.seed,
            schedule: self.schedule,
            loss: self.loss,
            max_cycles: self.max_cycles,
            algorithms,
        })
    }
}

fn validate_mesh(m: &MeshConfig, n: u32) -> Result<(), ParamError> {
    if m.d == 0 {
        return Err(ParamError::ZeroMeshDegree);
    }
    if m.d > n - 1 {
        return Err(ParamError::MeshDegreeTooLarge { d: m.d, nodes: n });
    }
    if (u64::from(n) * u64::from(m.d)) % 2 == 1 {
        return Err(ParamError::MeshDegreeParity { d: m.d, nodes: n });
    }
    let available = n - 1 - m.d;
    if m.d_lazy > available {
        return Err(ParamError::LazyTooLarge {
            d_lazy: m.d_lazy,
            available,
        });
    }
    if m.heartbeat_ms == 0 || m.heartbeat_ms > MAX_MESH_MS {
        return Err(ParamError::HeartbeatOutOfRange(m.heartbeat_ms));
    }
    if m.d_lazy > 0 && m.history_gossip == 0 {
        return Err(ParamError::ZeroHistoryGossip);
    }
    if m.delay_min_ms > m.delay_max_ms {
        return Err(ParamError::DelayRangeInverted {
            min: m.delay_min_ms,
            max: m.delay_max_ms,
        });
    }
    if m.delay_max_ms > MAX_MESH_MS {
        return Err(ParamError::DelayTooLarge(m.delay_max_ms));
    }
    if m.sample_ms == 0 {
        return Err(ParamError::ZeroSampleStep);
    }
    if m.max_time_ms == 0 || m.max_time_ms > MAX_MESH_RUN_MS {
        return Err(ParamError::MaxTimeOutOfRange(m.max_time_ms));
    }
    Ok(())
}
