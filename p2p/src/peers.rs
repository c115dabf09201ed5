//! [`PeerBook`]: what the node knows about peers, and the decisions about
//! them: whom to admit, what misbehaviour costs and when it ends in a ban,
//! how fast a peer may ask for things, whom to dial. It is a state machine
//! with time as a parameter; the event loop applies its answers to the
//! swarm (gossipsub application scores, disconnects, dials).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use lru::LruCache;
use rand::seq::SliceRandom;
use rumor_relay::Offence;

use crate::bans::{BanList, BanRecord, ip_of};
use crate::config::P2pConfig;
use crate::handle::PeerInfo;
use crate::wire::{MAX_PEER_RECORDS, PeerRecord};

/// Score below which a peer is disconnected and banned.
pub(crate) const DISCONNECT_SCORE: f64 = -100.0;
/// Misbehaviour decays by this factor every second.
const DECAY: f64 = 0.95;
/// Misbehaviour tolerated before it shows in the gossipsub score. Any
/// negative score prunes a peer from the mesh, so honest peers' occasional
/// slips (a timeout under load, a notfound after an eviction) must not count.
const GRACE: f64 = 10.0;
/// The application score of a well-behaved peer: a small positive baseline,
/// so rounding noise in other score terms never turns an honest peer
/// negative (which would prune it from the mesh).
const BASELINE: f64 = 1.0;
/// Connections one peer may hold at once.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// Peer slots kept for the node's own dials (Bitcoin Core keeps 8
/// full-relay outbound slots that inbound connections can never take), or
/// half of `max_peers` if that is less: inbound peers may take at most
/// `max_peers` minus this, so a flood of inbound identities cannot eclipse
/// the node.
const OUTBOUND_RESERVE: usize = 8;
/// Longest wait between dials of a bootnode named with its PeerId. Such a
/// bootnode is never dialled while it is connected, so this only paces
/// dials to one that is down.
const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait between dials of a bootnode given without `/p2p/<id>`: the
/// node cannot tell it is connected until a dial to it succeeded once, and
/// the address may never answer (or answer as something else), so the
/// waits keep doubling, up to this.
const MAX_ANONYMOUS_DIAL_BACKOFF: Duration = Duration::from_secs(300);
/// Request items a peer may ask for per second (sustained).
const RATE_PER_SEC: f64 = 50_000.0;
/// Request items a peer may ask for in a burst.
const BURST: f64 = 100_000.0;

/// What a wire-level fault costs (on top of gossipsub's own P4 penalty for
/// rejected messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A relay-level offence.
    Relay(Offence),
    /// An undecodable, oversized or wrong-topic gossip message.
    BadGossip,
    /// A gossip frame past the frame limit (gossipsub stops reading the
    /// sender's stream).
    OversizedFrame,
    /// A request over the protocol's item limit.
    OversizedRequest,
    /// Requests past the rate limit.
    Flood,
    /// A response that does not decode or is of the wrong kind.
    BadResponse,
}

impl Fault {
    /// Every fault, for metrics that start at zero.
    pub(crate) const ALL: [Fault; 11] = [
        Self::Relay(Offence::InvalidObject),
        Self::Relay(Offence::MalformedBody),
        Self::Relay(Offence::Unrequested),
        Self::Relay(Offence::Timeout),
        Self::Relay(Offence::BadCompact),
        Self::Relay(Offence::BadHeaders),
        Self::BadGossip,
        Self::OversizedFrame,
        Self::OversizedRequest,
        Self::Flood,
        Self::BadResponse,
    ];

    /// A stable label (the `fault` of `rumor_peer_penalties_total`).
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Relay(o) => o.label(),
            Self::BadGossip => "bad-gossip",
            Self::OversizedFrame => "oversized-frame",
            Self::OversizedRequest => "oversized-request",
            Self::Flood => "flood",
            Self::BadResponse => "bad-response",
        }
    }

    /// The misbehaviour it adds.
    pub(crate) fn cost(self) -> f64 {
        match self {
            Self::Relay(Offence::Timeout) => 1.0,
            Self::Relay(Offence::InvalidObject | Offence::MalformedBody) => 30.0,
            Self::Relay(Offence::Unrequested | Offence::BadCompact | Offence::BadHeaders) => 25.0,
            Self::BadGossip => 20.0,
            // Never sent by an honest peer of the same relay mode. The
            // peer is disconnected anyway (its stream is gone); one more
            // within about 40 s (decay 0.95/s) bans it.
            Self::OversizedFrame => 100.0,
            Self::OversizedRequest | Self::BadResponse => 25.0,
            Self::Flood => 10.0,
        }
    }
}

/// The application score of a peer with `misbehaviour`: the baseline,
/// minus what exceeds the grace level.
pub(crate) fn app_score(misbehaviour: f64) -> f64 {
    BASELINE - (misbehaviour - GRACE).max(0.0)
}

/// Whether a new connection may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// A new peer: set its application score to [`app_score`]`(0)`.
    NewPeer,
    /// A second connection of a known peer (simultaneous dials).
    Another,
    /// Close this connection: the peer has enough of them.
    TooManyConnections,
    /// Disconnect: the peer is banned.
    Banned,
    /// Disconnect: the node is at its peer limit (for an inbound peer: at
    /// its inbound limit).
    Full,
}

/// Most inbound peers of a node with `max_peers` slots: the rest are kept
/// for its own dials.
pub(crate) fn max_inbound(max_peers: usize) -> usize {
    max_peers - OUTBOUND_RESERVE.min(max_peers / 2)
}

/// A connected peer.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    addr: Multiaddr,
    outbound: bool,
    since: Instant,
    rtt: Option<Duration>,
    agent: Option<String>,
    listen: Vec<Multiaddr>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What periodic upkeep calls for.
#[derive(Debug, Default)]
pub(crate) struct Upkeep {
    /// New application scores after decay.
    pub(crate) scores: Vec<(PeerId, f64)>,
    /// Addresses to dial.
    pub(crate) dial: Vec<Multiaddr>,
    /// Ask a peer for more peers.
    pub(crate) ask_for_peers: bool,
}

/// Peers: connections, misbehaviour, bans, rate limits, discovery.
#[derive(Debug)]
pub(crate) struct PeerBook {
    local: PeerId,
    max_peers: usize,
    target_peers: usize,
    discovery: bool,
    bootnodes: Vec<Multiaddr>,
    ban_duration: Duration,
    connected: HashMap<PeerId, Conn>,
    known: LruCache<PeerId, Vec<Multiaddr>>,
    bans: BanList,
    misbehaviour: HashMap<PeerId, f64>,
    buckets: HashMap<PeerId, Bucket>,
    dial_after: HashMap<Multiaddr, (Instant, Duration)>,
    /// The peer behind each bootnode given without a PeerId, once a dial
    /// to it succeeded.
    bootnode_peers: HashMap<Multiaddr, PeerId>,
    /// Penalties charged, by fault.
    penalties: BTreeMap<&'static str, u64>,
    ticks: u64,
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl PeerBook {
    /// The book of a node with `cfg`, whose bans (`cfg.bans`) are read as of
    /// `now`, Unix time `now_unix_ms`.
    pub(crate) fn new(cfg: &P2pConfig, local: PeerId, now: Instant, now_unix_ms: u64) -> Self {
        Self {
            local,
            max_peers: cfg.max_peers,
            target_peers: cfg.target_peers,
            discovery: cfg.discovery,
            bootnodes: cfg.bootnodes.clone(),
            ban_duration: cfg.ban_duration,
            connected: HashMap::new(),
            known: LruCache::new(NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN)),
            bans: BanList::from_records(&cfg.bans, now, now_unix_ms),
            misbehaviour: HashMap::new(),
            buckets: HashMap::new(),
            dial_after: HashMap::new(),
            bootnode_peers: HashMap::new(),
            penalties: Fault::ALL.iter().map(|f| (f.label(), 0)).collect(),
            ticks: 0,
        }
    }

    /// A connection to `peer` was established (`n` connections now).
    pub(crate) fn admit(
        &mut self,
        peer: PeerId,
        addr: Multiaddr,
        outbound: bool,
        n: u32,
        now: Instant,
    ) -> Admission {
        if self.is_banned(&peer, now)
            || ip_of(&addr).is_some_and(|ip| self.bans.is_ip_banned(ip, now))
        {
            return Admission::Banned;
        }
        if n > MAX_CONNECTIONS_PER_PEER {
            // Each connection costs a noise session, a yamux session and a
            // handler per protocol: one identity may not open more than two
            // (a simultaneous dial from both sides).
            return Admission::TooManyConnections;
        }
        if n > 1 || self.connected.contains_key(&peer) {
            return Admission::Another;
        }
        if outbound && peer_of(&addr).is_none() && self.bootnodes.contains(&addr) {
            self.bootnode_peers.insert(addr.clone(), peer);
        }
        if self.connected.len() >= self.max_peers {
            return Admission::Full;
        }
        if !outbound && self.inbound() >= max_inbound(self.max_peers) {
            return Admission::Full;
        }
        self.connected.insert(
            peer,
            Conn {
                addr,
                outbound,
                since: now,
                rtt: None,
                agent: None,
                listen: Vec::new(),
            },
        );
        Admission::NewPeer
    }

    /// `peer`'s last connection closed. Returns whether it was admitted.
    pub(crate) fn remove(&mut self, peer: &PeerId) -> bool {
        self.buckets.remove(peer);
        self.connected.remove(peer).is_some()
    }

    /// Connected peers.
    pub(crate) fn connected(&self) -> impl Iterator<Item = &PeerId> {
        self.connected.keys()
    }

    /// How many peers are connected.
    pub(crate) fn len(&self) -> usize {
        self.connected.len()
    }

    /// How many of them connected to us.
    pub(crate) fn inbound(&self) -> usize {
        self.connected.values().filter(|c| !c.outbound).count()
    }

    /// What identify told about `peer`.
    pub(crate) fn identified(&mut self, peer: PeerId, agent: String, listen: Vec<Multiaddr>) {
        let listen: Vec<Multiaddr> = listen.into_iter().take(8).collect();
        if let Some(c) = self.connected.get_mut(&peer) {
            c.agent = Some(agent);
            c.listen = listen.clone();
        }
        if !listen.is_empty() {
            self.known.put(peer, listen);
        }
    }

    /// A ping round trip to `peer`.
    pub(crate) fn rtt(&mut self, peer: &PeerId, rtt: Duration) {
        if let Some(c) = self.connected.get_mut(peer) {
            c.rtt = Some(rtt);
        }
    }

    /// Charges `peer` for `fault`. Returns its new application score.
    pub(crate) fn penalize(&mut self, peer: PeerId, fault: Fault) -> f64 {
        *self.penalties.entry(fault.label()).or_default() += 1;
        let m = self.misbehaviour.entry(peer).or_default();
        *m += fault.cost();
        app_score(*m)
    }

    /// Penalties charged so far, by fault (every fault, from zero).
    pub(crate) fn penalties(&self) -> &BTreeMap<&'static str, u64> {
        &self.penalties
    }

    /// `peer`'s application score now.
    pub(crate) fn app_score(&self, peer: &PeerId) -> f64 {
        app_score(self.misbehaviour.get(peer).copied().unwrap_or(0.0))
    }

    /// Whether `peer`, with gossipsub score `gossip_score`, has earned a ban.
    pub(crate) fn must_ban(&self, peer: &PeerId, gossip_score: f64) -> bool {
        gossip_score < DISCONNECT_SCORE || self.app_score(peer) < DISCONNECT_SCORE
    }

    /// Bans `peer` for the configured time, and the address it is
    /// connected from. Returns false if it already was banned.
    pub(crate) fn ban(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.is_banned(&peer, now) {
            return false;
        }
        self.ban_for(peer, now + self.ban_duration);
        true
    }

    /// An operator's ban of `peer` until `until` (with its address, if
    /// connected).
    pub(crate) fn ban_for(&mut self, peer: PeerId, until: Instant) {
        let ip = self.connected.get(&peer).and_then(|c| ip_of(&c.addr));
        self.bans.ban(peer, ip, until);
    }

    /// Lifts `peer`'s ban and forgets its misbehaviour.
    pub(crate) fn unban(&mut self, peer: &PeerId) {
        self.bans.unban(peer);
        self.misbehaviour.remove(peer);
    }

    /// Lifts every ban and forgets dial backoff. Returns the peers unbanned.
    pub(crate) fn clear_bans(&mut self) -> Vec<PeerId> {
        let banned = self.bans.clear();
        for p in &banned {
            self.misbehaviour.remove(p);
        }
        self.dial_after.clear();
        banned
    }

    /// Whether `peer` is banned.
    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.bans.is_banned(peer, now)
    }

    /// Current bans with the time left.
    pub(crate) fn bans(&self, now: Instant) -> Vec<(PeerId, Duration)> {
        self.bans.list(now)
    }

    /// Current bans as the node keeps them across restarts, `now` being
    /// `now_unix_ms`.
    pub(crate) fn ban_records(&self, now: Instant, now_unix_ms: u64) -> Vec<BanRecord> {
        self.bans.records(now, now_unix_ms)
    }

    /// Whether `peer` may make a request costing `items` now (token bucket).
    pub(crate) fn allow(&mut self, peer: PeerId, items: usize, now: Instant) -> bool {
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

    /// Bootnodes not connected nor banned, due for a dial.
    pub(crate) fn bootnodes_to_dial(&mut self, now: Instant) -> Vec<Multiaddr> {
        let mut out = Vec::new();
        for addr in self.bootnodes.clone() {
            if self
                .peer_at(&addr)
                .is_some_and(|p| self.connected.contains_key(&p) || self.is_banned(&p, now))
                || ip_of(&addr).is_some_and(|ip| self.bans.is_ip_banned(ip, now))
            {
                continue;
            }
            if self.due(&addr, now) {
                out.push(addr);
            }
        }
        out
    }

    /// The peer at `addr`: its `/p2p/<id>`, or the peer a dial to this
    /// id-less bootnode reached.
    fn peer_at(&self, addr: &Multiaddr) -> Option<PeerId> {
        peer_of(addr).or_else(|| self.bootnode_peers.get(addr).copied())
    }

    /// Whether `addr` may be dialled now; if so its backoff doubles (up to
    /// 5 s for an address with a PeerId, 5 min without).
    fn due(&mut self, addr: &Multiaddr, now: Instant) -> bool {
        let cap = if peer_of(addr).is_some() {
            MAX_DIAL_BACKOFF
        } else {
            MAX_ANONYMOUS_DIAL_BACKOFF
        };
        let (after, backoff) = self
            .dial_after
            .get(addr)
            .copied()
            .unwrap_or((now, Duration::from_millis(500)));
        if after > now {
            return false;
        }
        self.dial_after
            .insert(addr.clone(), (now + backoff, (backoff * 2).min(cap)));
        true
    }

    /// Once a second: decay misbehaviour, and keep the outbound peer count up.
    pub(crate) fn upkeep(&mut self, now: Instant) -> Upkeep {
        self.ticks += 1;
        self.bans.expire(now);
        let mut out = Upkeep::default();
        self.misbehaviour.retain(|peer, m| {
            *m *= DECAY;
            out.scores.push((*peer, app_score(*m)));
            *m > 0.01
        });
        // A connected address starts from the shortest wait once it is lost.
        let (connected, learned) = (&self.connected, &self.bootnode_peers);
        self.dial_after.retain(|a, _| {
            peer_of(a)
                .or_else(|| learned.get(a).copied())
                .is_none_or(|p| !connected.contains_key(&p))
        });
        // Outbound peers are counted, not all peers: a node full of inbound
        // connections (an eclipse attacker's identities) still dials its
        // own, as Bitcoin Core keeps its 8 outbound whatever the inbound.
        let outbound = self.connected.len() - self.inbound();
        if outbound < self.target_peers {
            out.dial = self.bootnodes_to_dial(now);
            if self.discovery {
                let mut candidates: Vec<Multiaddr> = self
                    .known
                    .iter()
                    .filter(|(p, _)| {
                        **p != self.local
                            && !self.connected.contains_key(p)
                            && !self.is_banned(p, now)
                    })
                    .filter_map(|(p, addrs)| {
                        addrs
                            .first()
                            .map(|a| a.clone().with_p2p(*p).unwrap_or_else(|a| a))
                    })
                    .collect();
                candidates.shuffle(&mut rand::rng());
                let want = self.target_peers - outbound;
                for addr in candidates {
                    if out.dial.len() >= want {
                        break;
                    }
                    if self.due(&addr, now) {
                        out.dial.push(addr);
                    }
                }
            }
        }
        out.ask_for_peers = self.discovery && self.ticks % 5 == 1;
        out
    }

    /// What `getpeerinfo` shows of each connected peer, given its gossipsub
    /// score and which meshes it is in.
    pub(crate) fn infos(
        &self,
        score: impl Fn(&PeerId) -> f64,
        mesh_tx: &[PeerId],
        mesh_block: &[PeerId],
    ) -> Vec<PeerInfo> {
        self.connected
            .iter()
            .map(|(p, c)| PeerInfo {
                peer_id: p.to_string(),
                addr: c.addr.to_string(),
                outbound: c.outbound,
                connected_secs: c.since.elapsed().as_secs(),
                rtt_ms: c.rtt.map(|d| d.as_secs_f64() * 1000.0),
                score: score(p),
                mesh_tx: mesh_tx.contains(p),
                mesh_block: mesh_block.contains(p),
                agent: c.agent.clone(),
            })
            .collect()
    }

    /// Peer records for peer exchange: connected peers with their listen
    /// addresses.
    pub(crate) fn records(&self) -> Vec<PeerRecord> {
        self.connected
            .iter()
            .filter(|(_, c)| !c.listen.is_empty())
            .take(MAX_PEER_RECORDS)
            .map(|(p, c)| PeerRecord {
                peer: Bytes::from(p.to_bytes()),
                addrs: c.listen.iter().map(|a| Bytes::from(a.to_vec())).collect(),
            })
            .collect()
    }

    /// Learns peers from an exchange.
    pub(crate) fn learn(&mut self, records: Vec<PeerRecord>) {
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
            if !addrs.is_empty() && peer != self.local {
                self.known.put(peer, addrs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(max_peers: usize) -> PeerBook {
        let cfg = P2pConfig {
            max_peers,
            ..P2pConfig::default()
        };
        PeerBook::new(&cfg, PeerId::random(), Instant::now(), 0)
    }

    fn addr() -> Multiaddr {
        "/ip4/127.0.0.1/tcp/1".parse().unwrap()
    }

    #[test]
    fn one_mistake_stays_within_the_grace_and_repeated_ones_end_in_a_ban() {
        let mut b = book(8);
        let p = PeerId::random();
        // A timeout, or even one invalid object, leaves a fresh peer's score
        // non-negative or only mildly negative: never past the ban line.
        assert_eq!(b.penalize(p, Fault::Relay(Offence::Timeout)), BASELINE);
        assert!(!b.must_ban(&p, 0.0));
        let after = b.penalize(p, Fault::Relay(Offence::InvalidObject));
        assert!(after > DISCONNECT_SCORE && after < 0.0, "{after}");
        for _ in 0..3 {
            b.penalize(p, Fault::Relay(Offence::InvalidObject));
        }
        assert!(b.must_ban(&p, 0.0));
        let now = Instant::now();
        assert!(b.ban(p, now));
        assert!(!b.ban(p, now), "once");
        assert_eq!(b.admit(p, addr(), false, 1, now), Admission::Banned);
        // Misbehaviour decays.
        let q = PeerId::random();
        b.penalize(q, Fault::Flood);
        b.penalize(q, Fault::Flood);
        let s0 = b.app_score(&q);
        b.upkeep(now);
        assert!(b.app_score(&q) > s0);
    }

    /// Issue 15: a bootnode given without `/p2p/<id>` was dialled every 5 s
    /// for ever, connected or not.
    #[test]
    fn a_bootnode_without_peer_id_is_dialled_with_backoff_and_not_while_connected() {
        let anonymous: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().unwrap();
        let named = addr().with_p2p(PeerId::random()).unwrap();
        let cfg = P2pConfig {
            bootnodes: vec![anonymous.clone(), named.clone()],
            ..P2pConfig::default()
        };
        let mut b = PeerBook::new(&cfg, PeerId::random(), Instant::now(), 0);
        let t0 = Instant::now();
        let dials_in = |b: &mut PeerBook, from: u64, to: u64, which: &Multiaddr| {
            (from..to)
                .filter(|s| {
                    b.bootnodes_to_dial(t0 + Duration::from_millis(s * 250))
                        .contains(which)
                })
                .map(|s| s * 250)
                .collect::<Vec<u64>>()
        };
        // Twenty minutes of an address that never answers, checked four
        // times a second.
        let unanswered = dials_in(&mut b, 0, 4 * 1200, &anonymous);
        let gaps: Vec<u64> = unanswered.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(
            gaps,
            [
                500, 1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000,
                300_000
            ],
            "{unanswered:?}"
        );
        // A bootnode with a PeerId keeps its 5 s cap.
        let mut c = PeerBook::new(&cfg, PeerId::random(), Instant::now(), 0);
        let named_dials = dials_in(&mut c, 0, 4 * 60, &named);
        assert!(named_dials.len() >= 15, "{named_dials:?}");

        // Once a dial reached a peer there, it is not dialled while that
        // peer is connected, and from the shortest wait once it is gone.
        let p = PeerId::random();
        let t1 = t0 + Duration::from_secs(1200);
        assert_eq!(
            b.admit(p, anonymous.clone(), true, 1, t1),
            Admission::NewPeer
        );
        b.upkeep(t1);
        assert!(dials_in(&mut b, 4 * 1200, 4 * 1800, &anonymous).is_empty());
        assert!(b.remove(&p));
        let t2 = t0 + Duration::from_secs(1800);
        assert!(b.bootnodes_to_dial(t2).contains(&anonymous));
        assert!(
            !b.bootnodes_to_dial(t2 + Duration::from_millis(250))
                .contains(&anonymous)
        );
        assert!(
            b.bootnodes_to_dial(t2 + Duration::from_millis(500))
                .contains(&anonymous)
        );
    }

    #[test]
    fn penalties_are_counted_by_fault_from_zero() {
        let mut b = book(8);
        assert_eq!(b.penalties().len(), Fault::ALL.len(), "labels are distinct");
        assert!(b.penalties().values().all(|n| *n == 0));
        let p = PeerId::random();
        b.penalize(p, Fault::Flood);
        b.penalize(p, Fault::Flood);
        b.penalize(p, Fault::Relay(Offence::Timeout));
        assert_eq!(b.penalties()["flood"], 2);
        assert_eq!(b.penalties()["request-timeout"], 1);
        assert_eq!(b.penalties().values().sum::<u64>(), 3);
    }

    #[test]
    fn admission_limits_connections_per_peer_and_peers() {
        let mut b = book(1);
        let now = Instant::now();
        let (p, q) = (PeerId::random(), PeerId::random());
        assert_eq!(b.admit(p, addr(), true, 1, now), Admission::NewPeer);
        assert_eq!(b.admit(p, addr(), true, 2, now), Admission::Another);
        assert_eq!(
            b.admit(p, addr(), true, 3, now),
            Admission::TooManyConnections
        );
        assert_eq!(b.admit(q, addr(), false, 1, now), Admission::Full);
        assert!(b.remove(&p));
        assert_eq!(b.admit(q, addr(), false, 1, now), Admission::NewPeer);
    }

    #[test]
    fn inbound_peers_cannot_take_the_slots_kept_for_our_own_dials() {
        // Issue 17, item 3: 64 inbound identities used to take every slot,
        // and the node's own outbound dials were then refused.
        let mut b = book(64);
        let now = Instant::now();
        for _ in 0..64 {
            b.admit(PeerId::random(), addr(), false, 1, now);
        }
        assert_eq!(b.len(), 56, "inbound peers stop at 64 - 8");
        for _ in 0..8 {
            assert_eq!(
                b.admit(PeerId::random(), addr(), true, 1, now),
                Admission::NewPeer
            );
        }
        assert_eq!(
            b.admit(PeerId::random(), addr(), true, 1, now),
            Admission::Full,
            "and the total stays at max_peers"
        );
        // A small node keeps half its slots.
        let mut small = book(4);
        for _ in 0..4 {
            small.admit(PeerId::random(), addr(), false, 1, now);
        }
        assert_eq!(small.len(), 2);
        assert_eq!(
            small.admit(PeerId::random(), addr(), true, 1, now),
            Admission::NewPeer
        );
    }

    #[test]
    fn a_node_full_of_inbound_peers_still_dials_its_own() {
        // Issue 17, item 3: the dial rule counted every peer, so 56 inbound
        // identities left the node with no reason to dial out, ever.
        let bootnode: Multiaddr = format!("/ip4/127.0.0.1/tcp/2/p2p/{}", PeerId::random())
            .parse()
            .unwrap();
        let cfg = P2pConfig {
            bootnodes: vec![bootnode.clone()],
            discovery: false,
            ..P2pConfig::default()
        };
        let now = Instant::now();
        let mut b = PeerBook::new(&cfg, PeerId::random(), now, 0);
        for _ in 0..64 {
            b.admit(PeerId::random(), addr(), false, 1, now);
        }
        assert_eq!(b.inbound(), 56);
        let later = now + Duration::from_secs(10);
        assert_eq!(b.upkeep(later).dial, vec![bootnode.clone()]);
        // With its 8 outbound peers, it dials no more.
        for _ in 0..8 {
            b.admit(PeerId::random(), addr(), true, 1, later);
        }
        assert!(b.upkeep(later + Duration::from_secs(10)).dial.is_empty());
    }

    /// Issue 17, item 7: bans were by PeerId only and forgotten on restart.
    #[test]
    fn a_ban_outlives_a_restart_by_peer_and_by_address() {
        let mut b = book(8);
        let now = Instant::now();
        let remote: Multiaddr = "/ip4/192.0.2.9/tcp/4001".parse().unwrap();
        let p = PeerId::random();
        assert_eq!(
            b.admit(p, remote.clone(), false, 1, now),
            Admission::NewPeer
        );
        assert!(b.ban(p, now));
        b.remove(&p);
        // A fresh identity from the same address is refused too.
        let fresh = PeerId::random();
        assert_eq!(
            b.admit(fresh, remote.clone(), false, 1, now),
            Admission::Banned
        );
        // The next process, given the records, still refuses both.
        let cfg = P2pConfig {
            bans: b.ban_records(now, 5_000_000),
            ..P2pConfig::default()
        };
        let later = now + Duration::from_secs(1);
        let mut next = PeerBook::new(&cfg, PeerId::random(), later, 5_001_000);
        assert!(next.is_banned(&p, later));
        assert_eq!(next.admit(p, addr(), false, 1, later), Admission::Banned);
        let other = PeerId::random();
        assert_eq!(
            next.admit(other, remote, false, 1, later),
            Admission::Banned
        );
        // A peer on a local address is banned by PeerId only: its
        // neighbours on the same host are not.
        let local_peer = PeerId::random();
        assert_eq!(
            next.admit(local_peer, addr(), false, 1, later),
            Admission::NewPeer
        );
        assert!(next.ban(local_peer, later));
        assert_eq!(
            next.admit(PeerId::random(), addr(), false, 1, later),
            Admission::NewPeer
        );
    }

    #[test]
    fn requests_are_rate_limited_per_peer() {
        let mut b = book(8);
        let now = Instant::now();
        let p = PeerId::random();
        assert!(b.allow(p, 100_000, now));
        assert!(!b.allow(p, 1, now));
        assert!(b.allow(p, 50_000, now + Duration::from_secs(1)));
        assert!(b.allow(PeerId::random(), 1, now), "per peer");
    }
}
