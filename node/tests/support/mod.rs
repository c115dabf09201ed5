//! Multi-process test support: start real `rumord` processes on 127.0.0.1
//! (ports chosen by the OS), read their addresses from their logs, call
//! their RPC over plain HTTP, and kill them when the test ends (also on
//! failure: [`Node`] kills its process on drop).
//!
//! Also included by the CLI's tests (`#[path]`), which pass the `rumord` path.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// Arguments every test node gets: regtest, a small genesis, loopback, fast timers.
pub fn base_args(datadir: &Path) -> Vec<String> {
    [
        "--datadir",
        datadir.to_str().expect("utf-8 path"),
        "--network",
        "regtest",
        "--genesis-outputs",
        "200",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--rpc-bind",
        "127.0.0.1:0",
        "--no-discovery",
        "--heartbeat-ms",
        "100",
        "--sync-interval-ms",
        "300",
        "--fetch-timeout-ms",
        "800",
        "--mesh-d",
        "2",
        "--mesh-d-low",
        "1",
        "--mesh-d-high",
        "4",
        "--mesh-d-lazy",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A running `rumord`.
pub struct Node {
    pub child: Option<Child>,
    pub datadir: PathBuf,
    pub log: PathBuf,
    pub rpc: SocketAddr,
    pub listen: Vec<String>,
    pub peer_id: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `rumord` with `args` (stderr to `log`), without waiting.
pub fn spawn(bin: &Path, args: &[String], log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    Command::new(bin)
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("RUMOR_DATADIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn rumord")
}

/// Runs `rumord` to completion (for start-up failures), with a deadline.
pub fn run_to_exit(bin: &Path, args: &[String], timeout: Duration) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("out.log");
    let mut child = spawn(bin, args, &log);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status, std::fs::read_to_string(&log).unwrap_or_default());
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "rumord did not exit within {timeout:?}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    Some(rest.split_whitespace().next().unwrap_or(rest))
}

/// Starts a node and waits until its RPC and p2p addresses are logged.
pub fn start(bin: &Path, datadir: &Path, extra: &[&str]) -> Node {
    let mut args = base_args(datadir);
    args.extend(extra.iter().map(|s| s.to_string()));
    start_with(bin, datadir, &args)
}

/// Starts a node with exactly `args`.
pub fn start_with(bin: &Path, datadir: &Path, args: &[String]) -> Node {
    let log = datadir.with_extension("log");
    let mut child = spawn(bin, args, &log);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let rpc = text
            .lines()
            .find(|l| l.contains("rpc listening"))
            .and_then(|l| field(l, "addr="))
            .and_then(|a| a.parse().ok());
        let p2p = text.lines().find(|l| l.contains("p2p listening"));
        if let (Some(rpc), Some(p2p)) = (rpc, p2p) {
            let addrs = p2p
                .split("addrs=[")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .unwrap_or("");
            let listen = addrs
                .split(',')
                .map(|a| a.trim().trim_matches('"').to_owned())
                .filter(|a| !a.is_empty())
                .collect();
            let peer_id = field(p2p, "peer_id=").unwrap_or("").to_owned();
            return Node {
                child: Some(child),
                datadir: datadir.to_owned(),
                log,
                rpc,
                listen,
                peer_id,
            };
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("rumord exited early ({status}); log:\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rumord did not become ready; log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Node {
    /// This node's p2p address with its PeerId, for `--bootnode`.
    pub fn bootnode(&self) -> String {
        format!("{}/p2p/{}", self.listen[0], self.peer_id)
    }

    /// The RPC credential from the cookie.
    pub fn cookie(&self) -> (String, String) {
        let text = std::fs::read_to_string(self.datadir.join(".cookie")).expect("cookie");
        let (u, p) = text.trim().split_once(':').expect("user:password");
        (u.to_owned(), p.to_owned())
    }

    /// A JSON-RPC call; `Err((code, message))` for an error response.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        let (u, p) = self.cookie();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, text) = http_post(self.rpc, Some((&u, &p)), body.to_string().as_bytes());
        assert_eq!(status, 200, "{method}: HTTP {status}: {text}");
        let v: Value = serde_json::from_str(&text).expect("JSON response");
        match v.get("error") {
            Some(e) => Err((
                e["code"].as_i64().unwrap_or(0),
                e["message"].as_str().unwrap_or("").to_owned(),
            )),
            None => Ok(v["result"].clone()),
        }
    }

    /// A call without parameters that fails, rather than panics, if the
    /// node is gone or answers with an error.
    pub fn call_quiet(&self, method: &str) -> Result<Value, String> {
        let (u, p) = std::fs::read_to_string(self.datadir.join(".cookie"))
            .ok()
            .and_then(|t| {
                t.trim()
                    .split_once(':')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
            })
            .ok_or("no cookie")?;
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []});
        let (status, text) = try_http_post(self.rpc, Some((&u, &p)), body.to_string().as_bytes())?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match v.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(v["result"].clone()),
        }
    }

    /// A call that must succeed.
    pub fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .unwrap_or_else(|e| panic!("{method} failed: {e:?}"))
    }

    pub fn height(&self) -> u64 {
        self.ok("getblockchaininfo", json!([]))["blocks"]
            .as_u64()
            .expect("height")
    }

    pub fn best(&self) -> String {
        self.ok("getbestblockhash", json!([]))
            .as_str()
            .expect("hash")
            .to_owned()
    }

    pub fn mempool(&self) -> Vec<String> {
        serde_json::from_value(self.ok("getrawmempool", json!([]))).expect("txids")
    }

    pub fn peers(&self) -> usize {
        self.ok("getpeerinfo", json!([]))
            .as_array()
            .map_or(0, Vec::len)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, and wait.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = c.try_wait().expect("try_wait") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("rumord did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// POSTs `body` over HTTP/1.1; returns the status and the body.
pub fn http_post(addr: SocketAddr, auth: Option<(&str, &str)>, body: &[u8]) -> (u16, String) {
    try_http_post(addr, auth, body).unwrap_or_else(|e| panic!("POST to {addr}: {e}"))
}

/// As [`http_post`], but a node that cannot be reached is an error.
pub fn try_http_post(
    addr: SocketAddr,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> Result<(u16, String), String> {
    try_http_post_as(addr, "application/json", auth, body)
}

/// As [`try_http_post`], with another `Content-Type`.
pub fn try_http_post_as(
    addr: SocketAddr,
    content_type: &str,
    auth: Option<(&str, &str)>,
    body: &[u8],
) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some((u, p)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    // The server may answer (413) and close before reading a huge body:
    // write from another thread while this one reads the answer.
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&body);
    });
    let mut raw = Vec::new();
    // Bytes read before an error (a reset after the answer) are kept.
    let _ = s.read_to_end(&mut raw);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
    let (headers, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `cond` every 100 ms; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    wait_until_or(timeout, cond, || {
        format!("timed out after {timeout:?} waiting for {what}")
    });
}

/// [`wait_until`], panicking with what `explain` says (asked only then, so
/// it can gather the state a failure needs).
pub fn wait_until_or(
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= timeout {
            panic!("{}", explain());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A regtest address nobody holds a key for (from a fixed seed).
pub fn burn_address() -> String {
    rumor_chain::KeyPair::from_seed([9; 32])
        .address()
        .encode(rumor_chain::Network::Regtest)
}

/// The network of [`base_args`]: regtest with 200 genesis outputs.
pub fn params() -> rumor_chain::Params {
    rumor_chain::Params::new(rumor_chain::Network::Regtest)
        .with_genesis_outputs(200)
        .expect("valid genesis")
}

/// A signed transaction spending `prev` (worth `value`, paid to faucet key
/// `key`) back to that key's address, paying `fee`.
pub fn faucet_spend(
    params: &rumor_chain::Params,
    prev: rumor_chain::OutPoint,
    key: u32,
    value: u64,
    fee: u64,
) -> rumor_chain::Transaction {
    let key = params.faucet_key(key);
    let mut tx = rumor_chain::Transaction {
        version: 1,
        inputs: vec![rumor_chain::TxIn::unsigned(prev, key.public())],
        outputs: vec![rumor_chain::TxOut {
            amount: rumor_chain::Amount::new(value - fee).expect("an amount"),
            address: key.address(),
        }],
    };
    tx.sign(&[&key]).expect("the key signs its input");
    tx
}
