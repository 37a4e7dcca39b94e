//! `POST /v1/exchange/{recipient}/{operation}`: one transfer to a party and back.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use uuid::Uuid;

use super::{AppError, AppState, Caller, JsonBody};
use crate::gateway::{ExchangeOutcome, ExchangeRequest};

/// The request body: the envelope is fixed, `data` is checked field by field against the
/// operation's contract.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeBody {
    purpose: String,
    #[serde(default)]
    consent_id: Option<Uuid>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

pub async fn exchange(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((recipient, operation)): Path<(String, String)>,
    JsonBody(body): JsonBody<ExchangeBody>,
) -> Result<Json<ExchangeOutcome>, AppError> {
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
    };
    Ok(Json(state.gateway.exchange(&caller, request).await?))
}
