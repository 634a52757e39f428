//! Cold start of the ingress binary: from process spawn to the first answered `GET /healthz`,
//! over N runs, beside a baseline (this bench re-run as a minimal std HTTP server: the cost
//! of exec, bind and one answer) so the figure can be read as a ratio on a noisy machine.
//!
//! `cargo bench -p baton-ingress --bench cold_start` measures the release-profile binary
//! cargo builds for the bench; `BATON_INGRESS_BIN=<path>` measures another one (a
//! `cargo lambda build` bootstrap, say). `BATON_COLD_START_RUNS` sets N (default 30).
//!
//! Memory backend always; with `AWS_ENDPOINT_URL` set (`scripts/test` exports it, or
//! `scripts/moto.sh start` and the same variables by hand) also `BATON_BACKEND=aws`, where
//! start-up loads the SDK config and checks the table and queues on the endpoint. Every
//! ready process is then sent one signed GitHub webhook, which must be answered 202: the
//! process that was timed really works.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set on the re-run of this bench that serves as the baseline.
const HELLO_PORT_VAR: &str = "BATON_COLD_START_HELLO_PORT";
const SECRET: &str = "cold-start-bench-secret";
/// A process not answering within this is broken, not slow.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

const WORKFLOW: &str = "---
tracker:
  kind: memory
triggers:
  label: baton
agent_provider:
  kind: mock
---
Work on {{ issue.identifier }}.
";

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    if let Ok(port) = std::env::var(HELLO_PORT_VAR) {
        return serve_hello(&port);
    }
    let ingress = std::env::var_os("BATON_INGRESS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_baton-ingress")));
    let runs: usize = match std::env::var("BATON_COLD_START_RUNS") {
        Ok(text) => text.parse()?,
        Err(_) => 30,
    };
    if runs == 0 {
        return Err("BATON_COLD_START_RUNS must be at least 1".into());
    }
    let workdir = std::env::temp_dir().join(format!("baton-cold-start-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let workflow = workdir.join("WORKFLOW.md");
    std::fs::write(&workflow, WORKFLOW)?;
    let size = std::fs::metadata(&ingress)?.len();
    println!(
        "ingress binary: {} ({:.2} MB)",
        ingress.display(),
        size as f64 / 1e6
    );

    let baseline = measure(runs, |port| {
        let mut command = Command::new(std::env::current_exe()?);
        command.env(HELLO_PORT_VAR, port.to_string());
        Ok(command)
    })?;
    report("baseline (std hello server)", &baseline, None);

    let ingress_command = |port: u16, backend: &str| {
        let mut command = Command::new(&ingress);
        command
            .env("PORT", port.to_string())
            .env("BATON_BACKEND", backend)
            .env("BATON_WORKFLOW", &workflow)
            .env("BATON_WORKFLOW_RELOAD_MS", "0")
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .env_remove("AWS_LAMBDA_RUNTIME_API");
        command
    };
    let memory = measure(runs, |port| Ok(ingress_command(port, "memory")))?;
    report("ingress, memory backend", &memory, Some(&baseline));

    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        let names = create_aws_resources()?;
        let aws = measure(runs, |port| {
            let mut command = ingress_command(port, "aws");
            command
                .env("BATON_TABLE", &names.table)
                .env("BATON_QUEUE", &names.queue)
                .env("BATON_DLQ", &names.dead_letter_queue);
            Ok(command)
        })?;
        report("ingress, aws backend (emulator)", &aws, Some(&baseline));
    } else {
        println!("AWS_ENDPOINT_URL is not set: the aws backend is not measured");
    }
    std::fs::remove_dir_all(&workdir)?;
    Ok(())
}

/// Spawns the command `runs` times on a free port, timing spawn → first 200 on `/healthz`.
/// Ingress processes (those given `GITHUB_WEBHOOK_SECRET`) must then queue a signed webhook.
fn measure(
    runs: usize,
    command: impl Fn(u16) -> Result<Command, Failure>,
) -> Result<Vec<Duration>, Failure> {
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let port = free_port()?;
        let mut command = command(port)?;
        let is_ingress = command
            .get_envs()
            .any(|(name, _)| name == "GITHUB_WEBHOOK_SECRET");
        command.stdout(Stdio::null()).stderr(Stdio::inherit());
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        let mut child = ChildGuard(command.spawn()?);
        wait_until_healthy(&mut child.0, addr, started)?;
        samples.push(started.elapsed());
        if is_ingress {
            let (status, body) = post_signed_webhook(addr, run)?;
            if status != 202 {
                return Err(format!("the signed webhook got {status}: {body}").into());
            }
        }
    }
    Ok(samples)
}

/// Kills the child on every path out of a run, errors included.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_until_healthy(
    child: &mut Child,
    addr: SocketAddr,
    started: Instant,
) -> Result<(), Failure> {
    loop {
        if let Ok((200, _)) = request(addr, "GET /healthz HTTP/1.1\r\n", b"") {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(format!("the process exited before answering: {status}").into());
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(format!("no answer on {addr} within {READY_TIMEOUT:?}").into());
        }
        // A refused connect costs microseconds: poll finely so the figure is not the poll.
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A `labeled` event for issue `run + 1`: a new work item each run, so each is queued.
fn post_signed_webhook(addr: SocketAddr, run: usize) -> Result<(u16, String), Failure> {
    let body = format!(
        r#"{{"action":"labeled","label":{{"name":"baton"}},"issue":{{"id":1,"number":{n},"title":"Cold start","body":"","state":"open","labels":[{{"name":"baton"}}],"user":{{"login":"alice","type":"User"}}}},"repository":{{"full_name":"acme/app"}},"sender":{{"login":"alice","type":"User"}}}}"#,
        n = run + 1
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())?;
    mac.update(body.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\ncontent-type: application/json\r\n\
         x-github-event: issues\r\nx-github-delivery: {}\r\nx-hub-signature-256: sha256={signature}\r\n",
        uuid::Uuid::new_v4()
    );
    request(addr, &head, body.as_bytes()).map_err(Into::into)
}

/// One HTTP/1.1 exchange on a fresh connection: the status code and the body.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut message = format!(
        "{head}host: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    message.extend_from_slice(body);
    stream.write_all(&message)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The baseline: bind, then answer every request with a fixed 200.
fn serve_hello(port: &str) -> Result<(), Failure> {
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        let mut buffer = [0_u8; 1024];
        let _ = stream.read(&mut buffer)?;
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")?;
    }
    Ok(())
}

struct ResourceNames {
    table: String,
    queue: String,
    dead_letter_queue: String,
}

/// A fresh table and queues on the emulator, as `baton setup` makes them.
fn create_aws_resources() -> Result<ResourceNames, Failure> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let settings = baton_aws::Settings {
        table: format!("baton-bench-{suffix}"),
        queue: format!("baton-bench-jobs-{suffix}"),
        dead_letter_queue: format!("baton-bench-dlq-{suffix}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (store, queue) = baton_aws::connect(&settings).await;
        baton_aws::setup(&store, &queue).await
    })?;
    Ok(ResourceNames {
        table: settings.table,
        queue: settings.queue,
        dead_letter_queue: settings.dead_letter_queue,
    })
}

fn report(label: &str, samples: &[Duration], baseline: Option<&[Duration]>) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let quantile =
        |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = quantile(0.5);
    let mut line = format!(
        "{label:<34} n={:<3} min {:>7.2} ms  median {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms",
        sorted.len(),
        ms(sorted[0]),
        ms(median),
        ms(quantile(0.95)),
        ms(sorted[sorted.len() - 1])
    );
    if let Some(baseline) = baseline {
        let mut base = baseline.to_vec();
        base.sort();
        let base_median = base[(base.len().div_ceil(2)).max(1) - 1];
        line.push_str(&format!(
            "  ({:.1}x baseline median)",
            median.as_secs_f64() / base_median.as_secs_f64()
        ));
    }
    println!("{line}");
}
