//! The HTTP JSON API (axum): authentication, request parsing, and the routes of DESIGN.md.
//!
//! Handlers are thin: they authenticate, parse and hand over to [`crate::gateway`], which owns
//! the transfer pipeline. This module never talks to a party and never writes the log itself.

mod applicants;
pub mod audit;
mod audit_page;
mod consents;
mod error;
mod exchange;
pub mod limits;
mod objects_only;
pub mod openapi;
mod readiness;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::DeserializeOwned;

pub use consents::ConsentRequest;
pub use error::{AppError, safe_paths};

use crate::gateway::Gateway;
use crate::registry::Client;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub body_limit_bytes: usize,
    /// The data directory: the auditors' verification re-reads the log file in it.
    pub data_dir: PathBuf,
    /// The concurrency cap, the request timeout and the per-client rate limit.
    pub limits: Arc<limits::Limits>,
    /// Transfers under way. Each runs in its own task, so that a caller who goes away (or a
    /// request timeout) never cuts a transfer between its OUT and IN entries; a graceful
    /// shutdown waits for them.
    pub transfers: tokio_util::task::TaskTracker,
    /// What `GET /readyz` checks.
    pub readiness: Arc<readiness::Readiness>,
    /// Client certificates: whether callers must (or may) present one naming their client.
    pub client_auth: crate::config::ClientAuth,
}

pub use readiness::Readiness;

/// The router with every route of the API.
pub fn router(state: AppState) -> Router {
    let limit = state.body_limit_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readiness::readyz))
        .route("/metrics", get(metrics))
        .route("/v1/consents", post(consents::create))
        .route("/v1/consents/{id}", delete(consents::revoke))
        .route(
            "/v1/exchange/{recipient}/{operation}",
            post(exchange::exchange),
        )
        .route("/v1/applicants/check", post(applicants::check))
        .route("/v1/transfers", get(audit::search))
        .route("/v1/transfers/{transfer_id}", get(audit::transfer))
        .route("/v1/log/verify", get(audit::verify))
        .route(
            "/openapi.json",
            get(openapi::handler(state.gateway.contracts())),
        )
        .merge(audit_page::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            limits::inbound,
        ))
        // Outermost, so that every answer is counted, the inbound limits' refusals (503
        // overloaded, 504 request_timeout) and the fallback's 404 included; a layer on the
        // router runs after routing, so it sees the matched route template.
        .layer(axum::middleware::from_fn_with_state(
            state.gateway.metrics().clone(),
            crate::metrics::track_http,
        ))
        .with_state(state)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "Liveness",
    description = "The process is up. Unauthenticated.",
    responses((status = 200, description = "Up.", body = openapi::Health)),
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /metrics`: Prometheus' scrape, without authentication (scrapers send no token, and no
/// label or value carries personal data).
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.gateway.metrics().encode(),
    )
}

async fn fallback() -> AppError {
    AppError::not_found("no such route")
}

/// A route that exists, asked with a method it does not take: the API's error shape too.
async fn method_not_allowed(method: axum::http::Method) -> AppError {
    AppError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this route does not take {method}"),
    )
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme's name is
/// case-insensitive (RFC 9110, 11.1), so `bearer TOKEN` is the same.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The authenticated caller: the client whose bearer token came with the request.
pub struct Caller(pub Client);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let mut headers = parts
            .headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter();
        let header = headers
            .next()
            .ok_or_else(|| AppError::unauthenticated("missing Authorization: Bearer token"))?;
        if headers.next().is_some() {
            // Which one counts would depend on who reads the request (this gateway, a proxy
            // in front): none does.
            return Err(AppError::unauthenticated(
                "more than one Authorization header",
            ));
        }
        let token = header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
            AppError::unauthenticated("the Authorization header is not a Bearer token")
        })?;
        let client = match state.gateway.registry().client_by_token(token)? {
            Some(client) => client,
            None => return Err(AppError::unauthenticated("unknown or revoked token")),
        };
        check_client_certificate(parts, state.client_auth, &client)?;
        state.limits.admit_client(&client)?;
        Ok(Caller(client))
    }
}

/// With client certificates on, the certificate of the TLS connection (already verified
/// against `server.tls.client_ca_pem` in the handshake) must name the token's client: its
/// subject's common name is the client's name. So a stolen token alone is not enough.
fn check_client_certificate(
    parts: &Parts,
    auth: crate::config::ClientAuth,
    client: &Client,
) -> Result<(), AppError> {
    use crate::config::ClientAuth;
    if auth == ClientAuth::None {
        return Ok(());
    }
    let leaf = parts
        .extensions
        .get::<Arc<axum_server::tls::TlsInfo>>()
        .and_then(|info| info.peer_certificates.first().cloned());
    let Some(der) = leaf else {
        return match auth {
            ClientAuth::Required => Err(AppError::unauthenticated(
                "a client certificate is required with the token",
            )),
            _ => Ok(()),
        };
    };
    let names = certificate_common_names(&der);
    if names.iter().any(|n| n == &client.name) {
        Ok(())
    } else {
        tracing::warn!(client = %client.name, "Client certificate does not name the token's client.");
        Err(AppError::unauthenticated(
            "the client certificate does not name this token's client",
        ))
    }
}

/// The subject common names of a DER certificate (none when it cannot be parsed).
fn certificate_common_names(der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A JSON body, with the API's own errors: 413 `body_too_large`, 400 `malformed_request` for
/// broken JSON, 422 `unknown_field` for an unknown member, 422 `invalid_value` for a wrong type.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A body's bytes, to be parsed with [`parse_json`] once the handler has checked what comes
/// first, with the API's own errors: 413 `body_too_large`, 400 `malformed_request`.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::body_too_large(state.body_limit_bytes)
                } else {
                    AppError::malformed(rejection.body_text())
                }
            })
    }
}

/// Parses a JSON body, sorting serde's complaints into the API's error codes. A struct is read
/// from a JSON object only, never from an array of its fields ([`objects_only`]). A body that
/// is not valid JSON is `malformed_request` even where a wrong type comes before the break.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(objects_only::ObjectsOnly(&mut *de)) {
        Ok(v) => de.end().map(|()| v).map_err(|_| {
            AppError::malformed("the body is not valid JSON: more follows the JSON value")
        }),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = inner.to_string();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(AppError::malformed(
                    format!("the body is not valid JSON: {message}"),
                )),
                Category::Data => {
                    if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                        return Err(AppError::malformed(format!(
                            "the body is not valid JSON: {syntax}"
                        )));
                    }
                    if let Some(name) = unknown_member(&message) {
                        // serde_path_to_error's path already ends with the unknown member.
                        let field = if path == "." || path.is_empty() {
                            name
                        } else {
                            path
                        };
                        Err(AppError::unknown_field(safe_paths(&[field])))
                    } else if let Some(name) = duplicate_member(&message) {
                        // Named by its own path (serde_path_to_error ends it with `?` when
                        // the refusal came while reading the name, with the object when a
                        // derived struct refused), through `safe_paths`: a member name may be
                        // a value (an IIN used as a key).
                        let parent = path.strip_suffix('?').unwrap_or(&path);
                        let field = match parent.trim_end_matches('.') {
                            "" => name,
                            parent => format!("{parent}.{name}"),
                        };
                        let field = safe_paths(&[field]).pop().unwrap_or_default();
                        Err(AppError::invalid_value(
                            &field,
                            "is given twice: a member may appear once in an object",
                        ))
                    } else if let Some(name) = missing_member(&message) {
                        // Named by its own path, not by the object that lacks it.
                        let field = match path.as_str() {
                            "." | "" => name,
                            parent => format!("{parent}.{name}"),
                        };
                        Err(AppError::invalid_value(&field, "is required"))
                    } else {
                        Err(AppError::invalid_value(&path, strip_values(&message)))
                    }
                }
            }
        }
    }
}

/// serde's (and `ObjectsOnly`'s) "duplicate field `x` at line …" → `x`.
fn duplicate_member(message: &str) -> Option<String> {
    let rest = message.strip_prefix("duplicate field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// serde's "missing field `x` at line …" → `x`.
fn missing_member(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// serde's "unknown field `x`, expected one of …" → `x`.
fn unknown_member(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// serde quotes the offending value in "invalid type: string \"…\", expected …"; keep only the
/// expectation so a personal value never comes back in an error message. A Rust integer type
/// in the expectation (`expected i64`) is said in words.
fn strip_values(message: &str) -> String {
    match message.find(", expected") {
        Some(i) => {
            let kind = message[..i]
                .split([':', '`'])
                .next()
                .unwrap_or("invalid value")
                .trim();
            let expected = &message[i + ", expected ".len()..];
            let (what, rest) =
                expected.split_at(expected.find(" at line").unwrap_or(expected.len()));
            let what = match what {
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, not negative",
                other => other,
            };
            format!("{kind}, expected {what}{rest}")
        }
        None => message
            .split(" at line")
            .next()
            .unwrap_or(message)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_values;

    #[test]
    fn a_type_complaint_keeps_the_expectation_in_words_and_never_the_value() {
        for (serde, ours) in [
            (
                "invalid type: floating point `150000000.5`, expected i64 at line 1 column 208",
                "invalid type, expected a whole number at line 1 column 208",
            ),
            (
                "invalid value: integer `-870525`, expected u32",
                "invalid value, expected a whole number, not negative",
            ),
            (
                "invalid type: string \"870525301012\", expected a boolean at line 3 column 9",
                "invalid type, expected a boolean at line 3 column 9",
            ),
            (
                "premature end of input at line 1 column 4",
                "premature end of input",
            ),
        ] {
            assert_eq!(strip_values(serde), ours);
        }
    }
}
