//! [`CatchUp`]: headers-first sync with one peer, for a node that is
//! behind (a late joiner, a restart, the losing side of a partition).
//!
//! The node asks the peer for headers after its locator, checks that they
//! link, carry the network's target (every block of a rumor network has
//! exactly its genesis parameters' target) and meet it, fetches the blocks
//! it lacks a few at a time, and asks for more headers when a full batch
//! came. A session that makes no progress for [`CatchUp::stall`] is
//! dropped; the next anti-entropy round starts another, possibly with
//! another peer.
//!
//! The peer's claim is checked too: the session remembers the tip the peer
//! said it had, and headers that end (a batch short of the maximum) without
//! reaching it are a lie. A peer that lied, or sent headers that break the
//! rules, may not start another session for [`BAR`]: one lying peer cannot
//! drive catch-up round after round.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rumor_chain::{BlockHash, BlockHeader, Inv, Target};

/// Most headers in one answer.
pub const MAX_HEADERS: usize = 2000;
/// Blocks requested at once.
const BLOCK_BATCH: usize = 16;
/// How long a peer whose headers broke the rules or fell short of its claim
/// may not lead a session.
pub const BAR: Duration = Duration::from_secs(300);
/// Peers barred at once at most (the oldest bar is dropped first).
const MAX_BARRED: usize = 64;

/// What a batch of headers is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headers {
    /// Not from the peer of the session (or no session): ignored.
    Ignored,
    /// Too many, not linked, or without proof of work: the session ends and
    /// the peer is at fault.
    Malformed,
    /// A header carries another target than the network's: the session
    /// ends and the peer is at fault.
    WrongTarget,
    /// The headers ended without reaching the tip the peer claimed: the
    /// session ends and the peer is at fault.
    ShortOfClaim,
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
    /// The tip the peer claimed, and whether a header of it came.
    claimed: Option<BlockHash>,
    reached: bool,
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
    target: Option<Target>,
    barred: VecDeque<(P, Instant)>,
}

impl<P: Copy + Eq> CatchUp<P> {
    /// No session; a session without progress for `stall` is dropped.
    /// `target` is the network's block target, which every header must
    /// carry (`None`: each header only has to meet its own).
    pub fn new(stall: Duration, target: Option<Target>) -> Self {
        Self {
            session: None,
            stall,
            target,
            barred: VecDeque::new(),
        }
    }

    /// Whether `peer` may not lead a session now (it lied recently).
    pub fn is_barred(&self, peer: &P, now: Instant) -> bool {
        self.barred
            .iter()
            .any(|(p, until)| p == peer && now < *until)
    }

    fn bar(&mut self, peer: P, now: Instant) {
        self.barred.retain(|(p, until)| *p != peer && now < *until);
        if self.barred.len() >= MAX_BARRED {
            self.barred.pop_front();
        }
        self.barred.push_back((peer, now + BAR));
    }

    /// The session's peer.
    pub fn peer(&self) -> Option<P> {
        self.session.as_ref().map(|s| s.peer)
    }

    /// How long a session may go without progress.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    /// Starts a session with `peer`, which claimed the tip `claimed`,
    /// unless one runs or the peer is barred. Returns whether it started:
    /// then send a headers request with the node's locator.
    pub fn start(&mut self, peer: P, claimed: Option<BlockHash>, now: Instant) -> bool {
        if self.session.is_some() || self.is_barred(&peer, now) {
            return false;
        }
        self.session = Some(Session {
            peer,
            claimed,
            reached: false,
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
        let ruled = self
            .target
            .is_none_or(|t| headers.iter().all(|h| h.target == t));
        let ours = self.session.as_ref().is_some_and(|s| s.peer == peer);
        let verdict = if headers.len() > MAX_HEADERS || !linked || !worked {
            Some(Headers::Malformed)
        } else if !ruled {
            Some(Headers::WrongTarget)
        } else {
            None
        };
        if let Some(v) = verdict {
            if ours {
                self.session = None;
                self.bar(peer, now);
            }
            return v;
        }
        let Some(s) = self.session.as_mut().filter(|_| ours) else {
            return Headers::Ignored;
        };
        if let Some(claimed) = s.claimed {
            s.reached |= headers.iter().any(|h| h.hash() == claimed);
            // A batch short of the maximum is the end of the peer's chain:
            // its claimed tip must have come by now.
            if headers.len() < MAX_HEADERS && !s.reached {
                self.session = None;
                self.bar(peer, now);
                return Headers::ShortOfClaim;
            }
        }
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
        let mut c = CatchUp::new(Duration::from_secs(15), None);
        let t = Instant::now();
        assert!(c.start(1u32, None, t));
        assert!(!c.start(2, None, t), "one session at a time");
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
        let mut c = CatchUp::new(Duration::from_secs(15), None);
        let t = Instant::now();
        c.start(1u32, None, t);
        let mut hs = chain(3);
        hs.swap(0, 1);
        assert_eq!(c.headers(1, &hs, t), Headers::Malformed);
        assert_eq!(c.peer(), None);
        assert!(
            !c.start(1, None, t),
            "a peer that sent bad headers is barred"
        );
        assert!(c.start(1, None, t + BAR), "for a while");
        c.peer_gone(&1);
        c.start(2, None, t);
        assert!(!c.check_stall(t + Duration::from_secs(15)));
        assert!(c.check_stall(t + Duration::from_secs(16)));
        c.start(2, None, t);
        let Headers::Blocks(b) = c.headers(2, &chain(2), t) else {
            panic!()
        };
        c.unknown(2, b.clone());
        assert!(c.failed(&b[0]));
        assert_eq!(c.peer(), None);
    }

    #[test]
    fn headers_must_carry_the_networks_target() {
        let p = Params::new(Network::Regtest)
            .with_genesis_outputs(1)
            .unwrap();
        let t = Instant::now();
        // Headers at an easier target meet it, but not the network's rule.
        let mut easy = chain(3);
        let mut prev = easy[0].prev;
        for h in &mut easy {
            h.prev = prev;
            h.target = Target([0xff; 32]);
            prev = h.hash();
        }
        let mut c = CatchUp::new(Duration::from_secs(15), Some(p.target));
        c.start(1u32, None, t);
        assert_eq!(c.headers(1, &easy, t), Headers::WrongTarget);
        assert_eq!(c.peer(), None);
        assert!(c.is_barred(&1, t));
        // Without a rule (a relay with no network), they pass.
        let mut c = CatchUp::new(Duration::from_secs(15), None);
        c.start(1u32, None, t);
        assert!(matches!(c.headers(1, &easy, t), Headers::Blocks(_)));
        // The network's own headers pass with the rule.
        let mut c = CatchUp::new(Duration::from_secs(15), Some(p.target));
        c.start(1u32, None, t);
        assert!(matches!(c.headers(1, &chain(3), t), Headers::Blocks(_)));
    }

    #[test]
    fn headers_that_end_short_of_the_claimed_tip_are_a_lie() {
        let t = Instant::now();
        let hs = chain(10);
        let mut c = CatchUp::new(Duration::from_secs(15), None);
        // The peer claimed a tip its headers never reach.
        assert!(c.start(1u32, Some(BlockHash([7; 32])), t));
        assert_eq!(c.headers(1, &hs, t), Headers::ShortOfClaim);
        assert_eq!(c.peer(), None);
        assert!(!c.start(1, Some(BlockHash([7; 32])), t), "barred");
        assert!(c.start(2, Some(hs[9].hash()), t), "others are not");
        // Claimed and delivered: fine, also when the tip came in the middle.
        assert!(matches!(c.headers(2, &hs, t), Headers::Blocks(_)));
        c.peer_gone(&2);
        c.start(3, Some(hs[4].hash()), t);
        assert!(matches!(c.headers(3, &hs, t), Headers::Blocks(_)));
        // An empty answer to a claim of more work is a lie too.
        c.peer_gone(&3);
        c.start(4, Some(hs[4].hash()), t);
        assert_eq!(c.headers(4, &[], t), Headers::ShortOfClaim);
    }

    #[test]
    fn a_full_batch_of_headers_asks_for_more() {
        let mut c = CatchUp::new(Duration::from_secs(15), None);
        let t = Instant::now();
        c.start(1u32, None, t);
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
