//! `rumor-testnet scale`: how propagation grows with the number of nodes on
//! this machine. One fresh testnet run of local processes per node count,
//! the same everything else, each simulated in-process by the relay-driven
//! simulator on the same topology, seed and workload; one table
//! (`scale.md`, `scale.csv`, `scale.json`) and one plot (`scale.svg`) of c50
//! and c100, efficiency and per-node CPU against n, with the fit of c100
//! against ln n and each run's saturation flag.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Parser};
use rumor_sim::net::{self, CostModel, WireSizes};
use rumor_sim::{LogFit, Scale, ScaleRow};

use super::output::{self, OutputError};
use super::plan::{PlanError, Relay, RunArgs, parse_duration};
use super::{TestbedError, interrupted, new_run_dir};

/// `rumor-testnet scale`.
#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Node counts, comma-separated, each at least 2.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    pub nodes: Vec<usize>,
    /// Transactions per run.
    #[arg(long, default_value_t = 100)]
    pub txs: usize,
    /// Their rate, tx/s, for the whole network.
    #[arg(long, default_value_t = 20.0)]
    pub tx_rate: f64,
    /// One-way delay of every link.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub link_delay: Duration,
    /// Relay mode.
    #[arg(long, default_value_t = Relay::Announce)]
    pub relay: Relay,
    /// Links per node (random topology) [default: 4].
    #[arg(long)]
    pub degree: Option<usize>,
    /// Seed of the topologies, origins and keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How long each run may take to settle after its workload.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub settle: Duration,
    /// The simulator's CPU per transaction validated, µs (as `sim-relay`).
    #[arg(long, default_value_t = 32)]
    pub validation_us: u64,
    /// The `rumord` binary (default: built by cargo next to this one).
    #[arg(long)]
    pub rumord: Option<PathBuf>,
    /// Where results go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// `run`'s defaults, as its command line gives them.
#[derive(Parser)]
struct RunDefaults {
    #[command(flatten)]
    run: RunArgs,
}

impl ScaleArgs {
    /// The `run` of `nodes` nodes, writing into `out`.
    fn run_args(&self, nodes: usize, out: &Path) -> Result<RunArgs, PlanError> {
        let mut run = RunDefaults::try_parse_from(["run"])
            .map_err(|e| PlanError::Scale(e.to_string()))?
            .run;
        run.nodes = nodes;
        run.txs = self.txs;
        run.tx_rate = self.tx_rate;
        run.link_delay = self.link_delay;
        run.relay = self.relay;
        run.degree = self.degree;
        run.seed = self.seed;
        run.settle = self.settle;
        run.rumord.clone_from(&self.rumord);
        run.out = out.to_owned();
        run.quiet = true;
        run.normalize();
        run.validate()?;
        Ok(run)
    }

    /// Checks every run's parameters before any starts.
    ///
    /// # Errors
    /// [`PlanError`] naming the first bad one.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.nodes.is_empty() {
            return Err(PlanError::Scale("--nodes needs at least one count".into()));
        }
        if let Some(n) = self.nodes.iter().find(|n| **n < 2) {
            return Err(PlanError::Scale(format!(
                "--nodes {n}: every count must be at least 2"
            )));
        }
        for &n in &self.nodes {
            self.run_args(n, &self.out)?;
        }
        Ok(())
    }
}

/// Runs every node count; returns the folder, the results and the table.
///
/// # Errors
/// Bad parameters (before anything starts), a run that cannot start, or
/// results that cannot be written.
pub async fn scale(args: &ScaleArgs) -> Result<(PathBuf, Scale, String), TestbedError> {
    args.validate()?;
    let secs = rumor_p2p::unix_nanos() / 1_000_000_000;
    let (id, dir) = new_run_dir(
        &args.out,
        &format!("{secs}-scale-{}-s{}", args.relay.as_str(), args.seed),
    )?;
    let first = args.run_args(args.nodes[0], &dir)?;
    let mut result = Scale {
        id,
        relay: args.relay,
        txs: args.txs,
        tx_rate: args.tx_rate,
        link_delay_ms: args.link_delay.as_secs_f64() * 1000.0,
        degree: first.degree(),
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        rows: Vec::new(),
    };
    let cost = CostModel {
        validation: Duration::from_micros(args.validation_us),
        message: Duration::ZERO,
        wait: Duration::ZERO,
        // The protocol's own prediction: a core per node, no machine limit.
        cores: None,
    };
    for &n in &args.nodes {
        if interrupted() {
            break;
        }
        eprintln!("scale: {n} nodes");
        let started = Instant::now();
        let outcome = super::run(&args.run_args(n, &dir)?).await?;
        let wall_s = started.elapsed().as_secs_f64();
        let Some(measured) = outcome.summaries.first() else {
            continue;
        };
        let simulated = match simulate(&outcome.dir, cost) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("  cannot simulate {}: {e}", outcome.dir.display());
                None
            }
        };
        let rel = outcome
            .dir
            .strip_prefix(&dir)
            .unwrap_or(&outcome.dir)
            .display()
            .to_string();
        let row = ScaleRow::of(measured, simulated.as_ref(), wall_s, rel);
        eprintln!("  {}", row_line(&row));
        result.rows.push(row);
        write(&dir, &result)?;
    }
    write(&dir, &result)?;
    let table = markdown(&result);
    Ok((dir, result, table))
}

/// The relay-driven simulation of the run in `run_dir` (its `params.json`):
/// its summary, written nowhere.
fn simulate(
    run_dir: &Path,
    cost: CostModel,
) -> Result<rumor_sim::RunSummary, crate::sim_relay::SimRelayError> {
    let params = crate::sim_relay::params_from_testnet(run_dir, cost, WireSizes::default())?;
    let p = params
        .into_iter()
        .next()
        .ok_or_else(|| crate::sim_relay::SimRelayError::NoSummary(run_dir.to_owned()))?;
    let run = net::simulate(&p)?;
    Ok(net::summarize(&run, "simulated").0)
}

/// Writes `scale.json`, `scale.csv`, `scale.md` and `scale.svg` into `dir`.
///
/// # Errors
/// [`OutputError`].
pub fn write(dir: &Path, s: &Scale) -> Result<(), OutputError> {
    output::write_json(&dir.join("scale.json"), s)?;
    let f = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    let mut csv = String::from(
        "nodes,diameter,c50_p50_ms,c50_p99_ms,c100_p50_ms,c100_p99_ms,ideal_p99_ms,efficiency_p99,lost,node_cpu_ms_per_s,machine_busy_pct,saturated,sim_c50_p50_ms,sim_c100_p50_ms,sim_c100_p99_ms,sim_efficiency_p99,wall_s,dir\n",
    );
    for r in &s.rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.1},{}",
            r.nodes,
            r.diameter.map(|d| d.to_string()).unwrap_or_default(),
            f(r.c50_p50_ms),
            f(r.c50_p99_ms),
            f(r.c100_p50_ms),
            f(r.c100_p99_ms),
            f(r.ideal_p99_ms),
            f(r.efficiency_p99),
            r.lost,
            f(r.node_cpu_ms_per_s),
            f(r.machine_busy_pct),
            r.saturated,
            f(r.sim_c50_p50_ms),
            f(r.sim_c100_p50_ms),
            f(r.sim_c100_p99_ms),
            f(r.sim_efficiency_p99),
            r.wall_s,
            r.dir
        );
    }
    let path = dir.join("scale.csv");
    std::fs::write(&path, csv).map_err(|source| OutputError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let md = dir.join("scale.md");
    std::fs::write(&md, markdown(s)).map_err(|source| OutputError::Io {
        path: md.display().to_string(),
        source,
    })?;
    rumor_sim::write_scale(&dir.join("scale.svg"), s)?;
    Ok(())
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn row_line(r: &ScaleRow) -> String {
    format!(
        "c100 p50 {} ms, p99 {} ms (simulated {} / {}), efficiency p99 {}, lost {}, CPU per node {} ms/s, machine {}{}",
        ms(r.c100_p50_ms),
        ms(r.c100_p99_ms),
        ms(r.sim_c100_p50_ms),
        ms(r.sim_c100_p99_ms),
        ratio(r.efficiency_p99),
        r.lost,
        ratio(r.node_cpu_ms_per_s),
        r.machine_busy_pct
            .map_or_else(|| "-".into(), |b| format!("{b:.0} % busy")),
        if r.saturated { ", SATURATED" } else { "" }
    )
}

fn fit_line(name: &str, fit: Option<LogFit>) -> String {
    fit.map_or_else(
        || format!("- {name}: fewer than two node counts to fit\n"),
        |f| {
            // A fitted intercept within half a millisecond of 0 prints as 0, not -0.
            let a = if f.a.abs() < 0.5 { 0.0 } else { f.a };
            format!(
                "- {name}: c100 p50 ≈ {:.0} + {:.1} ln n ms (slope {:.1} ms per e-fold of n, {:.1} ms per doubling; {} points)\n",
                a,
                f.b,
                f.b,
                f.b * std::f64::consts::LN_2,
                f.points
            )
        },
    )
}

/// The scale run as a markdown table, with the log n fits.
pub fn markdown(s: &Scale) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} relay, {} txs at {:.0} tx/s, {:.0} ms links, random graph of degree {}, local processes on {} cores; simulated: rumor-sim's relay-driven mode on the same topology, seed and workload, a core per node.\n",
        s.relay.as_str(),
        s.txs,
        s.tx_rate,
        s.link_delay_ms,
        s.degree,
        s.cores
    );
    out.push_str("| nodes | diameter | c50 p50 ms | c100 p50 ms | c100 p99 ms | ideal p99 ms | efficiency p99 | lost | CPU/node ms/s | machine busy | simulated c100 p50 / p99 ms | simulated efficiency p99 |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &s.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} / {} | {} |",
            r.nodes,
            r.diameter.map_or_else(|| "-".into(), |d| d.to_string()),
            ms(r.c50_p50_ms),
            ms(r.c100_p50_ms),
            ms(r.c100_p99_ms),
            ms(r.ideal_p99_ms),
            ratio(r.efficiency_p99),
            r.lost,
            r.node_cpu_ms_per_s
                .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
            r.machine_busy_pct
                .map_or_else(|| "-".into(), |b| format!("{b:.0} %")),
            if r.saturated { " **saturated**" } else { "" },
            ms(r.sim_c100_p50_ms),
            ms(r.sim_c100_p99_ms),
            ratio(r.sim_efficiency_p99),
        );
    }
    out.push('\n');
    out.push_str(&fit_line("measured", s.fit_measured(false)));
    if s.rows.iter().any(|r| r.saturated) {
        out.push_str(&fit_line(
            "measured, unsaturated runs only",
            s.fit_measured(true),
        ));
    }
    out.push_str(&fit_line("simulated", s.fit_simulated()));
    if s.rows.iter().any(|r| r.saturated) {
        out.push_str("\n**saturated**: the machine's cores were busy (≥ 90 % for at least a third of the run): that row measures the machine, not the protocol.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> ScaleArgs {
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            scale: ScaleArgs,
        }
        Cmd::try_parse_from(std::iter::once("scale").chain(line.iter().copied()))
            .unwrap()
            .scale
    }

    #[test]
    fn bad_node_counts_are_refused_before_anything_runs() {
        let e = args(&["--nodes", "16,1"]).validate().unwrap_err();
        assert!(
            matches!(&e, PlanError::Scale(m) if m.contains("--nodes 1")),
            "{e}"
        );
        let e = args(&["--degree", "9", "--nodes", "8"])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("degree"), "{e}");
        let ok = args(&["--nodes", "3,4", "--txs", "5"]);
        ok.validate().unwrap();
        let run = ok.run_args(4, Path::new("x")).unwrap();
        assert_eq!((run.nodes, run.txs, run.tx_rate), (4, 5, 20.0));
        assert_eq!(run.link_delay, Duration::from_millis(50));
    }

    #[test]
    fn the_table_flags_saturated_rows_and_fits_both_ways() {
        let row = |nodes: usize, c100: f64, saturated: bool| ScaleRow {
            nodes,
            diameter: Some(4),
            c50_p50_ms: Some(c100 / 2.0),
            c50_p99_ms: None,
            c100_p50_ms: Some(c100),
            c100_p99_ms: Some(c100 * 1.5),
            ideal_p99_ms: Some(600.0),
            efficiency_p99: Some(c100 * 1.5 / 600.0),
            lost: 0,
            node_cpu_ms_per_s: Some(5.0),
            machine_busy_pct: Some(if saturated { 97.0 } else { 40.0 }),
            saturated,
            sim_c50_p50_ms: None,
            sim_c100_p50_ms: Some(c100 * 0.8),
            sim_c100_p99_ms: Some(c100),
            sim_efficiency_p99: Some(1.0),
            wall_s: 10.0,
            dir: String::new(),
        };
        let s = Scale {
            id: "t".into(),
            relay: Relay::Announce,
            txs: 100,
            tx_rate: 20.0,
            link_delay_ms: 50.0,
            degree: 4,
            cores: 2,
            rows: vec![
                row(16, 400.0, false),
                row(64, 600.0, false),
                row(256, 3000.0, true),
            ],
        };
        let md = markdown(&s);
        assert!(md.contains("| 256 | 4 |"), "{md}");
        assert!(md.contains("97 % **saturated**"), "{md}");
        assert!(!md.contains("40 % **saturated**"), "{md}");
        assert!(
            md.contains("- measured, unsaturated runs only: c100 p50 ≈"),
            "{md}"
        );
        // The unsaturated fit is of the two unsaturated rows alone.
        let f = s.fit_measured(true).unwrap();
        assert_eq!(f.points, 2);
        assert!((f.b - 200.0 / 4f64.ln()).abs() < 1e-9, "{f:?}");
        assert_eq!(s.fit_measured(false).unwrap().points, 3);
    }
}
