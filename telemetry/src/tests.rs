use super::format::{JsonLines, SpanFieldsLayer};
use super::writer::RedactingWriter;
use super::{on_lambda, redact, LogFormat};
use serde_json::Value;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Registry;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("every line is JSON"))
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn json_subscriber(captured: &Captured, timestamps: bool) -> impl tracing::Subscriber {
    let sink = captured.clone();
    Registry::default().with(SpanFieldsLayer).with(
        tracing_subscriber::fmt::layer()
            .event_format(JsonLines {
                service: "baton-test".into(),
                timestamps,
            })
            .with_writer(RedactingWriter::new(move || sink.clone())),
    )
}

#[test]
fn lines_carry_the_fields_of_every_enclosing_span() {
    let captured = Captured::default();
    tracing::subscriber::with_default(json_subscriber(&captured, false), || {
        let job = tracing::info_span!("job", work_item = "github:o/r#1", delivery_id = "d-1");
        let _job = job.enter();
        let run = tracing::info_span!("run", run_id = "run-7", session_id = tracing::field::Empty);
        let _run = run.enter();
        tracing::info!(turn = 1, "before the session");
        run.record("session_id", "thread-42");
        tracing::warn!("after the session started");
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["work_item"], "github:o/r#1");
    assert_eq!(lines[0]["delivery_id"], "d-1");
    assert_eq!(lines[0]["run_id"], "run-7");
    assert_eq!(lines[0]["turn"], 1);
    assert_eq!(lines[0]["message"], "before the session");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["service"], "baton-test");
    assert!(lines[0].get("session_id").is_none());
    assert!(lines[0].get("timestamp").is_none());
    assert_eq!(lines[1]["session_id"], "thread-42");
    assert_eq!(lines[1]["level"], "WARN");
}

#[test]
fn timestamps_are_written_off_lambda() {
    let captured = Captured::default();
    tracing::subscriber::with_default(json_subscriber(&captured, true), || {
        tracing::info!("stamped");
    });
    let line = &captured.lines()[0];
    let stamp = line["timestamp"].as_str().expect("a timestamp");
    assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok());
}

#[test]
fn secrets_in_event_and_span_fields_are_redacted() {
    redact::remember([
        "span-secret-0451".to_owned(),
        "field\"secret\\0452".to_owned(),
    ]);
    let captured = Captured::default();
    tracing::subscriber::with_default(json_subscriber(&captured, false), || {
        let span = tracing::info_span!("webhook", delivery_id = "span-secret-0451");
        let _entered = span.enter();
        tracing::error!(
            error = "field\"secret\\0452 leaked",
            "failed with span-secret-0451"
        );
    });
    let raw = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(!raw.contains("span-secret-0451"));
    assert!(!raw.contains("secret\\\\0452"));
    let line = &captured.lines()[0];
    assert_eq!(line["delivery_id"], "[redacted]");
    assert_eq!(line["error"], "[redacted] leaked");
    assert_eq!(line["message"], "failed with [redacted]");
}

#[test]
fn the_format_follows_the_switch_then_the_terminal() {
    let none = |_: &str| None;
    let json = |name: &str| (name == "BATON_LOG_FORMAT").then(|| "JSON".to_owned());
    let text = |name: &str| (name == "BATON_LOG_FORMAT").then(|| "text".to_owned());
    assert_eq!(LogFormat::from_env(&none, true), LogFormat::Text);
    assert_eq!(LogFormat::from_env(&none, false), LogFormat::Json);
    assert_eq!(LogFormat::from_env(&json, true), LogFormat::Json);
    assert_eq!(LogFormat::from_env(&text, false), LogFormat::Text);
    let lambda = |name: &str| (name == "AWS_LAMBDA_FUNCTION_NAME").then(|| "f".to_owned());
    assert!(on_lambda(&lambda));
    assert!(!on_lambda(&none));
}
