//! Measured against simulated: the figures of two results folders (a
//! testnet run and its simulation, mode by mode) side by side, and whether
//! they agree within the tolerances: coverage times within
//! [`TIME_TOLERANCE`] (relative), duplicates within [`DUPLICATE_TOLERANCE`]
//! (absolute, per node per transaction). Other figures are shown without a
//! verdict.

use std::fmt::Write as _;

use crate::results::{Redundancy, Relay, Summary};

/// Coverage times agree when within this fraction of the measured value.
pub const TIME_TOLERANCE: f64 = 0.10;
/// Duplicates per node per transaction agree when within this, absolute.
pub const DUPLICATE_TOLERANCE: f64 = 0.05;

/// How a figure is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// Relative to the measured value ([`TIME_TOLERANCE`]).
    Relative,
    /// Absolute ([`DUPLICATE_TOLERANCE`]).
    Absolute,
    /// Shown, not judged.
    None,
}

/// One figure of one relay mode, measured and simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementRow {
    /// The mode.
    pub relay: Relay,
    /// The figure.
    pub figure: &'static str,
    /// Measured (`None`: not in the summary).
    pub measured: Option<f64>,
    /// Simulated.
    pub simulated: Option<f64>,
    /// How it is judged.
    pub tolerance: Tolerance,
}

impl AgreementRow {
    /// Simulated − measured, relative to measured for relative figures.
    pub fn difference(&self) -> Option<f64> {
        let (m, s) = (self.measured?, self.simulated?);
        match self.tolerance {
            Tolerance::Relative | Tolerance::None if m != 0.0 => Some((s - m) / m),
            Tolerance::Relative | Tolerance::None => None,
            Tolerance::Absolute => Some(s - m),
        }
    }

    /// Whether it agrees (`None`: not judged, or a value is missing).
    pub fn agrees(&self) -> Option<bool> {
        let d = self.difference()?.abs();
        match self.tolerance {
            Tolerance::Relative => Some(d <= TIME_TOLERANCE),
            Tolerance::Absolute => Some(d <= DUPLICATE_TOLERANCE),
            Tolerance::None => None,
        }
    }
}

type Pick = fn(&Summary) -> Option<f64>;

fn red(s: &Summary, f: fn(&Redundancy) -> f64) -> Option<f64> {
    s.redundancy.as_ref().map(f)
}

const FIGURES: [(&str, Tolerance, Pick); 9] = [
    ("tx c50 p50 (ms)", Tolerance::Relative, |s| s.txs.c50_ms.p50),
    ("tx c50 p99 (ms)", Tolerance::Relative, |s| s.txs.c50_ms.p99),
    ("tx c100 p50 (ms)", Tolerance::Relative, |s| {
        s.txs.c100_ms.p50
    }),
    ("tx c100 p99 (ms)", Tolerance::Relative, |s| {
        s.txs.c100_ms.p99
    }),
    ("duplicate bodies / node / tx", Tolerance::Absolute, |s| {
        red(s, |r| r.duplicate_bodies_per_node_per_tx)
    }),
    ("bodies / node / tx", Tolerance::None, |s| {
        red(s, |r| r.bodies_per_node_per_tx)
    }),
    ("gossip msgs / node / tx", Tolerance::None, |s| {
        red(s, |r| r.announcements_per_node_per_tx)
    }),
    ("gossip bytes / node / tx (in+out)", Tolerance::None, |s| {
        red(s, |r| r.bytes.gossip_in + r.bytes.gossip_out)
    }),
    ("wire bytes / node / tx (in+out)", Tolerance::None, |s| {
        red(s, |r| r.bytes.wire_in + r.bytes.wire_out)
    }),
];

/// Every figure of every mode present in both, in the order of `measured`.
pub fn agreement(measured: &[Summary], simulated: &[Summary]) -> Vec<AgreementRow> {
    let mut rows = Vec::new();
    for m in measured {
        let Some(s) = simulated.iter().find(|s| s.relay == m.relay) else {
            continue;
        };
        for (figure, tolerance, pick) in FIGURES {
            rows.push(AgreementRow {
                relay: m.relay,
                figure,
                measured: pick(m),
                simulated: pick(s),
                tolerance,
            });
        }
    }
    rows
}

/// The table `rumor-testnet compare` prints.
pub fn render_agreement(rows: &[AgreementRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<9} {:<36} {:>11} {:>11} {:>10}  agrees (c: ±{:.0} %, duplicates: ±{})",
        "mode",
        "figure",
        "measured",
        "simulated",
        "diff",
        TIME_TOLERANCE * 100.0,
        DUPLICATE_TOLERANCE
    );
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.3}"));
    for r in rows {
        let diff = match (r.difference(), r.tolerance) {
            (None, _) => "-".to_owned(),
            (Some(d), Tolerance::Absolute) => format!("{d:+.3}"),
            (Some(d), _) => format!("{:+.1} %", d * 100.0),
        };
        let verdict = match r.agrees() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let _ = writeln!(
            out,
            "{:<9} {:<36} {:>11} {:>11} {:>10}  {verdict}",
            r.relay.as_str(),
            r.figure,
            num(r.measured),
            num(r.simulated),
            diff
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(m: f64, s: f64, tolerance: Tolerance) -> AgreementRow {
        AgreementRow {
            relay: Relay::Announce,
            figure: "x",
            measured: Some(m),
            simulated: Some(s),
            tolerance,
        }
    }

    #[test]
    fn tolerances_are_relative_for_times_and_absolute_for_duplicates() {
        assert_eq!(row(100.0, 109.0, Tolerance::Relative).agrees(), Some(true));
        assert_eq!(row(100.0, 111.0, Tolerance::Relative).agrees(), Some(false));
        assert_eq!(row(100.0, 89.0, Tolerance::Relative).agrees(), Some(false));
        assert_eq!(row(0.02, 0.06, Tolerance::Absolute).agrees(), Some(true));
        assert_eq!(row(0.02, 0.08, Tolerance::Absolute).agrees(), Some(false));
        assert_eq!(row(1.0, 5.0, Tolerance::None).agrees(), None);
        let missing = AgreementRow {
            simulated: None,
            ..row(1.0, 1.0, Tolerance::Relative)
        };
        assert_eq!(missing.agrees(), None);
    }
}
