//! `POST /v1/exchange/{recipient}/{operation}`: one transfer to a party and back.
//!
//! Writes (operations the contract does not mark `safe_to_retry`, such as the traffic
//! authority's user mark) need an `Idempotency-Key` header: the first request with a key runs,
//! and a repeat with the same key and the same body gets the first answer (with
//! `Idempotent-Replayed: true`) without a second call to the party. The same key with another
//! body is `422 idempotency_key_reused`; a repeat while the first still runs (or after the
//! gateway stopped during it) is `409 idempotency_in_progress`: whether the party was called
//! is then in the transfer log, and a new key is the caller's explicit decision. A request
//! refused before anything was sent (bad input, no consent, log unavailable) frees its key.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::registry::Reservation;

use super::limits::RequestId;
use super::{AppError, AppState, Caller, RawBody, parse_json};
use crate::gateway::ExchangeRequest;

/// The request body: the envelope is fixed, `data` is checked field by field against the
/// operation's contract.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExchangeRequest)]
pub struct ExchangeBody {
    /// A purpose key the operation allows (`contract_performance`, …).
    #[schema(example = "contract_performance")]
    purpose: String,
    /// The consent to rely on, where the legal basis is consent; without it, any valid consent
    /// on record for the subject, recipient and purpose is used.
    #[serde(default)]
    consent_id: Option<Uuid>,
    /// The application or contract id, for the transfer log (1 to 128 characters, no control
    /// character; left out when there is none).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, example = "APP-1")]
    reference: Option<String>,
    /// The fields to send, nested (`{"subject": {"iin": …}}`); each operation's document gives
    /// its shape.
    #[serde(default)]
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// `POST /v1/exchange/{recipient}/{operation}`. Documented per operation (one path each, from
/// the contracts) by [`super::openapi`], not by an attribute here.
pub async fn exchange(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((recipient, operation)): Path<(String, String)>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    // The operation before the body: a request to an operation that does not exist is told
    // so (404), whatever it carries.
    if state
        .gateway
        .contracts()
        .operation(&recipient, &operation)
        .is_none()
    {
        return Err(AppError::unknown_operation(format!(
            "no operation {recipient}/{operation} in the contracts"
        )));
    }
    if (recipient.as_str(), operation.as_str())
        == (crate::reporting::RECIPIENT, crate::reporting::OPERATION)
    {
        return Err(AppError::unknown_operation(format!(
            "{recipient}/{operation} is not an exchange of this API: the bureau reporting job \
             sends the loan contracts (`kuzet report run`, or [reporting] schedule in serve)"
        )));
    }
    let body: ExchangeBody = parse_json(&body)?;
    // In its own task: a caller who hangs up, or the request timeout, must not cut the
    // transfer between its OUT and IN entries (or an idempotent write before its answer is
    // stored). A graceful shutdown waits for these tasks.
    let request_id = request_id.map(|Extension(id)| id);
    let transfers = state.transfers.clone();
    transfers
        .spawn(run(
            state, caller, recipient, operation, request_id, headers, body,
        ))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "An exchange task failed.");
            AppError::internal("the exchange failed inside the gateway")
        })?
}

async fn run(
    state: AppState,
    caller: crate::registry::Client,
    recipient: String,
    operation: String,
    request_id: Option<RequestId>,
    headers: HeaderMap,
    body: ExchangeBody,
) -> Result<Response, AppError> {
    let write = state.gateway.is_write(&recipient, &operation);
    let data = match body.data {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        object @ serde_json::Value::Object(_) => object,
        _ => return Err(AppError::invalid_value("data", "must be an object")),
    };
    let request = ExchangeRequest {
        recipient,
        operation,
        purpose: body.purpose,
        consent_id: body.consent_id,
        reference: body.reference,
        data,
        request_id: request_id.map(|id| id.as_str().to_owned()),
        about: None,
    };
    let key = if write {
        // The role and purpose first: a caller without the right is told so, key or not.
        state.gateway.admit(&caller, &request).await?;
        Some(idempotency_key(&headers)?)
    } else {
        None
    };
    let Some(key) = key else {
        return Ok(Json(state.gateway.exchange(&caller, request).await?).into_response());
    };
    let digest = request_digest(&request);
    let registry = state.gateway.registry();
    match registry.reserve_idempotency_key(
        &caller.name,
        &key,
        &digest,
        OffsetDateTime::now_utc(),
    )? {
        Reservation::Begun => {}
        Reservation::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        Reservation::InProgress => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is running or did not finish; the \
                 transfer log says whether the party was called",
            ));
        }
        Reservation::Mismatch => {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            ));
        }
    }
    let result = state.gateway.exchange(&caller, request).await;
    let stored = match &result {
        Ok(outcome) => serde_json::to_vec(outcome)
            .map(|body| (StatusCode::OK, body))
            .map_err(|e| e.to_string()),
        Err(e) if e.sent => Ok((e.status, e.body_json())),
        Err(_) => {
            if let Err(e) = registry.release_idempotency_key(&caller.name, &key) {
                tracing::warn!(error = %e, "An idempotency key could not be released.");
            }
            return result.map(|o| Json(o).into_response());
        }
    };
    match stored {
        Ok((status, body)) => {
            if let Err(e) = registry.finish_idempotency_key(
                &caller.name,
                &key,
                status.as_u16(),
                &body,
                OffsetDateTime::now_utc(),
            ) {
                // The write happened; a repeat now finds the key running (409), never a
                // second call.
                tracing::warn!(error = %e, "An idempotent write's answer could not be stored.");
            }
        }
        Err(e) => tracing::warn!(error = %e, "An idempotent write's answer cannot be stored."),
    }
    result.map(|o| Json(o).into_response())
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "this operation is a write: send an Idempotency-Key header (a unique id per intended \
             write, reused only to repeat the same request)",
        ));
    };
    // Two keys name two writes, or one by two names: which the caller meant is not ours to pick.
    if headers.get_all("idempotency-key").iter().nth(1).is_some() {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "more than one Idempotency-Key header: send exactly one",
        ));
    }
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

/// What makes two requests "the same" for an idempotency key: the operation and the body's
/// members, as parsed (member order included).
fn request_digest(r: &ExchangeRequest) -> [u8; 32] {
    let canonical = serde_json::json!({
        "recipient": r.recipient,
        "operation": r.operation,
        "purpose": r.purpose,
        "consent_id": r.consent_id,
        "reference": r.reference,
        "data": r.data,
    });
    Sha256::digest(canonical.to_string().as_bytes()).into()
}
