//! What every request goes through before its handler: a request id (on every log line of the
//! request, in the answer's `X-Request-Id`, in the transfer log and to the party), the cap on
//! concurrent requests (`503 overloaded`) and the request timeout (`504 request_timeout`).
//! The per-client rate limit is applied where the client is known, in [`super::Caller`].
//!
//! Nothing here reads a body or logs a header value other than the request id.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::AppError;

/// The request's id: the caller's `X-Request-Id` when it is a plain token (at most 64 of
/// `A-Z a-z 0-9 - _ .`), else a new UUID v7. It names the request in the process's log lines,
/// is recorded in the transfer log's entries (`request_id`) and is the SHEP `correlationId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

/// An IIN's (or a BIN's) length: a caller's request id with this many digits in a row is not
/// kept, since it may be one.
const IIN_DIGITS: usize = 12;

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_header(value: Option<&HeaderValue>) -> RequestId {
        let given = value
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                    // It goes on every log line: twelve digits in a row may be an IIN.
                    && !v
                        .as_bytes()
                        .windows(IIN_DIGITS)
                        .any(|w| w.iter().all(u8::is_ascii_digit))
            });
        match given {
            Some(v) => RequestId(v.into()),
            None => RequestId(uuid::Uuid::now_v7().hyphenated().to_string().into()),
        }
    }
}

/// The inbound limits, built once from the configuration.
pub struct Limits {
    slots: Arc<Semaphore>,
    timeout: Duration,
    clients: Option<DefaultKeyedRateLimiter<String>>,
}

impl Limits {
    pub fn new(config: &crate::config::ServerConfig) -> Limits {
        let clients = NonZeroU32::new(config.client_rate_per_second).map(|rate| {
            let burst = NonZeroU32::new(config.client_rate_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Limits {
            slots: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            timeout: Duration::from_millis(config.request_timeout_ms),
            clients,
        }
    }

    /// Takes one request of `client` from its bucket, or says when to come back.
    pub fn admit_client(&self, client: &crate::registry::Client) -> Result<(), AppError> {
        let Some(limiter) = &self.clients else {
            return Ok(());
        };
        // The map holds one small state per client name (clients are few and known), so it
        // needs no pruning; the name is borrowed, nothing is allocated per request.
        match limiter.check_key(&client.name) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(AppError::rate_limited(wait.as_secs() + 1))
            }
        }
    }
}

/// Probes, scrapes and the (static) API description are never shed: an overloaded gateway
/// must still say so.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The middleware: request id and span, concurrency cap, timeout.
pub async fn inbound(State(limits): State<Arc<Limits>>, mut req: Request, next: Next) -> Response {
    let id = RequestId::from_header(req.headers().get("x-request-id"));
    let route = req.extensions().get::<MatchedPath>();
    let probe = route.is_some_and(|p| is_probe(p.as_str()));
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %req.method(),
        route = route.map_or("unmatched", MatchedPath::as_str),
    );
    req.extensions_mut().insert(id.clone());
    let mut response = async move {
        let _slot = if probe {
            None
        } else {
            match limits.slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => {
                    tracing::warn!("Request shed: the concurrency cap is reached.");
                    return AppError::overloaded().into_response();
                }
            }
        };
        match tokio::time::timeout(limits.timeout, next.run(req)).await {
            Ok(response) => {
                tracing::debug!(status = response.status().as_u16(), "Request served.");
                response
            }
            Err(_) => {
                tracing::warn!("Request timed out.");
                AppError::request_timeout().into_response()
            }
        }
    }
    .instrument(span)
    .await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_id_is_kept_and_anything_else_replaced() {
        let kept = RequestId::from_header(Some(&HeaderValue::from_static("job-42.a_b")));
        assert_eq!(kept.as_str(), "job-42.a_b");
        // Digits are fine, short of an IIN's twelve in a row.
        let kept = RequestId::from_header(Some(&HeaderValue::from_static("app-87052530101-x")));
        assert_eq!(kept.as_str(), "app-87052530101-x");
        for bad in [
            "",
            "has space",
            "slash/not-allowed",
            &"x".repeat(65),
            "870525301012",
            "app-870525301012",
            "job.9999999999999",
        ] {
            let v = HeaderValue::from_str(bad).expect("header");
            let id = RequestId::from_header(Some(&v));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 36, "a UUID: {id:?}");
        }
        assert_eq!(RequestId::from_header(None).as_str().len(), 36);
    }

    /// A router with the middleware in front of a handler that never finishes (or one that
    /// answers at once).
    fn stuck_router(config: &crate::config::ServerConfig) -> axum::Router {
        use axum::routing::get;
        axum::Router::new()
            .route("/stuck", get(std::future::pending::<&'static str>))
            .route("/fast", get(|| async { "ok" }))
            .route("/healthz", get(std::future::pending::<&'static str>))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Limits::new(config)),
                inbound,
            ))
    }

    async fn call(router: &axum::Router, path: &str) -> Response {
        use tower::ServiceExt;
        let req = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("request");
        router.clone().oneshot(req).await.expect("infallible")
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_over_its_time_is_answered_504_and_named_by_its_id() {
        let config = crate::config::ServerConfig {
            request_deadline_ms: 100,
            request_timeout_ms: 250,
            ..Default::default()
        };
        let router = stuck_router(&config);
        let response = call(&router, "/stuck").await;
        assert_eq!(response.status().as_u16(), 504);
        assert!(response.headers().contains_key("x-request-id"));
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "request_timeout");
        assert_eq!(call(&router, "/fast").await.status().as_u16(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_over_the_cap_are_shed_but_probes_are_not() {
        let config = crate::config::ServerConfig {
            max_concurrent_requests: 1,
            request_timeout_ms: 60_000,
            ..Default::default()
        };
        let router = stuck_router(&config);
        let held = tokio::spawn({
            let router = router.clone();
            async move { call(&router, "/stuck").await }
        });
        // Let the first request take the one slot.
        tokio::task::yield_now().await;
        let shed = call(&router, "/fast").await;
        assert_eq!(shed.status().as_u16(), 503);
        assert_eq!(
            shed.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let body = axum::body::to_bytes(shed.into_body(), 4096)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "overloaded");
        // A probe is not counted: it reaches its handler (which here never answers, so it
        // ends by the timeout, not by the cap).
        let probe = call(&router, "/healthz").await;
        assert_eq!(probe.status().as_u16(), 504);
        held.abort();
    }

    #[test]
    fn a_client_over_its_rate_is_told_when_to_come_back() {
        let config = crate::config::ServerConfig {
            client_rate_per_second: 1,
            client_rate_burst: 2,
            ..Default::default()
        };
        let limits = Limits::new(&config);
        let client = |name: &str| crate::registry::Client {
            name: name.to_owned(),
            role: crate::contract::Role::Auditor,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            revoked_at: None,
        };
        let (a, b) = (client("a"), client("b"));
        assert!(limits.admit_client(&a).is_ok());
        assert!(limits.admit_client(&a).is_ok());
        let refused = limits.admit_client(&a).expect_err("third within a second");
        assert_eq!(refused.code, "rate_limited");
        assert_eq!(refused.status.as_u16(), 429);
        assert!(refused.retry_after.is_some_and(|s| (1..=2).contains(&s)));
        // Another client has its own bucket.
        assert!(limits.admit_client(&b).is_ok());
    }
}
