//! rumor-sim: the large-scale gossip simulator (front end: `rumor-testnet sim`).
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
//! | [`net`] | the relay-driven mode: every node runs rumor's `Relay`, over simulated links and CPUs |
//! | `output`, `plot` | terminal table, JSON, CSV and the SVG chart |
//!
//! Shared with the testnet (`rumor-testnet run` writes them from real nodes):
//!
//! | module | what it holds |
//! |---|---|
//! | `results` | the results schema: [`RunSummary`] (`summary.json`), [`ObjectRow`] (`objects.csv`), [`Relay`], [`Topology`], [`Kind`], [`FaultEvent`] |
//! | `results_io` | reading and writing those files, and the terminal tables |
//! | `cdf` | `cdf.svg`, and a knee sweep's `sweep.svg` |
//! | `sweep` | a knee sweep's results (`sweep.json`): [`Step`], [`Sweep`] |
//! | `scale`, `scale_plot` | a scale run's results (`scale.json`: [`Scale`], [`ScaleRow`], [`LogFit`]) and `scale.svg` |
//! | `machine` | the host's CPU over a run and the saturation flag: [`MachineCpu`] |
//! | `agreement` | measured against simulated, figure by figure, with the tolerances |
//! | `topology` | the testnet's topologies from their seed, and graph distances |
//!
//! A cycle-based run (anti-entropy, rumor, fan-out) costs O(n) memory and O(n) work
//! per cycle; the mesh costs O(n D) memory and O(messages) work.

mod agreement;
mod algorithm;
mod anti_entropy;
mod calendar;
mod cdf;
mod fanout;
mod machine;
mod mesh;
mod metrics;
pub mod net;
mod output;
mod overlay;
mod params;
mod plot;
mod results;
mod results_io;
mod rng;
mod rumor;
mod runner;
mod scale;
mod scale_plot;
mod selector;
mod sweep;
mod theory;
mod topology;

pub use agreement::{
    AgreementRow, DUPLICATE_TOLERANCE, TIME_TOLERANCE, Tolerance, agreement, render_agreement,
};
pub use algorithm::{
    Algorithm, Direction, FanoutPolicy, MeshConfig, Removal, RumorVariant, TimeUnit, Trigger,
};
pub use cdf::{write_cdf, write_compare_cdf, write_sweep};
pub use fanout::{FanoutPeriod, FanoutTrace};
pub use machine::{MachineCpu, SATURATED_BUSY, SATURATED_SHARE};
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
pub use results::{
    BytesPerObject, FaultEvent, GraphSummary, Kind, KindSummary, MemorySummary, NodeMemory,
    ObjectRow, Percentiles, Rates, Redundancy, Relay, SCHEMA, Shaping, Summary as RunSummary,
    Topology, UnknownRelay, UnknownTopology,
};
pub use results_io::{
    OBJECT_COLUMNS, ResultsError, compare_table, read_json, read_objects, table,
    write_compare_json, write_json, write_objects,
};
pub use runner::{Progress, Report, RunError, Summary, TRACE_MAX_NODES, Trial, run, run_trial};
pub use scale::{LogFit, Scale, ScaleRow};
pub use scale_plot::write_scale;
pub use selector::{AlgoSpec, AlgoSpecError};
pub use sweep::{KNEE_MAX_REFUSED, Step, Sweep};
pub use theory::{
    Prediction, final_size_residue, pittel_rounds, predict, pull_next_susceptible, residue_blind,
    residue_feedback_coin,
};
pub use topology::{Graph, edges};
