//! The process's memory: resident size from `/proc/self/status`, and the
//! allocator's own accounting when the binary registered a reader for it
//! ([`set_allocator`]; `rumord` registers jemalloc's).
//!
//! Resident size alone cannot tell live data that grows from an allocator
//! that holds freed pages: `allocated` is the live heap, `active` the pages
//! that hold it (the gap is fragmentation), `resident` what the allocator
//! has touched and not yet returned (the gap to `active` is freed pages not
//! yet purged, plus metadata). Served by RPC `getmemoryinfo` and as the
//! `process_resident_memory_bytes` and `rumor_allocator_bytes` metrics.

use std::sync::OnceLock;

use serde::Serialize;

/// The allocator's own byte counts (jemalloc's `stats.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AllocatorStats {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes in pages that hold live allocations.
    pub active: u64,
    /// Bytes the allocator has touched and not returned to the kernel
    /// (jemalloc's upper-bound estimate).
    pub resident: u64,
    /// Bytes mapped in active extents.
    pub mapped: u64,
    /// Bytes unmapped but kept as address space for reuse (not resident).
    pub retained: u64,
    /// Bytes of the allocator's own metadata.
    pub metadata: u64,
}

/// The global allocator, as the binary that chose it describes it.
#[derive(Debug, Clone, Copy)]
pub struct Allocator {
    /// Its name, e.g. `jemalloc`.
    pub name: &'static str,
    /// Reads its counts, or says why it cannot.
    pub stats: fn() -> Result<AllocatorStats, String>,
    /// Its full statistics as JSON text (jemalloc's `malloc_stats_print`),
    /// or why they cannot be had.
    pub dump: fn() -> Result<String, String>,
}

static ALLOCATOR: OnceLock<Allocator> = OnceLock::new();

/// Registers the global allocator, once per process (later calls are
/// ignored).
pub fn set_allocator(allocator: Allocator) {
    let _ = ALLOCATOR.set(allocator);
}

/// The allocator's full statistics (RPC `getmemoryinfo "mallocinfo"`).
///
/// # Errors
/// No allocator registered, or it could not report.
pub fn allocator_dump() -> Result<String, String> {
    let a = ALLOCATOR
        .get()
        .ok_or("the system allocator keeps no statistics")?;
    (a.dump)()
}

/// What [`memory_info`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryInfo {
    /// Resident set size, bytes (`VmRSS`; absent off Linux).
    pub rss: Option<u64>,
    /// Peak resident set size, bytes (`VmHWM`).
    pub rss_peak: Option<u64>,
    /// Threads in the process (each holds a stack and an allocator cache).
    pub threads: Option<u64>,
    /// The global allocator: `jemalloc`, or `system` when none registered.
    pub allocator: &'static str,
    /// Its counts, when it keeps them.
    pub stats: Option<AllocatorStats>,
    /// Why `stats` is absent, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_error: Option<String>,
}

/// The process's memory now.
pub fn memory_info() -> MemoryInfo {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let (allocator, stats) = match ALLOCATOR.get() {
        Some(a) => (a.name, Some((a.stats)())),
        None => ("system", None),
    };
    let (stats, stats_error) = match stats {
        Some(Ok(s)) => (Some(s), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    MemoryInfo {
        rss: status_field(&status, "VmRSS").map(|k| k * 1024),
        rss_peak: status_field(&status, "VmHWM").map(|k| k * 1024),
        threads: status_field(&status, "Threads"),
        allocator,
        stats,
        stats_error,
    }
}

/// The number on a `Name:   123 kB` or `Name:  9` line of
/// `/proc/<pid>/status` (sizes are in KiB).
fn status_field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?.trim();
        rest.strip_suffix("kB").unwrap_or(rest).trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let s = "Name:\trumord\nVmHWM:\t   81234 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(status_field(s, "VmRSS"), Some(40960));
        assert_eq!(status_field(s, "VmHWM"), Some(81234));
        assert_eq!(status_field(s, "Threads"), Some(9));
        assert_eq!(status_field(s, "VmRS"), None);
        assert_eq!(status_field(s, "Name"), None);
        assert_eq!(status_field("VmRSS: lots kB", "VmRSS"), None);
    }

    #[test]
    fn own_process_is_resident() {
        let m = memory_info();
        if cfg!(target_os = "linux") {
            let rss = m.rss.expect("VmRSS on Linux");
            assert!(rss > 1024 * 1024, "rss {rss}");
            assert!(m.rss_peak.unwrap() >= rss);
            assert!(m.threads.unwrap() >= 1);
        }
    }
}
