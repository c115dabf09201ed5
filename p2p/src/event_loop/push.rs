//! Hybrid mode's `push` protocol in the event loop: the relay's eager pushes
//! and grafts go out as requests; a peer's pushes and grafts go to the relay,
//! whose answers (prunes, origins) go back in the response.

use std::time::Instant;

use libp2p::PeerId;
use libp2p::request_response::{self, ResponseChannel};
use rumor_chain::Inv;
use rumor_relay::{PushItem, Pushed};

use super::EventLoop;
use crate::outbound::{self, PushAsked, Rr};
use crate::peers::Fault;
use crate::wire::{Body, PushBody, PushRequest, PushResponse, PushedObject};

impl EventLoop {
    /// Sends the relay's push of `items` to `peer`.
    pub(super) fn push(&mut self, peer: PeerId, items: Vec<PushItem>) {
        let origins = items.iter().map(|i| i.origin).collect();
        let objects = items.into_iter().map(to_wire).collect();
        let id = self
            .swarm
            .behaviour_mut()
            .push
            .send_request(&peer, PushRequest::Objects(objects));
        self.outbound.push_sent(
            id,
            PushAsked::Objects {
                sent: Instant::now(),
                origins,
            },
        );
    }

    /// Sends the relay's graft of `invs` to `peer`.
    pub(super) fn graft(&mut self, peer: PeerId, invs: Vec<Inv>) {
        let id = self
            .swarm
            .behaviour_mut()
            .push
            .send_request(&peer, PushRequest::Graft(invs.clone()));
        self.outbound.push_sent(id, PushAsked::Graft(invs));
    }

    pub(super) fn on_push_event(&mut self, ev: request_response::Event<PushRequest, PushResponse>) {
        match outbound::rr(ev) {
            Some(Rr::Request {
                peer,
                request,
                channel,
            }) => self.serve_push(peer, request, channel),
            Some(Rr::Response { peer, id, response }) => {
                let Some(asked) = self.outbound.push_done(&id) else {
                    return;
                };
                match (asked, response) {
                    (PushAsked::Objects { sent, .. }, PushResponse::Ack { prune }) => {
                        let rtt = sent.elapsed();
                        self.relay.on_push_answer(peer, &prune, rtt);
                    }
                    (PushAsked::Graft(invs), PushResponse::Grafted(origins)) => {
                        self.relay.on_graft_answer(peer, &invs, &origins);
                    }
                    (PushAsked::Objects { origins, .. }, PushResponse::Refused) => {
                        self.relay.on_push_failed(peer, &origins);
                    }
                    (PushAsked::Graft(_), PushResponse::Refused) => {}
                    (asked, _) => {
                        self.penalize(peer, Fault::BadResponse);
                        if let PushAsked::Objects { origins, .. } = asked {
                            self.relay.on_push_failed(peer, &origins);
                        }
                    }
                }
            }
            Some(Rr::Failure { peer, id, error }) => {
                tracing::debug!(%peer, %error, "push failed");
                if let Some(PushAsked::Objects { origins, .. }) = self.outbound.push_done(&id) {
                    self.relay.on_push_failed(peer, &origins);
                }
            }
            None => {}
        }
    }

    fn serve_push(
        &mut self,
        peer: PeerId,
        request: PushRequest,
        channel: ResponseChannel<PushResponse>,
    ) {
        let now = Instant::now();
        let items = match &request {
            PushRequest::Objects(objects) => objects.len(),
            PushRequest::Graft(invs) => invs.len(),
        };
        if items > crate::wire::MAX_INVS_PER_REQUEST {
            self.reject("oversized-request");
            self.penalize(peer, Fault::OversizedRequest);
            return self.respond_push(channel, PushResponse::Refused);
        }
        if !self.peers.allow(peer, items.max(1), now) {
            self.counters.rate_limited += 1;
            self.penalize(peer, Fault::Flood);
            return self.respond_push(channel, PushResponse::Refused);
        }
        let response = match request {
            PushRequest::Objects(objects) => {
                if self.loss_hit() {
                    // Lost on the way: the objects never came (the peer
                    // still hears the answer, as a lost datagram's sender
                    // would hear nothing wrong).
                    self.counters.emulated_loss_rr += 1;
                    PushResponse::Ack { prune: Vec::new() }
                } else {
                    let items = objects.into_iter().map(from_wire).collect();
                    let prune = self.relay.on_eager_push(peer, items, now);
                    PushResponse::Ack { prune }
                }
            }
            PushRequest::Graft(invs) => PushResponse::Grafted(self.relay.on_graft(peer, &invs)),
        };
        self.respond_push(channel, response);
    }

    fn respond_push(&mut self, channel: ResponseChannel<PushResponse>, response: PushResponse) {
        let _ = self
            .swarm
            .behaviour_mut()
            .push
            .send_response(channel, response);
    }
}

fn to_wire(item: PushItem) -> PushedObject {
    let body = match item.body {
        Pushed::Body(bytes) => PushBody::Tx(Body {
            inv: item.inv,
            bytes,
        }),
        Pushed::Compact(cb) => PushBody::Compact((*cb).clone()),
    };
    PushedObject {
        origin: item.origin,
        body,
    }
}

fn from_wire(object: PushedObject) -> PushItem {
    let (inv, body) = match object.body {
        PushBody::Tx(b) => (b.inv, Pushed::Body(b.bytes)),
        PushBody::Compact(cb) => (
            Inv::Block(cb.hash()),
            Pushed::Compact(std::sync::Arc::new(cb)),
        ),
    };
    PushItem {
        origin: object.origin,
        inv,
        body,
    }
}
