//! What one run measured, and averages over trials.
//!
//! Names follow Demers et al.: residue `s` is the fraction of sites never reached,
//! traffic `m` the number of update-carrying messages sent per site, `t_ave` the mean
//! time at which a site (other than the origin) first received the update, and
//! `t_last` the time at which the last reached site received it.

use serde::Serialize;

/// "Never received": the first-seen time of a site the update did not reach.
pub(crate) const NEVER: u32 = u32::MAX;

/// The coverage levels reported by every run.
pub const COVERAGE_LEVELS: [(u32, u32); 4] = [(50, 100), (90, 100), (99, 100), (100, 100)];

/// Message counters a model keeps during one run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    /// Messages that carry the update (sent, whether or not they arrive).
    pub(crate) messages: u64,
    /// Update-carrying messages that arrived.
    pub(crate) deliveries: u64,
    /// Conversations initiated (calls, pull requests).
    pub(crate) contacts: u64,
    /// IHAVE announcements sent (mesh only).
    pub(crate) ihave: u64,
    /// IWANT requests sent (mesh only).
    pub(crate) iwant: u64,
}

/// Times to reach a fraction of the sites; `None` when a run never got there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coverage {
    /// Time at which at least half the sites had the update.
    pub p50: Option<f64>,
    /// ... at least 90 %.
    pub p90: Option<f64>,
    /// ... at least 99 %.
    pub p99: Option<f64>,
    /// ... all sites.
    pub p100: Option<f64>,
}

impl Coverage {
    /// The four values in [`COVERAGE_LEVELS`] order.
    pub const fn as_array(&self) -> [Option<f64>; 4] {
        [self.p50, self.p90, self.p99, self.p100]
    }
}

/// Control traffic of the mesh model, per node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ControlTraffic {
    /// IHAVE announcements sent per node.
    pub ihave_per_node: f64,
    /// IWANT requests sent per node.
    pub iwant_per_node: f64,
}

/// Hop counts of the first copy each node received (mesh only).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HopStats {
    /// Mean hops from the origin over reached nodes other than the origin.
    pub mean: f64,
    /// The largest hop count.
    pub max: u32,
}

/// Everything one trial of one algorithm measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMetrics {
    /// The site that held the update at time 0.
    pub origin: u32,
    /// The number of sites `n`.
    pub nodes: u32,
    /// Sites that had the update at the end, the origin included.
    pub reached: u32,
    /// Demers' residue `s`: the fraction of sites never reached.
    pub residue: f64,
    /// Demers' traffic `m`: update-carrying messages sent, per site.
    pub traffic: f64,
    /// Conversations initiated (calls or pull requests), per site.
    pub contacts_per_site: f64,
    /// Update copies received beyond the first, per site.
    pub duplicates_per_node: f64,
    /// Mean time at which a site other than the origin first received the update.
    pub t_ave: Option<f64>,
    /// The time at which the last reached site received the update.
    pub t_last: Option<f64>,
    /// Times to 50/90/99/100 % coverage.
    pub coverage: Coverage,
    /// When the run stopped: full coverage for anti-entropy and fan-out, no infective
    /// site left for rumor mongering, an empty event queue for the mesh.
    pub end: f64,
    /// Whether the run hit `--max-cycles` before its natural end.
    pub truncated: bool,
    /// IHAVE/IWANT traffic (mesh only).
    pub control: Option<ControlTraffic>,
    /// Hop counts (mesh only).
    pub hops: Option<HopStats>,
    /// Sites reached by time `i * curve_step`, for `i = 0, 1, ...` up to `t_last`.
    #[serde(skip)]
    pub curve: Vec<u32>,
    /// The time between two points of `curve`.
    pub curve_step: u32,
}

/// The smallest count that is at least `num/den` of `n`.
pub(crate) const fn ceil_fraction(n: u32, num: u32, den: u32) -> u64 {
    (n as u64 * num as u64).div_ceil(den as u64)
}

impl RunMetrics {
    /// Derives every metric from the first-seen time of each site (`NEVER` if not
    /// reached) and the run's counters.
    pub(crate) fn from_first_seen(
        first_seen: &[u32],
        origin: u32,
        counters: Counters,
        end: f64,
        truncated: bool,
        curve_step: u32,
    ) -> RunMetrics {
        let n = u32::try_from(first_seen.len()).expect("site count fits in u32");
        let nf = f64::from(n);
        let t_last_raw = first_seen.iter().copied().filter(|&t| t != NEVER).max();
        let t_last_raw = t_last_raw.unwrap_or(0);
        let mut histogram = vec![0u32; t_last_raw as usize + 1];
        let mut reached = 0u32;
        let mut sum = 0f64;
        for (i, &t) in first_seen.iter().enumerate() {
            if t != NEVER {
                histogram[t as usize] += 1;
                reached += 1;
                if i != origin as usize {
                    sum += f64::from(t);
                }
            }
        }
        let t_ave = (reached > 1).then(|| sum / f64::from(reached - 1));
        let t_last = (reached > 1).then_some(f64::from(t_last_raw));

        let thresholds = COVERAGE_LEVELS.map(|(num, den)| ceil_fraction(n, num, den));
        let mut times = [None; 4];
        let mut cumulative = 0u64;
        for (t, &count) in histogram.iter().enumerate() {
            cumulative += u64::from(count);
            for (slot, &threshold) in times.iter_mut().zip(&thresholds) {
                if slot.is_none() && cumulative >= threshold {
                    *slot = Some(t as f64);
                }
            }
        }
        let step = curve_step.max(1) as usize;
        let points = (t_last_raw as usize).div_ceil(step) + 1;
        let mut curve = Vec::with_capacity(points);
        let mut cumulative = 0u32;
        let mut next_time = 0usize;
        for (t, &count) in histogram.iter().enumerate() {
            while next_time < t {
                curve.push(cumulative);
                next_time += step;
            }
            cumulative += count;
        }
        while curve.len() < points {
            curve.push(cumulative);
        }
        let delivered = counters.deliveries;
        let duplicates = delivered.saturating_sub(u64::from(reached.saturating_sub(1)));
        RunMetrics {
            origin,
            nodes: n,
            reached,
            residue: f64::from(n - reached) / nf,
            traffic: counters.messages as f64 / nf,
            contacts_per_site: counters.contacts as f64 / nf,
            duplicates_per_node: duplicates as f64 / nf,
            t_ave,
            t_last,
            coverage: Coverage {
                p50: times[0],
                p90: times[1],
                p99: times[2],
                p100: times[3],
            },
            end,
            truncated,
            control: None,
            hops: None,
            curve,
            curve_step,
        }
    }
}

/// Mean, standard deviation and count of one metric over the trials that have it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    /// The mean over the trials that produced a value (`None` if none did).
    pub mean: Option<f64>,
    /// The sample standard deviation (`None` with fewer than two values).
    pub std_dev: Option<f64>,
    /// How many trials produced a value.
    pub count: u32,
}

impl Stat {
    /// Summarises the values that are present.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Stat {
        let present: Vec<f64> = values.into_iter().flatten().collect();
        let count = u32::try_from(present.len()).unwrap_or(u32::MAX);
        if present.is_empty() {
            return Stat {
                mean: None,
                std_dev: None,
                count,
            };
        }
        let k = present.len() as f64;
        let mean = present.iter().sum::<f64>() / k;
        let std_dev = (present.len() > 1).then(|| {
            let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0);
            var.sqrt()
        });
        Stat {
            mean: Some(mean),
            std_dev,
            count,
        }
    }

    /// The mean, or NaN when no trial produced a value.
    pub fn value(&self) -> f64 {
        self.mean.unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_from_first_seen() {
        // 10 sites, origin 3 at t=0; 8 others reached at t=1..3; site 9 never.
        let first = [1, 1, 2, 0, 2, 2, 3, 3, 1, NEVER];
        let counters = Counters {
            messages: 12,
            deliveries: 11,
            contacts: 20,
            ..Counters::default()
        };
        let m = RunMetrics::from_first_seen(&first, 3, counters, 5.0, false, 1);
        assert_eq!(m.reached, 9);
        assert!((m.residue - 0.1).abs() < 1e-12);
        assert!((m.traffic - 1.2).abs() < 1e-12);
        assert!((m.contacts_per_site - 2.0).abs() < 1e-12);
        // 11 deliveries, 8 of them first receipts.
        assert!((m.duplicates_per_node - 0.3).abs() < 1e-12);
        assert_eq!(m.t_ave, Some((1.0 * 3.0 + 2.0 * 3.0 + 3.0 * 2.0) / 8.0));
        assert_eq!(m.t_last, Some(3.0));
        // 50 % = 5 sites: 1 at t0, 4 by t1 -> reached at t2 (7).
        assert_eq!(m.coverage.p50, Some(2.0));
        assert_eq!(m.coverage.p90, Some(3.0));
        assert_eq!(m.coverage.p99, None);
        assert_eq!(m.coverage.p100, None);
        assert_eq!(m.curve, vec![1, 4, 7, 9]);
    }

    #[test]
    fn curve_samples_every_step() {
        let first = [0, 5, 10, 25];
        let m = RunMetrics::from_first_seen(&first, 0, Counters::default(), 25.0, false, 10);
        // times 0, 10, 20, 30
        assert_eq!(m.curve, vec![1, 3, 3, 4]);
        assert_eq!(m.coverage.p100, Some(25.0));
    }

    #[test]
    fn stat_ignores_missing_values() {
        let s = Stat::of([Some(1.0), None, Some(3.0)]);
        assert_eq!(s.mean, Some(2.0));
        assert_eq!(s.count, 2);
        assert!((s.std_dev.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of([None]).mean, None);
    }
}
