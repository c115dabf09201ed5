//! The host's CPU over a run's measurement window, read from `/proc`: the
//! whole machine's busy share every [`SAMPLE_EVERY`] (`/proc/stat`), and
//! each local node's CPU time at the window's ends (`/proc/<pid>/stat`).
//! `rumor-sim`'s [`rumor_sim::MachineCpu`] judges them; the report flags a
//! run whose machine was saturated.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// How often the machine's busy share is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Samples kept at most (an hour at [`SAMPLE_EVERY`]); a longer window keeps
/// its first hour.
const MAX_SAMPLES: usize = 14_400;
/// `/proc`'s clock ticks per second (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_S: f64 = 100.0;

/// What a run's window saw, before judging (part of `Collected`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuWindow {
    /// Cores the machine has.
    pub cores: usize,
    /// Length of the window, s.
    pub window_s: f64,
    /// The machine's busy share (0–1), one per sample.
    pub busy: Vec<f64>,
    /// CPU of each node that ran the whole window, ms per s.
    pub node_ms_per_s: Vec<f64>,
}

/// Busy and total jiffies of all cores, from `/proc/stat`'s first line
/// (`cpu  user nice system idle iowait irq softirq steal …`): idle and
/// iowait are not busy; guest time is already counted in user.
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// A process's user + system ticks, all threads, from `/proc/<pid>/stat`
/// (fields 14 and 15; the command name before them may hold spaces, so
/// counting starts after its closing parenthesis).
pub fn parse_process_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn machine_jiffies() -> Option<(u64, u64)> {
    parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// `pid`'s CPU ticks so far.
pub fn process_ticks(pid: u32) -> Option<u64> {
    parse_process_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The busy share of each step between consecutive (busy, total) readings.
fn shares(readings: &[(u64, u64)]) -> Vec<f64> {
    readings
        .windows(2)
        .filter_map(|w| {
            let total = w[1].1.checked_sub(w[0].1)?;
            let busy = w[1].0.checked_sub(w[0].0)?;
            (total > 0).then(|| busy as f64 / total as f64)
        })
        .collect()
}

/// Samples the machine from [`CpuSampler::start`] until
/// [`CpuSampler::finish`], and the nodes' CPU time at both ends.
pub struct CpuSampler {
    started: Instant,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<(u64, u64)>>,
    nodes: Vec<Option<(u32, u64)>>,
}

impl CpuSampler {
    /// Starts sampling; `pids` are the nodes' processes (`None`: not a
    /// local process, not measured).
    pub fn start(pids: &[Option<u32>]) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut readings = Vec::new();
            let mut every = tokio::time::interval(SAMPLE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = every.tick() => {
                        if readings.len() <= MAX_SAMPLES
                            && let Some(r) = machine_jiffies()
                        {
                            readings.push(r);
                        }
                    }
                }
            }
            if let Some(r) = machine_jiffies() {
                readings.push(r);
            }
            readings
        });
        Self {
            started: Instant::now(),
            stop,
            task,
            nodes: pids
                .iter()
                .map(|p| p.and_then(|pid| Some((pid, process_ticks(pid)?))))
                .collect(),
        }
    }

    /// Ends the window. `pids` are the nodes' processes now: a node whose
    /// process changed (restarted) or ended is left out.
    pub async fn finish(self, pids: &[Option<u32>]) -> CpuWindow {
        let window_s = self.started.elapsed().as_secs_f64();
        let _ = self.stop.send(());
        let readings = self.task.await.unwrap_or_default();
        let node_ms_per_s = self
            .nodes
            .iter()
            .zip(pids)
            .filter_map(|(start, now)| {
                let (pid, before) = (*start)?;
                if *now != Some(pid) || window_s <= 0.0 {
                    return None;
                }
                let after = process_ticks(pid)?;
                Some(after.saturating_sub(before) as f64 / TICKS_PER_S * 1000.0 / window_s)
            })
            .collect();
        CpuWindow {
            cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
            window_s,
            busy: shares(&readings),
            node_ms_per_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        let stat = "cpu  100 5 50 800 20 3 2 0 7 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1\n";
        // busy = 100+5+50+3+2+0 = 160, total = 980 (guest left out).
        assert_eq!(parse_stat(stat), Some((160, 980)));
        assert_eq!(parse_stat("intr 1\n"), None);
        assert_eq!(parse_stat("cpu  1 x 3 4\n"), None);
        let pid = "4242 (rumord (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 123 45 0 0 20 0 6 0";
        assert_eq!(parse_process_ticks(pid), Some(168));
        assert_eq!(parse_process_ticks("4242 (rumord) S 1"), None);
    }

    #[test]
    fn shares_come_from_consecutive_readings() {
        let r = [(100, 1000), (280, 1200), (280, 1400), (300, 1400)];
        // The last step has no total: left out, not divided by zero.
        assert_eq!(shares(&r), vec![0.9, 0.0]);
        assert!(shares(&r[..1]).is_empty());
    }

    #[tokio::test]
    async fn a_window_measures_this_machine_and_this_process() {
        let me = std::process::id();
        let sampler = CpuSampler::start(&[Some(me), None, Some(u32::MAX)]);
        // Work until the sampler has taken a few samples and this process
        // has used a tick or more.
        let before = process_ticks(me).unwrap();
        let mut x = 0u64;
        while process_ticks(me).unwrap() < before + 3 {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            tokio::task::yield_now().await;
        }
        std::hint::black_box(x);
        tokio::time::sleep(SAMPLE_EVERY * 3).await;
        let w = sampler.finish(&[Some(me), None, Some(u32::MAX)]).await;
        assert!(w.cores >= 1);
        assert!(!w.busy.is_empty(), "{w:?}");
        assert!(w.busy.iter().all(|b| (0.0..=1.0).contains(b)), "{w:?}");
        // Only this process was measured: the others are no local process.
        assert_eq!(w.node_ms_per_s.len(), 1, "{w:?}");
        assert!(w.node_ms_per_s[0] > 0.0, "{w:?}");
    }
}
