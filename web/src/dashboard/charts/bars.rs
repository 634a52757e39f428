//! Stacked bars: one bar per x position, its series stacked bottom up in legend order.

use super::super::html::Html;
use super::frame::{axes, coordinate, slot, Chart, Scale};

pub(super) fn draw(svg: &mut Html, chart: &Chart) {
    let count = chart.points();
    let totals: Vec<f64> = (0..count)
        .map(|index| {
            chart
                .series
                .iter()
                .filter_map(|series| series.values.get(index).copied().flatten())
                .sum()
        })
        .collect();
    let scale = Scale::covering(totals.iter().copied().fold(0.0, f64::max));
    axes(svg, chart, &scale);
    for index in 0..count {
        let (x, width) = slot(index, count);
        let mut base = 0.0;
        for series in &chart.series {
            let value = series.values.get(index).copied().flatten().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let (top, bottom) = (scale.y(base + value), scale.y(base));
            svg.raw("<rect class=\"c-")
                .text(series.colour)
                .raw("\" x=\"")
                .text(coordinate(x + width * 0.15))
                .raw("\" width=\"")
                .text(coordinate(width * 0.7))
                .raw("\" y=\"")
                .text(coordinate(top))
                .raw("\" height=\"")
                .text(coordinate(bottom - top))
                .raw("\"><title>")
                .text(&chart.x_labels[index])
                .raw(": ")
                .text(series.name)
                .raw(" ")
                .text((chart.format)(value))
                .raw("</title></rect>");
            base += value;
        }
    }
}
