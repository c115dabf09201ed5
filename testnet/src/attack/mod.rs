//! `rumor-testnet attack`: an adversarial peer against real `rumord`
//! processes. A target node relays between honest nodes (a star: honest
//! objects between them pass through the target only); a [`RawPeer`]
//! speaking the real protocols plays each attack class against the target
//! while honest transactions keep flowing. For every class it measures, from
//! the nodes' own RPC: that the target stays up, counts the bad input under
//! its reason, never relays it (the honest nodes see nothing of it), keeps
//! honest relay latency near a clean run's, and lowers the attacker's score
//! until it is disconnected — or, for policy refusals and objects that may
//! become valid later, does not punish it at all.
//!
//! - [`catalog`]: the classes (what must happen, anchors).
//! - [`classes`]: what each class sends.
//! - [`chain_classes`]: what the chain-side classes send (stale blocks,
//!   lies about the chain).
//! - [`objects`]: valid and invalid transactions and blocks.
//! - [`cluster`]: the target and honest `rumord` processes.
//! - [`connect_stall`]: `rpc-under-block-connect`, on a cluster of its own.
//! - [`divergent`]: `divergent-mempools`, on a cluster of its own.
//! - [`eclipse`]: `inbound-eclipse`, on a cluster of its own.
//! - [`measure`]: one class's run and its measurements; `persisted`: the
//!   class that restarts the target (bans outlive a restart).
//! - [`report`]: the table, the JSON result and `docs/reliability.md`.

pub mod catalog;
pub mod chain_classes;
pub mod classes;
pub mod cluster;
pub mod connect_stall;
pub mod divergent;
pub mod eclipse;
pub mod measure;
pub mod objects;
mod persisted;
pub mod report;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

pub use catalog::{CLASSES, ClassSpec, Expect};
pub use measure::{ClassResult, Latency};
pub use report::{AttackReport, render_markdown, render_table};

/// Why an attack run could not happen (a failing class is not an error: it
/// is reported in its row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// Bad arguments.
    #[error("{0}")]
    Args(String),
    /// The nodes could not be started.
    #[error("setup: {0}")]
    Setup(String),
    /// The attacking peer could not be set up or connect.
    #[error("attacking peer: {0}")]
    RawPeer(#[from] rumor_p2p::RawPeerError),
    /// A node's RPC failed.
    #[error("rpc: {0}")]
    Rpc(String),
    /// Files could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// An RPC failure, as an [`AttackError`].
pub(crate) fn rpc_err(e: impl std::fmt::Display) -> AttackError {
    AttackError::Rpc(e.to_string())
}

/// `rumor-testnet attack`.
#[derive(Debug, Clone, Args)]
pub struct AttackArgs {
    /// Attack classes to run (comma-separated names; default: all). See
    /// `--list`.
    #[arg(long, value_delimiter = ',')]
    pub class: Vec<String>,
    /// Run the fast subset CI runs.
    #[arg(long)]
    pub fast: bool,
    /// List the classes and exit.
    #[arg(long)]
    pub list: bool,
    /// The `rumord` binary (default: next to this one, built if needed).
    #[arg(long, value_name = "PATH")]
    pub rumord: Option<PathBuf>,
    /// Honest nodes around the target.
    #[arg(long, default_value_t = 3)]
    pub honest: usize,
    /// Honest latency probes per class (at least).
    #[arg(long, default_value_t = 5)]
    pub probes: usize,
    /// Where node data and logs go (default: a temporary directory, removed
    /// unless a class fails).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Write the result as JSON here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Render `docs/reliability.md` here, from this run (or `--from`) and the
    /// other reliability results.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Do not run: take the attack result from this JSON file (with `--markdown`).
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Results of the other reliability tests (`crash.json`, `disk.json`,
    /// `rpc.json`, written by the node's tests with `RUMOR_RELIABILITY_OUT`).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// The fuzzing record (`fuzz/results.json`, written by `fuzz/run.sh`).
    #[arg(long, value_name = "FILE")]
    pub fuzz: Option<PathBuf>,
}

impl AttackArgs {
    /// The classes selected.
    ///
    /// # Errors
    /// [`AttackError::Args`] for an unknown class name.
    pub fn selected(&self) -> Result<Vec<&'static ClassSpec>, AttackError> {
        if !self.class.is_empty() {
            return self
                .class
                .iter()
                .map(|n| {
                    catalog::find(n.trim()).ok_or_else(|| {
                        AttackError::Args(format!("unknown class `{n}` (see --list)"))
                    })
                })
                .collect();
        }
        Ok(CLASSES.iter().filter(|c| !self.fast || c.fast).collect())
    }
}

/// Genesis outputs of the attack network (each object spends one).
const GENESIS_OUTPUTS: u32 = 2_000;

/// Runs the selected classes against a fresh cluster.
///
/// # Errors
/// [`AttackError`] if the cluster cannot be started or measured at all.
pub async fn run(args: &AttackArgs) -> Result<AttackReport, AttackError> {
    let selected = args.selected()?;
    let rumord = crate::testbed::local::find_rumord(args.rumord.as_deref())
        .map_err(|e| AttackError::Setup(e.to_string()))?;
    let tmp;
    let workdir = match &args.workdir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("rumor-attack-{}", std::process::id()));
            tmp.clone()
        }
    };
    let mut cluster =
        cluster::Cluster::start(&rumord, &workdir, args.honest.max(2), GENESIS_OUTPUTS).await?;
    let mut objects = objects::Objects::new(GENESIS_OUTPUTS);
    let started = std::time::Instant::now();
    let clean = measure::clean_latency(&cluster, &mut objects, args.probes.max(5) * 2).await?;
    let mut results = Vec::new();
    for spec in selected {
        eprintln!("attack: {}", spec.name);
        let r = if spec.name == connect_stall::CLASS {
            // Its own cluster: a target with one runtime worker.
            connect_stall::run_class(spec, &rumord, &workdir.join(spec.name)).await?
        } else if spec.name == divergent::CLASS {
            // Its own cluster: its mempools end up different for good.
            divergent::run_class(spec, &rumord, &workdir.join(spec.name)).await?
        } else if spec.name == eclipse::CLASS {
            // Its own cluster: a target with a bootnode of its own.
            eclipse::run_class(spec, &rumord, &workdir.join(spec.name)).await?
        } else {
            measure::run_class(spec, &mut cluster, &mut objects, &clean, args.probes.max(3)).await?
        };
        eprintln!(
            "        {} ({})",
            if r.pass { "pass" } else { "FAIL" },
            r.failures.join("; ")
        );
        results.push(r);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alive = cluster.nodes[0].alive();
    let report = AttackReport::new(args.honest.max(2), clean, results, started.elapsed(), alive);
    cluster.stop().await;
    if report.all_pass() && args.workdir.is_none() {
        let _ = std::fs::remove_dir_all(&workdir);
    } else {
        eprintln!("attack: node logs in {}", workdir.display());
    }
    Ok(report)
}

/// The `attack` command: runs (or loads with `--from`) the attack, prints
/// the table, and writes `--out` and `--markdown`. Returns whether every
/// class passed.
///
/// # Errors
/// [`AttackError`] if nothing could be run or written.
pub fn command(args: &AttackArgs) -> Result<bool, AttackError> {
    if args.list {
        for c in CLASSES {
            println!(
                "{:<22} {:<9} {}{}",
                c.name,
                format!("{:?}", c.expect).to_lowercase(),
                c.what,
                if c.fast { " [fast]" } else { "" }
            );
        }
        return Ok(true);
    }
    let report = match &args.from {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| AttackError::Io(format!("{}: {e}", path.display())))?;
            serde_json::from_slice::<AttackReport>(&bytes)
                .map_err(|e| AttackError::Io(format!("{}: {e}", path.display())))?
        }
        None => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| AttackError::Setup(format!("tokio runtime: {e}")))?;
            rt.block_on(run(args))?
        }
    };
    print!("{}", render_table(&report));
    let write = |path: &std::path::Path, text: &str| {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| AttackError::Io(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, text).map_err(|e| AttackError::Io(format!("{}: {e}", path.display())))
    };
    if let Some(out) = &args.out {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| AttackError::Io(e.to_string()))?;
        write(out, &json)?;
        eprintln!("wrote {}", out.display());
    }
    if let Some(md) = &args.markdown {
        let text = render_markdown(Some(&report), args.results.as_deref(), args.fuzz.as_deref());
        write(md, &text)?;
        eprintln!("wrote {}", md.display());
    }
    Ok(report.all_pass())
}
