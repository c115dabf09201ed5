//! [`Relay`]: the socket-free relay state machine. It combines the
//! [`SeenSet`] and [`InFlight`] and decides, for every announcement, body and
//! verdict, what to fetch, what to tell gossipsub (Accept / Reject / Ignore),
//! and what to announce. The event loop only carries out its decisions, so
//! the rules of rumor mongering live here and are tested without a network:
//!
//! - a node spreads an object once, when it first accepts it (forwarding the
//!   announcement that brought it, or publishing its own if it came another
//!   way), and never again ("removed" in SIR terms);
//! - it fetches each body at most once at a time, from the announcing peer
//!   first, then from other peers known or likely to have it;
//! - it rejects re-announcements of invalid objects without fetching, and
//!   ignores refused ones without fetching or punishing.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::Instant;

use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

use crate::backend::Verdict;
use crate::inflight::{InFlight, InFlightLimits, Retry};
use crate::seen::{SeenSet, SeenState};
use crate::wire::Inv;

/// Fetches to send now, and fetches abandoned (with their gossip message).
pub type Scheduled = (Vec<(Inv, PeerId)>, Vec<(Inv, Option<GossipRef>)>);

/// A gossipsub message waiting for its validation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipRef {
    /// The message.
    pub message_id: MessageId,
    /// The peer it came from.
    pub source: PeerId,
}

/// What to do with an announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnAnnounce {
    /// Known already: report this to gossipsub now.
    Report(MessageAcceptance),
    /// New: request the body from this peer.
    Fetch(PeerId),
    /// New or in progress: the report comes when the body is validated.
    Wait,
    /// Too many fetches in flight: ignore it (anti-entropy will catch up).
    Overloaded,
}

/// What to do with a pushed body (push mode) or a body that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnBody {
    /// Validate it.
    Validate,
    /// Known already: report this (push mode) and count a duplicate body.
    Duplicate(Option<MessageAcceptance>),
}

/// What to do after a fetch attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFetchFailed {
    /// Ask this peer now.
    RetryFrom(PeerId),
    /// Waiting for a peer with room.
    Queued,
    /// Given up; report Ignore for the gossip message, if any.
    GaveUp(Option<GossipRef>),
}

/// What to do after the node's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnVerdict {
    /// Report to gossipsub for the message that brought the object.
    pub report: Option<(GossipRef, MessageAcceptance)>,
    /// Publish our own announcement of the object (it arrived another way).
    pub announce: bool,
    /// Fetch this object first (an orphan's parent).
    pub fetch_parent: Option<Inv>,
    /// The body was a duplicate (the node already had it).
    pub duplicate: bool,
}

/// What to do when the node accepted an object by another path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnLocalAccept {
    /// Publish an announcement.
    Publish,
    /// A gossip message for it is pending: Accept it (gossipsub forwards it).
    Forward(GossipRef),
    /// Already announced once; do nothing.
    AlreadyAnnounced,
}

/// The relay state machine.
#[derive(Debug)]
pub struct Relay {
    seen: SeenSet,
    inflight: InFlight,
    gossip: HashMap<Inv, GossipRef>,
}

impl Relay {
    /// A relay with a seen-set of `seen_capacity` and fetch `limits`.
    pub fn new(seen_capacity: NonZeroUsize, limits: InFlightLimits) -> Self {
        Self {
            seen: SeenSet::new(seen_capacity),
            inflight: InFlight::new(limits),
            gossip: HashMap::new(),
        }
    }

    /// The seen-set.
    pub fn seen(&self) -> &SeenSet {
        &self.seen
    }

    /// The fetches in flight.
    pub fn inflight(&self) -> &InFlight {
        &self.inflight
    }

    /// Gossip messages waiting for a verdict.
    pub fn pending_reports(&self) -> usize {
        self.gossip.len()
    }

    fn known_report(state: SeenState) -> MessageAcceptance {
        match state {
            SeenState::Rejected => MessageAcceptance::Reject,
            // Accepted and announced, refused, or (see below) accepted but not
            // yet announced: the caller handles that case before this.
            _ => MessageAcceptance::Ignore,
        }
    }

    /// An announcement of `inv` arrived from `source` in gossip message
    /// `message_id`. `has_locally` asks the node (for objects the seen-set
    /// forgot); `others` are further peers likely to have it (mesh peers).
    pub fn on_announce(
        &mut self,
        inv: Inv,
        gossip: GossipRef,
        has_locally: impl FnOnce() -> bool,
        others: impl IntoIterator<Item = PeerId>,
        now: Instant,
    ) -> OnAnnounce {
        match self.seen.lookup(&inv) {
            Some(SeenState::Accepted { announced: false }) => {
                self.seen.set(inv, SeenState::Accepted { announced: true });
                return OnAnnounce::Report(MessageAcceptance::Accept);
            }
            Some(SeenState::Pending) => {
                self.inflight.add_candidate(&inv, gossip.source);
                // Keep the first message to report on; later ones (distinct
                // ids only happen in batch mode) are ignored.
                if self.gossip.contains_key(&inv) {
                    return OnAnnounce::Report(MessageAcceptance::Ignore);
                }
                self.gossip.insert(inv, gossip);
                return OnAnnounce::Wait;
            }
            Some(state) => return OnAnnounce::Report(Self::known_report(state)),
            None => {}
        }
        if has_locally() {
            self.seen.set(inv, SeenState::Accepted { announced: true });
            return OnAnnounce::Report(MessageAcceptance::Ignore);
        }
        let source = gossip.source;
        match self.inflight.start(inv, [source], others, now) {
            Err(()) => OnAnnounce::Overloaded,
            Ok(peer) => {
                self.seen.set(inv, SeenState::Pending);
                self.gossip.insert(inv, gossip);
                match peer {
                    Some(p) => OnAnnounce::Fetch(p),
                    None => OnAnnounce::Wait,
                }
            }
        }
    }

    /// Starts fetching `inv` for a reason other than an announcement (anti-entropy,
    /// an orphan's parent). Returns the peer to ask now, or `None` if it is
    /// known, already in flight, queued, or the tracker is full.
    pub fn fetch(
        &mut self,
        inv: Inv,
        candidates: impl IntoIterator<Item = PeerId>,
        has_locally: impl FnOnce() -> bool,
        now: Instant,
    ) -> Option<PeerId> {
        match self.seen.peek(&inv) {
            Some(SeenState::Pending) => {
                for c in candidates {
                    self.inflight.add_candidate(&inv, c);
                }
                return None;
            }
            Some(SeenState::Accepted { .. } | SeenState::Rejected | SeenState::Refused) => {
                return None;
            }
            None => {}
        }
        if has_locally() {
            self.seen.set(inv, SeenState::Accepted { announced: true });
            return None;
        }
        match self.inflight.start(inv, candidates, [], now) {
            Err(()) => None,
            Ok(peer) => {
                self.seen.set(inv, SeenState::Pending);
                peer
            }
        }
    }

    /// A pushed body (push mode) for `inv` arrived in a gossip message.
    pub fn on_push(
        &mut self,
        inv: Inv,
        gossip: GossipRef,
        has_locally: impl FnOnce() -> bool,
    ) -> OnBody {
        match self.seen.lookup(&inv) {
            Some(SeenState::Accepted { announced: false }) => {
                self.seen.set(inv, SeenState::Accepted { announced: true });
                return OnBody::Duplicate(Some(MessageAcceptance::Accept));
            }
            Some(SeenState::Pending) => {
                if self.gossip.contains_key(&inv) {
                    return OnBody::Duplicate(Some(MessageAcceptance::Ignore));
                }
                // Being fetched another way; validate this copy now.
                self.inflight.complete(&inv);
                self.gossip.insert(inv, gossip);
                return OnBody::Validate;
            }
            Some(state) => return OnBody::Duplicate(Some(Self::known_report(state))),
            None => {}
        }
        if has_locally() {
            self.seen.set(inv, SeenState::Accepted { announced: true });
            return OnBody::Duplicate(Some(MessageAcceptance::Ignore));
        }
        self.seen.set(inv, SeenState::Pending);
        self.gossip.insert(inv, gossip);
        OnBody::Validate
    }

    /// A fetched body for `inv` arrived from `peer`. Returns whether to
    /// validate it (it is the first) or count it as a duplicate.
    pub fn on_body(&mut self, inv: &Inv) -> OnBody {
        if self.inflight.complete(inv).is_some() {
            return OnBody::Validate;
        }
        match self.seen.peek(inv) {
            // Not requested by us (or already delivered): a duplicate body.
            Some(_) | None => OnBody::Duplicate(None),
        }
    }

    /// A body arrived that was not requested by id (anti-entropy fetches by
    /// short id): validate it unless it is known or already on its way.
    pub fn adopt_body(&mut self, inv: Inv, has_locally: impl FnOnce() -> bool) -> OnBody {
        if self.seen.peek(&inv).is_some() || self.inflight.contains(&inv) {
            return OnBody::Duplicate(None);
        }
        if has_locally() {
            self.seen.set(inv, SeenState::Accepted { announced: true });
            return OnBody::Duplicate(None);
        }
        self.seen.set(inv, SeenState::Pending);
        OnBody::Validate
    }

    /// The fetch attempt for `inv` at `peer` failed (notfound, error, timeout).
    pub fn on_fetch_failed(&mut self, inv: &Inv, peer: &PeerId, now: Instant) -> OnFetchFailed {
        if !self.inflight.contains(inv) {
            return OnFetchFailed::Queued;
        }
        match self.inflight.failed(inv, peer, now) {
            Retry::From(p) => OnFetchFailed::RetryFrom(p),
            Retry::Queued => OnFetchFailed::Queued,
            Retry::GiveUp => self.give_up(inv),
        }
    }

    fn give_up(&mut self, inv: &Inv) -> OnFetchFailed {
        self.seen.forget(inv);
        OnFetchFailed::GaveUp(self.gossip.remove(inv))
    }

    /// Timed-out attempts as `(inv, peer)`; call [`Relay::on_fetch_failed`] for each.
    pub fn expired(&mut self, now: Instant) -> Vec<(Inv, PeerId)> {
        self.inflight.expired(now)
    }

    /// Queued fetches that can be sent now, and gossip reports for fetches
    /// abandoned because no candidate is left.
    pub fn schedule(&mut self, now: Instant) -> Scheduled {
        let (sent, abandoned) = self.inflight.schedule(now);
        let gave_up = abandoned
            .into_iter()
            .map(|f| {
                self.seen.forget(&f.inv);
                (f.inv, self.gossip.remove(&f.inv))
            })
            .collect();
        (sent, gave_up)
    }

    /// A peer disconnected: its attempts fail over to other peers.
    pub fn peer_gone(&mut self, peer: &PeerId, now: Instant) -> Vec<(Inv, OnFetchFailed)> {
        self.inflight
            .peer_gone(peer)
            .into_iter()
            .map(|inv| {
                let r = self.on_fetch_failed(&inv, peer, now);
                (inv, r)
            })
            .collect()
    }

    /// Validation could not be queued (the queue is full): forget the object
    /// so a later announcement or anti-entropy brings it again.
    pub fn on_dropped(&mut self, inv: &Inv) -> Option<GossipRef> {
        self.seen.forget(inv);
        self.gossip.remove(inv)
    }

    /// The node's verdict on `inv`.
    pub fn on_verdict(&mut self, inv: &Inv, verdict: &Verdict) -> OnVerdict {
        let gossip = self.gossip.remove(inv);
        let mut out = OnVerdict::default();
        match verdict {
            Verdict::Accepted { .. } => {
                self.seen.set(*inv, SeenState::Accepted { announced: true });
                match gossip {
                    Some(g) => out.report = Some((g, MessageAcceptance::Accept)),
                    None => out.announce = true,
                }
            }
            Verdict::Known => {
                out.duplicate = true;
                let announced = !matches!(
                    self.seen.peek(inv),
                    Some(SeenState::Accepted { announced: false })
                        | Some(SeenState::Pending)
                        | None
                );
                self.seen.set(*inv, SeenState::Accepted { announced: true });
                if let Some(g) = gossip {
                    let acc = if announced {
                        MessageAcceptance::Ignore
                    } else {
                        MessageAcceptance::Accept
                    };
                    out.report = Some((g, acc));
                }
            }
            Verdict::Invalid { .. } => {
                // A transaction's id commits to all of it, so an invalid body
                // condemns the id. A block's id is only its header: a peer can
                // send a valid header with a mutated body, so the id is not
                // marked rejected (the chain remembers blocks invalid by header).
                if inv.kind == crate::wire::ObjectKind::Tx {
                    self.seen.set(*inv, SeenState::Rejected);
                } else {
                    self.seen.forget(inv);
                }
                out.report = gossip.map(|g| (g, MessageAcceptance::Reject));
            }
            Verdict::Policy { .. } => {
                self.seen.set(*inv, SeenState::Refused);
                out.report = gossip.map(|g| (g, MessageAcceptance::Ignore));
            }
            Verdict::NotYet { fetch, .. } => {
                self.seen.forget(inv);
                out.report = gossip.map(|g| (g, MessageAcceptance::Ignore));
                out.fetch_parent = *fetch;
            }
        }
        out
    }

    /// The node accepted `inv` by another path (RPC, mining, adoption of an
    /// orphan): decide how it is spread, exactly once.
    pub fn on_local_accept(&mut self, inv: Inv) -> OnLocalAccept {
        let before = self.seen.peek(&inv);
        self.seen.set(inv, SeenState::Accepted { announced: true });
        if let Some(g) = self.gossip.remove(&inv) {
            self.inflight.complete(&inv);
            return OnLocalAccept::Forward(g);
        }
        match before {
            Some(SeenState::Accepted { announced: true }) => OnLocalAccept::AlreadyAnnounced,
            Some(SeenState::Pending) => {
                self.inflight.complete(&inv);
                OnLocalAccept::Publish
            }
            _ => OnLocalAccept::Publish,
        }
    }
}

#[cfg(test)]
mod tests;
