//! The mempool under a sequence of fuzzer-built transactions (spending
//! genesis outputs and earlier ones, in any order, conflicting, chained,
//! invalid), with a small byte limit so eviction runs, and occasionally a
//! block that confirms a template. Never panics; the pool's accounting stays
//! consistent: every pool transaction's inputs exist in the chain or the
//! pool, no two pool transactions spend one coin, and the pool stays within
//! its byte limit.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use rumor_chain::{Mempool, MempoolConfig, OutPoint, check_transaction};
use rumor_fuzz::{Cursor, build_tx, genesis_utxos, params};

fuzz_target!(|data: &[u8]| {
    let p = params();
    let config = MempoolConfig {
        max_bytes: 4_000,
        max_depth: 4,
        max_orphans: 8,
        orphan_ttl_ms: 1_000,
    };
    let mut pool = Mempool::new(p.clone(), config);
    let mut c = Cursor::new(data);
    let mut now = 1_000_000u64;
    let mut created: Vec<OutPoint> = Vec::new();
    let mut steps = 0;
    while !c.is_empty() && steps < 24 {
        steps += 1;
        now += u64::from(c.u8()) * 10;
        let tx = build_tx(&mut c, &created);
        let txid = tx.txid();
        let outs = tx.outputs.len() as u32;
        let Ok(checked) = check_transaction(tx, p) else {
            continue;
        };
        if pool.accept(checked, genesis_utxos(), 0, now).is_ok() {
            created.extend((0..outs).map(|v| OutPoint::new(txid, v)));
        }
        if c.u8() % 16 == 0 {
            let _ = pool.block_template(usize::from(c.u8()) * 64);
        }
    }
    // Invariants.
    assert!(
        pool.bytes() <= 4_000,
        "pool over its limit: {}",
        pool.bytes()
    );
    let mut spent = HashSet::new();
    let ids: Vec<_> = pool.txids().copied().collect();
    for id in &ids {
        let tx = pool.tx(id).expect("listed tx present");
        for i in &tx.inputs {
            assert!(
                spent.insert(i.prev),
                "two pool transactions spend {}",
                i.prev
            );
            let in_chain = genesis_utxos().contains_key(&i.prev);
            let in_pool = pool.contains(&i.prev.txid);
            assert!(in_chain || in_pool, "pool tx {id} spends a missing coin");
        }
    }
    let (template, _) = pool.block_template(1_000_000);
    assert_eq!(template.len(), ids.len(), "template leaves out pool txs");
});
