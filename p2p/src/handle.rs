//! [`P2pHandle`]: the cloneable handle through which the node talks to the
//! event loop: its verdicts and accepted objects, and its questions
//! (stats, peers, first-seen records, bans).

use std::sync::Arc;

use libp2p::{Multiaddr, PeerId};
use rumor_chain::Inv;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::backlog::{Backlog, BacklogReading};
use crate::events::{Accepted, Judgement};
use crate::telemetry::{FirstSeen, RelayStats};

/// Commands to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Judged(Vec<Judgement>),
    Accepted(Vec<Accepted>),
    Stats(oneshot::Sender<RelayStats>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    FirstSeen(FirstSeenQuery, oneshot::Sender<Vec<FirstSeen>>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Dial(Multiaddr, oneshot::Sender<Result<(), P2pError>>),
    Disconnect(PeerId),
    Ban(PeerId, std::time::Duration),
    Unban(PeerId),
    ClearBans,
    Bans(oneshot::Sender<Vec<(PeerId, std::time::Duration)>>),
    Metrics(oneshot::Sender<String>),
    Shutdown(oneshot::Sender<()>),
}

/// Which first-seen records to return.
#[derive(Debug, Clone)]
pub enum FirstSeenQuery {
    /// These objects.
    Ids(Vec<Inv>),
    /// Records at or after this Unix-ns time, at most `limit`.
    Since {
        /// Unix nanoseconds.
        since_ns: u64,
        /// At most this many.
        limit: usize,
    },
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Its PeerId.
    pub peer_id: String,
    /// The remote address of the connection.
    pub addr: String,
    /// Whether we dialed it.
    pub outbound: bool,
    /// Seconds since it connected.
    pub connected_secs: u64,
    /// Last ping round-trip, ms.
    pub rtt_ms: Option<f64>,
    /// Its gossipsub score.
    pub score: f64,
    /// Whether it is in our transaction-topic mesh.
    pub mesh_tx: bool,
    /// Whether it is in our block-topic mesh.
    pub mesh_block: bool,
    /// Its agent string (from identify).
    pub agent: Option<String>,
}

/// Why a call on the [`P2pHandle`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The p2p layer is shut down or its command queue is gone.
    #[error("the p2p event loop is not running")]
    Stopped,
    /// libp2p refused to dial.
    #[error("cannot dial: {0}")]
    Dial(#[source] libp2p::swarm::DialError),
}

/// A cloneable handle to the p2p event loop. Commands go through a bounded
/// queue; calls wait for room (backpressure) rather than dropping.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) peer_id: PeerId,
    pub(crate) backlog: Arc<Backlog>,
}

impl P2pHandle {
    /// This node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The relay's backlog as the loop last wrote it (no round trip).
    pub fn backlog(&self) -> BacklogReading {
        self.backlog.get()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, P2pError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        rx.await.map_err(|_| P2pError::Stopped)
    }

    async fn send(&self, cmd: Command) -> Result<(), P2pError> {
        self.tx.send(cmd).await.map_err(|_| P2pError::Stopped)
    }

    /// The node's verdicts on bodies it was asked to validate. From a thread
    /// outside the async runtime (the node's validator), use
    /// [`P2pHandle::judge_blocking`].
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn judge(&self, verdicts: Vec<Judgement>) -> Result<(), P2pError> {
        self.send(Command::Judged(verdicts)).await
    }

    /// As [`P2pHandle::judge`], blocking the calling thread while the
    /// command queue is full (never call it from async code).
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub fn judge_blocking(&self, verdicts: Vec<Judgement>) -> Result<(), P2pError> {
        self.tx
            .blocking_send(Command::Judged(verdicts))
            .map_err(|_| P2pError::Stopped)
    }

    /// Objects the node accepted by a path other than the network (RPC,
    /// miner, orphans it adopted): each is spread at most once.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn accepted(&self, objects: Vec<Accepted>) -> Result<(), P2pError> {
        if objects.is_empty() {
            return Ok(());
        }
        self.send(Command::Accepted(objects)).await
    }

    /// As [`P2pHandle::accepted`], blocking the calling thread while the
    /// command queue is full (never call it from async code).
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub fn accepted_blocking(&self, objects: Vec<Accepted>) -> Result<(), P2pError> {
        if objects.is_empty() {
            return Ok(());
        }
        self.tx
            .blocking_send(Command::Accepted(objects))
            .map_err(|_| P2pError::Stopped)
    }

    /// The relay counters.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn stats(&self) -> Result<RelayStats, P2pError> {
        self.ask(Command::Stats).await
    }

    /// The connected peers.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, P2pError> {
        self.ask(Command::Peers).await
    }

    /// First-seen records.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn first_seen(&self, query: FirstSeenQuery) -> Result<Vec<FirstSeen>, P2pError> {
        self.ask(|tx| Command::FirstSeen(query, tx)).await
    }

    /// The addresses this node listens on.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, P2pError> {
        self.ask(Command::ListenAddrs).await
    }

    /// Dials an address.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone; [`P2pError::Dial`]
    /// if the dial could not start.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), P2pError> {
        self.ask(|tx| Command::Dial(addr, tx)).await?
    }

    /// Closes every connection to a peer.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), P2pError> {
        self.send(Command::Disconnect(peer)).await
    }

    /// Disconnects a peer and refuses it for `duration` (operators, and the
    /// testnet's partitions).
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn ban(&self, peer: PeerId, duration: std::time::Duration) -> Result<(), P2pError> {
        self.send(Command::Ban(peer, duration)).await
    }

    /// Lifts a ban.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn unban(&self, peer: PeerId) -> Result<(), P2pError> {
        self.send(Command::Unban(peer)).await
    }

    /// Lifts every ban and redials bootnodes at once (a healed partition).
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn clear_bans(&self) -> Result<(), P2pError> {
        self.send(Command::ClearBans).await
    }

    /// Banned peers and the time left on each ban.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn bans(&self) -> Result<Vec<(PeerId, std::time::Duration)>, P2pError> {
        self.ask(Command::Bans).await
    }

    /// libp2p's metrics (gossipsub, connections) in OpenMetrics text.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if the event loop is gone.
    pub async fn metrics_text(&self) -> Result<String, P2pError> {
        self.ask(Command::Metrics).await
    }

    /// Stops the event loop and closes every connection.
    ///
    /// # Errors
    /// [`P2pError::Stopped`] if it was already gone.
    pub async fn shutdown(&self) -> Result<(), P2pError> {
        self.ask(Command::Shutdown).await
    }
}
