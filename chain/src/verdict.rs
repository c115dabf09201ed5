//! [`Verdict`] and [`Outcome`]: what a node decided about one object it was
//! offered, and why. The relay acts on the verdict (spread it, penalise the
//! sender, forget it, fetch a parent); RPC turns it into an error code; the
//! reason labels come from [`crate::reasons`] and are the same everywhere.

use crate::inv::Inv;
use crate::reasons;

/// A node's decision about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: stored or added to the mempool. `also` lists objects
    /// this one let the node accept too (adopted orphan transactions, orphan
    /// blocks connected).
    Accepted {
        /// Other objects accepted as a consequence.
        also: Vec<Inv>,
    },
    /// Valid, but the node already had it.
    Known,
    /// The body is not the object it was sent as: it does not decode, or it
    /// is another object. Whoever sent it is at fault; the id it was sent as
    /// says nothing about the real object of that id.
    Malformed {
        /// Which fault, as a label.
        reason: &'static str,
    },
    /// The object breaks a consensus rule: whoever sent it is at fault, and
    /// (for a transaction, whose id commits to all of it) the id is invalid.
    Invalid {
        /// Which rule.
        reason: &'static str,
    },
    /// Refused by local policy (fee, conflict, full mempool). Never punished.
    Policy {
        /// Which policy.
        reason: &'static str,
    },
    /// Cannot be validated yet (unknown parent, a block from the future). Not
    /// punished. `fetch` names the objects to fetch first (every missing
    /// parent of an orphan transaction; a block's missing ancestor).
    NotYet {
        /// Why.
        reason: &'static str,
        /// Objects to fetch first.
        fetch: Vec<Inv>,
    },
}

impl Verdict {
    /// The reason label: the broken rule, or `accepted` / `known`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Known => "known",
            Self::Malformed { reason }
            | Self::Invalid { reason }
            | Self::Policy { reason }
            | Self::NotYet { reason, .. } => reason,
        }
    }

    /// Whether this verdict condemns the id itself: a transaction found
    /// invalid (its id commits to all of it, and the body was checked to
    /// hash to it). A block's id is only its header, which a peer can pair
    /// with a mutated body, and the chain remembers blocks that are invalid
    /// by their header.
    pub fn condemns(&self, inv: &Inv) -> bool {
        matches!(self, Self::Invalid { .. }) && matches!(inv, Inv::Tx(_))
    }

    /// The class of the verdict, for metrics: `accepted`, `known`,
    /// `malformed`, `invalid`, `policy` or `not-yet`.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Known => "known",
            Self::Malformed { .. } => "malformed",
            Self::Invalid { .. } => "invalid",
            Self::Policy { .. } => "policy",
            Self::NotYet { .. } => "not-yet",
        }
    }
}

/// A verdict with the full text of the failure, for logs and RPC errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// The failure in words (`None` when accepted or known).
    pub detail: Option<String>,
}

impl Outcome {
    /// Accepted, with the objects accepted as a consequence.
    pub fn accepted(also: Vec<Inv>) -> Self {
        Self {
            verdict: Verdict::Accepted { also },
            detail: None,
        }
    }

    /// Already had it.
    pub fn known() -> Self {
        Self {
            verdict: Verdict::Known,
            detail: None,
        }
    }

    /// Not the object it was sent as.
    pub fn malformed(reason: &'static str, detail: impl ToString) -> Self {
        Self::with(Verdict::Malformed { reason }, detail)
    }

    /// Breaks `reason`.
    pub fn invalid(reason: &'static str, detail: impl ToString) -> Self {
        Self::with(Verdict::Invalid { reason }, detail)
    }

    /// Refused by policy.
    pub fn policy(reason: &'static str, detail: impl ToString) -> Self {
        Self::with(Verdict::Policy { reason }, detail)
    }

    /// Not yet valid; fetch `fetch` first.
    pub fn not_yet(reason: &'static str, detail: impl ToString, fetch: Vec<Inv>) -> Self {
        Self::with(Verdict::NotYet { reason, fetch }, detail)
    }

    /// The node could not decide (it is stopping, or its store failed). A
    /// policy refusal: the sender did nothing wrong.
    pub fn internal(detail: impl ToString) -> Self {
        Self::policy(reasons::INTERNAL, detail)
    }

    fn with(verdict: Verdict, detail: impl ToString) -> Self {
        Self {
            verdict,
            detail: Some(detail.to_string()),
        }
    }
}
