//! `rumor-testnet scale` through the real binaries: one local run per node
//! count, each beside its simulation, in one table and plot.

use std::process::Command;

use rumor_testnet::testbed::Summary;

mod common;
use common::{results_dir, rumord, testnet_bin};

#[test]
fn scale_writes_one_row_per_node_count_beside_the_simulation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(testnet_bin())
        .env_remove("CARGO")
        .args(["scale", "--nodes", "3,4", "--txs", "6", "--settle", "30s"])
        .arg("--rumord")
        .arg(rumord())
        .arg("--out")
        .arg(tmp.path())
        .output()
        .expect("run rumor-testnet scale");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}", out.status);
    let dir = results_dir(tmp.path());
    let scale: rumor_sim::Scale =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scale.json")).unwrap()).unwrap();
    let nodes: Vec<usize> = scale.rows.iter().map(|r| r.nodes).collect();
    assert_eq!(nodes, vec![3, 4]);
    assert_eq!(
        (scale.txs, scale.tx_rate, scale.link_delay_ms),
        (6, 20.0, 50.0)
    );
    for r in &scale.rows {
        assert_eq!(r.lost, 0, "{r:?}");
        // Measured, with the 50 ms links' ideal bound and the nodes' CPU.
        assert!(r.c100_p99_ms.is_some() && r.c50_p50_ms.is_some(), "{r:?}");
        assert!(r.ideal_p99_ms.is_some_and(|i| i >= 150.0), "{r:?}");
        assert!(r.node_cpu_ms_per_s.is_some_and(|c| c > 0.0), "{r:?}");
        assert!(r.machine_busy_pct.is_some(), "{r:?}");
        // Simulated beside it: at least one announce hop of 3 × 50 ms.
        assert!(r.sim_c100_p50_ms.is_some_and(|c| c >= 150.0), "{r:?}");
        // The run's own folder holds its report, with the machine's CPU.
        let s: Summary = serde_json::from_str(
            &std::fs::read_to_string(dir.join(&r.dir).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(s.nodes, r.nodes);
        let cpu = s.cpu.expect("the machine was sampled");
        assert_eq!(cpu.node_ms_per_s.n, r.nodes, "every node measured");
        assert_eq!(cpu.saturated, r.saturated);
    }
    let csv = std::fs::read_to_string(dir.join("scale.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("nodes,diameter,c50_p50_ms"), "{csv}");
    let md = std::fs::read_to_string(dir.join("scale.md")).unwrap();
    assert!(md.contains("| 3 |") && md.contains("| 4 |"), "{md}");
    let svg = std::fs::read_to_string(dir.join("scale.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("simulated c100 p99"),
        "{svg}"
    );
    assert!(stdout.contains("- measured: c100 p50 ≈"), "{stdout}");
    assert!(stdout.contains("- simulated: c100 p50 ≈"), "{stdout}");
    // `report` renders the folder again.
    let again = Command::new(testnet_bin())
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("| 4 |"));
}
