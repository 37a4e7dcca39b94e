//! `POST /v1/consents` and `DELETE /v1/consents/{id}`: the consent ledger over HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppError, AppState, Caller, JsonBody};
use crate::gateway::NewConsent;
use crate::registry::Channel;

/// The request body of `POST /v1/consents`: a consent the client gave (policy 4.1, consent
/// information).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The client's IIN (12 digits with a valid check digit). Read as any JSON value, so that
    /// one given as a number is `invalid_iin`, as in an exchange, not a type error.
    #[schema(value_type = String, pattern = "^[0-9]{12}$", example = "870525301012")]
    subject_iin: serde_json::Value,
    /// Recipient keys the consent covers (`fcb`, `gcvp`, `traffic`).
    #[schema(min_items = 1, example = json!(["fcb"]))]
    recipients: Vec<String>,
    /// Purpose keys the consent covers (`contract_performance`, …).
    #[schema(min_items = 1, example = json!(["contract_performance"]))]
    purposes: Vec<String>,
    /// When the client gave it (RFC 3339); not in the future.
    #[serde(with = "time::serde::rfc3339")]
    granted_at: OffsetDateTime,
    channel: Channel,
    /// A reference to the proof (an OTP session, a signed form): 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256, example = "otp:000111")]
    evidence: String,
    /// When it lapses (RFC 3339), later than `granted_at`; none: until withdrawn.
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
}

/// The answer of `POST /v1/consents`.
#[derive(Serialize, ToSchema)]
pub struct ConsentCreated {
    /// The consent's id: name it in exchanges, or withdraw it with `DELETE /v1/consents/{id}`.
    pub consent_id: Uuid,
}

impl TryFrom<ConsentRequest> for NewConsent {
    type Error = AppError;

    fn try_from(req: ConsentRequest) -> Result<Self, AppError> {
        let serde_json::Value::String(subject_iin) = req.subject_iin else {
            return Err(AppError::invalid_iin(
                "subject_iin",
                "must be a string of 12 digits",
            ));
        };
        Ok(NewConsent {
            subject_iin,
            recipients: req.recipients,
            purposes: req.purposes,
            granted_at: req.granted_at,
            channel: req.channel,
            evidence: req.evidence,
            expires_at: req.expires_at,
        })
    }
}

#[utoipa::path(
    post,
    path = "/v1/consents",
    tag = "consents",
    operation_id = "record_consent",
    summary = "Record a consent",
    description = "Roles `underwriting`, `servicing`, `admin`.",
    request_body = ConsentRequest,
    responses((status = 201, description = "Recorded.", body = ConsentCreated)),
    security(("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<ConsentRequest>,
) -> Result<(StatusCode, Json<ConsentCreated>), AppError> {
    let consent_id = state.gateway.record_consent(&caller, req.try_into()?)?;
    Ok((StatusCode::CREATED, Json(ConsentCreated { consent_id })))
}

#[utoipa::path(
    delete,
    path = "/v1/consents/{id}",
    tag = "consents",
    operation_id = "withdraw_consent",
    summary = "Withdraw a consent",
    description = "Roles `underwriting`, `servicing`, `admin`. The record stays as evidence; \
                   withdrawing twice is not an error.",
    params(("id" = Uuid, Path, description = "The consent's id.")),
    responses((status = 204, description = "Withdrawn.")),
    security(("bearer" = [])),
)]
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
