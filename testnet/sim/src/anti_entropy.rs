//! Anti-entropy (Demers' simple epidemic, SI).
//!
//! In every cycle every site calls one partner chosen uniformly among the other
//! `n - 1` sites and the two compare databases. With `push` the caller sends the update
//! if it has it and the partner lacks it; with `pull` the partner sends it if it has it
//! and the caller lacks it; `push-pull` does both. Because the sites compare first,
//! the update itself travels only to a site that lacks it (under the synchronous
//! schedule several callers may still send it to the same site in one cycle; those
//! extra copies are the duplicates). A run ends when every site has the update.

use super::algorithm::Direction;
use super::metrics::{Counters, NEVER, RunMetrics};
use super::params::{Schedule, SimParams};
use super::rng::{SimRng, Stream, chance, draw_partners, origin, stream_rng};
use rand::seq::SliceRandom;

/// Runs one trial of anti-entropy.
pub(crate) fn run(params: &SimParams, direction: Direction, trial_seed: u64) -> RunMetrics {
    let n = params.nodes();
    let start = origin(trial_seed, n);
    let mut partners_rng = stream_rng(trial_seed, Stream::Partners);
    let mut loss_rng = stream_rng(trial_seed, Stream::Loss);
    let mut order_rng = stream_rng(trial_seed, Stream::Order);
    let loss = params.loss();
    let sequential = params.schedule() == Schedule::Sequential;

    let mut first = vec![NEVER; n as usize];
    first[start as usize] = 0;
    let mut reached = 1u32;
    let mut partners = vec![0u32; n as usize];
    let mut order: Vec<u32> = if sequential {
        (0..n).collect()
    } else {
        Vec::new()
    };
    let mut c = Counters::default();
    let mut cycle = 0u32;
    let mut truncated = false;

    while reached < n {
        if cycle == params.max_cycles() {
            truncated = true;
            break;
        }
        cycle += 1;
        let t = cycle;
        draw_partners(&mut partners_rng, &mut partners);
        c.contacts += u64::from(n);
        if sequential {
            order.shuffle(&mut order_rng);
        }
        let mut exchange = |i: u32, first: &mut [u32], reached: &mut u32, c: &mut Counters| {
            let j = partners[i as usize];
            // A site spreads only what it had at the start of the cycle.
            let i_had = first[i as usize] < t;
            let j_had = first[j as usize] < t;
            // Under the synchronous schedule "lacks" means "lacked at the start of the
            // cycle"; under the sequential one it means "lacks now".
            let lacks = |x: u32, first: &[u32]| {
                if sequential {
                    first[x as usize] == NEVER
                } else {
                    first[x as usize] >= t
                }
            };
            if direction.pushes() && i_had && lacks(j, first) {
                send(j, t, first, reached, c, &mut loss_rng, loss);
            }
            if direction.pulls() && j_had && lacks(i, first) {
                send(i, t, first, reached, c, &mut loss_rng, loss);
            }
        };
        if sequential {
            for &i in &order {
                exchange(i, &mut first, &mut reached, &mut c);
            }
        } else {
            for i in 0..n {
                exchange(i, &mut first, &mut reached, &mut c);
            }
        }
    }
    RunMetrics::from_first_seen(&first, start, c, f64::from(cycle), truncated, 1)
}

/// One update message to `to` in cycle `t`.
fn send(
    to: u32,
    t: u32,
    first: &mut [u32],
    reached: &mut u32,
    c: &mut Counters,
    loss_rng: &mut SimRng,
    loss: f64,
) {
    c.messages += 1;
    if chance(loss_rng, loss) {
        return;
    }
    c.deliveries += 1;
    if first[to as usize] == NEVER {
        first[to as usize] = t;
        *reached += 1;
    }
}
