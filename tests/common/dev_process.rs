//! `baton dev` (and `baton runner`) as real child processes: started on a free port, asked
//! over HTTP, stopped with SIGTERM or killed with SIGKILL.

use super::signing::{self, github_issue};
use super::GITHUB_SECRET;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A `baton dev` child process; killed on drop.
pub struct DevServer {
    pub child: Child,
    pub base_url: String,
}

impl DevServer {
    /// `baton dev` with `extra_args`, its data in a fresh temporary directory unless the
    /// arguments or `env` say otherwise (so a test never writes `./.baton` in the repository).
    pub async fn start(extra_args: &[&str], env: &[(&str, String)]) -> Self {
        let scratch = std::env::temp_dir().join(format!("baton-dev-{}", uuid::Uuid::new_v4()));
        let mut all_env = vec![("BATON_DATA_DIR", scratch.display().to_string())];
        all_env.extend(env.iter().cloned());
        Self::start_with(extra_args, &all_env).await
    }

    /// `baton dev` with exactly these arguments and environment (added to the defaults:
    /// the GitHub secret, `RUST_LOG=warn`).
    pub async fn start_with(extra_args: &[&str], env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["dev", "--port", &port.to_string()])
            .args(extra_args)
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn baton dev");
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_healthy().await;
        server
    }

    pub async fn wait_until_healthy(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = client
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await
            {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("baton dev did not become healthy within 30 s");
    }

    pub async fn post_labeled_issue(&self, number: u64, delivery: &str) -> (u16, Value) {
        self.post_labeled(number, "baton", delivery).await
    }

    pub async fn post_labeled(&self, number: u64, label: &str, delivery: &str) -> (u16, Value) {
        let body = github_issue(
            "labeled",
            number,
            &[label],
            json!({ "label": { "name": label } }),
        );
        self.post_github("issues", delivery, &body)
            .await
            .expect("post")
    }

    /// Posts a signed GitHub delivery; `Err` when the request did not get an answer.
    pub async fn post_github(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> Result<(u16, Value), reqwest::Error> {
        post_github(&self.base_url, event, delivery, body).await
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("get");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// Polls `GET /api/v1/issues/{key}` until `done` holds.
    pub async fn wait_for_issue(&self, encoded_key: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::new();
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let response = client
                .get(format!("{}/api/v1/issues/{encoded_key}", self.base_url))
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
        panic!("timed out waiting for the issue; last answer: {last}");
    }

    /// SIGKILL: no chance to finish or release anything.
    pub fn kill(mut self) {
        self.child.kill().expect("kill baton dev");
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and expects a clean exit.
    pub fn stop(mut self) {
        terminate(&mut self.child, "baton dev");
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts a delivery signed as GitHub signs it to the server at `base_url`.
pub async fn post_github(
    base_url: &str,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = reqwest::Client::new()
        .post(format!("{base_url}/webhooks/github"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in signing::github(GITHUB_SECRET, event, delivery, body) {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// A `baton runner` child process on a data directory; killed on drop.
pub struct RunnerProcess(pub Child);

impl RunnerProcess {
    pub fn start_embedded(
        id: &str,
        workflow: &Path,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["runner", "--workflow"])
            .arg(workflow)
            .arg("--data-dir")
            .arg(data_dir)
            .env("BATON_RUNNER_ID", id)
            .env("BATON_POLL_WAIT_SECS", "1")
            .env("BATON_SHUTDOWN_GRACE_SECS", "2")
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        Self(command.spawn().expect("spawn baton runner"))
    }

    pub fn stop(mut self) {
        terminate(&mut self.0, "baton runner");
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGTERM, then a clean exit within 20 s.
fn terminate(child: &mut Child, what: &str) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{what} exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "{what} ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
