//! [`Validator`]: the node's one validation path. Transactions submitted
//! over RPC, the miner's blocks and bodies from the network all wait in
//! bounded queues and are validated together, in batches, on one thread:
//! one signature batch and two short holds of the chain lock per batch,
//! however many sources fed it.
//!
//! Every body is decoded here exactly once, and its id hashed once (RPC
//! submissions arrive decoded, by the handler that parsed them). Verdicts
//! on network bodies go back to the p2p layer as [`Judgement`]s; objects
//! accepted any other way (submissions, orphans adopted, blocks connected
//! with their parent) go to it as [`Accepted`], so it spreads each once.
//!
//! Clients' submissions pass admission control first
//! ([`crate::admission`]): past its bounds they are refused with
//! [`Busy`], never queued without end. The thread measures how long each
//! batch waited, which is admission's main signal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumor_chain::{BlockHash, Inv, Object, ObjectKind, Outcome, Verdict, decode_body};
use rumor_p2p::{Accepted, CompactBlock, Judgement, P2pHandle, ValidationRequest};
use tokio::sync::{mpsc, oneshot};

use crate::admission::{self, Busy, Lateness, Limits, Load};
use crate::core::{NodeCore, now_ms, peer_source};
use crate::metrics::NodeMetrics;
use crate::shutdown::Shutdown;

/// Local submissions waiting before submitters wait for room.
const LOCAL_QUEUE: usize = 16_384;
/// Objects validated per batch at most: large enough for batch signature
/// verification to pay (65k tx/s in batches of 64, 76k in 1,024: `cargo
/// bench -p rumor-chain`), small
/// enough that a block arriving behind a batch waits little for it (with
/// 512, block c100 at 1,000 tx/s was 1.15 s p50, with 128 0.89 s).
const BATCH: usize = 128;

/// An object submitted by this node (RPC, miner), decoded, with its bytes.
struct Submission {
    object: Object,
    bytes: Bytes,
    reply: oneshot::Sender<Outcome>,
    queued: Instant,
}

enum Job {
    Local(Submission),
    Net(ValidationRequest),
}

impl Job {
    fn is_block(&self) -> bool {
        match self {
            Self::Local(s) => s.object.inv().kind() == ObjectKind::Block,
            Self::Net(r) => r.inv.kind() == ObjectKind::Block,
        }
    }

    fn inv(&self) -> Inv {
        match self {
            Self::Local(s) => s.object.inv(),
            Self::Net(r) => r.inv,
        }
    }

    fn queued(&self) -> Instant {
        match self {
            Self::Local(s) => s.queued,
            Self::Net(r) => r.queued,
        }
    }
}

/// The handle for local submissions.
#[derive(Debug, Clone)]
pub struct Validator {
    tx: mpsc::Sender<Submission>,
    p2p: P2pHandle,
    lateness: Arc<Lateness>,
    limits: Limits,
    metrics: Arc<NodeMetrics>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission")
            .field("inv", &self.object.inv())
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts the validation thread, fed by local submissions and by the
    /// p2p layer's `bodies`; clients are admitted within `limits`. It stops
    /// once `shutdown` fires.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        core: Arc<NodeCore>,
        p2p: P2pHandle,
        bodies: mpsc::Receiver<ValidationRequest>,
        metrics: Arc<NodeMetrics>,
        limits: Limits,
        shutdown: Shutdown,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(LOCAL_QUEUE);
        let rt = tokio::runtime::Handle::current();
        let lateness = Arc::new(Lateness::default());
        let handle = Self {
            tx,
            p2p: p2p.clone(),
            lateness: Arc::clone(&lateness),
            limits,
            metrics: Arc::clone(&metrics),
        };
        let thread = std::thread::Builder::new()
            .name("rumor-validate".into())
            .spawn(move || {
                let mut w = Worker {
                    core,
                    p2p,
                    metrics,
                    local: rx,
                    bodies,
                    lateness,
                    limits,
                };
                w.run(&rt, &shutdown);
            })?;
        Ok((handle, thread))
    }

    /// Validates one object this node made (its miner's blocks), waiting
    /// for room in the queue; if accepted, the p2p layer spreads it. `None`
    /// if the node is stopping.
    pub async fn submit(&self, object: Object, bytes: Bytes) -> Option<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Submission {
                object,
                bytes,
                reply,
                queued: Instant::now(),
            })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// What admission control sees now.
    pub fn load(&self) -> Load {
        Load {
            late: self.lateness.late(),
            queued: self.tx.max_capacity() - self.tx.capacity(),
            relay: self.p2p.backlog(),
        }
    }

    /// Validates a client's objects, in order, if admission control lets
    /// them in (all or none); each accepted one is spread. The outer `None`:
    /// the node is stopping.
    ///
    /// # Errors
    /// [`Busy`] when the node is past one of its bounds; counted in
    /// `rumor_admission_refused_total`.
    pub async fn submit_client(
        &self,
        objects: Vec<(Object, Bytes)>,
    ) -> Result<Option<Vec<Outcome>>, Busy> {
        let load = self.load();
        let permits = admission::admit(&load, objects.len(), &self.limits).and_then(|()| {
            self.tx
                .try_reserve_many(objects.len())
                .map_err(|_| Busy::QueueFull {
                    queued: load.queued,
                })
        });
        let permits = match permits {
            Ok(p) => p,
            Err(busy) => {
                self.metrics.record_refused(busy.label(), objects.len());
                return Err(busy);
            }
        };
        let now = Instant::now();
        let mut replies = Vec::with_capacity(objects.len());
        for (permit, (object, bytes)) in permits.zip(objects) {
            let (reply, rx) = oneshot::channel();
            permit.send(Submission {
                object,
                bytes,
                reply,
                queued: now,
            });
            replies.push(rx);
        }
        let mut outcomes = Vec::with_capacity(replies.len());
        for rx in replies {
            match rx.await {
                Ok(o) => outcomes.push(o),
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(outcomes))
    }
}

struct Worker {
    core: Arc<NodeCore>,
    p2p: P2pHandle,
    metrics: Arc<NodeMetrics>,
    local: mpsc::Receiver<Submission>,
    bodies: mpsc::Receiver<ValidationRequest>,
    lateness: Arc<Lateness>,
    limits: Limits,
}

impl Worker {
    fn run(&mut self, rt: &tokio::runtime::Handle, shutdown: &Shutdown) {
        loop {
            let first = rt.block_on(async {
                tokio::select! {
                    biased;
                    _ = shutdown.wait() => None,
                    Some(s) = self.local.recv() => Some(Job::Local(s)),
                    Some(b) = self.bodies.recv() => Some(Job::Net(b)),
                    else => None,
                }
            });
            let Some(first) = first else {
                return;
            };
            let mut jobs = vec![first];
            while jobs.len() < BATCH {
                let next = match self.local.try_recv() {
                    Ok(s) => Job::Local(s),
                    Err(_) => match self.bodies.try_recv() {
                        Ok(b) => Job::Net(b),
                        Err(_) => break,
                    },
                };
                jobs.push(next);
            }
            let oldest = jobs
                .iter()
                .map(Job::queued)
                .min()
                .unwrap_or_else(Instant::now);
            self.lateness.observe(oldest.elapsed(), &self.limits);
            // Blocks go first, in a batch of their own: a block's latency
            // matters most, and it should not wait for hundreds of
            // signatures that arrived with it.
            let (blocks, txs): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(Job::is_block);
            for batch in [blocks, txs] {
                if !batch.is_empty() {
                    self.validate(batch);
                }
            }
            // Nothing waits: the node has caught up. Said here because a
            // node that refuses every client may get no more work to take,
            // and must not stay "late" for want of a next batch.
            if self.local.is_empty() && self.bodies.is_empty() {
                self.lateness.observe(Duration::ZERO, &self.limits);
            }
        }
    }

    fn validate(&mut self, jobs: Vec<Job>) {
        let started = Instant::now();
        let n = jobs.len();
        let mut items = Vec::with_capacity(n);
        let mut sources = Vec::with_capacity(n);
        let mut metas = Vec::with_capacity(n);
        let mut queued_of = HashMap::new();
        for job in jobs {
            if let Inv::Block(hash) = job.inv() {
                queued_of.insert(hash, job.queued());
            }
            let job_peer = match &job {
                Job::Net(r) => Some(r.peer),
                Job::Local(_) => None,
            };
            let (item, meta) = match job {
                Job::Local(s) => {
                    let inv = s.object.inv();
                    let meta = Meta::Local {
                        inv,
                        bytes: s.bytes,
                        reply: s.reply,
                    };
                    (Ok(s.object), meta)
                }
                Job::Net(r) => (decode_body(r.inv, &r.bytes), Meta::Net { inv: r.inv }),
            };
            sources.push(job_peer.as_ref().map(peer_source));
            let block = match &item {
                Ok(Object::Block(b)) => Some(b),
                _ => None,
            };
            let compact = block.map(|b| CompactBlock::of(b.block(), b.txids()));
            let peer_block_time = match meta {
                Meta::Net { .. } => block.map(|b| b.block().header.time),
                Meta::Local { .. } => None,
            };
            items.push(item);
            metas.push((meta, compact, peer_block_time));
        }
        let kinds: Vec<ObjectKind> = metas.iter().map(|(m, _, _)| m.inv().kind()).collect();
        let from_peer: Vec<bool> = metas
            .iter()
            .map(|(m, _, _)| matches!(m, Meta::Net { .. }))
            .collect();
        // A block that joins the best chain is handed to the p2p layer as
        // soon as it passed every rule, before the store writes it: the
        // write and the mempool repair are most of a connect, and its
        // peers need not wait for them.
        let mut early: HashMap<BlockHash, Early> = metas
            .iter()
            .filter_map(|(meta, compact, _)| match (meta.inv(), compact) {
                (Inv::Block(hash), Some(compact)) => Some((hash, Early::of(meta, compact))),
                _ => None,
            })
            .collect();
        let mut relayed: HashMap<BlockHash, Instant> = HashMap::new();
        let p2p = &self.p2p;
        let processed = self.core.process_from(items, &sources, &mut |hash| {
            if let Some(e) = early.remove(&hash) {
                relayed.insert(hash, Instant::now());
                e.send(p2p);
            }
        });
        let written = Instant::now();
        for (hash, at) in &relayed {
            let queued = queued_of.get(hash).copied().unwrap_or(started);
            let (queue, valid, write) = (
                started.saturating_duration_since(queued),
                at.saturating_duration_since(started),
                written.saturating_duration_since(*at),
            );
            self.metrics.record_block_stages(queue, valid, write);
            tracing::debug!(
                block = %hash,
                queue_ms = queue.as_secs_f64() * 1e3,
                validate_ms = valid.as_secs_f64() * 1e3,
                write_ms = write.as_secs_f64() * 1e3,
                "block relayed after validation, then written"
            );
        }
        self.metrics
            .record_batch(&kinds, &from_peer, &processed.outcomes, started.elapsed());
        let now = now_ms();
        let mut judgements = Vec::new();
        let mut accepted = Vec::new();
        let mut replies = Vec::new();
        for ((meta, compact, time), outcome) in metas.into_iter().zip(processed.outcomes) {
            let is_accepted = matches!(outcome.verdict, Verdict::Accepted { .. });
            if let (true, Some(t)) = (is_accepted, time) {
                self.metrics
                    .block_delay_seconds
                    .observe(now.saturating_sub(t) as f64 / 1000.0);
            }
            // Already handed over as it became valid (a store failure after
            // that stops the node; the block itself was valid).
            let sent = matches!(meta.inv(), Inv::Block(h) if relayed.contains_key(&h));
            match meta {
                Meta::Net { .. } if sent => {}
                Meta::Net { inv } => judgements.push(Judgement {
                    inv,
                    verdict: outcome.verdict,
                    compact: compact.filter(|_| is_accepted),
                }),
                Meta::Local { inv, bytes, reply } => {
                    if is_accepted && !sent {
                        accepted.push(Accepted {
                            inv,
                            bytes,
                            compact,
                        });
                    }
                    replies.push((reply, outcome));
                }
            }
        }
        accepted.extend(processed.also);
        // The p2p layer is told before the submitters hear back, so that an
        // accepted submission is already on its way when RPC returns.
        if !judgements.is_empty() {
            let _ = self.p2p.judge_blocking(judgements);
        }
        let _ = self.p2p.accepted_blocking(accepted);
        for (reply, outcome) in replies {
            let _ = reply.send(outcome);
        }
    }
}

/// What the p2p layer is told of a block the moment it is found valid.
enum Early {
    /// A peer's block: its verdict.
    Judged(Judgement),
    /// This node's block: to spread.
    Accepted(Accepted),
}

impl Early {
    fn of(meta: &Meta, compact: &CompactBlock) -> Self {
        match meta {
            Meta::Net { inv } => Self::Judged(Judgement {
                inv: *inv,
                verdict: Verdict::Accepted { also: Vec::new() },
                compact: Some(compact.clone()),
            }),
            Meta::Local { inv, bytes, .. } => Self::Accepted(Accepted {
                inv: *inv,
                bytes: bytes.clone(),
                compact: Some(compact.clone()),
            }),
        }
    }

    fn send(self, p2p: &P2pHandle) {
        let _ = match self {
            Self::Judged(j) => p2p.judge_blocking(vec![j]),
            Self::Accepted(a) => p2p.accepted_blocking(vec![a]),
        };
    }
}

/// What a validated item was, and where its verdict goes.
enum Meta {
    Local {
        inv: Inv,
        bytes: Bytes,
        reply: oneshot::Sender<Outcome>,
    },
    Net {
        inv: Inv,
    },
}

impl Meta {
    fn inv(&self) -> Inv {
        match self {
            Self::Local { inv, .. } | Self::Net { inv } => *inv,
        }
    }
}
