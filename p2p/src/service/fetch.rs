//! Fetching bodies with `getdata`: batching per peer, responses, failures and
//! retries, and compact-block reconstruction.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use libp2p::PeerId;
use libp2p::gossipsub::MessageAcceptance;
use libp2p::request_response::{self, Message, OutboundFailure};
use rumor_chain::{Block, BlockHash, BlockHeader, Txid};
use serde_bytes::ByteBuf;

use super::{Internal, Job, Service};
use crate::backend::{Backend, Origin};
use crate::relay::{GossipRef, OnBody, OnFetchFailed};
use crate::telemetry::Via;
use crate::wire::{
    Body, CompactBlock, GetDataRequest, GetDataResponse, Inv, MAX_INVS_PER_REQUEST, ObjectKind,
};

/// Penalty for announcing an object and never serving it.
const NOT_SERVED_PENALTY: f64 = 1.0;
/// Penalty for a malformed or oversized response.
const BAD_RESPONSE_PENALTY: f64 = 25.0;

/// What an outbound `getdata` request was for.
pub(crate) enum Outbound {
    /// Bodies by id.
    Objects { invs: Vec<Inv> },
    /// A compact block.
    Compact { inv: Inv },
    /// Missing transactions of a compact block.
    BlockTxs {
        inv: Inv,
        partial: Box<PartialBlock>,
    },
    /// Mempool transactions by short id (anti-entropy).
    ShortIds,
}

/// A compact block waiting for some of its transactions, kept as their
/// canonical encodings: the block is assembled from bytes and only the node
/// decodes it (once), when it validates it.
pub(crate) struct PartialBlock {
    pub(crate) header: BlockHeader,
    pub(crate) txs: Vec<Option<Vec<u8>>>,
}

impl PartialBlock {
    fn missing(&self) -> Vec<u32> {
        self.txs
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_none())
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// The result of rebuilding a compact block on the blocking pool.
pub(crate) struct Rebuilt {
    pub(crate) peer: PeerId,
    pub(crate) inv: Inv,
    pub(crate) outcome: RebuiltOutcome,
    /// Transactions that had to be fetched for it.
    pub(crate) fetched: usize,
}

pub(crate) enum RebuiltOutcome {
    /// Complete, and the merkle root matches.
    Complete(Body),
    /// Some transactions are missing.
    Missing(Box<PartialBlock>),
    /// Complete but the merkle root does not match (a short-id collision, or
    /// a lying peer): fall back to the full block.
    Mismatch,
    /// The compact block itself is malformed.
    Malformed,
}

/// Rebuilds a block from a compact block and the mempool.
fn rebuild(backend: &dyn Backend, cb: CompactBlock) -> RebuiltOutcome {
    let bodies = backend.mempool_txs_by_short_id(&cb.short_ids);
    let mut txs = Vec::with_capacity(cb.short_ids.len() + 1);
    txs.push(Some(cb.coinbase.into_vec()));
    for (want, body) in cb.short_ids.iter().zip(bodies) {
        txs.push(body.filter(|b| Txid(rumor_chain::sha256d(b)).short_id() == *want));
    }
    finish(PartialBlock {
        header: cb.header,
        txs,
    })
}

/// Assembles a partial block if it is complete: the canonical block
/// encoding is the header's, the transaction count, and the transactions'
/// encodings in order. Whether those bytes are a valid block is the node's
/// call; here only the merkle root is checked, to catch short-id collisions.
fn finish(partial: PartialBlock) -> RebuiltOutcome {
    if partial.txs.iter().any(Option::is_none) {
        return RebuiltOutcome::Missing(Box::new(partial));
    }
    let txs: Vec<Vec<u8>> = partial.txs.into_iter().flatten().collect();
    let txids: Vec<Txid> = txs.iter().map(|b| Txid(rumor_chain::sha256d(b))).collect();
    if Block::merkle_root_of(&txids) != partial.header.merkle_root {
        return RebuiltOutcome::Mismatch;
    }
    let mut bytes = rumor_chain::encode(&partial.header);
    rumor_chain::encode_into(&(txs.len() as u64), &mut bytes);
    for tx in &txs {
        bytes.extend_from_slice(tx);
    }
    RebuiltOutcome::Complete(Body {
        inv: Inv::block(partial.header.hash()),
        bytes: ByteBuf::from(bytes),
    })
}

impl Service {
    /// Queues a fetch of `inv` from `peer`; requests go out batched.
    pub(crate) fn queue_fetch(&mut self, inv: Inv, peer: PeerId) {
        self.pending_getdata.entry(peer).or_default().push(inv);
    }

    /// Sends the queued fetches: transactions (and full blocks) as one
    /// `Objects` request per peer, announced blocks as compact-block requests.
    pub(crate) fn flush_getdata(&mut self) {
        let pending = std::mem::take(&mut self.pending_getdata);
        for (peer, invs) in pending {
            let mut objects = Vec::new();
            for inv in invs {
                let compact = inv.kind == ObjectKind::Block
                    && self.fetch_via.get(&inv) == Some(&Via::Announce);
                if compact {
                    let id = self
                        .swarm
                        .behaviour_mut()
                        .getdata
                        .send_request(&peer, GetDataRequest::CompactBlock(BlockHash(inv.id.0)));
                    self.outbound.insert(id, Outbound::Compact { inv });
                } else {
                    if inv.kind == ObjectKind::Block {
                        self.shared
                            .counters
                            .full_blocks_fetched
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    objects.push(inv);
                }
            }
            for chunk in objects.chunks(MAX_INVS_PER_REQUEST) {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .getdata
                    .send_request(&peer, GetDataRequest::Objects(chunk.to_vec()));
                self.outbound.insert(
                    id,
                    Outbound::Objects {
                        invs: chunk.to_vec(),
                    },
                );
            }
        }
    }

    pub(super) fn on_getdata_event(
        &mut self,
        ev: request_response::Event<GetDataRequest, GetDataResponse>,
    ) {
        match ev {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.serve_getdata(peer, request, channel),
            request_response::Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let Some(ctx) = self.outbound.remove(&request_id) else {
                    return;
                };
                if self.loss_hit() {
                    // Lost on the way: the fetch times out and is retried.
                    self.shared
                        .counters
                        .emulated_loss_rr
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
                self.on_getdata_response(peer, ctx, response);
                // The answer freed this peer's slots: send what waits for it.
                self.schedule_queued(Instant::now());
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let Some(ctx) = self.outbound.remove(&request_id) else {
                    return;
                };
                if let OutboundFailure::Io(e) = &error
                    && e.kind() == std::io::ErrorKind::InvalidData
                {
                    self.shared
                        .counters
                        .undecodable
                        .fetch_add(1, Ordering::Relaxed);
                    self.penalize(peer, BAD_RESPONSE_PENALTY, "malformed getdata response");
                }
                tracing::debug!(%peer, %error, "getdata failed");
                self.fail_outbound(peer, ctx);
            }
            request_response::Event::InboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Every item of a failed request fails at that peer.
    fn fail_outbound(&mut self, peer: PeerId, ctx: Outbound) {
        let invs = match ctx {
            Outbound::Objects { invs, .. } => invs,
            Outbound::Compact { inv, .. } | Outbound::BlockTxs { inv, .. } => vec![inv],
            Outbound::ShortIds => return,
        };
        let now = Instant::now();
        for inv in invs {
            let r = self.relay.on_fetch_failed(&inv, &peer, now);
            self.after_fetch_failure(inv, r);
        }
    }

    pub(crate) fn after_fetch_failure(&mut self, inv: Inv, r: OnFetchFailed) {
        match r {
            OnFetchFailed::RetryFrom(p) => self.queue_fetch(inv, p),
            OnFetchFailed::Queued => {}
            OnFetchFailed::GaveUp(g) => self.gave_up(inv, g),
        }
    }

    pub(crate) fn gave_up(&mut self, inv: Inv, gossip: Option<GossipRef>) {
        self.shared
            .counters
            .fetches_given_up
            .fetch_add(1, Ordering::Relaxed);
        self.fetch_via.remove(&inv);
        if self.session.as_ref().is_some_and(|s| s.waiting_on(&inv)) {
            self.session = None;
        }
        if let Some(g) = gossip {
            let source = g.source;
            self.report(g, MessageAcceptance::Ignore);
            self.penalize(
                source,
                NOT_SERVED_PENALTY,
                "announced an object it did not serve",
            );
        }
    }

    fn on_getdata_response(&mut self, peer: PeerId, ctx: Outbound, response: GetDataResponse) {
        match (ctx, response) {
            (Outbound::Objects { invs, .. }, GetDataResponse::Objects { found, notfound }) => {
                let asked: HashSet<Inv> = invs.iter().copied().collect();
                let mut answered = HashSet::new();
                for body in found {
                    if !asked.contains(&body.inv) || !answered.insert(body.inv) {
                        self.shared
                            .counters
                            .mismatched_bodies
                            .fetch_add(1, Ordering::Relaxed);
                        self.penalize(peer, BAD_RESPONSE_PENALTY, "unrequested body");
                        continue;
                    }
                    self.accept_body(peer, body);
                }
                self.shared
                    .counters
                    .notfound_received
                    .fetch_add(notfound.len() as u64, Ordering::Relaxed);
                let now = Instant::now();
                for inv in invs.into_iter().filter(|i| !answered.contains(i)) {
                    let r = self.relay.on_fetch_failed(&inv, &peer, now);
                    self.after_fetch_failure(inv, r);
                }
            }
            (Outbound::Compact { inv, .. }, GetDataResponse::CompactBlock(Some(cb))) => {
                if cb.header.hash().0 != inv.id.0 {
                    self.shared
                        .counters
                        .mismatched_bodies
                        .fetch_add(1, Ordering::Relaxed);
                    self.penalize(
                        peer,
                        BAD_RESPONSE_PENALTY,
                        "compact block for another block",
                    );
                    self.fail_outbound(peer, Outbound::Compact { inv });
                    return;
                }
                let backend = Arc::clone(&self.backend);
                let tx = self.internal_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let outcome = rebuild(backend.as_ref(), cb);
                    let _ = tx.send(Internal::Rebuilt(Rebuilt {
                        peer,
                        inv,
                        outcome,
                        fetched: 0,
                    }));
                });
            }
            (
                Outbound::BlockTxs {
                    inv, mut partial, ..
                },
                GetDataResponse::Txs(bodies),
            ) => {
                let missing = partial.missing();
                let fetched = missing.len();
                let tx = self.internal_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let outcome = if bodies.len() != missing.len() {
                        RebuiltOutcome::Malformed
                    } else {
                        for (i, bytes) in missing.iter().zip(bodies) {
                            partial.txs[*i as usize] = Some(bytes.into_vec());
                        }
                        finish(*partial)
                    };
                    let _ = tx.send(Internal::Rebuilt(Rebuilt {
                        peer,
                        inv,
                        outcome,
                        fetched,
                    }));
                });
            }
            (Outbound::ShortIds, GetDataResponse::Txs(bodies)) => {
                for bytes in bodies {
                    let txid = Txid(rumor_chain::sha256d(&bytes));
                    let body = Body {
                        inv: Inv::tx(txid),
                        bytes,
                    };
                    // Anti-entropy asked only for what the node lacked a
                    // moment ago; the node reports `Known` otherwise.
                    let inv = body.inv;
                    match self.relay.adopt_body(inv, || false) {
                        OnBody::Validate => {
                            self.shared
                                .counters
                                .sync_fetched
                                .fetch_add(1, Ordering::Relaxed);
                            self.enqueue(Job {
                                origin: Origin::Peer(peer),
                                via: Via::Sync,
                                body,
                            });
                        }
                        OnBody::Duplicate(_) => {
                            self.count_duplicate(|c| &c.duplicate_sync);
                        }
                    }
                }
            }
            (
                Outbound::Compact { inv },
                GetDataResponse::Refused | GetDataResponse::CompactBlock(None),
            ) => {
                // No compact block from this peer: ask it for the full block.
                self.full_block_fallback(peer, inv);
            }
            (ctx, GetDataResponse::Refused) => self.fail_outbound(peer, ctx),
            (ctx, _) => {
                self.penalize(peer, BAD_RESPONSE_PENALTY, "response of the wrong type");
                self.fail_outbound(peer, ctx);
            }
        }
    }

    /// A fetched body arrived: validate it unless it is a duplicate.
    fn accept_body(&mut self, peer: PeerId, body: Body) {
        let inv = body.inv;
        match self.relay.on_body(&inv) {
            OnBody::Validate => {
                self.shared
                    .counters
                    .bodies_fetched
                    .fetch_add(1, Ordering::Relaxed);
                let via = self.fetch_via.remove(&inv).unwrap_or(Via::Announce);
                if via == Via::Sync {
                    self.shared
                        .counters
                        .sync_fetched
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.enqueue(Job {
                    origin: Origin::Peer(peer),
                    via,
                    body,
                });
            }
            OnBody::Duplicate(_) => {
                self.count_duplicate(|c| &c.duplicate_late);
            }
        }
    }

    pub(super) fn on_rebuilt(&mut self, r: Rebuilt) {
        let Rebuilt {
            peer,
            inv,
            outcome,
            fetched,
        } = r;
        if !self.relay.inflight().contains(&inv) {
            return; // completed another way meanwhile
        }
        match outcome {
            RebuiltOutcome::Complete(body) => {
                if fetched == 0 {
                    self.shared
                        .counters
                        .compact_full_hits
                        .fetch_add(1, Ordering::Relaxed);
                } else {
                    self.shared
                        .counters
                        .compact_partial
                        .fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .counters
                        .compact_missing_txs
                        .fetch_add(fetched as u64, Ordering::Relaxed);
                }
                self.fetch_via.insert(inv, Via::Compact);
                self.accept_body(peer, body);
            }
            RebuiltOutcome::Missing(partial) => {
                let indexes = partial.missing();
                let id = self.swarm.behaviour_mut().getdata.send_request(
                    &peer,
                    GetDataRequest::BlockTxs {
                        block: BlockHash(inv.id.0),
                        indexes,
                    },
                );
                self.outbound
                    .insert(id, Outbound::BlockTxs { inv, partial });
            }
            RebuiltOutcome::Mismatch => {
                tracing::debug!(%inv, %peer, "compact block did not rebuild; fetching the full block");
                self.shared
                    .counters
                    .full_blocks_fetched
                    .fetch_add(1, Ordering::Relaxed);
                let id = self
                    .swarm
                    .behaviour_mut()
                    .getdata
                    .send_request(&peer, GetDataRequest::Objects(vec![inv]));
                self.outbound
                    .insert(id, Outbound::Objects { invs: vec![inv] });
            }
            RebuiltOutcome::Malformed => {
                self.penalize(peer, BAD_RESPONSE_PENALTY, "malformed compact block");
                self.fail_outbound(peer, Outbound::Compact { inv });
            }
        }
    }

    /// Fetches the full block from the peer already asked for it.
    fn full_block_fallback(&mut self, peer: PeerId, inv: Inv) {
        self.shared
            .counters
            .full_blocks_fetched
            .fetch_add(1, Ordering::Relaxed);
        let id = self
            .swarm
            .behaviour_mut()
            .getdata
            .send_request(&peer, GetDataRequest::Objects(vec![inv]));
        self.outbound
            .insert(id, Outbound::Objects { invs: vec![inv] });
    }

    /// Anti-entropy: fetch the transactions with these short ids from `peer`.
    pub(crate) fn fetch_short_ids(&mut self, peer: PeerId, ids: Vec<u64>) {
        for chunk in ids.chunks(4096) {
            let id = self
                .swarm
                .behaviour_mut()
                .getdata
                .send_request(&peer, GetDataRequest::TxsByShortId(chunk.to_vec()));
            self.outbound.insert(id, Outbound::ShortIds);
        }
    }
}

#[cfg(test)]
mod tests {
    use rumor_chain::{Address, Amount, BlockSpec, Network, Params, Transaction, build_block};

    use super::*;

    #[test]
    fn a_block_assembled_from_transaction_bytes_is_its_canonical_encoding() {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(10)
            .unwrap();
        let key = p.faucet_key(0);
        let genesis = p.genesis_block();
        let mut spend = Transaction {
            version: 1,
            inputs: vec![rumor_chain::TxIn::unsigned(
                rumor_chain::OutPoint::new(genesis.txs[0].txid(), 0),
                key.public(),
            )],
            outputs: vec![rumor_chain::TxOut {
                amount: Amount::new(1000).unwrap(),
                address: Address([1; 20]),
            }],
        };
        spend.sign(&[&key]).unwrap();
        let block = build_block(
            &p,
            &BlockSpec {
                prev: genesis.hash(),
                height: 1,
                time: genesis.header.time + 1,
                pay_to: Address([2; 20]),
                fees: Amount::ZERO,
                extra: [0; 56],
            },
            vec![spend],
        );
        let partial = PartialBlock {
            header: block.header,
            txs: block.txs.iter().map(|t| Some(t.encode())).collect(),
        };
        match finish(partial) {
            RebuiltOutcome::Complete(body) => {
                assert_eq!(body.bytes.as_slice(), block.encode().as_slice());
                assert_eq!(body.inv, Inv::block(block.hash()));
            }
            _ => panic!("the block should rebuild"),
        }
        // a wrong transaction is caught by the merkle root
        let mut txs: Vec<Option<Vec<u8>>> = block.txs.iter().map(|t| Some(t.encode())).collect();
        txs.swap(0, 1);
        assert!(matches!(
            finish(PartialBlock {
                header: block.header,
                txs
            }),
            RebuiltOutcome::Mismatch
        ));
    }
}
