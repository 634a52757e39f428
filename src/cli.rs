use baton_aws::BackendKind;
use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

/// baton turns an issue tracker into the execution layer for coding agents.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane locally (ingress, read API, runner), embedded or against AWS.
    Dev(DevArgs),
    /// Create the DynamoDB table and the SQS queues at the AWS endpoint (idempotent).
    Setup(BackendArgs),
    /// Run the runner loop alone: claim jobs from the queue and drive agent sessions.
    Runner(RunnerArgs),
    /// Run the whole loop once on a local repository with the mock agent, and show it.
    Demo(DemoArgs),
    /// The mock agent (speaks the Codex app-server protocol from a scenario).
    #[command(hide = true)]
    MockAgent(MockAgentArgs),
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
    /// instead of the embedded in-memory backends. Same as BATON_BACKEND=aws.
    #[arg(long)]
    pub aws: bool,
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
    /// `--aws`, else `BATON_BACKEND` (`memory` or `aws`; anything else is an error), else memory.
    pub fn kind(&self) -> anyhow::Result<BackendKind> {
        if self.aws {
            return Ok(BackendKind::Aws);
        }
        match std::env::var("BATON_BACKEND") {
            Ok(value) => value
                .parse()
                .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}")),
            Err(_) => Ok(BackendKind::Memory),
        }
    }
}
