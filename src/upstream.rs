//! The parties behind the gateway: which adapter serves which contract operation, and what an
//! adapter's failure means to the API.
//!
//! Adapters speak typed requests and records; this module turns the already-checked request
//! data into an adapter request and the adapter's typed record into JSON for the contract
//! filter. It never decides what may be sent or kept: that is the contract's job, done before
//! and after it.

use std::time::Instant;

use axum::http::StatusCode;
use kuzet_fcb::{FcbClient, FcbError, ReportRequest};
use kuzet_gcvp::{GcvpClient, GcvpError, IncomeRequest};
use kuzet_ident::Iin;
use kuzet_traffic::{
    Plate, TrafficClient, TrafficError, UserMarkField, UserMarkRequest, VehicleRequest, Vin,
};
use kuzet_transport::{Retry, TransportError};
use serde_json::Value;

use crate::contract::Operation;
use crate::metrics::Party;

/// The adapters, one per party. A party behind SHEP is `None` when no SHEP signer is
/// configured.
pub struct Upstreams {
    fcb: FcbClient,
    gcvp: Option<GcvpClient>,
    traffic: Option<TrafficClient>,
}

/// A call ready to go, built from checked data, with the contract's word on repeating it.
#[derive(Debug)]
pub struct Call {
    kind: CallKind,
    retry: Retry,
}

#[derive(Debug)]
enum CallKind {
    FcbCreditReport(ReportRequest),
    GcvpIncome(IncomeRequest),
    TrafficVehicle(VehicleRequest),
    TrafficUserMark(UserMarkRequest),
}

/// A party's answer, as JSON for the contract filter, with the party's own ids for the log.
#[derive(Debug)]
pub struct UpstreamAnswer {
    pub record: Value,
    pub upstream_ids: Vec<(String, String)>,
}

/// A failed call, sorted for the API and the log.
#[derive(Debug)]
pub struct UpstreamFailure {
    /// The HTTP status the caller gets.
    pub status: StatusCode,
    /// The API's stable error code (`upstream_error`, `upstream_timeout`, …).
    pub api_code: &'static str,
    /// The adapter's own code for the log's outcome (`subject_not_found`, `soap_fault`, …).
    pub code: &'static str,
    /// A message for the caller, without personal values.
    pub message: String,
    /// The internal cause, for tracing only.
    pub detail: String,
    pub upstream_ids: Vec<(String, String)>,
}

/// Why a contract operation cannot be called.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "operation {recipient}/{operation} is declared in the contracts but has no adapter yet"
    )]
    NoAdapter {
        recipient: String,
        operation: String,
    },
    #[error("the request lacks {0}")]
    Missing(&'static str),
    #[error("{path}: {reason}")]
    Invalid { path: &'static str, reason: String },
    #[error("{party} is not configured on this gateway (no SHEP signer); nothing was sent")]
    NotConfigured { party: &'static str },
}

impl Upstreams {
    pub fn new(fcb: FcbClient, gcvp: Option<GcvpClient>, traffic: Option<TrafficClient>) -> Self {
        Self { fcb, gcvp, traffic }
    }

    /// Builds the adapter request for `op` from its checked `data`. The call may be retried
    /// (transient failures only) when the contract marks the operation `safe_to_retry`.
    pub fn prepare(&self, op: &Operation, data: &Value) -> Result<Call, PrepareError> {
        let retry = if op.safe_to_retry {
            Retry::Safe
        } else {
            Retry::Never
        };
        let subject_iin = || {
            data.pointer("/subject/iin")
                .and_then(Value::as_str)
                .and_then(|s| Iin::parse(s).ok())
                .ok_or(PrepareError::Missing("subject.iin"))
        };
        let kind = match (op.recipient.as_str(), op.name.as_str()) {
            ("fcb", "credit-report") => CallKind::FcbCreditReport(ReportRequest {
                iin: subject_iin()?,
                consent_confirmed: false,
            }),
            ("gcvp", "income") => {
                if self.gcvp.is_none() {
                    return Err(PrepareError::NotConfigured {
                        party: "the pension centre",
                    });
                }
                CallKind::GcvpIncome(IncomeRequest {
                    iin: subject_iin()?,
                })
            }
            ("traffic", operation @ ("vehicle" | "user-mark")) => {
                if self.traffic.is_none() {
                    return Err(PrepareError::NotConfigured {
                        party: "the road-traffic authority",
                    });
                }
                if operation == "vehicle" {
                    CallKind::TrafficVehicle(vehicle_key(data)?)
                } else {
                    CallKind::TrafficUserMark(user_mark(data)?)
                }
            }
            (recipient, operation) => {
                return Err(PrepareError::NoAdapter {
                    recipient: recipient.to_owned(),
                    operation: operation.to_owned(),
                });
            }
        };
        Ok(Call { kind, retry })
    }

    /// Each party's circuit breaker: `(party, state)`, `None` when its adapter is not
    /// configured (no SHEP signer).
    pub fn breaker_states(&self) -> [(&'static str, Option<kuzet_transport::BreakerState>); 3] {
        [
            ("fcb", Some(self.fcb.breaker_state())),
            ("gcvp", self.gcvp.as_ref().map(GcvpClient::breaker_state)),
            (
                "traffic",
                self.traffic.as_ref().map(TrafficClient::breaker_state),
            ),
        ]
    }

    /// The bureau adapter (its guard's state and counters, for health and metrics).
    pub fn fcb(&self) -> &FcbClient {
        &self.fcb
    }

    /// Each configured party's guard (counters and breaker state), for the metrics.
    pub fn parties(&self) -> Vec<Party> {
        let fcb = self.fcb.clone();
        let mut out = vec![Party::new("fcb", move || {
            (fcb.guard_stats(), fcb.breaker_state())
        })];
        if let Some(gcvp) = self.gcvp.clone() {
            out.push(Party::new("gcvp", move || {
                (gcvp.guard_stats(), gcvp.breaker_state())
            }));
        }
        if let Some(traffic) = self.traffic.clone() {
            out.push(Party::new("traffic", move || {
                (traffic.guard_stats(), traffic.breaker_state())
            }));
        }
        out
    }

    /// Makes the call within `deadline`. `consent_confirmed` is true only when the gateway
    /// found a stored consent record covering this transfer.
    /// `request_id` is the API request's id: the SHEP `correlationId` of reads when it is a
    /// UUID (a user mark keeps an id of its own, which is also its payload's request id).
    /// Another caller-chosen id is not sent: it would carry the caller's text to the party
    /// past the contract's send list; the read then gets a fresh UUID.
    pub async fn call(
        &self,
        call: Call,
        consent_confirmed: bool,
        request_id: Option<&str>,
        deadline: Instant,
    ) -> Result<UpstreamAnswer, UpstreamFailure> {
        let request_id = request_id.filter(|id| uuid::Uuid::try_parse(id).is_ok());
        match call.kind {
            CallKind::FcbCreditReport(mut req) => {
                req.consent_confirmed = consent_confirmed;
                let answer = self
                    .fcb
                    .credit_report(&req, Some(deadline), call.retry)
                    .await
                    .map_err(fcb_failure)?;
                let record = serde_json::to_value(&answer.report).map_err(|e| UpstreamFailure {
                    status: StatusCode::BAD_GATEWAY,
                    api_code: "upstream_error",
                    code: "unrepresentable_record",
                    message: "the bureau's report could not be represented".into(),
                    detail: e.to_string(),
                    upstream_ids: Vec::new(),
                })?;
                let mut upstream_ids = Vec::new();
                if let Some(reference) = answer.reference_id {
                    upstream_ids.push(("bureau_reference".to_owned(), reference));
                }
                Ok(UpstreamAnswer {
                    record,
                    upstream_ids,
                })
            }
            CallKind::GcvpIncome(req) => {
                // `prepare` refuses the call when the party is not configured.
                let Some(gcvp) = &self.gcvp else {
                    return Err(not_configured("the pension centre"));
                };
                let answer = gcvp
                    .income_correlated(&req, request_id, Some(deadline), call.retry)
                    .await
                    .map_err(gcvp_failure)?;
                let record = serde_json::json!({ "income": answer.income });
                let ids = &answer.shep;
                Ok(UpstreamAnswer {
                    record,
                    upstream_ids: shep_ids!(ids),
                })
            }
            CallKind::TrafficVehicle(req) => {
                let Some(traffic) = &self.traffic else {
                    return Err(not_configured("the road-traffic authority"));
                };
                let answer = traffic
                    .vehicle_correlated(&req, request_id, Some(deadline), call.retry)
                    .await
                    .map_err(traffic_failure)?;
                let ids = &answer.shep;
                Ok(UpstreamAnswer {
                    record: serde_json::json!({ "vehicle_status": answer.vehicle_status }),
                    upstream_ids: shep_ids!(ids),
                })
            }
            CallKind::TrafficUserMark(req) => {
                let Some(traffic) = &self.traffic else {
                    return Err(not_configured("the road-traffic authority"));
                };
                // A write: the client never retries it, whatever `call.retry` says.
                let answer = traffic
                    .user_mark(&req, Some(deadline))
                    .await
                    .map_err(traffic_failure)?;
                let ids = &answer.shep;
                Ok(UpstreamAnswer {
                    record: serde_json::json!({ "user_mark": answer.user_mark }),
                    upstream_ids: shep_ids!(ids),
                })
            }
        }
    }
}

/// The vehicle lookup's key: exactly one of `subject.iin`, `vehicle.vin`, `vehicle.plate`.
fn vehicle_key(data: &Value) -> Result<VehicleRequest, PrepareError> {
    let text = |pointer: &str| data.pointer(pointer).and_then(Value::as_str);
    let given = [
        ("subject.iin", text("/subject/iin")),
        ("vehicle.vin", text("/vehicle/vin")),
        ("vehicle.plate", text("/vehicle/plate")),
    ];
    let mut present = given.iter().filter(|(_, v)| v.is_some());
    let (Some((path, Some(value))), None) = (present.next(), present.next()) else {
        return Err(PrepareError::Invalid {
            path: "data",
            reason: "give exactly one of subject.iin, vehicle.vin, vehicle.plate".into(),
        });
    };
    let invalid = |reason: String| PrepareError::Invalid { path, reason };
    Ok(match *path {
        "subject.iin" => VehicleRequest::ByIin(
            Iin::parse(value).map_err(|_| PrepareError::Missing("subject.iin"))?,
        ),
        "vehicle.vin" => {
            VehicleRequest::ByVin(Vin::parse(value).map_err(|e| invalid(e.to_string()))?)
        }
        _ => VehicleRequest::ByPlate(Plate::parse(value).map_err(|e| invalid(e.to_string()))?),
    })
}

/// The user mark: the user's IIN and full name, the contract and advance account numbers.
fn user_mark(data: &Value) -> Result<UserMarkRequest, PrepareError> {
    let text = |pointer: &str, path: &'static str| {
        data.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or(PrepareError::Missing(path))
    };
    let iin = text("/user/iin", "user.iin")?;
    let request = UserMarkRequest {
        user_iin: Iin::parse(&iin).map_err(|_| PrepareError::Missing("user.iin"))?,
        user_full_name: text("/user/full_name", "user.full_name")?,
        contract_number: text("/contract/number", "contract.number")?,
        advance_account_number: text(
            "/contract/advance_account_number",
            "contract.advance_account_number",
        )?,
    };
    // What the adapter would refuse is refused here, before the OUT entry says it was sent.
    request.check().map_err(|e| PrepareError::Invalid {
        path: match e.field {
            UserMarkField::FullName => "user.full_name",
            UserMarkField::ContractNumber => "contract.number",
            UserMarkField::AdvanceAccountNumber => "contract.advance_account_number",
        },
        reason: e.problem.to_string(),
    })?;
    Ok(request)
}

/// A party behind SHEP without a configured signer.
fn not_configured(party: &str) -> UpstreamFailure {
    UpstreamFailure {
        status: StatusCode::SERVICE_UNAVAILABLE,
        api_code: "upstream_unavailable",
        code: "not_configured",
        message: format!("{party} is not configured on this gateway (no SHEP signer)"),
        detail: "shep_signer is not set".into(),
        upstream_ids: Vec::new(),
    }
}

/// SHEP's ids of an exchange (any adapter's `ShepIds`), as the transfer log's upstream ids:
/// what the counterparty can trace.
macro_rules! shep_ids {
    ($ids:expr) => {{
        let ids = $ids;
        let mut out = vec![
            ("shep_message_id".to_owned(), ids.message_id.clone()),
            ("shep_service_id".to_owned(), ids.service_id.clone()),
        ];
        for (name, value) in [
            ("shep_response_message_id", &ids.response_message_id),
            ("shep_correlation_id", &ids.correlation_id),
            ("shep_session_id", &ids.session_id),
        ] {
            if let Some(v) = value {
                out.push((name.to_owned(), v.clone()));
            }
        }
        out
    }};
}
use shep_ids;

/// What a failed call means to the caller, whichever party: each adapter's errors are sorted
/// into these, and [`failure`] turns them into the API's status and code.
#[derive(Clone, Copy)]
enum FailureKind {
    /// The party has nothing for this subject or key: 404 `subject_not_found`.
    NotFound,
    /// The party refused the request: 502 `upstream_rejected`.
    Rejected,
    /// The party's breaker is open: 503 `upstream_unavailable`.
    BreakerOpen,
    /// The party's rate limit would outlast the deadline: 429 `rate_limited`.
    RateLimited,
    /// No answer in time: 504 `upstream_timeout`.
    Timeout,
    /// No connection: 503 `upstream_unavailable`.
    Unreachable,
    /// Anything else (faults, malformed answers): 502 `upstream_error`.
    Unusable,
}

/// The API's answer for a failure of `party` ("the bureau", …) classified as `kind`.
fn failure(
    party: &str,
    kind: FailureKind,
    code: &'static str,
    detail: String,
    upstream_ids: Vec<(String, String)>,
) -> UpstreamFailure {
    let (status, api_code, message) = match kind {
        FailureKind::NotFound => (
            StatusCode::NOT_FOUND,
            "subject_not_found",
            format!("{party} has nothing for this subject"),
        ),
        FailureKind::Rejected => (
            StatusCode::BAD_GATEWAY,
            "upstream_rejected",
            format!("{party} refused the request ({code})"),
        ),
        FailureKind::BreakerOpen => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            format!("{party} failed too often lately; calls are paused (circuit open)"),
        ),
        FailureKind::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{party}: the rate limit is exhausted; try again later"),
        ),
        FailureKind::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!("{party} did not answer in time"),
        ),
        FailureKind::Unreachable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            format!("{party} cannot be reached"),
        ),
        FailureKind::Unusable => (
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("{party}'s answer was unusable ({code})"),
        ),
    };
    UpstreamFailure {
        status,
        api_code,
        code,
        message,
        detail,
        upstream_ids,
    }
}

/// A SHEP failure's kind (the same for every registry behind SHEP).
fn shep_kind(e: &kuzet_shep::ShepError) -> FailureKind {
    use kuzet_shep::ShepError;
    match e {
        ShepError::Timeout | ShepError::Transport(TransportError::Timeout) => FailureKind::Timeout,
        ShepError::Transport(TransportError::Connect(_)) => FailureKind::Unreachable,
        _ => FailureKind::Unusable,
    }
}

fn gcvp_failure(e: GcvpError) -> UpstreamFailure {
    let kind = match &e {
        GcvpError::SubjectNotFound { .. } => FailureKind::NotFound,
        GcvpError::Refused { .. } => FailureKind::Rejected,
        GcvpError::BreakerOpen => FailureKind::BreakerOpen,
        GcvpError::RateLimited => FailureKind::RateLimited,
        GcvpError::Timeout => FailureKind::Timeout,
        GcvpError::Shep(s) => shep_kind(s),
        _ => FailureKind::Unusable,
    };
    let ids = e.shep_ids().map(|ids| shep_ids!(ids)).unwrap_or_default();
    failure("the pension centre", kind, e.code(), e.to_string(), ids)
}

fn traffic_failure(e: TrafficError) -> UpstreamFailure {
    let kind = match &e {
        TrafficError::NotFound { .. } => FailureKind::NotFound,
        TrafficError::Refused { .. } | TrafficError::InvalidRequest(_) => FailureKind::Rejected,
        TrafficError::BreakerOpen => FailureKind::BreakerOpen,
        TrafficError::RateLimited => FailureKind::RateLimited,
        TrafficError::Timeout => FailureKind::Timeout,
        TrafficError::Shep(s) => shep_kind(s),
        _ => FailureKind::Unusable,
    };
    let ids = e.shep_ids().map(|ids| shep_ids!(ids)).unwrap_or_default();
    failure(
        "the road-traffic authority",
        kind,
        e.code(),
        e.to_string(),
        ids,
    )
}

fn fcb_failure(e: FcbError) -> UpstreamFailure {
    let kind = match &e {
        FcbError::SubjectNotFound => FailureKind::NotFound,
        FcbError::SeveralSubjects
        | FcbError::ConsentRequired
        | FcbError::Unauthorized { .. }
        | FcbError::Bureau { .. } => FailureKind::Rejected,
        FcbError::BreakerOpen => FailureKind::BreakerOpen,
        FcbError::RateLimited => FailureKind::RateLimited,
        FcbError::Timeout | FcbError::Transport(TransportError::Timeout) => FailureKind::Timeout,
        FcbError::Transport(TransportError::Connect(_)) => FailureKind::Unreachable,
        _ => FailureKind::Unusable,
    };
    failure("the bureau", kind, e.code(), e.to_string(), Vec::new())
}
