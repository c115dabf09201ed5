//! The relay-driven simulator: rumor's own relay state machine
//! (`rumor_relay::Relay`, the code every `rumord` runs) on each of up to
//! 10^4–10^5 simulated nodes, over links and CPUs modelled like the
//! testnet's, with the testnet's inputs (`params.json`) and outputs
//! (`summary.json`, `objects.csv`, `cdf.svg`).
//!
//! | module | what it holds |
//! |---|---|
//! | `params` | [`NetParams`]: the run, the link, CPU and size models, and `params.json` |
//! | `link`, `cpu` | a link's delay line; who is busy when |
//! | `queue` | the event calendar: time-ordered, FIFO among equal times |
//! | `wire` | the messages and their sizes |
//! | `shard` | the nodes one thread simulates, and what a node's driver does with each event |
//! | `world` | [`simulate`]: the windows that run the shards in parallel |
//! | `measure` | [`summarize`]: the testnet's report from a simulated run |
//! | `folder` | [`write_runs`]: results folders |

mod cpu;
mod folder;
mod link;
mod measure;
mod params;
mod queue;
mod shard;
mod wire;
mod world;

pub use folder::{SimulatedParams, write_runs};
pub use measure::{EXACT_DIAMETER_NODES, Hops, hops, summarize};
pub use params::{
    CostModel, LinkModel, MAX_NET_NODES, MAX_NET_TIME, NetParamError, NetParams, WireSizes,
};
pub use world::{
    DriverCounters, MAX_THREADS, NEVER, NO_HOPS, NetRun, simulate, simulate_on, testnet_origins,
    txid_of,
};
