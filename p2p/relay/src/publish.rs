//! [`Publisher`]: how a newly accepted object is spread, per relay mode.
//! Each object is published once, when the node first accepts it (the SIR
//! "removed" rule is kept by the seen-set, which never hands it over twice).
//!
//! - `push`: the body itself, at once (gossipsub floods it onward).
//! - `announce`: the id, in one message with every other object accepted
//!   since the driver last had nothing to do. At low rates that is one id
//!   per message and no delay; under load the batches grow with the
//!   backlog, so the per-message cost stays bounded (an adaptive window).
//! - `batch`: the ids accepted during a fixed window, in one message.
//! - `hybrid`: announced as in `batch` (the lazy path, needed only where
//!   a push did not come, so its ids wait for the window and share
//!   messages); the eager push to the tree's peers is the relay's
//!   ([`crate::EagerTrees`]).
//!
//! Blocks are announced at once in every mode: they are rare and their
//! latency matters most.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rumor_chain::{Inv, ObjectKind};

use crate::MAX_INVS_PER_MESSAGE;
use crate::action::Publication;
use crate::config::RelayMode;

/// Pending announcements and the rule for sending them.
#[derive(Debug)]
pub struct Publisher {
    mode: RelayMode,
    window: Duration,
    pending: Vec<Inv>,
    since: Option<Instant>,
}

impl Publisher {
    /// A publisher for `mode`; `window` is batch mode's.
    pub fn new(mode: RelayMode, window: Duration) -> Self {
        Self {
            mode,
            window,
            pending: Vec::new(),
            since: None,
        }
    }

    /// The relay mode.
    pub fn mode(&self) -> RelayMode {
        self.mode
    }

    /// The node accepted `inv` (with body `bytes`): what to publish now.
    pub fn accepted(&mut self, inv: Inv, bytes: &Bytes, now: Instant) -> Option<Publication> {
        match (self.mode, inv.kind()) {
            (RelayMode::Push, _) => Some(Publication::Push {
                inv,
                bytes: bytes.clone(),
            }),
            (_, ObjectKind::Block) => Some(Publication::Announce {
                kind: ObjectKind::Block,
                invs: vec![inv],
            }),
            (_, ObjectKind::Tx) => {
                self.pending.push(inv);
                self.since.get_or_insert(now);
                (self.pending.len() >= MAX_INVS_PER_MESSAGE).then(|| self.take())
            }
        }
    }

    /// What to publish now that the driver is idle (announce mode) or the
    /// window may have passed (batch mode).
    pub fn flush(&mut self, now: Instant) -> Option<Publication> {
        let due = match (self.mode, self.since) {
            (_, None) | (RelayMode::Push, _) => false,
            (RelayMode::Announce, Some(_)) => true,
            (RelayMode::Batch | RelayMode::Hybrid, Some(since)) => now >= since + self.window,
        };
        due.then(|| self.take())
    }

    /// When batch mode's window ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.mode {
            RelayMode::Batch | RelayMode::Hybrid => self.since.map(|s| s + self.window),
            _ => None,
        }
    }

    /// Whether announcements wait.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn take(&mut self) -> Publication {
        self.since = None;
        Publication::Announce {
            kind: ObjectKind::Tx,
            invs: std::mem::take(&mut self.pending),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::{BlockHash, Txid};

    fn tx(i: u8) -> Inv {
        Inv::Tx(Txid([i; 32]))
    }

    fn announced(p: Option<Publication>) -> Vec<Inv> {
        match p {
            Some(Publication::Announce { invs, .. }) => invs,
            other => panic!("expected an announcement, got {other:?}"),
        }
    }

    #[test]
    fn announce_mode_sends_what_came_since_it_was_last_idle() {
        let mut p = Publisher::new(RelayMode::Announce, Duration::from_millis(25));
        let t = Instant::now();
        let body = Bytes::from_static(b"x");
        assert_eq!(p.flush(t), None);
        assert_eq!(p.accepted(tx(1), &body, t), None);
        assert_eq!(p.accepted(tx(2), &body, t), None);
        assert_eq!(announced(p.flush(t)), vec![tx(1), tx(2)]);
        assert_eq!(p.flush(t), None);
        // A block goes at once.
        let b = Inv::Block(BlockHash([3; 32]));
        assert_eq!(announced(p.accepted(b, &body, t)), vec![b]);
    }

    #[test]
    fn batch_mode_waits_for_its_window_and_a_full_batch_goes_at_once() {
        let w = Duration::from_millis(25);
        let mut p = Publisher::new(RelayMode::Batch, w);
        let t = Instant::now();
        let body = Bytes::from_static(b"x");
        p.accepted(tx(1), &body, t);
        assert_eq!(p.flush(t + w / 2), None);
        assert_eq!(p.next_deadline(), Some(t + w));
        assert_eq!(announced(p.flush(t + w)), vec![tx(1)]);
        let mut sent = None;
        for i in 0..MAX_INVS_PER_MESSAGE {
            let mut id = [0; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            sent = p.accepted(Inv::Tx(Txid(id)), &body, t);
        }
        assert_eq!(announced(sent).len(), MAX_INVS_PER_MESSAGE);
    }

    #[test]
    fn push_mode_sends_the_body() {
        let mut p = Publisher::new(RelayMode::Push, Duration::ZERO);
        let body = Bytes::from_static(b"tx");
        assert_eq!(
            p.accepted(tx(1), &body, Instant::now()),
            Some(Publication::Push {
                inv: tx(1),
                bytes: body
            })
        );
    }
}
