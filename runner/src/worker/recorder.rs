//! The run's timeline: every agent event and runner step, redacted, numbered and written to
//! the store in small batches, with the run record's summary (session, turns, tokens) kept
//! current as the events go by.

use super::stop::{Stop, StopReason};
use crate::agent::AgentEvent;
use crate::redact::Redactor;
use baton_core::clock::Clock;
use baton_core::domain::{Run, RunEvent, TokenTotals};
use baton_core::ports::Store;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    let task = tokio::spawn(record(context, run, events, notes));
    RecorderHandle {
        timeline: Timeline { notes: notes_tx },
        task,
    }
}

struct Recorder {
    context: RecorderContext,
    run: Run,
    pending: Vec<RunEvent>,
    /// Events not stored because the run hit `max_events`.
    dropped: u32,
    run_dirty: bool,
}

async fn record(
    context: RecorderContext,
    run: Run,
    mut events: mpsc::Receiver<AgentEvent>,
    mut notes: mpsc::UnboundedReceiver<Note>,
) -> Run {
    let mut recorder = Recorder {
        context,
        run,
        pending: Vec::new(),
        dropped: 0,
        run_dirty: false,
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
            _ = flush.tick() => recorder.flush().await,
        }
        if recorder.pending.len() >= BATCH {
            recorder.flush().await;
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
    recorder.flush().await;
    recorder.run
}

impl Recorder {
    fn agent_event(&mut self, event: AgentEvent) {
        let now = self.context.clock.now();
        match &event {
            AgentEvent::SessionStarted { session_id, .. } => {
                self.run.session_id = Some(session_id.clone());
                self.run.agent_started_at.get_or_insert(now);
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
            }
            _ => {}
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

    async fn flush(&mut self) {
        for chunk in std::mem::take(&mut self.pending).chunks(BATCH) {
            if let Err(error) = self
                .context
                .store
                .append_events(chunk, self.context.retention)
                .await
            {
                tracing::warn!(run_id = %self.run.run_id, %error, events = chunk.len(),
                    "could not record timeline events");
            }
        }
        if self.run_dirty {
            self.write_run().await;
        }
    }

    /// Keeps the stored run current (session id, agent start, turns) while it runs.
    async fn write_run(&mut self) {
        let expected = self.run.version;
        let mut next = self.run.clone();
        next.version = expected + 1;
        match self.context.store.put_run(&next, Some(expected)).await {
            Ok(()) => {
                self.run = next;
                self.run_dirty = false;
            }
            Err(error) => {
                tracing::warn!(run_id = %self.run.run_id, %error, "could not update the run record")
            }
        }
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
