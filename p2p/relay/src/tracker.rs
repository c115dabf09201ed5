//! [`RequestTracker`]: every peer that announced each object, and the one
//! request for it that is out, in the manner of Bitcoin Core's
//! `TxRequestTracker`.
//!
//! - Each object is requested from one peer at a time. The first choice is
//!   the first announcer; later announcers wait as candidates.
//! - A request that times out, or is answered `notfound` or with a body that
//!   is not the object, moves on to the next candidate at once.
//! - A peer whose request timed out recently is "struck": it is tried after
//!   every other candidate, and when it is the only one, only after
//!   [`TrackerLimits::struck_delay`], so that an honest announcer can come
//!   first. A peer that announces first and never answers then costs one
//!   timeout, not one per object.
//! - Each peer may have at most [`TrackerLimits::max_announced_per_peer`]
//!   objects tracked on its word (Core's `MAX_PEER_TX_ANNOUNCEMENTS`) and
//!   [`TrackerLimits::max_inflight_per_peer`] requests out; more
//!   announcements from it are dropped (and counted by the caller), so one
//!   identity cannot crowd out the others.
//! - Nothing is tracked for ever: an object with no candidate left, or past
//!   its attempts, is given up (anti-entropy brings it if it exists).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use rumor_chain::Inv;

/// Limits of a [`RequestTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerLimits {
    /// How long one request may take.
    pub timeout: Duration,
    /// Requests per object before it is given up.
    pub max_attempts: u32,
    /// Objects tracked on one peer's word.
    pub max_announced_per_peer: usize,
    /// Requests out to one peer at once.
    pub max_inflight_per_peer: usize,
    /// Objects tracked at once.
    pub capacity: usize,
    /// How long an object announced only by struck peers waits for another
    /// announcer before a struck peer is asked.
    pub struck_delay: Duration,
    /// How long a timeout keeps a peer struck.
    pub strike_memory: Duration,
}

impl Default for TrackerLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_attempts: 4,
            max_announced_per_peer: 5_000,
            max_inflight_per_peer: 512,
            capacity: 50_000,
            struck_delay: Duration::from_secs(1),
            strike_memory: Duration::from_secs(30),
        }
    }
}

/// Why an object is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A peer announced it.
    Announce,
    /// Headers-first catch-up needs it.
    CatchUp,
    /// An orphan needs it as its parent.
    Parent,
}

/// What became of an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    /// A new object: tracked, with this peer as its first candidate.
    New,
    /// Already tracked: this peer is now a candidate too.
    Candidate,
    /// Already tracked with this peer.
    Duplicate,
    /// Dropped: the peer has too many objects tracked on its word.
    PeerCapped,
    /// Dropped: the tracker is full.
    Full,
}

/// Where an object's fetch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage<P> {
    /// Waiting for a candidate with room (or for the struck delay).
    Waiting,
    /// Requested from this peer; times out at `deadline`.
    Requested {
        /// The peer asked.
        peer: P,
        /// When the request times out.
        deadline: Instant,
    },
    /// This peer's body is being validated.
    Holding {
        /// The peer that sent it.
        peer: P,
    },
}

#[derive(Debug)]
struct Entry<P> {
    purpose: Purpose,
    /// Untried candidates, in the order they announced.
    candidates: Vec<P>,
    /// Peers asked already (or whose body failed).
    tried: Vec<P>,
    stage: Stage<P>,
    attempts: u32,
    created: Instant,
    /// Not requested before this (hybrid mode's grace for a push to come).
    not_before: Option<Instant>,
}

impl<P: PartialEq> Entry<P> {
    fn names(&self, peer: &P) -> bool {
        self.candidates.contains(peer)
            || self.tried.contains(peer)
            || matches!(&self.stage, Stage::Requested { peer: p, .. } | Stage::Holding { peer: p } if p == peer)
    }
}

#[derive(Debug, Default)]
struct PeerState {
    announced: usize,
    inflight: usize,
    struck_until: Option<Instant>,
}

/// Counters of a [`RequestTracker`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Requests that timed out.
    pub timeouts: u64,
    /// Objects given up.
    pub gave_up: u64,
    /// Announcements dropped because their peer had too many tracked.
    pub peer_capped: u64,
    /// Announcements dropped because the tracker was full.
    pub full: u64,
}

/// Objects being fetched, with every peer known to have each.
#[derive(Debug)]
pub struct RequestTracker<P> {
    limits: TrackerLimits,
    entries: HashMap<Inv, Entry<P>>,
    peers: HashMap<P, PeerState>,
    /// Objects that may be assignable now (new, or their request failed).
    ready: VecDeque<Inv>,
    /// Objects waiting for a peer's room, by peer.
    blocked: HashMap<P, VecDeque<Inv>>,
    /// Requests in the order they were sent, which is deadline order (the
    /// timeout is one constant); answered ones are skipped when met.
    deadlines: VecDeque<(Instant, Inv, P)>,
    /// Objects in their grace period, by its end.
    held: BTreeSet<(Instant, Inv)>,
    stats: TrackerStats,
}

impl<P: Copy + Eq + Hash> RequestTracker<P> {
    /// An empty tracker.
    pub fn new(limits: TrackerLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            peers: HashMap::new(),
            ready: VecDeque::new(),
            blocked: HashMap::new(),
            held: BTreeSet::new(),
            deadlines: VecDeque::new(),
            stats: TrackerStats::default(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &TrackerLimits {
        &self.limits
    }

    /// Objects tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `inv` is tracked.
    pub fn contains(&self, inv: &Inv) -> bool {
        self.entries.contains_key(inv)
    }

    /// Where the fetch of `inv` stands.
    pub fn stage(&self, inv: &Inv) -> Option<&Stage<P>> {
        self.entries.get(inv).map(|e| &e.stage)
    }

    /// Why `inv` is fetched.
    pub fn purpose(&self, inv: &Inv) -> Option<Purpose> {
        self.entries.get(inv).map(|e| e.purpose)
    }

    /// Untried candidates of `inv`, in order.
    pub fn candidates(&self, inv: &Inv) -> &[P] {
        self.entries
            .get(inv)
            .map(|e| e.candidates.as_slice())
            .unwrap_or(&[])
    }

    /// Objects tracked on `peer`'s word.
    pub fn announced_by(&self, peer: &P) -> usize {
        self.peers.get(peer).map_or(0, |s| s.announced)
    }

    /// Requests out to `peer`.
    pub fn inflight(&self, peer: &P) -> usize {
        self.peers.get(peer).map_or(0, |s| s.inflight)
    }

    /// Whether `peer` timed out recently.
    pub fn is_struck(&self, peer: &P, now: Instant) -> bool {
        self.peers
            .get(peer)
            .and_then(|s| s.struck_until)
            .is_some_and(|t| t > now)
    }

    /// The counters.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// `peer` has (or likely has) `inv`: track it, with `peer` as a
    /// candidate. Call [`RequestTracker::assign`] to learn what to request.
    pub fn announce(&mut self, inv: Inv, peer: P, purpose: Purpose, now: Instant) -> Tracked {
        if let Some(e) = self.entries.get(&inv) {
            if e.names(&peer) {
                return Tracked::Duplicate;
            }
        } else if self.entries.len() >= self.limits.capacity {
            self.stats.full += 1;
            return Tracked::Full;
        }
        let state = self.peers.entry(peer).or_default();
        if state.announced >= self.limits.max_announced_per_peer {
            self.stats.peer_capped += 1;
            return Tracked::PeerCapped;
        }
        state.announced += 1;
        match self.entries.get_mut(&inv) {
            Some(e) => {
                e.candidates.push(peer);
                if e.stage == Stage::Waiting {
                    self.ready.push_back(inv);
                }
                Tracked::Candidate
            }
            None => {
                self.entries.insert(
                    inv,
                    Entry {
                        purpose,
                        candidates: vec![peer],
                        tried: Vec::new(),
                        stage: Stage::Waiting,
                        attempts: 0,
                        created: now,
                        not_before: None,
                    },
                );
                self.ready.push_back(inv);
                Tracked::New
            }
        }
    }

    /// Requests to send now: objects that were waiting and have a candidate
    /// with room, each assigned to its best candidate. Objects out of
    /// attempts or candidates are given up and returned second.
    pub fn assign(&mut self, now: Instant) -> (Vec<(P, Inv)>, Vec<Inv>) {
        let mut out = Vec::new();
        let mut gave_up = Vec::new();
        while let Some(&(t, inv)) = self.held.first() {
            if t > now {
                break;
            }
            self.held.pop_first();
            self.ready.push_back(inv);
        }
        let ready: Vec<Inv> = self.ready.drain(..).collect();
        let mut seen = HashSet::new();
        for inv in ready {
            if seen.insert(inv) {
                self.try_assign(inv, now, &mut out, &mut gave_up);
            }
        }
        (out, gave_up)
    }

    fn try_assign(
        &mut self,
        inv: Inv,
        now: Instant,
        out: &mut Vec<(P, Inv)>,
        gave_up: &mut Vec<Inv>,
    ) {
        let Some(e) = self.entries.get(&inv) else {
            return;
        };
        if e.stage != Stage::Waiting {
            return;
        }
        if let Some(t) = e.not_before.filter(|t| *t > now) {
            self.held.insert((t, inv));
            return;
        }
        if e.attempts >= self.limits.max_attempts {
            self.give_up(inv);
            gave_up.push(inv);
            return;
        }
        let max = self.limits.max_inflight_per_peer;
        let struck = |p: &P| {
            self.peers
                .get(p)
                .and_then(|s| s.struck_until)
                .is_some_and(|t| t > now)
        };
        let room = |p: &P| self.peers.get(p).map_or(0, |s| s.inflight) < max;
        // The first clean candidate with room, else the first struck one.
        let pick = e
            .candidates
            .iter()
            .position(|p| room(p) && !struck(p))
            .or_else(|| {
                let waited = now.saturating_duration_since(e.created) >= self.limits.struck_delay;
                let clean_busy = e.candidates.iter().any(|p| !struck(p));
                (waited && !clean_busy)
                    .then(|| e.candidates.iter().position(room))
                    .flatten()
            });
        let Some(i) = pick else {
            if let Some(busy) = e.candidates.iter().find(|p| !room(p)).copied() {
                self.blocked.entry(busy).or_default().push_back(inv);
            }
            // Otherwise no candidate at all, or only struck ones within the
            // delay: [`RequestTracker::tick`] looks again.
            return;
        };
        let Some(e) = self.entries.get_mut(&inv) else {
            return;
        };
        let peer = e.candidates.remove(i);
        e.tried.push(peer);
        e.attempts += 1;
        let deadline = now + self.limits.timeout;
        e.stage = Stage::Requested { peer, deadline };
        self.deadlines.push_back((deadline, inv, peer));
        self.peers.entry(peer).or_default().inflight += 1;
        out.push((peer, inv));
    }

    fn release(&mut self, peer: &P) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.inflight = s.inflight.saturating_sub(1);
        }
        if let Some(q) = self.blocked.get_mut(peer) {
            self.ready.extend(q.drain(..));
        }
    }

    fn unannounce(&mut self, peer: &P) {
        if let Some(s) = self.peers.get_mut(peer) {
            s.announced = s.announced.saturating_sub(1);
        }
    }

    fn give_up(&mut self, inv: Inv) {
        self.stats.gave_up += 1;
        self.remove(&inv);
    }

    /// Stops tracking `inv` (it was accepted, refused, or found invalid).
    /// Returns why it was fetched.
    pub fn remove(&mut self, inv: &Inv) -> Option<Purpose> {
        let e = self.entries.remove(inv)?;
        let mut named: Vec<P> = e.candidates;
        named.extend(e.tried);
        if let Stage::Requested { peer, .. } = e.stage {
            self.release(&peer);
        }
        if let Stage::Holding { peer } = e.stage
            && !named.contains(&peer)
        {
            named.push(peer);
        }
        for p in named {
            self.unannounce(&p);
        }
        Some(e.purpose)
    }

    /// A body for `inv` came from `peer`. Returns whether it was requested
    /// from that peer; if so the object now waits for its verdict.
    pub fn received(&mut self, inv: &Inv, peer: P) -> bool {
        let Some(e) = self.entries.get_mut(inv) else {
            return false;
        };
        match e.stage {
            Stage::Requested { peer: p, .. } if p == peer => {
                e.stage = Stage::Holding { peer };
                self.release(&peer);
                true
            }
            _ => false,
        }
    }

    /// A body for `inv` came from `peer` without a request (a push): hold it
    /// for validation whatever the stage, unless one is held already.
    /// Returns whether it is to be validated.
    pub fn adopt(&mut self, inv: Inv, peer: P, purpose: Purpose, now: Instant) -> bool {
        if let Some(e) = self.entries.get_mut(&inv) {
            return match e.stage.clone() {
                Stage::Holding { .. } => false,
                Stage::Requested { peer: asked, .. } => {
                    e.stage = Stage::Holding { peer };
                    self.release(&asked);
                    true
                }
                Stage::Waiting => {
                    e.stage = Stage::Holding { peer };
                    true
                }
            };
        }
        self.entries.insert(
            inv,
            Entry {
                purpose,
                candidates: Vec::new(),
                tried: Vec::new(),
                stage: Stage::Holding { peer },
                attempts: 0,
                created: now,
                not_before: None,
            },
        );
        self.peers.entry(peer).or_default().announced += 1;
        true
    }

    /// The request for `inv` at `peer` failed without a body (`notfound`,
    /// refused, or the stream broke): the next candidate is asked.
    pub fn failed(&mut self, inv: &Inv, peer: P) {
        let Some(e) = self.entries.get_mut(inv) else {
            return;
        };
        if matches!(e.stage, Stage::Requested { peer: p, .. } if p == peer) {
            e.stage = Stage::Waiting;
            self.release(&peer);
            self.ready.push_back(*inv);
        }
    }

    /// The body held for `inv` was not the object (it did not decode, or
    /// hashed to another id): the next candidate is asked. The id itself is
    /// not suspect.
    pub fn bad_body(&mut self, inv: &Inv) {
        if let Some(e) = self.entries.get_mut(inv)
            && matches!(e.stage, Stage::Holding { .. })
        {
            e.stage = Stage::Waiting;
            self.ready.push_back(*inv);
        }
    }

    /// Requests past their deadline: each peer is struck and each object
    /// moves to its next candidate. Returns `(inv, peer)` per timeout.
    pub fn expire(&mut self, now: Instant) -> Vec<(Inv, P)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, inv, peer)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let current = self.entries.get(&inv).is_some_and(|e| {
                matches!(e.stage, Stage::Requested { peer: p, deadline: d } if p == peer && d == deadline)
            });
            if current {
                expired.push((inv, peer));
            }
        }
        for (inv, peer) in &expired {
            self.stats.timeouts += 1;
            let memory = self.limits.strike_memory;
            self.peers.entry(*peer).or_default().struck_until = Some(now + memory);
            self.failed(inv, *peer);
        }
        expired
    }

    /// Looks again at every waiting object (struck delays that ran out,
    /// objects whose candidates are all gone): call it periodically.
    /// Objects with nothing left to try for longer than all their attempts
    /// would take are given up.
    pub fn tick(&mut self, now: Instant) -> (Vec<(P, Inv)>, Vec<Inv>) {
        let max_wait = self.limits.timeout * (self.limits.max_attempts + 1);
        // The map's order is its hasher's (random per process): sorted, the
        // same inputs give the same requests in the same order (a
        // simulation run from a seed repeats exactly).
        let mut stale: Vec<Inv> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.stage == Stage::Waiting
                    && (e.candidates.is_empty() || e.attempts >= self.limits.max_attempts)
                    && now.saturating_duration_since(e.created) >= max_wait
            })
            .map(|(inv, _)| *inv)
            .collect();
        stale.sort_unstable();
        for inv in &stale {
            self.give_up(*inv);
        }
        let mut waiting: Vec<Inv> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stage == Stage::Waiting && !e.candidates.is_empty())
            .map(|(inv, _)| *inv)
            .collect();
        waiting.sort_unstable();
        self.ready.extend(waiting);
        let (out, mut gave_up) = self.assign(now);
        gave_up.extend(stale);
        (out, gave_up)
    }

    /// `peer` went away: it is no candidate any more, and its requests
    /// move on.
    pub fn peer_gone(&mut self, peer: &P) {
        let mut moved = Vec::new();
        for (inv, e) in &mut self.entries {
            e.candidates.retain(|p| p != peer);
            e.tried.retain(|p| p != peer);
            // A body held for validation stays held: its verdict does not
            // depend on the connection.
            if matches!(e.stage, Stage::Requested { peer: p, .. } if p == *peer) {
                e.stage = Stage::Waiting;
                moved.push(*inv);
            }
        }
        moved.sort_unstable();
        self.ready.extend(moved);
        self.peers.remove(peer);
        self.blocked.remove(peer);
    }

    /// The earliest deadline of a request that may still be out, or of a
    /// grace period that ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        let request = self.deadlines.front().map(|(d, _, _)| *d);
        let held = self.held.first().map(|(t, _)| *t);
        request.into_iter().chain(held).min()
    }

    /// `inv`, just announced for the first time, is not requested before
    /// `until` (hybrid mode: its push may still come). An object already
    /// waiting longer is not held back.
    pub fn hold(&mut self, inv: &Inv, until: Instant) {
        if let Some(e) = self.entries.get_mut(inv)
            && e.stage == Stage::Waiting
            && e.attempts == 0
        {
            e.not_before = Some(until);
        }
    }

    /// The first peer that announced `inv` and when, if it was announced.
    pub fn first_announcer(&self, inv: &Inv) -> Option<(P, Instant)> {
        let e = self.entries.get(inv)?;
        let first = e.tried.first().or(e.candidates.first())?;
        Some((*first, e.created))
    }

    /// A compact block for `inv` came from `peer` unasked (hybrid mode's
    /// push): it now counts as requested from `peer`, so that its missing
    /// transactions can be asked of it. Returns false if a body is held,
    /// or if a new entry would pass the tracker's or the peer's cap (unasked
    /// pushes count against the peer's cap like its announcements).
    pub fn expect(&mut self, inv: Inv, peer: P, purpose: Purpose, now: Instant) -> bool {
        let deadline = now + self.limits.timeout;
        let announced = self.peers.get(&peer).map_or(0, |s| s.announced);
        let capped = announced >= self.limits.max_announced_per_peer;
        match self.entries.get_mut(&inv) {
            Some(e) => match e.stage.clone() {
                Stage::Holding { .. } => return false,
                Stage::Requested { peer: asked, .. } if asked == peer => return true,
                Stage::Requested { peer: asked, .. } => {
                    e.stage = Stage::Requested { peer, deadline };
                    self.release(&asked);
                }
                Stage::Waiting => {
                    if !e.names(&peer) {
                        // Counted as its announcement, as `remove` uncounts it.
                        self.peers.entry(peer).or_default().announced += 1;
                    }
                    e.candidates.retain(|p| *p != peer);
                    if !e.tried.contains(&peer) {
                        e.tried.push(peer);
                    }
                    e.attempts += 1;
                    e.stage = Stage::Requested { peer, deadline };
                }
            },
            None => {
                if self.entries.len() >= self.limits.capacity {
                    self.stats.full += 1;
                    return false;
                }
                if capped {
                    self.stats.peer_capped += 1;
                    return false;
                }
                self.entries.insert(
                    inv,
                    Entry {
                        purpose,
                        candidates: Vec::new(),
                        tried: vec![peer],
                        stage: Stage::Requested { peer, deadline },
                        attempts: 1,
                        created: now,
                        not_before: None,
                    },
                );
                self.peers.entry(peer).or_default().announced += 1;
            }
        }
        self.deadlines.push_back((deadline, inv, peer));
        self.peers.entry(peer).or_default().inflight += 1;
        true
    }
}

#[cfg(test)]
mod tests;
