//! [`EventQueue`]: the relay-driven simulator's calendar, a bucketed
//! calendar queue over nanosecond times that pops in exactly the order of a
//! binary min-heap on (time, tie), the tie a key the caller gives each
//! event (unique, so the order is total and does not depend on the order
//! events were pushed in: events from other threads can be merged in).
//!
//! A run at 10^4 nodes keeps about a million events pending; one binary heap
//! over all of them costs a cache-missing sift of twenty levels per pop.
//! Here pending events sit in a ring of buckets [`BUCKET_NS`] wide, unsorted,
//! and only the bucket being consumed is a heap (a few hundred events).
//! Events further ahead than the ring reaches wait in a heap of their own
//! and move into the ring as time comes near them. Every event in an earlier
//! bucket than another is earlier, so taking the current bucket's minimum
//! is taking the global minimum: the order, and so every simulated result,
//! is the binary heap's.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A bucket's width: 2^16 ns, about 66 µs (a few hundred events each at
/// 10^4 nodes).
const BUCKET_NS: u64 = 1 << 16;
/// Buckets in the ring: 2^16 of them reach 4.3 s ahead, past every link
/// delay, batch window and relay scan; timeouts and the workload's later
/// submissions wait in the far heap.
const RING: u64 = 1 << 16;

/// An event with its time and tie key, ordered so that a [`BinaryHeap`]
/// pops the earliest (equal times: the smallest tie).
#[derive(Debug)]
struct Entry<E> {
    at: u64,
    tie: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.tie) == (other.at, other.tie)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.tie).cmp(&(self.at, self.tie))
    }
}

/// Time-ordered events, by tie key among equal times.
#[derive(Debug)]
pub(crate) struct EventQueue<E> {
    /// Every pending event of bucket `cur` or earlier.
    current: BinaryHeap<Entry<E>>,
    /// Bucket `b` (for `cur < b < cur + RING`) at `ring[b % RING]`.
    ring: Vec<Vec<Entry<E>>>,
    /// Events held in the ring.
    in_ring: usize,
    /// Events at bucket `cur + RING` or later.
    far: BinaryHeap<Entry<E>>,
    cur: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        let mut ring = Vec::with_capacity(RING as usize);
        ring.resize_with(RING as usize, Vec::new);
        Self {
            current: BinaryHeap::new(),
            ring,
            in_ring: 0,
            far: BinaryHeap::new(),
            cur: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at` ns, after every event of the same time
    /// with a smaller `tie`. `at` must not be before the last event popped:
    /// the queue does not reorder the past.
    pub(crate) fn push(&mut self, at: u64, tie: u64, event: E) {
        self.place(Entry { at, tie, event });
    }

    fn place(&mut self, e: Entry<E>) {
        let b = e.at / BUCKET_NS;
        if b <= self.cur {
            self.current.push(e);
        } else if b < self.cur + RING {
            self.ring[(b % RING) as usize].push(e);
            self.in_ring += 1;
        } else {
            self.far.push(e);
        }
    }

    /// The earliest event (the first scheduled among the earliest), with its time.
    pub(crate) fn pop(&mut self) -> Option<(u64, E)> {
        loop {
            if let Some(e) = self.current.pop() {
                return Some((e.at, e.event));
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// When the next event is due.
    pub(crate) fn next_at(&mut self) -> Option<u64> {
        loop {
            if let Some(e) = self.current.peek() {
                return Some(e.at);
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Moves on to the next bucket with events (`current` is empty);
    /// false when nothing is pending.
    fn advance(&mut self) -> bool {
        if self.in_ring == 0 {
            // Nothing in the ring: jump straight to the far heap's first.
            let Some(first) = self.far.peek() else {
                return false;
            };
            self.cur = (first.at / BUCKET_NS).saturating_sub(1);
        }
        self.cur += 1;
        let slot = (self.cur % RING) as usize;
        let bucket = std::mem::take(&mut self.ring[slot]);
        self.in_ring -= bucket.len();
        // The spent heap's allocation is freed, not kept for a later
        // bucket: kept and passed around, every bucket's would grow to the
        // largest (gigabytes at 10^4 nodes, 30,000 buckets being filled).
        self.current = BinaryHeap::from(bucket);
        // The ring now reaches one bucket further.
        while self
            .far
            .peek()
            .is_some_and(|e| e.at / BUCKET_NS < self.cur + RING)
        {
            if let Some(e) = self.far.pop() {
                self.place(e);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{SimRng, mix64};
    use rand::{RngExt, SeedableRng};
    use std::cmp::Reverse;

    /// Against a binary heap on (time, tie), through a run that schedules at
    /// the current time, within a bucket, across the ring and beyond it,
    /// with ties that are not in push order, and peeks in between: the same
    /// events come out in the same order.
    #[test]
    fn pops_exactly_as_a_binary_heap_on_time_then_tie() {
        let mut rng = SimRng::seed_from_u64(7);
        let mut q = EventQueue::default();
        let mut heap = BinaryHeap::new();
        let mut seq = 0u64;
        let mut now = 0u64;
        let mut schedule = |q: &mut EventQueue<u64>, heap: &mut BinaryHeap<_>, at: u64| {
            seq += 1;
            // Unique, and not increasing with the push order.
            let tie = mix64(seq);
            q.push(at, tie, tie);
            heap.push(Reverse((at, tie)));
        };
        for _ in 0..1000 {
            let at = rng.random_range(0..10 * RING * BUCKET_NS);
            schedule(&mut q, &mut heap, at);
        }
        let mut popped = 0;
        while let Some((at, id)) = q.pop() {
            let Some(Reverse((want_at, want_id))) = heap.pop() else {
                panic!("the queue popped {id} after the heap ran out");
            };
            assert_eq!((at, id), (want_at, want_id));
            assert!(at >= now, "time went back from {now} to {at}");
            now = at;
            popped += 1;
            if popped < 20_000 {
                for _ in 0..rng.random_range(0..3) {
                    let ahead = match rng.random_range(0..4) {
                        0 => 0,
                        1 => rng.random_range(0..BUCKET_NS),
                        2 => rng.random_range(0..RING * BUCKET_NS),
                        _ => rng.random_range(0..3 * RING * BUCKET_NS),
                    };
                    schedule(&mut q, &mut heap, now + ahead);
                }
            }
            let peeked = q.next_at();
            assert_eq!(peeked, heap.peek().map(|Reverse((t, _))| *t));
        }
        assert!(heap.is_empty());
        assert!(popped > 20_000);
    }
}
