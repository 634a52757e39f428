//! Logs, redaction and metrics, set up the same way by every baton binary.
//!
//! [`init`] installs the process's log subscriber: JSON lines (see [`format::JsonLines`])
//! unless stderr is a terminal, where a compact human-readable form is easier to read
//! (`BATON_LOG_FORMAT=json|text` overrides the guess). Every line, whichever the format,
//! passes through [`writer::RedactingWriter`], which replaces every secret the process
//! knows of ([`redact`]). Metrics go to stdout as CloudWatch Embedded Metric Format lines
//! ([`metrics`]).

pub mod format;
pub mod metrics;
pub mod redact;
pub mod writer;

use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// `BATON_LOG_FORMAT` (`json` or `text`) if set, else text on a terminal and JSON
    /// everywhere else (containers, Lambda, CI, a test reading the output).
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>, stderr_is_terminal: bool) -> Self {
        match lookup("BATON_LOG_FORMAT").map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) if v == "text" => LogFormat::Text,
            _ if stderr_is_terminal => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// Whether this process runs on Lambda, where CloudWatch stamps every line itself.
pub fn on_lambda(lookup: &impl Fn(&str) -> Option<String>) -> bool {
    lookup("AWS_LAMBDA_FUNCTION_NAME").is_some() || lookup("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Sets up logs, redaction and metrics for the process `service` (`baton`, `baton-ingress`,
/// ...). `default_level` applies unless `RUST_LOG` says otherwise. Calling it again (in a
/// test, say) keeps the first set-up.
pub fn init(service: &str, default_level: &str) {
    let lookup = |name: &str| std::env::var(name).ok();
    // Secret-looking environment values are known before the first line is written.
    redact::remember(redact::process_env_secret_values());
    metrics::configure(service, metrics::enabled_by(lookup));
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let timestamps = !on_lambda(&lookup);
    let writer = writer::RedactingWriter::new(std::io::stderr);
    let terminal = std::io::stderr().is_terminal();
    let installed = match LogFormat::from_env(&lookup, terminal) {
        LogFormat::Json => Registry::default()
            .with(filter)
            .with(format::SpanFieldsLayer)
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(format::JsonLines {
                        service: service.to_owned(),
                        timestamps,
                    })
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Text => {
            let layer = tracing_subscriber::fmt::layer()
                .compact()
                .with_ansi(terminal)
                .with_writer(writer);
            if timestamps {
                Registry::default().with(filter).with(layer).try_init()
            } else {
                Registry::default()
                    .with(filter)
                    .with(layer.without_time())
                    .try_init()
            }
        }
    };
    // Already set up: the first set-up stays, which is what a second call wants.
    drop(installed);
}

#[cfg(test)]
mod tests;
