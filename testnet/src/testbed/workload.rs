//! The workload: transactions signed from the genesis faucet keys, each
//! spending its own genesis output, submitted over RPC at a fixed rate; and
//! blocks mined at an interval by a few miners.

use rumor_chain::{Address, Amount, KeyPair, Network, OutPoint, Params, Transaction, TxIn, TxOut};
use serde::{Deserialize, Serialize};

pub use rumor_sim::Kind;

/// One object the workload injected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Injected {
    /// Transaction or block.
    pub kind: Kind,
    /// Its id (hex).
    pub id: String,
    /// The node it was submitted to or mined on.
    pub origin: usize,
    /// When the RPC call was made (Unix ns).
    pub submit_ns: u64,
    /// Whether the origin accepted it.
    pub accepted: bool,
    /// The origin's error, if it refused.
    pub error: Option<String>,
    /// The error's JSON-RPC code, if the node answered with one (−28: busy,
    /// refused by admission control).
    #[serde(default)]
    pub code: Option<i32>,
}

impl Injected {
    /// Refused because the node was busy (admission control): nothing of
    /// it was queued.
    pub fn refused_busy(&self) -> bool {
        self.code == Some(super::rpc::BUSY)
    }
}

/// Pre-signed transactions for a network with `genesis_outputs` outputs.
pub struct Faucet {
    params: Params,
    genesis: rumor_chain::Txid,
    keys: Vec<KeyPair>,
}

impl Faucet {
    /// The testnet faucet for a genesis of `genesis_outputs` outputs.
    ///
    /// # Errors
    /// Invalid genesis parameters, as text.
    pub fn new(genesis_outputs: usize) -> Result<Self, String> {
        let outputs =
            u32::try_from(genesis_outputs).map_err(|_| "too many genesis outputs".to_owned())?;
        let params = Params::new(Network::Testnet)
            .with_genesis_outputs(outputs)
            .map_err(|e| e.to_string())?;
        let genesis = params.genesis_block().txs[0].txid();
        let keys = params.faucet_keypairs();
        Ok(Self {
            params,
            genesis,
            keys,
        })
    }

    /// Transaction `i`: spends genesis output `i` (faucet key `i % keys`),
    /// pays half to an address derived from `i` and the rest, less a fee,
    /// back to the faucet key.
    pub fn tx(&self, i: usize) -> Transaction {
        let key = &self.keys[i % self.keys.len()];
        let value = self.params.genesis_output_amount.units();
        let fee = 1_000;
        let mut payee = [0u8; 20];
        payee[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let mut tx = Transaction {
            version: Transaction::VERSION,
            inputs: vec![TxIn::unsigned(
                OutPoint::new(self.genesis, i as u32),
                key.public(),
            )],
            outputs: vec![
                TxOut {
                    amount: Amount::new(value / 2).expect("below MAX_MONEY"),
                    address: Address(payee),
                },
                TxOut {
                    amount: Amount::new(value - value / 2 - fee).expect("below MAX_MONEY"),
                    address: key.address(),
                },
            ],
        };
        tx.sign(&[key]).expect("the input's key is the faucet key");
        tx
    }

    /// Where miners are paid.
    pub fn miner_address(&self, miner: usize) -> String {
        KeyPair::from_seed(rumor_chain::sha256(
            format!("rumor-testnet/miner/{miner}").as_bytes(),
        ))
        .address()
        .encode(self.params.network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faucet_transactions_are_valid_and_distinct() {
        let f = Faucet::new(300).unwrap();
        let a = f.tx(0);
        let b = f.tx(1);
        assert_ne!(a.txid(), b.txid());
        assert!(rumor_chain::check_transaction(a, &f.params).is_ok());
    }
}
