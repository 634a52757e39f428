//! Cold dependencies: `setup` and `open` wait for an endpoint that is still starting (a proxy
//! in front of the emulator that answers nothing for its first seconds), showing their
//! progress, and give up on a dead endpoint once the start-up budget is spent.

mod common;

use aws_sdk_dynamodb::config::Credentials;
use baton_aws::startup::StartupBudget;
use baton_aws::Settings;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What the code under test logs, for the progress lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        captured
    })
}

fn logged() -> String {
    let bytes = logs().0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The emulator's address, from `AWS_ENDPOINT_URL`.
fn emulator() -> SocketAddr {
    common::require_emulator();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let authority = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    authority
        .parse()
        .unwrap_or_else(|e| panic!("AWS_ENDPOINT_URL {endpoint} is not http://ip:port: {e}"))
}

/// A TCP proxy to `target` that is cold for `cold_for`: meanwhile it takes connections,
/// reads the requests, holds them up to a second without answering and hangs up, as an
/// emulator does while its services start. Then it forwards everything.
async fn cold_proxy(target: SocketAddr, cold_for: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let warm_at = Instant::now() + cold_for;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let now = Instant::now();
                if now < warm_at {
                    let hold = (warm_at - now).min(Duration::from_secs(1));
                    let mut sink = tokio::io::sink();
                    let _ =
                        tokio::time::timeout(hold, tokio::io::copy(&mut inbound, &mut sink)).await;
                    return;
                }
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://{address}")
}

async fn config(endpoint: &str) -> aws_config::SdkConfig {
    baton_aws::config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

fn settings() -> Settings {
    let queue = common::unique("baton-cold-jobs");
    Settings {
        table: common::unique("baton-cold"),
        dead_letter_queue: format!("{queue}-dlq"),
        queue,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_and_open_wait_for_a_cold_endpoint() {
    logs();
    let emulator = emulator();
    let settings = settings();
    let budget = StartupBudget::new(Duration::from_secs(60));

    let endpoint = cold_proxy(emulator, Duration::from_secs(3)).await;
    let (store, queue) = baton_aws::adapters(&config(&endpoint).await, &settings);
    baton_aws::setup_within(&store, &queue, &budget)
        .await
        .unwrap_or_else(|e| panic!("setup through a cold endpoint: {e}"));
    let creating = format!(
        "creating DynamoDB table `{}`: attempt 1 failed",
        settings.table
    );
    let log = logged();
    assert!(
        log.contains(&creating),
        "no progress line `{creating}` in:\n{log}"
    );
    assert!(
        log.contains("s of the start-up budget left"),
        "the progress line gives the budget left:\n{log}"
    );

    // A fresh cold start: opening waits as well, and then the backends work.
    let endpoint = cold_proxy(emulator, Duration::from_secs(3)).await;
    let backends = baton_aws::open_aws(&config(&endpoint).await, &settings, &budget)
        .await
        .unwrap_or_else(|e| panic!("open through a cold endpoint: {e}"));
    let checking = format!(
        "checking DynamoDB table `{}`: attempt 1 failed",
        settings.table
    );
    let log = logged();
    assert!(
        log.contains(&checking),
        "no progress line `{checking}` in:\n{log}"
    );
    let item = backends
        .store
        .get_work_item(&baton_core::domain::WorkItemKey::new(
            baton_core::domain::SourceKind::Github,
            "acme/app#1",
        ))
        .await
        .expect("the opened store answers");
    assert!(item.is_none());
}

#[tokio::test]
async fn a_dead_endpoint_fails_once_the_budget_is_spent() {
    logs();
    let settings = settings();
    let budget = StartupBudget::new(Duration::from_secs(2));
    // Port 1 on the loopback: nothing listens, every connection is refused.
    let dead = config("http://127.0.0.1:1").await;
    let (store, queue) = baton_aws::adapters(&dead, &settings);

    let error = baton_aws::setup_within(&store, &queue, &budget)
        .await
        .expect_err("nothing listens there")
        .to_string();
    assert!(
        error.contains("within the start-up budget of 2s")
            && error.contains("BATON_STARTUP_BUDGET_SECS"),
        "{error}"
    );

    let error = baton_aws::open_aws(&dead, &settings, &budget)
        .await
        .err()
        .expect("nothing listens there")
        .to_string();
    assert!(
        error.contains(&format!("DynamoDB table `{}`", settings.table))
            && error.contains("within the start-up budget of 2s"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_table_fails_at_once_with_the_hint() {
    logs();
    let settings = settings();
    let config = config(&format!("http://{}", emulator())).await;
    // A long budget: a missing table is no reason to wait.
    let budget = StartupBudget::new(Duration::from_secs(600));
    let error = baton_aws::open_aws(&config, &settings, &budget)
        .await
        .err()
        .expect("the table does not exist")
        .to_string();
    assert!(
        error.contains("baton setup") && !error.contains("start-up budget"),
        "{error}"
    );
}
