//! The attack result ([`AttackReport`]): its terminal table, its JSON, and
//! `docs/reliability.md`, which joins it with the other reliability results
//! (crash loop, disk failures, RPC security, property tests, fuzzing) as
//! those tests wrote them. Nothing in that file is written by hand.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::measure::{ClassResult, Latency};
use crate::testbed::report::{FLAT_MAX_GROWTH_PCT, FLAT_MIN_LIFETIME_S, NodeMemory, judge_flat};

/// The outcome of an attack run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttackReport {
    /// When it ran (UTC).
    pub date: String,
    /// The code version.
    pub version: String,
    /// Honest nodes around the target.
    #[serde(default)]
    pub honest: usize,
    /// Honest relay latency before any attack.
    pub clean: Latency,
    /// One row per class.
    pub classes: Vec<ClassResult>,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// The target still ran at the end.
    pub target_alive: bool,
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

impl AttackReport {
    /// A report of `classes`.
    pub fn new(
        honest: usize,
        clean: Latency,
        classes: Vec<ClassResult>,
        took: Duration,
        target_alive: bool,
    ) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            date: utc(now),
            version: crate::testbed::code_version(),
            honest,
            clean,
            classes,
            seconds: took.as_secs_f64(),
            target_alive,
        }
    }

    /// Whether every class passed and the target survived.
    pub fn all_pass(&self) -> bool {
        self.target_alive && self.classes.iter().all(|c| c.pass)
    }
}

fn counted(r: &ClassResult) -> String {
    let mut parts: Vec<String> = r
        .counted
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    for (k, v) in r.rejects.iter().chain(&r.refusals) {
        if !r.counted.contains_key(k) {
            parts.push(format!("{k} {v}"));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn attacker(r: &ClassResult) -> String {
    let score = r.min_score.map_or("-".to_owned(), |s| format!("{s:.0}"));
    match (r.expect.as_str(), r.disconnected_after_ms) {
        ("contain", _) if r.notes.is_empty() => "-".into(),
        ("contain", _) => r.notes.join("; "),
        (_, Some(ms)) => format!(
            "score {score}, disconnected after {:.1} s",
            ms as f64 / 1000.0
        ),
        (_, None) => format!("score {score}, kept"),
    }
}

/// The terminal table.
pub fn render_table(r: &AttackReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>6}  {:<4} {:<44} {:<36} {:>8}",
        "class", "sent", "ok", "counted", "attacker", "p50 ms"
    );
    for c in &r.classes {
        let _ = writeln!(
            out,
            "{:<22} {:>6}  {:<4} {:<44.44} {:<36.36} {:>8.1}",
            c.class,
            c.sent,
            if c.pass { "ok" } else { "FAIL" },
            counted(c),
            attacker(c),
            c.latency.p50_ms
        );
        for f in &c.failures {
            let _ = writeln!(out, "    ! {f}");
        }
    }
    let _ = writeln!(
        out,
        "clean honest relay p50 {:.1} ms; {} of {} classes passed; target {}; {:.0} s",
        r.clean.p50_ms,
        r.classes.iter().filter(|c| c.pass).count(),
        r.classes.len(),
        if r.target_alive { "alive" } else { "DEAD" },
        r.seconds
    );
    out
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace('|', "\\|"),
        Value::Null => "-".into(),
        Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

/// A section with one row per check of `v` (`{check: {field: value}}`).
fn render_checks(md: &mut String, title: &str, intro: &str, what: &str, v: &Value) {
    let _ = writeln!(md, "## {title}\n");
    let _ = writeln!(md, "{intro}\n");
    let _ = writeln!(md, "| {what} | what happened |");
    let _ = writeln!(md, "|---|---|");
    for (k, e) in v.as_object().into_iter().flatten() {
        let parts: Vec<String> = e
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kk, vv)| format!("{kk}: {}", cell(vv)))
            .collect();
        let _ = writeln!(md, "| {k} | {} |", parts.join("<br>"));
    }
    let _ = writeln!(md);
}

/// The nodes' `RUMOR_*` settings of a run, as a sentence (empty if none).
fn env_note(env: &Value) -> String {
    let vars: Vec<String> = env
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("`{k}={}`", v.as_str().unwrap_or_default()))
        .collect();
    if vars.is_empty() {
        String::new()
    } else {
        format!(" Node settings: {}.", vars.join(", "))
    }
}

/// The soak section, from a `rumor-testnet run` summary and its parameters.
fn render_soak(md: &mut String, v: &Value, args: &Value, env: &Value) {
    let count = |what: &str| {
        v["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["what"] == what)
            .count()
    };
    let every = |key: &str| {
        args[key]
            .as_u64()
            .map_or(String::new(), |ms| format!(" every {} s", ms / 1000))
    };
    let _ = writeln!(
        md,
        "## Soak
"
    );
    let _ = writeln!(
        md,
        "`rumor-testnet run` (run `{}`): {} local nodes, {} tx/s, a block every {} s, \
         rolling kill -9 restarts{} and half/half partitions{}. Lost counts every accepted \
         transaction and every block of the agreed best chain that a live node lacks at the \
         end. Memory is judged over each node's longest-lived process (a restart resets it): \
         growth compares its mean resident size over the last quarter of that lifetime with \
         the second quarter, and the slope is a least-squares fit over the second half; \
         memory is flat when every process that lived {:.0} min or more grew at most {:.0} %.{}\n",
        cell(&v["run_id"]),
        cell(&v["nodes"]),
        cell(&args["tx_rate"]),
        args["block_interval_ms"].as_u64().unwrap_or(0) / 1000,
        every("restart_every_ms"),
        every("partition_every_ms"),
        FLAT_MIN_LIFETIME_S / 60.0,
        FLAT_MAX_GROWTH_PCT,
        env_note(env),
    );
    let _ = writeln!(
        md,
        "| workload | kills / restarts | partitions | txs accepted / lost | blocks accepted / lost | \
         tx c100 p50 / p99 ms | largest RSS | largest memory growth / slope | memory flat | \
         fetches in flight at end | result |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    // Judged again from the per-node figures by the current rule.
    let flat = serde_json::from_value::<Vec<NodeMemory>>(v["memory"]["nodes"].clone())
        .ok()
        .and_then(|nodes| judge_flat(&nodes));
    let ms = |k: &str, q: &str| {
        v["txs"][k][q]
            .as_f64()
            .map_or("-".to_owned(), |x| format!("{x:.0}"))
    };
    let _ = writeln!(
        md,
        "| {:.0} s | {} / {} | {} | {} / {} | {} / {} | {} / {} | {:.0} MiB | {:.1} % / {:.0} KiB/min | {} | {} | {} |\n",
        v["workload_s"].as_f64().unwrap_or(0.0),
        count("kill"),
        count("restart"),
        count("partition"),
        cell(&v["txs"]["accepted"]),
        cell(&v["txs"]["lost"]),
        cell(&v["blocks"]["accepted"]),
        cell(&v["blocks"]["lost"]),
        ms("c100_ms", "p50"),
        ms("c100_ms", "p99"),
        v["memory"]["max_kib"].as_f64().unwrap_or(0.0) / 1024.0,
        v["memory"]["max_growth_pct"].as_f64().unwrap_or(0.0),
        v["memory"]["max_slope_kib_per_min"].as_f64().unwrap_or(0.0),
        match flat {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not judged",
        },
        cell(&v["inflight_at_end"]),
        if v["ok"] == Value::Bool(true) && flat != Some(false) {
            "pass"
        } else {
            "FAIL"
        },
    );
}

/// `docs/reliability.md`: the attack table (if any), and the other results
/// found in `results` (`crash.json`, `disk.json`, `rpc.json`, `props.json`,
/// `soak/summary.json` with `soak/params.json`) and `fuzz`
/// (`fuzz/results.json`).
pub fn render_markdown(
    attack: Option<&AttackReport>,
    results: Option<&Path>,
    fuzz: Option<&Path>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Reliability\n");
    let _ = writeln!(
        md,
        "<!-- Generated by `rumor-testnet attack --markdown` from test output; do not edit. -->\n"
    );
    let _ = writeln!(
        md,
        "What a bad peer, a bad input, a crash or a failing disk does to a node, \
         as measured by the tests of issue 7. Each section says how it was produced; \
         `README.md` names the commands for the long runs.\n"
    );
    if let Some(r) = attack {
        let _ = writeln!(md, "## Adversarial peers\n");
        let _ = writeln!(
            md,
            "`rumor-testnet attack` on {} ({}): a target `rumord` between {} honest `rumord`s \
             (a star, so honest traffic between them is relayed by the target only), and a \
             `RawPeer` speaking the real protocols through libp2p. {} of {} classes passed; \
             the target {} every class. Honest relay (submit at one honest node, first seen \
             at another) had a median of {:.1} ms before the attacks; each class's median \
             is reported beside it, not judged (scheduling noise on two shared cores moves \
             it). A class passes if its reject or counter grows, nothing of the attack \
             reaches an honest node, no honest probe is lost, no honest peer is penalised \
             or dropped, and the attacker is disconnected exactly when it should be; \
             `withhold-first-announce` also needs every honest object within one fetch \
             timeout of the clean run's slowest.\n",
            r.date,
            r.version,
            r.honest,
            r.classes.iter().filter(|c| c.pass).count(),
            r.classes.len(),
            if r.target_alive {
                "survived"
            } else {
                "did NOT survive"
            },
            r.clean.p50_ms,
        );
        let _ = writeln!(
            md,
            "| class | tried | expected | counted at the target (reason: count) | attacker | \
             honest p50 / max ms | relayed | target peak RSS | result | anchor |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
        for c in &r.classes {
            let _ = writeln!(
                md,
                "| `{}` | {} × {} | {} | {} | {} | {:.1} / {:.1} | {} | {} | {} | {} |",
                c.class,
                c.sent,
                c.what,
                c.expect,
                counted(c),
                attacker(c),
                c.latency.p50_ms,
                c.latency.max_ms,
                c.relayed_to_honest,
                c.target_peak_rss_mib
                    .map_or("-".to_owned(), |m| format!("{m:.0} MiB")),
                if c.pass {
                    "pass".to_owned()
                } else {
                    format!("FAIL: {}", c.failures.join("; "))
                },
                c.anchor
            );
        }
        let _ = writeln!(md);
    }
    if let Some(dir) = results {
        if let Some(v) = read_json(&dir.join("props.json")) {
            let _ = writeln!(
                md,
                "## Property tests over arbitrary bytes (stable, in CI)\n"
            );
            let _ = writeln!(md, "| entry point | cases | result |");
            let _ = writeln!(md, "|---|---|---|");
            if let Some(m) = v.as_object() {
                for (k, e) in m {
                    let _ = writeln!(
                        md,
                        "| `{k}` | {} | {} |",
                        cell(&e["cases"]),
                        cell(&e["result"])
                    );
                }
            }
            let _ = writeln!(md);
        }
        if let Some(v) = read_json(&dir.join("crash.json")) {
            let _ = writeln!(md, "## Crash safety (kill -9 loop)\n");
            let _ = writeln!(
                md,
                "`node/tests/crash.rs`: a mining (100 ms blocks), relaying `rumord` under \
                 transaction load, SIGKILLed at random moments; after every kill `rumord verify` \
                 replays its best chain and compares the UTXO set, its count and the address and \
                 transaction indexes; then it restarts and must fetch and reorganise onto a \
                 longer chain its peer mined meanwhile.\n"
            );
            let _ = writeln!(
                md,
                "| kills | of them during start-up | transactions sent | final height | verify failures | reorgs onto the peer's chain | seed | seconds |"
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                cell(&v["kills"]),
                cell(&v["early_kills"]),
                cell(&v["txs_sent"]),
                cell(&v["final_height"]),
                cell(&v["verify_failures"]),
                cell(&v["reorgs_onto_peer_chain"]),
                cell(&v["seed"]),
                cell(&v["seconds"])
            );
        }
        if let Some(v) = read_json(&dir.join("soak").join("summary.json")) {
            let p = read_json(&dir.join("soak").join("params.json")).unwrap_or(Value::Null);
            render_soak(&mut md, &v, &p["args"], &p["node_env"]);
        }
        if let Some(v) = read_json(&dir.join("disk.json")) {
            render_checks(
                &mut md,
                "Disk failures",
                "`node/tests/disk.rs`, on tmpfs mounts.",
                "fault",
                &v,
            );
        }
        if let Some(v) = read_json(&dir.join("rpc.json")) {
            render_checks(
                &mut md,
                "RPC security",
                "`node/tests/rpc_security.rs`, against the real binary.",
                "check",
                &v,
            );
        }
    }
    if let Some(v) = fuzz.and_then(read_json) {
        let _ = writeln!(md, "## Fuzzing\n");
        let _ = writeln!(
            md,
            "`fuzz/run.sh` (cargo-fuzz, libFuzzer with AddressSanitizer, one job) on {}, \
             commit {}, {} s per target.\n",
            cell(&v["date"]),
            cell(&v["commit"]),
            cell(&v["seconds_per_target"])
        );
        let _ = writeln!(
            md,
            "| target | ran (s) | executions | exec/s | coverage | corpus | outcome |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|");
        for t in v["targets"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                cell(&t["target"]),
                cell(&t["seconds"]),
                cell(&t["executions"]),
                cell(&t["execs_per_sec"]),
                cell(&t["coverage"]),
                cell(&t["corpus"]),
                cell(&t["outcome"])
            );
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "## Reproduce
"
    );
    let _ = writeln!(
        md,
        "CI (`cargo test --workspace`) runs the fast forms: the `[fast]` attack classes \
         (`testnet/tests/attack.rs`), a 10-kill crash loop, the disk, RPC-security and \
         property tests. The long runs and this file:\n\n\
         ```sh\n\
         testnet/reliability.sh            # at one clean commit: every attack class, 60 kills,\n\
         \x20                                 # the fuzz targets for 180 s each (nightly + cargo-fuzz,\n\
         \x20                                 # if installed; it says so if not), this file\n\
         RUMOR_CRASH_LOOPS=200 testnet/reliability.sh\n\
         RUMOR_SOAK=30m testnet/reliability.sh    # and the 30-minute soak\n\
         RUMOR_FUZZ_SECS=0 testnet/reliability.sh # without fuzzing\n\
         ```"
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_summary_renders_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let soak = dir.path().join("soak");
        std::fs::create_dir_all(&soak).unwrap();
        let summary = serde_json::json!({
            "run_id": "r1", "nodes": 16, "workload_s": 1800.2, "inflight_at_end": 0, "ok": false,
            "faults": [{"what": "kill"}, {"what": "restart"}, {"what": "kill"}, {"what": "partition"}],
            "txs": {"accepted": 90000, "lost": 2, "c100_ms": {"p50": 12.4, "p99": 480.0}},
            "blocks": {"accepted": 180, "lost": 0},
            "memory": {"max_kib": 40960, "max_growth_pct": 3.25, "max_slope_kib_per_min": 12.4,
                "nodes": [{"index": 0, "first_kib": 30000, "last_kib": 40000, "max_kib": 40960,
                    "processes": 1, "lifetime_s": 1800.0, "growth_pct": 3.25, "slope_kib_per_min": 12.4}]},
        });
        let params = serde_json::json!({"args": {"tx_rate": 50.0, "block_interval_ms": 10000,
            "restart_every_ms": 120000}, "node_env": {"RUMOR_SEEN_CAPACITY": "20000"}});
        std::fs::write(soak.join("summary.json"), summary.to_string()).unwrap();
        std::fs::write(soak.join("params.json"), params.to_string()).unwrap();
        let md = render_markdown(None, Some(dir.path()), None);
        assert!(md.contains("## Soak"), "{md}");
        assert!(md.contains("restarts every 120 s"), "{md}");
        assert!(
            md.contains(
                "| 1800 s | 2 / 1 | 1 | 90000 / 2 | 180 / 0 | 12 / 480 | 40 MiB | 3.2 % / 12 KiB/min | yes | 0 | FAIL |"
            ),
            "{md}"
        );
        assert!(
            md.contains("Node settings: `RUMOR_SEEN_CAPACITY=20000`."),
            "{md}"
        );
        // Nothing lost, but memory grew: the soak fails.
        let mut summary = summary;
        summary["ok"] = true.into();
        summary["memory"]["nodes"][0]["growth_pct"] = 25.0.into();
        std::fs::write(soak.join("summary.json"), summary.to_string()).unwrap();
        let md = render_markdown(None, Some(dir.path()), None);
        assert!(md.contains("| no | 0 | FAIL |"), "{md}");
    }
}
