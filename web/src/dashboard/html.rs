//! The dashboard's HTML: one escaping function, a builder that only takes dynamic text
//! through it, the page layout with its inline CSS, and the formatting every page shares.
//!
//! Issue titles, bodies, agent messages and command output are untrusted: every dynamic
//! string goes through [`Html::text`] (or [`escape`]); [`Html::raw`] only takes `'static`
//! markup written in this crate.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use baton_core::domain::TokenTotals;
use chrono::{DateTime, Utc};
use std::fmt::{Display, Write};

/// How often pages of live work reload themselves, in seconds.
pub const REFRESH_SECONDS: u32 = 5;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markup under construction: static markup goes in raw, everything else escaped.
#[derive(Debug, Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Self {
        Self::default()
    }

    /// Markup written in this crate; never anything read from a request or the store.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Any value, escaped.
    pub fn text(&mut self, value: impl Display) -> &mut Self {
        // Formatting into a String cannot fail.
        let mut plain = String::new();
        let _ = write!(plain, "{value}");
        self.0.push_str(&escape(&plain));
        self
    }

    /// Another fragment built with this type (so already escaped).
    pub fn fragment(&mut self, other: Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    /// `<a href="{href}">{label}</a>` for a path of this dashboard.
    pub fn link(&mut self, href: &str, label: impl Display) -> &mut Self {
        self.raw("<a href=\"")
            .text(href)
            .raw("\">")
            .text(label)
            .raw("</a>")
    }

    /// A link to somewhere else (a tracker, a pull request). Only `http(s)` addresses become
    /// links: a `javascript:` URL in a webhook payload stays inert text.
    pub fn external_link(&mut self, url: &str, label: impl Display) -> &mut Self {
        if is_web_url(url) {
            self.raw("<a rel=\"noopener noreferrer\" href=\"")
                .text(url)
                .raw("\">")
                .text(label)
                .raw("</a>")
        } else {
            self.text(label)
        }
    }

    /// `<span class="status {status}">{status}</span>`; `status` is one of baton's own
    /// snake_case status names, still escaped.
    pub fn status(&mut self, status: &str) -> &mut Self {
        self.raw("<span class=\"status ")
            .text(status)
            .raw("\">")
            .text(status.replace('_', " "))
            .raw("</span>")
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

pub use baton_core::links::issue_path;

/// The dashboard path of a run.
pub fn run_path(run_id: &impl Display) -> String {
    format!("/runs/{run_id}")
}

/// A timestamp as people read it: `2026-03-01 12:00:05 UTC`.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time of day with milliseconds, for timeline entries.
pub fn clock_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

/// A span as people read it: `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 01 min`; `—` when the
/// end is before the start (clocks of two machines).
pub fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let millis = (to - from).num_milliseconds();
    if millis < 0 {
        return "—".to_owned();
    }
    let seconds = millis / 1000;
    if millis < 1000 {
        format!("{millis} ms")
    } else if seconds < 60 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else if seconds < 3600 {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    } else {
        format!("{} h {:02} min", seconds / 3600, (seconds % 3600) / 60)
    }
}

/// A count with thousands separators: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1,200 in · 300 out · 1,500 total`.
pub fn tokens(tokens: TokenTotals) -> String {
    format!(
        "{} in · {} out · {} total",
        count(tokens.input_tokens),
        count(tokens.output_tokens),
        count(tokens.total_tokens)
    )
}

/// A whole page: the layout around `body`. `refresh` adds the self-reload for live work.
pub fn page(title: &str, refresh: bool, body: Html) -> String {
    let mut html = Html::new();
    html.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    if refresh {
        html.raw("<meta http-equiv=\"refresh\" content=\"")
            .text(REFRESH_SECONDS)
            .raw("\">");
    }
    html.raw("<title>")
        .text(title)
        .raw(" · baton</title><style>")
        .raw(CSS)
        .raw("</style></head><body><header><a class=\"brand\" href=\"/\">baton</a>")
        .raw("<span class=\"where\">")
        .text(title)
        .raw("</span></header><main>")
        .fragment(body)
        .raw("</main></body></html>\n");
    html.into_string()
}

/// Small and inline: no build step, no second request, nothing to cache-bust.
const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1d232a;--muted:#65707c;--line:#d8dee4;--bg:#fff;--panel:#f6f8fa;\
--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--live:#0969da}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--bg:#0d1117;--panel:#161b22}}\
body{margin:0;font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}\
header{display:flex;gap:1em;align-items:baseline;padding:.6em 1.5em;border-bottom:1px solid var(--line);background:var(--panel)}\
.brand{font-weight:700;font-size:1.2em;text-decoration:none;color:var(--fg)}.where{color:var(--muted)}\
main{padding:1em 1.5em;max-width:1400px}h1{font-size:1.4em;margin:.2em 0 .5em}h2{font-size:1.15em;margin:1.4em 0 .4em}\
h3{font-size:1em;margin:1em 0 .3em}a{color:var(--live)}\
table{border-collapse:collapse;width:100%;margin:.3em 0 1em}th,td{text-align:left;vertical-align:top;padding:.3em .6em;border-bottom:1px solid var(--line)}\
th{color:var(--muted);font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0 1em}\
dt{color:var(--muted)}dd{margin:0}.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.5em 0 1em}\
.card{border:1px solid var(--line);border-radius:6px;padding:.4em .8em;background:var(--panel);min-width:7em}\
.card b{display:block;font-size:1.5em}.muted,.empty{color:var(--muted)}\
.status{display:inline-block;padding:0 .5em;border-radius:1em;border:1px solid currentColor;font-size:.85em;white-space:nowrap}\
.succeeded,.completed{color:var(--ok)}.failed,.dead_lettered,.crashed,.stalled,.timed_out{color:var(--bad)}\
.retrying,.awaiting_approval,.awaiting_input,.cancelled,.abandoned,.interrupted{color:var(--warn)}.running,.queued{color:var(--live)}\
.error{color:var(--bad)}pre{margin:.2em 0;padding:.4em .6em;background:var(--panel);border-radius:4px;white-space:pre-wrap;word-break:break-word;max-height:24em;overflow:auto}\
.run{border:1px solid var(--line);border-radius:6px;padding:.2em 1em .6em;margin:1em 0}\
.timeline td.kind{white-space:nowrap;font-family:ui-monospace,monospace}.timeline td.at{white-space:nowrap;color:var(--muted)}\
code{font-family:ui-monospace,monospace}\
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1em}\
.chart{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5em .8em;background:var(--panel)}\
.chart figcaption{font-weight:600}.chart svg{width:100%;height:auto;display:block}\
.chart .grid{stroke:var(--line)}.chart .tick,.chart .title{fill:var(--muted);font-size:11px}\
.chart .line{fill:none;stroke-width:2}.legend{list-style:none;display:flex;gap:1em;margin:.2em 0;padding:0}\
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border-radius:2px}\
.c-ok{fill:var(--ok);stroke:var(--ok);background:var(--ok)}.c-bad{fill:var(--bad);stroke:var(--bad);background:var(--bad)}\
.c-warn{fill:var(--warn);stroke:var(--warn);background:var(--warn)}.c-muted{fill:var(--muted);stroke:var(--muted);background:var(--muted)}\
.c-live{fill:var(--live);stroke:var(--live);background:var(--live)}\
.chart-data td,.chart-data th{padding:.1em .5em}";

/// An HTML response with the headers every dashboard page carries: no caching (the pages
/// are live), no sniffing, no framing, and a policy that runs no script at all, so markup
/// that slipped through could still not execute.
pub fn respond(status: StatusCode, document: String) -> Response {
    let mut response = (status, document).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}
