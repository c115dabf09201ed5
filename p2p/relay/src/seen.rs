//! [`SeenSet`]: a bounded record of what this node has seen and what it did
//! with it, oldest out first.

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use foldhash::{HashMap, HashMapExt};
use rumor_chain::Inv;

/// What the node decided about an object it no longer fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenState {
    /// Accepted, and spread once (the SIR "removed" state: it is never
    /// spread again, and announcements of it are ignored).
    Accepted,
    /// Found invalid by its own hash; announcements of it are ignored
    /// without a fetch.
    Rejected,
    /// Refused by policy (low fee, conflict, full mempool): ignored without
    /// a fetch, and never punished.
    Refused,
}

/// Counters of a [`SeenSet`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenStats {
    /// Lookups that found the object.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries dropped to stay within capacity.
    pub evictions: u64,
    /// Entries held now.
    pub len: u64,
    /// The capacity.
    pub capacity: u64,
}

/// A bounded map from inventory item to [`SeenState`]. It suppresses
/// redundant fetches, re-validation of rejected objects, and re-announcement
/// after gossipsub's own duplicate cache has expired. Transactions are also
/// indexed by short id, so anti-entropy never pulls by short id what the
/// node already settled (accepted earlier, refused by policy, rejected).
///
/// **Oldest out first**, not least recently used: when full, the item first
/// recorded longest ago goes, however often it was looked up since. What
/// the set answers ("did I settle this?") matters for as long as the object
/// circulates, which is measured from when it appeared, not from when a
/// peer last announced it; Bitcoin Core's rolling filters of recent rejects
/// and confirmations age out the same way. An item evicted early costs one
/// fetch and one `Known` verdict, never a wrong answer. In exchange every
/// lookup is one probe of a table holding its keys inline: the set is
/// probed for every id a peer announces, and an LRU's separately allocated
/// entries made each probe a second cache miss (14 % of a 1,000-node
/// simulation's time, before). Its hasher is foldhash, keyed per map as
/// `lru`'s was: peers choose the ids, so an unkeyed hash would let them
/// pile entries into one bucket.
#[derive(Debug)]
pub struct SeenSet {
    states: HashMap<Inv, SeenState>,
    /// The keys of `states`, oldest first (the same set: nothing leaves
    /// one without leaving the other).
    order: VecDeque<Inv>,
    capacity: NonZeroUsize,
    /// Transactions held, by short id (a count: short ids may collide).
    short: HashMap<u64, u32>,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl SeenSet {
    /// A set holding at most `capacity` items.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            states: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            short: HashMap::new(),
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// Looks `inv` up, counting a hit or a miss.
    pub fn lookup(&mut self, inv: &Inv) -> Option<SeenState> {
        match self.states.get(inv) {
            Some(s) => {
                self.hits += 1;
                Some(*s)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// The state of `inv`, without counting.
    pub fn peek(&self, inv: &Inv) -> Option<SeenState> {
        self.states.get(inv).copied()
    }

    /// Records `state` for `inv`. An item already held keeps its place in
    /// the order; a new one, when the set is full, evicts the oldest.
    pub fn set(&mut self, inv: Inv, state: SeenState) {
        if self.states.insert(inv, state).is_some() {
            return;
        }
        self.order.push_back(inv);
        self.index(&inv);
        if self.order.len() > self.capacity.get()
            && let Some(old) = self.order.pop_front()
        {
            self.states.remove(&old);
            self.unindex(&old);
            self.evictions += 1;
        }
    }

    /// Whether a transaction with short id `short` is held (in any state).
    pub fn knows_short_id(&self, short: u64) -> bool {
        self.short.contains_key(&short)
    }

    fn index(&mut self, inv: &Inv) {
        if let Inv::Tx(txid) = inv {
            *self.short.entry(txid.short_id()).or_default() += 1;
        }
    }

    fn unindex(&mut self, inv: &Inv) {
        if let Inv::Tx(txid) = inv
            && let Some(n) = self.short.get_mut(&txid.short_id())
        {
            *n -= 1;
            if *n == 0 {
                self.short.remove(&txid.short_id());
            }
        }
    }

    /// Number of items held.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> SeenStats {
        SeenStats {
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
            len: self.states.len() as u64,
            capacity: self.capacity.get() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::Txid;

    fn inv(i: u32) -> Inv {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_le_bytes());
        Inv::Tx(Txid(id))
    }

    #[test]
    fn stays_at_capacity_and_counts() {
        let cap = 100;
        let mut s = SeenSet::new(NonZeroUsize::new(cap).unwrap());
        for i in 0..(10 * cap as u32) {
            assert_eq!(s.lookup(&inv(i)), None);
            s.set(inv(i), SeenState::Accepted);
            assert!(s.len() <= cap);
        }
        let st = s.stats();
        assert_eq!(st.len, cap as u64);
        assert_eq!(st.misses, 10 * cap as u64);
        assert_eq!(st.evictions, 9 * cap as u64);
        // the most recent are kept, the oldest gone
        assert!(s.peek(&inv(10 * cap as u32 - 1)).is_some());
        assert!(s.peek(&inv(0)).is_none());
        assert!(s.lookup(&inv(10 * cap as u32 - 1)).is_some());
        assert_eq!(s.stats().hits, 1);
    }

    #[test]
    fn updating_an_entry_is_not_an_eviction_and_keeps_its_place() {
        let mut s = SeenSet::new(NonZeroUsize::new(2).unwrap());
        s.set(inv(1), SeenState::Refused);
        s.set(inv(2), SeenState::Accepted);
        s.set(inv(1), SeenState::Rejected);
        assert_eq!(s.stats().evictions, 0);
        assert_eq!(s.peek(&inv(1)), Some(SeenState::Rejected));
        assert_eq!(s.len(), 2);
        // 1 was recorded first: updating it did not make it younger.
        s.set(inv(3), SeenState::Accepted);
        assert_eq!(s.peek(&inv(1)), None);
        assert_eq!(s.peek(&inv(2)), Some(SeenState::Accepted));
        assert_eq!(s.stats().evictions, 1);
    }

    #[test]
    fn the_oldest_goes_first_however_often_it_was_looked_up() {
        let mut s = SeenSet::new(NonZeroUsize::new(3).unwrap());
        for i in 1..=3 {
            s.set(inv(i), SeenState::Accepted);
        }
        for _ in 0..5 {
            assert_eq!(s.lookup(&inv(1)), Some(SeenState::Accepted));
        }
        s.set(inv(4), SeenState::Accepted);
        assert_eq!(s.lookup(&inv(1)), None);
        for i in 2..=4 {
            assert_eq!(s.peek(&inv(i)), Some(SeenState::Accepted));
        }
        let st = s.stats();
        assert_eq!((st.hits, st.misses, st.evictions, st.len), (5, 1, 1, 3));
    }

    #[test]
    fn transactions_are_indexed_by_short_id_while_held() {
        let short = |i: u32| match inv(i) {
            Inv::Tx(t) => t.short_id(),
            Inv::Block(_) => unreachable!("a transaction"),
        };
        let mut s = SeenSet::new(NonZeroUsize::new(2).unwrap());
        s.set(inv(1), SeenState::Refused);
        s.set(inv(1), SeenState::Accepted);
        s.set(inv(2), SeenState::Rejected);
        assert!(s.knows_short_id(short(1)) && s.knows_short_id(short(2)));
        s.set(inv(3), SeenState::Accepted); // evicts 1
        assert!(!s.knows_short_id(short(1)));
        assert!(s.knows_short_id(short(3)));
        s.set(inv(4), SeenState::Accepted); // evicts 2
        assert!(!s.knows_short_id(short(2)));
        assert_eq!(s.short.len(), 2);
    }
}
