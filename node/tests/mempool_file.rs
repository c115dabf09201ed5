//! The mempool survives a restart (`mempool.dat`), loaded through the
//! validator: what is still valid comes back, what is not is dropped and
//! counted, a corrupt file is refused and set aside without stopping the
//! node. Through the real binary, like `node.rs`.

mod support;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rumor_chain::{OutPoint, Params, Transaction, Txid};
use serde_json::json;
use support::{Node, params, start, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

/// Spends output `vout` of `prev` (worth `amount`, paid to faucet key
/// `key`), paying `fee`.
fn spend(p: &Params, prev: Txid, vout: u32, key: u32, amount: u64, fee: u64) -> Transaction {
    support::faucet_spend(p, OutPoint::new(prev, vout), key, amount, fee)
}

fn send(node: &Node, tx: &Transaction) {
    let txid = node.ok("sendrawtransaction", json!([hex::encode(tx.encode())]));
    assert_eq!(txid, json!(tx.txid().to_string()));
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn ids(txs: &[&Transaction]) -> Vec<String> {
    sorted(txs.iter().map(|t| t.txid().to_string()).collect())
}

fn wait_loaded(node: &Node) {
    wait_until(Duration::from_secs(30), "mempool loaded", || {
        node.ok("getmempoolinfo", json!([]))["loaded"] == json!(true)
    });
}

/// The log line of `message`, which must be there.
fn log_line(node: &Node, message: &str) -> String {
    let text = node.log_text();
    text.lines()
        .find(|l| l.contains(message))
        .unwrap_or_else(|| panic!("no {message:?} in the log:\n{text}"))
        .to_owned()
}

#[test]
fn unconfirmed_transactions_survive_a_restart_and_stale_ones_are_dropped() {
    let p = params();
    let genesis = p.genesis_block();
    let gtx = genesis.txs[0].txid();
    let amount = p.genesis_output_amount.units();
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("n");
    let file = datadir.join(rumor_node::MEMPOOL_FILE);

    // Two independent transactions and a child of the first.
    let a = spend(&p, gtx, 0, 0, amount, 1_000);
    let b = spend(&p, gtx, 1, 1, amount, 1_000);
    let c = spend(&p, a.txid(), 0, 0, amount - 1_000, 1_000);
    let mut node = start(rumord(), &datadir, &[]);
    wait_loaded(&node);
    for tx in [&a, &b, &c] {
        send(&node, tx);
    }
    assert_eq!(sorted(node.mempool()), ids(&[&a, &b, &c]));
    assert!(node.terminate().success());
    assert!(log_line(&node, "mempool saved").contains("txs=3"));

    // Restarted: all three are back (the child after its parent).
    let mut node = start(rumord(), &datadir, &[]);
    wait_loaded(&node);
    assert_eq!(sorted(node.mempool()), ids(&[&a, &b, &c]));
    let loaded = log_line(&node, "mempool loaded");
    assert!(loaded.contains("read=3"), "{loaded}");
    assert!(loaded.contains("accepted=3"), "{loaded}");
    assert!(loaded.contains("dropped=0"), "{loaded}");
    let entry = node.ok("getmempoolentry", json!([c.txid().to_string()]));
    assert_eq!(entry["depends"], json!([a.txid().to_string()]), "{entry}");

    // They confirm; then a file holding one of them (confirmed since), one
    // still valid, one that conflicts with it, and bytes that are no
    // transaction: only the valid one is taken.
    node.ok("generatetoaddress", json!([1, support::burn_address()]));
    assert!(node.mempool().is_empty());
    assert!(node.terminate().success());
    assert!(log_line(&node, "mempool saved").contains("txs=0"));
    let d = spend(&p, gtx, 2, 2, amount, 1_000);
    let conflict = spend(&p, gtx, 2, 2, amount, 2_000);
    let bodies = [&a, &d, &conflict]
        .map(|t| Bytes::from(t.encode()))
        .into_iter()
        .chain([Bytes::from_static(b"not a transaction")])
        .collect::<Vec<_>>();
    rumor_node::write_mempool_file(&file, &genesis.hash(), &bodies).unwrap();
    let mut node = start(rumord(), &datadir, &[]);
    wait_loaded(&node);
    assert_eq!(node.mempool(), ids(&[&d]));
    let loaded = log_line(&node, "mempool loaded");
    for field in [
        "read=4",
        "accepted=1",
        "dropped=3",
        "\"confirmed\": 1",
        "\"txn-mempool-conflict\": 1",
        "\"undecodable\": 1",
    ] {
        assert!(loaded.contains(field), "{field} in {loaded}");
    }

    // `savemempool` writes it now, as shutdown would.
    let saved = node.ok("savemempool", json!([]));
    assert_eq!(saved["filename"], json!(file.display().to_string()));
    let now = rumor_node::read_mempool_file(&file, &genesis.hash())
        .unwrap()
        .unwrap();
    assert_eq!(now, vec![Bytes::from(d.encode())]);
    assert!(node.terminate().success());

    // One flipped byte: refused with the reason, set aside, and the node
    // runs with an empty mempool.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    let mut node = start(rumord(), &datadir, &[]);
    wait_loaded(&node);
    assert!(node.mempool().is_empty());
    let refused = log_line(&node, "mempool file refused");
    assert!(refused.contains("checksum mismatch"), "{refused}");
    assert_eq!(
        std::fs::read(datadir.join("mempool.dat.bad")).unwrap(),
        bytes
    );
    assert_eq!(node.height(), 1, "the node runs on");
    assert!(node.terminate().success());
    // Its own empty mempool is what it saved.
    let now = rumor_node::read_mempool_file(&file, &genesis.hash())
        .unwrap()
        .unwrap();
    assert!(now.is_empty());
}
