//! `rumor-testnet`: tools for running rumor at scale.
//!
//! [`testbed`] runs real `rumord` nodes as local processes, a docker-compose
//! network or a Docker Swarm stack and writes the propagation report (`run`,
//! `report`, `compare`); [`attack`] is the adversarial peer. The simulator
//! is its own crate, `rumor-sim` (`testnet/sim/`); this crate is its command-line
//! front end (`rumor-testnet sim`, `rumor-testnet sim-relay`).
//!
//! Module map:
//! - [`attack`]: an adversarial peer against real nodes (`attack`), and
//!   `docs/reliability.md`.
//! - [`sim_relay`]: the command lines of the relay-driven simulator
//!   (`sim-relay`) and of measured-against-simulated (`compare`).
//! - [`testbed`]: local and compose testnets, workload, faults, collection,
//!   the propagation report.

pub mod attack;
pub mod sim_relay;
pub mod testbed;
