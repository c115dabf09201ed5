//! [`OrphanTxs`]: transactions waiting for unknown parents, bounded in count
//! and time, and accounted to the peer that sent each.
//!
//! Anyone can make orphans: a transaction spending outputs nobody has seen
//! costs nothing to invent. With one pool shared by all and the oldest
//! evicted first, one peer sending orphans fast enough flushed everyone
//! else's, so a child that arrived before its parent from an honest peer
//! was gone by the time the parent came. Each orphan now records its
//! [`Source`], and a full pool evicts from the source holding the most
//! (its oldest first, as Bitcoin Core's orphanage evicts from the peer
//! using the most): a flood displaces only itself once it is the largest
//! holder. A peer that goes away takes its orphans with it
//! ([`OrphanTxs::erase_from`], Core's `EraseForPeer`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::hash::Txid;
use crate::validate::CheckedTx;

/// Who an orphan came from: an opaque peer key chosen by the node (rumor's
/// node hashes the libp2p PeerId into it). Orphans with no source (the
/// node's own submissions, transactions put back by a reorganisation)
/// are accounted together, as one more holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source(pub u64);

/// One held orphan.
#[derive(Debug)]
struct Held {
    tx: CheckedTx,
    at_ms: u64,
    parents: Vec<Txid>,
    from: Option<Source>,
    seq: u64,
}

/// Transactions whose inputs are not yet known. At most `capacity` are held,
/// each for at most `ttl_ms`; when full, the source holding the most loses
/// its oldest.
#[derive(Debug)]
pub struct OrphanTxs {
    txs: HashMap<Txid, Held>,
    waiting_on: HashMap<Txid, HashSet<Txid>>,
    /// Every orphan by arrival (a sequence number, so equal times keep
    /// their order), for expiry.
    order: BTreeSet<(u64, u64, Txid)>,
    /// Each source's orphans by arrival, for eviction.
    by_source: HashMap<Option<Source>, BTreeSet<(u64, Txid)>>,
    capacity: usize,
    ttl_ms: u64,
    next_seq: u64,
    dropped: u64,
}

impl OrphanTxs {
    /// A pool of at most `capacity` orphans held at most `ttl_ms` each.
    pub fn new(capacity: usize, ttl_ms: u64) -> Self {
        Self {
            txs: HashMap::new(),
            waiting_on: HashMap::new(),
            order: BTreeSet::new(),
            by_source: HashMap::new(),
            capacity,
            ttl_ms,
            next_seq: 0,
            dropped: 0,
        }
    }

    /// Number of orphans held.
    pub fn len(&self) -> usize {
        self.txs.len()
    }
    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
    /// Whether `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.txs.contains_key(txid)
    }
    /// Orphans dropped for space or age, ever.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    /// Orphans held from `from`.
    pub fn held_from(&self, from: Option<Source>) -> usize {
        self.by_source.get(&from).map_or(0, BTreeSet::len)
    }

    /// Holds `tx`, which waits for `parents`, received from `from` at
    /// `now_ms`. When the pool is full, the source holding the most
    /// orphans (the newcomer's own count included) loses its oldest.
    pub fn insert(&mut self, tx: CheckedTx, parents: &[Txid], from: Option<Source>, now_ms: u64) {
        let txid = tx.txid();
        if self.capacity == 0 || self.txs.contains_key(&txid) {
            return;
        }
        while self.txs.len() >= self.capacity {
            let Some(victim) = self.eviction_victim(from) else {
                break;
            };
            if self.remove(&victim).is_some() {
                self.dropped += 1;
            }
        }
        for p in parents {
            self.waiting_on.entry(*p).or_default().insert(txid);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert((now_ms, seq, txid));
        self.by_source.entry(from).or_default().insert((seq, txid));
        self.txs.insert(
            txid,
            Held {
                tx,
                at_ms: now_ms,
                parents: parents.to_vec(),
                from,
                seq,
            },
        );
    }

    /// The oldest orphan of the source holding the most, counting one more
    /// for `incoming` (so a source at the top cannot push out another's).
    /// Ties go to the source whose oldest orphan is older.
    fn eviction_victim(&self, incoming: Option<Source>) -> Option<Txid> {
        self.by_source
            .iter()
            .filter_map(|(source, held)| {
                let oldest = held.first()?;
                let count = held.len() + usize::from(*source == incoming);
                Some((count, std::cmp::Reverse(oldest.0), oldest.1))
            })
            .max()
            .map(|(_, _, txid)| txid)
    }

    /// Drops orphans older than the time limit.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(t, _, txid)) = self.order.first() {
            if now_ms.saturating_sub(t) <= self.ttl_ms {
                break;
            }
            if self.remove(&txid).is_some() {
                self.dropped += 1;
            }
        }
    }

    /// Drops every orphan from `from` (the peer went away); returns how
    /// many. They are not counted as dropped for space or age.
    pub fn erase_from(&mut self, from: Source) -> usize {
        let Some(held) = self.by_source.get(&Some(from)) else {
            return 0;
        };
        let txids: Vec<Txid> = held.iter().map(|(_, t)| *t).collect();
        for t in &txids {
            self.remove(t);
        }
        txids.len()
    }

    /// Removes and returns the orphans waiting on `parent`, each with its
    /// source (an orphan still missing another parent goes back under it).
    pub fn take_waiting_on(&mut self, parent: &Txid) -> Vec<(CheckedTx, Option<Source>)> {
        let Some(children) = self.waiting_on.remove(parent) else {
            return Vec::new();
        };
        let mut children: Vec<Txid> = children.into_iter().collect();
        children.sort();
        children
            .iter()
            .filter_map(|c| {
                let from = self.txs.get(c)?.from;
                Some((self.remove(c)?, from))
            })
            .collect()
    }

    fn remove(&mut self, txid: &Txid) -> Option<CheckedTx> {
        let held = self.txs.remove(txid)?;
        self.order.remove(&(held.at_ms, held.seq, *txid));
        if let Some(set) = self.by_source.get_mut(&held.from) {
            set.remove(&(held.seq, *txid));
            if set.is_empty() {
                self.by_source.remove(&held.from);
            }
        }
        for p in held.parents {
            if let Some(set) = self.waiting_on.get_mut(&p) {
                set.remove(txid);
                if set.is_empty() {
                    self.waiting_on.remove(&p);
                }
            }
        }
        Some(held.tx)
    }
}
