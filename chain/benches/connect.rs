//! Connecting a block of 2,000 transactions (each spends its own genesis
//! output): `check_block` + `accept_block` on a fresh chain state.
//!
//! - cold: every signature is verified (a block from a stranger);
//! - warm: `sigs_known_valid` says every transaction was already verified,
//!   as the node does for transactions already in its mempool.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rumor_chain::{
    AcceptOutcome, Amount, Block, BlockSpec, ChainState, KeyPair, MemStore, Network, OutPoint,
    Params, Transaction, TxIn, TxOut, Txid, build_block, check_block,
};

const TXS: u32 = 2_000;

fn setup() -> (Params, Block) {
    let params = Params::new(Network::Regtest)
        .with_genesis_outputs(TXS)
        .expect("valid");
    let genesis = params.genesis_block();
    let genesis_txid = genesis.txs[0].txid();
    let keys = params.faucet_keypairs();
    let value = params.genesis_output_amount.units();
    let fee = 1_000;
    let to = KeyPair::from_seed([1; 32]).address();
    let txs: Vec<Transaction> = (0..TXS)
        .map(|i| {
            let kp = &keys[(i % params.faucet_keys) as usize];
            let mut tx = Transaction {
                version: Transaction::VERSION,
                inputs: vec![TxIn::unsigned(OutPoint::new(genesis_txid, i), kp.public())],
                outputs: vec![
                    TxOut {
                        amount: Amount::new(value / 3).expect("in range"),
                        address: to,
                    },
                    TxOut {
                        amount: Amount::new(value - value / 3 - fee).expect("in range"),
                        address: kp.address(),
                    },
                ],
            };
            tx.sign(&[kp]).expect("own key");
            tx
        })
        .collect();
    let spec = BlockSpec {
        prev: genesis.hash(),
        height: 1,
        time: params.genesis_time + 1_000,
        pay_to: to,
        fees: Amount::new(fee * u64::from(TXS)).expect("in range"),
        extra: [0; 56],
    };
    let block = build_block(&params, &spec, txs);
    (params, block)
}

fn connect(chain: &mut ChainState<MemStore>, block: Block, known: Option<&HashSet<Txid>>) {
    let now = chain.params().genesis_time + 60_000;
    let checked = check_block(block, chain.params(), |txid| {
        known.is_some_and(|k| k.contains(txid))
    })
    .expect("valid block");
    match chain.accept_block(checked, now).expect("stored") {
        AcceptOutcome::Accepted(acc) => {
            assert!(acc.invalid.is_empty(), "{:?}", acc.invalid);
            assert_eq!(acc.connected.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

fn bench_connect(c: &mut Criterion) {
    let (params, block) = setup();
    let known: HashSet<Txid> = block.txids().into_iter().skip(1).collect();
    // A store holding just genesis, cloned for each iteration's fresh chain state.
    let at_genesis = ChainState::open(params.clone(), MemStore::new())
        .expect("open")
        .store()
        .clone();
    let fresh_chain = || ChainState::open(params.clone(), at_genesis.clone()).expect("open");
    connect(&mut fresh_chain(), block.clone(), None);

    let mut group = c.benchmark_group("connect_block_2000_txs");
    group.throughput(Throughput::Elements(u64::from(TXS)));
    group.bench_function("cold", |b| {
        b.iter_batched(
            || (fresh_chain(), block.clone()),
            |(mut chain, block)| {
                connect(&mut chain, block, None);
                black_box(chain)
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("warm", |b| {
        b.iter_batched(
            || (fresh_chain(), block.clone()),
            |(mut chain, block)| {
                connect(&mut chain, block, Some(&known));
                black_box(chain)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_connect
}
criterion_main!(benches);
