//! Terminal table, JSON and CSV renderings of a [`Report`], and the results folder.
//!
//! `write_outputs(report, dir)` writes:
//! - `summary.json`: parameters, one summary per algorithm (means, standard deviations,
//!   theory, mean coverage curve) and every trial's metrics;
//! - `summary.csv`: one row per algorithm;
//! - `rounds.csv`: the mean fraction of sites reached per time step, per algorithm;
//! - `infected.svg`: that fraction for every algorithm on one chart;
//! - `trace.txt`: the fan-out demo's per-period infected sets, when recorded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::algorithm::{Algorithm, Direction, FanoutPolicy, TimeUnit, Trigger};
use super::fanout::FanoutTrace;
use super::metrics::Stat;
use super::params::Schedule;
use super::plot::{PlotError, render_svg};
use super::runner::{Report, Summary};

/// Why the results folder could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Creating the folder or writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The report could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
    /// The chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// The files [`write_outputs`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Their paths, in writing order.
    pub files: Vec<PathBuf>,
}

fn fmt_residue(s: f64) -> String {
    if s.is_nan() {
        "-".into()
    } else if s == 0.0 {
        "0".into()
    } else if s >= 0.01 {
        format!("{s:.4}")
    } else {
        format!("{s:.2e}")
    }
}

fn fmt_time(v: Option<f64>, unit: TimeUnit) -> String {
    match v {
        None => "-".into(),
        Some(v) if unit == TimeUnit::Millisecond => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn fmt_stat_time(s: &Stat, unit: TimeUnit, trials: u32) -> String {
    let base = fmt_time(s.mean, unit);
    if s.count == trials || s.count == 0 {
        base
    } else {
        format!("{base} ({}/{trials})", s.count)
    }
}

/// Whether every message of `algorithm` goes to a uniformly random site, so that
/// `s ≈ e^{-m}` applies.
fn is_uniform_push(algorithm: &Algorithm) -> bool {
    match algorithm {
        Algorithm::Rumor(v) => v.direction == Direction::Push,
        Algorithm::Fanout { policy, .. } => *policy == FanoutPolicy::Once,
        _ => false,
    }
}

fn theory_cell(s: &Summary) -> String {
    let Some(p) = &s.theory else {
        return String::new();
    };
    if let Some(r) = p.residue.filter(|r| *r > 0.0) {
        format!("s={}", fmt_residue(r))
    } else if let Some(t) = p.full_coverage {
        format!("100%≈{t:.1}+O(1)")
    } else if let Some(d) = p.duplicates_per_node {
        format!("dup={d:.2}")
    } else {
        String::new()
    }
}

/// The terminal table: one row per algorithm, Demers' columns first.
///
/// Times are means over trials, in each row's unit; a coverage column shows
/// `mean (k/T)` when only `k` of `T` trials got there. `e^-m` is shown for algorithms
/// whose messages go to uniformly random sites, where `s ≈ e^{-m}` (with `m` counting
/// the messages that arrived, which is all of them without `--loss`). `mean-field` is
/// the closed-form prediction, where there is one.
pub fn render_table(report: &Report) -> String {
    let p = &report.params;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rumor-testnet sim: n = {}, {} trial(s), seed {}, schedule {}, loss {}",
        p.nodes(),
        p.trials(),
        p.seed(),
        p.schedule().name(),
        p.loss()
    );
    let header = [
        "algorithm",
        "unit",
        "s",
        "m",
        "t_ave",
        "t_last",
        "50%",
        "90%",
        "99%",
        "100%",
        "dup/node",
        "e^-m",
        "mean-field",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_string()).collect()];
    for s in &report.summaries {
        let unit = s.unit;
        let m = s.traffic.value();
        // Update copies that arrived, per site: first receipts plus duplicates.
        let delivered =
            s.duplicates_per_node.value() + 1.0 - s.residue.value() - 1.0 / f64::from(s.nodes);
        rows.push(vec![
            s.label.clone(),
            unit.short().into(),
            fmt_residue(s.residue.value()),
            format!("{m:.2}"),
            fmt_time(s.t_ave.mean, unit),
            fmt_time(s.t_last.mean, unit),
            fmt_stat_time(&s.coverage_50, unit, s.trials),
            fmt_stat_time(&s.coverage_90, unit, s.trials),
            fmt_stat_time(&s.coverage_99, unit, s.trials),
            fmt_stat_time(&s.coverage_100, unit, s.trials),
            format!("{:.2}", s.duplicates_per_node.value()),
            if is_uniform_push(&s.algorithm) {
                fmt_residue((-delivered).exp())
            } else {
                String::new()
            },
            theory_cell(s),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 || c == header.len() - 1 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(total));
        }
    }
    let extras: Vec<&Summary> = report
        .summaries
        .iter()
        .filter(|s| s.ihave_per_node.count > 0)
        .collect();
    for s in extras {
        let _ = writeln!(
            out,
            "{}: IHAVE/node {:.2}, IWANT/node {:.3}, mean hops {:.2}",
            s.label,
            s.ihave_per_node.value(),
            s.iwant_per_node.value(),
            s.hops_mean.value()
        );
    }
    let sync_feedback_prediction = p.schedule() == Schedule::Synchronous
        && report.summaries.iter().any(|s| {
            matches!(s.algorithm, Algorithm::Rumor(v) if v.trigger == Trigger::Feedback)
                && s.theory.is_some()
        });
    if sync_feedback_prediction {
        let _ = writeln!(
            out,
            "note: the mean-field residue for feedback assumes each contact sees the current \
             state (--schedule sequential); synchronous cycles end below it"
        );
    }
    let truncated: Vec<String> = report
        .summaries
        .iter()
        .filter(|s| s.truncated > 0)
        .map(|s| format!("{} ({}/{})", s.label, s.truncated, s.trials))
        .collect();
    if !truncated.is_empty() {
        let _ = writeln!(
            out,
            "warning: runs cut off by --max-cycles or --max-time-ms: {}",
            truncated.join(", ")
        );
    }
    out
}

/// The fan-out demo's per-period record as text.
pub fn render_trace(trace: &FanoutTrace, period_ms: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fan-out demo: {} nodes, fan-out {}, period {} ms; node {} has the update at t = 0",
        trace.nodes, trace.fanout, period_ms, trace.origin
    );
    for p in &trace.periods {
        let secs = f64::from(p.period) * f64::from(period_ms) / 1000.0;
        let sends: Vec<String> = p.sends.iter().map(|(a, b)| format!("{a}->{b}")).collect();
        let set: Vec<String> = p.infected.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "round {:>2} (t = {secs:.1} s): sends [{}]; new {:?}; infected {{{}}} ({}/{})",
            p.period,
            sends.join(" "),
            p.newly_infected,
            set.join(", "),
            p.infected.len(),
            trace.nodes
        );
    }
    out
}

/// The whole report as pretty JSON.
///
/// # Errors
///
/// A serialisation failure (not expected for these types).
pub fn render_json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

fn csv_num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV row per algorithm (`summary.csv`).
pub fn render_csv(report: &Report) -> String {
    let mut out = String::from(
        "id,label,unit,nodes,trials,s,s_sd,m,m_sd,contacts_per_site,duplicates_per_node,\
         t_ave,t_last,t_50,t_90,t_99,t_100,trials_full,end,truncated,theory_s,theory_t_100\n",
    );
    for s in &report.summaries {
        let theory_s = s.theory.as_ref().and_then(|p| p.residue);
        let theory_t = s.theory.as_ref().and_then(|p| p.full_coverage);
        let fields = [
            csv_text(&s.id),
            csv_text(&s.label),
            s.unit.short().to_string(),
            s.nodes.to_string(),
            s.trials.to_string(),
            csv_num(s.residue.mean),
            csv_num(s.residue.std_dev),
            csv_num(s.traffic.mean),
            csv_num(s.traffic.std_dev),
            csv_num(s.contacts_per_site.mean),
            csv_num(s.duplicates_per_node.mean),
            csv_num(s.t_ave.mean),
            csv_num(s.t_last.mean),
            csv_num(s.coverage_50.mean),
            csv_num(s.coverage_90.mean),
            csv_num(s.coverage_99.mean),
            csv_num(s.coverage_100.mean),
            s.coverage_100.count.to_string(),
            csv_num(s.end.mean),
            s.truncated.to_string(),
            csv_num(theory_s),
            csv_num(theory_t),
        ];
        let _ = writeln!(out, "{}", fields.join(","));
    }
    out
}

/// The mean coverage curves in long form (`rounds.csv`): `time` is in the row's unit,
/// `periods` in gossip periods (the chart's x axis).
pub fn render_rounds_csv(report: &Report) -> String {
    let mut out = String::from("id,unit,step,time,periods,infected_fraction\n");
    for s in &report.summaries {
        for (i, f) in s.curve.iter().enumerate() {
            let time = i as u64 * u64::from(s.curve_step);
            let periods = i as f64 * s.curve_period_step;
            let _ = writeln!(
                out,
                "{},{},{i},{time},{periods},{f}",
                csv_text(&s.id),
                s.unit.short()
            );
        }
    }
    out
}

fn write_file(
    dir: &Path,
    name: &str,
    contents: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), OutputError> {
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| OutputError::Io {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    Ok(())
}

/// Writes the results folder described in the module docs.
///
/// # Errors
///
/// [`OutputError`] naming the file that could not be written.
pub fn write_outputs(report: &Report, dir: &Path) -> Result<Written, OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    write_file(dir, "summary.json", &render_json(report)?, &mut files)?;
    write_file(dir, "summary.csv", &render_csv(report), &mut files)?;
    write_file(dir, "rounds.csv", &render_rounds_csv(report), &mut files)?;
    write_file(dir, "infected.svg", &render_svg(report)?, &mut files)?;
    if let Some(trace) = &report.fanout_trace {
        let period = report
            .params
            .algorithms()
            .iter()
            .find_map(|a| match a {
                Algorithm::Fanout { period_ms, .. } => Some(*period_ms),
                _ => None,
            })
            .unwrap_or(1000);
        write_file(dir, "trace.txt", &render_trace(trace, period), &mut files)?;
    }
    Ok(Written { files })
}
