//! The event loop: the one task that owns the [`Swarm`]. It carries out the
//! [`Relay`]'s decisions, serves requests, runs anti-entropy and watches peers.
//! Validation runs on a worker thread; lookups for inbound requests run on
//! tokio's blocking pool; neither ever blocks the loop.

mod fetch;
mod gossip;
mod peers;
mod serve;
mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::Transport;
use libp2p::core::transport::upgrade::Version;
use libp2p::identity::Keypair;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, dns, noise, tcp, yamux};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::backend::{Backend, Origin, Verdict};
use crate::behaviour::{Behaviour, BehaviourEvent, ProtocolCounterSet, Topics};
use crate::config::{P2pConfig, RelayMode};
use crate::handle::{Command, P2pEvent, P2pHandle};
use crate::inflight::InFlightLimits;
use crate::link::{LinkCounters, ShapedStream};
use crate::relay::Relay;
use crate::telemetry::{Counters, FirstSeenLog, Via};
use crate::wire::{Body, GetDataResponse, Inv, SyncResponse};

pub(crate) use fetch::Outbound;
pub(crate) use peers::PeerBook;
pub(crate) use serve::CompactCache;
pub(crate) use sync::{SyncOut, SyncSession};

/// Bodies validated per batch by the worker.
const VALIDATION_BATCH: usize = 512;

/// State shared with the worker and blocking tasks (counters and logs only).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    pub(crate) first_seen: Mutex<FirstSeenLog>,
    pub(crate) rejects: Mutex<BTreeMap<String, u64>>,
    pub(crate) refusals: Mutex<BTreeMap<String, u64>>,
    pub(crate) link: Arc<LinkCounters>,
    pub(crate) protocols: ProtocolCounterSet,
    pub(crate) backlog: AtomicUsize,
}

/// A body on its way to validation.
pub(crate) struct Job {
    pub(crate) origin: Origin,
    pub(crate) via: Via,
    pub(crate) body: Body,
}

/// A validated body.
pub(crate) struct Done {
    pub(crate) origin: Origin,
    pub(crate) via: Via,
    pub(crate) body: Body,
    pub(crate) verdict: Verdict,
}

/// Results coming back from blocking tasks.
pub(crate) enum Internal {
    GetData(u64, PeerId, GetDataResponse),
    Sync(u64, SyncResponse),
    /// A compact block was rebuilt (or not) on the blocking pool.
    Rebuilt(fetch::Rebuilt),
    /// Bodies to publish in push mode.
    Publish(Vec<Body>),
    /// Anti-entropy: our status is ready; send it to this peer.
    StatusFor(PeerId, crate::wire::SyncStatus),
    /// Anti-entropy: a peer's status (it asked us) and ours; pull what we lack.
    Compare(PeerId, crate::wire::SyncStatus, crate::wire::SyncStatus),
    /// Catch-up: we are behind this peer; here is our locator.
    CatchUp(PeerId, Vec<rumor_chain::BlockHash>),
    /// Catch-up: the next headers request's locator.
    MoreHeaders(PeerId, Vec<rumor_chain::BlockHash>),
    /// Catch-up: the blocks of a headers batch the node lacks.
    UnknownBlocks(PeerId, Vec<Inv>),
    /// Anti-entropy: their short ids compared with ours; fetch these after the grace period.
    MissingShortIds(PeerId, Vec<u64>),
    /// Anti-entropy: still missing after the grace period; fetch now.
    FetchShortIds(PeerId, Vec<u64>),
}

/// Everything the loop owns.
pub(crate) struct Service {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) cfg: P2pConfig,
    pub(crate) topics: Topics,
    pub(crate) relay: Relay,
    pub(crate) shared: Arc<Shared>,
    pub(crate) events: mpsc::Sender<P2pEvent>,
    pub(crate) jobs: mpsc::Sender<Job>,
    pub(crate) internal_tx: mpsc::UnboundedSender<Internal>,
    pub(crate) registry: Registry,
    pub(crate) metrics: libp2p::metrics::Metrics,
    /// Batch mode: ids accepted since the last batch.
    pub(crate) pending_batch: Vec<Inv>,
    /// Batch mode: the last batch nonce (starts random).
    pub(crate) batch_nonce: u64,
    /// Fetches waiting to be batched into one request per peer.
    pub(crate) pending_getdata: HashMap<PeerId, Vec<Inv>>,
    /// How each in-flight object came (announce, sync, parent).
    pub(crate) fetch_via: HashMap<Inv, Via>,
    pub(crate) outbound: HashMap<OutboundRequestId, Outbound>,
    pub(crate) sync_out: HashMap<OutboundRequestId, SyncOut>,
    pub(crate) getdata_channels: HashMap<u64, ResponseChannel<GetDataResponse>>,
    pub(crate) sync_channels: HashMap<u64, ResponseChannel<SyncResponse>>,
    pub(crate) next_channel: u64,
    pub(crate) compact_cache: Arc<Mutex<CompactCache>>,
    pub(crate) peers: PeerBook,
    pub(crate) session: Option<SyncSession>,
    /// Anti-entropy fetches waiting out the grace period.
    pub(crate) deferred_sync: std::collections::VecDeque<(Instant, PeerId, Vec<u64>)>,
    pub(crate) listen_addrs: Vec<Multiaddr>,
}

/// A running p2p layer: its handle, its events, and the loop's task.
pub struct P2p {
    /// The handle.
    pub handle: P2pHandle,
    /// Events for the node. Bounded: if the node does not read them, new
    /// ones are dropped and counted.
    pub events: mpsc::Receiver<P2pEvent>,
    /// The event loop's task; it ends after [`P2pHandle::shutdown`].
    pub task: JoinHandle<()>,
}

/// Why the p2p layer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// libp2p could not be set up.
    #[error("libp2p setup: {0}")]
    Setup(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// Starts the p2p layer with identity `key`, calling into `backend`.
/// Listens on every configured address before returning, so
/// [`P2pHandle::listen_addrs`] is complete at once.
///
/// # Errors
/// [`StartError`] for an invalid configuration, a libp2p failure, or an
/// address that cannot be bound.
pub async fn start(
    cfg: P2pConfig,
    key: Keypair,
    backend: Arc<dyn Backend>,
) -> Result<P2p, StartError> {
    cfg.validate()?;
    let topics = Topics::new(&cfg.network);
    let link_counters = Arc::new(LinkCounters::default());
    let protocols = ProtocolCounterSet::default();
    let mut registry = Registry::with_prefix("libp2p");
    let behaviour = Behaviour::new(&key, &cfg, &topics, &protocols, &mut registry)
        .map_err(StartError::Setup)?;
    let metrics = libp2p::metrics::Metrics::new(&mut registry);

    let link = cfg.link;
    let counters_for_transport = Arc::clone(&link_counters);
    // `/dns4/<name>` addresses (container testnets know their nodes by
    // name), answers kept at most a second: a restarted container comes back
    // under its name at a new address, and Docker's DNS says 600 s.
    let (dns_config, mut dns_opts) =
        hickory_resolver::system_conf::read_system_conf().unwrap_or_default();
    dns_opts.positive_max_ttl = Some(Duration::from_secs(1));
    dns_opts.negative_max_ttl = Some(Duration::from_secs(1));
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    let transport = dns::tokio::Transport::custom(tcp, dns_config, dns_opts)
        .map(move |stream, _| ShapedStream::new(stream, link, Arc::clone(&counters_for_transport)))
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(&key).map_err(|e| StartError::Setup(e.to_string()))?)
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(20))
        .boxed();
    let peer_id = key.public().to_peer_id();
    let mut swarm = Swarm::new(
        transport,
        behaviour,
        peer_id,
        libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(3600))
            // Every rumor peer speaks every rumor protocol: send a request
            // with its protocol name instead of waiting a round trip for the
            // multistream-select confirmation (V1 would make each getdata
            // cost two extra link delays).
            .with_substream_upgrade_protocol_override(Version::V1Lazy),
    );
    let mut listen_addrs = Vec::new();
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| StartError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        // Wait for the concrete address (port 0 resolves here).
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    listen_addrs.push(address);
                    break;
                }
                SwarmEvent::ListenerError { error, .. }
                | SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                } => {
                    return Err(StartError::Listen {
                        addr: addr.clone(),
                        reason: error.to_string(),
                    });
                }
                _ => {}
            }
        }
    }

    let shared = Arc::new(Shared {
        counters: Counters::default(),
        first_seen: Mutex::new(FirstSeenLog::new(cfg.first_seen_capacity)),
        rejects: Mutex::new(BTreeMap::new()),
        refusals: Mutex::new(BTreeMap::new()),
        link: link_counters,
        protocols,
        backlog: AtomicUsize::new(0),
    });
    let (cmd_tx, cmd_rx) = mpsc::channel(1024);
    let (ev_tx, ev_rx) = mpsc::channel(4096);
    let (job_tx, job_rx) = mpsc::channel(cfg.validation_queue);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    {
        let backend = Arc::clone(&backend);
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("rumor-validate".into())
            .spawn(move || validation_worker(backend, job_rx, done_tx, shared))
            .map_err(|e| StartError::Setup(format!("validation worker: {e}")))?;
    }
    let limits = InFlightLimits {
        timeout: cfg.fetch_timeout,
        max_attempts: cfg.fetch_attempts,
        max_per_peer: cfg.max_inflight_per_peer,
        capacity: cfg.max_inflight,
    };
    let relay = Relay::new(cfg.seen_capacity_nz(), limits);
    let peers = PeerBook::new(&cfg);
    let service = Service {
        swarm,
        backend,
        relay,
        topics,
        shared,
        events: ev_tx,
        jobs: job_tx,
        internal_tx,
        registry,
        metrics,
        pending_batch: Vec::new(),
        batch_nonce: rand::random(),
        pending_getdata: HashMap::new(),
        fetch_via: HashMap::new(),
        outbound: HashMap::new(),
        sync_out: HashMap::new(),
        getdata_channels: HashMap::new(),
        sync_channels: HashMap::new(),
        next_channel: 0,
        compact_cache: Arc::new(serve::compact_cache(16)),
        peers,
        session: None,
        deferred_sync: std::collections::VecDeque::new(),
        listen_addrs,
        cfg,
    };
    let task = spawn_loop(service, cmd_rx, done_rx, internal_rx);
    Ok(P2p {
        handle: P2pHandle {
            tx: cmd_tx,
            peer_id,
        },
        events: ev_rx,
        task,
    })
}

/// Spawns the event loop. A plain function (not async, not generic), so the
/// loop and all it instantiates (the swarm, its connection handlers, the
/// codecs' bincode decoding) are compiled here, at this crate's optimisation
/// level: spawned inside the async [`start`], whose body is compiled in the
/// calling crate, a debug `rumord` decoded a 1,000-id getdata ~40x slower.
#[inline(never)]
fn spawn_loop(
    service: Service,
    commands: mpsc::Receiver<Command>,
    done: mpsc::UnboundedReceiver<Vec<Done>>,
    internal: mpsc::UnboundedReceiver<Internal>,
) -> JoinHandle<()> {
    tokio::spawn(service.run(commands, done, internal))
}

fn validation_worker(
    backend: Arc<dyn Backend>,
    mut jobs: mpsc::Receiver<Job>,
    done: mpsc::UnboundedSender<Vec<Done>>,
    shared: Arc<Shared>,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < VALIDATION_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        shared.backlog.fetch_sub(batch.len(), Ordering::Relaxed);
        let items = batch.iter().map(|j| (j.origin, j.body.clone())).collect();
        let n = batch.len();
        let verdicts =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| backend.validate(items)))
                .ok()
                .filter(|v| v.len() == n)
                .unwrap_or_else(|| {
                    tracing::error!(
                        batch = n,
                        "validation failed internally; refusing the batch"
                    );
                    vec![
                        Verdict::Policy {
                            reason: "internal-error".into()
                        };
                        n
                    ]
                });
        let out = batch
            .into_iter()
            .zip(verdicts)
            .map(|(j, verdict)| Done {
                origin: j.origin,
                via: j.via,
                body: j.body,
                verdict,
            })
            .collect();
        if done.send(out).is_err() {
            break;
        }
    }
}

impl Service {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut done: mpsc::UnboundedReceiver<Vec<Done>>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
    ) {
        self.dial_bootnodes();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sync_tick = tokio::time::interval(self.cfg.sync_interval);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch_tick = tokio::time::interval(self.cfg.batch_window);
        batch_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let batching = self.cfg.relay == RelayMode::Batch;
        let mut slow_tick = tokio::time::interval(Duration::from_secs(1));
        slow_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown_reply = None;
        loop {
            let flush_due = !self.pending_getdata.is_empty();
            tokio::select! {
                biased;
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                Some(batch) = done.recv() => {
                    for d in batch {
                        self.on_done(d);
                    }
                }
                Some(msg) = internal.recv() => self.on_internal(msg),
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown(reply)) => {
                        shutdown_reply = Some(reply);
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
                _ = sync_tick.tick() => self.start_sync_round(),
                _ = slow_tick.tick() => self.on_slow_tick(),
                _ = batch_tick.tick(), if batching => self.flush_batch(),
                () = std::future::ready(()), if flush_due => self.flush_getdata(),
            }
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for p in peers {
            let _ = self.swarm.disconnect_peer_id(p);
        }
        tracing::info!("p2p event loop stopped");
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics_record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(ev)) => self.on_gossip_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Getdata(ev)) => self.on_getdata_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.on_sync_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(ev)) => self.on_identify_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ev)) => self.on_ping_event(ev),
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

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Announce(invs) => {
                for inv in invs {
                    self.local_accept(inv);
                }
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats());
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Command::FirstSeen(q, reply) => {
                let log = self
                    .shared
                    .first_seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let out = match q {
                    crate::handle::FirstSeenQuery::Ids(ids) => log.get(&ids),
                    crate::handle::FirstSeenQuery::Since { since_ns, limit } => {
                        log.since(since_ns, limit)
                    }
                };
                let _ = reply.send(out);
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Dial(addr, reply) => {
                let _ = reply.send(self.swarm.dial(addr).map_err(|e| e.to_string()));
            }
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Ban(peer, duration) => self.ban_for(peer, duration),
            Command::Unban(peer) => self.unban(peer),
            Command::ClearBans => self.clear_bans(),
            Command::Bans(reply) => {
                let _ = reply.send(self.bans());
            }
            Command::Metrics(reply) => {
                let mut out = String::new();
                let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
                let _ = reply.send(out);
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for (inv, peer) in self.relay.expired(now) {
            self.shared
                .counters
                .fetch_timeouts
                .fetch_add(1, Ordering::Relaxed);
            let r = self.relay.on_fetch_failed(&inv, &peer, now);
            self.after_fetch_failure(inv, r);
        }
        self.schedule_queued(now);
        while self
            .deferred_sync
            .front()
            .is_some_and(|(due, _, _)| *due <= now)
        {
            if let Some((_, peer, ids)) = self.deferred_sync.pop_front() {
                self.recheck_missing(peer, ids);
            }
        }
    }

    fn on_slow_tick(&mut self) {
        self.peers_maintenance();
        // Drop bookkeeping for fetches that are no longer in flight.
        let inflight = self.relay.inflight();
        self.fetch_via.retain(|inv, _| inflight.contains(inv));
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::GetData(key, _peer, resp) => {
                // Asking for ids we do not have is not punished: honest
                // nodes do it in good faith (fetches fall back to mesh peers
                // that likely have an object, anti-entropy races eviction),
                // and an attacker's bogus announcements would otherwise make
                // its victim's honest peers score the victim down. Floods
                // are bounded by the per-peer rate limit.
                if let Some(ch) = self.getdata_channels.remove(&key) {
                    let _ = self.swarm.behaviour_mut().getdata.send_response(ch, resp);
                }
            }
            Internal::Sync(key, resp) => {
                if let Some(ch) = self.sync_channels.remove(&key) {
                    let _ = self.swarm.behaviour_mut().sync.send_response(ch, resp);
                }
            }
            Internal::Rebuilt(r) => self.on_rebuilt(r),
            Internal::Publish(bodies) => {
                for body in bodies {
                    self.publish(crate::wire::GossipPayload::Push(body));
                }
            }
            Internal::StatusFor(peer, status) => self.send_status(peer, status),
            Internal::MissingShortIds(peer, ids) => {
                // One pending pull per peer: a peer pushing statuses faster
                // than the grace period cannot make the queue grow.
                if !self.deferred_sync.iter().any(|(_, p, _)| *p == peer) {
                    self.deferred_sync
                        .push_back((Instant::now() + self.cfg.sync_grace, peer, ids));
                }
            }
            Internal::FetchShortIds(peer, ids) => self.fetch_short_ids(peer, ids),
            Internal::Compare(peer, theirs, ours) => self.compare(peer, theirs, ours),
            Internal::CatchUp(peer, locator) => self.start_catch_up(peer, locator),
            Internal::MoreHeaders(peer, locator) => self.continue_catch_up(peer, locator),
            Internal::UnknownBlocks(peer, unknown) => self.queue_unknown_blocks(peer, unknown),
        }
    }

    /// Sends queued fetches to peers that have room again.
    pub(crate) fn schedule_queued(&mut self, now: Instant) {
        let (sent, gave_up) = self.relay.schedule(now);
        for (inv, peer) in sent {
            self.queue_fetch(inv, peer);
        }
        for (inv, gossip) in gave_up {
            self.gave_up(inv, gossip);
        }
    }

    /// Sends a validation job, or drops it (counted) if the queue is full.
    pub(crate) fn enqueue(&mut self, job: Job) {
        let inv = job.body.inv;
        self.shared.backlog.fetch_add(1, Ordering::Relaxed);
        if self.jobs.try_send(job).is_err() {
            self.shared.backlog.fetch_sub(1, Ordering::Relaxed);
            self.shared
                .counters
                .validation_dropped
                .fetch_add(1, Ordering::Relaxed);
            if let Some(g) = self.relay.on_dropped(&inv) {
                self.report(g, libp2p::gossipsub::MessageAcceptance::Ignore);
            }
        }
    }

    /// Counts a duplicate body, in total and by cause.
    pub(crate) fn count_duplicate(
        &self,
        which: impl Fn(&Counters) -> &std::sync::atomic::AtomicU64,
    ) {
        self.shared
            .counters
            .duplicate_bodies
            .fetch_add(1, Ordering::Relaxed);
        which(&self.shared.counters).fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn emit(&self, event: P2pEvent) {
        if self.events.try_send(event).is_err() {
            self.shared
                .counters
                .events_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn next_key(&mut self) -> u64 {
        self.next_channel += 1;
        self.next_channel
    }

    pub(crate) fn loss_hit(&self) -> bool {
        self.cfg.link.loss > 0.0 && rand::random::<f64>() < self.cfg.link.loss
    }
}
