//! [`BanList`]: who is banned, by PeerId and by IP address, and until when;
//! and [`BanRecord`], the form a ban outlives a restart in. A PeerId costs
//! nothing to replace, so a ban by PeerId alone lets a banned peer back in
//! under a fresh identity at once; the address it came from is banned with
//! it (Bitcoin Core bans and discourages by address).
//!
//! Local addresses (loopback, unspecified) are never banned: every peer on
//! the same host shares them, so banning one would ban them all (Core
//! disconnects a misbehaving local peer but does not discourage its
//! address, for the same reason). Such peers are banned by PeerId only.
//!
//! The list is bounded: past [`MAX_BANS`] the ban that ends soonest goes.
//! Bans are kept as monotonic instants; a [`BanRecord`] carries the end as
//! wall-clock time, since instants mean nothing to the next process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::multiaddr::{Multiaddr, Protocol};

/// Bans kept at most.
pub const MAX_BANS: usize = 10_000;

/// A ban as the node keeps it across restarts: it is handed to the p2p
/// layer at start ([`crate::P2pConfig::bans`]) and the p2p layer reports
/// the whole list whenever it changes ([`crate::P2pEvent::BansChanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanRecord {
    /// The banned peer.
    pub peer: PeerId,
    /// The address it connected from, banned with it (`None`: unknown, or
    /// a local address other peers share).
    pub ip: Option<IpAddr>,
    /// When the ban ends, Unix milliseconds.
    pub until_unix_ms: u64,
}

/// Whether bans may name `ip`: not an address every local peer shares.
pub fn bannable_ip(ip: IpAddr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified())
}

/// The IP address of `addr` (`/ip4/…` or `/ip6/…`), if it has one.
pub(crate) fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

#[derive(Debug, Clone, Copy)]
struct Ban {
    until: Instant,
    ip: Option<IpAddr>,
}

/// Current bans, by PeerId and by address.
#[derive(Debug, Default)]
pub(crate) struct BanList {
    by_peer: HashMap<PeerId, Ban>,
    /// Each banned address, with the peers banned from it (an address
    /// stays banned while one of their bans lasts).
    by_ip: HashMap<IpAddr, Vec<PeerId>>,
}

impl BanList {
    /// The bans of `records` still in force at `now_unix_ms` (which is
    /// `now`).
    pub(crate) fn from_records(records: &[BanRecord], now: Instant, now_unix_ms: u64) -> Self {
        let mut list = Self::default();
        for r in records {
            if r.until_unix_ms > now_unix_ms {
                let left = Duration::from_millis(r.until_unix_ms - now_unix_ms);
                list.ban(r.peer, r.ip, now + left);
            }
        }
        list
    }

    /// Bans `peer`, and `ip` with it if it may be banned, until `until`
    /// (a ban in force is replaced).
    pub(crate) fn ban(&mut self, peer: PeerId, ip: Option<IpAddr>, until: Instant) {
        self.unban(&peer);
        if self.by_peer.len() >= MAX_BANS
            && let Some(soonest) = self
                .by_peer
                .iter()
                .min_by_key(|(_, b)| b.until)
                .map(|(p, _)| *p)
        {
            self.unban(&soonest);
        }
        let ip = ip.filter(|ip| bannable_ip(*ip));
        if let Some(ip) = ip {
            self.by_ip.entry(ip).or_default().push(peer);
        }
        self.by_peer.insert(peer, Ban { until, ip });
    }

    /// Lifts `peer`'s ban (and its address's, if no other ban holds it).
    /// Returns whether it was banned.
    pub(crate) fn unban(&mut self, peer: &PeerId) -> bool {
        let Some(ban) = self.by_peer.remove(peer) else {
            return false;
        };
        if let Some(ip) = ban.ip
            && let Some(peers) = self.by_ip.get_mut(&ip)
        {
            peers.retain(|p| p != peer);
            if peers.is_empty() {
                self.by_ip.remove(&ip);
            }
        }
        true
    }

    /// Lifts every ban. Returns the peers that were banned.
    pub(crate) fn clear(&mut self) -> Vec<PeerId> {
        self.by_ip.clear();
        self.by_peer.drain().map(|(p, _)| p).collect()
    }

    /// Drops the bans over at `now`. Returns whether any was.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let over: Vec<PeerId> = self
            .by_peer
            .iter()
            .filter(|(_, b)| b.until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &over {
            self.unban(p);
        }
        !over.is_empty()
    }

    /// Whether `peer` is banned at `now`.
    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.by_peer.get(peer).is_some_and(|b| b.until > now)
    }

    /// Whether `ip` is banned at `now` (a local address never is).
    pub(crate) fn is_ip_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_ip.get(&ip).is_some_and(|peers| {
            peers
                .iter()
                .any(|p| self.by_peer.get(p).is_some_and(|b| b.until > now))
        })
    }

    /// Current bans with the time left.
    pub(crate) fn list(&self, now: Instant) -> Vec<(PeerId, Duration)> {
        self.by_peer
            .iter()
            .filter(|(_, b)| b.until > now)
            .map(|(p, b)| (*p, b.until - now))
            .collect()
    }

    /// Current bans as records, `now` being `now_unix_ms`.
    pub(crate) fn records(&self, now: Instant, now_unix_ms: u64) -> Vec<BanRecord> {
        let mut out: Vec<BanRecord> = self
            .by_peer
            .iter()
            .filter(|(_, b)| b.until > now)
            .map(|(p, b)| BanRecord {
                peer: *p,
                ip: b.ip,
                until_unix_ms: now_unix_ms
                    .saturating_add(u64::try_from((b.until - now).as_millis()).unwrap_or(u64::MAX)),
            })
            .collect();
        out.sort_by_key(|r| (r.until_unix_ms, r.peer.to_bytes()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_ban_names_the_peer_and_its_address_but_never_a_local_one() {
        let mut b = BanList::default();
        let now = Instant::now();
        let until = now + Duration::from_secs(60);
        let (p, q, r) = (PeerId::random(), PeerId::random(), PeerId::random());
        b.ban(p, Some(ip("192.0.2.7")), until);
        b.ban(q, Some(ip("127.0.0.1")), until);
        b.ban(r, Some(ip("::1")), until);
        assert!(b.is_banned(&p, now) && b.is_banned(&q, now) && b.is_banned(&r, now));
        assert!(b.is_ip_banned(ip("192.0.2.7"), now));
        assert!(
            !b.is_ip_banned(ip("127.0.0.1"), now),
            "shared by local peers"
        );
        assert!(!b.is_ip_banned(ip("::1"), now));
        assert!(!b.is_ip_banned(ip("192.0.2.8"), now));
        // Over at its end.
        assert!(!b.is_banned(&p, until) && !b.is_ip_banned(ip("192.0.2.7"), until));
        assert!(b.expire(until));
        assert!(b.list(now).is_empty());
    }

    #[test]
    fn an_address_stays_banned_while_any_ban_on_it_lasts() {
        let mut b = BanList::default();
        let now = Instant::now();
        let a = ip("198.51.100.1");
        let (p, q) = (PeerId::random(), PeerId::random());
        b.ban(p, Some(a), now + Duration::from_secs(10));
        b.ban(q, Some(a), now + Duration::from_secs(20));
        assert!(b.unban(&p));
        assert!(b.is_ip_banned(a, now), "q's ban holds it");
        assert!(b.unban(&q));
        assert!(!b.is_ip_banned(a, now));
        assert!(!b.unban(&q), "once");
    }

    #[test]
    fn records_carry_bans_across_a_restart_in_wall_clock_time() {
        let mut b = BanList::default();
        let t0 = Instant::now();
        let (p, q) = (PeerId::random(), PeerId::random());
        b.ban(p, Some(ip("192.0.2.7")), t0 + Duration::from_secs(60));
        b.ban(q, None, t0 + Duration::from_secs(5));
        let records = b.records(t0, 1_000_000);
        assert_eq!(
            records,
            vec![
                BanRecord {
                    peer: q,
                    ip: None,
                    until_unix_ms: 1_005_000
                },
                BanRecord {
                    peer: p,
                    ip: Some(ip("192.0.2.7")),
                    until_unix_ms: 1_060_000
                },
            ]
        );
        // The next process starts 10 s later (wall clock): q's ban is over,
        // p's has 50 s left, address included.
        let t1 = Instant::now();
        let next = BanList::from_records(&records, t1, 1_010_000);
        assert!(!next.is_banned(&q, t1));
        assert!(next.is_banned(&p, t1 + Duration::from_secs(49)));
        assert!(!next.is_banned(&p, t1 + Duration::from_secs(50)));
        assert!(next.is_ip_banned(ip("192.0.2.7"), t1));
    }

    #[test]
    fn the_list_is_bounded_and_drops_the_ban_that_ends_soonest() {
        let mut b = BanList::default();
        let now = Instant::now();
        let first = PeerId::random();
        b.ban(first, None, now + Duration::from_secs(1));
        for i in 0..MAX_BANS as u64 {
            b.ban(PeerId::random(), None, now + Duration::from_secs(100 + i));
        }
        assert_eq!(b.list(now).len(), MAX_BANS);
        assert!(!b.is_banned(&first, now), "it ended soonest");
    }
}
