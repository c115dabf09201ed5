//! Admission control: whether the node takes a client's transactions now.
//!
//! Nothing the node accepts may be lost, at any load, so it refuses at the
//! edge rather than drop inside. A transaction submitted over RPC is
//! refused with −28 "node busy, retry" ([`Busy`]) while any of these holds:
//! - **late**: the validation thread's latest batch had waited longer than
//!   [`Limits::max_wait`] (its oldest item, a client's or a peer's): the
//!   node is not keeping up with what it already has;
//! - **queue full**: [`Limits::max_queued`] client submissions wait;
//! - **relay behind**: more than [`Limits::max_relay_backlog`] objects
//!   announced to this node wait to be fetched or judged.
//!
//! Waiting time, not queue length, is the main signal: the same queue
//! drains at very different rates on different machines, loads and object
//! mixes, while the time work waits is what latency is made of (CoDel's
//! reasoning, Nichols and Jacobson 2012). The late flag has hysteresis: it
//! is raised above `max_wait` and lowered only below half of it, so
//! admission does not flap from batch to batch.
//!
//! Every node validates every transaction, so when one node is late its
//! peers are too, and each refuses its own clients: the whole network's
//! intake falls to what it can carry, and what it accepted still reaches
//! every node. Blocks and peers' objects are never refused here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rumor_p2p::BacklogReading;

/// The bounds past which clients are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest work may wait for validation before the node is late.
    pub max_wait: Duration,
    /// Client submissions queued at most.
    pub max_queued: usize,
    /// Objects announced to this node and not yet judged, at most.
    pub max_relay_backlog: usize,
}

impl Default for Limits {
    /// 200 ms of waiting is already most of a hop's budget on loopback; the
    /// relay backlog allows about a second of a busy network's traffic.
    fn default() -> Self {
        Self {
            max_wait: Duration::from_millis(200),
            max_queued: 8_192,
            max_relay_backlog: 4_096,
        }
    }
}

/// Why the node refused a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Work waited longer than the bound before validation.
    #[error("node busy, retry: validation is {waited_ms} ms behind")]
    Late {
        /// How long the latest batch's oldest item had waited.
        waited_ms: u64,
    },
    /// Too many client submissions queued.
    #[error("node busy, retry: {queued} submissions queued")]
    QueueFull {
        /// How many.
        queued: usize,
    },
    /// The relay has too much announced to it still to fetch or judge.
    #[error("node busy, retry: {backlog} objects from peers still to fetch or validate")]
    RelayBehind {
        /// How many.
        backlog: usize,
    },
}

impl Busy {
    /// A stable label (metrics, RPC error data).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Late { .. } => "validation-late",
            Self::QueueFull { .. } => "queue-full",
            Self::RelayBehind { .. } => "relay-behind",
        }
    }
}

/// The validation thread's lateness: written by that thread after it takes
/// each batch, read by whoever admits clients.
#[derive(Debug, Default)]
pub(crate) struct Lateness {
    late: AtomicBool,
    waited_ms: AtomicU64,
}

impl Lateness {
    /// The oldest item of the batch just taken had waited `waited`.
    pub(crate) fn observe(&self, waited: Duration, limits: &Limits) {
        self.waited_ms
            .store(waited.as_millis() as u64, Ordering::Relaxed);
        if waited > limits.max_wait {
            self.late.store(true, Ordering::Relaxed);
        } else if waited < limits.max_wait / 2 {
            self.late.store(false, Ordering::Relaxed);
        }
    }

    /// `Some(waited)` while late.
    pub(crate) fn late(&self) -> Option<Duration> {
        self.late
            .load(Ordering::Relaxed)
            .then(|| Duration::from_millis(self.waited_ms.load(Ordering::Relaxed)))
    }
}

/// Everything admission looks at, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// `Some(waited)` while the validation thread is late.
    pub late: Option<Duration>,
    /// Client submissions queued.
    pub queued: usize,
    /// The relay's backlog.
    pub relay: BacklogReading,
}

/// Whether `n` more client submissions are admitted under `load`.
///
/// # Errors
/// [`Busy`], naming the first bound passed.
pub(crate) fn admit(load: &Load, n: usize, limits: &Limits) -> Result<(), Busy> {
    if let Some(waited) = load.late {
        return Err(Busy::Late {
            waited_ms: waited.as_millis() as u64,
        });
    }
    if load.queued + n > limits.max_queued {
        return Err(Busy::QueueFull {
            queued: load.queued,
        });
    }
    let backlog = load.relay.tracked + load.relay.validating;
    if backlog > limits.max_relay_backlog {
        return Err(Busy::RelayBehind { backlog });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle() -> Load {
        Load {
            late: None,
            queued: 0,
            relay: BacklogReading::default(),
        }
    }

    #[test]
    fn an_idle_node_admits_up_to_the_queue_bound() {
        let l = Limits::default();
        assert_eq!(admit(&idle(), l.max_queued, &l), Ok(()));
        assert_eq!(
            admit(&idle(), l.max_queued + 1, &l),
            Err(Busy::QueueFull { queued: 0 })
        );
    }

    #[test]
    fn each_bound_refuses_with_its_own_reason() {
        let l = Limits::default();
        let late = Load {
            late: Some(Duration::from_millis(350)),
            ..idle()
        };
        assert_eq!(admit(&late, 1, &l), Err(Busy::Late { waited_ms: 350 }));
        let behind = Load {
            relay: BacklogReading {
                tracked: l.max_relay_backlog,
                validating: 1,
            },
            ..idle()
        };
        assert_eq!(
            admit(&behind, 1, &l),
            Err(Busy::RelayBehind {
                backlog: l.max_relay_backlog + 1
            })
        );
        let full = Load {
            queued: l.max_queued,
            ..idle()
        };
        assert_eq!(
            admit(&full, 1, &l),
            Err(Busy::QueueFull {
                queued: l.max_queued
            })
        );
    }

    #[test]
    fn lateness_is_raised_above_the_bound_and_lowered_below_half_of_it() {
        let l = Limits::default();
        let t = Lateness::default();
        t.observe(l.max_wait, &l);
        assert_eq!(t.late(), None, "at the bound is not late");
        t.observe(l.max_wait + Duration::from_millis(1), &l);
        assert_eq!(t.late(), Some(l.max_wait + Duration::from_millis(1)));
        // Between half and the bound: still late (hysteresis), and the
        // reading follows the latest wait.
        t.observe(l.max_wait * 3 / 4, &l);
        assert_eq!(t.late(), Some(l.max_wait * 3 / 4));
        t.observe(l.max_wait / 2 - Duration::from_millis(1), &l);
        assert_eq!(t.late(), None);
    }
}
