//! Results folders: the per-node NDJSON files. `params.json`,
//! `summary.json`, `objects.csv`, `cdf.svg` and the terminal tables are
//! written with `rumor-sim`'s writers, which the simulator shares.

use std::io::Write as _;
use std::path::Path;

use super::runner::Collected;

pub use rumor_sim::{
    OBJECT_COLUMNS, ResultsError as OutputError, compare_table, read_json, read_objects, table,
    write_json, write_objects,
};

fn io(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
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
