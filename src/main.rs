//! `baton`: the local control plane and the operator's command line.

mod backend;
mod cli;
mod client;
mod demo;
mod dev;
mod reconciler;
mod runner;
mod serve;
mod shutdown;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than the system allocator: every webhook allocates and frees a few
/// copies of its body (4 KB and more), and glibc's malloc spends much of the ingress's time
/// consolidating its bins for them and keeps more memory resident under a steady stream.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let cli::Command::Api(command) = cli.command {
        // The API's clients print tables and errors of their own, with their own exit codes.
        return client::run(command).await;
    }
    if let cli::Command::MockAgent(args) = &cli.command {
        // Its stdout is the protocol and its stderr goes to the runner: no logging set-up.
        let code = baton_runner::mock_agent::run(&args.scenario).await;
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // The demo prints its own story on stdout; its logs only say what went wrong.
    let level = match cli.command {
        cli::Command::Demo(_) => "warn",
        _ => "info",
    };
    baton_telemetry::init("baton", level);
    let result = match cli.command {
        cli::Command::Dev(args) => dev::run(args).await,
        cli::Command::Setup(args) => backend::setup(args).await,
        cli::Command::Runner(args) => runner::run(args).await,
        cli::Command::Demo(args) => demo::run(args).await,
        cli::Command::Backup(args) => backend::backup(args).await,
        cli::Command::MockAgent(_) => Ok(()),
        cli::Command::Api(_) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}
