//! Results folders: `params.json`, `summary.json`, `objects.csv`, per-node
//! NDJSON, `cdf.svg`, and the terminal table. `report <dir>` reads them back.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use plotters::prelude::*;

use super::report::{KindSummary, ObjectRow, Summary};
use super::runner::Collected;

/// Why results could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
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

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `value` as pretty JSON.
///
/// # Errors
/// [`OutputError`].
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| OutputError::Json {
        path: path.display().to_string(),
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// Reads a JSON file.
///
/// # Errors
/// [`OutputError`].
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, OutputError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|source| OutputError::Json {
        path: path.display().to_string(),
        source,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

/// Writes `objects.csv`.
///
/// # Errors
/// [`OutputError`].
pub fn write_objects(path: &Path, rows: &[ObjectRow]) -> Result<(), OutputError> {
    let mut out = String::from(
        "kind,id,origin,holders,live,recorded,c50_ms,c90_ms,c100_ms,eccentricity,ideal_ms,efficiency,lost\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.kind.as_str(),
            r.id,
            r.origin,
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

/// Reads `objects.csv` back.
///
/// # Errors
/// [`OutputError`] (a malformed line is an `Io` error of kind `InvalidData`).
pub fn read_objects(path: &Path) -> Result<Vec<ObjectRow>, OutputError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |line: usize| OutputError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line} is malformed"),
        ),
    };
    let num = |s: &str| -> Option<f64> { s.parse().ok() };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 13 {
            return Err(bad(i + 1));
        }
        rows.push(ObjectRow {
            kind: match f[0] {
                "tx" => super::workload::Kind::Tx,
                "block" => super::workload::Kind::Block,
                _ => return Err(bad(i + 1)),
            },
            id: f[1].to_owned(),
            origin: f[2].parse().map_err(|_| bad(i + 1))?,
            holders: f[3].parse().map_err(|_| bad(i + 1))?,
            live: f[4].parse().map_err(|_| bad(i + 1))?,
            recorded: f[5].parse().map_err(|_| bad(i + 1))?,
            c50_ms: num(f[6]),
            c90_ms: num(f[7]),
            c100_ms: num(f[8]),
            eccentricity: f[9].parse().ok(),
            ideal_ms: num(f[10]),
            efficiency: num(f[11]),
            lost: f[12] == "true",
        });
    }
    Ok(rows)
}

/// Writes `nodes/node-<i>.ndjson`: the node's first-seen records, one line
/// with its relay counters, its memory samples, and one line with its peers.
///
/// # Errors
/// [`OutputError`].
pub fn write_nodes(dir: &Path, c: &Collected) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for i in 0..c.nodes {
        let path = dir.join(format!("node-{i}.ndjson"));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::new(file);
        let line = |v: serde_json::Value| serde_json::to_string(&v).unwrap_or_default();
        let header = serde_json::json!({"type": "node", "index": i, "peer_id": c.peer_ids[i], "live": c.live[i], "restarted": c.restarted[i]});
        writeln!(w, "{}", line(header)).map_err(io(&path))?;
        for r in &c.first_seen[i] {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["type"] = "first_seen".into();
            writeln!(w, "{}", line(v)).map_err(io(&path))?;
        }
        if let Some(s) = &c.stats[i] {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["type"] = "relay_stats".into();
            writeln!(w, "{}", line(v)).map_err(io(&path))?;
        }
        for m in &c.memory[i] {
            let mut v = serde_json::to_value(m).unwrap_or_default();
            v["type"] = "memory".into();
            writeln!(w, "{}", line(v)).map_err(io(&path))?;
        }
        let peers = serde_json::json!({"type": "peers", "peers": c.peers[i]});
        writeln!(w, "{}", line(peers)).map_err(io(&path))?;
        w.flush().map_err(io(&path))?;
    }
    Ok(())
}

fn kind_line(out: &mut String, name: &str, k: &KindSummary) {
    let _ = writeln!(
        out,
        "  {name:<6} injected {:>6}  accepted {:>6}  lost {:>4}  coverage {:>6.2}%",
        k.injected, k.accepted, k.lost, k.coverage_pct
    );
    let row = |label: &str, p: &super::report::Percentiles| {
        format!(
            "    {label:<16} {:>9.1} {:>9.1} {:>9.1} {:>9.1}\n",
            p.p50, p.p90, p.p99, p.max
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
                "    {:<16} {:>9.2} {:>9.2} {:>9.2} {:>9.2}   p99(c100)/p99(ideal) = {}",
                "efficiency",
                k.efficiency.p50,
                k.efficiency.p90,
                k.efficiency.p99,
                k.efficiency.max,
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
    kind_line(&mut out, "txs", &s.txs);
    kind_line(&mut out, "blocks", &s.blocks);
    let r = &s.redundancy;
    let _ = writeln!(
        out,
        "  per node per tx: {:.3} bodies ({:.3} duplicate), {:.2} gossip messages ({:.2} before dedup)",
        r.bodies_per_node_per_tx,
        r.duplicate_bodies_per_node_per_tx,
        r.announcements_per_node_per_tx,
        r.gossip_copies_per_node_per_tx
    );
    let b = &r.bytes;
    let _ = writeln!(
        out,
        "  bytes per node per tx (in/out): gossip {:.0}/{:.0}  getdata {:.0}/{:.0}  sync {:.0}/{:.0}  wire {:.0}/{:.0}",
        b.gossip_in,
        b.gossip_out,
        b.getdata_in,
        b.getdata_out,
        b.sync_in,
        b.sync_out,
        b.wire_in,
        b.wire_out
    );
    if !s.memory.nodes.is_empty() {
        let _ = writeln!(
            out,
            "  memory: largest node {:.1} MiB; over each node's longest-lived process, growth (last quarter vs second) at most {:+.1}%, slope at most {:+.0} KiB/min{}",
            s.memory.max_kib as f64 / 1024.0,
            s.memory.max_growth_pct,
            s.memory.max_slope_kib_per_min,
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
    let f1 = |v: f64| format!("{v:.1}");
    let f3 = |v: f64| format!("{v:.3}");
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
        f3(s.redundancy.bodies_per_node_per_tx)
    });
    row("duplicate bodies / node / tx", &|s| {
        f3(s.redundancy.duplicate_bodies_per_node_per_tx)
    });
    row("gossip msgs / node / tx", &|s| {
        f3(s.redundancy.announcements_per_node_per_tx)
    });
    row("wire bytes / node / tx (in+out)", &|s| {
        f1(s.redundancy.bytes.wire_in + s.redundancy.bytes.wire_out)
    });
    row("gossip bytes / node / tx (in+out)", &|s| {
        f1(s.redundancy.bytes.gossip_in + s.redundancy.bytes.gossip_out)
    });
    row("getdata bytes / node / tx (in+out)", &|s| {
        f1(s.redundancy.bytes.getdata_in + s.redundancy.bytes.getdata_out)
    });
    row("lost", &|s| (s.txs.lost + s.blocks.lost).to_string());
    out
}

/// `cdf.svg`: the fraction of objects that reached every live node by time
/// t (c100 CDF), and the fraction of (node, object) arrivals by t, per kind.
/// Text is drawn by the SVG viewer; no system fonts are loaded.
///
/// # Errors
/// [`OutputError::Plot`].
pub fn write_cdf(path: &Path, rows: &[ObjectRow], title: &str) -> Result<(), OutputError> {
    let mut series: Vec<(String, Vec<f64>, RGBColor)> = Vec::new();
    for (kind, name, color) in [
        (super::workload::Kind::Tx, "tx c100", RGBColor(31, 119, 180)),
        (
            super::workload::Kind::Block,
            "block c100",
            RGBColor(214, 39, 40),
        ),
    ] {
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.c100_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        if !v.is_empty() {
            series.push((name.into(), v, color));
        }
        let mut half: Vec<f64> = rows
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.c50_ms)
            .collect();
        half.sort_by(f64::total_cmp);
        if !half.is_empty() {
            let light = RGBColor(color.0 / 2 + 110, color.1 / 2 + 110, color.2 / 2 + 110);
            series.push((name.replace("c100", "c50"), half, light));
        }
    }
    let xmax = series
        .iter()
        .filter_map(|(_, v, _)| v.last())
        .fold(1.0f64, |a, b| a.max(*b))
        * 1.05;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    let err = |e: String| OutputError::Plot(e);
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..xmax, 0.0..1.0)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("time since injection (ms)")
        .y_desc("fraction of objects")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (name, v, color) in &series {
        let n = v.len() as f64;
        let points: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
            .chain(v.iter().enumerate().map(|(i, x)| (*x, (i + 1) as f64 / n)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], *color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
