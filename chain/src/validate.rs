//! Validation rules. Each rule has its own error variant.
//!
//! - [`check_transaction`] / [`check_transactions`]: context-free transaction
//!   rules, signatures included (batch-verified), giving a [`CheckedTx`].
//! - [`check_tx_inputs`]: contextual transaction rules against a [`UtxoView`].
//! - [`check_block`]: context-free block rules, giving a [`CheckedBlock`].
//!   The contextual block rules (median time, coinbase height, inputs, coinbase
//!   value) run when [`crate::ChainState`] connects the block.

use std::collections::HashSet;
use std::sync::Arc;

use crate::address::Address;
use crate::amount::Amount;
use crate::block::Block;
use crate::hash::{BlockHash, Hash256, Txid};
use crate::object::{DecodedBlock, DecodedTx};
use crate::params::Params;
use crate::sig::{SigCheck, SigError, verify_batch};
use crate::tx::{OutPoint, Transaction};
use crate::utxo::UtxoView;

/// A context-free transaction rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The version is not [`Transaction::VERSION`].
    #[error("unsupported transaction version {0}")]
    UnsupportedVersion(u32),
    /// No inputs.
    #[error("transaction has no inputs")]
    NoInputs,
    /// No outputs.
    #[error("transaction has no outputs")]
    NoOutputs,
    /// Encoded size above the network's limit.
    #[error("transaction is {size} bytes, above the {max}-byte limit")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The same outpoint is spent twice.
    #[error("input {index} spends {outpoint} a second time")]
    DuplicateInput {
        /// The second input spending it.
        index: usize,
        /// The outpoint.
        outpoint: OutPoint,
    },
    /// An output of zero value.
    #[error("output {index} has zero value")]
    ZeroOutput {
        /// The output.
        index: usize,
    },
    /// The outputs sum past MAX_MONEY.
    #[error("outputs sum past MAX_MONEY")]
    OutputsOverflow,
    /// A non-coinbase transaction spends the null outpoint.
    #[error("input {index} spends the null outpoint outside a coinbase")]
    NullInput {
        /// The input.
        index: usize,
    },
    /// A coinbase where only ordinary transactions are allowed.
    #[error("a coinbase is only valid as the first transaction of a block")]
    UnexpectedCoinbase,
    /// An input's signature (or its key) is invalid.
    #[error("input {index}: {error}")]
    Signature {
        /// The input.
        index: usize,
        /// What is wrong.
        error: SigError,
    },
}

/// A contextual transaction rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// An input's outpoint is not unspent in the view.
    #[error("input {index} spends {outpoint}, which is missing or spent")]
    MissingOrSpent {
        /// The input.
        index: usize,
        /// The outpoint.
        outpoint: OutPoint,
    },
    /// An input's public key does not hash to the spent output's address.
    #[error(
        "input {index}: public key does not hash to the spent output's address (hash {expected})"
    )]
    KeyMismatch {
        /// The input.
        index: usize,
        /// The spent output's address.
        expected: Address,
    },
    /// An input spends a coinbase output before it matured.
    #[error(
        "input {index} spends a coinbase from height {coin_height} at height {spend_height} (maturity {maturity})"
    )]
    ImmatureCoinbase {
        /// The input.
        index: usize,
        /// Where the coinbase was created.
        coin_height: u64,
        /// Where it is being spent.
        spend_height: u64,
        /// The required confirmations.
        maturity: u64,
    },
    /// Inputs sum past MAX_MONEY (impossible with a sound UTXO set, but checked).
    #[error("inputs sum past MAX_MONEY")]
    InputsOverflow,
    /// The outputs spend more than the inputs hold.
    #[error("outputs ({outputs}) exceed inputs ({inputs})")]
    OutputsExceedInputs {
        /// Sum of inputs.
        inputs: Amount,
        /// Sum of outputs.
        outputs: Amount,
    },
}

/// A context-free block rule that was broken, or a contextual one found when
/// the block was connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// Unsupported header version.
    #[error("unsupported block version {0}")]
    UnsupportedVersion(u32),
    /// Encoded size above the network's limit.
    #[error("block is {size} bytes, above the {max}-byte limit")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The header's target is not the network's.
    #[error("block target is not the network's target")]
    WrongTarget,
    /// The header hash does not meet the target.
    #[error("proof of work does not meet the target")]
    BadProofOfWork,
    /// No transactions, or the first is not a coinbase.
    #[error("the first transaction is not a coinbase")]
    FirstNotCoinbase,
    /// A coinbase after the first position.
    #[error("transaction {index} is a second coinbase")]
    ExtraCoinbase {
        /// Its position.
        index: usize,
    },
    /// Two transactions with the same txid.
    #[error("duplicate transaction {0}")]
    DuplicateTx(Txid),
    /// The merkle root does not match the transactions.
    #[error("merkle root mismatch")]
    BadMerkleRoot,
    /// A transaction broke a context-free rule.
    #[error("transaction {index}: {error}")]
    Tx {
        /// Its position.
        index: usize,
        /// The rule.
        error: TxError,
    },
    /// The time is not after the median time of the previous blocks.
    #[error("block time {time} is not after the median time past {median}")]
    TimeTooOld {
        /// The block's time.
        time: u64,
        /// The median of the previous blocks' times.
        median: u64,
    },
    /// The time is too far in the future. This is *temporary*: the same block
    /// may be valid later, so its sender is not punished.
    #[error("block time {time} is more than the allowed drift past now ({max})")]
    TimeTooNew {
        /// The block's time.
        time: u64,
        /// The latest acceptable time now.
        max: u64,
    },
    /// The coinbase commits to the wrong height.
    #[error("coinbase commits to height {found:?}, block is at {expected}")]
    BadCoinbaseHeight {
        /// The block's height.
        expected: u64,
        /// What the coinbase says (`None` if unreadable).
        found: Option<u64>,
    },
    /// A transaction broke a contextual rule.
    #[error("transaction {index}: {error}")]
    Inputs {
        /// Its position.
        index: usize,
        /// The rule.
        error: InputError,
    },
    /// Fees overflow MAX_MONEY.
    #[error("block fees overflow")]
    FeesOverflow,
    /// The coinbase pays more than subsidy plus fees.
    #[error("coinbase pays {paid}, more than subsidy plus fees ({allowed})")]
    CoinbaseTooLarge {
        /// What the coinbase pays.
        paid: Amount,
        /// Subsidy plus fees.
        allowed: Amount,
    },
    /// The block builds on a block already known to be invalid.
    #[error("block builds on invalid block {0}")]
    InvalidAncestor(BlockHash),
}

impl BlockError {
    /// Whether the failure may go away with time (a block from the future).
    /// Temporary failures are not the sender's fault and are not punished.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::TimeTooNew { .. })
    }
}

/// A transaction that passed every context-free rule, signatures included.
/// Only the functions in this module build one, so the mempool can demand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTx {
    tx: Arc<Transaction>,
    txid: Txid,
    size: usize,
}

impl CheckedTx {
    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    /// Shared ownership of the transaction.
    pub fn shared(&self) -> Arc<Transaction> {
        Arc::clone(&self.tx)
    }
    /// Its id.
    pub fn txid(&self) -> Txid {
        self.txid
    }
    /// Its encoded size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// A block that passed every context-free rule.
#[derive(Debug, Clone)]
pub struct CheckedBlock {
    block: Arc<Block>,
    hash: BlockHash,
    txids: Arc<[Txid]>,
    size: usize,
}

impl CheckedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }
    /// Shared ownership of the block.
    pub fn shared(&self) -> Arc<Block> {
        Arc::clone(&self.block)
    }
    /// Its hash.
    pub fn hash(&self) -> BlockHash {
        self.hash
    }
    /// Its txids, in order.
    pub fn txids(&self) -> &[Txid] {
        &self.txids
    }
    /// Its encoded size.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// Context-free rules other than signatures. `in_block_first` is true only
/// for the first transaction of a block, the one place a coinbase is allowed.
fn check_structure(
    tx: &Transaction,
    size: usize,
    params: &Params,
    coinbase_ok: bool,
) -> Result<(), TxError> {
    if tx.version != Transaction::VERSION {
        return Err(TxError::UnsupportedVersion(tx.version));
    }
    if tx.inputs.is_empty() {
        return Err(TxError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(TxError::NoOutputs);
    }
    if size > params.max_tx_bytes {
        return Err(TxError::TooLarge {
            size,
            max: params.max_tx_bytes,
        });
    }
    if let Some(index) = tx.outputs.iter().position(|o| o.amount == Amount::ZERO) {
        return Err(TxError::ZeroOutput { index });
    }
    if tx.output_total().is_none() {
        return Err(TxError::OutputsOverflow);
    }
    if tx.is_coinbase() {
        return if coinbase_ok {
            Ok(())
        } else {
            Err(TxError::UnexpectedCoinbase)
        };
    }
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    for (index, input) in tx.inputs.iter().enumerate() {
        if input.prev.is_null() {
            return Err(TxError::NullInput { index });
        }
        if !seen.insert(input.prev) {
            return Err(TxError::DuplicateInput {
                index,
                outpoint: input.prev,
            });
        }
    }
    Ok(())
}

/// Checks one transaction against every context-free rule, signatures included.
///
/// # Errors
/// The first [`TxError`] found.
pub fn check_transaction(tx: Transaction, params: &Params) -> Result<CheckedTx, TxError> {
    check_transactions(vec![tx], params)
        .pop()
        .expect("one in, one out")
}

/// Checks many transactions, verifying all their signatures in one batch (and
/// one by one only if the batch fails). The result is the same as calling
/// [`check_transaction`] on each, in the same order.
pub fn check_transactions(
    txs: Vec<Transaction>,
    params: &Params,
) -> Vec<Result<CheckedTx, TxError>> {
    check_decoded_transactions(txs.into_iter().map(DecodedTx::new).collect(), params)
}

/// As [`check_transactions`], for transactions decoded with their ids (so
/// neither id nor size is computed again).
pub fn check_decoded_transactions(
    txs: Vec<DecodedTx>,
    params: &Params,
) -> Vec<Result<CheckedTx, TxError>> {
    let mut results: Vec<Result<CheckedTx, TxError>> = Vec::with_capacity(txs.len());
    let mut sighashes: Vec<Hash256> = Vec::with_capacity(txs.len());
    for decoded in txs {
        let (tx, txid, size) = decoded.into_parts();
        match check_structure(&tx, size, params, false) {
            Ok(()) => {
                sighashes.push(tx.sighash());
                results.push(Ok(CheckedTx {
                    txid,
                    tx: Arc::new(tx),
                    size,
                }));
            }
            Err(e) => {
                sighashes.push(Hash256::ZERO);
                results.push(Err(e));
            }
        }
    }
    let mut checks = Vec::new();
    let mut owner = Vec::new(); // (tx position, input index) per check
    for (pos, result) in results.iter().enumerate() {
        if let Ok(ctx) = result {
            for (index, input) in ctx.tx.inputs.iter().enumerate() {
                checks.push(SigCheck {
                    msg: sighashes[pos].as_bytes(),
                    key: &input.pubkey,
                    sig: &input.signature,
                });
                owner.push((pos, index));
            }
        }
    }
    if verify_batch(&checks).is_ok() {
        return results;
    }
    // Name every failing transaction: verify per transaction.
    let mut failed = Vec::new();
    let mut start = 0;
    while start < checks.len() {
        let pos = owner[start].0;
        let end = start + owner[start..].iter().take_while(|(p, _)| *p == pos).count();
        if let Err((i, error)) = verify_batch(&checks[start..end]) {
            failed.push((pos, owner[start + i].1, error));
        }
        start = end;
    }
    drop(checks);
    for (pos, index, error) in failed {
        results[pos] = Err(TxError::Signature { index, error });
    }
    results
}

/// Checks a transaction's inputs against `view` for a spend at `spend_height`
/// and returns its fee.
///
/// # Errors
/// The first [`InputError`] found.
pub fn check_tx_inputs(
    tx: &Transaction,
    view: &impl UtxoView,
    spend_height: u64,
    params: &Params,
) -> Result<Amount, InputError> {
    let mut total = Amount::ZERO;
    for (index, input) in tx.inputs.iter().enumerate() {
        let coin = view.coin(&input.prev).ok_or(InputError::MissingOrSpent {
            index,
            outpoint: input.prev,
        })?;
        if Address::from_pubkey(&input.pubkey) != coin.output.address {
            return Err(InputError::KeyMismatch {
                index,
                expected: coin.output.address,
            });
        }
        if coin.coinbase && coin.height > 0 && spend_height < coin.height + params.coinbase_maturity
        {
            return Err(InputError::ImmatureCoinbase {
                index,
                coin_height: coin.height,
                spend_height,
                maturity: params.coinbase_maturity,
            });
        }
        total = total
            .checked_add(coin.output.amount)
            .ok_or(InputError::InputsOverflow)?;
    }
    let outputs = tx.output_total().ok_or(InputError::InputsOverflow)?;
    total
        .checked_sub(outputs)
        .ok_or(InputError::OutputsExceedInputs {
            inputs: total,
            outputs,
        })
}

/// Checks a block against every context-free rule. Signatures of
/// transactions for which `sigs_known_valid` returns true are not verified
/// again (a signature cache: the txid commits to the signatures, so a txid
/// already verified by the mempool needs no second check).
///
/// # Errors
/// The first [`BlockError`] found, cheapest rules first.
pub fn check_block(
    block: Block,
    params: &Params,
    sigs_known_valid: impl Fn(&Txid) -> bool,
) -> Result<CheckedBlock, BlockError> {
    check_decoded_block(DecodedBlock::new(block), params, sigs_known_valid)
}

/// As [`check_block`], for a block decoded with its hash and txids (so
/// neither is computed again).
///
/// # Errors
/// The first [`BlockError`] found, cheapest rules first.
pub fn check_decoded_block(
    decoded: DecodedBlock,
    params: &Params,
    sigs_known_valid: impl Fn(&Txid) -> bool,
) -> Result<CheckedBlock, BlockError> {
    let (block, hash, txids, size) = decoded.into_parts();
    let header = &block.header;
    if header.version != Block::VERSION {
        return Err(BlockError::UnsupportedVersion(header.version));
    }
    if header.target != params.target {
        return Err(BlockError::WrongTarget);
    }
    if !params.target.is_met_by(&hash) {
        return Err(BlockError::BadProofOfWork);
    }
    if size > params.max_block_bytes {
        return Err(BlockError::TooLarge {
            size,
            max: params.max_block_bytes,
        });
    }
    match block.txs.first() {
        Some(first) if first.is_coinbase() => {}
        _ => return Err(BlockError::FirstNotCoinbase),
    }
    if let Some(index) = block.txs.iter().skip(1).position(Transaction::is_coinbase) {
        return Err(BlockError::ExtraCoinbase { index: index + 1 });
    }
    let mut seen = HashSet::with_capacity(block.txs.len());
    for (index, (tx, txid)) in block.txs.iter().zip(&txids).enumerate() {
        if !seen.insert(*txid) {
            return Err(BlockError::DuplicateTx(*txid));
        }
        check_structure(tx, tx.size(), params, index == 0)
            .map_err(|error| BlockError::Tx { index, error })?;
    }
    if Block::merkle_root_of(&txids) != header.merkle_root {
        return Err(BlockError::BadMerkleRoot);
    }
    let sighashes: Vec<(usize, Hash256)> = block
        .txs
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(index, _)| !sigs_known_valid(&txids[*index]))
        .map(|(index, tx)| (index, tx.sighash()))
        .collect();
    let mut checks = Vec::new();
    let mut owner = Vec::new();
    for (index, sighash) in &sighashes {
        for (input, txin) in block.txs[*index].inputs.iter().enumerate() {
            checks.push(SigCheck {
                msg: sighash.as_bytes(),
                key: &txin.pubkey,
                sig: &txin.signature,
            });
            owner.push((*index, input));
        }
    }
    if let Err((i, error)) = verify_batch(&checks) {
        let (index, input) = owner[i];
        return Err(BlockError::Tx {
            index,
            error: TxError::Signature {
                index: input,
                error,
            },
        });
    }
    drop(checks);
    Ok(CheckedBlock {
        block: Arc::new(block),
        hash,
        txids: txids.into(),
        size,
    })
}

/// The median of `times` (the previous blocks' times), as Bitcoin's
/// median-time-past: the element at position `len / 2` after sorting.
pub fn median_time(times: &mut [u64]) -> u64 {
    if times.is_empty() {
        return 0;
    }
    times.sort_unstable();
    times[times.len() / 2]
}
