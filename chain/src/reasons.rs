//! Stable kebab-case labels for every validation failure. They name the
//! broken rule in metrics (`reason` label), in p2p verdicts, and in the
//! message of RPC error −26. The set is finite, so metric cardinality is bounded.

use crate::mempool::MempoolError;
use crate::object::BodyError;
use crate::validate::{BlockError, InputError, TxError};

/// The label of a context-free transaction rule.
pub fn tx(e: &TxError) -> &'static str {
    match e {
        TxError::UnsupportedVersion(_) => "bad-tx-version",
        TxError::NoInputs => "no-inputs",
        TxError::NoOutputs => "no-outputs",
        TxError::TooLarge { .. } => "tx-too-large",
        TxError::DuplicateInput { .. } => "duplicate-input",
        TxError::ZeroOutput { .. } => "zero-output",
        TxError::OutputsOverflow => "outputs-overflow",
        TxError::NullInput { .. } => "null-input",
        TxError::UnexpectedCoinbase => "unexpected-coinbase",
        TxError::Signature { .. } => "bad-signature",
    }
}

/// The label of a contextual transaction rule.
pub fn input(e: &InputError) -> &'static str {
    match e {
        InputError::MissingOrSpent { .. } => "missing-or-spent",
        InputError::KeyMismatch { .. } => "key-mismatch",
        InputError::ImmatureCoinbase { .. } => "immature-coinbase",
        InputError::InputsOverflow => "inputs-overflow",
        InputError::OutputsExceedInputs { .. } => "outputs-exceed-inputs",
    }
}

/// The label of a mempool refusal.
pub fn mempool(e: &MempoolError) -> &'static str {
    match e {
        MempoolError::AlreadyInPool => "txn-already-in-mempool",
        MempoolError::Conflict { .. } => "txn-mempool-conflict",
        MempoolError::MissingInputs { .. } => "missing-inputs",
        MempoolError::Invalid(e) => input(e),
        MempoolError::FeeTooLow { .. } => "fee-too-low",
        MempoolError::TooLongChain { .. } => "too-long-mempool-chain",
        MempoolError::MempoolFull => "mempool-full",
    }
}

/// The label of a block rule.
pub fn block(e: &BlockError) -> &'static str {
    match e {
        BlockError::UnsupportedVersion(_) => "bad-block-version",
        BlockError::TooLarge { .. } => "block-too-large",
        BlockError::WrongTarget => "bad-target",
        BlockError::BadProofOfWork => "high-hash",
        BlockError::FirstNotCoinbase => "first-not-coinbase",
        BlockError::ExtraCoinbase { .. } => "extra-coinbase",
        BlockError::DuplicateTx(_) => "duplicate-tx",
        BlockError::BadMerkleRoot => "bad-merkle-root",
        BlockError::Tx { .. } => "bad-tx-in-block",
        BlockError::TimeTooOld { .. } => "time-too-old",
        BlockError::TimeTooNew { .. } => "time-too-new",
        BlockError::BadCoinbaseHeight { .. } => "bad-coinbase-height",
        BlockError::Inputs { .. } => "bad-tx-inputs-in-block",
        BlockError::FeesOverflow => "fees-overflow",
        BlockError::CoinbaseTooLarge { .. } => "coinbase-too-large",
        BlockError::InvalidAncestor(_) => "invalid-ancestor",
    }
}

/// The label of a body that is not what it was sent as.
pub fn body(e: &BodyError) -> &'static str {
    match e {
        BodyError::Undecodable { .. } => UNDECODABLE,
        BodyError::IdMismatch { .. } => ID_MISMATCH,
    }
}

/// Bodies that did not decode.
pub const UNDECODABLE: &str = "undecodable";
/// Bodies whose id is not the one they were sent for.
pub const ID_MISMATCH: &str = "id-mismatch";
/// Orphan transactions (held until their parents arrive).
pub const ORPHAN_TX: &str = "orphan-tx";
/// Orphan blocks (their parent is fetched).
pub const ORPHAN_BLOCK: &str = "orphan-block";
/// Blocks whose branch has no more work than the best chain (held aside,
/// not stored, not relayed).
pub const STALE_BLOCK: &str = "stale-block";
/// Blocks already known to break a rule.
pub const KNOWN_INVALID: &str = "known-invalid";
/// The node failed internally (store I/O) or is stopping.
pub const INTERNAL: &str = "internal-error";
