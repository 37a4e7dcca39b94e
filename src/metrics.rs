//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! One [`Metrics`] per gateway, shared behind an `Arc` by the API (an HTTP middleware), the
//! [`Gateway`](crate::gateway::Gateway) (transfers) and the
//! [`Reporter`](crate::reporting::Reporter) (runs). It owns a `prometheus-client` registry with
//! the typed families those update as they go, and two collectors read at scrape time: the
//! parties' guards (`GuardStats`, breaker state) and the transfer log's [`LogStats`].
//!
//! The transfer log's append path is the gateway's hot path, so [`LogStats`] is lock-free: a
//! few relaxed atomic additions per entry ([`AtomicHistogram`]), nothing that waits.
//!
//! This module must never take a label value from a request or a party's answer: labels are
//! route templates, HTTP methods and statuses, contract names (recipient, operation), the
//! transfer log's kinds and stable outcome codes, and the parties' names. No personal value,
//! no id, no free text: the set of label values is bounded by the code and the contracts.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use kuzet_transport::{BreakerState, GuardStats, LATENCY_BUCKETS_MS, LatencyHistogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::reporting::Counts;
use crate::transfer_log::Kind;

/// The content type of `GET /metrics`: the OpenMetrics text format, which Prometheus asks for
/// first in its default scrape protocols (and `prometheus-client` encodes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric's name starts with this (`kuzet_http_requests_total`, …).
const PREFIX: &str = "kuzet";

/// Upper bounds of the HTTP request duration histogram, in seconds.
const HTTP_BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds of the transfer log's duration histograms, in microseconds (a synced commit
/// takes from a fraction of a millisecond to a few).
const LOG_DURATION_BUCKETS_US: [u64; 15] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// Upper bounds of the batch size histogram, in entries (a batch holds at most
/// [`BATCH_CAP`](crate::transfer_log::BATCH_CAP)).
const BATCH_SIZE_BUCKETS: [u64; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferLabels {
    recipient: String,
    operation: String,
    kind: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecipientLabels {
    recipient: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    trigger: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    outcome: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS_S)
}

/// The gateway's metrics (see the module header).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    transfers: Family<TransferLabels, Counter>,
    dropped_fields: Family<RecipientLabels, Counter>,
    denied_fields: Family<RecipientLabels, Counter>,
    reporting_runs: Family<RunLabels, Counter>,
    reporting_records: Family<RecordLabels, Counter>,
}

impl Default for Metrics {
    /// Metrics with no parties and no transfer log to read (tests, tools).
    fn default() -> Self {
        Metrics::new(Vec::new(), None)
    }
}

/// One party's guard, read at scrape time.
pub struct Party {
    name: &'static str,
    read: Box<dyn Fn() -> (GuardStats, BreakerState) + Send + Sync>,
}

impl Party {
    /// The party `name` (`fcb`, `gcvp`, `traffic`), whose guard's counters and breaker state
    /// `read` returns.
    pub fn new(
        name: &'static str,
        read: impl Fn() -> (GuardStats, BreakerState) + Send + Sync + 'static,
    ) -> Party {
        Party {
            name,
            read: Box::new(read),
        }
    }
}

impl std::fmt::Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party").field("name", &self.name).finish()
    }
}

impl Metrics {
    /// The registry with every family, reading `parties`' guards and the transfer log's
    /// `log` stats at each scrape.
    pub fn new(parties: Vec<Party>, log: Option<Arc<LogStats>>) -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(http_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's head, by route template and method",
            Unit::Seconds,
            http_duration.clone(),
        );
        let transfers = Family::default();
        registry.register(
            "transfers",
            "Transfer log entries written for exchanges, by recipient, operation, entry kind \
             (out, in, denied) and outcome code (log_unavailable: the entry could not be written)",
            transfers.clone(),
        );
        let dropped_fields = Family::default();
        registry.register(
            "dropped_fields",
            "Fields a party sent that the contract did not let in, by recipient",
            dropped_fields.clone(),
        );
        let denied_fields = Family::default();
        registry.register(
            "denied_fields",
            "Fields named in refused requests (unknown or not allowed), by recipient",
            denied_fields.clone(),
        );
        let reporting_runs = Family::default();
        registry.register(
            "reporting_runs",
            "Bureau reporting runs (dry runs excluded), by trigger and outcome (ok, partial, \
             failed, not_started)",
            reporting_runs.clone(),
        );
        let reporting_records = Family::default();
        registry.register(
            "reporting_records",
            "Bureau reporting source lines and records, by outcome (read, refused, unchanged, \
             held, sent, accepted, rejected)",
            reporting_records.clone(),
        );
        if !parties.is_empty() {
            registry.register_collector(Box::new(UpstreamCollector { parties }));
        }
        if let Some(stats) = log {
            registry.register_collector(Box::new(LogCollector { stats }));
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            transfers,
            dropped_fields,
            denied_fields,
            reporting_runs,
            reporting_records,
        }
    }

    /// Everything, in the OpenMetrics text format (ending with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail; a collector's error would leave the text cut short,
        // and the scrape would fail to parse rather than show wrong numbers.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "Metrics could not be encoded.");
            let _ = writeln!(out, "# EOF");
        }
        out
    }

    /// One answered HTTP request. `route` is the matched route template, never the raw path.
    fn http_request(&self, route: String, method: &'static str, status: u16, took: Duration) {
        let route_labels = RouteLabels { route, method };
        self.http_duration
            .get_or_create(&route_labels)
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route_labels.route,
                method,
                status,
            })
            .inc();
    }

    /// One transfer log entry of an exchange (or the failure to write it: `outcome`
    /// `log_unavailable`). `outcome` is the log's (`sent`, `ok`, `error:<code>`,
    /// `denied:<code>`): the label keeps the code only. `dropped` and `denied` are the numbers
    /// of field names the entry lists.
    pub fn transfer(
        &self,
        recipient: &str,
        operation: &str,
        kind: Kind,
        outcome: &str,
        dropped: usize,
        denied: usize,
    ) {
        let code = outcome.split_once(':').map_or(outcome, |(_, code)| code);
        self.transfers
            .get_or_create(&TransferLabels {
                recipient: recipient.to_owned(),
                operation: operation.to_owned(),
                kind: kind.as_str(),
                outcome: code.to_owned(),
            })
            .inc();
        let by_recipient = || RecipientLabels {
            recipient: recipient.to_owned(),
        };
        if dropped > 0 {
            self.dropped_fields
                .get_or_create(&by_recipient())
                .inc_by(dropped as u64);
        }
        if denied > 0 {
            self.denied_fields
                .get_or_create(&by_recipient())
                .inc_by(denied as u64);
        }
    }

    /// One bureau reporting run that ended as `outcome` (`ok`, `partial`, `failed`) with
    /// `counts`, or could not start (`counts` is `None`: outcome `not_started`).
    pub fn reporting_run(
        &self,
        trigger: &'static str,
        outcome: &'static str,
        counts: Option<&Counts>,
    ) {
        self.reporting_runs
            .get_or_create(&RunLabels { trigger, outcome })
            .inc();
        let Some(c) = counts else { return };
        for (outcome, n) in [
            ("read", c.read),
            ("refused", c.invalid),
            ("unchanged", c.unchanged),
            ("held", c.held),
            ("sent", c.sent),
            ("accepted", c.accepted),
            ("rejected", c.rejected),
        ] {
            self.reporting_records
                .get_or_create(&RecordLabels { outcome })
                .inc_by(n);
        }
    }
}

/// The HTTP middleware: counts every answer by route template, method and status, and times
/// it. A request that matched no route is `route="unmatched"`.
pub async fn track_http(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    metrics.http_request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The methods the API knows by name; anything else is `other` (a client can send any token).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A histogram of whole numbers (microseconds, entries) updated with relaxed atomic additions:
/// no lock, so it can sit on the hot path. Bucket counts are kept apart (not cumulative) and
/// summed up at scrape time; a scrape may see one observation's bucket without its sum, which
/// the next scrape corrects.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [u64],
    /// `counts[i]`: observations above `bounds[i - 1]` and at most `bounds[i]`; the last one,
    /// above every bound.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// A histogram with these (ascending) upper bounds.
    pub fn new(bounds: &'static [u64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub fn record(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&b| b < value);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Writes the histogram, its values divided by `divisor` (1e6: microseconds to seconds; a
    /// division, so that a bound of 50 µs reads `0.00005`).
    fn encode(&self, encoder: &mut MetricEncoder<'_>, divisor: f64) -> Result<(), std::fmt::Error> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .map(|&b| b as f64 / divisor)
            .chain(std::iter::once(f64::MAX))
            .zip(counts.iter().copied())
            .collect();
        let sum = self.sum.load(Ordering::Relaxed) as f64 / divisor;
        encoder.encode_histogram::<NoLabelSet>(sum, counts.iter().sum(), &buckets, None)
    }
}

/// The transfer log's own counters, updated by the appenders and the writer thread, read at
/// scrape time. Every method is a few relaxed atomic operations.
#[derive(Debug)]
pub struct LogStats {
    /// Entries queued and not yet taken into a batch by the writer.
    queued: AtomicU64,
    /// From queueing an entry to its acknowledgement (committed and synced), in microseconds.
    append_us: AtomicHistogram,
    /// Appends answered `Unavailable` (not stored).
    append_failures: AtomicU64,
    /// Entries per batch.
    batch_entries: AtomicHistogram,
    /// Writing one batch: chaining, sealing, the transaction and its sync, in microseconds.
    batch_us: AtomicHistogram,
    /// Batches that could not be written.
    batch_failures: AtomicU64,
    /// Signed checkpoints stored.
    checkpoints: AtomicU64,
}

impl Default for LogStats {
    fn default() -> Self {
        LogStats {
            queued: AtomicU64::new(0),
            append_us: AtomicHistogram::new(&LOG_DURATION_BUCKETS_US),
            append_failures: AtomicU64::new(0),
            batch_entries: AtomicHistogram::new(&BATCH_SIZE_BUCKETS),
            batch_us: AtomicHistogram::new(&LOG_DURATION_BUCKETS_US),
            batch_failures: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl LogStats {
    /// An entry was queued for the writer.
    pub fn queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` queued entries were taken by the writer (or never reached it).
    pub fn dequeued(&self, n: usize) {
        self.queued.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// Entries waiting in the queue now.
    pub fn queue_depth(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// An append was answered after `took`: stored, or not (`ok` false).
    pub fn appended(&self, took: Duration, ok: bool) {
        if ok {
            self.append_us.record(micros(took));
        } else {
            self.append_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Appends acknowledged as stored.
    pub fn appends(&self) -> u64 {
        self.append_us.count()
    }

    /// The writer wrote (or failed to write: `ok` false) a batch of `entries` in `took`.
    pub fn batch(&self, entries: usize, took: Duration, ok: bool) {
        self.batch_entries.record(entries as u64);
        self.batch_us.record(micros(took));
        if !ok {
            self.batch_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A signed checkpoint was stored.
    pub fn checkpoint(&self) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts a family of `metric_type` named `name` (after the prefix); the help text ends with a
/// period, as the registry's own families' do.
fn family<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &str,
    unit: Option<&'a Unit>,
    metric_type: MetricType,
) -> Result<MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(name, &format!("{help}."), unit, metric_type)
}

fn counter(encoder: &mut MetricEncoder<'_>, value: u64) -> Result<(), std::fmt::Error> {
    encoder.encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

/// The parties' guards, read at each scrape.
#[derive(Debug)]
struct UpstreamCollector {
    parties: Vec<Party>,
}

/// A guard's latency histogram (milliseconds, counts per bucket, sum in microseconds) as
/// OpenMetrics wants it (seconds).
fn encode_latency(
    encoder: &mut MetricEncoder<'_>,
    h: &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_MS
        .iter()
        .map(|&ms| ms as f64 / 1_000.0)
        .chain(std::iter::once(f64::MAX))
        .zip(h.counts.iter().copied())
        .collect();
    encoder.encode_histogram::<NoLabelSet>(h.sum_us as f64 / 1e6, h.count(), &buckets, None)
}

impl Collector for UpstreamCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let readings: Vec<(&'static str, GuardStats, BreakerState)> = self
            .parties
            .iter()
            .map(|p| {
                let (stats, state) = (p.read)();
                (p.name, stats, state)
            })
            .collect();
        type Pick = fn(&GuardStats) -> u64;
        let counters: [(&str, &str, Pick); 8] = [
            (
                "upstream_attempts",
                "Attempts made to call a party, first attempts and retries",
                |s| s.attempts,
            ),
            (
                "upstream_failed_attempts",
                "Attempts that failed (transient or broken), by party",
                |s| s.failed_attempts,
            ),
            ("upstream_retries", "Retries made, by party", |s| s.retries),
            (
                "upstream_retries_denied",
                "Retries not made because the party's retry budget was spent",
                |s| s.retries_denied,
            ),
            (
                "upstream_breaker_rejections",
                "Calls refused without calling the party because its circuit breaker was open",
                |s| s.breaker_rejections,
            ),
            (
                "upstream_rate_limited",
                "Calls refused because the party's rate limit would have outlasted their deadline",
                |s| s.rate_limited,
            ),
            (
                "upstream_rate_limit_waits",
                "Calls that waited for the party's rate limit, then went",
                |s| s.rate_limit_waits,
            ),
            (
                "upstream_deadline_exceeded",
                "Calls whose deadline passed while waiting for a slot among the party's calls \
                 in flight",
                |s| s.deadline_exceeded,
            ),
        ];
        for (name, help, pick) in counters {
            let mut f = family(&mut encoder, name, help, None, MetricType::Counter)?;
            for (party, stats, _) in &readings {
                counter(&mut f.encode_family(&[("party", *party)])?, pick(stats))?;
            }
        }
        let seconds = Unit::Seconds;
        let mut f = family(
            &mut encoder,
            "upstream_attempt_duration",
            "Duration of attempts to call a party, by party and outcome (ok: answered as asked; \
             refused: answered with a refusal such as not found; failed: transient or broken)",
            Some(&seconds),
            MetricType::Histogram,
        )?;
        for (party, stats, _) in &readings {
            for (outcome, h) in [
                ("ok", &stats.latency_ok),
                ("refused", &stats.latency_refused),
                ("failed", &stats.latency_failed),
            ] {
                encode_latency(
                    &mut f.encode_family(&[("party", *party), ("outcome", outcome)])?,
                    h,
                )?;
            }
        }
        let mut f = family(
            &mut encoder,
            "upstream_breaker_state",
            "A party's circuit breaker now: 0 closed, 1 half-open, 2 open",
            None,
            MetricType::Gauge,
        )?;
        for (party, _, state) in &readings {
            let value: i64 = match state {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            };
            f.encode_family(&[("party", *party)])?
                .encode_gauge(&value)?;
        }
        Ok(())
    }
}

/// The transfer log's stats, read at each scrape.
#[derive(Debug)]
struct LogCollector {
    stats: Arc<LogStats>,
}

impl Collector for LogCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &self.stats;
        let seconds = Unit::Seconds;
        family(
            &mut encoder,
            "transfer_log_queue_depth",
            "Entries queued for the transfer log's writer and not yet in a batch",
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&s.queue_depth())?;
        s.append_us.encode(
            &mut family(
                &mut encoder,
                "transfer_log_append_duration",
                "From queueing an entry to its acknowledgement once its batch is committed and \
                 synced, as the appender sees it",
                Some(&seconds),
                MetricType::Histogram,
            )?,
            1e6,
        )?;
        counter(
            &mut family(
                &mut encoder,
                "transfer_log_append_failures",
                "Appends answered unavailable: not stored, the transfer did not happen",
                None,
                MetricType::Counter,
            )?,
            s.append_failures.load(Ordering::Relaxed),
        )?;
        s.batch_entries.encode(
            &mut family(
                &mut encoder,
                "transfer_log_batch_entries",
                "Entries per batch the writer committed in one transaction (group commit)",
                None,
                MetricType::Histogram,
            )?,
            1.0,
        )?;
        s.batch_us.encode(
            &mut family(
                &mut encoder,
                "transfer_log_batch_duration",
                "Writing one batch: chaining, sealing, the transaction and its sync",
                Some(&seconds),
                MetricType::Histogram,
            )?,
            1e6,
        )?;
        counter(
            &mut family(
                &mut encoder,
                "transfer_log_batch_failures",
                "Batches the writer could not store (every appender in them was refused)",
                None,
                MetricType::Counter,
            )?,
            s.batch_failures.load(Ordering::Relaxed),
        )?;
        counter(
            &mut family(
                &mut encoder,
                "transfer_log_checkpoints",
                "Signed checkpoints stored",
                None,
                MetricType::Counter,
            )?,
            s.checkpoints.load(Ordering::Relaxed),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_histogram_puts_each_value_in_the_first_bucket_that_holds_it() {
        static BOUNDS: [u64; 3] = [10, 100, 1000];
        let h = AtomicHistogram::new(&BOUNDS);
        for v in [0, 10, 11, 100, 5000] {
            h.record(v);
        }
        let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, [2, 2, 0, 1]);
        assert_eq!(h.count(), 5);
        assert_eq!(h.sum.load(Ordering::Relaxed), 5121);
    }

    #[test]
    fn the_encoding_is_openmetrics_with_cumulative_buckets_in_seconds() {
        let stats = Arc::new(LogStats::default());
        stats.queued();
        stats.queued();
        stats.dequeued(1);
        stats.appended(Duration::from_micros(700), true);
        stats.appended(Duration::from_micros(3), false);
        stats.batch(3, Duration::from_micros(400), true);
        let m = Metrics::new(Vec::new(), Some(stats));
        m.transfer(
            "fcb",
            "credit-report",
            Kind::Denied,
            "denied:field_not_allowed",
            0,
            2,
        );
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE kuzet_transfer_log_queue_depth gauge\n"));
        assert!(
            text.contains("kuzet_transfer_log_queue_depth 1\n"),
            "{text}"
        );
        assert!(text.contains("kuzet_transfer_log_append_duration_seconds_count 1\n"));
        assert!(
            text.contains("kuzet_transfer_log_append_duration_seconds_bucket{le=\"0.0005\"} 0\n")
        );
        assert!(
            text.contains("kuzet_transfer_log_append_duration_seconds_bucket{le=\"0.001\"} 1\n")
        );
        assert!(
            text.contains("kuzet_transfer_log_append_duration_seconds_bucket{le=\"+Inf\"} 1\n")
        );
        assert!(text.contains("kuzet_transfer_log_append_failures_total 1\n"));
        assert!(
            text.contains("kuzet_transfer_log_batch_entries_bucket{le=\"4.0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "kuzet_transfers_total{recipient=\"fcb\",operation=\"credit-report\",kind=\"denied\",outcome=\"field_not_allowed\"} 1\n"
        ));
        assert!(text.contains("kuzet_denied_fields_total{recipient=\"fcb\"} 2\n"));
        // A family nobody touched yet is left out.
        assert!(!text.contains("kuzet_dropped_fields"));
    }

    #[test]
    fn unknown_methods_are_one_label() {
        let odd = Method::from_bytes(b"BREW").expect("a method token");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::POST), "POST");
    }
}
