//! `rumor-testnet sweep`: where each relay mode's knee is. One fresh
//! testnet run per (mode, offered rate), the same everything else; one
//! table (`sweep.md`, `sweep.csv`, `sweep.json`) and one plot (`sweep.svg`)
//! of c100 p50/p99, lost and refused against the offered rate, and each
//! mode's knee: the highest offered rate it carried — c100 p99 under the
//! bound, nothing lost, and at most [`KNEE_MAX_REFUSED`] refused.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::output::{self, OutputError};
use super::plan::{PlanError, Relay, RunArgs, parse_duration};
pub use rumor_sim::{KNEE_MAX_REFUSED, Step, Sweep};

use super::{TestbedError, interrupted, new_run_dir};

/// `rumor-testnet sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Offered rates, tx/s, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "500,1000,2000,3000,4000,6000"
    )]
    pub rates: Vec<f64>,
    /// Relay modes, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "announce,batch,push"
    )]
    pub relays: Vec<Relay>,
    /// The knee's latency bound: c100 p99 below it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub knee_p99: Duration,
    /// Everything else, as for `run` (`--duration` defaults to 15 s here;
    /// `--relay`, `--compare`, `--tx-rate` and `--txs` are the sweep's).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs the sweep; returns its folder and the table to print.
///
/// # Errors
/// Bad parameters (before anything starts), a run that cannot start, or
/// results that cannot be written.
pub async fn sweep(args: &SweepArgs) -> Result<(PathBuf, Sweep, String), TestbedError> {
    if args.run.compare {
        return Err(
            PlanError::Sweep("it runs each of --relays itself: drop --compare".into()).into(),
        );
    }
    if args.rates.is_empty() || args.rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        return Err(PlanError::Sweep("--rates needs positive rates".into()).into());
    }
    let mut base = args.run.clone();
    let duration = *base.duration.get_or_insert(Duration::from_secs(15));
    let secs = rumor_p2p::unix_nanos() / 1_000_000_000;
    let (id, dir) = new_run_dir(
        &base.out,
        &format!("{secs}-sweep-n{}-s{}", base.nodes, base.seed),
    )?;
    let mut result = Sweep {
        id,
        knee_p99_ms: args.knee_p99.as_secs_f64() * 1000.0,
        nodes: base.nodes,
        duration_s: duration.as_secs_f64(),
        steps: Vec::new(),
    };
    base.out = dir.clone();
    base.quiet = true;
    'modes: for &relay in &args.relays {
        for &rate in &args.rates {
            if interrupted() {
                break 'modes;
            }
            let mut step = base.clone();
            step.relay = relay;
            step.tx_rate = rate;
            eprintln!("sweep: {} at {rate} tx/s", relay.as_str());
            let outcome = super::run(&step).await?;
            let Some(s) = outcome.summaries.first() else {
                continue;
            };
            let rel = outcome
                .dir
                .strip_prefix(&dir)
                .unwrap_or(&outcome.dir)
                .display()
                .to_string();
            let st = Step::of(relay, rate, s, rel);
            eprintln!("  {}", step_line(&st));
            result.steps.push(st);
            write(&dir, &result)?;
        }
    }
    write(&dir, &result)?;
    let table = markdown(&result);
    Ok((dir, result, table))
}

/// Writes `sweep.json`, `sweep.csv`, `sweep.md` and `sweep.svg` into `dir`.
///
/// # Errors
/// [`OutputError`].
pub fn write(dir: &Path, s: &Sweep) -> Result<(), OutputError> {
    output::write_json(&dir.join("sweep.json"), s)?;
    let path = dir.join("sweep.csv");
    let mut csv = String::from(
        "relay,offered,injected,accepted,refused,lost,c100_p50_ms,c100_p99_ms,settle_s,dir\n",
    );
    for st in &s.steps {
        let _ = writeln!(
            csv,
            "{},{},{:.1},{:.1},{:.1},{},{},{},{:.1},{}",
            st.relay.as_str(),
            st.offered,
            st.injected,
            st.accepted,
            st.refused,
            st.lost,
            st.c100_p50_ms
                .map(|v| format!("{v:.1}"))
                .unwrap_or_default(),
            st.c100_p99_ms
                .map(|v| format!("{v:.1}"))
                .unwrap_or_default(),
            st.settle_s,
            st.dir
        );
    }
    std::fs::write(&path, csv).map_err(|source| OutputError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let md = dir.join("sweep.md");
    std::fs::write(&md, markdown(s)).map_err(|source| OutputError::Io {
        path: md.display().to_string(),
        source,
    })?;
    rumor_sim::write_sweep(&dir.join("sweep.svg"), s)?;
    Ok(())
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

fn step_line(s: &Step) -> String {
    format!(
        "injected {:.0}/s, accepted {:.0}/s, refused {:.0}/s, lost {}, c100 p50 {} ms, p99 {} ms, settled in {:.1} s",
        s.injected,
        s.accepted,
        s.refused,
        s.lost,
        ms(s.c100_p50_ms),
        ms(s.c100_p99_ms),
        s.settle_s
    )
}

/// The sweep as a markdown table, with each mode's knee.
pub fn markdown(s: &Sweep) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} nodes, {:.0} s of workload per step; the knee is the highest offered rate with c100 p99 < {:.0} ms, lost 0 and at most {:.0} % refused.\n",
        s.nodes,
        s.duration_s,
        s.knee_p99_ms,
        KNEE_MAX_REFUSED * 100.0
    );
    out.push_str("| relay | offered tx/s | injected | accepted | refused (busy) | lost | c100 p50 ms | c100 p99 ms | settle s |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for st in &s.steps {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {:.1} |",
            st.relay.as_str(),
            st.offered,
            st.injected,
            st.accepted,
            st.refused,
            st.lost,
            ms(st.c100_p50_ms),
            ms(st.c100_p99_ms),
            st.settle_s
        );
    }
    out.push('\n');
    for relay in s.relays() {
        let _ = writeln!(
            out,
            "- knee of {}: {}",
            relay.as_str(),
            s.knee(relay).map_or_else(
                || "none of the rates swept".into(),
                |k| format!("{k:.0} tx/s")
            )
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(relay: Relay, offered: f64, p99: f64, lost: usize, refused: usize) -> Step {
        Step {
            relay,
            offered,
            injected: offered,
            accepted: offered,
            refused: 0.0,
            lost,
            refused_txs: refused,
            injected_txs: 1000,
            c100_p50_ms: Some(p99 / 2.0),
            c100_p99_ms: Some(p99),
            settle_s: 1.0,
            dir: String::new(),
        }
    }

    #[test]
    fn the_knee_is_the_highest_rate_carried_fast_whole_and_unrefused() {
        let s = Sweep {
            id: "t".into(),
            knee_p99_ms: 1000.0,
            nodes: 16,
            duration_s: 15.0,
            steps: vec![
                step(Relay::Announce, 1000.0, 300.0, 0, 0),
                step(Relay::Announce, 2000.0, 900.0, 0, 10),
                // Fast, but it refused a third of the load: not carried.
                step(Relay::Announce, 3000.0, 500.0, 0, 333),
                step(Relay::Announce, 2500.0, 500.0, 0, 51),
                step(Relay::Push, 1000.0, 200.0, 0, 0),
                // Lost one: not carried, though fast.
                step(Relay::Push, 2000.0, 400.0, 1, 0),
                step(Relay::Batch, 1000.0, 1500.0, 0, 0),
            ],
        };
        assert_eq!(s.knee(Relay::Announce), Some(2000.0));
        assert_eq!(s.knee(Relay::Push), Some(1000.0));
        assert_eq!(s.knee(Relay::Batch), None);
        assert_eq!(s.relays(), vec![Relay::Announce, Relay::Push, Relay::Batch]);
        let md = markdown(&s);
        assert!(md.contains("- knee of announce: 2000 tx/s"), "{md}");
        assert!(
            md.contains("- knee of batch: none of the rates swept"),
            "{md}"
        );
    }
}
