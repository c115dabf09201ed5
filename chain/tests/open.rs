//! Opening a store that a crash left between storing and connecting a block.

mod support;

use rumor_chain::{AcceptOutcome, ChainState, ChainStore, IndexEntry, check_block};
use support::*;

#[test]
fn a_stored_but_unconnected_heavier_block_is_connected_on_open() {
    let mut t = TestChain::regtest(20);
    let genesis = t.chain.tip().hash;
    let tx = t.faucet_to(0, &key(1), 1_000);
    let b1 = t.block_on_tip(vec![tx], 1_000);
    let hash = b1.hash();
    // Store the body and index entry as accept_block does, then "crash"
    // before the connect: keep the store as it is after put_block.
    let checked = check_block(b1, &t.params, |_| false).unwrap();
    let parent = *t.chain.entry(&genesis).unwrap();
    let entry = IndexEntry {
        hash,
        header: checked.block().header,
        height: 1,
        chain_work: parent
            .chain_work
            .saturating_add(checked.block().header.target.work()),
        invalid: false,
    };
    let mut store = t.chain.store().clone();
    store.put_block(&entry, checked.block()).unwrap();
    assert_eq!(store.tip().unwrap(), Some(genesis), "not connected yet");

    let reopened = ChainState::open(t.params.clone(), store).unwrap();
    assert_eq!(
        reopened.tip().hash,
        hash,
        "open finishes the interrupted connect"
    );
    assert_eq!(reopened.height(), 1);

    // The chain that never crashed reaches the same UTXO set.
    assert!(matches!(
        t.chain.accept_block(checked, t.now_ms).unwrap(),
        AcceptOutcome::Accepted(_)
    ));
    assert_eq!(t.chain.store().utxo_set(), reopened.store().utxo_set());
}
