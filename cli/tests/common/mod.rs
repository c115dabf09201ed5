//! What the CLI's multi-process tests share: the `rumor` and `rumord`
//! binaries, and running `rumor` against a node.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::Value;

use crate::support::Node;

pub fn rumor() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rumor"))
}

/// The newest modification time of the files under `dir`.
pub fn newest(dir: &Path) -> SystemTime {
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

/// `rumord` from the same target directory as `rumor`. `cargo test
/// --workspace` builds it; otherwise (or if the node's sources are newer)
/// it is built here with the same profile.
pub fn rumord() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let profile_dir = rumor().parent().expect("profile dir");
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
        let stale = built.is_none_or(|b| b < sources);
        if stale {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => "dev".to_owned(),
                Some(other) => other.to_owned(),
                None => "dev".to_owned(),
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
    })
}

/// Runs `rumor` against `node` with `args`.
pub fn cli(node: &Node, wallet: &Path, args: &[&str]) -> Output {
    Command::new(rumor())
        .arg("--rpc")
        .arg(format!("http://{}", node.rpc))
        .arg("--datadir")
        .arg(&node.datadir)
        .arg("--wallet")
        .arg(wallet)
        .args(args)
        .env_remove("RUMOR_RPC")
        .env_remove("RUMOR_DATADIR")
        .env_remove("RUMOR_WALLET")
        .output()
        .expect("run rumor")
}

/// Runs `rumor ... --json` and parses its output; panics on failure.
pub fn cli_json(node: &Node, wallet: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cli(node, wallet, &all);
    assert!(
        out.status.success(),
        "rumor {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
