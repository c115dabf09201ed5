//! [`NodeCore`]: the node's chain state and mempool (one
//! [`rumor_chain::NodeState`] over the redb store) behind one short-held
//! lock, and a lock-free reader of the store.
//!
//! - `write`: the write path: a batch of objects through rumor-chain's
//!   acceptance pipeline, holding the lock only to screen and to commit;
//!   and block templates for the miner.
//! - `read`: the read model: what RPC shows, and what the p2p layer asks.
//!
//! A store failure while committing stops the node: the state is dropped,
//! every later call fails with [`CoreError::Stopped`], and [`Shutdown`] is
//! triggered with [`StopReason::Fatal`]. The store commits atomically per
//! block, so the next start opens a consistent chain.

mod read;
mod write;

use std::sync::{Mutex, MutexGuard};

use rumor_chain::{ChainState, Mempool, MempoolConfig, NodeState, Params};

use crate::shutdown::{Shutdown, StopReason};
use crate::store::{RedbStore, StoreError, StoreReader};

pub use read::{ChainInfo, PoolEntry, PoolSummary, Unspent};
pub use write::Processed;

/// Why a core operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The node is stopping (or stopped after a fatal error).
    #[error("the node is shutting down")]
    Stopped,
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The orphan pool's key for `peer`: the first 8 bytes of the SHA-256 of
/// its PeerId (the chain crate knows nothing of libp2p).
pub(crate) fn peer_source(peer: &rumor_p2p::PeerId) -> rumor_chain::Source {
    let h = rumor_chain::sha256(&peer.to_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&h[..8]);
    rumor_chain::Source(u64::from_le_bytes(key))
}

/// Wall-clock now in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The node's chain state and mempool.
pub struct NodeCore {
    params: Params,
    state: Mutex<Option<NodeState<RedbStore>>>,
    reader: StoreReader,
    shutdown: Shutdown,
}

impl std::fmt::Debug for NodeCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCore").finish_non_exhaustive()
    }
}

impl NodeCore {
    /// Wraps an opened chain state with a fresh mempool.
    pub fn new(chain: ChainState<RedbStore>, mempool: MempoolConfig, shutdown: Shutdown) -> Self {
        let params = chain.params().clone();
        let reader = chain.store().reader();
        Self {
            state: Mutex::new(Some(NodeState::new(
                chain,
                Mempool::new(params.clone(), mempool),
            ))),
            params,
            reader,
            shutdown,
        }
    }

    /// The network parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Lock-free read access to the store.
    pub fn reader(&self) -> &StoreReader {
        &self.reader
    }

    /// The state, or `None` once stopped. A poisoned lock means a panic
    /// (a bug) interrupted a change halfway: the in-memory view may no
    /// longer match the store, so it is dropped and the node stops, to
    /// reopen from the store (which commits atomically).
    fn lock(&self) -> MutexGuard<'_, Option<NodeState<RedbStore>>> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                if guard.is_some() {
                    *guard = None;
                    tracing::error!("a panic interrupted a chain update; stopping the node");
                    self.shutdown.trigger(StopReason::Fatal(
                        "a panic interrupted a chain update".into(),
                    ));
                }
                guard
            }
        }
    }

    fn with_state<T>(
        &self,
        f: impl FnOnce(&mut NodeState<RedbStore>) -> T,
    ) -> Result<T, CoreError> {
        match self.lock().as_mut() {
            Some(s) => Ok(f(s)),
            None => Err(CoreError::Stopped),
        }
    }

    /// Stops everything after a store failure: the state is dropped so that
    /// nothing continues on a diverged view, and the node shuts down.
    fn fatal(&self, state: &mut Option<NodeState<RedbStore>>, error: &dyn std::fmt::Display) {
        tracing::error!(error = %error, "chain store failure; stopping the node");
        *state = None;
        self.shutdown
            .trigger(StopReason::Fatal(format!("chain store failure: {error}")));
    }

    /// Drops the chain state (closing the store) at shutdown.
    pub fn close(&self) {
        *self.lock() = None;
    }
}

#[cfg(test)]
mod tests;
