//! Wire messages: gossip payloads, `getdata` and `sync` requests and
//! responses, each with an explicit size limit, all in rumor's canonical
//! bincode encoding ([`rumor_chain::encode`]).

use rumor_chain::{BlockHash, BlockHeader, DecodeError, Hash256, Txid, Work};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The largest gossip message: a pushed block body plus its envelope.
pub const MAX_GOSSIP_BYTES: usize = rumor_chain::MAX_BLOCK_DECODE_BYTES + 1024;
/// The largest `getdata` request.
pub const MAX_GETDATA_REQUEST_BYTES: usize = 256 * 1024;
/// The largest `getdata` response (a batch of bodies, or one full block).
pub const MAX_GETDATA_RESPONSE_BYTES: usize = rumor_chain::MAX_BLOCK_DECODE_BYTES + 64 * 1024;
/// The largest `sync` request.
pub const MAX_SYNC_REQUEST_BYTES: usize = 64 * 1024;
/// The largest `sync` response (a mempool short-id listing or a run of headers).
pub const MAX_SYNC_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Most inventory items in one `getdata` request.
pub const MAX_INVS_PER_REQUEST: usize = 1024;
/// Most short ids in one request or listing.
pub const MAX_SHORT_IDS: usize = 400_000;
/// Most headers in one `sync` response.
pub const MAX_HEADERS: usize = 2000;
/// Most peer records in one exchange.
pub const MAX_PEER_RECORDS: usize = 32;

/// The kind of a relayed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A transaction.
    Tx,
    /// A block.
    Block,
}

impl ObjectKind {
    /// A short lowercase label for logs and metrics.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Tx => "tx",
            Self::Block => "block",
        }
    }

    const fn tag(self) -> u8 {
        match self {
            Self::Tx => 0,
            Self::Block => 1,
        }
    }
}

/// An inventory item: the kind and id of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Inv {
    /// Transaction or block.
    pub kind: ObjectKind,
    /// Its txid or block hash.
    pub id: Hash256,
}

impl Inv {
    /// The inventory item of a transaction.
    pub fn tx(txid: Txid) -> Self {
        Self {
            kind: ObjectKind::Tx,
            id: Hash256(txid.0),
        }
    }

    /// The inventory item of a block.
    pub fn block(hash: BlockHash) -> Self {
        Self {
            kind: ObjectKind::Block,
            id: Hash256(hash.0),
        }
    }

    /// The gossipsub message id: kind ‖ id (33 bytes), so gossipsub's
    /// duplicate cache collapses announcements of one object from any origin.
    pub fn message_id(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        out.push(self.kind.tag());
        out.extend_from_slice(self.id.as_bytes());
        out
    }
}

impl std::fmt::Display for Inv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.label(), self.id)
    }
}

/// An object's canonical encoding, tagged with its kind and id. The id is a
/// claim: the receiver checks it against the hash of the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// What the bytes claim to be.
    pub inv: Inv,
    /// The canonical encoding.
    pub bytes: ByteBuf,
}

/// What travels in a gossipsub message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GossipPayload {
    /// Announce mode: "I have accepted this object".
    Announce(Inv),
    /// Push mode: the object itself (plain gossipsub flooding).
    Push(Body),
    /// Batched per-hop announcements: the ids a node accepted in its last
    /// batch window. A receiver fetches what is new and never forwards the
    /// batch.
    Batch(Batch),
}

impl GossipPayload {
    /// Decodes a payload, rejecting anything over [`MAX_GOSSIP_BYTES`].
    ///
    /// # Errors
    /// [`DecodeError`] for malformed, oversized or non-canonical bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        rumor_chain::decode(bytes, MAX_GOSSIP_BYTES)
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        rumor_chain::encode(self)
    }

    /// The gossipsub message id of an encoded payload: the item's kind ‖ id
    /// for announcements and pushes, and a hash for batches and for bytes that
    /// do not decode (those are rejected anyway).
    pub fn message_id_of(data: &[u8]) -> Vec<u8> {
        match Self::decode(data) {
            Ok(Self::Announce(inv)) | Ok(Self::Push(Body { inv, .. })) => inv.message_id(),
            _ => {
                let mut out = vec![0xff];
                out.extend_from_slice(&rumor_chain::sha256(data));
                out
            }
        }
    }
}

/// One node's batch of announcements. `nonce` makes every batch (and so its
/// gossipsub message id, a hash of its bytes) unique per sender: two nodes
/// announcing the same single block must not look like one message, or
/// gossipsub's duplicate filter would stop the second hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Distinct per sender and batch.
    pub nonce: u64,
    /// The announced items (at most [`MAX_INVS_PER_REQUEST`]).
    pub invs: Vec<Inv>,
}

/// A compact block: the header, the coinbase, and the short ids of the other
/// transactions, from which a peer rebuilds the block out of its mempool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactBlock {
    /// The header.
    pub header: BlockHeader,
    /// The coinbase's canonical encoding.
    pub coinbase: ByteBuf,
    /// Short ids of the remaining transactions, in block order.
    pub short_ids: Vec<u64>,
}

/// A `getdata` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GetDataRequest {
    /// Send these objects (at most [`MAX_INVS_PER_REQUEST`]).
    Objects(Vec<Inv>),
    /// Send the mempool transactions with these short ids (anti-entropy).
    TxsByShortId(Vec<u64>),
    /// Send this block as a compact block.
    CompactBlock(BlockHash),
    /// Send these transactions of a block, by position (compact-block repair).
    BlockTxs {
        /// The block.
        block: BlockHash,
        /// Positions in the block (0 is the coinbase).
        indexes: Vec<u32>,
    },
}

/// A `getdata` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GetDataResponse {
    /// The objects found, and the items not found.
    Objects {
        /// Bodies found.
        found: Vec<Body>,
        /// Items not found.
        notfound: Vec<Inv>,
    },
    /// Transaction bodies (for short-id or block-position requests).
    Txs(Vec<ByteBuf>),
    /// The compact block, or `None` if the block is unknown.
    CompactBlock(Option<CompactBlock>),
    /// The request was refused (rate limit or malformed); try elsewhere.
    Refused,
}

/// A node's summary for anti-entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Best-chain height.
    pub height: u64,
    /// Best-chain tip.
    pub tip: BlockHash,
    /// Best-chain total work.
    pub work: Work,
    /// Digest of the sorted mempool short ids.
    pub mempool_digest: Hash256,
    /// Number of mempool transactions.
    pub mempool_len: u32,
}

/// A peer's id and addresses, as bytes, for peer exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The PeerId's bytes.
    pub peer: ByteBuf,
    /// Multiaddrs' bytes.
    pub addrs: Vec<ByteBuf>,
}

/// A `sync` request (anti-entropy and peer exchange).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Push-pull: here is my status, send yours.
    Status(SyncStatus),
    /// Send your mempool's sorted short ids.
    MempoolShortIds,
    /// Send best-chain headers after the fork point with this locator.
    Headers {
        /// The requester's locator.
        locator: Vec<BlockHash>,
        /// At most this many (capped at [`MAX_HEADERS`]).
        max: u32,
    },
    /// Send some peers you know.
    Peers,
}

/// A `sync` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// My status.
    Status(SyncStatus),
    /// My mempool's sorted short ids (possibly truncated at [`MAX_SHORT_IDS`]).
    MempoolShortIds(Vec<u64>),
    /// Headers after the fork point.
    Headers(Vec<BlockHeader>),
    /// Some peers.
    Peers(Vec<PeerRecord>),
    /// Refused (rate limit).
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_kind_and_id_for_announce_and_push() {
        let inv = Inv::tx(Txid([7; 32]));
        let a = GossipPayload::Announce(inv).encode();
        let p = GossipPayload::Push(Body {
            inv,
            bytes: ByteBuf::from(vec![1, 2, 3]),
        })
        .encode();
        assert_eq!(GossipPayload::message_id_of(&a), inv.message_id());
        assert_eq!(GossipPayload::message_id_of(&p), inv.message_id());
        assert_ne!(
            inv.message_id(),
            Inv::block(BlockHash([7; 32])).message_id()
        );
        assert_eq!(GossipPayload::message_id_of(&[0xde, 0xad])[0], 0xff);
    }

    #[test]
    fn payload_roundtrip_and_rejects_garbage() {
        let inv = Inv::block(BlockHash([1; 32]));
        let p = GossipPayload::Batch(Batch {
            nonce: 7,
            invs: vec![inv, inv],
        });
        assert_eq!(GossipPayload::decode(&p.encode()).unwrap(), p);
        assert!(GossipPayload::decode(&[9, 9, 9]).is_err());
        let mut bytes = p.encode();
        bytes.push(0);
        assert!(matches!(
            GossipPayload::decode(&bytes),
            Err(DecodeError::TrailingBytes(1))
        ));
    }
}
