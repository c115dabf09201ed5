//! [`Shutdown`]: one signal that every part of the node waits on. A signal
//! handler, the RPC `stop` method, or a fatal store error triggers it; the
//! first reason wins.

use std::sync::Arc;

use tokio::sync::watch;

/// Why the node stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A signal or `stop` asked for it.
    Requested(&'static str),
    /// The node cannot go on safely (a store failure); exit non-zero.
    Fatal(String),
}

/// A cloneable shutdown trigger and waiter.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<Option<StopReason>>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Not triggered yet.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// Triggers shutdown (no effect if already triggered).
    pub fn trigger(&self, reason: StopReason) {
        self.tx.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, if triggered.
    pub fn reason(&self) -> Option<StopReason> {
        self.tx.borrow().clone()
    }

    /// Waits until triggered and returns the reason.
    pub async fn wait(&self) -> StopReason {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                return StopReason::Requested("dropped");
            }
        }
    }
}
