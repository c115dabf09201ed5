//! Shared by the crates' stable property tests (`#[path]`-included from
//! `chain/tests/validate_props.rs`, `p2p/tests/decode_props.rs` and
//! `node/tests/config_props.rs`): runs a proptest strategy for a fixed number
//! of cases and, with `RUMOR_RELIABILITY_OUT=DIR`, records the count in
//! `DIR/props.json` for docs/reliability.md.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Adds `name: {cases, result}` to `props.json` (locked: the test binaries
/// of several crates write it); `result` is `pass`, or `fail: ` and the
/// minimal failing input.
fn record(name: &str, cases: u32, result: &str) {
    let Some(dir) = std::env::var_os("RUMOR_RELIABILITY_OUT") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let lock = std::fs::File::create(dir.join("props.json.lock")).unwrap();
    lock.lock().unwrap();
    let path = dir.join("props.json");
    let mut all: serde_json::Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    all[name] = serde_json::json!({ "cases": cases, "result": result });
    std::fs::write(&path, serde_json::to_string_pretty(&all).unwrap()).unwrap();
}

/// Runs `test` on `cases` values of `strategy`; panics naming `name` and the
/// minimal failing input.
pub(crate) fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let outcome = runner.run(&strategy, test);
    let result = match &outcome {
        Ok(()) => "pass".to_owned(),
        Err(e) => format!("fail: {e}"),
    };
    // Recorded before the verdict, so a failure reaches the page too.
    record(name, cases, &result);
    if let Err(e) = outcome {
        panic!("{name}: {e}");
    }
}
