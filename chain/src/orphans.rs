//! [`OrphanBlocks`]: a bounded pool of blocks whose parent is not known yet.

use std::collections::{HashMap, VecDeque};

use crate::hash::BlockHash;
use crate::validate::CheckedBlock;

/// Blocks waiting for their parent. Bounded: when full, the oldest orphan is
/// dropped (anti-entropy fetches it again later if it matters).
#[derive(Debug)]
pub struct OrphanBlocks {
    blocks: HashMap<BlockHash, CheckedBlock>,
    by_parent: HashMap<BlockHash, Vec<BlockHash>>,
    order: VecDeque<BlockHash>,
    capacity: usize,
    evicted: u64,
}

impl OrphanBlocks {
    /// A pool holding at most `capacity` blocks.
    pub fn new(capacity: usize) -> Self {
        Self {
            blocks: HashMap::new(),
            by_parent: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    /// Whether `hash` is waiting here.
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Number of orphans held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// How many orphans were dropped to stay within capacity.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds an orphan; returns the hash evicted to make room, if any.
    pub fn insert(&mut self, block: CheckedBlock) -> Option<BlockHash> {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return None;
        }
        let mut dropped = None;
        if self.blocks.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.remove(&old);
            self.evicted += 1;
            dropped = Some(old);
        }
        self.by_parent
            .entry(block.block().header.prev)
            .or_default()
            .push(hash);
        self.order.push_back(hash);
        self.blocks.insert(hash, block);
        dropped
    }

    /// Removes and returns the orphans whose parent is `parent`.
    pub fn take_children(&mut self, parent: &BlockHash) -> Vec<CheckedBlock> {
        let Some(children) = self.by_parent.remove(parent) else {
            return Vec::new();
        };
        children
            .into_iter()
            .filter_map(|h| {
                self.order.retain(|o| *o != h);
                self.blocks.remove(&h)
            })
            .collect()
    }

    /// The root a chain of orphans is waiting for: follows `hash`'s parents
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

    fn remove(&mut self, hash: &BlockHash) {
        if let Some(b) = self.blocks.remove(hash) {
            let prev = b.block().header.prev;
            if let Some(v) = self.by_parent.get_mut(&prev) {
                v.retain(|h| h != hash);
                if v.is_empty() {
                    self.by_parent.remove(&prev);
                }
            }
        }
    }
}
