//! Anti-entropy (push-pull): every sync interval this node exchanges its tip
//! and mempool digest with a random peer; each side then pulls what it lacks.
//! A node that is behind syncs headers first, then blocks in small batches.
//! Peer exchange rides on the same protocol.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::request_response::{self, Message, ResponseChannel};
use rand::seq::IndexedRandom;
use rumor_chain::BlockHash;

use super::{Internal, Service};
use crate::telemetry::Via;
use crate::wire::{Inv, MAX_HEADERS, MAX_SHORT_IDS, SyncRequest, SyncResponse, SyncStatus};

/// Blocks requested at once during catch-up.
const BLOCK_BATCH: usize = 16;
/// Transactions fetched from one peer per anti-entropy round at most.
const MAX_FETCH_PER_ROUND: usize = 8192;
/// A catch-up session with no progress for this long is abandoned.
const SESSION_STALL: Duration = Duration::from_secs(15);
/// Rate-limit tokens one inbound `sync` request costs: with the per-peer
/// budget (50,000 items/s, bursts of 100,000) a peer may make 100 sync
/// requests a second in bursts of 200, far above an honest peer's few per
/// sync interval, and still leaves the budget to `getdata`.
const SYNC_REQUEST_COST: usize = 500;
/// Penalty for a sync request over the rate limit.
const SYNC_FLOOD_PENALTY: f64 = 10.0;

/// What an outbound `sync` request was for.
pub(crate) enum SyncOut {
    Status { ours: SyncStatus },
    ShortIds,
    Headers,
    Peers,
}

/// A headers-first catch-up with one peer.
pub(crate) struct SyncSession {
    peer: PeerId,
    queue: VecDeque<Inv>,
    outstanding: HashSet<Inv>,
    more: Option<BlockHash>,
    /// A headers request (or the locator for one) is under way.
    awaiting_headers: bool,
    updated: Instant,
}

impl SyncSession {
    /// Whether the session waits for `inv`.
    pub(crate) fn waiting_on(&self, inv: &Inv) -> bool {
        self.outstanding.contains(inv)
    }

    /// Whether the session is with `peer`.
    pub(crate) fn peer_is(&self, peer: &PeerId) -> bool {
        self.peer == *peer
    }
}

impl Service {
    fn random_peer(&self) -> Option<PeerId> {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        peers.choose(&mut rand::rng()).copied()
    }

    /// Starts one anti-entropy round with a random peer.
    pub(crate) fn start_sync_round(&mut self) {
        if let Some(s) = &self.session
            && s.updated.elapsed() > SESSION_STALL
        {
            tracing::debug!(peer = %s.peer, "catch-up stalled; abandoning it");
            self.session = None;
        }
        let Some(peer) = self.random_peer() else {
            return;
        };
        self.shared
            .counters
            .sync_rounds
            .fetch_add(1, Ordering::Relaxed);
        let backend = Arc::clone(&self.backend);
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Internal::StatusFor(peer, backend.status()));
        });
    }

    pub(crate) fn send_status(&mut self, peer: PeerId, ours: SyncStatus) {
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest::Status(ours));
        self.sync_out.insert(id, SyncOut::Status { ours });
    }

    pub(super) fn on_sync_event(&mut self, ev: request_response::Event<SyncRequest, SyncResponse>) {
        match ev {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.serve_sync(peer, request, channel),
            request_response::Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                let Some(ctx) = self.sync_out.remove(&request_id) else {
                    return;
                };
                if self.loss_hit() {
                    self.shared
                        .counters
                        .emulated_loss_rr
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
                self.on_sync_response(peer, ctx, response);
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(SyncOut::Headers) = self.sync_out.remove(&request_id)
                    && self.session.as_ref().is_some_and(|s| s.peer == peer)
                {
                    self.session = None;
                }
                tracing::debug!(%peer, %error, "sync request failed");
            }
            _ => {}
        }
    }

    fn serve_sync(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        if self.loss_hit() {
            self.shared
                .counters
                .emulated_loss_rr
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !self.peers.allow(peer, SYNC_REQUEST_COST) {
            self.shared
                .counters
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            self.penalize(peer, SYNC_FLOOD_PENALTY, "sync flood");
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, SyncResponse::Refused);
            return;
        }
        if let SyncRequest::Peers = request {
            let records = self.peer_records();
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, SyncResponse::Peers(records));
            return;
        }
        let key = self.next_key();
        self.sync_channels.insert(key, channel);
        let backend = Arc::clone(&self.backend);
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let resp = match request {
                SyncRequest::Status(theirs) => {
                    let ours = backend.status();
                    // Push-pull: the asker's status tells us what we lack too.
                    let _ = tx.send(Internal::Compare(peer, theirs, ours));
                    SyncResponse::Status(ours)
                }
                SyncRequest::MempoolShortIds => {
                    let mut ids = backend.mempool_short_ids();
                    ids.truncate(MAX_SHORT_IDS);
                    SyncResponse::MempoolShortIds(ids)
                }
                SyncRequest::Headers { locator, max } => {
                    let max = (max as usize).min(MAX_HEADERS);
                    SyncResponse::Headers(backend.headers_after(&locator, max))
                }
                SyncRequest::Peers => SyncResponse::Refused,
            };
            let _ = tx.send(Internal::Sync(key, resp));
        });
    }

    fn on_sync_response(&mut self, peer: PeerId, ctx: SyncOut, response: SyncResponse) {
        match (ctx, response) {
            (SyncOut::Status { ours }, SyncResponse::Status(theirs)) => {
                self.compare(peer, theirs, ours)
            }
            (SyncOut::ShortIds, SyncResponse::MempoolShortIds(theirs)) => {
                let backend = Arc::clone(&self.backend);
                let tx = self.internal_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let ours = backend.mempool_short_ids();
                    let missing = sorted_difference(&theirs, &ours);
                    if !missing.is_empty() {
                        let _ = tx.send(Internal::MissingShortIds(peer, missing));
                    }
                });
            }
            (SyncOut::Headers, SyncResponse::Headers(headers)) => self.on_headers(peer, headers),
            (SyncOut::Peers, SyncResponse::Peers(records)) => self.learn_peers(records),
            (_, SyncResponse::Refused) => {}
            _ => self.penalize(peer, 25.0, "sync response of the wrong type"),
        }
    }

    /// Compares a peer's status with ours and pulls what we lack. Asking
    /// the node (its lock may be held by a block being connected) happens
    /// off the loop.
    pub(crate) fn compare(&mut self, peer: PeerId, theirs: SyncStatus, ours: SyncStatus) {
        let tip = Inv::block(theirs.tip);
        if theirs.work > ours.work && self.session.is_none() {
            let backend = Arc::clone(&self.backend);
            let tx = self.internal_tx.clone();
            tokio::task::spawn_blocking(move || {
                if !backend.has(&tip) {
                    tracing::debug!(%peer, their_height = theirs.height, our_height = ours.height, "behind; syncing headers");
                    let _ = tx.send(Internal::CatchUp(peer, backend.locator()));
                }
            });
        }
        if theirs.mempool_digest != ours.mempool_digest && theirs.mempool_len > 0 {
            self.shared
                .counters
                .sync_digest_mismatch
                .fetch_add(1, Ordering::Relaxed);
            let id = self
                .swarm
                .behaviour_mut()
                .sync
                .send_request(&peer, SyncRequest::MempoolShortIds);
            self.sync_out.insert(id, SyncOut::ShortIds);
        }
    }

    /// Starts a headers-first catch-up with `peer` (unless one runs).
    pub(crate) fn start_catch_up(&mut self, peer: PeerId, locator: Vec<BlockHash>) {
        if self.session.is_some() {
            return;
        }
        self.session = Some(SyncSession {
            peer,
            queue: VecDeque::new(),
            outstanding: HashSet::new(),
            more: None,
            awaiting_headers: false,
            updated: Instant::now(),
        });
        self.request_headers(peer, locator);
    }

    /// More headers, after the node computed its locator.
    pub(crate) fn continue_catch_up(&mut self, peer: PeerId, locator: Vec<BlockHash>) {
        if self.session.as_ref().is_some_and(|s| s.peer == peer) {
            self.request_headers(peer, locator);
        }
    }

    fn request_headers(&mut self, peer: PeerId, locator: Vec<BlockHash>) {
        if let Some(s) = self.session.as_mut() {
            s.awaiting_headers = true;
        }
        let id = self.swarm.behaviour_mut().sync.send_request(
            &peer,
            SyncRequest::Headers {
                locator,
                max: MAX_HEADERS as u32,
            },
        );
        self.sync_out.insert(id, SyncOut::Headers);
    }

    fn on_headers(&mut self, peer: PeerId, headers: Vec<rumor_chain::BlockHeader>) {
        self.shared
            .counters
            .sync_headers
            .fetch_add(headers.len() as u64, Ordering::Relaxed);
        // At most what we asked for, each header on its predecessor, each
        // with its proof of work: anything else is a peer wasting our
        // fetches, so it ends the session.
        let linked = headers.windows(2).all(|w| w[1].prev == w[0].hash());
        let worked = headers.iter().all(rumor_chain::BlockHeader::meets_target);
        if headers.len() > MAX_HEADERS || !linked || !worked {
            self.count_reject("malformed-headers");
            self.penalize(peer, 25.0, "malformed headers");
            if self.session.as_ref().is_some_and(|s| s.peer == peer) {
                self.session = None;
            }
            return;
        }
        let Some(session) = self.session.as_mut().filter(|s| s.peer == peer) else {
            return;
        };
        session.updated = Instant::now();
        session.more = (headers.len() >= MAX_HEADERS)
            .then(|| headers.last().map(|h| h.hash()))
            .flatten();
        let hashes: Vec<Inv> = headers.iter().map(|h| Inv::block(h.hash())).collect();
        let backend = Arc::clone(&self.backend);
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let unknown = hashes.into_iter().filter(|i| !backend.has(i)).collect();
            let _ = tx.send(Internal::UnknownBlocks(peer, unknown));
        });
    }

    /// The blocks of a headers batch the node lacks: queue them.
    pub(crate) fn queue_unknown_blocks(&mut self, peer: PeerId, unknown: Vec<Inv>) {
        let Some(s) = self.session.as_mut().filter(|s| s.peer == peer) else {
            return;
        };
        s.awaiting_headers = false;
        s.queue.extend(unknown);
        self.session_next();
    }

    /// Sends the next batch of catch-up block fetches, asks for more headers,
    /// or ends the session.
    fn session_next(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if !s.outstanding.is_empty() || s.awaiting_headers {
            return;
        }
        let peer = s.peer;
        let batch: Vec<Inv> = (0..BLOCK_BATCH)
            .filter_map(|_| s.queue.pop_front())
            .collect();
        if batch.is_empty() {
            match s.more.take() {
                Some(last) => {
                    s.awaiting_headers = true;
                    let backend = Arc::clone(&self.backend);
                    let tx = self.internal_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut locator = vec![last];
                        locator.extend(backend.locator());
                        let _ = tx.send(Internal::MoreHeaders(peer, locator));
                    });
                }
                None => self.session = None,
            }
            return;
        }
        let now = Instant::now();
        for inv in batch {
            // The headers were checked against the node already.
            if let Some(p) = self.relay.fetch(inv, [peer], || false, now) {
                self.fetch_via.insert(inv, Via::Sync);
                self.queue_fetch(inv, p);
                if let Some(s) = self.session.as_mut() {
                    s.outstanding.insert(inv);
                }
            }
        }
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.outstanding.is_empty())
        {
            self.session_next();
        }
    }

    /// A catch-up block was accepted.
    pub(crate) fn session_progress(&mut self, inv: Inv) {
        if let Some(s) = self.session.as_mut() {
            s.outstanding.remove(&inv);
            s.updated = Instant::now();
        }
        self.session_next();
    }

    /// After the grace period: fetch what is still missing.
    pub(crate) fn recheck_missing(&mut self, peer: PeerId, ids: Vec<u64>) {
        if !self.swarm.is_connected(&peer) {
            return;
        }
        let backend = Arc::clone(&self.backend);
        let tx = self.internal_tx.clone();
        tokio::task::spawn_blocking(move || {
            let ours = backend.mempool_short_ids();
            let mut still = sorted_difference(&ids, &ours);
            still.truncate(MAX_FETCH_PER_ROUND);
            if !still.is_empty() {
                let _ = tx.send(Internal::FetchShortIds(peer, still));
            }
        });
    }

    /// Asks a random peer for more peers.
    pub(crate) fn ask_for_peers(&mut self) {
        if let Some(peer) = self.random_peer() {
            let id = self
                .swarm
                .behaviour_mut()
                .sync
                .send_request(&peer, SyncRequest::Peers);
            self.sync_out.insert(id, SyncOut::Peers);
        }
    }
}

/// Items of sorted `a` not in sorted `b`.
fn sorted_difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_difference_works() {
        assert_eq!(
            super::sorted_difference(&[1, 2, 3, 5, 8], &[2, 5, 6]),
            vec![1, 3, 8]
        );
        assert_eq!(super::sorted_difference(&[], &[1]), Vec::<u64>::new());
        assert_eq!(super::sorted_difference(&[4, 4], &[]), vec![4]);
    }
}
