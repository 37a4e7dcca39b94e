//! `GET /readyz`: whether this replica should get traffic. Not ready while it shuts down,
//! while the transfer log cannot be used (every transfer would be refused, fail closed), or
//! while a required party's circuit breaker is open or its adapter is missing.
//! `GET /healthz` only says that the process lives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::AppState;

/// How long the log probe may take before the log counts as unavailable.
const LOG_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The readiness state shared with the listener.
#[derive(Debug)]
pub struct Readiness {
    shutting_down: AtomicBool,
    required_parties: Vec<String>,
}

impl Readiness {
    pub fn new(required_parties: Vec<String>) -> Readiness {
        Readiness {
            shutting_down: AtomicBool::new(false),
            required_parties,
        }
    }

    /// From now on `/readyz` says not ready (a graceful shutdown began).
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut ready = true;
    let mut checks = Map::new();
    if state.readiness.is_shutting_down() {
        ready = false;
        checks.insert("shutdown".into(), json!("in_progress"));
    }
    let log = match tokio::time::timeout(LOG_PROBE_TIMEOUT, state.gateway.log().probe()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Readiness: the transfer log is unavailable.");
            "unavailable"
        }
        Err(_) => "unavailable",
    };
    ready &= log == "ok";
    checks.insert("log".into(), json!(log));
    for (party, breaker) in state.gateway.upstreams().breaker_states() {
        let required = state.readiness.required_parties.iter().any(|p| p == party);
        let value = breaker.map_or("not_configured", |b| b.as_str());
        if required && !matches!(value, "closed" | "half_open") {
            ready = false;
        }
        checks.insert(party.into(), json!(value));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": checks,
    });
    (status, Json(body))
}
