//! Multi-process tests of `rumord` through the real binary on 127.0.0.1:
//! RPC bad input, crash and restart, refused data directories and p2p
//! ports, config precedence, metrics, health and peer-id.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::{Node, http_post, run_to_exit, start, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

#[test]
fn rpc_bad_input_gets_json_rpc_errors_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let (u, p) = node.cookie();
    let auth = Some((u.as_str(), p.as_str()));
    let post = |body: &str| {
        let (status, text) = http_post(node.rpc, auth, body.as_bytes());
        (
            status,
            serde_json::from_str::<serde_json::Value>(&text).ok(),
        )
    };
    let code = |r: &(u16, Option<serde_json::Value>)| {
        r.1.as_ref().and_then(|v| v["error"]["code"].as_i64())
    };

    // Malformed JSON.
    assert_eq!(
        code(&post("{\"jsonrpc\": \"2.0\", \"id\": 1, ")),
        Some(-32700)
    );
    // Unknown method.
    assert_eq!(
        code(&post(
            r#"{"jsonrpc":"2.0","id":1,"method":"getwhatever","params":[]}"#
        )),
        Some(-32601)
    );
    // Wrong params: type, count, name.
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":["x"]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[1,2,3]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":{"nope":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"getblockchaininfo","params":[1]}"#,
    ] {
        assert_eq!(code(&post(body)), Some(-32602), "{body}");
    }
    // Not found and decode errors use bitcoind's codes.
    assert_eq!(
        node.call("getblock", json!(["00".repeat(32)]))
            .unwrap_err()
            .0,
        -5
    );
    assert_eq!(
        node.call("sendrawtransaction", json!(["zz"]))
            .unwrap_err()
            .0,
        -22
    );
    assert_eq!(
        node.call("sendrawtransaction", json!(["00ff"]))
            .unwrap_err()
            .0,
        -22
    );
    assert_eq!(node.call("getblockhash", json!([1000])).unwrap_err().0, -8);
    // Oversized body: a JSON-RPC error (or 413), never a crash.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"sendrawtransaction","params":["{}"]}}"#,
        "a".repeat(33 * 1024 * 1024)
    );
    let r = post(&big);
    assert!(
        r.0 == 413 || code(&r) == Some(-32007),
        "oversized body answered {r:?}"
    );
    // Missing or wrong credential: 401.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"getblockchaininfo","params":[]}"#;
    assert_eq!(http_post(node.rpc, None, body.as_bytes()).0, 401);
    assert_eq!(
        http_post(node.rpc, Some((&u, "wrong")), body.as_bytes()).0,
        401
    );
    // A batch mixing good and bad calls answers each.
    let (status, text) = http_post(
        node.rpc,
        auth,
        br#"[{"jsonrpc":"2.0","id":1,"method":"getbestblockhash"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#,
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    // Still serving.
    assert_eq!(node.height(), 0);

    // `rumord health` answers 0 only when the node answers.
    let health = |args: &[&str]| {
        std::process::Command::new(rumord())
            .arg("health")
            .args(args)
            .env_remove("RUMOR_DATADIR")
            .output()
            .unwrap()
            .status
            .success()
    };
    let url = format!("http://{}", node.rpc);
    let datadir = node.datadir.to_str().unwrap();
    assert!(health(&["--rpc", &url, "--datadir", datadir]));
    assert!(!health(&[
        "--rpc",
        &url,
        "--rpc-user",
        "x",
        "--rpc-password",
        "y"
    ]));
    assert!(!health(&[
        "--rpc",
        "http://127.0.0.1:1",
        "--datadir",
        datadir
    ]));
}

#[test]
fn listunspent_marks_immature_coinbase_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), dir.path(), &[]);
    let to = support::burn_address();
    node.ok("generatetoaddress", json!([2, to]));
    let list = node.ok("listunspent", json!([to, 1]));
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2, "{list:?}");
    for u in list {
        assert_eq!(u["coinbase"], json!(true));
        assert_eq!(
            u["spendable"],
            json!(false),
            "regtest matures after 100: {u}"
        );
    }
    // Genesis outputs are exempt from maturity.
    let params = rumor_chain::Params::new(rumor_chain::Network::Regtest);
    let faucet = params.faucet_key(0).address().encode(params.network);
    let list = node.ok("listunspent", json!([faucet, 1]));
    let first = &list.as_array().expect("array")[0];
    assert_eq!(first["spendable"], json!(true), "{first}");
}

/// The status line comes at its configured interval, at the default log
/// level, and says what the node's state is (here: height 2, an empty
/// mempool, no peers).
#[test]
fn the_status_line_reports_the_tip_at_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(
        rumord(),
        &dir.path().join("a"),
        &["--status-interval-secs", "1"],
    );
    a.ok("generatetoaddress", json!([2, support::burn_address()]));
    let at_two = |text: &str| {
        text.lines()
            .filter(|l| l.contains(" status height=2 "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // Two lines at height 2: the line repeats, it is not a one-off.
    wait_until(
        Duration::from_secs(30),
        "two status lines at height 2",
        || at_two(&a.log_text()).len() >= 2,
    );
    let line = at_two(&a.log_text()).remove(0);
    for field in ["mempool_txs=0", "orphans=0", "peers=0", "refused_busy=0"] {
        assert!(line.contains(field), "{field} in {line}");
    }
}

#[test]
fn crash_restart_keeps_the_tip_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(rumord(), &dir.path().join("a"), &[]);
    let b_dir = dir.path().join("b");
    let b_args = ["--bootnode", &a.bootnode()].map(str::to_owned);
    let mut b = start(
        rumord(),
        &b_dir,
        &b_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let b_peer = b.peer_id.clone();
    let to = support::burn_address();
    a.ok("generatetoaddress", json!([5, to]));
    wait_until(Duration::from_secs(30), "b at height 5", || b.height() == 5);
    let tip5 = b.best();
    // An operator sees peers come and go and new tips at the default level.
    assert!(a.log_text().contains("peer up"), "{}", a.log_text());
    assert!(b.log_text().contains("new tip"), "{}", b.log_text());

    b.kill9();
    wait_until(Duration::from_secs(30), "a logs b going", || {
        a.log_text().contains("peer down")
    });
    a.ok("generatetoaddress", json!([3, to]));
    assert_eq!(a.height(), 8);

    let b2 = start(
        rumord(),
        &b_dir,
        &b_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(b2.peer_id, b_peer, "the node key persists");
    let h = b2.height();
    assert!(h >= 5, "tip lost after kill -9: height {h}");
    let hash5 = b2.ok("getblockhash", json!([5]));
    assert_eq!(hash5.as_str(), Some(tip5.as_str()));
    wait_until(Duration::from_secs(30), "b catches up", || {
        b2.height() == 8 && b2.best() == a.best()
    });
    // A graceful stop exits 0 and removes the cookie.
    let mut b2 = b2;
    let status = b2.terminate();
    assert!(status.success(), "SIGTERM exit: {status}");
    assert!(!b_dir.join(".cookie").exists());
    drop(b);
}

#[test]
fn corrupt_foreign_or_locked_datadirs_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let mut node = start(rumord(), &d, &[]);
    // The base arguments with some flags' values replaced.
    let args = |replace: &[&str]| {
        let mut a = support::base_args(&d);
        for pair in replace.chunks(2) {
            let i = a
                .iter()
                .position(|x| x == pair[0])
                .expect("flag in base args");
            a[i + 1] = pair[1].to_owned();
        }
        a
    };
    // Locked by the running node.
    let (status, log) = run_to_exit(rumord(), &args(&[]), Duration::from_secs(20));
    assert!(!status.success());
    assert!(log.contains("in use by another running rumord"), "{log}");
    assert_eq!(node.height(), 0, "the first node still serves");
    assert!(node.terminate().success());

    // Another network.
    let db = d.join("chain.redb");
    let (status, log) = run_to_exit(
        rumord(),
        &args(&["--network", "testnet"]),
        Duration::from_secs(20),
    );
    assert!(!status.success());
    assert!(log.contains("belongs to network `regtest`"), "{log}");
    // Another genesis of the same network.
    let (status, log) = run_to_exit(
        rumord(),
        &args(&["--genesis-outputs", "201"]),
        Duration::from_secs(20),
    );
    assert!(!status.success());
    assert!(log.contains("genesis"), "{log}");
    // Still a good regtest datadir.
    let again = start(rumord(), &d, &[]);
    drop(again);

    // A corrupt database is refused and left as it is.
    std::fs::write(&db, vec![0x5a; 64 * 1024]).unwrap();
    let (status, log) = run_to_exit(rumord(), &args(&[]), Duration::from_secs(20));
    assert!(!status.success());
    assert!(log.contains("corrupt"), "{log}");
    assert!(
        std::fs::read(&db).unwrap() == vec![0x5a; 64 * 1024],
        "database file changed"
    );

    // A corrupt node key too.
    let d2 = dir.path().join("d2");
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::write(d2.join("node_key"), "not hex").unwrap();
    let mut a2 = support::base_args(&d2);
    a2.push("--log-format".into());
    a2.push("json".into());
    let (status, log) = run_to_exit(rumord(), &a2, Duration::from_secs(20));
    assert!(!status.success());
    assert!(log.contains("node_key"), "{log}");
    assert_eq!(
        std::fs::read_to_string(d2.join("node_key")).unwrap(),
        "not hex"
    );
}

/// A second node on a p2p port in use is refused at start, naming the
/// port (libp2p's listeners set `SO_REUSEPORT`: both used to listen).
#[test]
fn a_p2p_port_in_use_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(rumord(), &dir.path().join("a"), &[]);
    let taken = a.listen[0].clone();
    let port = taken.rsplit('/').next().unwrap().to_owned();
    let mut args = support::base_args(&dir.path().join("b"));
    let i = args.iter().position(|x| x == "--listen").unwrap();
    args[i + 1] = taken;
    let (status, log) = run_to_exit(rumord(), &args, Duration::from_secs(20));
    assert!(!status.success());
    assert!(
        log.contains(&format!("port {port} is in use by another process")),
        "{log}"
    );
    assert_eq!(a.peers(), 0, "nothing took the first node's connections");
    assert_eq!(a.height(), 0, "the first node still serves");
}

#[test]
fn config_precedence_metrics_and_peer_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("c");
    std::fs::create_dir_all(&d).unwrap();
    // The file says testnet and a relay mode; the environment says push; the
    // flags (base args) say regtest.
    std::fs::write(
        d.join("rumord.toml"),
        "network = \"testnet\"\nrelay = \"announce\"\nseen-capacity = 1234\n",
    )
    .unwrap();
    let seed = "11".repeat(32);
    let mut args = support::base_args(&d);
    args.extend(
        [
            "--metrics",
            "127.0.0.1:0",
            "--node-key",
            &seed,
            "--log-format",
            "text",
        ]
        .map(str::to_owned),
    );
    let log = d.with_extension("log");
    let file = std::fs::File::create(&log).unwrap();
    let child = std::process::Command::new(rumord())
        .args(&args)
        .env("RUMOR_RELAY", "push")
        .env("RUMOR_NETWORK", "testnet")
        .stderr(file)
        .spawn()
        .unwrap();
    let mut node = Node {
        child: Some(child),
        datadir: d.clone(),
        log: log.clone(),
        rpc: "127.0.0.1:1".parse().unwrap(),
        listen: vec![],
        peer_id: String::new(),
    };
    wait_until(Duration::from_secs(30), "rpc listening", || {
        node.log_text().contains("metrics listening")
    });
    let text = node.log_text();
    let rpc = text
        .lines()
        .find(|l| l.contains("rpc listening"))
        .and_then(|l| l.split("addr=").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    node.rpc = rpc.parse().unwrap();
    let info = node.ok("getblockchaininfo", json!([]));
    assert_eq!(info["chain"], "regtest", "flag beats env and file");
    let net = node.ok("getnetworkinfo", json!([]));
    assert_eq!(net["relay"], "push", "env beats file");
    let stats = node.ok("getrelaystats", json!([]));
    assert_eq!(stats["seen"]["capacity"], 1234, "file fills the rest");
    assert!(text.contains("effective configuration"));

    // peer-id derives the same PeerId as the running node.
    let out = std::process::Command::new(rumord())
        .args(["peer-id", "--node-key", &seed])
        .output()
        .unwrap();
    let derived = String::from_utf8(out.stdout).unwrap();
    assert_eq!(derived.trim(), net["peer_id"].as_str().unwrap());

    // Memory: resident size, and jemalloc's counts in their order.
    let mem = node.ok("getmemoryinfo", json!([]));
    let field = |k: &str| {
        mem["stats"][k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {mem}"))
    };
    let rss = mem["rss"].as_u64().unwrap();
    assert_eq!(mem["allocator"], "jemalloc", "{mem}");
    assert!(field("allocated") > 1 << 20, "{mem}");
    assert!(field("allocated") <= field("active"), "{mem}");
    assert!(field("active") <= field("resident"), "{mem}");
    assert!(mem["rss_peak"].as_u64().unwrap() >= rss, "{mem}");

    // Metrics: the node's and libp2p's.
    node.ok("generatetoaddress", json!([1, support::burn_address()]));
    let maddr: std::net::SocketAddr = text
        .lines()
        .find(|l| l.contains("metrics listening"))
        .and_then(|l| l.split("addr=").nth(1))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(maddr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    for name in [
        "rumor_tip_height",
        "rumor_mempool_txs",
        "rumor_mempool_bytes",
        "rumor_peers",
        "rumor_mesh_peers",
        "rumor_seen_set_size",
        "rumor_duplicate_bodies_total",
        "rumor_validation_seconds",
        "process_resident_memory_bytes",
        "rumor_allocator_bytes{kind=\"allocated\"}",
        "libp2p_",
        "# EOF",
    ] {
        assert!(body.contains(name), "metrics lack {name}:\n{body}");
    }
    assert!(node.terminate().success());
}

#[test]
fn mine_flag_mines_at_the_interval_to_the_given_address() {
    let dir = tempfile::tempdir().unwrap();
    let to = support::burn_address();
    let node = start(
        rumord(),
        &dir.path().join("m"),
        &[
            "--mine",
            "--block-interval-ms",
            "200",
            "--mine-address",
            &to,
        ],
    );
    wait_until(Duration::from_secs(30), "three mined blocks", || {
        node.height() >= 3
    });
    let bal = node.ok("getbalance", json!([to]));
    assert!(bal["utxos"].as_u64().unwrap() >= 3, "{bal}");
    let coinbase = node.ok("getblock", json!([node.best(), 2]))["tx"][0].clone();
    assert_eq!(coinbase["vout"][0]["address"], json!(to));
}

/// `sendrawtransactions`: one answer per transaction, in order, with
/// `sendrawtransaction`'s codes; what it accepts is in the mempool.
#[test]
fn sendrawtransactions_answers_each_transaction_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let params = support::params();
    let genesis = params.genesis_block().txs[0].txid();
    let amount = params.genesis_output_amount.units();
    let spend = |i: u32, fee: u64| {
        let prev = rumor_chain::OutPoint::new(genesis, i);
        support::faucet_spend(&params, prev, i, amount, fee)
    };
    let a = spend(0, 1_000);
    let b = spend(1, 1_000);
    // Spends what `a` spends: a conflict once `a` is in.
    let conflict = spend(0, 2_000);
    let hexes: Vec<String> = [&a, &b, &a, &conflict]
        .iter()
        .map(|t| hex::encode(t.encode()))
        .chain(["zz".to_owned()])
        .collect();
    let r = node.ok("sendrawtransactions", json!([hexes]));
    let r = r.as_array().expect("an array");
    assert_eq!(r.len(), 5, "{r:?}");
    assert_eq!(r[0]["txid"], json!(a.txid().to_string()), "{r:?}");
    assert!(r[0].get("error").is_none(), "{r:?}");
    assert_eq!(r[1]["txid"], json!(b.txid().to_string()), "{r:?}");
    // The same transaction again: already in the mempool, answered as accepted.
    assert_eq!(r[2]["txid"], json!(a.txid().to_string()), "{r:?}");
    assert!(r[2].get("error").is_none(), "{r:?}");
    assert_eq!(r[3]["txid"], json!(conflict.txid().to_string()), "{r:?}");
    assert_eq!(r[3]["error"]["code"], json!(-26), "{r:?}");
    assert_eq!(r[4]["error"]["code"], json!(-22), "{r:?}");
    let mut pool = node.mempool();
    pool.sort();
    let mut want = vec![a.txid().to_string(), b.txid().to_string()];
    want.sort();
    assert_eq!(pool, want);
    // More than a call may carry: refused as a whole, nothing queued.
    let too_many = vec!["00"; 4_097];
    assert_eq!(
        node.call("sendrawtransactions", json!([too_many]))
            .unwrap_err()
            .0,
        -32602
    );
    assert_eq!(node.mempool().len(), 2);
}
