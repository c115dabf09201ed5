//! `rumor-testnet sim-relay` and `rumor-testnet compare`: the command lines
//! of rumor-sim's relay-driven mode (every node runs rumor's relay over
//! simulated links), and the side-by-side of a measured and a simulated
//! results folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use rumor_sim::net::{self, CostModel, LinkModel, NetParamError, NetParams, NetRun, WireSizes};
use rumor_sim::{Relay, RunSummary, Topology};

use crate::testbed::plan::{parse_bandwidth, parse_duration, parse_fraction};

/// `rumor-testnet sim-relay`.
#[derive(Debug, Clone, Args)]
pub struct SimRelayArgs {
    /// Simulate this testnet run: its results folder or its `params.json`
    /// (topology, seed, degree, links, relay mode(s), workload); the flags
    /// below that describe a run are then ignored, the model flags apply.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Nodes.
    #[arg(long, short = 'n', default_value_t = 16)]
    pub nodes: usize,
    /// How they connect: random, ring or line.
    #[arg(long, default_value_t = Topology::Random)]
    pub topology: Topology,
    /// Links per node (random topology) [default: 4, or nodes-1 if fewer].
    #[arg(long)]
    pub degree: Option<usize>,
    /// gossipsub D [default: 6, or nodes-1 if fewer].
    #[arg(long)]
    pub mesh_d: Option<usize>,
    /// Relay mode: announce, push, batch or hybrid.
    #[arg(long, default_value_t = Relay::Announce)]
    pub relay: Relay,
    /// Run announce, push and batch on the same seed and topology.
    #[arg(long)]
    pub compare: bool,
    /// Topology, origins, jitter and loss.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Transactions.
    #[arg(long, default_value_t = 200)]
    pub txs: usize,
    /// Transactions per second.
    #[arg(long, default_value_t = 50.0)]
    pub tx_rate: f64,
    /// Submit every transaction to this node.
    #[arg(long)]
    pub origin: Option<usize>,
    /// One-way link delay.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub link_delay: Duration,
    /// ± jitter, uniform per message.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub link_jitter: Duration,
    /// Messages dropped on receipt (`1%`).
    #[arg(long, default_value = "0", value_parser = parse_fraction)]
    pub link_loss: f64,
    /// Per-link bandwidth (`20mbit`; 0: unlimited).
    #[arg(long, default_value = "0", value_parser = parse_bandwidth)]
    pub link_bandwidth: u64,
    /// Batch mode's window.
    #[arg(long, default_value = "25ms", value_parser = parse_duration)]
    pub batch_window: Duration,
    /// CPU per transaction validated, µs (docs/simulator.md: measured with
    /// `cargo bench -p rumor-chain`).
    #[arg(long, default_value_t = 32)]
    pub validation_us: u64,
    /// CPU per message handled, µs.
    #[arg(long, default_value_t = 0)]
    pub message_us: u64,
    /// Wait before a received message is handled, not taking the CPU (a
    /// loaded machine's scheduling delay), µs.
    #[arg(long, default_value_t = 0)]
    pub wait_us: u64,
    /// Cores all nodes share (default: one per node).
    #[arg(long)]
    pub cores: Option<usize>,
    /// A transaction's encoded size, bytes.
    #[arg(long, default_value_t = WireSizes::default().tx)]
    pub tx_bytes: usize,
    /// Run at each of these node counts (random topology) and fit c100
    /// against ln n.
    #[arg(long, value_delimiter = ',')]
    pub scale: Vec<usize>,
    /// Threads to simulate on (0: one per core; at most 256,
    /// `rumor_sim::net::MAX_THREADS`). The result is the same for any number.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub threads: u16,
    /// Where results folders go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// Why `sim-relay` or `compare` failed.
#[derive(Debug, thiserror::Error)]
pub enum SimRelayError {
    /// Parameters that break a rule.
    #[error(transparent)]
    Params(#[from] NetParamError),
    /// Results that cannot be read or written.
    #[error(transparent)]
    Results(#[from] rumor_sim::ResultsError),
    /// No results folder could be made.
    #[error(transparent)]
    Plan(#[from] crate::testbed::PlanError),
    /// A folder with no summary in it.
    #[error("{0}: no summary.json (nor announce/, push/, batch/ with one)")]
    NoSummary(PathBuf),
}

impl SimRelayArgs {
    fn cost(&self) -> CostModel {
        CostModel {
            validation: Duration::from_micros(self.validation_us),
            message: Duration::from_micros(self.message_us),
            wait: Duration::from_micros(self.wait_us),
            cores: self.cores,
        }
    }

    fn sizes(&self) -> WireSizes {
        WireSizes {
            tx: self.tx_bytes,
            ..WireSizes::default()
        }
    }

    /// The runs the flags describe (one per mode with `--compare`).
    fn params(&self, nodes: usize) -> Vec<NetParams> {
        let modes = if self.compare {
            Relay::ALL.to_vec()
        } else {
            vec![self.relay]
        };
        modes
            .into_iter()
            .map(|relay| NetParams {
                nodes,
                topology: self.topology,
                degree: self.degree.unwrap_or(4).min(nodes.saturating_sub(1)),
                mesh_d: self.mesh_d.unwrap_or(6).min(nodes.saturating_sub(1)),
                relay,
                batch_window: self.batch_window,
                seed: self.seed,
                txs: self.txs,
                tx_rate: self.tx_rate,
                origin: self.origin,
                link: LinkModel {
                    delay: self.link_delay,
                    jitter: self.link_jitter,
                    loss: self.link_loss,
                    bandwidth_bps: self.link_bandwidth,
                },
                cost: self.cost(),
                sizes: self.sizes(),
                ..NetParams::default()
            })
            .collect()
    }
}

/// The runs a testnet results folder (or its `params.json`) describes.
///
/// # Errors
/// [`SimRelayError`] if it cannot be read or cannot be simulated.
pub fn params_from_testnet(
    from: &Path,
    cost: CostModel,
    sizes: WireSizes,
) -> Result<Vec<NetParams>, SimRelayError> {
    let file = if from.is_dir() {
        from.join("params.json")
    } else {
        from.to_owned()
    };
    let params: crate::testbed::Params = rumor_sim::read_json(&file)?;
    let mut out = Vec::new();
    for relay in NetParams::testnet_relays(&params.args)? {
        out.push(NetParams::from_testnet_args(
            &params.args,
            relay,
            cost,
            sizes,
        )?);
    }
    Ok(out)
}

fn simulate_all(params: &[NetParams], threads: usize) -> Result<Vec<NetRun>, SimRelayError> {
    params.iter().map(|p| run_one(p, threads)).collect()
}

/// Simulates `p` on `threads` threads (0: one per core).
fn run_one(p: &NetParams, threads: usize) -> Result<NetRun, SimRelayError> {
    Ok(match threads {
        0 => net::simulate(p)?,
        t => net::simulate_on(p, t)?,
    })
}

/// `rumor-testnet sim-relay`: runs, writes the results folder(s), and
/// returns what to print.
///
/// # Errors
/// [`SimRelayError`].
pub fn command(args: &SimRelayArgs) -> Result<String, SimRelayError> {
    if !args.scale.is_empty() {
        return scale(args);
    }
    let (params, simulates) = match &args.from {
        Some(from) => (
            params_from_testnet(from, args.cost(), args.sizes())?,
            Some(from.as_path()),
        ),
        None => (args.params(args.nodes), None),
    };
    let runs = simulate_all(&params, args.threads.into())?;
    let first = &params[0];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mode = if params.len() > 1 {
        "compare"
    } else {
        first.relay.as_str()
    };
    let (run_id, dir) = crate::testbed::new_run_dir(
        &args.out,
        &format!("{secs}-sim-{mode}-n{}-s{}", first.nodes, first.seed),
    )?;
    let summaries = net::write_runs(&dir, &run_id, &runs, simulates)?;
    let mut out = String::new();
    for s in &summaries {
        out.push_str(&rumor_sim::table(s));
        out.push('\n');
    }
    if summaries.len() > 1 {
        out.push_str(&rumor_sim::compare_table(&summaries));
    }
    out.push_str("results: ");
    out.push_str(&dir.display().to_string());
    out.push('\n');
    Ok(out)
}

/// One row of a scale sweep.
#[derive(Debug, Clone)]
pub struct ScalePoint {
    /// Nodes.
    pub nodes: usize,
    /// The run's summary.
    pub summary: RunSummary,
    /// Mean hops.
    pub hops: f64,
}

/// The least-squares fit `y = a + b ln n`: (a, b) ([`rumor_sim::LogFit`]).
pub fn fit_log(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    rumor_sim::LogFit::of(points).map(|f| (f.a, f.b))
}

fn scale(args: &SimRelayArgs) -> Result<String, SimRelayError> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let modes = args.params(args.scale[0]).len();
    for m in 0..modes {
        let mut points = Vec::new();
        for &n in &args.scale {
            let p = args.params(n).swap_remove(m);
            let started = std::time::Instant::now();
            let run = run_one(&p, args.threads.into())?;
            let wall = started.elapsed().as_secs_f64();
            let (s, _) = net::summarize(&run, &format!("scale-n{n}"));
            let h = net::hops(&run);
            let _ = writeln!(
                out,
                "{:<9} n {:>6}  c100 p50 {:>8.1} ms  p99 {:>8.1} ms  duplicates/node/tx {:.3}  bytes/node/tx {:>7.0}  mean hops {:.2}  lost {}  ({} events, {:.1} s wall)",
                p.relay.as_str(),
                n,
                s.txs.c100_ms.p50.unwrap_or(f64::NAN),
                s.txs.c100_ms.p99.unwrap_or(f64::NAN),
                s.redundancy
                    .as_ref()
                    .map_or(0.0, |r| r.duplicate_bodies_per_node_per_tx),
                s.redundancy
                    .as_ref()
                    .map_or(0.0, |r| r.bytes.wire_in + r.bytes.wire_out),
                h.mean,
                s.txs.lost,
                run.events,
                wall
            );
            if let Some(c) = s.txs.c100_ms.p50 {
                points.push((n as f64, c));
            }
        }
        if let Some((a, b)) = fit_log(&points) {
            let _ = writeln!(
                out,
                "{:<9} fit: c100 p50 = {a:.1} + {b:.1} ln n ms (slope {b:.1} ms per e-fold of n)",
                args.params(args.scale[0])[m].relay.as_str()
            );
        }
    }
    Ok(out)
}

/// Reads a results folder's summaries: one run, or one per mode.
///
/// # Errors
/// [`SimRelayError`] when there is none or one is unreadable.
pub fn summaries(dir: &Path) -> Result<Vec<RunSummary>, SimRelayError> {
    let single = dir.join("summary.json");
    if single.is_file() {
        return Ok(vec![rumor_sim::read_json(&single)?]);
    }
    let mut out = Vec::new();
    for relay in Relay::ALL {
        let p = dir.join(relay.as_str()).join("summary.json");
        if p.is_file() {
            out.push(rumor_sim::read_json(&p)?);
        }
    }
    if out.is_empty() {
        return Err(SimRelayError::NoSummary(dir.to_owned()));
    }
    Ok(out)
}

/// `rumor-testnet compare MEASURED SIMULATED`: the table, and whether every
/// judged figure agrees.
///
/// # Errors
/// [`SimRelayError`] when a folder cannot be read.
pub fn compare(measured: &Path, simulated: &Path) -> Result<(String, bool), SimRelayError> {
    let rows = rumor_sim::agreement(&summaries(measured)?, &summaries(simulated)?);
    let ok = rows.iter().all(|r| r.agrees() != Some(false));
    Ok((rumor_sim::render_agreement(&rows), ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fit_recovers_its_line() {
        let pts: Vec<(f64, f64)> = [100.0, 1000.0, 10_000.0]
            .iter()
            .map(|n: &f64| (*n, 40.0 + 150.0 * n.ln()))
            .collect();
        let (a, b) = fit_log(&pts).unwrap();
        assert!(
            (a - 40.0).abs() < 1e-6 && (b - 150.0).abs() < 1e-6,
            "{a} {b}"
        );
        assert_eq!(fit_log(&pts[..1]), None);
    }
}
