//! Blocks: [`BlockHeader`], [`Block`], proof-of-work [`Target`] and [`Work`].

use serde::{Deserialize, Serialize};

use crate::encode::{self, DecodeError};
use crate::hash::{BlockHash, Hash256, Txid, merkle_root, sha256d};
use crate::tx::Transaction;

/// No block encoding longer than this is ever decoded. Each network's
/// `max_block_bytes` (a validation rule) is at most this.
pub const MAX_BLOCK_DECODE_BYTES: usize = 16 * 1024 * 1024;

/// Headers are small and fixed-shape; nothing longer is decoded as one.
pub const MAX_HEADER_DECODE_BYTES: usize = 256;

crate::hash::byte_newtype!(
    /// A proof-of-work target: a block is valid when sha256d(header), read as a
    /// 256-bit big-endian number, is at most the target.
    Target,
    32
);

impl Target {
    /// The target with `zero_bits` leading zero bits followed by ones.
    pub fn from_leading_zeros(zero_bits: u32) -> Self {
        let mut t = [0xffu8; 32];
        for bit in 0..zero_bits.min(256) {
            t[(bit / 8) as usize] &= !(0x80u8 >> (bit % 8));
        }
        Self(t)
    }

    /// Whether `hash` meets this target.
    pub fn is_met_by(&self, hash: &BlockHash) -> bool {
        hash.0 <= self.0
    }

    /// The expected number of hashes to meet this target:
    /// `u128::MAX / (top128(target) + 1)`, computed from the target's top 128
    /// bits. Monotone in the target and identical on every node; it saturates
    /// for targets below 2^128, far harder than any rumor network uses.
    pub fn work(&self) -> Work {
        let top = u128::from_be_bytes(self.0[..16].try_into().expect("16 bytes"));
        Work(u128::MAX / top.saturating_add(1))
    }
}

/// Accumulated proof of work. The best chain is the one with the most.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Work(pub u128);

impl Work {
    /// `self + other`, saturating.
    pub fn saturating_add(self, other: Work) -> Work {
        Work(self.0.saturating_add(other.0))
    }
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A block header. Its hash is the block's id and its proof of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Format version; 1 today.
    pub version: u32,
    /// The parent block's hash ([`BlockHash::ZERO`] for genesis).
    pub prev: BlockHash,
    /// Merkle root of the block's txids, in order.
    pub merkle_root: Hash256,
    /// Block time in Unix milliseconds.
    pub time: u64,
    /// The proof-of-work target the hash must meet.
    pub target: Target,
    /// Varied by the miner to meet the target.
    pub nonce: u64,
}

impl BlockHeader {
    /// The block hash: sha256d of the header's canonical encoding.
    pub fn hash(&self) -> BlockHash {
        BlockHash(sha256d(&encode::encode(self)))
    }

    /// Whether the header's hash meets its own target.
    pub fn meets_target(&self) -> bool {
        self.target.is_met_by(&self.hash())
    }

    /// Decodes a header from its canonical encoding.
    ///
    /// # Errors
    /// [`DecodeError`] for anything but exactly one canonical header.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encode::decode(bytes, MAX_HEADER_DECODE_BYTES)
    }
}

/// A block: a header and its transactions, the coinbase first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions; the first must be the coinbase.
    #[serde(deserialize_with = "crate::encode::bounded_vec")]
    pub txs: Vec<Transaction>,
}

impl Block {
    /// The current block version.
    pub const VERSION: u32 = 1;

    /// The block's id.
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode::encode(self)
    }

    /// The length of the canonical encoding (computed, not encoded).
    pub fn size(&self) -> usize {
        encode::encoded_len(&self.header)
            + encode::varint_len(self.txs.len() as u64)
            + self.txs.iter().map(Transaction::size).sum::<usize>()
    }

    /// Decodes a block from its canonical encoding.
    ///
    /// # Errors
    /// [`DecodeError`] for anything but exactly one canonical block of at most
    /// [`MAX_BLOCK_DECODE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encode::decode(bytes, MAX_BLOCK_DECODE_BYTES)
    }

    /// The txids, in order.
    pub fn txids(&self) -> Vec<Txid> {
        self.txs.iter().map(Transaction::txid).collect()
    }

    /// The merkle root of `txids`.
    pub fn merkle_root_of(txids: &[Txid]) -> Hash256 {
        merkle_root(txids.iter().map(|t| t.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_from_leading_zeros() {
        let t = Target::from_leading_zeros(12);
        assert_eq!(t.0[0], 0);
        assert_eq!(t.0[1], 0x0f);
        assert_eq!(t.0[2], 0xff);
        assert_eq!(Target::from_leading_zeros(0).0, [0xff; 32]);
    }

    #[test]
    fn work_is_monotone_in_difficulty() {
        let easy = Target::from_leading_zeros(1).work();
        let hard = Target::from_leading_zeros(12).work();
        assert!(hard > easy);
        // each extra zero bit roughly doubles the work
        let harder = Target::from_leading_zeros(13).work();
        assert!(harder.0 / hard.0 == 2 || harder.0 / hard.0 == 1);
        assert!(harder > hard);
    }

    #[test]
    fn pow_check_compares_big_endian() {
        let t = Target::from_leading_zeros(8);
        let mut h = [0xffu8; 32];
        h[0] = 0;
        assert!(t.is_met_by(&BlockHash(h)));
        h[0] = 1;
        assert!(!t.is_met_by(&BlockHash(h)));
    }
}
