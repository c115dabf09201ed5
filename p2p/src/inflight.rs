//! [`InFlight`]: body fetches under way, with timeouts, retries from other
//! peers known to have the object, and a per-peer cap. No fetch is left
//! stuck: every fetch either completes, moves to another peer, or gives up
//! after a bounded number of attempts.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use libp2p::PeerId;

use crate::wire::Inv;

/// Limits for [`InFlight`].
#[derive(Debug, Clone, Copy)]
pub struct InFlightLimits {
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// Objects requested from one peer at once.
    pub max_per_peer: usize,
    /// Fetches tracked at once (new ones beyond this are refused).
    pub capacity: usize,
}

/// One fetch.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// What is fetched.
    pub inv: Inv,
    /// The peer asked now, if any.
    pub peer: Option<PeerId>,
    /// When the current attempt times out.
    pub deadline: Option<Instant>,
    /// Peers known to have it (they announced it), not tried yet.
    pub candidates: VecDeque<PeerId>,
    /// Peers likely to have it (mesh peers), tried only when no known
    /// candidate is left: asking them early mostly earns `notfound`.
    pub fallback: VecDeque<PeerId>,
    /// Peers already tried.
    pub tried: Vec<PeerId>,
    /// Attempts made.
    pub attempts: u32,
    /// When the fetch began.
    pub started: Instant,
}

/// What to do after an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Ask this peer now.
    From(PeerId),
    /// Wait for a peer with spare capacity or a new candidate.
    Queued,
    /// Gave up (no candidates left or too many attempts); no longer tracked.
    GiveUp,
}

/// Fetches under way.
#[derive(Debug)]
pub struct InFlight {
    limits: InFlightLimits,
    fetches: HashMap<Inv, Fetch>,
    per_peer: HashMap<PeerId, usize>,
    timeouts: u64,
    gave_up: u64,
}

impl InFlight {
    /// An empty tracker.
    pub fn new(limits: InFlightLimits) -> Self {
        Self {
            limits,
            fetches: HashMap::new(),
            per_peer: HashMap::new(),
            timeouts: 0,
            gave_up: 0,
        }
    }

    /// Number of fetches tracked.
    pub fn len(&self) -> usize {
        self.fetches.len()
    }

    /// Whether none are tracked.
    pub fn is_empty(&self) -> bool {
        self.fetches.is_empty()
    }

    /// Whether `inv` is being fetched.
    pub fn contains(&self, inv: &Inv) -> bool {
        self.fetches.contains_key(inv)
    }

    /// The fetch of `inv`.
    pub fn get(&self, inv: &Inv) -> Option<&Fetch> {
        self.fetches.get(inv)
    }

    /// Objects requested from `peer` and not answered yet.
    pub fn load(&self, peer: &PeerId) -> usize {
        self.per_peer.get(peer).copied().unwrap_or(0)
    }

    /// Attempts that timed out, ever.
    pub fn timeouts(&self) -> u64 {
        self.timeouts
    }

    /// Fetches abandoned, ever.
    pub fn gave_up(&self) -> u64 {
        self.gave_up
    }

    fn has_room(&self, peer: &PeerId) -> bool {
        self.load(peer) < self.limits.max_per_peer
    }

    fn assign(&mut self, inv: &Inv, now: Instant) -> Option<PeerId> {
        let timeout = self.limits.timeout;
        let max = self.limits.max_per_peer;
        let per_peer = &self.per_peer;
        let room = |p: &PeerId| per_peer.get(p).copied().unwrap_or(0) < max;
        let fetch = self.fetches.get_mut(inv)?;
        // Known holders first; if they are only busy, wait for them.
        let peer = if let Some(pos) = fetch.candidates.iter().position(room) {
            fetch.candidates.remove(pos)?
        } else if fetch.candidates.is_empty() {
            let pos = fetch.fallback.iter().position(room)?;
            fetch.fallback.remove(pos)?
        } else {
            return None;
        };
        fetch.peer = Some(peer);
        fetch.deadline = Some(now + timeout);
        fetch.attempts += 1;
        fetch.tried.push(peer);
        *self.per_peer.entry(peer).or_default() += 1;
        Some(peer)
    }

    fn release(&mut self, peer: &PeerId) {
        if let Some(n) = self.per_peer.get_mut(peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(peer);
            }
        }
    }

    /// Starts fetching `inv` from the first of `candidates` (peers known to
    /// have it) with room, falling back to `fallback` (peers likely to have
    /// it) only when no candidate is left. Returns the peer to ask now
    /// (`None`: queued until a peer has room), or `Err(())` if the tracker is
    /// full or `inv` is already tracked.
    #[allow(clippy::result_unit_err)]
    pub fn start(
        &mut self,
        inv: Inv,
        candidates: impl IntoIterator<Item = PeerId>,
        fallback: impl IntoIterator<Item = PeerId>,
        now: Instant,
    ) -> Result<Option<PeerId>, ()> {
        if self.fetches.len() >= self.limits.capacity || self.fetches.contains_key(&inv) {
            return Err(());
        }
        let mut cands = VecDeque::new();
        for p in candidates {
            if !cands.contains(&p) {
                cands.push_back(p);
            }
        }
        let mut fall = VecDeque::new();
        for p in fallback {
            if !cands.contains(&p) && !fall.contains(&p) {
                fall.push_back(p);
            }
        }
        self.fetches.insert(
            inv,
            Fetch {
                inv,
                peer: None,
                deadline: None,
                candidates: cands,
                fallback: fall,
                tried: Vec::new(),
                attempts: 0,
                started: now,
            },
        );
        Ok(self.assign(&inv, now))
    }

    /// Records that `peer` likely has `inv` (tried after the current candidates).
    pub fn add_candidate(&mut self, inv: &Inv, peer: PeerId) {
        if let Some(f) = self.fetches.get_mut(inv)
            && f.peer != Some(peer)
            && !f.tried.contains(&peer)
            && !f.candidates.contains(&peer)
        {
            f.fallback.retain(|p| *p != peer);
            f.candidates.push_back(peer);
        }
    }

    /// The body of `inv` arrived (or the fetch is otherwise over): stops
    /// tracking it and frees the peer's slot.
    pub fn complete(&mut self, inv: &Inv) -> Option<Fetch> {
        let fetch = self.fetches.remove(inv)?;
        if let Some(p) = fetch.peer {
            self.release(&p);
        }
        Some(fetch)
    }

    /// The attempt at `peer` failed (notfound, error, timeout, disconnect).
    /// Moves to the next candidate, queues, or gives up. A failure reported
    /// by a peer that is not the one currently asked is ignored.
    pub fn failed(&mut self, inv: &Inv, peer: &PeerId, now: Instant) -> Retry {
        let Some(fetch) = self.fetches.get_mut(inv) else {
            return Retry::GiveUp;
        };
        if fetch.peer != Some(*peer) {
            return Retry::Queued;
        }
        fetch.peer = None;
        fetch.deadline = None;
        let exhausted = fetch.attempts >= self.limits.max_attempts
            || (fetch.candidates.is_empty() && fetch.fallback.is_empty());
        self.release(peer);
        if exhausted {
            self.gave_up += 1;
            self.fetches.remove(inv);
            return Retry::GiveUp;
        }
        match self.assign(inv, now) {
            Some(p) => Retry::From(p),
            None => Retry::Queued,
        }
    }

    /// Attempts whose deadline has passed: `(inv, peer)`. Call
    /// [`InFlight::failed`] for each.
    pub fn expired(&mut self, now: Instant) -> Vec<(Inv, PeerId)> {
        let out: Vec<(Inv, PeerId)> = self
            .fetches
            .values()
            .filter(|f| f.deadline.is_some_and(|d| d <= now))
            .filter_map(|f| f.peer.map(|p| (f.inv, p)))
            .collect();
        self.timeouts += out.len() as u64;
        out
    }

    /// How long a fetch may wait in the queue in all: as long as every
    /// attempt timing out would take. Past that its candidates are busy or
    /// gone, and anti-entropy is the better way to get the object.
    fn max_age(&self) -> Duration {
        self.limits.timeout * (self.limits.max_attempts + 1)
    }

    /// Queued fetches that can now be sent: `(inv, peer)`. Queued fetches
    /// with no candidate left, or waiting longer than every attempt would
    /// take, are abandoned and returned in the second list.
    pub fn schedule(&mut self, now: Instant) -> (Vec<(Inv, PeerId)>, Vec<Fetch>) {
        let max_age = self.max_age();
        let queued: Vec<Inv> = self
            .fetches
            .values()
            .filter(|f| f.peer.is_none())
            .map(|f| f.inv)
            .collect();
        let mut sent = Vec::new();
        let mut abandoned = Vec::new();
        for inv in queued {
            if let Some(p) = self.assign(&inv, now) {
                sent.push((inv, p));
                continue;
            }
            let f = &self.fetches[&inv];
            let stale = now.saturating_duration_since(f.started) >= max_age;
            if stale || (f.candidates.is_empty() && f.fallback.is_empty()) {
                self.gave_up += 1;
                abandoned.extend(self.fetches.remove(&inv));
            }
        }
        (sent, abandoned)
    }

    /// A peer went away: every attempt at it fails and it stops being a candidate.
    /// Returns the affected items; call [`InFlight::failed`] for each.
    pub fn peer_gone(&mut self, peer: &PeerId) -> Vec<Inv> {
        let mut affected = Vec::new();
        for f in self.fetches.values_mut() {
            f.candidates.retain(|p| p != peer);
            f.fallback.retain(|p| p != peer);
            if f.peer == Some(*peer) {
                affected.push(f.inv);
            }
        }
        affected
    }

    /// Whether `peer` has room for another request.
    pub fn peer_has_room(&self, peer: &PeerId) -> bool {
        self.has_room(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::Txid;

    fn limits() -> InFlightLimits {
        InFlightLimits {
            timeout: Duration::from_millis(100),
            max_attempts: 3,
            max_per_peer: 2,
            capacity: 100,
        }
    }

    fn inv(i: u8) -> Inv {
        Inv::tx(Txid([i; 32]))
    }

    #[test]
    fn timeout_then_retry_from_other_peer_then_give_up() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let mut f = InFlight::new(limits());
        let t0 = Instant::now();
        assert_eq!(f.start(inv(1), [a], [b], t0), Ok(Some(a)));
        assert!(f.expired(t0 + Duration::from_millis(50)).is_empty());
        let exp = f.expired(t0 + Duration::from_millis(100));
        assert_eq!(exp, vec![(inv(1), a)]);
        assert_eq!(f.failed(&inv(1), &a, t0), Retry::From(b));
        assert_eq!(f.load(&a), 0);
        assert_eq!(f.load(&b), 1);
        assert_eq!(f.failed(&inv(1), &b, t0), Retry::GiveUp);
        assert_eq!(f.gave_up(), 1);
        assert!(f.is_empty());
        assert_eq!(f.load(&b), 0);
    }

    #[test]
    fn per_peer_cap_queues_and_schedule_releases() {
        let a = PeerId::random();
        let mut f = InFlight::new(limits());
        let t0 = Instant::now();
        let b = PeerId::random();
        assert_eq!(f.start(inv(1), [a], [], t0), Ok(Some(a)));
        assert_eq!(f.start(inv(2), [a], [], t0), Ok(Some(a)));
        // cap 2: wait for the known holder rather than ask a likely one
        assert_eq!(f.start(inv(3), [a], [b], t0), Ok(None));
        assert_eq!(f.schedule(t0).0, vec![]);
        f.complete(&inv(1));
        assert_eq!(f.schedule(t0).0, vec![(inv(3), a)]);
        assert_eq!(f.load(&a), 2);
    }

    #[test]
    fn peer_gone_and_abandon_queued_without_candidates() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let mut f = InFlight::new(limits());
        let t0 = Instant::now();
        f.start(inv(1), [a], [], t0).unwrap();
        f.add_candidate(&inv(1), b);
        assert_eq!(f.peer_gone(&a), vec![inv(1)]);
        assert_eq!(f.failed(&inv(1), &a, t0), Retry::From(b));
        // a queued fetch whose only candidate disappears is abandoned by schedule
        f.start(inv(2), [b], [], t0).unwrap(); // b at 2/2 now
        f.start(inv(3), [b], [], t0).unwrap(); // queued
        f.peer_gone(&b);
        let (_, abandoned) = f.schedule(t0);
        assert_eq!(abandoned.len(), 1);
        assert_eq!(abandoned[0].inv, inv(3));
    }

    #[test]
    fn a_fetch_queued_past_every_timeout_is_abandoned() {
        let a = PeerId::random();
        let mut f = InFlight::new(limits());
        let t0 = Instant::now();
        f.start(inv(1), [a], [], t0).unwrap();
        f.start(inv(2), [a], [], t0).unwrap(); // a at 2/2
        f.start(inv(3), [a], [], t0).unwrap(); // queued behind a busy peer
        let l = limits();
        let (sent, abandoned) = f.schedule(t0 + l.timeout);
        assert!(sent.is_empty() && abandoned.is_empty(), "still waiting");
        let (_, abandoned) = f.schedule(t0 + l.timeout * (l.max_attempts + 1));
        assert_eq!(abandoned.len(), 1);
        assert_eq!(abandoned[0].inv, inv(3));
        assert!(
            f.contains(&inv(1)),
            "attempts in flight are left to their deadline"
        );
    }

    #[test]
    fn duplicate_and_capacity_are_refused() {
        let a = PeerId::random();
        let mut f = InFlight::new(InFlightLimits {
            capacity: 1,
            ..limits()
        });
        let t0 = Instant::now();
        f.start(inv(1), [a], [], t0).unwrap();
        assert_eq!(f.start(inv(1), [a], [], t0), Err(()));
        assert_eq!(f.start(inv(2), [a], [], t0), Err(()));
    }
}
