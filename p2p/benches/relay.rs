//! Relay benchmarks on loopback: per-hop latency (announce vs push) and the
//! transactions per second one node accepts and relays.
//!
//! `cargo bench -p rumor-p2p --bench relay`

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rumor_chain::{Address, Amount, Network, OutPoint, Params, Transaction, TxIn, TxOut, Txid};
use rumor_p2p::{Accepted, Inv, RelayMode};
use support::{TestNode, TestState, config, line, start_node, wait_for_mesh};

const OUTPUTS: u32 = 150_000;

struct Faucet {
    params: Params,
    genesis: Txid,
    keys: Vec<rumor_chain::KeyPair>,
    next: AtomicU32,
}

impl Faucet {
    fn new() -> Self {
        let params = Params::new(Network::Regtest)
            .with_genesis_outputs(OUTPUTS)
            .unwrap();
        let genesis = params.genesis_block().txs[0].txid();
        let keys = params.faucet_keypairs();
        Self {
            params,
            genesis,
            keys,
            next: AtomicU32::new(0),
        }
    }

    fn tx(&self) -> Transaction {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(i < OUTPUTS, "bench ran out of faucet outputs");
        let key = &self.keys[(i % self.params.faucet_keys) as usize];
        let value = self.params.genesis_output_amount.units();
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn::unsigned(OutPoint::new(self.genesis, i), key.public())],
            outputs: vec![
                TxOut {
                    amount: Amount::new(value / 2).unwrap(),
                    address: Address([7; 20]),
                },
                TxOut {
                    amount: Amount::new(value - value / 2 - 1000).unwrap(),
                    address: key.address(),
                },
            ],
        };
        tx.sign(&[key]).unwrap();
        tx
    }
}

async fn line_of(n: usize, mode: RelayMode, faucet: &Faucet) -> Vec<TestNode> {
    let cfg = config(mode);
    let mut nodes: Vec<TestNode> = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(cfg.clone(), TestState::new(faucet.params.clone()), vec![]).await);
    }
    for (i, j) in line(n) {
        nodes[i].handle.dial(nodes[j].addr.clone()).await.unwrap();
    }
    wait_for_mesh(&nodes, 1).await;
    nodes
}

/// Per-hop latency: time from a local submit at one end of a line of 5 nodes
/// until the other end has accepted it, divided by the 4 hops.
fn hop_latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let faucet = Arc::new(Faucet::new());
    let mut group = c.benchmark_group("hop_latency");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    for mode in [RelayMode::Announce, RelayMode::Push] {
        let nodes = rt.block_on(line_of(5, mode, &faucet));
        let mut last = nodes[4].state.accepted();
        group.bench_function(mode.to_string(), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let tx = faucet.tx();
                        let txid = tx.txid();
                        let start = Instant::now();
                        nodes[0].submit(tx).await;
                        while !nodes[4].state.has_tx(&txid) {
                            last.changed().await.expect("the last node runs");
                        }
                        total += start.elapsed() / 4;
                    }
                    total
                })
            });
        });
        for n in &nodes {
            rt.block_on(n.handle.shutdown()).ok();
        }
    }
    group.finish();
}

/// Throughput of the middle node of a line A–B–C: A announces 2,000
/// transactions it already accepted; B fetches, validates, accepts and
/// relays them. `relayed_by_b` stops the clock when B has accepted every
/// one (B's fetch-and-accept rate; its announcements follow at once);
/// `end_to_end` when C has accepted every one (it also includes C's own
/// work on the same two cores).
fn relay_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let faucet = Arc::new(Faucet::new());
    let batch = 2_000usize;
    let mut group = c.benchmark_group("relay_throughput");
    group
        .sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(batch as u64));
    for end_to_end in [false, true] {
        let name = if end_to_end {
            "end_to_end"
        } else {
            "relayed_by_b"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let nodes = line_of(3, RelayMode::Announce, &faucet).await;
                        let mut accepted = Vec::new();
                        for _ in 0..batch {
                            let tx = faucet.tx();
                            // A accepts them up front (not timed).
                            nodes[0].state.submit_tx(&tx);
                            accepted.push(Accepted {
                                inv: Inv::Tx(tx.txid()),
                                bytes: Bytes::from(tx.encode()),
                                compact: None,
                            });
                        }
                        let watched = if end_to_end { &nodes[2] } else { &nodes[1] };
                        let mut count = watched.state.accepted();
                        let start = Instant::now();
                        nodes[0].handle.accepted(accepted).await.unwrap();
                        while (*count.borrow_and_update() as usize) < batch {
                            tokio::time::timeout(Duration::from_secs(60), count.changed())
                                .await
                                .expect("relay throughput run stalled")
                                .expect("the node runs");
                        }
                        total += start.elapsed();
                        for n in &nodes {
                            n.handle.shutdown().await.ok();
                        }
                    }
                    total
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, hop_latency, relay_throughput);
criterion_main!(benches);
