//! `rumor-testnet`: tools for running rumor at scale.
//!
//! Today it holds the large-scale gossip simulator, [`sim`]: a discrete-event model of
//! anti-entropy, rumor mongering, the seed document's fan-out relay and a
//! gossipsub-like mesh, reproducible from a seed, that reports Demers' metrics
//! (residue, traffic, `t_ave`, `t_last`) and coverage times at 10^3..10^6 sites.
//! Beside it, [`testbed`] runs real `rumord` nodes as local processes or as
//! a docker-compose network and writes the propagation report (`run`,
//! `report`).
//!
//! Module map:
//! - [`attack`]: an adversarial peer against real nodes (`attack`), and
//!   `docs/reliability.md`.
//! - [`sim`]: parameters, algorithms, runner, metrics, theory, and output (table,
//!   JSON, CSV, SVG).
//! - [`testbed`]: local and compose testnets, workload, faults, collection,
//!   the propagation report.

pub mod attack;
pub mod sim;
pub mod testbed;
