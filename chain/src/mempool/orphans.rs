//! [`OrphanTxs`]: transactions waiting for unknown parents, bounded in count and time.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::hash::Txid;
use crate::validate::CheckedTx;

/// Transactions whose inputs are not yet known. At most `capacity` are held
/// (the oldest is dropped first), each for at most `ttl_ms`.
#[derive(Debug)]
pub struct OrphanTxs {
    txs: HashMap<Txid, (CheckedTx, u64, Vec<Txid>)>,
    waiting_on: HashMap<Txid, HashSet<Txid>>,
    order: VecDeque<(u64, Txid)>,
    capacity: usize,
    ttl_ms: u64,
    dropped: u64,
}

impl OrphanTxs {
    /// A pool of at most `capacity` orphans held at most `ttl_ms` each.
    pub fn new(capacity: usize, ttl_ms: u64) -> Self {
        Self {
            txs: HashMap::new(),
            waiting_on: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            ttl_ms,
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

    /// Holds `tx`, which waits for `parents`, received at `now_ms`.
    pub fn insert(&mut self, tx: CheckedTx, parents: &[Txid], now_ms: u64) {
        let txid = tx.txid();
        if self.capacity == 0 || self.txs.contains_key(&txid) {
            return;
        }
        while self.txs.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_front() else {
                break;
            };
            if self.remove(&oldest).is_some() {
                self.dropped += 1;
            }
        }
        for p in parents {
            self.waiting_on.entry(*p).or_default().insert(txid);
        }
        self.order.push_back((now_ms, txid));
        self.txs.insert(txid, (tx, now_ms, parents.to_vec()));
    }

    /// Drops orphans older than the time limit.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(t, txid)) = self.order.front() {
            if now_ms.saturating_sub(t) <= self.ttl_ms {
                break;
            }
            self.order.pop_front();
            if self.remove(&txid).is_some() {
                self.dropped += 1;
            }
        }
    }

    /// Removes and returns the orphans waiting on `parent`.
    pub fn take_waiting_on(&mut self, parent: &Txid) -> Vec<CheckedTx> {
        let Some(children) = self.waiting_on.remove(parent) else {
            return Vec::new();
        };
        let mut children: Vec<Txid> = children.into_iter().collect();
        children.sort();
        children
            .iter()
            .filter_map(|c| {
                self.order.retain(|(_, t)| t != c);
                self.remove(c)
            })
            .collect()
    }

    fn remove(&mut self, txid: &Txid) -> Option<CheckedTx> {
        let (tx, _, parents) = self.txs.remove(txid)?;
        for p in parents {
            if let Some(set) = self.waiting_on.get_mut(&p) {
                set.remove(txid);
                if set.is_empty() {
                    self.waiting_on.remove(&p);
                }
            }
        }
        Some(tx)
    }
}
