//! Ingress load: `baton dev` against a bare axum handler (the baseline, `baseline.rs`), both
//! as processes on this machine, under signed 4 KB GitHub `issues` deliveries.
//!
//! Modes (environment variables):
//! - default, throughput: for 16 and 64 keep-alive connections, each server in turn for
//!   `BENCH_SECS` (default 10) after a 2 s warm-up; prints req/s, p50/p99, errors and the
//!   ratio baton/baseline of the same run. `BENCH_ROUNDS` repeats the whole comparison.
//! - `BENCH_DELIVERIES=N`, memory: baton alone, as fast as it answers over 16 connections
//!   (`BENCH_CONNECTIONS`) until N deliveries were accepted; prints RSS over time and its
//!   growth after warm-up (`BENCH_WARM_UP` deliveries, default 20 % of N, at most 200,000).
//! - `BENCH_SOAK_MINS=M`, soak: `baton dev` with its runner (mock agent, built-in workflow)
//!   at `BENCH_RATE` (default 500) deliveries a second for M minutes; prints errors, p99 and
//!   RSS over time.
//!
//! `BENCH_BATON_ARGS` adds arguments after `baton dev` (e.g. `--memory`); `--no-runner` is
//! added in the throughput and memory modes. `BENCH_ISSUES` (default 1000) is the number of
//! distinct issues the deliveries label. `baton dev` logs to a scratch directory; `RUST_LOG`
//! is passed on.
//!
//! `cargo bench --bench ingress_load`. Without `--bench` (under `cargo test`) it runs a
//! one-second smoke comparison. Linux only: it reads `/proc/<pid>/status`.

mod baseline;
mod load;
mod payload;
mod process;

use load::{Outcome, Stop, Target};
use process::Server;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{value}`")),
        _ => default,
    }
}

fn baton_args(no_runner: bool) -> Vec<String> {
    let mut args: Vec<String> = std::env::var("BENCH_BATON_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if no_runner && !args.iter().any(|arg| arg == "--no-runner") {
        args.push("--no-runner".into());
    }
    args
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("baton-ingress-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    if let Some("--serve-baseline") = args.next().as_deref() {
        let port = args.next().and_then(|p| p.parse().ok()).expect("a port");
        let secret = std::env::var("BENCH_BASELINE_SECRET").expect("BENCH_BASELINE_SECRET");
        baseline::serve(port, &secret);
        return;
    }
    let full = std::env::args().any(|arg| arg == "--bench");
    // The generator gets one thread; the servers share the machine's cores with it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let scratch = Scratch::new();
    if std::env::var("BENCH_SOAK_MINS").is_ok() {
        runtime.block_on(soak(&scratch));
    } else if std::env::var("BENCH_DELIVERIES").is_ok() {
        runtime.block_on(memory(&scratch));
    } else {
        runtime.block_on(throughput(&scratch, full));
    }
}

fn report(name: &str, connections: usize, outcome: &mut Outcome) -> f64 {
    let rate = outcome.per_second();
    println!(
        "{name:<28} {connections:>3} conns  {rate:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}{}",
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        outcome.errors,
        if outcome.samples.is_empty() {
            String::new()
        } else {
            format!(" ({})", outcome.samples.join("; "))
        }
    );
    rate
}

async fn throughput(scratch: &Scratch, full: bool) {
    let secs = env_u64("BENCH_SECS", if full { 10 } else { 1 });
    let warm_up = Duration::from_secs(if full { 2 } else { 1 });
    let rounds = env_u64("BENCH_ROUNDS", 1);
    let issues = env_u64("BENCH_ISSUES", 1000);
    let mut baseline = process::baseline(payload::SECRET);
    let mut baton = process::baton(&scratch.0, payload::SECRET, &baton_args(true));
    baseline.wait_until_healthy().await;
    baton.wait_until_healthy().await;
    println!(
        "ingress throughput: signed 4 KB GitHub deliveries over {issues} issues, {secs} s per phase after {warm_up:?} of warm-up"
    );
    let mut ratios = Vec::new();
    for round in 0..rounds {
        for connections in [16, 64] {
            let mut rates = [0.0; 2];
            for (index, server) in [&baseline, &baton].into_iter().enumerate() {
                let target = Target::new(
                    server.address,
                    &format!("r{round}c{connections}s{index}"),
                    issues,
                );
                load::closed_loop(&target, connections, Stop::After(warm_up)).await;
                let cpu_before = server.cpu_time();
                let mut outcome =
                    load::closed_loop(&target, connections, Stop::After(Duration::from_secs(secs)))
                        .await;
                let cpu = server.cpu_time().saturating_sub(cpu_before);
                rates[index] = report(&server.name, connections, &mut outcome);
                // Under CPU contention from other processes, CPU time per request is the
                // steadier figure.
                println!(
                    "  {:.1} µs of server CPU per request",
                    cpu.as_secs_f64() * 1e6 / outcome.ok.max(1) as f64
                );
            }
            let ratio = rates[1] / rates[0];
            println!("  ratio baton/baseline at {connections} connections: {ratio:.2}");
            ratios.push((connections, ratio));
        }
    }
    println!(
        "RSS after the run: baseline {:.1} MiB, {} {:.1} MiB",
        mib(baseline.rss_kib()),
        baton.name,
        mib(baton.rss_kib())
    );
    for connections in [16, 64] {
        let mut of: Vec<f64> = ratios
            .iter()
            .filter(|(c, _)| *c == connections)
            .map(|(_, r)| *r)
            .collect();
        of.sort_by(f64::total_cmp);
        println!(
            "median ratio at {connections} connections over {rounds} round(s): {:.2}",
            of[of.len() / 2]
        );
    }
}

async fn memory(scratch: &Scratch) {
    let total = env_u64("BENCH_DELIVERIES", 1_000_000);
    let issues = env_u64("BENCH_ISSUES", 1000);
    let connections = env_u64("BENCH_CONNECTIONS", 16) as usize;
    let mut baton = process::baton(&scratch.0, payload::SECRET, &baton_args(true));
    baton.wait_until_healthy().await;
    let target = Target::new(baton.address, "mem", issues);
    // Warm-up: until the in-memory store holds as many delivery ids as it keeps (the newest
    // 100,000), and the maps and the allocator's pools have grown to match: 200,000, or 20 %
    // of a shorter run. `BENCH_WARM_UP` sets another count.
    let warm = env_u64("BENCH_WARM_UP", (total / 5).min(200_000));
    let started = Instant::now();
    let warm_outcome = load::closed_loop(&target, connections, Stop::Deliveries(warm)).await;
    let after_warm_up = baton.rss_kib();
    println!(
        "memory: {total} deliveries over {issues} issues, {connections} connections; RSS after {warm} warm-up deliveries: {:.1} MiB ({} errors)",
        mib(after_warm_up),
        warm_outcome.errors
    );
    let sampler = async {
        let mut peak = after_warm_up;
        let mut last_print = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss = baton.rss_kib();
            peak = peak.max(rss);
            if last_print.elapsed() >= Duration::from_secs(10) {
                last_print = Instant::now();
                let sent = target.next.load(std::sync::atomic::Ordering::Relaxed);
                println!(
                    "  t={:>5.0} s  deliveries {sent:>9}  RSS {:>7.1} MiB",
                    started.elapsed().as_secs_f64(),
                    mib(rss)
                );
            }
            if target.next.load(std::sync::atomic::Ordering::Relaxed) >= total {
                return peak;
            }
        }
    };
    let (mut outcome, peak) = tokio::join!(
        load::closed_loop(&target, connections, Stop::Deliveries(total)),
        sampler
    );
    let end = baton.rss_kib();
    let p99 = outcome.quantile_ms(0.99);
    println!(
        "  {} accepted at {:.0}/s, errors {}; p99 {p99:.2} ms",
        outcome.ok + warm_outcome.ok,
        outcome.per_second(),
        outcome.errors + warm_outcome.errors,
    );
    println!(
        "  RSS after warm-up {:.1} MiB, peak {:.1} MiB, at the end {:.1} MiB: growth {:.1} MiB (bound 64 MiB)",
        mib(after_warm_up),
        mib(peak),
        mib(end),
        mib(peak.saturating_sub(after_warm_up))
    );
}

async fn soak(scratch: &Scratch) {
    let minutes = env_u64("BENCH_SOAK_MINS", 10);
    let rate = env_u64("BENCH_RATE", 500);
    let issues = env_u64("BENCH_ISSUES", 50);
    let mut baton = process::baton(&scratch.0, payload::SECRET, &baton_args(false));
    baton.wait_until_healthy().await;
    let target = Target::new(baton.address, "soak", issues);
    println!(
        "soak: {} with its runner, {rate} deliveries/s over {issues} issues for {minutes} min",
        baton.name
    );
    let duration = Duration::from_secs(minutes * 60);
    let started = Instant::now();
    let sampler = async {
        let mut samples = Vec::new();
        while started.elapsed() < duration {
            tokio::time::sleep(Duration::from_secs(30).min(duration)).await;
            let rss = baton.rss_kib();
            println!(
                "  t={:>4.0} s  deliveries {:>8}  RSS {:>7.1} MiB",
                started.elapsed().as_secs_f64(),
                target.next.load(std::sync::atomic::Ordering::Relaxed),
                mib(rss)
            );
            samples.push(rss);
        }
        samples
    };
    let (mut outcome, samples) =
        tokio::join!(load::open_loop(&target, rate, duration, 64), sampler);
    report(&baton.name, 64, &mut outcome);
    let runs = runs_finished(&baton).await;
    let p99 = outcome.quantile_ms(0.99);
    let (first, last) = (
        samples.first().copied().unwrap_or(0),
        samples.last().copied().unwrap_or(0),
    );
    println!(
        "  errors {} (must be 0); p99 {p99:.2} ms; RSS first sample {:.1} MiB, last {:.1} MiB, max {:.1} MiB; {runs}",
        outcome.errors,
        mib(first),
        mib(last),
        mib(samples.iter().copied().max().unwrap_or(0))
    );
}

/// The runs the state endpoint counts, as a line.
async fn runs_finished(server: &Server) -> String {
    let url = format!("http://{}/api/v1/state", server.address);
    match reqwest::get(&url).await {
        Ok(response) => match response.json::<serde_json::Value>().await {
            Ok(state) => format!("state counts {}", state["counts"]),
            Err(e) => format!("state unreadable: {e}"),
        },
        Err(e) => format!("state unreachable: {e}"),
    }
}
