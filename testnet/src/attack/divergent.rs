//! `divergent-mempools`: mempools that differ for good must not cost
//! anti-entropy traffic for good.
//!
//! Two halves of a network each accept one side of the same double spends
//! while they are cut apart; when they heal, neither side can ever take the
//! other's transactions (each conflicts with one it holds), so their
//! mempool digests differ forever. Anti-entropy compared only with the
//! mempool used to list and fetch those transactions again every round
//! (up to 8,192 per peer per round); it must instead settle to a status
//! exchange within a few rounds, and stay there.
//!
//! The class runs on a cluster of its own: the target and two honest
//! nodes, which reach each other only through it. All three share 300
//! transactions; then honest node 2 is banned by the target (cut off), 100
//! double spends go in on each side (one side's spends at honest node 1,
//! which the target takes too, the other's at honest node 2), and the ban is
//! lifted. From then on the class measures, in 2-second windows, the sync
//! and getdata bytes all three nodes sent per anti-entropy round.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rumor_chain::Transaction;

use super::catalog::ClassSpec;
use super::cluster::Cluster;
use super::measure::{ClassResult, stats};
use super::objects::Objects;
use super::{AttackError, rpc_err};

/// The class's name.
pub const CLASS: &str = "divergent-mempools";
/// Transactions every node holds.
const COMMON: usize = 300;
/// Double spends, one side at each half.
const CONFLICTS: usize = 100;
/// Genesis outputs of this class's network.
const GENESIS_OUTPUTS: u32 = (COMMON + CONFLICTS + 20) as u32;
/// Measurement windows after the heal, and their length.
const WINDOWS: usize = 10;
const WINDOW: Duration = Duration::from_secs(2);
/// The last windows must average at most this many bytes per round: a
/// status exchange (about 120 bytes each way with its framing), far below
/// one listing of the 400 ids (3.2 kB) and a fetch of the 100 conflicts
/// (about 15 kB) that an unsettled round costs.
const SETTLED_BYTES_PER_ROUND: f64 = 1024.0;
/// Windows at the end that are judged.
const JUDGED: usize = 3;

/// Runs the class against a fresh cluster under `root`.
///
/// # Errors
/// The cluster cannot be started or driven (a failing expectation is
/// reported in the result instead).
pub async fn run_class(
    spec: &ClassSpec,
    rumord: &std::path::Path,
    root: &std::path::Path,
) -> Result<ClassResult, AttackError> {
    let mut cluster = Cluster::start(rumord, root, 2, GENESIS_OUTPUTS).await?;
    let result = measure(spec, &mut cluster).await;
    cluster.stop().await;
    result
}

async fn submit(c: &Cluster, node: usize, txs: &[Transaction]) -> Result<(), AttackError> {
    let hexes: Vec<String> = txs.iter().map(|t| hex::encode(t.encode())).collect();
    for chunk in hexes.chunks(100) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        c.nodes[node]
            .rpc
            .send_raw_many(&refs)
            .await
            .map_err(rpc_err)?;
    }
    Ok(())
}

/// Waits up to `within` until node `i`'s mempool holds every one of `txs`;
/// returns how many it lacks then.
async fn until_held(
    c: &Cluster,
    i: usize,
    txs: &[Transaction],
    within: Duration,
) -> Result<usize, AttackError> {
    let want: HashSet<String> = txs.iter().map(|t| t.txid().to_string()).collect();
    let deadline = Instant::now() + within;
    loop {
        let pool: HashSet<String> = c.nodes[i]
            .rpc
            .mempool()
            .await
            .map_err(rpc_err)?
            .into_iter()
            .collect();
        let missing = want.difference(&pool).count();
        if missing == 0 || Instant::now() >= deadline {
            return Ok(missing);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits up to `within` until the target's peers do (or do not) include
/// node `i`.
async fn until_peer(
    c: &Cluster,
    i: usize,
    connected: bool,
    within: Duration,
) -> Result<bool, AttackError> {
    let id = c.nodes[i].peer_id.to_string();
    let deadline = Instant::now() + within;
    loop {
        let peers = c.target().rpc.peers().await.map_err(rpc_err)?;
        if peers.iter().any(|p| p.peer_id == id) == connected {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sync and getdata bytes sent, and anti-entropy rounds started, summed
/// over every node (each byte is counted once, by its sender).
async fn traffic(c: &Cluster) -> Result<(u64, u64), AttackError> {
    let (mut bytes, mut rounds) = (0, 0);
    for i in 0..c.nodes.len() {
        let s = stats(c, i).await?;
        bytes += s.sync_bytes.out + s.getdata_bytes.out;
        rounds += s.counters.get("sync_rounds").copied().unwrap_or(0);
    }
    Ok((bytes, rounds))
}

async fn measure(spec: &ClassSpec, c: &mut Cluster) -> Result<ClassResult, AttackError> {
    let mut objects = Objects::new(GENESIS_OUTPUTS);
    let mut result = ClassResult::blank(spec, (2 * CONFLICTS) as u64);
    let common: Vec<Transaction> = (0..COMMON).map(|_| objects.valid_tx()).collect();
    submit(c, 1, &common).await?;
    for i in 0..c.nodes.len() {
        let missing = until_held(c, i, &common, Duration::from_secs(30)).await?;
        if missing > 0 {
            return Err(AttackError::Setup(format!(
                "node {i} lacks {missing} of the {COMMON} common transactions"
            )));
        }
    }
    // Cut honest node 2 off, and let each half take one side of each spend.
    let cut = c.nodes[2].peer_id.to_string();
    c.target().rpc.ban(&cut, 120_000).await.map_err(rpc_err)?;
    if !until_peer(c, 2, false, Duration::from_secs(10)).await? {
        return Err(AttackError::Setup(
            "the ban did not cut honest node 2 off".into(),
        ));
    }
    let (ours, theirs): (Vec<Transaction>, Vec<Transaction>) =
        (0..CONFLICTS).map(|_| objects.conflicting_pair()).unzip();
    submit(c, 1, &ours).await?;
    submit(c, 2, &theirs).await?;
    for (i, txs) in [(0, &ours), (1, &ours), (2, &theirs)] {
        let missing = until_held(c, i, txs, Duration::from_secs(30)).await?;
        if missing > 0 {
            return Err(AttackError::Setup(format!(
                "node {i} lacks {missing} of its side's {CONFLICTS} spends"
            )));
        }
    }
    c.target().rpc.clear_bans().await.map_err(rpc_err)?;
    let healed = Instant::now();
    if !until_peer(c, 2, true, Duration::from_secs(30)).await? {
        result
            .failures
            .push("honest node 2 did not reconnect after the ban was lifted".into());
        result.target_alive = c.nodes[0].alive();
        result.pass = false;
        return Ok(result);
    }
    result.notes.push(format!(
        "healed: honest node 2 back {:.1} s after the ban was lifted",
        healed.elapsed().as_secs_f64()
    ));
    // Bytes per round, window by window.
    let mut per_round = Vec::new();
    let mut last_rounds = 0;
    let (mut bytes0, mut rounds0) = traffic(c).await?;
    for _ in 0..WINDOWS {
        tokio::time::sleep(WINDOW).await;
        let (bytes, rounds) = traffic(c).await?;
        let (db, dr) = (bytes - bytes0, rounds - rounds0);
        per_round.push(if dr == 0 { 0.0 } else { db as f64 / dr as f64 });
        last_rounds = dr;
        (bytes0, rounds0) = (bytes, rounds);
    }
    let shown: Vec<String> = per_round.iter().map(|b| format!("{b:.0}")).collect();
    result.notes.push(format!(
        "sync and getdata bytes sent per anti-entropy round, in {}-s windows after the heal: {}",
        WINDOW.as_secs(),
        shown.join(", ")
    ));
    let tail = &per_round[WINDOWS - JUDGED..];
    let settled = tail.iter().sum::<f64>() / JUDGED as f64;
    if settled > SETTLED_BYTES_PER_ROUND {
        result.failures.push(format!(
            "anti-entropy did not settle: {settled:.0} bytes per round over the last {JUDGED} windows \
             (at most {SETTLED_BYTES_PER_ROUND:.0})"
        ));
    }
    if last_rounds == 0 {
        result
            .failures
            .push("no anti-entropy round in the last window: rounds must never stop".into());
    }
    // Each side keeps its own spends: nothing was lost or flipped.
    for (i, txs) in [(0, &ours), (1, &ours), (2, &theirs)] {
        let missing = until_held(c, i, txs, Duration::ZERO).await?;
        if missing > 0 {
            result
                .failures
                .push(format!("node {i} lost {missing} of its side's spends"));
        }
    }
    result.target_alive = c.nodes[0].alive();
    result.target_peak_rss_mib = c.target().peak_rss_mib();
    if !result.target_alive {
        result.failures.push("the target died".into());
    }
    result.pass = result.failures.is_empty();
    Ok(result)
}
