//! Aligned text tables and the cell formats they share (times, durations, token counts).

use chrono::{DateTime, Utc};

/// Columns are separated by this many spaces.
const GAP: usize = 2;

/// A table printed with every column as wide as its widest cell.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra ones are dropped. Cells are made safe
    /// for a terminal (see [`clean`]); an empty one shows as `-`.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells
            .into_iter()
            .map(|cell| {
                let cell = clean(&cell);
                if cell.is_empty() {
                    "-".to_owned()
                } else {
                    cell
                }
            })
            .collect();
        cells.resize(self.headers.len(), "-".to_owned());
        self.rows.push(cells);
    }

    /// The header line and the rows, each ending in a newline; no trailing spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (column, cell) in row.iter().enumerate() {
                widths[column] = widths[column].max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (column, cell) in line.iter().enumerate() {
                text.push_str(cell);
                if column + 1 < line.len() {
                    let pad = widths[column] - width(cell) + GAP;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Display width, counted in characters (issue titles are mostly narrow scripts; a wide one
/// shifts its row, it does not break the table).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// One line with no control characters: issue titles, errors and agent messages are
/// untrusted text, and an escape sequence in them must not reach the terminal.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_was_space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_was_space {
            continue;
        }
        last_was_space = c == ' ';
        out.push(c);
    }
    out.trim().to_owned()
}

/// At most `max` characters, the cut marked with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// `2026-11-24 04:38:54` (UTC, as the API records it).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `04:38:54.123` (UTC): a timeline's entries are seconds apart.
pub fn time_of_day(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

/// `850ms`, `3.2s`, `4m05s`, `2h03m`, `3d04h`.
pub fn duration(span: chrono::TimeDelta) -> String {
    let millis = span.num_milliseconds().max(0);
    let seconds = millis / 1000;
    match seconds {
        0 => format!("{millis}ms"),
        1..=59 => format!("{}.{}s", seconds, (millis % 1000) / 100),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3600..=86_399 => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, (seconds % 86_400) / 3600),
    }
}

/// `5s ago`, `in 2m00s`: `at` seen from `now`, whole seconds.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let whole = |s: i64| duration(chrono::TimeDelta::seconds(s)).replace(".0s", "s");
    if seconds >= 0 {
        format!("{} ago", whole(seconds))
    } else {
        format!("in {}", whole(-seconds))
    }
}

/// `1,234,567`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn columns_align_on_the_widest_cell_and_blank_cells_show_a_dash() {
        let mut table = Table::new(&["KEY", "STATUS", "ERROR"]);
        table.row(vec![
            "github:acme/app#1".into(),
            "running".into(),
            "".into(),
        ]);
        table.row(vec!["a".into(), "failed".into(), "turn timed out".into()]);
        assert_eq!(
            table.render(),
            "KEY                STATUS   ERROR\n\
             github:acme/app#1  running  -\n\
             a                  failed   turn timed out\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(clean("evil\x1b[31m title\n\tnext"), "evil [31m title next");
        let mut table = Table::new(&["TITLE"]);
        table.row(vec!["\x1b]0;owned\x07".into()]);
        assert!(!table.render().contains('\x1b'));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("héllo wörld", 7), "héllo…");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        let ms = chrono::TimeDelta::milliseconds;
        assert_eq!(duration(ms(850)), "850ms");
        assert_eq!(duration(ms(3_250)), "3.2s");
        assert_eq!(duration(ms(245_000)), "4m05s");
        assert_eq!(duration(ms(7_380_000)), "2h03m");
        assert_eq!(duration(ms(273_600_000)), "3d04h");
        assert_eq!(duration(ms(-5)), "0ms");
    }

    #[test]
    fn times_are_utc_and_relative_ones_say_which_way() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 4, 38, 54)
            .single()
            .expect("time");
        assert_eq!(timestamp(at), "2026-11-24 04:38:54");
        assert_eq!(time_of_day(at), "04:38:54.000");
        let later = at + chrono::TimeDelta::seconds(5);
        assert_eq!(relative(at, later), "5s ago");
        assert_eq!(
            relative(later + chrono::TimeDelta::seconds(115), at),
            "in 2m00s"
        );
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_500), "1,500");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
