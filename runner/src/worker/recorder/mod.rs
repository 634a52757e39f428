//! The run's timeline: every agent event and runner step, redacted, numbered and written to
//! the store in small batches, with the run record's summary (session, turns, tokens) kept
//! current as the events go by.

use super::stop::{Stop, StopReason};
use super::writer::{Write, Writer};
use crate::agent::AgentEvent;
use crate::redact::Redactor;
use baton_core::clock::Clock;
use baton_core::domain::{Run, RunEvent, TokenTotals};
use baton_core::ports::Store;
use baton_telemetry::metrics;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Events written per store call at most, and the longest an event waits to be written.
const BATCH: usize = 25;
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Agent events buffered between the provider and the recorder.
pub const AGENT_EVENT_CAPACITY: usize = 512;
/// Text fields longer than this are cut in the timeline.
const MAX_TEXT: usize = 8 * 1024;

/// What the recorder needs besides the events.
pub struct RecorderContext {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub redactor: Redactor,
    pub retention: Duration,
    pub max_events: u32,
    pub max_tokens: Option<u64>,
    pub stop: Stop,
    /// The run's `budgets`, charged as the agent reports usage.
    pub budget: Arc<super::budget::RunBudget>,
    /// The work item's agent session, told of each command and tool call.
    pub session: Option<super::activities::SessionReporter>,
}

enum Note {
    Step { kind: String, data: Value },
    Close,
}

/// The runner's side of the timeline: steps of its own (claimed, workspace ready, ...).
#[derive(Clone)]
pub struct Timeline {
    notes: mpsc::UnboundedSender<Note>,
}

impl Timeline {
    pub fn step(&self, kind: &str, data: Value) {
        let _ = self.notes.send(Note::Step {
            kind: kind.to_owned(),
            data,
        });
    }
}

/// Host tool calls go on the timeline as `host_tool` steps (redacted with the rest). The
/// result is recorded by size only: it can hold a whole issue or review thread.
impl crate::bridge::ToolLog for Timeline {
    fn record(&self, name: &str, arguments: &Value, success: bool, result: &str) {
        self.step(
            "host_tool",
            serde_json::json!({
                "tool": name,
                "arguments": arguments,
                "success": success,
                "result_chars": result.chars().count(),
                "error": (!success).then(|| result.chars().take(500).collect::<String>()),
            }),
        );
    }
}

/// A running recorder: [`RecorderHandle::finish`] flushes it and returns the run as recorded.
pub struct RecorderHandle {
    timeline: Timeline,
    task: JoinHandle<Run>,
}

impl RecorderHandle {
    pub fn timeline(&self) -> Timeline {
        self.timeline.clone()
    }

    /// Writes what is left (agent events already sent included) and returns the run.
    pub async fn finish(self, fallback: Run) -> Run {
        let _ = self.timeline.notes.send(Note::Close);
        self.task.await.unwrap_or(fallback)
    }
}

/// Starts recording `run`'s timeline from the agent's `events` and the runner's steps.
pub fn start(
    context: RecorderContext,
    run: Run,
    events: mpsc::Receiver<AgentEvent>,
) -> RecorderHandle {
    let (notes_tx, notes) = mpsc::unbounded_channel();
    let timeline = Timeline { notes: notes_tx };
    context.budget.record_on(&timeline);
    // In the run's span, so its lines carry the run and, once known, the session.
    let task = tokio::spawn(record(context, run, events, notes).in_current_span());
    RecorderHandle { timeline, task }
}

struct Recorder {
    context: RecorderContext,
    run: Run,
    pending: Vec<RunEvent>,
    /// Events not stored because the run hit `max_events`.
    dropped: u32,
    /// Events not stored because the store could not keep up.
    unstored: u32,
    run_dirty: bool,
    writer: Writer,
}

async fn record(
    context: RecorderContext,
    run: Run,
    mut events: mpsc::Receiver<AgentEvent>,
    mut notes: mpsc::UnboundedReceiver<Note>,
) -> Run {
    let writer = Writer::start(Arc::clone(&context.store), context.retention, run.version);
    let mut recorder = Recorder {
        context,
        run,
        pending: Vec::new(),
        dropped: 0,
        unstored: 0,
        run_dirty: false,
        writer,
    };
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agent_open = true;
    loop {
        tokio::select! {
            // Agent events first, so the timeline keeps the order things happened in.
            biased;
            event = events.recv(), if agent_open => match event {
                Some(event) => recorder.agent_event(event),
                None => agent_open = false,
            },
            note = notes.recv() => {
                // What the agent sent before this step happened before it.
                while let Ok(event) = events.try_recv() {
                    recorder.agent_event(event);
                }
                match note {
                    Some(Note::Step { kind, data }) => recorder.step(&kind, data),
                    Some(Note::Close) | None => break,
                }
            },
            _ = flush.tick() => recorder.flush(),
        }
        if recorder.pending.len() >= BATCH {
            recorder.flush();
        }
    }
    // Whatever the agent sent before the close is still in its channel.
    while let Ok(event) = events.try_recv() {
        recorder.agent_event(event);
    }
    if recorder.dropped > 0 {
        let dropped = recorder.dropped;
        recorder.dropped = 0;
        recorder.force_push(
            "timeline_truncated",
            json!({ "dropped_events": dropped, "limit": recorder.context.max_events }),
        );
    }
    if recorder.unstored > 0 {
        let unstored = recorder.unstored;
        recorder.force_push("timeline_gap", json!({ "unstored_events": unstored }));
    }
    recorder.finish().await
}

impl Recorder {
    fn agent_event(&mut self, event: AgentEvent) {
        let now = self.context.clock.now();
        match &event {
            AgentEvent::SessionStarted { session_id, .. } => {
                self.run.session_id = Some(session_id.clone());
                // The recorder runs in the run's span: from here on its lines name the session.
                tracing::Span::current().record("session_id", session_id.as_str());
                if self.run.agent_started_at.is_none() {
                    self.run.agent_started_at = Some(now);
                    // Only runs a webhook (or the safety poll) asked for have a start.
                    if let Some(received_at) = self.run.received_at {
                        metrics::dispatch_latency((now - received_at).num_milliseconds());
                    }
                }
                self.run_dirty = true;
            }
            AgentEvent::TurnStarted { turn, .. } => {
                self.run.turns = self.run.turns.max(*turn);
                self.run_dirty = true;
            }
            AgentEvent::Usage(usage) => {
                self.run.tokens = TokenTotals {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    total_tokens: usage.total_tokens,
                };
                if let Some(limit) = self.context.max_tokens {
                    if usage.total_tokens > limit {
                        self.context.stop.stop(StopReason::TokenBudget);
                    }
                }
                self.context.budget.observe(*usage);
            }
            _ => {}
        }
        if let Some(session) = &self.context.session {
            session.observe(&event);
        }
        let (kind, data) = split_event(&event);
        self.push(&kind, data);
    }

    /// A runner step; the workspace's path and branch also go on the run record.
    fn step(&mut self, kind: &str, data: Value) {
        if kind == "workspace_ready" {
            let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
            self.run.workspace = text("path");
            self.run.branch = text("branch");
            self.run_dirty = true;
        }
        self.push(kind, data);
    }

    fn push(&mut self, kind: &str, data: Value) {
        // The run's end is always recorded; other entries stop at the limit.
        if kind != "run_ended" && self.run.events >= self.context.max_events.saturating_sub(2) {
            // Two places are kept: the `timeline_truncated` note and `run_ended`.
            self.dropped += 1;
            return;
        }
        self.force_push(kind, data);
    }

    fn force_push(&mut self, kind: &str, mut data: Value) {
        // Redacted before it is cut, so no part of a secret survives at the cut.
        self.context.redactor.redact_json(&mut data);
        truncate_strings(&mut data);
        self.run.events += 1;
        self.pending.push(RunEvent {
            run_id: self.run.run_id.clone(),
            seq: self.run.events,
            at: self.context.clock.now(),
            kind: kind.to_owned(),
            data,
        });
    }

    /// Hands the pending events and a changed run record to the writer, never waiting.
    fn flush(&mut self) {
        for chunk in std::mem::take(&mut self.pending).chunks(BATCH) {
            if !self.writer.offer(Write::Events(chunk.to_vec())) {
                self.unstored += chunk.len() as u32;
                tracing::warn!(run_id = %self.run.run_id, events = chunk.len(),
                    "the store is not keeping up; timeline events dropped");
            }
        }
        if self.run_dirty && self.writer.offer(Write::Run(Box::new(self.run.clone()))) {
            self.run_dirty = false;
        }
    }

    /// Writes everything left, waiting for the store, and returns the run as stored.
    async fn finish(mut self) -> Run {
        let mut last: Vec<Write> = std::mem::take(&mut self.pending)
            .chunks(BATCH)
            .map(|chunk| Write::Events(chunk.to_vec()))
            .collect();
        if self.run_dirty {
            last.push(Write::Run(Box::new(self.run.clone())));
        }
        self.run.version = self.writer.finish(last).await;
        self.run
    }
}

/// An agent event as a timeline entry: its `type` becomes the kind, the rest the data.
fn split_event(event: &AgentEvent) -> (String, Value) {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut map)) => {
            let kind = match map.remove("type") {
                Some(Value::String(kind)) => kind,
                _ => "agent_event".to_owned(),
            };
            (kind, Value::Object(map))
        }
        Ok(other) => ("agent_event".to_owned(), other),
        Err(error) => ("notice".to_owned(), json!({ "text": error.to_string() })),
    }
}

fn truncate_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.len() > MAX_TEXT => {
            let mut end = MAX_TEXT;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str(" …[truncated]");
        }
        Value::Array(items) => items.iter_mut().for_each(truncate_strings),
        Value::Object(map) => map.values_mut().for_each(truncate_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
