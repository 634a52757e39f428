//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout.
//!
//! On Lambda, CloudWatch Logs extracts the metrics from the function's log stream; in a
//! container the CloudWatch agent or Fluent Bit forwards stdout the same way. Writing a line
//! is all an emission costs: no API call, no batching thread, nothing on the hot path that can
//! block on the network.
//!
//! Every line has one metric directive in the `Baton` namespace, with the dimensions
//! `Service` plus at most one more (`Source`, `Reason`, `Outcome`, `Direction`).

use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::OnceLock;

/// The namespace every baton metric is published in.
pub const NAMESPACE: &str = "Baton";

/// Units used by baton's metrics (a subset of CloudWatch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Why a webhook was refused: the `Reason` dimension of `WebhooksRefused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    UnknownSource,
    PayloadTooLarge,
    BadSignature,
    Malformed,
    BackendUnavailable,
    DeliveryInProgress,
    /// The work item's state refused the request (an API action; webhooks never conflict).
    Conflict,
    /// The Content-Type is not one the source sends.
    UnsupportedMediaType,
    /// The memory budget for bodies waiting for verification was spent.
    Busy,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::UnknownSource => "unknown_source",
            RefusalReason::PayloadTooLarge => "payload_too_large",
            RefusalReason::BadSignature => "bad_signature",
            RefusalReason::Malformed => "malformed",
            RefusalReason::BackendUnavailable => "backend_unavailable",
            RefusalReason::DeliveryInProgress => "delivery_in_progress",
            RefusalReason::Conflict => "conflict",
            RefusalReason::UnsupportedMediaType => "unsupported_media_type",
            RefusalReason::Busy => "busy",
        }
    }
}

/// Builds one EMF document: `metrics` (name, unit, value) under the dimensions `Service` and
/// `dimensions`, stamped `timestamp_ms` (milliseconds since the epoch).
pub fn document(
    service: &str,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, Unit, f64)],
    timestamp_ms: i64,
) -> Value {
    let mut root = Map::new();
    let mut dimension_names = vec![Value::from("Service")];
    root.insert("Service".into(), Value::from(service));
    for (name, value) in dimensions {
        dimension_names.push(Value::from(*name));
        root.insert((*name).to_owned(), Value::from(*value));
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
        .collect();
    for (name, _, value) in metrics {
        root.insert((*name).to_owned(), json!(value));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimension_names],
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(root)
}

/// Where metrics go once [`configure`]d; nowhere before, so libraries and tests that never
/// set telemetry up write nothing.
struct Sink {
    service: String,
}

static SINK: OnceLock<Option<Sink>> = OnceLock::new();

/// Whether metrics are written, from `BATON_METRICS` (`on`/`off`), else on where something
/// collects stdout into CloudWatch: Lambda, ECS and Kubernetes.
pub fn enabled_by(lookup: impl Fn(&str) -> Option<String>) -> bool {
    match lookup("BATON_METRICS").map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if matches!(v.as_str(), "off" | "false" | "0" | "no") => false,
        Some(v) if matches!(v.as_str(), "on" | "true" | "1" | "yes") => true,
        _ => [
            "AWS_LAMBDA_FUNCTION_NAME",
            "ECS_CONTAINER_METADATA_URI_V4",
            "ECS_CONTAINER_METADATA_URI",
            "KUBERNETES_SERVICE_HOST",
        ]
        .iter()
        .any(|name| lookup(name).is_some()),
    }
}

/// Sets the process's metric sink once; later calls keep the first.
pub fn configure(service: &str, enabled: bool) {
    let _ = SINK.set(enabled.then(|| Sink {
        service: service.to_owned(),
    }));
}

/// Whether this process writes metrics.
pub fn is_enabled() -> bool {
    matches!(SINK.get(), Some(Some(_)))
}

fn emit(dimensions: &[(&str, &str)], metrics: &[(&str, Unit, f64)]) {
    let Some(Some(sink)) = SINK.get() else { return };
    let document = document(
        &sink.service,
        dimensions,
        metrics,
        chrono::Utc::now().timestamp_millis(),
    );
    let line = super::redact::redact_known(&document.to_string());
    let mut stdout = std::io::stdout().lock();
    // A metric that cannot be written is lost; the work it measures goes on.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// A webhook arrived for `source`.
pub fn webhook_received(source: &str) {
    emit(
        &[("Source", source)],
        &[("WebhooksReceived", Unit::Count, 1.0)],
    );
}

/// A webhook was answered with a 2xx.
pub fn webhook_accepted(source: &str) {
    emit(
        &[("Source", source)],
        &[("WebhooksAccepted", Unit::Count, 1.0)],
    );
}

/// A webhook was refused.
pub fn webhook_refused(reason: RefusalReason) {
    emit(
        &[("Reason", reason.as_str())],
        &[("WebhooksRefused", Unit::Count, 1.0)],
    );
}

/// From the webhook's arrival to the agent's start.
pub fn dispatch_latency(milliseconds: i64) {
    emit(
        &[],
        &[(
            "DispatchLatency",
            Unit::Milliseconds,
            milliseconds.max(0) as f64,
        )],
    );
}

/// A run ended with `outcome` (`succeeded`, `failed`, `cancelled`, `abandoned`).
pub fn run_outcome(outcome: &str) {
    emit(&[("Outcome", outcome)], &[("RunOutcome", Unit::Count, 1.0)]);
}

/// Tokens a run used, by direction.
pub fn tokens_used(input: u64, output: u64) {
    for (direction, count) in [("input", input), ("output", output)] {
        emit(
            &[("Direction", direction)],
            &[("TokensUsed", Unit::Count, count as f64)],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a document against the rules of the EMF specification: a root object whose
    /// `_aws` member holds a numeric `Timestamp` and `CloudWatchMetrics` directives; each
    /// directive a `Namespace`, `Dimensions` (arrays of at most 30 names, each naming a
    /// string member of the root) and `Metrics` (at most 100 definitions, each `Name`
    /// naming a numeric member of the root, with a valid `Unit`).
    fn assert_valid_emf(document: &Value) {
        let root = document.as_object().expect("the root is an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_i64(), "Timestamp is a number");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for directive in directives {
            let namespace = directive["Namespace"].as_str().expect("Namespace");
            assert!((1..=255).contains(&namespace.len()));
            for set in directive["Dimensions"].as_array().expect("Dimensions") {
                let names = set.as_array().expect("a dimension set is an array");
                assert!(names.len() <= 30);
                for name in names {
                    let name = name.as_str().expect("a dimension name is a string");
                    let value = root[name].as_str().expect("a dimension value is a string");
                    assert!((1..=1024).contains(&value.len()));
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name");
                assert!((1..=255).contains(&name.len()));
                assert!(root[name].is_number(), "{name} has a numeric value");
                let unit = metric["Unit"].as_str().expect("Unit");
                assert!(["Count", "Milliseconds"].contains(&unit));
            }
        }
    }

    #[test]
    fn documents_follow_the_emf_specification() {
        let doc = document(
            "baton-ingress",
            &[("Reason", "bad_signature")],
            &[("WebhooksRefused", Unit::Count, 1.0)],
            1_700_000_000_123,
        );
        assert_valid_emf(&doc);
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Baton",
                        "Dimensions": [["Service", "Reason"]],
                        "Metrics": [{ "Name": "WebhooksRefused", "Unit": "Count" }],
                    }],
                },
                "Service": "baton-ingress",
                "Reason": "bad_signature",
                "WebhooksRefused": 1.0,
            })
        );
    }

    #[test]
    fn a_document_without_extra_dimensions_is_valid() {
        let doc = document(
            "baton",
            &[],
            &[("DispatchLatency", Unit::Milliseconds, 842.0)],
            0,
        );
        assert_valid_emf(&doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Service"]])
        );
        assert_eq!(doc["DispatchLatency"], json!(842.0));
    }

    #[test]
    fn the_switch_and_the_environment_decide() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(!enabled_by(env(&[])));
        assert!(enabled_by(env(&[("AWS_LAMBDA_FUNCTION_NAME", "ingress")])));
        assert!(enabled_by(env(&[("ECS_CONTAINER_METADATA_URI_V4", "x")])));
        assert!(!enabled_by(env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "ingress"),
            ("BATON_METRICS", "off"),
        ])));
        assert!(enabled_by(env(&[("BATON_METRICS", "on")])));
    }
}
