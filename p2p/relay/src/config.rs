//! [`RelayConfig`] and [`RelayMode`].

use std::num::NonZeroUsize;
use std::time::Duration;

use rumor_chain::Target;
use serde::{Deserialize, Serialize};

use crate::sync::SyncLimits;
use crate::tracker::TrackerLimits;
use crate::tree::{Origin, TreeLimits};

/// How objects are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayMode {
    /// Per-hop inventory announcements: a node announces what it accepted
    /// to its mesh (in one message per idle moment, so batches grow with
    /// load); peers fetch the bodies, validate them and announce in turn.
    /// The default.
    #[default]
    Announce,
    /// Whole objects in gossip messages: plain gossipsub flooding with
    /// validation before forwarding, the baseline to compare against.
    Push,
    /// As announce, but each node collects ids for a fixed window before it
    /// announces them (Bitcoin's trickle at millisecond scale).
    Batch,
    /// Announce, plus eager push along per-origin trees that repair
    /// themselves (Plumtree): each node pushes an accepted object whole to
    /// a few eager peers at once and announces it to the rest; a duplicate
    /// prunes its pusher, an announcement whose push did not come in time
    /// is fetched and grafts its announcer.
    Hybrid,
}

/// A relay mode name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown relay mode `{0}` (expected `announce`, `push`, `batch` or `hybrid`)")]
pub struct UnknownRelayMode(pub String);

impl std::str::FromStr for RelayMode {
    type Err = UnknownRelayMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "announce" => Ok(Self::Announce),
            "push" => Ok(Self::Push),
            "batch" => Ok(Self::Batch),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(UnknownRelayMode(other.to_owned())),
        }
    }
}

impl std::fmt::Display for RelayMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Announce => "announce",
            Self::Push => "push",
            Self::Batch => "batch",
            Self::Hybrid => "hybrid",
        })
    }
}

/// Everything the relay can be tuned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// How objects are spread.
    pub mode: RelayMode,
    /// Batch mode's window.
    pub batch_window: Duration,
    /// Objects whose fate is remembered (accepted, refused, rejected).
    pub seen_capacity: NonZeroUsize,
    /// Request tracking.
    pub tracker: TrackerLimits,
    /// Transaction bytes kept to serve peers and rebuild compact blocks.
    pub cache_tx_bytes: usize,
    /// Blocks kept likewise.
    pub cache_blocks: NonZeroUsize,
    /// Anti-entropy.
    pub sync: SyncLimits,
    /// A catch-up without progress for this long is dropped.
    pub catchup_stall: Duration,
    /// The network's block target: every header carries exactly this one,
    /// so claimed chain work and catch-up headers are checked against it.
    /// `None` (the default, for relays without a chain network) checks
    /// only that each header meets its own target.
    pub header_target: Option<Target>,
    /// A body whose verdict does not come within this is forgotten.
    pub validation_timeout: Duration,
    /// Hybrid mode's trees.
    pub tree: TreeLimits,
    /// This node's origin tag (hybrid mode): distinct per node.
    pub origin: Origin,
    /// Seeds every random choice.
    pub seed: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            mode: RelayMode::Announce,
            batch_window: Duration::from_millis(25),
            seen_capacity: NonZeroUsize::new(200_000).expect("non-zero"),
            tracker: TrackerLimits::default(),
            cache_tx_bytes: 32 << 20,
            cache_blocks: NonZeroUsize::new(8).expect("non-zero"),
            sync: SyncLimits::default(),
            catchup_stall: Duration::from_secs(15),
            header_target: None,
            validation_timeout: Duration::from_secs(60),
            tree: TreeLimits::default(),
            origin: 0,
            seed: 0,
        }
    }
}
