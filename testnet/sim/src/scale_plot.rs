//! `scale.svg`: a scale run against the number of nodes (log axis), in
//! three panels sharing it: coverage times measured and simulated, p99
//! efficiency, and each node's CPU with the machine's busy share. Runs whose
//! machine was CPU-saturated are ringed, so the machine's limit is not read
//! as the protocol's.

use std::path::Path;

use plotters::prelude::*;

use crate::cdf::{
    BLUE, Curve, DASH, GAP, GREEN, GREY, HEIGHT, LEGEND_WIDTH, ORANGE, PURPLE, Stroke, VERMILLION,
    WIDTH, legend, plot_err,
};
use crate::results_io::ResultsError;
use crate::scale::{Scale, ScaleRow};

/// Height of each of the two lower panels, pixels.
const PANEL: u32 = 210;

fn curve(label: String, color: RGBColor, stroke: Stroke) -> Curve {
    Curve {
        label,
        values: Vec::new(),
        of: 0,
        color,
        stroke,
    }
}

/// The points of one column, (n, value).
fn column(s: &Scale, pick: fn(&ScaleRow) -> Option<f64>) -> Vec<(f64, f64)> {
    s.rows
        .iter()
        .filter_map(|r| {
            pick(r)
                .filter(|v| v.is_finite())
                .map(|v| (r.nodes as f64, v))
        })
        .collect()
}

/// Draws `pts` on `chart` as `c` strokes it.
fn series<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: Vec<(f64, f64)>,
    c: &Curve,
) -> Result<(), ResultsError>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let marks = pts.clone();
    match c.stroke {
        Stroke::Solid | Stroke::Thin => chart
            .draw_series(LineSeries::new(pts, c.style()))
            .map(|_| ()),
        Stroke::Dashed => chart
            .draw_series(DashedLineSeries::new(pts, DASH, GAP, c.style()))
            .map(|_| ()),
    }
    .map_err(plot_err)?;
    if c.stroke != Stroke::Thin {
        chart
            .draw_series(
                marks
                    .into_iter()
                    .map(|p| Circle::new(p, 3, c.color.filled())),
            )
            .map_err(plot_err)?;
    }
    Ok(())
}

/// `scale.svg` (see the module docs).
///
/// # Errors
/// [`ResultsError::Plot`].
pub fn write_scale(path: &Path, s: &Scale) -> Result<(), ResultsError> {
    let nmin = s.rows.iter().map(|r| r.nodes).min().unwrap_or(1).max(1) as f64;
    let nmax = s.rows.iter().map(|r| r.nodes).max().unwrap_or(2).max(2) as f64;
    let (xlo, xhi) = (nmin / 1.2, nmax * 1.2);
    // The axis is labelled at the node counts run, not at powers of ten.
    let ticks: Vec<f64> = s.rows.iter().map(|r| r.nodes as f64).collect();
    let x = || (xlo..xhi).log_scale().with_key_points(ticks.clone());
    let latency_cols: [fn(&ScaleRow) -> Option<f64>; 6] = [
        |r| r.c100_p99_ms,
        |r| r.c100_p50_ms,
        |r| r.c50_p50_ms,
        |r| r.sim_c100_p99_ms,
        |r| r.sim_c100_p50_ms,
        |r| r.ideal_p99_ms,
    ];
    let ymax = latency_cols
        .iter()
        .flat_map(|f| column(s, *f))
        .map(|(_, v)| v)
        .fold(100.0f64, f64::max)
        * 1.5;
    let root = SVGBackend::new(path, (WIDTH, HEIGHT + 2 * PANEL)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, body) = root.split_vertically(52);
    top.draw(&Text::new(
        format!(
            "Scale: {} relay, {} txs at {:.0} tx/s, {:.0} ms links, degree {}",
            s.relay.as_str(),
            s.txs,
            s.tx_rate,
            s.link_delay_ms,
            s.degree
        ),
        (16, 8),
        ("sans-serif", 22),
    ))
    .map_err(plot_err)?;
    top.draw(&Text::new(
        format!(
            "{} · measured on {} cores (ringed: CPU-saturated) beside rumor-sim's relay-driven prediction",
            s.id, s.cores
        ),
        (16, 34),
        ("sans-serif", 14).into_font().color(&GREY),
    ))
    .map_err(plot_err)?;
    let (plots, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
    let (upper, rest) = plots.split_vertically(HEIGHT - 52);
    let (middle, lower) = rest.split_vertically(PANEL);

    let mut lat = ChartBuilder::on(&upper)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x(), (10.0..ymax).log_scale())
        .map_err(plot_err)?;
    lat.configure_mesh()
        .y_desc("tx coverage time (ms, log)")
        .max_light_lines(1)
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    let curves = [
        curve("c100 p99".into(), BLUE, Stroke::Solid),
        curve("c100 p50".into(), BLUE, Stroke::Dashed),
        curve("c50 p50".into(), GREEN, Stroke::Dashed),
        curve("simulated c100 p99".into(), ORANGE, Stroke::Solid),
        curve("simulated c100 p50".into(), ORANGE, Stroke::Dashed),
        curve("ideal c100 p99".into(), GREY, Stroke::Thin),
    ];
    for (c, pick) in curves.iter().zip(latency_cols) {
        series(&mut lat, column(s, pick), c)?;
    }
    let mut legend_curves: Vec<Curve> = curves.into_iter().collect();
    if let Some(fit) = s.fit_measured(false) {
        let c = curve(
            format!("fit {:.0} + {:.0} ln n", fit.a, fit.b),
            BLUE,
            Stroke::Thin,
        );
        let pts: Vec<(f64, f64)> = (0..=40)
            .map(|k| nmin * (nmax / nmin).powf(f64::from(k) / 40.0))
            .map(|n| (n, fit.at(n).max(10.0)))
            .collect();
        series(&mut lat, pts, &c)?;
        legend_curves.push(c);
    }
    let saturated: Vec<(f64, f64)> = s
        .rows
        .iter()
        .filter(|r| r.saturated)
        .filter_map(|r| r.c100_p99_ms.map(|v| (r.nodes as f64, v)))
        .collect();
    lat.draw_series(
        saturated
            .iter()
            .map(|p| Circle::new(*p, 9, VERMILLION.stroke_width(2))),
    )
    .map_err(plot_err)?;

    let emax = column(s, |r| r.efficiency_p99)
        .into_iter()
        .chain(column(s, |r| r.sim_efficiency_p99))
        .map(|(_, v)| v)
        .fold(2.0f64, f64::max)
        * 1.1;
    let mut eff = ChartBuilder::on(&middle)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x(), 0.0..emax)
        .map_err(plot_err)?;
    eff.configure_mesh()
        .y_desc("c100 p99 / ideal")
        .max_light_lines(1)
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    let eff_curves = [
        curve("efficiency p99".into(), VERMILLION, Stroke::Solid),
        curve("simulated efficiency p99".into(), ORANGE, Stroke::Dashed),
    ];
    series(&mut eff, column(s, |r| r.efficiency_p99), &eff_curves[0])?;
    series(
        &mut eff,
        column(s, |r| r.sim_efficiency_p99),
        &eff_curves[1],
    )?;
    legend_curves.extend(eff_curves);

    let cmax = column(s, |r| r.machine_busy_pct)
        .into_iter()
        .chain(column(s, |r| r.node_cpu_ms_per_s))
        .map(|(_, v)| v)
        .fold(10.0f64, f64::max)
        * 1.1;
    let mut cpu = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x(), 0.0..cmax)
        .map_err(plot_err)?;
    cpu.configure_mesh()
        .x_desc("nodes (log)")
        .y_desc("ms/s · %")
        .max_light_lines(1)
        .label_style(("sans-serif", 14))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(plot_err)?;
    let cpu_curves = [
        curve("CPU per node (ms/s)".into(), PURPLE, Stroke::Solid),
        curve("machine busy (%)".into(), GREY, Stroke::Dashed),
    ];
    series(&mut cpu, column(s, |r| r.node_cpu_ms_per_s), &cpu_curves[0])?;
    series(&mut cpu, column(s, |r| r.machine_busy_pct), &cpu_curves[1])?;
    legend_curves.extend(cpu_curves);
    legend(&legend_area, &legend_curves)?;
    root.present().map_err(plot_err)
}
