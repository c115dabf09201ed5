//! [`Backlog`]: how much the relay has on its plate, for the node's
//! admission control. The event loop writes it after every event; the node
//! reads it without asking the loop, which is exactly what is busy when the
//! answer matters.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// The relay's backlog, shared between the loop (the writer) and readers.
#[derive(Debug, Default)]
pub struct Backlog {
    tracked: AtomicUsize,
    validating: AtomicUsize,
}

/// A reading of [`Backlog`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacklogReading {
    /// Objects announced to this node and not yet received: being fetched,
    /// or waiting for a request slot.
    pub tracked: usize,
    /// Bodies received and handed to the node, whose verdict has not come.
    pub validating: usize,
}

impl Backlog {
    pub(crate) fn set(&self, reading: BacklogReading) {
        self.tracked.store(reading.tracked, Ordering::Relaxed);
        self.validating.store(reading.validating, Ordering::Relaxed);
    }

    /// The latest reading.
    pub fn get(&self) -> BacklogReading {
        BacklogReading {
            tracked: self.tracked.load(Ordering::Relaxed),
            validating: self.validating.load(Ordering::Relaxed),
        }
    }
}
