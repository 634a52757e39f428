//! The runner image as it ships: runner/Dockerfile built by `scripts/runner-image` (buildah,
//! no daemon) around the `baton` of this very build, then run with buildah's chroot
//! isolation on the host's network. It runs as a non-root user, `baton runner --help`
//! answers through the image's entrypoint, and a whole mock run inside it, against the
//! emulator on the host, ends `succeeded`.
//!
//! `scripts/test` installs the tools and sets `BATON_REQUIRE_RUNNER_IMAGE=1`, so there the
//! tests cannot skip; elsewhere they skip when buildah is missing.

mod common;

use baton_core::domain::{RunStatus, WorkItemKey, WorkItemStatus};
use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use common::control_plane::{wait_for_item, wait_for_runs, workflow_text, Scratch};
use common::signing::{self, github_issue};
use common::{all_secrets, aws_backends_named, spawn_with, unique_aws_settings, GITHUB_SECRET};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The image, built once for every test of this binary; `None` when skipped.
fn image() -> Option<&'static str> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let required = std::env::var_os("BATON_REQUIRE_RUNNER_IMAGE").is_some();
            if !required && !on_path("buildah") {
                eprintln!("skipped: buildah is missing (scripts/test installs it)");
                return None;
            }
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/runner-image");
            let output = Command::new(script)
                .args(["build", env!("CARGO_BIN_EXE_baton")])
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/runner-image");
            assert!(output.status.success(), "the image build failed");
            let name = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            assert!(!name.is_empty(), "scripts/runner-image printed no image");
            Some(name)
        })
        .as_deref()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// The image's ENTRYPOINT, as a container engine would start it.
fn entrypoint(image: &str) -> Vec<String> {
    let output = run_tool(
        "podman",
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Entrypoint}}",
            image,
        ],
    );
    serde_json::from_slice(&output.stdout).expect("the entrypoint is a JSON list")
}

fn run_tool(tool: &str, args: &[&str]) -> Output {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run {tool}: {error}"));
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A working container of the image (buildah's, not a running one); removed on drop.
struct Container(String);

impl Container {
    fn new(image: &str) -> Self {
        let name = format!("baton-test-{}", uuid::Uuid::new_v4().simple());
        run_tool("buildah", &["from", "--pull-never", "--name", &name, image]);
        Self(name)
    }

    /// `buildah run` of `argv` as the image's user, on the host's network, with `env` and
    /// read-only `mounts` (host path, container path).
    fn command(
        &self,
        argv: &[String],
        env: &[(&str, String)],
        mounts: &[(&Path, &str)],
    ) -> Command {
        let mut command = Command::new("buildah");
        // Under buildah the entrypoint's tini is not PID 1: it reaps as a subreaper instead.
        command.args(["run", "--isolation", "chroot", "--env", "TINI_SUBREAPER=1"]);
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        for (host, inside) in mounts {
            command
                .arg("--volume")
                .arg(format!("{}:{inside}:ro", host.display()));
        }
        command.arg(&self.0).arg("--").args(argv);
        command
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("buildah")
            .args(["rm", &self.0])
            .stdout(Stdio::null())
            .status();
    }
}

#[test]
fn the_image_runs_baton_as_a_non_root_user() {
    let Some(image) = image() else { return };
    let container = Container::new(image);

    let id = container
        .command(&["id".into(), "-u".into()], &[], &[])
        .output()
        .expect("run id");
    assert!(
        id.status.success(),
        "{}",
        String::from_utf8_lossy(&id.stderr)
    );
    let uid = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    assert_ne!(uid, "0", "the image runs as root");
    assert!(!uid.is_empty(), "id printed nothing");

    let mut argv = entrypoint(image);
    assert!(!argv.is_empty(), "the image has no entrypoint");
    argv.extend(["runner".to_owned(), "--help".to_owned()]);
    let help = container
        .command(&argv, &[], &[])
        .output()
        .expect("run help");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&help.stderr)
    );
    assert!(text.contains("Usage") && text.contains("runner"), "{text}");
}

/// `baton runner` in the image; stopped with SIGTERM (which buildah passes on) on drop.
struct ImageRunner(Child);

impl Drop for ImageRunner {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_run_inside_the_image_succeeds() {
    let Some(image) = image() else { return };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run the tests with scripts/test (the emulator)");
    let scratch = Scratch::new("baton-image");
    let workflow_file = scratch.0.join("WORKFLOW.md");
    // The workspaces live in the image's own writable directory.
    let text = workflow_text(Path::new("/var/lib/baton/workspaces"), "happy_path", "");
    std::fs::write(&workflow_file, &text).expect("write workflow");
    let settings = unique_aws_settings();
    let (store, queue) = aws_backends_named(&settings).await;
    let workflow = Workflow::load(&workflow_file).expect("workflow");
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store.clone(),
        queue,
        IngressSettings::default(),
    )
    .await;

    let container = Container::new(image);
    let inside = "/etc/baton/test/WORKFLOW.md";
    let mut argv = entrypoint(image);
    // The image's CMD is `runner`, on BATON_BACKEND=aws from its environment.
    argv.push("runner".to_owned());
    let mut env = vec![
        ("BATON_WORKFLOW", inside.to_owned()),
        ("BATON_TABLE", settings.table.clone()),
        ("BATON_QUEUE", settings.queue.clone()),
        ("BATON_DLQ", settings.dead_letter_queue.clone()),
        ("BATON_RUNNER_ID", "runner-in-image".to_owned()),
        ("BATON_POLL_WAIT_SECS", "1".to_owned()),
        ("BATON_SHUTDOWN_GRACE_SECS", "2".to_owned()),
        ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET.to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("RUST_LOG", "warn".to_owned()),
    ];
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name, value));
        }
    }
    let runner = container
        .command(&argv, &env, &[(workflow_file.as_path(), inside)])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the runner in the image");
    let _runner = ImageRunner(runner);

    let body = github_issue(
        "labeled",
        5,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", "image-delivery", &body),
            body,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse(answer["work_item"].as_str().expect("key")).expect("key");

    let item = wait_for_item(&*store, &key, "the run in the image to end", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;
    assert!(item.lease.is_none());
    let runs = wait_for_runs(&*store, &key, 1).await;
    let summary: Vec<_> = runs.iter().map(|r| (r.runner.as_str(), r.status)).collect();
    assert_eq!(
        summary,
        [("runner-in-image", RunStatus::Succeeded)],
        "{runs:#?}"
    );
}
