//! Property tests over arbitrary bytes for every wire decoder the p2p layer
//! exposes to peers (the stable-toolchain twin of `fuzz/`'s `gossip_decode`
//! and `rr_decode`): gossip payloads and the message-id function gossipsub
//! calls on every message, and the `getdata` and `sync` requests and
//! responses as the codec decodes them, each with its protocol's limit.
//! Never a panic; whatever decodes is canonical. Random bytes rarely
//! decode, so valid encodings are also mutated.
//!
//! `RUMOR_RELIABILITY_OUT=DIR` records the case counts in `DIR/props.json`.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rumor_chain::{BlockHash, Hash256, Txid};
use rumor_p2p::{
    Batch, Body, CompactBlock, GetDataRequest, GetDataResponse, GossipPayload, Inv,
    MAX_GETDATA_REQUEST_BYTES, MAX_GETDATA_RESPONSE_BYTES, MAX_SYNC_REQUEST_BYTES,
    MAX_SYNC_RESPONSE_BYTES, SyncRequest, SyncResponse, SyncStatus,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

const CASES: u32 = 512;

#[path = "../../tests/props.rs"]
mod props;

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    props::run(name, CASES, strategy, test);
}

fn canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
) -> Result<(), TestCaseError> {
    if let Ok(v) = rumor_chain::decode::<T>(bytes, limit) {
        prop_assert_eq!(
            rumor_chain::encode(&v),
            bytes,
            "non-canonical bytes accepted"
        );
    }
    Ok(())
}

/// Every wire decoder on the same bytes.
fn every_decoder(bytes: &[u8]) -> Result<(), TestCaseError> {
    prop_assert_eq!(GossipPayload::message_id_of(bytes).len(), 33);
    if let Ok(p) = GossipPayload::decode(bytes) {
        prop_assert_eq!(p.encode(), bytes);
    }
    canonical::<GetDataRequest>(bytes, MAX_GETDATA_REQUEST_BYTES)?;
    canonical::<GetDataResponse>(bytes, MAX_GETDATA_RESPONSE_BYTES)?;
    canonical::<SyncRequest>(bytes, MAX_SYNC_REQUEST_BYTES)?;
    canonical::<SyncResponse>(bytes, MAX_SYNC_RESPONSE_BYTES)?;
    canonical::<CompactBlock>(bytes, MAX_GETDATA_RESPONSE_BYTES)?;
    Ok(())
}

fn invs() -> impl Strategy<Value = Vec<Inv>> {
    prop::collection::vec(inv(), 0..6)
}

fn inv() -> impl Strategy<Value = Inv> + Clone {
    (any::<bool>(), any::<[u8; 32]>()).prop_map(|(tx, id)| {
        if tx {
            Inv::Tx(Txid(id))
        } else {
            Inv::Block(BlockHash(id))
        }
    })
}

/// Valid encodings of every wire message.
fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    let status = (any::<u64>(), any::<[u8; 32]>(), any::<u32>()).prop_map(|(h, t, n)| SyncStatus {
        height: h,
        tip: BlockHash(t),
        work: Default::default(),
        mempool_digest: Hash256(t),
        mempool_len: n,
    });
    prop_oneof![
        inv().prop_map(|i| GossipPayload::Announce(i).encode()),
        (any::<u64>(), invs()).prop_map(|(nonce, invs)| GossipPayload::Batch(Batch {
            nonce,
            invs
        })
        .encode()),
        (inv(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(inv, b)| {
            GossipPayload::Push(Body {
                inv,
                bytes: b.into(),
            })
            .encode()
        }),
        invs().prop_map(|v| rumor_chain::encode(&GetDataRequest::Objects(v))),
        prop::collection::vec(any::<u64>(), 0..6)
            .prop_map(|v| rumor_chain::encode(&GetDataRequest::TxsByShortId(v))),
        (invs(), invs()).prop_map(|(f, n)| rumor_chain::encode(&GetDataResponse::Objects {
            found: f
                .into_iter()
                .map(|inv| Body {
                    inv,
                    bytes: vec![1, 2, 3].into()
                })
                .collect(),
            notfound: n,
        })),
        status
            .clone()
            .prop_map(|s| rumor_chain::encode(&SyncRequest::Status(s))),
        status.prop_map(|s| rumor_chain::encode(&SyncResponse::Status(s))),
        prop::collection::vec(any::<[u8; 32]>(), 0..5).prop_map(|l| rumor_chain::encode(
            &SyncRequest::Headers {
                locator: l.into_iter().map(BlockHash).collect(),
                max: 7
            }
        )),
    ]
}

#[test]
fn arbitrary_bytes_into_every_wire_decoder() {
    run(
        "p2p: wire decoders, random bytes",
        prop::collection::vec(any::<u8>(), 0..600),
        |bytes| every_decoder(&bytes),
    );
}

#[test]
fn mutated_wire_messages_into_every_decoder() {
    run(
        "p2p: wire decoders, mutated valid messages",
        (valid_message(), any::<usize>(), any::<u8>(), 0..4u8),
        |(mut bytes, pos, val, how)| {
            match how {
                0 if !bytes.is_empty() => {
                    let i = pos % bytes.len();
                    bytes[i] ^= val | 1;
                }
                1 => bytes.truncate(pos % (bytes.len() + 1)),
                2 => bytes.push(val),
                _ => {
                    // A huge length prefix where a vector's length goes.
                    if bytes.len() > 2 {
                        let i = pos % (bytes.len() - 1);
                        bytes[i] = 0xfd;
                        bytes[i + 1] = 0xff;
                    }
                }
            }
            every_decoder(&bytes)
        },
    );
}

#[test]
fn valid_messages_decode_to_themselves() {
    run(
        "p2p: wire decoders, valid messages",
        valid_message(),
        |bytes| {
            let any_decodes = GossipPayload::decode(&bytes).is_ok()
                || rumor_chain::decode::<GetDataRequest>(&bytes, MAX_GETDATA_REQUEST_BYTES).is_ok()
                || rumor_chain::decode::<GetDataResponse>(&bytes, MAX_GETDATA_RESPONSE_BYTES)
                    .is_ok()
                || rumor_chain::decode::<SyncRequest>(&bytes, MAX_SYNC_REQUEST_BYTES).is_ok()
                || rumor_chain::decode::<SyncResponse>(&bytes, MAX_SYNC_RESPONSE_BYTES).is_ok();
            prop_assert!(any_decodes);
            every_decoder(&bytes)
        },
    );
}
