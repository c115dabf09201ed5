//! What a bitcoind user expects of `rumord`, through the real binary:
//! `rumord --help` shows the flags; the RPC answers Bitcoin Core's
//! documented curl line (JSON-RPC 1.0, `text/plain`) as bitcoind would;
//! `help <method>` explains a method; every method is documented in
//! `docs/rpc.md`, which is generated and current; `time` fields are
//! seconds; without `--datadir` each network has its own data directory.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{start, try_http_post_as, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

#[test]
fn rumord_help_shows_the_flags() {
    let out = Command::new(rumord()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--datadir",
        "--network",
        "--rpc-bind",
        "--listen",
        "--bootnode",
        "--mine",
        "health",
        "verify",
    ] {
        assert!(text.contains(flag), "`rumord --help` lacks {flag}:\n{text}");
    }
    assert!(text.contains("RUMOR_RPC_BIND"), "{text}");
    // `rumord run --help` still works, and a flag after `run` too.
    let out = Command::new(rumord())
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--rpc-bind"));
}

/// POSTs `body` with `content_type` and the node's cookie.
fn post(node: &support::Node, content_type: &str, body: &str) -> (u16, Value) {
    let (u, p) = node.cookie();
    let (status, text) =
        try_http_post_as(node.rpc, content_type, Some((&u, &p)), body.as_bytes()).unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, v)
}

#[test]
fn bitcoin_cores_curl_line_works() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    // Bitcoin Core's documented example, byte for byte but the method.
    let (status, v) = post(
        &node,
        "text/plain;",
        r#"{"jsonrpc": "1.0", "id": "curltest", "method": "getblockchaininfo", "params": []}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], "curltest");
    assert_eq!(
        v["error"],
        Value::Null,
        "a 1.0 answer carries both keys: {v}"
    );
    assert_eq!(v["result"]["chain"], "regtest");
    assert!(v.get("jsonrpc").is_none(), "{v}");
    // Errors answer as bitcoind answers 1.0: HTTP 500 (404 for no such method).
    let (status, v) = post(
        &node,
        "text/plain",
        r#"{"jsonrpc": "1.0", "id": 7, "method": "getblock", "params": ["00"]}"#,
    );
    assert_eq!(status, 500, "{v}");
    assert_eq!(v["result"], Value::Null);
    assert_eq!(v["error"]["code"], -8);
    assert_eq!(v["id"], 7);
    let (status, v) = post(
        &node,
        "text/plain",
        r#"{"jsonrpc": "1.0", "id": 8, "method": "nosuchmethod", "params": []}"#,
    );
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], -32601);
    // No `jsonrpc` at all is 1.0 too; a 1.0 batch answers each in 1.0 form.
    let (status, v) = post(
        &node,
        "application/json",
        r#"[{"id": 1, "method": "getblockcount"}, {"id": 2, "method": "getbestblockhash"}]"#,
    );
    assert_eq!(status, 200);
    assert_eq!(v[0]["result"], 0);
    assert_eq!(v[1]["error"], Value::Null);
    // 2.0 over text/plain answers in 2.0.
    let (status, v) = post(
        &node,
        "text/plain",
        r#"{"jsonrpc": "2.0", "id": 3, "method": "getblockcount", "params": []}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["result"], 0);
    assert!(v.get("error").is_none());
}

#[test]
fn help_explains_a_method_and_every_method_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let usage = node.ok("help", json!(["getblock"]));
    let usage = usage.as_str().expect("usage text");
    assert!(
        usage.starts_with("getblock \"blockhash\" ( verbosity )"),
        "{usage}"
    );
    assert!(usage.contains("Arguments:") && usage.contains("Result:"));
    let e = node.call("help", json!(["nosuch"])).unwrap_err();
    assert_eq!(e.0, -1);
    assert!(e.1.contains("unknown command"), "{e:?}");

    // Every registered method has documentation, and no documentation
    // names a method that does not exist.
    let registered: Vec<String> = serde_json::from_value(node.ok("help", json!([]))).unwrap();
    let documented: Vec<&str> = rumor_node::rpc::METHODS.iter().map(|m| m.name).collect();
    for name in &registered {
        assert!(
            rumor_node::rpc::method_doc(name).is_some(),
            "`{name}` is registered but not documented in node/src/rpc/help.rs"
        );
    }
    for name in &documented {
        assert!(
            registered.iter().any(|r| r == name),
            "`{name}` is documented but not registered"
        );
    }
    // The documented parameter names are the ones the method parses: every
    // one given by name (as null, so nothing happens) is known to it.
    for m in rumor_node::rpc::METHODS
        .iter()
        .filter(|m| !m.params.is_empty())
    {
        let named: serde_json::Map<String, Value> = m
            .params
            .iter()
            .map(|p| (p.name.to_owned(), Value::Null))
            .collect();
        if let Err((_, message)) = node.call(m.name, Value::Object(named)) {
            assert!(
                !message.contains("unknown parameter"),
                "{}: {message}",
                m.name
            );
        }
    }

    // docs/rpc.md is the generated reference.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rpc.md");
    let want = rumor_node::rpc::markdown();
    if std::env::var_os("RUMOR_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rpc.md is stale: run `RUMOR_UPDATE_DOCS=1 cargo test -p rumor-node --test bitcoind_habits`"
    );
    for m in rumor_node::rpc::METHODS {
        assert!(have.contains(&format!("### {}\n", m.name)));
    }
}

#[test]
fn time_fields_are_seconds_with_ms_beside() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let miner = support::burn_address();
    let hash = node.ok("generatetoaddress", json!([1, miner]))[0].clone();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let info = node.ok("getblockchaininfo", json!([]));
    let block = node.ok("getblock", json!([hash, 1]));
    let header = node.ok("getblockheader", json!([hash]));
    for (what, v, time, ms) in [
        ("chain time", &info, "time", "time_ms"),
        ("median time", &info, "mediantime", "mediantime_ms"),
        ("block", &block, "time", "time_ms"),
        ("header", &header, "time", "time_ms"),
    ] {
        let t = v[time].as_u64().expect(time);
        let m = v[ms].as_u64().expect(ms);
        assert_eq!(t, m / 1000, "{what}: {v}");
        assert!(
            t <= now_s + 7200 && t > 1_700_000_000,
            "{what}: {t} is not Unix seconds"
        );
    }
}

#[test]
fn without_datadir_each_network_has_its_own() {
    let home = tempfile::tempdir().unwrap();
    let args: Vec<String> = support::base_args(Path::new("unused"))
        .chunks(2)
        .filter(|kv| kv[0] != "--datadir")
        .flatten()
        .cloned()
        .collect();
    let expected = home.path().join(".rumor").join("regtest");
    let mut child = Command::new(rumord())
        .args(&args)
        .env("HOME", home.path())
        .env_remove("RUMOR_DATADIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), "the regtest cookie", || {
        expected.join(".cookie").is_file()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(expected.join("chain.redb").is_file());
    assert!(!home.path().join(".rumor").join("testnet").exists());
    assert!(!home.path().join(".rumor").join("chain.redb").exists());

    // A config file in the testnet directory that says regtest is refused
    // (it would have chosen the other directory).
    let testnet_dir = home.path().join(".rumor").join("testnet");
    std::fs::create_dir_all(&testnet_dir).unwrap();
    std::fs::write(testnet_dir.join("rumord.toml"), "network = \"regtest\"\n").unwrap();
    let out = Command::new(rumord())
        .args([
            "--rpc-bind",
            "127.0.0.1:0",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ])
        .env("HOME", home.path())
        .env_remove("RUMOR_DATADIR")
        .env_remove("RUMOR_NETWORK")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sets network = \"regtest\""), "{err}");
}
