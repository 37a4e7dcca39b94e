//! `POST /v1/applicants/check`: the credit history, the income and the vehicle status of an
//! applicant in one call. The three parts run concurrently, each as its own transfer (its own
//! contract checks, consent, OUT and IN entries and transfer id), under the one request
//! deadline; the answer gives each part's own status, so one party failing still returns the
//! others (partial results).
//!
//! The body: `{"purpose", "consent_id"?, "reference"?, "data": {"subject": {"iin"},
//! "vehicle"?: {"vin"} | {"plate"}}}`. The vehicle is looked up by the key given, else by the
//! subject's IIN. Answer: `200 {"parts": {"credit_report": PART, "income": PART, "vehicle":
//! PART}}` where a part is `{"status": 200, "transfer_id", "data", "dropped"}` or
//! `{"status": 4xx/5xx, "error": {"code", "message", "fields"?}}`. A bad IIN or a vehicle key
//! the vehicle part refuses is one error for the whole check, before any party is asked.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::limits::RequestId;
use super::{AppError, AppState, Caller, JsonBody};
use crate::gateway::ExchangeRequest;

/// The request body (the envelope is fixed; `data` is checked here and then by each part's
/// contract).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicantCheckRequest)]
pub struct CheckBody {
    /// A purpose key every part allows (`contract_performance`).
    #[schema(example = "contract_performance")]
    purpose: String,
    /// The consent to rely on for the parts whose legal basis is consent; without it, any
    /// valid consent on record for the subject, recipient and purpose.
    #[serde(default)]
    consent_id: Option<Uuid>,
    /// The application id, for the transfer log (1 to 128 characters, no control character;
    /// left out when there is none).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, example = "APP-1")]
    reference: Option<String>,
    /// Checked by each part's contract (a field the vocabulary knows but a part may not send
    /// is that part's `field_not_allowed`, like any exchange).
    #[serde(default)]
    #[schema(value_type = super::openapi::ApplicantData)]
    data: Value,
}

#[utoipa::path(
    post,
    path = "/v1/applicants/check",
    tag = "exchange",
    operation_id = "check_applicant",
    summary = "Credit history, income and vehicle of an applicant in one call",
    description = "Role `underwriting`. The three parts run concurrently under one deadline, \
                   each its own transfer with its own contract checks, consent, log entries and \
                   `transfer_id`; each part has its own `status`, so one party failing still \
                   returns the others. The vehicle is looked up by the key given, else by the \
                   subject's IIN.",
    request_body = CheckBody,
    responses((status = 200, description = "Every part's outcome (the parts' own statuses \
                                             inside).")),
    security(("bearer" = [])),
)]
pub async fn check(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request_id: Option<Extension<RequestId>>,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, AppError> {
    let request_id = request_id.map(|Extension(id)| id.as_str().to_owned());
    let Value::Object(mut data) = body.data else {
        return Err(AppError::invalid_value("data", "must be an object"));
    };
    // One bad or missing IIN is one clear error, not three.
    let iin = match data.get("subject").and_then(|s| s.get("iin")) {
        Some(Value::String(iin)) => iin.clone(),
        Some(_) => {
            return Err(AppError::invalid_iin(
                "subject.iin",
                "must be a string of 12 digits",
            ));
        }
        None => return Err(AppError::invalid_value("subject.iin", "is required")),
    };
    let applicant =
        kuzet_ident::Iin::parse(&iin).map_err(|e| AppError::invalid_iin("subject.iin", e))?;
    // A vehicle given by VIN or plate is looked up by that key alone; its entries are still
    // about the applicant (their access request lists the lookup), though the IIN is not sent.
    let (vehicle_data, vehicle_about) = match data.remove("vehicle") {
        None => (json!({"subject": {"iin": iin}}), None),
        Some(Value::Object(v)) if v.is_empty() => {
            return Err(AppError::invalid_value(
                "vehicle",
                "give its vin or its plate, or leave vehicle out to look it up by the \
                 applicant's IIN",
            ));
        }
        Some(v @ Value::Object(_)) => (json!({ "vehicle": v }), Some(applicant)),
        Some(_) => return Err(AppError::invalid_value("vehicle", "must be an object")),
    };
    // The credit report and the income get the rest of `data` as it came.
    let subject = Value::Object(data);
    let part = |recipient: &str, operation: &str, data: Value| ExchangeRequest {
        recipient: recipient.to_owned(),
        operation: operation.to_owned(),
        purpose: body.purpose.clone(),
        consent_id: body.consent_id,
        reference: body.reference.clone(),
        data,
        request_id: request_id.clone(),
        about: None,
    };
    let parts = [
        part("fcb", "credit-report", subject.clone()),
        part("gcvp", "income", subject),
        ExchangeRequest {
            about: vehicle_about,
            ..part("traffic", "vehicle", vehicle_data)
        },
    ];
    // A vehicle key the vehicle part would refuse (a mistyped VIN, an unknown member) is the
    // whole check's answer, as a bad IIN is: run anyway, the other parts would make a bureau
    // inquiry, recorded in the applicant's credit history, that the corrected request makes
    // again. That part runs first and alone, so that its refusal is logged as any is.
    let vehicle_first = state.gateway.refuses_the_data(&parts[2]);
    // In a tracked task of its own, like every exchange: a caller hanging up never cuts a
    // transfer in two.
    let gateway = state.gateway.clone();
    let answers = state
        .transfers
        .spawn(async move {
            let [credit, income, vehicle] = parts;
            if vehicle_first {
                match gateway.exchange(&caller, vehicle).await {
                    Err(e) if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                        return Err(e);
                    }
                    // Refused for another reason (the caller's role): the others still run.
                    vehicle => {
                        let (credit, income) = tokio::join!(
                            gateway.exchange(&caller, credit),
                            gateway.exchange(&caller, income),
                        );
                        return Ok((credit, income, vehicle));
                    }
                }
            }
            Ok(tokio::join!(
                gateway.exchange(&caller, credit),
                gateway.exchange(&caller, income),
                gateway.exchange(&caller, vehicle),
            ))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "An applicant check task failed.");
            AppError::internal("the check failed inside the gateway")
        })?;
    let (credit, income, vehicle) = answers?;
    let render = |r: Result<crate::gateway::ExchangeOutcome, AppError>| match r {
        Ok(outcome) => {
            let mut v = serde_json::to_value(&outcome).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), json!(200));
            }
            v
        }
        Err(e) => {
            let body: Value = serde_json::from_slice(&e.body_json()).unwrap_or(Value::Null);
            let mut v = json!({"status": e.status.as_u16()});
            if let (Value::Object(m), Value::Object(b)) = (&mut v, body) {
                m.extend(b);
            }
            v
        }
    };
    Ok(Json(json!({
        "parts": {
            "credit_report": render(credit),
            "income": render(income),
            "vehicle": render(vehicle),
        }
    })))
}
