//! `POST /v1/consents` and `DELETE /v1/consents/{id}`: the consent ledger over HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AppError, AppState, Caller, JsonBody};
use crate::gateway::NewConsent;
use crate::registry::Channel;

/// The request body of `POST /v1/consents`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    subject_iin: String,
    recipients: Vec<String>,
    purposes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    granted_at: OffsetDateTime,
    channel: Channel,
    evidence: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
}

impl From<ConsentRequest> for NewConsent {
    fn from(req: ConsentRequest) -> Self {
        NewConsent {
            subject_iin: req.subject_iin,
            recipients: req.recipients,
            purposes: req.purposes,
            granted_at: req.granted_at,
            channel: req.channel,
            evidence: req.evidence,
            expires_at: req.expires_at,
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<ConsentRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let consent_id = state.gateway.record_consent(&caller, req.into())?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "consent_id": consent_id })),
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| AppError::invalid_value("consent_id", "not a UUID"))?;
    state.gateway.revoke_consent(&caller, id)?;
    Ok(StatusCode::NO_CONTENT)
}
