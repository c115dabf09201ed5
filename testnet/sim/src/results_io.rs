//! Reading and writing results folders' shared files: `summary.json`,
//! `objects.csv` (and any other JSON), and the terminal tables of one run
//! and of runs side by side. The testnet and the relay-driven simulator
//! write the same files with these; `report` and `compare` read them.

use std::fmt::Write as _;
use std::path::Path;

use crate::results::{Kind, KindSummary, ObjectRow, Percentiles, Redundancy, Summary};

/// Why results could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// JSON.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The error.
        source: serde_json::Error,
    },
    /// Plotting.
    #[error("cdf.svg: {0}")]
    Plot(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `value` as pretty JSON.
///
/// # Errors
/// [`ResultsError`].
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ResultsError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| ResultsError::Json {
        path: path.display().to_string(),
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// Reads a JSON file.
///
/// # Errors
/// [`ResultsError`].
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|source| ResultsError::Json {
        path: path.display().to_string(),
        source,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

/// `objects.csv`'s columns, in order.
pub const OBJECT_COLUMNS: [&str; 14] = [
    "kind",
    "id",
    "origin",
    "start_ns",
    "holders",
    "live",
    "recorded",
    "c50_ms",
    "c90_ms",
    "c100_ms",
    "eccentricity",
    "ideal_ms",
    "efficiency",
    "lost",
];

/// Writes `compare.json`: each run's summary under its relay mode's name.
///
/// # Errors
/// [`ResultsError`].
pub fn write_compare_json(path: &Path, runs: &[Summary]) -> Result<(), ResultsError> {
    let all: serde_json::Map<String, serde_json::Value> = runs
        .iter()
        .map(|s| {
            (
                s.relay.as_str().to_owned(),
                serde_json::to_value(s).unwrap_or_default(),
            )
        })
        .collect();
    write_json(path, &all)
}

/// Writes `objects.csv`.
///
/// # Errors
/// [`ResultsError`].
pub fn write_objects(path: &Path, rows: &[ObjectRow]) -> Result<(), ResultsError> {
    let mut out = OBJECT_COLUMNS.join(",") + "\n";
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.kind.as_str(),
            r.id,
            r.origin,
            r.start_ns,
            r.holders,
            r.live,
            r.recorded,
            opt(r.c50_ms),
            opt(r.c90_ms),
            opt(r.c100_ms),
            r.eccentricity.map(|e| e.to_string()).unwrap_or_default(),
            opt(r.ideal_ms),
            opt(r.efficiency),
            r.lost
        );
    }
    std::fs::write(path, out).map_err(io(path))
}

/// Reads `objects.csv` back, by its header (so files written before the
/// `start_ns` column read too, with it 0).
///
/// # Errors
/// [`ResultsError`] (a malformed line is an `Io` error of kind `InvalidData`).
pub fn read_objects(path: &Path) -> Result<Vec<ObjectRow>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |line: usize| ResultsError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line} is malformed"),
        ),
    };
    let num = |s: &str| -> Option<f64> { s.parse().ok() };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let mut at = [None; OBJECT_COLUMNS.len()];
    for (slot, name) in at.iter_mut().zip(OBJECT_COLUMNS) {
        *slot = col(name);
        if slot.is_none() && name != "start_ns" {
            return Err(bad(1));
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i + 2;
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != header.len() {
            return Err(bad(line_no));
        }
        let get = |k: usize| at[k].map_or("", |j| f[j]);
        rows.push(ObjectRow {
            kind: match get(0) {
                "tx" => Kind::Tx,
                "block" => Kind::Block,
                _ => return Err(bad(line_no)),
            },
            id: get(1).to_owned(),
            origin: get(2).parse().map_err(|_| bad(line_no))?,
            start_ns: get(3).parse().unwrap_or(0),
            holders: get(4).parse().map_err(|_| bad(line_no))?,
            live: get(5).parse().map_err(|_| bad(line_no))?,
            recorded: get(6).parse().map_err(|_| bad(line_no))?,
            c50_ms: num(get(7)),
            c90_ms: num(get(8)),
            c100_ms: num(get(9)),
            eccentricity: get(10).parse().ok(),
            ideal_ms: num(get(11)),
            efficiency: num(get(12)),
            lost: get(13) == "true",
        });
    }
    Ok(rows)
}

/// A statistic with `digits` decimals, or `-` where there is none.
fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.digits$}"))
}

fn kind_line(out: &mut String, name: &str, k: &KindSummary) {
    let _ = writeln!(
        out,
        "  {name:<6} injected {:>6}  accepted {:>6}  refused (busy) {:>6}  other refusals {:>4}  lost {:>4}  coverage {:>7}",
        k.injected,
        k.accepted,
        k.refused,
        k.rejected,
        k.lost,
        k.coverage_pct
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}%"))
    );
    let row = |label: &str, p: &Percentiles| {
        format!(
            "    {label:<16} {:>9} {:>9} {:>9} {:>9}\n",
            num(p.p50, 1),
            num(p.p90, 1),
            num(p.p99, 1),
            num(p.max, 1)
        )
    };
    if k.accepted > 0 {
        let _ = writeln!(
            out,
            "    {:<16} {:>9} {:>9} {:>9} {:>9}",
            "ms", "p50", "p90", "p99", "max"
        );
        out.push_str(&row("arrival delay", &k.delay_ms));
        out.push_str(&row("c50 (50% nodes)", &k.c50_ms));
        out.push_str(&row("c90", &k.c90_ms));
        out.push_str(&row("c100 (all)", &k.c100_ms));
        if k.ideal_ms.n > 0 {
            out.push_str(&row("ideal bound", &k.ideal_ms));
            let _ = writeln!(
                out,
                "    {:<16} {:>9} {:>9} {:>9} {:>9}   p99(c100)/p99(ideal) = {}",
                "efficiency",
                num(k.efficiency.p50, 2),
                num(k.efficiency.p90, 2),
                num(k.efficiency.p99, 2),
                num(k.efficiency.max, 2),
                k.p99_efficiency
                    .map(|e| format!("{e:.2}"))
                    .unwrap_or_else(|| "n/a".into())
            );
        }
    }
}

/// The terminal table of one run.
pub fn table(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}  relay {:?}  nodes {}/{} live  graph: {} links, mean degree {:.1}, diameter {}",
        s.run_id,
        s.relay,
        s.live_nodes,
        s.nodes,
        s.graph.links,
        s.graph.mean_degree,
        s.graph
            .diameter
            .map(|d| d.to_string())
            .unwrap_or_else(|| "disconnected".into())
    );
    let _ = writeln!(
        out,
        "  links: {} (delay {} ms, jitter {} ms, loss {:.2}%, bandwidth {}) — {}",
        s.shaping.mode,
        s.shaping.delay_ms,
        s.shaping.jitter_ms,
        s.shaping.loss * 100.0,
        if s.shaping.bandwidth_bps == 0 {
            "unlimited".to_owned()
        } else {
            format!("{} bit/s", s.shaping.bandwidth_bps)
        },
        s.shaping.why
    );
    let _ = writeln!(
        out,
        "  workload {:.1} s, settled in {:.1} s",
        s.workload_s, s.settle_s
    );
    if let Some(cpu) = &s.cpu {
        let _ = writeln!(out, "  {}", cpu.line());
    }
    if let Some(r) = &s.rates {
        let _ = writeln!(
            out,
            "  tx/s: offered {:.0}, injected {:.0}, accepted {:.0}, refused as busy {:.0}{}",
            r.offered,
            r.injected,
            r.accepted,
            r.refused,
            if r.injected < 0.95 * r.offered {
                "  (the injector fell short of the offered rate)"
            } else {
                ""
            }
        );
    }
    kind_line(&mut out, "txs", &s.txs);
    kind_line(&mut out, "blocks", &s.blocks);
    if let Some(r) = &s.redundancy {
        let _ = writeln!(
            out,
            "  per node per tx: {:.3} bodies ({:.3} duplicate{}), {:.2} gossip messages ({:.2} before dedup)",
            r.bodies_per_node_per_tx,
            r.duplicate_bodies_per_node_per_tx,
            if r.eager_bodies_per_node_per_tx > 0.0 {
                format!(", {:.3} by eager push", r.eager_bodies_per_node_per_tx)
            } else {
                String::new()
            },
            r.announcements_per_node_per_tx,
            r.gossip_copies_per_node_per_tx
        );
        let b = &r.bytes;
        let _ = writeln!(
            out,
            "  bytes per node per tx (in/out): gossip {:.0}/{:.0}  getdata {:.0}/{:.0}  sync {:.0}/{:.0}  push {:.0}/{:.0}  wire {:.0}/{:.0}",
            b.gossip_in,
            b.gossip_out,
            b.getdata_in,
            b.getdata_out,
            b.sync_in,
            b.sync_out,
            b.push_in,
            b.push_out,
            b.wire_in,
            b.wire_out
        );
    }
    if !s.memory.nodes.is_empty() {
        let _ = writeln!(
            out,
            "  memory: largest node {:.1} MiB; over each node's longest-lived process, growth (last quarter vs second) at most {:+.1}%, slope at most {:+.0} KiB/min{}",
            s.memory.max_kib.unwrap_or(0) as f64 / 1024.0,
            s.memory.max_growth_pct.unwrap_or(0.0),
            s.memory.max_slope_kib_per_min.unwrap_or(0.0),
            match s.memory.flat {
                Some(true) => "; flat",
                Some(false) => "; NOT FLAT",
                None => "",
            }
        );
        if let Some(g) = s.memory.max_allocated_growth_pct {
            let _ = writeln!(
                out,
                "  live heap (allocator's allocated bytes): growth at most {g:+.1}% over the same windows"
            );
        }
    }
    if s.inflight_at_end > 0 {
        let _ = writeln!(
            out,
            "  fetches still in flight at the end: {}",
            s.inflight_at_end
        );
    }
    for f in &s.faults {
        let _ = writeln!(out, "  fault at {:>6.1}s: {} {:?}", f.at_s, f.what, f.nodes);
    }
    for n in s.notes.iter().take(10) {
        let _ = writeln!(out, "  note: {n}");
    }
    let _ = writeln!(
        out,
        "  result: {}",
        if s.ok {
            "OK (every accepted object reached every live node)".to_owned()
        } else {
            format!(
                "FAILED ({} txs and {} blocks lost)",
                s.txs.lost, s.blocks.lost
            )
        }
    );
    out
}

/// Relay modes side by side.
pub fn compare_table(runs: &[Summary]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<36}", "");
    for s in runs {
        let _ = write!(out, " {:>12}", s.relay.as_str());
    }
    out.push('\n');
    let mut row = |label: &str, f: &dyn Fn(&Summary) -> String| {
        let _ = write!(out, "{label:<36}");
        for s in runs {
            let _ = write!(out, " {:>12}", f(s));
        }
        out.push('\n');
    };
    let f1 = |v: Option<f64>| num(v, 1);
    let f3 = |v: Option<f64>| num(v, 3);
    // A redundancy figure, where transactions were accepted.
    let red = |s: &Summary, f: &dyn Fn(&Redundancy) -> f64| s.redundancy.as_ref().map(f);
    row("tx c50 p50 (ms)", &|s| f1(s.txs.c50_ms.p50));
    row("tx c100 p50 (ms)", &|s| f1(s.txs.c100_ms.p50));
    row("tx c100 p99 (ms)", &|s| f1(s.txs.c100_ms.p99));
    row("tx ideal p99 (ms)", &|s| f1(s.txs.ideal_ms.p99));
    row("tx p99 c100 / ideal", &|s| {
        s.txs
            .p99_efficiency
            .map(|e| format!("{e:.2}"))
            .unwrap_or_else(|| "n/a".into())
    });
    row("block c100 p99 (ms)", &|s| f1(s.blocks.c100_ms.p99));
    row("bodies / node / tx", &|s| {
        f3(red(s, &|r| r.bodies_per_node_per_tx))
    });
    row("duplicate bodies / node / tx", &|s| {
        f3(red(s, &|r| r.duplicate_bodies_per_node_per_tx))
    });
    row("gossip msgs / node / tx", &|s| {
        f3(red(s, &|r| r.announcements_per_node_per_tx))
    });
    row("wire bytes / node / tx (in+out)", &|s| {
        f1(red(s, &|r| r.bytes.wire_in + r.bytes.wire_out))
    });
    row("gossip bytes / node / tx (in+out)", &|s| {
        f1(red(s, &|r| r.bytes.gossip_in + r.bytes.gossip_out))
    });
    row("getdata bytes / node / tx (in+out)", &|s| {
        f1(red(s, &|r| r.bytes.getdata_in + r.bytes.getdata_out))
    });
    row("refused (busy)", &|s| s.txs.refused.to_string());
    row("lost", &|s| (s.txs.lost + s.blocks.lost).to_string());
    out
}
