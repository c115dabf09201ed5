//! Human output: aligned key-value lists and tables. `--json` bypasses this.
//!
//! Everything goes through [`outln!`]: a closed standard output (`rumor … |
//! head -1`) becomes [`CliError::ClosedOutput`], which ends the command
//! quietly, instead of a panic.

use std::io::Write;

use crate::CliError;

/// `println!` that returns `Result<(), CliError>` instead of panicking when
/// standard output is closed.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

/// Writes one line to standard output.
pub(crate) fn write_line(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::ClosedOutput,
            _ => CliError::Output(e.to_string()),
        })
}

/// Prints `key  value` lines with the keys aligned.
pub(crate) fn kv(rows: &[(&str, String)]) -> Result<(), CliError> {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        outln!("{k:<width$}  {v}")?;
    }
    Ok(())
}

/// Prints a table with a header row and aligned columns.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> Result<(), CliError> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        outln!("{}", parts.join("  ").trim_end())
    };
    line(header.iter().map(|h| h.to_uppercase()).collect())?;
    for r in rows {
        line(r.clone())?;
    }
    Ok(())
}

/// Prints pretty JSON.
pub(crate) fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    )
}

/// A JSON value as plain text (strings without quotes).
pub(crate) fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}
