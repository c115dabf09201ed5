//! [`EagerTrees`]: hybrid mode's epidemic broadcast trees, after Plumtree
//! (Leitão, Pereira and Rodrigues, "Epidemic Broadcast Trees", SRDS 2007).
//!
//! Every object carries its *origin* (a tag of the node that first accepted
//! it). Per origin, a node keeps its *eager* peers: the peers it pushes that
//! origin's objects to, whole, the moment it has accepted one. Every other
//! peer is *lazy*: it only hears the object's announcement on gossipsub and
//! fetches it if the push does not come. The trees are directed (a node's
//! eager peers for an origin are its children in that origin's tree) and
//! kept per origin, because one shared tree serves most origins over paths
//! longer than the shortest; a tree that grew from an origin's own first
//! pushes is close to that origin's shortest-delay tree.
//!
//! The rules (the relay applies them; this type keeps the state):
//! - **Start**: the first object of an origin a node relays goes to
//!   `eager_degree` peers (fastest measured first), not counting the peer it
//!   came from.
//! - **PRUNE**: a peer that pushes an object the node already has is told
//!   to stop pushing that origin's objects to it (in the push's answer); the
//!   pusher drops the node from that origin's eager peers. Never the
//!   node's parent for that origin (the peer whose push came first, unless
//!   it was pruned): a pruned peer's push that crossed the prune may come
//!   first once, and pruning the parent then would leave the node with no
//!   pusher at all.
//! - **GRAFT**: an announcement whose object has not come by push within a
//!   grace period (about one round trip, measured) is fetched from the
//!   announcer, which is asked to push that origin's objects from now on.
//!   It always agrees: `eager_degree` bounds the guesses a tree starts
//!   with, and a node that asks has no nearer parent (its old parent's next
//!   push, now a duplicate, prunes it). A node whose tree broke (its parent left, or pruned it) so
//!   repairs it from the announcements that still reach it.
//! - **Optimise**: an announcement that arrived well before the pushed copy
//!   (more than `lead`) names a faster parent: it is grafted too, and the
//!   old parent's next push, now a duplicate, prunes it.
//! - A peer that leaves is dropped from every tree.
//!
//! Everything is bounded: trees for at most `origins` origins (least
//! recently used out first, an eighth at a time), the origin of at most
//! `objects` objects (oldest out first: an object's origin is read from when
//! it appears until it stops circulating, as the seen-set's entries are).

use std::collections::VecDeque;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Duration;

use foldhash::{HashMap, HashMapExt};
use rumor_chain::Inv;

use crate::rng::Rng;

/// The tag of the node that first accepted an object: which tree it travels.
pub type Origin = u64;

/// Limits and timings of hybrid mode's trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// Peers a node pushes each origin's objects to, at most.
    pub eager_degree: usize,
    /// Origins whose trees are remembered.
    pub origins: NonZeroUsize,
    /// Objects whose origin is remembered.
    pub objects: NonZeroUsize,
    /// The grace period before any round trip was measured.
    pub grace_initial: Duration,
    /// The grace period is never shorter than this ...
    pub grace_min: Duration,
    /// ... nor longer than this.
    pub grace_max: Duration,
    /// An announcement this much earlier than the pushed copy grafts its
    /// sender (a faster parent).
    pub lead: Duration,
}

impl Default for TreeLimits {
    fn default() -> Self {
        Self {
            eager_degree: 3,
            origins: NonZeroUsize::new(4096).expect("non-zero"),
            objects: NonZeroUsize::new(200_000).expect("non-zero"),
            grace_initial: Duration::from_millis(100),
            grace_min: Duration::from_millis(10),
            grace_max: Duration::from_secs(1),
            lead: Duration::from_millis(15),
        }
    }
}

/// What became of a graft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graft {
    /// The peer is (now) an eager peer of the origin.
    Accepted,
    /// The peer is not connected (or does not speak the push protocol).
    UnknownPeer,
}

/// One origin's tree as this node sees it: where its pushes go, and where
/// they come from.
#[derive(Debug)]
struct Tree<P> {
    /// The peers this node pushes the origin's objects to: chosen when it
    /// first relays one of them (or is grafted), `None` before.
    eager: Option<Vec<P>>,
    /// The peer whose push came first last time, unless it was pruned.
    parent: Option<P>,
    /// Peers told to stop (PRUNE); a push of theirs still under way when
    /// the prune left is stale, not a new parent.
    pruned: Vec<P>,
    /// When the tree was last used, as a count of uses: the least recently
    /// used trees are forgotten first.
    used: u64,
}

impl<P> Default for Tree<P> {
    fn default() -> Self {
        Self {
            eager: None,
            parent: None,
            pruned: Vec::new(),
            used: 0,
        }
    }
}

/// Most pruned peers remembered per origin.
const PRUNED_KEPT: usize = 64;

/// The eager peers per origin, what origin each object has, and the
/// measured round trips that set the grace period.
#[derive(Debug)]
pub struct EagerTrees<P> {
    limits: TreeLimits,
    /// Connected peers that take pushes, in the order they came.
    peers: Vec<P>,
    /// Per origin, its tree, held inline: hybrid mode reads one for every
    /// push sent, answered or pruned.
    trees: HashMap<Origin, Tree<P>>,
    /// Uses of `trees` so far (the clock of `Tree::used`).
    uses: u64,
    /// Each object's origin, held inline: it is read for every push and
    /// announcement of hybrid mode (an `lru` map's separately allocated
    /// entries cost a second cache miss per read, 10 % of a 3,000-node
    /// simulation's time).
    origins: HashMap<Inv, Origin>,
    /// The keys of `origins`, oldest first (the same set).
    origin_order: VecDeque<Inv>,
    /// Smoothed round trip of a push and its answer (or a ping), per peer
    /// measured: a few peers, so a list beats a map.
    srtt: Vec<(P, Duration)>,
    /// The sum of `srtt`'s round trips: the grace period is read for every
    /// announcement.
    srtt_sum: Duration,
    rng: Rng,
}

impl<P: Copy + Eq + Hash> EagerTrees<P> {
    /// Empty trees with `limits`; `seed` breaks ties between unmeasured peers.
    pub fn new(limits: TreeLimits, seed: u64) -> Self {
        Self {
            limits,
            peers: Vec::new(),
            trees: HashMap::new(),
            uses: 0,
            origins: HashMap::new(),
            origin_order: VecDeque::new(),
            srtt: Vec::new(),
            srtt_sum: Duration::ZERO,
            rng: Rng::new(seed ^ 0x7472_6565),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &TreeLimits {
        &self.limits
    }

    /// A peer connected.
    pub fn peer_up(&mut self, peer: P) {
        if !self.peers.contains(&peer) {
            self.peers.push(peer);
        }
    }

    /// A peer left: it is no eager peer of any origin.
    pub fn peer_gone(&mut self, peer: &P) {
        self.peers.retain(|p| p != peer);
        if let Some(i) = self.srtt.iter().position(|(p, _)| p == peer) {
            let (_, rtt) = self.srtt.swap_remove(i);
            self.srtt_sum -= rtt;
        }
        for tree in self.trees.values_mut() {
            if let Some(eager) = &mut tree.eager {
                eager.retain(|p| p != peer);
            }
            if tree.parent.as_ref() == Some(peer) {
                tree.parent = None;
            }
            tree.pruned.retain(|p| p != peer);
        }
    }

    /// Remembers `inv`'s origin (the first one heard wins).
    /// When `objects` origins are held, the oldest is forgotten.
    pub fn learn(&mut self, inv: Inv, origin: Origin) {
        if self.origins.contains_key(&inv) {
            return;
        }
        if self.origins.len() >= self.limits.objects.get()
            && let Some(old) = self.origin_order.pop_front()
        {
            self.origins.remove(&old);
        }
        self.origins.insert(inv, origin);
        self.origin_order.push_back(inv);
    }

    /// `inv`'s origin, if known.
    pub fn origin_of(&self, inv: &Inv) -> Option<Origin> {
        self.origins.get(inv).copied()
    }

    /// The peers to push an object of `origin` to, not counting `from`
    /// (the peer it came from). An origin seen for the first time gets
    /// `eager_degree` peers, the fastest measured first.
    pub fn targets(&mut self, origin: Origin, from: Option<P>) -> Vec<P> {
        let eager = self.eager_mut(origin, from);
        eager.iter().copied().filter(|p| Some(*p) != from).collect()
    }

    /// The eager peers of `origin` (none if it has no tree here).
    pub fn eager(&self, origin: Origin) -> Vec<P> {
        self.trees
            .get(&origin)
            .and_then(|t| t.eager.clone())
            .unwrap_or_default()
    }

    /// `peer` asked not to be pushed `origin`'s objects any more. Returns
    /// whether it was an eager peer.
    pub fn prune(&mut self, origin: Origin, peer: &P) -> bool {
        let Some(eager) = self.trees.get_mut(&origin).and_then(|t| t.eager.as_mut()) else {
            return false;
        };
        let before = eager.len();
        eager.retain(|p| p != peer);
        eager.len() < before
    }

    /// `peer` asks to be pushed `origin`'s objects (it got one only by
    /// fetching it): always agreed for a connected peer. The eager degree
    /// bounds the guesses a tree starts with, not the peers that asked: a
    /// node that needs an origin's pushes from us has no nearer parent, and
    /// each graft's old parent is pruned by its next (duplicate) push, so a
    /// tree keeps one parent per node.
    pub fn graft(&mut self, origin: Origin, peer: P) -> Graft {
        if !self.peers.contains(&peer) {
            return Graft::UnknownPeer;
        }
        let eager = self.eager_mut(origin, Some(peer));
        if !eager.contains(&peer) {
            eager.push(peer);
        }
        Graft::Accepted
    }

    /// `from`'s push brought this node its first copy of an object of
    /// `origin`: `from` is its parent in that tree, unless it was pruned
    /// (its push crossed the prune, and it will not push again).
    pub fn first_copy(&mut self, origin: Origin, from: P) {
        let up = self.tree(origin);
        if !up.pruned.contains(&from) {
            up.parent = Some(from);
        }
    }

    /// `from`'s push of an object of `origin` was a duplicate: whether to
    /// PRUNE it. Never the parent: when the first copy came by a stale push
    /// of a pruned peer, the parent's push is the one that keeps coming (two
    /// pushes of one origin a few milliseconds apart, crossing a prune, would
    /// otherwise cut a node off its tree).
    pub fn should_prune(&mut self, origin: Origin, from: P) -> bool {
        let up = self.tree(origin);
        if up.parent == Some(from) {
            return false;
        }
        if !up.pruned.contains(&from) {
            if up.pruned.len() >= PRUNED_KEPT {
                up.pruned.remove(0);
            }
            up.pruned.push(from);
        }
        true
    }

    /// This node grafted `peer` for `origin`: its pushes are wanted again.
    pub fn unprune(&mut self, origin: Origin, peer: &P) {
        if let Some(up) = self.trees.get_mut(&origin) {
            up.pruned.retain(|p| p != peer);
        }
    }

    /// A round trip to `peer` was measured (a push and its answer, or a
    /// ping).
    pub fn rtt_sample(&mut self, peer: P, rtt: Duration) {
        match self.srtt.iter_mut().find(|(p, _)| *p == peer) {
            Some((_, s)) => {
                let smoothed = (*s * 7 + rtt) / 8;
                self.srtt_sum = self.srtt_sum - *s + smoothed;
                *s = smoothed;
            }
            None => {
                self.srtt.push((peer, rtt));
                self.srtt_sum += rtt;
            }
        }
    }

    /// How long an announced object is given to arrive by push before it is
    /// fetched: half the mean smoothed round trip to the peers, about one
    /// link's delay, within the limits. A peer as far from the origin as
    /// this node's parent announces about when the parent's push arrives
    /// (both accepted it about then, and both messages cross one link), so
    /// a push later than one more link is late: its tree is broken or slow.
    pub fn grace(&self) -> Duration {
        if self.srtt.is_empty() {
            return self.limits.grace_initial;
        }
        (self.srtt_sum / (2 * self.srtt.len() as u32))
            .clamp(self.limits.grace_min, self.limits.grace_max)
    }

    /// Origins whose trees are remembered.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether no tree is remembered.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// `origin`'s eager peers, marked as just used; a tree without them
    /// starts with `eager_degree` peers other than `except`.
    fn eager_mut(&mut self, origin: Origin, except: Option<P>) -> &mut Vec<P> {
        let used = self.make_room(origin);
        let tree = self.trees.entry(origin).or_default();
        tree.used = used;
        tree.eager.get_or_insert_with(|| {
            pick(
                &self.peers,
                &self.srtt,
                &mut self.rng,
                self.limits.eager_degree,
                except,
            )
        })
    }

    /// `origin`'s tree, made if new, marked as just used.
    fn tree(&mut self, origin: Origin) -> &mut Tree<P> {
        let used = self.make_room(origin);
        let tree = self.trees.entry(origin).or_default();
        tree.used = used;
        tree
    }

    /// Makes room for `origin`'s tree if it is new and the map is full, and
    /// returns the time of this use. A full map forgets its least recently
    /// used eighth at once, so that it pays one pass over the trees per
    /// eighth of its size, not one per new origin.
    fn make_room(&mut self, origin: Origin) -> u64 {
        if self.trees.len() >= self.limits.origins.get() && !self.trees.contains_key(&origin) {
            let mut used: Vec<u64> = self.trees.values().map(|t| t.used).collect();
            let k = (used.len() / 8).max(1);
            // Each use has its own time, so exactly `k` are at or below it.
            let (_, cut, _) = used.select_nth_unstable(k - 1);
            let cut = *cut;
            self.trees.retain(|_, t| t.used > cut);
        }
        self.uses += 1;
        self.uses
    }
}

/// `degree` of `peers` other than `except`: measured ones by round trip,
/// then unmeasured ones in random order.
fn pick<P: Copy + Eq + Hash>(
    peers: &[P],
    srtt: &[(P, Duration)],
    rng: &mut Rng,
    degree: usize,
    except: Option<P>,
) -> Vec<P> {
    let mut candidates: Vec<(Duration, u64, P)> = peers
        .iter()
        .filter(|p| Some(**p) != except)
        .map(|p| {
            let rtt = srtt
                .iter()
                .find(|(q, _)| q == p)
                .map_or(Duration::MAX, |(_, rtt)| *rtt);
            (rtt, rng.next_u64(), *p)
        })
        .collect();
    candidates.sort_by_key(|(rtt, tie, _)| (*rtt, *tie));
    candidates
        .into_iter()
        .take(degree)
        .map(|(_, _, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::Txid;

    fn trees(degree: usize) -> EagerTrees<u32> {
        trees_with(TreeLimits {
            eager_degree: degree,
            ..TreeLimits::default()
        })
    }

    /// Trees with `limits` and peers 1 to 5 connected.
    fn trees_with(limits: TreeLimits) -> EagerTrees<u32> {
        let mut t = EagerTrees::new(limits, 1);
        for p in 1..=5 {
            t.peer_up(p);
        }
        t
    }

    #[test]
    fn a_new_origin_gets_the_eager_degree_without_the_sender() {
        let mut t = trees(2);
        let targets = t.targets(9, Some(3));
        assert_eq!(targets.len(), 2);
        assert!(!targets.contains(&3));
        // The tree is kept: the same peers next time.
        assert_eq!(t.targets(9, Some(3)), targets);
    }

    #[test]
    fn measured_peers_are_picked_fastest_first() {
        let mut t = trees(2);
        t.rtt_sample(4, Duration::from_millis(5));
        t.rtt_sample(2, Duration::from_millis(9));
        t.rtt_sample(1, Duration::from_millis(90));
        assert_eq!(t.targets(7, None), vec![4, 2]);
    }

    #[test]
    fn prune_removes_and_graft_adds_a_peer_that_asked() {
        let mut t = trees(2);
        let first = t.targets(1, None);
        assert!(t.prune(1, &first[0]));
        assert!(!t.prune(1, &first[0]), "pruned once");
        assert_eq!(t.eager(1), [first[1]]);
        let others: Vec<u32> = (1..=5).filter(|p| !first.contains(p)).collect();
        assert_eq!(t.graft(1, others[0]), Graft::Accepted);
        assert_eq!(t.graft(1, others[0]), Graft::Accepted, "idempotent");
        assert_eq!(t.eager(1), [first[1], others[0]]);
        // The degree bounds the picks a tree starts with, not grafts.
        assert_eq!(t.graft(1, others[1]), Graft::Accepted);
        assert_eq!(t.eager(1).len(), 3);
        assert_eq!(t.graft(1, 99), Graft::UnknownPeer);
    }

    #[test]
    fn a_graft_for_an_unknown_origin_starts_its_tree_with_the_grafter() {
        let mut t = trees(1);
        assert_eq!(t.graft(5, 2), Graft::Accepted);
        assert_eq!(t.eager(5).len(), 2, "one pick and the grafter");
        assert!(t.eager(5).contains(&2));
    }

    #[test]
    fn a_peer_that_leaves_is_in_no_tree() {
        let mut t = trees(5);
        t.targets(1, None);
        t.targets(2, None);
        t.peer_gone(&3);
        assert!(!t.eager(1).contains(&3) && !t.eager(2).contains(&3));
        assert_eq!(t.graft(1, 3), Graft::UnknownPeer);
        assert!(!t.targets(4, None).contains(&3));
    }

    #[test]
    fn grace_follows_measured_round_trips_within_bounds() {
        let mut t = trees(2);
        assert_eq!(t.grace(), TreeLimits::default().grace_initial);
        t.rtt_sample(1, Duration::from_millis(40));
        t.rtt_sample(2, Duration::from_millis(60));
        assert_eq!(t.grace(), Duration::from_millis(25), "half the mean");
        t.rtt_sample(1, Duration::from_micros(10));
        for _ in 0..50 {
            t.rtt_sample(1, Duration::from_micros(10));
            t.rtt_sample(2, Duration::from_micros(10));
        }
        assert_eq!(t.grace(), TreeLimits::default().grace_min);
        // Peers that leave take their round trips with them.
        t.peer_gone(&1);
        t.peer_gone(&2);
        assert_eq!(t.grace(), TreeLimits::default().grace_initial);
        t.rtt_sample(3, Duration::from_millis(80));
        t.rtt_sample(3, Duration::from_millis(40));
        assert_eq!(
            t.grace(),
            Duration::from_millis(75) / 2,
            "(7 × 80 + 40) / 8 / 2"
        );
    }

    #[test]
    fn the_parent_is_never_pruned_and_a_stale_push_is_no_parent() {
        let mut t = trees(2);
        t.first_copy(7, 1);
        assert!(t.should_prune(7, 2), "a second pusher is pruned");
        // Its push crossed the prune and came first: 1 stays the parent,
        // and 1's push, now the duplicate, is not pruned.
        t.first_copy(7, 2);
        assert!(!t.should_prune(7, 1));
        // A graft of 2 makes it a parent candidate again.
        t.unprune(7, &2);
        t.first_copy(7, 2);
        assert!(t.should_prune(7, 1));
        // Another origin is another tree.
        assert!(t.should_prune(8, 2));
        // A parent that leaves is no parent.
        t.peer_gone(&2);
        t.first_copy(7, 3);
        assert!(!t.should_prune(7, 3));
    }

    #[test]
    fn the_first_origin_heard_wins() {
        let mut t = trees(2);
        let inv = Inv::Tx(Txid([1; 32]));
        assert_eq!(t.origin_of(&inv), None);
        t.learn(inv, 7);
        t.learn(inv, 8);
        assert_eq!(t.origin_of(&inv), Some(7));
    }

    #[test]
    fn a_full_map_forgets_its_least_recently_used_eighth() {
        let mut t = trees_with(TreeLimits {
            origins: NonZeroUsize::new(16).expect("non-zero"),
            ..TreeLimits::default()
        });
        for origin in 0..16 {
            t.targets(origin, None);
        }
        // A push's first copy and a duplicate are uses; reading the eager
        // peers or a prune from downstream is not.
        t.first_copy(0, 1);
        assert!(t.should_prune(1, 2));
        assert_eq!(t.eager(2).len(), 3);
        assert!(t.prune(3, &t.eager(3)[0]));
        t.targets(16, None);
        assert_eq!(t.len(), 15, "two (an eighth of 16) out, one in");
        assert!(t.eager(2).is_empty() && t.eager(3).is_empty());
        for kept in [0, 1, 4, 15, 16] {
            assert!(!t.eager(kept).is_empty(), "origin {kept}");
        }
    }

    #[test]
    fn the_oldest_origin_is_forgotten_first_however_often_it_was_read() {
        let mut t = trees_with(TreeLimits {
            objects: NonZeroUsize::new(3).expect("non-zero"),
            ..TreeLimits::default()
        });
        let inv = |i: u8| Inv::Tx(Txid([i; 32]));
        for i in 1..=3 {
            t.learn(inv(i), u64::from(i));
        }
        // Reading the first does not keep it (oldest out, not least
        // recently used), and learning it again does not renew it.
        assert_eq!(t.origin_of(&inv(1)), Some(1));
        t.learn(inv(1), 9);
        t.learn(inv(4), 4);
        assert_eq!(t.origin_of(&inv(1)), None);
        assert_eq!(
            [2, 3, 4].map(|i| t.origin_of(&inv(i))),
            [Some(2), Some(3), Some(4)]
        );
        t.learn(inv(5), 5);
        assert_eq!(t.origin_of(&inv(2)), None, "then the next oldest");
        assert_eq!(t.origin_of(&inv(5)), Some(5));
    }
}
