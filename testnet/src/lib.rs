//! `rumor-testnet`: tools for running rumor at scale.
//!
//! Today it holds the large-scale gossip simulator, [`sim`]: a discrete-event model of
//! anti-entropy, rumor mongering, the seed document's fan-out relay and a
//! gossipsub-like mesh, reproducible from a seed, that reports Demers' metrics
//! (residue, traffic, `t_ave`, `t_last`) and coverage times at 10^3..10^6 sites.
//! Local and docker testnets (`run`, `report`) will live beside it.
//!
//! Module map:
//! - [`sim`]: parameters, algorithms, runner, metrics, theory, and output (table,
//!   JSON, CSV, SVG).

pub mod sim;
