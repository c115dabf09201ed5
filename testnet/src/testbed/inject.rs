//! The transaction injector: the workload's pre-signed transactions,
//! submitted through a few RPC lanes per node.
//!
//! Each lane takes everything queued for its node (up to [`MAX_CHUNK`]) and
//! submits it in one `sendrawtransactions` call: one transaction per call at
//! low rates, growing batches under load. So the injector offers far more
//! than 16 nodes on two cores can carry and is not what limits a knee
//! measurement; where it does fall behind, the report shows it (injected
//! below offered). A node that does not answer (killed, restarting) has the
//! chunk tried at the next live nodes, as a wallet would; a node that
//! answers, accepting or refusing, answers for itself. A node older than
//! `sendrawtransactions` gets one `sendrawtransaction` per transaction.

use std::sync::Arc;

use indicatif::ProgressBar;
use rumor_p2p::unix_nanos;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use super::rpc::{METHOD_NOT_FOUND, NodeRpc, RpcError, SubmitResult};
use super::workload::{Injected, Kind};

/// Transactions one call carries at most.
pub const MAX_CHUNK: usize = 500;
/// Concurrent calls per node.
pub const LANES: usize = 8;
/// Transactions queued per node before the workload waits (and so falls
/// behind its rate, visibly).
const QUEUE: usize = 8_192;
/// Nodes a chunk is tried at before it is given up.
const TRIES: usize = 3;

/// One transaction waiting for its call.
struct Queued {
    id: String,
    hex: String,
}

/// The lanes, and what they recorded.
pub struct Injector {
    queues: Vec<mpsc::Sender<Queued>>,
    lanes: JoinSet<()>,
    records: Arc<Mutex<Vec<Injected>>>,
}

/// What every lane shares.
struct Shared {
    clients: Vec<NodeRpc>,
    live: Arc<Mutex<Vec<bool>>>,
    records: Arc<Mutex<Vec<Injected>>>,
    progress: ProgressBar,
}

impl Injector {
    /// Lanes for every node of `clients`; `live` says which nodes are up.
    pub fn start(
        clients: Vec<NodeRpc>,
        live: Arc<Mutex<Vec<bool>>>,
        progress: ProgressBar,
    ) -> Self {
        let records = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            clients,
            live,
            records: Arc::clone(&records),
            progress,
        });
        let mut queues = Vec::with_capacity(shared.clients.len());
        let mut lanes = JoinSet::new();
        for node in 0..shared.clients.len() {
            let (tx, rx) = mpsc::channel(QUEUE);
            queues.push(tx);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..LANES {
                lanes.spawn(lane(node, Arc::clone(&rx), Arc::clone(&shared)));
            }
        }
        Self {
            queues,
            lanes,
            records,
        }
    }

    /// Queues transaction `id` (hex `hex`) for `node`; waits while that
    /// node's queue is full.
    pub async fn submit(&self, node: usize, id: String, hex: String) {
        let _ = self.queues[node].send(Queued { id, hex }).await;
    }

    /// Transactions queued and not yet submitted.
    pub fn queued(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.max_capacity() - q.capacity())
            .sum()
    }

    /// Waits for every queued transaction's answer; returns the records.
    pub async fn finish(mut self) -> Vec<Injected> {
        self.queues.clear();
        while self.lanes.join_next().await.is_some() {}
        std::mem::take(&mut *self.records.lock().await)
    }
}

async fn lane(node: usize, queue: Arc<Mutex<mpsc::Receiver<Queued>>>, shared: Arc<Shared>) {
    loop {
        let chunk = {
            let mut q = queue.lock().await;
            let Some(first) = q.recv().await else {
                return;
            };
            let mut chunk = vec![first];
            while chunk.len() < MAX_CHUNK {
                match q.try_recv() {
                    Ok(t) => chunk.push(t),
                    Err(_) => break,
                }
            }
            chunk
        };
        let n = chunk.len() as u64;
        let records = submit(node, chunk, &shared).await;
        shared.records.lock().await.extend(records);
        shared.progress.inc(n);
    }
}

/// Submits `chunk` at `node`, or at the next live nodes if it does not
/// answer.
async fn submit(node: usize, chunk: Vec<Queued>, shared: &Shared) -> Vec<Injected> {
    let n = shared.clients.len();
    let alive = shared.live.lock().await.clone();
    let candidates: Vec<usize> = (0..n)
        .map(|d| (node + d) % n)
        .filter(|o| alive[*o])
        .take(TRIES)
        .collect();
    let hexes: Vec<&str> = chunk.iter().map(|t| t.hex.as_str()).collect();
    let mut last: Option<(usize, u64, RpcError)> = None;
    for o in candidates {
        let submit_ns = unix_nanos();
        let rpc = &shared.clients[o];
        let answers = match rpc.send_raw_many(&hexes).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) if e.code == Some(METHOD_NOT_FOUND) => one_by_one(rpc, &hexes).await,
            // The whole call refused (busy): that is every transaction's answer.
            Err(e) if e.is_rejection() => hexes.iter().map(|_| Err(e.clone())).collect(),
            Err(e) => {
                last = Some((o, submit_ns, e));
                continue;
            }
        };
        return records(&chunk, o, submit_ns, answers);
    }
    let (origin, submit_ns, error) = last.unwrap_or_else(|| {
        (
            node,
            unix_nanos(),
            RpcError {
                method: "sendrawtransactions",
                message: "no live node".into(),
                code: None,
            },
        )
    });
    let answers = hexes.iter().map(|_| Err(error.clone())).collect();
    records(&chunk, origin, submit_ns, answers)
}

/// A node without `sendrawtransactions`: every transaction on its own call,
/// all at once.
async fn one_by_one(rpc: &NodeRpc, hexes: &[&str]) -> Vec<Result<SubmitResult, RpcError>> {
    let calls = hexes.iter().map(|h| async move {
        match rpc.send_raw(h).await {
            Ok(_) => Ok(SubmitResult::Accepted),
            Err(e) => match e.code {
                Some(code) => Ok(SubmitResult::Refused {
                    code,
                    message: e.message,
                }),
                None => Err(e),
            },
        }
    });
    futures::future::join_all(calls).await
}

fn records(
    chunk: &[Queued],
    origin: usize,
    submit_ns: u64,
    answers: Vec<Result<SubmitResult, RpcError>>,
) -> Vec<Injected> {
    chunk
        .iter()
        .zip(answers)
        .map(|(t, a)| {
            let (accepted, code, error) = match a {
                Ok(SubmitResult::Accepted) => (true, None, None),
                Ok(SubmitResult::Refused { code, message }) => (false, Some(code), Some(message)),
                Err(e) => (false, e.code, Some(e.to_string())),
            };
            Injected {
                kind: Kind::Tx,
                id: t.id.clone(),
                origin,
                submit_ns,
                accepted,
                error,
                code,
            }
        })
        .collect()
}
