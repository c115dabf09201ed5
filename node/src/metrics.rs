//! Prometheus metrics: the node's own registry ([`NodeMetrics`]) plus
//! libp2p's (through [`rumor_p2p::P2pHandle::metrics_text`]), served as
//! OpenMetrics text at `/metrics` by a small hyper server. Every family is
//! listed, with its type, labels and meaning, in `docs/metrics.md` (a test
//! scrapes a node and compares).
//!
//! Exported: the node's families (prefix `rumor_`): peers and mesh size;
//! tip height; mempool count, bytes and orphans; accepted and rejected
//! objects by kind, origin and reason; duplicate bodies; seen-set size,
//! hits and misses; validation time per batch; the stages of a block
//! connect (queue, validate until relayed, write); the allocator's counts;
//! block propagation delay (acceptance time minus the block's header time)
//! as the fetch-latency proxy; the p2p layer's counters (relay events,
//! bans, penalties by fault, rejects and refusals by reason, bytes by
//! protocol); `rumor_build_info`. Then the standard `process_*` families
//! (`process_metrics`), then libp2p's. Families whose label values are
//! known up front start at zero; those labelled by a refusal reason
//! appear with their first occurrence.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rumor_p2p::P2pHandle;
use tokio::net::TcpListener;

use crate::core::NodeCore;
use crate::shutdown::Shutdown;

/// `kind` and `origin` of an accepted object.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AcceptedLabels {
    /// `tx` or `block`.
    pub kind: &'static str,
    /// `peer` or `local`.
    pub origin: &'static str,
}

/// `kind`, `class` and `reason` of a refused object.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectedLabels {
    /// `tx` or `block`.
    pub kind: &'static str,
    /// `malformed`, `invalid`, `policy` or `not-yet`.
    pub class: &'static str,
    /// The rule, as a stable label.
    pub reason: String,
}

/// Why admission control refused a client.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    /// `validation-late`, `queue-full` or `relay-behind`.
    pub reason: &'static str,
}

/// A batch's content kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BatchLabels {
    /// `tx`, `block` or `mixed`.
    pub kind: &'static str,
}

/// A stage of a block's way through the validator.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BlockStageLabels {
    /// `queue` (waiting for the validator), `validate` (decode, checks and
    /// connect rules, until it is handed to the p2p layer to relay) or
    /// `write` (the store's write and the mempool repair, after that).
    pub stage: &'static str,
}

/// One of the allocator's counts (see [`crate::AllocatorStats`]).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AllocatorLabels {
    /// `allocated`, `active`, `resident`, `mapped`, `retained` or `metadata`.
    pub kind: &'static str,
}

/// A p2p counter, by its `getrelaystats` name.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// The counter's name.
    pub event: String,
}

/// Why something a peer did was refused or charged.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The stable reason label.
    pub reason: String,
}

/// A penalty's fault.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// The fault's label.
    pub fault: String,
}

/// Bytes of one protocol in one direction.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BytesLabels {
    /// `wire` (every byte of every connection), `gossip`, `getdata` or `sync`.
    pub protocol: &'static str,
    /// `in` or `out`.
    pub direction: &'static str,
}

/// `rumor_build_info`'s labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

/// The allocator's counts, in `getmemoryinfo`'s order.
const ALLOCATOR_KINDS: [&str; 6] = [
    "allocated",
    "active",
    "resident",
    "mapped",
    "retained",
    "metadata",
];

/// p2p counters exported as families of their own, not as relay events.
const OWN_FAMILY_COUNTERS: [&str; 3] = ["duplicate_bodies", "fetch_timeouts", "peers_banned"];

/// A gossip topic.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    /// `tx` or `block`.
    pub topic: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn validation_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

fn block_stage_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

/// The node's metrics.
#[derive(Debug)]
pub struct NodeMetrics {
    registry: Registry,
    /// Best-chain height.
    pub tip_height: Gauge,
    /// Mempool transactions.
    pub mempool_txs: Gauge,
    /// Mempool bytes.
    pub mempool_bytes: Gauge,
    /// Orphan transactions held.
    pub orphan_txs: Gauge,
    /// Objects accepted.
    pub accepted: Family<AcceptedLabels, Counter>,
    /// Objects refused.
    pub rejected: Family<RejectedLabels, Counter>,
    /// Client submissions refused by admission control, by reason.
    pub refused: Family<RefusedLabels, Counter>,
    /// Validation time per batch.
    pub validation_seconds: HistogramFamily<BatchLabels>,
    /// Block header time to acceptance here, for blocks from peers.
    pub block_delay_seconds: Histogram,
    /// Each stage of a block that joined the best chain, by stage.
    pub block_stage_seconds: HistogramFamily<BlockStageLabels>,
    /// Connected peers.
    pub peers: Gauge,
    /// Mesh peers per topic.
    pub mesh_peers: Family<TopicLabels, Gauge>,
    /// Bodies received for objects already held.
    pub duplicate_bodies: Counter,
    /// Seen-set entries.
    pub seen_size: Gauge,
    /// Seen-set lookup hits.
    pub seen_hits: Counter,
    /// Seen-set lookup misses.
    pub seen_misses: Counter,
    /// Fetch attempts that timed out.
    pub fetch_timeouts: Counter,
    /// The allocator's counts, bytes (none with the system allocator).
    pub allocator_bytes: Family<AllocatorLabels, Gauge>,
    /// The p2p layer's counters, by name.
    pub relay_events: Family<EventLabels, Counter>,
    /// Peers banned for misbehaviour.
    pub peer_bans: Counter,
    /// Penalties charged to peers, by fault.
    pub peer_penalties: Family<FaultLabels, Counter>,
    /// What peers sent that broke a rule, by reason.
    pub relay_rejects: Family<ReasonLabels, Counter>,
    /// What peers sent that local policy refused, by reason.
    pub relay_refusals: Family<ReasonLabels, Counter>,
    /// Bytes by protocol and direction.
    pub p2p_bytes: Family<BytesLabels, Counter>,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Raises a counter to a monotonic value read elsewhere.
fn mirror(counter: &Counter, value: u64) {
    let cur = counter.get();
    if value > cur {
        counter.inc_by(value - cur);
    }
}

/// Mirrors each named value into its series of `family`.
fn mirror_each<'a, L: Clone + std::hash::Hash + Eq>(
    family: &Family<L, Counter>,
    values: impl IntoIterator<Item = (&'a String, &'a u64)>,
    label: impl Fn(&str) -> L,
) {
    for (name, value) in values {
        mirror(&family.get_or_create(&label(name)), *value);
    }
}

impl NodeMetrics {
    /// Fresh metrics, registered.
    pub fn new() -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("rumor");
        let m = Self {
            registry: Registry::default(),
            tip_height: Gauge::default(),
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            orphan_txs: Gauge::default(),
            accepted: Family::default(),
            rejected: Family::default(),
            refused: Family::default(),
            validation_seconds: Family::new_with_constructor(validation_histogram),
            block_delay_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            block_stage_seconds: Family::new_with_constructor(block_stage_histogram),
            peers: Gauge::default(),
            mesh_peers: Family::default(),
            duplicate_bodies: Counter::default(),
            seen_size: Gauge::default(),
            seen_hits: Counter::default(),
            seen_misses: Counter::default(),
            fetch_timeouts: Counter::default(),
            allocator_bytes: Family::default(),
            relay_events: Family::default(),
            peer_bans: Counter::default(),
            peer_penalties: Family::default(),
            relay_rejects: Family::default(),
            relay_refusals: Family::default(),
            p2p_bytes: Family::default(),
        };
        // Label values known up front start at zero, so a scrape shows 0
        // rather than nothing before the first event.
        for kind in ["tx", "block"] {
            for origin in ["peer", "local"] {
                let _ = m.accepted.get_or_create(&AcceptedLabels { kind, origin });
            }
        }
        for kind in ["tx", "block", "mixed"] {
            let _ = m.validation_seconds.get_or_create(&BatchLabels { kind });
        }
        for topic in ["tx", "block"] {
            let _ = m.mesh_peers.get_or_create(&TopicLabels { topic });
        }
        for protocol in ["wire", "gossip", "getdata", "sync", "push"] {
            for direction in ["in", "out"] {
                let _ = m.p2p_bytes.get_or_create(&BytesLabels {
                    protocol,
                    direction,
                });
            }
        }
        registry.register("tip_height", "Best-chain height", m.tip_height.clone());
        registry.register("mempool_txs", "Mempool transactions", m.mempool_txs.clone());
        registry.register(
            "mempool_bytes",
            "Mempool size in bytes",
            m.mempool_bytes.clone(),
        );
        registry.register(
            "orphan_txs",
            "Orphan transactions held",
            m.orphan_txs.clone(),
        );
        registry.register(
            "objects_accepted",
            "Objects accepted, by kind and origin",
            m.accepted.clone(),
        );
        // Every reason from the start, so a scrape shows 0 rather than
        // nothing before the first refusal.
        for reason in ["validation-late", "queue-full", "relay-behind"] {
            let _ = m.refused.get_or_create(&RefusedLabels { reason });
        }
        registry.register(
            "admission_refused",
            "Client submissions refused because the node was busy (RPC -28), by reason",
            m.refused.clone(),
        );
        registry.register(
            "objects_rejected",
            "Objects refused, by kind, class (invalid, policy, not-yet) and reason",
            m.rejected.clone(),
        );
        registry.register(
            "validation_seconds",
            "Validation time per batch (decode, signatures, mempool or chain)",
            m.validation_seconds.clone(),
        );
        registry.register(
            "block_propagation_delay_seconds",
            "Time from a peer block's header time to its acceptance here (fetch-latency proxy)",
            m.block_delay_seconds.clone(),
        );
        registry.register(
            "block_connect_seconds",
            "Stages of a block that joined the best chain: queue (waiting for the validator), \
             validate (until handed to the p2p layer to relay), write (store and mempool, after)",
            m.block_stage_seconds.clone(),
        );
        registry.register("peers", "Connected peers", m.peers.clone());
        registry.register(
            "mesh_peers",
            "Gossipsub mesh peers per topic",
            m.mesh_peers.clone(),
        );
        registry.register(
            "duplicate_bodies",
            "Bodies received for objects already held",
            m.duplicate_bodies.clone(),
        );
        registry.register("seen_set_size", "Seen-set entries", m.seen_size.clone());
        registry.register("seen_set_hits", "Seen-set lookup hits", m.seen_hits.clone());
        registry.register(
            "seen_set_misses",
            "Seen-set lookup misses",
            m.seen_misses.clone(),
        );
        registry.register(
            "fetch_timeouts",
            "Fetch attempts that timed out",
            m.fetch_timeouts.clone(),
        );
        registry.register(
            "allocator_bytes",
            "The allocator's counts: allocated (live heap), active (pages holding it), \
             resident, mapped, retained and metadata bytes",
            m.allocator_bytes.clone(),
        );
        registry.register(
            "relay_events",
            "The p2p layer's counters (getrelaystats counters), by name",
            m.relay_events.clone(),
        );
        registry.register(
            "peer_bans",
            "Peers disconnected and banned for misbehaviour",
            m.peer_bans.clone(),
        );
        registry.register(
            "peer_penalties",
            "Penalties charged to peers' scores, by fault",
            m.peer_penalties.clone(),
        );
        registry.register(
            "relay_rejects",
            "What peers sent that broke a rule (the sender is charged), by reason",
            m.relay_rejects.clone(),
        );
        registry.register(
            "relay_refusals",
            "What peers sent that local policy refused (never charged), by reason",
            m.relay_refusals.clone(),
        );
        registry.register(
            "p2p_bytes",
            "Bytes by protocol (wire: every byte of every connection) and direction",
            m.p2p_bytes.clone(),
        );
        registry.register(
            "build",
            "The running build: crate version and git commit",
            prometheus_client::metrics::info::Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("RUMOR_COMMIT"),
            }),
        );
        root.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        Self {
            registry: root,
            ..m
        }
    }

    /// Client submissions refused by admission control so far, all reasons.
    pub fn refused_total(&self) -> u64 {
        ["validation-late", "queue-full", "relay-behind"]
            .into_iter()
            .map(|reason| self.refused.get_or_create(&RefusedLabels { reason }).get())
            .sum()
    }

    /// Counts `n` client submissions refused by admission control.
    pub fn record_refused(&self, reason: &'static str, n: usize) {
        self.refused
            .get_or_create(&RefusedLabels { reason })
            .inc_by(n as u64);
    }

    /// Records the stages of a block that joined the best chain (see
    /// [`BlockStageLabels`]).
    pub fn record_block_stages(
        &self,
        queue: std::time::Duration,
        validate: std::time::Duration,
        write: std::time::Duration,
    ) {
        for (stage, d) in [("queue", queue), ("validate", validate), ("write", write)] {
            self.block_stage_seconds
                .get_or_create(&BlockStageLabels { stage })
                .observe(d.as_secs_f64());
        }
    }

    /// Counts a validated batch: each object accepted (by kind and origin)
    /// or refused (by kind, class and reason), and the batch's time.
    pub fn record_batch(
        &self,
        kinds: &[rumor_chain::ObjectKind],
        from_peer: &[bool],
        outcomes: &[rumor_chain::Outcome],
        elapsed: std::time::Duration,
    ) {
        use rumor_chain::{ObjectKind, Verdict};
        if outcomes.is_empty() {
            return;
        }
        let batch_kind = if kinds.iter().all(|k| *k == ObjectKind::Tx) {
            "tx"
        } else if kinds.iter().all(|k| *k == ObjectKind::Block) {
            "block"
        } else {
            "mixed"
        };
        self.validation_seconds
            .get_or_create(&BatchLabels { kind: batch_kind })
            .observe(elapsed.as_secs_f64());
        for ((kind, peer), o) in kinds.iter().zip(from_peer).zip(outcomes) {
            let kind = kind.label();
            match &o.verdict {
                Verdict::Accepted { .. } => {
                    let origin = if *peer { "peer" } else { "local" };
                    self.accepted
                        .get_or_create(&AcceptedLabels { kind, origin })
                        .inc();
                }
                Verdict::Known => {}
                v => {
                    self.rejected
                        .get_or_create(&RejectedLabels {
                            kind,
                            class: v.class(),
                            reason: v.label().to_owned(),
                        })
                        .inc();
                }
            }
        }
    }

    /// Reads the values that live elsewhere (chain, mempool, p2p counters).
    pub async fn refresh(&self, core: &Arc<NodeCore>, p2p: &P2pHandle) {
        // On the blocking pool: the summary takes the chain lock, which a
        // block connect may hold, and a runtime worker must not wait on it.
        let c = Arc::clone(core);
        if let Ok(Ok(s)) = tokio::task::spawn_blocking(move || c.pool_summary()).await {
            self.tip_height.set(s.height as i64);
            self.mempool_txs.set(s.txs as i64);
            self.mempool_bytes.set(s.bytes as i64);
            self.orphan_txs.set(s.orphans as i64);
        }
        if let Ok(stats) = p2p.stats().await {
            self.peers.set(stats.peers as i64);
            self.mesh_peers
                .get_or_create(&TopicLabels { topic: "tx" })
                .set(stats.mesh_tx as i64);
            self.mesh_peers
                .get_or_create(&TopicLabels { topic: "block" })
                .set(stats.mesh_block as i64);
            self.seen_size.set(stats.seen.len as i64);
            mirror(&self.seen_hits, stats.seen.hits);
            mirror(&self.seen_misses, stats.seen.misses);
            self.refresh_p2p(&stats);
        }
        if let Some(a) = crate::memory_info().stats {
            let counts = [
                a.allocated,
                a.active,
                a.resident,
                a.mapped,
                a.retained,
                a.metadata,
            ];
            for (kind, bytes) in ALLOCATOR_KINDS.into_iter().zip(counts) {
                self.allocator_bytes
                    .get_or_create(&AllocatorLabels { kind })
                    .set(bytes as i64);
            }
        }
    }

    /// The p2p layer's counters, rejects, refusals, penalties and bytes.
    fn refresh_p2p(&self, stats: &rumor_p2p::RelayStats) {
        let counter = |name: &str| stats.counters.get(name).copied().unwrap_or(0);
        mirror(&self.duplicate_bodies, counter("duplicate_bodies"));
        mirror(&self.fetch_timeouts, counter("fetch_timeouts"));
        mirror(&self.peer_bans, counter("peers_banned"));
        let events = stats
            .counters
            .iter()
            .filter(|(name, _)| !OWN_FAMILY_COUNTERS.contains(&name.as_str()));
        mirror_each(&self.relay_events, events, |n| EventLabels {
            event: n.to_owned(),
        });
        mirror_each(&self.relay_rejects, &stats.rejects, |n| ReasonLabels {
            reason: n.to_owned(),
        });
        mirror_each(&self.relay_refusals, &stats.refusals, |n| ReasonLabels {
            reason: n.to_owned(),
        });
        mirror_each(&self.peer_penalties, &stats.penalties, |n| FaultLabels {
            fault: n.to_owned(),
        });
        let bytes = [
            ("wire", stats.wire_bytes),
            ("gossip", stats.gossip_bytes),
            ("getdata", stats.getdata_bytes),
            ("sync", stats.sync_bytes),
            ("push", stats.push_bytes),
        ];
        for (protocol, b) in bytes {
            for (direction, value) in [("in", b.inn), ("out", b.out)] {
                mirror(
                    &self.p2p_bytes.get_or_create(&BytesLabels {
                        protocol,
                        direction,
                    }),
                    value,
                );
            }
        }
    }

    /// The node's metrics as OpenMetrics text, without the final `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        out
    }
}

/// The full `/metrics` body: the node's metrics, then libp2p's (which end with `# EOF`).
pub(crate) async fn render(metrics: &NodeMetrics, core: &Arc<NodeCore>, p2p: &P2pHandle) -> String {
    metrics.refresh(core, p2p).await;
    let mut body = metrics.encode();
    match p2p.metrics_text().await {
        Ok(text) => body.push_str(&text),
        Err(_) => {
            let _ = prometheus_client::encoding::text::encode_eof(&mut body);
        }
    }
    body
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<NodeMetrics>,
    core: Arc<NodeCore>,
    p2p: P2pHandle,
    shutdown: Shutdown,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let (metrics, core, p2p) = (Arc::clone(&metrics), Arc::clone(&core), p2p.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (metrics, core, p2p) = (Arc::clone(&metrics), Arc::clone(&core), p2p.clone());
                async move {
                    let resp = if req.uri().path() == "/metrics" {
                        let body = render(&metrics, &core, &p2p).await;
                        Response::builder()
                            .header(
                                hyper::header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )
                            .body(Full::new(Bytes::from(body)))
                    } else {
                        Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .body(Full::new(Bytes::from_static(b"not found; try /metrics\n")))
                    };
                    Ok::<_, Infallible>(resp.unwrap_or_else(|_| Response::new(Full::default())))
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "metrics connection");
            }
        });
    }
}

/// Binds the metrics listener.
///
/// # Errors
/// The address cannot be bound.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// Bans, penalties by fault and rejects by reason are the p2p layer's
    /// counts, and stay monotonic when a later reading is lower (a counter
    /// never goes back).
    #[test]
    fn bans_penalties_and_rejects_mirror_the_p2p_counts() {
        let m = NodeMetrics::new();
        let mut stats = rumor_p2p::RelayStats::default();
        stats.counters.insert("peers_banned".into(), 2);
        stats.counters.insert("fetch_timeouts".into(), 5);
        stats.penalties.insert("bad-gossip".into(), 3);
        stats.penalties.insert("flood".into(), 0);
        stats.rejects.insert("undecodable-gossip".into(), 4);
        m.refresh_p2p(&stats);
        let text = m.encode();
        assert_eq!(sample(&text, "rumor_peer_bans_total"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "rumor_fetch_timeouts_total"), Some(5.0));
        let bad_gossip = "rumor_peer_penalties_total{fault=\"bad-gossip\"}";
        assert_eq!(sample(&text, bad_gossip), Some(3.0), "{text}");
        let flood = "rumor_peer_penalties_total{fault=\"flood\"}";
        assert_eq!(sample(&text, flood), Some(0.0), "{text}");
        let undecodable = "rumor_relay_rejects_total{reason=\"undecodable-gossip\"}";
        assert_eq!(sample(&text, undecodable), Some(4.0), "{text}");
        // "peers_banned" has its own family, not a relay event as well.
        assert!(!text.contains("event=\"peers_banned\""), "{text}");

        stats.counters.insert("peers_banned".into(), 3);
        stats.penalties.insert("bad-gossip".into(), 1);
        m.refresh_p2p(&stats);
        let text = m.encode();
        assert_eq!(sample(&text, "rumor_peer_bans_total"), Some(3.0));
        assert_eq!(sample(&text, bad_gossip), Some(3.0), "never backwards");
    }
}
