//! Rumor mongering (Demers' complex epidemic, SIR).
//!
//! A site is *susceptible* until it first receives the update, then *infective*
//! (the update is a hot rumor it spreads), and finally *removed* once it has lost
//! interest. In every cycle:
//! - `push`: each infective site calls one partner chosen uniformly among the other
//!   `n - 1` sites and sends it the rumor;
//! - `pull`: every site calls one partner and asks for hot rumors, and an infective
//!   partner sends the rumor;
//! - `push-pull`: every site calls one partner; the caller sends if it is infective
//!   and the partner answers if it is infective.
//!
//! Every message that carries the rumor is a contact for its *sender*. With `feedback`
//! a contact counts toward loss of interest only if the recipient already knew the
//! rumor; with `blind` every contact counts. With `counter` the sender is removed at
//! its `k`-th counted contact; with `consecutive` at its `k`-th counted contact in a
//! row (a useful contact resets the count: the other reading of Demers' counter);
//! with `coin` it is removed with probability `1/k` at each one. A lost message (see `--loss`) gives no feedback but still counts when blind.
//! A run ends when no site is infective.

use rand::RngExt;
use rand::seq::SliceRandom;

use super::algorithm::{Removal, RumorVariant, Trigger};
use super::metrics::{Counters, NEVER, RunMetrics};
use super::params::{Schedule, SimParams};
use super::rng::{SimRng, Stream, chance, draw_partners, origin, stream_rng};

const SUSCEPTIBLE: u8 = 0;
const INFECTIVE: u8 = 1;
/// Infective at the start of this cycle, removed at its end (synchronous schedule).
const REMOVING: u8 = 2;
const REMOVED: u8 = 3;

struct State<'a> {
    variant: RumorVariant,
    sequential: bool,
    loss: f64,
    t: u32,
    first: Vec<u32>,
    status: Vec<u8>,
    counter: Vec<u32>,
    pending: Vec<u32>,
    infective: u32,
    counters: Counters,
    coins: &'a mut SimRng,
    loss_rng: &'a mut SimRng,
}

impl State<'_> {
    /// Whether `x` spreads in the current cycle: it was infective at the cycle's start.
    #[inline]
    fn spreads(&self, x: u32) -> bool {
        let s = self.status[x as usize];
        (s == INFECTIVE || s == REMOVING) && self.first[x as usize] < self.t
    }

    /// `from` sends the rumor to `to`.
    #[inline]
    fn transmit(&mut self, from: u32, to: u32) {
        self.counters.messages += 1;
        let delivered = !chance(self.loss_rng, self.loss);
        let knew = if self.sequential {
            self.first[to as usize] != NEVER
        } else {
            self.first[to as usize] < self.t
        };
        if delivered {
            self.counters.deliveries += 1;
            if self.first[to as usize] == NEVER {
                self.first[to as usize] = self.t;
                self.status[to as usize] = INFECTIVE;
                self.infective += 1;
            }
        }
        let counted = match self.variant.trigger {
            Trigger::Blind => true,
            Trigger::Feedback => delivered && knew,
        };
        if self.variant.removal == Removal::Consecutive
            && self.variant.trigger == Trigger::Feedback
            && delivered
            && !knew
        {
            // Feedback says the contact was useful: the consecutive reading
            // starts counting anew (blind senders learn nothing to reset on).
            self.counter[from as usize] = 0;
        }
        if counted && self.status[from as usize] == INFECTIVE {
            let lose = match self.variant.removal {
                Removal::Counter | Removal::Consecutive => {
                    let c = &mut self.counter[from as usize];
                    *c += 1;
                    *c >= self.variant.k
                }
                Removal::Coin => self.coins.random_ratio(1, self.variant.k),
            };
            if lose {
                if self.sequential {
                    self.status[from as usize] = REMOVED;
                    self.infective -= 1;
                } else {
                    self.status[from as usize] = REMOVING;
                    self.pending.push(from);
                }
            }
        }
    }

    /// One conversation initiated by `i` with partner `j`.
    #[inline]
    fn converse(&mut self, i: u32, j: u32) {
        let direction = self.variant.direction;
        let mut initiated = direction.pulls();
        if direction.pushes() && self.spreads(i) {
            initiated = true;
            self.transmit(i, j);
        }
        if direction.pulls() && self.spreads(j) {
            self.transmit(j, i);
        }
        if initiated {
            self.counters.contacts += 1;
        }
    }

    /// Ends the cycle: removals decided under the synchronous schedule take effect.
    fn end_cycle(&mut self) {
        for &x in &self.pending {
            self.status[x as usize] = REMOVED;
        }
        self.infective -= u32::try_from(self.pending.len()).expect("pending fits u32");
        self.pending.clear();
    }
}

/// Runs one trial of a rumor-mongering variant.
pub(crate) fn run(params: &SimParams, variant: RumorVariant, trial_seed: u64) -> RunMetrics {
    let n = params.nodes();
    let start = origin(trial_seed, n);
    let mut partners_rng = stream_rng(trial_seed, Stream::Partners);
    let mut coins = stream_rng(trial_seed, Stream::Coins);
    let mut loss_rng = stream_rng(trial_seed, Stream::Loss);
    let mut order_rng = stream_rng(trial_seed, Stream::Order);
    let sequential = params.schedule() == Schedule::Sequential;

    let mut st = State {
        variant,
        sequential,
        loss: params.loss(),
        t: 0,
        first: vec![NEVER; n as usize],
        status: vec![SUSCEPTIBLE; n as usize],
        counter: match variant.removal {
            Removal::Counter | Removal::Consecutive => vec![0; n as usize],
            Removal::Coin => Vec::new(),
        },
        pending: Vec::new(),
        infective: 1,
        counters: Counters::default(),
        coins: &mut coins,
        loss_rng: &mut loss_rng,
    };
    st.first[start as usize] = 0;
    st.status[start as usize] = INFECTIVE;

    let mut partners = vec![0u32; n as usize];
    let mut order: Vec<u32> = if sequential {
        (0..n).collect()
    } else {
        Vec::new()
    };
    let mut truncated = false;
    while st.infective > 0 {
        if st.t == params.max_cycles() {
            truncated = true;
            break;
        }
        st.t += 1;
        draw_partners(&mut partners_rng, &mut partners);
        if sequential {
            order.shuffle(&mut order_rng);
            for &i in &order {
                st.converse(i, partners[i as usize]);
            }
        } else {
            for i in 0..n {
                st.converse(i, partners[i as usize]);
            }
        }
        st.end_cycle();
    }
    let end = f64::from(st.t);
    RunMetrics::from_first_seen(&st.first, start, st.counters, end, truncated, 1)
}
