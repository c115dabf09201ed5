//! Local, docker-compose and Docker Swarm testnets, and the propagation report.
//!
//! `rumor-testnet run` starts N `rumord` (local processes by default, or a
//! docker-compose network or Swarm stack), connects them in a chosen topology, shapes their
//! links, injects signed transactions and blocks, injects faults (kills,
//! partitions), waits for every live node to hold every accepted object, and
//! writes a results folder: `params.json`, `summary.json`, `objects.csv`,
//! per-node NDJSON, `cdf.svg`, and a terminal table. `report DIR` renders a
//! results folder again.
//!
//! Module map:
//! - [`plan`]: the command line and its validation.
//! - [`cluster`], [`local`], [`compose`], [`swarm`]: running the nodes;
//!   [`image`]: the image the docker backends run.
//! - [`rpc`]: the nodes' JSON-RPC.
//! - [`workload`]: faucet transactions; [`inject`]: submitting them, in
//!   batches per node when the rate calls for it.
//! - [`runner`]: one run, start to teardown; [`cpu`]: the machine's and
//!   the nodes' CPU over its measurement window (the saturation flag).
//! - [`report`]: the metrics (the schema is `rumor-sim`'s, shared with the
//!   simulator).
//! - [`output`]: per-node files (`rumor-sim` writes the shared ones, the
//!   tables and the CDF plots).
//! - [`sweep`]: `rumor-testnet sweep`, each relay mode's knee.
//! - [`scale`]: `rumor-testnet scale`, propagation against the number of
//!   nodes beside the simulator's prediction.

pub mod cluster;
pub mod compose;
pub mod cpu;
pub mod image;
pub mod inject;
pub mod local;
pub mod output;
pub mod plan;
pub mod report;
pub mod rpc;
pub mod runner;
pub mod scale;
pub mod swarm;
pub mod sweep;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

pub use plan::{Backend, PlanError, Relay, RunArgs, Topology};
pub use report::{ObjectRow, SCHEMA, Summary};

/// Set by Ctrl-C: the run stops injecting, collects what it has, and cleans up.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The code version baked in at build time.
pub fn code_version() -> String {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        option_env!("RUMOR_GIT_REV").unwrap_or("unknown revision")
    )
}

/// Why a testnet command failed.
#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    /// Impossible parameters (nothing was started).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The run could not start or collect.
    #[error(transparent)]
    Run(#[from] runner::RunError),
    /// Results could not be written or read.
    #[error(transparent)]
    Output(#[from] output::OutputError),
}

/// What `params.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    /// The run id.
    pub run_id: String,
    /// The code version.
    pub code_version: String,
    /// When it started (Unix ns).
    pub started_ns: u64,
    /// The command line, as parsed.
    pub args: serde_json::Value,
    /// `RUMOR_*` variables in the environment, which local nodes inherit
    /// (`rumord` reads its settings from them); secrets are redacted.
    #[serde(default)]
    pub node_env: std::collections::BTreeMap<String, String>,
}

/// The `RUMOR_*` environment, with passwords redacted.
fn node_env() -> std::collections::BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("RUMOR_"))
        .map(|(k, v)| {
            let v = if k.contains("PASSWORD") {
                "(redacted)".to_owned()
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

/// The outcome of `run`.
#[derive(Debug)]
pub struct Outcome {
    /// The results folder.
    pub dir: PathBuf,
    /// The summaries (one, or announce and push with `--compare`).
    pub summaries: Vec<Summary>,
    /// What to print.
    pub table: String,
}

impl Outcome {
    /// Every run kept every object.
    pub fn ok(&self) -> bool {
        self.summaries.iter().all(|s| s.ok)
    }
}

fn shaping(args: &RunArgs) -> report::Shaping {
    let netem = compose::netem_available();
    let shaped = !args.link_delay.is_zero() || args.link_loss > 0.0 || args.link_bandwidth > 0;
    report::Shaping {
        mode: if shaped { "node".into() } else { "none".into() },
        netem_available: netem,
        why: if !shaped {
            "no shaping asked for".into()
        } else if netem {
            "rumor's own per-connection emulation (netem exists, but the nodes of one host share an interface and the scratch image has no tc)".into()
        } else {
            "rumor's own per-connection emulation (this kernel has no sch_netem)".into()
        },
        delay_ms: args.link_delay.as_secs_f64() * 1000.0,
        jitter_ms: args.link_jitter.as_secs_f64() * 1000.0,
        loss: args.link_loss,
        bandwidth_bps: args.link_bandwidth,
    }
}

async fn one(
    args: &RunArgs,
    relay: Relay,
    dir: &Path,
    run_id: &str,
) -> Result<(Summary, Vec<ObjectRow>), TestbedError> {
    std::fs::create_dir_all(dir).map_err(|source| output::OutputError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let collected = runner::run(args, relay, dir, run_id).await?;
    let l = args.link_delay.as_secs_f64() * 1000.0;
    // Push: the body crosses the link once. Announce and batch: the
    // announcement, the getdata and the body (a batch also waits for its
    // window, which the bound leaves out: it is part of what is measured).
    // Hybrid is held to push's bound, its aim (the tree pushes each body
    // once per hop).
    let per_hop = match relay {
        Relay::Push | Relay::Hybrid => l,
        Relay::Announce | Relay::Batch => 3.0 * l,
    };
    let (summary, rows) = report::analyze(&collected, relay, run_id, shaping(args), per_hop);
    output::write_json(&dir.join("summary.json"), &summary)?;
    output::write_objects(&dir.join("objects.csv"), &rows)?;
    output::write_nodes(&dir.join("nodes"), &collected)?;
    rumor_sim::write_cdf(&dir.join("cdf.svg"), &rows, &summary)?;
    if !args.keep_data {
        let _ = std::fs::remove_dir_all(dir.join("data"));
        let _ = std::fs::remove_dir_all(dir.join("compose").join("image"));
    }
    Ok((summary, rows))
}

/// Creates the results folder `<out>/<base>`, or `<base>-2`, `-3`, … if
/// that exists: a run never writes into another run's folder (two runs
/// started in the same second share a base id). Returns the run id and
/// its folder.
///
/// # Errors
/// [`PlanError::Out`] if no folder can be created.
pub fn new_run_dir(out: &Path, base: &str) -> Result<(String, PathBuf), PlanError> {
    std::fs::create_dir_all(out).map_err(|_| PlanError::Out(out.to_owned()))?;
    for k in 1..10_000u32 {
        let id = if k == 1 {
            base.to_owned()
        } else {
            format!("{base}-{k}")
        };
        let dir = out.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => break,
        }
    }
    Err(PlanError::Out(out.to_owned()))
}

/// `rumor-testnet run`.
///
/// # Errors
/// [`TestbedError`]: bad parameters (before anything starts), a cluster that
/// cannot start, or results that cannot be written.
pub async fn run(args: &RunArgs) -> Result<Outcome, TestbedError> {
    let mut args = args.clone();
    args.normalize();
    let args = &args;
    args.validate()?;
    let started_ns = rumor_p2p::unix_nanos();
    let secs = started_ns / 1_000_000_000;
    let mode = if args.compare {
        "compare"
    } else {
        args.relay.as_str()
    };
    let (run_id, dir) = new_run_dir(
        &args.out,
        &format!("{secs}-{mode}-n{}-s{}", args.nodes, args.seed),
    )?;
    let params = Params {
        run_id: run_id.clone(),
        code_version: code_version(),
        started_ns,
        args: serde_json::json!({
            "backend": args.backend, "nodes": args.nodes, "topology": args.topology, "degree": args.degree(),
            "relay": args.relay, "compare": args.compare, "seed": args.seed, "txs": args.txs, "tx_rate": args.tx_rate,
            "origin": args.origin, "block_interval_ms": args.block_interval.as_millis() as u64, "miners": args.miners,
            "link_delay_ms": args.link_delay.as_secs_f64() * 1000.0, "link_jitter_ms": args.link_jitter.as_secs_f64() * 1000.0,
            "link_loss": args.link_loss, "link_bandwidth_bps": args.link_bandwidth, "mesh_d": args.mesh_d(),
            "sync_interval_ms": args.sync_interval.as_millis() as u64, "kills": args.kills, "partitions": args.partitions,
            "settle_ms": args.settle.as_millis() as u64, "batch_window_ms": args.batch_window.as_millis() as u64, "eager_degree": args.eager_degree,
            "duration_ms": args.duration.map(|d| d.as_millis() as u64),
            "restart_every_ms": args.restart_every.map(|d| d.as_millis() as u64), "restart_down_ms": args.restart_down.as_millis() as u64,
            "partition_every_ms": args.partition_every.map(|d| d.as_millis() as u64), "partition_for_ms": args.partition_for.as_millis() as u64,
            "image": args.image, "stack": args.stack,
        }),
        node_env: node_env(),
    };
    output::write_json(&dir.join("params.json"), &params)?;
    let mut summaries = Vec::new();
    let table = if args.compare {
        let mut t = String::new();
        let mut runs = Vec::new();
        for relay in Relay::ALL {
            let name = relay.as_str();
            let (s, rows) = one(args, relay, &dir.join(name), &format!("{run_id}-{name}")).await?;
            t.push_str(&output::table(&s));
            t.push('\n');
            summaries.push(s.clone());
            runs.push((s, rows));
            if interrupted() {
                break;
            }
        }
        rumor_sim::write_compare_cdf(&dir.join("cdf.svg"), &runs)?;
        t.push_str(&output::compare_table(&summaries));
        rumor_sim::write_compare_json(&dir.join("compare.json"), &summaries)?;
        t
    } else {
        let (s, _) = one(args, args.relay, &dir, &run_id).await?;
        let t = output::table(&s);
        summaries.push(s);
        t
    };
    Ok(Outcome {
        dir,
        summaries,
        table,
    })
}

/// `rumor-testnet report DIR`: renders a results folder again (and redraws
/// `cdf.svg`, for a comparison the combined one; for a sweep its table and
/// `sweep.svg`).
///
/// # Errors
/// [`TestbedError::Output`] if the folder is not a results folder.
pub fn report(dir: &Path) -> Result<String, TestbedError> {
    let single = dir.join("summary.json");
    if single.is_file() {
        let s: Summary = output::read_json(&single)?;
        let rows = output::read_objects(&dir.join("objects.csv"))?;
        rumor_sim::write_cdf(&dir.join("cdf.svg"), &rows, &s)?;
        return Ok(output::table(&s));
    }
    let scale_json = dir.join("scale.json");
    if scale_json.is_file() {
        let s: rumor_sim::Scale = output::read_json(&scale_json)?;
        scale::write(dir, &s)?;
        return Ok(scale::markdown(&s));
    }
    let sweep_json = dir.join("sweep.json");
    if sweep_json.is_file() {
        let s: sweep::Sweep = output::read_json(&sweep_json)?;
        sweep::write(dir, &s)?;
        return Ok(sweep::markdown(&s));
    }
    let mut summaries = Vec::new();
    let mut runs = Vec::new();
    for relay in Relay::ALL {
        let path = dir.join(relay.as_str()).join("summary.json");
        if path.is_file() {
            let s = output::read_json::<Summary>(&path)?;
            let rows = output::read_objects(&dir.join(relay.as_str()).join("objects.csv"))?;
            summaries.push(s.clone());
            runs.push((s, rows));
        }
    }
    if summaries.is_empty() {
        // Neither a run nor a comparison: report the file that was expected.
        let _: Summary = output::read_json(&single)?;
    }
    rumor_sim::write_compare_cdf(&dir.join("cdf.svg"), &runs)?;
    let mut t = String::new();
    for s in &summaries {
        t.push_str(&output::table(s));
        t.push('\n');
    }
    t.push_str(&output::compare_table(&summaries));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_same_second_get_their_own_folders() {
        let out = tempfile::tempdir().unwrap();
        let (a, da) = new_run_dir(out.path(), "1700000000-announce-n16-s1").unwrap();
        std::fs::write(da.join("summary.json"), "first").unwrap();
        let (b, db) = new_run_dir(out.path(), "1700000000-announce-n16-s1").unwrap();
        let (c, _) = new_run_dir(out.path(), "1700000000-announce-n16-s1").unwrap();
        assert_eq!(a, "1700000000-announce-n16-s1");
        assert_eq!(b, "1700000000-announce-n16-s1-2");
        assert_eq!(c, "1700000000-announce-n16-s1-3");
        assert_ne!(da, db);
        assert_eq!(
            std::fs::read_to_string(da.join("summary.json")).unwrap(),
            "first",
            "the first run's results are untouched"
        );
    }
}
