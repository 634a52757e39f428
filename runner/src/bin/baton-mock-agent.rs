//! `baton-mock-agent`: speaks the Codex app-server protocol from a scenario file.
//!
//! Usage: `baton-mock-agent [--scenario PATH] [app-server]`; without `--scenario`, the path
//! comes from `BATON_MOCK_SCENARIO`. Other arguments are ignored (so it can stand in for
//! `codex app-server`).

use std::path::PathBuf;

fn scenario_path() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--scenario" {
            return args.next().map(PathBuf::from);
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--scenario=")) {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os("BATON_MOCK_SCENARIO").map(PathBuf::from)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(path) = scenario_path() else {
        eprintln!("usage: baton-mock-agent --scenario PATH (or BATON_MOCK_SCENARIO=PATH)");
        std::process::exit(2);
    };
    let code = baton_runner::mock_agent::run(&path).await;
    std::process::exit(code);
}
