//! The node core over its redb store: the shared pipeline end to end, the
//! bodies of objects accepted as a consequence, and the stop on a panic.

use rumor_chain::{
    Amount, Inv, KeyPair, MempoolConfig, Network, OutPoint, Params, Transaction, TxIn, TxOut,
    Verdict, decode_body,
};

use super::*;

fn params() -> Params {
    Params::new(Network::Regtest)
        .with_genesis_outputs(20)
        .unwrap()
}

fn core(dir: &std::path::Path) -> NodeCore {
    let p = params();
    let store = RedbStore::open(&dir.join("c.redb"), &p).unwrap();
    let chain = ChainState::open(p, store).unwrap();
    NodeCore::new(chain, MempoolConfig::default(), Shutdown::new())
}

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

fn item(tx: &Transaction) -> Result<rumor_chain::Object, rumor_chain::Outcome> {
    decode_body(Inv::Tx(tx.txid()), &tx.encode())
}

#[test]
fn a_panic_under_the_lock_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    assert!(core.chain_info().is_ok());
    let hit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = core.with_state(|_| panic!("a bug halfway through an update"));
    }));
    assert!(hit.is_err());
    assert!(matches!(core.chain_info(), Err(CoreError::Stopped)));
    assert!(matches!(core.shutdown.reason(), Some(StopReason::Fatal(_))));
    let p = core.process(
        vec![item(&spend(
            OutPoint::new(rumor_chain::Txid([0; 32]), 0),
            &KeyPair::from_seed([1; 32]),
            1,
        ))],
        &mut |_| {},
    );
    assert_eq!(p.outcomes[0].verdict.label(), "internal-error");
}

#[test]
fn an_adopted_orphan_comes_back_with_its_body_and_a_mined_block_connects() {
    let dir = tempfile::tempdir().unwrap();
    let c = core(dir.path());
    let p = params();
    let genesis = p.genesis_block().txs[0].txid();
    let key = p.faucet_key(3);
    let parent = spend(
        OutPoint::new(genesis, 3),
        &key,
        p.genesis_output_amount.units() - 1_000,
    );
    let child = spend(OutPoint::new(parent.txid(), 0), &key, 1_000_000);
    let out = c.process(vec![item(&child)], &mut |_| {});
    assert_eq!(out.outcomes[0].verdict.label(), "orphan-tx");
    let out = c.process(vec![item(&parent)], &mut |_| {});
    assert_eq!(
        out.outcomes[0].verdict,
        Verdict::Accepted {
            also: vec![Inv::Tx(child.txid())]
        }
    );
    assert_eq!(out.also.len(), 1);
    assert_eq!(out.also[0].bytes.as_ref(), child.encode().as_slice());
    // The p2p layer's questions see it.
    assert_eq!(c.missing(&[Inv::Tx(child.txid())]), vec![]);
    assert_eq!(c.txs_by_short_id(&[child.txid().short_id()]).len(), 1);
    // A block mined from the pool connects and empties it.
    let block = c
        .mine_block(KeyPair::from_seed([9; 32]).address(), [1; 56])
        .unwrap();
    // It is reported valid once, before the store holds it: the moment
    // the node may relay it.
    let coinbase = block.txs[0].txid();
    let mut valid = Vec::new();
    let out = c.process(
        vec![decode_body(Inv::Block(block.hash()), &block.encode())],
        &mut |hash| valid.push((hash, c.reader().tx_block(&coinbase).unwrap())),
    );
    assert_eq!(out.outcomes[0].verdict.label(), "accepted");
    assert_eq!(valid, vec![(block.hash(), None)]);
    assert_eq!(c.reader().tx_block(&coinbase).unwrap(), Some(block.hash()));
    assert_eq!(c.pool_summary().unwrap().txs, 0);
    assert_eq!(c.missing(&[Inv::Tx(child.txid())]), vec![], "confirmed");
    assert_eq!(c.compact(&block.hash()).unwrap().short_ids.len(), 2);
    assert_eq!(c.status().unwrap().height, 1);
}

#[test]
fn orphans_are_accounted_to_their_peer_and_go_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = core(dir.path());
    let key = KeyPair::from_seed([2; 32]);
    let made_up = |i: u8| spend(OutPoint::new(rumor_chain::Txid([i; 32]), 0), &key, 1_000);
    let (a, b) = (rumor_p2p::PeerId::random(), rumor_p2p::PeerId::random());
    let sources = [Some(peer_source(&a)), Some(peer_source(&b)), None];
    let out = c.process_from(
        vec![item(&made_up(1)), item(&made_up(2)), item(&made_up(3))],
        &sources,
        &mut |_| {},
    );
    assert!(
        out.outcomes
            .iter()
            .all(|o| o.verdict.label() == "orphan-tx")
    );
    let held = |s| {
        c.with_state(|st| st.mempool().orphans().held_from(s))
            .unwrap()
    };
    assert_eq!(held(sources[0]), 1);
    assert_eq!(held(sources[1]), 1);
    assert_eq!(held(None), 1);
    assert_eq!(c.forget_orphans_from(peer_source(&a)).unwrap(), 1);
    assert_eq!(held(sources[0]), 0);
    assert_eq!(held(sources[1]), 1, "another peer's stay");
    assert_eq!(c.with_state(|st| st.mempool().orphans().len()).unwrap(), 2);
}
