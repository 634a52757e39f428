//! The operator's commands: `baton status` (and `status --since` for trends), `runs`, `logs`, `retry`, `cancel`, `replay`,
//! clients of the status API (`/api/v1/...`) that print aligned tables, or with `--json`
//! the API's JSON unchanged.
//!
//! Exit codes: 0 success, 1 the API answered an error (its message goes to stderr),
//! 2 usage, 3 the API cannot be reached.

mod accounts;
mod actions;
mod http;
mod logs;
mod progress;
mod runs;
mod status;
mod table;
mod trends;

use crate::cli::{ApiArgs, ApiCommand, LogsArgs};
use baton_core::domain::{SourceKind, WorkItemKey};
use http::{Answer, ApiClient, ClientError};
use serde::de::DeserializeOwned;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Runs the command; errors go to stderr, and the exit code says which kind it was.
pub async fn run(command: ApiCommand) -> ExitCode {
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        // `baton logs RUN | head`: the reader has what it wanted.
        Err(ClientError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("baton: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}

async fn execute(command: ApiCommand) -> Result<(), ClientError> {
    match command {
        ApiCommand::Status(args) if args.since.is_some() => {
            let since = trends::parse_since(args.since.as_deref().unwrap_or_default())?;
            let client = connect(&args.api)?;
            let answer = trends::fetch(&client, since, args.workflow.as_deref()).await?;
            show(&args.api, &answer, trends::render)
        }
        ApiCommand::Status(args) => {
            let client = connect(&args.api)?;
            let answer = status::fetch(&client).await?;
            show(&args.api, &answer, status::render)
        }
        ApiCommand::Runs(args) => {
            let key = work_item_key(&args.key)?;
            let client = connect(&args.api)?;
            let answer = runs::fetch(&client, &key).await?;
            show(&args.api, &answer, |issue| {
                runs::render(issue, chrono::Utc::now())
            })
        }
        ApiCommand::Logs(args) => logs(args).await,
        ApiCommand::Retry(args) => {
            let key = work_item_key(&args.key)?;
            let client = connect(&args.api)?;
            let answer = actions::retry(&client, &key).await?;
            show(&args.api, &answer, |outcome| {
                actions::render(outcome, "retry")
            })
        }
        ApiCommand::Cancel(args) => {
            let key = work_item_key(&args.key)?;
            let client = connect(&args.api)?;
            let answer = actions::cancel(&client, &key).await?;
            show(&args.api, &answer, |outcome| {
                actions::render(outcome, "cancel")
            })
        }
        ApiCommand::Replay(args) => {
            let delivery_id = delivery_id(&args.delivery_id)?;
            let client = connect(&args.api)?;
            let answer = actions::replay(&client, &delivery_id).await?;
            show(&args.api, &answer, |outcome| {
                actions::render(outcome, "replay")
            })
        }
    }
}

async fn logs(args: LogsArgs) -> Result<(), ClientError> {
    let run_id = run_id(&args.run_id)?;
    let client = connect(&args.api)?;
    let timeline = logs::ApiTimeline::new(&client, &run_id, Duration::from_millis(args.poll_ms));
    let mode = if args.follow {
        logs::Mode::Follow
    } else {
        logs::Mode::Once
    };
    let json = args.api.json;
    let seen = logs::read(&timeline, mode, |fetched| {
        if json {
            // One page per line: JSON Lines a script can read as the pages arrive.
            print_json(&fetched.answer)
        } else {
            print(&logs::render(&fetched.page))
        }
    })
    .await?;
    if seen == 0 && !json {
        eprintln!("baton: run {run_id} has no events");
    }
    Ok(())
}

fn connect(api: &ApiArgs) -> Result<ApiClient, ClientError> {
    ApiClient::from_env(api.url.clone())
}

/// The answer as a table, or unchanged with `--json`.
fn show<T: DeserializeOwned>(
    api: &ApiArgs,
    answer: &Answer,
    render: impl FnOnce(&T) -> String,
) -> Result<(), ClientError> {
    if api.json {
        return print_json(answer);
    }
    let value = answer.decode()?;
    print(&render(&value))
}

fn print_json(answer: &Answer) -> Result<(), ClientError> {
    let body = answer.body.trim_end();
    print(&format!("{body}\n"))
}

fn print(text: &str) -> Result<(), ClientError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Checked here so a typo is a usage error (exit 2), not a round trip.
fn work_item_key(key: &str) -> Result<String, ClientError> {
    WorkItemKey::parse(key)
        .map(|key| key.to_string())
        .map_err(|e| ClientError::Usage(format!("{e} (expected e.g. `github:acme/app#12`)")))
}

fn run_id(value: &str) -> Result<String, ClientError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| ClientError::Usage(format!("`{value}` is not a run id (a UUID)")))
}

/// `source:id`, the form `baton` records deliveries under.
fn delivery_id(value: &str) -> Result<String, ClientError> {
    let usage = |why: &str| {
        ClientError::Usage(format!(
            "`{value}` is not a delivery id: {why} (expected `source:id`, e.g. `github:72d3162e-…`)"
        ))
    };
    let (source, id) = value.split_once(':').ok_or_else(|| usage("no `source:`"))?;
    source
        .parse::<SourceKind>()
        .map_err(|e| usage(&e.to_string()))?;
    if id.is_empty() {
        return Err(usage("the id is empty"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_arguments_are_usage_errors() {
        for error in [
            work_item_key("acme/app#1").expect_err("no source"),
            work_item_key("nosuch:x").expect_err("unknown source"),
            run_id("not-a-uuid").expect_err("not a uuid"),
            delivery_id("72d3162e").expect_err("no source"),
            delivery_id("github:").expect_err("empty id"),
        ] {
            assert_eq!(error.exit_code(), 2, "{error}");
        }
        assert_eq!(
            work_item_key("github:acme/app#1").expect("key"),
            "github:acme/app#1"
        );
        assert_eq!(
            delivery_id("github:72d3162e-cc78").expect("delivery"),
            "github:72d3162e-cc78"
        );
    }

    #[test]
    fn run_ids_are_normalized() {
        assert_eq!(
            run_id("0196A0B4-0000-7000-8000-000000000001").expect("uuid"),
            "0196a0b4-0000-7000-8000-000000000001"
        );
    }
}
