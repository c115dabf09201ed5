//! `rpc-under-block-connect`: an RPC method that waits on the chain lock
//! while a long block connect holds it must not stop the node's p2p loop.
//!
//! The class runs against its own cluster, whose target has one runtime
//! worker (the testnet's setting when nodes outnumber cores): on a single
//! worker, a method that blocks it on the lock stops every task, the p2p
//! loop included, until the connect is over. The long connect is a reorg:
//! the target's best chain holds two blocks of a few thousand
//! transactions, and a heavier branch of empty blocks replaces it, so the
//! node disconnects them and puts their transactions back in its mempool
//! under the lock. Meanwhile one task calls `getblockchaininfo` (which
//! takes the lock) over and over, and a raw peer asks the target for a
//! transaction it holds, over and over. The class passes when the target
//! answered the peer while the longest of those RPC calls was waiting:
//! relay progressed during the RPC. Latencies are reported, not judged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumor_chain::{Block, Transaction};
use rumor_p2p::{GetDataRequest, GossipPayload, Inv, ObjectKind, RawPeer, Serve};

use super::catalog::ClassSpec;
use super::cluster::Cluster;
use super::measure::{ClassResult, Latency};
use super::objects::{FEE, Objects, Tip};
use super::{AttackError, rpc_err};

/// The class's name.
pub const CLASS: &str = "rpc-under-block-connect";
/// Transactions in each of the two blocks the reorg takes back.
const TXS_PER_BLOCK: usize = 2_000;
/// Genesis outputs of this class's network (each transaction spends one).
const GENESIS_OUTPUTS: u32 = 2 * TXS_PER_BLOCK as u32 + 100;
/// An RPC call this long waited on something (the lock): shorter calls
/// are not counted as blocked.
const BLOCKED_MS: f64 = 20.0;

async fn tip(c: &Cluster) -> Result<Tip, AttackError> {
    let info = c.target().rpc.chain_info().await.map_err(rpc_err)?;
    Ok(Tip {
        hash: info
            .bestblockhash
            .parse()
            .map_err(|_| AttackError::Rpc("bad best block hash".into()))?,
        height: info.blocks,
    })
}

/// Waits (driving `raw`, which serves the blocks) until the target's best
/// chain reaches `height`.
async fn until_height(
    c: &Cluster,
    raw: &mut RawPeer,
    height: u64,
    within: Duration,
) -> Result<(), AttackError> {
    let deadline = Instant::now() + within;
    loop {
        if tip(c).await?.height >= height {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(AttackError::Setup(format!(
                "the target did not reach height {height} within {within:?}"
            )));
        }
        raw.drive(Duration::from_millis(50)).await;
    }
}

fn announce(raw: &mut RawPeer, block: &Block) {
    let inv = Inv::Block(block.hash());
    raw.serve(inv, Serve::Bytes(block.encode()));
    let _ = raw.publish(ObjectKind::Block, GossipPayload::Announce(inv).encode());
}

/// One RPC call's span, from the caller's side.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: Instant,
    end: Instant,
}

impl Span {
    fn ms(&self) -> f64 {
        self.end.duration_since(self.start).as_secs_f64() * 1e3
    }
}

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
    let mut cluster =
        Cluster::start_with(rumord, root, 2, GENESIS_OUTPUTS, &["--threads", "1"]).await?;
    let result = measure(spec, &mut cluster).await;
    cluster.stop().await;
    result
}

async fn measure(spec: &ClassSpec, c: &mut Cluster) -> Result<ClassResult, AttackError> {
    let mut objects = Objects::new(GENESIS_OUTPUTS);
    let mut raw = RawPeer::new("regtest").await?;
    let target = raw
        .connect(c.target().addr.clone(), Duration::from_secs(10))
        .await?;
    raw.drive(Duration::from_millis(300)).await;

    // A transaction the target holds, for the raw peer to ask for.
    let held = objects.valid_tx();
    c.target()
        .rpc
        .send_raw(&hex::encode(held.encode()))
        .await
        .map_err(rpc_err)?;
    let ask = GetDataRequest::Objects(vec![Inv::Tx(held.txid())]);

    // The best chain the reorg will take back: two blocks full of
    // transactions.
    let base = tip(c).await?;
    let mut prev = base;
    for _ in 0..2 {
        let txs: Vec<Transaction> = (0..TXS_PER_BLOCK).map(|_| objects.valid_tx()).collect();
        let fees = txs.len() as u64 * FEE;
        let b = objects.block_on(prev, txs, fees);
        announce(&mut raw, &b);
        prev = Tip {
            hash: b.hash(),
            height: prev.height + 1,
        };
        until_height(c, &mut raw, prev.height, Duration::from_secs(60)).await?;
    }
    // The heavier branch: two empty blocks (no more work than the tip:
    // held or stored aside), then the third, which makes it the best.
    let mut branch = Vec::new();
    let mut on = base;
    for _ in 0..3 {
        let b = objects.block_on(on, vec![], 0);
        on = Tip {
            hash: b.hash(),
            height: on.height + 1,
        };
        branch.push(b);
    }
    for b in &branch[..2] {
        announce(&mut raw, b);
        raw.drive(Duration::from_millis(400)).await;
    }

    // Call a lock-taking method over and over while the reorg runs; its
    // answers also tell when the heavier branch became the best chain (the
    // raw peer's loop below must not wait on an RPC itself).
    let stop = Arc::new(AtomicBool::new(false));
    let reorged = Arc::new(AtomicBool::new(false));
    let rpc = c.target().rpc.clone();
    let new_tip = on.hash.to_string();
    let hammer = {
        let (stop, reorged) = (Arc::clone(&stop), Arc::clone(&reorged));
        tokio::spawn(async move {
            let mut spans = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                if let Ok(info) = rpc.chain_info().await {
                    spans.push(Span {
                        start,
                        end: Instant::now(),
                    });
                    if info.bestblockhash == new_tip {
                        reorged.store(true, Ordering::Relaxed);
                    }
                }
            }
            spans
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    announce(&mut raw, &branch[2]);
    let trigger_at = Instant::now();
    // Ask the target for the held transaction over and over (this also
    // drives the raw peer, which serves the branch's last block).
    let mut answers: Vec<Span> = Vec::new();
    let mut lost = 0;
    let until = Instant::now() + Duration::from_secs(20);
    let mut reorged_at: Option<Instant> = None;
    while Instant::now() < until {
        let start = Instant::now();
        match raw
            .getdata(target, ask.clone(), Duration::from_secs(10))
            .await
        {
            Ok(_) => answers.push(Span {
                start,
                end: Instant::now(),
            }),
            Err(_) => lost += 1,
        }
        if reorged_at.is_none() && reorged.load(Ordering::Relaxed) {
            reorged_at = Some(Instant::now());
        }
        // Keep asking a little after the reorg, so that the RPC call that
        // waited on it has returned.
        if reorged_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500)) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let spans = hammer
        .await
        .map_err(|e| AttackError::Setup(format!("rpc task: {e}")))?;

    // The calls that waited on the lock while the raw peer was asking
    // (the first calls also set up the connection: not counted).
    let asking_from = answers
        .first()
        .map_or(trigger_at, |a| a.start)
        .max(trigger_at);
    let blocked: Vec<Span> = spans
        .iter()
        .copied()
        .filter(|s| s.start >= asking_from && s.ms() >= BLOCKED_MS)
        .collect();
    let longest = spans
        .iter()
        .copied()
        .filter(|s| s.start >= asking_from)
        .max_by(|a, b| a.ms().total_cmp(&b.ms()));
    let during: Vec<&Span> = answers
        .iter()
        .filter(|a| blocked.iter().any(|b| a.start >= b.start && a.end <= b.end))
        .collect();
    let latency = Latency::of(answers.iter().map(Span::ms).collect(), lost);
    let mut result = ClassResult {
        disconnected: !raw.is_connected(&target),
        latency,
        target_alive: c.nodes[0].alive(),
        target_peak_rss_mib: c.target().peak_rss_mib(),
        ..ClassResult::blank(spec, answers.len() as u64 + lost as u64)
    };
    match longest {
        Some(l) if l.ms() >= BLOCKED_MS => {
            result.notes.push(format!(
                "{} getblockchaininfo calls waited on the reorg's lock (longest {:.0} ms); \
                 getdata answered while they waited: {} (of {} asked in all, {:.1} ms median)",
                blocked.len(),
                l.ms(),
                during.len(),
                answers.len(),
                result.latency.p50_ms
            ));
            if during.is_empty() {
                result.failures.push(format!(
                    "no getdata answered while RPC calls waited on the chain lock \
                     (longest {:.0} ms): the p2p loop stalled",
                    l.ms()
                ));
            }
        }
        Some(l) => result.failures.push(format!(
            "no RPC call waited on the reorg (longest {:.1} ms): nothing measured",
            l.ms()
        )),
        None => result.failures.push("no RPC call answered".into()),
    }
    if reorged_at.is_none() {
        result
            .failures
            .push("the heavier branch never became the target's best chain".into());
    }
    if result.disconnected {
        result.failures.push("the raw peer was disconnected".into());
    }
    if !result.target_alive {
        result.failures.push("the target died".into());
    }
    result.pass = result.failures.is_empty();
    Ok(result)
}
