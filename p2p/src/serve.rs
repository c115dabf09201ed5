//! Serving `getdata`: whether a request is admitted (item limits, the
//! per-peer rate), what the relay cache answers at once, and what is left
//! to ask the node. Responses stay under their byte limit however many or
//! large the objects asked for, and under the bytes the peer's serving
//! budget granted ([`rumor_relay::ServeBudget`]): what does not fit is
//! answered `notfound`.

use bytes::Bytes;
use libp2p::PeerId;
use rumor_chain::{BlockHash, Inv, Txid};
use rumor_relay::Relay;

use crate::wire::{
    Body, GetDataRequest, GetDataResponse, MAX_GETDATA_RESPONSE_BYTES, MAX_INVS_PER_REQUEST,
    MAX_SHORT_IDS,
};

/// Body bytes one response carries at most (the rest of the response, the
/// not-found list, fits in the margin).
pub(crate) const RESPONSE_BUDGET: usize = MAX_GETDATA_RESPONSE_BYTES - 64 * 1024;
/// Rate-limit tokens one compact-block request costs (honest peers ask for
/// one per block; the node may have to decode a whole block from its store).
const COMPACT_REQUEST_COST: usize = 1000;

/// The most body bytes an answer to `request` can carry: what its items
/// can take at the decode limits (a transaction 1 MiB, a block 16 MiB),
/// at most [`RESPONSE_BUDGET`]. A request reserves this much of the peer's
/// byte budget, not a whole response: one transaction asked for holds
/// 1 MiB of it, not 16.
pub(crate) fn most_bytes(request: &GetDataRequest) -> usize {
    let tx = rumor_chain::MAX_TX_DECODE_BYTES;
    let most = match request {
        GetDataRequest::Objects(v) => v
            .iter()
            .map(|inv| match inv {
                Inv::Tx(_) => tx,
                Inv::Block(_) => rumor_chain::MAX_BLOCK_DECODE_BYTES,
            })
            .fold(0usize, usize::saturating_add),
        GetDataRequest::TxsByShortId(v) => v.len().saturating_mul(tx),
        GetDataRequest::BlockTxs { indexes, .. } => indexes.len().saturating_mul(tx),
        GetDataRequest::CompactBlock(_) => RESPONSE_BUDGET,
    };
    most.min(RESPONSE_BUDGET)
}

/// Whether a request may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Serve it.
    Serve,
    /// More items than the protocol allows.
    Oversized,
    /// Within limits, but over the peer's rate.
    Flood,
}

/// Checks `request`'s size, and charges its cost to `peer`'s rate with `allow`.
pub(crate) fn admit(request: &GetDataRequest, allow: impl FnOnce(usize) -> bool) -> Admit {
    let (items, limit) = match request {
        GetDataRequest::Objects(v) => (v.len(), MAX_INVS_PER_REQUEST),
        GetDataRequest::TxsByShortId(v) => (v.len(), MAX_SHORT_IDS),
        GetDataRequest::CompactBlock(_) => (1, 1),
        GetDataRequest::BlockTxs { indexes, .. } => (indexes.len(), MAX_SHORT_IDS),
    };
    if items > limit {
        return Admit::Oversized;
    }
    let cost = match request {
        GetDataRequest::CompactBlock(_) => COMPACT_REQUEST_COST,
        _ => items.max(1),
    };
    if allow(cost) {
        Admit::Serve
    } else {
        Admit::Flood
    }
}

/// How a request is answered.
#[derive(Debug)]
pub(crate) enum Plan {
    /// At once, from the cache (or refused).
    Now(GetDataResponse),
    /// What the cache had, and the objects to ask the node for.
    Bodies(Partial),
    /// Ask the node for mempool transactions by short id.
    ShortIds {
        /// The short ids, sorted, once each.
        ids: Vec<u64>,
        /// Bytes the answer may carry.
        limit: usize,
    },
    /// Ask the node for a stored block's compact form.
    Compact(BlockHash),
    /// Ask the node for a stored block's transactions by position.
    BlockTxs {
        /// The block.
        block: BlockHash,
        /// Positions, increasing.
        indexes: Vec<u32>,
        /// Bytes the answer may carry.
        limit: usize,
    },
}

/// An objects request half served from the cache.
#[derive(Debug)]
pub(crate) struct Partial {
    /// Every item, in the order asked: found in the cache, to ask the
    /// node for, or over the byte budget.
    slots: Vec<Slot>,
    size: usize,
    /// Body bytes this response may carry: the peer's grant, at most
    /// [`RESPONSE_BUDGET`].
    limit: usize,
    /// Asked of the node, in order.
    pub(crate) misses: Vec<Inv>,
}

#[derive(Debug)]
enum Slot {
    Found(Body),
    Miss(Inv),
    NotFound(Inv),
}

impl Partial {
    /// Bytes left in the budget for what the node finds.
    pub(crate) fn budget(&self) -> usize {
        self.limit.saturating_sub(self.size)
    }

    /// The response, with the node's bodies for the misses (`None`: the
    /// node could not say). Bodies keep the order they were asked in (a
    /// peer catching up asks for parents first).
    pub(crate) fn complete(mut self, answer: Option<Vec<Option<Bytes>>>) -> GetDataResponse {
        let mut answers = answer.unwrap_or_default().into_iter();
        let mut found = Vec::with_capacity(self.slots.len());
        let mut notfound = Vec::new();
        for slot in self.slots {
            match slot {
                Slot::Found(body) => found.push(body),
                Slot::NotFound(inv) => notfound.push(inv),
                Slot::Miss(inv) => match answers.next().flatten() {
                    Some(bytes) if self.size + bytes.len() <= self.limit => {
                        self.size += bytes.len() + 64;
                        found.push(Body { inv, bytes });
                    }
                    _ => notfound.push(inv),
                },
            }
        }
        GetDataResponse::Objects { found, notfound }
    }
}

/// How to answer `request` within `limit` body bytes, serving from the
/// relay cache what it holds.
pub(crate) fn plan<M>(relay: &mut Relay<PeerId, M>, request: GetDataRequest, limit: usize) -> Plan {
    let limit = limit.min(RESPONSE_BUDGET);
    match request {
        GetDataRequest::Objects(invs) => {
            let mut partial = Partial {
                slots: Vec::with_capacity(invs.len()),
                size: 0,
                limit,
                misses: Vec::new(),
            };
            for inv in invs {
                let cached = match inv {
                    Inv::Tx(txid) => relay.cached_tx(&txid),
                    Inv::Block(hash) => relay.cached_block(&hash).map(|b| b.bytes),
                };
                let slot = match cached {
                    Some(bytes) if partial.size + bytes.len() <= partial.limit => {
                        partial.size += bytes.len() + 64;
                        Slot::Found(Body { inv, bytes })
                    }
                    Some(_) => Slot::NotFound(inv),
                    None => {
                        partial.misses.push(inv);
                        Slot::Miss(inv)
                    }
                };
                partial.slots.push(slot);
            }
            if partial.misses.is_empty() {
                Plan::Now(partial.complete(None))
            } else {
                Plan::Bodies(partial)
            }
        }
        GetDataRequest::TxsByShortId(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            Plan::ShortIds { ids, limit }
        }
        GetDataRequest::CompactBlock(hash) => match relay.cached_block(&hash) {
            Some(b) => Plan::Now(GetDataResponse::CompactBlock(Some((*b.compact).clone()))),
            None => Plan::Compact(hash),
        },
        GetDataRequest::BlockTxs { block, indexes } => {
            // Positions must be strictly increasing (each transaction once).
            if indexes.windows(2).any(|w| w[0] >= w[1]) {
                return Plan::Now(GetDataResponse::Refused);
            }
            match relay.cached_block_txs(&block, &indexes) {
                Some(txs) => Plan::Now(txs_response(Some(txs), limit)),
                None => Plan::BlockTxs {
                    block,
                    indexes,
                    limit,
                },
            }
        }
    }
}

/// Transactions as a response, within `limit` bytes (`None`: refused).
pub(crate) fn txs_response(txs: Option<Vec<Bytes>>, limit: usize) -> GetDataResponse {
    let Some(txs) = txs else {
        return GetDataResponse::Refused;
    };
    let mut size = 0;
    let mut out = Vec::with_capacity(txs.len());
    for t in txs {
        size += t.len() + 8;
        if size > limit.min(RESPONSE_BUDGET) {
            break;
        }
        out.push(t);
    }
    GetDataResponse::Txs(out)
}

/// The body bytes `response` carries (what a serving budget is charged).
pub(crate) fn response_bytes(response: &GetDataResponse) -> usize {
    match response {
        GetDataResponse::Objects { found, .. } => found.iter().map(|b| b.bytes.len() + 64).sum(),
        GetDataResponse::Txs(txs) => txs.iter().map(|t| t.len() + 8).sum(),
        // The header is under 200 bytes; not worth encoding to measure.
        GetDataResponse::CompactBlock(Some(c)) => 200 + c.coinbase.len() + 8 * c.short_ids.len(),
        GetDataResponse::CompactBlock(None) | GetDataResponse::Refused => 0,
    }
}

/// The transaction ids of bodies fetched by short id (anti-entropy): each
/// hashed once, here.
pub(crate) fn identify(bodies: Vec<Bytes>) -> Vec<(Txid, Bytes)> {
    bodies
        .into_iter()
        .map(|b| (Txid(rumor_chain::sha256d(&b)), b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_relay::RelayConfig;

    fn inv(i: u8) -> Inv {
        Inv::Tx(Txid([i; 32]))
    }

    #[test]
    fn a_request_reserves_what_its_items_can_take() {
        let tx = rumor_chain::MAX_TX_DECODE_BYTES;
        let one = GetDataRequest::Objects(vec![inv(1)]);
        assert_eq!(most_bytes(&one), tx);
        let three = GetDataRequest::Objects(vec![inv(1), inv(2), inv(3)]);
        assert_eq!(most_bytes(&three), 3 * tx);
        let block = GetDataRequest::Objects(vec![inv(1), Inv::Block(BlockHash([1; 32]))]);
        assert_eq!(most_bytes(&block), RESPONSE_BUDGET, "capped");
        let many = GetDataRequest::TxsByShortId(vec![7; 1000]);
        assert_eq!(most_bytes(&many), RESPONSE_BUDGET);
        let empty = GetDataRequest::Objects(Vec::new());
        assert_eq!(most_bytes(&empty), 0);
    }

    #[test]
    fn requests_over_the_item_limit_or_the_rate_are_refused() {
        let big = GetDataRequest::Objects(vec![inv(1); MAX_INVS_PER_REQUEST + 1]);
        assert_eq!(admit(&big, |_| true), Admit::Oversized);
        let ok = GetDataRequest::Objects(vec![inv(1); 3]);
        assert_eq!(admit(&ok, |cost| cost == 3), Admit::Serve);
        let compact = GetDataRequest::CompactBlock(BlockHash([0; 32]));
        assert_eq!(admit(&compact, |cost| cost < 1000), Admit::Flood);
    }

    #[test]
    fn the_cache_serves_what_it_holds_and_the_node_the_rest_within_the_budget() {
        let mut relay = Relay::<PeerId, u32>::new(&RelayConfig::default());
        let now = std::time::Instant::now();
        relay.on_local_accepted(inv(1), Bytes::from_static(b"one"), None, now);
        let asked = vec![inv(2), inv(1), inv(3), inv(4)];
        let Plan::Bodies(partial) =
            plan(&mut relay, GetDataRequest::Objects(asked), RESPONSE_BUDGET)
        else {
            panic!("inv 2, 3 and 4 are not cached");
        };
        assert_eq!(partial.misses, vec![inv(2), inv(3), inv(4)]);
        let node = vec![
            Some(Bytes::from_static(b"two")),
            None,
            Some(Bytes::from_static(b"four")),
        ];
        let body = |i, b: &'static [u8]| Body {
            inv: inv(i),
            bytes: Bytes::from_static(b),
        };
        // In the order asked: a peer catching up asks for parents first.
        assert_eq!(
            partial.complete(Some(node)),
            GetDataResponse::Objects {
                found: vec![body(2, b"two"), body(1, b"one"), body(4, b"four")],
                notfound: vec![inv(3)]
            }
        );
        // Repeated positions are refused; a large answer is cut at the budget.
        let bad = GetDataRequest::BlockTxs {
            block: BlockHash([0; 32]),
            indexes: vec![2, 2],
        };
        assert!(matches!(
            plan(&mut relay, bad, RESPONSE_BUDGET),
            Plan::Now(GetDataResponse::Refused)
        ));
        let huge = vec![Bytes::from(vec![0u8; 1 << 20]); 40];
        let GetDataResponse::Txs(cut) = txs_response(Some(huge), RESPONSE_BUDGET) else {
            panic!()
        };
        assert!(cut.len() < 40 && cut.iter().map(Bytes::len).sum::<usize>() <= RESPONSE_BUDGET);
    }

    #[test]
    fn an_answer_carries_no_more_than_the_bytes_granted() {
        let mut relay = Relay::<PeerId, u32>::new(&RelayConfig::default());
        let now = std::time::Instant::now();
        let body = Bytes::from(vec![7u8; 10_000]);
        relay.on_local_accepted(inv(1), body.clone(), None, now);
        // Ten copies asked, room for three (each counts its bytes + 64).
        let Plan::Now(response) = plan(
            &mut relay,
            GetDataRequest::Objects(vec![inv(1); 10]),
            30_300,
        ) else {
            panic!("cached");
        };
        let GetDataResponse::Objects { found, notfound } = &response else {
            panic!("{response:?}")
        };
        assert_eq!((found.len(), notfound.len()), (3, 7));
        assert_eq!(response_bytes(&response), 3 * 10_064);
        let txs = txs_response(Some(vec![body; 10]), 25_000);
        assert!(
            matches!(&txs, GetDataResponse::Txs(t) if t.len() == 2),
            "{txs:?}"
        );
    }
}
