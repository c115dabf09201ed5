//! [`ServeBudget`]: how many bytes of answers each peer may take from this
//! node per second. Item limits alone do not bound what serving costs: a
//! request for a few hundred copies of a large block is a few hundred items
//! but megabytes of bodies to read, encode and send, and a peer could ask
//! for that again and again within any item rate.
//!
//! Each peer has a token bucket of bytes. An answer *reserves* its byte
//! allowance before it is built (its size is known only once the node has
//! read the bodies) and hands back what it did not use, so answers under
//! way at once cannot together exceed the bucket.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// The rate and burst of a [`ServeBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Bytes a peer may take per second, sustained.
    pub bytes_per_sec: u64,
    /// Bytes a peer may take at once (the bucket's size). At least one
    /// answer of the largest size, or the largest block could never be
    /// served.
    pub burst: u64,
    /// The smallest reservation worth granting: below it the peer is told
    /// its budget is spent, rather than served an answer with room for
    /// nothing.
    pub min_grant: u64,
}

impl Default for ServeLimits {
    /// 16 MiB/s with bursts of 32 MiB (two of the largest blocks), grants
    /// of at least 128 KiB (a transaction of the largest size).
    fn default() -> Self {
        Self {
            bytes_per_sec: 16 << 20,
            burst: 32 << 20,
            min_grant: 128 << 10,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-peer byte budgets for serving.
#[derive(Debug)]
pub struct ServeBudget<P> {
    limits: ServeLimits,
    peers: HashMap<P, Bucket>,
}

impl<P: Eq + Hash + Clone> ServeBudget<P> {
    /// Budgets with `limits`, no peer charged yet.
    pub fn new(limits: ServeLimits) -> Self {
        Self {
            limits,
            peers: HashMap::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> ServeLimits {
        self.limits
    }

    /// Reserves up to `want` bytes for an answer to `peer` at `now`: the
    /// bytes granted (at most `want`), or `None` when the peer's budget is
    /// spent (less than `min_grant` left, or less than `want` if that is
    /// smaller).
    pub fn reserve(&mut self, peer: &P, want: u64, now: Instant) -> Option<u64> {
        let limits = self.limits;
        let b = self.peers.entry(peer.clone()).or_insert(Bucket {
            tokens: limits.burst as f64,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limits.bytes_per_sec as f64).min(limits.burst as f64);
        b.at = b.at.max(now);
        let floor = want.min(limits.min_grant) as f64;
        if b.tokens < floor.max(1.0) {
            return None;
        }
        let granted = (b.tokens as u64).min(want);
        b.tokens -= granted as f64;
        Some(granted)
    }

    /// Gives back `unused` bytes of a reservation of `peer`'s (the answer
    /// was smaller than the bytes reserved for it).
    pub fn refund(&mut self, peer: &P, unused: u64) {
        let burst = self.limits.burst as f64;
        if let Some(b) = self.peers.get_mut(peer) {
            b.tokens = (b.tokens + unused as f64).min(burst);
        }
    }

    /// Forgets `peer` (it disconnected): the table holds connected peers
    /// only.
    pub fn forget(&mut self, peer: &P) {
        self.peers.remove(peer);
    }

    /// Peers with a bucket.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer has a bucket.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIB: u64 = 1 << 20;

    fn limits() -> ServeLimits {
        ServeLimits {
            bytes_per_sec: 10 * MIB,
            burst: 20 * MIB,
            min_grant: 100_000,
        }
    }

    #[test]
    fn a_peer_gets_its_burst_then_its_rate() {
        let mut b = ServeBudget::new(limits());
        let t0 = Instant::now();
        assert_eq!(b.reserve(&1, 16 * MIB, t0), Some(16 * MIB));
        // 4 MiB left: granted, but only what is left.
        assert_eq!(b.reserve(&1, 16 * MIB, t0), Some(4 * MIB));
        assert_eq!(b.reserve(&1, 16 * MIB, t0), None, "spent");
        assert_eq!(b.reserve(&2, 16 * MIB, t0), Some(16 * MIB), "per peer");
        // Half a second refills 5 MiB.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(b.reserve(&1, 16 * MIB, t1), Some(5 * MIB));
        // Never past the burst, however long the peer was quiet.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(b.reserve(&1, 64 * MIB, t2), Some(20 * MIB));
    }

    #[test]
    fn unused_reservations_come_back_and_small_asks_need_only_their_size() {
        let mut b = ServeBudget::new(limits());
        let t0 = Instant::now();
        assert_eq!(b.reserve(&1, 20 * MIB, t0), Some(20 * MIB));
        assert_eq!(b.reserve(&1, 1, t0), None);
        // The answer used 1 MiB of its 20.
        b.refund(&1, 19 * MIB);
        assert_eq!(b.reserve(&1, 19 * MIB, t0), Some(19 * MIB));
        // 50 kB left (a refund never passes the burst): enough for an ask
        // of 50 kB, not for a large one (below the smallest grant).
        b.refund(&1, 50_000);
        assert_eq!(b.reserve(&1, 16 * MIB, t0), None);
        assert_eq!(b.reserve(&1, 50_000, t0), Some(50_000));
        b.refund(&1, u64::MAX);
        assert_eq!(b.reserve(&1, u64::MAX, t0), Some(20 * MIB), "capped");
        b.forget(&1);
        assert_eq!(b.len(), 0);
    }
}
