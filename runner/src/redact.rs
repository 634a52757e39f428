//! Removes secret values from what the runner records: timeline events, errors, evidence.
//!
//! One implementation serves the runner's records and every log line: see
//! [`baton_telemetry::redact`].

pub use baton_telemetry::redact::{is_secret_name, Redactor, REDACTED};
