//! The propagation plots: `cdf.svg` of one run (c50 and c100 per kind, and
//! the ideal bound), and with `--compare` one `cdf.svg` with every relay
//! mode on one axis. The legend sits beside the data, never on it; colours
//! are the Okabe–Ito palette (distinct hues, readable by the colour-blind);
//! the title says what ran. Text is drawn by the SVG viewer: no system fonts
//! are loaded.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::results::{Kind, ObjectRow, Relay, Summary};
use crate::results_io::ResultsError;

pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(crate) const GREY: RGBColor = RGBColor(80, 80, 80);

pub(crate) const WIDTH: u32 = 900;
pub(crate) const HEIGHT: u32 = 500;
/// Width of the legend panel right of the plot.
pub(crate) const LEGEND_WIDTH: u32 = 250;
/// The most steps drawn per curve.
const MAX_STEPS: usize = 250;
/// Dash and gap of dashed curves, pixels.
pub(crate) const DASH: u32 = 12;
pub(crate) const GAP: u32 = 7;

/// How a curve is stroked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stroke {
    Solid,
    /// Long dashes (each dash is an element of the SVG: few keep it small).
    Dashed,
    /// Thin and solid: bounds rather than measurements.
    Thin,
}

/// One CDF curve.
pub(crate) struct Curve {
    pub(crate) label: String,
    /// Sorted times, ms.
    pub(crate) values: Vec<f64>,
    /// Objects the fraction is of (those that never got there count too,
    /// so a curve that ends below 1 shows objects that never arrived).
    pub(crate) of: usize,
    pub(crate) color: RGBColor,
    pub(crate) stroke: Stroke,
}

impl Curve {
    fn new(
        label: impl Into<String>,
        rows: &[ObjectRow],
        kind: Kind,
        pick: fn(&ObjectRow) -> Option<f64>,
        color: RGBColor,
        stroke: Stroke,
    ) -> Option<Self> {
        let of = rows.iter().filter(|r| r.kind == kind).count();
        let mut values: Vec<f64> = rows
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(pick)
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Self {
            label: label.into(),
            values,
            of,
            color,
            stroke,
        })
    }

    /// The CDF as a step path from (0, 0), ending at `xmax`: a step per
    /// value, or per one of [`MAX_STEPS`] evenly spaced ranks when there are
    /// more (the plot cannot show more; the file stays small).
    fn points(&self, xmax: f64) -> Vec<(f64, f64)> {
        let n = self.of.max(1) as f64;
        let len = self.values.len();
        let ranks: Vec<usize> = if len <= MAX_STEPS {
            (0..len).collect()
        } else {
            (0..=MAX_STEPS).map(|k| k * (len - 1) / MAX_STEPS).collect()
        };
        let mut pts = Vec::with_capacity(2 * ranks.len() + 2);
        pts.push((0.0, 0.0));
        let mut below = 0.0;
        for i in ranks {
            let x = self.values[i];
            pts.push((x, below));
            below = (i + 1) as f64 / n;
            pts.push((x, below));
        }
        pts.push((xmax, len as f64 / n));
        pts
    }

    pub(crate) fn style(&self) -> ShapeStyle {
        let width = if self.stroke == Stroke::Thin { 1 } else { 2 };
        self.color.stroke_width(width)
    }
}

fn delay_text(s: &Summary) -> String {
    let d = s.shaping.delay_ms;
    let j = s.shaping.jitter_ms;
    let d = if d.fract() == 0.0 {
        format!("{d:.0}")
    } else {
        format!("{d:.1}")
    };
    if j > 0.0 {
        format!("link delay {d} ± {j:.0} ms")
    } else {
        format!("link delay {d} ms")
    }
}

/// What ran, for a plot's title: relay mode(s), n, link delay, objects.
fn title(modes: &str, s: &Summary) -> String {
    let count = |n: usize, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut t = format!(
        "{modes} · n = {} · {} · {}",
        s.nodes,
        delay_text(s),
        count(s.txs.accepted, "tx")
    );
    if s.blocks.accepted > 0 {
        t.push_str(&format!(", {}", count(s.blocks.accepted, "block")));
    }
    t
}

pub(crate) fn plot_err(e: impl std::fmt::Display) -> ResultsError {
    ResultsError::Plot(e.to_string())
}

/// Draws `curves` with the title and a legend beside the plot.
fn draw(path: &Path, title: &str, subtitle: &str, curves: &[Curve]) -> Result<(), ResultsError> {
    let xmax = curves
        .iter()
        .filter_map(|c| c.values.last())
        .fold(1.0f64, |a, b| a.max(*b))
        * 1.05;
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, body) = root.split_vertically(52);
    top.draw(&Text::new(title.to_owned(), (16, 8), ("sans-serif", 24)))
        .map_err(plot_err)?;
    top.draw(&Text::new(
        subtitle.to_owned(),
        (16, 34),
        ("sans-serif", 15).into_font().color(&GREY),
    ))
    .map_err(plot_err)?;
    let (plot_area, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..xmax, 0.0..1.0)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("time since the origin accepted it (ms)")
        .y_desc("fraction of objects")
        .max_light_lines(1)
        .label_style(("sans-serif", 16))
        .x_label_formatter(&|v| {
            if xmax >= 20.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_err)?;
    for c in curves {
        let pts = c.points(xmax);
        match c.stroke {
            Stroke::Solid | Stroke::Thin => chart
                .draw_series(LineSeries::new(pts, c.style()))
                .map(|_| ()),
            Stroke::Dashed => chart
                .draw_series(DashedLineSeries::new(pts, DASH, GAP, c.style()))
                .map(|_| ()),
        }
        .map_err(plot_err)?;
    }
    legend(&legend_area, curves)?;
    root.present().map_err(plot_err)
}

/// The legend: one sample line and label per curve, in a box of its own.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    curves: &[Curve],
) -> Result<(), ResultsError> {
    let row = 22;
    let top = 14;
    let height = top * 2 + row * curves.len() as i32;
    area.draw(&Rectangle::new(
        [(4, 12), (LEGEND_WIDTH as i32 - 10, 12 + height)],
        BLACK.mix(0.4).stroke_width(1),
    ))
    .map_err(|e| plot_err(format!("{e:?}")))?;
    for (i, c) in curves.iter().enumerate() {
        let y = 12 + top + row * i as i32 + row / 2;
        let line = vec![(14, y), (52, y)];
        let drawn = match c.stroke {
            Stroke::Solid | Stroke::Thin => area.draw(&PathElement::new(line, c.style())),
            Stroke::Dashed => area.draw(&DashedPathElement::new(line, DASH, GAP, c.style())),
        };
        drawn.map_err(|e| plot_err(format!("{e:?}")))?;
        area.draw(&Text::new(c.label.clone(), (60, y - 7), ("sans-serif", 14)))
            .map_err(|e| plot_err(format!("{e:?}")))?;
    }
    Ok(())
}

/// `cdf.svg` of one run: for transactions and blocks, the fraction of
/// objects that reached 50 % and all of the live nodes by time t, and the
/// ideal bound of the transactions' time to reach all (the origin's
/// eccentricity × the per-hop cost) where the links have a delay.
///
/// # Errors
/// [`ResultsError::Plot`].
pub fn write_cdf(path: &Path, rows: &[ObjectRow], s: &Summary) -> Result<(), ResultsError> {
    let mut curves = Vec::new();
    let kinds = [
        (Kind::Tx, "tx", GREEN, BLUE),
        (Kind::Block, "block", ORANGE, VERMILLION),
    ];
    for (kind, name, c50, c100) in kinds {
        curves.extend(Curve::new(
            format!("{name} c100 (all nodes)"),
            rows,
            kind,
            |r| r.c100_ms,
            c100,
            Stroke::Solid,
        ));
        curves.extend(Curve::new(
            format!("{name} c50 (half the nodes)"),
            rows,
            kind,
            |r| r.c50_ms,
            c50,
            Stroke::Dashed,
        ));
    }
    // One bound, grey: the transactions' (the blocks' where there are
    // none); two thin lines that often coincide would read as a curve.
    let ideal = [(Kind::Tx, "tx"), (Kind::Block, "block")]
        .into_iter()
        .find_map(|(kind, name)| {
            Curve::new(
                format!("{name} c100 ideal bound"),
                rows,
                kind,
                |r| r.ideal_ms,
                GREY,
                Stroke::Thin,
            )
        });
    curves.extend(ideal);
    let modes = format!("{} relay", s.relay.as_str());
    draw(path, &title(&modes, s), &subtitle(&s.run_id, s), &curves)
}

fn subtitle(run_id: &str, s: &Summary) -> String {
    let per_hop = match s.relay {
        // Hybrid mode is held to push mode's bound: that is its aim.
        Relay::Push | Relay::Hybrid => "L",
        Relay::Announce | Relay::Batch => "3L",
    };
    if s.shaping.delay_ms > 0.0 {
        format!(
            "run {run_id} · c100: every live node had it · ideal = eccentricity × {per_hop} (L: one-way link delay)"
        )
    } else {
        format!(
            "run {run_id} · c100: every live node had it · no link delay, so no ideal bound to draw"
        )
    }
}

/// The colour of a relay mode in comparison plots.
fn mode_color(relay: Relay) -> RGBColor {
    match relay {
        Relay::Announce => BLUE,
        Relay::Push => VERMILLION,
        Relay::Batch => GREEN,
        Relay::Hybrid => PURPLE,
    }
}

/// `cdf.svg` of a `--compare` run: every mode's c100 for transactions
/// (solid) and blocks (dashed), and its ideal bound (thin), on one axis.
///
/// # Errors
/// [`ResultsError::Plot`].
pub fn write_compare_cdf(
    path: &Path,
    runs: &[(Summary, Vec<ObjectRow>)],
) -> Result<(), ResultsError> {
    let Some((first, _)) = runs.first() else {
        return Ok(());
    };
    let mut curves = Vec::new();
    for (s, rows) in runs {
        let color = mode_color(s.relay);
        let mode = s.relay.as_str();
        curves.extend(Curve::new(
            format!("{mode} tx c100"),
            rows,
            Kind::Tx,
            |r| r.c100_ms,
            color,
            Stroke::Solid,
        ));
        curves.extend(Curve::new(
            format!("{mode} block c100"),
            rows,
            Kind::Block,
            |r| r.c100_ms,
            color,
            Stroke::Dashed,
        ));
        curves.extend(Curve::new(
            format!("{mode} tx ideal bound"),
            rows,
            Kind::Tx,
            |r| r.ideal_ms,
            color,
            Stroke::Thin,
        ));
    }
    let modes: Vec<&str> = runs.iter().map(|(s, _)| s.relay.as_str()).collect();
    let run_id = first
        .run_id
        .strip_suffix(&format!("-{}", first.relay.as_str()))
        .unwrap_or(&first.run_id);
    draw(
        path,
        &title(&modes.join(" vs "), first),
        &format!(
            "run {run_id} · c100: every live node had it · ideal = eccentricity × L (push, hybrid), 3L (announce, batch)"
        ),
        &curves,
    )
}

/// `sweep.svg`: against the offered rate, each mode's c100 p99 (solid) and
/// p50 (dashed) on a log axis above, and the share refused as busy (solid)
/// and lost (dashed) below; the knee bound as a thin grey line.
///
/// # Errors
/// [`ResultsError::Plot`].
pub fn write_sweep(path: &Path, s: &crate::sweep::Sweep) -> Result<(), ResultsError> {
    let xmax = s.steps.iter().map(|st| st.offered).fold(1.0f64, f64::max) * 1.05;
    let ymax = s
        .steps
        .iter()
        .filter_map(|st| st.c100_p99_ms)
        .fold(s.knee_p99_ms, f64::max)
        * 1.5;
    let root = SVGBackend::new(path, (WIDTH, HEIGHT + 250)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, body) = root.split_vertically(52);
    top.draw(&Text::new(
        format!(
            "Knee sweep: {} nodes, {:.0} s per step",
            s.nodes, s.duration_s
        ),
        (16, 8),
        ("sans-serif", 24),
    ))
    .map_err(plot_err)?;
    top.draw(&Text::new(
        format!(
            "{} · knee: c100 p99 < {:.0} ms, lost 0, ≤ {:.0} % refused",
            s.id,
            s.knee_p99_ms,
            crate::sweep::KNEE_MAX_REFUSED * 100.0
        ),
        (16, 34),
        ("sans-serif", 15).into_font().color(&GREY),
    ))
    .map_err(plot_err)?;
    let (plots, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
    let (upper, lower) = plots.split_vertically(HEIGHT - 52);
    let mut latency = ChartBuilder::on(&upper)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, (1.0..ymax).log_scale())
        .map_err(plot_err)?;
    latency
        .configure_mesh()
        .x_desc("offered tx/s")
        .y_desc("tx c100 (ms, log)")
        .max_light_lines(1)
        .label_style(("sans-serif", 15))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    let pmax = s
        .steps
        .iter()
        .map(|st| share(st.refused_txs, st.injected_txs).max(share(st.lost, st.injected_txs)))
        .fold(5.0f64, f64::max)
        * 1.1;
    let mut loss = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, 0.0..pmax)
        .map_err(plot_err)?;
    loss.configure_mesh()
        .x_desc("offered tx/s")
        .y_desc("% of injected")
        .max_light_lines(1)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    let bound = Curve {
        label: format!("knee bound {:.0} ms", s.knee_p99_ms),
        values: Vec::new(),
        of: 0,
        color: GREY,
        stroke: Stroke::Thin,
    };
    latency
        .draw_series(LineSeries::new(
            [(0.0, s.knee_p99_ms), (xmax, s.knee_p99_ms)],
            bound.style(),
        ))
        .map_err(plot_err)?;
    let mut legend_curves = Vec::new();
    for relay in s.relays() {
        let color = mode_color(relay);
        let steps: Vec<&crate::sweep::Step> =
            s.steps.iter().filter(|st| st.relay == relay).collect();
        let pts = |f: &dyn Fn(&crate::sweep::Step) -> Option<f64>| -> Vec<(f64, f64)> {
            steps
                .iter()
                .filter_map(|st| f(st).map(|v| (st.offered, v.max(1.0))))
                .collect()
        };
        let solid = Curve {
            label: format!("{} c100 p99 · refused", relay.as_str()),
            values: Vec::new(),
            of: 0,
            color,
            stroke: Stroke::Solid,
        };
        let dashed = Curve {
            label: format!("{} c100 p50 · lost", relay.as_str()),
            values: Vec::new(),
            of: 0,
            color,
            stroke: Stroke::Dashed,
        };
        latency
            .draw_series(LineSeries::new(pts(&|st| st.c100_p99_ms), solid.style()))
            .map_err(plot_err)?;
        latency
            .draw_series(DashedLineSeries::new(
                pts(&|st| st.c100_p50_ms),
                DASH,
                GAP,
                dashed.style(),
            ))
            .map_err(plot_err)?;
        let shares = |f: &dyn Fn(&crate::sweep::Step) -> usize| -> Vec<(f64, f64)> {
            steps
                .iter()
                .map(|st| (st.offered, share(f(st), st.injected_txs)))
                .collect()
        };
        loss.draw_series(LineSeries::new(shares(&|st| st.refused_txs), solid.style()))
            .map_err(plot_err)?;
        loss.draw_series(DashedLineSeries::new(
            shares(&|st| st.lost),
            DASH,
            GAP,
            dashed.style(),
        ))
        .map_err(plot_err)?;
        legend_curves.push(solid);
        legend_curves.push(dashed);
    }
    legend_curves.push(bound);
    legend(&legend_area, &legend_curves)?;
    root.present().map_err(plot_err)
}

/// `part` as a percentage of `of`.
fn share(part: usize, of: usize) -> f64 {
    100.0 * part as f64 / of.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::KindSummary;

    #[test]
    fn a_cdf_ends_below_one_when_objects_never_arrived() {
        let row = |c100: Option<f64>| ObjectRow {
            kind: Kind::Tx,
            id: "x".into(),
            origin: 0,
            start_ns: 0,
            holders: 1,
            live: 2,
            recorded: 1,
            c50_ms: Some(1.0),
            c90_ms: c100,
            c100_ms: c100,
            eccentricity: None,
            ideal_ms: None,
            efficiency: None,
            lost: c100.is_none(),
        };
        let rows = [row(Some(5.0)), row(None)];
        let c = Curve::new("c", &rows, Kind::Tx, |r| r.c100_ms, BLUE, Stroke::Solid).unwrap();
        let pts = c.points(10.0);
        assert_eq!(pts.first(), Some(&(0.0, 0.0)));
        assert_eq!(pts.last(), Some(&(10.0, 0.5)));
        assert!(Curve::new("i", &rows, Kind::Tx, |r| r.ideal_ms, BLUE, Stroke::Thin).is_none());
        // Many values: at most MAX_STEPS steps, still from 0 to the last.
        let many = Curve {
            label: "m".into(),
            values: (1..=10_000).map(f64::from).collect(),
            of: 10_000,
            color: BLUE,
            stroke: Stroke::Solid,
        };
        let pts = many.points(20_000.0);
        assert!(pts.len() <= 2 * (MAX_STEPS + 1) + 2, "{}", pts.len());
        assert_eq!(pts[pts.len() - 2], (10_000.0, 1.0));
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn the_legend_is_beside_the_data_not_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdf.svg");
        let curve = |label: &str, color| Curve {
            label: label.into(),
            values: vec![1.0, 2.0, 3.0],
            of: 3,
            color,
            stroke: Stroke::Solid,
        };
        draw(
            &path,
            "the title",
            "the subtitle",
            &[
                curve("first curve", BLUE),
                curve("second curve", VERMILLION),
            ],
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for label in ["first curve", "second curve"] {
            let at = svg.find(&format!(">\n{label}\n<")).expect(label);
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let x: f64 = tag
                .split("x=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|v| v.parse().ok())
                .expect("x attribute");
            assert!(x > f64::from(WIDTH - LEGEND_WIDTH), "{label} at x = {x}");
        }
        // Two hues, not two shades of one.
        assert!(svg.contains("#0072B2") && svg.contains("#D55E00"), "{svg}");
        assert!(svg.contains(">\nthe title\n<"));
    }

    /// The stroke colour of the legend sample drawn just before `label`.
    fn legend_colour<'a>(svg: &'a str, label: &str) -> &'a str {
        let at = svg.find(&format!(">\n{label}\n<")).expect(label);
        let from = svg[..at]
            .rfind("stroke=\"#")
            .expect("a stroke before the label")
            + 8;
        &svg[from..from + 7]
    }

    /// Hue of `#RRGGBB`, degrees.
    fn hue(hex: &str) -> f64 {
        let c = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
        let (r, g, b) = (c(1), c(3), c(5));
        let max = r.max(g).max(b);
        let d = max - r.min(g).min(b);
        assert!(d > 0.0, "{hex} is grey");
        let h = if max == r {
            ((g - b) / d).rem_euclid(6.0)
        } else if max == g {
            (b - r) / d + 2.0
        } else {
            (r - g) / d + 4.0
        };
        60.0 * h
    }

    #[test]
    fn a_runs_curves_have_contrasting_palette_colours() {
        let row = |kind, c50: f64| ObjectRow {
            kind,
            id: format!("{c50}"),
            origin: 0,
            start_ns: 0,
            holders: 4,
            live: 4,
            recorded: 4,
            c50_ms: Some(c50),
            c90_ms: Some(c50 * 1.5),
            c100_ms: Some(c50 * 2.0),
            eccentricity: Some(2),
            ideal_ms: Some(10.0),
            efficiency: Some(c50 / 5.0),
            lost: false,
        };
        let rows: Vec<ObjectRow> = [5.0, 8.0, 13.0]
            .into_iter()
            .flat_map(|t| [row(Kind::Tx, t), row(Kind::Block, 2.0 * t)])
            .collect();
        let kind = |k| {
            let of: Vec<&ObjectRow> = rows.iter().filter(|r| r.kind == k).collect();
            KindSummary::of(&of, of.len(), &[], 4)
        };
        let s = Summary {
            schema: crate::results::SCHEMA.into(),
            run_id: "palette".into(),
            relay: Relay::Announce,
            nodes: 4,
            live_nodes: 4,
            shaping: crate::results::Shaping {
                delay_ms: 5.0,
                ..Default::default()
            },
            graph: Default::default(),
            workload_s: 1.0,
            settle_s: 1.0,
            rates: None,
            txs: kind(Kind::Tx),
            blocks: kind(Kind::Block),
            redundancy: None,
            faults: Vec::new(),
            lost_ids: Vec::new(),
            memory: Default::default(),
            inflight_at_end: 0,
            cpu: None,
            notes: Vec::new(),
            ok: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdf.svg");
        write_cdf(&path, &rows, &s).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let tx_c50 = legend_colour(&svg, "tx c50 (half the nodes)");
        let tx_c100 = legend_colour(&svg, "tx c100 (all nodes)");
        let block_c50 = legend_colour(&svg, "block c50 (half the nodes)");
        let block_c100 = legend_colour(&svg, "block c100 (all nodes)");
        // Okabe–Ito: bluish green and blue for transactions, orange and
        // vermillion for blocks.
        assert_eq!(
            [tx_c50, tx_c100, block_c50, block_c100],
            ["#009E73", "#0072B2", "#E69F00", "#D55E00"],
            "{svg}"
        );
        // Each colour strokes its curve too, not only its legend sample.
        for c in [tx_c50, tx_c100, block_c50, block_c100] {
            assert!(svg.matches(&format!("stroke=\"{c}\"")).count() >= 2, "{c}");
        }
        // c50 and c100 differ in hue, not only in shade (they used to be
        // two blues), and so do transactions and blocks.
        let apart = |a: &str, b: &str| {
            let d = (hue(a) - hue(b)).abs();
            d.min(360.0 - d)
        };
        assert!(apart(tx_c50, tx_c100) >= 30.0, "{tx_c50} vs {tx_c100}");
        assert!(
            apart(block_c50, block_c100) >= 10.0,
            "{block_c50} vs {block_c100}"
        );
        assert!(apart(tx_c100, block_c100) >= 90.0);
    }
}
