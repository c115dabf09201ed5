//! `rumor-testnet run` and `report` through the real binaries: local nodes
//! on 127.0.0.1, the propagation report, faults, and bad parameters.

use std::path::Path;
use std::process::{Command, Output};

use rumor_testnet::testbed::{SCHEMA, Summary};

mod common;
use common::{results_dir, rumord, testnet_bin};

fn run(out: &Path, extra: &[&str]) -> Output {
    run_with(out, extra, &[])
}

/// `run` with `RUMOR_*` settings that the local nodes inherit.
fn run_with(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(testnet_bin());
    cmd.env_remove("CARGO")
        .envs(env.iter().copied())
        .args(["run", "--quiet", "--rumord"])
        .arg(rumord())
        .arg("--out")
        .arg(out)
        .args(["--sync-interval", "500ms", "--settle", "40s"])
        .args(extra);
    let output = cmd.output().expect("run rumor-testnet");
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn summary(dir: &Path) -> Summary {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    // The documented schema is the `Summary` type: this fails on any missing
    // or mistyped field.
    let s: Summary = serde_json::from_str(&text).expect("summary.json matches the schema");
    assert_eq!(s.schema, SCHEMA);
    s
}

/// When the run started (`params.json`), Unix ns.
fn summary_start_ns(dir: &Path) -> u64 {
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).unwrap();
    params["started_ns"].as_u64().unwrap()
}

#[test]
fn local_run_reaches_every_node_and_writes_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &[
            "--nodes",
            "8",
            "--txs",
            "50",
            "--tx-rate",
            "40",
            "--block-interval",
            "600ms",
            "--link-delay",
            "2ms",
            "--seed",
            "3",
        ],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let dir = results_dir(tmp.path());
    let s = summary(&dir);
    assert!(s.ok);
    assert_eq!(s.nodes, 8);
    assert_eq!(s.live_nodes, 8);
    assert_eq!(s.txs.injected, 50);
    assert_eq!(s.txs.accepted, 50);
    assert_eq!(s.txs.lost, 0);
    assert!((s.txs.coverage_pct.unwrap() - 100.0).abs() < 1e-9);
    assert!(s.blocks.accepted >= 1, "blocks were mined");
    assert_eq!(
        s.txs.c100_ms.n, 50,
        "every tx reached all 8 nodes and was timed"
    );
    assert!(s.txs.c50_ms.p50.unwrap() <= s.txs.c100_ms.p50.unwrap());
    assert!(s.redundancy.as_ref().unwrap().bodies_per_node_per_tx > 0.5);
    let objects = std::fs::read_to_string(dir.join("objects.csv")).unwrap();
    assert_eq!(objects.lines().count(), 1 + 50 + s.blocks.accepted);
    // Each object's start time (t0, Unix ns) is a column, within the run.
    let header: Vec<&str> = objects.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "start_ns")
        .expect("start_ns column");
    let params_start = summary_start_ns(&dir);
    for line in objects.lines().skip(1) {
        let t0: u64 = line.split(',').nth(col).unwrap().parse().unwrap();
        assert!(t0 >= params_start, "{line}");
    }
    // The plot says what ran.
    let svg = std::fs::read_to_string(dir.join("cdf.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("tx c100"));
    assert!(
        svg.contains("announce relay · n = 8 · link delay 2 ms · 50 txs"),
        "{svg}"
    );
    assert!(
        svg.contains("tx c100 ideal bound"),
        "the ideal bound is drawn"
    );
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).unwrap();
    assert!(
        params["code_version"]
            .as_str()
            .unwrap()
            .starts_with(env!("CARGO_PKG_VERSION"))
    );
    for i in 0..8 {
        let nd =
            std::fs::read_to_string(dir.join("nodes").join(format!("node-{i}.ndjson"))).unwrap();
        assert!(nd.lines().any(|l| l.contains("\"first_seen\"")));
        assert!(nd.lines().any(|l| l.contains("\"relay_stats\"")));
    }
    assert!(
        !dir.join("data").exists(),
        "node data is removed after the run"
    );

    // `report` renders the stored folder again.
    let rep = Command::new(testnet_bin())
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(rep.status.success());
    let text = String::from_utf8_lossy(&rep.stdout);
    assert!(text.contains("result: OK"), "{text}");
    assert!(text.contains("c100 (all)"));
}

/// `--compare` runs every mode and draws them in one `cdf.svg` on one axis.
#[test]
fn compare_draws_every_mode_in_one_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &["--compare", "-n", "3", "--txs", "10", "--link-delay", "5ms"],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let dir = results_dir(tmp.path());
    let modes = ["announce", "push", "batch", "hybrid"];
    for mode in modes {
        let s = summary(&dir.join(mode));
        assert_eq!(s.relay.as_str(), mode);
        assert_eq!(s.txs.lost, 0, "{mode}");
    }
    // One combined plot at the top: the title names every mode, and each
    // has its tx c100 curve in the legend.
    let svg = std::fs::read_to_string(dir.join("cdf.svg")).expect("combined cdf.svg");
    assert!(
        svg.contains(">\nannounce vs push vs batch vs hybrid · n = 3 · link delay 5 ms · 10 txs"),
        "{svg}"
    );
    for mode in modes {
        assert!(
            svg.contains(&format!(">\n{mode} tx c100\n<")),
            "{mode}: {svg}"
        );
    }
    // Hybrid is held to push's bound.
    assert!(
        svg.contains("ideal = eccentricity × L (push, hybrid), 3L (announce, batch)"),
        "{svg}"
    );
    let compare: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    for mode in modes {
        assert_eq!(compare[mode]["relay"], mode, "{compare}");
    }
}

#[test]
fn killed_and_restarted_nodes_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &[
            "--nodes",
            "6",
            "--txs",
            "60",
            "--tx-rate",
            "20",
            "--kill",
            "2@1s+1500ms",
            "--seed",
            "5",
        ],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let s = summary(&results_dir(tmp.path()));
    assert_eq!(s.txs.lost, 0);
    assert_eq!(s.live_nodes, 6);
    assert_eq!(s.faults.iter().filter(|f| f.what == "kill").count(), 2);
    assert_eq!(s.faults.iter().filter(|f| f.what == "restart").count(), 2);
    assert_eq!(s.txs.accepted, 60);
}

/// Far more offered than four debug nodes carry, with admission control's
/// wait bound at 1 ms: the nodes refuse part of it as busy, the report
/// counts the refusals, and everything they accepted reaches every node.
#[test]
fn an_overloaded_testnet_refuses_at_the_edge_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_with(
        tmp.path(),
        &[
            "--nodes",
            "4",
            "--txs",
            "3000",
            "--tx-rate",
            "3000",
            "--seed",
            "11",
        ],
        &[("RUMOR_BUSY_WAIT_MS", "1")],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let s = summary(&results_dir(tmp.path()));
    assert_eq!(s.txs.lost, 0, "every accepted tx reached every node");
    assert!(s.txs.refused > 0, "some were refused as busy: {:?}", s.txs);
    assert!(s.txs.accepted > 0, "some were accepted: {:?}", s.txs);
    assert_eq!(s.txs.injected, 3000);
    assert_eq!(
        s.txs.accepted + s.txs.refused + s.txs.rejected,
        s.txs.injected,
        "every tx is accounted for"
    );
    assert_eq!(s.txs.rejected, 0, "only busy refusals: {:?}", s.txs);
    let rates = s.rates.expect("rates");
    assert_eq!(rates.offered, 3000.0);
    assert!(rates.refused > 0.0);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("refused as busy"), "{table}");
}

/// `sweep` runs each (mode, rate), and writes the table, plot and knees.
#[test]
fn sweep_writes_one_table_and_plot_with_each_modes_knee() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(testnet_bin())
        .env_remove("CARGO")
        .args(["sweep", "--rates", "20,40", "--relays", "announce,push"])
        .args([
            "--nodes",
            "3",
            "--duration",
            "1s",
            "--settle",
            "30s",
            "--quiet",
        ])
        .arg("--rumord")
        .arg(rumord())
        .arg("--out")
        .arg(tmp.path())
        .output()
        .expect("run rumor-testnet sweep");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}", out.status);
    let dir = results_dir(tmp.path());
    let sweep: rumor_testnet::testbed::sweep::Sweep =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let done: Vec<(&str, f64)> = sweep
        .steps
        .iter()
        .map(|s| (s.relay.as_str(), s.offered))
        .collect();
    assert_eq!(
        done,
        vec![
            ("announce", 20.0),
            ("announce", 40.0),
            ("push", 20.0),
            ("push", 40.0)
        ]
    );
    for st in &sweep.steps {
        assert_eq!(st.lost, 0, "{st:?}");
        assert_eq!(
            st.injected_txs,
            (st.offered * 1.0).ceil() as usize,
            "{st:?}"
        );
        assert!(dir.join(&st.dir).join("summary.json").is_file(), "{st:?}");
    }
    for f in ["sweep.md", "sweep.csv", "sweep.svg"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(stdout.contains("- knee of announce:"), "{stdout}");
    assert!(stdout.contains("- knee of push:"), "{stdout}");
}

#[test]
fn a_healed_partition_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &[
            "--nodes",
            "6",
            "--topology",
            "ring",
            "--txs",
            "60",
            "--tx-rate",
            "20",
            "--partition",
            "0-2|3-5@500ms-2s",
            "--block-interval",
            "1s",
            "--seed",
            "7",
        ],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let s = summary(&results_dir(tmp.path()));
    assert_eq!(s.txs.lost, 0);
    assert_eq!(s.blocks.lost, 0);
    assert!(s.faults.iter().any(|f| f.what == "partition"));
    assert!(s.faults.iter().any(|f| f.what == "heal"));
}

#[test]
fn impossible_parameters_are_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--nodes", "0"], "--nodes must be at least 2"),
        (vec!["--nodes", "8", "--degree", "8"], "--degree"),
        (vec!["--link-delay", "-5ms"], "negative"),
        (vec!["--link-loss", "150%"], "outside 0%..100%"),
        (
            vec!["--nodes", "4", "--partition", "0-1|2-9@1s-2s"],
            "node 4 does not exist",
        ),
        (
            vec!["--nodes", "4", "--kill", "4@1s+1s"],
            "at least one node up",
        ),
        (vec!["--tx-rate", "0"], "--tx-rate"),
        (vec!["--image", "rumor-node:x"], "--image needs --backend"),
        (vec!["--stack", "rumor-x"], "--stack needs --backend swarm"),
        (
            vec!["--backend", "swarm", "--stack", "Rumor_X"],
            "--stack \"Rumor_X\"",
        ),
    ] {
        let out = Command::new(testnet_bin())
            .arg("run")
            .arg("--out")
            .arg(tmp.path())
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing was started or written"
    );
}

#[test]
fn any_degree_up_to_n_minus_1_gets_ready() {
    // Nodes used to stop at 8 peers whatever the topology asked for. The
    // largest degree there is, n − 1 (past those 8): the complete graph.
    let tmp = tempfile::tempdir().unwrap();
    let out = run(
        tmp.path(),
        &[
            "--nodes",
            "10",
            "--degree",
            "9",
            "--txs",
            "20",
            "--tx-rate",
            "20",
            "--seed",
            "2",
        ],
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let dir = results_dir(tmp.path());
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("params.json")).unwrap()).unwrap();
    assert_eq!(params["args"]["degree"], 9);
    let s = summary(&dir);
    assert!(s.ok);
    // Every node linked to every other: 10 × 9 / 2 links, degree 9.
    assert_eq!(s.graph.links, 45, "{:?}", s.graph);
    assert_eq!(s.graph.mean_degree, 9.0, "{:?}", s.graph);
    assert_eq!(s.graph.diameter, Some(1), "{:?}", s.graph);
}

#[test]
fn two_nodes_run_from_any_directory_building_rumord_with_cargo() {
    let cwd = tempfile::tempdir().unwrap();
    // Under `cargo run` (CARGO set) and without --rumord: rumord is built from
    // this workspace, not from the current directory.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    rumord();
    let out = Command::new(testnet_bin())
        .current_dir(cwd.path())
        .env("CARGO", cargo)
        .args([
            "run",
            "-q",
            "-n",
            "2",
            "--txs",
            "10",
            "--tx-rate",
            "20",
            "--settle",
            "40s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status);
    assert!(err.contains("building rumord"), "{err}");
    let s = summary(&results_dir(&cwd.path().join("results")));
    assert_eq!(s.nodes, 2);
    assert!(s.ok);
}

#[test]
fn ctrl_c_collects_and_exits_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(testnet_bin())
        .env_remove("CARGO")
        .args(["run", "-q", "--rumord"])
        .arg(rumord())
        .arg("--out")
        .arg(tmp.path())
        .args(["-n", "3", "--txs", "3000", "--tx-rate", "10"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every node is up (the run's signal handling long installed).
    let started = std::time::Instant::now();
    loop {
        let up = std::fs::read_dir(tmp.path())
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|run| {
                (0..3).all(|i| {
                    std::fs::read_to_string(
                        run.path()
                            .join("data")
                            .join(format!("node-{i}"))
                            .join("rumord.log"),
                    )
                    .is_ok_and(|l| l.contains("rpc listening"))
                })
            })
            .unwrap_or(false);
        if up {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "nodes did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not stop after Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130), "{status:?}");
    // What was measured is written.
    let s = summary(&results_dir(tmp.path()));
    assert!(s.txs.injected < 3000);
}
