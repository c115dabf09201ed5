//! What the relay asks its driver to do: [`Action`]s, and the vocabulary
//! they use. The driver (the p2p event loop, or the simulator) carries each
//! one out and feeds the outcome back as an input.

use std::sync::Arc;

use bytes::Bytes;
use rumor_chain::{BlockHash, Inv, ObjectKind};
use serde::{Deserialize, Serialize};

use crate::compact::CompactBlock;
use crate::tree::Origin;

/// A gossip message's validation result: forward it, drop it and penalise
/// its sender, or drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid and new: forward it.
    Accept,
    /// Invalid: drop it and penalise its sender.
    Reject,
    /// Drop it without penalty.
    Ignore,
}

/// How an object reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Announced, then fetched.
    Announce,
    /// Pushed whole: over gossip (push mode) or along the eager tree
    /// (hybrid mode).
    Push,
    /// Found missing by anti-entropy, then fetched.
    Sync,
    /// Rebuilt from a compact block (blocks only).
    Compact,
    /// Fetched as an orphan's parent.
    Parent,
    /// Accepted locally (RPC or miner) or as a consequence of another object.
    Local,
}

/// A request for objects, to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// These objects, by id.
    Objects(Vec<Inv>),
    /// This block, as a compact block.
    Compact(BlockHash),
    /// These transactions of a block, by position (0 is the coinbase).
    BlockTxs {
        /// The block.
        block: BlockHash,
        /// Positions, increasing.
        indexes: Vec<u32>,
    },
}

/// Something to publish on a kind's gossip topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publication {
    /// "I have these": objects this node accepted since its last
    /// announcement, all of one kind.
    Announce {
        /// The topic.
        kind: ObjectKind,
        /// The objects.
        invs: Vec<Inv>,
    },
    /// The object itself (push mode).
    Push {
        /// Its id.
        inv: Inv,
        /// Its canonical encoding.
        bytes: Bytes,
    },
}

/// One object pushed along hybrid mode's eager tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// The tree it travels (the node that first accepted it).
    pub origin: Origin,
    /// What it is sent as (a claim: the receiver checks it).
    pub inv: Inv,
    /// The object.
    pub body: Pushed,
}

/// What a push carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// A transaction's canonical encoding.
    Body(Bytes),
    /// A block, as its compact form (BIP152's high-bandwidth mode).
    Compact(Arc<CompactBlock>),
}

/// Misbehaviour the relay saw; the driver decides what each costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offence {
    /// Served or pushed an object that breaks a consensus rule.
    InvalidObject,
    /// Served a body that is not the object asked for (undecodable, or
    /// another object's bytes).
    MalformedBody,
    /// Sent a body nobody asked it for.
    Unrequested,
    /// A request to it timed out.
    Timeout,
    /// Sent a compact block for another block, or one that does not fit
    /// together.
    BadCompact,
    /// Sent headers that are too many, do not link, or lack proof of work.
    BadHeaders,
}

impl Offence {
    /// A stable label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::InvalidObject => "invalid-object",
            Self::MalformedBody => "malformed-body",
            Self::Unrequested => "unrequested-body",
            Self::Timeout => "request-timeout",
            Self::BadCompact => "bad-compact-block",
            Self::BadHeaders => "malformed-headers",
        }
    }
}

/// One thing for the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<P, M> {
    /// Send a request to a peer.
    Request {
        /// The peer.
        peer: P,
        /// What to ask for.
        request: Request,
    },
    /// Have the node validate a body; answer with [`crate::Relay::on_verdict`].
    Validate {
        /// Who sent it.
        peer: P,
        /// What it was sent as.
        inv: Inv,
        /// Its bytes.
        bytes: Bytes,
        /// How it came.
        via: Via,
    },
    /// Report a gossip message's validation result.
    Report {
        /// The message.
        message: M,
        /// The peer it came from.
        source: P,
        /// The result.
        acceptance: Acceptance,
    },
    /// Publish on the kind's topic.
    Publish(Publication),
    /// Hybrid mode: push these objects to an eager peer. Its answer (the
    /// origins it prunes) goes to [`crate::Relay::on_push_answer`].
    Push {
        /// The peer.
        peer: P,
        /// The objects.
        items: Vec<PushItem>,
    },
    /// Hybrid mode: ask the peer to push the origins of these objects to
    /// us from now on (its answer goes to [`crate::Relay::on_graft_answer`]).
    Graft {
        /// The peer.
        peer: P,
        /// Objects this node had to fetch from it.
        invs: Vec<Inv>,
    },
    /// Charge a peer for misbehaviour.
    Penalize {
        /// The peer.
        peer: P,
        /// What it did.
        offence: Offence,
    },
    /// Anti-entropy: send our status to this peer (its answer goes to
    /// [`crate::Relay::on_sync_status`]).
    SyncWith(P),
    /// Anti-entropy: ask this peer for its mempool's short ids (then give
    /// them with ours to [`crate::Relay::on_mempool_listing`]).
    PullMempool(P),
    /// Anti-entropy: these short ids were missing a grace period ago; give
    /// them with the mempool's current ones to [`crate::Relay::on_recheck`].
    Recheck {
        /// Who listed them.
        peer: P,
        /// Sorted short ids.
        ids: Vec<u64>,
    },
    /// Anti-entropy: fetch mempool transactions by short id from this peer
    /// (bodies go to [`crate::Relay::on_sync_bodies`]).
    FetchShortIds {
        /// The peer.
        peer: P,
        /// Sorted short ids.
        ids: Vec<u64>,
    },
    /// Catch-up: ask the node whether it lacks this peer's tip (if so, call
    /// [`crate::Relay::on_behind`]).
    CheckTip {
        /// The peer ahead.
        peer: P,
        /// Its tip.
        tip: BlockHash,
    },
    /// Catch-up: ask the peer for headers after `after` (if any) followed by
    /// the node's locator.
    RequestHeaders {
        /// The peer.
        peer: P,
        /// The last header received, when asking for more.
        after: Option<BlockHash>,
    },
    /// Catch-up: ask the node which of these blocks it lacks (answer with
    /// [`crate::Relay::on_unknown_blocks`]).
    FilterBlocks {
        /// The peer they came from.
        peer: P,
        /// The blocks.
        blocks: Vec<Inv>,
    },
}
