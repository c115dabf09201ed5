//! Helpers the multi-process tests share: the binaries, and results folders.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `rumor-testnet` binary under test.
pub fn testnet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rumor-testnet")
}

/// `rumord` from the same target directory (built here if missing).
pub fn rumord() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(testnet_bin()).parent().expect("profile dir");
        let path = dir.join("rumord");
        if !path.is_file() {
            let profile = match dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_owned(),
                Some(p) => p.to_owned(),
            };
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace");
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace)
                .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
                .args([
                    "build",
                    "-p",
                    "rumor-node",
                    "--bin",
                    "rumord",
                    "--profile",
                    &profile,
                ])
                .status()
                .expect("run cargo");
            assert!(status.success(), "building rumord failed");
        }
        path
    })
}

/// The one results folder under `out`.
pub fn results_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("results folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}
