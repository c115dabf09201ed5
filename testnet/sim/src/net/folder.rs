//! Results folders of relay-driven runs, in the testnet's layout: one run
//! writes `params.json`, `summary.json`, `objects.csv` and `cdf.svg`; a
//! comparison of modes writes one sub-folder per mode, `compare.json` and a
//! combined `cdf.svg` (`rumor-testnet report` reads both).

use std::path::Path;

use serde::Serialize;

use super::measure::summarize;
use super::params::NetParams;
use super::world::NetRun;
use crate::cdf::{write_cdf, write_compare_cdf};
use crate::results::{ObjectRow, Summary};
use crate::results_io::{ResultsError, write_compare_json, write_json, write_objects};

/// `params.json` of a simulated run.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedParams<'a> {
    /// The run id.
    pub run_id: &'a str,
    /// `"rumor-sim"`: simulated, not measured.
    pub source: &'static str,
    /// The code version.
    pub code_version: &'static str,
    /// The testnet run simulated, if any (its folder).
    pub simulates: Option<String>,
    /// What ran.
    pub params: &'a NetParams,
}

fn write_one(
    dir: &Path,
    run_id: &str,
    run: &NetRun,
    simulates: Option<&Path>,
) -> Result<(Summary, Vec<ObjectRow>), ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let (summary, rows) = summarize(run, run_id);
    let params = SimulatedParams {
        run_id,
        source: "rumor-sim",
        code_version: env!("CARGO_PKG_VERSION"),
        simulates: simulates.map(|p| p.display().to_string()),
        params: &run.params,
    };
    write_json(&dir.join("params.json"), &params)?;
    write_json(&dir.join("summary.json"), &summary)?;
    write_objects(&dir.join("objects.csv"), &rows)?;
    write_cdf(&dir.join("cdf.svg"), &rows, &summary)?;
    Ok((summary, rows))
}

/// Writes `runs` under `dir`: one run in `dir` itself, several (one per
/// relay mode) in `dir/<mode>/` with `compare.json` and a combined
/// `cdf.svg`. Returns the summaries.
///
/// # Errors
/// [`ResultsError`] if a file cannot be written.
pub fn write_runs(
    dir: &Path,
    run_id: &str,
    runs: &[NetRun],
    simulates: Option<&Path>,
) -> Result<Vec<Summary>, ResultsError> {
    if let [run] = runs {
        return Ok(vec![write_one(dir, run_id, run, simulates)?.0]);
    }
    let mut out = Vec::new();
    let mut both = Vec::new();
    for run in runs {
        let mode = run.params.relay.as_str();
        let (s, rows) = write_one(&dir.join(mode), &format!("{run_id}-{mode}"), run, simulates)?;
        out.push(s.clone());
        both.push((s, rows));
    }
    write_compare_cdf(&dir.join("cdf.svg"), &both)?;
    write_compare_json(&dir.join("compare.json"), &out)?;
    Ok(out)
}
