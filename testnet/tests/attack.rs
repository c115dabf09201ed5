//! The fast subset of `rumor-testnet attack` against real `rumord`
//! processes (the classes marked `[fast]` in `rumor-testnet attack --list`):
//! every class must pass — the target survives, counts the bad input, never
//! relays it, keeps honest latency near a clean run's, and disconnects the
//! attacker exactly when it should. The full set is the long run
//! (`rumor-testnet attack --markdown docs/reliability.md`).
//!
//! `RUMOR_RELIABILITY_OUT=DIR` also writes the result to `DIR/attack-fast.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use rumor_testnet::attack::{AttackArgs, render_table, run};

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH)
            };
            t = t.max(m);
        }
    }
    t
}

/// `rumord` from this test's target directory and profile, built (or
/// rebuilt, if the node's sources are newer) with the same profile.
fn rumord() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/attack-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_owned();
    let path = profile_dir.join("rumord");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let sources = ["node/src", "p2p/src", "chain/src"]
        .iter()
        .map(|d| newest(&workspace.join(d)))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if built.is_none_or(|b| b < sources) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let target_dir = profile_dir.parent().expect("target dir");
        let status = Command::new(cargo)
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", target_dir)
            .args(["build", "-p", "rumor-node", "--bin", "rumord", "--profile"])
            .arg(&profile)
            .status()
            .expect("run cargo build for rumord");
        assert!(status.success(), "building rumord failed");
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_attack_classes_all_pass_against_a_real_node() {
    let work = tempfile::tempdir().unwrap();
    let args = AttackArgs {
        class: Vec::new(),
        fast: true,
        list: false,
        rumord: Some(rumord()),
        honest: 3,
        probes: 5,
        workdir: Some(work.path().join("nodes")),
        out: None,
        markdown: None,
        from: None,
        results: None,
        fuzz: None,
    };
    let report = run(&args).await.expect("the attack ran");
    let table = render_table(&report);
    eprintln!("{table}");
    if let Some(dir) = std::env::var_os("RUMOR_RELIABILITY_OUT") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("attack-fast.json"),
            serde_json::to_string_pretty(&report).unwrap(),
        )
        .unwrap();
    }
    assert!(report.classes.len() >= 8, "{table}");
    assert!(report.target_alive, "the target died:\n{table}");
    let failed: Vec<_> = report.classes.iter().filter(|c| !c.pass).collect();
    assert!(
        failed.is_empty(),
        "failing classes (node logs: {}):\n{table}",
        work.path().display()
    );
    // The table's claims, checked directly for two classes.
    let bad_sig = report
        .classes
        .iter()
        .find(|c| c.class == "tx-bad-signature")
        .unwrap();
    assert!(bad_sig.counted["bad-signature"] >= 1);
    assert!(bad_sig.disconnected && bad_sig.banned >= 1);
    let policy = report
        .classes
        .iter()
        .find(|c| c.class == "tx-fee-too-low")
        .unwrap();
    assert!(!policy.disconnected && policy.counted["fee-too-low"] >= 1);
}
