//! A function's packaged `bootstrap`, started as Lambda starts it: the executable named
//! `bootstrap` in the task root, run from there with the runtime's environment and nothing
//! else of the test's.

use crate::runtime_api::{Outcome, RuntimeApi};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary to package for `function`: `$BATON_LAMBDA_DIR/<function>/bootstrap` when that
/// variable names a `cargo lambda build` output (`target/lambda`), else `built`, the binary
/// this test build made (`CARGO_BIN_EXE_<function>`).
pub fn binary(function: &str, built: &str) -> PathBuf {
    match std::env::var_os("BATON_LAMBDA_DIR") {
        Some(dir) => Path::new(&dir).join(function).join("bootstrap"),
        None => PathBuf::from(built),
    }
}

/// A running bootstrap; killed, and its task root removed, on drop.
pub struct Bootstrap {
    child: Child,
    task_root: PathBuf,
    started: Instant,
    /// The packaged binary's size in bytes.
    pub size: u64,
}

impl Bootstrap {
    /// Packages `binary` as `<task root>/bootstrap` and starts it against `api`, with
    /// Lambda's variables for `function` and `env` (the function's configuration).
    pub fn start(function: &str, binary: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let task_root = std::env::temp_dir().join(format!(
            "baton-lambda-{function}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&task_root).expect("task root");
        let bootstrap = task_root.join("bootstrap");
        // A hard link where the file system allows it: the debug binaries are large.
        if std::fs::hard_link(binary, &bootstrap).is_err() {
            std::fs::copy(binary, &bootstrap)
                .unwrap_or_else(|e| panic!("package {}: {e}", binary.display()));
        }
        let size = std::fs::metadata(&bootstrap).expect("bootstrap").len();
        let mut command = Command::new(&bootstrap);
        command
            .current_dir(&task_root)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("_HANDLER", "bootstrap")
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/03/01/[$LATEST]0123456789abcdef",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bootstrap.display()));
        Self {
            child,
            task_root,
            started,
            size,
        }
    }

    /// Process start → `outcome` reached the runtime API.
    pub fn since_start(&self, outcome: &Outcome) -> Duration {
        outcome.at().saturating_duration_since(self.started)
    }

    /// Whether the process is still up (a bootstrap serves invocations until stopped).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.task_root);
    }
}

/// Prints the function, its package size and its cold start on the test's stderr, past the
/// test harness's capture, so the figures show in every run's log (CI's included).
pub fn report(function: &str, bootstrap: &Bootstrap, cold_start: Duration) {
    use std::io::Write;
    let line = format!(
        "{function}: bootstrap {:.1} MB, cold start (process start -> first response) {:.1} ms",
        bootstrap.size as f64 / 1_000_000.0,
        cold_start.as_secs_f64() * 1000.0
    );
    let _ = writeln!(std::io::stderr(), "{line}");
}
