//! A load generator for a running gateway: credit reports for synthetic subjects, from a second
//! process. `scripts/load.sh` starts the gateway and runs this; run it by hand as
//!
//! ```text
//! cargo run --release --example load -- --url http://127.0.0.1:8080 --token TOKEN \
//!     --concurrency 32 --seconds 20
//! ```
//!
//! It records a consent per subject first, then sends requests from `--concurrency` tasks for
//! `--seconds` (bounded in time and count), and prints requests/s, p50, p99 and the statuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The gateway's base URL; several, comma-separated, for replicas behind no balancer (the
    /// workers take them in turn; the consents go through the first).
    #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',')]
    url: Vec<String>,
    /// A token of an `underwriting` client.
    #[arg(long)]
    token: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Distinct synthetic subjects to cycle through.
    #[arg(long, default_value_t = 64)]
    subjects: u16,
    /// Stop after this many requests, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// What to request: `credit-report` (POST /v1/exchange/fcb/credit-report) or `check`
    /// (POST /v1/applicants/check: credit history, income and vehicle at once).
    #[arg(long, default_value = "credit-report")]
    endpoint: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.url.is_empty() {
        bail!("--url: at least one");
    }
    if !matches!(args.endpoint.as_str(), "credit-report" | "check") {
        bail!("--endpoint is credit-report or check");
    }
    kuzet_transport::install_crypto_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    // Synthetic subjects, each with a consent on record.
    let mut subjects = Vec::new();
    let mut serial = 0u16;
    while subjects.len() < usize::from(args.subjects) {
        serial += 1;
        let birth =
            time::macros::date!(1980 - 01 - 01) + time::Duration::days(i64::from(serial) * 37);
        if let Some(iin) =
            kuzet_ident::Iin::synthesize(birth, serial.is_multiple_of(2), 4000 + serial)
        {
            subjects.push(iin.expose().to_owned());
        }
    }
    for iin in &subjects {
        let r = client
            .post(format!("{}/v1/consents", args.url[0]))
            .bearer_auth(&args.token)
            .json(&json!({"subject_iin": iin, "recipients": ["fcb", "gcvp"],
                "purposes": ["contract_performance"], "granted_at": "2026-01-01T00:00:00Z",
                "channel": "app", "evidence": "otp:load-test"}))
            .send()
            .await
            .context("cannot reach the gateway")?;
        if r.status() != 201 {
            bail!(
                "recording a consent failed: {} {}",
                r.status(),
                r.text().await?
            );
        }
    }

    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(args.max_requests));
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let client = client.clone();
        let base = &args.url[worker % args.url.len()];
        let url = match args.endpoint.as_str() {
            "check" => format!("{base}/v1/applicants/check"),
            _ => format!("{base}/v1/exchange/fcb/credit-report"),
        };
        let token = args.token.clone();
        let subjects = subjects.clone();
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            let mut i = worker;
            while Instant::now() < until
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                let iin = &subjects[i % subjects.len()];
                i += 1;
                let t = Instant::now();
                let status = match client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(
                        &json!({"purpose": "contract_performance", "reference": "LOAD",
                        "data": {"subject": {"iin": iin}}}),
                    )
                    .send()
                    .await
                {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                latencies.push(t.elapsed());
                *statuses.entry(status).or_default() += 1;
            }
            (latencies, statuses)
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        let (l, s) = t.await?;
        latencies.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "requests: {}  elapsed: {:.1}s  rate: {:.0} req/s  p50: {:.2} ms  p99: {:.2} ms  statuses: {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        statuses
    );
    if statuses.keys().any(|s| *s != 200) {
        bail!("some requests failed: {statuses:?}");
    }
    Ok(())
}
