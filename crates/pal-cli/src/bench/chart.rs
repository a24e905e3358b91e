//! Throughput against concurrency, one panel per operation, one line per
//! contestant, as SVG (no fonts needed to draw it).

use plotters::prelude::*;

use super::report::Report;

const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

pub(super) fn svg(report: &Report) -> String {
    let ops = report.ops();
    let mut svg = String::new();
    {
        let rows = ops.len().div_ceil(2).max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (1000, 360 * rows)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let panels = root.split_evenly((rows as usize, 2));
        for (op, area) in ops.iter().zip(panels.iter()) {
            let _ = panel(report, *op, area);
        }
        let _ = root.present();
    }
    svg
}

/// Draws one panel; a drawing error leaves it incomplete, never stops the report.
fn panel(
    report: &Report,
    op: super::Op,
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let concurrencies = report.concurrencies(op);
    let (lo, hi) = (*concurrencies.first().unwrap_or(&1) as f64, *concurrencies.last().unwrap_or(&1) as f64);
    let top = report.points.iter().filter(|p| p.op == op).map(|p| p.ops_per_sec).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: ops/s by concurrent tasks", op.name()), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d((lo.max(1.0)..hi.max(lo + 1.0) * 1.05).log_scale(), 0f64..top)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc("tasks")
        .y_desc("ops/s")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .draw()
        .map_err(|x| e(&x))?;
    for (i, name) in report.contestants(op).iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let series: Vec<(f64, f64)> = concurrencies
            .iter()
            .filter_map(|c| report.point(op, *c, name).map(|p| (*c as f64, p.ops_per_sec)))
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(series.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|x| e(&x))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw().map_err(|x| e(&x))?;
    Ok(())
}
