//! [`NodeState`]: the chain state and the mempool, and the one pipeline by
//! which a node accepts objects into them. The node, the relay's tests and
//! the benches all run this code, so a verdict and its reason label mean the
//! same everywhere.
//!
//! The pipeline has three steps, so that a node can hold its lock only for
//! the parts that need the state:
//! 1. [`NodeState::screen`] (reads the state, cheap): objects already known
//!    need no checks; a block's transactions already in the mempool need no
//!    second signature check.
//! 2. [`Screened::check`] (no state, the CPU-heavy part): the context-free
//!    rules and one signature batch for all transactions.
//! 3. [`NodeState::commit`] (writes the state, in order): mempool acceptance
//!    and block acceptance, with the mempool repaired after a reorganisation.
//!
//! Decoding ([`crate::Object::decode_claimed`]) comes before all three and
//! needs nothing but the bytes.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::chainstate::{AcceptBlockError, AcceptOutcome, BlockAccepted, ChainState};
use crate::hash::{BlockHash, Txid};
use crate::inv::Inv;
use crate::mempool::{Mempool, MempoolError, Source, TxAccepted};
use crate::object::{DecodedBlock, DecodedTx, Object};
use crate::params::Params;
use crate::reasons;
use crate::store::ChainStore;
use crate::tx::{OutPoint, Transaction};
use crate::utxo::{Coin, UtxoView};
use crate::validate::{
    BlockError, CheckedBlock, CheckedTx, check_decoded_block, check_decoded_transactions,
    check_transactions,
};
use crate::verdict::Outcome;

/// A chain state and its mempool: what a node accepts objects into.
#[derive(Debug)]
pub struct NodeState<S: ChainStore> {
    chain: ChainState<S>,
    mempool: Mempool,
}

/// What the state had to say about a batch before it is checked.
#[derive(Debug)]
pub struct Screened {
    items: Vec<Screen>,
}

#[derive(Debug)]
enum Screen {
    Done(Outcome),
    Tx(DecodedTx),
    /// A new block, and those of its transactions the mempool already
    /// verified.
    Block(DecodedBlock, HashSet<Txid>),
}

/// A batch after the context-free rules, ready to commit.
#[derive(Debug)]
pub struct Checked {
    items: Vec<Check>,
}

#[derive(Debug)]
enum Check {
    Done(Outcome),
    Tx(CheckedTx),
    Block(CheckedBlock),
}

/// Something a commit did that an operator may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The best chain moved to a new tip.
    NewTip {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: BlockHash,
    },
    /// The best chain reorganised.
    Reorg {
        /// Blocks that left the best chain.
        disconnected: usize,
        /// Blocks that joined it.
        connected: usize,
    },
    /// A stored block broke a rule when it was connected.
    ConnectFailed {
        /// The block.
        block: BlockHash,
        /// The rule, as a label.
        reason: &'static str,
    },
    /// Pool transactions a reorganisation left without inputs were removed.
    PoolRepaired {
        /// How many.
        removed: usize,
    },
}

/// Why a commit stopped: the store failed. The state may no longer match
/// the store; the caller must stop using it.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E: std::error::Error + 'static> {
    /// A store operation failed.
    #[error("chain store failure: {0}")]
    Store(#[source] E),
    /// The store lacks data it must have.
    #[error("chain store is corrupt: {0}")]
    Corrupt(String),
}

/// What a commit did.
#[derive(Debug)]
pub struct Committed<E: std::error::Error + 'static> {
    /// One outcome per item, in order. After a store failure the remaining
    /// items are refused with [`reasons::INTERNAL`].
    pub outcomes: Vec<Outcome>,
    /// Things worth logging, in order.
    pub notes: Vec<Note>,
    /// The store failure that stopped the commit, if any.
    pub failure: Option<CommitError<E>>,
}

/// Coins read from the store on demand, each once: the UTXO view a commit
/// validates transactions against. The first store error is kept, and every
/// lookup after it answers "no coin".
struct StoreView<'a, S: ChainStore> {
    chain: &'a ChainState<S>,
    cache: RefCell<HashMap<OutPoint, Option<Coin>>>,
    error: RefCell<Option<S::Error>>,
}

impl<'a, S: ChainStore> StoreView<'a, S> {
    fn new(chain: &'a ChainState<S>) -> Self {
        Self {
            chain,
            cache: RefCell::new(HashMap::new()),
            error: RefCell::new(None),
        }
    }

    /// Loads the coins of `outpoints` in one store read.
    fn prefetch(&self, outpoints: impl IntoIterator<Item = OutPoint>) {
        let wanted: Vec<OutPoint> = {
            let cache = self.cache.borrow();
            outpoints
                .into_iter()
                .filter(|op| !cache.contains_key(op))
                .collect()
        };
        if wanted.is_empty() || self.error.borrow().is_some() {
            return;
        }
        match self.chain.coins(&wanted) {
            Ok(found) => {
                let mut cache = self.cache.borrow_mut();
                for op in wanted {
                    cache.insert(op, found.get(&op).copied());
                }
            }
            Err(e) => *self.error.borrow_mut() = Some(e),
        }
    }

    fn take_error(&self) -> Option<S::Error> {
        self.error.borrow_mut().take()
    }
}

impl<S: ChainStore> UtxoView for StoreView<'_, S> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(c) = self.cache.borrow().get(outpoint) {
            return *c;
        }
        self.prefetch([*outpoint]);
        self.cache.borrow().get(outpoint).copied().flatten()
    }
}

fn tx_outcome(result: Result<TxAccepted, MempoolError>) -> Outcome {
    let e = match result {
        Ok(a) => return Outcome::accepted(a.adopted.into_iter().map(Inv::Tx).collect()),
        Err(e) => e,
    };
    match &e {
        MempoolError::AlreadyInPool => Outcome::known(),
        MempoolError::MissingInputs { parents } => {
            let fetch = parents.iter().map(|p| Inv::Tx(*p)).collect();
            Outcome::not_yet(reasons::ORPHAN_TX, &e, fetch)
        }
        _ if e.is_policy() => Outcome::policy(reasons::mempool(&e), &e),
        _ => Outcome::invalid(reasons::mempool(&e), &e),
    }
}

/// A block held aside because its branch has no more work than the best
/// chain: not relayed, not punished (a competing miner's block is honest),
/// and forgotten by the relay, so that it can be fetched again once a
/// descendant makes its branch worth having.
fn stale_outcome() -> Outcome {
    Outcome::not_yet(
        reasons::STALE_BLOCK,
        "its branch has no more work than the best chain",
        Vec::new(),
    )
}

fn block_error_outcome(e: &BlockError) -> Outcome {
    if e.is_temporary() {
        Outcome::not_yet(reasons::block(e), e, Vec::new())
    } else {
        Outcome::invalid(reasons::block(e), e)
    }
}

impl<S: ChainStore> NodeState<S> {
    /// The chain and the mempool that belongs to it.
    pub fn new(chain: ChainState<S>, mempool: Mempool) -> Self {
        Self { chain, mempool }
    }

    /// The chain state.
    pub fn chain(&self) -> &ChainState<S> {
        &self.chain
    }

    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Drops the orphan transactions `from` sent (it went away); returns
    /// how many.
    pub fn forget_orphans_from(&mut self, from: Source) -> usize {
        self.mempool.forget_orphans_from(from)
    }

    /// Step 1: what the state already knows about each item. `Err` items
    /// (bodies that did not decode as what they claimed) pass through.
    pub fn screen(&self, items: Vec<Result<Object, Outcome>>) -> Screened {
        let items = items
            .into_iter()
            .map(|item| match item {
                Err(outcome) => Screen::Done(outcome),
                Ok(Object::Tx(tx)) if self.mempool.contains(&tx.txid()) => {
                    Screen::Done(Outcome::known())
                }
                Ok(Object::Tx(tx)) => Screen::Tx(tx),
                Ok(Object::Block(b)) => match self.chain.entry(&b.hash()) {
                    Some(e) if e.invalid => Screen::Done(Outcome::invalid(
                        reasons::KNOWN_INVALID,
                        "the block was found invalid before",
                    )),
                    Some(_) => Screen::Done(Outcome::known()),
                    None => {
                        let verified = b.txids()[1..]
                            .iter()
                            .filter(|t| self.mempool.contains(t))
                            .copied()
                            .collect();
                        Screen::Block(b, verified)
                    }
                },
            })
            .collect();
        Screened { items }
    }

    /// Step 3: accepts what passed the checks, in order.
    pub fn commit(&mut self, checked: Checked, now_ms: u64) -> Committed<S::Error> {
        self.commit_with(checked, now_ms, &mut |_| {})
    }

    /// [`NodeState::commit`], calling `on_valid` with each block that joins
    /// the best chain as soon as it passed every rule, before the store
    /// writes it and the mempool is repaired (see
    /// [`ChainState::accept_block_with`]): the moment a node may relay it.
    pub fn commit_with(
        &mut self,
        checked: Checked,
        now_ms: u64,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Committed<S::Error> {
        self.commit_from(checked, &[], now_ms, on_valid)
    }

    /// [`NodeState::commit_with`], with the source of each item (`sources`
    /// in item order; missing ones are `None`): a transaction held as an
    /// orphan is accounted to its source (see [`crate::OrphanTxs`]).
    pub fn commit_from(
        &mut self,
        checked: Checked,
        sources: &[Option<Source>],
        now_ms: u64,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Committed<S::Error> {
        let source = |i: usize| sources.get(i).copied().flatten();
        let mut outcomes = Vec::with_capacity(checked.items.len());
        let mut notes = Vec::new();
        let mut failure = None;
        let mut items = checked.items.into_iter().enumerate().peekable();
        while let Some((i, item)) = items.next() {
            if failure.is_some() {
                outcomes.push(Outcome::internal("the chain store failed"));
                continue;
            }
            match item {
                Check::Done(o) => outcomes.push(o),
                Check::Block(block) => match self.accept_block(block, now_ms, &mut notes, on_valid)
                {
                    Ok(o) => outcomes.push(o),
                    Err(e) => {
                        failure = Some(e);
                        outcomes.push(Outcome::internal("the chain store failed"));
                    }
                },
                Check::Tx(first) => {
                    // The run of transactions up to the next block shares one
                    // view of the chain's coins, read in one go.
                    let mut run = vec![(first, source(i))];
                    while let Some((_, Check::Tx(_))) = items.peek() {
                        if let Some((j, Check::Tx(t))) = items.next() {
                            run.push((t, source(j)));
                        }
                    }
                    let Self { chain, mempool } = self;
                    let view = StoreView::new(chain);
                    view.prefetch(
                        run.iter()
                            .flat_map(|(t, _)| t.tx().inputs.iter().map(|i| i.prev)),
                    );
                    let height = chain.height();
                    for (tx, from) in run {
                        if failure.is_some() {
                            outcomes.push(Outcome::internal("the chain store failed"));
                            continue;
                        }
                        let result = mempool.accept_from(tx, from, &view, height, now_ms);
                        match view.take_error() {
                            None => outcomes.push(tx_outcome(result)),
                            Some(e) => {
                                failure = Some(CommitError::Store(e));
                                outcomes.push(Outcome::internal("the chain store failed"));
                            }
                        }
                    }
                }
            }
        }
        Committed {
            outcomes,
            notes,
            failure,
        }
    }

    /// Steps 1, 2 and 3 at once, for callers without a lock to spare
    /// (tests, benches, single-threaded tools). `confirmed` says whether a
    /// transaction is already in the best chain (a node with a transaction
    /// index knows; without one, pass `|_| false`).
    pub fn accept(
        &mut self,
        items: Vec<Result<Object, Outcome>>,
        now_ms: u64,
        confirmed: impl Fn(&Txid) -> bool,
    ) -> Committed<S::Error> {
        let params = self.chain.params().clone();
        let checked = self.screen(items).check(&params, confirmed);
        self.commit(checked, now_ms)
    }

    fn accept_block(
        &mut self,
        block: CheckedBlock,
        now_ms: u64,
        notes: &mut Vec<Note>,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Result<Outcome, CommitError<S::Error>> {
        let hash = block.hash();
        let accepted = match self.chain.accept_block_with(block, now_ms, on_valid) {
            Ok(AcceptOutcome::AlreadyKnown) if self.chain.orphans().contains(&hash) => {
                return Ok(if self.chain.is_stale_held(&hash) {
                    stale_outcome()
                } else {
                    Outcome::not_yet(
                        reasons::ORPHAN_BLOCK,
                        "already waiting for its parent",
                        Vec::new(),
                    )
                });
            }
            Ok(AcceptOutcome::Stale) => return Ok(stale_outcome()),
            Ok(AcceptOutcome::AlreadyKnown) => return Ok(Outcome::known()),
            Ok(AcceptOutcome::Orphan { missing }) => {
                return Ok(Outcome::not_yet(
                    reasons::ORPHAN_BLOCK,
                    format!("parent unknown; missing ancestor {missing}"),
                    vec![Inv::Block(missing)],
                ));
            }
            Ok(AcceptOutcome::Accepted(a)) => a,
            Err(AcceptBlockError::Invalid(e)) => return Ok(block_error_outcome(&e)),
            Err(AcceptBlockError::Store(e)) => return Err(CommitError::Store(e)),
            Err(AcceptBlockError::Corrupt(m)) => return Err(CommitError::Corrupt(m)),
        };
        for (bad, e) in &accepted.invalid {
            notes.push(Note::ConnectFailed {
                block: *bad,
                reason: reasons::block(e),
            });
        }
        if let Some((_, e)) = accepted.invalid.iter().find(|(h, _)| *h == hash) {
            return Ok(Outcome::invalid(reasons::block(e), e));
        }
        // Only blocks that joined the best chain are spread: a block stored
        // on a branch that then failed to connect further is not.
        let mut also: Vec<Inv> = accepted
            .connected
            .iter()
            .map(|b| b.hash())
            .filter(|h| *h != hash)
            .map(Inv::Block)
            .collect();
        if accepted.tip_changed() {
            also.extend(self.repair_pool(&accepted, now_ms, notes)?);
            let tip = self.chain.tip();
            notes.push(Note::NewTip {
                height: tip.height,
                hash: tip.hash,
            });
        }
        if !self.chain.is_active(&hash) {
            return Ok(stale_outcome());
        }
        Ok(Outcome::accepted(also))
    }

    /// The mempool after the best chain moved: the connected blocks'
    /// transactions leave it, the disconnected blocks' come back (oldest
    /// block first, unless the new chain holds them too), orphans a block
    /// completed are offered again, and after a reorganisation what is left
    /// without inputs is removed (its children would make every block
    /// template invalid). Returns the orphans adopted on the way.
    fn repair_pool(
        &mut self,
        accepted: &BlockAccepted,
        now_ms: u64,
        notes: &mut Vec<Note>,
    ) -> Result<Vec<Inv>, CommitError<S::Error>> {
        if !accepted.disconnected.is_empty() {
            notes.push(Note::Reorg {
                disconnected: accepted.disconnected.len(),
                connected: accepted.connected.len(),
            });
        }
        let confirmed: HashSet<Txid> = accepted
            .connected
            .iter()
            .flat_map(|b| b.txs.iter().skip(1).map(Transaction::txid))
            .collect();
        let mut retry = Vec::new();
        for b in &accepted.connected {
            retry.extend(self.mempool.remove_for_block(b).orphans_to_retry);
        }
        let mut readd = Vec::new();
        for b in accepted.disconnected.iter().rev() {
            readd.extend(
                b.txs
                    .iter()
                    .skip(1)
                    .filter(|t| !confirmed.contains(&t.txid()))
                    .cloned(),
            );
        }
        let readd = check_transactions(readd, self.chain.params())
            .into_iter()
            .flatten();
        let height = self.chain.height();
        let Self { chain, mempool } = self;
        let view = StoreView::new(chain);
        let mut adopted = Vec::new();
        for tx in readd.chain(retry) {
            if let Ok(a) = mempool.accept(tx, &view, height, now_ms) {
                adopted.extend(a.adopted.into_iter().map(Inv::Tx));
            }
        }
        if !accepted.disconnected.is_empty() {
            let removed = mempool.remove_unspendable(&view);
            if !removed.is_empty() {
                notes.push(Note::PoolRepaired {
                    removed: removed.len(),
                });
            }
        }
        match view.take_error() {
            Some(e) => Err(CommitError::Store(e)),
            None => Ok(adopted),
        }
    }
}

impl Screened {
    /// Step 2: the context-free rules, with every signature of the batch
    /// verified together. `confirmed` says whether a transaction is already
    /// in the best chain (it is then known, not an orphan).
    pub fn check(self, params: &Params, confirmed: impl Fn(&Txid) -> bool) -> Checked {
        let mut items: Vec<Option<Check>> = Vec::with_capacity(self.items.len());
        let mut txs = Vec::new();
        let mut tx_slots = Vec::new();
        for item in self.items {
            match item {
                Screen::Done(o) => items.push(Some(Check::Done(o))),
                Screen::Tx(tx) if confirmed(&tx.txid()) => {
                    items.push(Some(Check::Done(Outcome::known())));
                }
                Screen::Tx(tx) => {
                    tx_slots.push(items.len());
                    items.push(None);
                    txs.push(tx);
                }
                Screen::Block(b, verified) => {
                    let check = match check_decoded_block(b, params, |t| verified.contains(t)) {
                        Ok(b) => Check::Block(b),
                        Err(e) => Check::Done(block_error_outcome(&e)),
                    };
                    items.push(Some(check));
                }
            }
        }
        for (slot, result) in tx_slots
            .into_iter()
            .zip(check_decoded_transactions(txs, params))
        {
            items[slot] = Some(match result {
                Ok(tx) => Check::Tx(tx),
                Err(e) => Check::Done(Outcome::invalid(reasons::tx(&e), e)),
            });
        }
        Checked {
            items: items.into_iter().flatten().collect(),
        }
    }
}

/// A body decoded as what it was sent as, or the verdict on it if it is not.
pub fn decode_body(claimed: Inv, bytes: &[u8]) -> Result<Object, Outcome> {
    Object::decode_claimed(claimed, bytes).map_err(|e| Outcome::malformed(reasons::body(&e), e))
}
