use crate::backend::{Backend, BackendChoice};
use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

/// baton turns an issue tracker into the execution layer for coding agents.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, after_help = TOP_LEVEL_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane on one machine (ingress, read API, runner, reconciler), with its
    /// state in ./.baton (--data-dir), in memory (--memory) or in DynamoDB and SQS (--aws).
    Dev(DevArgs),
    /// Create the DynamoDB table and the SQS queues at the AWS endpoint (idempotent).
    Setup(BackendArgs),
    /// Run the runner loop alone: claim jobs from the queue and drive agent sessions.
    Runner(RunnerArgs),
    /// Run the whole loop once on a local repository with the mock agent, and show it.
    Demo(DemoArgs),
    /// Copy the embedded store's database, consistently, while baton keeps running.
    Backup(BackupArgs),
    /// The mock agent (speaks the Codex app-server protocol from a scenario).
    #[command(hide = true)]
    MockAgent(MockAgentArgs),
    /// The status API's clients.
    #[command(flatten)]
    Api(ApiCommand),
}

/// The commands that talk to the status API (`src/client/`).
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Show what the control plane is working on: counts, then running, queued, retrying,
    /// failed and dead-lettered items.
    #[command(after_help = CLIENT_HELP)]
    Status(StatusArgs),
    /// Show an issue's runs: status, reason, attempt, start, duration, tokens, error.
    #[command(after_help = CLIENT_HELP)]
    Runs(IssueArgs),
    /// Print a run's timeline, one line per event; `--follow` waits for new ones until it ends.
    #[command(after_help = CLIENT_HELP)]
    Logs(LogsArgs),
    /// Queue a new run of an issue now (failed, dead-lettered, cancelled, succeeded or retrying).
    #[command(after_help = CLIENT_HELP)]
    Retry(IssueArgs),
    /// Stop an issue's run, or drop its queued or scheduled one.
    #[command(after_help = CLIENT_HELP)]
    Cancel(IssueArgs),
    /// Route a received webhook delivery again, bypassing deduplication.
    #[command(after_help = CLIENT_HELP)]
    Replay(ReplayArgs),
}

/// The footer of `baton --help`.
const TOP_LEVEL_HELP: &str = "\
status, runs, logs, retry, cancel and replay talk to the status API at --api URL
(BATON_API_URL, default http://127.0.0.1:3000) and exit with 1 when the API answers an error,
2 on a usage error, 3 when the API cannot be reached.";

/// The footer of every command that talks to the status API.
pub const CLIENT_HELP: &str = "\
The API token, when the server requires one, is read from BATON_API_TOKEN (never printed).

Exit codes:
  0  success
  1  the API answered with an error (its message is printed)
  2  usage error (bad arguments)
  3  cannot connect to the API";

/// Where the status API is and how to print its answers.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The baton API's base URL (`baton dev` serves it on port 3000).
    #[arg(long = "api", env = "BATON_API_URL", default_value = "http://127.0.0.1:3000",
          value_parser = parse_api_url, value_name = "URL")]
    pub url: reqwest::Url,
    /// Print the API's JSON unchanged instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Only http(s) URLs that can carry a path: anything else is a usage error (exit code 2).
fn parse_api_url(value: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(value).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(format!("`{value}` is not an http(s) URL"));
    }
    Ok(url)
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Instead of what is in flight, the trends over this span (`30m`, `24h`, `7d`; at
    /// most 90d): runs by outcome, latency, tokens and cost, queue depth, webhooks per hour.
    #[arg(long, value_name = "SPAN")]
    pub since: Option<String>,
    /// With `--since`: one workflow's runs only (its name).
    #[arg(long, value_name = "NAME", requires = "since")]
    pub workflow: Option<String>,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The work item key: `github:acme/app#12`, `linear:ENG-42`, ...
    #[arg(value_name = "ISSUE_KEY")]
    pub key: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run id (a UUID, as `baton runs` shows it).
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Keep printing new events until the run has ended.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// With --follow: how often to ask for new events, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub poll_ms: u64,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The delivery id, `source:id`: `github:72d3162e-cc78-11e3-81ab-4c9367dc0958`.
    #[arg(value_name = "DELIVERY_ID")]
    pub delivery_id: String,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct RunnerArgs {
    /// The workflow file, or a directory of `*.md` workflow files. Default: ./WORKFLOW.md
    /// when present, else the built-in one.
    #[arg(long, env = "BATON_WORKFLOW")]
    pub workflow: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's directory (repository, workspace) instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// The mock scenario the agent plays.
    #[arg(long, default_value = "happy_path")]
    pub scenario: String,
    /// The agent: the built-in mock, or a real CLI on PATH (`codex`, `claude`, `opencode`)
    /// with the credentials you already have (OPENAI_API_KEY, ANTHROPIC_API_KEY, a login,
    /// or a model provider in Codex's config.toml).
    #[arg(long, default_value = "mock", value_parser = ["mock", "codex", "claude_code", "opencode"])]
    pub agent: String,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Args)]
pub struct MockAgentArgs {
    /// A scenario file, or the name of a built-in one (`happy_path`, `stall`, ...).
    #[arg(long, env = "BATON_MOCK_SCENARIO")]
    pub scenario: PathBuf,
    /// Ignored: lets the mock stand in for `codex app-server`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The workflow file, or a directory of `*.md` workflow files (one per repository or
    /// project). Default: ./WORKFLOW.md when present, else the built-in development workflow
    /// (trigger label `baton`, mock agent, local repositories).
    #[arg(long, env = "BATON_WORKFLOW")]
    pub workflow: Option<PathBuf>,
    /// How often changed workflow files are picked up, in milliseconds; 0: never.
    #[arg(long, env = "BATON_WORKFLOW_RELOAD_MS", default_value_t = 2000)]
    pub workflow_reload_ms: u64,
    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "BATON_MAX_BODY_BYTES", default_value_t = 6 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// The memory all webhook bodies waiting for verification may hold together, in bytes;
    /// past it, 503 with Retry-After.
    #[arg(long, env = "BATON_BODY_BUDGET_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub body_budget_bytes: usize,
    /// Seconds a client has to send a request's headers (and, between requests, to start
    /// the next one) before its connection is closed.
    #[arg(long, env = "BATON_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Seconds without a byte either way (a stalled upload or download) before a connection
    /// is closed; not counted while a handler works on a request it has read whole.
    #[arg(long, env = "BATON_IDLE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Connections served at once; past it, new ones get 503 with Retry-After.
    #[arg(long, env = "BATON_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub max_connections: u64,
    /// Serve webhooks only: leave the jobs on the queue for separate `baton runner`s.
    #[arg(long)]
    pub no_runner: bool,
    /// How often the reconciler requeues lost jobs, in seconds.
    #[arg(long, env = "BATON_RECONCILE_SECS", default_value_t = 60)]
    pub reconcile_every_secs: u64,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Use DynamoDB and SQS at AWS_ENDPOINT_URL (LocalStack, an emulator, or AWS itself)
    /// instead of the embedded backends. Same as BATON_BACKEND=aws.
    #[arg(long, conflicts_with = "memory")]
    pub aws: bool,
    /// Keep all state in memory: nothing is written to disk and everything is gone when the
    /// process ends (tests, demos). Same as BATON_BACKEND=memory.
    #[arg(long)]
    pub memory: bool,
    /// Where the embedded durable store keeps its database (`baton.db`); created when missing.
    /// Several baton processes may share one directory.
    #[arg(
        long,
        env = "BATON_DATA_DIR",
        default_value = ".baton",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// The DynamoDB table.
    #[arg(long, env = "BATON_TABLE", default_value = "baton")]
    pub table: String,
    /// The jobs queue's name (its URL is looked up).
    #[arg(long, env = "BATON_QUEUE", default_value = "baton-jobs")]
    pub queue: String,
    /// The dead-letter queue's name.
    #[arg(long, env = "BATON_DLQ", default_value = "baton-jobs-dlq")]
    pub dlq: String,
}

impl BackendArgs {
    /// The backend the flags or `BATON_BACKEND` (`embedded`, `memory` or `aws`; anything else
    /// is an error) ask for, or `default` when neither does.
    pub fn backend_or(&self, default: BackendChoice) -> anyhow::Result<Backend> {
        let choice = if self.aws {
            BackendChoice::Aws
        } else if self.memory {
            BackendChoice::Memory
        } else {
            match std::env::var("BATON_BACKEND") {
                Ok(value) if !value.trim().is_empty() => value
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?,
                _ => default,
            }
        };
        Ok(match choice {
            BackendChoice::Embedded => Backend::Embedded(self.data_dir.clone()),
            BackendChoice::Memory => Backend::Memory,
            BackendChoice::Aws => Backend::Aws,
        })
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The directory to write the copy into (it must not exist, or be empty). Start baton on
    /// the copy with `--data-dir PATH`.
    #[arg(value_name = "PATH")]
    pub destination: PathBuf,
    /// The data directory to copy (the live one; baton may keep running).
    #[arg(
        long,
        env = "BATON_DATA_DIR",
        default_value = ".baton",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
}
