//! The acceptance pipeline (`NodeState`): each verdict names its rule, and
//! the mempool follows the best chain through reorganisations.
#![allow(missing_docs)]

mod support;

use rumor_chain::{
    Amount, Block, BlockHash, BlockSpec, ChainState, Inv, KeyPair, MemStore, Mempool,
    MempoolConfig, NodeState, Note, Object, OutPoint, Outcome, Params, Transaction, TxIn, TxOut,
    Txid, Verdict, build_block, decode_body,
};
use support::regtest;

fn node(p: &Params) -> NodeState<MemStore> {
    let chain = ChainState::open(p.clone(), MemStore::new()).unwrap();
    NodeState::new(chain, Mempool::new(p.clone(), MempoolConfig::default()))
}

/// Spends `prev` (owned by `key`) to `key`, keeping `value`.
fn spend(prev: OutPoint, key: &KeyPair, value: u64) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::unsigned(prev, key.public())],
        outputs: vec![TxOut {
            amount: Amount::new(value).unwrap(),
            address: key.address(),
        }],
    };
    tx.sign(&[key]).unwrap();
    tx
}

fn faucet_tx(p: &Params, i: u32, fee: u64) -> Transaction {
    let genesis = p.genesis_block().txs[0].txid();
    spend(
        OutPoint::new(genesis, i),
        &p.faucet_key(i),
        p.genesis_output_amount.units() - fee,
    )
}

fn tx_item(tx: &Transaction) -> Result<Object, Outcome> {
    decode_body(Inv::Tx(tx.txid()), &tx.encode())
}

fn block_item(b: &Block) -> Result<Object, Outcome> {
    decode_body(Inv::Block(b.hash()), &b.encode())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn accept(n: &mut NodeState<MemStore>, items: Vec<Result<Object, Outcome>>) -> Vec<Verdict> {
    let c = n.accept(items, now(), |_| false);
    assert!(c.failure.is_none());
    c.outcomes.into_iter().map(|o| o.verdict).collect()
}

fn labels(v: &[Verdict]) -> Vec<&'static str> {
    v.iter().map(Verdict::label).collect()
}

fn block(p: &Params, prev: BlockHash, height: u64, time: u64, txs: Vec<Transaction>) -> Block {
    let fees = 1_000 * txs.len() as u64;
    build_block(
        p,
        &BlockSpec {
            prev,
            height,
            time,
            pay_to: KeyPair::from_seed([2; 32]).address(),
            fees: Amount::new(fees).unwrap(),
            extra: [height as u8; 56],
        },
        txs,
    )
}

#[test]
fn each_verdict_names_its_rule() {
    let p = regtest(20);
    let mut n = node(&p);
    let good = faucet_tx(&p, 0, 1_000);
    let mut bad_sig = faucet_tx(&p, 1, 1_000);
    bad_sig.inputs[0].signature.0[3] ^= 1;
    let conflict = faucet_tx(&p, 0, 2_000);
    let low_fee = faucet_tx(&p, 2, 1);
    let parent = faucet_tx(&p, 3, 1_000);
    let child = spend(OutPoint::new(parent.txid(), 0), &p.faucet_key(3), 1_000_000);
    let mismatch = decode_body(Inv::Tx(Txid([7; 32])), &faucet_tx(&p, 4, 1_000).encode());
    let garbage = decode_body(Inv::Tx(Txid([8; 32])), &[1, 2, 3]);
    let out = accept(
        &mut n,
        vec![
            tx_item(&good),
            tx_item(&good),
            tx_item(&bad_sig),
            tx_item(&conflict),
            tx_item(&low_fee),
            tx_item(&child),
            mismatch,
            garbage,
        ],
    );
    assert_eq!(
        labels(&out),
        [
            "accepted",
            "known",
            "bad-signature",
            "txn-mempool-conflict",
            "fee-too-low",
            "orphan-tx",
            "id-mismatch",
            "undecodable"
        ]
    );
    assert!(matches!(out[2], Verdict::Invalid { .. }));
    assert!(out[2].condemns(&Inv::Tx(bad_sig.txid())));
    assert!(matches!(out[3], Verdict::Policy { .. }));
    // The orphan names its missing parent, to be fetched from its sender.
    assert_eq!(
        out[5],
        Verdict::NotYet {
            reason: "orphan-tx",
            fetch: vec![Inv::Tx(parent.txid())]
        }
    );
    // Bodies that are not what they claim are the sender's fault, not the id's.
    assert!(matches!(out[6], Verdict::Malformed { .. }));
    assert!(!out[6].condemns(&Inv::Tx(Txid([7; 32]))));
    assert!(matches!(out[7], Verdict::Malformed { .. }));
    // The parent arrives: both are accepted, the child as `also`.
    let out = accept(&mut n, vec![tx_item(&parent)]);
    assert_eq!(
        out[0],
        Verdict::Accepted {
            also: vec![Inv::Tx(child.txid())]
        }
    );
    assert_eq!(n.mempool().len(), 3);
}

#[test]
fn a_block_connects_a_reorg_returns_transactions_and_bad_blocks_are_named() {
    let p = regtest(20);
    let mut n = node(&p);
    let genesis = n.chain().genesis_hash();
    let t0 = now() - 60_000;
    let tx = faucet_tx(&p, 5, 1_000);
    assert_eq!(labels(&accept(&mut n, vec![tx_item(&tx)])), ["accepted"]);
    let a1 = block(&p, genesis, 1, t0, vec![tx.clone()]);
    let c = n.accept(vec![block_item(&a1)], now(), |_| false);
    assert_eq!(c.outcomes[0].verdict.label(), "accepted");
    assert!(c.notes.contains(&Note::NewTip {
        height: 1,
        hash: a1.hash()
    }));
    assert_eq!(n.mempool().len(), 0);
    // Known, and a transaction the chain confirmed is known, not an orphan.
    assert_eq!(labels(&accept(&mut n, vec![block_item(&a1)])), ["known"]);
    let confirmed = n.accept(vec![tx_item(&tx)], now(), |t| *t == tx.txid());
    assert_eq!(confirmed.outcomes[0].verdict, Verdict::Known);

    // A longer branch without the transaction, out of order.
    let b1 = block(&p, genesis, 1, t0, vec![]);
    let b2 = block(&p, b1.hash(), 2, t0 + 1, vec![]);
    assert_eq!(
        accept(&mut n, vec![block_item(&b2)]),
        [Verdict::NotYet {
            reason: "orphan-block",
            fetch: vec![Inv::Block(b1.hash())]
        }]
    );
    let c = n.accept(vec![block_item(&b1)], now(), |_| false);
    assert_eq!(
        c.outcomes[0].verdict,
        Verdict::Accepted {
            also: vec![Inv::Block(b2.hash())]
        }
    );
    assert!(c.notes.contains(&Note::Reorg {
        disconnected: 1,
        connected: 2
    }));
    assert_eq!(n.chain().tip().hash, b2.hash());
    assert_eq!(
        n.mempool().txids().copied().collect::<Vec<_>>(),
        [tx.txid()]
    );

    // A bad proof of work is invalid; a coinbase paying too much fails when
    // connected and is remembered.
    let mut bad = block(&p, b2.hash(), 3, t0 + 2, vec![]);
    while bad.header.meets_target() {
        bad.header.nonce += 1;
    }
    assert_eq!(
        labels(&accept(&mut n, vec![block_item(&bad)])),
        ["high-hash"]
    );
    let greedy = build_block(
        &p,
        &BlockSpec {
            prev: b2.hash(),
            height: 3,
            time: t0 + 3,
            pay_to: KeyPair::from_seed([3; 32]).address(),
            fees: Amount::new(1).unwrap(),
            extra: [3; 56],
        },
        vec![],
    );
    let out = accept(&mut n, vec![block_item(&greedy)]);
    assert_eq!(labels(&out), ["coinbase-too-large"]);
    assert!(matches!(out[0], Verdict::Invalid { .. }));
    assert!(!out[0].condemns(&Inv::Block(greedy.hash())));
    assert_eq!(
        labels(&accept(&mut n, vec![block_item(&greedy)])),
        ["known-invalid"]
    );
    assert_eq!(n.chain().tip().hash, b2.hash());
}

#[test]
fn a_reorg_that_double_spends_a_parent_drops_its_children_from_the_pool() {
    let p = regtest(20);
    let mut n = node(&p);
    let genesis = n.chain().genesis_hash();
    let t0 = now() - 60_000;
    let key = p.faucet_key(6);
    // T spends genesis output 6 and is mined in A1; its child C waits in the pool.
    let t = faucet_tx(&p, 6, 1_000);
    let a1 = block(&p, genesis, 1, t0, vec![t.clone()]);
    let child = spend(
        OutPoint::new(t.txid(), 0),
        &key,
        t.outputs[0].amount.units() - 1_000,
    );
    assert_eq!(
        labels(&accept(&mut n, vec![block_item(&a1), tx_item(&child)])),
        ["accepted", "accepted"]
    );
    // A heavier branch spends output 6 differently (T') and leaves T out.
    let t2 = faucet_tx(&p, 6, 5_000);
    let b1 = block(&p, genesis, 1, t0, vec![t2]);
    let b2 = block(&p, b1.hash(), 2, t0 + 1, vec![]);
    let c = n.accept(vec![block_item(&b1), block_item(&b2)], now(), |_| false);
    assert_eq!(c.outcomes.len(), 2);
    assert!(c.notes.contains(&Note::PoolRepaired { removed: 1 }));
    assert_eq!(n.chain().tip().hash, b2.hash());
    // T cannot come back, so neither can its child.
    assert_eq!(n.mempool().len(), 0);
}

#[test]
fn a_block_from_the_future_is_not_yet_valid() {
    let p = regtest(20);
    let mut n = node(&p);
    let genesis = n.chain().genesis_hash();
    let tx = faucet_tx(&p, 7, 1_000);
    let future = block(&p, genesis, 1, now() + 3 * 3_600_000, vec![tx]);
    let out = accept(&mut n, vec![block_item(&future)]);
    assert!(matches!(&out[0], Verdict::NotYet { fetch, .. } if fetch.is_empty()));
    assert_eq!(labels(&out), ["time-too-new"]);
}

/// Commits `items` through `commit_with`, returning the verdicts and the
/// blocks reported valid on the way.
fn accept_reporting(
    n: &mut NodeState<MemStore>,
    items: Vec<Result<Object, Outcome>>,
) -> (Vec<&'static str>, Vec<BlockHash>) {
    let checked = n
        .screen(items)
        .check(&n.chain().params().clone(), |_| false);
    let mut valid = Vec::new();
    let c = n.commit_with(checked, now(), &mut |h| valid.push(h));
    assert!(c.failure.is_none());
    let labels = c.outcomes.iter().map(|o| o.verdict.label()).collect();
    (labels, valid)
}

#[test]
fn each_block_joining_the_best_chain_is_reported_valid_once_and_no_other() {
    let p = regtest(20);
    let mut n = node(&p);
    let genesis = n.chain().genesis_hash();
    let t0 = now() - 60_000;
    let a1 = block(&p, genesis, 1, t0, vec![faucet_tx(&p, 1, 1_000)]);
    assert_eq!(
        accept_reporting(&mut n, vec![block_item(&a1)]),
        (vec!["accepted"], vec![a1.hash()])
    );
    // A side branch with no more work is held aside, not stored or
    // connected: not reported.
    let b1 = block(&p, genesis, 1, t0 + 1, vec![]);
    assert_eq!(
        accept_reporting(&mut n, vec![block_item(&b1)]),
        (vec!["stale-block"], vec![])
    );
    assert!(n.chain().entry(&b1.hash()).is_none());
    // Its child makes it the best chain: both are reported, in order.
    let b2 = block(&p, b1.hash(), 2, t0 + 2, vec![]);
    assert_eq!(
        accept_reporting(&mut n, vec![block_item(&b2)]),
        (vec!["accepted"], vec![b1.hash(), b2.hash()])
    );
    // A block that breaks a connect rule (it spends a coin the chain does
    // not have) is never reported.
    let missing = spend(
        OutPoint::new(Txid([7; 32]), 0),
        &KeyPair::from_seed([7; 32]),
        1_000,
    );
    let bad = block(&p, b2.hash(), 3, t0 + 3, vec![missing]);
    let (labels, valid) = accept_reporting(&mut n, vec![block_item(&bad)]);
    assert_eq!(labels, ["bad-tx-inputs-in-block"]);
    assert_eq!(valid, vec![]);
    assert_eq!(n.chain().tip().hash, b2.hash());
}
