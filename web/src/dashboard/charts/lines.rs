//! Lines: one per series, through the middle of each x slot; a missing value breaks the
//! line, and a lone value shows as a dot.

use super::super::html::Html;
use super::frame::{axes, coordinate, slot, Chart, Scale};

pub(super) fn draw(svg: &mut Html, chart: &Chart) {
    let count = chart.points();
    let top = chart
        .series
        .iter()
        .flat_map(|series| series.values.iter().flatten().copied())
        .fold(0.0, f64::max);
    let scale = Scale::covering(top);
    axes(svg, chart, &scale);
    for series in &chart.series {
        let point = |index: usize, value: f64| {
            let (x, width) = slot(index, count);
            (x + width / 2.0, scale.y(value))
        };
        // Runs of consecutive values, each drawn as one polyline.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut current = Vec::new();
        for (index, value) in series.values.iter().enumerate() {
            match value {
                Some(value) => current.push(point(index, *value)),
                None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
                None => {}
            }
        }
        if !current.is_empty() {
            runs.push(current);
        }
        for run in runs {
            if let [(x, y)] = run[..] {
                svg.raw("<circle class=\"c-")
                    .text(series.colour)
                    .raw("\" r=\"3\" cx=\"")
                    .text(coordinate(x))
                    .raw("\" cy=\"")
                    .text(coordinate(y))
                    .raw("\"/>");
                continue;
            }
            svg.raw("<polyline class=\"line c-")
                .text(series.colour)
                .raw("\" points=\"");
            for (x, y) in run {
                svg.text(coordinate(x))
                    .raw(",")
                    .text(coordinate(y))
                    .raw(" ");
            }
            svg.raw("\"/>");
        }
    }
}
