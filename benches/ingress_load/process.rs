//! The servers under test as child processes, and their resident set.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, stopped (SIGTERM, then waited for) when dropped.
pub struct Server {
    pub name: String,
    pub address: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB, from `/proc/<pid>/status` (0 once it is gone).
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the process has used (user and system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at `state`, field 3;
        // utime and stime are fields 14 and 15, in clock ticks.
        let ticks: u64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|field| field.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_micros(ticks * 1_000_000 / per_second)
    }

    /// Waits until `/healthz` answers 200.
    pub async fn wait_until_healthy(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("http://{}/healthz", self.address);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited at start-up with {status}", self.name);
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become healthy",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// This bench binary serving the baseline handler (see `baseline.rs`).
pub fn baseline(secret: &str) -> Server {
    let port = free_port();
    let exe = std::env::current_exe().expect("the bench binary's path");
    let child = Command::new(exe)
        .args(["--serve-baseline", &port.to_string()])
        .env("BENCH_BASELINE_SECRET", secret)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the baseline");
    Server {
        name: "baseline".into(),
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        child,
    }
}

/// `baton dev` on a free port, run in `dir` (its `./.baton` data lives there, and there is no
/// WORKFLOW.md, so the built-in development workflow serves), with `args` after `dev`.
/// Logs go to `dir/baton.log`.
pub fn baton(dir: &Path, secret: &str, args: &[String]) -> Server {
    let port = free_port();
    let log = std::fs::File::create(dir.join("baton.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(dir)
        .args(["dev", "--port", &port.to_string()])
        .args(args)
        .env("GITHUB_WEBHOOK_SECRET", secret)
        .env("BATON_SHUTDOWN_GRACE_SECS", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn baton dev");
    Server {
        name: format!("baton dev {}", args.join(" ")),
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        child,
    }
}
