//! The event loop: the one task that owns the [`Swarm`]. It is a translator
//! and nothing more: swarm events and the node's commands become inputs of
//! the [`Relay`] (relay decisions), the [`PeerBook`] (peer decisions) and
//! [`serve`] (what to answer); their decisions become swarm calls, events
//! for the node, and questions ([`Queries`]). It never waits on the node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, PublishError, TopicHash};
use libp2p::request_response::{self, OutboundFailure, ResponseChannel};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, ping};
use prometheus_client::registry::Registry;
use rumor_chain::{BlockHash, Inv, Object, ObjectKind};
use rumor_relay::{
    Acceptance, Action, Publication, Relay, Request, ServeBudget, ServeLimits, SyncStatus, Via,
};
use tokio::sync::mpsc;

use crate::backlog::{Backlog, BacklogReading};
use crate::behaviour::{Behaviour, BehaviourEvent, ProtocolCounterSet, Topics};
use crate::config::P2pConfig;
use crate::events::{P2pEvent, Query, ValidationRequest};
use crate::frame_guard::FrameReport;
use crate::handle::{Command, FirstSeenQuery, P2pError, PeerInfo};
use crate::link::LinkCounters;
use crate::outbound::{self, Asked, Outbound, Rr, SyncAsked};
use crate::peers::{Admission, Fault, PeerBook, app_score};
use crate::queries::Queries;
use crate::serve::{self, Admit, Plan};
use crate::telemetry::{Bytes as ByteCount, FirstSeenLog, P2pCounters, RelayStats, unix_nanos};
use crate::wire::{
    Batch, Body, GetDataRequest, GetDataResponse, GossipLimits, GossipPayload, MAX_HEADERS,
    MAX_SHORT_IDS, SyncRequest, SyncResponse,
};
mod push;

/// Rate-limit tokens one inbound `sync` request costs: with the per-peer
/// budget (50,000 items/s, bursts of 100,000) a peer may make 100 sync
/// requests a second in bursts of 200, far above an honest peer's few per
/// sync interval, and still leaves the budget to `getdata`.
const SYNC_REQUEST_COST: usize = 500;
/// Short ids per anti-entropy `getdata`.
const SHORT_IDS_PER_REQUEST: usize = 4096;
/// The longest the loop sleeps without a timer due.
const IDLE: Duration = Duration::from_secs(1);
/// Events handled at most before due timers run and batched requests and
/// announcements are sent, even though the loop is not idle.
const FLUSH_EVERY: usize = 64;

/// A getdata answer under way: where it goes, and the bytes the peer's
/// serving budget granted it (what it does not use is given back).
pub(crate) struct Serving {
    channel: ResponseChannel<GetDataResponse>,
    peer: PeerId,
    granted: u64,
}

/// What to do with an answer of the node.
pub(crate) enum Answer {
    Respond(Serving, GetDataResponse),
    RespondSync(ResponseChannel<SyncResponse>, SyncResponse),
    StatusAsked {
        channel: ResponseChannel<SyncResponse>,
        peer: PeerId,
        theirs: SyncStatus,
        ours: Option<SyncStatus>,
    },
    RoundWith(PeerId, Option<SyncStatus>),
    Listing(PeerId, Vec<u64>, Option<Vec<u64>>),
    Recheck(PeerId, Vec<u64>, Option<Vec<u64>>),
    TipMissing(PeerId, bool),
    Locator(PeerId, Option<BlockHash>, Option<Vec<BlockHash>>),
    Unknown(PeerId, Option<Vec<Inv>>),
}

/// Everything the loop owns.
pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    cfg: P2pConfig,
    topics: Topics,
    relay: Relay<PeerId, MessageId>,
    peers: PeerBook,
    /// Bytes of getdata answers each peer may take per second.
    serve_budget: ServeBudget<PeerId>,
    queries: Queries<Answer>,
    bodies: mpsc::Sender<ValidationRequest>,
    events: mpsc::Sender<P2pEvent>,
    first_seen: FirstSeenLog,
    registry: Registry,
    metrics: libp2p::metrics::Metrics,
    link: Arc<LinkCounters>,
    protocols: ProtocolCounterSet,
    listen_addrs: Vec<Multiaddr>,
    batch_nonce: u64,
    sync_protocol: libp2p::StreamProtocol,
    outbound: Outbound,
    counters: P2pCounters,
    rejects: BTreeMap<&'static str, u64>,
    backlog: Arc<Backlog>,
}

/// What the loop is built from.
pub(crate) struct Parts {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) cfg: P2pConfig,
    pub(crate) topics: Topics,
    pub(crate) queries: Queries<Answer>,
    pub(crate) bodies: mpsc::Sender<ValidationRequest>,
    pub(crate) events: mpsc::Sender<P2pEvent>,
    pub(crate) registry: Registry,
    pub(crate) metrics: libp2p::metrics::Metrics,
    pub(crate) link: Arc<LinkCounters>,
    pub(crate) protocols: ProtocolCounterSet,
    pub(crate) listen_addrs: Vec<Multiaddr>,
    pub(crate) sync_protocol: libp2p::StreamProtocol,
    pub(crate) backlog: Arc<Backlog>,
}

impl EventLoop {
    pub(crate) fn new(p: Parts) -> Self {
        let local = *p.swarm.local_peer_id();
        Self {
            relay: Relay::new(&rumor_relay::RelayConfig {
                origin: origin_tag(&local),
                ..p.cfg.relay_config(rand::random())
            }),
            peers: PeerBook::new(&p.cfg, local, Instant::now(), unix_nanos() / 1_000_000),
            serve_budget: ServeBudget::new(ServeLimits::default()),
            first_seen: FirstSeenLog::new(p.cfg.first_seen_capacity),
            batch_nonce: rand::random(),
            outbound: Outbound::default(),
            counters: P2pCounters::default(),
            rejects: BTreeMap::new(),
            backlog: p.backlog,
            swarm: p.swarm,
            topics: p.topics,
            queries: p.queries,
            bodies: p.bodies,
            events: p.events,
            registry: p.registry,
            metrics: p.metrics,
            link: p.link,
            protocols: p.protocols,
            listen_addrs: p.listen_addrs,
            sync_protocol: p.sync_protocol,
            cfg: p.cfg,
        }
    }

    /// Runs until shutdown, taking `commands` from the handle and
    /// `frame_reports` from the connections' [`FrameGuard`]s.
    ///
    /// [`FrameGuard`]: crate::frame_guard::FrameGuard
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut frame_reports: mpsc::Receiver<FrameReport>,
    ) {
        let now = Instant::now();
        for addr in self.peers.bootnodes_to_dial(now) {
            self.dial(addr);
        }
        let mut upkeep = tokio::time::interval(Duration::from_secs(1));
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = None;
        let mut since_flush = 0usize;
        loop {
            let now = Instant::now();
            let wake = self
                .relay
                .next_deadline(now)
                .map_or(now + IDLE, |d| d.min(now + IDLE));
            let open = self.queries.len() > 0;
            let pending = self.relay.has_pending();
            // Work under way first (the node's answers and verdicts), then
            // what the network delivered (a response that came is handled
            // before its request can time out), then timers: a flood of
            // requests must not starve the responses to them.
            tokio::select! {
                biased;
                answer = self.queries.next(), if open => self.on_answer(answer),
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown(reply)) => {
                        shutdown = Some(reply);
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                Some(report) = frame_reports.recv() => self.on_frame_report(report),
                _ = tokio::time::sleep_until(wake.into()) => self.relay.tick(Instant::now()),
                _ = upkeep.tick() => self.upkeep(),
                () = std::future::ready(()), if pending => {
                    self.relay.flush(Instant::now());
                    since_flush = 0;
                }
            }
            // Under load the loop is never idle: timers that are due still
            // run, and batched requests and announcements still go out, at
            // least every so many events.
            since_flush += 1;
            if since_flush >= FLUSH_EVERY {
                let now = Instant::now();
                if self.relay.next_deadline(now).is_some_and(|d| d <= now) {
                    self.relay.tick(now);
                }
                if self.relay.has_pending() {
                    self.relay.flush(now);
                }
                since_flush = 0;
            }
            self.act();
            self.backlog.set(BacklogReading {
                tracked: self.relay.in_flight(),
                validating: self.relay.validating(),
            });
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for p in peers {
            let _ = self.swarm.disconnect_peer_id(p);
        }
        tracing::info!("p2p event loop stopped");
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    // ----- carrying out the relay's decisions -----

    fn act(&mut self) {
        while let Some(action) = self.relay.poll_action() {
            match action {
                Action::Request { peer, request } => self.request(peer, request),
                Action::Validate {
                    peer,
                    inv,
                    bytes,
                    via,
                } => {
                    let req = ValidationRequest {
                        peer,
                        inv,
                        bytes,
                        via,
                        queued: Instant::now(),
                    };
                    if self.bodies.try_send(req).is_err() {
                        self.relay.on_validation_dropped(&inv);
                    }
                }
                Action::Report {
                    message,
                    source,
                    acceptance,
                } => self.report(&message, &source, acceptance),
                Action::Publish(p) => self.publish(p),
                Action::Push { peer, items } => self.push(peer, items),
                Action::Graft { peer, invs } => self.graft(peer, invs),
                Action::Penalize { peer, offence } => self.penalize(peer, Fault::Relay(offence)),
                Action::SyncWith(peer) => {
                    let _ = self.queries.ask(
                        |reply| Query::Status { reply },
                        move |ours| Answer::RoundWith(peer, ours),
                    );
                }
                Action::PullMempool(peer) => self.sync_request(peer, SyncRequest::MempoolShortIds),
                Action::Recheck { peer, ids } => {
                    let _ = self.queries.ask(
                        |reply| Query::MempoolShortIds { reply },
                        move |ours| Answer::Recheck(peer, ids, ours),
                    );
                }
                Action::FetchShortIds { peer, ids } => {
                    for chunk in ids.chunks(SHORT_IDS_PER_REQUEST) {
                        let id = self
                            .swarm
                            .behaviour_mut()
                            .getdata
                            .send_request(&peer, GetDataRequest::TxsByShortId(chunk.to_vec()));
                        self.outbound.getdata_sent(id, peer, Asked::ShortIds);
                    }
                }
                Action::CheckTip { peer, tip } => {
                    let invs = vec![Inv::Block(tip)];
                    let _ = self.queries.ask(
                        |reply| Query::Missing { invs, reply },
                        move |m| Answer::TipMissing(peer, m.is_some_and(|v| !v.is_empty())),
                    );
                }
                Action::RequestHeaders { peer, after } => {
                    let _ = self.queries.ask(
                        |reply| Query::Locator { reply },
                        move |l| Answer::Locator(peer, after, l),
                    );
                }
                Action::FilterBlocks { peer, blocks } => {
                    let _ = self.queries.ask(
                        |reply| Query::Missing {
                            invs: blocks,
                            reply,
                        },
                        move |m| Answer::Unknown(peer, m),
                    );
                }
            }
        }
    }

    fn request(&mut self, peer: PeerId, request: Request) {
        let (wire, asked) = match request {
            Request::Objects(invs) => (GetDataRequest::Objects(invs.clone()), Asked::Objects(invs)),
            Request::Compact(hash) => (
                GetDataRequest::CompactBlock(hash),
                Asked::Compact(Inv::Block(hash)),
            ),
            Request::BlockTxs { block, indexes } => (
                GetDataRequest::BlockTxs { block, indexes },
                Asked::BlockTxs(Inv::Block(block)),
            ),
        };
        let id = self.swarm.behaviour_mut().getdata.send_request(&peer, wire);
        self.outbound.getdata_sent(id, peer, asked);
    }

    fn sync_request(&mut self, peer: PeerId, request: SyncRequest) {
        let asked = match &request {
            SyncRequest::Status(ours) => SyncAsked::Status(*ours),
            SyncRequest::MempoolShortIds => SyncAsked::MempoolIds,
            SyncRequest::Headers { .. } => SyncAsked::Headers,
            SyncRequest::Peers => SyncAsked::Peers,
        };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.outbound.sync_sent(id, peer, asked);
    }

    /// Reports a validation result to gossipsub.
    fn report(&mut self, message: &MessageId, source: &PeerId, acceptance: Acceptance) {
        let acc = match acceptance {
            Acceptance::Accept => MessageAcceptance::Accept,
            Acceptance::Reject => MessageAcceptance::Reject,
            Acceptance::Ignore => MessageAcceptance::Ignore,
        };
        let held = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(message, source, acc);
        if acc == MessageAcceptance::Accept {
            // If gossipsub dropped the message meanwhile (it waited longer
            // than gossipsub's history), nothing is forwarded; anti-entropy
            // spreads the object.
            if held {
                self.counters.forwarded += 1;
            } else {
                self.counters.reports_expired += 1;
            }
        }
    }

    fn topic(&self, kind: ObjectKind) -> gossipsub::IdentTopic {
        match kind {
            ObjectKind::Tx => self.topics.tx.clone(),
            ObjectKind::Block => self.topics.block.clone(),
        }
    }

    fn next_batch(&mut self, invs: Vec<Inv>) -> GossipPayload {
        self.batch_nonce = self.batch_nonce.wrapping_add(1);
        GossipPayload::Batch(Batch {
            nonce: self.batch_nonce,
            invs,
        })
    }

    fn publish(&mut self, p: Publication) {
        let (kind, payload, fallback) = match p {
            Publication::Announce { kind, invs } => (kind, self.next_batch(invs), None),
            Publication::Push { inv, bytes } => (
                inv.kind(),
                GossipPayload::Push(Body { inv, bytes }),
                Some(inv),
            ),
        };
        let topic = self.topic(kind);
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, payload.encode())
        {
            Ok(_) => self.counters.announcements_out += 1,
            Err(PublishError::Duplicate) => {
                // This node saw another node's push of the object and did not
                // forward it then (it came another way first, or the message
                // expired): announce it, under an id that is ours alone.
                if let Some(inv) = fallback {
                    self.publish(Publication::Announce {
                        kind,
                        invs: vec![inv],
                    });
                }
            }
            Err(e) => tracing::debug!(error = %e, "publish failed (no peers yet?)"),
        }
    }

    /// What a connection's frame guard saw. A peer that sent a gossip
    /// frame past the frame limit has lost its stream to us and will not
    /// open another, so keeping it would mean never hearing its gossip
    /// again: it is charged and disconnected (it may come back, and pays
    /// again if it does it again). A stream the guard could not follow is
    /// only counted.
    fn on_frame_report(&mut self, report: FrameReport) {
        match report {
            FrameReport::Oversized { peer, bytes } => {
                tracing::debug!(%peer, bytes, "gossip frame past the frame limit");
                self.reject("oversized-frame");
                self.penalize(peer, Fault::OversizedFrame);
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            FrameReport::Lost { .. } => self.counters.frames_unwatched += 1,
        }
    }

    fn penalize(&mut self, peer: PeerId, fault: Fault) {
        let score = self.peers.penalize(peer, fault);
        tracing::debug!(%peer, ?fault, score, "penalty");
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, score);
        self.check_score(peer);
    }

    fn check_score(&mut self, peer: PeerId) {
        let gossip = self
            .swarm
            .behaviour()
            .gossipsub
            .peer_score(&peer)
            .unwrap_or(0.0);
        if self.peers.must_ban(&peer, gossip) && self.peers.ban(peer, Instant::now()) {
            tracing::info!(%peer, gossip, app = self.peers.app_score(&peer), "disconnecting misbehaving peer");
            self.counters.peers_banned += 1;
            self.emit(P2pEvent::PeerBanned(peer));
            self.bans_changed();
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Tells the node every ban now in force, to keep across restarts.
    fn bans_changed(&mut self) {
        let records = self
            .peers
            .ban_records(Instant::now(), unix_nanos() / 1_000_000);
        self.emit(P2pEvent::BansChanged(records));
    }

    fn reject(&mut self, reason: &'static str) {
        *self.rejects.entry(reason).or_default() += 1;
    }

    fn emit(&mut self, event: P2pEvent) {
        if self.events.try_send(event).is_err() {
            self.counters.events_dropped += 1;
        }
    }

    fn loss_hit(&self) -> bool {
        self.cfg.link.loss > 0.0 && rand::random::<f64>() < self.cfg.link.loss
    }

    fn dial(&mut self, addr: Multiaddr) {
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, error = %e, "dial refused");
        }
    }

    // ----- swarm events -----

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics_record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(ev)) => self.on_gossip_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Getdata(ev)) => self.on_getdata_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Push(ev)) => self.on_push_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => self.on_identify(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ev)) => self.on_ping(ev),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => self.on_connected(peer_id, connection_id, &endpoint, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => self.on_disconnected(peer_id),
            SwarmEvent::NewListenAddr { address, .. } if !self.listen_addrs.contains(&address) => {
                self.listen_addrs.push(address);
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
            }
            _ => {}
        }
    }

    fn metrics_record(&mut self, event: &SwarmEvent<BehaviourEvent>) {
        use libp2p::metrics::Recorder;
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => self.metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(e)) => self.metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.metrics.record(e),
            other => self.metrics.record(other),
        }
    }

    fn on_connected(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        endpoint: &ConnectedPoint,
        n: u32,
    ) {
        let (addr, outbound) = match endpoint {
            ConnectedPoint::Dialer { address, .. } => (address.clone(), true),
            ConnectedPoint::Listener { send_back_addr, .. } => (send_back_addr.clone(), false),
        };
        match self
            .peers
            .admit(peer, addr.clone(), outbound, n, Instant::now())
        {
            Admission::NewPeer => {
                tracing::info!(%peer, %addr, outbound, "peer up");
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .set_application_score(&peer, app_score(0.0));
                self.counters.peer_up += 1;
                self.emit(P2pEvent::PeerUp(peer));
            }
            Admission::Another => {}
            Admission::TooManyConnections => {
                tracing::debug!(%peer, n, "too many connections from one peer; closing the new one");
                self.swarm.close_connection(connection);
            }
            Admission::Banned | Admission::Full => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
        }
    }

    fn on_disconnected(&mut self, peer: PeerId) {
        self.serve_budget.forget(&peer);
        if !self.peers.remove(&peer) {
            return;
        }
        tracing::info!(%peer, "peer down");
        self.counters.peer_down += 1;
        self.emit(P2pEvent::PeerDown(peer));
        self.relay.peer_gone(&peer, Instant::now());
    }

    fn on_identify(&mut self, ev: identify::Event) {
        if let identify::Event::Received { peer_id, info, .. } = ev {
            let speaks_sync = info.protocols.contains(&self.sync_protocol);
            self.peers
                .identified(peer_id, info.agent_version, info.listen_addrs);
            self.relay.peer_up(peer_id, speaks_sync);
        }
    }

    fn on_ping(&mut self, ev: ping::Event) {
        match ev.result {
            Ok(rtt) => {
                self.peers.rtt(&ev.peer, rtt);
                self.relay.on_rtt(ev.peer, rtt);
            }
            Err(e) => {
                // Failure detection: a silent peer is dropped and replaced.
                tracing::debug!(peer = %ev.peer, error = %e, "ping failed; dropping peer");
                self.counters.peers_failed += 1;
                let _ = self.swarm.disconnect_peer_id(ev.peer);
            }
        }
    }

    fn upkeep(&mut self) {
        let now = Instant::now();
        // The relay's timers run at least once a second. Its first
        // anti-entropy round is set by its first tick, and with nothing
        // tracked it names no deadline: the loop's idle wake-up, recomputed
        // after every event, never came while gossipsub's heartbeat (100 ms
        // in tests) kept the loop busy, so a quiet network never synced.
        self.relay.tick(now);
        let up = self.peers.upkeep(now);
        for (peer, score) in up.scores {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .set_application_score(&peer, score);
        }
        let connected: Vec<PeerId> = self.peers.connected().copied().collect();
        for p in &connected {
            self.check_score(*p);
        }
        for addr in up.dial {
            self.dial(addr);
        }
        if up.ask_for_peers
            && let Some(peer) = connected.get(rand::random_range(0..connected.len().max(1)))
        {
            self.sync_request(*peer, SyncRequest::Peers);
        }
    }

    // ----- gossip -----

    fn on_gossip_event(&mut self, ev: gossipsub::Event) {
        match ev {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => self.on_gossip(propagation_source, message_id, &message.topic, message.data),
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(peer = %peer_id, "peer without gossipsub; disconnecting");
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => tracing::debug!(peer = %peer_id, ?failed_messages, "slow peer"),
            gossipsub::Event::Subscribed { .. } | gossipsub::Event::Unsubscribed { .. } => {}
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

    /// Rejects a gossip message as bad input: counted, P4 for its sender,
    /// and a penalty on top.
    fn bad_gossip(&mut self, message: &MessageId, source: PeerId, reason: &'static str) {
        self.reject(reason);
        self.report(message, &source, Acceptance::Reject);
        self.penalize(source, Fault::BadGossip);
    }

    fn on_gossip(&mut self, source: PeerId, message: MessageId, topic: &TopicHash, data: Vec<u8>) {
        if self.loss_hit() {
            self.counters.emulated_loss += 1;
            self.report(&message, &source, Acceptance::Ignore);
            return;
        }
        self.counters.announcements_in += 1;
        let kind = self.topic_kind(topic);
        // gossipsub refuses larger messages on our topics itself; this
        // also covers a topic we do not know.
        let limits = GossipLimits::of(self.cfg.relay);
        let limit = kind.map_or(limits.tx.min(limits.block), |k| limits.payload(k));
        if data.len() > limit {
            self.counters.oversized += 1;
            return self.bad_gossip(&message, source, "oversized-gossip");
        }
        let payload = match GossipPayload::decode(&data) {
            Ok(p) => p,
            Err(_) if GossipPayload::is_future(&data) => {
                // A later version's payload (docs/protocol.md, "Versioning").
                self.counters.future_payloads += 1;
                return self.report(&message, &source, Acceptance::Ignore);
            }
            Err(e) => {
                tracing::debug!(peer = %source, error = %e, "undecodable gossip");
                self.counters.undecodable += 1;
                return self.bad_gossip(&message, source, "undecodable-gossip");
            }
        };
        let now = Instant::now();
        match payload {
            GossipPayload::Announce(inv) => self.on_announced(source, &message, kind, vec![inv]),
            GossipPayload::Batch(Batch { invs, .. }) => {
                self.on_announced(source, &message, kind, invs)
            }
            GossipPayload::Push(body) => {
                if kind != Some(body.inv.kind()) {
                    return self.bad_gossip(&message, source, "wrong-topic");
                }
                if Object::id_of(body.inv.kind(), &body.bytes) != Some(body.inv) {
                    return self.bad_gossip(&message, source, "id-mismatch");
                }
                self.relay
                    .on_push(source, message, body.inv, body.bytes, now);
            }
        }
    }

    /// Announcements are never forwarded (each node announces what it
    /// accepted itself): Ignore frees gossipsub's copy at once.
    fn on_announced(
        &mut self,
        source: PeerId,
        message: &MessageId,
        kind: Option<ObjectKind>,
        invs: Vec<Inv>,
    ) {
        if invs.len() > crate::wire::MAX_INVS_PER_REQUEST {
            self.counters.oversized += 1;
            return self.bad_gossip(message, source, "oversized-batch");
        }
        if invs.iter().any(|i| Some(i.kind()) != kind) {
            return self.bad_gossip(message, source, "wrong-topic");
        }
        self.report(message, &source, Acceptance::Ignore);
        self.relay.on_announcements(source, &invs, Instant::now());
    }

    // ----- getdata -----

    fn on_getdata_event(&mut self, ev: request_response::Event<GetDataRequest, GetDataResponse>) {
        match outbound::rr(ev) {
            Some(Rr::Request {
                peer,
                request,
                channel,
            }) => self.serve_getdata(peer, request, channel),
            Some(Rr::Response { peer, id, response }) => {
                let Some(asked) = self.outbound.getdata_done(&id) else {
                    return;
                };
                if self.loss_hit() {
                    // Lost on the way: the request times out and moves on.
                    self.counters.emulated_loss_rr += 1;
                    return;
                }
                self.on_getdata_response(peer, asked, response);
            }
            Some(Rr::Failure { peer, id, error }) => {
                let Some(asked) = self.outbound.getdata_done(&id) else {
                    return;
                };
                if let OutboundFailure::Io(e) = &error
                    && e.kind() == std::io::ErrorKind::InvalidData
                {
                    self.counters.undecodable += 1;
                    self.penalize(peer, Fault::BadResponse);
                }
                tracing::debug!(%peer, %error, "getdata failed");
                self.getdata_failed(peer, asked);
            }
            None => {}
        }
    }

    fn getdata_failed(&mut self, peer: PeerId, asked: Asked) {
        let now = Instant::now();
        match asked {
            Asked::Objects(invs) => {
                for inv in invs {
                    self.relay.request_failed(peer, inv, now);
                }
            }
            Asked::Compact(inv) | Asked::BlockTxs(inv) => self.relay.request_failed(peer, inv, now),
            Asked::ShortIds => {}
        }
    }

    fn on_getdata_response(&mut self, peer: PeerId, asked: Asked, response: GetDataResponse) {
        let now = Instant::now();
        match (asked, response) {
            (Asked::Objects(invs), GetDataResponse::Objects { found, .. }) => {
                let mut answered = Vec::with_capacity(found.len());
                for body in found {
                    if !invs.contains(&body.inv) || answered.contains(&body.inv) {
                        self.penalize(peer, Fault::Relay(rumor_relay::Offence::Unrequested));
                        continue;
                    }
                    answered.push(body.inv);
                    self.relay.on_body(peer, body.inv, body.bytes, now);
                }
                for inv in invs.into_iter().filter(|i| !answered.contains(i)) {
                    self.relay.on_not_found(peer, inv, now);
                }
            }
            (Asked::Compact(inv), GetDataResponse::CompactBlock(cb)) => {
                self.relay.on_compact(peer, inv, cb, now)
            }
            (Asked::Compact(inv), GetDataResponse::Refused) => {
                self.relay.on_compact(peer, inv, None, now)
            }
            (Asked::BlockTxs(inv), GetDataResponse::Txs(txs)) => {
                self.relay.on_block_txs(peer, inv, txs, now)
            }
            (Asked::ShortIds, GetDataResponse::Txs(bodies)) => {
                self.relay
                    .on_sync_bodies(peer, serve::identify(bodies), now);
            }
            (asked, GetDataResponse::Refused) => self.getdata_failed(peer, asked),
            (asked, _) => {
                self.penalize(peer, Fault::BadResponse);
                self.getdata_failed(peer, asked);
            }
        }
    }

    fn respond(&mut self, serving: Serving, response: GetDataResponse) {
        if let GetDataResponse::Objects { notfound, .. } = &response {
            self.counters.notfound_sent += notfound.len() as u64;
        }
        let Serving {
            channel,
            peer,
            granted,
        } = serving;
        let used = serve::response_bytes(&response) as u64;
        self.serve_budget
            .refund(&peer, granted.saturating_sub(used));
        let _ = self
            .swarm
            .behaviour_mut()
            .getdata
            .send_response(channel, response);
    }

    fn serve_getdata(
        &mut self,
        peer: PeerId,
        request: GetDataRequest,
        channel: ResponseChannel<GetDataResponse>,
    ) {
        if self.loss_hit() {
            // Dropping the channel: the requester sees a failure and retries.
            self.counters.emulated_loss_rr += 1;
            return;
        }
        let now = Instant::now();
        let peers = &mut self.peers;
        let refuse = |channel| Serving {
            channel,
            peer,
            granted: 0,
        };
        match serve::admit(&request, |cost| peers.allow(peer, cost, now)) {
            Admit::Serve => {}
            Admit::Oversized => {
                self.reject("oversized-request");
                self.penalize(peer, Fault::OversizedRequest);
                return self.respond(refuse(channel), GetDataResponse::Refused);
            }
            Admit::Flood => {
                self.counters.rate_limited += 1;
                self.penalize(peer, Fault::Flood);
                return self.respond(refuse(channel), GetDataResponse::Refused);
            }
        }
        // Items are within the peer's rate; the bytes they come to must be
        // within its byte budget too (a few items can be many megabytes).
        // An answer reserves what its items can take, and gives back what
        // it did not use.
        let Some(granted) =
            self.serve_budget
                .reserve(&peer, serve::most_bytes(&request) as u64, now)
        else {
            // Refused and counted, not punished: each answer under way
            // holds a reservation of up to what its items can take, so an
            // honest peer with a few slow answers pending (the node reading
            // a block's bodies) can find its budget spent; it asks another
            // announcer. The refusal alone bounds what a greedy peer gets.
            self.counters.rate_limited_bytes += 1;
            return self.respond(refuse(channel), GetDataResponse::Refused);
        };
        let serving = Serving {
            channel,
            peer,
            granted,
        };
        let plan = serve::plan(&mut self.relay, request, granted as usize);
        if matches!(plan, Plan::Now(_)) {
            self.counters.served_from_cache += 1;
        }
        if !matches!(plan, Plan::Now(_)) && !self.queries.has_room() {
            self.counters.queries_refused += 1;
            return self.respond(serving, GetDataResponse::Refused);
        }
        let asked = match plan {
            Plan::Now(response) => return self.respond(serving, response),
            Plan::Bodies(partial) => {
                let invs = partial.misses.clone();
                let budget = partial.budget();
                self.queries.ask(
                    |reply| Query::Bodies {
                        invs,
                        budget,
                        reply,
                    },
                    move |a| Answer::Respond(serving, partial.complete(a)),
                )
            }
            Plan::ShortIds { ids, limit } => self.queries.ask(
                |reply| Query::TxsByShortId { ids, reply },
                move |a| Answer::Respond(serving, serve::txs_response(a, limit)),
            ),
            Plan::Compact(block) => self.queries.ask(
                |reply| Query::Compact { block, reply },
                move |a| Answer::Respond(serving, GetDataResponse::CompactBlock(a.flatten())),
            ),
            Plan::BlockTxs {
                block,
                indexes,
                limit,
            } => self.queries.ask(
                |reply| Query::BlockTxs {
                    block,
                    indexes,
                    reply,
                },
                move |a| Answer::Respond(serving, serve::txs_response(a.flatten(), limit)),
            ),
        };
        if asked.is_err() {
            self.counters.queries_refused += 1;
        }
    }

    // ----- sync -----

    fn on_sync_event(&mut self, ev: request_response::Event<SyncRequest, SyncResponse>) {
        match outbound::rr(ev) {
            Some(Rr::Request {
                peer,
                request,
                channel,
            }) => self.serve_sync(peer, request, channel),
            Some(Rr::Response { peer, id, response }) => {
                let Some(asked) = self.outbound.sync_done(&id) else {
                    return;
                };
                if self.loss_hit() {
                    self.counters.emulated_loss_rr += 1;
                    return;
                }
                self.on_sync_response(peer, asked, response);
            }
            Some(Rr::Failure { peer, id, error }) => {
                match self.outbound.sync_done(&id) {
                    Some(SyncAsked::Headers) => self.relay.on_headers_failed(&peer),
                    Some(SyncAsked::Status(_)) => self.counters.sync_rounds_wasted += 1,
                    _ => {}
                }
                tracing::debug!(%peer, %error, "sync request failed");
            }
            None => {}
        }
    }

    fn respond_sync(&mut self, channel: ResponseChannel<SyncResponse>, response: SyncResponse) {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response);
    }

    fn serve_sync(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        if self.loss_hit() {
            self.counters.emulated_loss_rr += 1;
            return;
        }
        if !self.peers.allow(peer, SYNC_REQUEST_COST, Instant::now()) {
            self.counters.rate_limited += 1;
            self.penalize(peer, Fault::Flood);
            return self.respond_sync(channel, SyncResponse::Refused);
        }
        if let SyncRequest::Peers = request {
            let records = self.peers.records();
            return self.respond_sync(channel, SyncResponse::Peers(records));
        }
        if !self.queries.has_room() {
            self.counters.queries_refused += 1;
            return self.respond_sync(channel, SyncResponse::Refused);
        }
        let _ = match request {
            SyncRequest::Status(theirs) => self.queries.ask(
                |reply| Query::Status { reply },
                move |ours| Answer::StatusAsked {
                    channel,
                    peer,
                    theirs,
                    ours,
                },
            ),
            SyncRequest::MempoolShortIds => self.queries.ask(
                |reply| Query::MempoolShortIds { reply },
                move |ids| {
                    let resp = match ids {
                        Some(mut ids) => {
                            ids.truncate(MAX_SHORT_IDS);
                            SyncResponse::MempoolShortIds(ids)
                        }
                        None => SyncResponse::Refused,
                    };
                    Answer::RespondSync(channel, resp)
                },
            ),
            SyncRequest::Headers { locator, max } => self.queries.ask(
                |reply| Query::Headers {
                    locator,
                    max: (max as usize).min(MAX_HEADERS),
                    reply,
                },
                move |h| {
                    let resp = h.map_or(SyncResponse::Refused, SyncResponse::Headers);
                    Answer::RespondSync(channel, resp)
                },
            ),
            SyncRequest::Peers => Ok(()),
        };
    }

    fn on_sync_response(&mut self, peer: PeerId, asked: SyncAsked, response: SyncResponse) {
        let now = Instant::now();
        match (asked, response) {
            (SyncAsked::Status(ours), SyncResponse::Status(theirs)) => {
                self.relay.on_sync_status(peer, &theirs, &ours)
            }
            (SyncAsked::MempoolIds, SyncResponse::MempoolShortIds(theirs)) => {
                let _ = self.queries.ask(
                    |reply| Query::MempoolShortIds { reply },
                    move |ours| Answer::Listing(peer, theirs, ours),
                );
            }
            (SyncAsked::Headers, SyncResponse::Headers(headers)) => {
                self.relay.on_headers(peer, &headers, now)
            }
            (SyncAsked::Peers, SyncResponse::Peers(records)) => self.peers.learn(records),
            (SyncAsked::Headers, SyncResponse::Refused) => self.relay.on_headers_failed(&peer),
            (SyncAsked::Status(_), SyncResponse::Refused) => self.counters.sync_rounds_wasted += 1,
            (_, SyncResponse::Refused) => {}
            (asked, _) => {
                if let SyncAsked::Headers = asked {
                    self.relay.on_headers_failed(&peer);
                }
                self.penalize(peer, Fault::BadResponse);
            }
        }
    }

    // ----- the node's answers and commands -----

    fn on_answer(&mut self, answer: Answer) {
        let now = Instant::now();
        match answer {
            Answer::Respond(channel, response) => self.respond(channel, response),
            Answer::RespondSync(channel, response) => self.respond_sync(channel, response),
            Answer::StatusAsked {
                channel,
                peer,
                theirs,
                ours,
            } => match ours {
                Some(ours) => {
                    self.respond_sync(channel, SyncResponse::Status(ours));
                    // Push-pull: the asker's status tells us what we lack too.
                    self.relay.on_sync_status(peer, &theirs, &ours);
                }
                None => self.respond_sync(channel, SyncResponse::Refused),
            },
            Answer::RoundWith(peer, Some(ours)) => {
                if self.swarm.is_connected(&peer) {
                    self.sync_request(peer, SyncRequest::Status(ours));
                }
            }
            Answer::Listing(peer, theirs, Some(ours)) => {
                self.relay.on_mempool_listing(peer, &theirs, &ours, now)
            }
            Answer::Recheck(peer, ids, Some(ours)) => {
                if self.swarm.is_connected(&peer) {
                    self.relay.on_recheck(peer, &ids, &ours);
                }
            }
            Answer::TipMissing(peer, true) => self.relay.on_behind(peer, now),
            Answer::Locator(peer, after, Some(locator)) => {
                let locator = after.into_iter().chain(locator).collect();
                self.sync_request(
                    peer,
                    SyncRequest::Headers {
                        locator,
                        max: MAX_HEADERS as u32,
                    },
                );
            }
            Answer::Locator(peer, _, None) => self.relay.on_headers_failed(&peer),
            Answer::Unknown(peer, Some(blocks)) => self.relay.on_unknown_blocks(peer, blocks, now),
            Answer::Unknown(peer, None) => self.relay.on_headers_failed(&peer),
            Answer::RoundWith(_, None)
            | Answer::Listing(_, _, None)
            | Answer::Recheck(_, _, None)
            | Answer::TipMissing(_, false) => {}
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Judged(judgements) => {
                for j in judgements {
                    let from = self.relay.on_verdict(j.inv, &j.verdict, j.compact, now);
                    if let (Some((peer, via)), rumor_chain::Verdict::Accepted { .. }) =
                        (from, &j.verdict)
                    {
                        self.first_seen.record(j.inv, Some(peer), via, unix_nanos());
                    }
                }
            }
            Command::Accepted(objects) => {
                for a in objects {
                    self.first_seen
                        .record(a.inv, None, Via::Local, unix_nanos());
                    self.relay.on_local_accepted(a.inv, a.bytes, a.compact, now);
                }
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Command::FirstSeen(q, reply) => {
                let out = match q {
                    FirstSeenQuery::Ids(ids) => self.first_seen.get(&ids),
                    FirstSeenQuery::Since { since_ns, limit } => {
                        self.first_seen.since(since_ns, limit)
                    }
                };
                let _ = reply.send(out);
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Dial(addr, reply) => {
                let _ = reply.send(self.swarm.dial(addr).map_err(P2pError::Dial));
            }
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Ban(peer, duration) => {
                tracing::info!(%peer, ?duration, "banned by operator");
                self.peers.ban_for(peer, now + duration);
                self.bans_changed();
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Unban(peer) => {
                self.peers.unban(&peer);
                self.bans_changed();
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .set_application_score(&peer, app_score(0.0));
            }
            Command::ClearBans => {
                let cleared = self.peers.clear_bans();
                self.bans_changed();
                for peer in cleared {
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .set_application_score(&peer, app_score(0.0));
                }
                for addr in self.peers.bootnodes_to_dial(now) {
                    self.dial(addr);
                }
            }
            Command::Bans(reply) => {
                let _ = reply.send(self.peers.bans(now));
            }
            Command::Metrics(reply) => {
                let mut out = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
                let _ = reply.send(out);
            }
            Command::Shutdown(_) => {}
        }
    }

    // ----- reports -----

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let gs = &self.swarm.behaviour().gossipsub;
        let mesh_tx: Vec<PeerId> = gs.mesh_peers(&self.topics.tx.hash()).copied().collect();
        let mesh_block: Vec<PeerId> = gs.mesh_peers(&self.topics.block.hash()).copied().collect();
        self.peers
            .infos(|p| gs.peer_score(p).unwrap_or(0.0), &mesh_tx, &mesh_block)
    }

    fn stats(&self) -> RelayStats {
        use std::sync::atomic::Ordering;
        let gs = &self.swarm.behaviour().gossipsub;
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let metric = |name: &str| sum_metric(&text, name);
        let p = &self.protocols;
        let mut counters: BTreeMap<String, u64> = self
            .relay
            .counters()
            .snapshot()
            .into_iter()
            .chain(self.counters.snapshot())
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        // Request or response frames the codec refused (over the size
        // limit, or undecodable). rust-libp2p's request-response does not say
        // which peer sent a request that never decoded, so these are counted
        // here but cannot be penalised.
        let frames = |c: &crate::codec::ProtocolCounters| {
            c.oversized.load(Ordering::Relaxed) + c.undecodable.load(Ordering::Relaxed)
        };
        counters.insert(
            "malformed_frames".into(),
            frames(&p.getdata) + frames(&p.sync),
        );
        // Gossip messages gossipsub itself refused as invalid (past their
        // topic's size limit, or malformed envelopes); each cost its sender
        // gossipsub's P4 penalty.
        counters.insert(
            "invalid_gossip_frames".into(),
            metric("libp2p_gossipsub_invalid_messages_per_topic"),
        );
        let tracker = self.relay.tracker_stats();
        counters.insert("tracker_peer_capped".into(), tracker.peer_capped);
        let mut rejects: BTreeMap<String, u64> = BTreeMap::new();
        for (k, v) in self.relay.rejects().iter().chain(&self.rejects) {
            *rejects.entry((*k).to_owned()).or_default() += v;
        }
        RelayStats {
            mode: self.cfg.relay.to_string(),
            peers: self.peers.len(),
            mesh_tx: gs.mesh_peers(&self.topics.tx.hash()).count(),
            mesh_block: gs.mesh_peers(&self.topics.block.hash()).count(),
            counters,
            rejects,
            refusals: self
                .relay
                .refusals()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            penalties: self
                .peers
                .penalties()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            seen: self.relay.seen_stats(),
            inflight: self.relay.in_flight(),
            validation_backlog: self.relay.validating(),
            cache: self.relay.cache_stats(),
            first_seen: self.first_seen.len(),
            gossip_bytes: ByteCount {
                inn: metric("libp2p_gossipsub_topic_msg_recv_bytes_unfiltered"),
                out: metric("libp2p_gossipsub_topic_msg_sent_bytes"),
            },
            gossip_msgs_unfiltered: metric("libp2p_gossipsub_topic_msg_recv_counts_unfiltered"),
            gossip_msgs_filtered: metric("libp2p_gossipsub_topic_msg_recv_counts"),
            getdata_bytes: ByteCount {
                inn: p.getdata.bytes_in.load(Ordering::Relaxed),
                out: p.getdata.bytes_out.load(Ordering::Relaxed),
            },
            sync_bytes: ByteCount {
                inn: p.sync.bytes_in.load(Ordering::Relaxed),
                out: p.sync.bytes_out.load(Ordering::Relaxed),
            },
            push_bytes: ByteCount {
                inn: p.push.bytes_in.load(Ordering::Relaxed),
                out: p.push.bytes_out.load(Ordering::Relaxed),
            },
            wire_bytes: ByteCount {
                inn: self.link.bytes_in.load(Ordering::Relaxed),
                out: self.link.bytes_out.load(Ordering::Relaxed),
            },
            link: self.cfg.link,
        }
    }
}

/// This node's origin tag for hybrid mode's trees: the first 8 bytes of a
/// hash of its peer id (distinct per node; a collision only merges two
/// origins' trees).
fn origin_tag(peer: &PeerId) -> u64 {
    let h = rumor_chain::sha256(&peer.to_bytes());
    u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8]))
}

/// Sums every sample of the metric family `name` (with or without the
/// `_total` suffix) in OpenMetrics text.
fn sum_metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let rest = rest.strip_prefix("_total").unwrap_or(rest);
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            let value = l.rsplit(' ').next()?;
            value.parse::<f64>().ok()
        })
        .sum::<f64>() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_metric_families() {
        let text =
            "# HELP x\nfoo_total{a=\"1\"} 3\nfoo_total{a=\"2\"} 4\nfoobar_total 100\nfoo 1\n";
        assert_eq!(super::sum_metric(text, "foo"), 8);
        assert_eq!(super::sum_metric(text, "foobar"), 100);
    }
}
