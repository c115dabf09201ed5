//! [`Backend`]: what the p2p layer needs from the node. The p2p crate knows
//! objects only through this interface: it never validates or stores anything
//! itself.

use std::borrow::Cow;

use libp2p::PeerId;
use rumor_chain::{BlockHash, BlockHeader};

use crate::wire::{Body, Inv, SyncStatus};

/// Where an object came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A peer sent it.
    Peer(PeerId),
    /// This node made or received it outside the network (RPC, miner).
    Local,
}

/// The node's answer for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: stored or added to the mempool. `also` lists objects
    /// this one let the node accept too (adopted orphan transactions, orphan
    /// blocks connected); each is announced once like this one.
    Accepted {
        /// Other objects accepted as a consequence.
        also: Vec<Inv>,
    },
    /// Valid, but the node already had it.
    Known,
    /// Breaks a consensus rule: the sender is at fault and is penalised.
    Invalid {
        /// Which rule, as a short label (a metric label).
        reason: Cow<'static, str>,
    },
    /// Refused by local policy (fee, conflict, full mempool). Never punished.
    Policy {
        /// Which policy, as a short label.
        reason: Cow<'static, str>,
    },
    /// Cannot be validated yet (unknown parent, block from the future). Not
    /// punished. `fetch` names an object to fetch from the same peer (an
    /// orphan block's parent).
    NotYet {
        /// Why, as a short label.
        reason: Cow<'static, str>,
        /// An object to fetch first.
        fetch: Option<Inv>,
    },
}

impl Verdict {
    /// A short label of the outcome, for metrics.
    pub fn label(&self) -> &str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Known => "known",
            Self::Invalid { reason } | Self::Policy { reason } | Self::NotYet { reason, .. } => {
                reason
            }
        }
    }
}

/// The node, as the p2p layer sees it. Methods may block briefly (they take
/// the node's locks); the p2p layer calls the slow ones off its event loop.
pub trait Backend: Send + Sync + 'static {
    /// Validates and, if valid, accepts each object, in order (a transaction
    /// may spend one earlier in the same batch). Returns one verdict per item.
    /// Runs on a worker thread; signatures of a batch should be verified together.
    fn validate(&self, items: Vec<(Origin, Body)>) -> Vec<Verdict>;

    /// Whether the node already has this object (chain or mempool).
    fn has(&self, inv: &Inv) -> bool;

    /// The canonical encodings of these objects, `None` for unknown ones.
    fn bodies(&self, invs: &[Inv]) -> Vec<Option<Vec<u8>>>;

    /// The anti-entropy summary: tip and mempool digest.
    fn status(&self) -> SyncStatus;

    /// The mempool's short ids, sorted.
    fn mempool_short_ids(&self) -> Vec<u64>;

    /// Mempool transactions by short id: the encoding of the one transaction
    /// with that short id, or `None` if there is none or more than one.
    fn mempool_txs_by_short_id(&self, ids: &[u64]) -> Vec<Option<Vec<u8>>>;

    /// A locator of the best chain.
    fn locator(&self) -> Vec<BlockHash>;

    /// Up to `max` best-chain headers after the fork point with `locator`.
    fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader>;
}
