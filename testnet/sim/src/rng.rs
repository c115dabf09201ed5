//! Seeds and random streams.
//!
//! Every run is a pure function of `(master seed, trial index, algorithm)`. Each trial
//! derives its own seed, and each *use* of randomness inside a trial (who starts, who
//! calls whom, coin flips, message loss, the overlay graph, ...) draws from its own
//! [`Stream`], a Xoshiro256++ generator seeded from `(trial seed, stream)`. Keeping the
//! uses apart is what makes comparisons fair: in trial `i`, push, pull and push-pull
//! anti-entropy see the *same* origin and the *same* partner for every site in every
//! cycle (common random numbers), so their differences are the algorithms' alone.
//!
//! Xoshiro256++ is one of `rand`'s named, portable generators: its output for a seed is
//! part of `rand`'s reproducibility promise, unlike `SmallRng`'s.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The generator behind every stream.
pub(crate) type SimRng = Xoshiro256PlusPlus;

/// SplitMix64's finaliser: a bijective 64-bit mixer with full avalanche.
pub(crate) const fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The separate uses of randomness inside one trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Which site holds the update at cycle 0.
    Origin = 1,
    /// Each site's partner in each cycle (drawn for all sites, every cycle).
    Partners = 2,
    /// Loss-of-interest coin flips.
    Coins = 3,
    /// Message loss.
    Loss = 4,
    /// Processing order under the sequential schedule.
    Order = 5,
    /// The overlay graph of the mesh model.
    Overlay = 6,
    /// Per-link delays of the mesh model.
    Links = 7,
    /// Heartbeat phases of the mesh model.
    Phases = 8,
    /// Lazy-gossip (IHAVE) targets of the mesh model.
    Lazy = 9,
    /// Per-node target permutations of the fan-out model.
    Permutation = 10,
}

/// The seed of trial `trial` under master seed `master`.
pub(crate) const fn trial_seed(master: u64, trial: u32) -> u64 {
    mix64(master ^ mix64(0x7472_6961_6C00_0000 ^ trial as u64))
}

/// The seed of one stream of a trial.
pub(crate) const fn stream_seed(trial_seed: u64, stream: Stream) -> u64 {
    mix64(trial_seed ^ (stream as u64).wrapping_mul(0xA24B_AED4_963E_E407))
}

/// A generator for one stream of a trial.
pub(crate) fn stream_rng(trial_seed: u64, stream: Stream) -> SimRng {
    SimRng::seed_from_u64(stream_seed(trial_seed, stream))
}

/// A site chosen uniformly at random among the `n - 1` sites other than `me`.
///
/// Requires `n >= 2` and `me < n`.
#[inline]
pub(crate) fn other_than(rng: &mut SimRng, n: u32, me: u32) -> u32 {
    debug_assert!(n >= 2 && me < n);
    let r = rng.random_range(0..n - 1);
    if r >= me { r + 1 } else { r }
}

/// The origin of a trial: uniform over all `n` sites.
pub(crate) fn origin(trial_seed: u64, n: u32) -> u32 {
    stream_rng(trial_seed, Stream::Origin).random_range(0..n)
}

/// Draws one cycle of partners: `partners[i]` is uniform over the sites other than `i`.
///
/// All sites draw, in index order, whether or not they will use the draw, so the
/// partner of site `i` in cycle `t` depends only on the trial seed, `t` and `i`.
pub(crate) fn draw_partners(rng: &mut SimRng, partners: &mut [u32]) {
    let n = u32::try_from(partners.len()).expect("site count fits in u32");
    for (i, p) in (0..n).zip(partners.iter_mut()) {
        *p = other_than(rng, n, i);
    }
}

/// A Bernoulli trial that is `false` without touching `rng` when `p == 0`, so runs
/// without loss draw nothing from the loss stream.
#[inline]
pub(crate) fn chance(rng: &mut SimRng, p: f64) -> bool {
    p > 0.0 && rng.random_bool(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_than_never_returns_me_and_covers_the_rest() {
        let mut rng = stream_rng(1, Stream::Partners);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            let r = other_than(&mut rng, 5, 2);
            assert_ne!(r, 2);
            seen[r as usize] += 1;
        }
        for (i, &c) in seen.iter().enumerate() {
            if i == 2 {
                assert_eq!(c, 0);
            } else {
                // 2500 expected, sd ~ 43; 6 sd is a safe bound.
                assert!((2240..=2760).contains(&c), "site {i} chosen {c} times");
            }
        }
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u32> = {
            let mut r = stream_rng(trial_seed(7, 3), Stream::Partners);
            (0..8).map(|_| r.random_range(0..1000)).collect()
        };
        let b: Vec<u32> = {
            let mut r = stream_rng(trial_seed(7, 3), Stream::Partners);
            (0..8).map(|_| r.random_range(0..1000)).collect()
        };
        let c: Vec<u32> = {
            let mut r = stream_rng(trial_seed(7, 3), Stream::Coins);
            (0..8).map(|_| r.random_range(0..1000)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(trial_seed(7, 3), trial_seed(7, 4));
        assert_ne!(trial_seed(7, 3), trial_seed(8, 3));
    }
}
