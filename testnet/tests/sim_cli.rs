//! The `rumor-testnet sim` binary end to end: bad input, the fan-out demo, and the
//! results folder.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rumor-testnet"))
        .arg("sim")
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn bad_input_fails_fast_with_a_clear_message() {
    let cases: [(&[&str], &str); 7] = [
        (&["-n", "1"], "--nodes must be at least 2"),
        (
            &["-a", "fanout", "-n", "16", "--fanout", "16"],
            "--fanout 16 must be smaller than --nodes 16",
        ),
        (&["-a", "rumor", "-k", "0"], "--k must be at least 1"),
        (&["--loss", "1.5"], "not a probability in [0, 1)"),
        (
            &["-a", "mesh", "-n", "10", "--mesh-d", "10"],
            "--mesh-d 10 is larger than n - 1 = 9",
        ),
        (&["-a", "gossip"], "unknown algorithm family `gossip`"),
        (
            &["-a", "mesh", "--delay-ms", "50..10"],
            "the minimum is larger than the maximum",
        ),
    ];
    for (args, expected) in cases {
        let o = sim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(expected),
            "{args:?}: stderr was {}",
            stderr(&o)
        );
        assert!(
            stdout(&o).is_empty(),
            "{args:?}: printed results before failing"
        );
    }
}

#[test]
fn fanout_demo_prints_the_infected_set_per_round() {
    let o = sim(&["--fanout-demo", "--seed", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("fan-out demo: 16 nodes, fan-out 3, period 1000 ms"),
        "{out}"
    );
    assert!(out.contains("round  1 (t = 1.0 s)"), "{out}");
    assert!(out.contains("(16/16)"), "{out}");
    assert!(out.contains("fan-out 3 every-period"), "{out}");
}

#[test]
fn writes_the_results_folder() {
    let dir: PathBuf = std::env::temp_dir().join(format!("rumor-sim-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = sim(&["-n", "500", "-t", "3", "-q", "--out", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    for label in [
        "anti-entropy push-pull",
        "rumor push feedback counter k=1",
        "mesh D=6 D_lazy=6",
    ] {
        assert!(table.contains(label), "{table}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["summaries"].as_array().unwrap().len(), 8);
    assert_eq!(json["params"]["nodes"], 500);
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9);
    let rounds = std::fs::read_to_string(dir.join("rounds.csv")).unwrap();
    assert!(rounds.starts_with("id,unit,step,time,periods,infected_fraction"));
    let svg = std::fs::read_to_string(dir.join("infected.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in [
        "anti-entropy pull",
        "fan-out 3 every-period",
        "mesh D=6 D_lazy=6",
    ] {
        assert!(svg.contains(label), "legend lacks {label}");
    }
    assert!(svg.contains("<text") && svg.contains("fraction of sites reached"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_on_stdout_is_reproducible() {
    let a = sim(&[
        "-a",
        "rumor:push-pull:blind:coin",
        "-k",
        "3",
        "-n",
        "300",
        "-t",
        "2",
        "--format",
        "json",
    ]);
    let b = sim(&[
        "-a",
        "rumor:push-pull:blind:coin",
        "-k",
        "3",
        "-n",
        "300",
        "-t",
        "2",
        "--format",
        "json",
    ]);
    assert!(a.status.success());
    assert_eq!(stdout(&a), stdout(&b));
    let c = sim(&[
        "-a",
        "rumor:push-pull:blind:coin",
        "-k",
        "3",
        "-n",
        "300",
        "-t",
        "2",
        "--format",
        "json",
        "--seed",
        "2",
    ]);
    assert_ne!(stdout(&a), stdout(&c));
}
