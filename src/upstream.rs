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
use kuzet_traffic::{Plate, TrafficClient, TrafficError, UserMarkRequest, VehicleRequest, Vin};
use kuzet_transport::{Retry, TransportError};
use serde_json::Value;

use crate::contract::Operation;

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

    /// The bureau adapter (its guard's state and counters, for health and metrics).
    pub fn fcb(&self) -> &FcbClient {
        &self.fcb
    }

    /// Makes the call within `deadline`. `consent_confirmed` is true only when the gateway
    /// found a stored consent record covering this transfer.
    pub async fn call(
        &self,
        call: Call,
        consent_confirmed: bool,
        deadline: Instant,
    ) -> Result<UpstreamAnswer, UpstreamFailure> {
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
                    .income(&req, Some(deadline), call.retry)
                    .await
                    .map_err(gcvp_failure)?;
                let record = serde_json::json!({ "income": answer.income });
                let ids = &answer.shep;
                Ok(UpstreamAnswer {
                    record,
                    upstream_ids: shep_ids(
                        &ids.message_id,
                        &ids.service_id,
                        [
                            &ids.response_message_id,
                            &ids.correlation_id,
                            &ids.session_id,
                        ],
                    ),
                })
            }
            CallKind::TrafficVehicle(req) => {
                let Some(traffic) = &self.traffic else {
                    return Err(not_configured("the road-traffic authority"));
                };
                let answer = traffic
                    .vehicle(&req, Some(deadline), call.retry)
                    .await
                    .map_err(traffic_failure)?;
                let ids = &answer.shep;
                Ok(UpstreamAnswer {
                    record: serde_json::json!({ "vehicle_status": answer.vehicle_status }),
                    upstream_ids: shep_ids(
                        &ids.message_id,
                        &ids.service_id,
                        [
                            &ids.response_message_id,
                            &ids.correlation_id,
                            &ids.session_id,
                        ],
                    ),
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
                    upstream_ids: shep_ids(
                        &ids.message_id,
                        &ids.service_id,
                        [
                            &ids.response_message_id,
                            &ids.correlation_id,
                            &ids.session_id,
                        ],
                    ),
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
    Ok(UserMarkRequest {
        user_iin: Iin::parse(&iin).map_err(|_| PrepareError::Missing("user.iin"))?,
        user_full_name: text("/user/full_name", "user.full_name")?,
        contract_number: text("/contract/number", "contract.number")?,
        advance_account_number: text(
            "/contract/advance_account_number",
            "contract.advance_account_number",
        )?,
    })
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

/// SHEP's ids of an exchange, as the transfer log's upstream ids: what the counterparty can
/// trace. `optional` are the response message, correlation and session ids.
fn shep_ids(
    message_id: &str,
    service_id: &str,
    optional: [&Option<String>; 3],
) -> Vec<(String, String)> {
    let mut out = vec![
        ("shep_message_id".to_owned(), message_id.to_owned()),
        ("shep_service_id".to_owned(), service_id.to_owned()),
    ];
    let names = [
        "shep_response_message_id",
        "shep_correlation_id",
        "shep_session_id",
    ];
    for (name, value) in names.into_iter().zip(optional) {
        if let Some(v) = value {
            out.push((name.to_owned(), v.clone()));
        }
    }
    out
}

/// What each pension-centre failure means to the caller.
fn gcvp_failure(e: GcvpError) -> UpstreamFailure {
    use kuzet_shep::ShepError;
    let (status, api_code, message) = match &e {
        GcvpError::SubjectNotFound { .. } => (
            StatusCode::NOT_FOUND,
            "subject_not_found",
            "the pension centre has no subject with this IIN".to_owned(),
        ),
        GcvpError::Refused { .. } => (
            StatusCode::BAD_GATEWAY,
            "upstream_rejected",
            format!("the pension centre refused the request ({})", e.code()),
        ),
        GcvpError::BreakerOpen => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the pension centre failed too often lately; calls are paused (circuit open)"
                .to_owned(),
        ),
        GcvpError::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the pension centre's rate limit is exhausted; try again later".to_owned(),
        ),
        GcvpError::Timeout | GcvpError::Shep(ShepError::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the pension centre did not answer in time".to_owned(),
        ),
        GcvpError::Shep(ShepError::Transport(TransportError::Connect(_))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the e-government gateway cannot be reached".to_owned(),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the pension centre's answer was unusable ({})", e.code()),
        ),
    };
    UpstreamFailure {
        status,
        api_code,
        code: e.code(),
        message,
        detail: e.to_string(),
        upstream_ids: e
            .shep_ids()
            .map(|ids| {
                shep_ids(
                    &ids.message_id,
                    &ids.service_id,
                    [
                        &ids.response_message_id,
                        &ids.correlation_id,
                        &ids.session_id,
                    ],
                )
            })
            .unwrap_or_default(),
    }
}

/// What each road-traffic failure means to the caller.
fn traffic_failure(e: TrafficError) -> UpstreamFailure {
    use kuzet_shep::ShepError;
    let (status, api_code, message) = match &e {
        TrafficError::NotFound { .. } => (
            StatusCode::NOT_FOUND,
            "subject_not_found",
            "the road-traffic authority has nothing for this key".to_owned(),
        ),
        TrafficError::Refused { .. } | TrafficError::InvalidRequest(_) => (
            StatusCode::BAD_GATEWAY,
            "upstream_rejected",
            format!(
                "the road-traffic authority refused the request ({})",
                e.code()
            ),
        ),
        TrafficError::BreakerOpen => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the road-traffic authority failed too often lately; calls are paused (circuit open)"
                .to_owned(),
        ),
        TrafficError::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the road-traffic authority's rate limit is exhausted; try again later".to_owned(),
        ),
        TrafficError::Timeout | TrafficError::Shep(ShepError::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the road-traffic authority did not answer in time".to_owned(),
        ),
        TrafficError::Shep(ShepError::Transport(TransportError::Connect(_))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the e-government gateway cannot be reached".to_owned(),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!(
                "the road-traffic authority's answer was unusable ({})",
                e.code()
            ),
        ),
    };
    UpstreamFailure {
        status,
        api_code,
        code: e.code(),
        message,
        detail: e.to_string(),
        upstream_ids: e
            .shep_ids()
            .map(|ids| {
                shep_ids(
                    &ids.message_id,
                    &ids.service_id,
                    [
                        &ids.response_message_id,
                        &ids.correlation_id,
                        &ids.session_id,
                    ],
                )
            })
            .unwrap_or_default(),
    }
}

/// What each bureau failure means to the caller.
fn fcb_failure(e: FcbError) -> UpstreamFailure {
    let (status, api_code, message) = match &e {
        FcbError::SubjectNotFound => (
            StatusCode::NOT_FOUND,
            "subject_not_found",
            "the bureau has no credit history for this subject".to_owned(),
        ),
        FcbError::SeveralSubjects => (
            StatusCode::BAD_GATEWAY,
            "upstream_rejected",
            "the bureau found several subjects for this identifier".to_owned(),
        ),
        FcbError::ConsentRequired | FcbError::Unauthorized { .. } | FcbError::Bureau { .. } => (
            StatusCode::BAD_GATEWAY,
            "upstream_rejected",
            format!("the bureau refused the request ({})", e.code()),
        ),
        FcbError::BreakerOpen => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the bureau failed too often lately; calls are paused (circuit open)".to_owned(),
        ),
        FcbError::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the bureau's rate limit is exhausted; try again later".to_owned(),
        ),
        FcbError::Timeout | FcbError::Transport(TransportError::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the bureau did not answer in time".to_owned(),
        ),
        FcbError::Transport(TransportError::Connect(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the bureau cannot be reached".to_owned(),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the bureau's answer was unusable ({})", e.code()),
        ),
    };
    UpstreamFailure {
        status,
        api_code,
        code: e.code(),
        message,
        detail: e.to_string(),
        upstream_ids: Vec::new(),
    }
}
