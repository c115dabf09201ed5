//! [`start`]: builds the swarm (TCP + noise + yamux through the link
//! emulator), listens, and spawns the [`EventLoop`].

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::Transport;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::upgrade::Version;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, Swarm, dns, noise, tcp, yamux};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::backlog::Backlog;
use crate::behaviour::{Behaviour, BehaviourError, ProtocolCounterSet, Topics};
use crate::config::{ConfigError, P2pConfig};
use crate::event_loop::{EventLoop, Parts};
use crate::events::{P2pEvent, ValidationRequest};
use crate::frame_guard::{FrameGuard, FrameReport};
use crate::handle::{Command, P2pHandle};
use crate::link::{LinkCounters, ShapedStream};
use crate::queries::Queries;
use crate::wire;

/// Questions to the node open at once.
const MAX_QUERIES: usize = 4096;
/// Events (questions and peer news) waiting for the node.
const EVENT_QUEUE: usize = 4096;
/// Commands waiting for the loop.
const COMMAND_QUEUE: usize = 1024;
/// Frame-guard reports waiting for the loop (one per stream ended or no
/// longer watched; a report that does not fit is dropped, and the peer's
/// next oversized frame reports again).
const FRAME_REPORTS: usize = 256;

/// A running p2p layer: its handle, what it asks of the node, and the
/// loop's task.
#[derive(Debug)]
pub struct P2p {
    /// The handle.
    pub handle: P2pHandle,
    /// Questions and peer news for the node. Bounded: if the node does not
    /// read them, questions are not asked (the work that needed them is
    /// refused) and news is dropped, both counted.
    pub events: mpsc::Receiver<P2pEvent>,
    /// Bodies for the node to validate, at most
    /// [`P2pConfig::validation_queue`]; past that new ones are dropped
    /// (counted), and announcements or anti-entropy bring them again.
    pub bodies: mpsc::Receiver<ValidationRequest>,
    /// The event loop's task; it ends after [`P2pHandle::shutdown`].
    pub task: JoinHandle<()>,
}

/// Why the p2p layer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The noise handshake could not be set up with this key.
    #[error("noise: {0}")]
    Noise(#[from] noise::Error),
    /// The network behaviour could not be built.
    #[error(transparent)]
    Behaviour(#[from] BehaviourError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        #[source]
        source: libp2p::TransportError<std::io::Error>,
    },
    /// A listener failed right after it was bound.
    #[error("listener on {addr} failed: {source}")]
    Listener {
        /// The address.
        addr: Multiaddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Starts the p2p layer with identity `key`. Listens on every configured
/// address before returning, so [`P2pHandle::listen_addrs`] is complete at
/// once.
///
/// # Errors
/// [`StartError`] for an invalid configuration, a libp2p failure, or an
/// address that cannot be bound.
pub async fn start(cfg: P2pConfig, key: Keypair) -> Result<P2p, StartError> {
    cfg.validate()?;
    let topics = Topics::new(&cfg.network);
    let link = Arc::new(LinkCounters::default());
    let protocols = ProtocolCounterSet::default();
    // libp2p's families: gossipsub's under `libp2p_gossipsub_`; `Metrics`
    // and the bandwidth transport add their own `libp2p_` prefix (with a
    // prefixed registry they came out as `libp2p_libp2p_*`).
    let mut registry = Registry::default();
    let behaviour = Behaviour::new(
        &key,
        &cfg,
        &topics,
        &protocols,
        registry.sub_registry_with_prefix("libp2p"),
    )?;
    let metrics = libp2p::metrics::Metrics::new(&mut registry);

    let shaping = cfg.link;
    let counters = Arc::clone(&link);
    // `/dns4/<name>` addresses (container testnets know their nodes by
    // name), answers kept at most a second: a restarted container comes back
    // under its name at a new address, and Docker's DNS says 600 s.
    let (dns_config, mut dns_opts) =
        hickory_resolver::system_conf::read_system_conf().unwrap_or_default();
    dns_opts.positive_max_ttl = Some(Duration::from_secs(1));
    dns_opts.negative_max_ttl = Some(Duration::from_secs(1));
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    let transport = dns::tokio::Transport::custom(tcp, dns_config, dns_opts)
        .map(move |stream, _| ShapedStream::new(stream, shaping, Arc::clone(&counters)))
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(&key)?)
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(20));
    // Bytes per direction on the muxed streams (`libp2p_bandwidth_bytes_total`);
    // gossip frames past the frame limit reported, not silently dropped.
    let frame_limit = wire::GossipLimits::of(cfg.relay).frame;
    let (frame_tx, frame_rx) = mpsc::channel(FRAME_REPORTS);
    let transport = libp2p::metrics::BandwidthTransport::new(transport, &mut registry)
        .map(move |(peer, muxer), _| {
            let guard = FrameGuard::new(muxer, peer, frame_limit, frame_tx.clone());
            (peer, StreamMuxerBox::new(guard))
        })
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
        refuse_if_taken(addr)?;
        swarm
            .listen_on(addr.clone())
            .map_err(|source| StartError::Listen {
                addr: addr.clone(),
                source,
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
                    return Err(StartError::Listener {
                        addr: addr.clone(),
                        source: error,
                    });
                }
                _ => {}
            }
        }
    }

    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let (body_tx, body_rx) = mpsc::channel(cfg.validation_queue);
    let sync_protocol = StreamProtocol::try_from_owned(format!("/rumor/{}/sync/1", cfg.network))
        .map_err(|e| StartError::Behaviour(BehaviourError::Protocol(e)))?;
    let backlog = Arc::new(Backlog::default());
    let event_loop = EventLoop::new(Parts {
        backlog: Arc::clone(&backlog),
        queries: Queries::new(MAX_QUERIES, ev_tx.clone()),
        swarm,
        topics,
        bodies: body_tx,
        events: ev_tx,
        registry,
        metrics,
        link,
        protocols,
        listen_addrs,
        sync_protocol,
        cfg,
    });
    let task = spawn_loop(event_loop, cmd_rx, frame_rx);
    Ok(P2p {
        handle: P2pHandle {
            tx: cmd_tx,
            peer_id,
            backlog,
        },
        events: ev_rx,
        bodies: body_rx,
        task,
    })
}

/// Fails if another process listens on `addr`'s TCP port already.
///
/// libp2p's TCP transport sets `SO_REUSEPORT` on its listeners, so a second
/// node on a port in use would listen beside the first (the kernel then
/// splits incoming connections between them) instead of failing. A plain
/// socket (`SO_REUSEADDR` only) cannot bind a port that has a listener, so
/// binding and dropping one first tells. Port 0 and non-IP addresses are
/// not checked.
fn refuse_if_taken(addr: &Multiaddr) -> Result<(), StartError> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    let port = match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => port,
        _ => return Ok(()),
    };
    match std::net::TcpListener::bind((ip, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(StartError::Listen {
            addr: addr.clone(),
            source: libp2p::TransportError::Other(std::io::Error::new(
                e.kind(),
                format!("port {port} is in use by another process ({e})"),
            )),
        }),
        // Anything else (no such address, no permission) the real listen
        // reports in its own words.
        Err(_) => Ok(()),
    }
}

/// Spawns the event loop. A plain function (not async, not generic), so the
/// loop and all it instantiates (the swarm, its connection handlers, the
/// codecs' bincode decoding) are compiled here, at this crate's optimisation
/// level: spawned inside the async [`start`], whose body is compiled in the
/// calling crate, a debug `rumord` decoded a 1,000-id getdata ~40x slower.
#[inline(never)]
fn spawn_loop(
    event_loop: EventLoop,
    commands: mpsc::Receiver<Command>,
    frame_reports: mpsc::Receiver<FrameReport>,
) -> JoinHandle<()> {
    tokio::spawn(event_loop.run(commands, frame_reports))
}
