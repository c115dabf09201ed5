//! [`NodeCore`]: the chain state and the mempool behind one short-held lock,
//! plugged into the p2p layer as its [`Backend`].
//!
//! Validation of a batch runs in three steps, so the lock is held only for
//! the part that needs it:
//! 1. decode and id checks, and a brief look for already-known objects;
//! 2. context-free rules and signature batches ([`check_transactions`],
//!    [`check_block`] with the mempool as signature cache), without the lock;
//! 3. under the lock, in the batch's order: mempool acceptance against a UTXO
//!    snapshot, and block acceptance with mempool and orphan updates.
//!
//! A store failure while connecting blocks stops the node: the state is
//! dropped, every later call fails, and [`Shutdown`] is triggered with
//! [`StopReason::Fatal`].

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rumor_chain::{
    AcceptBlockError, AcceptOutcome, Address, Block, BlockHash, BlockHeader, BlockSpec, ChainState,
    CheckedBlock, CheckedTx, Coin, IndexEntry, Mempool, MempoolConfig, MempoolError, OutPoint,
    Params, Transaction, Txid, build_block, check_block, check_transactions,
};
use rumor_p2p::{Backend, Body, Inv, ObjectKind, Origin, SyncStatus, Verdict};

use crate::metrics::{AcceptedLabels, BatchLabels, NodeMetrics, RejectedLabels};
use crate::reasons;
use crate::shutdown::{Shutdown, StopReason};
use crate::store::{RedbStore, StoreError, StoreReader};

/// Bytes kept free in a block template for the header and the coinbase.
const TEMPLATE_RESERVE: usize = 2_000;

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The node is stopping (or stopped after a fatal error).
    #[error("the node is shutting down")]
    Stopped,
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The verdict on one object, with a human-readable detail for refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict, as the p2p layer sees it.
    pub verdict: Verdict,
    /// The full error text, for refusals.
    pub detail: Option<String>,
}

impl Outcome {
    fn accepted(also: Vec<Inv>) -> Self {
        Self {
            verdict: Verdict::Accepted { also },
            detail: None,
        }
    }
    fn known() -> Self {
        Self {
            verdict: Verdict::Known,
            detail: None,
        }
    }
    fn invalid(reason: &'static str, detail: impl ToString) -> Self {
        Self {
            verdict: Verdict::Invalid {
                reason: Cow::Borrowed(reason),
            },
            detail: Some(detail.to_string()),
        }
    }
    fn policy(reason: &'static str, detail: impl ToString) -> Self {
        Self {
            verdict: Verdict::Policy {
                reason: Cow::Borrowed(reason),
            },
            detail: Some(detail.to_string()),
        }
    }
    fn not_yet(reason: &'static str, detail: impl ToString, fetch: Option<Inv>) -> Self {
        Self {
            verdict: Verdict::NotYet {
                reason: Cow::Borrowed(reason),
                fetch,
            },
            detail: Some(detail.to_string()),
        }
    }
    fn internal() -> Self {
        Self::policy(reasons::INTERNAL, "the node is shutting down")
    }
}

/// A summary of the chain tip and the mempool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSummary {
    /// Best-chain height.
    pub height: u64,
    /// Mempool transactions.
    pub txs: usize,
    /// Mempool bytes.
    pub bytes: usize,
    /// Orphan transactions.
    pub orphans: usize,
    /// The mempool's byte limit.
    pub max_bytes: usize,
}

/// The best chain, as `getblockchaininfo` shows it.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// The tip's index entry.
    pub tip: IndexEntry,
    /// Median time past of the tip.
    pub median_time: u64,
    /// Genesis hash.
    pub genesis: BlockHash,
}

/// A mempool entry, copied out of the lock.
#[derive(Debug, Clone)]
pub struct PoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Encoded size.
    pub size: usize,
    /// Fee.
    pub fee: u64,
    /// Entry time, Unix ms.
    pub time_ms: u64,
    /// Unconfirmed chain depth.
    pub depth: u32,
    /// Pool parents.
    pub parents: Vec<Txid>,
    /// Pool children.
    pub children: Vec<Txid>,
}

/// An unspent output with where it is.
#[derive(Debug, Clone, Copy)]
pub struct Unspent {
    /// The outpoint.
    pub outpoint: OutPoint,
    /// The coin (height is the next block's for mempool outputs).
    pub coin: Coin,
    /// Whether it is confirmed (else a mempool output).
    pub confirmed: bool,
}

struct State {
    chain: ChainState<RedbStore>,
    mempool: Mempool,
}

enum Work {
    Tx(CheckedTx),
    Block(CheckedBlock),
}

/// Wall-clock now in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The node's chain state and mempool.
pub struct NodeCore {
    params: Params,
    state: Mutex<Option<State>>,
    reader: StoreReader,
    metrics: Arc<NodeMetrics>,
    shutdown: Shutdown,
}

impl std::fmt::Debug for NodeCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore").finish_non_exhaustive()
    }
}

impl NodeCore {
    /// Wraps an opened chain state with a fresh mempool.
    pub fn new(
        chain: ChainState<RedbStore>,
        mempool: MempoolConfig,
        metrics: Arc<NodeMetrics>,
        shutdown: Shutdown,
    ) -> Self {
        let params = chain.params().clone();
        let reader = chain.store().reader();
        metrics.tip_height.set(chain.height() as i64);
        Self {
            state: Mutex::new(Some(State {
                mempool: Mempool::new(params.clone(), mempool),
                chain,
            })),
            params,
            reader,
            metrics,
            shutdown,
        }
    }

    /// The network parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Lock-free read access to the store.
    pub fn reader(&self) -> &StoreReader {
        &self.reader
    }

    /// The state, or `None` once stopped. A poisoned lock means a panic
    /// (a bug) interrupted a change halfway: the in-memory view may no
    /// longer match the store, so it is dropped and the node stops, to
    /// reopen from the store (which commits atomically).
    fn lock(&self) -> MutexGuard<'_, Option<State>> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                if guard.is_some() {
                    *guard = None;
                    tracing::error!("a panic interrupted a chain update; stopping the node");
                    self.shutdown.trigger(StopReason::Fatal(
                        "a panic interrupted a chain update".into(),
                    ));
                }
                guard
            }
        }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, CoreError> {
        match self.lock().as_mut() {
            Some(s) => Ok(f(s)),
            None => Err(CoreError::Stopped),
        }
    }

    /// Stops everything after a store failure: the state is dropped so that
    /// nothing continues on a diverged view, and the node shuts down.
    fn fatal(&self, state: &mut Option<State>, error: &dyn std::fmt::Display) {
        tracing::error!(error = %error, "chain store failure; stopping the node");
        *state = None;
        self.shutdown
            .trigger(StopReason::Fatal(format!("chain store failure: {error}")));
    }

    /// Drops the chain state (closing the store) at shutdown.
    pub fn close(&self) {
        *self.lock() = None;
    }

    /// Validates and accepts objects, in order, returning one [`Outcome`] each.
    pub fn process(&self, items: Vec<(Origin, Body)>) -> Vec<Outcome> {
        let started = Instant::now();
        let now = now_ms();
        let n = items.len();
        let mut out: Vec<Option<Outcome>> = vec![None; n];
        let origins: Vec<Origin> = items.iter().map(|(o, _)| *o).collect();
        let kinds: Vec<ObjectKind> = items.iter().map(|(_, b)| b.inv.kind).collect();

        // 1. Decode and check ids.
        let mut txs: Vec<(usize, Transaction)> = Vec::new();
        let mut blocks: Vec<(usize, Block)> = Vec::new();
        for (i, (_, body)) in items.into_iter().enumerate() {
            match body.inv.kind {
                ObjectKind::Tx => match Transaction::decode(&body.bytes) {
                    Ok(tx) if tx.txid().0 == body.inv.id.0 => txs.push((i, tx)),
                    Ok(tx) => {
                        out[i] = Some(Outcome::invalid(
                            reasons::ID_MISMATCH,
                            format!("body is transaction {}", tx.txid()),
                        ))
                    }
                    Err(e) => out[i] = Some(Outcome::invalid(reasons::UNDECODABLE, e)),
                },
                ObjectKind::Block => match Block::decode(&body.bytes) {
                    Ok(b) if b.hash().0 == body.inv.id.0 => blocks.push((i, b)),
                    Ok(b) => {
                        out[i] = Some(Outcome::invalid(
                            reasons::ID_MISMATCH,
                            format!("body is block {}", b.hash()),
                        ))
                    }
                    Err(e) => out[i] = Some(Outcome::invalid(reasons::UNDECODABLE, e)),
                },
            }
        }

        // Known objects need no signature checks.
        let known = self.with_state(|s| {
            let tx_known: Vec<bool> = txs
                .iter()
                .map(|(_, tx)| s.mempool.contains(&tx.txid()))
                .collect();
            // None: new; Some(true): valid and stored; Some(false): known invalid.
            let block_known: Vec<Option<bool>> = blocks
                .iter()
                .map(|(_, b)| s.chain.entry(&b.hash()).map(|e| !e.invalid))
                .collect();
            let sig_cache: Vec<HashSet<Txid>> = blocks
                .iter()
                .map(|(_, b)| {
                    b.txs
                        .iter()
                        .skip(1)
                        .map(Transaction::txid)
                        .filter(|t| s.mempool.contains(t))
                        .collect()
                })
                .collect();
            (tx_known, block_known, sig_cache)
        });
        let Ok((tx_known, block_known, sig_cache)) = known else {
            return out
                .into_iter()
                .map(|o| o.unwrap_or_else(Outcome::internal))
                .collect();
        };

        // 2. Context-free rules and signatures, outside the lock.
        let mut work: Vec<(usize, Work)> = Vec::new();
        let mut to_check = Vec::new();
        let mut check_pos = Vec::new();
        for ((i, tx), known) in txs.into_iter().zip(tx_known) {
            if known {
                out[i] = Some(Outcome::known());
            } else if let Ok(Some(_)) = self.reader.tx_block(&tx.txid()) {
                out[i] = Some(Outcome::known());
            } else {
                check_pos.push(i);
                to_check.push(tx);
            }
        }
        for (i, result) in check_pos
            .into_iter()
            .zip(check_transactions(to_check, &self.params))
        {
            match result {
                Ok(tx) => work.push((i, Work::Tx(tx))),
                Err(e) => out[i] = Some(Outcome::invalid(reasons::tx(&e), e)),
            }
        }
        for (((i, block), known), cache) in blocks.into_iter().zip(block_known).zip(sig_cache) {
            match known {
                Some(true) => {
                    out[i] = Some(Outcome::known());
                    continue;
                }
                Some(false) => {
                    out[i] = Some(Outcome::invalid(
                        reasons::KNOWN_INVALID,
                        "the block was found invalid before",
                    ));
                    continue;
                }
                None => {}
            }
            match check_block(block, &self.params, |t| cache.contains(t)) {
                Ok(b) => work.push((i, Work::Block(b))),
                Err(e) if e.is_temporary() => {
                    out[i] = Some(Outcome::not_yet(reasons::block(&e), e, None));
                }
                Err(e) => out[i] = Some(Outcome::invalid(reasons::block(&e), e)),
            }
        }
        work.sort_by_key(|(i, _)| *i);

        // 3. Mempool and chain, under the lock, in order.
        if !work.is_empty() {
            let mut guard = self.lock();
            let mut snapshot = None;
            for (i, w) in work {
                let Some(state) = guard.as_mut() else {
                    out[i] = Some(Outcome::internal());
                    continue;
                };
                let outcome = match w {
                    Work::Tx(tx) => {
                        if snapshot.is_none() {
                            match self.reader.utxo_snapshot() {
                                Ok(s) => snapshot = Some(s),
                                Err(e) => {
                                    self.fatal(&mut guard, &e);
                                    out[i] = Some(Outcome::internal());
                                    continue;
                                }
                            }
                        }
                        let view = snapshot.as_ref().expect("just set");
                        let height = state.chain.height();
                        let result = state.mempool.accept(tx, view, height, now);
                        if view.failed() {
                            self.fatal(&mut guard, &"UTXO lookup failed");
                            out[i] = Some(Outcome::internal());
                            continue;
                        }
                        tx_outcome(result)
                    }
                    Work::Block(block) => {
                        // The UTXO set may change: take a new snapshot next time.
                        snapshot = None;
                        let header_time = block.block().header.time;
                        match self.accept_block(state, block, now) {
                            Ok(o) => {
                                if matches!(o.verdict, Verdict::Accepted { .. })
                                    && matches!(origins[i], Origin::Peer(_))
                                {
                                    let delay = now.saturating_sub(header_time) as f64 / 1000.0;
                                    self.metrics.block_delay_seconds.observe(delay);
                                }
                                o
                            }
                            Err(e) => {
                                self.fatal(&mut guard, &e);
                                Outcome::internal()
                            }
                        }
                    }
                };
                out[i] = Some(outcome);
            }
            if let Some(s) = guard.as_ref() {
                self.metrics.tip_height.set(s.chain.height() as i64);
            }
        }

        let out: Vec<Outcome> = out
            .into_iter()
            .map(|o| o.unwrap_or_else(Outcome::internal))
            .collect();
        self.record(&origins, &kinds, &out, started);
        out
    }

    /// Counts outcomes and the batch's validation time.
    fn record(&self, origins: &[Origin], kinds: &[ObjectKind], out: &[Outcome], started: Instant) {
        if out.is_empty() {
            return;
        }
        let batch_kind = if kinds.iter().all(|k| *k == ObjectKind::Tx) {
            "tx"
        } else if kinds.iter().all(|k| *k == ObjectKind::Block) {
            "block"
        } else {
            "mixed"
        };
        self.metrics
            .validation_seconds
            .get_or_create(&BatchLabels { kind: batch_kind })
            .observe(started.elapsed().as_secs_f64());
        for ((origin, kind), o) in origins.iter().zip(kinds).zip(out) {
            let kind = kind.label();
            let (class, reason) = match &o.verdict {
                Verdict::Accepted { .. } => {
                    let origin = match origin {
                        Origin::Peer(_) => "peer",
                        Origin::Local => "local",
                    };
                    self.metrics
                        .accepted
                        .get_or_create(&AcceptedLabels { kind, origin })
                        .inc();
                    continue;
                }
                Verdict::Known => continue,
                Verdict::Invalid { reason } => ("invalid", reason),
                Verdict::Policy { reason } => ("policy", reason),
                Verdict::NotYet { reason, .. } => ("not-yet", reason),
            };
            self.metrics
                .rejected
                .get_or_create(&RejectedLabels {
                    kind,
                    class,
                    reason: reason.to_string(),
                })
                .inc();
        }
    }

    /// Accepts a checked block; the outer error is a store failure.
    fn accept_block(
        &self,
        s: &mut State,
        block: CheckedBlock,
        now: u64,
    ) -> Result<Outcome, AcceptBlockError<StoreError>> {
        let hash = block.hash();
        let acc = match s.chain.accept_block(block, now) {
            Ok(AcceptOutcome::AlreadyKnown) if s.chain.orphans().contains(&hash) => {
                return Ok(Outcome::not_yet(
                    reasons::ORPHAN_BLOCK,
                    "already waiting for its parent",
                    None,
                ));
            }
            Ok(AcceptOutcome::AlreadyKnown) => return Ok(Outcome::known()),
            Ok(AcceptOutcome::Orphan { missing }) => {
                return Ok(Outcome::not_yet(
                    reasons::ORPHAN_BLOCK,
                    format!("parent unknown; missing ancestor {missing}"),
                    Some(Inv::block(missing)),
                ));
            }
            Ok(AcceptOutcome::Accepted(acc)) => acc,
            Err(AcceptBlockError::Invalid(e)) if e.is_temporary() => {
                return Ok(Outcome::not_yet(reasons::block(&e), e, None));
            }
            Err(AcceptBlockError::Invalid(e)) => {
                return Ok(Outcome::invalid(reasons::block(&e), e));
            }
            Err(e) => return Err(e),
        };
        for (bad, e) in &acc.invalid {
            tracing::info!(block = %bad, error = %e, "block failed to connect");
        }
        if let Some((_, e)) = acc.invalid.iter().find(|(h, _)| *h == hash) {
            return Ok(Outcome::invalid(reasons::block(e), e));
        }
        let mut also: Vec<Inv> = acc.stored.iter().skip(1).map(|h| Inv::block(*h)).collect();
        if acc.tip_changed() {
            if !acc.disconnected.is_empty() {
                tracing::info!(
                    disconnected = acc.disconnected.len(),
                    connected = acc.connected.len(),
                    "reorganisation"
                );
            }
            let confirmed: HashSet<Txid> = acc
                .connected
                .iter()
                .flat_map(|b| b.txs.iter().skip(1).map(Transaction::txid))
                .collect();
            let mut retry = Vec::new();
            for b in &acc.connected {
                retry.extend(s.mempool.remove_for_block(b).orphans_to_retry);
            }
            // Transactions of blocks that left the best chain go back to the
            // pool, oldest block first, unless the new chain holds them too.
            let mut readd = Vec::new();
            for b in acc.disconnected.iter().rev() {
                readd.extend(
                    b.txs
                        .iter()
                        .skip(1)
                        .filter(|t| !confirmed.contains(&t.txid()))
                        .cloned(),
                );
            }
            let readd = check_transactions(readd, &self.params)
                .into_iter()
                .flatten();
            let view = self
                .reader
                .utxo_snapshot()
                .map_err(AcceptBlockError::Store)?;
            let height = s.chain.height();
            for tx in readd.chain(retry) {
                if let Ok(a) = s.mempool.accept(tx, &view, height, now) {
                    also.extend(a.adopted.into_iter().map(Inv::tx));
                }
            }
            if !acc.disconnected.is_empty() {
                // A transaction of a disconnected block that the new chain
                // double-spent cannot come back; its children in the pool
                // would make every block template invalid.
                let dropped = s.mempool.remove_unspendable(&view);
                if !dropped.is_empty() {
                    tracing::info!(
                        dropped = dropped.len(),
                        "mempool: removed what the reorg left without inputs"
                    );
                }
            }
            let tip = s.chain.tip();
            tracing::debug!(height = tip.height, tip = %tip.hash, "new tip");
        }
        Ok(Outcome::accepted(also))
    }

    /// Builds and mines a block on the tip from the mempool, paying `pay_to`.
    ///
    /// # Errors
    /// [`CoreError::Stopped`] when shutting down.
    pub fn mine_block(&self, pay_to: Address, extra: [u8; 56]) -> Result<Block, CoreError> {
        let (spec, txs) = self.with_state(|s| {
            let max = self.params.max_block_bytes.saturating_sub(TEMPLATE_RESERVE);
            let (txs, fees) = s.mempool.block_template(max);
            let tip = s.chain.tip();
            let time = now_ms().max(s.chain.median_time_past(&tip.hash) + 1);
            let spec = BlockSpec {
                prev: tip.hash,
                height: tip.height + 1,
                time,
                pay_to,
                fees,
                extra,
            };
            let txs: Vec<Transaction> = txs.iter().map(|t| t.tx().clone()).collect();
            (spec, txs)
        })?;
        Ok(build_block(&self.params, &spec, txs))
    }

    /// A summary of tip and mempool.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn pool_summary(&self) -> Result<PoolSummary, CoreError> {
        self.with_state(|s| PoolSummary {
            height: s.chain.height(),
            txs: s.mempool.len(),
            bytes: s.mempool.bytes(),
            orphans: s.mempool.orphans().len(),
            max_bytes: s.mempool.config().max_bytes,
        })
    }

    /// The best chain.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn chain_info(&self) -> Result<ChainInfo, CoreError> {
        self.with_state(|s| {
            let tip = *s.chain.tip();
            ChainInfo {
                median_time: s.chain.median_time_past(&tip.hash),
                tip,
                genesis: s.chain.genesis_hash(),
            }
        })
    }

    /// The best-chain block hash at `height`.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn hash_at(&self, height: u64) -> Result<Option<BlockHash>, CoreError> {
        self.with_state(|s| s.chain.hash_at(height))
    }

    /// A block's index entry, whether it is on the best chain, and the tip height.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn block_entry(
        &self,
        hash: &BlockHash,
    ) -> Result<Option<(IndexEntry, bool, u64)>, CoreError> {
        self.with_state(|s| {
            s.chain
                .entry(hash)
                .map(|e| (*e, s.chain.is_active(hash), s.chain.height()))
        })
    }

    /// The best-chain successor of `hash`, if any.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn next_hash(&self, hash: &BlockHash) -> Result<Option<BlockHash>, CoreError> {
        self.with_state(|s| {
            let e = s.chain.entry(hash)?;
            if !s.chain.is_active(hash) {
                return None;
            }
            s.chain.hash_at(e.height + 1)
        })
    }

    /// Mempool txids.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_txids(&self) -> Result<Vec<Txid>, CoreError> {
        self.with_state(|s| s.mempool.txids().copied().collect())
    }

    /// A mempool entry.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_entry(&self, txid: &Txid) -> Result<Option<PoolEntry>, CoreError> {
        self.with_state(|s| {
            s.mempool.get(txid).map(|e| PoolEntry {
                tx: e.tx.tx().clone(),
                size: e.tx.size(),
                fee: e.fee.units(),
                time_ms: e.time_ms,
                depth: e.depth,
                parents: e.parents.iter().copied().collect(),
                children: e.children.iter().copied().collect(),
            })
        })
    }

    /// The mempool transaction spending `op`, if any.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_spender(&self, op: &OutPoint) -> Result<Option<Txid>, CoreError> {
        self.with_state(|s| s.mempool.spender(op))
    }

    /// Unspent outputs paying any of `addresses`: confirmed coins not spent
    /// by a mempool transaction, and with `include_mempool` also mempool
    /// outputs not spent in the mempool.
    ///
    /// # Errors
    /// A store failure, or [`CoreError::Stopped`].
    pub fn unspent(
        &self,
        addresses: &[Address],
        include_mempool: bool,
    ) -> Result<Vec<Unspent>, CoreError> {
        let mut confirmed = Vec::new();
        for a in addresses {
            confirmed.extend(self.reader.address_coins(a)?);
        }
        self.with_state(|s| {
            let mut out: Vec<Unspent> = confirmed
                .into_iter()
                .filter(|(op, _)| s.mempool.spender(op).is_none())
                .map(|(outpoint, coin)| Unspent {
                    outpoint,
                    coin,
                    confirmed: true,
                })
                .collect();
            if include_mempool {
                let wanted: HashSet<&Address> = addresses.iter().collect();
                let next = s.chain.height() + 1;
                for txid in s.mempool.txids() {
                    let Some(tx) = s.mempool.tx(txid) else {
                        continue;
                    };
                    for (vout, o) in tx.outputs.iter().enumerate() {
                        let op = OutPoint::new(*txid, vout as u32);
                        if wanted.contains(&o.address) && s.mempool.spender(&op).is_none() {
                            out.push(Unspent {
                                outpoint: op,
                                coin: Coin {
                                    output: *o,
                                    height: next,
                                    coinbase: false,
                                },
                                confirmed: false,
                            });
                        }
                    }
                }
            }
            out
        })
    }

    /// A transaction from the mempool, or confirmed (with its block).
    ///
    /// # Errors
    /// A store failure, or [`CoreError::Stopped`].
    pub fn transaction(
        &self,
        txid: &Txid,
    ) -> Result<Option<(Transaction, Option<BlockHash>)>, CoreError> {
        if let Some(tx) = self.with_state(|s| s.mempool.tx(txid).cloned())? {
            return Ok(Some((tx, None)));
        }
        let Some(hash) = self.reader.tx_block(txid)? else {
            return Ok(None);
        };
        let Some(block) = self.reader.block(&hash)? else {
            return Ok(None);
        };
        Ok(block
            .txs
            .into_iter()
            .find(|t| t.txid() == *txid)
            .map(|t| (t, Some(hash))))
    }
}

fn tx_outcome(result: Result<rumor_chain::TxAccepted, MempoolError>) -> Outcome {
    match result {
        Ok(a) => Outcome::accepted(a.adopted.into_iter().map(Inv::tx).collect()),
        Err(MempoolError::AlreadyInPool) => Outcome::known(),
        Err(e @ MempoolError::MissingInputs { .. }) => {
            Outcome::not_yet(reasons::ORPHAN_TX, e, None)
        }
        Err(e) if e.is_policy() => Outcome::policy(reasons::mempool(&e), e),
        Err(e) => Outcome::invalid(reasons::mempool(&e), e),
    }
}

impl Backend for NodeCore {
    fn validate(&self, items: Vec<(Origin, Body)>) -> Vec<Verdict> {
        self.process(items).into_iter().map(|o| o.verdict).collect()
    }

    fn has(&self, inv: &Inv) -> bool {
        match inv.kind {
            ObjectKind::Tx => {
                let txid = Txid(inv.id.0);
                self.with_state(|s| s.mempool.contains(&txid))
                    .unwrap_or(false)
                    || matches!(self.reader.tx_block(&txid), Ok(Some(_)))
            }
            ObjectKind::Block => self
                .with_state(|s| {
                    s.chain
                        .entry(&BlockHash(inv.id.0))
                        .is_some_and(|e| !e.invalid)
                })
                .unwrap_or(false),
        }
    }

    fn bodies(&self, invs: &[Inv]) -> Vec<Option<Vec<u8>>> {
        let txs: Vec<Option<Vec<u8>>> = self
            .with_state(|s| {
                invs.iter()
                    .map(|inv| match inv.kind {
                        ObjectKind::Tx => s.mempool.tx(&Txid(inv.id.0)).map(Transaction::encode),
                        ObjectKind::Block => None,
                    })
                    .collect()
            })
            .unwrap_or_else(|_| vec![None; invs.len()]);
        invs.iter()
            .zip(txs)
            .map(|(inv, tx)| match inv.kind {
                ObjectKind::Tx => tx,
                ObjectKind::Block => self.reader.block_bytes(&BlockHash(inv.id.0)).ok().flatten(),
            })
            .collect()
    }

    fn status(&self) -> SyncStatus {
        self.with_state(|s| {
            let tip = s.chain.tip();
            SyncStatus {
                height: tip.height,
                tip: tip.hash,
                work: tip.chain_work,
                mempool_digest: s.mempool.digest(),
                mempool_len: s.mempool.len() as u32,
            }
        })
        .unwrap_or(SyncStatus {
            height: 0,
            tip: BlockHash::ZERO,
            work: Default::default(),
            mempool_digest: rumor_chain::Hash256::ZERO,
            mempool_len: 0,
        })
    }

    fn mempool_short_ids(&self) -> Vec<u64> {
        self.with_state(|s| s.mempool.short_ids())
            .unwrap_or_default()
    }

    fn mempool_txs_by_short_id(&self, ids: &[u64]) -> Vec<Option<Vec<u8>>> {
        self.with_state(|s| {
            ids.iter()
                .map(|id| {
                    let mut it = s.mempool.by_short_id(*id);
                    match (it.next(), it.next()) {
                        (Some(t), None) => Some(t.tx().encode()),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_else(|_| vec![None; ids.len()])
    }

    fn locator(&self) -> Vec<BlockHash> {
        self.with_state(|s| s.chain.locator()).unwrap_or_default()
    }

    fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        self.with_state(|s| s.chain.headers_after(locator, max))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::{Amount, KeyPair, Network, OutPoint, TxIn, TxOut};

    fn params() -> Params {
        Params::new(Network::Regtest)
            .with_genesis_outputs(20)
            .unwrap()
    }

    fn core(dir: &std::path::Path) -> NodeCore {
        let p = params();
        let store = RedbStore::open(&dir.join("c.redb"), &p).unwrap();
        let chain = ChainState::open(p, store).unwrap();
        NodeCore::new(
            chain,
            MempoolConfig::default(),
            Arc::new(NodeMetrics::new()),
            Shutdown::new(),
        )
    }

    #[test]
    fn a_panic_under_the_lock_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        assert!(core.chain_info().is_ok());
        let hit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = core.with_state(|_| panic!("a bug halfway through an update"));
        }));
        assert!(hit.is_err());
        assert!(matches!(core.chain_info(), Err(CoreError::Stopped)));
        assert!(matches!(core.shutdown.reason(), Some(StopReason::Fatal(_))));
    }

    /// Spends genesis output `i` (or `prev`) to a fixed address.
    fn spend(prev: OutPoint, key: &KeyPair, value: u64) -> Transaction {
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn::unsigned(prev, key.public())],
            outputs: vec![TxOut {
                amount: Amount::new(value).unwrap(),
                address: key.address(),
            }],
        };
        tx.sign(&[key]).unwrap();
        tx
    }

    fn faucet_tx(p: &Params, i: u32, fee: u64) -> Transaction {
        let genesis = p.genesis_block().txs[0].txid();
        let key = p.faucet_key(i);
        spend(
            OutPoint::new(genesis, i),
            &key,
            p.genesis_output_amount.units() - fee,
        )
    }

    fn body_tx(tx: &Transaction) -> (Origin, Body) {
        (
            Origin::Local,
            Body {
                inv: Inv::tx(tx.txid()),
                bytes: tx.encode().into(),
            },
        )
    }

    fn body_block(b: &Block) -> (Origin, Body) {
        (
            Origin::Local,
            Body {
                inv: Inv::block(b.hash()),
                bytes: b.encode().into(),
            },
        )
    }

    fn label(o: &Outcome) -> String {
        o.verdict.label().to_owned()
    }

    #[test]
    fn verdicts_name_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let c = core(dir.path());
        let p = params();
        let good = faucet_tx(&p, 0, 1_000);
        let mut bad_sig = faucet_tx(&p, 1, 1_000);
        bad_sig.inputs[0].signature.0[3] ^= 1;
        let conflict = faucet_tx(&p, 0, 2_000);
        let low_fee = faucet_tx(&p, 2, 1);
        let child = spend(
            OutPoint::new(faucet_tx(&p, 3, 1_000).txid(), 0),
            &p.faucet_key(3),
            1_000_000,
        );
        let mut mismatch = body_tx(&faucet_tx(&p, 4, 1_000));
        mismatch.1.inv = Inv::tx(Txid([7; 32]));
        let garbage = (
            Origin::Local,
            Body {
                inv: Inv::tx(Txid([8; 32])),
                bytes: vec![1, 2, 3].into(),
            },
        );
        let out = c.process(vec![
            body_tx(&good),
            body_tx(&good),
            body_tx(&bad_sig),
            body_tx(&conflict),
            body_tx(&low_fee),
            body_tx(&child),
            mismatch,
            garbage,
        ]);
        let labels: Vec<String> = out.iter().map(label).collect();
        assert_eq!(
            labels,
            [
                "accepted",
                "known",
                "bad-signature",
                "txn-mempool-conflict",
                "fee-too-low",
                "orphan-tx",
                "id-mismatch",
                "undecodable"
            ]
        );
        assert!(matches!(out[2].verdict, Verdict::Invalid { .. }));
        assert!(matches!(out[3].verdict, Verdict::Policy { .. }));
        assert!(matches!(out[5].verdict, Verdict::NotYet { .. }));
        // The orphan's parent arrives: both are accepted, the child as `also`.
        let out = c.process(vec![body_tx(&faucet_tx(&p, 3, 1_000))]);
        assert_eq!(
            out[0].verdict,
            Verdict::Accepted {
                also: vec![Inv::tx(child.txid())]
            }
        );
        assert_eq!(c.pool_summary().unwrap().txs, 3);
    }

    #[test]
    fn mining_confirms_and_a_reorg_returns_transactions_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let c = core(dir.path());
        let p = params();
        let tx = faucet_tx(&p, 5, 1_000);
        assert_eq!(label(&c.process(vec![body_tx(&tx)])[0]), "accepted");
        let miner = KeyPair::from_seed([1; 32]).address();
        let a1 = c.mine_block(miner, [1; 56]).unwrap();
        assert_eq!(label(&c.process(vec![body_block(&a1)])[0]), "accepted");
        assert_eq!(c.pool_summary().unwrap().txs, 0);
        assert_eq!(
            c.transaction(&tx.txid()).unwrap().unwrap().1,
            Some(a1.hash())
        );
        // The confirmed tx is known, not an orphan.
        assert_eq!(label(&c.process(vec![body_tx(&tx)])[0]), "known");

        // A longer branch without the transaction.
        let genesis = c.chain_info().unwrap().genesis;
        let other = KeyPair::from_seed([2; 32]).address();
        let mk = |prev, height, time| {
            build_block(
                &p,
                &BlockSpec {
                    prev,
                    height,
                    time,
                    pay_to: other,
                    fees: Amount::ZERO,
                    extra: [2; 56],
                },
                vec![],
            )
        };
        let b1 = mk(genesis, 1, a1.header.time);
        let b2 = mk(b1.hash(), 2, a1.header.time + 1);
        // Out of order: b2 is an orphan until b1 arrives.
        let o = c.process(vec![body_block(&b2)]);
        assert_eq!(label(&o[0]), "orphan-block");
        let o = c.process(vec![body_block(&b1)]);
        assert_eq!(
            o[0].verdict,
            Verdict::Accepted {
                also: vec![Inv::block(b2.hash())]
            }
        );
        let info = c.chain_info().unwrap();
        assert_eq!(info.tip.hash, b2.hash());
        assert_eq!(c.mempool_txids().unwrap(), vec![tx.txid()]);
        assert_eq!(c.transaction(&tx.txid()).unwrap().unwrap().1, None);
        // A block with a bad proof of work is invalid.
        let mut bad = mk(b2.hash(), 3, a1.header.time + 2);
        while bad.header.meets_target() {
            bad.header.nonce += 1;
        }
        assert_eq!(label(&c.process(vec![body_block(&bad)])[0]), "high-hash");
        // A coinbase paying too much fails when connected, and is remembered.
        let greedy = build_block(
            &p,
            &BlockSpec {
                prev: b2.hash(),
                height: 3,
                time: a1.header.time + 3,
                pay_to: other,
                fees: Amount::new(1).unwrap(),
                extra: [3; 56],
            },
            vec![],
        );
        let o = c.process(vec![body_block(&greedy)]);
        assert_eq!(label(&o[0]), "coinbase-too-large");
        assert!(matches!(o[0].verdict, Verdict::Invalid { .. }));
        assert_eq!(
            label(&c.process(vec![body_block(&greedy)])[0]),
            "known-invalid"
        );
        assert_eq!(c.chain_info().unwrap().tip.hash, b2.hash());
    }

    #[test]
    fn a_reorg_that_double_spends_a_parent_drops_its_children_from_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let c = core(dir.path());
        let p = params();
        let key = p.faucet_key(6);
        // T spends genesis output 6 and is mined in A1; its child C waits in the pool.
        let t = faucet_tx(&p, 6, 1_000);
        assert_eq!(label(&c.process(vec![body_tx(&t)])[0]), "accepted");
        let miner = KeyPair::from_seed([1; 32]).address();
        let a1 = c.mine_block(miner, [1; 56]).unwrap();
        assert_eq!(label(&c.process(vec![body_block(&a1)])[0]), "accepted");
        let child = spend(
            OutPoint::new(t.txid(), 0),
            &key,
            t.outputs[0].amount.units() - 1_000,
        );
        assert_eq!(label(&c.process(vec![body_tx(&child)])[0]), "accepted");

        // A heavier branch spends output 6 differently (T') and leaves T out.
        let t2 = faucet_tx(&p, 6, 5_000);
        let genesis = c.chain_info().unwrap().genesis;
        let other = KeyPair::from_seed([2; 32]).address();
        let b1 = build_block(
            &p,
            &BlockSpec {
                prev: genesis,
                height: 1,
                time: a1.header.time,
                pay_to: other,
                fees: Amount::new(5_000).unwrap(),
                extra: [2; 56],
            },
            vec![t2.clone()],
        );
        let b2 = build_block(
            &p,
            &BlockSpec {
                prev: b1.hash(),
                height: 2,
                time: a1.header.time + 1,
                pay_to: other,
                fees: Amount::ZERO,
                extra: [3; 56],
            },
            vec![],
        );
        assert_eq!(label(&c.process(vec![body_block(&b1)])[0]), "accepted");
        assert_eq!(label(&c.process(vec![body_block(&b2)])[0]), "accepted");
        assert_eq!(c.chain_info().unwrap().tip.hash, b2.hash());
        // T cannot come back, so neither can its child; the pool is empty and
        // the next block the miner makes is valid.
        assert_eq!(c.mempool_txids().unwrap(), Vec::<Txid>::new());
        let next = c.mine_block(miner, [4; 56]).unwrap();
        assert_eq!(label(&c.process(vec![body_block(&next)])[0]), "accepted");
    }
}
