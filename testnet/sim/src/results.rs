//! The results schema rumor's testnet and the relay-driven simulator share:
//! `summary.json` ([`Summary`], schema [`SCHEMA`]) and the rows of
//! `objects.csv` ([`ObjectRow`]), with the vocabulary they use (relay mode,
//! topology, object kind, faults). `rumor-testnet run` measures them on real
//! nodes; `rumor-testnet sim-relay` simulates them; `report` and `compare`
//! read either.

use serde::{Deserialize, Serialize};

/// What kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A transaction.
    Tx,
    /// A block.
    Block,
}

impl Kind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tx => "tx",
            Self::Block => "block",
        }
    }
}

/// A relay mode, as the results name it (`rumord --relay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Relay {
    /// Inventory announcements + getdata (rumor's default).
    Announce,
    /// Full objects in gossip messages (plain gossipsub flooding).
    Push,
    /// Batched per-hop announcements (a node announces what it accepted in
    /// the last 25 ms as one message to its mesh).
    Batch,
    /// Announcements plus eager push along per-origin trees (Plumtree).
    Hybrid,
}

impl Relay {
    /// Every mode, in the order `--compare` runs them.
    pub const ALL: [Self; 4] = [Self::Announce, Self::Push, Self::Batch, Self::Hybrid];

    /// The name `rumord --relay` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Announce => "announce",
            Self::Push => "push",
            Self::Batch => "batch",
            Self::Hybrid => "hybrid",
        }
    }
}

impl From<Relay> for rumor_relay::RelayMode {
    fn from(r: Relay) -> Self {
        match r {
            Relay::Announce => Self::Announce,
            Relay::Push => Self::Push,
            Relay::Batch => Self::Batch,
            Relay::Hybrid => Self::Hybrid,
        }
    }
}

/// A relay mode name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown relay mode `{0}` (expected announce, push, batch or hybrid)")]
pub struct UnknownRelay(pub String);

impl std::str::FromStr for Relay {
    type Err = UnknownRelay;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRelay(s.to_owned()))
    }
}

impl std::fmt::Display for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the nodes are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Everyone knows only node 0 and discovers the rest by peer exchange.
    Bootnode,
    /// A random connected graph where every node has about `--degree` links.
    Random,
    /// A ring.
    Ring,
    /// A line (the worst diameter).
    Line,
}

impl Topology {
    /// Every topology.
    pub const ALL: [Self; 4] = [Self::Bootnode, Self::Random, Self::Ring, Self::Line];

    /// Its name on the command line and in `params.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bootnode => "bootnode",
            Self::Random => "random",
            Self::Ring => "ring",
            Self::Line => "line",
        }
    }
}

/// A topology name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topology `{0}` (expected bootnode, random, ring or line)")]
pub struct UnknownTopology(pub String);

impl std::str::FromStr for Topology {
    type Err = UnknownTopology;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTopology(s.to_owned()))
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault as it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultEvent {
    /// Seconds after the workload started.
    pub at_s: f64,
    /// What: `kill`, `restart`, `partition`, `heal`.
    pub what: String,
    /// Which nodes.
    pub nodes: Vec<usize>,
}

/// The schema name written into every summary.
pub const SCHEMA: &str = "rumor-testnet/summary/1";

/// p50 / p90 / p99 / max of a sample, in milliseconds. An empty sample
/// has `n` = 0 and no statistics (`null` in JSON, not a made-up 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values in the sample.
    pub n: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (empty: none, `n` = 0).
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Self {
            n: v.len(),
            p50: Some(rank(0.50)),
            p90: Some(rank(0.90)),
            p99: Some(rank(0.99)),
            max: Some(v[v.len() - 1]),
        }
    }
}

/// One object's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRow {
    /// tx or block.
    pub kind: Kind,
    /// Id (hex).
    pub id: String,
    /// Origin node.
    pub origin: usize,
    /// When the origin accepted it (t0, Unix ns): the start of its
    /// propagation, comparable with the nodes' first-seen `time_ns`.
    pub start_ns: u64,
    /// Live nodes that hold it at the end.
    pub holders: usize,
    /// Live nodes at the end.
    pub live: usize,
    /// Live nodes with a first-seen record for it.
    pub recorded: usize,
    /// Time until 50 % / 90 % / 100 % of live nodes had it (ms); `None` if never.
    pub c50_ms: Option<f64>,
    /// See `c50_ms`.
    pub c90_ms: Option<f64>,
    /// See `c50_ms`.
    pub c100_ms: Option<f64>,
    /// The origin's eccentricity in the live peer graph (hops).
    pub eccentricity: Option<usize>,
    /// The ideal c100: eccentricity × per-hop cost (ms).
    pub ideal_ms: Option<f64>,
    /// c100 / ideal.
    pub efficiency: Option<f64>,
    /// Whether a live node lacks it at the end.
    pub lost: bool,
}

/// Metrics for one kind of object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KindSummary {
    /// Objects injected.
    pub injected: usize,
    /// Objects the origin accepted.
    pub accepted: usize,
    /// Objects the origin refused because it was busy (RPC −28, admission
    /// control): the load the network did not take.
    #[serde(default)]
    pub refused: usize,
    /// Objects the origin refused for any other reason, or that no node
    /// answered for.
    #[serde(default)]
    pub rejected: usize,
    /// Accepted objects some live node lacks at the end.
    pub lost: usize,
    /// Per (node, object) arrival delays, ms.
    pub delay_ms: Percentiles,
    /// Time to 50 % of live nodes, over objects.
    pub c50_ms: Percentiles,
    /// Time to 90 %.
    pub c90_ms: Percentiles,
    /// Time to 100 %.
    pub c100_ms: Percentiles,
    /// The ideal bound per object.
    pub ideal_ms: Percentiles,
    /// c100 / ideal per object.
    pub efficiency: Percentiles,
    /// p99(c100) / p99(ideal).
    pub p99_efficiency: Option<f64>,
    /// Share of (live node, accepted object) pairs held at the end, %
    /// (`None` when nothing was accepted).
    pub coverage_pct: Option<f64>,
}

impl KindSummary {
    /// The summary of one kind's objects: `rows` (accepted objects of that
    /// kind), `injected` of them submitted, `delays` every (node, object)
    /// arrival delay in ms, `live` nodes at the end.
    pub fn of(rows: &[&ObjectRow], injected: usize, delays: &[f64], live: usize) -> Self {
        let col = |f: &dyn Fn(&ObjectRow) -> Option<f64>| {
            rows.iter().filter_map(|r| f(r)).collect::<Vec<f64>>()
        };
        let c100 = Percentiles::of(&col(&|r| r.c100_ms));
        let ideal = Percentiles::of(&col(&|r| r.ideal_ms));
        let held: usize = rows.iter().map(|r| r.holders).sum();
        Self {
            injected,
            accepted: rows.len(),
            refused: 0,
            rejected: injected.saturating_sub(rows.len()),
            lost: rows.iter().filter(|r| r.lost).count(),
            delay_ms: Percentiles::of(delays),
            c50_ms: Percentiles::of(&col(&|r| r.c50_ms)),
            c90_ms: Percentiles::of(&col(&|r| r.c90_ms)),
            c100_ms: c100,
            ideal_ms: ideal,
            efficiency: Percentiles::of(&col(&|r| r.efficiency)),
            p99_efficiency: c100
                .p99
                .zip(ideal.p99.filter(|i| *i > 0.0))
                .map(|(c, i)| c / i),
            coverage_pct: (!rows.is_empty())
                .then(|| 100.0 * held as f64 / (rows.len() * live.max(1)) as f64),
        }
    }
}

/// The workload's transaction rates, per second of injection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// What the workload asked for.
    pub offered: f64,
    /// Submitted to a node (RPC calls made), over the injection span.
    pub injected: f64,
    /// Accepted by their origin.
    pub accepted: f64,
    /// Refused as busy.
    pub refused: f64,
}

/// Bytes per node per transaction, by protocol and direction.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BytesPerObject {
    /// Gossip payloads received (duplicates included).
    pub gossip_in: f64,
    /// Gossip payloads sent.
    pub gossip_out: f64,
    /// getdata received.
    pub getdata_in: f64,
    /// getdata sent.
    pub getdata_out: f64,
    /// sync received.
    pub sync_in: f64,
    /// sync sent.
    pub sync_out: f64,
    /// push received (hybrid mode's eager pushes and grafts).
    #[serde(default)]
    pub push_in: f64,
    /// push sent.
    #[serde(default)]
    pub push_out: f64,
    /// Everything on the wire received (framing, encryption, control).
    pub wire_in: f64,
    /// Everything on the wire sent.
    pub wire_out: f64,
}

/// Redundancy: what each node did per transaction (`redundancy` is `null`
/// in a summary where no transaction was accepted).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Redundancy {
    /// Bodies received for objects already held, per node per tx.
    pub duplicate_bodies_per_node_per_tx: f64,
    /// Full bodies received per node per tx (fetched or pushed, first or not).
    pub bodies_per_node_per_tx: f64,
    /// Gossip messages delivered per node per tx (after duplicate filtering).
    pub announcements_per_node_per_tx: f64,
    /// Gossip messages received per node per tx before duplicate filtering.
    pub gossip_copies_per_node_per_tx: f64,
    /// Bodies accepted that came by eager push, per node per tx (hybrid
    /// mode; 0 in the others).
    #[serde(default)]
    pub eager_bodies_per_node_per_tx: f64,
    /// Bytes per node per tx (blocks' bytes included).
    pub bytes: BytesPerObject,
}

/// The summary of a run (`summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA`].
    pub schema: String,
    /// The run's id.
    pub run_id: String,
    /// announce or push.
    pub relay: Relay,
    /// Nodes started.
    pub nodes: usize,
    /// Nodes up at the end.
    pub live_nodes: usize,
    /// How links were shaped.
    pub shaping: Shaping,
    /// The live peer graph at the end.
    pub graph: GraphSummary,
    /// Seconds of workload, and of settling after it.
    pub workload_s: f64,
    /// See `workload_s`.
    pub settle_s: f64,
    /// Offered, injected, accepted and refused transactions per second
    /// (`None` without transactions, and in a simulation).
    #[serde(default)]
    pub rates: Option<Rates>,
    /// Transactions.
    pub txs: KindSummary,
    /// Blocks.
    pub blocks: KindSummary,
    /// Redundancy (`None` when no transaction was accepted: nothing to divide by).
    pub redundancy: Option<Redundancy>,
    /// Faults that happened.
    pub faults: Vec<FaultEvent>,
    /// Up to 100 lost object ids.
    pub lost_ids: Vec<String>,
    /// Resident memory of the nodes over the run.
    #[serde(default)]
    pub memory: MemorySummary,
    /// Fetches still in flight on any node at the end (should be 0).
    #[serde(default)]
    pub inflight_at_end: usize,
    /// The machine's CPU over the measurement window, and whether it was
    /// saturated (local runs; `None` in a simulation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<crate::machine::MachineCpu>,
    /// Problems met during the run.
    pub notes: Vec<String>,
    /// No object lost and every node collected.
    pub ok: bool,
}

/// One node's resident memory over the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeMemory {
    /// The node.
    pub index: usize,
    /// First sample, KiB.
    pub first_kib: u64,
    /// Last sample, KiB.
    pub last_kib: u64,
    /// Largest sample, KiB.
    pub max_kib: u64,
    /// Processes sampled (a restart starts a new one).
    #[serde(default)]
    pub processes: usize,
    /// The longest-lived process's sampled lifetime, s: growth and slope
    /// are measured over it, since a restart resets memory.
    #[serde(default)]
    pub lifetime_s: f64,
    /// Over that lifetime: the mean of its last quarter of samples against
    /// its second quarter, % (the first quarter is warm-up).
    pub growth_pct: f64,
    /// Over the second half of that lifetime: the least-squares slope, KiB
    /// per minute.
    #[serde(default)]
    pub slope_kib_per_min: f64,
    /// The same growth of the allocator's live heap (`allocated`), when the
    /// node reports it: resident size that grows while this stays level is
    /// the allocator holding pages, not live data growing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_growth_pct: Option<f64>,
    /// Largest live heap sampled, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocated_kib: Option<u64>,
}

/// Memory across nodes (local backend; empty for compose, with the
/// maxima `null`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemorySummary {
    /// Per node.
    pub nodes: Vec<NodeMemory>,
    /// The largest growth, %.
    pub max_growth_pct: Option<f64>,
    /// The largest resident size seen, KiB.
    pub max_kib: Option<u64>,
    /// The steepest slope, KiB per minute.
    #[serde(default)]
    pub max_slope_kib_per_min: Option<f64>,
    /// Whether memory stayed flat: every process that lived at least
    /// 20 minutes grew at most 10 % after its warm-up (rumor-testnet's
    /// `FLAT_MIN_LIFETIME_S` and `FLAT_MAX_GROWTH_PCT`). `None` when no process lived that long (too short a run to
    /// tell a leak from caches filling).
    #[serde(default)]
    pub flat: Option<bool>,
    /// The largest growth of a live heap, %, over nodes that report one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocated_growth_pct: Option<f64>,
}

/// Link shaping in force.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Shaping {
    /// `node` (rumor's own emulation) or `none`.
    pub mode: String,
    /// Whether the kernel has `sch_netem`.
    pub netem_available: bool,
    /// Why netem was or was not used.
    pub why: String,
    /// One-way delay, ms.
    pub delay_ms: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
    /// Loss fraction.
    pub loss: f64,
    /// Bits per second (0: unlimited).
    pub bandwidth_bps: u64,
}

/// The live peer graph.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GraphSummary {
    /// Links between live nodes.
    pub links: usize,
    /// Mean degree.
    pub mean_degree: f64,
    /// Diameter (`None`: disconnected).
    pub diameter: Option<usize>,
}
