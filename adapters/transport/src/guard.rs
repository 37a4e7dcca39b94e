//! The per-party guard every adapter call goes through: a rate limit (governor), a cap on calls
//! in flight, retries with exponential, jittered backoff (backon) for safe operations and
//! transient failures only, a retry budget, and a circuit breaker.
//!
//! One [`Guard`] per party, shared by all its operations (the party's quota and health are the
//! party's, not an operation's). The adapter says what a failure means ([`AttemptError`]); the
//! caller says whether the operation may be repeated ([`Retry`], from the contract's
//! `safe_to_retry`). The caller's deadline bounds everything: waiting for the rate limit or a
//! slot, the attempts and the pauses between them. Nothing queues without bound: a wait that
//! would outlast the deadline fails at once.
//!
//! This module must never: retry a write ([`Retry::Never`]) or a failure the adapter does not
//! call transient; retry past the deadline or the retry budget; let a call through while the
//! breaker is open (apart from the half-open probes); put a personal value into tracing (it
//! traces the party, the attempt number, the failure's code and the latency, nothing else).
//!
//! [`Breaker`] and [`RetryBudget`] are plain state machines that take the time as an argument,
//! so tests drive them to the microsecond.

use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// The guard's settings for one party. Durations carry their unit in the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Calls per second allowed to the party, retries included; 0 means no limit. With several
    /// gateway replicas, each gets its share of the party's quota.
    pub rate_per_second: u32,
    /// Calls allowed in a burst above the steady rate (at least 1).
    pub rate_burst: u32,
    /// Calls in flight to the party at once; more wait for a slot, but not past their deadline.
    pub max_concurrent: u32,
    /// Attempts per call in all, the first included (1 = never retry).
    pub retry_max_attempts: u32,
    /// Pause before the first retry, in milliseconds; it doubles for each further one, with
    /// random jitter.
    pub retry_initial_backoff_ms: u64,
    /// Longest pause between two attempts, in milliseconds.
    pub retry_max_backoff_ms: u64,
    /// Most time spent pausing between the attempts of one call, in milliseconds.
    pub retry_max_elapsed_ms: u64,
    /// Retries allowed as a share of first attempts over the last 10 seconds, in percent, so
    /// that an outage cannot multiply the load on the party.
    pub retry_budget_percent: u32,
    /// Retries per second allowed whatever the traffic (the budget's floor).
    pub retry_budget_min_per_second: u32,
    /// Window over which the breaker counts calls and failures, in milliseconds.
    pub breaker_window_ms: u64,
    /// Calls in the window below which the breaker never opens.
    pub breaker_min_calls: u32,
    /// Share of failed calls in the window that opens the breaker, in percent.
    pub breaker_failure_percent: u32,
    /// How long an open breaker refuses calls before letting probes through, in milliseconds.
    pub breaker_open_ms: u64,
    /// Probe calls let through at once while half-open; one success closes the breaker, one
    /// failure opens it again.
    pub breaker_half_open_probes: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            rate_per_second: 0,
            rate_burst: 20,
            max_concurrent: 64,
            retry_max_attempts: 3,
            retry_initial_backoff_ms: 50,
            retry_max_backoff_ms: 1_000,
            retry_max_elapsed_ms: 3_000,
            retry_budget_percent: 20,
            retry_budget_min_per_second: 1,
            breaker_window_ms: 30_000,
            breaker_min_calls: 20,
            breaker_failure_percent: 50,
            breaker_open_ms: 10_000,
            breaker_half_open_probes: 1,
        }
    }
}

impl GuardConfig {
    /// Every problem with the settings, one message each; empty when they can be used.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut need = |ok: bool, msg: &str| {
            if !ok {
                out.push(msg.to_owned());
            }
        };
        need(self.rate_burst >= 1, "rate_burst must be at least 1");
        need(
            self.max_concurrent >= 1,
            "max_concurrent must be at least 1",
        );
        need(
            self.retry_max_attempts >= 1,
            "retry_max_attempts must be at least 1 (1 means no retries)",
        );
        need(
            self.retry_initial_backoff_ms >= 1,
            "retry_initial_backoff_ms must be at least 1",
        );
        need(
            self.retry_max_backoff_ms >= self.retry_initial_backoff_ms,
            "retry_max_backoff_ms must be at least retry_initial_backoff_ms",
        );
        need(
            self.retry_budget_percent <= 100,
            "retry_budget_percent must be at most 100",
        );
        need(
            self.breaker_window_ms >= 1_000,
            "breaker_window_ms must be at least 1000",
        );
        need(
            (1..=100).contains(&self.breaker_failure_percent),
            "breaker_failure_percent must be between 1 and 100",
        );
        need(
            self.breaker_min_calls >= 1,
            "breaker_min_calls must be at least 1",
        );
        need(
            self.breaker_open_ms >= 1,
            "breaker_open_ms must be at least 1",
        );
        need(
            self.breaker_half_open_probes >= 1,
            "breaker_half_open_probes must be at least 1",
        );
        out
    }
}

/// Whether an operation may be repeated after a transient failure (the contract's
/// `safe_to_retry`: reads yes, writes never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read: transient failures are retried within the deadline, attempts and budget.
    Safe,
    /// A write: one attempt, whatever happens.
    Never,
}

/// What a failed attempt says about the party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The party answered as designed, with a refusal about the request (subject not found,
    /// several subjects): healthy for the breaker, never retried.
    Answered,
    /// A failure a repeat may fix (connect errors, timeouts, 502/503/504, the party's
    /// retryable faults): counts against the breaker, retried for safe operations.
    Transient,
    /// The party misbehaved in a way a repeat will not fix (malformed answers, refused
    /// credentials): counts against the breaker, never retried.
    Broken,
}

/// An adapter's error, as the guard needs to see it.
pub trait AttemptError {
    /// What the failure says about the party.
    fn failure(&self) -> Failure;
    /// A stable snake_case name, for tracing and metrics.
    fn code(&self) -> &'static str;
}

/// Why a guarded call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum GuardError<E> {
    /// The last attempt's own failure (after any retries).
    #[error(transparent)]
    Upstream(E),
    /// The breaker is open: the party failed too often lately and was not called.
    #[error("the party's circuit breaker is open; it was not called")]
    BreakerOpen,
    /// The party's rate limit would let the call through only after its deadline.
    #[error("the party's rate limit is exhausted until after the deadline")]
    RateLimited,
    /// No slot among the party's concurrent calls came free before the deadline, or no time
    /// was left for an attempt.
    #[error("the deadline passed before the party could be called")]
    DeadlineExceeded,
}

/// The breaker's state, for health checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Counts in whole-second buckets over a sliding window.
#[derive(Debug)]
struct Window {
    origin: Instant,
    seconds: u64,
    /// `(second since origin, [calls, failures])`, oldest first.
    buckets: VecDeque<(u64, [u64; 2])>,
}

impl Window {
    fn new(now: Instant, length: Duration) -> Self {
        Self {
            origin: now,
            seconds: length.as_secs().max(1),
            buckets: VecDeque::new(),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    fn trim(&mut self, now: Instant) {
        let sec = self.second(now);
        while self
            .buckets
            .front()
            .is_some_and(|(s, _)| s + self.seconds <= sec)
        {
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, now: Instant, slot: usize) {
        self.trim(now);
        let sec = self.second(now);
        match self.buckets.back_mut() {
            Some((s, counts)) if *s == sec => counts[slot] += 1,
            _ => {
                let mut counts = [0; 2];
                counts[slot] = 1;
                self.buckets.push_back((sec, counts));
            }
        }
    }

    fn totals(&mut self, now: Instant) -> [u64; 2] {
        self.trim(now);
        self.buckets
            .iter()
            .fold([0, 0], |acc, (_, c)| [acc[0] + c[0], acc[1] + c[1]])
    }

    fn clear(&mut self) {
        self.buckets.clear();
    }
}

const CALLS: usize = 0;
const FAILURES: usize = 1;

/// A circuit breaker: closed → open when, over the window, at least `min_calls` calls were
/// made and at least `failure_percent` of them failed → after `open_for`, half-open: up to
/// `probes` calls at once go through → one success closes it, one failure opens it again.
#[derive(Debug)]
pub struct Breaker {
    min_calls: u64,
    failure_percent: u64,
    open_for: Duration,
    probes: u32,
    window: Window,
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32 },
}

/// Leave to make one call, from [`Breaker::admit`]; hand it back to [`Breaker::record`] or
/// [`Breaker::abandon`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Admission {
    probe: bool,
}

impl Breaker {
    /// A closed breaker with `config`'s breaker settings.
    pub fn new(config: &GuardConfig, now: Instant) -> Self {
        Self {
            min_calls: u64::from(config.breaker_min_calls),
            failure_percent: u64::from(config.breaker_failure_percent),
            open_for: Duration::from_millis(config.breaker_open_ms),
            probes: config.breaker_half_open_probes,
            window: Window::new(now, Duration::from_millis(config.breaker_window_ms)),
            state: State::Closed,
        }
    }

    /// The state at `now` (an open breaker whose time is up reads as half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Leave to call the party now, or `None` while open (or while half-open with every probe
    /// slot taken).
    pub fn admit(&mut self, now: Instant) -> Option<Admission> {
        match self.state {
            State::Closed => Some(Admission { probe: false }),
            State::Open { until } if now < until => None,
            State::Open { .. } => {
                self.state = State::HalfOpen { in_flight: 1 };
                Some(Admission { probe: true })
            }
            State::HalfOpen { in_flight } if in_flight < self.probes => {
                self.state = State::HalfOpen {
                    in_flight: in_flight + 1,
                };
                Some(Admission { probe: true })
            }
            State::HalfOpen { .. } => None,
        }
    }

    /// Records how an admitted call went.
    pub fn record(&mut self, now: Instant, admission: Admission, failed: bool) {
        if admission.probe {
            if let State::HalfOpen { .. } = self.state {
                self.state = if failed {
                    State::Open {
                        until: now + self.open_for,
                    }
                } else {
                    self.window.clear();
                    State::Closed
                };
            }
            return;
        }
        self.window.add(now, CALLS);
        if failed {
            self.window.add(now, FAILURES);
        }
        if let State::Closed = self.state {
            let [calls, failures] = self.window.totals(now);
            if calls >= self.min_calls && failures * 100 >= calls * self.failure_percent {
                self.state = State::Open {
                    until: now + self.open_for,
                };
                self.window.clear();
            }
        }
    }

    /// Gives back an admission whose call never finished (the caller went away), so that a
    /// probe slot is not lost.
    pub fn abandon(&mut self, admission: Admission) {
        if admission.probe
            && let State::HalfOpen { in_flight } = self.state
        {
            self.state = State::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
            };
        }
    }
}

/// Retries allowed over the last 10 seconds: `percent` of the first attempts, and never fewer
/// than `min_per_second` × 10.
#[derive(Debug)]
pub struct RetryBudget {
    percent: u64,
    floor: u64,
    /// `[first attempts, retries]` per second.
    window: Window,
}

const BUDGET_WINDOW: Duration = Duration::from_secs(10);
const FIRST: usize = 0;
const RETRIES: usize = 1;

impl RetryBudget {
    /// A budget with `config`'s retry budget settings.
    pub fn new(config: &GuardConfig, now: Instant) -> Self {
        Self {
            percent: u64::from(config.retry_budget_percent),
            floor: u64::from(config.retry_budget_min_per_second) * BUDGET_WINDOW.as_secs(),
            window: Window::new(now, BUDGET_WINDOW),
        }
    }

    /// Counts a call's first attempt.
    pub fn first_attempt(&mut self, now: Instant) {
        self.window.add(now, FIRST);
    }

    /// Takes one retry from the budget; `false` (and nothing taken) when it is spent.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        let [first, retries] = self.window.totals(now);
        let allowed = (first * self.percent / 100).max(self.floor);
        if retries < allowed {
            self.window.add(now, RETRIES);
            true
        } else {
            false
        }
    }
}

/// Upper bounds, in milliseconds, of the attempt latency histogram's buckets (Prometheus'
/// `le`); one more bucket holds the attempts slower than the last bound.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
];

/// Attempt latencies of one outcome class: how many fell in each bucket of
/// [`LATENCY_BUCKETS_MS`] (not cumulative: `counts[i]` took more than the bound before and at
/// most `LATENCY_BUCKETS_MS[i]`; the last entry, more than every bound) and their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyHistogram {
    pub counts: [u64; LATENCY_BUCKETS_MS.len() + 1],
    /// The attempts' latencies added up, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// Attempts recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[derive(Debug, Default)]
struct AtomicHistogram {
    counts: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    fn record(&self, latency: Duration) {
        let ms = latency.as_millis();
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| ms <= u128::from(b))
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        bump(&self.counts[bucket]);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LatencyHistogram {
        let mut out = LatencyHistogram::default();
        for (o, c) in out.counts.iter_mut().zip(&self.counts) {
            *o = c.load(Ordering::Relaxed);
        }
        out.sum_us = self.sum_us.load(Ordering::Relaxed);
        out
    }
}

/// Counters of one party's calls since start, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardStats {
    /// Attempts made (first attempts and retries).
    pub attempts: u64,
    /// Attempts that failed with a `Transient` or `Broken` failure.
    pub failed_attempts: u64,
    /// Retries made.
    pub retries: u64,
    /// Retries not made because the budget was spent.
    pub retries_denied: u64,
    /// Calls refused because the breaker was open.
    pub breaker_rejections: u64,
    /// Calls refused because the rate limit would have outlasted their deadline.
    pub rate_limited: u64,
    /// Calls that waited for the rate limit (and then went).
    pub rate_limit_waits: u64,
    /// Calls whose deadline passed while waiting for a slot.
    pub deadline_exceeded: u64,
    /// Latency of the attempts the party answered with what was asked for.
    pub latency_ok: LatencyHistogram,
    /// Latency of the attempts the party answered with a refusal ([`Failure::Answered`]: not
    /// found, rejected).
    pub latency_refused: LatencyHistogram,
    /// Latency of the failed attempts ([`Failure::Transient`] or [`Failure::Broken`]).
    pub latency_failed: LatencyHistogram,
}

#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    failed_attempts: AtomicU64,
    retries: AtomicU64,
    retries_denied: AtomicU64,
    breaker_rejections: AtomicU64,
    rate_limited: AtomicU64,
    rate_limit_waits: AtomicU64,
    deadline_exceeded: AtomicU64,
    latency_ok: AtomicHistogram,
    latency_refused: AtomicHistogram,
    latency_failed: AtomicHistogram,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// One party's guard. Cheap to share behind an `Arc`; all state is internal.
#[derive(Debug)]
pub struct Guard {
    party: &'static str,
    limiter: Option<DefaultDirectRateLimiter>,
    slots: Semaphore,
    backoff: ExponentialBuilder,
    breaker: Mutex<Breaker>,
    budget: Mutex<RetryBudget>,
    counters: Counters,
}

/// Releases a probe slot when an attempt is dropped before it is recorded.
struct Pending<'a> {
    breaker: &'a Mutex<Breaker>,
    admission: Option<Admission>,
}

impl Pending<'_> {
    fn record(mut self, failed: bool) {
        if let Some(a) = self.admission.take() {
            lock(self.breaker).record(Instant::now(), a, failed);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            lock(self.breaker).abandon(a);
        }
    }
}

/// Locks a mutex whose holders never panic while holding it (plain arithmetic); a poisoned
/// one still holds consistent counts.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Below this much time before the deadline an attempt is not worth starting.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(5);

impl Guard {
    /// The guard of `party` (a short name for tracing: `fcb`, `gcvp`, `traffic`). Fails with
    /// every problem of `config` at once.
    pub fn new(party: &'static str, config: &GuardConfig) -> Result<Self, Vec<String>> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let limiter = NonZeroU32::new(config.rate_per_second).map(|rate| {
            let burst = NonZeroU32::new(config.rate_burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
        });
        let now = Instant::now();
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(config.retry_initial_backoff_ms))
            .with_max_delay(Duration::from_millis(config.retry_max_backoff_ms))
            .with_max_times(config.retry_max_attempts.saturating_sub(1) as usize)
            .with_total_delay(Some(Duration::from_millis(config.retry_max_elapsed_ms)));
        Ok(Self {
            party,
            limiter,
            slots: Semaphore::new(config.max_concurrent as usize),
            backoff,
            breaker: Mutex::new(Breaker::new(config, now)),
            budget: Mutex::new(RetryBudget::new(config, now)),
            counters: Counters::default(),
        })
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        lock(&self.breaker).state(Instant::now())
    }

    /// The counters since start.
    pub fn stats(&self) -> GuardStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GuardStats {
            attempts: get(&c.attempts),
            failed_attempts: get(&c.failed_attempts),
            retries: get(&c.retries),
            retries_denied: get(&c.retries_denied),
            breaker_rejections: get(&c.breaker_rejections),
            rate_limited: get(&c.rate_limited),
            rate_limit_waits: get(&c.rate_limit_waits),
            deadline_exceeded: get(&c.deadline_exceeded),
            latency_ok: c.latency_ok.snapshot(),
            latency_refused: c.latency_refused.snapshot(),
            latency_failed: c.latency_failed.snapshot(),
        }
    }

    /// Runs `attempt` (given the attempt number, from 1) under the guard, within `deadline`.
    pub async fn run<T, E, F, Fut>(
        &self,
        retry: Retry,
        deadline: Option<Instant>,
        mut attempt: F,
    ) -> Result<T, GuardError<E>>
    where
        E: AttemptError,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        lock(&self.budget).first_attempt(Instant::now());
        let mut backoff = self.backoff.build();
        let mut number = 0u32;
        loop {
            number += 1;
            let result = self.attempt_once(number, deadline, &mut attempt).await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(GuardError::Upstream(e)) => e,
                // Refused before calling: a retry would be refused the same way.
                Err(other) => return Err(other),
            };
            if retry == Retry::Never || err.failure() != Failure::Transient {
                return Err(GuardError::Upstream(err));
            }
            let Some(pause) = backoff.next() else {
                return Err(GuardError::Upstream(err));
            };
            if deadline.is_some_and(|d| Instant::now() + pause + MIN_ATTEMPT_TIME >= d) {
                return Err(GuardError::Upstream(err));
            }
            if !lock(&self.budget).try_retry(Instant::now()) {
                bump(&self.counters.retries_denied);
                tracing::debug!(party = self.party, "Retry budget spent; not retrying.");
                return Err(GuardError::Upstream(err));
            }
            bump(&self.counters.retries);
            tokio::time::sleep(pause).await;
        }
    }

    async fn attempt_once<T, E, F, Fut>(
        &self,
        number: u32,
        deadline: Option<Instant>,
        attempt: &mut F,
    ) -> Result<T, GuardError<E>>
    where
        E: AttemptError,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let left = |now: Instant| deadline.map(|d| d.saturating_duration_since(now));
        if left(Instant::now()).is_some_and(|l| l < MIN_ATTEMPT_TIME) {
            bump(&self.counters.deadline_exceeded);
            return Err(GuardError::DeadlineExceeded);
        }
        if let Some(limiter) = &self.limiter {
            while let Err(not_until) = limiter.check() {
                let wait = not_until.wait_time_from(limiter.clock().now());
                if left(Instant::now()).is_some_and(|l| wait + MIN_ATTEMPT_TIME >= l) {
                    bump(&self.counters.rate_limited);
                    return Err(GuardError::RateLimited);
                }
                bump(&self.counters.rate_limit_waits);
                tokio::time::sleep(wait).await;
            }
        }
        let _slot = match left(Instant::now()) {
            None => self.slots.acquire().await.ok(),
            Some(l) => match tokio::time::timeout(l, self.slots.acquire()).await {
                Ok(slot) => slot.ok(),
                Err(_) => {
                    bump(&self.counters.deadline_exceeded);
                    return Err(GuardError::DeadlineExceeded);
                }
            },
        };
        let Some(admission) = lock(&self.breaker).admit(Instant::now()) else {
            bump(&self.counters.breaker_rejections);
            return Err(GuardError::BreakerOpen);
        };
        let pending = Pending {
            breaker: &self.breaker,
            admission: Some(admission),
        };
        bump(&self.counters.attempts);
        let started = Instant::now();
        let result = attempt(number).await;
        let latency = started.elapsed();
        let latency_ms = latency.as_millis() as u64;
        let (failed, code, histogram) = match &result {
            Ok(_) => (false, "ok", &self.counters.latency_ok),
            Err(e) if e.failure() == Failure::Answered => {
                (false, e.code(), &self.counters.latency_refused)
            }
            Err(e) => (true, e.code(), &self.counters.latency_failed),
        };
        histogram.record(latency);
        pending.record(failed);
        if failed {
            bump(&self.counters.failed_attempts);
        }
        tracing::debug!(
            party = self.party,
            attempt = number,
            outcome = code,
            latency_ms,
            "Upstream attempt."
        );
        result.map_err(GuardError::Upstream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GuardConfig {
        GuardConfig::default()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn breaker_opens_at_half_of_twenty_calls_and_not_before() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        // 19 calls, all failed: under min_calls, stays closed.
        for i in 0..19 {
            let a = b.admit(t0 + ms(i)).expect("closed");
            b.record(t0 + ms(i), a, true);
        }
        assert_eq!(b.state(t0 + ms(20)), BreakerState::Closed);
        // The 20th call, a success: 19 of 20 failed, over half: opens.
        let a = b.admit(t0 + ms(20)).expect("closed");
        b.record(t0 + ms(20), a, false);
        assert_eq!(b.state(t0 + ms(21)), BreakerState::Open);
        assert!(b.admit(t0 + ms(21)).is_none());
    }

    #[test]
    fn breaker_stays_closed_under_the_failure_share() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        for i in 0..100u64 {
            let a = b.admit(t0 + ms(i)).expect("closed");
            // 9 of every 20 fail (45%), spread out: the share never reaches half.
            b.record(t0 + ms(i), a, i % 2 == 1 && i % 20 < 18);
        }
        assert_eq!(b.state(t0 + ms(100)), BreakerState::Closed);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        for i in 0..15 {
            let a = b.admit(t0 + ms(i)).expect("closed");
            b.record(t0 + ms(i), a, true);
        }
        // 31 s later the 15 failures are out of the 30 s window: 10 more failures are only
        // 10 calls, under min_calls.
        let later = t0 + Duration::from_secs(31);
        for i in 0..10 {
            let a = b.admit(later + ms(i)).expect("closed");
            b.record(later + ms(i), a, true);
        }
        assert_eq!(b.state(later + ms(10)), BreakerState::Closed);
    }

    fn open(b: &mut Breaker, at: Instant) {
        for i in 0..20 {
            let a = b.admit(at + ms(i)).expect("closed");
            b.record(at + ms(i), a, true);
        }
    }

    #[test]
    fn half_open_probe_success_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        open(&mut b, t0);
        let opened = t0 + ms(19);
        assert!(b.admit(opened + ms(9_999)).is_none(), "open for 10 s");
        let probe_at = opened + ms(10_000);
        assert_eq!(b.state(probe_at), BreakerState::HalfOpen);
        let probe = b.admit(probe_at).expect("one probe");
        assert!(b.admit(probe_at).is_none(), "only one probe at a time");
        b.record(probe_at + ms(5), probe, false);
        assert_eq!(b.state(probe_at + ms(5)), BreakerState::Closed);
        // Closed with a fresh window: one failure does not reopen it.
        let a = b.admit(probe_at + ms(6)).expect("closed");
        b.record(probe_at + ms(6), a, true);
        assert_eq!(b.state(probe_at + ms(7)), BreakerState::Closed);
    }

    #[test]
    fn half_open_probe_failure_reopens() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        open(&mut b, t0);
        let probe_at = t0 + ms(19 + 10_000);
        let probe = b.admit(probe_at).expect("probe");
        b.record(probe_at, probe, true);
        assert_eq!(b.state(probe_at + ms(1)), BreakerState::Open);
        assert!(b.admit(probe_at + ms(9_999)).is_none());
        assert!(b.admit(probe_at + ms(10_000)).is_some());
    }

    #[test]
    fn abandoned_probe_frees_its_slot() {
        let t0 = Instant::now();
        let mut b = Breaker::new(&config(), t0);
        open(&mut b, t0);
        let probe_at = t0 + ms(19 + 10_000);
        let probe = b.admit(probe_at).expect("probe");
        b.abandon(probe);
        assert!(b.admit(probe_at).is_some(), "the slot is free again");
    }

    #[test]
    fn retry_budget_has_a_floor_and_a_share() {
        let t0 = Instant::now();
        let mut cfg = config();
        cfg.retry_budget_min_per_second = 1;
        cfg.retry_budget_percent = 20;
        let mut budget = RetryBudget::new(&cfg, t0);
        // No traffic: the floor, 10 retries per 10 s.
        for _ in 0..10 {
            assert!(budget.try_retry(t0));
        }
        assert!(!budget.try_retry(t0));
        // 100 first attempts: 20% = 20 retries in the window, 10 used.
        for _ in 0..100 {
            budget.first_attempt(t0);
        }
        for _ in 0..10 {
            assert!(budget.try_retry(t0 + ms(1)));
        }
        assert!(!budget.try_retry(t0 + ms(1)));
        // After the window everything has aged out: the floor again.
        let later = t0 + Duration::from_secs(11);
        for _ in 0..10 {
            assert!(budget.try_retry(later));
        }
        assert!(!budget.try_retry(later));
    }

    #[test]
    fn bad_settings_are_all_reported() {
        let cfg = GuardConfig {
            retry_max_attempts: 0,
            breaker_failure_percent: 0,
            retry_budget_percent: 101,
            max_concurrent: 0,
            ..GuardConfig::default()
        };
        let problems = cfg.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(Guard::new("test", &cfg).is_err());
        assert!(GuardConfig::default().problems().is_empty());
    }

    #[derive(Debug)]
    struct Fail(Failure);

    impl AttemptError for Fail {
        fn failure(&self) -> Failure {
            self.0
        }
        fn code(&self) -> &'static str {
            "test"
        }
    }

    fn fast() -> GuardConfig {
        GuardConfig {
            retry_initial_backoff_ms: 1,
            retry_max_backoff_ms: 2,
            ..GuardConfig::default()
        }
    }

    async fn run_with(
        guard: &Guard,
        retry: Retry,
        outcomes: &[Result<u32, Failure>],
    ) -> (Result<u32, GuardError<Fail>>, u32) {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let result = guard
            .run(retry, Some(Instant::now() + Duration::from_secs(5)), |_| {
                let i = calls.fetch_add(1, Ordering::SeqCst) as usize;
                let outcome = outcomes[i.min(outcomes.len() - 1)];
                async move { outcome.map_err(Fail) }
            })
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn transient_failures_of_reads_are_retried_up_to_the_attempts() {
        let guard = Guard::new("test", &fast()).expect("guard");
        let (r, calls) = run_with(
            &guard,
            Retry::Safe,
            &[Err(Failure::Transient), Err(Failure::Transient), Ok(7)],
        )
        .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(calls, 3);
        let (r, calls) = run_with(&guard, Retry::Safe, &[Err(Failure::Transient)]).await;
        assert!(matches!(
            r,
            Err(GuardError::Upstream(Fail(Failure::Transient)))
        ));
        assert_eq!(calls, 3, "three attempts in all");
        let stats = guard.stats();
        assert_eq!(stats.attempts, 6);
        assert_eq!(stats.retries, 4);
        assert_eq!(stats.failed_attempts, 5);
        assert_eq!(stats.latency_ok.count(), 1);
        assert_eq!(stats.latency_failed.count(), 5);
        assert_eq!(stats.latency_refused.count(), 0);
    }

    #[tokio::test]
    async fn every_attempt_lands_in_its_latency_bucket() {
        let guard = Guard::new("test", &fast()).expect("guard");
        for (pause_ms, outcome) in [(0, Ok(1)), (30, Ok(2)), (0, Err(Failure::Answered))] {
            let r = guard
                .run(Retry::Never, None, |_| async move {
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                    outcome.map_err(Fail)
                })
                .await;
            assert_eq!(r.is_ok(), outcome.is_ok());
        }
        let stats = guard.stats();
        assert_eq!(stats.latency_ok.count(), 2);
        assert_eq!(stats.latency_refused.count(), 1);
        assert_eq!(stats.latency_failed, LatencyHistogram::default());
        // The 30 ms attempt is counted past the 25 ms bound (the pause is latency to measure,
        // not synchronisation).
        let slow = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| b >= 30)
            .expect("bucket");
        assert!(stats.latency_ok.counts[slow..].iter().sum::<u64>() >= 1);
        assert!(stats.latency_ok.sum_us >= 30_000);
    }

    #[tokio::test]
    async fn writes_and_permanent_failures_are_not_retried() {
        let guard = Guard::new("test", &fast()).expect("guard");
        let (r, calls) = run_with(&guard, Retry::Never, &[Err(Failure::Transient), Ok(1)]).await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
        for f in [Failure::Answered, Failure::Broken] {
            let (r, calls) = run_with(&guard, Retry::Safe, &[Err(f), Ok(1)]).await;
            assert!(r.is_err());
            assert_eq!(calls, 1);
        }
    }

    #[tokio::test]
    async fn the_budget_stops_retries() {
        let cfg = GuardConfig {
            retry_budget_min_per_second: 0,
            retry_budget_percent: 0,
            ..fast()
        };
        let guard = Guard::new("test", &cfg).expect("guard");
        let (r, calls) = run_with(&guard, Retry::Safe, &[Err(Failure::Transient), Ok(1)]).await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
        assert_eq!(guard.stats().retries_denied, 1);
    }

    #[tokio::test]
    async fn an_open_breaker_refuses_without_calling() {
        let cfg = GuardConfig {
            breaker_min_calls: 2,
            retry_max_attempts: 1,
            ..fast()
        };
        let guard = Guard::new("test", &cfg).expect("guard");
        for _ in 0..2 {
            let _ = run_with(&guard, Retry::Safe, &[Err(Failure::Broken)]).await;
        }
        assert_eq!(guard.breaker_state(), BreakerState::Open);
        let (r, calls) = run_with(&guard, Retry::Safe, &[Ok(1)]).await;
        assert!(matches!(r, Err(GuardError::BreakerOpen)));
        assert_eq!(calls, 0);
        assert_eq!(guard.stats().breaker_rejections, 1);
    }

    #[tokio::test]
    async fn answered_refusals_keep_the_breaker_closed() {
        let cfg = GuardConfig {
            breaker_min_calls: 2,
            ..fast()
        };
        let guard = Guard::new("test", &cfg).expect("guard");
        for _ in 0..5 {
            let _ = run_with(&guard, Retry::Safe, &[Err(Failure::Answered)]).await;
        }
        assert_eq!(guard.breaker_state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn a_rate_limit_past_the_deadline_fails_at_once() {
        let cfg = GuardConfig {
            rate_per_second: 1,
            rate_burst: 1,
            ..fast()
        };
        let guard = Guard::new("test", &cfg).expect("guard");
        let deadline = Some(Instant::now() + ms(200));
        let first: Result<u32, GuardError<Fail>> =
            guard.run(Retry::Safe, deadline, |_| async { Ok(1) }).await;
        assert!(first.is_ok());
        // The next token comes in about 1 s, after the 200 ms deadline.
        let calls = std::sync::atomic::AtomicU32::new(0);
        let second: Result<u32, GuardError<Fail>> = guard
            .run(Retry::Safe, deadline, |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(2) }
            })
            .await;
        assert!(matches!(second, Err(GuardError::RateLimited)));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(guard.stats().rate_limited, 1);
    }

    #[tokio::test]
    async fn a_full_house_past_the_deadline_fails_at_once() {
        let cfg = GuardConfig {
            max_concurrent: 1,
            ..fast()
        };
        let guard = std::sync::Arc::new(Guard::new("test", &cfg).expect("guard"));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let guard = guard.clone();
            tokio::spawn(async move {
                let mut started = Some(started_tx);
                let mut release = Some(release_rx);
                let r: Result<u32, GuardError<Fail>> = guard
                    .run(Retry::Safe, None, |_| {
                        let started = started.take();
                        let release = release.take();
                        async move {
                            if let Some(s) = started {
                                let _ = s.send(());
                            }
                            if let Some(r) = release {
                                let _ = r.await;
                            }
                            Ok(1)
                        }
                    })
                    .await;
                r.is_ok()
            })
        };
        started_rx.await.expect("holder started");
        let r: Result<u32, GuardError<Fail>> = guard
            .run(Retry::Safe, Some(Instant::now() + ms(50)), |_| async {
                Ok(2)
            })
            .await;
        assert!(matches!(r, Err(GuardError::DeadlineExceeded)));
        let _ = release_tx.send(());
        assert!(holder.await.expect("holder"));
    }
}
