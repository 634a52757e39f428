//! One contract, every provider: the same cases run against Codex, Claude Code and OpenCode.
//!
//! Each provider runs as its real CLI when installed (`scripts/agents.sh`), driven by the
//! scripted model server, with dummy keys and no network; otherwise from recorded transcripts
//! (Codex's protocol by `baton-mock-agent`, Claude Code and OpenCode by `replay.sh`). With
//! `BATON_REQUIRE_AGENT_CLIS=1` (set by `scripts/test`) a missing Codex or Claude Code CLI
//! fails instead. OpenCode always replays: it needs the network at start-up.
//!
//! Cases: a turn that completes with its usage, a file edit seen both as an event and on
//! disk, a failed turn, and a tool call.

mod contract;

use baton_runner::agent::setup::is_platform_secret;
use baton_runner::agent::{registry, AgentEvent, TokenUsage, ToolTransport, TurnStatus};
use contract::{driver, Case, Fixture};

/// Runs `case` on `provider` and returns what happened.
async fn run(provider: &str, case: Case) -> (Fixture, contract::Observed) {
    let fixture = driver(provider, case).await;
    let observed = fixture.run().await;
    (fixture, observed)
}

fn usage_of(events: &[AgentEvent]) -> Option<TokenUsage> {
    events.iter().rev().find_map(|event| match event {
        AgentEvent::Usage(usage) => Some(*usage),
        _ => None,
    })
}

async fn completes_with_usage(provider: &str) {
    let (fixture, seen) = run(provider, Case::Completes).await;
    assert_eq!(
        seen.outcome.status,
        TurnStatus::Completed,
        "{provider} ({}): {:#?}",
        fixture.mode,
        seen.events
    );
    let expected = fixture.expect.usage.expect("a usage figure to expect");
    assert_eq!(
        seen.outcome.usage, expected,
        "{provider} ({})",
        fixture.mode
    );
    assert_eq!(
        usage_of(&seen.events),
        Some(expected),
        "the last usage event"
    );
    assert!(
        seen.outcome.last_message.is_some(),
        "{provider}: the turn's last message"
    );
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, AgentEvent::SessionStarted { .. })),
        "{provider}: a session started"
    );
}

async fn edits_a_file(provider: &str) {
    let (fixture, seen) = run(provider, Case::EditsFile).await;
    assert_eq!(
        seen.outcome.status,
        TurnStatus::Completed,
        "{provider}: {:#?}",
        seen.events
    );
    let (suffix, content) = fixture.expect.file.clone().expect("a file to expect");
    assert!(
        seen.events
            .iter()
            .any(|e| matches!(e, AgentEvent::FileChange { path, .. } if path.ends_with(&suffix))),
        "{provider} ({}): a FileChange for {suffix}: {:#?}",
        fixture.mode,
        seen.events
    );
    if let Some(content) = content {
        let written = std::fs::read_to_string(fixture.workspace().join(&suffix));
        assert_eq!(
            written.ok().as_deref(),
            Some(content.as_str()),
            "{provider}: on disk"
        );
    }
}

async fn a_failed_turn(provider: &str) {
    let (fixture, seen) = run(provider, Case::Fails).await;
    assert_eq!(
        seen.outcome.status,
        TurnStatus::Failed,
        "{provider} ({}): {:#?}",
        fixture.mode,
        seen.events
    );
    assert!(
        seen.outcome.error.as_deref().is_some_and(|e| !e.is_empty()),
        "{provider}: a failed turn says why: {:?}",
        seen.outcome
    );
    assert!(
        seen.events.iter().any(|e| matches!(
            e,
            AgentEvent::TurnEnded {
                status: TurnStatus::Failed,
                ..
            }
        )),
        "{provider}: TurnEnded(Failed)"
    );
}

async fn calls_a_tool(provider: &str) {
    let (fixture, seen) = run(provider, Case::CallsTool).await;
    assert_eq!(
        seen.outcome.status,
        TurnStatus::Completed,
        "{provider}: {:#?}",
        seen.events
    );
    let name = fixture.expect.tool.clone().expect("a tool to expect");
    assert!(
        seen.events.iter().any(|e| matches!(
            e,
            AgentEvent::ToolCall { name: called, success, .. }
                if *called == name && *success != Some(false)
        )),
        "{provider} ({}): a successful call of {name}: {:#?}",
        fixture.mode,
        seen.events
    );
    if let Some(tools) = &fixture.host_tools {
        assert_eq!(
            tools.calls(),
            ["echo: ping"],
            "{provider}: the host-side tool ran once"
        );
    }
}

macro_rules! contract {
    ($($provider:ident),*) => {$(
        mod $provider {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn completes_with_usage() {
                super::completes_with_usage(stringify!($provider)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn edits_a_file() {
                super::edits_a_file(stringify!($provider)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_failed_turn() {
                super::a_failed_turn(stringify!($provider)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn calls_a_tool() {
                super::calls_a_tool(stringify!($provider)).await
            }
        }
    )*};
}

contract!(codex, claude_code, opencode);

/// The providers the macro above runs the contract on.
const CONTRACTED: [&str; 3] = ["codex", "claude_code", "opencode"];

/// Every registered provider runs the contract; a new one cannot be left out.
#[test]
fn every_registered_provider_runs_the_contract() {
    let mut registered = registry::KINDS.to_vec();
    registered.sort_unstable();
    let mut contracted = CONTRACTED.to_vec();
    contracted.sort_unstable();
    assert_eq!(registered, contracted);
}

/// What each provider owns holds up: the variables it asks for are variable names and no
/// platform secret, and it refuses an option it does not know (when the workflow is loaded,
/// not at the first run). Codex reaches baton's tools natively, the others over MCP.
#[test]
fn providers_own_their_environment_and_options() {
    for kind in registry::KINDS {
        let provider = registry::provider(kind).expect("registered");
        let transport = provider.capabilities().tools;
        assert_eq!(
            transport == ToolTransport::Native,
            *kind == "codex",
            "{kind}"
        );
        for name in provider.env_names() {
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            assert!(is_name, "{kind}: `{name}`");
            assert!(
                !is_platform_secret(&name),
                "{kind} asks for a platform secret: {name}"
            );
        }
        let unknown = serde_json::json!({ "no_such_option": true });
        let refused = provider.check_options(unknown.as_object().expect("an object"));
        assert!(
            refused.is_err(),
            "{kind} accepts an option it does not know"
        );
        assert!(
            provider.check_options(&serde_json::Map::new()).is_ok(),
            "{kind}"
        );
    }
}
