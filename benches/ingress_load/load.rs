//! The load generator: keep-alive HTTP/1.1 connections posting signed deliveries, either as
//! fast as the server answers (closed loop) or at a fixed rate (open loop, latency counted
//! from when a request was due, so a stalled server is not hidden).

use crate::payload::{self, Delivery};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What one phase measured.
#[derive(Default)]
pub struct Outcome {
    /// 2xx answers.
    pub ok: u64,
    /// Other answers, and requests that got none.
    pub errors: u64,
    /// The first few error descriptions.
    pub samples: Vec<String>,
    /// Latency of every answered request, in microseconds.
    pub latencies_us: Vec<u32>,
    pub elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.errors += other.errors;
        if self.samples.len() < 5 {
            self.samples.extend(other.samples.into_iter().take(5));
        }
        self.latencies_us.extend(other.latencies_us);
    }

    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let index = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// Where the load goes, and what it sends.
#[derive(Clone)]
pub struct Target {
    pub address: SocketAddr,
    /// Keeps delivery ids unique across phases and processes.
    pub run: String,
    /// Issue numbers cycle over `1..=issues`.
    pub issues: u64,
    /// The next delivery number, shared by the connections.
    pub next: Arc<AtomicU64>,
}

impl Target {
    pub fn new(address: SocketAddr, run: &str, issues: u64) -> Self {
        Self {
            address,
            run: run.to_owned(),
            issues,
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    fn take(&self) -> (u64, Delivery) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        (seq, payload::delivery(&self.run, seq, self.issues))
    }
}

async fn connect(address: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One connection's requests, reconnecting after a failure.
struct Connection {
    address: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(address: SocketAddr) -> Self {
        Self {
            address,
            sender: None,
        }
    }

    /// Posts `delivery`; `Ok` with the status, or why there was none.
    async fn post(&mut self, delivery: Delivery) -> Result<u16, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(connect(self.address).await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err("no connection".into());
        };
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let request = hyper::Request::post("/webhooks/github")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/bench")
            .header("x-github-event", "issues")
            .header("x-github-delivery", delivery.id)
            .header("x-hub-signature-256", delivery.signature)
            .body(Full::new(delivery.body))
            .map_err(|e| format!("request: {e}"))?;
        let result = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            Ok::<u16, hyper::Error>(status)
        }
        .await;
        result.map_err(|e| {
            self.sender = None;
            format!("request: {e}")
        })
    }
}

fn record(outcome: &mut Outcome, result: Result<u16, String>, latency: Duration) {
    match result {
        Ok(status) if (200..300).contains(&status) => {
            outcome.ok += 1;
            outcome
                .latencies_us
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        }
        Ok(status) => {
            outcome.errors += 1;
            if outcome.samples.len() < 5 {
                outcome.samples.push(format!("HTTP {status}"));
            }
        }
        Err(error) => {
            outcome.errors += 1;
            if outcome.samples.len() < 5 {
                outcome.samples.push(error);
            }
        }
    }
}

/// When a closed-loop phase ends.
#[derive(Clone, Copy)]
pub enum Stop {
    After(Duration),
    /// Once this many deliveries (counted by `Target::next`) have been sent.
    Deliveries(u64),
}

/// `connections` connections, each sending its next delivery as soon as the last is answered.
pub async fn closed_loop(target: &Target, connections: usize, stop: Stop) -> Outcome {
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut connection = Connection::new(target.address);
                let mut outcome = Outcome::default();
                loop {
                    match stop {
                        Stop::After(duration) if started.elapsed() >= duration => break,
                        Stop::Deliveries(total) if target.next.load(Ordering::Relaxed) >= total => {
                            break
                        }
                        _ => {}
                    }
                    let (_, delivery) = target.take();
                    let sent = Instant::now();
                    let result = connection.post(delivery).await;
                    record(&mut outcome, result, sent.elapsed());
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        if let Ok(outcome) = task.await {
            total.merge(outcome);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// `rate` deliveries a second for `duration`, over up to `connections` connections. A
/// request's latency runs from when it was due.
pub async fn open_loop(
    target: &Target,
    rate: u64,
    duration: Duration,
    connections: usize,
) -> Outcome {
    let started = Instant::now();
    let (due_tx, due_rx) = async_channel(connections * 4);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let target = target.clone();
            let due = due_rx.clone();
            tokio::spawn(async move {
                let mut connection = Connection::new(target.address);
                let mut outcome = Outcome::default();
                while let Ok(due_at) = due.recv().await {
                    let (_, delivery) = target.take();
                    let result = connection.post(delivery).await;
                    record(&mut outcome, result, due_at.elapsed());
                }
                outcome
            })
        })
        .collect();
    drop(due_rx);
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let total_requests = (duration.as_secs_f64() * rate as f64) as u64;
    for n in 0..total_requests {
        let due_at = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due_at.into()).await;
        if due_tx.send(due_at).await.is_err() {
            break;
        }
    }
    drop(due_tx);
    let mut total = Outcome::default();
    for task in tasks {
        if let Ok(outcome) = task.await {
            total.merge(outcome);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// A multi-consumer channel of due times: tokio's mpsc has one receiver, so the receiver
/// is shared behind a mutex.
fn async_channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Instant>, SharedReceiver) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (tx, SharedReceiver(Arc::new(tokio::sync::Mutex::new(rx))))
}

#[derive(Clone)]
struct SharedReceiver(Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Instant>>>);

impl SharedReceiver {
    async fn recv(&self) -> Result<Instant, ()> {
        self.0.lock().await.recv().await.ok_or(())
    }
}
