//! Proof-of-work mining and block assembly helpers.

use crate::address::Address;
use crate::amount::Amount;
use crate::block::{Block, BlockHeader};
use crate::hash::BlockHash;
use crate::params::Params;
use crate::tx::{Transaction, TxIn, TxOut};

/// Searches nonces from the header's current nonce until its hash meets its
/// target, trying at most `max_tries` nonces. Returns whether it succeeded;
/// on failure the header keeps the last nonce tried plus one.
pub fn mine_header(header: &mut BlockHeader, max_tries: u64) -> bool {
    for _ in 0..max_tries {
        if header.meets_target() {
            return true;
        }
        header.nonce = header.nonce.wrapping_add(1);
    }
    header.meets_target()
}

/// The coinbase for a block at `height` paying `value` to `to`. `extra` is
/// free data that makes coinbases of different miners distinct.
pub fn coinbase_tx(height: u64, value: Amount, to: Address, extra: [u8; 56]) -> Transaction {
    Transaction {
        version: Transaction::VERSION,
        inputs: vec![TxIn::coinbase(height, extra)],
        outputs: vec![TxOut {
            amount: value,
            address: to,
        }],
    }
}

/// Where and how to build a block; see [`build_block`].
#[derive(Debug, Clone, Copy)]
pub struct BlockSpec {
    /// The parent block.
    pub prev: BlockHash,
    /// The new block's height.
    pub height: u64,
    /// Block time, Unix ms.
    pub time: u64,
    /// Who the coinbase pays.
    pub pay_to: Address,
    /// The fees of the transactions, added to the subsidy.
    pub fees: Amount,
    /// Free coinbase bytes that make different miners' coinbases distinct.
    pub extra: [u8; 56],
}

/// Assembles and mines a block: a coinbase paying the subsidy plus the
/// fees, followed by `txs` in the given order.
pub fn build_block(params: &Params, spec: &BlockSpec, txs: Vec<Transaction>) -> Block {
    let value = params
        .subsidy(spec.height)
        .checked_add(spec.fees)
        .unwrap_or(Amount::MAX_MONEY);
    let mut all = Vec::with_capacity(txs.len() + 1);
    all.push(coinbase_tx(spec.height, value, spec.pay_to, spec.extra));
    all.extend(txs);
    let txids: Vec<_> = all.iter().map(Transaction::txid).collect();
    let mut header = BlockHeader {
        version: Block::VERSION,
        prev: spec.prev,
        merkle_root: Block::merkle_root_of(&txids),
        time: spec.time,
        target: params.target,
        nonce: 0,
    };
    mine_header(&mut header, u64::MAX);
    Block { header, txs: all }
}
