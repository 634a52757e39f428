//! What every chart shares: the data it draws, the plot area, the y scale with its ticks,
//! and the axes with their labels. Numbers go into the markup through [`Html::text`] like
//! everything else, so a chart can carry no markup but this module's.

use super::super::html::Html;

/// Plot geometry, in SVG user units (the SVG scales to its container).
pub(super) const WIDTH: f64 = 640.0;
pub(super) const HEIGHT: f64 = 220.0;
pub(super) const LEFT: f64 = 64.0;
pub(super) const RIGHT: f64 = 12.0;
pub(super) const TOP: f64 = 12.0;
pub(super) const BOTTOM: f64 = 44.0;

/// One named series: a value per x position (`None`: no value there).
pub(crate) struct Series {
    pub name: &'static str,
    /// Its colour: `ok`, `bad`, `warn`, `live` or `muted` (a CSS class `c-<colour>`).
    pub colour: &'static str,
    pub values: Vec<Option<f64>>,
}

/// A chart's data and its words.
pub(crate) struct Chart {
    /// `id` of the figure (and prefix of its title and description ids).
    pub id: &'static str,
    pub title: &'static str,
    /// One sentence for screen readers: what is drawn, over which span.
    pub description: String,
    pub x_title: &'static str,
    pub y_title: &'static str,
    /// A label per x position.
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    /// How a value reads (`3`, `1.2 s`, `$0.41`).
    pub format: fn(f64) -> String,
    /// What replaces the chart when no series has a value.
    pub empty: &'static str,
}

impl Chart {
    pub(super) fn points(&self) -> usize {
        self.x_labels.len()
    }

    pub(super) fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|series| series.values.iter().any(|v| v.is_some_and(|v| v > 0.0)))
    }
}

/// The y scale: 0 at the bottom of the plot, `max` (a round number) at the top.
pub(super) struct Scale {
    pub max: f64,
}

impl Scale {
    /// The smallest 1, 2 or 5 × 10^k at or above `value` (1 for nothing).
    pub fn covering(value: f64) -> Self {
        if value.is_nan() || value <= 0.0 {
            return Self { max: 1.0 };
        }
        let magnitude = 10f64.powf(value.log10().floor());
        let max = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|step| step * magnitude)
            .find(|candidate| *candidate >= value)
            .unwrap_or(10.0 * magnitude);
        Self { max }
    }

    /// The y coordinate of `value`.
    pub fn y(&self, value: f64) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - (value / self.max).clamp(0.0, 1.0) * plot
    }
}

/// The x coordinate of the left edge of slot `index` of `count`, and the slot's width.
pub(super) fn slot(index: usize, count: usize) -> (f64, f64) {
    let width = (WIDTH - LEFT - RIGHT) / count.max(1) as f64;
    (LEFT + index as f64 * width, width)
}

/// A coordinate with one decimal: plenty for a 640-unit drawing, and short.
pub(super) fn coordinate(value: f64) -> String {
    format!("{value:.1}")
}

/// The gridlines with their y labels, the x labels (about six of them), and both axis titles.
pub(super) fn axes(svg: &mut Html, chart: &Chart, scale: &Scale) {
    svg.raw("<g class=\"axis\">");
    for step in 0..=4 {
        let value = scale.max * f64::from(step) / 4.0;
        let y = coordinate(scale.y(value));
        svg.raw("<line class=\"grid\" x1=\"")
            .text(coordinate(LEFT))
            .raw("\" x2=\"")
            .text(coordinate(WIDTH - RIGHT))
            .raw("\" y1=\"")
            .text(&y)
            .raw("\" y2=\"")
            .text(&y)
            .raw("\"/><text class=\"tick\" text-anchor=\"end\" x=\"")
            .text(coordinate(LEFT - 6.0))
            .raw("\" y=\"")
            .text(&y)
            .raw("\" dy=\"4\">")
            .text((chart.format)(value))
            .raw("</text>");
    }
    let count = chart.points();
    let every = count.div_ceil(6).max(1);
    for (index, label) in chart.x_labels.iter().enumerate() {
        if index % every != 0 {
            continue;
        }
        let (x, width) = slot(index, count);
        svg.raw("<text class=\"tick\" text-anchor=\"middle\" x=\"")
            .text(coordinate(x + width / 2.0))
            .raw("\" y=\"")
            .text(coordinate(HEIGHT - BOTTOM + 16.0))
            .raw("\">")
            .text(label)
            .raw("</text>");
    }
    svg.raw("<text class=\"title\" text-anchor=\"middle\" x=\"")
        .text(coordinate((LEFT + WIDTH - RIGHT) / 2.0))
        .raw("\" y=\"")
        .text(coordinate(HEIGHT - 6.0))
        .raw("\">")
        .text(chart.x_title)
        .raw("</text><text class=\"title\" text-anchor=\"middle\" transform=\"rotate(-90)\" x=\"")
        .text(coordinate(-(TOP + (HEIGHT - TOP - BOTTOM) / 2.0)))
        .raw("\" y=\"14\">")
        .text(chart.y_title)
        .raw("</text></g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_round_numbers() {
        assert_eq!(Scale::covering(0.0).max, 1.0);
        assert_eq!(Scale::covering(3.0).max, 5.0);
        assert_eq!(Scale::covering(11.0).max, 20.0);
        assert_eq!(Scale::covering(0.042).max, 0.05);
        assert_eq!(Scale::covering(5000.0).max, 5000.0);
        let scale = Scale::covering(10.0);
        assert_eq!(scale.y(0.0), HEIGHT - BOTTOM);
        assert_eq!(scale.y(10.0), TOP);
    }
}
