//! [`DelayLine`]: one direction of one simulated link, as the node's link
//! emulation shapes it (`p2p/src/link.rs`): a message leaves after the ones
//! before it have been serialised at the bandwidth, arrives one delay ±
//! jitter later, and never before the message sent before it.

use rand::RngExt;

use super::params::LinkModel;
use crate::rng::SimRng;

/// One direction of a link; times in ns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DelayLine {
    last_tx_end: u64,
    last_release: u64,
}

impl DelayLine {
    /// When `len` bytes sent at `now` arrive.
    pub(crate) fn release(
        &mut self,
        now: u64,
        len: usize,
        link: &LinkModel,
        rng: &mut SimRng,
    ) -> u64 {
        let start = now.max(self.last_tx_end);
        let serialise = if link.bandwidth_bps > 0 {
            (len as u128 * 8 * 1_000_000_000 / link.bandwidth_bps as u128) as u64
        } else {
            0
        };
        let tx_end = start + serialise;
        let jitter = link.jitter.as_nanos() as i64;
        let offset = if jitter > 0 {
            rng.random_range(-jitter..=jitter)
        } else {
            0
        };
        let delay = (link.delay.as_nanos() as i64 + offset).max(0) as u64;
        let release = (tx_end + delay).max(self.last_release);
        self.last_tx_end = tx_end;
        self.last_release = release;
        release
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::time::Duration;

    #[test]
    fn bandwidth_serialises_and_order_is_kept() {
        let link = LinkModel {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            bandwidth_bps: 8_000_000, // 1 byte per µs
        };
        let mut rng = SimRng::seed_from_u64(1);
        let mut d = DelayLine::default();
        // 1000 bytes take 1 ms on the wire, then 10 ms of delay.
        assert_eq!(d.release(0, 1000, &link, &mut rng), 11_000_000);
        // Sent at the same instant: waits for the first to be serialised.
        assert_eq!(d.release(0, 1000, &link, &mut rng), 12_000_000);
        // Jitter never reorders a link.
        let jittery = LinkModel {
            jitter: Duration::from_millis(9),
            bandwidth_bps: 0,
            ..link
        };
        let mut last = 0;
        for t in 0..1000u64 {
            let r = d.release(20_000_000 + t * 1000, 10, &jittery, &mut rng);
            assert!(r >= last, "released {r} before {last}");
            assert!(r >= 20_000_000 + t * 1000 + 1_000_000);
            last = r;
        }
    }
}
