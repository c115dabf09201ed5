//! Persistence behind a trait ([`ChainStore`]), and the in-memory [`MemStore`].
//!
//! The chain state calls [`ChainStore::apply`] exactly once per connected or
//! disconnected block, so a durable store can make each one a single
//! atomic transaction.

use std::collections::HashMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::block::{Block, BlockHeader, Work};
use crate::hash::BlockHash;
use crate::tx::OutPoint;
use crate::utxo::{BlockUndo, Coin};

/// What the chain knows about one block: its header, place and total work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The block's hash.
    pub hash: BlockHash,
    /// Its header.
    pub header: BlockHeader,
    /// Its height (genesis is 0).
    pub height: u64,
    /// Total work of the chain ending at this block.
    pub chain_work: Work,
    /// Whether the block (or an ancestor) broke a rule. Invalid entries have no body.
    pub invalid: bool,
}

/// Whether a [`ChainUpdate`] connects or disconnects its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// The block joins the best chain; keep its undo data.
    Connect {
        /// The coins it spent, to restore on disconnect.
        undo: BlockUndo,
    },
    /// The block leaves the best chain; its undo data can go.
    Disconnect,
}

/// Everything one block connect or disconnect changes. A store applies it
/// atomically and durably.
#[derive(Debug, Clone)]
pub struct ChainUpdate<'a> {
    /// Connect (with undo data) or disconnect.
    pub kind: UpdateKind,
    /// The block being connected or disconnected.
    pub block: &'a Block,
    /// Its hash.
    pub hash: BlockHash,
    /// Its height.
    pub height: u64,
    /// The best tip after this update.
    pub new_tip: BlockHash,
    /// Coins that become unspent.
    pub created: Vec<(OutPoint, Coin)>,
    /// Coins that stop being unspent (with what they held, for indexes).
    pub spent: Vec<(OutPoint, Coin)>,
}

/// Durable storage for blocks, the block index, the UTXO set, undo data and
/// the best tip.
pub trait ChainStore {
    /// The store's I/O error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every index entry, to rebuild the in-memory block tree on open.
    ///
    /// # Errors
    /// A storage failure.
    fn load_index(&self) -> Result<Vec<IndexEntry>, Self::Error>;
    /// The best tip, or `None` for an empty store.
    ///
    /// # Errors
    /// A storage failure.
    fn tip(&self) -> Result<Option<BlockHash>, Self::Error>;
    /// A stored block body.
    ///
    /// # Errors
    /// A storage failure.
    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, Self::Error>;
    /// The undo data of a connected block.
    ///
    /// # Errors
    /// A storage failure.
    fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, Self::Error>;
    /// The unspent coins among `outpoints` (missing ones are left out).
    ///
    /// # Errors
    /// A storage failure.
    fn coins(&self, outpoints: &[OutPoint]) -> Result<HashMap<OutPoint, Coin>, Self::Error>;
    /// Stores a block body with its index entry (not yet connected).
    ///
    /// # Errors
    /// A storage failure.
    fn put_block(&mut self, entry: &IndexEntry, block: &Block) -> Result<(), Self::Error>;
    /// Writes an index entry (for example, to mark it invalid).
    ///
    /// # Errors
    /// A storage failure.
    fn put_index(&mut self, entry: &IndexEntry) -> Result<(), Self::Error>;
    /// Applies one connect or disconnect atomically.
    ///
    /// # Errors
    /// A storage failure; the store must then be unchanged.
    fn apply(&mut self, update: &ChainUpdate<'_>) -> Result<(), Self::Error>;
}

/// A [`ChainStore`] in memory, for tests, benches and simulations.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    index: HashMap<BlockHash, IndexEntry>,
    blocks: HashMap<BlockHash, Block>,
    undo: HashMap<BlockHash, BlockUndo>,
    coins: HashMap<OutPoint, Coin>,
    tip: Option<BlockHash>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The whole UTXO set (for tests that compare states).
    pub fn utxo_set(&self) -> &HashMap<OutPoint, Coin> {
        &self.coins
    }
}

impl ChainStore for MemStore {
    type Error = Infallible;

    fn load_index(&self) -> Result<Vec<IndexEntry>, Infallible> {
        Ok(self.index.values().copied().collect())
    }
    fn tip(&self) -> Result<Option<BlockHash>, Infallible> {
        Ok(self.tip)
    }
    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, Infallible> {
        Ok(self.blocks.get(hash).cloned())
    }
    fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, Infallible> {
        Ok(self.undo.get(hash).cloned())
    }
    fn coins(&self, outpoints: &[OutPoint]) -> Result<HashMap<OutPoint, Coin>, Infallible> {
        Ok(outpoints
            .iter()
            .filter_map(|op| self.coins.get(op).map(|c| (*op, *c)))
            .collect())
    }
    fn put_block(&mut self, entry: &IndexEntry, block: &Block) -> Result<(), Infallible> {
        self.index.insert(entry.hash, *entry);
        self.blocks.insert(entry.hash, block.clone());
        Ok(())
    }
    fn put_index(&mut self, entry: &IndexEntry) -> Result<(), Infallible> {
        self.index.insert(entry.hash, *entry);
        Ok(())
    }
    fn apply(&mut self, update: &ChainUpdate<'_>) -> Result<(), Infallible> {
        for (op, _) in &update.spent {
            self.coins.remove(op);
        }
        for (op, coin) in &update.created {
            self.coins.insert(*op, *coin);
        }
        match &update.kind {
            UpdateKind::Connect { undo } => {
                self.undo.insert(update.hash, undo.clone());
            }
            UpdateKind::Disconnect => {
                self.undo.remove(&update.hash);
            }
        }
        self.tip = Some(update.new_tip);
        Ok(())
    }
}
