//! One run: start the cluster, wait for it, drive the workload and the
//! faults, let it settle, collect what every node saw, and tear it down.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rumor_p2p::{FirstSeen, PeerInfo, RelayStats, unix_nanos};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::cluster::{Cluster, ClusterError, node_flags, node_specs};
use super::compose::ComposeCluster;
use super::cpu::{CpuSampler, CpuWindow};
use super::inject::Injector;
use super::local::{LocalCluster, find_rumord};
use super::plan::{Backend, Relay, RunArgs};
use super::swarm::SwarmCluster;
use super::workload::{Faucet, Injected, Kind};
use rumor_sim::edges;

/// How often node memory is sampled.
const MEMORY_SAMPLE: Duration = Duration::from_secs(5);

/// One reading of a node's resident memory.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MemorySample {
    /// Seconds since the workload started.
    pub at_s: f64,
    /// The process (a restart starts a new one).
    pub pid: u32,
    /// Resident size, KiB.
    pub kib: u64,
    /// The node allocator's live heap (`getmemoryinfo` `allocated`), KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_kib: Option<u64>,
    /// The pages holding it (`active`), KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_kib: Option<u64>,
    /// What the allocator holds resident (`resident`), KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocator_resident_kib: Option<u64>,
    /// Threads in the node's process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
}

/// How long a node's `getmemoryinfo` may take before its sample goes
/// without the allocator's counts: sampling runs inside the injection loop,
/// whose RPC timeout (60 s) would stall the workload behind one slow node.
const MEMORY_RPC_TIMEOUT: Duration = Duration::from_secs(1);

/// Samples every running node's resident size (from `/proc`) and its
/// allocator's counts (RPC `getmemoryinfo`, asked of all nodes at once).
async fn sample_memory(cluster: &Cluster, now: Duration, memory: &mut [Vec<MemorySample>]) {
    let running: Vec<(usize, u32, u64)> = (0..memory.len())
        .filter_map(|i| cluster.pid_and_rss_kib(i).map(|(pid, kib)| (i, pid, kib)))
        .collect();
    let infos = futures::future::join_all(running.iter().map(|&(i, _, _)| async move {
        tokio::time::timeout(MEMORY_RPC_TIMEOUT, cluster.rpc(i).memory_info())
            .await
            .ok()
            .and_then(Result::ok)
    }))
    .await;
    for ((i, pid, kib), info) in running.into_iter().zip(infos) {
        let threads = info.as_ref().and_then(|m| m.threads);
        let stats = info.and_then(|m| m.stats);
        memory[i].push(MemorySample {
            at_s: now.as_secs_f64(),
            pid,
            kib,
            allocated_kib: stats.map(|s| s.allocated / 1024),
            active_kib: stats.map(|s| s.active / 1024),
            allocator_resident_kib: stats.map(|s| s.resident / 1024),
            threads,
        });
    }
}

pub use rumor_sim::FaultEvent;

/// Everything a run observed, before any statistics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collected {
    /// Transactions per second the workload offered.
    #[serde(default)]
    pub offered_tx_rate: f64,
    /// Unix ns when the workload started.
    pub start_ns: u64,
    /// Seconds the workload ran.
    pub workload_s: f64,
    /// Seconds spent settling.
    pub settle_s: f64,
    /// Node count.
    pub nodes: usize,
    /// Nodes up at the end.
    pub live: Vec<bool>,
    /// Nodes restarted during the run (their first-seen records before the kill are gone).
    pub restarted: Vec<bool>,
    /// Each node's PeerId.
    pub peer_ids: Vec<String>,
    /// What the workload injected.
    pub injected: Vec<Injected>,
    /// Faults as they happened.
    pub faults: Vec<FaultEvent>,
    /// Per node: first-seen records since the start.
    pub first_seen: Vec<Vec<FirstSeen>>,
    /// Per node: relay counters at the end.
    pub stats: Vec<Option<RelayStats>>,
    /// Per node: peers at the end (the live graph).
    pub peers: Vec<Vec<PeerInfo>>,
    /// Per node: the ids it holds at the end (mempool, and best-chain txs and blocks).
    pub present: Vec<Vec<String>>,
    /// Ids of the blocks on the best chain most live nodes agree on.
    pub best_chain: Vec<String>,
    /// Errors met along the way (the run continued).
    pub notes: Vec<String>,
    /// Per node: resident memory samples (local backend).
    pub memory: Vec<Vec<MemorySample>>,
    /// Per node: fetches still in flight at the end.
    pub inflight_at_end: Vec<usize>,
    /// The machine's CPU from the workload's start until the network
    /// settled, and each local node's.
    #[serde(default)]
    pub cpu: Option<CpuWindow>,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The cluster could not start.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The workload could not be built.
    #[error("workload: {0}")]
    Workload(String),
}

fn progress(quiet: bool, len: u64, msg: &str) -> ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(msg.to_owned());
    pb
}

/// Starts the cluster for `relay`.
async fn start_cluster(
    args: &RunArgs,
    relay: Relay,
    dir: &Path,
    run_id: &str,
) -> Result<Cluster, RunError> {
    let e = edges(args.topology, args.nodes, args.degree(), args.seed);
    let specs = node_specs(args, &e);
    let password = hex::encode(rumor_chain::sha256(
        format!("{run_id}/{}", unix_nanos()).as_bytes(),
    ));
    let flags = node_flags(args, relay, &password[..32]);
    let cluster = match args.backend {
        Backend::Local => {
            let rumord = find_rumord(args.rumord.as_deref())?;
            Cluster::Local(LocalCluster::start(rumord, &specs, &flags, &dir.join("data")).await?)
        }
        Backend::Compose => Cluster::Compose(
            ComposeCluster::start(
                &specs,
                &flags,
                &dir.join("compose"),
                run_id,
                &args.compose_profile,
                args.image.as_deref(),
            )
            .await?,
        ),
        Backend::Swarm => Cluster::Swarm(
            SwarmCluster::start(&specs, &flags, &dir.join("swarm"), run_id, args).await?,
        ),
    };
    Ok(cluster)
}

/// Waits until every node answers RPC, is connected to every peer its
/// topology gives it, and has a full gossip mesh on both topics (as full as
/// its peers allow), twice in a row: propagation measured on a half-formed
/// mesh would measure the mesh's formation, not the relay.
async fn wait_ready(
    cluster: &mut Cluster,
    expected: &[usize],
    d_low: usize,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let start = Instant::now();
    let mut last = String::new();
    let mut streak = 0;
    loop {
        if let Some((i, status)) = cluster.exited() {
            return Err(ClusterError::Start {
                node: i,
                reason: format!("exited: {status}"),
            });
        }
        let mut ready = 0;
        for (i, want_peers) in expected.iter().enumerate() {
            match cluster.rpc(i).relay_stats().await {
                Ok(s) => {
                    let want_mesh = s.peers.min(d_low).max(1);
                    if s.peers >= (*want_peers).max(1)
                        && s.mesh_tx >= want_mesh
                        && s.mesh_block >= want_mesh
                    {
                        ready += 1;
                    } else {
                        last = format!(
                            "node {i}: {}/{} peers, mesh {}/{} (want {want_mesh})",
                            s.peers, want_peers, s.mesh_tx, s.mesh_block
                        );
                    }
                }
                Err(e) => last = format!("node {i}: {e}"),
            }
        }
        streak = if ready == cluster.len() {
            streak + 1
        } else {
            0
        };
        if streak >= 2 {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(ClusterError::NotReady(
                timeout,
                format!("{ready}/{} ready; {last}", cluster.len()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[derive(Debug, Clone)]
enum Action {
    Kill(usize),
    Restart(usize),
    Partition(usize),
    Heal(usize),
}

/// Bans every peer on the other side of each active partition that `v` is
/// in, retrying while `v`'s RPC comes up (a restarted node forgot its bans).
async fn reapply_bans(
    cluster: &Cluster,
    v: usize,
    active: &[&super::plan::PartitionSpec],
    peer_ids: &[String],
    notes: &mut Vec<String>,
) {
    for p in active {
        let others = if p.a.contains(&v) {
            &p.b
        } else if p.b.contains(&v) {
            &p.a
        } else {
            continue;
        };
        let span = (p.until - p.from).as_millis() as u64 + 60_000;
        for &o in others {
            let mut tries = 0;
            loop {
                match cluster.rpc(v).ban(&peer_ids[o], span).await {
                    Ok(()) => break,
                    Err(e) if tries >= 20 => {
                        notes.push(format!("partition: restarted node {v}: {e}"));
                        break;
                    }
                    Err(_) => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        }
    }
}

/// Runs the workload in `relay` mode and returns what was observed. The
/// cluster is always torn down, on success and on failure.
///
/// # Errors
/// [`RunError`] if the cluster cannot start; later problems are recorded in
/// [`Collected::notes`] and the run goes on.
pub async fn run(
    args: &RunArgs,
    relay: Relay,
    dir: &Path,
    run_id: &str,
) -> Result<Collected, RunError> {
    let faucet = Faucet::new(args.txs.max(10_000)).map_err(RunError::Workload)?;
    let sign_pb = progress(args.quiet, args.txs as u64, "signing");
    let mut raw = Vec::with_capacity(args.txs);
    for i in 0..args.txs {
        let tx = faucet.tx(i);
        raw.push((tx.txid().to_string(), hex::encode(tx.encode())));
        sign_pb.inc(1);
    }
    sign_pb.finish_and_clear();
    let mut cluster = start_cluster(args, relay, dir, run_id).await?;
    let result = drive(args, &mut cluster, raw, &faucet).await;
    if !args.hold.is_zero() {
        eprintln!(
            "holding the network for {:?} (RPC user `rumor`, logs in {})",
            args.hold,
            cluster.log_hint().display()
        );
        for i in 0..cluster.len() {
            eprintln!("  node {i}: {}", cluster.rpc(i).url);
        }
        let deadline = Instant::now() + args.hold;
        while Instant::now() < deadline && !super::interrupted() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    cluster.teardown().await;
    result
}

async fn drive(
    args: &RunArgs,
    cluster: &mut Cluster,
    raw: Vec<(String, String)>,
    faucet: &Faucet,
) -> Result<Collected, RunError> {
    let links = edges(args.topology, args.nodes, args.degree(), args.seed);
    let expected: Vec<usize> = (0..args.nodes)
        .map(|i| {
            if args.topology == super::plan::Topology::Bootnode {
                1
            } else {
                links.iter().filter(|(a, b)| *a == i || *b == i).count()
            }
        })
        .collect();
    let d_low = (args.mesh_d() * 2 / 3).max(1);
    wait_ready(cluster, &expected, d_low, Duration::from_secs(60)).await?;
    let n = cluster.len();
    let mut peer_ids = Vec::with_capacity(n);
    for i in 0..n {
        peer_ids.push(
            cluster
                .rpc(i)
                .network_info()
                .await
                .map(|x| x.peer_id)
                .unwrap_or_default(),
        );
    }
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0xfa17);
    // The fault timeline.
    let mut actions: Vec<(Duration, Action)> = Vec::new();
    for k in &args.kills {
        let mut nodes: Vec<usize> = (0..n).collect();
        nodes.shuffle(&mut rng);
        for v in nodes.into_iter().take(k.count) {
            actions.push((k.at, Action::Kill(v)));
            actions.push((k.at + k.down_for, Action::Restart(v)));
        }
    }
    for (pi, p) in args.partitions.iter().enumerate() {
        actions.push((p.from, Action::Partition(pi)));
        actions.push((p.until, Action::Heal(pi)));
    }
    actions.sort_by_key(|(t, _)| *t);
    let live = Arc::new(Mutex::new(vec![true; n]));
    let mut restarted = vec![false; n];
    let mut active_partitions: Vec<usize> = Vec::new();
    let mut blocks = Vec::<Injected>::new();
    let mut faults = Vec::new();
    let mut notes = Vec::new();
    let origins: Vec<usize> = (0..raw.len())
        .map(|_| args.origin.unwrap_or_else(|| rng.random_range(0..n)))
        .collect();

    let node_pids = |cluster: &Cluster| -> Vec<Option<u32>> {
        (0..n)
            .map(|i| cluster.pid_and_rss_kib(i).map(|(pid, _)| pid))
            .collect()
    };
    let sampler = CpuSampler::start(&node_pids(cluster));
    let start = Instant::now();
    let start_ns = unix_nanos();
    let duration = args.workload_duration();
    let pb = progress(args.quiet, raw.len() as u64, "injecting");
    let clients = (0..n).map(|i| cluster.rpc(i).clone()).collect();
    let injector = Injector::start(clients, Arc::clone(&live), pb.clone());
    let mut next_tx = 0usize;
    let mut next_action = 0usize;
    let mut next_block = if args.block_interval.is_zero() {
        None
    } else {
        Some(args.block_interval)
    };
    let mut block_no = 0usize;
    let mut memory: Vec<Vec<MemorySample>> = vec![Vec::new(); n];
    let mut next_sample = Duration::ZERO;
    while next_tx < raw.len() || next_action < actions.len() || start.elapsed() < duration {
        if super::interrupted() {
            notes.push("interrupted: injection stopped early".into());
            break;
        }
        let now = start.elapsed();
        if now >= next_sample {
            next_sample = now + MEMORY_SAMPLE;
            sample_memory(cluster, now, &mut memory).await;
        }
        // Faults due now.
        while next_action < actions.len() && actions[next_action].0 <= now {
            let (_, action) = actions[next_action].clone();
            next_action += 1;
            let at_s = now.as_secs_f64();
            match action {
                Action::Kill(v) => {
                    if let Err(e) = cluster.kill(v).await {
                        notes.push(e.to_string());
                    }
                    live.lock().await[v] = false;
                    restarted[v] = true;
                    faults.push(FaultEvent {
                        at_s,
                        what: "kill".into(),
                        nodes: vec![v],
                    });
                }
                Action::Restart(v) => {
                    if let Err(e) = cluster.restart(v).await {
                        notes.push(e.to_string());
                    }
                    let active: Vec<&super::plan::PartitionSpec> = active_partitions
                        .iter()
                        .map(|pi| &args.partitions[*pi])
                        .collect();
                    if !active.is_empty() {
                        reapply_bans(cluster, v, &active, &peer_ids, &mut notes).await;
                    }
                    live.lock().await[v] = true;
                    faults.push(FaultEvent {
                        at_s,
                        what: "restart".into(),
                        nodes: vec![v],
                    });
                }
                Action::Partition(pi) => {
                    active_partitions.push(pi);
                    let p = &args.partitions[pi];
                    let span = (p.until - p.from).as_millis() as u64 + 60_000;
                    for (side, other) in [(&p.a, &p.b), (&p.b, &p.a)] {
                        for &x in side {
                            for &y in other {
                                if let Err(e) = cluster.rpc(x).ban(&peer_ids[y], span).await {
                                    notes.push(format!("partition: node {x}: {e}"));
                                }
                            }
                        }
                    }
                    let mut all = p.a.clone();
                    all.extend(&p.b);
                    faults.push(FaultEvent {
                        at_s,
                        what: "partition".into(),
                        nodes: all,
                    });
                }
                Action::Heal(pi) => {
                    active_partitions.retain(|a| *a != pi);
                    let p = &args.partitions[pi];
                    let mut all = p.a.clone();
                    all.extend(&p.b);
                    for &x in &all {
                        if let Err(e) = cluster.rpc(x).clear_bans().await {
                            notes.push(format!("heal: node {x}: {e}"));
                        }
                    }
                    faults.push(FaultEvent {
                        at_s,
                        what: "heal".into(),
                        nodes: all,
                    });
                }
            }
        }
        // A block due now.
        if let Some(due) = next_block
            && due <= now
        {
            next_block = Some(due + args.block_interval);
            let alive = live.lock().await.clone();
            let miners: Vec<usize> = (0..args.miners.min(n)).filter(|m| alive[*m]).collect();
            if !miners.is_empty() {
                let m = miners[block_no % miners.len()];
                block_no += 1;
                let submit_ns = unix_nanos();
                let r = cluster.rpc(m).generate_one(&faucet.miner_address(m)).await;
                let (id, accepted, error, code) = match r {
                    Ok(h) => (h, true, None, None),
                    Err(e) => (String::new(), false, Some(e.to_string()), e.code),
                };
                blocks.push(Injected {
                    kind: Kind::Block,
                    id,
                    origin: m,
                    submit_ns,
                    accepted,
                    error,
                    code,
                });
            }
        }
        // Transactions due now.
        let due_txs = ((now.as_secs_f64() * args.tx_rate) as usize + 1).min(raw.len());
        while next_tx < due_txs {
            let i = next_tx;
            next_tx += 1;
            let (id, hexed) = raw[i].clone();
            let mut origin = origins[i];
            let alive = live.lock().await;
            if !alive[origin] {
                // The chosen node is down: the client moves to a live one.
                origin = (0..n)
                    .map(|d| (origin + d) % n)
                    .find(|o| alive[*o])
                    .unwrap_or(origin);
            }
            drop(alive);
            injector.submit(origin, id, hexed).await;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let backlog_at_end = injector.queued();
    if backlog_at_end > 0 {
        notes.push(format!(
            "the injector fell behind: {backlog_at_end} transactions still queued when the schedule ended"
        ));
    }
    let mut injected = injector.finish().await;
    injected.extend(blocks);
    pb.finish_and_clear();
    let workload_s = start.elapsed().as_secs_f64();
    let live = live.lock().await.clone();

    // Settle: wait until every live node holds every accepted object.
    let settle_start = Instant::now();
    let want: HashSet<String> = injected
        .iter()
        .filter(|o| o.accepted && o.kind == Kind::Tx)
        .map(|o| o.id.clone())
        .collect();
    let spb = progress(
        args.quiet,
        want.len() as u64 * live.iter().filter(|l| **l).count() as u64,
        "settling",
    );
    // A block's transactions never change: fetched once across polls.
    let mut block_txs: HashMap<String, Vec<String>> = HashMap::new();
    // Each live node's holdings as last polled. A node that held everything
    // is not asked again until every node has: the last transactions are
    // still spreading while this runs, and asking every node for its whole
    // mempool and chain twice a second (512 calls a poll at 256 nodes) takes
    // the CPU of the machine the nodes share, slowing the very propagation
    // being measured. A final pass asks every node again, so the verdict is
    // as of one moment.
    let mut last: Vec<Option<Holding>> = vec![None; n];
    let mut full_pass = false;
    let (present, best_chain) = loop {
        for i in (0..n).filter(|i| live[*i]) {
            if full_pass || last[i].as_ref().is_none_or(|h| h.missing > 0) {
                last[i] = holding(cluster, i, &want, &mut block_txs, &mut notes).await;
            }
        }
        let (missing, chains, best) = tally(&last, want.len(), &live);
        spb.set_position(spb.length().unwrap_or(0).saturating_sub(missing as u64));
        // Settled: every node holds every transaction and all agree on the
        // best chain (a block still propagating would otherwise be cut off).
        let settled = missing == 0 && chains <= 1;
        let give_up = settle_start.elapsed() > args.settle || super::interrupted();
        if (settled && full_pass) || give_up {
            let present = last
                .iter_mut()
                .map(|h| h.take().map(|h| h.held).unwrap_or_default())
                .collect();
            break (present, best);
        }
        if missing == 0 {
            // Every node held everything when last asked: ask all once more.
            // A node on another chain than most is asked again until it agrees.
            if full_pass {
                for h in last.iter_mut().flatten() {
                    if h.chain != best {
                        h.missing = h.missing.max(1);
                    }
                }
            }
            full_pass = !full_pass;
            if full_pass {
                continue;
            }
        } else {
            full_pass = false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    spb.finish_and_clear();
    let settle_s = settle_start.elapsed().as_secs_f64();
    let cpu = Some(sampler.finish(&node_pids(cluster)).await);

    // No fetch may stay in flight: wait out the longest a fetch can live.
    let drain_start = Instant::now();
    let mut inflight_at_end = vec![0usize; n];
    loop {
        for i in (0..n).filter(|i| live[*i]) {
            inflight_at_end[i] = cluster
                .rpc(i)
                .relay_stats()
                .await
                .map(|s| s.inflight)
                .unwrap_or(0);
        }
        if inflight_at_end.iter().all(|f| *f == 0)
            || drain_start.elapsed() > Duration::from_secs(20)
            || super::interrupted()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Collect.
    let mut first_seen = Vec::with_capacity(n);
    let mut stats = Vec::with_capacity(n);
    let mut peers = Vec::with_capacity(n);
    for (i, alive) in live.iter().enumerate() {
        if !alive {
            first_seen.push(Vec::new());
            stats.push(None);
            peers.push(Vec::new());
            continue;
        }
        let rpc = cluster.rpc(i);
        first_seen.push(
            rpc.propagation_since(start_ns.saturating_sub(1_000_000_000))
                .await
                .unwrap_or_else(|e| {
                    notes.push(e.to_string());
                    Vec::new()
                }),
        );
        stats.push(
            rpc.relay_stats()
                .await
                .map_err(|e| notes.push(e.to_string()))
                .ok(),
        );
        peers.push(rpc.peers().await.unwrap_or_else(|e| {
            notes.push(e.to_string());
            Vec::new()
        }));
    }
    Ok(Collected {
        offered_tx_rate: args.tx_rate,
        start_ns,
        workload_s,
        settle_s,
        nodes: n,
        live,
        restarted,
        peer_ids,
        injected,
        faults,
        first_seen,
        stats,
        peers,
        present,
        best_chain,
        notes,
        memory,
        inflight_at_end,
        cpu,
    })
}

/// What one node holds: its mempool and the transactions and blocks of its
/// best chain, that chain's block ids, and how many wanted transactions
/// it lacks.
#[derive(Debug, Clone)]
struct Holding {
    held: Vec<String>,
    chain: Vec<String>,
    missing: usize,
}

/// Node `i`'s holdings (`None` if its mempool could not be read).
async fn holding(
    cluster: &Cluster,
    i: usize,
    want: &HashSet<String>,
    block_txs: &mut HashMap<String, Vec<String>>,
    notes: &mut Vec<String>,
) -> Option<Holding> {
    let rpc = cluster.rpc(i);
    let mut held: Vec<String> = match rpc.mempool().await {
        Ok(m) => m,
        Err(e) => {
            notes.push(format!("node {i}: {e}"));
            return None;
        }
    };
    let height = rpc.chain_info().await.map(|c| c.blocks).unwrap_or(0);
    let mut chain = Vec::new();
    for h in 1..=height {
        let Ok(hash) = rpc.block_hash(h).await else {
            break;
        };
        if !block_txs.contains_key(&hash) {
            // A failed lookup is not cached: the next poll asks again.
            match rpc.block_txids(&hash).await {
                Ok(txs) => {
                    block_txs.insert(hash.clone(), txs);
                }
                Err(e) => {
                    // Polled every 500 ms: one note per failure, not per poll.
                    let note = format!("node {i}: block {hash}: {e}");
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
            }
        }
        held.extend(block_txs.get(&hash).into_iter().flatten().cloned());
        chain.push(hash);
    }
    held.extend(chain.iter().cloned());
    let set: HashSet<&String> = held.iter().collect();
    let missing = want.iter().filter(|w| !set.contains(w)).count();
    Some(Holding {
        held,
        chain,
        missing,
    })
}

/// Over the live nodes' holdings: how many (node, wanted tx) pairs are
/// missing (all `want_len` for a node that could not be read), how many
/// distinct best chains there are, and the most common one.
fn tally(last: &[Option<Holding>], want_len: usize, live: &[bool]) -> (usize, usize, Vec<String>) {
    let mut missing = 0;
    let mut chains: HashMap<&Vec<String>, usize> = HashMap::new();
    for (h, alive) in last.iter().zip(live) {
        if !alive {
            continue;
        }
        match h {
            Some(h) => {
                missing += h.missing;
                *chains.entry(&h.chain).or_default() += 1;
            }
            None => missing += want_len,
        }
    }
    let distinct = chains.len();
    let best = chains
        .into_iter()
        .max_by_key(|(c, votes)| (*votes, c.len()))
        .map(|(c, _)| c.clone())
        .unwrap_or_default();
    (missing, distinct, best)
}
