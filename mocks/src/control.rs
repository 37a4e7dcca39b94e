//! The mock server's control endpoint and call journal, for tests and people driving the mocks
//! from outside (curl, a test runner in another language):
//!
//! - `POST /__mock/faults` with `{"party": "fcb"|"gcvp"|"traffic"|"shep", "fault": "latency"|
//!   "http_500"|"http_503"|"soap_fault"|"malformed_xml"|"truncated"|"reset", "count": N,
//!   "latency_ms": M, "code": "…"}`: the next N calls (default 1) to that party get the fault.
//!   `gcvp` and `traffic` are the registries behind the one SHEP channel, each reached only by
//!   the calls routed to it; `shep` is the channel itself (every registry). `soap_fault` with a
//!   numeric `code` is the party's own error answer with that code (for the bureau,
//!   `CigResultError` code 1111 etc.; for a registry, its payload's `returnCode`); without
//!   one, a SOAP `Server` fault. `reset` drops the connection. → `204`.
//! - `DELETE /__mock/faults`: every party back to no fault and no latency. → `204`.
//! - `GET /__mock/journal` → `{"entries": [{"party", "operation", "at", "records"?}, …]}`: every
//!   call the mock received, in order, failed ones included; `records` is the record count of
//!   an upload. The journal keeps the last [`JOURNAL_CAP`] calls.
//!
//! Parties' handlers name their operation (and an upload's record count, and the party where
//! one path serves several) in the response headers [`OPERATION_HEADER`], [`RECORDS_HEADER`]
//! and [`PARTY_HEADER`]; the journal layer reads and removes them. A call that never produced a response (dropped connection) is journaled with the
//! operation the layer could tell from the request (`SOAPAction`, else the path).
//!
//! The journal never holds request values: no IIN, no name, only what is listed above.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::{Fault, Knobs};

/// Response header in which a handler names the party that answered, where one server path
/// serves several (SHEP); removed by the layer.
pub const PARTY_HEADER: &str = "x-mock-party";
/// Response header in which a handler names the operation it served (removed by the layer).
pub const OPERATION_HEADER: &str = "x-mock-operation";
/// Response header in which an upload handler gives the record count (removed by the layer).
pub const RECORDS_HEADER: &str = "x-mock-records";
/// Calls the journal keeps (the oldest are forgotten first).
pub const JOURNAL_CAP: usize = 100_000;

/// One call a mock received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub party: String,
    pub operation: String,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub records: Option<u64>,
}

/// The calls received by every party of one mock server, in order.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    inner: Arc<Mutex<VecDeque<JournalEntry>>>,
}

impl Journal {
    fn push(&self, entry: JournalEntry) {
        let mut j = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if j.len() == JOURNAL_CAP {
            j.pop_front();
        }
        j.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let j = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        j.iter().cloned().collect()
    }
}

/// The parties a control endpoint can reach, by name, and the shared journal.
#[derive(Debug, Clone, Default)]
pub struct Control {
    parties: Vec<(&'static str, Knobs)>,
    journal: Journal,
}

impl Control {
    /// Adds `party` (`fcb`, `gcvp`, `traffic`, `shep`) with its knobs.
    pub fn with_party(mut self, party: &'static str, knobs: Knobs) -> Self {
        self.parties.push((party, knobs));
        self
    }

    /// The journal the parties' layers write to.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn knobs(&self, party: &str) -> Option<&Knobs> {
        self.parties
            .iter()
            .find(|(p, _)| *p == party)
            .map(|(_, k)| k)
    }

    /// `router` with every call journaled under `party`.
    pub fn journaled(&self, party: &'static str, router: Router) -> Router {
        let journal = self.journal.clone();
        router.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let journal = journal.clone();
                async move { journal_call(journal, party, req, next).await }
            },
        ))
    }

    /// The `/__mock/…` routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/__mock/faults", post(set_fault).delete(clear_faults))
            .route("/__mock/journal", get(journal))
            .with_state(self.clone())
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn journal_call(journal: Journal, party: &'static str, req: Request, next: Next) -> Response {
    let at = now_rfc3339();
    let guessed = req
        .headers()
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(|a| {
            a.trim_matches('"')
                .rsplit('/')
                .next()
                .unwrap_or(a)
                .to_owned()
        })
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let party = headers
        .remove(PARTY_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_else(|| party.to_owned());
    let operation = headers
        .remove(OPERATION_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or(guessed);
    let records = headers
        .remove(RECORDS_HEADER)
        .and_then(|v: HeaderValue| v.to_str().ok().and_then(|s| s.parse().ok()));
    journal.push(JournalEntry {
        party,
        operation,
        at,
        records,
    });
    response
}

/// The body of `POST /__mock/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub party: String,
    pub fault: String,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub code: Option<String>,
}

fn bad(message: String) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(serde_json::json!({"error": {"code": "invalid_value", "message": message}})),
    )
        .into_response()
}

async fn set_fault(
    State(control): State<Control>,
    body: Result<Json<FaultRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return bad(e.body_text()),
    };
    let Some(knobs) = control.knobs(&req.party) else {
        let known: Vec<&str> = control.parties.iter().map(|(p, _)| *p).collect();
        return bad(format!(
            "unknown party {:?}; this server has {}",
            req.party,
            known.join(", ")
        ));
    };
    let count = req.count.unwrap_or(1);
    if count == 0 {
        return bad("count must be at least 1".into());
    }
    let fault = match req.fault.as_str() {
        "latency" => {
            let Some(ms) = req.latency_ms else {
                return bad("fault \"latency\" needs latency_ms".into());
            };
            knobs.delay_next(count, Duration::from_millis(ms));
            return StatusCode::NO_CONTENT.into_response();
        }
        "http_500" => Fault::HttpStatus(500),
        "http_503" => Fault::HttpStatus(503),
        "soap_fault" => match req.code.as_deref() {
            None => Fault::SoapFault,
            Some(code) => match code.trim().parse::<i32>() {
                Ok(c) => Fault::BureauError(c),
                Err(_) => return bad(format!("code {code:?} is not a number")),
            },
        },
        "malformed_xml" => Fault::Malformed,
        "truncated" => Fault::Truncated,
        "reset" => Fault::CloseConnection,
        other => {
            return bad(format!(
                "unknown fault {other:?}; one of latency, http_500, http_503, soap_fault, \
                 malformed_xml, truncated, reset"
            ));
        }
    };
    knobs.fail_next(count, fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(control): State<Control>) -> StatusCode {
    for (_, knobs) in &control.parties {
        knobs.reset();
    }
    StatusCode::NO_CONTENT
}

async fn journal(State(control): State<Control>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"entries": control.journal.entries()}))
}
