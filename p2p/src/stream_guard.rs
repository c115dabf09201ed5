//! [`StreamGuard`]: tells the node when a peer's gossip stream failed on
//! our side, which rust-libp2p's gossipsub does not.
//!
//! gossipsub reads each peer's messages from one inbound stream per
//! connection. A frame past the frame limit (or one that does not decode)
//! makes its handler log "Failed to read from inbound stream", close the
//! stream and drop it: no penalty, and no event to the application
//! (libp2p-gossipsub 0.50, `handler.rs`). The sender opens a new stream for
//! its next message, and after five inbound streams on one connection
//! gossipsub stops reading that peer altogether, still without a word,
//! while the peer stays connected with a clean score. A frame past the
//! limit was thus free to send, again and again, each costing the node
//! the limit in read buffer.
//!
//! An honest peer opens its gossip stream once per connection and keeps
//! it. So a *second* inbound stream on one connection means the first
//! failed on our side; the guard wraps gossipsub's connection handler,
//! counts inbound streams, and reports every one past the first
//! ([`Guarded::StreamReopened`]). The event loop charges the peer for each
//! (the frame it sent was refused), so a peer that keeps sending bad
//! frames is pruned, then banned.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};

use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::handler::{ConnectionEvent, ConnectionHandler, ConnectionHandlerEvent};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, SubstreamProtocol, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// What a guarded behaviour reports.
#[derive(Debug)]
pub(crate) enum Guarded<E> {
    /// The inner behaviour's event.
    Inner(E),
    /// `peer` opened inbound stream number `streams` (2 or more) on one
    /// connection: the one before failed on our side.
    StreamReopened {
        /// The peer.
        peer: PeerId,
        /// Inbound streams it opened on that connection so far.
        streams: u32,
    },
}

/// Reports queued at most; past this the oldest are dropped (each is
/// also a stream the handler already refused, so at worst a penalty is
/// missed while the queue is full).
const MAX_REPORTS: usize = 1024;

/// A behaviour whose connection handlers count inbound streams (see the
/// module docs). It derefs to the inner behaviour.
pub(crate) struct StreamGuard<B> {
    inner: B,
    reports: VecDeque<(PeerId, u32)>,
}

impl<B> StreamGuard<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            reports: VecDeque::new(),
        }
    }
}

impl<B> Deref for StreamGuard<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.inner
    }
}

impl<B> DerefMut for StreamGuard<B> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.inner
    }
}

/// The connection handler: the inner handler, and its inbound streams.
pub(crate) struct GuardHandler<H> {
    inner: H,
    inbound_streams: u32,
    /// A re-open not yet reported.
    reopened: Option<u32>,
}

/// What a [`GuardHandler`] tells its behaviour.
#[derive(Debug)]
pub(crate) enum GuardEvent<E> {
    Inner(E),
    Reopened(u32),
}

impl<H: ConnectionHandler> ConnectionHandler for GuardHandler<H> {
    type FromBehaviour = H::FromBehaviour;
    type ToBehaviour = GuardEvent<H::ToBehaviour>;
    type InboundProtocol = H::InboundProtocol;
    type OutboundProtocol = H::OutboundProtocol;
    type InboundOpenInfo = H::InboundOpenInfo;
    type OutboundOpenInfo = H::OutboundOpenInfo;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        self.inner.listen_protocol()
    }

    fn connection_keep_alive(&self) -> bool {
        self.inner.connection_keep_alive()
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        if let Some(streams) = self.reopened.take() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                GuardEvent::Reopened(streams),
            ));
        }
        self.inner.poll(cx).map(|e| e.map_custom(GuardEvent::Inner))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::ToBehaviour>> {
        self.inner.poll_close(cx).map(|e| e.map(GuardEvent::Inner))
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        self.inner.on_behaviour_event(event);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(_) = &event {
            self.inbound_streams += 1;
            if self.inbound_streams > 1 {
                // Reported at the next poll (the swarm polls a handler
                // after every connection event). Two re-opens between
                // polls are one report of the later count.
                self.reopened = Some(self.inbound_streams);
            }
        }
        self.inner.on_connection_event(event);
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for StreamGuard<B> {
    type ConnectionHandler = GuardHandler<THandler<B>>;
    type ToSwarm = Guarded<B::ToSwarm>;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )?;
        Ok(guard(inner))
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )?;
        Ok(guard(inner))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            GuardEvent::Inner(e) => self
                .inner
                .on_connection_handler_event(peer, connection_id, e),
            GuardEvent::Reopened(streams) => {
                if self.reports.len() >= MAX_REPORTS {
                    self.reports.pop_front();
                }
                self.reports.push_back((peer, streams));
            }
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some((peer, streams)) = self.reports.pop_front() {
            return Poll::Ready(ToSwarm::GenerateEvent(Guarded::StreamReopened {
                peer,
                streams,
            }));
        }
        self.inner.poll(cx).map(|e| e.map_out(Guarded::Inner))
    }
}

fn guard<H>(inner: H) -> GuardHandler<H> {
    GuardHandler {
        inner,
        inbound_streams: 0,
        reopened: None,
    }
}
