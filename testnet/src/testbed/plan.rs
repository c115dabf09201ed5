//! [`RunArgs`] (the `run` command line) and [`RunPlan`]: the same, checked.
//! Every impossible parameter is refused here, before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// Where the nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Local `rumord` processes on 127.0.0.1 (needs no docker).
    Local,
    /// A docker-compose network of `FROM scratch` containers.
    Compose,
    /// A Docker Swarm stack (`docker stack deploy`) on the swarm this
    /// engine manages: one service per node on an overlay network.
    Swarm,
}

pub use rumor_sim::{Relay, Topology};

/// `rumor-testnet run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Where the nodes run.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Number of nodes.
    #[arg(long, short = 'n', default_value_t = 16)]
    pub nodes: usize,
    /// How they connect: bootnode, random, ring or line.
    #[arg(long, default_value_t = Topology::Random)]
    pub topology: Topology,
    /// Links per node for `--topology random` [default: 4, or nodes-1 if fewer];
    /// also the peer target with `--topology bootnode`.
    #[arg(long)]
    pub degree: Option<usize>,
    /// Relay mode: announce, push, batch or hybrid.
    #[arg(long, default_value_t = Relay::Announce)]
    pub relay: Relay,
    /// Run announce, push and batch on the same seed and topology, side by side.
    #[arg(long)]
    pub compare: bool,
    /// Seed for the topology, origins, faults and keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Transactions to inject.
    #[arg(long, default_value_t = 200)]
    pub txs: usize,
    /// Injection rate, transactions per second.
    #[arg(long, default_value_t = 50.0)]
    pub tx_rate: f64,
    /// Submit every transaction to this node (default: a random node each time).
    #[arg(long)]
    pub origin: Option<usize>,
    /// Mine a block this often (e.g. `5s`; `0` = no blocks).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub block_interval: Duration,
    /// How many nodes take turns mining.
    #[arg(long, default_value_t = 1)]
    pub miners: usize,
    /// One-way delay added to every link (e.g. `50ms`).
    #[arg(long, default_value = "0ms", value_parser = parse_duration, allow_hyphen_values = true)]
    pub link_delay: Duration,
    /// Jitter on the delay (e.g. `5ms`), at most the delay.
    #[arg(long, default_value = "0ms", value_parser = parse_duration, allow_hyphen_values = true)]
    pub link_jitter: Duration,
    /// Fraction of protocol messages dropped on receipt (e.g. `1%` or `0.01`).
    #[arg(long, default_value = "0", value_parser = parse_fraction, allow_hyphen_values = true)]
    pub link_loss: f64,
    /// Outgoing bandwidth per connection (e.g. `20mbit`, `500kbit`; `0` = unlimited).
    #[arg(long, default_value = "0", value_parser = parse_bandwidth)]
    pub link_bandwidth: u64,
    /// gossipsub D, the fan-out [default: 6, or nodes-1 if fewer].
    #[arg(long)]
    pub mesh_d: Option<usize>,
    /// Anti-entropy interval.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub sync_interval: Duration,
    /// Batch mode: how long a node collects ids before announcing them.
    #[arg(long, default_value = "25ms", value_parser = parse_duration)]
    pub batch_window: Duration,
    /// Hybrid mode: peers each node pushes an origin's objects to at once
    /// (each tree's eager degree, 1 to 64).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub eager_degree: u16,
    /// Kill -9 `k` random nodes at `t` and restart them after `d`: `k@t+d`,
    /// e.g. `2@10s+5s`. Repeatable.
    #[arg(long = "kill", value_parser = parse_kill)]
    pub kills: Vec<KillSpec>,
    /// Partition the nodes into two sides between `t1` and `t2`:
    /// `A|B@t1-t2`, sides as ranges or lists, e.g. `0-7|8-15@5s-15s`. Repeatable.
    #[arg(long = "partition", value_parser = parse_partition)]
    pub partitions: Vec<PartitionSpec>,
    /// Run the workload this long (sets `--txs` to rate × duration), e.g. `30m`.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Rolling restarts: kill -9 one random node this often and restart it
    /// after `--restart-down` (e.g. `2m`).
    #[arg(long, value_parser = parse_duration)]
    pub restart_every: Option<Duration>,
    /// How long a node stays down in rolling restarts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub restart_down: Duration,
    /// Split the nodes into two halves this often, for `--partition-for`.
    #[arg(long, value_parser = parse_duration)]
    pub partition_every: Option<Duration>,
    /// How long each periodic partition lasts.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub partition_for: Duration,
    /// How long to wait after the workload for every live node to have every
    /// accepted object; what is still missing then is lost.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Where results go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Cargo profile of the static `rumord` the compose and swarm backends build
    /// (`release`, or `dev` for a quicker build of slower nodes).
    #[arg(long, default_value = "release")]
    pub compose_profile: String,
    /// compose and swarm: run this image (e.g. one pushed to a registry
    /// every swarm host can reach) instead of building one from source.
    #[arg(long)]
    pub image: Option<String>,
    /// swarm: the stack's name [default: rumor-<hash of the run id>]; a
    /// stack of that name must not exist.
    #[arg(long)]
    pub stack: Option<String>,
    /// The `rumord` binary (default: built by cargo next to this one).
    #[arg(long)]
    pub rumord: Option<PathBuf>,
    /// Keep the nodes' data directories after the run.
    #[arg(long)]
    pub keep_data: bool,
    /// Keep the network running this long after collecting, to inspect it
    /// over RPC (user `rumor`, see `--rpc-password`).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub hold: Duration,
    /// The nodes' RPC password (default: random per run).
    #[arg(long)]
    pub rpc_password: Option<String>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `k@t+d`: kill `k` nodes at `t`, restart after `d`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KillSpec {
    /// How many.
    pub count: usize,
    /// When, from the start of the workload.
    #[serde(with = "ms")]
    pub at: Duration,
    /// How long they stay down.
    #[serde(with = "ms")]
    pub down_for: Duration,
}

/// `A|B@t1-t2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionSpec {
    /// One side.
    pub a: Vec<usize>,
    /// The other.
    pub b: Vec<usize>,
    /// Start.
    #[serde(with = "ms")]
    pub from: Duration,
    /// End (healed).
    #[serde(with = "ms")]
    pub until: Duration,
}

/// A parameter that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Fewer than 2 nodes.
    #[error("--nodes must be at least 2 (got {0})")]
    TooFewNodes(usize),
    /// A degree that cannot be built.
    #[error(
        "--degree must be between {min} and nodes-1 = {max} (got {degree}): a random graph needs a ring of 2 links per node (1 with 2 nodes), and a node has at most nodes-1 peers"
    )]
    Degree {
        /// Asked for.
        degree: usize,
        /// The least possible.
        min: usize,
        /// The most possible.
        max: usize,
    },
    /// `--origin` names no node.
    #[error("--origin {origin} names no node (nodes are 0..{nodes})")]
    Origin {
        /// Asked for.
        origin: usize,
        /// Node count.
        nodes: usize,
    },
    /// Miners outside 1..=nodes.
    #[error("--miners must be between 1 and {nodes} (got {miners})")]
    Miners {
        /// Asked for.
        miners: usize,
        /// Node count.
        nodes: usize,
    },
    /// A zero or non-finite rate.
    #[error("--tx-rate must be a positive number (got {0})")]
    Rate(f64),
    /// Jitter larger than delay.
    #[error("--link-jitter ({jitter:?}) must not exceed --link-delay ({delay:?})")]
    Jitter {
        /// Jitter.
        jitter: Duration,
        /// Delay.
        delay: Duration,
    },
    /// A D that the mesh cannot have.
    #[error("--mesh-d must be between 1 and nodes-1 = {max} (got {d})")]
    MeshD {
        /// Asked for.
        d: usize,
        /// Most possible.
        max: usize,
    },
    /// A kill of more nodes than exist (at least one must stay up).
    #[error("--kill {count}@…: must leave at least one node up ({nodes} nodes)")]
    KillCount {
        /// Asked for.
        count: usize,
        /// Node count.
        nodes: usize,
    },
    /// A partition naming unknown nodes or overlapping sides.
    #[error("--partition: {0}")]
    Partition(String),
    /// `sweep` parameters that cannot work.
    #[error("sweep: {0}")]
    Sweep(String),
    /// `scale` parameters that cannot work.
    #[error("scale: {0}")]
    Scale(String),
    /// Output folder problem.
    #[error("--out {0}: not a usable folder")]
    Out(PathBuf),
    /// A flag that only a docker backend uses.
    #[error("{flag} needs {needs}")]
    BackendFlag {
        /// The flag.
        flag: &'static str,
        /// The backend(s) it needs.
        needs: &'static str,
    },
    /// A stack name docker would not take (or that would not leave room
    /// for the service names).
    #[error(
        "--stack {0:?}: use 1 to 30 lowercase letters, digits and dashes, starting with a letter"
    )]
    Stack(String),
}

impl RunArgs {
    /// Applies `--duration`, `--restart-every` and `--partition-every`:
    /// the transaction count and the explicit fault lists they imply.
    pub fn normalize(&mut self) {
        if let Some(d) = self.duration {
            self.txs = (d.as_secs_f64() * self.tx_rate).ceil() as usize;
        }
        let span = Duration::from_secs_f64(self.txs as f64 / self.tx_rate.max(f64::MIN_POSITIVE));
        if let Some(every) = self.restart_every.filter(|e| !e.is_zero()) {
            let mut at = every;
            while at + self.restart_down < span {
                self.kills.push(KillSpec {
                    count: 1,
                    at,
                    down_for: self.restart_down,
                });
                at += every;
            }
        }
        if let Some(every) = self.partition_every.filter(|e| !e.is_zero()) {
            let half = self.nodes / 2;
            let mut at = every;
            while at + self.partition_for < span {
                self.partitions.push(PartitionSpec {
                    a: (0..half).collect(),
                    b: (half..self.nodes).collect(),
                    from: at,
                    until: at + self.partition_for,
                });
                at += every;
            }
        }
        self.restart_every = None;
        self.partition_every = None;
        self.duration = None;
    }

    /// Links per node: `--degree`, or 4 (at most nodes-1).
    pub fn degree(&self) -> usize {
        self.degree
            .unwrap_or_else(|| 4.min(self.nodes.saturating_sub(1)))
    }

    /// gossipsub D: `--mesh-d`, or 6 (at most nodes-1).
    pub fn mesh_d(&self) -> usize {
        self.mesh_d
            .unwrap_or_else(|| 6.min(self.nodes.saturating_sub(1)))
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// The first [`PlanError`] found.
    pub fn validate(&self) -> Result<(), PlanError> {
        let n = self.nodes;
        if n < 2 {
            return Err(PlanError::TooFewNodes(n));
        }
        // The ring under a random graph gives every node 2 links; with 2
        // nodes it is the one link there is.
        let min_degree = 2.min(n - 1);
        if self.topology == Topology::Random && !(min_degree..n).contains(&self.degree()) {
            return Err(PlanError::Degree {
                degree: self.degree(),
                min: min_degree,
                max: n - 1,
            });
        }
        if let Some(o) = self.origin
            && o >= n
        {
            return Err(PlanError::Origin {
                origin: o,
                nodes: n,
            });
        }
        if self.miners == 0 || self.miners > n {
            return Err(PlanError::Miners {
                miners: self.miners,
                nodes: n,
            });
        }
        if !(self.tx_rate.is_finite() && self.tx_rate > 0.0) {
            return Err(PlanError::Rate(self.tx_rate));
        }
        if self.link_jitter > self.link_delay {
            return Err(PlanError::Jitter {
                jitter: self.link_jitter,
                delay: self.link_delay,
            });
        }
        if self.mesh_d() == 0 || self.mesh_d() >= n {
            return Err(PlanError::MeshD {
                d: self.mesh_d(),
                max: n - 1,
            });
        }
        for k in &self.kills {
            if k.count >= n {
                return Err(PlanError::KillCount {
                    count: k.count,
                    nodes: n,
                });
            }
        }
        for p in &self.partitions {
            if let Some(bad) = p.a.iter().chain(&p.b).find(|i| **i >= n) {
                return Err(PlanError::Partition(format!(
                    "node {bad} does not exist (nodes are 0..{n})"
                )));
            }
            if p.a.iter().any(|i| p.b.contains(i)) {
                return Err(PlanError::Partition("a node is on both sides".into()));
            }
            if p.a.is_empty() || p.b.is_empty() {
                return Err(PlanError::Partition(
                    "both sides need at least one node".into(),
                ));
            }
            if p.until <= p.from {
                return Err(PlanError::Partition(
                    "the end must come after the start".into(),
                ));
            }
        }
        if self.image.is_some() && self.backend == Backend::Local {
            return Err(PlanError::BackendFlag {
                flag: "--image",
                needs: "--backend compose or swarm",
            });
        }
        if let Some(stack) = &self.stack {
            if self.backend != Backend::Swarm {
                return Err(PlanError::BackendFlag {
                    flag: "--stack",
                    needs: "--backend swarm",
                });
            }
            let ok = (1..=30).contains(&stack.len())
                && stack.starts_with(|c: char| c.is_ascii_lowercase())
                && stack
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(PlanError::Stack(stack.clone()));
            }
        }
        if self.out.exists() && !self.out.is_dir() {
            return Err(PlanError::Out(self.out.clone()));
        }
        Ok(())
    }

    /// How long the workload runs: the injections, or the last fault, whichever is later.
    pub fn workload_duration(&self) -> Duration {
        let inject = Duration::from_secs_f64(self.txs as f64 / self.tx_rate);
        let faults = self
            .kills
            .iter()
            .map(|k| k.at + k.down_for)
            .chain(self.partitions.iter().map(|p| p.until))
            .max()
            .unwrap_or_default();
        inject.max(faults)
    }
}

/// Parses `250ms`, `1.5s`, `2m`, `0`.
///
/// # Errors
/// A message naming the bad text.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(format!("`{s}`: a duration cannot be negative"));
    }
    let (num, unit) = split_unit(s);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 50ms, 1.5s or 2m"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "" if v == 0.0 => 0.0,
        "us" => v / 1e6,
        "m" | "min" => v * 60.0,
        _ => return Err(format!("`{s}`: use a unit: ms, s or m")),
    };
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn split_unit(s: &str) -> (&str, &str) {
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..i], s[i..].trim())
}

/// Parses `1%`, `0.01`, `0`.
///
/// # Errors
/// A message if it is not in [0, 1].
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}` is not a fraction like 1% or 0.01"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("`{s}` is outside 0%..100%"));
    }
    Ok(v)
}

/// Parses `20mbit`, `500kbit`, `1gbit`, `1000000` (bits per second).
///
/// # Errors
/// A message naming the bad text.
pub fn parse_bandwidth(s: &str) -> Result<u64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = split_unit(&s);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a bandwidth like 20mbit"))?;
    let mult = match unit {
        "" | "bit" | "bps" => 1.0,
        "kbit" | "kbps" => 1e3,
        "mbit" | "mbps" => 1e6,
        "gbit" | "gbps" => 1e9,
        _ => return Err(format!("`{s}`: use kbit, mbit or gbit")),
    };
    let bps = v * mult;
    if !bps.is_finite() || !(0.0..=1e12).contains(&bps) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(bps as u64)
}

/// Parses `k@t+d`.
///
/// # Errors
/// A message naming the bad text.
pub fn parse_kill(s: &str) -> Result<KillSpec, String> {
    let (count, rest) = s
        .split_once('@')
        .ok_or(format!("`{s}`: expected k@t+d, e.g. 2@10s+5s"))?;
    let (at, down) = rest
        .split_once('+')
        .ok_or(format!("`{s}`: expected k@t+d, e.g. 2@10s+5s"))?;
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: k must be a whole number"))?;
    if count == 0 {
        return Err(format!("`{s}`: k must be at least 1"));
    }
    Ok(KillSpec {
        count,
        at: parse_duration(at)?,
        down_for: parse_duration(down)?,
    })
}

fn parse_side(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{part}` is not a node range"))?;
                let b: usize = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{part}` is not a node range"))?;
                if b < a {
                    return Err(format!("`{part}`: range runs backwards"));
                }
                out.extend(a..=b);
            }
            None => out.push(
                part.parse()
                    .map_err(|_| format!("`{part}` is not a node number"))?,
            ),
        }
    }
    Ok(out)
}

/// Parses `A|B@t1-t2`.
///
/// # Errors
/// A message naming the bad text.
pub fn parse_partition(s: &str) -> Result<PartitionSpec, String> {
    let (sides, times) = s
        .rsplit_once('@')
        .ok_or(format!("`{s}`: expected A|B@t1-t2, e.g. 0-7|8-15@5s-15s"))?;
    let (a, b) = sides
        .split_once('|')
        .ok_or(format!("`{s}`: expected two sides separated by |"))?;
    let (t1, t2) = times
        .split_once('-')
        .ok_or(format!("`{s}`: expected a time span t1-t2"))?;
    Ok(PartitionSpec {
        a: parse_side(a)?,
        b: parse_side(b)?,
        from: parse_duration(t1)?,
        until: parse_duration(t2)?,
    })
}

/// Serde for durations as milliseconds.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs_f64(
            f64::deserialize(d)?.max(0.0) / 1000.0,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("-5ms").is_err());
        assert!(parse_duration("5").is_err(), "a unit is required");
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_fraction("1%"), Ok(0.01));
        assert_eq!(parse_fraction("0.2"), Ok(0.2));
        assert!(parse_fraction("150%").is_err());
        assert!(parse_fraction("-1%").is_err());
        assert_eq!(parse_bandwidth("20mbit"), Ok(20_000_000));
        assert_eq!(parse_bandwidth("500kbit"), Ok(500_000));
        assert!(parse_bandwidth("fast").is_err());
        assert_eq!(
            parse_kill("2@10s+5s"),
            Ok(KillSpec {
                count: 2,
                at: Duration::from_secs(10),
                down_for: Duration::from_secs(5)
            })
        );
        assert!(parse_kill("0@1s+1s").is_err());
        let p = parse_partition("0-2,5|3,4@1s-2s").unwrap();
        assert_eq!(p.a, vec![0, 1, 2, 5]);
        assert_eq!(p.b, vec![3, 4]);
        assert!(parse_partition("0-2|3").is_err());
    }
}
