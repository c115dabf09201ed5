//! Crash safety through the real binary: a mining, relaying `rumord` is
//! killed with SIGKILL at random moments (also while it is still opening its
//! store) and restarted, many times. After every kill its store opens, its
//! UTXO set and indexes equal a replay of its best chain (`rumord verify`),
//! nothing it had reported as accepted is lost, and it rejoins its peer and
//! catches up with blocks mined while it was down.
//!
//! `RUMOR_CRASH_LOOPS` sets the number of kills (default 10, the CI run; the
//! long run uses 50 or more). `RUMOR_CRASH_SEED` replays a run.
//! `RUMOR_RELIABILITY_OUT=DIR` writes the outcome to `DIR/crash.json` for
//! `docs/reliability.md`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rumor_chain::{OutPoint, Params, Transaction};
use serde_json::{Value, json};
use support::{Node, base_args, params, spawn, start, start_with, wait_until, wait_until_or};

fn rumord() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumord"))
}

/// Faucet coins that move from transaction to transaction: coin `i` is
/// spent back to faucet key `i` with a fee, again and again.
struct Wallet {
    params: Params,
    coins: Vec<(OutPoint, u64)>,
    next: usize,
}

impl Wallet {
    fn new(n: u32) -> Self {
        let params = params();
        let genesis = params.genesis_block().txs[0].txid();
        let amount = params.genesis_output_amount.units();
        Self {
            coins: (0..n)
                .map(|i| (OutPoint::new(genesis, i), amount))
                .collect(),
            params,
            next: 0,
        }
    }

    /// The next transaction (spending the next coin), and what it makes.
    fn tx(&mut self) -> (usize, Transaction) {
        let i = self.next % self.coins.len();
        self.next += 1;
        let (prev, value) = self.coins[i];
        (
            i,
            support::faucet_spend(&self.params, prev, i as u32, value, 1_000),
        )
    }

    /// Submits the next transaction to `node`; the coin moves only if accepted.
    fn send(&mut self, node: &Node) -> bool {
        let (i, tx) = self.tx();
        let hex = hex::encode(tx.encode());
        match node.call("sendrawtransaction", json!([hex])) {
            Ok(_) => {
                self.coins[i] = (OutPoint::new(tx.txid(), 0), self.coins[i].1 - 1_000);
                true
            }
            // Refused (its parent was in a mempool lost in a crash, or not
            // relayed yet): this coin is tried again on the next lap.
            Err(_) => false,
        }
    }
}

/// `rumord verify` on a stopped node's datadir: the report, or the error text.
fn verify(datadir: &Path) -> Result<Value, String> {
    let mut args = base_args(datadir);
    args.insert(0, "verify".into());
    let out = Command::new(rumord())
        .args(&args)
        .env_remove("RUMOR_DATADIR")
        .output()
        .expect("run rumord verify");
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn write_result(name: &str, value: &Value) {
    if let Some(dir) = std::env::var_os("RUMOR_RELIABILITY_OUT") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).expect("results dir");
        std::fs::write(
            dir.join(name),
            serde_json::to_string_pretty(value).expect("json"),
        )
        .expect("write result");
    }
}

#[test]
fn kill_9_at_random_moments_never_loses_or_corrupts_state() {
    let loops: u32 = std::env::var("RUMOR_CRASH_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("RUMOR_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash loop: {loops} kills, RUMOR_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    // The peer: relays transactions, mines a block while the victim is down.
    let peer = start(rumord(), &dir.path().join("peer"), &[]);
    let v_dir = dir.path().join("victim");
    let mut v_args = base_args(&v_dir);
    v_args.extend(
        [
            "--bootnode",
            &peer.bootnode(),
            "--mine",
            "--block-interval-ms",
            "100",
            "--mine-address",
            &support::burn_address(),
        ]
        .map(str::to_owned),
    );
    let mut victim = start_with(rumord(), &v_dir, &v_args);
    let mut wallet = Wallet::new(150);

    let mut early_kills = 0u32;
    let mut max_height = 0u64;
    let mut txs_sent = 0u64;
    let mut reorgs_seen = 0u64;
    // Every `rumord verify` run and every failure, counted (a failure ends
    // the loop, is recorded, and then fails the test).
    let mut verifies = 0u64;
    let mut verify_failures: Vec<String> = Vec::new();
    let mut kills = 0u64;
    for round in 0..loops {
        // Run for a random while under load: transactions into the peer
        // (relayed to the victim) and into the victim itself.
        let run_for = Duration::from_millis(rng.random_range(150..1500));
        let until = Instant::now() + run_for;
        let mut accepted_height = 0;
        while Instant::now() < until {
            let target = if rng.random_bool(0.5) { &peer } else { &victim };
            if wallet.send(target) {
                txs_sent += 1;
            }
            if let Ok(info) = victim.call("getblockchaininfo", json!([])) {
                accepted_height = info["blocks"].as_u64().unwrap_or(0);
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(5..60)));
        }
        victim.kill9();
        kills += 1;

        // Offline check: the store opens and equals a replay of its chain.
        verifies += 1;
        let report = match verify(&v_dir) {
            Ok(r) => r,
            Err(e) => {
                verify_failures.push(format!(
                    "round {round} (seed {seed}): verify after kill -9 failed: {e}"
                ));
                break;
            }
        };
        let height = report["height"].as_u64().unwrap();
        assert!(
            height >= accepted_height,
            "round {round} (seed {seed}): height {height} after the crash, but {accepted_height} \
             was reported before it"
        );
        max_height = max_height.max(height);

        // While it is down the peer mines a chain with more work than the
        // victim's (the victim mines every 100 ms after its restart, so with
        // a margin): the victim must fetch it and reorganise onto it.
        let n = (height + 20).saturating_sub(peer.height());
        let mined = peer.ok("generatetoaddress", json!([n, support::burn_address()]));
        let peer_block = mined
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();

        // Sometimes kill it again while it is starting (store open, repair).
        if rng.random_bool(0.3) {
            let log = v_dir.with_extension("early.log");
            let mut child = spawn(rumord(), &v_args, &log);
            std::thread::sleep(Duration::from_millis(rng.random_range(0..120)));
            let _ = child.kill();
            let _ = child.wait();
            early_kills += 1;
            verifies += 1;
            if let Err(e) = verify(&v_dir) {
                verify_failures.push(format!(
                    "round {round} (seed {seed}): verify after an early kill failed: {e}"
                ));
                break;
            }
        }

        victim = start_with(rumord(), &v_dir, &v_args);
        wait_until(Duration::from_secs(30), "the victim reconnects", || {
            victim.peers() > 0
        });
        // Seen once in debug (seed 17544184584680244938; not in the 12 runs
        // after it, 3 of them of 30 kills), with the nodes' logs gone with
        // the temp directory: the panic carries what the next one needs.
        wait_until_or(
            Duration::from_secs(30),
            || victim.call("getblockheader", json!([peer_block])).is_ok(),
            || {
                format!(
                    "round {round} (seed {seed}): after 30 s the victim lacks the block mined \
                     while it was down\nvictim: {}\npeer: {}\nvictim log, last lines:\n{}",
                    relay_summary(&victim),
                    relay_summary(&peer),
                    log_tail(&v_dir.with_extension("log"), 40),
                )
            },
        );
        let info = victim.ok("getblock", json!([peer_block]));
        if info["confirmations"].as_i64() != Some(-1) {
            reorgs_seen += 1;
        }
    }
    if !verify_failures.is_empty() {
        write_result(
            "crash.json",
            &json!({
                "kills": kills,
                "early_kills": early_kills,
                "seed": seed,
                "txs_sent": txs_sent,
                "verifies": verifies,
                "verify_failures": verify_failures.len(),
                "failures": verify_failures,
            }),
        );
        panic!("{}", verify_failures.join("\n"));
    }
    // Finally: the victim's chain reached the peer and both agree.
    let v_best = victim.best();
    wait_until(
        Duration::from_secs(30),
        "the peer has the victim's tip",
        || peer.call("getblockheader", json!([v_best])).is_ok(),
    );
    let live = victim.ok("verifychain", json!([]));
    assert!(live["height"].as_u64().unwrap() >= max_height, "{live}");
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "crash loop ok: {loops} kills ({early_kills} during start-up), {txs_sent} txs, \
         final height {}, {elapsed:.1} s",
        live["height"]
    );
    write_result(
        "crash.json",
        &json!({
            "kills": kills,
            "early_kills": early_kills,
            "seed": seed,
            "txs_sent": txs_sent,
            "final_height": live["height"],
            "reorgs_onto_peer_chain": reorgs_seen,
            "verifies": verifies,
            "verify_failures": verify_failures.len(),
            "seconds": elapsed,
        }),
    );
}

/// A node's height, peers, penalties and bans, for a failure message.
fn relay_summary(node: &Node) -> String {
    let height = node.call("getblockcount", json!([])).ok();
    let peers = node.peers();
    match node.call("getrelaystats", json!([])) {
        Ok(s) => format!(
            "height {height:?}, {peers} peers, penalties {}, peers_banned {}",
            s["penalties"], s["counters"]["peers_banned"]
        ),
        Err(e) => format!("height {height:?}, {peers} peers, getrelaystats failed: {e:?}"),
    }
}

/// The last `n` lines of the log at `path`.
fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
