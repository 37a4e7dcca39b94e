//! Mock servers of kuzet's outside parties, for tests, load tests and `kuzet mocks`.
//!
//! Each mock speaks exactly the wire shapes of the real party (see `EXCHANGES.md`), so that
//! pointing the gateway at the real party is a configuration change. Mocks are small axum
//! servers started with a `spawn(options)` that binds `127.0.0.1:0` and returns a [`Running`]
//! handle; the same router can be mounted in-process. Every mock shares the fault knobs in
//! [`Knobs`] (latency, fail the first N calls, the kind of fault), changeable at run time so
//! one server can serve several test cases.
//!
//! Data are synthetic and deterministic from the IIN: the same IIN always gives byte-identical
//! answers. Some IINs are reserved for edge cases; for the First Credit Bureau
//! (`fcb`):
//!
//! | constant | IIN | answer |
//! |---|---|---|
//! | [`fcb::IIN_NOT_FOUND`] | `900101300017` | bureau error 1102, subject not found |
//! | [`fcb::IIN_SEVERAL_SUBJECTS`] | `850202400020` | bureau error 1112, several subjects found |
//! | [`fcb::IIN_BUREAU_INTERNAL_ERROR`] | `780303300038` | bureau error 1111, internal error |
//! | [`fcb::IIN_NO_CREDIT_HISTORY`] | `920404400044` | a report with no contracts at all |
//! | [`fcb::IIN_HEAVY_OVERDUE`] | `880505300057` | a report where every open contract is long overdue |
//! | [`fcb::IIN_DEMO`] ([`fcb::demo_iin`]) | `870525301012` | an ordinary person with a full report |
//!
//! Any other valid IIN gets an ordinary synthetic report.
//!
//! This crate must never hold or produce real personal data, and never log the IINs it is
//! asked about (tracing output carries only masked values).

#![forbid(unsafe_code)]

pub mod contracts_source;
pub mod control;
pub mod fcb;
pub mod server;
pub mod shep;
pub mod tls;
pub mod traffic;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A recorded answer for `iin`: the file `DIR/PARTY/OPERATION/<IIN>.xml` under the fixtures
/// directory, when there is one (`--mock-fixtures`). A file that exists but cannot be read is
/// traced and ignored (the synthetic answer is served).
pub fn fixture(
    dir: Option<&std::path::Path>,
    party: &str,
    operation: &str,
    iin: &kuzet_ident::Iin,
) -> Option<String> {
    let path = dir?
        .join(party)
        .join(operation)
        .join(format!("{}.xml", iin.expose()));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(party, operation, error = %e, "A recorded answer cannot be read.");
            None
        }
    }
}

/// `text` without a leading XML declaration (and the whitespace after it), for embedding.
pub fn strip_xml_declaration(text: &str) -> &str {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    match t.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(t, |(_, after)| after.trim_start()),
        None => t,
    }
}

/// Why a mock could not understand a request. Messages never carry request values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not well-formed XML.
    #[error("the request is not well-formed XML")]
    MalformedXml,
    /// The XML's root is not a SOAP `Envelope`.
    #[error("the request is not a SOAP envelope")]
    NotSoapEnvelope,
    /// The root is an `Envelope`, but not in the SOAP 1.1 namespace.
    #[error("the envelope is not SOAP 1.1")]
    SoapVersionMismatch,
    /// The envelope's body holds no operation this mock serves.
    #[error("the SOAP body holds no known operation")]
    UnknownOperation,
}

/// A fault a mock answers with instead of its normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A SOAP `Fault` (faultcode `Server`) with HTTP 500: a transport-level problem.
    SoapFault,
    /// The party's own error answer with this code, HTTP 200 (for the bureau a
    /// `CigResultError/Errmessage@code`).
    BureauError(i32),
    /// HTTP 200 with a body that is not XML at all.
    Malformed,
    /// HTTP 200 with the first half of the normal envelope (cut mid-document).
    Truncated,
    /// This HTTP status with a short plain-text body.
    HttpStatus(u16),
    /// The connection is dropped without an answer.
    CloseConnection,
}

/// What one call should do, decided once when the call arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPlan {
    /// Wait this long before answering.
    pub latency: Duration,
    /// Answer with this fault instead of the normal answer.
    pub fault: Option<Fault>,
}

#[derive(Debug, Default)]
struct KnobState {
    latency: Duration,
    fault: Option<Fault>,
    /// `Some(n)`: only the next `n` calls get `fault`; `None`: every call does.
    remaining: Option<u32>,
    /// Extra latency for the next `.1` calls only (the control endpoint's `latency` fault).
    delay_next: Option<(Duration, u32)>,
}

#[derive(Debug, Default)]
struct KnobsInner {
    calls: AtomicU64,
    state: Mutex<KnobState>,
}

/// The fault knobs of one mock, shared between its router and its [`Running`] handle (a cheap
/// `Arc` clone). Changing them affects the next calls.
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    inner: Arc<KnobsInner>,
}

impl Knobs {
    /// Knobs from start-up settings: `fail_first > 0` makes only the first `fail_first` calls
    /// fail (with `fault`, or a SOAP fault when `fault` is `None`); `fail_first == 0` with a
    /// fault makes every call fail.
    pub fn new(latency: Duration, fail_first: u32, fault: Option<Fault>) -> Self {
        let knobs = Self::default();
        knobs.set_latency(latency);
        if fail_first > 0 {
            knobs.fail_next(fail_first, fault.unwrap_or(Fault::SoapFault));
        } else {
            knobs.set_fault(fault);
        }
        knobs
    }

    fn state(&self) -> std::sync::MutexGuard<'_, KnobState> {
        // The state is plain data, always consistent between statements: a panic elsewhere
        // while holding the lock cannot leave it half-written, so poisoning is ignored.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call from now on answers with `fault` (`None`: no fault).
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut s = self.state();
        s.fault = fault;
        s.remaining = None;
    }

    /// The next `n` calls answer with `fault`, then calls are normal again.
    pub fn fail_next(&self, n: u32, fault: Fault) {
        let mut s = self.state();
        s.fault = Some(fault);
        s.remaining = Some(n);
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// No latency, no faults (the call counter is kept).
    pub fn reset(&self) {
        *self.state() = KnobState::default();
    }

    /// Requests received so far, whatever they were answered with.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The next `n` calls wait `latency` (on top of the standing latency), then calls are as
    /// before.
    pub fn delay_next(&self, n: u32, latency: Duration) {
        self.state().delay_next = Some((latency, n));
    }

    /// Counts one call and decides its latency and fault. Called once per request.
    pub fn begin_call(&self) -> CallPlan {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state();
        let mut extra = Duration::ZERO;
        if let Some((latency, n)) = s.delay_next {
            if n > 0 {
                extra = latency;
                s.delay_next = Some((latency, n - 1));
            } else {
                s.delay_next = None;
            }
        }
        let fault = match (s.fault, s.remaining) {
            (Some(f), None) => Some(f),
            (Some(f), Some(n)) if n > 0 => {
                s.remaining = Some(n - 1);
                Some(f)
            }
            _ => None,
        };
        CallPlan {
            latency: s.latency + extra,
            fault,
        }
    }
}

/// A mock server running on a tokio task. Dropping it stops the server (gracefully, in the
/// background); [`Running::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct Running {
    /// The address the server listens on (port chosen by the OS when asked for port 0).
    pub addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    knobs: Knobs,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// Binds `listen` and serves `router` until stopped. `knobs` must be the ones the router
    /// uses, so that [`Running::calls`] and the setters reach it.
    pub async fn serve(listen: SocketAddr, router: axum::Router, knobs: Knobs) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Self::serve_on(listener, "http", router, knobs)
    }

    /// Like [`Running::serve`], over TLS with `config` (see [`tls::TestPki::server_config`]).
    pub async fn serve_tls(
        listen: SocketAddr,
        config: Arc<rustls::ServerConfig>,
        router: axum::Router,
        knobs: Knobs,
    ) -> io::Result<Self> {
        let listener = tls::TlsListener::bind(listen, config).await?;
        Self::serve_on(listener, "https", router, knobs)
    }

    fn serve_on<L>(
        listener: L,
        scheme: &'static str,
        router: axum::Router,
        knobs: Knobs,
    ) -> io::Result<Self>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // Either a stop signal or the handle being dropped ends the server.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            addr,
            scheme,
            knobs,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (or `https://localhost:PORT` over TLS, the name the test
    /// certificate carries) followed by `path` (a leading `/` is added when missing).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        if self.scheme == "https" {
            format!("https://localhost:{}{slash}{path}", self.addr.port())
        } else {
            format!("http://{}{slash}{path}", self.addr)
        }
    }

    /// Requests received so far (for tests asserting that no upstream call happened).
    pub fn calls(&self) -> u64 {
        self.knobs.calls()
    }

    /// The server's fault knobs.
    pub fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// Every call from now on answers with `fault` (`None`: no fault).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.knobs.set_fault(fault);
    }

    /// The next `n` calls answer with `fault`, then calls are normal again.
    pub fn fail_next(&self, n: u32, fault: Fault) {
        self.knobs.fail_next(n, fault);
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, latency: Duration) {
        self.knobs.set_latency(latency);
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
