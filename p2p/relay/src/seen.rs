//! [`SeenSet`]: a bounded LRU of what this node has seen and what it did with it.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use lru::LruCache;

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

/// A bounded LRU map from inventory item to [`SeenState`]. It suppresses
/// redundant fetches, re-validation of rejected objects, and re-announcement
/// after gossipsub's own duplicate cache has expired. Transactions are also
/// indexed by short id, so anti-entropy never pulls by short id what the
/// node already settled (accepted earlier, refused by policy, rejected).
#[derive(Debug)]
pub struct SeenSet {
    lru: LruCache<Inv, SeenState>,
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
            lru: LruCache::new(capacity),
            short: HashMap::new(),
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// Looks `inv` up (counting a hit or a miss) and marks it recently used.
    pub fn lookup(&mut self, inv: &Inv) -> Option<SeenState> {
        match self.lru.get(inv) {
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

    /// The state of `inv` without counting or reordering.
    pub fn peek(&self, inv: &Inv) -> Option<SeenState> {
        self.lru.peek(inv).copied()
    }

    /// Records `state` for `inv`, evicting the least recently used item if full.
    pub fn set(&mut self, inv: Inv, state: SeenState) {
        match self.lru.push(inv, state) {
            Some((old, _)) if old == inv => {}
            Some((old, _)) => {
                self.evictions += 1;
                self.unindex(&old);
                self.index(&inv);
            }
            None => self.index(&inv),
        }
    }

    /// Forgets `inv`.
    pub fn forget(&mut self, inv: &Inv) {
        if self.lru.pop(inv).is_some() {
            self.unindex(inv);
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
        self.lru.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> SeenStats {
        SeenStats {
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
            len: self.lru.len() as u64,
            capacity: self.lru.cap().get() as u64,
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
    fn updating_an_entry_is_not_an_eviction() {
        let mut s = SeenSet::new(NonZeroUsize::new(2).unwrap());
        s.set(inv(1), SeenState::Refused);
        s.set(inv(1), SeenState::Rejected);
        assert_eq!(s.stats().evictions, 0);
        assert_eq!(s.peek(&inv(1)), Some(SeenState::Rejected));
        s.forget(&inv(1));
        assert!(s.is_empty());
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
        s.forget(&inv(2));
        s.forget(&inv(2));
        assert!(!s.knows_short_id(short(2)));
        assert_eq!(s.short.len(), 1);
    }
}
