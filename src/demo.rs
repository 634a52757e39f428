//! `baton demo`: the whole loop once, in one process, with nothing else installed: an issue
//! on a local tracker is labelled, its signed webhook goes through the real ingress, the
//! runner claims the job, the agent edits a file in a clone of a local git repository, and
//! the change is committed on the work branch. The timeline prints as it happens.
//!
//! The agent is the built-in mock unless `--agent` names a real CLI (`codex`, `claude_code`,
//! `opencode`), which then runs with baton's unattended defaults and the model credentials
//! already in the environment.

use crate::backend::{self, Backend, BackendChoice};
use crate::cli::DemoArgs;
use anyhow::{bail, Context};
use baton_core::clock::SystemClock;
use baton_core::domain::{RunEvent, RunStatus, SourceKind, WorkItemKey, WorkItemStatus};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::ports::Store;
use baton_core::secret::Secret;
use baton_core::workflow::{Workflow, WorkflowSet, WorkflowWatch};
use baton_integrations::wiring::Wiring;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long the demo waits for the mock's run to end.
const RUN_DEADLINE: Duration = Duration::from_secs(120);
/// A real agent thinks with a real model: give it longer.
const REAL_AGENT_DEADLINE: Duration = Duration::from_secs(900);
const ISSUE: &str = "acme/demo#1";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "baton-demo-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = demo(&args, &dir).await;
    if args.keep {
        println!("kept {}", dir.display());
    } else if let Err(error) = std::fs::remove_dir_all(&dir) {
        eprintln!("baton demo: could not remove {}: {error}", dir.display());
    }
    result
}

async fn demo(args: &DemoArgs, dir: &Path) -> anyhow::Result<()> {
    let repo = dir.join("repo");
    create_repository(&repo).await?;
    let workflow = Workflow::parse(&workflow_text(
        &repo,
        &dir.join("workspaces"),
        &agent_provider(args),
    ))?;
    let secret_value = uuid::Uuid::new_v4().simple().to_string();
    let secrets: BTreeMap<_, _> = Secret::new(secret_value.clone())
        .map(|secret| (SourceKind::Github, secret))
        .into_iter()
        .collect();

    // The demo's state is thrown away with its directory: memory unless asked otherwise.
    let chosen = args.backend.backend_or(BackendChoice::Memory)?;
    if chosen == Backend::Aws {
        backend::setup(args.backend.clone()).await?;
    }
    let backends = backend::open(&chosen, &args.backend).await?;
    let clock = Arc::new(SystemClock);
    let workflows = WorkflowWatch::fixed(WorkflowSet::single(Arc::new(workflow.clone()), secrets));
    let wiring = Wiring::from_env();
    let runner = crate::runner::build(
        crate::runner::settings_from_env(Some(Duration::from_secs(1)))?,
        &workflows,
        &wiring,
        Arc::clone(&backends.store),
        Arc::clone(&backends.queue),
        clock.clone(),
    )?;
    let ingress = Arc::new(
        Ingress::with_workflows(
            workflows,
            Arc::clone(&backends.store),
            backends.queue,
            clock,
            IngressSettings::default(),
        )
        .with_announcer(wiring.announcer()),
    );
    let shutdown = CancellationToken::new();
    let runner_task = tokio::spawn(runner.run(shutdown.clone()));

    let (agent, deadline) = match args.agent.as_str() {
        "mock" => ("the mock agent".to_owned(), RUN_DEADLINE),
        real => (format!("the real `{real}` agent"), REAL_AGENT_DEADLINE),
    };
    println!("baton demo: one issue, from webhook to commit, with {agent}");
    println!("  backend     {}", backends.description);
    println!("  repository  {} (branch main)", repo.display());

    let started = Instant::now();
    let started_at = Utc::now();
    let key = deliver_webhook(ingress, &secret_value).await?;
    let outcome = follow(&*backends.store, &key, (started, deadline), started_at).await;
    shutdown.cancel();
    let _ = runner_task.await;
    let (status, workspace) = outcome?;
    if status != WorkItemStatus::Succeeded {
        bail!("the run ended {}; see the timeline above", status.as_str());
    }
    show_commit(&workspace).await
}

/// A repository with a `main` branch and one commit, as a project would have.
async fn create_repository(repo: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(repo.join("src"))?;
    std::fs::write(repo.join("README.md"), "# demo\n\nA project with a bug.\n")?;
    std::fs::write(repo.join("src/lib.rs"), "pub fn broken() {}\n")?;
    for args in [
        &["init", "--quiet", "--initial-branch=main"][..],
        &["add", "--all"],
        &[
            "-c",
            "user.name=demo",
            "-c",
            "user.email=demo@localhost",
            "commit",
            "--quiet",
            "-m",
            "Initial commit",
        ],
    ] {
        git(repo, args).await?;
    }
    Ok(())
}

async fn git(cwd: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .context("cannot run `git`: is it installed?")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The `agent_provider` of the demo's workflow (YAML): the mock playing `--scenario`, or the
/// real CLI `--agent` names, with a read timeout that allows for a CLI's first start.
fn agent_provider(args: &DemoArgs) -> String {
    let quote = |value: &str| Value::String(value.to_owned()).to_string();
    match args.agent.as_str() {
        "mock" => format!(
            "{{kind: mock, options: {{scenario: {}}}}}",
            quote(&args.scenario)
        ),
        real => format!("{{kind: {real}}}\ncodex: {{read_timeout_ms: 60000}}"),
    }
}

fn workflow_text(repo: &Path, workspaces: &Path, agent_provider: &str) -> String {
    // JSON strings are valid YAML scalars, whatever the paths contain.
    let quote = |value: &str| Value::String(value.to_owned()).to_string();
    format!(
        "---\n\
         tracker: {{kind: github}}\n\
         triggers: {{label: baton}}\n\
         webhooks: {{github: {{secret: $BATON_DEMO_SECRET}}}}\n\
         agent_provider: {agent_provider}\n\
         agent: {{max_turns: 1, max_continuations: 0, max_attempts: 1}}\n\
         workspace: {{root: {workspaces}}}\n\
         repo: {{path: {repo}, base_branch: main, branch: {{work_prefix: baton/}}}}\n\
         ---\n\
         Fix {{{{ issue.identifier }}}}: {{{{ issue.title }}}}\n\n{{{{ issue.description }}}}\n",
        workspaces = quote(&workspaces.display().to_string()),
        repo = quote(&repo.display().to_string()),
    )
}

/// Labels the issue on the "tracker": its signed `issues.labeled` webhook goes through the
/// ingress exactly as GitHub's would. Returns the work item's key.
async fn deliver_webhook(ingress: Arc<Ingress>, secret: &str) -> anyhow::Result<WorkItemKey> {
    let body = serde_json::to_vec(&json!({
        "action": "labeled",
        "label": { "name": "baton" },
        "issue": {
            "id": 1, "number": 1, "title": "Fix the broken function",
            "body": "`broken()` in src/lib.rs does nothing. Make it work.",
            "state": "open", "labels": [{ "name": "baton" }],
            "html_url": "https://github.com/acme/demo/issues/1",
            "user": { "login": "demo", "type": "User" }, "author_association": "OWNER"
        },
        "repository": { "full_name": "acme/demo", "name": "demo", "owner": { "login": "acme" } },
        "sender": { "login": "demo", "type": "User" }
    }))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("webhook secret")?;
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let request = axum::http::Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header("x-hub-signature-256", signature)
        .body(axum::body::Body::from(body))?;
    let response = baton_web::ingress::router(ingress).oneshot(request).await?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    println!("→ webhook  issues.labeled {ISSUE}: {status} {answer}");
    if !status.is_success() {
        bail!("the ingress refused the webhook: {status} {answer}");
    }
    let key = answer["work_item"].as_str().unwrap_or_default();
    WorkItemKey::parse(key).map_err(|e| anyhow::anyhow!("unexpected answer: {e}"))
}

/// Prints the run's timeline until the work item's run is over; returns how it ended and
/// the workspace it ran in.
async fn follow(
    store: &dyn Store,
    key: &WorkItemKey,
    (started, deadline): (Instant, Duration),
    started_at: DateTime<Utc>,
) -> anyhow::Result<(WorkItemStatus, PathBuf)> {
    let mut printed: BTreeMap<String, u32> = BTreeMap::new();
    let mut workspace = PathBuf::new();
    loop {
        if started.elapsed() > deadline {
            bail!("the run did not end within {} s", deadline.as_secs());
        }
        let item = store
            .get_work_item(key)
            .await?
            .context("the work item disappeared")?;
        let mut run_over = true;
        for run in store.list_runs(key).await? {
            let after = printed.entry(run.run_id.to_string()).or_insert(0);
            let events = store.list_events(&run.run_id, *after, 500).await?;
            // An ended run's timeline is complete: once a look finds nothing new, it is over.
            run_over &= run.status != RunStatus::Running && events.is_empty();
            for event in events {
                *after = event.seq;
                if let Some(path) = event
                    .data
                    .get("path")
                    .and_then(Value::as_str)
                    .filter(|_| event.kind == "workspace_ready")
                {
                    workspace = PathBuf::from(path);
                }
                let offset = (event.at - started_at).num_milliseconds();
                println!("  +{offset:>5} ms  {}", describe(&event));
            }
        }
        if !item.status.is_active() && run_over {
            println!(
                "← {} {}",
                item.status.as_str(),
                item.last_error.as_deref().unwrap_or("")
            );
            return Ok((item.status, workspace));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One line per timeline entry.
fn describe(event: &RunEvent) -> String {
    let data = &event.data;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let detail = match event.kind.as_str() {
        "claimed" => format!("runner {} (attempt {})", text("runner"), data["attempt"]),
        "prompt_rendered" => format!("{} characters", data["chars"]),
        "rate_limit" => data["details"].to_string(),
        "process_exited" => format!("exit code {}", data["code"]),
        "workspace_ready" => format!("{} on {}", text("path"), text("branch")),
        "session_started" => format!("session {}", text("session_id")),
        "turn_started" => format!("turn {}", data["turn"]),
        "message" => text("text"),
        "command" => format!("$ {} (exit {})", text("command"), data["exit_code"]),
        "file_change" => format!("{} {}", text("kind"), text("path")),
        "usage" => format!("{} tokens", data["total_tokens"]),
        "turn_ended" => format!("turn {} {}", data["turn"], text("status")),
        "committed" => format!("{} on {}", text("commit"), text("branch")),
        "run_ended" => text("status"),
        _ => data.to_string(),
    };
    format!("{:<16} {detail}", event.kind)
}

async fn show_commit(workspace: &Path) -> anyhow::Result<()> {
    if workspace.as_os_str().is_empty() {
        bail!("the run recorded no workspace");
    }
    let branch = git(workspace, &["rev-parse", "--abbrev-ref", "HEAD"]).await?;
    let log = git(workspace, &["log", "--oneline", "-1"]).await?;
    let stat = git(workspace, &["show", "--stat", "--format=", "HEAD"]).await?;
    println!("✓ committed on {branch}: {log}");
    for line in stat.lines() {
        println!("    {line}");
    }
    Ok(())
}
