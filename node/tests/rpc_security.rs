//! RPC security through the real binary: the default bind is loopback only;
//! no method (and no batch) works without the credential, whichever way it
//! is wrong; the cookie is mode 0600, new at every start and gone after a
//! clean stop; configured credentials replace the cookie; request bodies and
//! batches are size-limited. (Malformed requests with the right credential
//! are covered in `node.rs`.)
//! `RUMOR_RELIABILITY_OUT=DIR` writes the outcome to `DIR/rpc.json`.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{base_args, http_post, start, start_with, wait_until};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

fn write_result(key: &str, value: Value) {
    let Some(dir) = std::env::var_os("RUMOR_RELIABILITY_OUT") else {
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("results dir");
    let path = dir.join("rpc.json");
    let lock = std::fs::File::create(dir.join("rpc.json.lock")).expect("lock");
    lock.lock().expect("lock");
    let mut all: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    all[key] = value;
    std::fs::write(&path, serde_json::to_string_pretty(&all).expect("json")).expect("write");
}

fn call_body(method: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).to_string()
}

#[test]
fn no_method_or_batch_works_without_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let (user, pass) = node.cookie();
    let mut methods: Vec<String> =
        serde_json::from_value(node.ok("help", json!([]))).expect("method names");
    methods.sort();
    assert!(methods.len() >= 20, "{methods:?}");
    let wrong: [(&str, Option<(&str, &str)>); 5] = [
        ("none", None),
        ("wrong password", Some((&user, "wrong"))),
        ("wrong user", Some(("root", &pass))),
        ("empty", Some(("", ""))),
        ("password only", Some((&pass, ""))),
    ];
    let mut refused = 0;
    for m in &methods {
        for (what, auth) in &wrong {
            let (status, text) = http_post(node.rpc, *auth, call_body(m).as_bytes());
            assert_eq!(status, 401, "{m} with {what} credential: {status} {text}");
            assert!(!text.contains("\"result\""), "{m}: {text}");
            refused += 1;
        }
    }
    // Other schemes and malformed headers.
    let body = call_body("getblockchaininfo");
    for header in [
        format!("Bearer {pass}"),
        "Basic".to_owned(),
        "Basic !!!notbase64".to_owned(),
        format!("Basic {}", "A".repeat(10_000)),
    ] {
        let status = raw_post(node.rpc, &header, body.as_bytes());
        assert_eq!(status, 401, "Authorization: {header:.40}");
        refused += 1;
    }
    // A batch without the credential, and one with the credential first.
    let batch = format!("[{},{}]", call_body("getblockcount"), call_body("stop"));
    assert_eq!(http_post(node.rpc, None, batch.as_bytes()).0, 401);
    // `stop` without the credential did not stop anything.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(node.height(), 0);
    // An unauthenticated huge body is refused without being read.
    let big = vec![b' '; 40 * 1024 * 1024];
    let t = Instant::now();
    assert_eq!(http_post(node.rpc, None, &big).0, 401);
    let unauth_big_ms = t.elapsed().as_millis();
    // The right credential works.
    let (status, _) = http_post(node.rpc, Some((&user, &pass)), body.as_bytes());
    assert_eq!(status, 200);
    write_result(
        "credential",
        json!({
            "methods": methods.len(),
            "refused_requests": refused + 2,
            "ways_wrong": wrong.len() + 4,
            "unauthenticated_40MiB_answered_ms": unauth_big_ms,
        }),
    );
}

/// A POST with a raw `Authorization` header.
fn raw_post(addr: SocketAddr, authorization: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn cookie_is_private_new_at_every_start_and_removed_at_stop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("c");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut node = start(rumord(), &d, &[]);
        let cookie = d.join(".cookie");
        let mode = std::fs::metadata(&cookie).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "cookie mode {mode:o}");
        let (user, pass) = node.cookie();
        assert_eq!(user, "__cookie__");
        assert_eq!(pass.len(), 64);
        assert!(!seen.contains(&pass), "a cookie was reused");
        // Old cookies no longer work.
        for old in &seen {
            let (status, _) = http_post(
                node.rpc,
                Some((&user, old)),
                call_body("getblockcount").as_bytes(),
            );
            assert_eq!(status, 401);
        }
        seen.push(pass);
        assert!(node.terminate().success());
        assert!(!cookie.exists(), "cookie left after a clean stop");
    }
    // A stale cookie from a crash is replaced, not reused.
    std::fs::write(d.join(".cookie"), "__cookie__:stale").unwrap();
    let node = start(rumord(), &d, &[]);
    assert_ne!(node.cookie().1, "stale");
    // Configured credentials: no cookie is written, and it is not accepted.
    drop(node);
    let _ = std::fs::remove_file(d.join(".cookie"));
    let mut args = base_args(&d);
    args.extend(["--rpc-user", "alice", "--rpc-password", "s3cret"].map(str::to_owned));
    let node = start_with(rumord(), &d, &args);
    assert!(
        !d.join(".cookie").exists(),
        "cookie written with --rpc-user"
    );
    let body = call_body("getblockcount");
    assert_eq!(
        http_post(node.rpc, Some(("alice", "s3cret")), body.as_bytes()).0,
        200
    );
    assert_eq!(
        http_post(node.rpc, Some(("__cookie__", &seen[0])), body.as_bytes()).0,
        401
    );
    write_result(
        "cookie",
        json!({ "starts": 4, "mode": "0600", "distinct": true, "removed_at_stop": true }),
    );
}

#[test]
fn request_body_and_batch_sizes_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(rumord(), &dir.path().join("n"), &[]);
    let (u, p) = node.cookie();
    let auth = Some((u.as_str(), p.as_str()));
    // A batch at the limit is answered call by call.
    let one = call_body("getblockcount");
    let batch = |n: usize| format!("[{}]", vec![one.as_str(); n].join(","));
    let (status, text) = http_post(node.rpc, auth, batch(10_000).as_bytes());
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(10_000));
    // One more is refused as a whole.
    let (status, text) = http_post(node.rpc, auth, batch(10_001).as_bytes());
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let refused = v["error"]["code"].as_i64();
    assert!(
        status == 200 && refused.is_some() && v.as_array().is_none(),
        "batch over the limit: {status} {text:.200}"
    );
    // A body over 32 MiB is refused.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[],"pad":"{}"}}"#,
        "x".repeat(33 * 1024 * 1024)
    );
    let (status, text) = http_post(node.rpc, auth, big.as_bytes());
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"]["code"].as_i64());
    assert!(
        status == 413 || code == Some(-32007),
        "{status} {text:.200}"
    );
    assert_eq!(node.height(), 0, "still serving");
    write_result(
        "limits",
        json!({
            "batch_10000": "answered",
            "batch_10001": format!("refused ({})", refused.unwrap_or(0)),
            "body_33MiB": format!("refused ({})", if status == 413 { 413 } else { code.unwrap_or(0) }),
        }),
    );
}

#[test]
fn rpc_and_p2p_bind_to_loopback_by_default() {
    // The resolved defaults.
    let cfg = rumor_node::Settings::default()
        .with_datadir(Path::new("/tmp/unused"))
        .resolve()
        .unwrap();
    assert!(cfg.rpc_bind.ip().is_loopback(), "{}", cfg.rpc_bind);
    assert_eq!(
        cfg.rpc_bind,
        rumor_node::default_rpc_bind(rumor_chain::Network::Testnet)
    );
    for a in &cfg.p2p.listen {
        assert!(a.to_string().starts_with("/ip4/127.0.0.1/"), "{a}");
    }
    // The real process (regtest), without --rpc-bind, if the default port is free here.
    let default: SocketAddr = rumor_node::default_rpc_bind(rumor_chain::Network::Regtest);
    let free = TcpListener::bind(default).map(drop).is_ok();
    let process_checked = if free {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("n");
        let args: Vec<String> = base_args(&d)
            .chunks(2)
            .filter(|kv| kv[0] != "--rpc-bind")
            .flatten()
            .cloned()
            .collect();
        let node = start_with(rumord(), &d, &args);
        assert_eq!(node.rpc, default);
        wait_until(Duration::from_secs(10), "answers", || node.height() == 0);
        // Bound to 127.0.0.1 only, not to every address (0.0.0.0 would
        // answer on 127.0.0.2 too).
        assert!(
            std::net::TcpStream::connect(("127.0.0.2", default.port())).is_err(),
            "the RPC port answers beyond 127.0.0.1"
        );
        true
    } else {
        eprintln!("note: {default} is in use here; checked the resolved default only");
        false
    };
    write_result(
        "bind",
        json!({
            "default": default.to_string(),
            "process_checked": process_checked,
        }),
    );
}
