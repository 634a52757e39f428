//! A turn of a Codex session, from `turn/start` to its end (completed, failed, interrupted,
//! timed out, stalled or crashed), and the session's stop.

use super::process::exit_signal;
use super::session::{deadline_after, CodexSession, RequestError};
use super::{EXIT_GRACE, INTERRUPT_GRACE};
use crate::agent::{AgentError, AgentEvent, AgentSession, TurnOutcome, TurnStatus};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::process::ExitStatus;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

impl CodexSession {
    pub(super) fn turn_params(&self, input: &str) -> Value {
        let mut params = json!({
            "threadId": self.thread_id,
            "input": [{ "type": "text", "text": input }],
        });
        if let Some(policy) = &self.options.sandbox_policy {
            params["sandboxPolicy"] = policy.clone();
        }
        params
    }

    pub(super) async fn turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        if self.child.is_none() || self.eof {
            return Err(AgentError::Exited(
                "the agent process is not running".into(),
            ));
        }
        self.turns += 1;
        let turn = self.turns;
        self.state.begin_turn();
        self.input_required = None;
        self.cancel = cancel.clone();
        let turn_deadline = deadline_after(self.timeouts.turn);
        self.turn_deadline = Some(turn_deadline);

        let params = self.turn_params(input);
        match self.request("turn/start", params, Some(cancel)).await {
            Ok(result) => {
                if let Some(id) = result.pointer("/turn/id").and_then(Value::as_str) {
                    self.state.turn_id = Some(id.to_string());
                }
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: self.state.turn_id.clone(),
                })
                .await;
            }
            Err(RequestError::Timeout) => {
                return Err(AgentError::Protocol(format!(
                    "no answer to `turn/start` within {:?}",
                    self.timeouts.read
                )))
            }
            Err(RequestError::Rpc(e)) => {
                return Err(AgentError::Protocol(format!("`turn/start` failed: {e}")))
            }
            Err(RequestError::Gone) => {
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: None,
                })
                .await;
                return Ok(self.crashed(turn).await);
            }
            Err(RequestError::Cancelled) => {
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: None,
                })
                .await;
                return Ok(self
                    .abort(turn, TurnStatus::Interrupted, "cancelled".into())
                    .await);
            }
        }

        let mut last_activity = Instant::now();
        loop {
            if let Some((status, error)) = self.state.completed.take() {
                return Ok(self.finish(turn, status, error).await);
            }
            if let Some(reason) = self.input_required.take() {
                return Ok(self.abort(turn, TurnStatus::InputRequired, reason).await);
            }
            if self.eof {
                return Ok(self.crashed(turn).await);
            }
            let stall_at = self.timeouts.stall.map(|stall| {
                last_activity
                    .checked_add(stall)
                    .unwrap_or(turn_deadline)
                    .min(turn_deadline)
            });
            let wake = stall_at.unwrap_or(turn_deadline);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Ok(self.abort(turn, TurnStatus::Interrupted, "cancelled".into()).await);
                }
                message = self.incoming.recv() => match message {
                    None => self.eof = true,
                    Some(message) => {
                        self.handle(message).await;
                        last_activity = Instant::now();
                    }
                },
                _ = sleep_until(wake) => {
                    let (status, reason) = if Instant::now() >= turn_deadline {
                        (TurnStatus::TimedOut, format!("the turn did not end within {:?}", self.timeouts.turn))
                    } else {
                        let stall = self.timeouts.stall.unwrap_or_default();
                        (TurnStatus::Stalled, format!("no event from the agent for {stall:?}"))
                    };
                    return Ok(self.abort(turn, status, reason).await);
                }
            }
        }
    }

    /// Ends the running turn early: asks the agent to interrupt it, waits a little for
    /// `turn/completed`, kills the process if it does not come.
    pub(super) async fn abort(
        &mut self,
        turn: u32,
        status: TurnStatus,
        reason: String,
    ) -> TurnOutcome {
        let grace = deadline_after(INTERRUPT_GRACE);
        let mut ended = false;
        if let Some(turn_id) = self.state.turn_id.clone() {
            if !self.eof && self.state.completed.is_none() {
                self.next_id += 1;
                let message = json!({
                    "id": self.next_id,
                    "method": "turn/interrupt",
                    "params": { "threadId": self.thread_id, "turnId": turn_id },
                });
                // Writing is bounded too: never past the grace period.
                let _ = timeout(INTERRUPT_GRACE, self.send(&message)).await;
            }
            while self.state.completed.is_none() && !self.eof {
                tokio::select! {
                    message = self.incoming.recv() => match message {
                        None => self.eof = true,
                        Some(message) => self.handle(message).await,
                    },
                    _ = sleep_until(grace) => break,
                }
            }
            ended = self.state.completed.take().is_some();
        }
        if !ended {
            self.kill().await;
        }
        self.finish(turn, status, Some(reason)).await
    }

    /// The process died during a turn.
    pub(super) async fn crashed(&mut self, turn: u32) -> TurnOutcome {
        let status = self.reap(EXIT_GRACE).await;
        let error = match status {
            Some(status) => match (status.code(), exit_signal(&status)) {
                (Some(code), _) => format!("the agent exited mid-turn with code {code}"),
                (None, Some(signal)) => format!("the agent was killed mid-turn by signal {signal}"),
                (None, None) => "the agent exited mid-turn".to_string(),
            },
            None => "the agent closed its output mid-turn".to_string(),
        };
        self.finish(turn, TurnStatus::Crashed, Some(error)).await
    }

    pub(super) async fn finish(
        &mut self,
        turn: u32,
        status: TurnStatus,
        error: Option<String>,
    ) -> TurnOutcome {
        self.turn_deadline = None;
        self.emit(AgentEvent::TurnEnded {
            turn,
            status,
            error: error.clone(),
        })
        .await;
        TurnOutcome {
            status,
            error,
            usage: self.state.usage,
            last_message: self.state.last_message.take(),
        }
    }

    /// Waits up to `grace` for the process to exit, kills it otherwise, and reports its exit.
    /// Returns its exit status (`None` if it could not be reaped, or was reaped before).
    pub(super) async fn reap(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let status = match timeout(grace, child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = child.start_kill();
                timeout(EXIT_GRACE, child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
        self.stdin = None;
        self.emit(AgentEvent::ProcessExited {
            code: status.and_then(|s| s.code()),
            signal: status.as_ref().and_then(exit_signal),
        })
        .await;
        status
    }

    /// Kills the process now.
    pub(super) async fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        self.reap(EXIT_GRACE).await;
    }
}

#[async_trait]
impl AgentSession for CodexSession {
    async fn run_turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        self.turn(input, cancel).await
    }

    async fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        // Closing stdin asks app-server to exit; keep draining stdout so it is not blocked.
        self.stdin = None;
        let grace = deadline_after(EXIT_GRACE * 2);
        loop {
            let Some(child) = self.child.as_mut() else {
                return;
            };
            tokio::select! {
                _ = child.wait() => break,
                message = self.incoming.recv(), if !self.eof => {
                    if message.is_none() {
                        self.eof = true;
                    }
                }
                _ = sleep_until(grace) => break,
            }
        }
        self.reap(Duration::ZERO).await;
    }
}
