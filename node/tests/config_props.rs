//! Property tests for the config loader (the stable twin of `fuzz/`'s
//! `config_toml`): arbitrary text and generated `rumord.toml` files with
//! every known key and values of every shape go through
//! `Settings::from_toml`, the merge, and `Settings::resolve`; arbitrary
//! command lines go through the flag parser. Never a panic: every bad input
//! is a typed error; and a value outside a setting's documented bound is
//! refused with an error naming the setting (never accepted).
//!
//! `RUMOR_RELIABILITY_OUT=DIR` records the case counts in `DIR/props.json`.

use std::path::Path;

use clap::Parser;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rumor_node::Settings;

const CASES: u32 = 512;

#[path = "../../tests/props.rs"]
mod props;

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    props::run(name, CASES, strategy, test);
}

const KEYS: &[&str] = &[
    "datadir",
    "network",
    "genesis-outputs",
    "listen",
    "bootnode",
    "bootnodes",
    "no-discovery",
    "target-peers",
    "max-peers",
    "relay",
    "mesh-d",
    "mesh_d_low",
    "mesh-d-high",
    "mesh-d-lazy",
    "heartbeat-ms",
    "seen-capacity",
    "first-seen-capacity",
    "relay-cache-mib",
    "sync-interval-ms",
    "fetch-timeout-ms",
    "link-delay-ms",
    "link-jitter-ms",
    "link-bandwidth-bps",
    "link-loss",
    "node-key",
    "rpc-bind",
    "rpc-user",
    "rpc-password",
    "metrics",
    "mine",
    "block-interval-ms",
    "mine-address",
    "max-mempool-bytes",
    "busy-wait-ms",
    "busy-backlog",
    "log-format",
    "unknown-key",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        prop::sample::select(vec![
            "\"regtest\"",
            "\"testnet\"",
            "\"mainnet\"",
            "\"announce\"",
            "\"push\"",
            "\"json\"",
            "\"/ip4/127.0.0.1/tcp/0\"",
            "\"/ip4/1.2.3.4/tcp/99999\"",
            "\"not a multiaddr\"",
            "\"127.0.0.1:0\"",
            "\"[::1]:8332\"",
            "\"\"",
            "[]",
            "[\"/ip4/127.0.0.1/tcp/1\"]",
            "{}",
            "\"abababababababababababababababababababababababababababababababab\"",
            "\"zz\"",
            "\"rumortest1qqqq\"",
            "\"u:p\"",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9 /:._-]{0,20}".prop_map(|s| format!("{s:?}")),
    ]
}

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Ok(file) = Settings::from_toml(text, Path::new("props.toml")) {
        if file.genesis_outputs.is_some_and(|n| n > 100_000) {
            return Ok(()); // building a huge genesis only costs time
        }
        let merged = Settings::default().over(file);
        let _ = merged
            .with_datadir(Path::new("/nonexistent/props"))
            .resolve();
    }
    Ok(())
}

#[test]
fn arbitrary_text_as_a_config_file() {
    run(
        "node: config file, arbitrary text",
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| check(&String::from_utf8_lossy(&bytes)),
    );
}

#[test]
fn generated_config_files_with_every_key() {
    run(
        "node: config file, every key with values of every shape",
        prop::collection::vec((prop::sample::select(KEYS), value()), 0..10),
        |pairs| {
            let text: String = pairs.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
            check(&text)
        },
    );
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[test]
fn arbitrary_command_lines() {
    run(
        "node: command-line flags, arbitrary arguments",
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(KEYS).prop_map(|k| format!("--{k}")),
                value(),
                "[ -~]{0,12}",
            ],
            0..8,
        ),
        |args| {
            if let Ok(cli) = Cli::try_parse_from(std::iter::once("rumord".to_owned()).chain(args)) {
                if cli.settings.genesis_outputs.is_some_and(|n| n > 100_000) {
                    return Ok(());
                }
                let _ = cli
                    .settings
                    .with_datadir(Path::new("/nonexistent/props"))
                    .resolve();
            }
            Ok(())
        },
    );
}

/// Documented bounds of numeric settings: (flag, lowest valid, highest
/// valid, what the error names).
const BOUNDS: &[(&str, u64, u64, &str)] = &[
    ("block-interval-ms", 1, u64::MAX, "--block-interval-ms"),
    (
        "max-mempool-bytes",
        1 << 20,
        u64::MAX,
        "--max-mempool-bytes",
    ),
    ("busy-wait-ms", 1, 60_000, "--busy-wait-ms"),
    ("busy-backlog", 1, 1_000_000, "--busy-backlog"),
    ("db-cache-mib", 1, 65_536, "--db-cache-mib"),
    ("status-interval-secs", 1, 86_400, "--status-interval-secs"),
    ("seen-capacity", 1, 10_000_000, "seen_capacity"),
    ("first-seen-capacity", 0, 10_000_000, "first_seen_capacity"),
    ("relay-cache-mib", 0, 1 << 14, "relay_cache_bytes"),
    ("sync-interval-ms", 1, u64::MAX, "sync_interval"),
    ("fetch-timeout-ms", 1, u64::MAX, "fetch_timeout"),
    ("batch-window-ms", 1, u64::MAX, "batch_window"),
    ("heartbeat-ms", 1, u64::MAX, "heartbeat"),
];

/// A value just outside a bound: below the lowest, or up to four times
/// past the highest.
fn outside() -> impl Strategy<Value = (&'static str, u64, &'static str)> {
    prop::sample::select(
        BOUNDS
            .iter()
            .filter(|(_, lo, hi, _)| *lo > 0 || *hi < u64::MAX)
            .copied()
            .collect::<Vec<_>>(),
    )
    .prop_flat_map(|(flag, lo, hi, names)| {
        let below = (lo > 0).then_some(0..lo);
        let above = (hi < u64::MAX).then(|| hi + 1..=hi.saturating_mul(4));
        let pick = match (below, above) {
            (Some(b), Some(a)) => prop_oneof![b.boxed(), a.boxed()].boxed(),
            (Some(b), None) => b.boxed(),
            (None, Some(a)) => a.boxed(),
            (None, None) => unreachable!("filtered above"),
        };
        pick.prop_map(move |v| (flag, v, names))
    })
}

/// A setting outside its documented bound is refused, with an error that
/// names the setting: never accepted, never a panic.
#[test]
fn values_outside_documented_bounds_are_refused_naming_the_setting() {
    run(
        "node: config, every documented bound",
        outside(),
        |(flag, value, names)| {
            let cli =
                Cli::try_parse_from(["rumord".to_owned(), format!("--{flag}"), value.to_string()])
                    .map_err(|e| {
                        TestCaseError::fail(format!("--{flag} {value} did not parse: {e}"))
                    })?;
            match cli
                .settings
                .with_datadir(Path::new("/nonexistent/props"))
                .resolve()
            {
                Ok(_) => Err(TestCaseError::fail(format!(
                    "--{flag} {value} was accepted"
                ))),
                Err(e) if e.to_string().contains(names) => Ok(()),
                Err(e) => Err(TestCaseError::fail(format!(
                    "--{flag} {value}: the error does not name {names}: {e}"
                ))),
            }
        },
    );
}
