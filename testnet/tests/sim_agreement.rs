//! The simulator against real nodes on loopback: the same scenario (16
//! nodes on a line and on a random graph, the same seed, links and
//! workload) run by `rumor-testnet run` and by rumor-sim from that run's
//! `params.json`. Where the model is deterministic they must agree exactly:
//! the origins drawn, who received what (everyone, everything), duplicate
//! bodies (none), and every node's hop count for every transaction (the
//! chain of first-seen senders the nodes recorded, against the simulated
//! relays'). Times are not compared here (no wall-clock assertions in
//! tests); `rumor-testnet compare` and docs/simulator.md do that.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use rumor_sim::net::{self, CostModel, NetParams, WireSizes};
use rumor_testnet::testbed::Summary;

mod common;
use common::{results_dir, rumord, testnet_bin};

/// Runs a real testnet with `extra` flags; its results folder.
fn real_run(out: &Path, extra: &[&str]) -> std::path::PathBuf {
    let output = Command::new(testnet_bin())
        .env_remove("CARGO")
        .args(["run", "--quiet", "--rumord"])
        .arg(rumord())
        .arg("--out")
        .arg(out)
        // Anti-entropy would race gossip for the slowest nodes; the
        // simulator does not model it, so it is kept out of the run.
        .args(["--sync-interval", "60s", "--settle", "40s"])
        .args(extra)
        .output()
        .expect("run rumor-testnet");
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "exit {:?}", output.status);
    results_dir(out)
}

/// Per transaction in submission order: its origin, and every node's hop
/// count (following each node's first-seen sender back to the origin).
fn real_hops(dir: &Path, nodes: usize) -> Vec<(usize, Vec<usize>)> {
    let mut index = HashMap::new();
    let mut from: Vec<HashMap<String, Option<String>>> = vec![HashMap::new(); nodes];
    for (i, f) in from.iter_mut().enumerate() {
        let text = std::fs::read_to_string(dir.join("nodes").join(format!("node-{i}.ndjson")))
            .expect("node file");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            match v["type"].as_str() {
                Some("node") => {
                    index.insert(v["peer_id"].as_str().unwrap().to_owned(), i);
                }
                Some("first_seen") if v["kind"].as_str() == Some("Tx") => {
                    f.insert(
                        v["id"].as_str().unwrap().to_owned(),
                        v["from"].as_str().map(str::to_owned),
                    );
                }
                _ => {}
            }
        }
    }
    let rows = rumor_sim::read_objects(&dir.join("objects.csv")).unwrap();
    let mut txs: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == rumor_sim::Kind::Tx)
        .collect();
    txs.sort_by_key(|r| r.start_ns);
    txs.iter()
        .map(|r| {
            let hops = (0..nodes)
                .map(|v| {
                    let (mut at, mut h) = (v, 0);
                    while let Some(Some(peer)) = from[at].get(&r.id) {
                        at = index[peer];
                        h += 1;
                        assert!(h <= nodes, "a cycle of senders for {}", r.id);
                    }
                    assert!(from[at].contains_key(&r.id), "node {at} lacks {}", r.id);
                    h
                })
                .collect();
            (r.origin, hops)
        })
        .collect()
}

fn check(out: &Path, extra: &[&str]) {
    let dir = real_run(out, extra);
    let measured: Summary =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let params = rumor_testnet::sim_relay::params_from_testnet(
        &dir,
        CostModel::default(),
        WireSizes::default(),
    )
    .unwrap();
    assert_eq!(params.len(), 1);
    let p: &NetParams = &params[0];
    let run = net::simulate(p).unwrap();
    let (simulated, _) = net::summarize(&run, "sim");
    let what = format!("{extra:?}");

    // Delivery: every node got every transaction, in both.
    assert_eq!(measured.txs.accepted, p.txs, "{what}");
    assert_eq!((measured.txs.lost, simulated.txs.lost), (0, 0), "{what}");
    // Duplicates: none, in both.
    let dup = |s: &Summary| {
        s.redundancy
            .as_ref()
            .unwrap()
            .duplicate_bodies_per_node_per_tx
    };
    assert_eq!((dup(&measured), dup(&simulated)), (0.0, 0.0), "{what}");
    // Origins and hop counts, transaction by transaction, node by node.
    let real = real_hops(&dir, p.nodes);
    assert_eq!(real.len(), p.txs);
    for (k, (origin, hops)) in real.iter().enumerate() {
        assert_eq!(*origin, run.origins[k], "{what}: origin of tx {k}");
        let sim: Vec<usize> = (0..p.nodes).map(|v| run.hop_count(v, k) as usize).collect();
        assert_eq!(hops, &sim, "{what}: hops of tx {k}");
    }
}

#[test]
fn simulator_and_real_nodes_agree_on_delivery_duplicates_and_hops() {
    let common = [
        "--nodes",
        "16",
        "--txs",
        "6",
        "--tx-rate",
        "5",
        "--link-delay",
        "20ms",
        "--seed",
        "5",
    ];
    for extra in [
        &["--topology", "line", "--relay", "announce"][..],
        &["--topology", "line", "--relay", "push"][..],
        &[
            "--topology",
            "random",
            "--degree",
            "4",
            "--relay",
            "announce",
        ][..],
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let args: Vec<&str> = common.iter().chain(extra).copied().collect();
        check(tmp.path(), &args);
    }
}
