//! The large-scale gossip simulator (`rumor-testnet sim`).
//!
//! It reproduces the classical epidemic-protocol results of Demers et al. (1987) and
//! extends them to rumor's own relay styles, at 10^3..10^6 sites on one core:
//!
//! | module | what it holds |
//! |---|---|
//! | `params` | [`SimParams`], its validating builder and [`ParamError`] |
//! | `algorithm` | [`Algorithm`]: every model with its parameters |
//! | `selector` | the `--algo` syntax, [`AlgoSpec`], and its expansion |
//! | `rng` | seeds and independent random streams per trial |
//! | `anti_entropy` | push / pull / push-pull anti-entropy (SI) in synchronous cycles |
//! | `rumor` | rumor mongering (SIR): feedback/blind × counter/coin |
//! | `fanout` | the seed document's fan-out relay and its per-period trace |
//! | `overlay`, `calendar`, `mesh` | the gossipsub-like mesh: random regular overlay, millisecond event queue, eager push + IHAVE/IWANT |
//! | `metrics` | per-run metrics ([`RunMetrics`]) with Demers' names, and [`Stat`] |
//! | `runner` | trials, averages ([`Summary`]) and the [`Report`] |
//! | `theory` | the closed forms the tests compare against |
//! | `output`, `plot` | terminal table, JSON, CSV and the SVG chart |
//!
//! A cycle-based run (anti-entropy, rumor, fan-out) costs O(n) memory and O(n) work
//! per cycle; the mesh costs O(n D) memory and O(messages) work.

mod algorithm;
mod anti_entropy;
mod calendar;
mod fanout;
mod mesh;
mod metrics;
mod output;
mod overlay;
mod params;
mod plot;
mod rng;
mod rumor;
mod runner;
mod selector;
mod theory;

pub use algorithm::{
    Algorithm, Direction, FanoutPolicy, MeshConfig, Removal, RumorVariant, TimeUnit, Trigger,
};
pub use fanout::{FanoutPeriod, FanoutTrace};
pub use metrics::{COVERAGE_LEVELS, ControlTraffic, Coverage, HopStats, RunMetrics, Stat};
pub use output::{
    OutputError, Written, render_csv, render_json, render_rounds_csv, render_table, render_trace,
    write_outputs,
};
pub use overlay::OverlayError;
pub use params::{
    MAX_MESH_MS, MAX_MESH_RUN_MS, MAX_NODES, ParamError, Schedule, SimParams, SimParamsBuilder,
};
pub use plot::{PlotError, render_svg};
pub use runner::{Progress, Report, RunError, Summary, TRACE_MAX_NODES, Trial, run, run_trial};
pub use selector::{AlgoSpec, AlgoSpecError};
pub use theory::{
    Prediction, final_size_residue, pittel_rounds, predict, pull_next_susceptible, residue_blind,
    residue_feedback_coin,
};
