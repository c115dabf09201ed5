//! Gossip: receiving announcements and pushes, reporting validation results
//! to gossipsub, publishing, and acting on the node's verdicts.

use std::sync::atomic::Ordering;
use std::time::Instant;

use libp2p::PeerId;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, PublishError, TopicHash};

use super::{Done, Internal, Job, Service};
use crate::backend::{Origin, Verdict};
use crate::handle::P2pEvent;
use crate::relay::{GossipRef, OnAnnounce, OnBody, OnLocalAccept};
use crate::telemetry::{Via, unix_nanos};
use crate::wire::{Batch, GossipPayload, Inv, ObjectKind};

/// Penalty for an undecodable or ill-formed gossip message (on top of P4).
const UNDECODABLE_PENALTY: f64 = 20.0;
/// The largest message on the transaction topic: one pushed transaction.
const MAX_TX_GOSSIP_BYTES: usize = rumor_chain::MAX_TX_DECODE_BYTES + 1024;

impl Service {
    pub(super) fn on_gossip_event(&mut self, ev: gossipsub::Event) {
        match ev {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                self.on_gossip_message(propagation_source, message_id, message.topic, &message.data)
            }
            gossipsub::Event::Subscribed { .. } | gossipsub::Event::Unsubscribed { .. } => {}
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(peer = %peer_id, "peer without gossipsub; disconnecting");
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::debug!(peer = %peer_id, ?failed_messages, "slow peer");
            }
        }
    }

    fn topic_kind(&self, topic: &TopicHash) -> Option<ObjectKind> {
        if *topic == self.topics.tx.hash() {
            Some(ObjectKind::Tx)
        } else if *topic == self.topics.block.hash() {
            Some(ObjectKind::Block)
        } else {
            None
        }
    }

    fn on_gossip_message(
        &mut self,
        source: PeerId,
        message_id: MessageId,
        topic: TopicHash,
        data: &[u8],
    ) {
        let gref = GossipRef { message_id, source };
        if self.loss_hit() {
            self.shared
                .counters
                .emulated_loss
                .fetch_add(1, Ordering::Relaxed);
            self.report(gref, MessageAcceptance::Ignore);
            return;
        }
        self.shared
            .counters
            .announcements_in
            .fetch_add(1, Ordering::Relaxed);
        let kind = self.topic_kind(&topic);
        let limit = match kind {
            Some(ObjectKind::Tx) => MAX_TX_GOSSIP_BYTES,
            _ => crate::wire::MAX_GOSSIP_BYTES,
        };
        if data.len() > limit {
            self.shared
                .counters
                .oversized
                .fetch_add(1, Ordering::Relaxed);
            self.count_reject("oversized-gossip");
            self.report(gref, MessageAcceptance::Reject);
            self.penalize(source, UNDECODABLE_PENALTY, "oversized gossip");
            return;
        }
        let payload = match GossipPayload::decode(data) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(peer = %source, error = %e, "undecodable gossip");
                self.shared
                    .counters
                    .undecodable
                    .fetch_add(1, Ordering::Relaxed);
                self.count_reject("undecodable-gossip");
                self.report(gref, MessageAcceptance::Reject);
                self.penalize(source, UNDECODABLE_PENALTY, "undecodable gossip");
                return;
            }
        };
        let now = Instant::now();
        match payload {
            GossipPayload::Announce(inv) => {
                if kind != Some(inv.kind) {
                    self.count_reject("wrong-topic");
                    self.report(gref, MessageAcceptance::Reject);
                    return;
                }
                let mesh: Vec<PeerId> = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .mesh_peers(&topic)
                    .copied()
                    .collect();
                // The event loop never asks the node here: its lock may be
                // held for a block connect. The seen-set answers nearly
                // always; a rare refetch is reported `Known`.
                match self
                    .relay
                    .on_announce(inv, gref.clone(), || false, mesh, now)
                {
                    OnAnnounce::Report(acc) => {
                        self.report(gref, acc);
                    }
                    OnAnnounce::Fetch(peer) => {
                        self.fetch_via.insert(inv, Via::Announce);
                        self.queue_fetch(inv, peer);
                    }
                    OnAnnounce::Wait => {
                        self.fetch_via.entry(inv).or_insert(Via::Announce);
                    }
                    OnAnnounce::Overloaded => {
                        self.shared
                            .counters
                            .validation_dropped
                            .fetch_add(1, Ordering::Relaxed);
                        self.report(gref, MessageAcceptance::Ignore);
                    }
                }
            }
            GossipPayload::Push(body) => {
                if kind != Some(body.inv.kind) {
                    self.count_reject("wrong-topic");
                    self.report(gref, MessageAcceptance::Reject);
                    return;
                }
                let inv = body.inv;
                match self.relay.on_push(inv, gref.clone(), || false) {
                    OnBody::Validate => self.enqueue(Job {
                        origin: Origin::Peer(source),
                        via: Via::Push,
                        body,
                    }),
                    OnBody::Duplicate(acc) => {
                        self.count_duplicate(|c| &c.duplicate_push);
                        if let Some(acc) = acc {
                            self.report(gref, acc);
                        }
                    }
                }
            }
            GossipPayload::Batch(Batch { invs, .. }) => {
                // Per-hop batches are never forwarded: fetch what is new, then Ignore.
                self.report(gref, MessageAcceptance::Ignore);
                if invs.len() > crate::wire::MAX_INVS_PER_REQUEST {
                    self.count_reject("oversized-batch");
                    self.penalize(source, UNDECODABLE_PENALTY, "oversized batch");
                    return;
                }
                for inv in invs {
                    if kind != Some(inv.kind) {
                        self.count_reject("wrong-topic");
                        self.penalize(source, UNDECODABLE_PENALTY, "batch item on the wrong topic");
                        return;
                    }
                    if let Some(peer) = self.relay.fetch(inv, [source], || false, now) {
                        self.fetch_via.insert(inv, Via::Announce);
                        self.queue_fetch(inv, peer);
                    }
                }
            }
        }
    }

    /// Reports a validation result to gossipsub.
    /// Returns false if gossipsub no longer held the message (it waited
    /// longer than gossipsub's history): an Accept then forwarded nothing.
    pub(crate) fn report(&mut self, gref: GossipRef, acc: MessageAcceptance) -> bool {
        let held = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&gref.message_id, &gref.source, acc);
        if acc == MessageAcceptance::Accept {
            let counter = if held {
                &self.shared.counters.forwarded
            } else {
                &self.shared.counters.reports_expired
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        held
    }

    /// Publishes a payload on its kind's topic.
    pub(crate) fn publish(&mut self, payload: GossipPayload) {
        let kind = match &payload {
            GossipPayload::Announce(inv) => inv.kind,
            GossipPayload::Push(b) => b.inv.kind,
            GossipPayload::Batch(b) => match b.invs.first() {
                Some(i) => i.kind,
                None => return,
            },
        };
        let topic = match kind {
            ObjectKind::Tx => self.topics.tx.clone(),
            ObjectKind::Block => self.topics.block.clone(),
        };
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, payload.encode())
        {
            Ok(_) => {
                self.shared
                    .counters
                    .announcements_out
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(PublishError::Duplicate) => {
                // This node saw another node's message with the same id
                // (announce or push of the same object) and did not forward
                // it then (an orphan adopted later, a message that expired):
                // announce in a one-item batch, whose id is ours alone.
                let invs = match payload {
                    GossipPayload::Announce(inv) => vec![inv],
                    GossipPayload::Push(b) => vec![b.inv],
                    GossipPayload::Batch(_) => return,
                };
                let batch = self.next_batch(invs);
                self.publish(GossipPayload::Batch(batch));
            }
            Err(e) => {
                // No peers yet: anti-entropy will spread it.
                tracing::debug!(error = %e, "publish failed");
            }
        }
    }

    /// Announces `inv`, once, after the node accepted it by another path.
    pub(crate) fn local_accept(&mut self, inv: Inv) {
        self.record_first_seen(inv, None, Via::Local);
        if self.session.as_ref().is_some_and(|s| s.waiting_on(&inv)) {
            self.session_progress(inv);
        }
        match self.relay.on_local_accept(inv) {
            OnLocalAccept::Publish => self.announce(inv),
            OnLocalAccept::Forward(g) => {
                // If gossipsub dropped the message meanwhile, nothing is
                // forwarded (counted); anti-entropy spreads the object.
                self.report(g, MessageAcceptance::Accept);
            }
            OnLocalAccept::AlreadyAnnounced => {}
        }
    }

    /// Spreads an object this node has: an announcement, or in push mode the
    /// body (looked up off the loop).
    fn announce(&mut self, inv: Inv) {
        match self.cfg.relay {
            crate::config::RelayMode::Announce => {
                self.publish(GossipPayload::Announce(inv));
                return;
            }
            crate::config::RelayMode::Batch => {
                self.batch(inv);
                return;
            }
            crate::config::RelayMode::Push => {}
        }
        let backend = std::sync::Arc::clone(&self.backend);
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let bodies = backend
                .bodies(&[inv])
                .into_iter()
                .flatten()
                .map(|bytes| crate::wire::Body {
                    inv,
                    bytes: serde_bytes::ByteBuf::from(bytes),
                })
                .collect();
            let _ = tx.send(Internal::Publish(bodies));
        });
    }

    /// Batch mode: queue `inv` for the next batch. Blocks go out at once
    /// (they are rare and latency matters most for them).
    fn batch(&mut self, inv: Inv) {
        if inv.kind == ObjectKind::Block {
            let batch = self.next_batch(vec![inv]);
            self.publish(GossipPayload::Batch(batch));
            return;
        }
        self.pending_batch.push(inv);
        if self.pending_batch.len() >= crate::wire::MAX_INVS_PER_REQUEST {
            self.flush_batch();
        }
    }

    /// A batch with a nonce no other batch of this node (or, with
    /// overwhelming probability, of any node) has.
    fn next_batch(&mut self, invs: Vec<Inv>) -> Batch {
        self.batch_nonce = self.batch_nonce.wrapping_add(1);
        Batch {
            nonce: self.batch_nonce,
            invs,
        }
    }

    /// Batch mode: publishes the queued ids as one message.
    pub(crate) fn flush_batch(&mut self) {
        if self.pending_batch.is_empty() {
            return;
        }
        let invs = std::mem::take(&mut self.pending_batch);
        let batch = self.next_batch(invs);
        self.publish(GossipPayload::Batch(batch));
    }

    pub(crate) fn record_first_seen(&self, inv: Inv, from: Option<PeerId>, via: Via) {
        let mut log = self
            .shared
            .first_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        log.record(inv, from, via, unix_nanos());
    }

    pub(crate) fn count_reject(&self, reason: &str) {
        let mut m = self
            .shared
            .rejects
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(reason.to_owned()).or_default() += 1;
    }

    fn count_refusal(&self, reason: &str) {
        let mut m = self
            .shared
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry(reason.to_owned()).or_default() += 1;
    }

    /// Acts on the node's verdict for a body.
    pub(super) fn on_done(&mut self, done: Done) {
        let inv = done.body.inv;
        let from = match done.origin {
            Origin::Peer(p) => Some(p),
            Origin::Local => None,
        };
        let out = self.relay.on_verdict(&inv, &done.verdict);
        if let Some((g, acc)) = out.report {
            self.report(g, acc);
        }
        if out.duplicate {
            self.count_duplicate(|c| &c.duplicate_known);
        }
        match &done.verdict {
            Verdict::Accepted { also } => {
                self.shared
                    .counters
                    .accepted
                    .fetch_add(1, Ordering::Relaxed);
                self.record_first_seen(inv, from, done.via);
                self.emit(P2pEvent::Accepted { inv, via: done.via });
                for other in also.clone() {
                    self.local_accept(other);
                }
            }
            Verdict::Known => {}
            Verdict::Invalid { reason } => {
                tracing::debug!(%inv, ?from, %reason, "invalid object");
                self.count_reject(reason);
                // Gossip Reject already lowered the gossip source's score
                // (P4); a peer that served it in answer to a fetch is
                // penalised directly.
                if let Some(peer) = from
                    && done.via != Via::Push
                {
                    self.penalize(
                        peer,
                        super::peers::INVALID_OBJECT_PENALTY,
                        "served an invalid object",
                    );
                }
            }
            Verdict::Policy { reason } => self.count_refusal(reason),
            Verdict::NotYet { reason, .. } => self.count_refusal(reason),
        }
        if self.session.as_ref().is_some_and(|s| s.waiting_on(&inv)) {
            if matches!(done.verdict, Verdict::Invalid { .. }) {
                self.session = None;
            } else {
                self.session_progress(inv);
            }
        }
        if out.announce {
            match self.cfg.relay {
                crate::config::RelayMode::Push => self.publish(GossipPayload::Push(done.body)),
                crate::config::RelayMode::Announce => self.publish(GossipPayload::Announce(inv)),
                crate::config::RelayMode::Batch => self.batch(inv),
            }
        }
        if let (Some(parent), Some(peer)) = (out.fetch_parent, from) {
            // The node just said it lacks the parent.
            if let Some(p) = self.relay.fetch(parent, [peer], || false, Instant::now()) {
                self.fetch_via.insert(parent, Via::Parent);
                self.queue_fetch(parent, p);
            }
        }
    }
}
