//! Everything that can go wrong in a call to the road-traffic authority, as one enum the
//! gateway can act on: which failures are worth a retry ([`TrafficError::is_transient`]), what
//! each says about the party for the breaker ([`AttemptError`]), and a stable name for each
//! ([`TrafficError::code`]).
//!
//! The authority's `returnCode` values are classified here and only here (see
//! [`RETURN_CODES`]). No variant carries a request or response body or a personal value: the
//! authority's messages are shortened and have long digit runs masked
//! ([`kuzet_ident::short_message`]) before they get here.

use kuzet_shep::ShepError;
use kuzet_transport::{AttemptError, Failure};

use crate::client::ShepIds;
use crate::keys::KeyError;

/// `returnCode` 0: the answer follows.
pub const RETURN_OK: i64 = 0;
/// `returnCode` 1 *(assumption)*: no vehicle (or no person) matches the key.
pub const RETURN_NOT_FOUND: i64 = 1;
/// `returnCode` 2 *(assumption)*: the request is invalid (key, fields of the mark).
pub const RETURN_INVALID_REQUEST: i64 = 2;
/// `returnCode` 3 *(assumption)*: the authority rejects the user mark (unknown contract, the
/// lender is not the owner, a mark already registered for another contract).
pub const RETURN_MARK_REJECTED: i64 = 3;
/// `returnCode` 9 *(assumption)*: the authority's system failed internally; worth a retry for
/// a read.
pub const RETURN_INTERNAL_ERROR: i64 = 9;

/// The authority's return codes this adapter knows, each with what it means and what the
/// adapter does with it. The codes are *assumptions* (no public schema; EXCHANGES.md gives the
/// pension centre's `0 = OK` convention only): check them against the SHEP connection
/// agreement and edit this table and the constants, not the match arms. Any code not listed
/// is [`TrafficError::Refused`], never retried.
pub const RETURN_CODES: &[(i64, &str)] = &[
    (RETURN_OK, "OK: the answer follows"),
    (
        RETURN_NOT_FOUND,
        "no vehicle or person for the key: TrafficError::NotFound (an answer, never retried)",
    ),
    (
        RETURN_INVALID_REQUEST,
        "invalid request: TrafficError::Refused (never retried)",
    ),
    (
        RETURN_MARK_REJECTED,
        "user mark rejected: TrafficError::Refused (never retried)",
    ),
    (
        RETURN_INTERNAL_ERROR,
        "internal error of the authority: TrafficError::AuthorityInternal (retried when safe)",
    ),
];

/// A failed call to the road-traffic authority.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrafficError {
    /// The SHEP exchange failed (transport, signature, SHEP status or fault, malformed
    /// envelope); the authority's own answer was never read.
    #[error("SHEP: {0}")]
    Shep(#[from] ShepError),
    /// The request cannot be sent as it is (an empty name, contract or account number, …);
    /// nobody was called.
    #[error("invalid road-traffic request: {0}")]
    InvalidRequest(String),
    /// The authority has no vehicle (or person) for the key ([`RETURN_NOT_FOUND`]).
    #[error("the road-traffic authority has nothing for this key (return code {RETURN_NOT_FOUND})")]
    NotFound {
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The authority refused the request with another return code ([`RETURN_INVALID_REQUEST`],
    /// [`RETURN_MARK_REJECTED`], or one not listed in [`RETURN_CODES`]).
    #[error("the road-traffic authority refused the request with return code {code}: {message}")]
    Refused {
        /// The authority's `returnCode`.
        code: i64,
        /// The authority's `returnMessage`, shortened, long digit runs masked.
        message: String,
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The authority failed internally ([`RETURN_INTERNAL_ERROR`]); worth a retry for a read.
    #[error("the road-traffic authority failed internally (return code {code})")]
    AuthorityInternal {
        /// The authority's `returnCode`.
        code: i64,
        /// SHEP's ids of the exchange, for the transfer log.
        shep: Box<ShepIds>,
    },
    /// The authority's payload (`responseData/data`) is not what we expect: not well-formed,
    /// absent, a bad date, amount, year or identifier.
    #[error("malformed road-traffic answer: {0}")]
    Malformed(String),
    /// The adapter's configuration cannot be used.
    #[error("road-traffic adapter configuration: {0}")]
    Config(String),
    /// The call's deadline passed.
    #[error("the road-traffic authority did not answer in time")]
    Timeout,
    /// The authority failed too often lately: its circuit breaker is open and it was not
    /// called.
    #[error("the road-traffic authority's circuit breaker is open; it was not called")]
    BreakerOpen,
    /// The authority's rate limit would have let the call through only after its deadline.
    #[error("the road-traffic authority's rate limit is exhausted until after the deadline")]
    RateLimited,
}

impl From<KeyError> for TrafficError {
    fn from(e: KeyError) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

impl TrafficError {
    /// Whether a retry of the same request may succeed: transient SHEP failures
    /// ([`ShepError::is_transient`]), the authority's internal error, and timeouts. Never an
    /// answer about the key or the request, nor a malformed answer. (Whether a retry is
    /// *allowed* is the caller's [`kuzet_transport::Retry`]: never for the user mark.)
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Shep(e) => e.is_transient(),
            Self::AuthorityInternal { .. } | Self::Timeout => true,
            Self::InvalidRequest(_)
            | Self::NotFound { .. }
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
            Self::InvalidRequest(_) => "invalid_request",
            Self::NotFound { .. } => "not_found",
            Self::Refused { .. } => "authority_refused",
            Self::AuthorityInternal { .. } => "authority_internal_error",
            Self::Malformed(_) => "malformed_response",
            Self::Config(_) => "config_error",
            Self::Timeout => "timeout",
            Self::BreakerOpen => "breaker_open",
            Self::RateLimited => "rate_limited",
        }
    }

    /// SHEP's ids of the exchange when the authority answered (with a refusal), for the
    /// transfer log; `None` when no answer of the authority was read.
    pub fn shep_ids(&self) -> Option<&ShepIds> {
        match self {
            Self::NotFound { shep }
            | Self::Refused { shep, .. }
            | Self::AuthorityInternal { shep, .. } => Some(shep),
            _ => None,
        }
    }
}

impl AttemptError for TrafficError {
    /// The authority's refusals about the key or the request (not found included) are the
    /// party working as designed; malformed answers, signature and credential problems are
    /// failures no repeat fixes.
    fn failure(&self) -> Failure {
        match self {
            e if e.is_transient() => Failure::Transient,
            Self::NotFound { .. }
            | Self::Refused { .. }
            | Self::InvalidRequest(_)
            | Self::BreakerOpen
            | Self::RateLimited => Failure::Answered,
            _ => Failure::Broken,
        }
    }

    fn code(&self) -> &'static str {
        TrafficError::code(self)
    }
}
