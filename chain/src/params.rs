//! Named networks, their consensus parameters, genesis block and faucet keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::amount::{Amount, COIN};
use crate::block::{Block, BlockHeader, Target};
use crate::hash::sha256;
use crate::keys::KeyPair;
use crate::mine::mine_header;
use crate::tx::{Transaction, TxIn, TxOut};

/// A named rumor network. Each has its own parameters and genesis block, so
/// their chains never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The default: cheap proof of work, coinbase maturity 10.
    #[default]
    Testnet,
    /// Like bitcoind's regtest: trivial proof of work, coinbase maturity 100.
    Regtest,
}

impl Network {
    /// Every network, in order.
    pub const ALL: [Network; 2] = [Self::Testnet, Self::Regtest];

    /// The lowercase name, used in topic and protocol names.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Testnet => "testnet",
            Self::Regtest => "regtest",
        }
    }

    /// The human-readable prefix of this network's addresses
    /// (`rumortest1…`, `rumorreg1…`), so that an address of one network is
    /// refused on another instead of paid.
    pub const fn address_prefix(self) -> &'static str {
        match self {
            Self::Testnet => "rumortest",
            Self::Regtest => "rumorreg",
        }
    }

    /// The JSON-RPC port a node of this network listens on by default
    /// (like bitcoind's 18332 and 18443, distinct per network, so nodes of
    /// two networks can run side by side). Not a consensus rule.
    pub const fn default_rpc_port(self) -> u16 {
        match self {
            Self::Testnet => 17332,
            Self::Regtest => 17443,
        }
    }

    /// The p2p port a node of this network listens on by default.
    pub const fn default_p2p_port(self) -> u16 {
        match self {
            Self::Testnet => 17333,
            Self::Regtest => 17444,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown network name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network `{0}` (expected `testnet` or `regtest`)")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "testnet" => Ok(Self::Testnet),
            "regtest" => Ok(Self::Regtest),
            other => Err(UnknownNetwork(other.to_owned())),
        }
    }
}

/// A network's consensus and relay parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Params {
    /// Which network.
    pub network: Network,
    /// Every block's header must carry exactly this target.
    pub target: Target,
    /// The block reward at height 1; halves every `halving_interval` blocks.
    pub initial_subsidy: Amount,
    /// Blocks between subsidy halvings.
    pub halving_interval: u64,
    /// Confirmations a coinbase output needs before it can be spent.
    /// Genesis outputs (the faucet) are exempt.
    pub coinbase_maturity: u64,
    /// The largest valid block, in encoded bytes.
    pub max_block_bytes: usize,
    /// The largest valid transaction, in encoded bytes.
    pub max_tx_bytes: usize,
    /// Relay policy: the smallest fee per encoded byte a mempool accepts.
    pub min_relay_fee_per_byte: u64,
    /// How far in the future (ms) a block's time may be before it is
    /// temporarily refused.
    pub max_future_block_time_ms: u64,
    /// Number of previous blocks whose median time a new block must exceed.
    pub median_time_span: usize,
    /// Number of outputs the genesis coinbase pays to the faucet keys.
    pub genesis_outputs: u32,
    /// The value of each genesis output.
    pub genesis_output_amount: Amount,
    /// Number of distinct faucet keys; genesis output `i` pays faucet key `i % faucet_keys`.
    pub faucet_keys: u32,
    /// The genesis block's time (Unix ms).
    pub genesis_time: u64,
}

/// Parameters that cannot form a valid network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The genesis outputs would exceed MAX_MONEY.
    #[error("{outputs} genesis outputs of {amount} exceed MAX_MONEY")]
    GenesisTooRich {
        /// Outputs asked for.
        outputs: u32,
        /// Each output's value.
        amount: Amount,
    },
    /// Zero genesis outputs, zero faucet keys or a zero-value output.
    #[error("genesis needs at least one output, one faucet key, and a non-zero amount")]
    EmptyGenesis,
    /// A target below 2^128, which rumor's work arithmetic does not support.
    #[error("target must have at most 128 leading zero bits")]
    TargetTooHard,
}

impl Params {
    /// The parameters of `network`, with the default 10,000 genesis outputs.
    pub fn new(network: Network) -> Self {
        let (zero_bits, maturity, genesis_time) = match network {
            Network::Testnet => (12, 10, 1_767_225_600_000), // 2026-01-01
            Network::Regtest => (1, 100, 1_767_225_600_000),
        };
        Self {
            network,
            target: Target::from_leading_zeros(zero_bits),
            initial_subsidy: Amount::new(50 * COIN).expect("in range"),
            halving_interval: 210_000,
            coinbase_maturity: maturity,
            max_block_bytes: 4_000_000,
            max_tx_bytes: 100_000,
            min_relay_fee_per_byte: 1,
            max_future_block_time_ms: 2 * 60 * 60 * 1000,
            median_time_span: 11,
            genesis_outputs: 10_000,
            genesis_output_amount: Amount::new(10 * COIN).expect("in range"),
            faucet_keys: 100,
            genesis_time,
        }
    }

    /// The same parameters with `outputs` genesis outputs instead.
    ///
    /// # Errors
    /// [`ParamsError`] if the result is not a valid network.
    pub fn with_genesis_outputs(mut self, outputs: u32) -> Result<Self, ParamsError> {
        self.genesis_outputs = outputs;
        self.validate()?;
        Ok(self)
    }

    /// Checks that the parameters can form a network.
    ///
    /// # Errors
    /// [`ParamsError`] naming the problem.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.genesis_outputs == 0
            || self.faucet_keys == 0
            || self.genesis_output_amount == Amount::ZERO
        {
            return Err(ParamsError::EmptyGenesis);
        }
        let total = self.genesis_output_amount.units() as u128 * self.genesis_outputs as u128;
        if total > Amount::MAX_MONEY.units() as u128 {
            return Err(ParamsError::GenesisTooRich {
                outputs: self.genesis_outputs,
                amount: self.genesis_output_amount,
            });
        }
        if self.target.0[..16].iter().all(|b| *b == 0) {
            return Err(ParamsError::TargetTooHard);
        }
        Ok(())
    }

    /// The block subsidy at `height` (zero at genesis, whose outputs are the faucet).
    pub fn subsidy(&self, height: u64) -> Amount {
        if height == 0 {
            return Amount::ZERO;
        }
        let halvings = (height - 1) / self.halving_interval;
        if halvings >= 64 {
            return Amount::ZERO;
        }
        Amount::new(self.initial_subsidy.units() >> halvings).expect("smaller than initial")
    }

    /// Faucet key number `index` (taken modulo `faucet_keys`), derived from
    /// the network name so that anyone can reproduce it.
    pub fn faucet_key(&self, index: u32) -> KeyPair {
        let index = index % self.faucet_keys;
        let mut seed_input = Vec::with_capacity(32);
        seed_input.extend_from_slice(b"rumor/faucet/v1/");
        seed_input.extend_from_slice(self.network.name().as_bytes());
        seed_input.extend_from_slice(&index.to_le_bytes());
        KeyPair::from_seed(sha256(&seed_input))
    }

    /// All faucet keys, in order.
    pub fn faucet_keypairs(&self) -> Vec<KeyPair> {
        (0..self.faucet_keys).map(|i| self.faucet_key(i)).collect()
    }

    /// The genesis block: one coinbase paying `genesis_outputs` outputs,
    /// output `i` to faucet key `i % faucet_keys`, mined under the target.
    pub fn genesis_block(&self) -> Block {
        let addresses: Vec<Address> = self
            .faucet_keypairs()
            .iter()
            .map(KeyPair::address)
            .collect();
        let outputs = (0..self.genesis_outputs)
            .map(|i| TxOut {
                amount: self.genesis_output_amount,
                address: addresses[(i % self.faucet_keys) as usize],
            })
            .collect();
        let mut extra = [0u8; 56];
        let tag = format!("rumor genesis {}", self.network);
        extra[..tag.len()].copy_from_slice(tag.as_bytes());
        let coinbase = Transaction {
            version: Transaction::VERSION,
            inputs: vec![TxIn::coinbase(0, extra)],
            outputs,
        };
        let mut header = BlockHeader {
            version: Block::VERSION,
            prev: crate::hash::BlockHash::ZERO,
            merkle_root: Block::merkle_root_of(&[coinbase.txid()]),
            time: self.genesis_time,
            target: self.target,
            nonce: 0,
        };
        mine_header(&mut header, u64::MAX);
        Block {
            header,
            txs: vec![coinbase],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_differ_and_genesis_is_deterministic() {
        let t = Params::new(Network::Testnet);
        let r = Params::new(Network::Regtest);
        let g1 = t.with_genesis_outputs(50).unwrap().genesis_block();
        let g2 = Params::new(Network::Testnet)
            .with_genesis_outputs(50)
            .unwrap()
            .genesis_block();
        assert_eq!(g1.hash(), g2.hash());
        assert!(g1.header.meets_target());
        let gr = r.with_genesis_outputs(50).unwrap().genesis_block();
        assert_ne!(g1.hash(), gr.hash());
        assert_ne!(
            Params::new(Network::Testnet).faucet_key(0).public(),
            Params::new(Network::Regtest).faucet_key(0).public()
        );
    }

    #[test]
    fn default_genesis_pays_ten_thousand_faucet_outputs() {
        let p = Params::new(Network::Regtest);
        let g = p.genesis_block();
        assert_eq!(g.txs[0].outputs.len(), 10_000);
        assert_eq!(g.txs[0].outputs[101].address, p.faucet_key(1).address());
    }

    #[test]
    fn subsidy_halves() {
        let p = Params::new(Network::Testnet);
        assert_eq!(p.subsidy(0), Amount::ZERO);
        assert_eq!(p.subsidy(1), p.initial_subsidy);
        assert_eq!(p.subsidy(210_000), p.initial_subsidy);
        assert_eq!(p.subsidy(210_001).units(), p.initial_subsidy.units() / 2);
        assert_eq!(p.subsidy(u64::MAX), Amount::ZERO);
    }

    #[test]
    fn bad_params_are_typed_errors() {
        let p = Params::new(Network::Testnet);
        assert_eq!(
            p.clone().with_genesis_outputs(0),
            Err(ParamsError::EmptyGenesis)
        );
        assert!(matches!(
            p.clone().with_genesis_outputs(u32::MAX),
            Err(ParamsError::GenesisTooRich { .. })
        ));
        let mut hard = p;
        hard.target = Target::from_leading_zeros(200);
        assert_eq!(hard.validate(), Err(ParamsError::TargetTooHard));
        assert_eq!(
            "mainnet".parse::<Network>(),
            Err(UnknownNetwork("mainnet".into()))
        );
    }
}
