//! The SVG chart: the mean fraction of sites reached over time, one line per algorithm.
//!
//! The x axis is in gossip periods so that every algorithm fits one chart: cycles for
//! anti-entropy and rumor mongering, periods for the fan-out relay, and
//! `time / heartbeat` for the mesh (whose eager push usually finishes within the first
//! heartbeat). plotters' SVG backend writes text as `<text>` elements and, without its
//! `ttf` feature, never loads a font, so this works on machines without fonts.

use plotters::prelude::*;
use thiserror::Error;

use super::runner::Report;

/// Why the chart could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlotError {
    /// plotters reported a drawing error.
    #[error("cannot draw the chart: {0}")]
    Draw(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Renders the comparison chart as an SVG document.
///
/// # Errors
///
/// [`PlotError::Draw`] if plotters fails (not expected with the string backend).
pub fn render_svg(report: &Report) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 650)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let x_max = report
            .summaries
            .iter()
            .map(|s| s.curve.len().saturating_sub(1) as f64 * s.curve_period_step)
            .fold(1.0f64, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Fraction of {} sites reached (mean of {} trial(s), seed {})",
                    report.params.nodes(),
                    report.params.trials(),
                    report.params.seed()
                ),
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max * 1.02, 0f64..1.02f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_max_light_lines(1)
            .y_max_light_lines(1)
            .x_desc("gossip period (cycles; mesh: time / heartbeat)")
            .y_desc("fraction of sites reached")
            .draw()
            .map_err(draw_err)?;
        for (i, s) in report.summaries.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let step = s.curve_period_step;
            let points: Vec<(f64, f64)> = s
                .curve
                .iter()
                .enumerate()
                .map(|(j, &f)| (j as f64 * step, f))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(draw_err)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}
