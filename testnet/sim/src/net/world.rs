//! [`simulate`]: n nodes, each running rumor's real relay state machine
//! (`rumor_relay::Relay`), on simulated links and CPUs, in simulated time,
//! on as many threads as the machine has cores.
//!
//! The nodes are cut into contiguous shards, one per thread (`shard.rs`
//! says what a node's driver does with each event, and why a run's result
//! does not depend on the number of shards). The run proceeds in windows of
//! one *lookahead*, the least time a message takes on a link (its delay
//! less its jitter): from the earliest event anywhere, every shard handles
//! its events of the next lookahead in parallel, since nothing sent in the
//! window can arrive within it; then the mail between shards is handed
//! over, and the next window starts. A run with no lookahead (links without
//! delay) or whose nodes share cores (one CPU queue for all) runs in one
//! shard, in the same windows.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU16, AtomicU64};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rumor_chain::{Inv, Txid};
use rumor_relay::{Relay, RelayConfig, SyncLimits, TrackerLimits, TreeLimits};

use super::link::DelayLine;
use super::params::{NetParamError, NetParams};
use super::shard::{Event, Node, NodeState, Shard, Shared};
use super::wire::TxIndex;
use crate::rng::{SimRng, mix64};
use crate::topology::edges;

/// A window when links give no lookahead: how often a run in one shard
/// checks whether every relay is quiet.
const QUIET_CHECK: Duration = Duration::from_millis(100);

/// The most threads a run uses, whatever it is asked for (the result does
/// not depend on it; thousands of threads would only cost).
pub const MAX_THREADS: usize = 256;

/// No time: never happened.
pub const NEVER: u64 = u64::MAX;
/// No hop count.
pub const NO_HOPS: u16 = u16::MAX;

/// What one node's driver counted (the p2p layer's counters the report uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Gossip messages handed to the node (after duplicate filter and loss).
    pub announcements_in: u64,
    /// Gossip messages received before gossipsub's duplicate filter.
    pub gossip_unfiltered: u64,
    /// Gossip messages that passed the duplicate filter.
    pub gossip_filtered: u64,
    /// Messages dropped on receipt by emulated loss.
    pub lost: u64,
    /// Gossip payload bytes received / sent.
    pub gossip_in: u64,
    /// See `gossip_in`.
    pub gossip_out: u64,
    /// getdata payload bytes received / sent.
    pub getdata_in: u64,
    /// See `getdata_in`.
    pub getdata_out: u64,
    /// push payload bytes received / sent (hybrid mode).
    pub push_in: u64,
    /// See `push_in`.
    pub push_out: u64,
    /// Bytes on the wire received / sent (payloads and framing).
    pub wire_in: u64,
    /// See `wire_in`.
    pub wire_out: u64,
    /// Penalties the relay asked for.
    pub penalties: u64,
    /// Actions the simulator does not model (anti-entropy, blocks); 0 in
    /// every run it makes.
    pub unmodelled: u64,
}

/// Everything a relay-driven run observed.
#[derive(Debug, Clone)]
pub struct NetRun {
    /// What ran.
    pub params: NetParams,
    /// The links (each once, `(a, b)` with `a` dialling `b`).
    pub links: Vec<(usize, usize)>,
    /// Each transaction's origin.
    pub origins: Vec<usize>,
    /// When each transaction was submitted, ns of simulated time.
    pub submitted_ns: Vec<u64>,
    /// `first_ns[node * txs + tx]`: when the node accepted it ([`NEVER`]).
    pub first_ns: Vec<u64>,
    /// `hops[node * txs + tx]`: how many relays it went through to get
    /// there (0 at its origin, [`NO_HOPS`] if never).
    pub hops: Vec<u16>,
    /// The relay's counters, per node.
    pub relay_counters: Vec<rumor_relay::RelayCounters>,
    /// The driver's counters, per node.
    pub counters: Vec<DriverCounters>,
    /// When the last event ran, ns.
    pub end_ns: u64,
    /// Events processed.
    pub events: u64,
    /// Whether the run was cut off at the settle limit with work left.
    pub truncated: bool,
}

impl NetRun {
    /// When `node` accepted `tx` ([`NEVER`] if it did not).
    pub fn first_seen(&self, node: usize, tx: usize) -> u64 {
        self.first_ns[node * self.params.txs + tx]
    }

    /// Relays between `tx`'s origin and `node` ([`NO_HOPS`] if never).
    pub fn hop_count(&self, node: usize, tx: usize) -> u16 {
        self.hops[node * self.params.txs + tx]
    }
}

/// The id of workload transaction `k`: distinct short ids (the first 8
/// bytes), and `k` itself in bytes 8..12.
pub fn txid_of(k: TxIndex) -> Txid {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&mix64(u64::from(k) + 1).to_le_bytes());
    id[8..12].copy_from_slice(&k.to_le_bytes());
    Txid(id)
}

pub(crate) fn index_of(inv: &Inv) -> Option<TxIndex> {
    match inv {
        Inv::Tx(t) => Some(u32::from_le_bytes([t.0[8], t.0[9], t.0[10], t.0[11]])),
        Inv::Block(_) => None,
    }
}

pub(crate) fn inv(k: TxIndex) -> Inv {
    Inv::Tx(txid_of(k))
}

/// The origins the testnet draws for `params` (`testbed/runner.rs`: one
/// `StdRng` seeded `seed ^ 0xfa17`, one draw per transaction, unless
/// `--origin`; a run without kills draws nothing else first).
pub fn testnet_origins(params: &NetParams) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(params.seed ^ 0xfa17);
    (0..params.txs)
        .map(|_| {
            params
                .origin
                .unwrap_or_else(|| rng.random_range(0..params.nodes))
        })
        .collect()
}

/// Runs `params` with rumor's relay on every node, on every core.
///
/// # Errors
/// [`NetParamError`] for parameters that break a rule.
pub fn simulate(params: &NetParams) -> Result<NetRun, NetParamError> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    simulate_on(params, threads)
}

/// [`simulate`] on at most `threads` threads (and [`MAX_THREADS`]). The
/// result is the same for any number of threads.
///
/// # Errors
/// [`NetParamError`] for parameters that break a rule.
pub fn simulate_on(params: &NetParams, threads: usize) -> Result<NetRun, NetParamError> {
    params.validate()?;
    let p = params.clone();
    let n = p.nodes;
    let link = p.link;
    let lookahead = link.delay.saturating_sub(link.jitter).as_nanos() as u64;
    let parallel = lookahead > 0 && p.cost.cores.is_none();
    let window = if parallel {
        lookahead
    } else {
        QUIET_CHECK.as_nanos() as u64
    };
    let count = if parallel {
        threads.clamp(1, n.min(MAX_THREADS))
    } else {
        1
    };
    let per_shard = n.div_ceil(count);

    let links = edges(p.topology, n, p.degree, p.seed);
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in &links {
        adj[a].push(b as Node);
        adj[b].push(a as Node);
    }
    let mut mesh_rng = SimRng::seed_from_u64(mix64(p.seed ^ 0x6d65_7368));
    let (jitter_seed, loss_seed) = (mix64(p.seed ^ 0x6a69_7474), mix64(p.seed ^ 0x6c6f_7373));
    let mut nodes = Vec::with_capacity(n);
    for (v, peers) in adj.into_iter().enumerate() {
        let mut peers = peers;
        peers.sort_unstable();
        peers.dedup();
        let mesh = if peers.len() <= 2 * p.mesh_d {
            peers.clone()
        } else {
            let mut m = peers.clone();
            for i in 0..p.mesh_d {
                let j = mesh_rng.random_range(i..m.len());
                m.swap(i, j);
            }
            m.truncate(p.mesh_d);
            m.sort_unstable();
            m
        };
        let mut relay = Relay::new(&relay_config(&p, v));
        for &q in &peers {
            relay.peer_up(q, false);
        }
        nodes.push(NodeState {
            relay,
            lines: vec![DelayLine::default(); peers.len()],
            peers,
            mesh,
            gossip_seen: vec![0; p.txs.div_ceil(64)],
            pending_dups: Vec::new(),
            queued: 0,
            unannounced: 0,
            tick_at: None,
            flush_scheduled: false,
            counters: DriverCounters::default(),
            jitter: SimRng::seed_from_u64(mix64(jitter_seed ^ v as u64)),
            loss: SimRng::seed_from_u64(mix64(loss_seed ^ v as u64)),
            made: 0,
        });
    }
    let mut rest = nodes.into_iter();
    let mut shards: Vec<Shard> = (0..count)
        .map(|s| {
            let range = s * per_shard..((s + 1) * per_shard).min(n);
            let held: Vec<NodeState> = rest.by_ref().take(range.len()).collect();
            Shard::new(range, held, count, p.cost.cores, p.sizes.tx)
        })
        .collect();

    let origins = testnet_origins(&p);
    let first: Vec<AtomicU64> = (0..n * p.txs).map(|_| AtomicU64::new(NEVER)).collect();
    let hops: Vec<AtomicU16> = (0..n * p.txs).map(|_| AtomicU16::new(NO_HOPS)).collect();
    let shared = Shared {
        p: &p,
        base: Instant::now(),
        first: &first,
        hops: &hops,
        validation_ns: p.cost.validation.as_nanos() as u64,
        message_ns: p.cost.message.as_nanos() as u64,
        wait_ns: p.cost.wait.as_nanos() as u64,
        per_shard,
    };
    // The testnet submits transaction i once i / rate seconds passed.
    let submitted: Vec<u64> = (0..p.txs)
        .map(|k| (k as f64 / p.tx_rate * 1e9) as u64)
        .collect();
    for (k, (&at, &o)) in submitted.iter().zip(&origins).enumerate() {
        let event = Event::Submit {
            origin: o as Node,
            tx: k as TxIndex,
        };
        shards[o / per_shard].schedule(&shared, at, o as Node, event);
    }
    let (end_ns, truncated) = run(&mut shards, &shared, &submitted, window);
    let events = shards.iter().map(|s| s.events).sum();
    let nodes = || shards.iter().flat_map(|s| &s.nodes);
    let relay_counters = nodes().map(|s| *s.relay.counters()).collect();
    let counters = nodes().map(|s| s.counters).collect();
    // Each shard's nodes are freed on a thread of their own: at 10^4 nodes
    // that is millions of small allocations, several seconds on one core.
    std::thread::scope(|scope| {
        for shard in shards {
            scope.spawn(move || drop(shard));
        }
    });
    Ok(NetRun {
        links,
        origins,
        submitted_ns: submitted,
        first_ns: first.into_iter().map(AtomicU64::into_inner).collect(),
        hops: hops.into_iter().map(AtomicU16::into_inner).collect(),
        relay_counters,
        counters,
        end_ns,
        events,
        truncated,
        params: p,
    })
}

/// Runs the windows to the end: every event handled and every relay quiet,
/// or the settle limit. Returns (when the last event ran, truncated).
fn run(shards: &mut [Shard], sh: &Shared<'_>, submitted: &[u64], window: u64) -> (u64, bool) {
    let last_submit = submitted.iter().copied().max().unwrap_or(0);
    let limit = last_submit + sh.p.settle.as_nanos() as u64;
    let end_ns = |shards: &[Shard]| shards.iter().map(|s| s.last_at).max().unwrap_or(0);
    loop {
        let Some(next) = shards.iter_mut().filter_map(Shard::next_at).min() else {
            return (end_ns(shards), false);
        };
        if next > limit {
            return (end_ns(shards), true);
        }
        let end = next.saturating_add(window).min(limit + 1);
        if let [only] = shards {
            only.run_until(sh, end);
        } else {
            std::thread::scope(|scope| {
                let (mine, others) = shards.split_first_mut().expect("two shards or more");
                for s in others {
                    scope.spawn(move || s.run_until(sh, end));
                }
                mine.run_until(sh, end);
            });
        }
        // Hand the window's mail over.
        for from in 0..shards.len() {
            for to in 0..shards.len() {
                let mail = std::mem::take(&mut shards[from].outbox[to]);
                if !mail.is_empty() {
                    shards[to].inbox.push(mail);
                }
            }
        }
        let live: i64 = shards.iter().map(|s| s.live).sum();
        if live == 0 && end > last_submit && shards.iter().all(Shard::quiet) {
            return (end_ns(shards), false);
        }
    }
}

/// The node's relay configuration (`P2pConfig::relay_config` with the
/// node's defaults), with the seen-set sized to the workload.
fn relay_config(p: &NetParams, v: usize) -> RelayConfig {
    let timeout = p.fetch_timeout;
    RelayConfig {
        mode: p.relay.into(),
        batch_window: p.batch_window,
        // The node's 200,000 would preallocate 10^4 nodes' worth of tables;
        // sized to the workload nothing is evicted, as in a testnet run.
        seen_capacity: NonZeroUsize::new(p.txs + 256).unwrap_or(NonZeroUsize::MIN),
        // Hybrid's trees likewise: the node's tables (200,000 objects' origins,
        // 4,096 origins' trees) took 4 MB per node before any traffic, 40 GB
        // at 10^4 nodes. A run has at most `txs` objects and as many origins,
        // so nothing is evicted either way.
        tree: TreeLimits {
            objects: NonZeroUsize::new(p.txs + 256).unwrap_or(NonZeroUsize::MIN),
            origins: NonZeroUsize::new((p.txs + 1).min(TreeLimits::default().origins.get()))
                .unwrap_or(NonZeroUsize::MIN),
            ..TreeLimits::default()
        },
        tracker: TrackerLimits {
            timeout,
            struck_delay: timeout / 2,
            strike_memory: timeout * 15,
            ..TrackerLimits::default()
        },
        sync: SyncLimits::default(),
        seed: mix64(p.seed ^ (v as u64).wrapping_mul(0x9e37_79b9)),
        origin: v as u64,
        ..RelayConfig::default()
    }
}
