//! The HTTP transport every adapter uses to reach its party: one [`reqwest::Client`] per party,
//! built on rustls with the ring provider, a configurable trust store and optional client
//! certificate, connect and request timeouts, and the caller's deadline.
//!
//! It knows nothing of SOAP, contracts or the transfer log: it moves bytes and classifies
//! failures ([`TransportError`]) so that each adapter can decide what a failure means.
//! It never offers a way to skip certificate checks.
//!
//! [`guard`] is the per-party policy around whole adapter calls: rate limit, concurrency cap,
//! retries for safe operations, retry budget and circuit breaker.

#![forbid(unsafe_code)]

pub mod guard;

pub use guard::{
    AttemptError, BreakerState, Failure, Guard, GuardConfig, GuardError, GuardStats,
    LATENCY_BUCKETS_MS, LatencyHistogram, Retry,
};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How to reach one party over HTTP(S).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed to establish the TCP and TLS connection, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time allowed for one request, from sending to the last byte of the answer, in
    /// milliseconds. A caller's earlier deadline wins.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// PEM file of the CA certificates trusted for this party; without it, the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store_pem: Option<PathBuf>,
    /// PEM file with this gateway's client certificate chain, for mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_pem: Option<PathBuf>,
    /// PEM file with the private key of `client_cert_pem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_pem: Option<PathBuf>,
    /// The most idle connections kept open to this party.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle: usize,
}

fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_request_timeout_ms() -> u64 {
    15_000
}
fn default_pool_max_idle() -> usize {
    64
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: default_connect_timeout_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            trust_store_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            pool_max_idle: default_pool_max_idle(),
        }
    }
}

/// A failure to move bytes to or from a party. Never carries a request or response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configuration cannot be used (unreadable PEM, bad key).
    #[error("transport configuration: {0}")]
    Config(String),
    /// No connection could be made (refused, DNS, TLS handshake).
    #[error("cannot connect to the party: {0}")]
    Connect(String),
    /// The request or the caller's deadline ran out.
    #[error("the party did not answer in time")]
    Timeout,
    /// The connection broke while sending or receiving.
    #[error("the connection failed: {0}")]
    Io(String),
}

impl TransportError {
    /// Whether a retry of a safe operation may succeed (connect errors and timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::Timeout | Self::Io(_))
    }
}

/// An HTTP answer: status and body, whatever the status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// One party's HTTP client.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    request_timeout: Duration,
}

/// Installs ring as the process's rustls provider. Idempotent; call it at the top of `main`
/// and in test helpers.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_pem(path: &PathBuf) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path)
        .map_err(|e| TransportError::Config(format!("cannot read {}: {e}", path.display())))
}

impl Transport {
    /// Builds the client for one party.
    pub fn new(config: &HttpConfig) -> Result<Self, TransportError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};

        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .pool_max_idle_per_host(config.pool_max_idle)
            .tcp_nodelay(true);

        if config.trust_store_pem.is_some() || config.client_cert_pem.is_some() {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(path) = &config.trust_store_pem {
                let pem = read_pem(path)?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        TransportError::Config(format!("bad PEM in {}: {e}", path.display()))
                    })?;
                    roots.add(cert).map_err(|e| {
                        TransportError::Config(format!("bad CA in {}: {e}", path.display()))
                    })?;
                }
                if roots.is_empty() {
                    return Err(TransportError::Config(format!(
                        "{} holds no certificate",
                        path.display()
                    )));
                }
            }
            let tls = rustls::ClientConfig::builder().with_root_certificates(roots);
            let mut tls = match (&config.client_cert_pem, &config.client_key_pem) {
                (Some(cert_path), Some(key_path)) => {
                    let pem = read_pem(cert_path)?;
                    let chain = CertificateDer::pem_slice_iter(&pem)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| TransportError::Config(format!("bad client cert: {e}")))?;
                    let key = PrivateKeyDer::from_pem_slice(&read_pem(key_path)?)
                        .map_err(|e| TransportError::Config(format!("bad client key: {e}")))?;
                    tls.with_client_auth_cert(chain, key)
                        .map_err(|e| TransportError::Config(format!("client certificate: {e}")))?
                }
                (None, None) => tls.with_no_client_auth(),
                _ => {
                    return Err(TransportError::Config(
                        "client_cert_pem and client_key_pem go together".into(),
                    ));
                }
            };
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder = builder.tls_backend_preconfigured(tls);
        }

        let client = builder
            .build()
            .map_err(|e| TransportError::Config(e.to_string()))?;
        Ok(Self {
            client,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
        })
    }

    /// POSTs `body` to `url` with the given headers, within the request timeout and the
    /// caller's `deadline`, whichever comes first.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        deadline: Option<Instant>,
    ) -> Result<Response, TransportError> {
        let mut timeout = self.request_timeout;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout);
            }
            timeout = timeout.min(left);
        }
        let mut request = self.client.post(url).timeout(timeout).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(classify)?;
        Ok(Response { status, body })
    }
}

fn classify(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(root_cause(&e))
    } else {
        TransportError::Io(root_cause(&e))
    }
}

/// The innermost error message: reqwest's own message carries the URL, which is configuration,
/// but never the body.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
