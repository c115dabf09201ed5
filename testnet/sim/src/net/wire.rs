//! What simulated nodes send each other ([`Msg`]), mirroring what the p2p
//! event loop puts on the wire for each relay [`rumor_relay::Action`], and
//! how many bytes each takes ([`WireSizes`]).

use std::sync::Arc;

use super::params::WireSizes;

/// A transaction, by its index in the workload.
pub(crate) type TxIndex = u32;

/// A message between two simulated nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Msg {
    /// A gossipsub message with a batch of announcements (announce, batch);
    /// one batch goes to every mesh peer, so its copies share it (across
    /// threads: the peers may be simulated on another).
    Announce(Arc<[TxIndex]>),
    /// A gossipsub message with a body (push); its message id is the
    /// object's, so gossipsub drops copies.
    Push(TxIndex),
    /// A getdata request.
    GetData(Vec<TxIndex>),
    /// The answer: bodies found, ids not found.
    Objects {
        /// Bodies.
        found: Vec<TxIndex>,
        /// Ids the peer lacks.
        notfound: Vec<TxIndex>,
    },
    /// The request was lost on its way (the serving side dropped it): the
    /// requester's request-response layer reports a failure.
    RequestFailed(Vec<TxIndex>),
    /// Hybrid mode's push of bodies with their origins, sent at `sent` ns.
    EagerPush {
        /// (transaction, origin tag).
        items: Vec<(TxIndex, u64)>,
        /// When it was sent, echoed in the answer (the round trip).
        sent: u64,
    },
    /// Its answer: the origins pruned.
    PushAck {
        /// Origins to stop pushing.
        prune: Vec<u64>,
        /// The push's `sent`.
        sent: u64,
    },
    /// GRAFT, naming objects fetched from the peer.
    Graft(Vec<TxIndex>),
    /// Its answer: each object's origin where known.
    Grafted(Vec<(TxIndex, Option<u64>)>),
}

/// Which protocol a message belongs to, for byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// gossipsub.
    Gossip,
    /// getdata request-response.
    GetData,
    /// push request-response (hybrid mode).
    Push,
}

impl Msg {
    /// Its protocol.
    pub(crate) fn protocol(&self) -> Protocol {
        match self {
            Self::Announce(_) | Self::Push(_) => Protocol::Gossip,
            Self::GetData(_) | Self::Objects { .. } | Self::RequestFailed(_) => Protocol::GetData,
            Self::EagerPush { .. } | Self::PushAck { .. } | Self::Graft(_) | Self::Grafted(_) => {
                Protocol::Push
            }
        }
    }

    /// Payload bytes (what the node counts per protocol).
    pub(crate) fn payload(&self, s: &WireSizes) -> usize {
        match self {
            Self::Announce(ids) => s.gossip_header + ids.len() * s.inv,
            Self::Push(_) => s.gossip_header + s.inv + s.tx,
            Self::GetData(ids) => s.request_header + ids.len() * s.inv,
            Self::Objects { found, notfound } => {
                s.request_header + found.len() * (s.inv + s.tx + 2) + notfound.len() * s.inv
            }
            Self::RequestFailed(_) => 0,
            Self::EagerPush { items, .. } => s.request_header + items.len() * (s.inv + 8 + s.tx),
            Self::PushAck { prune, .. } => s.request_header + 8 * prune.len(),
            Self::Graft(ids) => s.request_header + ids.len() * s.inv,
            Self::Grafted(o) => s.request_header + 9 * o.len(),
        }
    }

    /// Bytes on the wire: the payload and its framing.
    pub(crate) fn wire(&self, s: &WireSizes) -> usize {
        match self.protocol() {
            _ if matches!(self, Self::RequestFailed(_)) => s.request_frame / 2,
            Protocol::Gossip => self.payload(s) + s.gossip_frame,
            Protocol::GetData | Protocol::Push => self.payload(s) + s.request_frame,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_grow_with_what_is_carried() {
        let s = WireSizes::default();
        let one = Msg::Announce(Arc::from([1])).payload(&s);
        assert_eq!(
            Msg::Announce(Arc::from([1, 2, 3])).payload(&s),
            one + 2 * s.inv
        );
        assert_eq!(Msg::Push(1).payload(&s), s.gossip_header + s.inv + s.tx);
        let body = Msg::Objects {
            found: vec![1],
            notfound: vec![],
        };
        assert!(body.payload(&s) > s.tx);
        assert_eq!(body.wire(&s), body.payload(&s) + s.request_frame);
        assert_eq!(Msg::GetData(vec![1]).protocol(), Protocol::GetData);
    }
}
