//! End to end through the real binaries on 127.0.0.1: three `rumord`, the
//! `rumor` CLI's faucet and send, propagation to every mempool, a mined
//! block, and balances that agree on all three nodes. Then the CLI's error
//! messages.

mod common;
#[path = "../../node/tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use common::{cli, cli_json, rumor, rumord, stderr_of};
use serde_json::{Value, json};
use support::{start, wait_until};

#[test]
fn three_nodes_faucet_send_mine_and_balances_agree() {
    let dir = tempfile::tempdir().unwrap();
    let n0 = start(rumord(), &dir.path().join("n0"), &[]);
    let b0 = n0.bootnode();
    let n1 = start(rumord(), &dir.path().join("n1"), &["--bootnode", &b0]);
    let b1 = n1.bootnode();
    let n2 = start(rumord(), &dir.path().join("n2"), &["--bootnode", &b1]);
    let nodes = [&n0, &n1, &n2];
    wait_until(Duration::from_secs(30), "a connected line", || {
        n0.peers() >= 1 && n1.peers() >= 2 && n2.peers() >= 1
    });

    let alice = dir.path().join("alice.json");
    let bob = dir.path().join("bob.json");
    let a = cli_json(&n0, &alice, &["wallet", "new", "--network", "regtest"]);
    let b = cli_json(&n0, &bob, &["wallet", "new", "--network", "regtest"]);
    let alice_addr = a["address"].as_str().unwrap().to_owned();
    let bob_addr = b["address"].as_str().unwrap().to_owned();

    // Faucet into alice through node 0.
    let f = cli_json(&n0, &alice, &["faucet", &alice_addr, "30"]);
    let faucet_txid = f["txid"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(30), "faucet tx on node 1", || {
        n1.mempool().contains(&faucet_txid)
    });

    // Alice pays bob through node 1, spending the unconfirmed faucet output.
    let s = cli_json(&n1, &alice, &["send", &bob_addr, "12.5"]);
    let txid = s["txid"].as_str().unwrap().to_owned();
    assert_eq!(s["amount"], 1_250_000_000u64);
    wait_until(Duration::from_secs(30), "both txs in all mempools", || {
        nodes.iter().all(|n| {
            let m = n.mempool();
            m.contains(&txid) && m.contains(&faucet_txid)
        })
    });

    // A block mined on node 2 includes them, and every node takes it.
    let hashes = cli_json(&n2, &alice, &["generate", "1"]);
    let block = hashes[0].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(30), "block on every node", || {
        nodes
            .iter()
            .all(|n| n.best() == block && n.mempool().is_empty())
    });
    let txs = n0.ok("getblock", json!([block, 1]))["tx"].clone();
    assert!(txs.as_array().unwrap().contains(&json!(txid)));

    // Balances agree everywhere.
    for n in nodes {
        let bal = n.ok("getbalance", json!([bob_addr]));
        assert_eq!(bal["amount"], 1_250_000_000u64, "bob on {}", n.rpc);
        assert_eq!(bal["coins"], "12.50000000");
    }
    let alice_on: Vec<Value> = nodes
        .iter()
        .map(|n| n.ok("getbalance", json!([alice_addr]))["amount"].clone())
        .collect();
    assert!(alice_on.iter().all(|v| *v == alice_on[0]), "{alice_on:?}");
    // Alice got 30, paid 12.5 and a fee; the rest is hers; plus the coinbase of generate.
    let bal = cli_json(&n2, &bob, &["balance"]);
    assert_eq!(bal["confirmed"], 1_250_000_000u64);
    let t = cli_json(&n1, &bob, &["tx", &txid]);
    assert_eq!(t["confirmations"], 1);
    assert_eq!(t["blockhash"], json!(block));

    // Propagation telemetry: every node has a first-seen record of the tx.
    for n in nodes {
        let recs = n.ok("getpropagation", json!([{"ids": [txid]}]));
        assert_eq!(recs.as_array().map(Vec::len), Some(1), "{recs}");
        assert_eq!(recs[0]["kind"], "Tx");
    }

    // --- Clear errors, each a one-line message and a non-zero exit. ---
    let out = cli(&n0, &alice, &["send", &bob_addr, "100000"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("insufficient funds"),
        "{}",
        stderr_of(&out)
    );
    let out = cli(&n0, &alice, &["send", "rumorreg1notanaddress", "1"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("invalid address"));
    // An address of another network is refused, naming both networks, by
    // the wallet and by the node.
    let testnet_addr = rumor_chain::KeyPair::from_seed([5; 32])
        .address()
        .encode(rumor_chain::Network::Testnet);
    let out = cli(&n0, &alice, &["send", &testnet_addr, "1"]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("this is a testnet address")
            && stderr_of(&out).contains("network is regtest"),
        "{}",
        stderr_of(&out)
    );
    let out = cli(&n0, &alice, &["generate", "1", "--address", &testnet_addr]);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("this is a testnet address"),
        "{}",
        stderr_of(&out)
    );
    let out = cli(&n0, &alice, &["send", &bob_addr, "1.000000001"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("invalid amount"));
    let out = cli(&n0, &alice, &["send", &bob_addr, "-3"]);
    assert!(!out.status.success());
    let out = Command::new(rumor())
        .args([
            "--rpc",
            "http://127.0.0.1:1",
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
            "info",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("cannot reach rumord"),
        "{}",
        stderr_of(&out)
    );
    let out = Command::new(rumor())
        .arg("--rpc")
        .arg(format!("http://{}", n0.rpc))
        .args(["--rpc-user", "u", "--rpc-password", "wrong", "info"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("bad credential"),
        "{}",
        stderr_of(&out)
    );
    // The wallet is never overwritten without --force, and is private.
    let out = cli(&n0, &alice, &["wallet", "new", "--network", "regtest"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("--force"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&alice).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let show = cli_json(&n0, &alice, &["wallet", "show"]);
    assert_eq!(show["keys"][0]["address"], json!(alice_addr));

    // Human output works too.
    for args in [
        &["info"][..],
        &["peers"],
        &["mempool", "--txids"],
        &["block", "1"],
        &["balance"],
    ] {
        let out = cli(&n2, &alice, args);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    }
    let out = cli(&n2, &alice, &["stop"]);
    assert!(out.status.success());
}
