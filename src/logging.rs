//! Logs: human-readable on a terminal, JSON lines everywhere else (containers, Lambda, CI).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// `default_level` applies unless `RUST_LOG` says otherwise.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let json = match std::env::var("BATON_LOG_FORMAT") {
        Ok(format) => format.eq_ignore_ascii_case("json"),
        Err(_) => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}
