//! Closed-form results the simulator is checked against.
//!
//! - Rumor mongering, push, **feedback** (coin or counter): Demers' equations
//!   `ds/dt = -s i`, `di/dt = s i - (1/k)(1 - s) i` give the residue as the root of
//!   `s = e^{-(k+1)(1-s)}` (k = 1 is the Maki–Thompson rumor, s ≈ 0.2032, Sudbury 1985).
//!   The same root follows for a counter by counting contacts: if every contact sees
//!   the current susceptible fraction `s`, it is unnecessary with probability `1 - s`
//!   and takes a susceptible out of the pool at rate `s`, so the whole epidemic makes
//!   `n (-ln s - (1 - s))` unnecessary contacts; every removed site made exactly `k` of
//!   them (counter) or `k` on average (coin), so that number is `k n (1 - s)`, which is
//!   `s = e^{-(k+1)(1-s)}`. The simulator's sequential schedule is that model;
//!   synchronous cycles (two pushes to one site in a cycle both count as necessary)
//!   end below it.
//! - Push, **blind** (coin or counter): every infected site sends `k` messages on
//!   average, so `s = e^{-k(1-s)}`.
//! - Any push variant: each message goes to a uniform site, so a site escapes all
//!   `m n` messages with probability `e^{-m}`: `s ≈ e^{-m}`.
//! - One-shot fan-out `F` (each node sends once to `F` distinct peers): `s = e^{-F(1-s)}`.
//! - Push anti-entropy reaches everyone in `log2 n + ln n + O(1)` cycles (Pittel 1987).
//! - Pull anti-entropy's last phase: a site stays susceptible only if its partner is
//!   susceptible too, so `p_{i+1} = p_i (n p_i - 1)/(n - 1) ≈ p_i^2`.
//! - Eager push on a connected `D`-regular mesh sends `n (D - 1) + 1` copies, so each
//!   node gets `D - 2 + 2/n` duplicates.

use serde::Serialize;

use super::algorithm::{Algorithm, Direction, FanoutPolicy, Removal, Trigger};

/// The root in `(0, 1)` of `s = e^{-c (1 - s)}` for `c > 1`; `1.0` for `c <= 1` (the
/// epidemic does not take off in the mean-field limit).
pub fn final_size_residue(c: f64) -> f64 {
    if c <= 1.0 {
        return 1.0;
    }
    // Fixed-point iteration from 0 climbs monotonically to the smallest root.
    let mut s = 0.0f64;
    for _ in 0..100_000 {
        let next = (-c * (1.0 - s)).exp();
        if (next - s).abs() < 1e-15 {
            return next;
        }
        s = next;
    }
    s
}

/// Demers' residue for push rumor mongering with feedback and coin:
/// the root of `s = e^{-(k+1)(1-s)}`.
pub fn residue_feedback_coin(k: u32) -> f64 {
    final_size_residue(f64::from(k) + 1.0)
}

/// The residue for push rumor mongering with blind loss of interest:
/// the root of `s = e^{-k(1-s)}`.
pub fn residue_blind(k: u32) -> f64 {
    final_size_residue(f64::from(k))
}

/// Pittel's leading terms for push anti-entropy's rounds to full coverage:
/// `log2 n + ln n` (the true value adds an `O(1)` constant).
pub fn pittel_rounds(n: u32) -> f64 {
    let n = f64::from(n);
    n.log2() + n.ln()
}

/// The expected susceptible fraction after a pull anti-entropy cycle that starts with
/// a fraction `p` susceptible among `n` sites: `p (n p - 1) / (n - 1)`.
pub fn pull_next_susceptible(p: f64, n: u32) -> f64 {
    let n = f64::from(n);
    p * (n * p - 1.0).max(0.0) / (n - 1.0)
}

/// What theory says about one algorithm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Expected residue `s`, where a closed form exists.
    pub residue: Option<f64>,
    /// Expected cycles to full coverage, leading terms only.
    pub full_coverage: Option<f64>,
    /// Expected duplicates per node.
    pub duplicates_per_node: Option<f64>,
    /// The formula, in words.
    pub formula: String,
}

/// The closed-form prediction for `algorithm` on `n` sites when each message is lost
/// with probability `loss`, if there is one.
///
/// Loss only stretches time for feedback (a lost message carries no feedback either),
/// and scales the delivered messages by `1 - loss` for blind and one-shot relays.
/// Pittel's law and the mesh's duplicate count assume no loss.
pub fn predict(algorithm: &Algorithm, n: u32, loss: f64) -> Option<Prediction> {
    let delivered = 1.0 - loss;
    match *algorithm {
        Algorithm::AntiEntropy {
            direction: Direction::Push,
        } if loss == 0.0 => Some(Prediction {
            residue: Some(0.0),
            full_coverage: Some(pittel_rounds(n)),
            duplicates_per_node: None,
            formula: "t_100 = log2 n + ln n + O(1) (Pittel)".into(),
        }),
        // The consecutive counter resets on useful contacts: no closed form.
        Algorithm::Rumor(v)
            if v.direction == Direction::Push
                && !(v.trigger == Trigger::Feedback && v.removal == Removal::Consecutive) =>
        {
            Some(match v.trigger {
                Trigger::Feedback => Prediction {
                    residue: Some(residue_feedback_coin(v.k)),
                    full_coverage: None,
                    duplicates_per_node: None,
                    formula: "s = e^{-(k+1)(1-s)} (mean field: contacts see the current state)"
                        .into(),
                },
                Trigger::Blind => Prediction {
                    residue: Some(final_size_residue(f64::from(v.k) * delivered)),
                    full_coverage: None,
                    duplicates_per_node: None,
                    formula: "s = e^{-k(1-loss)(1-s)}".into(),
                },
            })
        }
        Algorithm::Fanout {
            fanout,
            policy: FanoutPolicy::Once,
            ..
        } => Some(Prediction {
            residue: Some(final_size_residue(f64::from(fanout) * delivered)),
            full_coverage: None,
            duplicates_per_node: None,
            formula: "s = e^{-F(1-loss)(1-s)}".into(),
        }),
        Algorithm::Mesh(m) if loss == 0.0 => Some(Prediction {
            residue: None,
            full_coverage: None,
            duplicates_per_node: Some(f64::from(m.d) - 2.0 + 2.0 / f64::from(n)),
            formula: "eager duplicates = D - 2 + 2/n".into(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Sudbury's 0.2032 for the Maki-Thompson rumor.
        assert!((residue_feedback_coin(1) - 0.2032).abs() < 1e-4);
        // Demers: "for k = 2, only 6 % miss it".
        assert!((residue_feedback_coin(2) - 0.0595).abs() < 1e-4);
        for k in 1..=5 {
            let s = residue_feedback_coin(k);
            assert!((s - (-(f64::from(k) + 1.0) * (1.0 - s)).exp()).abs() < 1e-12);
        }
        assert_eq!(residue_blind(1), 1.0);
        assert!((residue_blind(2) - 0.2032).abs() < 1e-4);
        assert!((pittel_rounds(1024) - (10.0 + 1024f64.ln())).abs() < 1e-12);
    }
}
