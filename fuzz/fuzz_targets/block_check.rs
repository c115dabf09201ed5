//! Block validation: decode (or build from fuzzer choices a near-valid block
//! on genesis, then a child), run the context-free rules (`check_block`)
//! and accept into a `ChainState<MemStore>`. Never panics; the chain's UTXO
//! set afterwards equals a fresh replay of its best chain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_chain::{Block, ChainState, MemStore, OutPoint, check_block};
use rumor_fuzz::{Cursor, build_block_from, genesis, params};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let p = params();
    let g = genesis();
    let now = p.genesis_time + 1_000_000;
    let mut chain = ChainState::open(p.clone(), MemStore::new()).expect("open");
    let blocks: Vec<Block> = if mode % 2 == 0 {
        match Block::decode(rest) {
            Ok(b) => vec![b],
            Err(_) => return,
        }
    } else {
        let mut c = Cursor::new(rest);
        let b1 = build_block_from(&mut c, g.hash(), 1, p.genesis_time + 1000, &[]);
        let spendable: Vec<OutPoint> = b1
            .txs
            .iter()
            .skip(1)
            .flat_map(|t| {
                let id = t.txid();
                (0..t.outputs.len() as u32).map(move |v| OutPoint::new(id, v))
            })
            .collect();
        let b2 = build_block_from(&mut c, b1.hash(), 2, p.genesis_time + 2000, &spendable);
        if c.u8() % 2 == 0 {
            vec![b1, b2]
        } else {
            vec![b2, b1]
        }
    };
    for b in blocks {
        if let Ok(checked) = check_block(b, p, |_| false) {
            let _ = chain.accept_block(checked, now);
        }
    }
    // Replay the best chain into a fresh state: same UTXO set.
    let mut replay = ChainState::open(p.clone(), MemStore::new()).expect("open");
    for h in 1..=chain.height() {
        let hash = chain.hash_at(h).expect("best chain hash");
        let block = chain.block(&hash).expect("infallible").expect("stored");
        replay
            .process_block(block, now)
            .expect("replay of a connected block");
    }
    assert_eq!(replay.tip().hash, chain.tip().hash);
    assert_eq!(
        replay.store().utxo_set(),
        chain.store().utxo_set(),
        "UTXO set differs from a replay of the best chain"
    );
});
