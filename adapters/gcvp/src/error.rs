//! Everything that can go wrong in a pension-centre call, as one enum the gateway can act on:
//! which failures are worth a retry ([`GcvpError::is_transient`]), what each says about the
//! party for the breaker ([`AttemptError`]), and a stable name for each ([`GcvpError::code`]).
//!
//! The centre's `returnCode` values are classified here and only here (see [`RETURN_CODES`]).
//! No variant carries a request or response body or a personal value: the centre's messages are
//! shortened and have long digit runs masked ([`kuzet_ident::short_message`]) before they get
//! here.

use kuzet_shep::ShepError;
use kuzet_transport::{AttemptError, Failure};

use crate::client::ShepIds;

/// `returnCode` 0: the answer lists the subject's payments (possibly none).
pub const RETURN_OK: i64 = 0;
/// `returnCode` 1 *(assumption)*: the subject is known but has no contributions in the period;
/// read as "income not confirmed", never as zero income.
pub const RETURN_NO_DATA: i64 = 1;
/// `returnCode` 2 *(assumption)*: the registry holds no subject with this IIN.
pub const RETURN_SUBJECT_NOT_FOUND: i64 = 2;
/// `returnCode` 3 *(assumption)*: the request is invalid (IIN, period).
pub const RETURN_INVALID_REQUEST: i64 = 3;
/// `returnCode` 9 *(assumption)*: the registry failed internally; worth a retry.
pub const RETURN_INTERNAL_ERROR: i64 = 9;

/// The centre's return codes this adapter knows, each with what it means and what the adapter
/// does with it. EXCHANGES.md confirms only `0 = OK`; the rest are *assumptions* to check
/// against the connection agreement (edit this table and the constants, not the match arms).
/// Any code not listed is [`GcvpError::Refused`], never retried.
pub const RETURN_CODES: &[(i64, &str)] = &[
    (
        RETURN_OK,
        "OK: the payments follow (an empty list is no data)",
    ),
    (
        RETURN_NO_DATA,
        "no contributions in the period: an answer with status no_data",
    ),
    (
        RETURN_SUBJECT_NOT_FOUND,
        "no such subject: GcvpError::SubjectNotFound (an answer, never retried)",
    ),
    (
        RETURN_INVALID_REQUEST,
        "invalid request: GcvpError::Refused (never retried)",
    ),
    (
        RETURN_INTERNAL_ERROR,
        "internal error of the registry: GcvpError::RegistryInternal (retried when safe)",
    ),
];

/// A failed pension-centre call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GcvpError {
    /// The SHEP exchange failed (transport, signature, SHEP status or fault, malformed
    /// envelope); the centre's own answer was never read.
    #[error("SHEP: {0}")]
    Shep(#[from] ShepError),
    /// The centre holds no subject with this IIN ([`RETURN_SUBJECT_NOT_FOUND`]).
    #[error(
        "the pension centre has no subject with this IIN (return code {RETURN_SUBJECT_NOT_FOUND})"
    )]
    SubjectNotFound {
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The centre refused the request with a return code other than the known ones.
    #[error("the pension centre refused the request with return code {code}: {message}")]
    Refused {
        /// The centre's `returnCode`.
        code: i64,
        /// The centre's `returnMessage`, shortened, long digit runs masked.
        message: String,
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The centre failed internally ([`RETURN_INTERNAL_ERROR`]); worth a retry.
    #[error("the pension centre failed internally (return code {code})")]
    RegistryInternal {
        /// The centre's `returnCode`.
        code: i64,
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The centre's payload (`responseData/data`) is not what we expect: not well-formed, no
    /// data at all, a payment without period, amount or valid employer BIN, a bad number.
    #[error("malformed pension-centre answer: {0}")]
    Malformed(String),
    /// The adapter's configuration cannot be used.
    #[error("GCVP adapter configuration: {0}")]
    Config(String),
    /// The call's deadline passed.
    #[error("the pension centre did not answer in time")]
    Timeout,
    /// The centre failed too often lately: its circuit breaker is open and it was not called.
    #[error("the pension centre's circuit breaker is open; it was not called")]
    BreakerOpen,
    /// The centre's rate limit would have let the call through only after its deadline.
    #[error("the pension centre's rate limit is exhausted until after the deadline")]
    RateLimited,
}

impl GcvpError {
    /// Whether a retry of the same request may succeed: transient SHEP failures
    /// ([`ShepError::is_transient`]), the registry's internal error, and timeouts. Never an
    /// answer about the subject or the request, nor a malformed answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Shep(e) => e.is_transient(),
            Self::RegistryInternal { .. } | Self::Timeout => true,
            Self::SubjectNotFound { .. }
            | Self::Refused { .. }
            | Self::Malformed(_)
            | Self::Config(_)
            | Self::BreakerOpen
            | Self::RateLimited => false,
        }
    }

    /// A stable snake_case name of the failure, for logs, metrics and the transfer log. SHEP
    /// failures keep SHEP's own names ([`ShepError::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Shep(e) => e.code(),
            Self::SubjectNotFound { .. } => "subject_not_found",
            Self::Refused { .. } => "registry_refused",
            Self::RegistryInternal { .. } => "registry_internal_error",
            Self::Malformed(_) => "malformed_response",
            Self::Config(_) => "config_error",
            Self::Timeout => "timeout",
            Self::BreakerOpen => "breaker_open",
            Self::RateLimited => "rate_limited",
        }
    }

    /// SHEP's ids of the exchange when the centre answered (with a refusal), for the
    /// transfer log; `None` when no answer of the centre was read.
    pub fn shep_ids(&self) -> Option<&ShepIds> {
        match self {
            Self::SubjectNotFound { shep }
            | Self::Refused { shep, .. }
            | Self::RegistryInternal { shep, .. } => Some(shep),
            _ => None,
        }
    }
}

impl AttemptError for GcvpError {
    /// The centre's refusals about the subject or the request are the party working as
    /// designed; malformed answers, signature and credential problems are failures no repeat
    /// fixes.
    fn failure(&self) -> Failure {
        match self {
            e if e.is_transient() => Failure::Transient,
            Self::SubjectNotFound { .. }
            | Self::Refused { .. }
            | Self::BreakerOpen
            | Self::RateLimited => Failure::Answered,
            _ => Failure::Broken,
        }
    }

    fn code(&self) -> &'static str {
        GcvpError::code(self)
    }
}
