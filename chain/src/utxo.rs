//! Unspent outputs: [`Coin`], the [`UtxoView`] that validation reads, the
//! [`CoinCache`] overlay that blocks are connected through, and [`BlockUndo`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::tx::{OutPoint, Transaction, TxOut};

/// An unspent output together with where it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Coin {
    /// The output.
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u64,
    /// Whether a coinbase created it (subject to maturity, except at genesis).
    pub coinbase: bool,
}

/// Read access to unspent outputs. Validation is written against this trait;
/// the chain state prefetches what a block needs from its store first, so
/// lookups here never fail with I/O errors.
pub trait UtxoView {
    /// The unspent coin at `outpoint`, if any.
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin>;
}

impl UtxoView for HashMap<OutPoint, Coin> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.get(outpoint).copied()
    }
}

/// A list of coins with their outpoints.
pub type CoinList = Vec<(OutPoint, Coin)>;

/// The coins a block spent, in spending order, so it can be disconnected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockUndo {
    /// Each spent outpoint and the coin it held.
    #[serde(deserialize_with = "crate::encode::bounded_vec")]
    pub spent: CoinList,
}

/// An in-memory overlay of coin changes on top of a base set of coins: what
/// connecting (or trying to connect) transactions would do, without touching
/// the store. Lookups see additions and spends made through the overlay.
#[derive(Debug, Default)]
pub struct CoinCache {
    base: HashMap<OutPoint, Coin>,
    added: HashMap<OutPoint, Coin>,
    spent: HashSet<OutPoint>,
}

impl CoinCache {
    /// An overlay over `base` (coins fetched from the store).
    pub fn new(base: HashMap<OutPoint, Coin>) -> Self {
        Self {
            base,
            added: HashMap::new(),
            spent: HashSet::new(),
        }
    }

    /// Spends `outpoint`, returning the coin it held, or `None` if it was not unspent.
    pub fn spend(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(coin) = self.added.remove(outpoint) {
            return Some(coin);
        }
        if self.spent.contains(outpoint) {
            return None;
        }
        let coin = self.base.get(outpoint).copied()?;
        self.spent.insert(*outpoint);
        Some(coin)
    }

    /// Adds the outputs of `tx`, created at `height`.
    pub fn add_outputs(&mut self, tx: &Transaction, txid: crate::hash::Txid, height: u64) {
        let coinbase = tx.is_coinbase();
        for (vout, output) in tx.outputs.iter().enumerate() {
            self.added.insert(
                OutPoint::new(txid, vout as u32),
                Coin {
                    output: *output,
                    height,
                    coinbase,
                },
            );
        }
    }

    /// The net change: coins created (and still unspent) and base coins spent.
    pub fn into_changes(self) -> (CoinList, CoinList) {
        let added = self.added.into_iter().collect();
        let spent = self
            .spent
            .into_iter()
            .map(|op| (op, self.base[&op]))
            .collect();
        (added, spent)
    }
}

impl UtxoView for CoinCache {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if let Some(c) = self.added.get(outpoint) {
            return Some(*c);
        }
        if self.spent.contains(outpoint) {
            return None;
        }
        self.base.get(outpoint).copied()
    }
}
