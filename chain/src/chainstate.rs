//! [`ChainState`]: the block tree, the best chain, and the UTXO set behind a
//! [`ChainStore`], with reorgs of any depth and an orphan pool.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::block::{Block, BlockHeader, Work};
use crate::hash::BlockHash;
use crate::orphans::OrphanBlocks;
use crate::params::Params;
use crate::store::{ChainStore, ChainUpdate, IndexEntry, UpdateKind};
use crate::tx::{OutPoint, Transaction};
use crate::utxo::{BlockUndo, Coin, CoinCache};
use crate::validate::{BlockError, CheckedBlock, check_block, check_tx_inputs, median_time};

/// How many blocks are held outside the block tree (orphans and stale
/// blocks) at most.
pub const MAX_ORPHAN_BLOCKS: usize = 100;
/// How many bytes of blocks are held outside the block tree at most: eight
/// of the largest blocks, far below `MAX_ORPHAN_BLOCKS` of them.
pub const MAX_ORPHAN_BLOCK_BYTES: usize = 32 << 20;

/// Why a store could not be opened as this network's chain.
#[derive(Debug, thiserror::Error)]
pub enum OpenError<E: std::error::Error + 'static> {
    /// The store belongs to a chain with another genesis block.
    #[error("the store holds another network's chain (genesis {found}, expected {expected})")]
    WrongNetwork {
        /// This network's genesis.
        expected: BlockHash,
        /// The store's genesis.
        found: BlockHash,
    },
    /// The store is internally inconsistent.
    #[error("the chain store is corrupt: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error("chain store: {0}")]
    Store(#[source] E),
}

/// Why a block was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptBlockError<E: std::error::Error + 'static> {
    /// The block broke a rule (see [`BlockError::is_temporary`]).
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// The store failed; the chain state is unchanged.
    #[error("chain store: {0}")]
    Store(#[source] E),
    /// The store lacks data it must have (a body or undo data of an indexed block).
    #[error("chain store is corrupt: {0}")]
    Corrupt(String),
}

/// What happened to an accepted block.
#[derive(Debug, Clone, Default)]
pub struct BlockAccepted {
    /// Blocks newly stored in the block tree (this one, then any orphans it
    /// adopted), in the order they were stored.
    pub stored: Vec<BlockHash>,
    /// Blocks that left the best chain, tip first.
    pub disconnected: Vec<Arc<Block>>,
    /// Blocks that joined the best chain, in height order.
    pub connected: Vec<Arc<Block>>,
    /// Blocks that turned out invalid while connecting (the best chain was
    /// restored), with the rule they broke.
    pub invalid: Vec<(BlockHash, BlockError)>,
}

impl BlockAccepted {
    /// Whether the best tip moved.
    pub fn tip_changed(&self) -> bool {
        !self.connected.is_empty() || !self.disconnected.is_empty()
    }
}

/// The outcome of [`ChainState::accept_block`].
#[derive(Debug, Clone)]
pub enum AcceptOutcome {
    /// The block was already in the block tree or the orphan pool.
    AlreadyKnown,
    /// The parent is unknown; the block waits in the orphan pool. Fetch `missing`.
    Orphan {
        /// The first unknown ancestor.
        missing: BlockHash,
    },
    /// The block's branch has no more work than the best chain: it is
    /// held aside (bounded, not stored) until a descendant makes its
    /// branch the best, and is not to be relayed.
    Stale,
    /// The block (and possibly held blocks it completes a branch with) was stored.
    Accepted(BlockAccepted),
}

/// The block tree, best chain and UTXO set.
#[derive(Debug)]
pub struct ChainState<S: ChainStore> {
    params: Params,
    store: S,
    index: HashMap<BlockHash, IndexEntry>,
    active: Vec<BlockHash>,
    orphans: OrphanBlocks,
    genesis: BlockHash,
}

impl<S: ChainStore> ChainState<S> {
    /// Opens `store` as `params`' chain. An empty store is initialised with the
    /// genesis block; a non-empty one is checked for consistency.
    ///
    /// # Errors
    /// [`OpenError`]: another network's chain, corruption, or a store failure.
    pub fn open(params: Params, mut store: S) -> Result<Self, OpenError<S::Error>> {
        let genesis_block = params.genesis_block();
        let genesis = genesis_block.hash();
        let tip = store.tip().map_err(OpenError::Store)?;
        if tip.is_none() {
            let entry = IndexEntry {
                hash: genesis,
                header: genesis_block.header,
                height: 0,
                chain_work: genesis_block.header.target.work(),
                invalid: false,
            };
            store
                .put_block(&entry, &genesis_block)
                .map_err(OpenError::Store)?;
            let coinbase = &genesis_block.txs[0];
            let txid = coinbase.txid();
            let mut cache = CoinCache::default();
            cache.add_outputs(coinbase, txid, 0);
            let (created, _) = cache.into_changes();
            store
                .apply(&ChainUpdate {
                    kind: UpdateKind::Connect {
                        undo: BlockUndo::default(),
                    },
                    block: &genesis_block,
                    hash: genesis,
                    height: 0,
                    new_tip: genesis,
                    created,
                    spent: Vec::new(),
                })
                .map_err(OpenError::Store)?;
        }
        let entries = store.load_index().map_err(OpenError::Store)?;
        let index: HashMap<BlockHash, IndexEntry> =
            entries.into_iter().map(|e| (e.hash, e)).collect();
        let tip = store
            .tip()
            .map_err(OpenError::Store)?
            .ok_or_else(|| OpenError::Corrupt("no tip after initialisation".into()))?;
        // Walk from the tip to genesis to rebuild the active chain.
        let mut active = Vec::new();
        let mut cur = tip;
        loop {
            let entry = index.get(&cur).ok_or_else(|| {
                OpenError::Corrupt(format!("block {cur} on the best chain is not indexed"))
            })?;
            if entry.invalid {
                return Err(OpenError::Corrupt(format!(
                    "best-chain block {cur} is marked invalid"
                )));
            }
            active.push(cur);
            if entry.height == 0 {
                break;
            }
            let parent = entry.header.prev;
            match index.get(&parent) {
                Some(p) if p.height + 1 == entry.height => cur = parent,
                _ => {
                    return Err(OpenError::Corrupt(format!(
                        "block {cur} has a bad parent link"
                    )));
                }
            }
        }
        active.reverse();
        if active[0] != genesis {
            return Err(OpenError::WrongNetwork {
                expected: genesis,
                found: active[0],
            });
        }
        if active.len() as u64 != index[&tip].height + 1 {
            return Err(OpenError::Corrupt(
                "best chain heights are not contiguous".into(),
            ));
        }
        let mut state = Self {
            params,
            store,
            index,
            active,
            orphans: OrphanBlocks::new(MAX_ORPHAN_BLOCKS, MAX_ORPHAN_BLOCK_BYTES),
            genesis,
        };
        // A crash between storing a block and connecting it leaves a stored
        // block with more work than the tip: finish the job now, or the
        // block would stay unconnected until a child arrived.
        let best = state
            .index
            .values()
            .filter(|e| !e.invalid)
            .max_by_key(|e| e.chain_work)
            .copied();
        if let Some(best) = best
            && best.chain_work > state.tip().chain_work
        {
            let mut result = BlockAccepted::default();
            state
                .activate(best.hash, &HashMap::new(), &mut result, &mut |_| {})
                .map_err(|e| match e {
                    AcceptBlockError::Store(e) => OpenError::Store(e),
                    other => OpenError::Corrupt(other.to_string()),
                })?;
        }
        Ok(state)
    }

    /// The network parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The genesis block's hash.
    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis
    }

    /// The best tip's index entry.
    pub fn tip(&self) -> &IndexEntry {
        &self.index[self.active.last().expect("genesis is always active")]
    }

    /// The best tip's height.
    pub fn height(&self) -> u64 {
        self.active.len() as u64 - 1
    }

    /// The index entry of `hash`, if known.
    pub fn entry(&self, hash: &BlockHash) -> Option<&IndexEntry> {
        self.index.get(hash)
    }

    /// Whether `hash` is in the block tree (valid or not) or the orphan pool.
    pub fn knows(&self, hash: &BlockHash) -> bool {
        self.index.contains_key(hash) || self.orphans.contains(hash)
    }

    /// The best-chain block at `height`.
    pub fn hash_at(&self, height: u64) -> Option<BlockHash> {
        self.active.get(usize::try_from(height).ok()?).copied()
    }

    /// Whether `hash` is on the best chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .is_some_and(|e| self.hash_at(e.height) == Some(*hash))
    }

    /// Whether `hash` is held aside as stale: in the pool, on a branch
    /// that hangs from the block tree (an orphan's branch does not).
    pub fn is_stale_held(&self, hash: &BlockHash) -> bool {
        self.orphans.contains(hash) && self.index.contains_key(&self.orphans.missing_root(hash))
    }

    /// The pool of blocks held outside the block tree (orphans and stale
    /// blocks).
    pub fn orphans(&self) -> &OrphanBlocks {
        &self.orphans
    }

    /// A stored block body.
    ///
    /// # Errors
    /// A store failure.
    pub fn block(&self, hash: &BlockHash) -> Result<Option<Block>, S::Error> {
        self.store.block(hash)
    }

    /// Looks up unspent coins in the best chain's UTXO set.
    ///
    /// # Errors
    /// A store failure.
    pub fn coins(&self, outpoints: &[OutPoint]) -> Result<HashMap<OutPoint, Coin>, S::Error> {
        self.store.coins(outpoints)
    }

    /// The median time of the (up to) `median_time_span` blocks ending at `hash`.
    pub fn median_time_past(&self, hash: &BlockHash) -> u64 {
        let mut times = Vec::with_capacity(self.params.median_time_span);
        let mut cur = self.index.get(hash);
        while let Some(e) = cur {
            times.push(e.header.time);
            if times.len() == self.params.median_time_span || e.height == 0 {
                break;
            }
            cur = self.index.get(&e.header.prev);
        }
        median_time(&mut times)
    }

    /// A block locator for the best chain: the last 10 hashes, then
    /// exponentially sparser ones, ending with genesis.
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut out = Vec::new();
        let mut h = self.height() as i64;
        let mut step = 1i64;
        while h > 0 {
            out.push(self.active[h as usize]);
            if out.len() >= 10 {
                step *= 2;
            }
            h -= step;
        }
        out.push(self.genesis);
        out
    }

    /// The height of the first `locator` hash on the best chain (the fork
    /// point with the peer that sent it); 0 if none is.
    pub fn locate(&self, locator: &[BlockHash]) -> u64 {
        locator
            .iter()
            .find(|h| self.is_active(h))
            .map_or(0, |h| self.index[h].height)
    }

    /// Up to `max` best-chain hashes after the fork point with `locator`.
    pub fn hashes_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHash> {
        let start = self.locate(locator) as usize + 1;
        self.active.iter().skip(start).take(max).copied().collect()
    }

    /// Up to `max` best-chain headers after the fork point with `locator`.
    pub fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        self.hashes_after(locator, max)
            .iter()
            .map(|h| self.index[h].header)
            .collect()
    }

    /// Decodes nothing and trusts nothing: runs the context-free block rules
    /// (see [`check_block`]) and then [`ChainState::accept_block`].
    ///
    /// # Errors
    /// See [`AcceptBlockError`].
    pub fn process_block(
        &mut self,
        block: Block,
        now_ms: u64,
    ) -> Result<AcceptOutcome, AcceptBlockError<S::Error>> {
        let checked = check_block(block, &self.params, |_| false)?;
        self.accept_block(checked, now_ms)
    }

    /// Accepts a block that passed the context-free rules. A block whose
    /// branch (with any held descendants) has more work than the best chain
    /// is stored with that branch, which becomes the best chain
    /// (reorganising if needed). Otherwise the block is held aside in the
    /// bounded pool with the orphans ([`AcceptOutcome::Stale`]): side
    /// branches that do not become best are never stored.
    ///
    /// # Errors
    /// [`AcceptBlockError::Invalid`] if the block itself breaks a contextual
    /// rule checked before storing (time, coinbase height, invalid parent).
    /// Rules found broken while connecting are reported in
    /// [`BlockAccepted::invalid`]. [`AcceptBlockError::Store`] on I/O failure.
    pub fn accept_block(
        &mut self,
        block: CheckedBlock,
        now_ms: u64,
    ) -> Result<AcceptOutcome, AcceptBlockError<S::Error>> {
        self.accept_block_with(block, now_ms, &mut |_| {})
    }

    /// [`ChainState::accept_block`], calling `on_valid` with each block that
    /// joins the best chain as soon as connecting it has passed every rule
    /// (its inputs exist and are unspent, its amounts and its coinbase add
    /// up), before its changes are written to the store: a node can relay a
    /// fully validated block while the store is still writing it. A block
    /// named there is valid whatever happens next (a later block of the same
    /// branch may still fail, and a store failure stops the caller).
    ///
    /// # Errors
    /// See [`ChainState::accept_block`].
    pub fn accept_block_with(
        &mut self,
        block: CheckedBlock,
        now_ms: u64,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Result<AcceptOutcome, AcceptBlockError<S::Error>> {
        let hash = block.hash();
        if self.knows(&hash) {
            return Ok(AcceptOutcome::AlreadyKnown);
        }
        let prev = block.block().header.prev;
        if self.index.contains_key(&prev) {
            // The rules that need the parent, before the block is held or
            // stored: a block that breaks them is refused (and remembered),
            // never held aside as if it were merely stale.
            self.check_contextual(&block, now_ms)?;
        }
        self.orphans.insert(block);
        let root = self.orphans.missing_root(&prev);
        if !self.index.contains_key(&root) {
            return Ok(AcceptOutcome::Orphan { missing: root });
        }
        let mut result = BlockAccepted::default();
        // The blocks stored here, so that connecting them need not read
        // them back from the store.
        let mut fresh = HashMap::new();
        // Store a held branch only once it has more work than the best
        // chain, and then only the path to its best block: side branches
        // that do not become best are not written (Bitcoin Core does not
        // process less-work chains either), so cheap blocks cannot fill the
        // disk. If the branch turns out invalid while connecting (it is then
        // marked so), try the next best: another held branch may still beat
        // the tip, from any block stored on the way. Each pass takes at
        // least one block out of the pool.
        let mut roots = vec![root];
        while let Some((work, path)) = roots
            .iter()
            .filter_map(|r| self.best_held_path(r))
            .max_by_key(|(work, _)| *work)
        {
            if work <= self.tip().chain_work {
                break;
            }
            let mut last = None;
            for h in path {
                let Some(b) = self.orphans.take(&h) else {
                    break;
                };
                match self.store_block(&b, now_ms) {
                    Ok(()) => {
                        result.stored.push(h);
                        fresh.insert(h, b.shared());
                        roots.push(h);
                        last = Some(h);
                    }
                    Err(AcceptBlockError::Invalid(e)) => {
                        result.invalid.push((h, e));
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(best) = last
                && self.index[&best].chain_work > self.tip().chain_work
            {
                self.activate(best, &fresh, &mut result, on_valid)?;
            }
        }
        if self.orphans.contains(&hash) && result.stored.is_empty() && result.invalid.is_empty() {
            return Ok(AcceptOutcome::Stale);
        }
        Ok(AcceptOutcome::Accepted(result))
    }

    /// The held branch hanging from the stored block `root` with the most
    /// work: its chain work and the path from `root` (exclusive) to its
    /// best block. `None` when no held block hangs from `root`.
    fn best_held_path(&self, root: &BlockHash) -> Option<(Work, Vec<BlockHash>)> {
        let base = self.index.get(root)?.chain_work;
        let mut best: Option<(Work, Vec<BlockHash>)> = None;
        let mut stack = vec![(*root, base, Vec::new())];
        while let Some((h, work, path)) = stack.pop() {
            for child in self.orphans.children(&h) {
                let Some(b) = self.orphans.get(child) else {
                    continue;
                };
                let w = work.saturating_add(b.block().header.target.work());
                let mut p = path.clone();
                p.push(*child);
                if best.as_ref().is_none_or(|(bw, _)| w > *bw) {
                    best = Some((w, p.clone()));
                }
                stack.push((*child, w, p));
            }
        }
        best
    }

    /// The rules that need the parent (which must be indexed): time within
    /// bounds, coinbase height, a valid parent. A block from the future is
    /// refused without a trace (it may be valid later); one that breaks
    /// another rule is indexed as invalid.
    fn check_contextual(
        &mut self,
        block: &CheckedBlock,
        now_ms: u64,
    ) -> Result<IndexEntry, AcceptBlockError<S::Error>> {
        let header = block.block().header;
        let parent = self.index[&header.prev];
        let hash = block.hash();
        let height = parent.height + 1;
        let mut entry = IndexEntry {
            hash,
            header,
            height,
            chain_work: parent.chain_work.saturating_add(header.target.work()),
            invalid: false,
        };
        let max_time = now_ms.saturating_add(self.params.max_future_block_time_ms);
        if header.time > max_time {
            // Temporary: not recorded, so the same block can be accepted later.
            return Err(BlockError::TimeTooNew {
                time: header.time,
                max: max_time,
            }
            .into());
        }
        let rule = if parent.invalid {
            Some(BlockError::InvalidAncestor(parent.hash))
        } else {
            let median = self.median_time_past(&parent.hash);
            let found = block.block().txs[0].coinbase_height();
            if header.time <= median {
                Some(BlockError::TimeTooOld {
                    time: header.time,
                    median,
                })
            } else if found != Some(height) {
                Some(BlockError::BadCoinbaseHeight {
                    expected: height,
                    found,
                })
            } else {
                None
            }
        };
        if let Some(rule) = rule {
            entry.invalid = true;
            self.store
                .put_index(&entry)
                .map_err(AcceptBlockError::Store)?;
            self.index.insert(hash, entry);
            return Err(rule.into());
        }
        Ok(entry)
    }

    /// Checks the rules that need the parent, then stores the block.
    fn store_block(
        &mut self,
        block: &CheckedBlock,
        now_ms: u64,
    ) -> Result<(), AcceptBlockError<S::Error>> {
        let entry = self.check_contextual(block, now_ms)?;
        self.store
            .put_block(&entry, block.block())
            .map_err(AcceptBlockError::Store)?;
        self.index.insert(entry.hash, entry);
        Ok(())
    }

    /// Reorganises the best chain to end at `target`. If a block on the way
    /// breaks a rule, it and its descendants are marked invalid and the old
    /// best chain is restored. `fresh` holds blocks just stored (read from
    /// the store otherwise); `on_valid` hears of each block of the new
    /// branch that passed its connect rules, before it is written.
    fn activate(
        &mut self,
        target: BlockHash,
        fresh: &HashMap<BlockHash, Arc<Block>>,
        result: &mut BlockAccepted,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Result<(), AcceptBlockError<S::Error>> {
        // The branch from the fork point (exclusive) up to target.
        let mut branch = Vec::new();
        let mut cur = target;
        while !self.is_active(&cur) {
            branch.push(cur);
            cur = self.index[&cur].header.prev;
        }
        branch.reverse();
        let fork_height = self.index[&cur].height;

        let mut disconnected = Vec::new();
        while self.height() > fork_height {
            disconnected.push(self.disconnect_tip()?);
        }
        let mut connected = Vec::new();
        for (i, hash) in branch.iter().enumerate() {
            match self.connect(hash, fresh.get(hash).cloned(), on_valid)? {
                Ok(block) => connected.push(block),
                Err(rule) => {
                    for bad in &branch[i..] {
                        let mut e = self.index[bad];
                        e.invalid = true;
                        self.store.put_index(&e).map_err(AcceptBlockError::Store)?;
                        self.index.insert(*bad, e);
                    }
                    result.invalid.push((*hash, rule));
                    // Restore the old best chain.
                    for _ in 0..connected.len() {
                        self.disconnect_tip()?;
                    }
                    for block in disconnected.iter().rev() {
                        let h = Block::hash(block);
                        match self.connect(&h, Some(Arc::clone(block)), &mut |_| {})? {
                            Ok(_) => {}
                            Err(rule) => {
                                // A block that was connected before cannot become
                                // invalid; if the store says otherwise it is corrupt.
                                result.invalid.push((h, rule));
                                break;
                            }
                        }
                    }
                    return Ok(());
                }
            }
        }
        result.disconnected.extend(disconnected);
        result.connected.extend(connected);
        Ok(())
    }

    /// Connects the stored block `hash` (`block`, when the caller has its
    /// body at hand) on top of the tip, calling `on_valid` once every rule
    /// passed and before the store writes it. The outer result is a store
    /// failure; the inner one a broken rule (nothing was written).
    fn connect(
        &mut self,
        hash: &BlockHash,
        block: Option<Arc<Block>>,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Result<Result<Arc<Block>, BlockError>, AcceptBlockError<S::Error>> {
        let entry = self.index[hash];
        let block = match block {
            Some(b) => b,
            None => Arc::new(
                self.store
                    .block(hash)
                    .map_err(AcceptBlockError::Store)?
                    .ok_or_else(|| {
                        AcceptBlockError::Corrupt(format!("block {hash} has no body"))
                    })?,
            ),
        };
        let outpoints: Vec<OutPoint> = block
            .txs
            .iter()
            .skip(1)
            .flat_map(|tx| tx.inputs.iter().map(|i| i.prev))
            .collect();
        let base = self
            .store
            .coins(&outpoints)
            .map_err(AcceptBlockError::Store)?;
        let mut cache = CoinCache::new(base);
        let height = entry.height;
        let mut fees = crate::Amount::ZERO;
        for (index, tx) in block.txs.iter().enumerate() {
            let txid = tx.txid();
            if index > 0 {
                let fee = match check_tx_inputs(tx, &cache, height, &self.params) {
                    Ok(fee) => fee,
                    Err(error) => return Ok(Err(BlockError::Inputs { index, error })),
                };
                fees = match fees.checked_add(fee) {
                    Some(f) => f,
                    None => return Ok(Err(BlockError::FeesOverflow)),
                };
                for input in &tx.inputs {
                    cache.spend(&input.prev).expect("checked unspent above");
                }
            }
            cache.add_outputs(tx, txid, height);
        }
        let allowed = match self.params.subsidy(height).checked_add(fees) {
            Some(a) => a,
            None => return Ok(Err(BlockError::FeesOverflow)),
        };
        let paid = block.txs[0].output_total().expect("checked by check_block");
        if paid > allowed {
            return Ok(Err(BlockError::CoinbaseTooLarge { paid, allowed }));
        }
        on_valid(*hash);
        let (created, spent) = cache.into_changes();
        let update = ChainUpdate {
            kind: UpdateKind::Connect {
                undo: BlockUndo {
                    spent: spent.clone(),
                },
            },
            block: &block,
            hash: *hash,
            height,
            new_tip: *hash,
            created,
            spent,
        };
        self.store.apply(&update).map_err(AcceptBlockError::Store)?;
        self.active.push(*hash);
        Ok(Ok(block))
    }

    /// Disconnects the best tip, restoring the coins it spent.
    fn disconnect_tip(&mut self) -> Result<Arc<Block>, AcceptBlockError<S::Error>> {
        let hash = *self.active.last().expect("genesis is always active");
        debug_assert!(self.active.len() > 1, "genesis is never disconnected");
        let entry = self.index[&hash];
        let block = self
            .store
            .block(&hash)
            .map_err(AcceptBlockError::Store)?
            .ok_or_else(|| AcceptBlockError::Corrupt(format!("block {hash} has no body")))?;
        let undo = self
            .store
            .undo(&hash)
            .map_err(AcceptBlockError::Store)?
            .ok_or_else(|| AcceptBlockError::Corrupt(format!("block {hash} has no undo data")))?;
        let spent_in_block: HashSet<OutPoint> = block
            .txs
            .iter()
            .skip(1)
            .flat_map(|tx| tx.inputs.iter().map(|i| i.prev))
            .collect();
        let mut removed = Vec::new();
        for tx in &block.txs {
            let txid = tx.txid();
            for (vout, output) in tx.outputs.iter().enumerate() {
                let op = OutPoint::new(txid, vout as u32);
                if !spent_in_block.contains(&op) {
                    removed.push((
                        op,
                        Coin {
                            output: *output,
                            height: entry.height,
                            coinbase: Transaction::is_coinbase(tx),
                        },
                    ));
                }
            }
        }
        let new_tip = self.active[self.active.len() - 2];
        let update = ChainUpdate {
            kind: UpdateKind::Disconnect,
            block: &block,
            hash,
            height: entry.height,
            new_tip,
            created: undo.spent,
            spent: removed,
        };
        self.store.apply(&update).map_err(AcceptBlockError::Store)?;
        self.active.pop();
        Ok(Arc::new(block))
    }
}
