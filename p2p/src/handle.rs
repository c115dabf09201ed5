//! [`P2pHandle`]: the cloneable handle through which the node talks to the
//! event loop, and the [`P2pEvent`]s it reads back.

use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::telemetry::{FirstSeen, RelayStats, Via};
use crate::wire::Inv;

/// Commands to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Announce(Vec<Inv>),
    Stats(oneshot::Sender<RelayStats>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    FirstSeen(FirstSeenQuery, oneshot::Sender<Vec<FirstSeen>>),
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Dial(Multiaddr, oneshot::Sender<Result<(), String>>),
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

/// Something the node may want to know.
#[derive(Debug, Clone, PartialEq)]
pub enum P2pEvent {
    /// A peer connected.
    PeerUp(PeerId),
    /// A peer's last connection closed.
    PeerDown(PeerId),
    /// A peer was disconnected and banned for misbehaviour.
    PeerBanned(PeerId),
    /// An object from the network was accepted.
    Accepted {
        /// The object.
        inv: Inv,
        /// How it came.
        via: Via,
    },
}

/// The p2p layer is shut down or its command queue is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the p2p event loop is not running")]
pub struct Stopped;

/// A cloneable handle to the p2p event loop. Commands go through a bounded
/// queue; calls wait for room (backpressure) rather than dropping.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) peer_id: PeerId,
}

impl P2pHandle {
    /// This node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Announces objects the node accepted by a path other than the network
    /// (RPC, miner, orphans it adopted). Each object is announced at most once.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn announce(&self, invs: Vec<Inv>) -> Result<(), Stopped> {
        if invs.is_empty() {
            return Ok(());
        }
        self.tx
            .send(Command::Announce(invs))
            .await
            .map_err(|_| Stopped)
    }

    /// The relay counters.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn stats(&self) -> Result<RelayStats, Stopped> {
        self.ask(Command::Stats).await
    }

    /// The connected peers.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Stopped> {
        self.ask(Command::Peers).await
    }

    /// First-seen records.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn first_seen(&self, query: FirstSeenQuery) -> Result<Vec<FirstSeen>, Stopped> {
        self.ask(|tx| Command::FirstSeen(query, tx)).await
    }

    /// The addresses this node listens on.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, Stopped> {
        self.ask(Command::ListenAddrs).await
    }

    /// Dials an address.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone; the inner error if the dial
    /// could not start.
    pub async fn dial(&self, addr: Multiaddr) -> Result<Result<(), String>, Stopped> {
        self.ask(|tx| Command::Dial(addr, tx)).await
    }

    /// Closes every connection to a peer.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn disconnect(&self, peer: PeerId) -> Result<(), Stopped> {
        self.tx
            .send(Command::Disconnect(peer))
            .await
            .map_err(|_| Stopped)
    }

    /// Disconnects a peer and refuses it for `duration` (operators, and the
    /// testnet's partitions).
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn ban(&self, peer: PeerId, duration: std::time::Duration) -> Result<(), Stopped> {
        self.tx
            .send(Command::Ban(peer, duration))
            .await
            .map_err(|_| Stopped)
    }

    /// Lifts a ban.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn unban(&self, peer: PeerId) -> Result<(), Stopped> {
        self.tx
            .send(Command::Unban(peer))
            .await
            .map_err(|_| Stopped)
    }

    /// Lifts every ban and redials bootnodes at once (a healed partition).
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn clear_bans(&self) -> Result<(), Stopped> {
        self.tx.send(Command::ClearBans).await.map_err(|_| Stopped)
    }

    /// Banned peers and the time left on each ban.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn bans(&self) -> Result<Vec<(PeerId, std::time::Duration)>, Stopped> {
        self.ask(Command::Bans).await
    }

    /// libp2p's metrics (gossipsub, connections) in OpenMetrics text.
    ///
    /// # Errors
    /// [`Stopped`] if the event loop is gone.
    pub async fn metrics_text(&self) -> Result<String, Stopped> {
        self.ask(Command::Metrics).await
    }

    /// Stops the event loop and closes every connection.
    ///
    /// # Errors
    /// [`Stopped`] if it was already gone.
    pub async fn shutdown(&self) -> Result<(), Stopped> {
        self.ask(Command::Shutdown).await
    }
}
