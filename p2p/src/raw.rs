//! [`RawPeer`]: a peer that speaks rumor's protocols through the real libp2p
//! stack but sends whatever bytes it is told to. It exists to test how a
//! node treats misbehaving peers (undecodable, oversized or invalid
//! messages, floods, announcements that are never served), here and in the
//! testnet's attack tool. It never validates anything itself.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::Transport;
use libp2p::core::transport::upgrade::Version;
use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, Message, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, noise, tcp, yamux};
use prometheus_client::registry::Registry;
use serde_bytes::ByteBuf;
use tokio::time::{Instant, timeout_at};

use crate::behaviour::{Behaviour, BehaviourEvent, ProtocolCounterSet, Topics};
use crate::config::P2pConfig;
use crate::wire::{
    Body, GetDataRequest, GetDataResponse, Inv, ObjectKind, SyncRequest, SyncResponse,
};

/// How a raw peer answers `getdata` for an object.
#[derive(Debug, Clone)]
pub enum Serve {
    /// Send these bytes as the object's body (which may not match its id).
    Bytes(Vec<u8>),
    /// Never answer (the requester times out).
    Silence,
}

/// A misbehaving peer for tests.
pub struct RawPeer {
    swarm: Swarm<Behaviour>,
    topics: Topics,
    serve: HashMap<Inv, Serve>,
    responses: HashMap<OutboundRequestId, Reply>,
    held: Vec<request_response::ResponseChannel<GetDataResponse>>,
    /// Gossip messages received (decoded or not).
    pub gossip_received: u64,
}

enum Reply {
    GetData(Option<Result<GetDataResponse, String>>),
    Sync(Option<Result<SyncResponse, String>>),
}

impl RawPeer {
    /// A raw peer for `network`, listening on 127.0.0.1. Its gossip limit is
    /// raised far above a node's so it can send oversized messages.
    ///
    /// # Errors
    /// A libp2p setup failure, as text.
    pub async fn new(network: &str) -> Result<Self, String> {
        let key = Keypair::generate_ed25519();
        let cfg = P2pConfig {
            network: network.to_owned(),
            ..P2pConfig::default()
        };
        let topics = Topics::new(network);
        let mut registry = Registry::default();
        let behaviour = Behaviour::new_with_transmit_limit(
            &key,
            &cfg,
            &topics,
            &ProtocolCounterSet::default(),
            &mut registry,
            64 * 1024 * 1024,
        )?;
        let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
            .upgrade(Version::V1Lazy)
            .authenticate(noise::Config::new(&key).map_err(|e| e.to_string())?)
            .multiplex(yamux::Config::default())
            .boxed();
        let mut swarm = Swarm::new(
            transport,
            behaviour,
            key.public().to_peer_id(),
            libp2p::swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(Duration::from_secs(3600)),
        );
        swarm
            .listen_on(
                "/ip4/127.0.0.1/tcp/0"
                    .parse()
                    .map_err(|e: libp2p::multiaddr::Error| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        Ok(Self {
            swarm,
            topics,
            serve: HashMap::new(),
            responses: HashMap::new(),
            held: Vec::new(),
            gossip_received: 0,
        })
    }

    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Whether a connection to `peer` is open.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.swarm.is_connected(peer)
    }

    /// Sets how `getdata` for `inv` is answered.
    pub fn serve(&mut self, inv: Inv, how: Serve) {
        self.serve.insert(inv, how);
    }

    /// Dials `addr` (with `/p2p/<id>`) and waits until the peer has
    /// subscribed to both topics, so publishing reaches it.
    ///
    /// # Errors
    /// A dial failure or a timeout, as text.
    pub async fn connect(&mut self, addr: Multiaddr, within: Duration) -> Result<PeerId, String> {
        let target = addr
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            })
            .ok_or("address lacks /p2p/<peer id>")?;
        self.swarm.dial(addr).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + within;
        let mut subscribed = 0;
        while subscribed < 2 {
            let ev = timeout_at(deadline, self.swarm.select_next_some())
                .await
                .map_err(|_| "timed out waiting for the peer's subscriptions".to_owned())?;
            if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            })) = &ev
                && *peer_id == target
            {
                subscribed += 1;
            }
            self.handle(ev);
        }
        Ok(target)
    }

    /// Publishes `data` as-is on the topic of `kind`.
    ///
    /// # Errors
    /// gossipsub's refusal, as text.
    pub fn publish(&mut self, kind: ObjectKind, data: Vec<u8>) -> Result<(), String> {
        let topic = match kind {
            ObjectKind::Tx => self.topics.tx.clone(),
            ObjectKind::Block => self.topics.block.clone(),
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, data)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Sends a `getdata` request and waits for the answer.
    ///
    /// # Errors
    /// A request failure or timeout, as text.
    pub async fn getdata(
        &mut self,
        peer: PeerId,
        req: GetDataRequest,
        within: Duration,
    ) -> Result<GetDataResponse, String> {
        let id = self.swarm.behaviour_mut().getdata.send_request(&peer, req);
        self.responses.insert(id, Reply::GetData(None));
        let deadline = Instant::now() + within;
        loop {
            if let Some(Reply::GetData(Some(_))) = self.responses.get(&id)
                && let Some(Reply::GetData(Some(r))) = self.responses.remove(&id)
            {
                return r;
            }
            let ev = timeout_at(deadline, self.swarm.select_next_some())
                .await
                .map_err(|_| "getdata timed out".to_owned())?;
            self.handle(ev);
        }
    }

    /// Sends a `getdata` request without waiting for the answer.
    pub fn getdata_nowait(&mut self, peer: PeerId, req: GetDataRequest) {
        self.swarm.behaviour_mut().getdata.send_request(&peer, req);
    }

    /// Sends a `sync` request and waits for the answer.
    ///
    /// # Errors
    /// A request failure or timeout, as text.
    pub async fn sync(
        &mut self,
        peer: PeerId,
        req: SyncRequest,
        within: Duration,
    ) -> Result<SyncResponse, String> {
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, req);
        self.responses.insert(id, Reply::Sync(None));
        let deadline = Instant::now() + within;
        loop {
            if let Some(Reply::Sync(Some(_))) = self.responses.get(&id)
                && let Some(Reply::Sync(Some(r))) = self.responses.remove(&id)
            {
                return r;
            }
            let ev = timeout_at(deadline, self.swarm.select_next_some())
                .await
                .map_err(|_| "sync timed out".to_owned())?;
            self.handle(ev);
        }
    }

    /// Drives the connection for `dur`, answering requests as configured.
    pub async fn drive(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        while let Ok(ev) = timeout_at(deadline, self.swarm.select_next_some()).await {
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                ..
            })) => {
                self.gossip_received += 1;
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        MessageAcceptance::Ignore,
                    );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Getdata(request_response::Event::Message {
                message,
                ..
            })) => match message {
                Message::Request {
                    request, channel, ..
                } => {
                    let GetDataRequest::Objects(invs) = request else {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .getdata
                            .send_response(channel, GetDataResponse::Refused);
                        return;
                    };
                    let mut found = Vec::new();
                    let mut notfound = Vec::new();
                    let mut silent = false;
                    for inv in invs {
                        match self.serve.get(&inv) {
                            Some(Serve::Bytes(b)) => found.push(Body {
                                inv,
                                bytes: ByteBuf::from(b.clone()),
                            }),
                            Some(Serve::Silence) => silent = true,
                            None => notfound.push(inv),
                        }
                    }
                    if silent {
                        self.held.push(channel); // never answered
                    } else {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .getdata
                            .send_response(channel, GetDataResponse::Objects { found, notfound });
                    }
                }
                Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(slot) = self.responses.get_mut(&request_id) {
                        *slot = Reply::GetData(Some(Ok(response)));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Getdata(
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                },
            )) => {
                if let Some(slot) = self.responses.get_mut(&request_id) {
                    *slot = Reply::GetData(Some(Err(error.to_string())));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                message,
                ..
            })) => match message {
                Message::Request { channel, .. } => {
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, SyncResponse::Refused);
                }
                Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(slot) = self.responses.get_mut(&request_id) {
                        *slot = Reply::Sync(Some(Ok(response)));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                },
            )) => {
                if let Some(slot) = self.responses.get_mut(&request_id) {
                    *slot = Reply::Sync(Some(Err(error.to_string())));
                }
            }
            _ => {}
        }
    }
}

impl std::fmt::Debug for RawPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPeer")
            .field("peer_id", &self.peer_id())
            .finish_non_exhaustive()
    }
}
