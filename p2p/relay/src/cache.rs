//! [`RelayCache`]: the bodies of objects this node accepted recently, so that
//! it serves the requests its own announcements cause without asking the
//! node (Bitcoin Core keeps such a relay map too), and rebuilds compact
//! blocks from transactions it already has.
//!
//! Transactions are bounded by total bytes and leave oldest first (by when
//! they were kept: the requests an announcement causes come soon after it,
//! and Bitcoin Core's relay map expires by age too); blocks are bounded by
//! count, least recently used first. A miss is not an error: the caller
//! asks the node.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Arc;

use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};
use lru::LruCache;
use rumor_chain::{BlockHash, Txid};

use crate::compact::CompactBlock;

/// A cached block: its encoding and its compact form.
#[derive(Debug, Clone)]
pub struct CachedBlock {
    /// The canonical encoding.
    pub bytes: Bytes,
    /// The compact form.
    pub compact: Arc<CompactBlock>,
}

/// Counters of a [`RelayCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheStats {
    /// Transactions held.
    pub txs: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Blocks held.
    pub blocks: u64,
    /// Transactions dropped to stay within the byte budget.
    pub evictions: u64,
}

/// Recently accepted bodies.
#[derive(Debug)]
pub struct RelayCache {
    txs: HashMap<Txid, Bytes>,
    /// The keys of `txs`, oldest first.
    order: VecDeque<Txid>,
    by_short_id: HashMap<u64, Txid>,
    tx_bytes: usize,
    max_tx_bytes: usize,
    blocks: LruCache<BlockHash, CachedBlock>,
    evictions: u64,
}

impl RelayCache {
    /// A cache of at most `max_tx_bytes` of transactions and `max_blocks` blocks.
    pub fn new(max_tx_bytes: usize, max_blocks: NonZeroUsize) -> Self {
        Self {
            txs: HashMap::new(),
            order: VecDeque::new(),
            by_short_id: HashMap::new(),
            tx_bytes: 0,
            max_tx_bytes,
            blocks: LruCache::new(max_blocks),
            evictions: 0,
        }
    }

    /// Keeps a transaction's body.
    pub fn insert_tx(&mut self, txid: Txid, bytes: Bytes) {
        if bytes.len() > self.max_tx_bytes {
            return;
        }
        self.tx_bytes += bytes.len();
        match self.txs.insert(txid, bytes) {
            Some(old) => self.tx_bytes -= old.len(),
            None => self.order.push_back(txid),
        }
        self.by_short_id.insert(txid.short_id(), txid);
        while self.tx_bytes > self.max_tx_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            let Some(b) = self.txs.remove(&old) else {
                continue;
            };
            self.tx_bytes -= b.len();
            self.evictions += 1;
            if self.by_short_id.get(&old.short_id()) == Some(&old) {
                self.by_short_id.remove(&old.short_id());
            }
        }
        // Maps that churned to twice their live size are put back to size.
        let floor = 2 * self.txs.len().max(1024);
        if self.by_short_id.capacity() > floor {
            self.by_short_id.shrink_to(self.txs.len());
        }
        if self.txs.capacity() > floor {
            self.txs.shrink_to(self.txs.len());
            self.order.shrink_to(self.txs.len());
        }
    }

    /// Keeps a block's body and compact form.
    pub fn insert_block(&mut self, hash: BlockHash, block: CachedBlock) {
        self.blocks.put(hash, block);
    }

    /// A transaction's body.
    pub fn tx(&self, txid: &Txid) -> Option<Bytes> {
        self.txs.get(txid).cloned()
    }

    /// The transaction with `short_id`, if one is held.
    pub fn tx_by_short_id(&self, short_id: u64) -> Option<(Txid, Bytes)> {
        let txid = self.by_short_id.get(&short_id)?;
        self.txs.get(txid).map(|b| (*txid, b.clone()))
    }

    /// A block.
    pub fn block(&mut self, hash: &BlockHash) -> Option<CachedBlock> {
        self.blocks.get(hash).cloned()
    }

    /// The transactions at `indexes` of a cached block (0 is the coinbase),
    /// if the block and every one of them are held.
    pub fn block_txs(&mut self, hash: &BlockHash, indexes: &[u32]) -> Option<Vec<Bytes>> {
        let block = self.blocks.get(hash)?.clone();
        indexes
            .iter()
            .map(|&i| match i {
                0 => Some(block.compact.coinbase.clone()),
                i => {
                    let id = *block.compact.short_ids.get(i as usize - 1)?;
                    self.tx_by_short_id(id).map(|(_, b)| b)
                }
            })
            .collect()
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            txs: self.txs.len() as u64,
            tx_bytes: self.tx_bytes as u64,
            blocks: self.blocks.len() as u64,
            evictions: self.evictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(i: u8, len: usize) -> (Txid, Bytes) {
        (Txid([i; 32]), Bytes::from(vec![i; len]))
    }

    #[test]
    fn stays_within_its_byte_budget_oldest_out_first() {
        let mut c = RelayCache::new(1000, NonZeroUsize::new(2).unwrap());
        for i in 0..10 {
            let (id, b) = tx(i, 300);
            c.insert_tx(id, b);
            assert!(c.stats().tx_bytes <= 1000);
        }
        assert_eq!(c.stats().txs, 3);
        assert_eq!(c.stats().evictions, 7);
        assert!(c.tx(&Txid([9; 32])).is_some());
        assert!(c.tx(&Txid([0; 32])).is_none());
        let id = Txid([9; 32]);
        assert_eq!(c.tx_by_short_id(id.short_id()).unwrap().0, id);
        assert!(c.tx_by_short_id(Txid([0; 32]).short_id()).is_none());
        // One body larger than the whole budget is not kept.
        let (big, b) = tx(11, 2000);
        c.insert_tx(big, b);
        assert!(c.tx(&big).is_none());
    }

    #[test]
    fn a_transaction_served_often_still_leaves_when_its_turn_comes() {
        let mut c = RelayCache::new(900, NonZeroUsize::new(2).unwrap());
        for i in 0..3 {
            let (id, b) = tx(i, 300);
            c.insert_tx(id, b);
        }
        for _ in 0..3 {
            assert!(c.tx(&Txid([0; 32])).is_some());
        }
        // Keeping a body again changes its size, not its place.
        let (id, b) = tx(0, 200);
        c.insert_tx(id, b);
        assert_eq!(c.stats().tx_bytes, 800);
        let (id, b) = tx(3, 300);
        c.insert_tx(id, b);
        assert!(c.tx(&Txid([0; 32])).is_none());
        assert!(c.tx_by_short_id(Txid([0; 32]).short_id()).is_none());
        assert_eq!(c.stats().txs, 3);
        assert_eq!(c.stats().tx_bytes, 900);
        assert_eq!(c.stats().evictions, 1);
    }
}
