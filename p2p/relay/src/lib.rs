//! rumor-relay: every relay decision of a rumor node, as a state machine with
//! no networking, no async runtime and no clock of its own (time is always
//! a parameter). The node's p2p layer drives it over libp2p; the simulator
//! can drive the same code over simulated links.
//!
//! Inputs are method calls on [`Relay`] (an announcement arrived, a body,
//! the node's verdict, a timer); outputs are [`Action`]s the driver carries
//! out (send a request, validate a body, publish, penalise a peer). The
//! peer type and the gossip-message handle are generic.
//!
//! # Map
//! - [`Relay`]: the composition, and the rules that tie the parts together.
//! - [`SeenSet`]: the bounded record of settled objects (accepted, refused,
//!   rejected).
//! - [`RequestTracker`]: every announcer of every object, one request at a
//!   time, timeouts, per-peer caps (Bitcoin Core's `TxRequestTracker`).
//! - [`Publisher`]: what the relay modes publish, and when ([`RelayMode`]).
//! - [`EagerTrees`]: hybrid mode's per-origin push trees (Plumtree's
//!   eager and lazy peers, prune and graft).
//! - [`RelayCache`]: bodies of recently accepted objects, to serve them and
//!   to rebuild compact blocks.
//! - [`CompactBlock`], [`PartialBlock`]: compact-block rebuild decisions.
//! - [`AntiEntropy`]: push-pull rounds and mempool pulls; [`CatchUp`]:
//!   headers-first sync.
//! - [`ServeBudget`]: the bytes of answers each peer may take per second.
//! - [`Action`] and its vocabulary; [`RelayCounters`].

mod action;
mod budget;
mod cache;
mod catchup;
mod compact;
mod config;
mod counters;
mod publish;
mod relay;
mod rng;
mod seen;
mod sync;
#[cfg(test)]
mod test_blocks;
mod tracker;
mod tree;

pub use action::{Acceptance, Action, Offence, Publication, PushItem, Pushed, Request, Via};
pub use budget::{ServeBudget, ServeLimits};
pub use cache::{CacheStats, CachedBlock, RelayCache};
pub use catchup::{BAR, CatchUp, Headers, MAX_HEADERS, Step};
pub use compact::{CompactBlock, Finished, PartialBlock};
pub use config::{RelayConfig, RelayMode, UnknownRelayMode};
pub use counters::RelayCounters;
pub use publish::Publisher;
pub use relay::{
    ANNOUNCE_CAP, BAD_HEADER_TARGET, HEADERS_SHORT_OF_CLAIM, Relay, WORK_CLAIM_MISMATCH,
    publication_kind, work_at,
};
pub use rng::Rng;
pub use seen::{SeenSet, SeenState, SeenStats};
pub use sync::{AntiEntropy, Comparison, SyncLimits, SyncStatus, sorted_difference};
pub use tracker::{Purpose, RequestTracker, Stage, Tracked, TrackerLimits, TrackerStats};
pub use tree::{EagerTrees, Graft, Origin, TreeLimits};

/// Most items in one announcement or one request.
pub const MAX_INVS_PER_MESSAGE: usize = 1024;
