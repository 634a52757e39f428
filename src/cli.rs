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
    /// Serve the webhook ingress locally, with embedded backends or against AWS.
    Dev(DevArgs),
    /// Create the DynamoDB table and the SQS queues at the AWS endpoint (idempotent).
    Setup(BackendArgs),
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The workflow file. Default: ./WORKFLOW.md when present, else the built-in
    /// development workflow (trigger label `baton`, mock agent, local repositories).
    #[arg(long)]
    pub workflow: Option<PathBuf>,
    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "BATON_MAX_BODY_BYTES", default_value_t = 6 * 1024 * 1024)]
    pub max_body_bytes: usize,
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
