//! [`Mempool`]: unconfirmed transactions, with Bitcoin-like relay policy.
//!
//! - First seen wins: a transaction spending an outpoint some pool
//!   transaction already spends is refused (no replace-by-fee).
//! - Unconfirmed chains are allowed up to [`MempoolConfig::max_depth`].
//! - The pool is bounded in bytes; when full it evicts the lowest fee-rate
//!   transaction together with its descendants.
//! - Transactions with unknown inputs wait in a bounded, expiring orphan pool.
//! - Connecting a block removes its transactions and their conflicts;
//!   transactions of disconnected blocks can be offered again, and
//!   [`Mempool::remove_unspendable`] drops what a reorg left without inputs.
//! - Block templates take transactions by fee rate, parents first.
//! - A digest of the sorted short ids, and the short-id list, serve anti-entropy.

mod orphans;

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::amount::Amount;
use crate::block::Block;
use crate::hash::{Hash256, Txid, sha256d};
use crate::params::Params;
use crate::tx::{OutPoint, Transaction};
use crate::utxo::{Coin, UtxoView};
use crate::validate::{CheckedTx, InputError, check_tx_inputs};

pub use orphans::{OrphanTxs, Source};

/// Mempool limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MempoolConfig {
    /// Total encoded bytes of pool transactions before eviction starts. Default 64 MiB.
    pub max_bytes: usize,
    /// The longest chain of unconfirmed transactions (a tx with no pool parent has depth 1). Default 25.
    pub max_depth: u32,
    /// Orphan transactions held at most. Default 100.
    pub max_orphans: usize,
    /// How long an orphan is held, in ms. Default 20 minutes.
    pub orphan_ttl_ms: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_depth: 25,
            max_orphans: 100,
            orphan_ttl_ms: 20 * 60 * 1000,
        }
    }
}

/// Why a transaction was not accepted into the pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MempoolError {
    /// Already in the pool.
    #[error("transaction already in the mempool")]
    AlreadyInPool,
    /// Spends an outpoint that a pool transaction already spends (first seen wins).
    #[error("spends {outpoint}, already spent by pool transaction {by}")]
    Conflict {
        /// The contested outpoint.
        outpoint: OutPoint,
        /// The pool transaction spending it.
        by: Txid,
    },
    /// Some inputs are unknown; the transaction waits in the orphan pool.
    #[error("missing inputs from {} parent transaction(s); held as an orphan", parents.len())]
    MissingInputs {
        /// The unknown parents.
        parents: Vec<Txid>,
    },
    /// Breaks a contextual consensus rule.
    #[error(transparent)]
    Invalid(#[from] InputError),
    /// Pays less than the minimum relay fee.
    #[error("fee {fee} is below the minimum {required}")]
    FeeTooLow {
        /// The fee paid.
        fee: Amount,
        /// min relay fee × size.
        required: Amount,
    },
    /// Would make an unconfirmed chain deeper than allowed.
    #[error("unconfirmed chain depth {depth} exceeds {max}")]
    TooLongChain {
        /// The depth it would have.
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// The pool is full of transactions paying a higher fee rate.
    #[error("mempool full: fee rate too low to enter")]
    MempoolFull,
}

impl MempoolError {
    /// Whether the failure is policy or circumstance rather than an invalid
    /// transaction. Policy failures must never be punished.
    pub fn is_policy(&self) -> bool {
        !matches!(
            self,
            Self::Invalid(
                InputError::KeyMismatch { .. }
                    | InputError::InputsOverflow
                    | InputError::OutputsExceedInputs { .. }
            )
        )
    }
}

/// A transaction accepted into the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxAccepted {
    /// Its id.
    pub txid: Txid,
    /// Its fee.
    pub fee: Amount,
    /// Transactions evicted to make room.
    pub evicted: Vec<Txid>,
    /// Orphans that entered the pool because this one supplied their inputs.
    pub adopted: Vec<Txid>,
}

/// Fee per byte, in thousandths of a base unit, for ordering.
type FeeRate = u64;

fn fee_rate(fee: Amount, size: usize) -> FeeRate {
    (fee.units() as u128 * 1000 / size.max(1) as u128).min(u64::MAX as u128) as u64
}

/// One pool transaction and its relations.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: CheckedTx,
    /// Its fee.
    pub fee: Amount,
    /// When it entered the pool (Unix ms).
    pub time_ms: u64,
    /// Length of the longest chain of pool ancestors, itself included.
    pub depth: u32,
    /// Pool transactions it spends from.
    pub parents: HashSet<Txid>,
    /// Pool transactions spending from it.
    pub children: HashSet<Txid>,
}

impl MempoolEntry {
    /// Fee rate in thousandths of a unit per byte.
    pub fn fee_rate(&self) -> u64 {
        fee_rate(self.fee, self.tx.size())
    }
}

/// The mempool.
#[derive(Debug)]
pub struct Mempool {
    params: Params,
    config: MempoolConfig,
    entries: HashMap<Txid, MempoolEntry>,
    by_fee_rate: BTreeSet<(FeeRate, Txid)>,
    spends: HashMap<OutPoint, Txid>,
    short_ids: BTreeSet<(u64, Txid)>,
    bytes: usize,
    orphans: OrphanTxs,
    evicted_total: u64,
}

/// Coins as the pool sees them: pool outputs first, then the chain's.
struct PoolView<'a, V: UtxoView> {
    pool: &'a Mempool,
    chain: &'a V,
    next_height: u64,
}

impl<V: UtxoView> UtxoView for PoolView<'_, V> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(entry) = self.pool.entries.get(&outpoint.txid) {
            return entry
                .tx
                .tx()
                .outputs
                .get(outpoint.vout as usize)
                .map(|o| Coin {
                    output: *o,
                    height: self.next_height,
                    coinbase: false,
                });
        }
        self.chain.coin(outpoint)
    }
}

impl Mempool {
    /// An empty pool for `params` with `config` limits.
    pub fn new(params: Params, config: MempoolConfig) -> Self {
        let orphans = OrphanTxs::new(config.max_orphans, config.orphan_ttl_ms);
        Self {
            params,
            config,
            entries: HashMap::new(),
            by_fee_rate: BTreeSet::new(),
            spends: HashMap::new(),
            short_ids: BTreeSet::new(),
            bytes: 0,
            orphans,
            evicted_total: 0,
        }
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Total encoded bytes of the pool's transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The limits.
    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }
    /// Whether `txid` is in the pool.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }
    /// A pool entry.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }
    /// All txids, in no particular order.
    pub fn txids(&self) -> impl Iterator<Item = &Txid> {
        self.entries.keys()
    }
    /// The orphan pool.
    pub fn orphans(&self) -> &OrphanTxs {
        &self.orphans
    }
    /// Drops the orphans `from` sent (it went away); returns how many.
    pub fn forget_orphans_from(&mut self, from: Source) -> usize {
        self.orphans.erase_from(from)
    }
    /// How many transactions were evicted for space, ever.
    pub fn evicted_total(&self) -> u64 {
        self.evicted_total
    }
    /// The pool transaction spending `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// Offers a transaction (context-free checks done) to the pool. `chain`
    /// is the best chain's UTXO set, at least for this transaction's inputs;
    /// `tip_height` is the best chain's height. Orphans it completes are
    /// adopted and reported in [`TxAccepted::adopted`].
    ///
    /// # Errors
    /// [`MempoolError`]; with [`MempoolError::MissingInputs`] the transaction
    /// is held as an orphan.
    pub fn accept(
        &mut self,
        tx: CheckedTx,
        chain: &impl UtxoView,
        tip_height: u64,
        now_ms: u64,
    ) -> Result<TxAccepted, MempoolError> {
        self.accept_from(tx, None, chain, tip_height, now_ms)
    }

    /// [`Mempool::accept`] for a transaction from `from` (a peer): if it is
    /// held as an orphan, it is accounted to `from` (see [`OrphanTxs`]).
    ///
    /// # Errors
    /// As [`Mempool::accept`].
    pub fn accept_from(
        &mut self,
        tx: CheckedTx,
        from: Option<Source>,
        chain: &impl UtxoView,
        tip_height: u64,
        now_ms: u64,
    ) -> Result<TxAccepted, MempoolError> {
        self.orphans.expire(now_ms);
        let mut accepted = self.accept_one(tx, from, chain, tip_height, now_ms)?;
        let mut queue = vec![accepted.txid];
        while let Some(parent) = queue.pop() {
            for (orphan, source) in self.orphans.take_waiting_on(&parent) {
                if let Ok(a) = self.accept_one(orphan, source, chain, tip_height, now_ms) {
                    queue.push(a.txid);
                    accepted.adopted.push(a.txid);
                    accepted.evicted.extend(a.evicted);
                }
            }
        }
        Ok(accepted)
    }

    fn accept_one(
        &mut self,
        tx: CheckedTx,
        from: Option<Source>,
        chain: &impl UtxoView,
        tip_height: u64,
        now_ms: u64,
    ) -> Result<TxAccepted, MempoolError> {
        let txid = tx.txid();
        if self.entries.contains_key(&txid) {
            return Err(MempoolError::AlreadyInPool);
        }
        for input in &tx.tx().inputs {
            if let Some(by) = self.spends.get(&input.prev) {
                return Err(MempoolError::Conflict {
                    outpoint: input.prev,
                    by: *by,
                });
            }
        }
        let next_height = tip_height + 1;
        let view = PoolView {
            pool: self,
            chain,
            next_height,
        };
        let mut missing: Vec<Txid> = tx
            .tx()
            .inputs
            .iter()
            .filter(|i| view.coin(&i.prev).is_none())
            .map(|i| i.prev.txid)
            .collect();
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            self.orphans.insert(tx, &missing, from, now_ms);
            return Err(MempoolError::MissingInputs { parents: missing });
        }
        let fee = check_tx_inputs(tx.tx(), &view, next_height, &self.params)?;
        let required = Amount::new(
            self.params
                .min_relay_fee_per_byte
                .saturating_mul(tx.size() as u64),
        )
        .unwrap_or(Amount::MAX_MONEY);
        if fee < required {
            return Err(MempoolError::FeeTooLow { fee, required });
        }
        let parents: HashSet<Txid> = tx
            .tx()
            .inputs
            .iter()
            .map(|i| i.prev.txid)
            .filter(|t| self.entries.contains_key(t))
            .collect();
        let depth = 1 + parents
            .iter()
            .map(|p| self.entries[p].depth)
            .max()
            .unwrap_or(0);
        if depth > self.config.max_depth {
            return Err(MempoolError::TooLongChain {
                depth,
                max: self.config.max_depth,
            });
        }
        self.insert(MempoolEntry {
            tx,
            fee,
            time_ms: now_ms,
            depth,
            parents,
            children: HashSet::new(),
        });
        let evicted = self.trim(&txid)?;
        Ok(TxAccepted {
            txid,
            fee,
            evicted,
            adopted: Vec::new(),
        })
    }

    fn insert(&mut self, mut entry: MempoolEntry) {
        let txid = entry.tx.txid();
        // Pool transactions may already spend this one's outputs: after a
        // reorg, a transaction of a disconnected block comes back while its
        // children stayed in the pool. Link them, so that templates keep
        // parents first and eviction takes the children along.
        for vout in 0..entry.tx.tx().outputs.len() {
            let outpoint = OutPoint::new(txid, vout as u32);
            if let Some(child) = self.spends.get(&outpoint) {
                entry.children.insert(*child);
            }
        }
        for child in &entry.children {
            if let Some(c) = self.entries.get_mut(child) {
                c.parents.insert(txid);
            }
        }
        let relinked = !entry.children.is_empty();
        for parent in &entry.parents {
            if let Some(p) = self.entries.get_mut(parent) {
                p.children.insert(txid);
            }
        }
        for input in &entry.tx.tx().inputs {
            self.spends.insert(input.prev, txid);
        }
        self.by_fee_rate.insert((entry.fee_rate(), txid));
        self.short_ids.insert((txid.short_id(), txid));
        self.bytes += entry.tx.size();
        self.entries.insert(txid, entry);
        if relinked {
            self.recompute_depths();
        }
    }

    /// Removes one entry, unlinking it from parents and children.
    fn remove_entry(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for parent in &entry.parents {
            if let Some(p) = self.entries.get_mut(parent) {
                p.children.remove(txid);
            }
        }
        for child in &entry.children {
            if let Some(c) = self.entries.get_mut(child) {
                c.parents.remove(txid);
            }
        }
        for input in &entry.tx.tx().inputs {
            if self.spends.get(&input.prev) == Some(txid) {
                self.spends.remove(&input.prev);
            }
        }
        self.by_fee_rate.remove(&(entry.fee_rate(), *txid));
        self.short_ids.remove(&(txid.short_id(), *txid));
        self.bytes -= entry.tx.size();
        Some(entry)
    }

    /// `txid` and all its pool descendants, parents before children.
    fn with_descendants(&self, txid: &Txid) -> Vec<Txid> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![*txid];
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some(e) = self.entries.get(&t) {
                out.push(t);
                stack.extend(e.children.iter().copied());
            }
        }
        out
    }

    /// Removes `txid` and its descendants, returning what was removed.
    fn remove_with_descendants(&mut self, txid: &Txid) -> Vec<Txid> {
        let all = self.with_descendants(txid);
        for t in &all {
            self.remove_entry(t);
        }
        all
    }

    /// Evicts the lowest fee-rate transactions (with descendants) until the
    /// pool fits in `max_bytes`, after `newcomer` was inserted. The evictions
    /// are planned first: if the newcomer itself would be evicted, it is
    /// refused (with any descendants it has) and nothing else is touched.
    fn trim(&mut self, newcomer: &Txid) -> Result<Vec<Txid>, MempoolError> {
        let mut plan = Vec::new();
        let mut planned = HashSet::new();
        let mut freed = 0usize;
        for (_, lowest) in &self.by_fee_rate {
            if self.bytes - freed <= self.config.max_bytes {
                break;
            }
            if planned.contains(lowest) {
                continue;
            }
            for t in self.with_descendants(lowest) {
                if planned.insert(t) {
                    freed += self.entries[&t].tx.size();
                    plan.push(t);
                }
            }
        }
        if planned.contains(newcomer) {
            let refused = self.remove_with_descendants(newcomer);
            // Its descendants (only after a reorg) were pool transactions:
            // without their parent they cannot stay, so count them as evicted.
            self.evicted_total += refused.len() as u64 - 1;
            return Err(MempoolError::MempoolFull);
        }
        for t in &plan {
            self.remove_entry(t);
        }
        self.evicted_total += plan.len() as u64;
        Ok(plan)
    }

    /// Updates the pool for a block joining the best chain: removes its
    /// transactions and any pool transactions that conflict with them (with
    /// their descendants). Returns orphans whose missing parent the block
    /// confirmed; offer them again with [`Mempool::accept`].
    pub fn remove_for_block(&mut self, block: &Block) -> BlockRemoval {
        let mut removal = BlockRemoval::default();
        for tx in block.txs.iter().skip(1) {
            let txid = tx.txid();
            if self.remove_entry(&txid).is_some() {
                removal.confirmed.push(txid);
            }
            for input in &tx.inputs {
                if let Some(other) = self.spends.get(&input.prev).copied() {
                    removal
                        .conflicts
                        .extend(self.remove_with_descendants(&other));
                }
            }
            removal.orphans_to_retry.extend(
                self.orphans
                    .take_waiting_on(&txid)
                    .into_iter()
                    .map(|(tx, _)| tx),
            );
        }
        if !removal.confirmed.is_empty() {
            self.recompute_depths();
        }
        removal
    }

    /// Removes pool transactions that can no longer be mined on the chain
    /// whose unspent coins `chain` holds: those with an input that is neither
    /// an output of a pool transaction nor an unspent coin, together with
    /// their descendants. Returns what was removed.
    ///
    /// Call it after a reorg, once the transactions of the disconnected blocks
    /// were offered again and [`Mempool::remove_for_block`] ran for the
    /// connected ones: a transaction of a disconnected block that could not
    /// come back (the new chain spent its inputs) leaves its pool children
    /// spending outputs that exist nowhere. `chain` must answer for every
    /// outpoint the pool spends (the node's whole UTXO set).
    pub fn remove_unspendable(&mut self, chain: &impl UtxoView) -> Vec<Txid> {
        let unspendable: Vec<Txid> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.tx.tx().inputs.iter().any(|i| {
                    !self.entries.contains_key(&i.prev.txid) && chain.coin(&i.prev).is_none()
                })
            })
            .map(|(t, _)| *t)
            .collect();
        let mut removed = Vec::new();
        for txid in unspendable {
            if self.entries.contains_key(&txid) {
                removed.extend(self.remove_with_descendants(&txid));
            }
        }
        removed
    }

    /// Recomputes every entry's depth after parents left or joined the pool,
    /// visiting parents before children (Kahn's topological order).
    fn recompute_depths(&mut self) {
        let mut waiting: HashMap<Txid, usize> = self
            .entries
            .iter()
            .map(|(t, e)| {
                let in_pool = e.parents.iter().filter(|p| self.entries.contains_key(p));
                (*t, in_pool.count())
            })
            .collect();
        let mut ready: Vec<Txid> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(t, _)| *t)
            .collect();
        while let Some(t) = ready.pop() {
            let entry = &self.entries[&t];
            let depth = 1 + entry
                .parents
                .iter()
                .filter_map(|p| self.entries.get(p).map(|e| e.depth))
                .max()
                .unwrap_or(0);
            let children: Vec<Txid> = entry.children.iter().copied().collect();
            if let Some(e) = self.entries.get_mut(&t) {
                e.depth = depth;
            }
            for child in children {
                if let Some(n) = waiting.get_mut(&child) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(child);
                    }
                }
            }
        }
    }

    /// Transactions for a block of at most `max_bytes` of transactions: the
    /// highest fee rates first, each preceded by any pool ancestors not yet
    /// taken. Returns them in a valid order and their total fee.
    pub fn block_template(&self, max_bytes: usize) -> (Vec<CheckedTx>, Amount) {
        let mut taken: HashSet<Txid> = HashSet::new();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut fees = Amount::ZERO;
        for (_, txid) in self.by_fee_rate.iter().rev() {
            if taken.contains(txid) {
                continue;
            }
            // The package: untaken ancestors in topological order, then the tx.
            let mut package = Vec::new();
            self.collect_untaken_ancestors(txid, &taken, &mut package, &mut HashSet::new());
            let size: usize = package.iter().map(|t| self.entries[t].tx.size()).sum();
            if bytes + size > max_bytes {
                continue;
            }
            for t in package {
                let e = &self.entries[&t];
                bytes += e.tx.size();
                fees = fees.checked_add(e.fee).unwrap_or(Amount::MAX_MONEY);
                taken.insert(t);
                out.push(e.tx.clone());
            }
        }
        (out, fees)
    }

    fn collect_untaken_ancestors(
        &self,
        txid: &Txid,
        taken: &HashSet<Txid>,
        out: &mut Vec<Txid>,
        visiting: &mut HashSet<Txid>,
    ) {
        if taken.contains(txid) || !visiting.insert(*txid) {
            return;
        }
        let mut parents: Vec<&Txid> = self.entries[txid].parents.iter().collect();
        parents.sort();
        for p in parents {
            self.collect_untaken_ancestors(p, taken, out, visiting);
        }
        out.push(*txid);
    }

    /// The short ids of all pool transactions, sorted ascending (with repeats
    /// if two txids share one).
    pub fn short_ids(&self) -> Vec<u64> {
        self.short_ids.iter().map(|(s, _)| *s).collect()
    }

    /// sha256d of the sorted short ids (each 8 bytes little-endian). Two pools
    /// with the same transactions have the same digest.
    pub fn digest(&self) -> Hash256 {
        let mut buf = Vec::with_capacity(self.short_ids.len() * 8);
        for (s, _) in &self.short_ids {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        Hash256(sha256d(&buf))
    }

    /// Pool transactions whose short id is `short_id`.
    pub fn by_short_id(&self, short_id: u64) -> impl Iterator<Item = &CheckedTx> {
        self.short_ids
            .range((short_id, Txid([0; 32]))..=(short_id, Txid([0xff; 32])))
            .filter_map(|(_, t)| self.entries.get(t).map(|e| &e.tx))
    }

    /// A pool transaction.
    pub fn tx(&self, txid: &Txid) -> Option<&Transaction> {
        self.entries.get(txid).map(|e| e.tx.tx())
    }
}

/// What [`Mempool::remove_for_block`] did.
#[derive(Debug, Default, Clone)]
pub struct BlockRemoval {
    /// Pool transactions the block confirmed.
    pub confirmed: Vec<Txid>,
    /// Pool transactions removed because the block spent their inputs (with descendants).
    pub conflicts: Vec<Txid>,
    /// Orphans whose missing parent the block confirmed; offer them again.
    pub orphans_to_retry: Vec<CheckedTx>,
}
