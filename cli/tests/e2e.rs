//! End to end through the real binaries on 127.0.0.1: three `rumord`, the
//! `rumor` CLI's faucet and send, propagation to every mempool, a mined
//! block, and balances that agree on all three nodes. Then the CLI's error
//! messages.

#[path = "../../node/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{Node, start, wait_until};

fn rumor() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumor"))
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH)
            };
            t = t.max(m);
        }
    }
    t
}

/// `rumord` from the same target directory as `rumor`. `cargo test
/// --workspace` builds it; otherwise (or if the node's sources are newer)
/// it is built here with the same profile.
fn rumord() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let profile_dir = rumor().parent().expect("profile dir");
        let path = profile_dir.join("rumord");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace");
        let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let sources = ["node/src", "p2p/src", "chain/src"]
            .iter()
            .map(|d| newest(&workspace.join(d)))
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let stale = built.is_none_or(|b| b < sources);
        if stale {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => "dev".to_owned(),
                Some(other) => other.to_owned(),
                None => "dev".to_owned(),
            };
            let target_dir = profile_dir.parent().expect("target dir");
            let status = Command::new(cargo)
                .current_dir(workspace)
                .env("CARGO_TARGET_DIR", target_dir)
                .args(["build", "-p", "rumor-node", "--bin", "rumord", "--profile"])
                .arg(&profile)
                .status()
                .expect("run cargo build for rumord");
            assert!(status.success(), "building rumord failed");
        }
        path
    })
}

/// Runs `rumor` against `node` with `args`.
fn cli(node: &Node, wallet: &Path, args: &[&str]) -> Output {
    Command::new(rumor())
        .arg("--rpc")
        .arg(format!("http://{}", node.rpc))
        .arg("--datadir")
        .arg(&node.datadir)
        .arg("--wallet")
        .arg(wallet)
        .args(args)
        .env_remove("RUMOR_RPC")
        .env_remove("RUMOR_DATADIR")
        .env_remove("RUMOR_WALLET")
        .output()
        .expect("run rumor")
}

/// Runs `rumor ... --json` and parses its output; panics on failure.
fn cli_json(node: &Node, wallet: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cli(node, wallet, &all);
    assert!(
        out.status.success(),
        "rumor {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
