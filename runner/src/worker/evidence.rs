//! The evidence of a run: what the agent did, gathered from its event stream on the way to
//! the recorder, and the living status comment that shows it on the issue.

use crate::agent::AgentEvent;
use crate::redact::Redactor;
use baton_core::domain::{Run, RunStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Commands kept for the comment; the count covers all of them.
const MAX_COMMANDS: usize = 30;
/// Characters of a command line shown in the comment.
const MAX_COMMAND_CHARS: usize = 160;

/// Command lines that run a project's tests, for "did its tests pass".
const TEST_COMMANDS: &[&str] = &[
    "cargo test",
    "cargo nextest",
    "npm test",
    "npm run test",
    "pnpm test",
    "yarn test",
    "pytest",
    "python -m pytest",
    "go test",
    "make test",
    "mvn test",
    "gradle test",
    "./gradlew test",
    "rspec",
    "jest",
    "vitest",
    "tox",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub command: String,
    pub exit_code: Option<i32>,
}

/// What the agent did in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The agent's last complete message.
    pub final_message: Option<String>,
    /// The first [`MAX_COMMANDS`] commands.
    pub commands: Vec<CommandRecord>,
    pub command_count: usize,
    /// The last test command and whether it passed.
    pub tests: Option<(String, bool)>,
    pub files_changed: usize,
    pub tool_calls: usize,
    /// What the provider said about the account's quota.
    pub quota: crate::accounts::quota::Seen,
}

impl Evidence {
    fn observe(&mut self, event: &AgentEvent) {
        self.quota.observe(event);
        match event {
            AgentEvent::Message { text } if !text.trim().is_empty() => {
                self.final_message = Some(text.clone());
            }
            AgentEvent::Command {
                command, exit_code, ..
            } => {
                self.command_count += 1;
                if is_test_command(command) {
                    if let Some(code) = exit_code {
                        self.tests = Some((shorten(command), *code == 0));
                    }
                }
                if self.commands.len() < MAX_COMMANDS {
                    self.commands.push(CommandRecord {
                        command: shorten(command),
                        exit_code: *exit_code,
                    });
                }
            }
            AgentEvent::FileChange { .. } => self.files_changed += 1,
            AgentEvent::ToolCall { .. } => self.tool_calls += 1,
            _ => {}
        }
    }
}

fn is_test_command(command: &str) -> bool {
    let command = command.to_lowercase();
    TEST_COMMANDS.iter().any(|t| command.contains(t))
}

fn shorten(command: &str) -> String {
    let line = command.lines().next().unwrap_or("").trim();
    if line.chars().count() > MAX_COMMAND_CHARS {
        let cut: String = line.chars().take(MAX_COMMAND_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// The evidence gathered so far; readable while and after the session runs.
#[derive(Clone, Default)]
pub struct EvidenceHandle {
    gathered: Arc<Mutex<Evidence>>,
    /// Set when every event the agent sent has been observed (its senders are gone).
    drained: Arc<tokio::sync::watch::Sender<bool>>,
}

impl EvidenceHandle {
    fn lock(&self) -> MutexGuard<'_, Evidence> {
        self.gathered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> Evidence {
        self.lock().clone()
    }

    /// Waits until the tap has seen the agent's last event, at most `limit`: the session
    /// has ended, but its final message may still be on its way through the channel.
    pub async fn drained(&self, limit: std::time::Duration) {
        let mut watch = self.drained.subscribe();
        let _ = tokio::time::timeout(limit, watch.wait_for(|done| *done)).await;
    }
}

/// Puts a tap between the agent and the recorder: every event is observed, then forwarded.
/// The tap ends when the agent's sender is dropped.
pub fn tap(recorder: mpsc::Sender<AgentEvent>) -> (mpsc::Sender<AgentEvent>, EvidenceHandle) {
    let (tx, mut rx) = mpsc::channel::<AgentEvent>(64);
    let handle = EvidenceHandle::default();
    let gathered = handle.clone();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            gathered.lock().observe(&event);
            if recorder.send(event).await.is_err() {
                break;
            }
        }
        gathered.drained.send_replace(true);
    });
    (tx, handle)
}

/// What the status comment shows beyond the run record.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub pull_request: Option<(u64, String)>,
    /// The pull request to record on the work item, when this run opened or updated one.
    pub link: Option<baton_core::domain::PullRequestLink>,
    /// Files, insertions, deletions.
    pub diff: Option<(usize, u64, u64)>,
    /// The deliverable's text (an analysis, acceptance criteria, a triage), if any.
    pub summary: Option<String>,
    /// The tracker state the issue was moved to.
    pub moved_to: Option<String>,
    /// Why delivery or a gate stopped short, if it did.
    pub note: Option<String>,
}

/// The marker that identifies baton's status comment.
pub const STATUS_MARKER: &str = "<!-- baton:status -->";

/// The living status comment: one per work item, rewritten at every step.
pub fn render(
    run: &Run,
    evidence: &Evidence,
    delivered: &Delivered,
    run_link: Option<&str>,
    redactor: &Redactor,
) -> String {
    let mut out = String::new();
    let headline = match run.status {
        RunStatus::Running => "🏃 baton is working on this",
        RunStatus::Succeeded => "✅ baton finished this run",
        RunStatus::Failed => "❌ baton's run failed",
        RunStatus::Cancelled => "⏹️ baton's run was cancelled",
        RunStatus::Abandoned => "⚠️ baton's run was interrupted",
        RunStatus::AwaitingInput => "❓ baton's agent is waiting for an answer",
    };
    out.push_str(&format!(
        "{STATUS_MARKER}\n### {headline}\n\n| | |\n|---|---|\n"
    ));
    let mut row = |name: &str, value: String| out.push_str(&format!("| {name} | {value} |\n"));
    row(
        "Outcome",
        format!("`{}` (attempt {})", run.status.as_str(), run.attempt),
    );
    if let Some(error) = &run.error {
        row(
            "Error",
            format!("`{}`: {}", error.code, one_line(&error.message)),
        );
    }
    if let Some(branch) = &run.branch {
        row("Branch", format!("`{branch}`"));
    }
    if let Some(commit) = &run.commit {
        row("Commit", format!("`{}`", &commit[..commit.len().min(12)]));
    }
    if let Some((files, insertions, deletions)) = delivered.diff {
        row(
            "Changes",
            format!("{files} files, +{insertions} −{deletions}"),
        );
    }
    if let Some((number, url)) = &delivered.pull_request {
        row("Pull request", format!("[#{number}]({url})"));
    }
    if let Some(state) = &delivered.moved_to {
        row("Issue moved to", format!("`{state}`"));
    }
    match &evidence.tests {
        Some((command, true)) => row("Tests", format!("passed (`{command}`)")),
        Some((command, false)) => row("Tests", format!("**failed** (`{command}`)")),
        None => row("Tests", "none run by the agent".into()),
    }
    row(
        "Tokens",
        format!(
            "{} (in {} / out {})",
            run.tokens.total_tokens, run.tokens.input_tokens, run.tokens.output_tokens
        ),
    );
    if let Some(ended) = run.ended_at {
        let secs = (ended - run.claimed_at).num_seconds().max(0);
        row("Duration", format!("{}m {:02}s", secs / 60, secs % 60));
    }
    row("Turns", run.turns.to_string());
    match run_link {
        Some(link) => row("Run", format!("[`{}`]({link})", run.run_id)),
        None => row("Run", format!("`{}`", run.run_id)),
    }
    if let Some(note) = &delivered.note {
        out.push_str(&format!("\n> {}\n", one_line(note)));
    }
    if let Some(summary) = &delivered.summary {
        out.push_str(&format!("\n{}\n", summary.trim()));
    }
    if !evidence.commands.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>Commands the agent ran ({})</summary>\n\n",
            evidence.command_count
        ));
        for command in &evidence.commands {
            let exit = command
                .exit_code
                .map_or_else(|| "?".to_owned(), |c| c.to_string());
            out.push_str(&format!(
                "- `{}` → exit {exit}\n",
                command.command.replace('`', "'")
            ));
        }
        if evidence.command_count > evidence.commands.len() {
            out.push_str(&format!(
                "- … and {} more\n",
                evidence.command_count - evidence.commands.len()
            ));
        }
        out.push_str("\n</details>\n");
    }
    // Agent output and errors may quote secrets: the comment is public.
    redactor.redact(&out)
}

fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::domain::{JobId, JobReason, RunError, RunId, TokenTotals, WorkItemKey};

    fn run(status: RunStatus) -> Run {
        let now = chrono::Utc::now();
        Run {
            run_id: RunId::generate(),
            work_item: WorkItemKey::parse("github:acme/app#1").unwrap(),
            job_id: JobId::generate(),
            reason: JobReason::Labeled,
            attempt: 2,
            runner: "r1".into(),
            status,
            received_at: None,
            queued_at: now,
            claimed_at: now - chrono::Duration::seconds(83),
            agent_started_at: None,
            ended_at: Some(now),
            session_id: None,
            turns: 3,
            tokens: TokenTotals {
                input_tokens: 100,
                output_tokens: 20,
                total_tokens: 120,
            },
            error: None,
            workspace: None,
            branch: Some("baton/acme_app_1".into()),
            commit: Some("0123456789abcdef0123".into()),
            events: 9,
            version: 1,
        }
    }

    #[tokio::test]
    async fn the_tap_gathers_messages_commands_and_test_results_and_forwards_everything() {
        let (recorder_tx, mut recorder_rx) = mpsc::channel(16);
        let (tx, handle) = tap(recorder_tx);
        let events = [
            AgentEvent::Message {
                text: "Looking.".into(),
            },
            AgentEvent::Command {
                command: "ls".into(),
                exit_code: Some(0),
                output: None,
            },
            AgentEvent::Command {
                command: "cargo test --all".into(),
                exit_code: Some(101),
                output: None,
            },
            AgentEvent::Command {
                command: "cargo test --all".into(),
                exit_code: Some(0),
                output: None,
            },
            AgentEvent::FileChange {
                path: "src/lib.rs".into(),
                kind: "update".into(),
            },
            AgentEvent::Message {
                text: "Fixed the bug.".into(),
            },
        ];
        for event in events.clone() {
            tx.send(event).await.unwrap();
        }
        drop(tx);
        for expected in events {
            assert_eq!(recorder_rx.recv().await, Some(expected));
        }
        handle.drained(std::time::Duration::from_secs(5)).await;
        let evidence = handle.snapshot();
        assert_eq!(evidence.final_message.as_deref(), Some("Fixed the bug."));
        assert_eq!(evidence.command_count, 3);
        assert_eq!(evidence.tests, Some(("cargo test --all".into(), true)));
        assert_eq!(evidence.files_changed, 1);
    }

    #[test]
    fn the_comment_shows_outcome_branch_pr_tests_tokens_and_duration_and_hides_secrets() {
        let evidence = Evidence {
            commands: vec![CommandRecord {
                command: "echo s3cr3t-value".into(),
                exit_code: Some(0),
            }],
            command_count: 1,
            tests: Some(("pytest".into(), true)),
            ..Evidence::default()
        };
        let delivered = Delivered {
            pull_request: Some((34, "https://github.com/acme/app/pull/34".into())),
            diff: Some((2, 10, 3)),
            moved_to: Some("In Review".into()),
            ..Delivered::default()
        };
        let redactor = Redactor::new(["s3cr3t-value".to_owned()]);
        let text = render(
            &run(RunStatus::Succeeded),
            &evidence,
            &delivered,
            Some("http://baton/api/v1/issues/x"),
            &redactor,
        );
        for expected in [
            STATUS_MARKER,
            "✅",
            "`succeeded` (attempt 2)",
            "`baton/acme_app_1`",
            "`0123456789ab`",
            "2 files, +10 −3",
            "[#34](https://github.com/acme/app/pull/34)",
            "passed (`pytest`)",
            "120 (in 100 / out 20)",
            "1m 23s",
            "`In Review`",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(!text.contains("s3cr3t-value"), "{text}");
    }

    #[test]
    fn a_failed_run_says_why() {
        let mut failed = run(RunStatus::Failed);
        failed.error = Some(RunError {
            code: "turn_failed".into(),
            message: "model overloaded\nmore".into(),
        });
        let text = render(
            &failed,
            &Evidence::default(),
            &Delivered::default(),
            None,
            &Redactor::new(Vec::<String>::new()),
        );
        assert!(text.contains("❌"));
        assert!(text.contains("`turn_failed`: model overloaded |"));
        assert!(text.contains("none run by the agent"));
    }
}
