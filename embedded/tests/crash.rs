//! Crash safety: a process killed with SIGKILL loses nothing it had acknowledged.
//!
//! The test runs this test binary again as a child that writes work items and prints the
//! key of each write that returned, kills it without warning partway, then reopens the data
//! dir and finds every acknowledged write.

mod common;

use baton_core::domain::{SourceKind, WorkItemKey};
use baton_core::ports::{Queue, Store};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const DIR_VAR: &str = "BATON_EMBEDDED_CRASH_DIR";
const ACKED: &str = "acked ";

/// The child: writes until it is killed. Does nothing unless started by the test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of `acknowledged_writes_survive_a_kill`"]
async fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let embedded = common::open(std::path::Path::new(&dir));
    let mut stdout = std::io::stdout();
    for i in 0.. {
        let item = common::work_item(&format!("acme/app#{i}"));
        embedded
            .store
            .put_work_item(&item, None)
            .await
            .expect("put");
        embedded
            .queue
            .send(&baton_core::contract::queue::job())
            .await
            .expect("send");
        writeln!(stdout, "{ACKED}{i}").expect("stdout");
        stdout.flush().expect("flush");
    }
}

#[test]
fn acknowledged_writes_survive_a_kill() {
    let dir = common::data_dir();
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("the child's stdout");
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(i) = line.strip_prefix(ACKED) {
            acked.push(i.parse::<u32>().expect("a number"));
            if acked.len() == 300 {
                break;
            }
        }
    }
    // SIGKILL: no destructor, no close, no checkpoint.
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    assert_eq!(
        acked.len(),
        300,
        "the child acknowledged writes before it was killed"
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let embedded = common::open(dir.path());
        for i in acked {
            let key = WorkItemKey::new(SourceKind::Github, &format!("acme/app#{i}"));
            assert!(
                embedded
                    .store
                    .get_work_item(&key)
                    .await
                    .expect("get")
                    .is_some(),
                "acknowledged write {i} was lost"
            );
        }
        let jobs = embedded
            .queue
            .receive(
                10,
                std::time::Duration::ZERO,
                std::time::Duration::from_secs(60),
            )
            .await
            .expect("receive");
        assert!(!jobs.is_empty(), "the acknowledged jobs are on the queue");
    });
}
