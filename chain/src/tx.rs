//! Transactions: [`OutPoint`], [`TxIn`], [`TxOut`], [`Transaction`], and the sighash.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::amount::Amount;
use crate::encode::{self, DecodeError, put_varint, varint_len};
use crate::hash::{Hash256, Txid, sha256d};
use crate::keys::{KeyPair, PublicKey, Signature};

/// No transaction encoding longer than this is ever decoded. Each network's
/// `max_tx_bytes` (a validation rule) is at most this.
pub const MAX_TX_DECODE_BYTES: usize = 1024 * 1024;

/// A reference to one output of an earlier transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutPoint {
    /// The transaction that created the output.
    pub txid: Txid,
    /// The output's index in that transaction.
    pub vout: u32,
}

impl OutPoint {
    /// The null outpoint, spent only by a coinbase.
    pub const NULL: Self = Self {
        txid: Txid::ZERO,
        vout: u32::MAX,
    };

    /// Builds an outpoint.
    pub const fn new(txid: Txid, vout: u32) -> Self {
        Self { txid, vout }
    }

    /// Whether this is the coinbase's null outpoint.
    pub fn is_null(&self) -> bool {
        *self == Self::NULL
    }
}

impl std::fmt::Display for OutPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.txid, self.vout)
    }
}

/// A transaction input: the output it spends, the key that owns it, and a
/// signature by that key over the transaction's sighash.
///
/// In a coinbase, `prev` is [`OutPoint::NULL`], `pubkey` is all zeros, and
/// `signature` carries the block height (8 bytes, little-endian) followed by
/// 56 free bytes (the miner's extra nonce), so coinbase txids are unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxIn {
    /// The output being spent.
    pub prev: OutPoint,
    /// The spender's public key; its address must match the output's.
    pub pubkey: PublicKey,
    /// Signature over [`Transaction::sighash`].
    pub signature: Signature,
}

impl TxIn {
    /// An unsigned input spending `prev` with `pubkey`.
    pub fn unsigned(prev: OutPoint, pubkey: PublicKey) -> Self {
        Self {
            prev,
            pubkey,
            signature: Signature::ZERO,
        }
    }

    /// The coinbase input for a block at `height`, with `extra` free bytes.
    pub fn coinbase(height: u64, extra: [u8; 56]) -> Self {
        let mut data = [0u8; 64];
        data[..8].copy_from_slice(&height.to_le_bytes());
        data[8..].copy_from_slice(&extra);
        Self {
            prev: OutPoint::NULL,
            pubkey: PublicKey::ZERO,
            signature: Signature(data),
        }
    }
}

/// A transaction output: an amount paid to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxOut {
    /// The value.
    pub amount: Amount,
    /// Who may spend it.
    pub address: Address,
}

/// A transaction. Its id ([`Transaction::txid`]) is sha256d of its canonical
/// encoding, signatures included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transaction {
    /// Format version; 1 today.
    pub version: u32,
    /// Inputs, in order.
    #[serde(deserialize_with = "crate::encode::bounded_vec")]
    pub inputs: Vec<TxIn>,
    /// Outputs, in order.
    #[serde(deserialize_with = "crate::encode::bounded_vec")]
    pub outputs: Vec<TxOut>,
}

/// Domain separation for sighashes, so a signature over a rumor transaction
/// can never be replayed as a signature over anything else.
const SIGHASH_TAG: &[u8] = b"rumor/sighash/v1";

impl Transaction {
    /// The current transaction version.
    pub const VERSION: u32 = 1;

    /// The id: sha256d of the canonical encoding.
    pub fn txid(&self) -> Txid {
        let mut buf = Vec::with_capacity(self.size());
        self.write_canonical(&mut buf, false);
        Txid(sha256d(&buf))
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode::encode(self)
    }

    /// The length of the canonical encoding in bytes (computed, not encoded).
    pub fn size(&self) -> usize {
        let inputs: usize = self
            .inputs
            .iter()
            .map(|i| 32 + varint_len(i.prev.vout.into()) + 32 + 64)
            .sum();
        let outputs: usize = self
            .outputs
            .iter()
            .map(|o| varint_len(o.amount.units()) + 20)
            .sum();
        varint_len(self.version.into())
            + varint_len(self.inputs.len() as u64)
            + inputs
            + varint_len(self.outputs.len() as u64)
            + outputs
    }

    /// Appends the canonical encoding, byte for byte what [`encode::encode`]
    /// writes (the tests check it), optionally with every signature blanked
    /// to zeros. The hot paths (txid, sighash) use it: it writes arrays whole
    /// and needs no clone of the transaction.
    fn write_canonical(&self, out: &mut Vec<u8>, blank_signatures: bool) {
        put_varint(out, self.version.into());
        put_varint(out, self.inputs.len() as u64);
        for input in &self.inputs {
            out.extend_from_slice(input.prev.txid.as_bytes());
            put_varint(out, input.prev.vout.into());
            out.extend_from_slice(input.pubkey.as_bytes());
            if blank_signatures {
                out.extend_from_slice(Signature::ZERO.as_bytes());
            } else {
                out.extend_from_slice(input.signature.as_bytes());
            }
        }
        put_varint(out, self.outputs.len() as u64);
        for output in &self.outputs {
            put_varint(out, output.amount.units());
            out.extend_from_slice(output.address.as_bytes());
        }
    }

    /// Decodes a transaction from its canonical encoding.
    ///
    /// # Errors
    /// [`DecodeError`] if the bytes are not exactly one canonical transaction
    /// of at most [`MAX_TX_DECODE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encode::decode(bytes, MAX_TX_DECODE_BYTES)
    }

    /// Whether this is a coinbase: exactly one input, spending the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].prev.is_null()
    }

    /// The block height a coinbase commits to, or `None` if not a coinbase.
    pub fn coinbase_height(&self) -> Option<u64> {
        if !self.is_coinbase() {
            return None;
        }
        let data = self.inputs[0].signature.as_bytes();
        Some(u64::from_le_bytes(data[..8].try_into().expect("8 bytes")))
    }

    /// The SIGHASH_ALL-style digest every input signs: sha256d of a tag and the
    /// transaction's encoding with every signature blanked to zeros. It covers
    /// all inputs (with their public keys) and all outputs.
    pub fn sighash(&self) -> Hash256 {
        let mut buf = Vec::with_capacity(SIGHASH_TAG.len() + self.size());
        buf.extend_from_slice(SIGHASH_TAG);
        self.write_canonical(&mut buf, true);
        Hash256(sha256d(&buf))
    }

    /// Signs every input with the key whose public key it names.
    ///
    /// # Errors
    /// [`MissingKey`] with the index of the first input whose key is not in `keys`.
    pub fn sign(&mut self, keys: &[&KeyPair]) -> Result<(), MissingKey> {
        let sighash = self.sighash();
        for (index, input) in self.inputs.iter_mut().enumerate() {
            let key = keys
                .iter()
                .find(|k| k.public() == input.pubkey)
                .ok_or(MissingKey { index })?;
            input.signature = key.sign(sighash.as_bytes());
        }
        Ok(())
    }

    /// The sum of the outputs, or `None` if it passes MAX_MONEY.
    pub fn output_total(&self) -> Option<Amount> {
        Amount::checked_sum(self.outputs.iter().map(|o| o.amount))
    }
}

/// [`Transaction::sign`] found no key for an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no key given for input {index}")]
pub struct MissingKey {
    /// The input with no matching key.
    pub index: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Transaction, KeyPair) {
        let kp = KeyPair::from_seed([1; 32]);
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn::unsigned(OutPoint::new(Txid([5; 32]), 0), kp.public())],
            outputs: vec![TxOut {
                amount: Amount::new(1000).unwrap(),
                address: kp.address(),
            }],
        };
        tx.sign(&[&kp]).unwrap();
        (tx, kp)
    }

    #[test]
    fn sighash_ignores_signatures_but_covers_everything_else() {
        let (tx, _) = sample();
        let mut other = tx.clone();
        other.inputs[0].signature = Signature([9; 64]);
        assert_eq!(tx.sighash(), other.sighash());
        assert_ne!(tx.txid(), other.txid());
        let mut changed = tx.clone();
        changed.outputs[0].amount = Amount::new(999).unwrap();
        assert_ne!(tx.sighash(), changed.sighash());
        let mut changed = tx.clone();
        changed.inputs[0].pubkey = PublicKey([3; 32]);
        assert_ne!(tx.sighash(), changed.sighash());
    }

    #[test]
    fn fast_paths_match_the_bincode_encoding() {
        let (tx, _) = sample();
        let mut txs = vec![tx.clone()];
        // every varint width, in version, vout, amount and the lengths
        for (version, vout, units, n_out) in [
            (250u32, 250u32, 250u64, 1usize),
            (251, 251, 251, 251),
            (65_535, 65_535, 65_535, 2),
            (65_536, 65_536, 65_536, 3),
            (u32::MAX, u32::MAX, u64::from(u32::MAX) + 1, 0),
            (0, 0, Amount::MAX_MONEY.units(), 1),
        ] {
            let mut t = tx.clone();
            t.version = version;
            t.inputs[0].prev.vout = vout;
            t.inputs.push(TxIn::coinbase(7, [3; 56]));
            t.outputs = vec![
                TxOut {
                    amount: Amount::new(units).unwrap(),
                    address: Address([9; 20]),
                };
                n_out
            ];
            txs.push(t);
        }
        txs.push(Transaction {
            version: 1,
            inputs: vec![],
            outputs: vec![],
        });
        for t in txs {
            let bytes = encode::encode(&t);
            assert_eq!(t.size(), bytes.len());
            let mut fast = Vec::new();
            t.write_canonical(&mut fast, false);
            assert_eq!(fast, bytes);
            assert_eq!(t.txid(), Txid(sha256d(&bytes)));
            let mut blank = t.clone();
            for i in &mut blank.inputs {
                i.signature = Signature::ZERO;
            }
            let mut tagged = SIGHASH_TAG.to_vec();
            tagged.extend_from_slice(&encode::encode(&blank));
            assert_eq!(t.sighash(), Hash256(sha256d(&tagged)));
        }
    }

    #[test]
    fn encode_decode_roundtrip() {
        let (tx, _) = sample();
        let bytes = tx.encode();
        assert_eq!(bytes.len(), tx.size());
        assert_eq!(Transaction::decode(&bytes).unwrap(), tx);
    }

    #[test]
    fn decode_rejects_amount_above_max_money() {
        let (mut tx, _) = sample();
        tx.outputs[0].amount = Amount::MAX_MONEY;
        let mut bytes = tx.encode();
        // The amount is the varint just before the 20 address bytes at the end.
        // MAX_MONEY encodes as 253 + 8 LE bytes; bump its low byte past MAX.
        let amount_at = bytes.len() - 20 - 8;
        assert_eq!(bytes[amount_at - 1], 253);
        bytes[amount_at] = bytes[amount_at].wrapping_add(1);
        assert!(matches!(
            Transaction::decode(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn coinbase_height() {
        let cb = Transaction {
            version: 1,
            inputs: vec![TxIn::coinbase(42, [0; 56])],
            outputs: vec![],
        };
        assert!(cb.is_coinbase());
        assert_eq!(cb.coinbase_height(), Some(42));
        let (tx, _) = sample();
        assert_eq!(tx.coinbase_height(), None);
    }

    #[test]
    fn sign_reports_missing_key() {
        let (mut tx, _) = sample();
        let other = KeyPair::from_seed([2; 32]);
        assert_eq!(tx.sign(&[&other]), Err(MissingKey { index: 0 }));
    }
}
