//! Which agent a workflow runs, and how: `agent_provider` (Maestro's shape) and Symphony's
//! `codex.*` keys, resolved once into a provider and a session template.
//!
//! ```yaml
//! agent_provider:
//!   kind: codex            # codex | claude_code | opencode | mock (default codex)
//!   options:
//!     command_argv: [codex, app-server]   # preferred over a shell string
//!     env: [OPENAI_API_KEY]               # extra variables passed to the agent
//!     scenario: happy_path                # mock only: a built-in name or a file
//!     # anything else goes to the provider (model, sandbox, permission_mode, ...)
//! codex:                   # Symphony's keys keep working
//!   command: codex app-server
//!   approval_policy: never
//!   thread_sandbox: workspace-write
//!   turn_sandbox_policy: {type: workspaceWrite}
//!   turn_timeout_ms: 3600000
//!   read_timeout_ms: 5000
//!   stall_timeout_ms: 300000
//! ```

use super::claude_code::ClaudeCodeProvider;
use super::codex::CodexProvider;
use super::opencode::OpenCodeProvider;
use super::{AgentProvider, ApprovalPolicy, Timeouts};
use crate::redact::is_secret_name;
use baton_core::workflow::Workflow;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Variables every agent gets from the runner's environment, when set.
pub const BASE_AGENT_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ",
];

/// Variables each provider needs by default (its own model credentials and config dirs).
fn provider_env(kind: &str) -> &'static [&'static str] {
    match kind {
        "codex" => &["OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME"],
        "claude_code" => &[
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        ],
        "opencode" => &["OPENCODE_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"],
        _ => &[],
    }
}

/// Platform credentials that never reach an agent, whatever the workflow lists: the agent
/// works through host-side tools instead.
pub fn is_platform_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("AWS_")
        || upper.starts_with("BATON_")
        || upper.starts_with("GITHUB_")
        || upper.starts_with("GH_")
        || upper.starts_with("GITLAB_")
        || upper.starts_with("LINEAR_")
        || upper.starts_with("JIRA_")
        || upper.starts_with("TAPD_")
        || upper.starts_with("CNB_")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid agent configuration: {0}")]
pub struct AgentSetupError(pub String);

/// A workflow's agent, resolved: everything but the workspace and the tools.
#[derive(Clone)]
pub struct AgentSetup {
    pub provider: Arc<dyn AgentProvider>,
    pub kind: String,
    pub command_argv: Vec<String>,
    /// Names of the variables the agent receives from the runner's environment.
    pub env_names: Vec<String>,
    pub timeouts: Timeouts,
    pub approval_policy: ApprovalPolicy,
    /// Passed through to the provider.
    pub options: Map<String, Value>,
}

/// How the runner starts the mock agent: a program and its leading arguments, e.g.
/// `[baton, mock-agent]` or `[baton-mock-agent]`.
#[derive(Debug, Clone)]
pub struct MockAgentCommand(pub Vec<String>);

impl AgentSetup {
    pub fn from_workflow(
        workflow: &Workflow,
        mock: Option<&MockAgentCommand>,
    ) -> Result<Self, AgentSetupError> {
        let extra = &workflow.config.extra;
        let provider = to_json(extra.get("agent_provider"))?;
        let codex = to_json(extra.get("codex"))?;
        let invalid = |message: String| AgentSetupError(message);

        let kind = match provider.get("kind") {
            None | Some(Value::Null) => "codex".to_owned(),
            Some(Value::String(kind)) => kind.trim().to_lowercase(),
            Some(other) => {
                return Err(invalid(format!(
                    "`agent_provider.kind` must be a string, not {other}"
                )))
            }
        };
        let mut options = match provider.get("options") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(invalid(format!(
                    "`agent_provider.options` must be a map, not {other}"
                )))
            }
        };
        // baton's own keys; the rest goes to the provider.
        let argv_option = options.remove("command_argv");
        let command_option = options.remove("command");
        let env_option = options.remove("env");
        let scenario_option = options.remove("scenario");

        let mut command_argv = match argv_option {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => string_list("agent_provider.options.command_argv", &value)?,
        };
        let shell_command = match command_option {
            Some(Value::String(command)) => Some(command),
            None | Some(Value::Null) => codex
                .get("command")
                .and_then(Value::as_str)
                .filter(|_| kind == "codex")
                .map(str::to_owned),
            Some(other) => {
                return Err(invalid(format!(
                    "`agent_provider.options.command` must be a string, not {other}"
                )))
            }
        };
        if command_argv.is_empty() {
            if let Some(command) = shell_command.filter(|c| !c.trim().is_empty()) {
                // Symphony runs its command string through a shell.
                command_argv = vec!["sh".into(), "-lc".into(), command];
            }
        }

        let mut env_names: Vec<String> = BASE_AGENT_ENV.iter().map(|s| s.to_string()).collect();
        env_names.extend(provider_env(&kind).iter().map(|s| s.to_string()));
        if let Some(value) = env_option {
            env_names.extend(string_list("agent_provider.options.env", &value)?);
        }
        env_names.retain(|name| !is_platform_secret(name));
        env_names.sort();
        env_names.dedup();

        if kind == "codex" {
            // Symphony's codex keys, unless the options already say.
            for (from, to) in [
                ("approval_policy", "approval_policy"),
                ("thread_sandbox", "sandbox"),
                ("turn_sandbox_policy", "sandbox_policy"),
                ("model", "model"),
            ] {
                if let Some(value) = codex.get(from).filter(|v| !v.is_null()) {
                    options.entry(to).or_insert_with(|| value.clone());
                }
            }
        }

        let timeouts = timeouts(&codex)?;
        let approval_policy = match options.get("decline_approvals") {
            Some(Value::Bool(true)) => ApprovalPolicy::DeclineAll,
            _ => ApprovalPolicy::AcceptAll,
        };
        options.remove("decline_approvals");

        let provider: Arc<dyn AgentProvider> = match kind.as_str() {
            "codex" => Arc::new(CodexProvider::new()),
            "claude_code" => Arc::new(ClaudeCodeProvider::new()),
            "opencode" => Arc::new(OpenCodeProvider::new()),
            "mock" => {
                let scenario = match scenario_option {
                    None | Some(Value::Null) => DEFAULT_MOCK_SCENARIO.to_owned(),
                    Some(Value::String(s)) => s,
                    Some(other) => {
                        return Err(invalid(format!(
                            "`agent_provider.options.scenario` must be a string, not {other}"
                        )))
                    }
                };
                let scenario = resolve_scenario(&scenario, workflow.path.as_deref());
                let mut argv = if command_argv.is_empty() {
                    match mock {
                        Some(MockAgentCommand(argv)) if !argv.is_empty() => argv.clone(),
                        _ => return Err(invalid(
                            "agent_provider `mock` needs the mock agent: run it from `baton`, or set `agent_provider.options.command_argv`".into(),
                        )),
                    }
                } else {
                    command_argv.clone()
                };
                argv.extend(["--scenario".to_owned(), scenario]);
                Arc::new(CodexProvider::with_command("mock", argv))
            }
            other => {
                return Err(invalid(format!(
                    "unknown `agent_provider.kind` `{other}` (codex, claude_code, opencode, mock)"
                )))
            }
        };
        Ok(Self {
            provider,
            kind,
            command_argv,
            env_names,
            timeouts,
            approval_policy,
            options,
        })
    }

    /// The agent's whole environment: the listed variables that are set, nothing else.
    pub fn environment(&self, lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        self.env_names
            .iter()
            .filter_map(|name| lookup(name).map(|value| (name.clone(), value)))
            .collect()
    }

    /// Names in the environment the runner will pass although they look like secrets (the
    /// model credentials): worth a line in the start-up log.
    pub fn passed_secret_names(&self) -> Vec<&str> {
        self.env_names
            .iter()
            .map(String::as_str)
            .filter(|name| is_secret_name(name))
            .collect()
    }
}

/// The scenario the mock plays when the workflow names none.
pub const DEFAULT_MOCK_SCENARIO: &str = "happy_path";

/// A built-in scenario name stays as it is (the mock agent knows it); a path is made
/// absolute against the workflow file's directory, since the agent runs in the workspace.
fn resolve_scenario(scenario: &str, workflow_path: Option<&Path>) -> String {
    if crate::mock_agent::builtin_scenario(scenario).is_some() {
        return scenario.to_owned();
    }
    let path = PathBuf::from(scenario);
    let path = match (path.is_absolute(), workflow_path.and_then(Path::parent)) {
        (false, Some(dir)) => dir.join(path),
        _ => path,
    };
    std::path::absolute(&path)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn timeouts(codex: &Map<String, Value>) -> Result<Timeouts, AgentSetupError> {
    let defaults = Timeouts::default();
    let millis = |key: &str| -> Result<Option<i64>, AgentSetupError> {
        match codex.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or_else(|| {
                AgentSetupError(format!("`codex.{key}` must be an integer (milliseconds)"))
            }),
        }
    };
    let positive = |key: &str, default: Duration| -> Result<Duration, AgentSetupError> {
        match millis(key)? {
            None => Ok(default),
            Some(ms) if ms > 0 => Ok(Duration::from_millis(ms as u64)),
            Some(_) => Err(AgentSetupError(format!("`codex.{key}` must be positive"))),
        }
    };
    Ok(Timeouts {
        read: positive("read_timeout_ms", defaults.read)?,
        turn: positive("turn_timeout_ms", defaults.turn)?,
        // Symphony: zero or less disables stall detection.
        stall: match millis("stall_timeout_ms")? {
            None => defaults.stall,
            Some(ms) if ms <= 0 => None,
            Some(ms) => Some(Duration::from_millis(ms as u64)),
        },
    })
}

fn to_json(value: Option<&serde_yaml::Value>) -> Result<Map<String, Value>, AgentSetupError> {
    match value {
        None | Some(serde_yaml::Value::Null) => Ok(Map::new()),
        Some(value) => match serde_json::to_value(value) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(AgentSetupError(format!("expected a map, found {other}"))),
            Err(e) => Err(AgentSetupError(e.to_string())),
        },
    }
}

fn string_list(key: &str, value: &Value) -> Result<Vec<String>, AgentSetupError> {
    let list = value
        .as_array()
        .ok_or_else(|| AgentSetupError(format!("`{key}` must be a list of strings")))?;
    list.iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| AgentSetupError(format!("`{key}` must be a list of strings")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(front_matter: &str) -> Result<AgentSetup, AgentSetupError> {
        let workflow =
            Workflow::parse(&format!("---\n{front_matter}\n---\nprompt")).expect("workflow");
        AgentSetup::from_workflow(&workflow, Some(&MockAgentCommand(vec!["mock-bin".into()])))
    }

    #[test]
    fn a_symphony_workflow_runs_codex_through_a_shell_with_its_timeouts() {
        let agent = setup(
            "tracker: {kind: linear, api_key: $LINEAR_API_KEY, project_slug: acme}\n\
             polling: {interval_ms: 30000}\n\
             agent: {max_concurrent_agents: 4, max_turns: 8}\n\
             codex:\n  command: codex --model o3 app-server\n  approval_policy: never\n  \
             thread_sandbox: workspace-write\n  turn_sandbox_policy: {type: workspaceWrite}\n  \
             turn_timeout_ms: 600000\n  read_timeout_ms: 2000\n  stall_timeout_ms: 0",
        )
        .expect("a Symphony file works unchanged");
        assert_eq!(agent.kind, "codex");
        assert_eq!(
            agent.command_argv,
            ["sh", "-lc", "codex --model o3 app-server"]
        );
        assert_eq!(agent.timeouts.turn, Duration::from_secs(600));
        assert_eq!(agent.timeouts.read, Duration::from_secs(2));
        assert_eq!(agent.timeouts.stall, None, "0 disables stall detection");
        assert_eq!(agent.options["sandbox"], "workspace-write");
        assert_eq!(agent.options["sandbox_policy"]["type"], "workspaceWrite");
        assert_eq!(agent.options["approval_policy"], "never");
    }

    #[test]
    fn maestro_options_choose_the_argv_and_the_passed_variables() {
        let agent = setup(
            "tracker: {kind: github}\nagent_provider:\n  kind: claude_code\n  options:\n    \
             command_argv: [claude, -p]\n    env: [MY_PROXY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, BATON_TABLE]\n    \
             model: sonnet",
        )
        .expect("setup");
        assert_eq!(agent.kind, "claude_code");
        assert_eq!(agent.command_argv, ["claude", "-p"]);
        assert!(agent.env_names.contains(&"MY_PROXY".to_owned()));
        assert!(agent.env_names.contains(&"ANTHROPIC_API_KEY".to_owned()));
        for platform in ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "BATON_TABLE"] {
            assert!(
                !agent.env_names.contains(&platform.to_owned()),
                "{platform} is a platform secret"
            );
        }
        // baton's own keys are not passed to the provider.
        assert!(agent.options.contains_key("model"));
        assert!(!agent.options.contains_key("env") && !agent.options.contains_key("command_argv"));
        let env = agent.environment(|name| (name == "MY_PROXY").then(|| "http://proxy".to_owned()));
        assert_eq!(env, [("MY_PROXY".to_owned(), "http://proxy".to_owned())]);
    }

    #[test]
    fn the_mock_plays_a_built_in_scenario_or_a_file_next_to_the_workflow() {
        let agent = setup("tracker: {kind: github}\nagent_provider: {kind: mock}").expect("setup");
        assert_eq!(agent.provider.kind(), "mock");
        let workflow = Workflow::parse(
            "---\ntracker: {kind: github}\nagent_provider: {kind: mock, options: {scenario: mine.jsonl}}\n---\nx",
        )
        .expect("workflow");
        let Err(without_mock) = AgentSetup::from_workflow(&workflow, None) else {
            panic!("the mock needs a command");
        };
        assert!(
            without_mock.to_string().contains("mock agent"),
            "{without_mock}"
        );
        assert!(resolve_scenario("happy_path", None) == "happy_path");
        assert!(
            resolve_scenario("mine.jsonl", Some(Path::new("/etc/baton/WORKFLOW.md")))
                .ends_with("/etc/baton/mine.jsonl")
        );
    }

    #[test]
    fn bad_agent_configuration_is_refused_with_the_key() {
        for (yaml, needle) in [
            (
                "agent_provider: {kind: gpt-pilot}",
                "unknown `agent_provider.kind`",
            ),
            (
                "agent_provider: {kind: codex, options: [a]}",
                "agent_provider.options",
            ),
            (
                "agent_provider: {options: {command_argv: codex}}",
                "command_argv",
            ),
            ("codex: {turn_timeout_ms: soon}", "codex.turn_timeout_ms"),
            ("codex: {read_timeout_ms: -5}", "codex.read_timeout_ms"),
        ] {
            let error = setup(&format!("tracker: {{kind: github}}\n{yaml}")).err();
            let error = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(needle), "{yaml}: {error}");
        }
    }
}
