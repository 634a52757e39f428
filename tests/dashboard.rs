//! The dashboard in a real browser: a real `baton dev` process runs real sessions of the
//! mock agent (one succeeds, one fails, one is dead-lettered, one keeps running), and headless Chromium loads the
//! overview, an issue page and a run page. Then an operator cancels and retries through the
//! `baton` CLI, and the API, the CLI and the browser must show the same statuses and counts.
//! The assertions are on the DOM Chromium rendered, and the screenshots stay in
//! `target/screenshots/` for a person to look at.
//!
//! Without `/usr/bin/chromium` the test skips loudly, unless `BATON_REQUIRE_BROWSER` is set
//! (`scripts/test` installs the browser and sets it, so CI cannot skip).

mod common;

use common::signing::{self, github_issue};
use common::GITHUB_SECRET;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const SUCCEEDING: u64 = 101;
/// Asks for user input, which an unattended run cannot give: failed, not retried.
const FAILING: u64 = 202;
/// A failed turn, retryable but out of attempts: dead-lettered.
const DEAD: u64 = 404;
const RUNNING: u64 = 303;
const SUCCEEDING_TITLE: &str = "Fix the flaky login test";
/// Issue text is untrusted: this must show as text, never run.
const FAILING_TITLE: &str = "Upgrade the <script>document.title='owned'</script> parser";
const DEAD_TITLE: &str = "Speed up the search index";
const RUNNING_TITLE: &str = "Rewrite the billing module";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("baton-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The built-in development workflow, except that the mock agent's scenario depends on the
/// issue: the runner runs every job with one workflow, so a small shell wrapper picks the
/// scenario from the workspace directory (named after the issue) the agent starts in.
fn write_workflow(dir: &Path) -> PathBuf {
    let long_scenario = dir.join("long.jsonl");
    // Alive (heartbeats) for five minutes: still running while the browser looks.
    std::fs::write(
        &long_scenario,
        "{\"do\":\"message\",\"text\":\"Reading the billing code.\"}\n\
         {\"do\":\"usage\",\"input\":400,\"output\":50}\n\
         {\"do\":\"heartbeat\",\"count\":600,\"interval_ms\":500}\n\
         {\"do\":\"complete\",\"status\":\"completed\"}\n",
    )
    .expect("write scenario");
    // Over `agent.max_tokens_per_run`: a failure no retry can fix, so the item ends `failed`.
    let over_budget = dir.join("over_budget.jsonl");
    std::fs::write(
        &over_budget,
        "{\"do\":\"message\",\"text\":\"I need to know something.\"}\n\
         {\"do\":\"usage\",\"input\":900000,\"output\":200000}\n\
         {\"do\":\"hang\"}\n",
    )
    .expect("write scenario");
    let baton = env!("CARGO_BIN_EXE_baton");
    let script = format!(
        "case \"$(pwd)\" in \
           *app_{FAILING}*) exec '{baton}' mock-agent --scenario '{over_budget}' ;; \
           *app_{DEAD}*) exec '{baton}' mock-agent --scenario failed_turn ;; \
           *app_{RUNNING}*) exec '{baton}' mock-agent --scenario '{long}' ;; \
           *) exec '{baton}' mock-agent --scenario happy_path ;; \
         esac",
        long = long_scenario.display(),
        over_budget = over_budget.display()
    );
    let workflow = format!(
        "---\n\
         tracker:\n  kind: memory\n\
         triggers:\n  label: baton\n\
         agent_provider:\n  kind: mock\n  options:\n    command_argv: [/bin/sh, -c, {script}]\n\
         agent:\n  max_turns: 1\n  max_continuations: 0\n  max_attempts: 1\n  max_tokens_per_run: 1000000\n\
         workspace:\n  root: {root}\n\
         repo:\n  provider:\n    kind: memory\n  base_branch: main\n  branch:\n    work_prefix: baton/\n\
         ---\n\
         You are working on {{{{ issue.identifier }}}}: {{{{ issue.title }}}}\n",
        script = serde_json::to_string(&script).expect("quote the script"),
        root = serde_json::to_string(&dir.join("workspaces")).expect("quote the root"),
    );
    let path = dir.join("WORKFLOW.md");
    std::fs::write(&path, workflow).expect("write workflow");
    path
}

struct DevServer {
    child: Child,
    base_url: String,
    client: reqwest::Client,
}

impl DevServer {
    async fn start(workflow: &Path) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["dev", "--port", &port.to_string(), "--workflow"])
            .arg(workflow)
            .arg("--data-dir")
            .arg(workflow.with_file_name("data"))
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("BATON_PRICE_INPUT_PER_MTOK", "2.50")
            .env("BATON_PRICE_OUTPUT_PER_MTOK", "10")
            .env("RUST_LOG", "warn")
            // The running session is stopped at once when the test ends.
            .env("BATON_SHUTDOWN_GRACE_SECS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn baton dev");
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = server
                .client
                .get(format!("{}/healthz", server.base_url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if healthy {
                return server;
            }
            assert!(Instant::now() < deadline, "baton dev never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a signed `issues.labeled` webhook for issue `number` titled `title`.
    async fn label_issue(&self, number: u64, title: &str) {
        let template = github_issue(
            "labeled",
            number,
            &["baton"],
            json!({ "label": { "name": "baton" } }),
        );
        let mut payload: Value = serde_json::from_slice(&template).expect("payload");
        payload["issue"]["title"] = json!(title);
        let body = serde_json::to_vec(&payload).expect("body");
        let delivery = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .client
            .post(format!("{}/webhooks/github", self.base_url))
            .body(body.clone());
        for (name, value) in signing::github(GITHUB_SECRET, "issues", &delivery, &body) {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("post webhook");
        assert_eq!(response.status().as_u16(), 202, "webhook for #{number}");
    }

    /// Polls the JSON API for issue `number` until `done` holds.
    async fn wait_for_issue(&self, number: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let response = self
                .client
                .get(format!(
                    "{}/api/v1/issues/github%3Aacme%2Fapp%23{number}",
                    self.base_url
                ))
                .send()
                .await
                .expect("get issue");
            if response.status().is_success() {
                last = response.json().await.expect("json");
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("issue #{number} never got there; last answer: {last}");
    }

    fn stop(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "baton dev exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "baton dev ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Headless Chromium with a fresh profile per call, and nothing talking to the network
/// besides the page.
struct Browser {
    profiles: Scratch,
}

impl Browser {
    /// `None` when Chromium is absent and the test may skip.
    fn find() -> Option<Self> {
        if Path::new(CHROMIUM).is_file() {
            return Some(Self {
                profiles: Scratch::new("chromium"),
            });
        }
        assert!(
            std::env::var_os("BATON_REQUIRE_BROWSER").is_none(),
            "BATON_REQUIRE_BROWSER is set but {CHROMIUM} is missing: run scripts/browser.sh"
        );
        None
    }

    fn run(&self, args: &[&str], url: &str) -> std::process::Output {
        let profile = self.profiles.0.join(uuid::Uuid::new_v4().to_string());
        let output = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("run chromium");
        assert!(
            output.status.success(),
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The DOM after Chromium loaded and rendered `url`.
    fn dom(&self, url: &str) -> String {
        let output = self.run(&["--dump-dom"], url);
        String::from_utf8(output.stdout).expect("utf-8 DOM")
    }

    /// A 1280×900 screenshot of `url` at `path`.
    fn screenshot(&self, url: &str, path: &Path) {
        let _ = std::fs::remove_file(path);
        self.run(
            &[
                &format!("--screenshot={}", path.display()),
                "--window-size=1280,900",
            ],
            url,
        );
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot of {url} at {}", path.display());
    }
}

/// What a person reads: the text of the body, without markup, entities decoded.
fn visible_text(dom: &str) -> String {
    let body = dom.split("</style>").last().unwrap_or(dom);
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The overview's sections as `(heading, visible text)`.
fn sections(dom: &str) -> Vec<(String, String)> {
    dom.split("<section><h2>")
        .skip(1)
        .map(|part| {
            let heading = part.split(" <span").next().unwrap_or_default().to_owned();
            let content = part.split("</section>").next().unwrap_or_default();
            (heading, visible_text(content))
        })
        .collect()
}

fn screenshots_dir() -> PathBuf {
    // `target/tmp` for integration tests; the screenshots go beside it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

fn run_id_of(issue: &Value) -> String {
    issue["runs"][0]["run_id"]
        .as_str()
        .expect("a run id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_shows_running_failed_and_finished_work_with_their_timelines() {
    let Some(browser) = Browser::find() else {
        eprintln!(
            "\n\n!!! SKIPPED the dashboard browser test: {CHROMIUM} is missing.\n\
             !!! Run scripts/browser.sh (scripts/test does) or set BATON_REQUIRE_BROWSER=1 to fail instead.\n"
        );
        return;
    };
    let scratch = Scratch::new("dashboard");
    let workflow = write_workflow(&scratch.0);
    let server = DevServer::start(&workflow).await;
    server.label_issue(SUCCEEDING, SUCCEEDING_TITLE).await;
    server.label_issue(FAILING, FAILING_TITLE).await;
    server.label_issue(DEAD, DEAD_TITLE).await;
    server.label_issue(RUNNING, RUNNING_TITLE).await;

    let succeeded = server
        .wait_for_issue(SUCCEEDING, |issue| {
            issue["work_item"]["status"] == "succeeded"
        })
        .await;
    let failed = server
        .wait_for_issue(FAILING, |issue| issue["work_item"]["status"] == "failed")
        .await;
    server
        .wait_for_issue(DEAD, |issue| {
            issue["work_item"]["status"] == "dead_lettered"
        })
        .await;
    // Running, and far enough in that its timeline has the agent's first message.
    let running = server
        .wait_for_issue(RUNNING, |issue| {
            issue["work_item"]["status"] == "running"
                && issue["runs"][0]["events"]
                    .as_array()
                    .is_some_and(|events| events.iter().any(|event| event["kind"] == "usage"))
        })
        .await;
    let shots = screenshots_dir();

    // The overview: each title under its status.
    let overview_url = format!("{}/", server.base_url);
    let dom = browser.dom(&overview_url);
    assert!(
        !dom.contains("<script"),
        "the hostile title became markup:\n{dom}"
    );
    let sections = sections(&dom);
    let find = |heading: &str| {
        sections
            .iter()
            .find(|(h, _)| h == heading)
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("no `{heading}` section in:\n{dom}"))
    };
    let running_section = find("Running");
    assert!(running_section.contains(RUNNING_TITLE), "{running_section}");
    assert!(
        running_section.contains("acme/app#303"),
        "{running_section}"
    );
    let failed_section = find("Failed");
    assert!(failed_section.contains(FAILING_TITLE), "{failed_section}");
    assert!(
        failed_section.contains("token_budget_exceeded"),
        "{failed_section}"
    );
    let dead_section = find("Dead-lettered");
    assert!(dead_section.contains(DEAD_TITLE), "{dead_section}");
    assert!(
        dead_section.contains("upstream model error"),
        "{dead_section}"
    );
    for heading in [
        "Running",
        "Awaiting approval",
        "Queued",
        "Retrying",
        "Dead-lettered",
    ] {
        assert!(!find(heading).contains(FAILING_TITLE), "{heading}");
    }
    for heading in [
        "Running",
        "Awaiting approval",
        "Queued",
        "Retrying",
        "Failed",
    ] {
        assert!(!find(heading).contains(DEAD_TITLE), "{heading}");
    }
    for empty in [
        "Nothing is waiting for approval.",
        "Nothing is queued.",
        "Nothing is waiting for a retry.",
    ] {
        assert!(visible_text(&dom).contains(empty), "missing `{empty}`");
    }
    let overview_text = visible_text(&dom);
    assert!(overview_text.contains("1 Succeeded"), "{overview_text}");
    // The finished item is counted, not listed; tokens and cost are summed.
    assert!(!overview_text.contains(SUCCEEDING_TITLE), "{overview_text}");
    assert!(overview_text.contains("Cost $"), "{overview_text}");
    browser.screenshot(&overview_url, &shots.join("overview.png"));

    // The failing issue's page: its error and its run's timeline.
    let failed_url = format!("{}/issues/github%3Aacme%2Fapp%23{FAILING}", server.base_url);
    let dom = browser.dom(&failed_url);
    assert!(!dom.contains("<script"), "{dom}");
    let text = visible_text(&dom);
    assert!(
        text.contains(&format!("acme/app#{FAILING} · {FAILING_TITLE}")),
        "{text}"
    );
    assert!(text.contains("Status failed"), "{text}");
    assert!(text.contains("Error token_budget_exceeded"), "{text}");
    for entry in [
        "claimed",
        "session_started",
        "I need to know something.",
        "turn_ended",
        "run_ended failed token_budget_exceeded",
    ] {
        assert!(text.contains(entry), "no `{entry}` in the timeline: {text}");
    }
    assert_eq!(failed["runs"].as_array().map(Vec::len), Some(1));
    browser.screenshot(&failed_url, &shots.join("issue-failed.png"));

    // The successful run's own page: the whole timeline as the agent did it.
    let run_url = format!("{}/runs/{}", server.base_url, run_id_of(&succeeded));
    let dom = browser.dom(&run_url);
    let text = visible_text(&dom);
    assert!(
        text.contains(&format!("acme/app#{SUCCEEDING} · {SUCCEEDING_TITLE}")),
        "{text}"
    );
    assert!(text.contains("Status succeeded"), "{text}");
    for entry in [
        "Looking at the issue.",
        "$ cargo test exit 0",
        "test result: ok",
        "update src/lib.rs",
        "1,200 in · 300 out · 1,500 total tokens",
        "Done: the bug is fixed.",
        "run_ended succeeded",
    ] {
        assert!(text.contains(entry), "no `{entry}` in the run page: {text}");
    }
    // 1,200 in at $2.50 and 300 out at $10 per million tokens.
    assert!(text.contains("Cost $0.0060"), "{text}");
    assert!(
        !dom.contains("http-equiv=\"refresh\""),
        "an ended run stays put"
    );
    browser.screenshot(&run_url, &shots.join("run-succeeded.png"));

    // The running run's page reloads itself and shows what the agent has done so far.
    let live_url = format!("{}/runs/{}", server.base_url, run_id_of(&running));
    let dom = browser.dom(&live_url);
    assert!(dom.contains("http-equiv=\"refresh\""), "a live run reloads");
    let text = visible_text(&dom);
    assert!(text.contains("Status running"), "{text}");
    assert!(text.contains("Reading the billing code."), "{text}");
    assert!(text.contains("Running for"), "{text}");
    browser.screenshot(&live_url, &shots.join("run-running.png"));

    // An operator acts through the CLI: stops the running session, retries the failed item.
    let running_key = format!("github:acme/app#{RUNNING}");
    let failing_key = format!("github:acme/app#{FAILING}");
    cli(&server.base_url, &["cancel", &running_key]);
    server
        .wait_for_issue(RUNNING, |issue| issue["work_item"]["status"] == "cancelled")
        .await;
    cli(&server.base_url, &["retry", &failing_key]);
    let retried = server
        .wait_for_issue(FAILING, |issue| {
            issue["work_item"]["status"] == "failed"
                && issue["runs"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    assert_eq!(retried["runs"][1]["reason"], "manual", "{retried}");
    assert_same_truth(&server, &browser, &shots).await;

    // The retried item: both runs, by id, on its page and in `baton runs`.
    let dom = browser.dom(&failed_url);
    let runs_table = cli(&server.base_url, &["runs", &failing_key]);
    for run in retried["runs"].as_array().expect("runs") {
        let id = run["run_id"].as_str().expect("run id");
        assert!(dom.contains(id), "run {id} missing from the issue page");
        assert!(
            runs_table.contains(id),
            "run {id} missing from:\n{runs_table}"
        );
    }
    assert!(runs_table.contains("manual"), "{runs_table}");

    server.stop();
}

/// Runs the real `baton` CLI against the server and returns its stdout; it must succeed.
fn cli(api: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .args(["--api", api])
        .env_remove("BATON_API_TOKEN")
        .output()
        .expect("run the baton CLI");
    assert!(
        output.status.success(),
        "baton {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The API's state, the CLI's `status` (JSON and table) and the dashboard's overview list
/// the same items under the same statuses, with the same counts.
async fn assert_same_truth(server: &DevServer, browser: &Browser, shots: &Path) {
    let mut api: Value = server
        .client
        .get(format!("{}/api/v1/state", server.base_url))
        .send()
        .await
        .expect("get state")
        .json()
        .await
        .expect("state json");
    let mut from_cli: Value =
        serde_json::from_str(&cli(&server.base_url, &["status", "--json"])).expect("cli json");
    let table = cli(&server.base_url, &["status"]);
    let overview_url = format!("{}/", server.base_url);
    let dom = browser.dom(&overview_url);
    browser.screenshot(&overview_url, &shots.join("overview-after-actions.png"));
    // Only the snapshot time may differ between two reads of a settled system.
    api["generated_at"] = Value::Null;
    from_cli["generated_at"] = Value::Null;
    assert_eq!(api, from_cli, "the CLI's JSON is not the API's");

    let sections = sections(&dom);
    for (list, heading) in [
        ("running", "Running"),
        ("awaiting_approval", "Awaiting approval"),
        ("queued", "Queued"),
        ("retrying", "Retrying"),
        ("failed", "Failed"),
        ("dead_lettered", "Dead-lettered"),
    ] {
        let section = sections
            .iter()
            .find(|(h, _)| h == heading)
            .map(|(_, text)| text.as_str())
            .unwrap_or_else(|| panic!("no `{heading}` section"));
        for entry in api[list].as_array().expect("a list") {
            let identifier = entry["identifier"].as_str().expect("identifier");
            let key = entry["work_item"].as_str().expect("key");
            assert!(
                section.contains(identifier),
                "{identifier} not under `{heading}`: {section}"
            );
            assert!(
                table.contains(key),
                "{key} missing from `baton status`:\n{table}"
            );
        }
    }
    let text = visible_text(&dom);
    for (count, label) in [
        ("running", "Running"),
        ("failed", "Failed"),
        ("dead_lettered", "Dead-lettered"),
        ("succeeded", "Succeeded"),
        ("cancelled", "Cancelled"),
    ] {
        let shown = format!("{} {label}", api["counts"][count]);
        assert!(
            text.contains(&shown),
            "no `{shown}` on the overview: {text}"
        );
    }
    assert_eq!(api["counts"]["cancelled"], 1, "{api}");
    assert_eq!(api["counts"]["running"], 0, "{api}");
}
