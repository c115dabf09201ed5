//! [`OrphanBlocks`]: a bounded pool of blocks held outside the block tree:
//! orphans, whose parent is not known yet, and stale blocks, whose branch
//! does not (yet) have more work than the best chain.

use std::collections::{HashMap, VecDeque};

use crate::hash::BlockHash;
use crate::validate::CheckedBlock;

/// Blocks held outside the block tree. Bounded by count and by bytes: when
/// either bound is passed, the oldest blocks are dropped (an orphan that
/// matters is fetched again with its next child or by anti-entropy; a stale
/// branch that grows is fetched again by catch-up). The byte bound is what
/// keeps a flood of large blocks from holding `count × max_block_bytes`.
#[derive(Debug)]
pub struct OrphanBlocks {
    blocks: HashMap<BlockHash, CheckedBlock>,
    by_parent: HashMap<BlockHash, Vec<BlockHash>>,
    order: VecDeque<BlockHash>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    evicted: u64,
}

impl OrphanBlocks {
    /// A pool holding at most `capacity` blocks of at most `max_bytes`
    /// encoded bytes in all.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            blocks: HashMap::new(),
            by_parent: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            evicted: 0,
        }
    }

    /// Whether `hash` is waiting here.
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// A block held here.
    pub fn get(&self, hash: &BlockHash) -> Option<&CheckedBlock> {
        self.blocks.get(hash)
    }

    /// The blocks held here whose parent is `parent`.
    pub fn children(&self, parent: &BlockHash) -> &[BlockHash] {
        self.by_parent.get(parent).map_or(&[], Vec::as_slice)
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Encoded bytes of the blocks held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// How many blocks were dropped to stay within the bounds.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds a block, dropping the oldest ones while either bound would be
    /// passed; returns the hashes dropped. A block larger than the byte
    /// bound on its own is not kept (it is returned as dropped).
    pub fn insert(&mut self, block: CheckedBlock) -> Vec<BlockHash> {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return Vec::new();
        }
        if block.size() > self.max_bytes {
            self.evicted += 1;
            return vec![hash];
        }
        let mut dropped = Vec::new();
        while self.blocks.len() >= self.capacity || self.bytes + block.size() > self.max_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.remove(&old).is_some() {
                self.evicted += 1;
                dropped.push(old);
            }
        }
        self.by_parent
            .entry(block.block().header.prev)
            .or_default()
            .push(hash);
        self.order.push_back(hash);
        self.bytes += block.size();
        self.blocks.insert(hash, block);
        dropped
    }

    /// Removes and returns the block `hash`.
    pub fn take(&mut self, hash: &BlockHash) -> Option<CheckedBlock> {
        let block = self.remove(hash)?;
        self.order.retain(|o| o != hash);
        Some(block)
    }

    /// The root a chain of held blocks hangs from: follows `hash`'s parents
    /// through the pool and returns the first one not in it.
    pub fn missing_root(&self, hash: &BlockHash) -> BlockHash {
        let mut cur = *hash;
        let mut steps = 0;
        while let Some(b) = self.blocks.get(&cur) {
            cur = b.block().header.prev;
            steps += 1;
            if steps > self.capacity {
                break;
            }
        }
        cur
    }

    fn remove(&mut self, hash: &BlockHash) -> Option<CheckedBlock> {
        let b = self.blocks.remove(hash)?;
        self.bytes -= b.size();
        let prev = b.block().header.prev;
        if let Some(v) = self.by_parent.get_mut(&prev) {
            v.retain(|h| h != hash);
            if v.is_empty() {
                self.by_parent.remove(&prev);
            }
        }
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Amount, BlockSpec, Network, Params, build_block, check_block};

    fn block(params: &Params, prev: BlockHash, n: u64) -> CheckedBlock {
        let mut extra = [0u8; 56];
        extra[..8].copy_from_slice(&n.to_le_bytes());
        let spec = BlockSpec {
            prev,
            height: 1,
            time: params.genesis_time + 1,
            pay_to: Address([1; 20]),
            fees: Amount::ZERO,
            extra,
        };
        check_block(build_block(params, &spec, vec![]), params, |_| false).expect("valid")
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_blocks_first() {
        let params = Params::new(Network::Regtest)
            .with_genesis_outputs(1)
            .unwrap();
        let blocks: Vec<CheckedBlock> = (0..10)
            .map(|n| block(&params, BlockHash([n as u8; 32]), n))
            .collect();
        let size = blocks[0].size();
        let mut pool = OrphanBlocks::new(100, 3 * size + size / 2);
        let hashes: Vec<BlockHash> = blocks.iter().map(CheckedBlock::hash).collect();
        for b in blocks {
            pool.insert(b);
            assert!(pool.bytes() <= 3 * size + size / 2);
        }
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.evicted(), 7);
        assert!(hashes[7..].iter().all(|h| pool.contains(h)));
        assert_eq!(pool.children(&BlockHash([9; 32])), &[hashes[9]]);
        assert!(pool.take(&hashes[9]).is_some());
        assert_eq!(pool.bytes(), 2 * size);
        assert!(pool.children(&BlockHash([9; 32])).is_empty());
    }

    #[test]
    fn the_count_bound_holds_and_a_block_over_the_byte_bound_is_not_kept() {
        let params = Params::new(Network::Regtest)
            .with_genesis_outputs(1)
            .unwrap();
        let mut pool = OrphanBlocks::new(4, 1 << 20);
        for n in 0..9 {
            pool.insert(block(&params, BlockHash([7; 32]), n));
        }
        assert_eq!(pool.len(), 4);
        let b = block(&params, BlockHash([8; 32]), 99);
        let mut tiny = OrphanBlocks::new(4, b.size() - 1);
        assert_eq!(tiny.insert(b.clone()), vec![b.hash()]);
        assert!(tiny.is_empty());
    }
}
