//! Wire messages: gossip payloads, `getdata` and `sync` requests and
//! responses, each with an explicit size limit, all in rumor's canonical
//! bincode encoding ([`rumor_chain::encode`]).

use bytes::Bytes;
use rumor_chain::{BlockHash, BlockHeader, DecodeError, Inv, Object};
use rumor_relay::{CompactBlock, SyncStatus};
use serde::{Deserialize, Serialize};

pub use rumor_relay::{MAX_HEADERS, MAX_INVS_PER_MESSAGE as MAX_INVS_PER_REQUEST};

/// The largest gossip message: a pushed block body plus its envelope.
pub const MAX_GOSSIP_BYTES: usize = rumor_chain::MAX_BLOCK_DECODE_BYTES + 1024;
/// The largest gossip message on the transaction topic in push mode: one
/// pushed transaction plus its envelope.
pub const MAX_TX_GOSSIP_BYTES: usize = rumor_chain::MAX_TX_DECODE_BYTES + 1024;
/// The largest announcement: a [`Batch`] of [`MAX_INVS_PER_REQUEST`] ids
/// (about 34 kB), with room to spare.
pub const MAX_ANNOUNCE_GOSSIP_BYTES: usize = 64 * 1024;

/// Gossip size limits of one relay mode, sized to what that mode sends:
/// a message over its topic's limit is refused by gossipsub itself as an
/// invalid message (costing its sender score, gossipsub's P4), and a frame
/// over `frame` is not read at all (gossipsub closes the stream), so `frame`
/// bounds what one sender's frame can make the node buffer. A network runs
/// one relay mode: an announce-mode node refuses pushed bodies as oversized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipLimits {
    /// Largest payload on the transaction topic.
    pub tx: usize,
    /// Largest payload on the block topic.
    pub block: usize,
    /// Largest frame read (every topic and gossipsub's own envelope).
    pub frame: usize,
}

/// What gossipsub's message envelope (topic, ids, protobuf framing) may add
/// to a payload.
pub const GOSSIP_ENVELOPE_BYTES: usize = 1024;

impl GossipLimits {
    /// The limits of `mode`. Announce and batch mode send only
    /// announcements (tens of bytes, a batch at most about 34 kB); push mode
    /// sends whole transactions and blocks. Frames are read up to 1 MiB in
    /// the announce modes, so a message well past its topic's limit is still
    /// read, refused and charged to its sender, and one sender's frame
    /// costs at most 1 MiB of buffer (not 16 MiB).
    pub fn of(mode: rumor_relay::RelayMode) -> Self {
        match mode {
            rumor_relay::RelayMode::Push => Self {
                tx: MAX_TX_GOSSIP_BYTES,
                block: MAX_GOSSIP_BYTES,
                frame: MAX_GOSSIP_BYTES + GOSSIP_ENVELOPE_BYTES,
            },
            rumor_relay::RelayMode::Announce
            | rumor_relay::RelayMode::Batch
            | rumor_relay::RelayMode::Hybrid => Self {
                tx: MAX_ANNOUNCE_GOSSIP_BYTES,
                block: MAX_ANNOUNCE_GOSSIP_BYTES,
                frame: 1 << 20,
            },
        }
    }

    /// One limit for everything (the raw test peer sends oversized messages).
    pub fn uniform(bytes: usize) -> Self {
        Self {
            tx: bytes,
            block: bytes,
            frame: bytes,
        }
    }

    /// The payload limit of `kind`'s topic.
    pub fn payload(&self, kind: rumor_chain::ObjectKind) -> usize {
        match kind {
            rumor_chain::ObjectKind::Tx => self.tx,
            rumor_chain::ObjectKind::Block => self.block,
        }
    }
}
/// The largest `getdata` request.
pub const MAX_GETDATA_REQUEST_BYTES: usize = 256 * 1024;
/// The largest `getdata` response (a batch of bodies, or one full block).
pub const MAX_GETDATA_RESPONSE_BYTES: usize = rumor_chain::MAX_BLOCK_DECODE_BYTES + 64 * 1024;
/// The largest `sync` request.
pub const MAX_SYNC_REQUEST_BYTES: usize = 64 * 1024;
/// The largest `sync` response (a mempool short-id listing or a run of headers).
pub const MAX_SYNC_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Most short ids in one request or listing.
pub const MAX_SHORT_IDS: usize = 400_000;
/// Most peer records in one exchange.
pub const MAX_PEER_RECORDS: usize = 32;
/// The largest `push` request (hybrid mode): nodes push one object per
/// request, at most a transaction (100 kB) or the compact form of the
/// largest block (8 bytes per transaction); batches are allowed up to this.
pub const MAX_PUSH_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// The largest `push` response: prunes or origins for at most
/// [`MAX_INVS_PER_REQUEST`] objects.
pub const MAX_PUSH_RESPONSE_BYTES: usize = 64 * 1024;

/// The gossipsub message id of a single object: kind ‖ id (33 bytes).
pub fn object_message_id(inv: &Inv) -> Vec<u8> {
    let mut out = Vec::with_capacity(33);
    out.push(match inv.kind() {
        rumor_chain::ObjectKind::Tx => 0,
        rumor_chain::ObjectKind::Block => 1,
    });
    out.extend_from_slice(inv.id_bytes());
    out
}

/// An object's canonical encoding, tagged with what it is sent as. The id is
/// a claim: the receiver checks it against the hash of the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// What the bytes claim to be.
    pub inv: Inv,
    /// The canonical encoding.
    pub bytes: Bytes,
}

/// What travels in a gossipsub message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GossipPayload {
    /// "I have this object": one announcement. Nodes send [`Batch`]es; this
    /// form is still understood, and treated the same.
    Announce(Inv),
    /// Push mode: the object itself (plain gossipsub flooding).
    Push(Body),
    /// Per-hop announcements: the objects a node accepted since its last
    /// announcement. A receiver fetches what is new and never forwards it.
    Batch(Batch),
}

impl GossipPayload {
    /// The first variant tag this version does not know. The protocol grows
    /// by new variants at the end, never by new fields in old ones: a
    /// payload whose leading tag is at least this and below
    /// [`GossipPayload::END_OF_FUTURE_TAGS`] comes from a later version and
    /// is ignored (not forwarded, not punished, counted as
    /// `future_payloads`); a known variant that does not decode exactly, or
    /// any other tag, is malformed. `docs/protocol.md`, "Versioning".
    pub const FIRST_UNKNOWN_TAG: u32 = 3;
    /// Tags from [`GossipPayload::FIRST_UNKNOWN_TAG`] up to (not including)
    /// this are kept for later versions of this topic; past them a change
    /// needs a new topic version. Bounded so that random bytes (whose first
    /// byte is a tag up to 250) are still malformed and cost their sender.
    pub const END_OF_FUTURE_TAGS: u32 = 16;

    /// This payload's variant tag (its first encoded byte).
    pub fn tag(&self) -> u32 {
        match self {
            Self::Announce(_) => 0,
            Self::Push(_) => 1,
            Self::Batch(_) => 2,
        }
    }

    /// Whether `bytes` is a payload of a later version: its leading tag
    /// (a canonical varint) is one this version does not know.
    pub fn is_future(bytes: &[u8]) -> bool {
        rumor_chain::decode_prefix::<u32>(bytes).is_ok_and(|(tag, _)| {
            (Self::FIRST_UNKNOWN_TAG..Self::END_OF_FUTURE_TAGS).contains(&tag)
        })
    }

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

    /// The gossipsub message id of an encoded payload. A push is named by
    /// the id its body really has (kind ‖ hash of the bytes), whatever id it
    /// claims, so a peer that pushes bad bytes under an honest id cannot
    /// make gossipsub drop the honest copy as a duplicate. A single
    /// announcement is named kind ‖ id. Batches, and bytes that do not
    /// decode (rejected anyway), are named by a hash of their bytes, so
    /// every hop's batch gets through.
    pub fn message_id_of(data: &[u8]) -> Vec<u8> {
        match Self::decode(data) {
            Ok(Self::Announce(inv)) => object_message_id(&inv),
            Ok(Self::Push(body)) => match Object::id_of(body.inv.kind(), &body.bytes) {
                Some(actual) => object_message_id(&actual),
                None => hash_id(data),
            },
            _ => hash_id(data),
        }
    }
}

fn hash_id(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff];
    out.extend_from_slice(&rumor_chain::sha256(data));
    out
}

/// One node's announcement of the objects it accepted. `nonce` makes every
/// batch (and so its gossipsub message id, a hash of its bytes) unique per
/// sender: two nodes announcing the same single block must not look like
/// one message, or gossipsub's duplicate filter would stop the second hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Distinct per sender and batch.
    pub nonce: u64,
    /// The announced items (at most [`MAX_INVS_PER_REQUEST`]).
    pub invs: Vec<Inv>,
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
    Txs(Vec<Bytes>),
    /// The compact block, or `None` if the block is unknown.
    CompactBlock(Option<CompactBlock>),
    /// The request was refused (rate limit or malformed); try elsewhere.
    Refused,
}

/// One object pushed along hybrid mode's eager tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedObject {
    /// The tree it travels: a tag of the node that first accepted it.
    pub origin: u64,
    /// The object.
    pub body: PushBody,
}

/// What a push carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushBody {
    /// A transaction (its id is a claim the receiver checks).
    Tx(Body),
    /// A block as its compact form (the receiver rebuilds it from its
    /// mempool and asks the pusher for what it lacks by `getdata`).
    Compact(CompactBlock),
}

/// A `push` request (hybrid mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushRequest {
    /// Objects the sender accepted, pushed to an eager peer (at most
    /// [`MAX_INVS_PER_REQUEST`]).
    Objects(Vec<PushedObject>),
    /// GRAFT: "I had to fetch these from you: push their origins' objects to
    /// me from now on" (at most [`MAX_INVS_PER_REQUEST`]).
    Graft(Vec<Inv>),
}

/// A `push` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushResponse {
    /// The objects were taken. PRUNE: stop pushing these origins to me (I
    /// had their objects already).
    Ack {
        /// Origins to stop pushing.
        prune: Vec<u64>,
    },
    /// Per object of a graft, its origin where known (the graft is kept for
    /// those origins while the tree has room).
    Grafted(Vec<Option<u64>>),
    /// Refused (rate limit or oversized); nothing was taken.
    Refused,
}

/// A peer's id and addresses, as bytes, for peer exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The PeerId's bytes.
    pub peer: Bytes,
    /// Multiaddrs' bytes.
    pub addrs: Vec<Bytes>,
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
    use rumor_chain::{Network, Params, Txid};

    #[test]
    fn a_push_is_named_by_the_id_its_bytes_have() {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(2)
            .unwrap();
        let tx = p.genesis_block().txs[0].clone();
        let honest = Inv::Tx(tx.txid());
        let push = |inv| {
            GossipPayload::Push(Body {
                inv,
                bytes: Bytes::from(tx.encode()),
            })
            .encode()
        };
        assert_eq!(
            GossipPayload::message_id_of(&push(honest)),
            object_message_id(&honest)
        );
        // The same bytes claimed as another id still get the honest name.
        let claim = Inv::Tx(Txid([7; 32]));
        assert_eq!(
            GossipPayload::message_id_of(&push(claim)),
            object_message_id(&honest)
        );
        let a = GossipPayload::Announce(claim).encode();
        assert_eq!(GossipPayload::message_id_of(&a), object_message_id(&claim));
        assert_ne!(
            object_message_id(&claim),
            object_message_id(&Inv::Block(BlockHash([7; 32])))
        );
        assert_eq!(GossipPayload::message_id_of(&[0xde, 0xad])[0], 0xff);
    }

    #[test]
    fn each_modes_gossip_limits_fit_what_it_sends() {
        // The largest batch an announce-mode node sends (ids of the longest
        // kind, the largest nonce) fits its topic limits.
        let invs = (0..MAX_INVS_PER_REQUEST as u32)
            .map(|i| Inv::Block(BlockHash([i as u8; 32])))
            .collect();
        let batch = GossipPayload::Batch(Batch {
            nonce: u64::MAX,
            invs,
        });
        let announce = GossipLimits::of(rumor_relay::RelayMode::Announce);
        assert!(
            batch.encode().len() <= announce.block,
            "{}",
            batch.encode().len()
        );
        assert_eq!(announce, GossipLimits::of(rumor_relay::RelayMode::Batch));
        assert!(announce.frame >= announce.tx + GOSSIP_ENVELOPE_BYTES);
        assert!(announce.frame < MAX_GOSSIP_BYTES / 8, "not a block's size");
        // Push mode carries whole objects.
        let push = GossipLimits::of(rumor_relay::RelayMode::Push);
        assert!(push.tx >= rumor_chain::MAX_TX_DECODE_BYTES);
        assert!(push.block >= rumor_chain::MAX_BLOCK_DECODE_BYTES);
        assert!(push.frame >= push.block + GOSSIP_ENVELOPE_BYTES);
    }

    #[test]
    fn payload_roundtrip_and_rejects_garbage() {
        let inv = Inv::Block(BlockHash([1; 32]));
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

    #[test]
    fn only_tags_past_the_known_ones_are_future_payloads() {
        let inv = Inv::Tx(Txid([3; 32]));
        let known = [
            GossipPayload::Announce(inv),
            GossipPayload::Push(Body {
                inv,
                bytes: Bytes::from_static(b"x"),
            }),
            GossipPayload::Batch(Batch {
                nonce: 1,
                invs: vec![inv],
            }),
        ];
        for p in &known {
            let bytes = p.encode();
            assert_eq!(u32::from(bytes[0]), p.tag(), "{p:?}");
            assert!(!GossipPayload::is_future(&bytes));
            // A known variant with one byte more is malformed, not future.
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(GossipPayload::decode(&longer).is_err());
            assert!(!GossipPayload::is_future(&longer));
        }
        let highest = known.iter().map(GossipPayload::tag).max().unwrap();
        assert_eq!(highest + 1, GossipPayload::FIRST_UNKNOWN_TAG);
        // A later version's variants: any body after a tag kept for them.
        for future in [vec![3u8], vec![9, 1, 2, 3], vec![15, 0xff]] {
            assert!(GossipPayload::decode(&future).is_err());
            assert!(GossipPayload::is_future(&future), "{future:?}");
        }
        // Tags past those, a tag that is no canonical varint (a 3-byte
        // form of 3), or nothing: malformed.
        for bad in [
            vec![16u8],
            vec![0xde, 0xad],
            vec![251, 0x10, 0x27],
            vec![251, 3, 0],
            vec![],
        ] {
            assert!(!GossipPayload::is_future(&bad), "{bad:?}");
        }
    }

    /// The encodings peers already speak did not change with the typed ids.
    #[test]
    fn an_announcement_is_its_tag_then_the_kind_and_id() {
        let inv = Inv::Tx(Txid([3; 32]));
        let mut want = vec![0u8, 0u8];
        want.extend_from_slice(&[3; 32]);
        assert_eq!(GossipPayload::Announce(inv).encode(), want);
    }
}
