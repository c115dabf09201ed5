//! The standard `process_*` metrics, read from `/proc` at each scrape
//! ([`ProcessCollector`]), with the names and meanings of the Prometheus
//! client libraries' process collectors: CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, start time, threads.
//! prometheus-client has no process collector, so this reads `/proc`
//! itself. Off Linux nothing is reported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`). It is 100 on
/// every Linux architecture; the Prometheus Go client's procfs package
/// hard-codes it too, since asking `sysconf` needs C (and here `unsafe`).
const USER_HZ: f64 = 100.0;

/// What `/proc/self/stat` says (fields 14, 15, 20, 22 and 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// User and system CPU time, clock ticks.
    cpu_ticks: u64,
    /// Threads.
    threads: u64,
    /// Start time, clock ticks after boot.
    start_ticks: u64,
    /// Virtual memory size, bytes.
    vsize: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
/// and may hold spaces and parentheses itself, so fields are counted from
/// the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // `rest` starts at field 3 (state): field n is at index n - 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
    })
}

/// The boot time in Unix seconds, from `/proc/stat`'s `btime` line.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit on open files from `/proc/<pid>/limits` (`None` when
/// unlimited or unreadable).
fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One reading of the process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Reading {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<u64>,
    virtual_bytes: Option<u64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
    start_time_seconds: Option<f64>,
    threads: Option<u64>,
}

fn read() -> Reading {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t));
    let btime = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_btime(&t));
    Reading {
        cpu_seconds: stat.map(|s| s.cpu_ticks as f64 / USER_HZ),
        resident_bytes: crate::memory_info().rss,
        virtual_bytes: stat.map(|s| s.vsize),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64),
        max_fds: std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| parse_max_fds(&t)),
        start_time_seconds: stat
            .zip(btime)
            .map(|(s, b)| b as f64 + s.start_ticks as f64 / USER_HZ),
        threads: stat.map(|s| s.threads),
    }
}

/// Reports the `process_*` families at each scrape.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: Option<f64>,
) -> Result<(), std::fmt::Error> {
    if let Some(v) = value {
        let g = ConstGauge::new(v);
        g.encode(encoder.encode_descriptor(name, help, unit, g.metric_type())?)?;
    }
    Ok(())
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let r = read();
        if let Some(cpu) = r.cpu_seconds {
            let c = ConstCounter::new(cpu);
            c.encode(encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                c.metric_type(),
            )?)?;
        }
        let bytes = |v: Option<u64>| v.map(|v| v as f64);
        gauge(
            &mut encoder,
            "process_resident_memory",
            "Resident memory size in bytes",
            Some(&Unit::Bytes),
            bytes(r.resident_bytes),
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory",
            "Virtual memory size in bytes",
            Some(&Unit::Bytes),
            bytes(r.virtual_bytes),
        )?;
        gauge(
            &mut encoder,
            "process_open_fds",
            "Number of open file descriptors",
            None,
            bytes(r.open_fds),
        )?;
        gauge(
            &mut encoder,
            "process_max_fds",
            "Maximum number of open file descriptors",
            None,
            bytes(r.max_fds),
        )?;
        gauge(
            &mut encoder,
            "process_start_time",
            "Start time of the process since unix epoch in seconds",
            Some(&Unit::Seconds),
            r.start_time_seconds,
        )?;
        gauge(
            &mut encoder,
            "process_threads",
            "Number of OS threads in the process",
            None,
            bytes(r.threads),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        // A command name with a space and a parenthesis, as the kernel
        // writes it (fields 1-24 of a real line).
        let stat = "4242 (rum or) d) S 1 4242 4242 0 -1 4194560 2077 0 0 0 \
                    150 37 0 0 20 0 9 0 123456 218103808 5000";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                cpu_ticks: 187,
                threads: 9,
                start_ticks: 123_456,
                vsize: 218_103_808,
            })
        );
        assert_eq!(parse_stat("4242 (rumord) S 1 2"), None);
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
    }

    #[test]
    fn this_process_reads_sensibly() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let r = read();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = r.start_time_seconds.expect("start time");
        // Started before now, and not before the kernel booted a year ago.
        assert!(
            start <= now + 1.0 && start > now - 365.0 * 86_400.0,
            "{start} vs {now}"
        );
        assert!(r.cpu_seconds.expect("cpu") >= 0.0);
        assert!(r.threads.expect("threads") >= 1);
        let open = r.open_fds.expect("fds");
        // stdin, stdout, stderr and the directory being read.
        assert!(open >= 3, "{open}");
        assert!(r.max_fds.is_none_or(|m| m >= open));
        assert!(r.virtual_bytes.expect("vsize") >= r.resident_bytes.expect("rss"));
    }
}
