//! A bucketed calendar queue for integer-millisecond events.
//!
//! Every event is scheduled at most `horizon` ms ahead (the largest link delay or
//! heartbeat), so a ring of `horizon + 1` buckets, one per millisecond, holds them all.
//! Scheduling and popping are O(1); events due at the same millisecond come out in the
//! order they were scheduled, which keeps runs deterministic.

/// The calendar queue.
#[derive(Debug)]
pub(crate) struct Calendar<E> {
    buckets: Vec<Vec<E>>,
    now: u64,
    pending: usize,
}

impl<E> Calendar<E> {
    /// An empty queue for events at most `horizon` ms ahead of the current time.
    pub(crate) fn new(horizon: u32) -> Calendar<E> {
        let len = horizon as usize + 1;
        let mut buckets = Vec::with_capacity(len);
        buckets.resize_with(len, Vec::new);
        Calendar {
            buckets,
            now: 0,
            pending: 0,
        }
    }

    /// Schedules `event` at time `at`, which must be within `now..=now + horizon`.
    pub(crate) fn schedule(&mut self, at: u64, event: E) {
        let len = self.buckets.len() as u64;
        assert!(
            at >= self.now && at - self.now < len,
            "event at {at} outside the calendar window starting at {}",
            self.now
        );
        self.buckets[(at % len) as usize].push(event);
        self.pending += 1;
    }

    /// Removes and returns every event of the earliest non-empty millisecond, with
    /// that time, or `None` when the queue is empty. Events scheduled for the returned
    /// time while handling the batch come out in the next call.
    pub(crate) fn next_batch(&mut self, reuse: Vec<E>) -> Option<(u64, Vec<E>)> {
        if self.pending == 0 {
            return None;
        }
        let len = self.buckets.len() as u64;
        while self.buckets[(self.now % len) as usize].is_empty() {
            self.now += 1;
        }
        let slot = &mut self.buckets[(self.now % len) as usize];
        let batch = std::mem::replace(slot, reuse);
        self.pending -= batch.len();
        Some((self.now, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_and_fifo_within_a_time() {
        let mut q = Calendar::new(10);
        q.schedule(5, 'b');
        q.schedule(3, 'a');
        q.schedule(5, 'c');
        q.schedule(10, 'd');
        let mut out = Vec::new();
        let mut spare = Vec::new();
        while let Some((t, mut batch)) = q.next_batch(spare) {
            for e in batch.drain(..) {
                out.push((t, e));
                if e == 'a' {
                    // same-time and wrap-around scheduling while handling
                    q.schedule(3, 'z');
                    q.schedule(13, 'w');
                }
            }
            spare = batch;
        }
        assert_eq!(
            out,
            vec![(3, 'a'), (3, 'z'), (5, 'b'), (5, 'c'), (10, 'd'), (13, 'w')]
        );
    }
}
