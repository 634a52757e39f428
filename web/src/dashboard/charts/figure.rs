//! A chart as the page shows it: a `<figure>` with its caption, the SVG (an image with a
//! `<title>` and a `<desc>` for screen readers), a legend, and the numbers as a table, or a
//! sentence when there is nothing to draw.

use super::super::html::Html;
use super::frame::{Chart, HEIGHT, WIDTH};

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Bars, the series stacked.
    Stacked,
    /// A line per series.
    Lines,
}

pub(crate) fn figure(page: &mut Html, chart: &Chart, kind: Kind) {
    page.raw("<figure class=\"chart\" id=\"")
        .text(chart.id)
        .raw("\"><figcaption>")
        .text(chart.title)
        .raw("</figcaption>");
    if !chart.has_data() {
        page.raw("<p class=\"empty no-data\">")
            .text(chart.empty)
            .raw("</p></figure>");
        return;
    }
    page.raw("<svg role=\"img\" viewBox=\"0 0 ")
        .text(WIDTH)
        .raw(" ")
        .text(HEIGHT)
        .raw("\" aria-labelledby=\"")
        .text(chart.id)
        .raw("-title ")
        .text(chart.id)
        .raw("-desc\"><title id=\"")
        .text(chart.id)
        .raw("-title\">")
        .text(chart.title)
        .raw("</title><desc id=\"")
        .text(chart.id)
        .raw("-desc\">")
        .text(&chart.description)
        .raw("</desc>");
    match kind {
        Kind::Stacked => super::bars::draw(page, chart),
        Kind::Lines => super::lines::draw(page, chart),
    }
    page.raw("</svg>");
    legend(page, chart);
    table(page, chart);
    page.raw("</figure>");
}

fn legend(page: &mut Html, chart: &Chart) {
    page.raw("<ul class=\"legend\">");
    for series in &chart.series {
        page.raw("<li><span class=\"swatch c-")
            .text(series.colour)
            .raw("\"></span>")
            .text(series.name)
            .raw("</li>");
    }
    page.raw("</ul>");
}

/// The numbers behind the chart, one row per x position that has any; each cell carries
/// its raw value in `data-value` for machines.
fn table(page: &mut Html, chart: &Chart) {
    page.raw("<details><summary>Data</summary><table class=\"chart-data\"><thead><tr><th>")
        .text(chart.x_title)
        .raw("</th>");
    for series in &chart.series {
        page.raw("<th>").text(series.name).raw("</th>");
    }
    page.raw("</tr></thead><tbody>");
    for (index, label) in chart.x_labels.iter().enumerate() {
        let values: Vec<Option<f64>> = chart
            .series
            .iter()
            .map(|series| series.values.get(index).copied().flatten())
            .collect();
        if values.iter().all(|v| v.is_none_or(|v| v == 0.0)) {
            continue;
        }
        page.raw("<tr><th>").text(label).raw("</th>");
        for value in values {
            match value {
                Some(value) => page
                    .raw("<td data-value=\"")
                    .text(value)
                    .raw("\">")
                    .text((chart.format)(value))
                    .raw("</td>"),
                None => page.raw("<td>—</td>"),
            };
        }
        page.raw("</tr>");
    }
    page.raw("</tbody></table></details>");
}
