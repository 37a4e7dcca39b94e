//! The one place where errors become HTTP responses.
//!
//! Every refusal the gateway gives has a stable `code` (DESIGN.md, "Errors") that callers and
//! scripts match on; the `message` is for people and never contains personal values; the
//! internal cause is written to tracing only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer: `{"error": {"code", "message", "fields"?}}`.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Field paths the error is about (never their values).
    pub fields: Vec<String>,
    /// The party was called before this error (not part of the answer): an idempotent
    /// write keeps this outcome for repeats.
    pub sent: bool,
    /// Seconds after which a retry may succeed (`Retry-After`), for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

/// The answer body of every refusal.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(super) struct Inner<'a> {
    /// The stable code (the operation's answers list which codes it gives, with each status).
    code: &'a str,
    /// For people; never contains personal values.
    message: &'a str,
    /// The field paths (or parameter names) the error is about, never their values.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fields: &'a [String],
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            sent: false,
            retry_after: None,
        }
    }

    /// 429 `rate_limited`: the client made more requests than its rate allows.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this client; retry after {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 503 `overloaded`: the gateway serves as many requests as it is configured to.
    pub fn overloaded() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the gateway is serving as many requests as it may; retry shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// 504 `request_timeout`: the request took longer than `server.request_timeout_ms`.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request_timeout",
            "the request took too long; a transfer under way still finishes and is logged",
        )
    }

    /// Marks the error as happening after the party was called.
    pub fn sent(mut self) -> Self {
        self.sent = true;
        self
    }

    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden_role(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden_role", message)
    }

    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_operation", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    pub fn invalid_iin(path: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_iin",
            format!("{path} is not a valid IIN: {reason}"),
        )
        .with_fields(vec![path.to_owned()])
    }

    pub fn invalid_value(path: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("{path}: {message}"),
        )
        .with_fields(vec![path.to_owned()])
    }

    pub fn unknown_field(fields: Vec<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            format!("unknown field(s): {}", fields.join(", ")),
        )
        .with_fields(fields)
    }

    pub fn log_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "log_unavailable",
            "the transfer log cannot be written; nothing was sent",
        )
    }

    /// The log cannot be read (a search, a transfer, a verification): the same stable code as
    /// a failed write, a message that does not claim anything was refused.
    pub fn log_unreadable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "log_unavailable",
            "the transfer log cannot be read",
        )
    }

    /// No entry of the log has this transfer id. Its own code, like `consent_not_found`, so
    /// that a script can tell it from a mistyped path (`not_found`).
    pub fn transfer_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "transfer_not_found",
            "the transfer log has no entry with this transfer_id",
        )
        .with_fields(vec!["transfer_id".to_owned()])
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl AppError {
    /// The JSON answer body (what [`IntoResponse`] sends).
    pub fn body_json(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        // Strings and a list of strings always serialise.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<crate::registry::RegistryError> for AppError {
    fn from(e: crate::registry::RegistryError) -> Self {
        tracing::error!(error = %e, "Registry failed.");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "registry_unavailable",
            "the client and consent registry cannot be read",
        )
    }
}

/// Field paths in errors are the caller's own keys, and a careless caller may use a personal value as a
/// key (`{"870525301012": …}`). A segment that does not look like a field name is shown as
/// `<?>` in errors and in the log, so a value never travels there.
pub fn safe_paths(paths: &[String]) -> Vec<String> {
    fn looks_like_a_name(segment: &str) -> bool {
        let mut chars = segment.chars();
        segment.len() <= 64
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }
    let mut out: Vec<String> = paths
        .iter()
        .map(|p| {
            p.split('.')
                .map(|s| if looks_like_a_name(s) { s } else { "<?>" })
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    out.dedup();
    out
}
