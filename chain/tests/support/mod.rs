//! Shared helpers for rumor-chain's integration tests: small regtest networks,
//! faucet spends, block building and an explicit clock.
//!
//! Every test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;

use rumor_chain::{
    AcceptBlockError, AcceptOutcome, Amount, Block, BlockAccepted, BlockHash, BlockSpec,
    ChainState, CheckedTx, Coin, KeyPair, MemStore, Network, OutPoint, Params, Transaction, TxIn,
    TxOut, Txid, build_block, check_block, check_transaction,
};

/// Milliseconds between consecutive test blocks.
pub(crate) const BLOCK_INTERVAL_MS: u64 = 1_000;

/// Regtest parameters with only `outputs` genesis outputs (the default 10,000
/// would make every test slow).
pub(crate) fn regtest(outputs: u32) -> Params {
    Params::new(Network::Regtest)
        .with_genesis_outputs(outputs)
        .expect("valid regtest parameters")
}

/// An amount of `units` base units.
pub(crate) fn amount(units: u64) -> Amount {
    Amount::new(units).expect("in range")
}

/// A deterministic test key (not a faucet key).
pub(crate) fn key(n: u8) -> KeyPair {
    KeyPair::from_seed([n; 32])
}

/// An output paying `units` to `to`.
pub(crate) fn pay(units: u64, to: &KeyPair) -> TxOut {
    TxOut {
        amount: amount(units),
        address: to.address(),
    }
}

/// A version-1 transaction spending `inputs` (each with the key that owns it)
/// to `outputs`, signed.
pub(crate) fn signed(inputs: &[(OutPoint, &KeyPair)], outputs: Vec<TxOut>) -> Transaction {
    let mut tx = Transaction {
        version: Transaction::VERSION,
        inputs: inputs
            .iter()
            .map(|(op, kp)| TxIn::unsigned(*op, kp.public()))
            .collect(),
        outputs,
    };
    let keys: Vec<&KeyPair> = inputs.iter().map(|(_, kp)| *kp).collect();
    tx.sign(&keys).expect("every input has its key");
    tx
}

/// Runs the context-free rules, which must pass.
pub(crate) fn checked(tx: Transaction, params: &Params) -> CheckedTx {
    check_transaction(tx, params).expect("a valid transaction")
}

/// A chain state over a [`MemStore`] with an explicit clock, and helpers to
/// spend the faucet and to build blocks on any known block.
pub(crate) struct TestChain {
    /// The network parameters.
    pub(crate) params: Params,
    /// The chain state under test.
    pub(crate) chain: ChainState<MemStore>,
    /// The genesis coinbase's txid: output `i` pays `params.faucet_key(i)`.
    pub(crate) genesis_txid: Txid,
    /// The clock passed as `now_ms`.
    pub(crate) now_ms: u64,
    /// Who the coinbases pay.
    pub(crate) miner: KeyPair,
    next_extra: Cell<u64>,
}

impl TestChain {
    /// A fresh chain at genesis; the clock starts a day after the genesis time.
    pub(crate) fn new(params: Params) -> Self {
        let chain = ChainState::open(params.clone(), MemStore::new()).expect("open");
        let genesis = chain
            .block(&chain.genesis_hash())
            .expect("memstore")
            .expect("genesis stored");
        Self {
            now_ms: params.genesis_time + 24 * 60 * 60 * 1000,
            genesis_txid: genesis.txs[0].txid(),
            params,
            chain,
            miner: key(200),
            next_extra: Cell::new(0),
        }
    }

    /// Regtest with `outputs` genesis outputs.
    pub(crate) fn regtest(outputs: u32) -> Self {
        Self::new(regtest(outputs))
    }

    /// Genesis output `i`.
    pub(crate) fn faucet_outpoint(&self, i: u32) -> OutPoint {
        OutPoint::new(self.genesis_txid, i)
    }

    /// The value of each genesis output, in units.
    pub(crate) fn faucet_units(&self) -> u64 {
        self.params.genesis_output_amount.units()
    }

    /// Spends genesis output `i` (signed by its faucet key) to `outputs`.
    pub(crate) fn spend_faucet(&self, i: u32, outputs: Vec<TxOut>) -> Transaction {
        let kp = self.params.faucet_key(i);
        signed(&[(self.faucet_outpoint(i), &kp)], outputs)
    }

    /// Spends genesis output `i` to `to`, leaving `fee` units as the fee.
    pub(crate) fn faucet_to(&self, i: u32, to: &KeyPair, fee: u64) -> Transaction {
        self.spend_faucet(i, vec![pay(self.faucet_units() - fee, to)])
    }

    /// A spec for a block on `parent` (which must be indexed): the next
    /// height, one interval later, paying the miner, with a unique coinbase.
    pub(crate) fn spec_on(&self, parent: &BlockHash) -> BlockSpec {
        let entry = self.chain.entry(parent).expect("parent is indexed");
        let n = self.next_extra.get();
        self.next_extra.set(n + 1);
        let mut extra = [0u8; 56];
        extra[..8].copy_from_slice(&n.to_le_bytes());
        BlockSpec {
            prev: *parent,
            height: entry.height + 1,
            time: entry.header.time + BLOCK_INTERVAL_MS,
            pay_to: self.miner.address(),
            fees: Amount::ZERO,
            extra,
        }
    }

    /// A mined block on `parent` holding `txs`, whose coinbase claims `fees`.
    pub(crate) fn block_on(&self, parent: &BlockHash, txs: Vec<Transaction>, fees: u64) -> Block {
        let mut spec = self.spec_on(parent);
        spec.fees = amount(fees);
        build_block(&self.params, &spec, txs)
    }

    /// A mined block on `parent`, which need not be known to the chain yet
    /// (to build orphans and competing branches ahead of time).
    pub(crate) fn block_after(&self, parent: &Block, txs: Vec<Transaction>, fees: u64) -> Block {
        let n = self.next_extra.get();
        self.next_extra.set(n + 1);
        let mut extra = [0u8; 56];
        extra[..8].copy_from_slice(&n.to_le_bytes());
        let spec = BlockSpec {
            prev: parent.hash(),
            height: parent.txs[0].coinbase_height().expect("a coinbase") + 1,
            time: parent.header.time + BLOCK_INTERVAL_MS,
            pay_to: self.miner.address(),
            fees: amount(fees),
            extra,
        };
        build_block(&self.params, &spec, txs)
    }

    /// The genesis block.
    pub(crate) fn genesis(&self) -> Block {
        self.chain
            .block(&self.chain.genesis_hash())
            .expect("memstore")
            .expect("genesis stored")
    }

    /// A mined block on the best tip.
    pub(crate) fn block_on_tip(&self, txs: Vec<Transaction>, fees: u64) -> Block {
        self.block_on(&self.chain.tip().hash, txs, fees)
    }

    /// Runs the context-free rules and offers the block at `now_ms`.
    pub(crate) fn process(
        &mut self,
        block: Block,
    ) -> Result<AcceptOutcome, AcceptBlockError<Infallible>> {
        self.chain.process_block(block, self.now_ms)
    }

    /// Offers a block that must be accepted with no rule broken. A block
    /// whose branch has no more work than the best chain is held aside and
    /// changes nothing (an empty result).
    pub(crate) fn accept(&mut self, block: Block) -> BlockAccepted {
        match self.process(block) {
            Ok(AcceptOutcome::Accepted(acc)) => {
                assert!(acc.invalid.is_empty(), "invalid blocks: {:?}", acc.invalid);
                acc
            }
            Ok(AcceptOutcome::Stale) => BlockAccepted::default(),
            other => panic!("block not accepted: {other:?}"),
        }
    }

    /// Builds a block on the tip from `txs` and connects it.
    pub(crate) fn mine(&mut self, txs: Vec<Transaction>, fees: u64) -> Block {
        let block = self.block_on_tip(txs, fees);
        let acc = self.accept(block.clone());
        assert_eq!(
            self.chain.tip().hash,
            block.hash(),
            "the block became the tip"
        );
        assert_eq!(acc.connected.len(), 1);
        block
    }

    /// The best chain's UTXO set.
    pub(crate) fn utxos(&self) -> &HashMap<OutPoint, Coin> {
        self.chain.store().utxo_set()
    }
}

/// `check_block` with no signature cache.
pub(crate) fn check(
    block: Block,
    params: &Params,
) -> Result<rumor_chain::CheckedBlock, rumor_chain::BlockError> {
    check_block(block, params, |_| false)
}
