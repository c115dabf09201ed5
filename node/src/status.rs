//! The operator's periodic status line: every minute (the default of
//! `--status-interval-secs`) at info level, the tip, the mempool, the peers
//! and what admission control refused, so a node's log says it is alive and
//! how it is doing between events (new tips, peers up and down are logged
//! as they happen).

use std::sync::Arc;
use std::time::Duration;

use rumor_p2p::P2pHandle;

use crate::core::NodeCore;
use crate::metrics::NodeMetrics;
use crate::shutdown::Shutdown;

/// Writes the status line every `interval` until `shutdown`.
pub(crate) async fn run(
    interval: Duration,
    core: Arc<NodeCore>,
    p2p: P2pHandle,
    metrics: Arc<NodeMetrics>,
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: skip it, start-up already logged.
    every.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = every.tick() => {}
        }
        // On the blocking pool: the chain lock may be held by a block
        // connect, and a runtime worker must not wait on it.
        let c = Arc::clone(&core);
        let Ok(Ok(pool)) = tokio::task::spawn_blocking(move || c.pool_summary()).await else {
            return;
        };
        let peers = p2p.peers().await.map(|p| p.len()).unwrap_or(0);
        let backlog = p2p.backlog();
        tracing::info!(
            height = pool.height,
            mempool_txs = pool.txs,
            mempool_bytes = pool.bytes,
            orphans = pool.orphans,
            peers,
            relay_backlog = backlog.tracked + backlog.validating,
            refused_busy = metrics.refused_total(),
            "status"
        );
    }
}
