//! Shared pieces of rumor's fuzz targets: one regtest network, its genesis
//! UTXO set, and a byte cursor that turns fuzzer input into *near-valid*
//! transactions and blocks (signed by the faucet keys), so the validators'
//! deep rules are reached, not only their decoders.

use std::collections::HashMap;
use std::sync::OnceLock;

use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockSpec, Coin, KeyPair, Network, OutPoint, Params,
    Transaction, TxIn, TxOut, Txid, build_block,
};

/// Genesis outputs of the fuzzing network (small: opening a chain is per input).
pub const GENESIS_OUTPUTS: u32 = 64;

/// The regtest parameters every target uses.
pub fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        Params::new(Network::Regtest)
            .with_genesis_outputs(GENESIS_OUTPUTS)
            .expect("valid genesis")
    })
}

/// The genesis block.
pub fn genesis() -> &'static Block {
    static G: OnceLock<Block> = OnceLock::new();
    G.get_or_init(|| params().genesis_block())
}

/// The faucet keys.
pub fn keys() -> &'static [KeyPair] {
    static K: OnceLock<Vec<KeyPair>> = OnceLock::new();
    K.get_or_init(|| params().faucet_keypairs())
}

/// The UTXO set right after genesis.
pub fn genesis_utxos() -> &'static HashMap<OutPoint, Coin> {
    static U: OnceLock<HashMap<OutPoint, Coin>> = OnceLock::new();
    U.get_or_init(|| {
        let cb = &genesis().txs[0];
        let txid = cb.txid();
        cb.outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                (
                    OutPoint::new(txid, i as u32),
                    Coin {
                        output: *o,
                        height: 0,
                        coinbase: true,
                    },
                )
            })
            .collect()
    })
}

/// Reads choices from fuzzer bytes; past the end every read is zero.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    /// Whether bytes are left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// An amount chosen by the fuzzer: small, around a genesis output, huge, or
/// zero (the interesting edges of the amount rules).
fn amount(c: &mut Cursor<'_>) -> Amount {
    let out = params().genesis_output_amount.units();
    let units = match c.u8() % 6 {
        0 => 0,
        1 => u64::from(c.u8()) + 1,
        2 => out.saturating_sub(u64::from(c.u8()) * 1000),
        3 => Amount::MAX_MONEY.units(),
        4 => out / u64::from(c.u8().max(1)),
        _ => c.u64() % (Amount::MAX_MONEY.units() + 1),
    };
    Amount::new(units).unwrap_or(Amount::MAX_MONEY)
}

/// A transaction built from fuzzer choices: inputs spend genesis outputs (or
/// `extra` outpoints, or unknown ones), possibly twice; outputs of fuzzer
/// amounts; signed by the right keys, a wrong key, or not at all.
pub fn build_tx(c: &mut Cursor<'_>, extra: &[OutPoint]) -> Transaction {
    let genesis_txid = genesis().txs[0].txid();
    let n_in = (c.u8() % 4) as usize + usize::from(c.u8() % 8 == 0) * 3;
    let mut inputs = Vec::with_capacity(n_in);
    let mut signers: Vec<&KeyPair> = Vec::new();
    for _ in 0..n_in {
        let pick = c.u8();
        let (prev, key) = match pick % 8 {
            0 if !extra.is_empty() => {
                let op = extra[c.u8() as usize % extra.len()];
                let key = &keys()[c.u8() as usize % keys().len()];
                (op, key)
            }
            1 => (
                OutPoint::new(Txid([c.u8(); 32]), u32::from(c.u8())),
                &keys()[0],
            ),
            _ => {
                let vout = u32::from(c.u8()) % GENESIS_OUTPUTS;
                (
                    OutPoint::new(genesis_txid, vout),
                    &keys()[(vout % params().faucet_keys) as usize],
                )
            }
        };
        // Sometimes a key that does not own the coin.
        let key = if c.u8() % 16 == 0 {
            &keys()[(c.u8() as usize) % keys().len()]
        } else {
            key
        };
        inputs.push(TxIn::unsigned(prev, key.public()));
        signers.push(key);
    }
    let n_out = (c.u8() % 4) as usize + usize::from(c.u8() % 8 == 0) * 2;
    let outputs = (0..n_out)
        .map(|_| TxOut {
            amount: amount(c),
            address: match c.u8() % 3 {
                0 => Address([c.u8(); 20]),
                _ => keys()[c.u8() as usize % keys().len()].address(),
            },
        })
        .collect();
    let mut tx = Transaction {
        version: if c.u8() % 32 == 0 {
            u32::from(c.u8())
        } else {
            Transaction::VERSION
        },
        inputs,
        outputs,
    };
    match c.u8() % 16 {
        0 => {} // unsigned
        1 => {
            let _ = tx.sign(&signers);
            if let Some(i) = tx.inputs.first_mut() {
                i.signature.0[c.u8() as usize % 64] ^= c.u8() | 1;
            }
        }
        _ => {
            let _ = tx.sign(&signers);
        }
    }
    tx
}

/// A block built from fuzzer choices on `prev` at `height`: a coinbase paying
/// a fuzzer amount of fees, and some built transactions (possibly repeated).
pub fn build_block_from(
    c: &mut Cursor<'_>,
    prev: BlockHash,
    height: u64,
    time: u64,
    extra: &[OutPoint],
) -> Block {
    let n = (c.u8() % 4) as usize;
    let mut txs: Vec<Transaction> = Vec::with_capacity(n);
    for _ in 0..n {
        if !txs.is_empty() && c.u8() % 8 == 0 {
            let dup = txs[c.u8() as usize % txs.len()].clone();
            txs.push(dup);
        } else {
            txs.push(build_tx(c, extra));
        }
    }
    let fees = match c.u8() % 4 {
        0 => Amount::new(u64::from(c.u8())).unwrap_or(Amount::ZERO),
        _ => Amount::ZERO,
    };
    let mut extra_bytes = [0u8; 56];
    extra_bytes[0] = c.u8();
    let time = match c.u8() % 8 {
        0 => time.saturating_sub(c.u64() % 100_000_000),
        1 => time.saturating_add(c.u64() % 100_000_000),
        _ => time,
    };
    let mut block = build_block(
        params(),
        &BlockSpec {
            prev,
            height,
            time,
            pay_to: keys()[0].address(),
            fees,
            extra: extra_bytes,
        },
        txs,
    );
    // Occasionally break the header after mining (PoW, merkle root, prev).
    match c.u8() % 16 {
        0 => block.header.nonce ^= u64::from(c.u8()) + 1,
        1 => block.header.merkle_root.0[0] ^= 1,
        2 => block.header.prev.0[0] ^= 1,
        _ => {}
    }
    block
}
