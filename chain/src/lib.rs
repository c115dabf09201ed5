//! rumor-chain: the minimal but real UTXO chain that every other rumor crate
//! relays, stores or measures.
//!
//! It is pure logic: no tokio, no network, no filesystem. Everything is
//! deterministic given its inputs (the current time is always a parameter),
//! which keeps it easy to property-test and fuzz.
//!
//! # Map
//! - [`hash`](crate::sha256d), ids: [`Txid`], [`BlockHash`], [`Hash256`], and [`merkle_root`].
//! - amounts: [`Amount`] (checked, at most [`Amount::MAX_MONEY`]).
//! - keys and addresses: [`KeyPair`], [`PublicKey`], [`Signature`], [`Address`] (bech32m).
//! - encoding: [`encode`]/[`decode`], one canonical bincode-2 configuration.
//! - objects: [`Transaction`] (with its sighash), [`Block`], [`BlockHeader`], [`Target`], [`Work`].
//! - signatures: [`verify_one`] and [`verify_batch`], which agree.
//! - rules: [`check_transaction`], [`check_transactions`], [`check_tx_inputs`],
//!   [`check_block`], with one error enum per kind of check ([`TxError`],
//!   [`InputError`], [`BlockError`]) and one variant per rule.
//! - state: [`ChainState`] (block tree, best chain, reorgs, orphans, locators)
//!   over a [`ChainStore`] ([`MemStore`] here; redb in the node).
//! - policy: [`Mempool`].
//! - networks: [`Network`], [`Params`], genesis and faucet keys; [`build_block`] mines.
//! - relay vocabulary: [`Inv`] (a typed object id), [`Object`] (a body decoded
//!   once with its id), [`Verdict`]/[`Outcome`] with the [`reasons`] labels.
//! - acceptance: [`NodeState`], the one pipeline (screen, check, commit) by
//!   which a node takes objects into its chain and mempool.

mod accept;
mod address;
mod amount;
mod block;
mod chainstate;
mod encode;
mod hash;
mod inv;
mod keys;
mod mempool;
mod mine;
mod object;
mod orphans;
mod params;
pub mod reasons;
mod sig;
mod store;
mod tx;
mod utxo;
mod validate;
mod verdict;

pub use accept::{Checked, CommitError, Committed, NodeState, Note, Screened, decode_body};
pub use address::{Address, AddressError, AddressText, OLD_ADDRESS_PREFIX};
pub use amount::{Amount, AmountOutOfRange, COIN, ParseAmountError};
pub use block::{
    Block, BlockHeader, MAX_BLOCK_DECODE_BYTES, MAX_HEADER_DECODE_BYTES, Target, Work,
};
pub use chainstate::{
    AcceptBlockError, AcceptOutcome, BlockAccepted, ChainState, MAX_ORPHAN_BLOCK_BYTES,
    MAX_ORPHAN_BLOCKS, OpenError,
};
pub use encode::{
    DecodeError, HARD_LIMIT, decode, decode_prefix, encode, encode_into, encoded_len,
};
pub use hash::{BlockHash, Hash256, Txid, merkle_root, sha256, sha256d};
pub use inv::{Inv, ObjectKind};
pub use keys::{KeyPair, PublicKey, Signature};
pub use mempool::{
    BlockRemoval, Mempool, MempoolConfig, MempoolEntry, MempoolError, OrphanTxs, Source, TxAccepted,
};
pub use mine::{BlockSpec, build_block, coinbase_tx, mine_header};
pub use object::{BodyError, DecodedBlock, DecodedTx, Object};
pub use orphans::OrphanBlocks;
pub use params::{Network, Params, ParamsError, UnknownNetwork};
pub use sig::{SigCheck, SigError, verify_batch, verify_one};
pub use store::{ChainStore, ChainUpdate, IndexEntry, MemStore, UpdateKind};
pub use tx::{MAX_TX_DECODE_BYTES, MissingKey, OutPoint, Transaction, TxIn, TxOut};
pub use utxo::{BlockUndo, Coin, CoinCache, CoinList, UtxoView};
pub use validate::{
    BlockError, CheckedBlock, CheckedTx, InputError, TxError, check_block, check_decoded_block,
    check_decoded_transactions, check_transaction, check_transactions, check_tx_inputs,
    median_time,
};
pub use verdict::{Outcome, Verdict};

/// A validation-only error type that never occurs, re-exported for stores that cannot fail.
pub use std::convert::Infallible;

/// Parsing a fixed-size hex id failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {what} hex: {source}")]
pub struct HexError {
    /// Which type was being parsed.
    pub what: &'static str,
    /// What was wrong.
    #[source]
    pub source: hex::FromHexError,
}
