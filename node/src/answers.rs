//! Answers to the p2p layer's questions ([`P2pEvent::Query`]), and its news
//! (peers up, down, banned) in the log, a departed peer's orphan
//! transactions dropped; ban lists go to the writer of
//! `banlist.json` (`ban_file`). Each answer is computed on the
//! blocking pool, a few at a time: the store reads and the chain lock never
//! touch the async runtime, and while every worker is busy the questions
//! wait in p2p's bounded event queue, which then refuses new work.

use std::sync::Arc;

use rumor_p2p::{BanRecord, P2pEvent, Query};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::core::{NodeCore, peer_source};

/// Questions answered at once.
const WORKERS: usize = 4;

/// Reads `events` until the p2p layer stops; ban lists go to `bans`.
pub(crate) async fn run(
    core: Arc<NodeCore>,
    mut events: mpsc::Receiver<P2pEvent>,
    bans: watch::Sender<Vec<BanRecord>>,
) {
    let permits = Arc::new(Semaphore::new(WORKERS));
    while let Some(event) = events.recv().await {
        match event {
            P2pEvent::PeerUp(p) => tracing::debug!(peer = %p, "peer up"),
            P2pEvent::PeerDown(p) => {
                tracing::debug!(peer = %p, "peer down");
                // Its orphans go with it (Core's EraseForPeer), under the
                // chain lock, so on the blocking pool, a few at a time.
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let core = Arc::clone(&core);
                tokio::task::spawn_blocking(move || {
                    if let Ok(n) = core.forget_orphans_from(peer_source(&p))
                        && n > 0
                    {
                        tracing::debug!(peer = %p, orphans = n, "orphans of a departed peer dropped");
                    }
                    drop(permit);
                });
            }
            P2pEvent::PeerBanned(p) => tracing::info!(peer = %p, "peer banned"),
            P2pEvent::BansChanged(list) => {
                // Only the latest list matters; the writer may skip older ones.
                bans.send_replace(list);
            }
            P2pEvent::Query(q) => {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let core = Arc::clone(&core);
                tokio::task::spawn_blocking(move || {
                    answer(&core, q);
                    drop(permit);
                });
            }
        }
    }
}

/// Answers one question. An answer the node cannot give (it is stopping)
/// drops the reply channel, which p2p reads as "cannot say".
fn answer(core: &NodeCore, query: Query) {
    match query {
        Query::Bodies {
            invs,
            budget,
            reply,
        } => {
            let _ = reply.send(core.bodies(&invs, budget));
        }
        Query::Status { reply } => {
            if let Ok(s) = core.status() {
                let _ = reply.send(s);
            }
        }
        Query::MempoolShortIds { reply } => {
            if let Ok(ids) = core.mempool_short_ids() {
                let _ = reply.send(ids);
            }
        }
        Query::TxsByShortId { ids, reply } => {
            let _ = reply.send(core.txs_by_short_id(&ids));
        }
        Query::Headers {
            locator,
            max,
            reply,
        } => {
            let _ = reply.send(core.headers_after(&locator, max));
        }
        Query::Locator { reply } => {
            let _ = reply.send(core.locator());
        }
        Query::Missing { invs, reply } => {
            let _ = reply.send(core.missing(&invs));
        }
        Query::Compact { block, reply } => {
            let _ = reply.send(core.compact(&block));
        }
        Query::BlockTxs {
            block,
            indexes,
            reply,
        } => {
            let _ = reply.send(core.block_txs(&block, &indexes));
        }
    }
}
