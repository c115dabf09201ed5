//! [`RawPeer`]: a peer that speaks rumor's protocols through the real libp2p
//! stack but sends whatever bytes it is told to. It exists to test how a
//! node treats misbehaving peers (undecodable, oversized or invalid
//! messages, floods, announcements that are never served), here and in the
//! testnet's attack tool. It never validates anything itself.
//!
//! Besides the real protocols it can write raw bytes as a `getdata` or `sync`
//! request ([`RawPeer::raw_request`]): frames with any length prefix and any
//! content, which the typed codec would refuse to send.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::core::Transport;
use libp2p::core::transport::upgrade::Version;
use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, Message, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, noise, tcp, yamux};
use prometheus_client::registry::Registry;
use rumor_chain::{BlockHeader, Inv, ObjectKind};
use rumor_relay::SyncStatus;
use tokio::time::{Instant, timeout_at};

use crate::behaviour::{Behaviour, BehaviourError, BehaviourEvent, ProtocolCounterSet, Topics};
use crate::config::P2pConfig;
use crate::wire::{Body, GetDataRequest, GetDataResponse, SyncRequest, SyncResponse};

/// How a raw peer answers `getdata` for an object.
#[derive(Debug, Clone)]
pub enum Serve {
    /// Send these bytes as the object's body (which may not match its id).
    Bytes(Vec<u8>),
    /// Never answer (the requester times out).
    Silence,
}

/// Which request-response protocol a raw request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawProtocol {
    /// `/rumor/<net>/getdata/1`.
    GetData,
    /// `/rumor/<net>/sync/1`.
    Sync,
    /// `/rumor/<net>/push/1` (hybrid mode).
    Push,
}

/// Why a raw peer could not be set up or a request of it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RawPeerError {
    /// Its behaviour could not be built.
    #[error(transparent)]
    Behaviour(#[from] BehaviourError),
    /// Noise refused the key.
    #[error("noise: {0}")]
    Noise(#[from] libp2p::noise::Error),
    /// It could not listen or dial.
    #[error("transport: {0}")]
    Transport(#[from] libp2p::TransportError<std::io::Error>),
    /// It could not dial.
    #[error("dial: {0}")]
    Dial(#[from] libp2p::swarm::DialError),
    /// The address has no `/p2p/<peer id>`.
    #[error("address lacks /p2p/<peer id>")]
    NoPeerId,
    /// Publishing was refused.
    #[error("publish: {0}")]
    Publish(#[from] gossipsub::PublishError),
    /// No answer within the time given.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The request failed (libp2p says why).
    #[error("request failed: {0}")]
    Request(String),
}

/// The largest raw response read back.
const MAX_RAW_RESPONSE: usize = 8 * 1024 * 1024;

/// A codec that writes requests as given and reads responses as bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawFrames;

impl request_response::Codec for RawFrames {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> io::Result<Vec<u8>> {
        // Outbound only: never asked to read a request.
        Err(io::Error::other("raw frames are outbound only"))
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        io.take(MAX_RAW_RESPONSE as u64)
            .read_to_end(&mut out)
            .await?;
        Ok(out)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&req).await?;
        io.flush().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> io::Result<()> {
        Err(io::Error::other("raw frames are outbound only"))
    }
}

/// rumor's behaviour plus outbound-only raw request protocols.
#[derive(NetworkBehaviour)]
struct RawBehaviour {
    main: Behaviour,
    raw_getdata: request_response::Behaviour<RawFrames>,
    raw_sync: request_response::Behaviour<RawFrames>,
    raw_push: request_response::Behaviour<RawFrames>,
}

fn raw_protocol(name: String) -> Result<request_response::Behaviour<RawFrames>, RawPeerError> {
    let protocol = StreamProtocol::try_from_owned(name).map_err(BehaviourError::from)?;
    Ok(request_response::Behaviour::with_codec(
        RawFrames,
        [(protocol, ProtocolSupport::Outbound)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(30))
            .with_max_concurrent_streams(10_000),
    ))
}

/// A misbehaving peer for tests.
pub struct RawPeer {
    swarm: Swarm<RawBehaviour>,
    topics: Topics,
    serve: HashMap<Inv, Serve>,
    responses: HashMap<OutboundRequestId, Reply>,
    held: Vec<request_response::ResponseChannel<GetDataResponse>>,
    sync_answer: Option<(SyncStatus, Vec<BlockHeader>)>,
    connections: HashMap<PeerId, u32>,
    /// Gossip messages received (decoded or not).
    pub gossip_received: u64,
}

enum Reply {
    GetData(Option<Result<GetDataResponse, RawPeerError>>),
    Sync(Option<Result<SyncResponse, RawPeerError>>),
    Raw(Option<Result<Vec<u8>, RawPeerError>>),
}

impl RawPeer {
    /// A raw peer for `network`, listening on 127.0.0.1. Its gossip limit is
    /// raised far above a node's so it can send oversized messages.
    ///
    /// # Errors
    /// A libp2p setup failure.
    pub async fn new(network: &str) -> Result<Self, RawPeerError> {
        Self::with_key(network, Keypair::generate_ed25519()).await
    }

    /// As [`RawPeer::new`], with the identity `key` (to come back as the
    /// same peer, e.g. after a ban).
    ///
    /// # Errors
    /// A libp2p setup failure.
    pub async fn with_key(network: &str, key: Keypair) -> Result<Self, RawPeerError> {
        let cfg = P2pConfig {
            network: network.to_owned(),
            ..P2pConfig::default()
        };
        let topics = Topics::new(network);
        let mut registry = Registry::default();
        let main = Behaviour::with_gossip_limits(
            &key,
            &cfg,
            &topics,
            &ProtocolCounterSet::default(),
            &mut registry,
            crate::wire::GossipLimits::uniform(64 * 1024 * 1024),
        )?;
        let behaviour = RawBehaviour {
            main,
            raw_getdata: raw_protocol(format!("/rumor/{network}/getdata/1"))?,
            raw_sync: raw_protocol(format!("/rumor/{network}/sync/1"))?,
            raw_push: raw_protocol(format!("/rumor/{network}/push/1"))?,
        };
        let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
            .upgrade(Version::V1Lazy)
            .authenticate(noise::Config::new(&key)?)
            .multiplex(yamux::Config::default())
            .boxed();
        let mut swarm = Swarm::new(
            transport,
            behaviour,
            key.public().to_peer_id(),
            libp2p::swarm::Config::with_tokio_executor()
                .with_idle_connection_timeout(Duration::from_secs(3600)),
        );
        swarm.listen_on(
            Multiaddr::from(std::net::Ipv4Addr::LOCALHOST)
                .with(libp2p::multiaddr::Protocol::Tcp(0)),
        )?;
        Ok(Self {
            swarm,
            topics,
            serve: HashMap::new(),
            responses: HashMap::new(),
            held: Vec::new(),
            sync_answer: None,
            connections: HashMap::new(),
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

    /// How many connections to `peer` are open.
    pub fn connections_to(&self, peer: &PeerId) -> u32 {
        self.connections.get(peer).copied().unwrap_or(0)
    }

    /// Opens `n` more connections to `peer` at `addr` (a peer that already
    /// has one gets more: each is a full TCP + noise + yamux session), then
    /// drives the swarm for `settle` and returns how many are open.
    ///
    /// # Errors
    /// A dial refused locally.
    pub async fn open_connections(
        &mut self,
        peer: PeerId,
        addr: Multiaddr,
        n: usize,
        settle: Duration,
    ) -> Result<u32, RawPeerError> {
        for _ in 0..n {
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .condition(PeerCondition::Always)
                .build();
            self.swarm.dial(opts)?;
        }
        self.drive(settle).await;
        Ok(self.connections_to(&peer))
    }

    /// Answers `sync` requests from now on: `Status` with `status`,
    /// `Headers` with `headers` (whatever was asked), anything else refused.
    pub fn answer_sync(&mut self, status: SyncStatus, headers: Vec<BlockHeader>) {
        self.sync_answer = Some((status, headers));
    }

    /// Sets how `getdata` for `inv` is answered.
    pub fn serve(&mut self, inv: Inv, how: Serve) {
        self.serve.insert(inv, how);
    }

    /// Dials `addr` (with `/p2p/<id>`) and waits until the peer has
    /// subscribed to both topics, so publishing reaches it.
    ///
    /// # Errors
    /// A dial failure or a timeout.
    pub async fn connect(
        &mut self,
        addr: Multiaddr,
        within: Duration,
    ) -> Result<PeerId, RawPeerError> {
        let target = addr
            .iter()
            .find_map(|p| match p {
                libp2p::multiaddr::Protocol::P2p(id) => Some(id),
                _ => None,
            })
            .ok_or(RawPeerError::NoPeerId)?;
        self.swarm.dial(addr)?;
        let deadline = Instant::now() + within;
        let mut subscribed = 0;
        while subscribed < 2 {
            let ev = timeout_at(deadline, self.swarm.select_next_some())
                .await
                .map_err(|_| RawPeerError::Timeout("the peer's subscriptions"))?;
            if let SwarmEvent::Behaviour(RawBehaviourEvent::Main(BehaviourEvent::Gossipsub(
                gossipsub::Event::Subscribed { peer_id, .. },
            ))) = &ev
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
    /// gossipsub's refusal.
    pub fn publish(&mut self, kind: ObjectKind, data: Vec<u8>) -> Result<(), RawPeerError> {
        let topic = match kind {
            ObjectKind::Tx => self.topics.tx.clone(),
            ObjectKind::Block => self.topics.block.clone(),
        };
        self.swarm
            .behaviour_mut()
            .main
            .gossipsub
            .publish(topic, data)?;
        Ok(())
    }

    /// Sends a `getdata` request and waits for the answer.
    ///
    /// # Errors
    /// A request failure or timeout.
    pub async fn getdata(
        &mut self,
        peer: PeerId,
        req: GetDataRequest,
        within: Duration,
    ) -> Result<GetDataResponse, RawPeerError> {
        let id = self
            .swarm
            .behaviour_mut()
            .main
            .getdata
            .send_request(&peer, req);
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
                .map_err(|_| RawPeerError::Timeout("getdata"))?;
            self.handle(ev);
        }
    }

    /// Sends a `getdata` request without waiting for the answer.
    pub fn getdata_nowait(&mut self, peer: PeerId, req: GetDataRequest) {
        self.swarm
            .behaviour_mut()
            .main
            .getdata
            .send_request(&peer, req);
    }

    /// Sends a `sync` request without waiting for the answer.
    pub fn sync_nowait(&mut self, peer: PeerId, req: SyncRequest) {
        self.swarm
            .behaviour_mut()
            .main
            .sync
            .send_request(&peer, req);
    }

    /// Writes `bytes` as-is as a request of `protocol` (the node expects a
    /// 4-byte big-endian length, then the message) and waits for whatever
    /// comes back: the raw response bytes (empty if the node closed the
    /// stream), or the failure.
    ///
    /// # Errors
    /// A stream failure or timeout.
    pub async fn raw_request(
        &mut self,
        peer: PeerId,
        protocol: RawProtocol,
        bytes: Vec<u8>,
        within: Duration,
    ) -> Result<Vec<u8>, RawPeerError> {
        let b = self.swarm.behaviour_mut();
        let id = match protocol {
            RawProtocol::GetData => b.raw_getdata.send_request(&peer, bytes),
            RawProtocol::Sync => b.raw_sync.send_request(&peer, bytes),
            RawProtocol::Push => b.raw_push.send_request(&peer, bytes),
        };
        self.responses.insert(id, Reply::Raw(None));
        let deadline = Instant::now() + within;
        loop {
            if let Some(Reply::Raw(Some(_))) = self.responses.get(&id)
                && let Some(Reply::Raw(Some(r))) = self.responses.remove(&id)
            {
                return r;
            }
            let ev = timeout_at(deadline, self.swarm.select_next_some())
                .await
                .map_err(|_| RawPeerError::Timeout("raw request"))?;
            self.handle(ev);
        }
    }

    /// As [`RawPeer::raw_request`], without waiting.
    pub fn raw_request_nowait(&mut self, peer: PeerId, protocol: RawProtocol, bytes: Vec<u8>) {
        let b = self.swarm.behaviour_mut();
        match protocol {
            RawProtocol::GetData => b.raw_getdata.send_request(&peer, bytes),
            RawProtocol::Sync => b.raw_sync.send_request(&peer, bytes),
            RawProtocol::Push => b.raw_push.send_request(&peer, bytes),
        };
    }

    /// Sends a `sync` request and waits for the answer.
    ///
    /// # Errors
    /// A request failure or timeout.
    pub async fn sync(
        &mut self,
        peer: PeerId,
        req: SyncRequest,
        within: Duration,
    ) -> Result<SyncResponse, RawPeerError> {
        let id = self
            .swarm
            .behaviour_mut()
            .main
            .sync
            .send_request(&peer, req);
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
                .map_err(|_| RawPeerError::Timeout("sync"))?;
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

    fn handle(&mut self, ev: SwarmEvent<RawBehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                self.connections.insert(peer_id, num_established.get());
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                ..
            } => {
                self.connections.insert(peer_id, num_established);
            }
            SwarmEvent::Behaviour(RawBehaviourEvent::Main(ev)) => self.handle_main(ev),
            SwarmEvent::Behaviour(
                RawBehaviourEvent::RawGetdata(ev)
                | RawBehaviourEvent::RawSync(ev)
                | RawBehaviourEvent::RawPush(ev),
            ) => match ev {
                request_response::Event::Message {
                    message:
                        Message::Response {
                            request_id,
                            response,
                        },
                    ..
                } => {
                    if let Some(slot) = self.responses.get_mut(&request_id) {
                        *slot = Reply::Raw(Some(Ok(response)));
                    }
                }
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                } => {
                    if let Some(slot) = self.responses.get_mut(&request_id) {
                        *slot = Reply::Raw(Some(Err(RawPeerError::Request(error.to_string()))));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn handle_main(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                ..
            }) => {
                self.gossip_received += 1;
                self.swarm
                    .behaviour_mut()
                    .main
                    .gossipsub
                    .report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        MessageAcceptance::Ignore,
                    );
            }
            BehaviourEvent::Getdata(request_response::Event::Message { message, .. }) => {
                match message {
                    Message::Request {
                        request, channel, ..
                    } => self.serve_getdata(request, channel),
                    Message::Response {
                        request_id,
                        response,
                    } => {
                        if let Some(slot) = self.responses.get_mut(&request_id) {
                            *slot = Reply::GetData(Some(Ok(response)));
                        }
                    }
                }
            }
            BehaviourEvent::Getdata(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => {
                if let Some(slot) = self.responses.get_mut(&request_id) {
                    *slot = Reply::GetData(Some(Err(RawPeerError::Request(error.to_string()))));
                }
            }
            BehaviourEvent::Sync(request_response::Event::Message { message, .. }) => match message
            {
                Message::Request {
                    request, channel, ..
                } => {
                    let response = match (&self.sync_answer, request) {
                        (Some((status, _)), SyncRequest::Status(_)) => {
                            SyncResponse::Status(*status)
                        }
                        (Some((_, headers)), SyncRequest::Headers { .. }) => {
                            SyncResponse::Headers(headers.clone())
                        }
                        _ => SyncResponse::Refused,
                    };
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .main
                        .sync
                        .send_response(channel, response);
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
            BehaviourEvent::Sync(request_response::Event::OutboundFailure {
                request_id,
                error,
                ..
            }) => {
                if let Some(slot) = self.responses.get_mut(&request_id) {
                    *slot = Reply::Sync(Some(Err(RawPeerError::Request(error.to_string()))));
                }
            }
            _ => {}
        }
    }

    fn serve_getdata(
        &mut self,
        request: GetDataRequest,
        channel: request_response::ResponseChannel<GetDataResponse>,
    ) {
        let getdata = &mut self.swarm.behaviour_mut().main.getdata;
        let GetDataRequest::Objects(invs) = request else {
            let _ = getdata.send_response(channel, GetDataResponse::Refused);
            return;
        };
        let mut found = Vec::new();
        let mut notfound = Vec::new();
        let mut silent = false;
        for inv in invs {
            match self.serve.get(&inv) {
                Some(Serve::Bytes(b)) => found.push(Body {
                    inv,
                    bytes: Bytes::from(b.clone()),
                }),
                Some(Serve::Silence) => silent = true,
                None => notfound.push(inv),
            }
        }
        if silent {
            self.held.push(channel); // never answered
        } else {
            let _ = getdata.send_response(channel, GetDataResponse::Objects { found, notfound });
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
