//! Writing a block's changes to the chain database (`RedbStore::apply`),
//! the largest CPU cost of a node at load: profiled on a 16-node testnet at
//! 1,000 tx/s with a block every 2 s, `apply` took 48 % of the validator
//! thread, more than checking the transactions and their signatures.
//!
//! The store holds the UTXO set of a busy chain (200,000 coins of 1,000
//! addresses, with the address index). One iteration connects a block of
//! 2,000 transactions (2,000 coins spent, 4,000 created, 2,000 txindex
//! entries, its undo data) and disconnects it again, so every iteration
//! starts from the same state: a reorg does exactly this, and each half
//! costs what a connect costs.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockSpec, BlockUndo, ChainStore, ChainUpdate, Coin,
    KeyPair, Network, OutPoint, Params, Transaction, TxIn, TxOut, Txid, UpdateKind, build_block,
};
use rumor_node::RedbStore;

const TXS: usize = 2_000;
const COINS: usize = 200_000;
const ADDRESSES: usize = 1_000;

/// A deterministic stream of well-spread 32-byte ids (splitmix64).
fn id(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

fn coin(address: Address) -> Coin {
    Coin {
        output: TxOut {
            amount: Amount::new(50_000).expect("in range"),
            address,
        },
        height: 1,
        coinbase: false,
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: RedbStore,
    genesis: BlockHash,
    block: Block,
    created: Vec<(OutPoint, Coin)>,
    spent: Vec<(OutPoint, Coin)>,
}

fn setup(cache_mib: usize) -> Setup {
    let params = Params::new(Network::Regtest);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        RedbStore::open_with_cache(&dir.path().join("chain.redb"), &params, cache_mib << 20)
            .expect("open");
    let genesis = params.genesis_block();
    let addresses: Vec<Address> = (0..ADDRESSES as u64)
        .map(|i| KeyPair::from_seed(id(i)).address())
        .collect();
    let existing: Vec<(OutPoint, Coin)> = (0..COINS)
        .map(|i| {
            (
                OutPoint::new(Txid(id(1_000_000 + i as u64)), (i % 3) as u32),
                coin(addresses[i % ADDRESSES]),
            )
        })
        .collect();
    store
        .apply(&ChainUpdate {
            kind: UpdateKind::Connect {
                undo: BlockUndo { spent: Vec::new() },
            },
            block: &genesis,
            hash: genesis.hash(),
            height: 0,
            new_tip: genesis.hash(),
            created: existing.clone(),
            spent: Vec::new(),
        })
        .expect("populate");
    // The block: 2,000 transactions, each spending one of those coins and
    // paying two new ones (the store checks no signatures).
    let spent: Vec<(OutPoint, Coin)> = existing
        .iter()
        .step_by(COINS / TXS)
        .take(TXS)
        .cloned()
        .collect();
    let key = KeyPair::from_seed([1; 32]).public();
    let txs: Vec<Transaction> = spent
        .iter()
        .enumerate()
        .map(|(i, (op, _))| Transaction {
            version: Transaction::VERSION,
            inputs: vec![TxIn::unsigned(*op, key)],
            outputs: vec![
                TxOut {
                    amount: Amount::new(20_000).expect("in range"),
                    address: addresses[(i * 7) % ADDRESSES],
                },
                TxOut {
                    amount: Amount::new(29_000).expect("in range"),
                    address: addresses[(i * 13 + 1) % ADDRESSES],
                },
            ],
        })
        .collect();
    let spec = BlockSpec {
        prev: genesis.hash(),
        height: 1,
        time: params.genesis_time + 1_000,
        pay_to: addresses[0],
        fees: Amount::new(0).expect("in range"),
        extra: [0; 56],
    };
    let block = build_block(&params, &spec, txs);
    let created: Vec<(OutPoint, Coin)> = block
        .txs
        .iter()
        .skip(1)
        .flat_map(|tx| {
            let txid = tx.txid();
            tx.outputs
                .iter()
                .enumerate()
                .map(move |(v, out)| (OutPoint::new(txid, v as u32), coin(out.address)))
                .collect::<Vec<_>>()
        })
        .collect();
    Setup {
        _dir: dir,
        store,
        genesis: genesis.hash(),
        block,
        created,
        spent,
    }
}

fn bench_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_apply_2000_txs");
    group.throughput(Throughput::Elements(2 * TXS as u64));
    // The node's default page cache, and one that holds this UTXO set and
    // its address index (about 34 MB of keys and values).
    for cache_mib in [rumor_node::DEFAULT_DB_CACHE_MIB, 64] {
        let mut s = setup(cache_mib);
        let hash = s.block.hash();
        let connect = ChainUpdate {
            kind: UpdateKind::Connect {
                undo: BlockUndo {
                    spent: s.spent.clone(),
                },
            },
            block: &s.block,
            hash,
            height: 1,
            new_tip: hash,
            created: s.created.clone(),
            spent: s.spent.clone(),
        };
        let disconnect = ChainUpdate {
            kind: UpdateKind::Disconnect,
            block: &s.block,
            hash,
            height: 1,
            new_tip: s.genesis,
            created: s.spent.clone(),
            spent: s.created.clone(),
        };
        group.bench_function(
            format!("connect_then_disconnect/cache_{cache_mib}_mib"),
            |b| {
                b.iter(|| {
                    s.store.apply(black_box(&connect)).expect("connect");
                    s.store.apply(black_box(&disconnect)).expect("disconnect");
                });
            },
        );
        assert_eq!(
            s.store.reader().utxo_count().expect("count"),
            COINS as u64,
            "every iteration undid itself"
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_apply
}
criterion_main!(benches);
