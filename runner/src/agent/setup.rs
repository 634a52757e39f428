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

use super::codex::CodexProvider;
use super::{registry, AgentProvider, ApprovalPolicy, Timeouts};
use crate::redact::is_secret_name;
use baton_core::workflow::schema::AGENT_KINDS;
use baton_core::workflow::{CodexConfig, Workflow};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Variables every agent gets from the runner's environment, when set.
pub const BASE_AGENT_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ",
];

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
        // Types, key names and ranges were checked when the file was parsed.
        let provider = &workflow.config.agent_provider;
        let codex = &workflow.config.codex;
        let kind = provider.kind();
        let options_as_written = &provider.options;
        // baton's own keys are typed apart; the rest goes to the provider.
        let mut options = options_as_written.provider.clone();

        let mut command_argv = options_as_written.command_argv.clone().unwrap_or_default();
        let shell_command = match &options_as_written.command {
            Some(command) => Some(command.clone()),
            None if kind == "codex" => codex.command.clone(),
            None => None,
        };
        if command_argv.is_empty() {
            if let Some(command) = shell_command.filter(|c| !c.trim().is_empty()) {
                command_argv = login_shell(&command);
            }
        }

        if kind == "codex" {
            // Symphony's codex keys, unless the options already say.
            let model = codex.model.clone().map(Value::String);
            let sandbox = codex.thread_sandbox.clone().map(Value::String);
            for (to, value) in [
                ("approval_policy", codex.approval_policy.clone()),
                ("sandbox", sandbox),
                ("sandbox_policy", codex.turn_sandbox_policy.clone()),
                ("model", model),
            ] {
                if let Some(value) = value.filter(|v| !v.is_null()) {
                    options.entry(to).or_insert(value);
                }
            }
        }

        let approval_policy = match options_as_written.decline_approvals {
            Some(true) => ApprovalPolicy::DeclineAll,
            _ => ApprovalPolicy::AcceptAll,
        };

        let provider: Arc<dyn AgentProvider> = match kind.as_str() {
            "mock" => {
                let scenario = options_as_written
                    .scenario
                    .as_deref()
                    .unwrap_or(DEFAULT_MOCK_SCENARIO);
                let scenario = resolve_scenario(scenario, workflow.path.as_deref());
                let mut argv = if command_argv.is_empty() {
                    match mock {
                        Some(MockAgentCommand(argv)) if !argv.is_empty() => argv.clone(),
                        _ => return Err(AgentSetupError(
                            "agent_provider `mock` needs the mock agent: run it from `baton`, or set `agent_provider.options.command_argv`".into(),
                        )),
                    }
                } else {
                    command_argv.clone()
                };
                argv.extend(["--scenario".to_owned(), scenario]);
                Arc::new(CodexProvider::with_command("mock", argv))
            }
            // Unknown kinds were refused when the file was parsed; kept for callers that
            // build a config by hand.
            other => registry::provider(other).ok_or_else(|| {
                AgentSetupError(format!(
                    "unknown `agent_provider.kind` `{other}` ({})",
                    AGENT_KINDS.join(", ")
                ))
            })?,
        };
        // The provider reads its own options; a bad one fails here, before any run.
        provider
            .check_options(&options)
            .map_err(|error| AgentSetupError(error.to_string()))?;

        let mut env_names: Vec<String> = BASE_AGENT_ENV.iter().map(|s| s.to_string()).collect();
        env_names.extend(provider.env_names());
        env_names.extend(options_as_written.env.iter().flatten().cloned());
        env_names.retain(|name| !is_platform_secret(name));
        env_names.sort();
        env_names.dedup();

        Ok(Self {
            provider,
            kind,
            command_argv,
            env_names,
            timeouts: timeouts(codex),
            approval_policy,
            options,
        })
    }

    /// The agent's whole environment: the listed variables that are set, nothing else.
    pub fn environment(&self, lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env_names
            .iter()
            .filter_map(|name| lookup(name).map(|value| (name.clone(), value)))
            .collect();
        if self.runs_in_login_shell() {
            // The login profile resets PATH; the wrapper puts this copy back in front.
            if let Some((_, path)) = env.iter().find(|(name, _)| name == "PATH") {
                env.push((CALLER_PATH_ENV.to_owned(), path.clone()));
            }
        }
        env
    }

    fn runs_in_login_shell(&self) -> bool {
        matches!(self.command_argv.as_slice(), [bash, lc, script]
            if bash == "bash" && lc == "-lc" && script.starts_with(RESTORE_CALLER_PATH))
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

/// Where the wrapper finds the caller's PATH once the login profile has replaced it.
pub const CALLER_PATH_ENV: &str = "BATON_CALLER_PATH";

/// The first line of the wrapper: the caller's PATH first, then what the profile added.
const RESTORE_CALLER_PATH: &str = "PATH=\"${BATON_CALLER_PATH:+$BATON_CALLER_PATH:}$PATH\"; \
     export PATH; unset BATON_CALLER_PATH\n";

/// A shell string run as Symphony runs it, `bash -lc`, so the user's login profile applies
/// (nvm, pyenv, ...), but with the caller's PATH still first: on Debian `/etc/profile` resets
/// PATH, which would hide a `codex` the runner itself can find.
fn login_shell(command: &str) -> Vec<String> {
    vec![
        "bash".into(),
        "-lc".into(),
        format!("{RESTORE_CALLER_PATH}{command}"),
    ]
}

/// Symphony's `codex.*_timeout_ms`, already checked positive where that matters.
fn timeouts(codex: &CodexConfig) -> Timeouts {
    let defaults = Timeouts::default();
    let positive = |ms: Option<i64>, default: Duration| {
        ms.filter(|ms| *ms > 0)
            .map_or(default, |ms| Duration::from_millis(ms as u64))
    };
    Timeouts {
        read: positive(codex.read_timeout_ms, defaults.read),
        turn: positive(codex.turn_timeout_ms, defaults.turn),
        // Symphony: zero or less disables stall detection.
        stall: match codex.stall_timeout_ms {
            None => defaults.stall,
            Some(ms) if ms <= 0 => None,
            Some(ms) => Some(Duration::from_millis(ms as u64)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(front_matter: &str) -> Result<AgentSetup, AgentSetupError> {
        let workflow =
            Workflow::parse(&format!("---\n{front_matter}\n---\nprompt")).expect("workflow");
        AgentSetup::from_workflow(&workflow, Some(&MockAgentCommand(vec!["mock-bin".into()])))
    }

    /// Each provider reads its own options, and a bad one fails the workflow's set-up (the
    /// start-up check), never a run.
    #[test]
    fn a_providers_unknown_option_fails_the_set_up() {
        for kind in ["codex", "claude_code", "opencode"] {
            let error = setup(&format!(
                "agent_provider: {{kind: {kind}, options: {{modle: gpt-5}}}}"
            ))
            .err()
            .unwrap_or_else(|| panic!("{kind} accepted `modle`"));
            assert!(error.to_string().contains("modle"), "{kind}: {error}");
        }
        assert!(setup("agent_provider: {kind: codex, options: {model: gpt-5}}").is_ok());
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
        assert_eq!(agent.command_argv[..2], ["bash", "-lc"]);
        assert!(
            agent.command_argv[2].ends_with("\ncodex --model o3 app-server"),
            "{:?}",
            agent.command_argv
        );
        let env = agent.environment(|name| (name == "PATH").then(|| "/opt/bin".to_owned()));
        assert!(
            env.contains(&(CALLER_PATH_ENV.to_owned(), "/opt/bin".to_owned())),
            "the wrapper gets the caller's PATH: {env:?}"
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
    fn bad_agent_configuration_is_refused_when_the_file_is_parsed_with_the_key() {
        for (yaml, needle) in [
            ("agent_provider: {kind: gpt-pilot}", "`agent_provider.kind`"),
            (
                "agent_provider: {kind: codex, options: [a]}",
                "`agent_provider.options`",
            ),
            (
                "agent_provider: {options: {command_argv: codex}}",
                "`agent_provider.options.command_argv`",
            ),
            ("codex: {turn_timeout_ms: soon}", "`codex.turn_timeout_ms`"),
            ("codex: {read_timeout_ms: -5}", "`codex.read_timeout_ms`"),
            (
                "codex: {comand: codex app-server}",
                "unknown key `codex.comand`; did you mean `codex.command`?",
            ),
        ] {
            let text = format!("---\ntracker: {{kind: github}}\n{yaml}\n---\nprompt");
            let error = Workflow::parse(&text).expect_err(yaml);
            assert_eq!(error.code(), "workflow_parse_error");
            assert!(error.to_string().contains(needle), "{yaml}: {error}");
        }
    }
}
