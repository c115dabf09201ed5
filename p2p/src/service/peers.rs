//! Peers: connections, failure detection, misbehaviour scores and bans,
//! per-peer rate limits, bootnodes and discovery (identify + peer exchange).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, identify, ping};
use lru::LruCache;
use rand::seq::SliceRandom;
use serde_bytes::ByteBuf;

use super::Service;
use crate::behaviour::DISCONNECT_SCORE;
use crate::config::P2pConfig;
use crate::handle::{P2pEvent, PeerInfo};
use crate::telemetry::{Bytes, RelayStats};
use crate::wire::{MAX_PEER_RECORDS, PeerRecord};

/// Penalty for serving an object that turned out invalid.
pub(crate) const INVALID_OBJECT_PENALTY: f64 = 30.0;
/// Misbehaviour decays by this factor every second.
const DECAY: f64 = 0.95;
/// Misbehaviour tolerated before it shows in the gossipsub score. Any negative
/// score prunes a peer from the mesh, so honest peers' occasional slips (a
/// timeout under load, a notfound after an eviction) must not count.
const GRACE: f64 = 10.0;

/// The application score of a peer: a small positive baseline (so rounding
/// noise in other score terms never turns an honest peer negative, which
/// would prune it from the mesh), minus misbehaviour beyond the grace level.
fn app_score(misbehaviour: f64) -> f64 {
    BASELINE - (misbehaviour - GRACE).max(0.0)
}

/// See [`app_score`].
const BASELINE: f64 = 1.0;
/// Connections one peer may hold at once.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// Longest wait between dials of one address.
const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(5);
/// Request items a peer may ask for per second (sustained).
const RATE_PER_SEC: f64 = 50_000.0;
/// Request items a peer may ask for in a burst.
const BURST: f64 = 100_000.0;

struct Conn {
    addr: Multiaddr,
    outbound: bool,
    since: Instant,
    rtt: Option<Duration>,
    agent: Option<String>,
    listen: Vec<Multiaddr>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What the loop knows about peers.
pub(crate) struct PeerBook {
    connected: HashMap<PeerId, Conn>,
    known: LruCache<PeerId, Vec<Multiaddr>>,
    bans: HashMap<PeerId, Instant>,
    misbehaviour: HashMap<PeerId, f64>,
    buckets: HashMap<PeerId, Bucket>,
    dial_after: HashMap<Multiaddr, (Instant, Duration)>,
    ticks: u64,
}

impl PeerBook {
    pub(crate) fn new(_cfg: &P2pConfig) -> Self {
        Self {
            connected: HashMap::new(),
            known: LruCache::new(NonZeroUsize::new(1024).expect("1024 > 0")),
            bans: HashMap::new(),
            misbehaviour: HashMap::new(),
            buckets: HashMap::new(),
            dial_after: HashMap::new(),
            ticks: 0,
        }
    }

    /// Whether `peer` may make a request costing `items` now (token bucket).
    pub(crate) fn allow(&mut self, peer: PeerId, items: usize) -> bool {
        let now = Instant::now();
        let b = self.buckets.entry(peer).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * RATE_PER_SEC).min(BURST);
        b.at = now;
        if b.tokens >= items as f64 {
            b.tokens -= items as f64;
            true
        } else {
            false
        }
    }

    fn is_banned(&self, peer: &PeerId) -> bool {
        self.bans
            .get(peer)
            .is_some_and(|until| *until > Instant::now())
    }
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl Service {
    pub(super) fn on_connected(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        endpoint: &ConnectedPoint,
        n: u32,
    ) {
        if self.peers.is_banned(&peer) {
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        if n > MAX_CONNECTIONS_PER_PEER {
            // Each connection costs a noise session, a yamux session and a
            // handler per protocol: one identity may not open more than
            // two (a simultaneous dial from both sides).
            tracing::debug!(%peer, n, "too many connections from one peer; closing the new one");
            self.swarm.close_connection(connection);
            return;
        }
        if n > 1 || self.peers.connected.contains_key(&peer) {
            return;
        }
        if self.peers.connected.len() >= self.cfg.max_peers {
            tracing::debug!(%peer, "at max peers; refusing");
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        let (addr, outbound) = match endpoint {
            ConnectedPoint::Dialer { address, .. } => (address.clone(), true),
            ConnectedPoint::Listener { send_back_addr, .. } => (send_back_addr.clone(), false),
        };
        tracing::debug!(%peer, %addr, outbound, "peer up");
        self.peers.connected.insert(
            peer,
            Conn {
                addr,
                outbound,
                since: Instant::now(),
                rtt: None,
                agent: None,
                listen: Vec::new(),
            },
        );
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, app_score(0.0));
        self.shared.counters.peer_up.fetch_add(1, Ordering::Relaxed);
        self.emit(P2pEvent::PeerUp(peer));
    }

    pub(super) fn on_disconnected(&mut self, peer: PeerId) {
        if self.peers.connected.remove(&peer).is_none() {
            return;
        }
        tracing::debug!(%peer, "peer down");
        self.peers.buckets.remove(&peer);
        self.shared
            .counters
            .peer_down
            .fetch_add(1, Ordering::Relaxed);
        self.emit(P2pEvent::PeerDown(peer));
        if self.session.as_ref().is_some_and(|s| s.peer_is(&peer)) {
            self.session = None;
        }
        for (inv, r) in self.relay.peer_gone(&peer, Instant::now()) {
            self.after_fetch_failure(inv, r);
        }
        self.pending_getdata.remove(&peer);
    }

    pub(super) fn on_identify_event(&mut self, ev: identify::Event) {
        if let identify::Event::Received { peer_id, info, .. } = ev {
            let addrs: Vec<Multiaddr> = info.listen_addrs.into_iter().take(8).collect();
            if let Some(c) = self.peers.connected.get_mut(&peer_id) {
                c.agent = Some(info.agent_version);
                c.listen = addrs.clone();
            }
            if !addrs.is_empty() {
                self.peers.known.put(peer_id, addrs);
            }
        }
    }

    pub(super) fn on_ping_event(&mut self, ev: ping::Event) {
        match ev.result {
            Ok(rtt) => {
                if let Some(c) = self.peers.connected.get_mut(&ev.peer) {
                    c.rtt = Some(rtt);
                }
            }
            Err(e) => {
                // Failure detection: a silent peer is dropped and replaced.
                tracing::debug!(peer = %ev.peer, error = %e, "ping failed; dropping peer");
                self.shared
                    .counters
                    .peers_failed
                    .fetch_add(1, Ordering::Relaxed);
                let _ = self.swarm.disconnect_peer_id(ev.peer);
            }
        }
    }

    /// Lowers a peer's score; past the threshold it is disconnected and banned.
    pub(crate) fn penalize(&mut self, peer: PeerId, amount: f64, why: &str) {
        let m = self.peers.misbehaviour.entry(peer).or_default();
        *m += amount;
        let m = *m;
        tracing::debug!(%peer, amount, total = m, why, "penalty");
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, -m);
        self.check_score(peer);
    }

    fn check_score(&mut self, peer: PeerId) {
        let score = self
            .swarm
            .behaviour()
            .gossipsub
            .peer_score(&peer)
            .unwrap_or(0.0);
        let m = self.peers.misbehaviour.get(&peer).copied().unwrap_or(0.0);
        if score < DISCONNECT_SCORE || app_score(m) < DISCONNECT_SCORE {
            self.ban(peer, score.min(app_score(m)));
        }
    }

    fn ban(&mut self, peer: PeerId, score: f64) {
        if self.peers.is_banned(&peer) {
            return;
        }
        tracing::info!(%peer, score, "disconnecting misbehaving peer");
        self.peers
            .bans
            .insert(peer, Instant::now() + self.cfg.ban_duration);
        self.shared
            .counters
            .peers_banned
            .fetch_add(1, Ordering::Relaxed);
        self.emit(P2pEvent::PeerBanned(peer));
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// An operator's ban: disconnect and refuse `peer` for `duration`.
    pub(crate) fn ban_for(&mut self, peer: PeerId, duration: Duration) {
        tracing::info!(%peer, ?duration, "banned by operator");
        self.peers.bans.insert(peer, Instant::now() + duration);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Lifts one ban.
    pub(crate) fn unban(&mut self, peer: PeerId) {
        self.peers.bans.remove(&peer);
        self.peers.misbehaviour.remove(&peer);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, 0.0);
    }

    /// Lifts every ban, forgets dial backoff, and redials at once.
    pub(crate) fn clear_bans(&mut self) {
        let banned: Vec<PeerId> = self.peers.bans.keys().copied().collect();
        for p in banned {
            self.unban(p);
        }
        self.peers.dial_after.clear();
        self.dial_bootnodes();
    }

    /// Current bans with the time left.
    pub(crate) fn bans(&self) -> Vec<(PeerId, Duration)> {
        let now = Instant::now();
        self.peers
            .bans
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(p, until)| (*p, *until - now))
            .collect()
    }

    pub(crate) fn dial_bootnodes(&mut self) {
        let now = Instant::now();
        let connected: Vec<PeerId> = self.peers.connected.keys().copied().collect();
        for addr in self.cfg.bootnodes.clone() {
            if peer_of(&addr).is_some_and(|p| connected.contains(&p) || self.peers.is_banned(&p)) {
                continue;
            }
            self.dial_with_backoff(addr, now);
        }
    }

    fn dial_with_backoff(&mut self, addr: Multiaddr, now: Instant) {
        let (after, backoff) = self
            .peers
            .dial_after
            .get(&addr)
            .copied()
            .unwrap_or((now, Duration::from_millis(500)));
        if after > now {
            return;
        }
        self.peers.dial_after.insert(
            addr.clone(),
            (now + backoff, (backoff * 2).min(MAX_DIAL_BACKOFF)),
        );
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, error = %e, "dial refused");
        }
    }

    /// Once a second: decay penalties, enforce scores, keep the peer count up.
    pub(super) fn peers_maintenance(&mut self) {
        self.peers.ticks += 1;
        let now = Instant::now();
        self.peers.bans.retain(|_, until| *until > now);
        let mut updates = Vec::new();
        self.peers.misbehaviour.retain(|peer, m| {
            *m *= DECAY;
            updates.push((*peer, app_score(*m)));
            *m > 0.01
        });
        for (peer, s) in updates {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .set_application_score(&peer, s);
        }
        let peers: Vec<PeerId> = self.peers.connected.keys().copied().collect();
        for p in peers {
            self.check_score(p);
        }
        // Reset dial backoff for addresses of connected peers.
        let connected: Vec<PeerId> = self.peers.connected.keys().copied().collect();
        self.peers
            .dial_after
            .retain(|a, _| peer_of(a).is_none_or(|p| !connected.contains(&p)));
        if self.peers.connected.len() < self.cfg.target_peers {
            self.dial_bootnodes();
            if self.cfg.discovery {
                let mut candidates: Vec<Multiaddr> = self
                    .peers
                    .known
                    .iter()
                    .filter(|(p, _)| {
                        **p != *self.swarm.local_peer_id()
                            && !connected.contains(p)
                            && !self.peers.is_banned(p)
                    })
                    .filter_map(|(p, addrs)| {
                        addrs
                            .first()
                            .map(|a| a.clone().with_p2p(*p).unwrap_or_else(|a| a))
                    })
                    .collect();
                candidates.shuffle(&mut rand::rng());
                let want = self.cfg.target_peers - self.peers.connected.len();
                for addr in candidates.into_iter().take(want) {
                    self.dial_with_backoff(addr, now);
                }
            }
        }
        if self.cfg.discovery && self.peers.ticks % 5 == 1 {
            self.ask_for_peers();
        }
    }

    /// Peer records for peer exchange: connected peers with their listen addresses.
    pub(crate) fn peer_records(&self) -> Vec<PeerRecord> {
        self.peers
            .connected
            .iter()
            .filter(|(_, c)| !c.listen.is_empty())
            .take(MAX_PEER_RECORDS)
            .map(|(p, c)| PeerRecord {
                peer: ByteBuf::from(p.to_bytes()),
                addrs: c.listen.iter().map(|a| ByteBuf::from(a.to_vec())).collect(),
            })
            .collect()
    }

    pub(crate) fn learn_peers(&mut self, records: Vec<PeerRecord>) {
        for r in records.into_iter().take(MAX_PEER_RECORDS) {
            let Ok(peer) = PeerId::from_bytes(&r.peer) else {
                continue;
            };
            let addrs: Vec<Multiaddr> = r
                .addrs
                .iter()
                .take(8)
                .filter_map(|a| Multiaddr::try_from(a.to_vec()).ok())
                .collect();
            if !addrs.is_empty() && peer != *self.swarm.local_peer_id() {
                self.peers.known.put(peer, addrs);
            }
        }
    }

    pub(crate) fn peer_infos(&self) -> Vec<PeerInfo> {
        let gs = &self.swarm.behaviour().gossipsub;
        let mesh_tx: Vec<PeerId> = gs.mesh_peers(&self.topics.tx.hash()).copied().collect();
        let mesh_block: Vec<PeerId> = gs.mesh_peers(&self.topics.block.hash()).copied().collect();
        self.peers
            .connected
            .iter()
            .map(|(p, c)| PeerInfo {
                peer_id: p.to_string(),
                addr: c.addr.to_string(),
                outbound: c.outbound,
                connected_secs: c.since.elapsed().as_secs(),
                rtt_ms: c.rtt.map(|d| d.as_secs_f64() * 1000.0),
                score: gs.peer_score(p).unwrap_or(0.0),
                mesh_tx: mesh_tx.contains(p),
                mesh_block: mesh_block.contains(p),
                agent: c.agent.clone(),
            })
            .collect()
    }

    pub(crate) fn stats(&self) -> RelayStats {
        let gs = &self.swarm.behaviour().gossipsub;
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let metric = |name: &str| sum_metric(&text, name);
        let c = &self.shared.counters;
        let p = &self.shared.protocols;
        let lock = |m: &std::sync::Mutex<std::collections::BTreeMap<String, u64>>| {
            m.lock().unwrap_or_else(|e| e.into_inner()).clone()
        };
        RelayStats {
            mode: self.cfg.relay.to_string(),
            peers: self.peers.connected.len(),
            mesh_tx: gs.mesh_peers(&self.topics.tx.hash()).count(),
            mesh_block: gs.mesh_peers(&self.topics.block.hash()).count(),
            counters: {
                let mut m: std::collections::BTreeMap<String, u64> = c
                    .snapshot()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                // Request or response frames the codec refused (over the
                // size limit, or undecodable). rust-libp2p's request-response
                // does not say which peer sent a request that never decoded,
                // so these are counted here but cannot be penalised.
                let frames = |c: &crate::codec::ProtocolCounters| {
                    c.oversized.load(Ordering::Relaxed) + c.undecodable.load(Ordering::Relaxed)
                };
                m.insert(
                    "malformed_frames".into(),
                    frames(&p.getdata) + frames(&p.sync),
                );
                m
            },
            rejects: lock(&self.shared.rejects),
            refusals: lock(&self.shared.refusals),
            seen: self.relay.seen().stats(),
            inflight: self.relay.inflight().len(),
            pending_reports: self.relay.pending_reports(),
            validation_backlog: self.shared.backlog.load(Ordering::Relaxed),
            first_seen: self.shared.first_seen.lock().map(|l| l.len()).unwrap_or(0),
            gossip_bytes: Bytes {
                inn: metric("libp2p_gossipsub_topic_msg_recv_bytes_unfiltered"),
                out: metric("libp2p_gossipsub_topic_msg_sent_bytes"),
            },
            gossip_msgs_unfiltered: metric("libp2p_gossipsub_topic_msg_recv_counts_unfiltered"),
            gossip_msgs_filtered: metric("libp2p_gossipsub_topic_msg_recv_counts"),
            getdata_bytes: Bytes {
                inn: p.getdata.bytes_in.load(Ordering::Relaxed),
                out: p.getdata.bytes_out.load(Ordering::Relaxed),
            },
            sync_bytes: Bytes {
                inn: p.sync.bytes_in.load(Ordering::Relaxed),
                out: p.sync.bytes_out.load(Ordering::Relaxed),
            },
            wire_bytes: Bytes {
                inn: self.shared.link.bytes_in.load(Ordering::Relaxed),
                out: self.shared.link.bytes_out.load(Ordering::Relaxed),
            },
            link: self.cfg.link,
        }
    }
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
