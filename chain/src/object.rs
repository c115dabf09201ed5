//! Decoded objects that carry their ids: [`DecodedTx`], [`DecodedBlock`] and
//! [`Object`]. A node decodes each body it receives exactly once and hashes
//! each id exactly once; everything after that (the context-free checks, the
//! mempool, the chain) takes these types instead of recomputing.
//!
//! A transaction's id is sha256d of its canonical encoding. [`crate::decode`]
//! accepts only bytes that re-encode to themselves, so the id of a decoded
//! transaction is the hash of the bytes it was decoded from: no re-encoding.

use crate::block::{Block, MAX_BLOCK_DECODE_BYTES};
use crate::encode::{self, DecodeError};
use crate::hash::{BlockHash, Txid, sha256d};
use crate::inv::{Inv, ObjectKind};
use crate::tx::{MAX_TX_DECODE_BYTES, Transaction};

/// A transaction with its id and encoded size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTx {
    tx: Transaction,
    txid: Txid,
    size: usize,
}

impl DecodedTx {
    /// Decodes a transaction and takes its id from the bytes.
    ///
    /// # Errors
    /// [`DecodeError`] for anything but one canonical transaction.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let tx: Transaction = encode::decode(bytes, MAX_TX_DECODE_BYTES)?;
        Ok(Self {
            tx,
            txid: Txid(sha256d(bytes)),
            size: bytes.len(),
        })
    }

    /// A transaction built in memory (hashes it once).
    pub fn new(tx: Transaction) -> Self {
        Self {
            txid: tx.txid(),
            size: tx.size(),
            tx,
        }
    }

    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// Its id.
    pub fn txid(&self) -> Txid {
        self.txid
    }

    /// Its encoded size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The parts: transaction, id, size.
    pub fn into_parts(self) -> (Transaction, Txid, usize) {
        (self.tx, self.txid, self.size)
    }
}

/// A block with its hash, its transactions' ids and its encoded size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBlock {
    block: Block,
    hash: BlockHash,
    txids: Vec<Txid>,
    size: usize,
}

impl DecodedBlock {
    /// Decodes a block and hashes its header and each transaction once.
    ///
    /// # Errors
    /// [`DecodeError`] for anything but one canonical block.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let block: Block = encode::decode(bytes, MAX_BLOCK_DECODE_BYTES)?;
        Ok(Self {
            hash: block.hash(),
            txids: block.txids(),
            size: bytes.len(),
            block,
        })
    }

    /// A block built in memory.
    pub fn new(block: Block) -> Self {
        Self {
            hash: block.hash(),
            txids: block.txids(),
            size: block.size(),
            block,
        }
    }

    /// The block.
    pub fn block(&self) -> &Block {
        &self.block
    }

    /// Its hash.
    pub fn hash(&self) -> BlockHash {
        self.hash
    }

    /// Its transactions' ids, in order.
    pub fn txids(&self) -> &[Txid] {
        &self.txids
    }

    /// Its encoded size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The parts: block, hash, txids, size.
    pub fn into_parts(self) -> (Block, BlockHash, Vec<Txid>, usize) {
        (self.block, self.hash, self.txids, self.size)
    }
}

/// A decoded transaction or block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A transaction.
    Tx(DecodedTx),
    /// A block.
    Block(DecodedBlock),
}

/// Why a body is not the object it was sent as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The bytes do not decode as the claimed kind.
    #[error("undecodable {kind}: {error}", kind = .kind.label())]
    Undecodable {
        /// The claimed kind.
        kind: ObjectKind,
        /// Why.
        error: DecodeError,
    },
    /// The bytes are another object.
    #[error("body is {actual}, not {claimed}")]
    IdMismatch {
        /// What the body was sent as.
        claimed: Inv,
        /// What it is.
        actual: Inv,
    },
}

impl Object {
    /// Decodes an object of `kind`.
    ///
    /// # Errors
    /// [`DecodeError`] for anything but one canonical object.
    pub fn decode(kind: ObjectKind, bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            ObjectKind::Tx => Self::Tx(DecodedTx::decode(bytes)?),
            ObjectKind::Block => Self::Block(DecodedBlock::decode(bytes)?),
        })
    }

    /// Decodes a body that was sent as `claimed` and checks that it is.
    ///
    /// # Errors
    /// [`BodyError`]: the bytes do not decode, or are another object.
    pub fn decode_claimed(claimed: Inv, bytes: &[u8]) -> Result<Self, BodyError> {
        let object =
            Self::decode(claimed.kind(), bytes).map_err(|error| BodyError::Undecodable {
                kind: claimed.kind(),
                error,
            })?;
        let actual = object.inv();
        if actual != claimed {
            return Err(BodyError::IdMismatch { claimed, actual });
        }
        Ok(object)
    }

    /// The id that `bytes` have as an object of `kind`, without decoding
    /// all of it: sha256d of a transaction's bytes, the hash of a block's
    /// leading header. `None` if a block's bytes do not start with a header.
    /// Whether the bytes are a valid object at all is for the decoder.
    pub fn id_of(kind: ObjectKind, bytes: &[u8]) -> Option<Inv> {
        match kind {
            ObjectKind::Tx => Some(Inv::Tx(Txid(sha256d(bytes)))),
            ObjectKind::Block => encode::decode_prefix::<crate::BlockHeader>(bytes)
                .ok()
                .map(|(h, _)| Inv::Block(h.hash())),
        }
    }

    /// Its inventory item.
    pub fn inv(&self) -> Inv {
        match self {
            Self::Tx(t) => Inv::Tx(t.txid),
            Self::Block(b) => Inv::Block(b.hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Network, Params};

    #[test]
    fn ids_come_from_the_bytes_and_match_the_hashing_path() {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(3)
            .unwrap();
        let genesis = p.genesis_block();
        let bytes = genesis.encode();
        let Object::Block(b) = Object::decode(ObjectKind::Block, &bytes).unwrap() else {
            panic!("a block");
        };
        assert_eq!(b.hash(), genesis.hash());
        assert_eq!(b.txids(), genesis.txids().as_slice());
        assert_eq!(b.size(), genesis.size());
        let tx = &genesis.txs[0];
        let d = DecodedTx::decode(&tx.encode()).unwrap();
        assert_eq!((d.txid(), d.size()), (tx.txid(), tx.size()));
        assert_eq!(DecodedTx::new(tx.clone()), d);
        assert_eq!(
            Object::id_of(ObjectKind::Block, &bytes),
            Some(Inv::Block(genesis.hash()))
        );
        assert_eq!(
            Object::id_of(ObjectKind::Tx, &tx.encode()),
            Some(Inv::Tx(tx.txid()))
        );
        assert_eq!(Object::id_of(ObjectKind::Block, &[0xff]), None);
    }

    #[test]
    fn a_body_must_be_what_it_claims() {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(3)
            .unwrap();
        let tx = p.genesis_block().txs[0].clone();
        let bytes = tx.encode();
        let ok = Object::decode_claimed(Inv::Tx(tx.txid()), &bytes).unwrap();
        assert_eq!(ok.inv(), Inv::Tx(tx.txid()));
        let other = Inv::Tx(Txid([1; 32]));
        assert_eq!(
            Object::decode_claimed(other, &bytes),
            Err(BodyError::IdMismatch {
                claimed: other,
                actual: Inv::Tx(tx.txid())
            })
        );
        assert!(matches!(
            Object::decode_claimed(other, &[1, 2, 3]),
            Err(BodyError::Undecodable {
                kind: ObjectKind::Tx,
                ..
            })
        ));
        // The same bytes claimed as a block do not decode as one.
        assert!(matches!(
            Object::decode_claimed(Inv::Block(BlockHash([0; 32])), &bytes),
            Err(BodyError::Undecodable { .. })
        ));
    }
}
