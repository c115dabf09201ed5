//! [`Submitter`]: RPC-submitted transactions queue here and are validated
//! in batches (one signature batch, one lock), then announced once.
//! Concurrent `sendrawtransaction` calls coalesce; a lone call is handled at
//! once, with no added delay.

use std::sync::Arc;

use rumor_p2p::{Body, Inv, Origin, P2pHandle, Verdict};
use tokio::sync::{mpsc, oneshot};

use crate::core::{NodeCore, Outcome};

/// Transactions waiting for validation before callers wait for room.
const QUEUE: usize = 16_384;
/// Transactions validated per batch at most.
const BATCH: usize = 1_024;

type Job = (Body, oneshot::Sender<Outcome>);

/// The submission queue's handle.
#[derive(Debug, Clone)]
pub struct Submitter {
    tx: mpsc::Sender<Job>,
}

impl Submitter {
    /// Starts the batching task.
    pub fn start(core: Arc<NodeCore>, p2p: P2pHandle) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let (bodies, replies): (Vec<Body>, Vec<oneshot::Sender<Outcome>>) =
                    jobs.into_iter().unzip();
                let invs: Vec<Inv> = bodies.iter().map(|b| b.inv).collect();
                let items = bodies.into_iter().map(|b| (Origin::Local, b)).collect();
                let c = Arc::clone(&core);
                let Ok(outcomes) = tokio::task::spawn_blocking(move || c.process(items)).await
                else {
                    continue;
                };
                let mut announce = Vec::new();
                for (inv, o) in invs.iter().zip(&outcomes) {
                    if let Verdict::Accepted { also } = &o.verdict {
                        announce.push(*inv);
                        announce.extend(also.iter().copied());
                    }
                }
                let _ = p2p.announce(announce).await;
                for (reply, o) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(o);
                }
            }
        });
        Self { tx }
    }

    /// Validates one transaction body; `None` if the node is stopping.
    pub async fn submit(&self, body: Body) -> Option<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((body, tx)).await.ok()?;
        rx.await.ok()
    }
}
