//! Context-free transaction validation: one at a time versus one batch.
//!
//! Every transaction has 1 input and 2 outputs, signed by its own key. The
//! single path calls `check_transaction` per transaction; the batch path calls
//! `check_transactions` once, which verifies all signatures in one batch.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rumor_chain::{
    Amount, KeyPair, Network, OutPoint, Params, Transaction, TxIn, TxOut, Txid, check_transaction,
    check_transactions,
};

fn one_in_two_out(i: u32) -> Transaction {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    let kp = KeyPair::from_seed(seed);
    let mut prev = [0u8; 32];
    prev[..4].copy_from_slice(&i.to_le_bytes());
    let mut tx = Transaction {
        version: Transaction::VERSION,
        inputs: vec![TxIn::unsigned(
            OutPoint::new(Txid(prev), i % 3),
            kp.public(),
        )],
        outputs: vec![
            TxOut {
                amount: Amount::new(400_000_000).expect("in range"),
                address: KeyPair::from_seed([1; 32]).address(),
            },
            TxOut {
                amount: Amount::new(599_990_000).expect("in range"),
                address: kp.address(),
            },
        ],
    };
    tx.sign(&[&kp]).expect("own key");
    tx
}

fn bench_validation(c: &mut Criterion) {
    let params = Params::new(Network::Regtest);
    let all: Vec<Transaction> = (0..1024).map(one_in_two_out).collect();
    assert!(
        check_transactions(all.clone(), &params)
            .iter()
            .all(Result::is_ok)
    );

    let mut group = c.benchmark_group("check_tx_1in_2out");
    for n in [64usize, 1024] {
        let txs = &all[..n];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("single/{n}"), |b| {
            b.iter_batched(
                || txs.to_vec(),
                |txs| {
                    for tx in txs {
                        black_box(check_transaction(tx, &params).expect("valid"));
                    }
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function(format!("batch/{n}"), |b| {
            b.iter_batched(
                || txs.to_vec(),
                |txs| black_box(check_transactions(txs, &params)),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_validation
}
criterion_main!(benches);
