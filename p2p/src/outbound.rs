//! Requests in flight: what each outbound `getdata`, `sync` and `push` request
//! asked of whom, so that its answer (or failure) goes back to the right
//! decision; and request-response events in one shape for both protocols.

use std::collections::HashMap;

use libp2p::PeerId;
use libp2p::request_response::{
    self, Message, OutboundFailure, OutboundRequestId, ResponseChannel,
};
use rumor_chain::Inv;
use rumor_relay::SyncStatus;

/// What an outbound `getdata` asked.
#[derive(Debug)]
pub(crate) enum Asked {
    Objects(Vec<Inv>),
    Compact(Inv),
    BlockTxs(Inv),
    ShortIds,
}

/// What an outbound `sync` request asked.
#[derive(Debug)]
pub(crate) enum SyncAsked {
    /// Our status, sent for a comparison.
    Status(SyncStatus),
    MempoolIds,
    Headers,
    Peers,
}

/// What an outbound `push` request carried.
#[derive(Debug)]
pub(crate) enum PushAsked {
    /// Objects of these origins, sent at this time.
    Objects {
        sent: std::time::Instant,
        origins: Vec<u64>,
    },
    /// A graft naming these objects.
    Graft(Vec<Inv>),
}

/// Outbound requests not answered yet. Each entry leaves with its answer or
/// its failure, which request-response guarantees (it times requests out).
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    getdata: HashMap<OutboundRequestId, (PeerId, Asked)>,
    sync: HashMap<OutboundRequestId, (PeerId, SyncAsked)>,
    push: HashMap<OutboundRequestId, PushAsked>,
}

impl Outbound {
    pub(crate) fn getdata_sent(&mut self, id: OutboundRequestId, peer: PeerId, asked: Asked) {
        self.getdata.insert(id, (peer, asked));
    }

    pub(crate) fn sync_sent(&mut self, id: OutboundRequestId, peer: PeerId, asked: SyncAsked) {
        self.sync.insert(id, (peer, asked));
    }

    pub(crate) fn push_sent(&mut self, id: OutboundRequestId, asked: PushAsked) {
        self.push.insert(id, asked);
    }

    /// What the `push` request `id` carried (once).
    pub(crate) fn push_done(&mut self, id: &OutboundRequestId) -> Option<PushAsked> {
        self.push.remove(id)
    }

    /// What the `getdata` request `id` asked (once).
    pub(crate) fn getdata_done(&mut self, id: &OutboundRequestId) -> Option<Asked> {
        self.getdata.remove(id).map(|(_, a)| a)
    }

    /// What the `sync` request `id` asked (once).
    pub(crate) fn sync_done(&mut self, id: &OutboundRequestId) -> Option<SyncAsked> {
        self.sync.remove(id).map(|(_, a)| a)
    }
}

/// A request-response event, in the shape the loop handles.
pub(crate) enum Rr<Req, Resp> {
    /// A peer asks us.
    Request {
        peer: PeerId,
        request: Req,
        channel: ResponseChannel<Resp>,
    },
    /// A peer answered us.
    Response {
        peer: PeerId,
        id: OutboundRequestId,
        response: Resp,
    },
    /// Our request failed.
    Failure {
        peer: PeerId,
        id: OutboundRequestId,
        error: OutboundFailure,
    },
}

/// The event's shape, or `None` for events the loop ignores (inbound
/// failures, responses sent).
pub(crate) fn rr<Req, Resp>(ev: request_response::Event<Req, Resp>) -> Option<Rr<Req, Resp>> {
    match ev {
        request_response::Event::Message { peer, message, .. } => Some(match message {
            Message::Request {
                request, channel, ..
            } => Rr::Request {
                peer,
                request,
                channel,
            },
            Message::Response {
                request_id,
                response,
            } => Rr::Response {
                peer,
                id: request_id,
                response,
            },
        }),
        request_response::Event::OutboundFailure {
            peer,
            request_id,
            error,
            ..
        } => Some(Rr::Failure {
            peer,
            id: request_id,
            error,
        }),
        request_response::Event::InboundFailure { .. }
        | request_response::Event::ResponseSent { .. } => None,
    }
}
