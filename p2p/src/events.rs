//! What the p2p layer asks of the node, and what the node answers. p2p
//! never calls into the node: bodies to validate and questions go *out*
//! (bounded channels; a full channel refuses work rather than queueing it
//! without end), verdicts and accepted objects come back *in* as commands
//! on the [`crate::P2pHandle`], answers to questions on the reply channel
//! each question carries (in the manner of rust-libp2p's file-sharing
//! example and lighthouse's network/processor split).

use bytes::Bytes;
use libp2p::PeerId;
use rumor_chain::{BlockHash, BlockHeader, Inv, Verdict};
use rumor_relay::{CompactBlock, SyncStatus, Via};
use tokio::sync::oneshot;

/// Where the node sends one answer.
pub type Reply<T> = oneshot::Sender<T>;

/// A body for the node to validate. The node answers with a [`Judgement`]
/// for `inv` ([`crate::P2pHandle::judge`]); `inv` is the ticket: one body per
/// object is out at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRequest {
    /// Who sent it.
    pub peer: PeerId,
    /// What it was sent as (a claim the node checks against the bytes).
    pub inv: Inv,
    /// Its canonical encoding.
    pub bytes: Bytes,
    /// How it came.
    pub via: Via,
    /// When it was queued for the node (how long it waited is the node's
    /// measure of its own overload).
    pub queued: std::time::Instant,
}

/// The node's verdict on a [`ValidationRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The object, as requested.
    pub inv: Inv,
    /// The verdict. Objects it names in `also` come separately, as
    /// [`Accepted`].
    pub verdict: Verdict,
    /// For an accepted block, its compact form (to serve it to peers).
    pub compact: Option<CompactBlock>,
}

/// An object the node accepted by a path other than a [`ValidationRequest`]
/// (RPC, its miner, an orphan adopted, a block connected with its parent):
/// p2p spreads it, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The object.
    pub inv: Inv,
    /// Its canonical encoding.
    pub bytes: Bytes,
    /// For a block, its compact form.
    pub compact: Option<CompactBlock>,
}

/// A question only the node can answer, with its reply channel. A dropped
/// reply channel is an answer too: "cannot say" (the node is stopping).
#[derive(Debug)]
pub enum Query {
    /// The canonical encodings of these objects (mempool transactions,
    /// stored blocks); `None` for what the node does not have. The node
    /// stops reading once the bodies found pass `budget` bytes (the rest are
    /// `None`): a request for many large objects must not make it read
    /// gigabytes to send a few megabytes.
    Bodies {
        /// The objects.
        invs: Vec<Inv>,
        /// Bytes worth reading at most.
        budget: usize,
        /// One entry per object.
        reply: Reply<Vec<Option<Bytes>>>,
    },
    /// The anti-entropy summary: tip and mempool digest.
    Status {
        /// The status.
        reply: Reply<SyncStatus>,
    },
    /// The mempool's short ids, sorted.
    MempoolShortIds {
        /// The ids.
        reply: Reply<Vec<u64>>,
    },
    /// Mempool transactions by short id (ids with no single transaction are
    /// left out).
    TxsByShortId {
        /// The ids.
        ids: Vec<u64>,
        /// The encodings found.
        reply: Reply<Vec<Bytes>>,
    },
    /// Best-chain headers after the fork point with `locator`.
    Headers {
        /// The requester's locator.
        locator: Vec<BlockHash>,
        /// At most this many.
        max: usize,
        /// The headers.
        reply: Reply<Vec<BlockHeader>>,
    },
    /// A locator of the best chain.
    Locator {
        /// The locator.
        reply: Reply<Vec<BlockHash>>,
    },
    /// Which of these objects the node does not have.
    Missing {
        /// The objects.
        invs: Vec<Inv>,
        /// Those it lacks, in order.
        reply: Reply<Vec<Inv>>,
    },
    /// A stored block's compact form.
    Compact {
        /// The block.
        block: BlockHash,
        /// `None` if the block is unknown.
        reply: Reply<Option<CompactBlock>>,
    },
    /// Transactions of a stored block by position (0 is the coinbase).
    BlockTxs {
        /// The block.
        block: BlockHash,
        /// Positions.
        indexes: Vec<u32>,
        /// `None` if the block is unknown or a position is out of range.
        reply: Reply<Option<Vec<Bytes>>>,
    },
}

/// Something the node may want to know, or must answer.
#[derive(Debug)]
pub enum P2pEvent {
    /// A peer connected.
    PeerUp(PeerId),
    /// A peer's last connection closed.
    PeerDown(PeerId),
    /// A peer was disconnected and banned for misbehaviour.
    PeerBanned(PeerId),
    /// The bans changed (a ban, an unban, bans cleared): every ban now in
    /// force, for the node to keep across restarts. The latest one is the
    /// whole truth, so one lost when the event stream is full is made up
    /// by the next.
    BansChanged(Vec<crate::BanRecord>),
    /// A question to answer.
    Query(Query),
}
