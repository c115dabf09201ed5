//! Property tests for the validators on hostile input (the stable-toolchain
//! twin of `fuzz/`'s `tx_check`, `block_check` and `mempool_seq`): valid
//! signed transactions and blocks, mutated byte by byte, then decoded and
//! run through every rule — `check_transaction` (which must agree with the
//! batch path), `check_tx_inputs`, `check_block`, `ChainState::accept_block`
//! (whose UTXO set must equal a replay of its best chain) and a sequence of
//! `Mempool::accept` calls (whose accounting must stay consistent). Never a
//! panic. (Decoder round trips are in `properties.rs`.)
//!
//! `RUMOR_RELIABILITY_OUT=DIR` records the case counts in `DIR/props.json`.
#![allow(missing_docs)]

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rumor_chain::{
    Amount, Block, BlockSpec, ChainState, Coin, KeyPair, MemStore, Mempool, MempoolConfig, Network,
    OutPoint, Params, Transaction, TxIn, TxOut, build_block, check_block, check_transaction,
    check_transactions, check_tx_inputs,
};

const CASES: u32 = 256;

#[path = "../../tests/props.rs"]
mod props;

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    props::run(name, CASES, strategy, test);
}

struct World {
    params: Params,
    utxos: HashMap<OutPoint, Coin>,
    txs: Vec<Transaction>,
    block: Block,
}

fn world() -> &'static World {
    static W: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    W.get_or_init(|| {
        let params = Params::new(Network::Regtest)
            .with_genesis_outputs(40)
            .unwrap();
        let genesis = params.genesis_block();
        let cb = &genesis.txs[0];
        let gid = cb.txid();
        let utxos: HashMap<OutPoint, Coin> = cb
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                (
                    OutPoint::new(gid, i as u32),
                    Coin {
                        output: *o,
                        height: 0,
                        coinbase: true,
                    },
                )
            })
            .collect();
        let amount = params.genesis_output_amount.units();
        let mut txs = Vec::new();
        for i in 0..8u32 {
            let key: KeyPair = params.faucet_key(i);
            let n_out = 1 + i as usize % 3;
            let mut tx = Transaction {
                version: 1,
                inputs: vec![TxIn::unsigned(OutPoint::new(gid, i), key.public())],
                outputs: (0..n_out)
                    .map(|_| TxOut {
                        amount: Amount::new((amount - 5_000) / n_out as u64).unwrap(),
                        address: key.address(),
                    })
                    .collect(),
            };
            tx.sign(&[&key]).unwrap();
            txs.push(tx);
        }
        // A child of the first (an unconfirmed chain).
        let key = params.faucet_key(0);
        let mut child = Transaction {
            version: 1,
            inputs: vec![TxIn::unsigned(
                OutPoint::new(txs[0].txid(), 0),
                key.public(),
            )],
            outputs: vec![TxOut {
                amount: Amount::new(txs[0].outputs[0].amount.units() - 5_000).unwrap(),
                address: key.address(),
            }],
        };
        child.sign(&[&key]).unwrap();
        txs.push(child);
        let block = build_block(
            &params,
            &BlockSpec {
                prev: genesis.hash(),
                height: 1,
                time: params.genesis_time + 1_000,
                pay_to: params.faucet_key(1).address(),
                fees: Amount::new(5_000 * 3).unwrap(),
                extra: [7; 56],
            },
            txs[..3].to_vec(),
        );
        World {
            params,
            utxos,
            txs,
            block,
        }
    })
}

/// Flips, truncates or extends an encoding.
fn mutate(mut bytes: Vec<u8>, (how, pos, val): (u8, usize, u8)) -> Vec<u8> {
    match how % 4 {
        0 if !bytes.is_empty() => {
            let i = pos % bytes.len();
            bytes[i] ^= val | 1;
        }
        1 => bytes.truncate(pos % (bytes.len() + 1)),
        2 => bytes.insert(pos % (bytes.len() + 1), val),
        _ => {}
    }
    bytes
}

fn mutation() -> impl Strategy<Value = (u8, usize, u8)> {
    (any::<u8>(), any::<usize>(), any::<u8>())
}

#[test]
fn mutated_transactions_through_every_rule() {
    let w = world();
    run(
        "chain: transaction validation, mutated signed txs",
        (0..w.txs.len(), prop::collection::vec(mutation(), 1..4)),
        |(which, muts)| {
            let mut bytes = w.txs[which].encode();
            for m in muts {
                bytes = mutate(bytes, m);
            }
            let Ok(tx) = Transaction::decode(&bytes) else {
                return Ok(());
            };
            let single = check_transaction(tx.clone(), &w.params);
            let batch = check_transactions(vec![tx.clone(), tx], &w.params);
            for b in &batch {
                prop_assert_eq!(
                    single.as_ref().map(|c| c.txid()),
                    b.as_ref().map(|c| c.txid())
                );
            }
            if let Ok(c) = single
                && let Ok(fee) = check_tx_inputs(c.tx(), &w.utxos, 1, &w.params)
            {
                let inputs: u64 = c
                    .tx()
                    .inputs
                    .iter()
                    .map(|i| w.utxos[&i.prev].output.amount.units())
                    .sum();
                prop_assert_eq!(inputs, c.tx().output_total().unwrap().units() + fee.units());
            }
            Ok(())
        },
    );
}

#[test]
fn mutated_blocks_through_check_and_accept() {
    let w = world();
    run(
        "chain: block validation and acceptance, mutated blocks",
        prop::collection::vec(mutation(), 0..3),
        |muts| {
            let mut bytes = w.block.encode();
            for m in muts {
                bytes = mutate(bytes, m);
            }
            let Ok(block) = Block::decode(&bytes) else {
                return Ok(());
            };
            let now = w.params.genesis_time + 10_000_000;
            let mut chain = ChainState::open(w.params.clone(), MemStore::new()).unwrap();
            if let Ok(checked) = check_block(block, &w.params, |_| false) {
                let _ = chain.accept_block(checked, now);
            }
            let mut replay = ChainState::open(w.params.clone(), MemStore::new()).unwrap();
            for h in 1..=chain.height() {
                let hash = chain.hash_at(h).unwrap();
                let b = chain.block(&hash).unwrap().unwrap();
                replay.process_block(b, now).unwrap();
            }
            prop_assert_eq!(replay.store().utxo_set(), chain.store().utxo_set());
            Ok(())
        },
    );
}

#[test]
fn mutated_transaction_sequences_into_the_mempool() {
    let w = world();
    run(
        "chain: mempool accept sequences, mutated txs",
        prop::collection::vec((0..w.txs.len(), prop::option::of(mutation())), 1..12),
        |seq| {
            let mut pool = Mempool::new(
                w.params.clone(),
                MempoolConfig {
                    max_bytes: 1_500,
                    max_depth: 2,
                    max_orphans: 3,
                    orphan_ttl_ms: 1_000,
                },
            );
            for (i, (which, m)) in seq.into_iter().enumerate() {
                let mut bytes = w.txs[which].encode();
                if let Some(m) = m {
                    bytes = mutate(bytes, m);
                }
                let Ok(tx) = Transaction::decode(&bytes) else {
                    continue;
                };
                if let Ok(c) = check_transaction(tx, &w.params) {
                    let _ = pool.accept(c, &w.utxos, 0, 1_000 * i as u64);
                }
            }
            prop_assert!(pool.bytes() <= 1_500);
            let mut spent = HashSet::new();
            for id in pool.txids() {
                for input in &pool.tx(id).unwrap().inputs {
                    prop_assert!(spent.insert(input.prev), "double spend in the pool");
                    prop_assert!(
                        w.utxos.contains_key(&input.prev) || pool.contains(&input.prev.txid),
                        "pool tx spends a missing coin"
                    );
                }
            }
            Ok(())
        },
    );
}
