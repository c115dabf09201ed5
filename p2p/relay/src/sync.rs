//! [`AntiEntropy`]: when to sync with whom, and what to pull after a digest
//! comparison (Demers' push-pull anti-entropy, the backstop that brings
//! every accepted object to every live node whatever gossip lost).
//!
//! Every sync interval the node sends its [`SyncStatus`] to a random peer
//! that speaks the sync protocol; each side compares the other's with its
//! own. A mempool digest that differs makes the node ask for the peer's
//! short ids; what it lacks is pulled after a grace period (objects still
//! spreading by gossip arrive meanwhile and are not fetched twice), at most
//! [`SyncLimits::max_fetch_per_round`] per peer and round. More work on the
//! peer's side starts a headers-first catch-up ([`crate::CatchUp`]).
//!
//! Mempools may differ for good (a conflicting spend each side saw first,
//! a policy or size one side does not share): the relay leaves out of a
//! listing what its seen-set already settled, and a peer digest whose
//! listing brought nothing new is remembered, so its listing is not asked
//! for again until the peer's mempool changes. Rounds between such peers
//! settle to a status exchange.
//!
//! Rounds that find nothing back off: after each comparison in which both
//! sides agreed (same tip and work, same mempool or one settled as different
//! for good) the interval doubles, up to [`SyncLimits::max_backoff`] times
//! the base; any disagreement, any object the node newly accepts and any
//! peer that connects bring it back to the base at once. A network with
//! nothing to repair stops paying a status exchange every two seconds per
//! node (most of an idle node's CPU on a 256-node testbed), and one with
//! something to repair syncs as often as before. Rounds never stop, so the
//! guarantee stays the same: every difference is found within the longest
//! interval of its first round, and then repaired at the base rate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rumor_chain::{BlockHash, Hash256, Work};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// A node's summary for anti-entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Best-chain height.
    pub height: u64,
    /// Best-chain tip.
    pub tip: BlockHash,
    /// Best-chain total work.
    pub work: Work,
    /// Digest of the sorted mempool short ids.
    pub mempool_digest: Hash256,
    /// Number of mempool transactions.
    pub mempool_len: u32,
}

/// Limits of [`AntiEntropy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncLimits {
    /// Time between rounds.
    pub interval: Duration,
    /// How long a pull waits for gossip to deliver what it names.
    pub grace: Duration,
    /// Transactions pulled from one peer per round at most.
    pub max_fetch_per_round: usize,
    /// The longest interval between rounds while rounds find nothing, as a
    /// multiple of `interval` (1: never back off). Default 8.
    pub max_backoff: u32,
}

impl Default for SyncLimits {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            grace: Duration::from_secs(1),
            max_fetch_per_round: 8192,
            max_backoff: 8,
        }
    }
}

/// What a status comparison calls for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Comparison {
    /// The peer's chain has more work: catch up if its tip is unknown here.
    pub behind: bool,
    /// The mempools differ and the peer's is not empty: ask for its short ids.
    pub pull_mempool: bool,
}

/// Anti-entropy's timers and pending pulls.
#[derive(Debug)]
pub struct AntiEntropy<P> {
    limits: SyncLimits,
    /// When the last round was started (the first call to `round` counts).
    last_round: Option<Instant>,
    /// Comparisons in a row that found nothing to do (capped).
    quiet: u32,
    deferred: VecDeque<(Instant, P, Vec<u64>)>,
    /// The digest each peer's last listing was asked for.
    asked: Vec<(P, Hash256)>,
    /// Per peer, a digest whose listing brought nothing to pull.
    settled: Vec<(P, Hash256)>,
    rng: Rng,
}

impl<P: Copy + Eq> AntiEntropy<P> {
    /// Anti-entropy with `limits`, choosing peers with a generator seeded by `seed`.
    pub fn new(limits: SyncLimits, seed: u64) -> Self {
        Self {
            limits,
            last_round: None,
            quiet: 0,
            deferred: VecDeque::new(),
            asked: Vec::new(),
            settled: Vec::new(),
            rng: Rng::new(seed),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &SyncLimits {
        &self.limits
    }

    /// The interval between rounds now: the base, doubled for every
    /// comparison in a row that found nothing, at most `max_backoff` times
    /// the base.
    pub fn interval(&self) -> Duration {
        let most = self.limits.max_backoff.max(1);
        let factor = 1u32.checked_shl(self.quiet).map_or(most, |f| f.min(most));
        self.limits.interval.saturating_mul(factor)
    }

    /// A comparison found both sides in agreement: back off.
    pub fn quiet(&mut self) {
        // 2^quiet only has to reach max_backoff; the cap keeps the shift small.
        if self.quiet < 31 && (1u32 << self.quiet) < self.limits.max_backoff {
            self.quiet += 1;
        }
    }

    /// Something may differ between this node and a peer (a disagreement,
    /// an object newly accepted here, a new peer): rounds at the base
    /// interval again, the next one at most one base interval after the last.
    pub fn active(&mut self) {
        self.quiet = 0;
    }

    /// If a round is due, the peer to sync with (a random one of `peers`,
    /// those that speak the sync protocol). The first round is one interval
    /// after the first call.
    pub fn round(&mut self, now: Instant, peers: &[P]) -> Option<P> {
        let last = *self.last_round.get_or_insert(now);
        if now < last + self.interval() {
            return None;
        }
        self.last_round = Some(now);
        if peers.is_empty() {
            return None;
        }
        Some(peers[self.rng.below(peers.len())])
    }

    /// What the peer's status calls for, given ours.
    pub fn compare(theirs: &SyncStatus, ours: &SyncStatus) -> Comparison {
        Comparison {
            behind: theirs.work > ours.work,
            pull_mempool: theirs.mempool_digest != ours.mempool_digest && theirs.mempool_len > 0,
        }
    }

    /// Whether to ask `peer` for the listing of a mempool with `digest`: not
    /// if a listing of that same mempool brought nothing to pull.
    pub fn wants_listing(&mut self, peer: P, digest: Hash256) -> bool {
        if self.settled.contains(&(peer, digest)) {
            return false;
        }
        set_for(&mut self.asked, peer, digest);
        true
    }

    /// The peer's sorted short ids (less what the node settled), and ours:
    /// what we lack waits out the grace period. One pull per peer waits at a
    /// time, so a peer that sends listings faster than the grace period
    /// cannot grow the queue. A listing with nothing to pull settles the
    /// digest it was asked for.
    pub fn listing(&mut self, peer: P, theirs: &[u64], ours: &[u64], now: Instant) {
        let missing = sorted_difference(theirs, ours);
        if missing.is_empty() {
            self.settle(peer);
            return;
        }
        if self.deferred.iter().any(|(_, p, _)| *p == peer) {
            return;
        }
        self.deferred
            .push_back((now + self.limits.grace, peer, missing));
    }

    /// Pulls whose grace period is over: check each against the mempool
    /// again with [`AntiEntropy::still_missing`].
    pub fn due_pulls(&mut self, now: Instant) -> Vec<(P, Vec<u64>)> {
        let mut out = Vec::new();
        while self.deferred.front().is_some_and(|(due, _, _)| *due <= now) {
            if let Some((_, peer, ids)) = self.deferred.pop_front() {
                out.push((peer, ids));
            }
        }
        out
    }

    /// Of `ids` (from `peer`), those still not in `ours` (sorted), at most
    /// one round's worth. Nothing left settles the peer's digest.
    pub fn still_missing(&mut self, peer: P, ids: &[u64], ours: &[u64]) -> Vec<u64> {
        let mut still = sorted_difference(ids, ours);
        if still.is_empty() {
            self.settle(peer);
        }
        still.truncate(self.limits.max_fetch_per_round);
        still
    }

    /// `peer` went away: its pending pull and digests are dropped.
    pub fn peer_gone(&mut self, peer: &P) {
        self.deferred.retain(|(_, p, _)| p != peer);
        self.asked.retain(|(p, _)| p != peer);
        self.settled.retain(|(p, _)| p != peer);
    }

    fn settle(&mut self, peer: P) {
        if let Some(&(_, digest)) = self.asked.iter().find(|(p, _)| *p == peer) {
            set_for(&mut self.settled, peer, digest);
        }
    }

    /// When something is next due.
    pub fn next_deadline(&self) -> Option<Instant> {
        let pull = self.deferred.front().map(|(d, _, _)| *d);
        let next_round = self.last_round.map(|l| l + self.interval());
        match (next_round, pull) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Sets `peer`'s entry in a per-peer list (one entry per peer).
fn set_for<P: Copy + Eq>(list: &mut Vec<(P, Hash256)>, peer: P, digest: Hash256) {
    match list.iter_mut().find(|(p, _)| *p == peer) {
        Some(e) => e.1 = digest,
        None => list.push((peer, digest)),
    }
}

/// Items of sorted `a` not in sorted `b`, each once.
pub fn sorted_difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(work: u128, digest: u8, len: u32) -> SyncStatus {
        SyncStatus {
            height: 0,
            tip: BlockHash([0; 32]),
            work: Work(work),
            mempool_digest: Hash256([digest; 32]),
            mempool_len: len,
        }
    }

    #[test]
    fn sorted_difference_works() {
        assert_eq!(
            sorted_difference(&[1, 2, 3, 5, 8], &[2, 5, 6]),
            vec![1, 3, 8]
        );
        assert_eq!(sorted_difference(&[], &[1]), Vec::<u64>::new());
        assert_eq!(sorted_difference(&[4, 4], &[]), vec![4]);
    }

    #[test]
    fn rounds_come_once_per_interval_to_a_known_peer() {
        let mut ae = AntiEntropy::new(SyncLimits::default(), 7);
        let t0 = Instant::now();
        let peers = [1u32, 2, 3];
        assert_eq!(
            ae.round(t0, &peers),
            None,
            "the first round waits an interval"
        );
        let t1 = t0 + Duration::from_secs(2);
        let p = ae.round(t1, &peers).expect("due");
        assert!(peers.contains(&p));
        assert_eq!(ae.round(t1 + Duration::from_millis(10), &peers), None);
        assert_eq!(
            ae.round(t1 + Duration::from_secs(2), &[]),
            None,
            "no sync peer"
        );
        assert_eq!(ae.next_deadline(), Some(t1 + Duration::from_secs(4)));
    }

    #[test]
    fn rounds_that_find_nothing_back_off_and_activity_brings_the_base_back() {
        let base = SyncLimits::default().interval;
        let mut ae = AntiEntropy::new(SyncLimits::default(), 7);
        let peers = [1u32];
        let t0 = Instant::now();
        assert_eq!(ae.round(t0, &peers), None);
        let mut t = t0 + base;
        assert!(ae.round(t, &peers).is_some());
        // Every quiet comparison doubles the interval, up to 8x the base.
        for factor in [2, 4, 8, 8, 8] {
            ae.quiet();
            assert_eq!(ae.interval(), base * factor);
        }
        assert_eq!(ae.next_deadline(), Some(t + base * 8));
        assert_eq!(ae.round(t + base * 7, &peers), None, "backed off");
        t += base * 8;
        assert!(ae.round(t, &peers).is_some(), "but rounds never stop");
        // Something to repair: the next round comes one base interval
        // after the last, not a backed-off one.
        ae.active();
        assert_eq!(ae.interval(), base);
        assert_eq!(ae.next_deadline(), Some(t + base));
        assert!(ae.round(t + base, &peers).is_some());
        // max_backoff 1: never backs off.
        let mut fixed = AntiEntropy::<u32>::new(
            SyncLimits {
                max_backoff: 1,
                ..SyncLimits::default()
            },
            7,
        );
        fixed.quiet();
        fixed.quiet();
        assert_eq!(fixed.interval(), base);
    }

    #[test]
    fn comparisons_pull_what_differs_and_catch_up_when_behind() {
        let ours = status(10, 1, 5);
        assert_eq!(
            AntiEntropy::<u32>::compare(&ours, &ours),
            Comparison::default()
        );
        let more = AntiEntropy::<u32>::compare(&status(11, 2, 3), &ours);
        assert!(more.behind && more.pull_mempool);
        // An empty pool has nothing to give.
        assert!(!AntiEntropy::<u32>::compare(&status(10, 2, 0), &ours).pull_mempool);
    }

    #[test]
    fn pulls_wait_out_the_grace_period_once_per_peer_and_are_capped() {
        let limits = SyncLimits {
            max_fetch_per_round: 2,
            ..SyncLimits::default()
        };
        let mut ae = AntiEntropy::new(limits, 1);
        let t0 = Instant::now();
        ae.listing(9u32, &[1, 2, 3, 4], &[2], t0);
        ae.listing(9u32, &[7, 8], &[], t0); // one pending pull per peer
        assert!(ae.due_pulls(t0).is_empty());
        let due = ae.due_pulls(t0 + limits.grace);
        assert_eq!(due, vec![(9, vec![1, 3, 4])]);
        // Gossip delivered 3 meanwhile; at most two are pulled.
        assert_eq!(ae.still_missing(9, &due[0].1, &[3]), vec![1, 4]);
        ae.listing(5u32, &[1], &[], t0);
        ae.peer_gone(&5);
        assert!(ae.due_pulls(t0 + limits.grace).is_empty());
    }

    #[test]
    fn a_digest_whose_listing_brought_nothing_is_not_listed_again() {
        let mut ae = AntiEntropy::new(SyncLimits::default(), 1);
        let t0 = Instant::now();
        let (d1, d2) = (Hash256([1; 32]), Hash256([2; 32]));
        assert!(ae.wants_listing(9u32, d1));
        ae.listing(9, &[1, 2], &[1, 2, 3], t0);
        assert!(!ae.wants_listing(9, d1), "nothing new under d1");
        assert!(ae.wants_listing(7, d1), "per peer");
        // The peer's mempool changed: listed again; pulled, then found here.
        assert!(ae.wants_listing(9, d2));
        ae.listing(9, &[4], &[], t0);
        assert!(ae.wants_listing(9, d2), "a pull is pending");
        let due = ae.due_pulls(t0 + SyncLimits::default().grace);
        assert_eq!(ae.still_missing(9, &due[0].1, &[4]), Vec::<u64>::new());
        assert!(!ae.wants_listing(9, d2));
        ae.peer_gone(&9);
        assert!(ae.wants_listing(9, d2));
    }
}
