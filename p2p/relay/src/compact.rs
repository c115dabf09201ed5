//! Compact blocks (BIP152-style): a block sent as its header, its coinbase
//! and the 8-byte short ids of its other transactions, and rebuilt by the
//! receiver from transactions it already has.
//!
//! The decisions: [`PartialBlock::rebuild`] fills what the relay's cache
//! holds; [`PartialBlock::missing`] names the positions to fetch from the
//! sender; [`PartialBlock::finish`] checks the merkle root (a short-id
//! collision or a lying sender shows here) and assembles the block's
//! canonical encoding, which the node decodes once like any other body.

use bytes::Bytes;
use rumor_chain::{Block, BlockHash, BlockHeader, Txid, sha256d};
use serde::{Deserialize, Serialize};

/// A compact block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactBlock {
    /// The header.
    pub header: BlockHeader,
    /// The coinbase's canonical encoding.
    pub coinbase: Bytes,
    /// Short ids of the other transactions, in block order.
    pub short_ids: Vec<u64>,
}

impl CompactBlock {
    /// The compact form of a block whose transactions' ids are `txids`.
    pub fn of(block: &Block, txids: &[Txid]) -> Self {
        Self {
            header: block.header,
            coinbase: Bytes::from(block.txs.first().map(|t| t.encode()).unwrap_or_default()),
            short_ids: txids.iter().skip(1).map(Txid::short_id).collect(),
        }
    }

    /// The block's hash.
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }
}

/// A block being rebuilt: its header and, per position, the transaction if
/// known (with its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialBlock {
    header: BlockHeader,
    txs: Vec<Option<(Txid, Bytes)>>,
}

/// What a finished rebuild gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// The block's canonical encoding; its merkle root matches.
    Block(Bytes),
    /// Some transactions are still missing.
    Incomplete,
    /// Every position is filled but the merkle root does not match: a
    /// short-id collision or a lying sender. Fetch the full block.
    Mismatch,
}

impl PartialBlock {
    /// Rebuilds what it can of `cb` from `lookup` (short id → transaction).
    pub fn rebuild(cb: &CompactBlock, lookup: impl Fn(u64) -> Option<(Txid, Bytes)>) -> Self {
        let mut txs = Vec::with_capacity(cb.short_ids.len() + 1);
        txs.push(Some((Txid(sha256d(&cb.coinbase)), cb.coinbase.clone())));
        for id in &cb.short_ids {
            txs.push(lookup(*id).filter(|(txid, _)| txid.short_id() == *id));
        }
        Self {
            header: cb.header,
            txs,
        }
    }

    /// Positions still missing, in order.
    pub fn missing(&self) -> Vec<u32> {
        self.txs
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_none())
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Fills the missing positions, in order, with `bodies`. Returns false
    /// (and fills nothing) if their number is not the number missing.
    pub fn fill(&mut self, bodies: Vec<Bytes>) -> bool {
        let missing = self.missing();
        if bodies.len() != missing.len() {
            return false;
        }
        for (i, bytes) in missing.into_iter().zip(bodies) {
            self.txs[i as usize] = Some((Txid(sha256d(&bytes)), bytes));
        }
        true
    }

    /// The block, if every transaction is there and the merkle root holds.
    pub fn finish(&self) -> Finished {
        if self.txs.iter().any(Option::is_none) {
            return Finished::Incomplete;
        }
        let txs: Vec<&(Txid, Bytes)> = self.txs.iter().flatten().collect();
        let txids: Vec<Txid> = txs.iter().map(|(t, _)| *t).collect();
        if Block::merkle_root_of(&txids) != self.header.merkle_root {
            return Finished::Mismatch;
        }
        let total: usize = txs.iter().map(|(_, b)| b.len()).sum();
        let mut bytes = Vec::with_capacity(total + 200);
        rumor_chain::encode_into(&self.header, &mut bytes);
        rumor_chain::encode_into(&(txs.len() as u64), &mut bytes);
        for (_, b) in txs {
            bytes.extend_from_slice(b);
        }
        Finished::Block(Bytes::from(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_blocks::block_of;

    fn pool(block: &Block, skip: &[usize]) -> Vec<(Txid, Bytes)> {
        block
            .txs
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| !skip.contains(i))
            .map(|(_, t)| (t.txid(), Bytes::from(t.encode())))
            .collect()
    }

    fn lookup(pool: &[(Txid, Bytes)]) -> impl Fn(u64) -> Option<(Txid, Bytes)> + '_ {
        |id| pool.iter().find(|(t, _)| t.short_id() == id).cloned()
    }

    #[test]
    fn a_block_every_transaction_of_which_is_known_rebuilds_to_its_encoding() {
        let block = block_of(5);
        let cb = CompactBlock::of(&block, &block.txids());
        assert_eq!(cb.hash(), block.hash());
        let have = pool(&block, &[]);
        let partial = PartialBlock::rebuild(&cb, lookup(&have));
        assert!(partial.missing().is_empty());
        assert_eq!(
            partial.finish(),
            Finished::Block(Bytes::from(block.encode()))
        );
    }

    #[test]
    fn missing_transactions_are_named_by_position_and_filled_in_order() {
        let block = block_of(6);
        let cb = CompactBlock::of(&block, &block.txids());
        let have = pool(&block, &[2, 5]);
        let mut partial = PartialBlock::rebuild(&cb, lookup(&have));
        assert_eq!(partial.missing(), vec![2, 5]);
        assert_eq!(partial.finish(), Finished::Incomplete);
        let fetched = [2, 5].map(|i| Bytes::from(block.txs[i].encode()));
        assert!(!partial.fill(vec![fetched[0].clone()]), "wrong count");
        assert!(partial.fill(fetched.to_vec()));
        assert_eq!(
            partial.finish(),
            Finished::Block(Bytes::from(block.encode()))
        );
    }

    #[test]
    fn a_wrong_transaction_is_caught_by_the_merkle_root() {
        let block = block_of(4);
        let cb = CompactBlock::of(&block, &block.txids());
        let mut partial = PartialBlock::rebuild(&cb, |_| None);
        // A sender answering with the right count of the wrong transactions.
        let mut wrong: Vec<Bytes> = block.txs[1..]
            .iter()
            .map(|t| Bytes::from(t.encode()))
            .collect();
        wrong.swap(0, 1);
        assert!(partial.fill(wrong));
        assert_eq!(partial.finish(), Finished::Mismatch);
    }
}
