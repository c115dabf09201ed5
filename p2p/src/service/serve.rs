//! Serving inbound `getdata` requests. Lookups run on the blocking pool;
//! each peer is rate-limited, and oversized requests are refused.

use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use libp2p::PeerId;
use libp2p::request_response::ResponseChannel;
use lru::LruCache;
use rumor_chain::{Block, BlockHash, Transaction};
use serde_bytes::ByteBuf;

use super::{Internal, Service};
use crate::backend::Backend;
use crate::wire::{
    Body, CompactBlock, GetDataRequest, GetDataResponse, Inv, MAX_GETDATA_RESPONSE_BYTES,
    MAX_INVS_PER_REQUEST, MAX_SHORT_IDS, ObjectKind,
};

/// Penalty for a request over the protocol's item limits.
const OVERSIZED_REQUEST_PENALTY: f64 = 25.0;
/// Penalty for exceeding the rate limit.
const RATE_LIMIT_PENALTY: f64 = 10.0;

/// Rate-limit tokens one compact-block request costs (honest peers ask for
/// one per block).
const COMPACT_REQUEST_COST: usize = 1000;
/// Body bytes one `getdata` response carries at most (the rest of the
/// response, the not-found list, fits in the margin).
const RESPONSE_BUDGET: usize = MAX_GETDATA_RESPONSE_BYTES - 64 * 1024;

/// A recently served block as a compact block, with its transactions encoded.
pub(crate) struct CompactEntry {
    compact: CompactBlock,
    txs: Vec<Vec<u8>>,
}

/// Recently served compact blocks (every peer asks for the same few).
pub(crate) type CompactCache = LruCache<BlockHash, Arc<CompactEntry>>;

fn compact_entry(
    backend: &dyn Backend,
    cache: &Mutex<CompactCache>,
    hash: BlockHash,
) -> Option<Arc<CompactEntry>> {
    if let Some(e) = cache.lock().ok()?.get(&hash) {
        return Some(Arc::clone(e));
    }
    let bytes = backend.bodies(&[Inv::block(hash)]).pop().flatten()?;
    let block = Block::decode(&bytes).ok()?;
    let txs: Vec<Vec<u8>> = block.txs.iter().map(Transaction::encode).collect();
    let short_ids = block
        .txs
        .iter()
        .skip(1)
        .map(|t| t.txid().short_id())
        .collect();
    let entry = Arc::new(CompactEntry {
        compact: CompactBlock {
            header: block.header,
            coinbase: ByteBuf::from(txs[0].clone()),
            short_ids,
        },
        txs,
    });
    if let Ok(mut c) = cache.lock() {
        c.put(hash, Arc::clone(&entry));
    }
    Some(entry)
}

fn answer(
    backend: &dyn Backend,
    cache: &Mutex<CompactCache>,
    request: GetDataRequest,
) -> GetDataResponse {
    match request {
        GetDataRequest::Objects(invs) => {
            // Bodies are looked up a few at a time and only while the
            // response stays under its limit: a request for many large
            // objects (1,024 times one block) must not make the node build,
            // then refuse to send, a response of gigabytes. What does not
            // fit is answered as not found (the requester asks again).
            let mut found = Vec::new();
            let mut notfound = Vec::new();
            let mut size = 0usize;
            // Transactions (at most 100 kB each) 64 at a time, blocks one by one.
            let mut rest = invs.as_slice();
            while !rest.is_empty() {
                let n = match rest[0].kind {
                    ObjectKind::Block => 1,
                    ObjectKind::Tx => rest
                        .iter()
                        .take(64)
                        .take_while(|i| i.kind == ObjectKind::Tx)
                        .count(),
                };
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                if size >= RESPONSE_BUDGET {
                    notfound.extend_from_slice(chunk);
                    continue;
                }
                for (inv, body) in chunk.iter().zip(backend.bodies(chunk)) {
                    match body {
                        Some(bytes) if size + bytes.len() <= RESPONSE_BUDGET => {
                            size += bytes.len() + 64;
                            found.push(Body {
                                inv: *inv,
                                bytes: ByteBuf::from(bytes),
                            });
                        }
                        _ => notfound.push(*inv),
                    }
                }
            }
            GetDataResponse::Objects { found, notfound }
        }
        GetDataRequest::TxsByShortId(mut ids) => {
            // Each id once, looked up a chunk at a time, within the budget.
            ids.sort_unstable();
            ids.dedup();
            let mut out = Vec::new();
            let mut size = 0usize;
            for chunk in ids.chunks(512) {
                if size >= RESPONSE_BUDGET {
                    break;
                }
                for bytes in backend.mempool_txs_by_short_id(chunk).into_iter().flatten() {
                    if size + bytes.len() > RESPONSE_BUDGET {
                        break;
                    }
                    size += bytes.len() + 8;
                    out.push(ByteBuf::from(bytes));
                }
            }
            GetDataResponse::Txs(out)
        }
        GetDataRequest::CompactBlock(hash) => GetDataResponse::CompactBlock(
            compact_entry(backend, cache, hash).map(|e| e.compact.clone()),
        ),
        GetDataRequest::BlockTxs { block, indexes } => {
            // Positions must be strictly increasing (each transaction once),
            // and the answer must fit the budget: a block holds at most
            // max_block_bytes, so an honest request always fits.
            if indexes.windows(2).any(|w| w[0] >= w[1]) {
                return GetDataResponse::Refused;
            }
            let Some(e) = compact_entry(backend, cache, block) else {
                return GetDataResponse::Refused;
            };
            let mut out = Vec::with_capacity(indexes.len());
            let mut size = 0usize;
            for i in &indexes {
                let Some(t) = e.txs.get(*i as usize) else {
                    return GetDataResponse::Refused;
                };
                size += t.len() + 8;
                if size > RESPONSE_BUDGET {
                    return GetDataResponse::Refused;
                }
                out.push(ByteBuf::from(t.clone()));
            }
            GetDataResponse::Txs(out)
        }
    }
}

impl Service {
    pub(super) fn serve_getdata(
        &mut self,
        peer: PeerId,
        request: GetDataRequest,
        channel: ResponseChannel<GetDataResponse>,
    ) {
        if self.loss_hit() {
            self.shared
                .counters
                .emulated_loss_rr
                .fetch_add(1, Ordering::Relaxed);
            return; // dropping the channel: the requester sees a failure and retries
        }
        let (items, limit) = match &request {
            GetDataRequest::Objects(v) => (v.len(), MAX_INVS_PER_REQUEST),
            GetDataRequest::TxsByShortId(v) => (v.len(), MAX_SHORT_IDS),
            GetDataRequest::CompactBlock(_) => (1, 1),
            GetDataRequest::BlockTxs { indexes, .. } => (indexes.len(), MAX_SHORT_IDS),
        };
        if items > limit {
            self.count_reject("oversized-request");
            self.penalize(peer, OVERSIZED_REQUEST_PENALTY, "oversized getdata");
            let _ = self
                .swarm
                .behaviour_mut()
                .getdata
                .send_response(channel, GetDataResponse::Refused);
            return;
        }
        // A compact block may mean decoding a whole block from the store:
        // it costs as much as a thousand items.
        let cost = match &request {
            GetDataRequest::CompactBlock(_) => COMPACT_REQUEST_COST,
            _ => items.max(1),
        };
        if !self.peers.allow(peer, cost) {
            self.shared
                .counters
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            self.penalize(peer, RATE_LIMIT_PENALTY, "getdata flood");
            let _ = self
                .swarm
                .behaviour_mut()
                .getdata
                .send_response(channel, GetDataResponse::Refused);
            return;
        }
        let key = self.next_key();
        self.getdata_channels.insert(key, channel);
        let backend = Arc::clone(&self.backend);
        let cache = Arc::clone(&self.compact_cache);
        let tx = self.internal_tx.clone();
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let resp = answer(backend.as_ref(), &cache, request);
            if let GetDataResponse::Objects { notfound, .. } = &resp {
                shared
                    .counters
                    .notfound_sent
                    .fetch_add(notfound.len() as u64, Ordering::Relaxed);
            }
            let _ = tx.send(Internal::GetData(key, peer, resp));
        });
    }
}

/// A compact-block cache of `n` entries.
pub(crate) fn compact_cache(n: usize) -> Mutex<CompactCache> {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN),
    ))
}
