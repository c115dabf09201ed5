//! The `persisted-bans` class: a ban must outlive the target's restart, by
//! PeerId and by address. An attacker connected from a non-loopback
//! address of this host (a ban never names loopback, which every local
//! peer shares) misbehaves until it is banned; the target is stopped and
//! started again on its data directory; then the same identity, a fresh
//! identity from the same address, and (as a control) a fresh identity
//! from loopback each try to connect. Only the control may stay.

use std::time::{Duration, Instant};

use rumor_chain::Transaction;
use rumor_p2p::{Inv, Keypair, Multiaddr, RawPeer};

use super::AttackError;
use super::catalog::ClassSpec;
use super::classes::{REPEATS, Script, announce};
use super::cluster::Cluster;
use super::measure::{ClassResult, Latency, delta, honest_bad, judge, map_delta, probe, stats};
use super::objects::{Objects, TxFault};

/// Whether a peer with `key` (a fresh one if `None`) that dials `addr` is
/// let in: it connects, and is still connected a moment later (a banned
/// peer's connection is closed as soon as it is established).
async fn admitted(key: Option<Keypair>, addr: Multiaddr) -> Result<bool, AttackError> {
    let mut raw = match key {
        Some(k) => RawPeer::with_key("regtest", k).await?,
        None => RawPeer::new("regtest").await?,
    };
    let Ok(target) = raw.connect(addr, Duration::from_secs(5)).await else {
        return Ok(false);
    };
    raw.drive(Duration::from_millis(500)).await;
    Ok(raw.is_connected(&target))
}

/// Runs the class (see the module docs).
///
/// # Errors
/// RPC failures, or the target not coming back after its restart.
pub(super) async fn run_class(
    spec: &ClassSpec,
    cluster: &mut Cluster,
    objects: &mut Objects,
    clean: &Latency,
    min_probes: usize,
) -> Result<ClassResult, AttackError> {
    let mut result = ClassResult::blank(spec, 0);
    let Some(external) = cluster.target().external_addr.clone() else {
        result
            .failures
            .push("this host has no non-loopback address: a ban by address cannot be tried".into());
        judge(&mut result, spec, clean);
        return Ok(result);
    };
    let c: &Cluster = cluster;
    let before_t = stats(c, 0).await?;
    let mut before_h = Vec::new();
    for i in 1..c.nodes.len() {
        before_h.push(stats(c, i).await?);
    }

    // Banned: invalid transactions until the target disconnects it.
    let key = Keypair::generate_ed25519();
    let mut raw = RawPeer::with_key("regtest", key.clone()).await?;
    let target = raw
        .connect(external.clone(), Duration::from_secs(10))
        .await?;
    raw.drive(Duration::from_millis(300)).await;
    let mut script = Script::default();
    for _ in 0..REPEATS {
        let tx = objects.bad_tx(TxFault::BadSignature);
        announce(&mut script.steps, Inv::Tx(tx.txid()), tx.encode());
    }
    result.sent = script.messages();
    let sent_at = Instant::now();
    script.play(&mut raw, target).await;
    let deadline = Instant::now() + Duration::from_secs(12);
    while Instant::now() < deadline && raw.is_connected(&target) {
        raw.drive(Duration::from_millis(100)).await;
    }
    if !raw.is_connected(&target) {
        result.disconnected = true;
        result.disconnected_after_ms = Some(sent_at.elapsed().as_millis() as u64);
    }
    drop(raw);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_t = stats(c, 0).await?;
    result.counted = spec
        .labels
        .iter()
        .map(|l| (l.to_string(), delta(&before_t, &after_t, l)))
        .collect();
    result.rejects = map_delta(&before_t.rejects, &after_t.rejects);
    result.refusals = map_delta(&before_t.refusals, &after_t.refusals);
    result.banned = delta(&before_t, &after_t, "peers_banned");
    for (i, b) in before_h.iter().enumerate() {
        let a = stats(c, i + 1).await?;
        result.relayed_to_honest += honest_bad(&a).saturating_sub(honest_bad(b));
    }
    result.target_peak_rss_mib = c.target().peak_rss_mib();

    // The restart, then the three comers.
    let restarted_at = Instant::now();
    cluster.restart_target().await?;
    result.notes.push(format!(
        "target restarted in {} ms",
        restarted_at.elapsed().as_millis()
    ));
    let c: &Cluster = cluster;
    let same_peer = admitted(Some(key), external.clone()).await?;
    let same_address = admitted(None, external).await?;
    let loopback = admitted(None, c.target().addr.clone()).await?;
    let verdict = |let_in: bool| if let_in { "let in" } else { "refused" };
    result.notes.push(format!(
        "after the restart: the banned peer {}, a fresh identity from its address {}, a fresh identity from loopback {}",
        verdict(same_peer),
        verdict(same_address),
        verdict(loopback)
    ));
    if same_peer {
        result
            .failures
            .push("the banned peer was let in after the restart".into());
    }
    if same_address {
        result
            .failures
            .push("a fresh identity from the banned address was let in after the restart".into());
    }
    if !loopback {
        result
            .failures
            .push("a fresh identity from loopback (never banned) was refused".into());
    }

    // Honest relay through the restarted target.
    let probes: Vec<Transaction> = (0..min_probes).map(|_| objects.valid_tx()).collect();
    let (mut samples, mut lost) = (Vec::new(), 0);
    for tx in &probes {
        match probe(c, tx).await {
            Ok(Some(ms)) => samples.push(ms),
            Ok(None) | Err(_) => lost += 1,
        }
    }
    result.latency = Latency::of(samples, lost);
    result.target_alive = cluster.nodes[0].alive();
    judge(&mut result, spec, clean);
    Ok(result)
}
