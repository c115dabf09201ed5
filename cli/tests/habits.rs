//! `rumor` as a bitcoin-cli user expects it, through the real binaries:
//! RPC methods as commands, `help`, the node found from its data directory
//! and `rumord.toml`, a closed pipe that ends quietly, immature coins shown
//! apart; and no silent loss: an absurd fee refused, unconfirmed sends
//! submitted again where a node lacks them.

mod common;
#[path = "../../node/tests/support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{cli, cli_json, rumor, rumord, stderr_of};
use rumor_chain::{Network, Params};
use serde_json::{Value, json};
use support::{burn_address, start, wait_until};

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn node_methods_are_commands_and_help_explains_them() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let wallet = dir.path().join("w.json");
    let genesis = node.ok("getblockhash", json!([0]));
    // An unknown command is an RPC call; a string result prints bare.
    let out = cli(&node, &wallet, &["getblockhash", "0"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).trim(), genesis.as_str().unwrap());
    // `rumor rpc` does the same; arguments are JSON where they parse.
    let out = cli(
        &node,
        &wallet,
        &["rpc", "getblock", genesis.as_str().unwrap(), "2"],
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let block: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(block["height"], 0);
    assert!(block["tx"][0].is_object(), "verbosity 2 went as a number");
    let out = cli(&node, &wallet, &["getpropagation", r#"{"limit": 1}"#]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A node error is a clear error.
    let out = cli(&node, &wallet, &["nosuchmethod"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("-32601"), "{}", stderr_of(&out));
    // help METHOD is the node's usage; help COMMAND is rumor's.
    let out = cli(&node, &wallet, &["help", "getblock"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).starts_with("getblock \"blockhash\" ( verbosity )"),
        "{}",
        stdout_of(&out)
    );
    let out = cli(&node, &wallet, &["help", "send"]);
    assert!(
        stdout_of(&out).contains("--fee-rate"),
        "{}",
        stdout_of(&out)
    );
    let out = cli(&node, &wallet, &["help"]);
    assert!(out.status.success());
    let text = stdout_of(&out);
    assert!(text.contains("Node RPC methods") && text.contains("getblockchaininfo"));
}

/// A port free now (for a node's `rpc-bind` in its config file).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_node_is_found_from_its_datadir_and_config() {
    let home = tempfile::tempdir().unwrap();
    let datadir = home.path().join(".rumor").join("regtest");
    std::fs::create_dir_all(&datadir).unwrap();
    let port = free_port();
    std::fs::write(
        datadir.join("rumord.toml"),
        format!(
            "network = \"regtest\"\nrpc-bind = \"127.0.0.1:{port}\"\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\ngenesis-outputs = 200\n"
        ),
    )
    .unwrap();
    let clean = |c: &mut Command| {
        for v in [
            "RUMOR_RPC",
            "RUMOR_DATADIR",
            "RUMOR_WALLET",
            "RUMOR_NETWORK",
            "RUMOR_RPC_BIND",
            "RUMOR_CONFIG",
            "RUMOR_COOKIE",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", home.path());
    };
    let mut node = Command::new(rumord());
    node.args(["--network", "regtest"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    clean(&mut node);
    let mut child = node.spawn().unwrap();
    let rumor_with = |args: &[&str]| {
        let mut c = Command::new(rumor());
        c.args(args);
        clean(&mut c);
        c.output().unwrap()
    };
    wait_until(Duration::from_secs(30), "the node answers", || {
        rumor_with(&["--network", "regtest", "getblockcount"])
            .status
            .success()
    });
    // ~/.rumor/regtest: its cookie and its rpc-bind, from `--network` alone.
    let out = rumor_with(&["--network", "regtest", "getblockchaininfo"]);
    // --datadir alone: the file there names the network and the address.
    let by_dir = rumor_with(&["--datadir", datadir.to_str().unwrap(), "getblockcount"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let info: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    assert_eq!(info["chain"], "regtest");
    assert!(by_dir.status.success(), "{}", stderr_of(&by_dir));
    assert_eq!(stdout_of(&by_dir).trim(), "0");
    // Without --network the testnet folder and port are tried, and the
    // message says where and what to check.
    let out = rumor_with(&["getblockcount"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("127.0.0.1:17332") && err.contains("/.rumor/testnet/"),
        "{err}"
    );
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = dir.path().join("w.json");
    let out = Command::new(rumor())
        .arg("--wallet")
        .arg(&wallet)
        .args(["wallet", "new", "--network", "regtest"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // `rumor … | head -1` where head has already gone: the reader end is
    // closed before rumor writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(rumor())
        .arg("--wallet")
        .arg(&wallet)
        .args(["wallet", "show"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr_of(&out)
    );
    assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
}

#[test]
fn balance_shows_immature_coins_apart() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let wallet = dir.path().join("w.json");
    cli_json(&node, &wallet, &["wallet", "new", "--network", "regtest"]);
    cli_json(&node, &wallet, &["generate", "2"]);
    let b = cli_json(&node, &wallet, &["balance"]);
    // Two coinbases of 50, neither spendable before 100 confirmations.
    assert_eq!(b["immature"], 100 * rumor_chain::COIN, "{b}");
    assert_eq!(b["confirmed"], 0, "{b}");
    assert_eq!(b["spendable"], 0, "{b}");
    assert_eq!(b["immature_next_in_blocks"], 98, "{b}");
    let out = cli(&node, &wallet, &["balance"]);
    let text = stdout_of(&out);
    assert!(
        text.contains("immature") && text.contains("100.00000000"),
        "{text}"
    );
}

#[test]
fn an_absurd_fee_is_refused_unless_max_fee_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let wallet = dir.path().join("w.json");
    let w = cli_json(&node, &wallet, &["wallet", "new", "--network", "regtest"]);
    let addr = w["address"].as_str().unwrap().to_owned();
    cli_json(&node, &wallet, &["faucet", &addr, "30"]);
    let to = burn_address();
    // About 5 coins of fee for a 1-coin payment.
    let out = cli(&node, &wallet, &["send", &to, "1", "--fee-rate", "2000000"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("refusing to pay a fee of"), "{err}");
    assert!(err.contains("2000000 units/byte"), "{err}");
    assert_eq!(node.mempool().len(), 1, "only the faucet payment");
    // The old absolute --fee is gone: it cannot be mistaken for a rate.
    let out = cli(&node, &wallet, &["send", &to, "1", "--fee", "5"]);
    assert!(!out.status.success());
    // Allowed explicitly, it is paid, and the fee is shown.
    let sent = cli_json(
        &node,
        &wallet,
        &["send", &to, "1", "--fee-rate", "2000000", "--max-fee", "20"],
    );
    assert_eq!(sent["fee_rate"], 2_000_000);
    assert_eq!(
        sent["fee"].as_u64().unwrap(),
        2_000_000 * sent["size"].as_u64().unwrap()
    );
    let out = cli(&node, &wallet, &["send", &to, "1"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("units/byte"),
        "{}",
        stderr_of(&out)
    );
}

/// A wallet file holding faucet key `i` of regtest.
fn faucet_wallet(node: &support::Node, path: &Path, i: u32) {
    let seed = hex::encode(Params::new(Network::Regtest).faucet_key(i).seed());
    cli_json(
        node,
        path,
        &["wallet", "import", &seed, "--network", "regtest"],
    );
}

#[test]
fn unconfirmed_sends_are_submitted_again_where_the_node_lacks_them() {
    let dir = tempfile::tempdir().unwrap();
    // Two nodes that never meet: what one has, the other lacks.
    let a = start(rumord(), &dir.path().join("a"), &[]);
    let b = start(rumord(), &dir.path().join("b"), &[]);
    let to = burn_address();

    // A send through A is remembered by the wallet.
    let w1 = dir.path().join("w1.json");
    faucet_wallet(&a, &w1, 1);
    let s = cli_json(&a, &w1, &["send", &to, "1"]);
    let txid = s["txid"].as_str().unwrap().to_owned();
    let show = cli_json(&a, &w1, &["wallet", "show"]);
    assert_eq!(show["pending"], json!([txid]));
    // B lacks it; the wallet's next look at B submits it again.
    assert!(!b.mempool().contains(&txid));
    let out = cli(&b, &w1, &["balance"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!("rebroadcast {txid}")),
        "{}",
        stderr_of(&out)
    );
    assert!(b.mempool().contains(&txid));
    assert_eq!(cli_json(&b, &w1, &["balance"])["unconfirmed_sends"], 1);
    // Confirmed, it is no longer counted; confirmed deeply, no longer watched.
    b.ok("generatetoaddress", json!([1, to]));
    assert_eq!(cli_json(&b, &w1, &["balance"])["unconfirmed_sends"], 0);
    let show = cli_json(&b, &w1, &["wallet", "show"]);
    assert_eq!(show["pending"], json!([txid]));
    b.ok("generatetoaddress", json!([5, to]));
    cli_json(&b, &w1, &["balance"]);
    let show = cli_json(&b, &w1, &["wallet", "show"]);
    assert_eq!(show["pending"], json!([]));

    // A send whose coins another transaction spent in the chain can never
    // confirm: it is dropped, and the user told.
    let w2 = dir.path().join("w2.json");
    let w3 = dir.path().join("w3.json");
    faucet_wallet(&a, &w2, 2);
    faucet_wallet(&b, &w3, 2);
    // 15 and 16 coins each take both of faucet key 2's 10-coin outputs:
    // the two conflict (and differ: signatures are deterministic).
    let lost = cli_json(&a, &w2, &["send", &to, "15"]);
    let lost = lost["txid"].as_str().unwrap().to_owned();
    cli_json(&b, &w3, &["send", &to, "16"]);
    b.ok("generatetoaddress", json!([1, to]));
    let out = cli(&b, &w2, &["balance"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!("send {lost} can never confirm")),
        "{}",
        stderr_of(&out)
    );
    let show = cli_json(&b, &w2, &["wallet", "show"]);
    assert_eq!(show["pending"], json!([]));
}
