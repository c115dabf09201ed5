//! [`CatchUp`]: headers-first sync with one peer, for a node that is
//! behind (a late joiner, a restart, the losing side of a partition).
//!
//! The node asks the peer for headers after its locator, checks that they
//! link and carry their proof of work, fetches the blocks it lacks a few at
//! a time, and asks for more headers when a full batch came. A session that
//! makes no progress for [`CatchUp::stall`] is dropped; the next anti-entropy
//! round starts another, possibly with another peer.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rumor_chain::{BlockHash, BlockHeader, Inv};

/// Most headers in one answer.
pub const MAX_HEADERS: usize = 2000;
/// Blocks requested at once.
const BLOCK_BATCH: usize = 16;

/// What a batch of headers is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headers {
    /// Not from the peer of the session (or no session): ignored.
    Ignored,
    /// Too many, not linked, or without proof of work: the session ends and
    /// the peer is at fault.
    Malformed,
    /// Good: find out which of these blocks the node lacks.
    Blocks(Vec<Inv>),
}

/// What to do next in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Fetch these blocks from the session's peer.
    Fetch(Vec<Inv>),
    /// Ask for more headers after this block (and the node's locator).
    MoreHeaders(BlockHash),
    /// Waiting for blocks or headers.
    Wait,
    /// The session is over.
    Done,
}

#[derive(Debug)]
struct Session<P> {
    peer: P,
    queue: VecDeque<Inv>,
    outstanding: HashSet<Inv>,
    more: Option<BlockHash>,
    awaiting_headers: bool,
    updated: Instant,
}

/// The catch-up session, if one runs.
#[derive(Debug)]
pub struct CatchUp<P> {
    session: Option<Session<P>>,
    stall: Duration,
}

impl<P: Copy + Eq> CatchUp<P> {
    /// No session; a session without progress for `stall` is dropped.
    pub fn new(stall: Duration) -> Self {
        Self {
            session: None,
            stall,
        }
    }

    /// The session's peer.
    pub fn peer(&self) -> Option<P> {
        self.session.as_ref().map(|s| s.peer)
    }

    /// How long a session may go without progress.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    /// Starts a session with `peer` unless one runs. Returns whether it
    /// started: then send a headers request with the node's locator.
    pub fn start(&mut self, peer: P, now: Instant) -> bool {
        if self.session.is_some() {
            return false;
        }
        self.session = Some(Session {
            peer,
            queue: VecDeque::new(),
            outstanding: HashSet::new(),
            more: None,
            awaiting_headers: true,
            updated: now,
        });
        true
    }

    /// Headers arrived from `peer`.
    pub fn headers(&mut self, peer: P, headers: &[BlockHeader], now: Instant) -> Headers {
        let linked = headers.windows(2).all(|w| w[1].prev == w[0].hash());
        let worked = headers.iter().all(BlockHeader::meets_target);
        let ours = self.session.as_ref().is_some_and(|s| s.peer == peer);
        if headers.len() > MAX_HEADERS || !linked || !worked {
            if ours {
                self.session = None;
            }
            return Headers::Malformed;
        }
        let Some(s) = self.session.as_mut().filter(|_| ours) else {
            return Headers::Ignored;
        };
        s.updated = now;
        s.more = (headers.len() >= MAX_HEADERS)
            .then(|| headers.last().map(BlockHeader::hash))
            .flatten();
        Headers::Blocks(headers.iter().map(|h| Inv::Block(h.hash())).collect())
    }

    /// The blocks of the last headers the node lacks.
    pub fn unknown(&mut self, peer: P, blocks: Vec<Inv>) -> Step {
        match self.session.as_mut() {
            Some(s) if s.peer == peer => {
                s.awaiting_headers = false;
                s.queue.extend(blocks);
                self.next_step()
            }
            _ => Step::Wait,
        }
    }

    /// A block the session waited for arrived (accepted or already known).
    /// Returns the next step, or `None` if the session did not wait for it.
    pub fn progress(&mut self, inv: &Inv, now: Instant) -> Option<Step> {
        let s = self.session.as_mut()?;
        if !s.outstanding.remove(inv) {
            return None;
        }
        s.updated = now;
        Some(self.next_step())
    }

    /// A block the session waited for could not be had (given up, or
    /// invalid): the session ends.
    pub fn failed(&mut self, inv: &Inv) -> bool {
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.outstanding.contains(inv))
        {
            self.session = None;
            return true;
        }
        false
    }

    /// The next step: more blocks, more headers, or the end.
    pub fn next_step(&mut self) -> Step {
        let Some(s) = self.session.as_mut() else {
            return Step::Done;
        };
        if !s.outstanding.is_empty() || s.awaiting_headers {
            return Step::Wait;
        }
        let batch: Vec<Inv> = (0..BLOCK_BATCH)
            .map_while(|_| s.queue.pop_front())
            .collect();
        if !batch.is_empty() {
            s.outstanding.extend(batch.iter().copied());
            return Step::Fetch(batch);
        }
        match s.more.take() {
            Some(last) => {
                s.awaiting_headers = true;
                Step::MoreHeaders(last)
            }
            None => {
                self.session = None;
                Step::Done
            }
        }
    }

    /// `peer` went away, or its headers request failed: its session ends.
    pub fn peer_gone(&mut self, peer: &P) {
        if self.session.as_ref().is_some_and(|s| s.peer == *peer) {
            self.session = None;
        }
    }

    /// Drops a session without progress for too long. Returns whether it did.
    pub fn check_stall(&mut self, now: Instant) -> bool {
        if self
            .session
            .as_ref()
            .is_some_and(|s| now.saturating_duration_since(s.updated) > self.stall)
        {
            self.session = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::{Network, Params};

    fn chain(n: usize) -> Vec<BlockHeader> {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(1)
            .unwrap();
        let mut prev = p.genesis_block().header;
        let mut out = Vec::new();
        for i in 0..n {
            let mut h = prev;
            h.prev = prev.hash();
            h.time += 1;
            h.nonce = i as u64;
            while !h.meets_target() {
                h.nonce += 1 << 32;
            }
            out.push(h);
            prev = h;
        }
        out
    }

    #[test]
    fn a_session_fetches_its_blocks_in_batches_and_ends() {
        let mut c = CatchUp::new(Duration::from_secs(15));
        let t = Instant::now();
        assert!(c.start(1u32, t));
        assert!(!c.start(2, t), "one session at a time");
        let hs = chain(20);
        assert_eq!(c.headers(2, &hs, t), Headers::Ignored);
        let Headers::Blocks(blocks) = c.headers(1, &hs, t) else {
            panic!("good headers");
        };
        let Step::Fetch(first) = c.unknown(1, blocks[1..].to_vec()) else {
            panic!("blocks to fetch");
        };
        assert_eq!(first.len(), BLOCK_BATCH);
        assert_eq!(c.next_step(), Step::Wait);
        for (i, inv) in first.iter().enumerate() {
            let step = c.progress(inv, t).expect("waited for");
            if i + 1 < first.len() {
                assert_eq!(step, Step::Wait);
            } else {
                assert_eq!(step, Step::Fetch(blocks[1 + BLOCK_BATCH..].to_vec()));
            }
        }
        assert_eq!(
            c.progress(&blocks[0], t),
            None,
            "not fetched by the session"
        );
        for inv in &blocks[1 + BLOCK_BATCH..] {
            c.progress(inv, t);
        }
        assert_eq!(c.peer(), None, "done");
    }

    #[test]
    fn bad_headers_and_stalls_end_the_session() {
        let mut c = CatchUp::new(Duration::from_secs(15));
        let t = Instant::now();
        c.start(1u32, t);
        let mut hs = chain(3);
        hs.swap(0, 1);
        assert_eq!(c.headers(1, &hs, t), Headers::Malformed);
        assert_eq!(c.peer(), None);
        c.start(1, t);
        assert!(!c.check_stall(t + Duration::from_secs(15)));
        assert!(c.check_stall(t + Duration::from_secs(16)));
        c.start(1, t);
        let Headers::Blocks(b) = c.headers(1, &chain(2), t) else {
            panic!()
        };
        c.unknown(1, b.clone());
        assert!(c.failed(&b[0]));
        assert_eq!(c.peer(), None);
    }

    #[test]
    fn a_full_batch_of_headers_asks_for_more() {
        let mut c = CatchUp::new(Duration::from_secs(15));
        let t = Instant::now();
        c.start(1u32, t);
        let hs = chain(MAX_HEADERS);
        let Headers::Blocks(_) = c.headers(1, &hs, t) else {
            panic!()
        };
        // The node already has them all.
        assert_eq!(
            c.unknown(1, vec![]),
            Step::MoreHeaders(hs[MAX_HEADERS - 1].hash())
        );
        assert_eq!(c.next_step(), Step::Wait, "waiting for the headers");
    }
}
