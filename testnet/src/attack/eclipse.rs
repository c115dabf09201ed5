//! `inbound-eclipse`: a flood of inbound identities must never take the
//! slots the node keeps for its own dials.
//!
//! An eclipse attacker fills a node's connection slots with identities it
//! controls, so that the node, when it next dials out, finds no room for
//! an honest peer of its own choosing. Bitcoin Core keeps its outbound
//! slots apart from its inbound ones for this; rumor keeps 8 of its 64 (or
//! half, for fewer) for its own dials.
//!
//! The class runs on a cluster of its own, whose target has a bootnode
//! that is not running yet: its "own peer". 80 identities connect to the
//! target and hold their connections; then the own peer starts, and the
//! target, still flooded, must dial it and keep it (an outbound peer),
//! while the flood's identities hold no more than the inbound limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumor_p2p::RawPeer;

use super::catalog::ClassSpec;
use super::cluster::{Cluster, planned_addr};
use super::measure::ClassResult;
use super::{AttackError, rpc_err};

/// The class's name.
pub const CLASS: &str = "inbound-eclipse";
/// Identities in the flood: more than the target's 64 slots.
const FLOOD: usize = 80;
/// The target's peer limit (its default) and what inbound peers may take.
const MAX_PEERS: usize = 64;
const MAX_INBOUND: usize = MAX_PEERS - 8;
/// The own peer's node index (apart from the cluster's 0..=honest).
const OWN_PEER: usize = 99;
/// Genesis outputs of this class's network.
const GENESIS_OUTPUTS: u32 = 100;
/// How long the target has to dial its own peer once it is up (its
/// bootnode dials back off to 5 s at most).
const DIAL_WITHIN: Duration = Duration::from_secs(30);

/// A free port outside the kernel's ephemeral range: the own peer's port
/// is chosen before the flood's 80 dials, which take ephemeral ports and
/// could take this one before the own peer listens on it.
fn reserved_port() -> Result<u16, AttackError> {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let start = 10_000 + (std::process::id() % 5_000) as u16;
    (start..low)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| AttackError::Setup(format!("no free port below {low}")))
}

/// Runs the class against a fresh cluster under `root`.
///
/// # Errors
/// The cluster cannot be started (a failing expectation is reported in
/// the result instead).
pub async fn run_class(
    spec: &ClassSpec,
    rumord: &std::path::Path,
    root: &std::path::Path,
) -> Result<ClassResult, AttackError> {
    let own_port = reserved_port()?;
    let own = planned_addr(OWN_PEER, own_port);
    let bootnode = own.to_string();
    let mut cluster =
        Cluster::start_with(rumord, root, 2, GENESIS_OUTPUTS, &["--bootnode", &bootnode]).await?;
    let result = measure(spec, &mut cluster, rumord, root, own_port).await;
    cluster.stop().await;
    result
}

/// `FLOOD` identities that connect to the target and hold on until
/// `release`; each task returns whether it was still connected then.
fn flood(
    addr: rumor_p2p::Multiaddr,
    target: rumor_p2p::PeerId,
    release: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<bool>> {
    (0..FLOOD)
        .map(|_| {
            let (addr, release) = (addr.clone(), Arc::clone(release));
            tokio::spawn(async move {
                let Ok(mut raw) = RawPeer::new("regtest").await else {
                    return false;
                };
                if raw.connect(addr, Duration::from_secs(10)).await.is_err() {
                    return false;
                }
                while !release.load(Ordering::Relaxed) {
                    raw.drive(Duration::from_millis(200)).await;
                }
                raw.is_connected(&target)
            })
        })
        .collect()
}

async fn measure(
    spec: &ClassSpec,
    c: &mut Cluster,
    rumord: &std::path::Path,
    root: &std::path::Path,
    own_port: u16,
) -> Result<ClassResult, AttackError> {
    let release = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks = flood(c.target().addr.clone(), c.target().peer_id, &release);
    // Until the flood has taken every inbound slot it can (or 20 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut inbound = 0;
    while Instant::now() < deadline {
        let peers = c.target().rpc.peers().await.map_err(rpc_err)?;
        inbound = peers.iter().filter(|p| !p.outbound).count();
        if inbound >= MAX_INBOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flooded = inbound;
    // The own peer comes up while the flood holds on.
    c.add_node(rumord, root, OWN_PEER, own_port, GENESIS_OUTPUTS)
        .await?;
    let own_id = c
        .nodes
        .last()
        .map(|n| n.peer_id.to_string())
        .unwrap_or_default();
    let up = Instant::now();
    let mut dialed_after = None;
    let mut most_inbound = flooded;
    let mut most_peers = 0;
    while up.elapsed() < DIAL_WITHIN {
        let peers = c.target().rpc.peers().await.map_err(rpc_err)?;
        most_inbound = most_inbound.max(peers.iter().filter(|p| !p.outbound).count());
        most_peers = most_peers.max(peers.len());
        if peers.iter().any(|p| p.outbound && p.peer_id == own_id) {
            dialed_after = Some(up.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Still there a moment later: kept, not dropped for a flood identity.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let peers = c.target().rpc.peers().await.map_err(rpc_err)?;
    let kept = peers.iter().any(|p| p.outbound && p.peer_id == own_id);
    release.store(true, Ordering::Relaxed);
    let mut held = 0;
    for t in tasks {
        if matches!(t.await, Ok(true)) {
            held += 1;
        }
    }
    let mut result = ClassResult::blank(spec, FLOOD as u64);
    result.target_alive = c.nodes[0].alive();
    result.target_peak_rss_mib = c.target().peak_rss_mib();
    result.notes.push(format!(
        "inbound slots taken: {flooded} of {MAX_INBOUND} (2 by the honest nodes); {held} of {FLOOD} flood identities held on to the end"
    ));
    match dialed_after {
        Some(t) => result.notes.push(format!(
            "the target dialed its own peer {:.1} s after it came up ({:.1} s into the flood)",
            t.as_secs_f64(),
            (up - started + t).as_secs_f64()
        )),
        None => result.failures.push(format!(
            "the target never got its own peer as an outbound peer within {DIAL_WITHIN:?} of it coming up"
        )),
    }
    if dialed_after.is_some() && !kept {
        result
            .failures
            .push("the target's own peer was dropped again".into());
    }
    if flooded < MAX_INBOUND {
        result.failures.push(format!(
            "the flood took only {flooded} inbound slots of {MAX_INBOUND}: nothing was tried"
        ));
    }
    if most_inbound > MAX_INBOUND {
        result.failures.push(format!(
            "{most_inbound} inbound peers, over the inbound limit of {MAX_INBOUND}"
        ));
    }
    if most_peers > MAX_PEERS {
        result
            .failures
            .push(format!("{most_peers} peers, over the limit of {MAX_PEERS}"));
    }
    if !result.target_alive {
        result.failures.push("the target died".into());
    }
    result.pass = result.failures.is_empty();
    Ok(result)
}
