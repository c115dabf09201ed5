//! [`Relay`]: the relay state machine. Every input (an announcement, a
//! body, a verdict, a timer) updates its state and queues [`Action`]s for
//! the driver; nothing here touches a socket or a clock.
//!
//! The rules it keeps:
//! - a node spreads an object once, when it first accepts it, and never
//!   again (the seen-set remembers; SIR's "removed");
//! - nothing is spread before the node accepted it (validate before relay);
//! - each object is requested from one announcer at a time; a body that is
//!   not the object costs its sender and moves on to the next announcer,
//!   and only a body that hashes to the id and breaks a rule condemns the id;
//! - every wait is bounded: requests time out, bodies whose verdict never
//!   comes are forgotten, fetches with nothing left to try are given up
//!   (anti-entropy is the backstop).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumor_chain::{BlockHash, BlockHeader, Inv, ObjectKind, Target, Txid, Verdict, Work};

use crate::MAX_INVS_PER_MESSAGE;
use crate::action::{Acceptance, Action, Offence, Publication, PushItem, Pushed, Request, Via};
use crate::cache::{CacheStats, CachedBlock, RelayCache};
use crate::catchup::{CatchUp, Headers, Step};
use crate::compact::{CompactBlock, Finished, PartialBlock};
use crate::config::{RelayConfig, RelayMode};
use crate::counters::RelayCounters;
use crate::publish::Publisher;
use crate::seen::{SeenSet, SeenState, SeenStats};
use crate::sync::{AntiEntropy, SyncStatus};
use crate::tracker::{Purpose, RequestTracker, Stage, Tracked, TrackerStats};
use crate::tree::{EagerTrees, Graft, Origin};

/// How often the tracker looks at every waiting object.
const SCAN_INTERVAL: Duration = Duration::from_millis(200);

/// Reject label: an announcement past the peer's tracking cap.
pub const ANNOUNCE_CAP: &str = "announce-cap";

#[derive(Debug)]
struct Validating<P, M> {
    peer: P,
    via: Via,
    message: Option<M>,
    bytes: Bytes,
    since: Instant,
}

/// The relay state machine, generic over the peer type `P` and the type `M`
/// that names a gossip message awaiting its validation result.
#[derive(Debug)]
pub struct Relay<P, M> {
    seen: SeenSet,
    tracker: RequestTracker<P>,
    cache: RelayCache,
    publisher: Publisher,
    validating: HashMap<Inv, Validating<P, M>>,
    rebuilds: HashMap<Inv, (P, PartialBlock)>,
    sync: AntiEntropy<P>,
    catchup: CatchUp<P>,
    /// The network's block target (every header carries exactly it).
    header_target: Option<Target>,
    /// The tips peers claimed while the node checks whether it lacks them
    /// (a few at a time; the oldest is dropped).
    claims: VecDeque<(P, BlockHash)>,
    /// Peers that speak the sync protocol.
    sync_peers: BTreeSet<P>,
    /// Object requests batched per peer until the driver is idle.
    requests: HashMap<P, Vec<Inv>>,
    /// Hybrid mode: the push trees, this node's origin tag, and grafts
    /// batched per peer until the driver is idle.
    trees: EagerTrees<P>,
    origin: Origin,
    grafts: HashMap<P, Vec<Inv>>,
    outbox: VecDeque<Action<P, M>>,
    counters: RelayCounters,
    rejects: BTreeMap<&'static str, u64>,
    refusals: BTreeMap<&'static str, u64>,
    validation_timeout: Duration,
    last_scan: Option<Instant>,
}

impl<P, M> Relay<P, M>
where
    P: Copy + Eq + Hash + Ord,
{
    /// A relay configured by `cfg`.
    pub fn new(cfg: &RelayConfig) -> Self {
        Self {
            seen: SeenSet::new(cfg.seen_capacity),
            tracker: RequestTracker::new(cfg.tracker),
            cache: RelayCache::new(cfg.cache_tx_bytes, cfg.cache_blocks),
            publisher: Publisher::new(cfg.mode, cfg.batch_window),
            validating: HashMap::new(),
            rebuilds: HashMap::new(),
            sync: AntiEntropy::new(cfg.sync, cfg.seed),
            catchup: CatchUp::new(cfg.catchup_stall, cfg.header_target),
            header_target: cfg.header_target,
            claims: VecDeque::new(),
            sync_peers: BTreeSet::new(),
            requests: HashMap::new(),
            trees: EagerTrees::new(cfg.tree, cfg.seed),
            origin: cfg.origin,
            grafts: HashMap::new(),
            outbox: VecDeque::new(),
            counters: RelayCounters::default(),
            rejects: BTreeMap::new(),
            refusals: BTreeMap::new(),
            validation_timeout: cfg.validation_timeout,
            last_scan: None,
        }
    }

    /// The next action for the driver, if any.
    pub fn poll_action(&mut self) -> Option<Action<P, M>> {
        self.outbox.pop_front()
    }

    /// Every queued action.
    pub fn drain_actions(&mut self) -> impl Iterator<Item = Action<P, M>> + '_ {
        self.outbox.drain(..)
    }

    /// The relay mode.
    pub fn mode(&self) -> RelayMode {
        self.publisher.mode()
    }

    /// The counters.
    pub fn counters(&self) -> &RelayCounters {
        &self.counters
    }

    /// Rejects by reason (invalid or malformed bodies, announcements past
    /// their cap).
    pub fn rejects(&self) -> &BTreeMap<&'static str, u64> {
        &self.rejects
    }

    /// Policy refusals by reason (never punished).
    pub fn refusals(&self) -> &BTreeMap<&'static str, u64> {
        &self.refusals
    }

    /// The seen-set's counters.
    pub fn seen_stats(&self) -> SeenStats {
        self.seen.stats()
    }

    /// The request tracker's counters.
    pub fn tracker_stats(&self) -> TrackerStats {
        self.tracker.stats()
    }

    /// The cache's counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Objects being fetched or validated.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Bodies waiting for their verdict.
    pub fn validating(&self) -> usize {
        self.validating.len()
    }

    /// What the seen-set remembers of `inv`.
    pub fn seen(&self, inv: &Inv) -> Option<SeenState> {
        self.seen.peek(inv)
    }

    /// The fetch of `inv`, if one is under way.
    pub fn stage(&self, inv: &Inv) -> Option<&Stage<P>> {
        self.tracker.stage(inv)
    }

    /// Objects tracked on `peer`'s word.
    pub fn announced_by(&self, peer: &P) -> usize {
        self.tracker.announced_by(peer)
    }

    /// The catch-up session's peer, if one runs.
    pub fn catching_up_with(&self) -> Option<P> {
        self.catchup.peer()
    }

    // ----- serving -----

    /// A transaction this node accepted recently.
    pub fn cached_tx(&mut self, txid: &Txid) -> Option<Bytes> {
        self.cache.tx(txid)
    }

    /// A block this node accepted recently, with its compact form.
    pub fn cached_block(&mut self, hash: &BlockHash) -> Option<CachedBlock> {
        self.cache.block(hash)
    }

    /// Transactions of a recently accepted block, by position.
    pub fn cached_block_txs(&mut self, hash: &BlockHash, indexes: &[u32]) -> Option<Vec<Bytes>> {
        self.cache.block_txs(hash, indexes)
    }

    // ----- peers -----

    /// A peer connected; `speaks_sync` says whether anti-entropy may pick it.
    pub fn peer_up(&mut self, peer: P, speaks_sync: bool) {
        if speaks_sync {
            self.sync_peers.insert(peer);
            // A new peer (a late joiner, a healed partition) may lack
            // anything: anti-entropy back at its base rate.
            self.sync.active();
        }
        self.trees.peer_up(peer);
    }

    /// A peer went away: it is no fetch candidate any more, and what was
    /// asked of it is asked of others.
    pub fn peer_gone(&mut self, peer: &P, now: Instant) {
        self.sync_peers.remove(peer);
        self.tracker.peer_gone(peer);
        self.sync.peer_gone(peer);
        self.catchup.peer_gone(peer);
        self.rebuilds.retain(|_, (p, _)| p != peer);
        self.requests.remove(peer);
        self.trees.peer_gone(peer);
        self.grafts.remove(peer);
        self.assign(now);
    }

    // ----- announcements and bodies -----

    /// `peer` announced these objects.
    pub fn on_announcements(&mut self, peer: P, invs: &[Inv], now: Instant) {
        // Hybrid mode: the push may still come; fetch only after the grace.
        let hold = (self.mode() == RelayMode::Hybrid).then(|| now + self.trees.grace());
        for inv in invs {
            self.counters.announced_items += 1;
            if self.seen.lookup(inv).is_some() {
                self.counters.announced_known += 1;
                continue;
            }
            match self.tracker.announce(*inv, peer, Purpose::Announce, now) {
                Tracked::PeerCapped => {
                    self.counters.announce_capped += 1;
                    *self.rejects.entry(ANNOUNCE_CAP).or_default() += 1;
                }
                Tracked::Full => self.counters.tracker_full += 1,
                Tracked::New => {
                    if let Some(until) = hold {
                        self.tracker.hold(inv, until);
                    }
                }
                Tracked::Candidate | Tracked::Duplicate => {}
            }
        }
        self.assign(now);
    }

    /// A requested body for `inv` came from `peer` (its id is a claim: the
    /// node checks it).
    pub fn on_body(&mut self, peer: P, inv: Inv, bytes: Bytes, now: Instant) {
        if self.tracker.received(&inv, peer) {
            self.counters.bodies_fetched += 1;
            let via = self.via_of(&inv);
            if via == Via::Sync {
                self.counters.sync_fetched += 1;
            }
            self.validate(peer, inv, bytes, via, None, now);
            return;
        }
        // Asked for once but answered late: use it unless a copy is held
        // or the object is settled.
        let held = matches!(self.tracker.stage(&inv), Some(Stage::Holding { .. }));
        if held || self.seen.peek(&inv).is_some() {
            self.duplicate(|c| &mut c.duplicate_late);
            return;
        }
        let via = self.via_of(&inv);
        self.rebuilds.remove(&inv);
        if self.tracker.adopt(inv, peer, Purpose::Announce, now) {
            self.counters.bodies_fetched += 1;
            self.validate(peer, inv, bytes, via, None, now);
        }
    }

    /// `peer` does not have `inv` (or refused, or the request failed).
    pub fn on_not_found(&mut self, peer: P, inv: Inv, now: Instant) {
        self.counters.notfound_received += 1;
        self.request_failed(peer, inv, now);
    }

    /// The request to `peer` for `inv` failed without an answer.
    pub fn request_failed(&mut self, peer: P, inv: Inv, now: Instant) {
        if self.rebuilds.get(&inv).is_some_and(|(p, _)| *p == peer) {
            self.rebuilds.remove(&inv);
        }
        self.tracker.failed(&inv, peer);
        self.assign(now);
    }

    /// `peer` answered a compact-block request for `inv`.
    pub fn on_compact(&mut self, peer: P, inv: Inv, cb: Option<CompactBlock>, now: Instant) {
        if !self.asked(&inv, &peer) {
            return;
        }
        let Inv::Block(hash) = inv else {
            return;
        };
        let Some(cb) = cb else {
            // No compact block there: the full block, from the same peer.
            self.full_block(peer, hash);
            return;
        };
        if cb.hash() != hash {
            self.penalize(peer, Offence::BadCompact);
            self.request_failed(peer, inv, now);
            return;
        }
        let cache = &self.cache;
        let partial = PartialBlock::rebuild(&cb, |id| cache.tx_by_short_id(id));
        match partial.finish() {
            Finished::Block(bytes) => {
                self.counters.compact_full_hits += 1;
                self.rebuilt(peer, inv, bytes, now);
            }
            Finished::Incomplete => {
                let indexes = partial.missing();
                self.counters.requested_items += indexes.len() as u64;
                self.rebuilds.insert(inv, (peer, partial));
                self.outbox.push_back(Action::Request {
                    peer,
                    request: Request::BlockTxs {
                        block: hash,
                        indexes,
                    },
                });
            }
            Finished::Mismatch => self.full_block(peer, hash),
        }
    }

    /// `peer` answered a request for the missing transactions of `inv`.
    pub fn on_block_txs(&mut self, peer: P, inv: Inv, txs: Vec<Bytes>, now: Instant) {
        let Some((asked, mut partial)) = self.rebuilds.remove(&inv) else {
            return;
        };
        if asked != peer || !self.asked(&inv, &peer) {
            return;
        }
        let Inv::Block(hash) = inv else {
            return;
        };
        let fetched = txs.len();
        if !partial.fill(txs) {
            self.penalize(peer, Offence::BadCompact);
            self.request_failed(peer, inv, now);
            return;
        }
        match partial.finish() {
            Finished::Block(bytes) => {
                self.counters.compact_partial += 1;
                self.counters.compact_missing_txs += fetched as u64;
                self.rebuilt(peer, inv, bytes, now);
            }
            Finished::Incomplete | Finished::Mismatch => self.full_block(peer, hash),
        }
    }

    /// A body for `inv` came pushed in gossip message `message` (push mode).
    /// The driver has checked that the bytes hash to `inv`.
    pub fn on_push(&mut self, peer: P, message: M, inv: Inv, bytes: Bytes, now: Instant) {
        match self.seen.lookup(&inv) {
            Some(SeenState::Rejected) => {
                self.report(message, peer, Acceptance::Reject);
                return;
            }
            Some(_) => {
                self.duplicate(|c| &mut c.duplicate_push);
                self.report(message, peer, Acceptance::Ignore);
                return;
            }
            None => {}
        }
        if self.validating.contains_key(&inv) {
            self.duplicate(|c| &mut c.duplicate_push);
            self.report(message, peer, Acceptance::Ignore);
            return;
        }
        self.rebuilds.remove(&inv);
        if self.tracker.adopt(inv, peer, Purpose::Announce, now) {
            self.validate(peer, inv, bytes, Via::Push, Some(message), now);
        }
    }

    /// Transactions anti-entropy fetched from `peer` by short id, with their
    /// ids (hashed by the driver).
    pub fn on_sync_bodies(&mut self, peer: P, bodies: Vec<(Txid, Bytes)>, now: Instant) {
        for (txid, bytes) in bodies {
            let inv = Inv::Tx(txid);
            let held = matches!(self.tracker.stage(&inv), Some(Stage::Holding { .. }));
            if held || self.seen.peek(&inv).is_some() {
                self.duplicate(|c| &mut c.duplicate_sync);
                continue;
            }
            if self.tracker.adopt(inv, peer, Purpose::Announce, now) {
                self.counters.sync_fetched += 1;
                self.validate(peer, inv, bytes, Via::Sync, None, now);
            }
        }
    }

    // ----- the node's answers -----

    /// The node's verdict on a body it was given with [`Action::Validate`].
    /// `compact` is an accepted block's compact form (to serve it). Returns
    /// who sent the body and how it came (`None` for a verdict nobody
    /// waited for).
    pub fn on_verdict(
        &mut self,
        inv: Inv,
        verdict: &Verdict,
        compact: Option<CompactBlock>,
        now: Instant,
    ) -> Option<(P, Via)> {
        let v = self.validating.remove(&inv)?;
        let (peer, via) = (v.peer, v.via);
        match verdict {
            Verdict::Accepted { .. } | Verdict::Known => {
                self.tracker.remove(&inv);
                let new = self.seen.peek(&inv).is_none();
                self.seen.set(inv, SeenState::Accepted);
                self.keep(inv, &v.bytes, compact);
                if matches!(verdict, Verdict::Known) {
                    self.duplicate(|c| &mut c.duplicate_known);
                    if let Some(m) = v.message {
                        self.report(m, peer, Acceptance::Ignore);
                    }
                } else {
                    self.counters.accepted += 1;
                    // New here, so maybe missing at a peer whose
                    // announcement was lost: sync at the base rate.
                    self.sync.active();
                    match v.message {
                        // Push mode: gossipsub forwards the message itself.
                        Some(m) => self.report(m, peer, Acceptance::Accept),
                        None => {
                            if via == Via::Push {
                                self.counters.eager_accepted += 1;
                            }
                            if new {
                                self.publish(inv, &v.bytes, Some(peer), now);
                            }
                        }
                    }
                }
                self.catchup_progress(&inv, now);
            }
            Verdict::Malformed { reason } => {
                self.counters.mismatched_bodies += 1;
                *self.rejects.entry(reason).or_default() += 1;
                self.penalize(peer, Offence::MalformedBody);
                if let Some(m) = v.message {
                    self.report(m, peer, Acceptance::Reject);
                }
                // Not the object: ask the next announcer; the id is innocent.
                self.tracker.bad_body(&inv);
                self.assign(now);
            }
            Verdict::Invalid { reason } => {
                *self.rejects.entry(reason).or_default() += 1;
                self.penalize(peer, Offence::InvalidObject);
                if let Some(m) = v.message {
                    self.report(m, peer, Acceptance::Reject);
                }
                self.tracker.remove(&inv);
                if verdict.condemns(&inv) {
                    self.seen.set(inv, SeenState::Rejected);
                }
                self.catchup.failed(&inv);
            }
            Verdict::Policy { reason } => {
                *self.refusals.entry(reason).or_default() += 1;
                if let Some(m) = v.message {
                    self.report(m, peer, Acceptance::Ignore);
                }
                self.tracker.remove(&inv);
                self.seen.set(inv, SeenState::Refused);
            }
            Verdict::NotYet { reason, fetch } => {
                *self.refusals.entry(reason).or_default() += 1;
                if let Some(m) = v.message {
                    self.report(m, peer, Acceptance::Ignore);
                }
                self.tracker.remove(&inv);
                // A block waiting for its parent is held by the node and
                // connects with it: a catch-up has it.
                self.catchup_progress(&inv, now);
                // Every missing parent, from the peer that sent the orphan
                // (it had them, or could not have accepted the child).
                let mut asked = false;
                for parent in fetch {
                    if self.seen.peek(parent).is_none() {
                        self.tracker.announce(*parent, peer, Purpose::Parent, now);
                        asked = true;
                    }
                }
                if asked {
                    self.assign(now);
                }
            }
        }
        Some((peer, via))
    }

    /// The node could not take `inv` for validation (its queue was full).
    /// It is forgotten, not blamed: a later announcement or anti-entropy
    /// brings it again.
    pub fn on_validation_dropped(&mut self, inv: &Inv) {
        if let Some(v) = self.validating.remove(inv) {
            self.counters.validation_dropped += 1;
            self.tracker.remove(inv);
            if let Some(m) = v.message {
                self.report(m, v.peer, Acceptance::Ignore);
            }
        }
    }

    /// The node accepted `inv` by another path (RPC, its miner, an orphan
    /// it adopted, a block connected with its parent): spread it, once.
    pub fn on_local_accepted(
        &mut self,
        inv: Inv,
        bytes: Bytes,
        compact: Option<CompactBlock>,
        now: Instant,
    ) {
        let new = self.seen.peek(&inv) != Some(SeenState::Accepted);
        self.seen.set(inv, SeenState::Accepted);
        self.keep(inv, &bytes, compact);
        if !self.validating.contains_key(&inv) {
            self.tracker.remove(&inv);
        }
        self.catchup_progress(&inv, now);
        if new {
            self.sync.active();
            self.publish(inv, &bytes, None, now);
        }
    }

    // ----- hybrid mode's eager push -----

    /// `peer` pushed these objects along its eager tree. Returns the
    /// origins whose pushes `peer` is to stop (PRUNE, sent in the answer):
    /// those of objects this node already had.
    pub fn on_eager_push(&mut self, peer: P, items: Vec<PushItem>, now: Instant) -> Vec<Origin> {
        let mut prune: Vec<Origin> = Vec::new();
        for PushItem { origin, inv, body } in items {
            self.counters.eager_received += 1;
            self.trees.learn(inv, origin);
            let seen = self.seen.lookup(&inv);
            if seen == Some(SeenState::Rejected) {
                self.penalize(peer, Offence::InvalidObject);
            }
            // Most duplicates are of settled objects: the seen-set answers
            // first, and the tracker is not probed for them.
            if seen.is_some()
                || matches!(self.tracker.stage(&inv), Some(Stage::Holding { .. }))
                || self.validating.contains_key(&inv)
                || self.rebuilds.contains_key(&inv)
            {
                self.duplicate(|c| &mut c.duplicate_eager);
                if !prune.contains(&origin) && self.trees.should_prune(origin, peer) {
                    self.counters.prunes_sent += 1;
                    prune.push(origin);
                }
                continue;
            }
            // An announcer that was well ahead of this push is a faster
            // parent: graft it (the old parent's next push prunes it).
            if let Some((first, at)) = self.tracker.first_announcer(&inv)
                && first != peer
                && now.saturating_duration_since(at) >= self.trees.limits().lead
            {
                self.counters.tree_optimised += 1;
                self.trees.unprune(origin, &first);
                self.grafts.entry(first).or_default().push(inv);
            }
            match (inv, body) {
                (Inv::Tx(_), Pushed::Body(bytes)) => {
                    self.trees.first_copy(origin, peer);
                    self.rebuilds.remove(&inv);
                    if self.tracker.adopt(inv, peer, Purpose::Announce, now) {
                        self.validate(peer, inv, bytes, Via::Push, None, now);
                    }
                }
                (Inv::Block(_), Pushed::Compact(cb)) => {
                    self.trees.first_copy(origin, peer);
                    if self.tracker.expect(inv, peer, Purpose::Announce, now) {
                        self.on_compact(peer, inv, Some((*cb).clone()), now);
                    }
                }
                _ => {
                    *self
                        .rejects
                        .entry(Offence::MalformedBody.label())
                        .or_default() += 1;
                    self.penalize(peer, Offence::MalformedBody);
                }
            }
        }
        prune
    }

    /// A round trip to `peer` was measured (a ping): hybrid mode's grace
    /// period follows the peers' round trips from before the first push.
    pub fn on_rtt(&mut self, peer: P, rtt: Duration) {
        self.trees.rtt_sample(peer, rtt);
    }

    /// `peer` answered a push after `rtt`, pruning these origins.
    pub fn on_push_answer(&mut self, peer: P, pruned: &[Origin], rtt: Duration) {
        self.trees.rtt_sample(peer, rtt);
        for origin in pruned {
            if self.trees.prune(*origin, &peer) {
                self.counters.prunes_received += 1;
            }
        }
    }

    /// A push to `peer` failed (no answer, or the connection broke): it
    /// leaves those origins' trees here and grafts back if it needs them.
    pub fn on_push_failed(&mut self, peer: P, origins: &[Origin]) {
        self.counters.push_failures += 1;
        for origin in origins {
            self.trees.prune(*origin, &peer);
        }
    }

    /// `peer` asks to be pushed the origins of these objects (it had to
    /// fetch them). Returns each object's origin where known, so the
    /// grafting node can push it on along the right tree.
    pub fn on_graft(&mut self, peer: P, invs: &[Inv]) -> Vec<Option<Origin>> {
        invs.iter()
            .map(|inv| {
                let origin = self.trees.origin_of(inv)?;
                match self.trees.graft(origin, peer) {
                    Graft::Accepted => self.counters.grafts_accepted += 1,
                    Graft::UnknownPeer => self.counters.grafts_refused += 1,
                }
                Some(origin)
            })
            .collect()
    }

    /// `peer`'s answer to a graft: the origins of the objects named (it
    /// pushes those origins to us from now on).
    pub fn on_graft_answer(&mut self, peer: P, invs: &[Inv], origins: &[Option<Origin>]) {
        for (inv, origin) in invs.iter().zip(origins) {
            if let Some(o) = origin {
                self.trees.learn(*inv, *o);
                self.trees.unprune(*o, &peer);
            }
        }
    }

    /// Hybrid mode's trees (to inspect them).
    pub fn trees(&self) -> &EagerTrees<P> {
        &self.trees
    }

    // ----- anti-entropy and catch-up -----

    /// `peer`'s status (its answer to ours, or its request): pull what we lack.
    pub fn on_sync_status(&mut self, peer: P, theirs: &SyncStatus, ours: &SyncStatus) {
        // Every block of the network carries its one target, so a chain of
        // height h has exactly (h + 1) blocks' work: a claim of any other
        // work is a lie, and catching up with it would be for nothing.
        if let Some(t) = self.header_target
            && theirs.work != work_at(t, theirs.height)
        {
            *self.rejects.entry(WORK_CLAIM_MISMATCH).or_default() += 1;
            self.penalize(peer, Offence::BadHeaders);
            return;
        }
        let c = AntiEntropy::<P>::compare(theirs, ours);
        // Whether this comparison found anything to do, on either side: the
        // peer lacking what we have counts too (it pulls, we serve).
        let mut differ = theirs.tip != ours.tip || theirs.work != ours.work;
        if c.pull_mempool {
            if self.sync.wants_listing(peer, theirs.mempool_digest) {
                self.counters.sync_digest_mismatch += 1;
                self.outbox.push_back(Action::PullMempool(peer));
                differ = true;
            } else {
                self.counters.sync_listing_settled += 1;
            }
        } else if theirs.mempool_digest != ours.mempool_digest && ours.mempool_len > 0 {
            // Ours has what theirs lacks: the peer's side pulls, unless it
            // settled our digest; it may need another round.
            differ = true;
        }
        if c.behind && self.catchup.peer().is_none() {
            if self.claims.len() >= MAX_CLAIMS {
                self.claims.pop_front();
            }
            self.claims.retain(|(p, _)| *p != peer);
            self.claims.push_back((peer, theirs.tip));
            self.outbox.push_back(Action::CheckTip {
                peer,
                tip: theirs.tip,
            });
        }
        if differ {
            self.sync.active();
        } else {
            self.sync.quiet();
        }
    }

    /// `peer`'s mempool short ids and ours, both sorted. What the seen-set
    /// settled (accepted before, refused, rejected) is not pulled again:
    /// mempools that differ for good must not cost a fetch every round.
    pub fn on_mempool_listing(&mut self, peer: P, theirs: &[u64], ours: &[u64], now: Instant) {
        let unsettled = self.unsettled(theirs);
        self.sync.listing(peer, &unsettled, ours, now);
    }

    /// After the grace period: `ids` (from `peer`) against the mempool's.
    pub fn on_recheck(&mut self, peer: P, ids: &[u64], ours: &[u64]) {
        let unsettled = self.unsettled(ids);
        let still = self.sync.still_missing(peer, &unsettled, ours);
        if !still.is_empty() {
            self.counters.requested_items += still.len() as u64;
            self.outbox
                .push_back(Action::FetchShortIds { peer, ids: still });
        }
    }

    /// The node lacks `peer`'s tip: catch up with it (unless a session runs).
    pub fn on_behind(&mut self, peer: P, now: Instant) {
        let claimed = self
            .claims
            .iter()
            .position(|(p, _)| *p == peer)
            .and_then(|i| self.claims.remove(i))
            .map(|(_, tip)| tip);
        if self.catchup.start(peer, claimed, now) {
            self.outbox
                .push_back(Action::RequestHeaders { peer, after: None });
        }
    }

    /// `peer` answered a headers request.
    pub fn on_headers(&mut self, peer: P, headers: &[BlockHeader], now: Instant) {
        self.counters.sync_headers += headers.len() as u64;
        match self.catchup.headers(peer, headers, now) {
            Headers::Ignored => {}
            Headers::Malformed => {
                *self.rejects.entry(Offence::BadHeaders.label()).or_default() += 1;
                self.penalize(peer, Offence::BadHeaders);
            }
            Headers::WrongTarget => {
                *self.rejects.entry(BAD_HEADER_TARGET).or_default() += 1;
                self.penalize(peer, Offence::BadHeaders);
            }
            Headers::ShortOfClaim => {
                *self.rejects.entry(HEADERS_SHORT_OF_CLAIM).or_default() += 1;
                self.penalize(peer, Offence::BadHeaders);
            }
            Headers::Blocks(blocks) => self.outbox.push_back(Action::FilterBlocks { peer, blocks }),
        }
    }

    /// The headers request to `peer` failed: its session ends.
    pub fn on_headers_failed(&mut self, peer: &P) {
        self.catchup.peer_gone(peer);
    }

    /// Which blocks of `peer`'s last headers the node lacks.
    pub fn on_unknown_blocks(&mut self, peer: P, blocks: Vec<Inv>, now: Instant) {
        let step = self.catchup.unknown(peer, blocks);
        self.catchup_step(step, now);
    }

    // ----- time -----

    /// Timers: request timeouts, waiting fetches, verdicts that never came,
    /// batch windows, anti-entropy rounds and pulls, stalled catch-ups.
    pub fn tick(&mut self, now: Instant) {
        for (inv, peer) in self.tracker.expire(now) {
            self.counters.fetch_timeouts += 1;
            self.penalize(peer, Offence::Timeout);
            if self.rebuilds.get(&inv).is_some_and(|(p, _)| *p == peer) {
                self.rebuilds.remove(&inv);
            }
        }
        if self
            .last_scan
            .is_none_or(|t| now.saturating_duration_since(t) >= SCAN_INTERVAL)
        {
            self.last_scan = Some(now);
            let (sent, gave_up) = self.tracker.tick(now);
            self.requests_out(sent);
            self.gave_up(gave_up);
            self.forget_stale_validations(now);
            self.catchup.check_stall(now);
        } else {
            self.assign(now);
        }
        let peers: Vec<P> = self.sync_peers.iter().copied().collect();
        if let Some(peer) = self.sync.round(now, &peers) {
            self.counters.sync_rounds += 1;
            self.outbox.push_back(Action::SyncWith(peer));
        }
        for (peer, ids) in self.sync.due_pulls(now) {
            self.outbox.push_back(Action::Recheck { peer, ids });
        }
        // Only batch and hybrid mode's window ends on a timer; announce
        // mode's pending ids go out when the driver is idle
        // ([`Relay::flush`]). The mode is checked first: `flush` takes what
        // is pending.
        if matches!(self.mode(), RelayMode::Batch | RelayMode::Hybrid)
            && let Some(p) = self.publisher.flush(now)
        {
            self.emit_publication(p);
        }
    }

    /// The driver has nothing else to do: send batched requests, and in
    /// announce mode what was accepted since the last idle moment.
    pub fn flush(&mut self, now: Instant) {
        let mut requests: Vec<(P, Vec<Inv>)> = self.requests.drain().collect();
        requests.sort_by_key(|(p, _)| *p);
        for (peer, invs) in requests {
            for chunk in invs.chunks(MAX_INVS_PER_MESSAGE) {
                self.outbox.push_back(Action::Request {
                    peer,
                    request: Request::Objects(chunk.to_vec()),
                });
            }
        }
        let mut grafts: Vec<(P, Vec<Inv>)> = self.grafts.drain().collect();
        grafts.sort_by_key(|(p, _)| *p);
        for (peer, invs) in grafts {
            for chunk in invs.chunks(MAX_INVS_PER_MESSAGE) {
                self.outbox.push_back(Action::Graft {
                    peer,
                    invs: chunk.to_vec(),
                });
            }
        }
        if self.mode() == RelayMode::Announce
            && let Some(p) = self.publisher.flush(now)
        {
            self.emit_publication(p);
        }
    }

    /// Whether [`Relay::flush`] has anything to send.
    pub fn has_pending(&self) -> bool {
        !self.requests.is_empty()
            || !self.grafts.is_empty()
            || (self.mode() == RelayMode::Announce && self.publisher.has_pending())
    }

    /// When [`Relay::tick`] should next run.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let busy =
            (!self.tracker.is_empty() || !self.validating.is_empty()).then(|| now + SCAN_INTERVAL);
        [
            self.tracker.next_deadline(),
            self.publisher.next_deadline(),
            self.sync.next_deadline(),
            busy,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- internals -----

    /// Of sorted short ids, those of no transaction the seen-set holds.
    fn unsettled(&mut self, ids: &[u64]) -> Vec<u64> {
        let before = ids.len();
        let out: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|s| !self.seen.knows_short_id(*s))
            .collect();
        self.counters.sync_settled_skipped += (before - out.len()) as u64;
        out
    }

    fn via_of(&self, inv: &Inv) -> Via {
        match self.tracker.purpose(inv) {
            Some(Purpose::CatchUp) => Via::Sync,
            Some(Purpose::Parent) => Via::Parent,
            Some(Purpose::Announce) | None => Via::Announce,
        }
    }

    fn asked(&self, inv: &Inv, peer: &P) -> bool {
        matches!(self.tracker.stage(inv), Some(Stage::Requested { peer: p, .. }) if p == peer)
    }

    fn assign(&mut self, now: Instant) {
        let (sent, gave_up) = self.tracker.assign(now);
        self.requests_out(sent);
        self.gave_up(gave_up);
    }

    fn requests_out(&mut self, sent: Vec<(P, Inv)>) {
        let hybrid = self.mode() == RelayMode::Hybrid;
        for (peer, inv) in sent {
            self.counters.requested_items += 1;
            // Hybrid mode: the push did not come within the grace period
            // (a broken or slow tree): ask the announcer to push this
            // object's origin to us from now on.
            if hybrid && self.tracker.purpose(&inv) == Some(Purpose::Announce) {
                self.counters.grafts_sent += 1;
                self.grafts.entry(peer).or_default().push(inv);
            }
            match inv {
                Inv::Block(hash) if self.tracker.purpose(&inv) == Some(Purpose::Announce) => {
                    self.outbox.push_back(Action::Request {
                        peer,
                        request: Request::Compact(hash),
                    });
                }
                Inv::Block(_) => {
                    self.counters.full_blocks_fetched += 1;
                    self.requests.entry(peer).or_default().push(inv);
                }
                Inv::Tx(_) => self.requests.entry(peer).or_default().push(inv),
            }
        }
    }

    fn gave_up(&mut self, invs: Vec<Inv>) {
        for inv in invs {
            self.counters.fetches_given_up += 1;
            self.rebuilds.remove(&inv);
            self.catchup.failed(&inv);
        }
    }

    fn full_block(&mut self, peer: P, hash: BlockHash) {
        self.counters.full_blocks_fetched += 1;
        self.counters.requested_items += 1;
        self.outbox.push_back(Action::Request {
            peer,
            request: Request::Objects(vec![Inv::Block(hash)]),
        });
    }

    fn rebuilt(&mut self, peer: P, inv: Inv, bytes: Bytes, now: Instant) {
        if self.tracker.received(&inv, peer) {
            self.counters.bodies_fetched += 1;
            self.validate(peer, inv, bytes, Via::Compact, None, now);
        }
    }

    fn validate(
        &mut self,
        peer: P,
        inv: Inv,
        bytes: Bytes,
        via: Via,
        message: Option<M>,
        now: Instant,
    ) {
        self.validating.insert(
            inv,
            Validating {
                peer,
                via,
                message,
                bytes: bytes.clone(),
                since: now,
            },
        );
        self.outbox.push_back(Action::Validate {
            peer,
            inv,
            bytes,
            via,
        });
    }

    fn forget_stale_validations(&mut self, now: Instant) {
        let timeout = self.validation_timeout;
        let stale: Vec<Inv> = self
            .validating
            .iter()
            .filter(|(_, v)| now.saturating_duration_since(v.since) > timeout)
            .map(|(inv, _)| *inv)
            .collect();
        for inv in stale {
            if let Some(v) = self.validating.remove(&inv) {
                self.counters.validation_timeouts += 1;
                self.tracker.remove(&inv);
                if let Some(m) = v.message {
                    self.report(m, v.peer, Acceptance::Ignore);
                }
            }
        }
    }

    fn keep(&mut self, inv: Inv, bytes: &Bytes, compact: Option<CompactBlock>) {
        match (inv, compact) {
            (Inv::Tx(txid), _) => self.cache.insert_tx(txid, bytes.clone()),
            (Inv::Block(hash), Some(cb)) => self.cache.insert_block(
                hash,
                CachedBlock {
                    bytes: bytes.clone(),
                    compact: cb.into(),
                },
            ),
            (Inv::Block(_), None) => {}
        }
    }

    fn publish(&mut self, inv: Inv, bytes: &Bytes, from: Option<P>, now: Instant) {
        if self.mode() == RelayMode::Hybrid {
            self.push_eager(inv, bytes, from);
        }
        if let Some(p) = self.publisher.accepted(inv, bytes, now) {
            self.emit_publication(p);
        }
    }

    /// Hybrid mode: push `inv` to its origin's eager peers (a block as its
    /// compact form).
    fn push_eager(&mut self, inv: Inv, bytes: &Bytes, from: Option<P>) {
        // An object accepted here travels this node's own tree. One that
        // came from a peer with no origin known (fetched before the graft's
        // answer named it) is only announced: pushing it along some other
        // origin's tree would prune that tree's links for the wrong source.
        let origin = match (self.trees.origin_of(&inv), from) {
            (Some(o), _) => o,
            (None, None) => self.origin,
            (None, Some(_)) => {
                self.counters.eager_unknown_origin += 1;
                return;
            }
        };
        self.trees.learn(inv, origin);
        let body = match inv {
            Inv::Tx(_) => Pushed::Body(bytes.clone()),
            Inv::Block(hash) => match self.cache.block(&hash) {
                Some(cached) => Pushed::Compact(cached.compact),
                None => return,
            },
        };
        let item = PushItem { origin, inv, body };
        // At once, not at the next idle moment: the push is the fast path,
        // and the validator's verdicts already come in batches.
        for peer in self.trees.targets(origin, from) {
            self.counters.eager_pushed += 1;
            self.outbox.push_back(Action::Push {
                peer,
                items: vec![item.clone()],
            });
        }
    }

    fn emit_publication(&mut self, p: Publication) {
        self.counters.published += match &p {
            Publication::Announce { invs, .. } => invs.len() as u64,
            Publication::Push { .. } => 1,
        };
        self.outbox.push_back(Action::Publish(p));
    }

    fn catchup_progress(&mut self, inv: &Inv, now: Instant) {
        if let Some(step) = self.catchup.progress(inv, now) {
            self.catchup_step(step, now);
        }
    }

    fn catchup_step(&mut self, step: Step, now: Instant) {
        let Some(peer) = self.catchup.peer() else {
            return;
        };
        match step {
            Step::Fetch(blocks) => {
                for inv in blocks {
                    if self.seen.peek(&inv) == Some(SeenState::Accepted) {
                        if let Some(next) = self.catchup.progress(&inv, now) {
                            self.catchup_step(next, now);
                        }
                        continue;
                    }
                    self.tracker.announce(inv, peer, Purpose::CatchUp, now);
                }
                self.assign(now);
            }
            Step::MoreHeaders(last) => self.outbox.push_back(Action::RequestHeaders {
                peer,
                after: Some(last),
            }),
            Step::Wait | Step::Done => {}
        }
    }

    fn report(&mut self, message: M, source: P, acceptance: Acceptance) {
        self.outbox.push_back(Action::Report {
            message,
            source,
            acceptance,
        });
    }

    fn penalize(&mut self, peer: P, offence: Offence) {
        self.outbox.push_back(Action::Penalize { peer, offence });
    }

    fn duplicate(&mut self, cause: impl Fn(&mut RelayCounters) -> &mut u64) {
        self.counters.duplicate_bodies += 1;
        *cause(&mut self.counters) += 1;
    }
}

/// Reject label: a status whose claimed work is not its height's at the
/// network's target.
pub const WORK_CLAIM_MISMATCH: &str = "work-claim-mismatch";
/// Reject label: catch-up headers at another target than the network's.
pub const BAD_HEADER_TARGET: &str = "bad-header-target";
/// Reject label: catch-up headers that ended without the claimed tip.
pub const HEADERS_SHORT_OF_CLAIM: &str = "headers-short-of-claim";
/// Claimed tips remembered while the node looks them up.
const MAX_CLAIMS: usize = 16;

/// The work of a chain of height `height` whose every block (genesis
/// included) carries `target`.
pub fn work_at(target: Target, height: u64) -> Work {
    Work(
        u128::from(height)
            .saturating_add(1)
            .saturating_mul(target.work().0),
    )
}

/// The kind of what a publication carries.
pub fn publication_kind(p: &Publication) -> ObjectKind {
    match p {
        Publication::Announce { kind, .. } => *kind,
        Publication::Push { inv, .. } => inv.kind(),
    }
}

#[cfg(test)]
mod hybrid_tests;
#[cfg(test)]
mod tests;
