//! `baton`: the local control plane and the operator's command line.

mod backend;
mod cli;
mod dev;
mod logging;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init();
    let result = match cli.command {
        cli::Command::Dev(args) => dev::run(args).await,
        cli::Command::Setup(args) => backend::setup(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}
