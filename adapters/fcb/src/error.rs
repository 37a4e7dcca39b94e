//! Everything that can go wrong in a bureau call, as one enum the gateway can act on: which
//! failures are worth a retry ([`FcbError::is_transient`]) and a stable name for each
//! ([`FcbError::code`]) for logs, metrics and the transfer log.
//!
//! No variant carries a request or response body or a personal value: bureau and SOAP fault
//! messages are shortened and have identifier-like numbers masked before they get here.

use kuzet_transport::{AttemptError, Failure, TransportError};

/// A failed bureau call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FcbError {
    /// The request carried no confirmed consent; the bureau was not called.
    #[error("no confirmed consent for this subject; the bureau was not called")]
    ConsentRequired,
    /// The bureau has no subject with this IIN (code 1102).
    #[error("the bureau has no subject with this IIN (1102)")]
    SubjectNotFound,
    /// The bureau found several subjects for this IIN (code 1112).
    #[error("the bureau found several subjects for this IIN (1112)")]
    SeveralSubjects,
    /// The bureau refused the request with another code (`CigResultError/Errmessage@code`).
    #[error("the bureau refused the request with code {code}: {message}")]
    Bureau {
        /// The bureau's error code (1101 generic, 1105 report code, 1106 rights, …).
        code: i32,
        /// The bureau's message, shortened, identifier-like numbers masked.
        message: String,
    },
    /// The bureau failed internally (code 1111); worth a retry.
    #[error("the bureau failed internally (1111)")]
    BureauInternal,
    /// The bureau rejected our login (1104) or password or address (1110).
    #[error("the bureau rejected the gateway's credentials ({code})")]
    Unauthorized {
        /// 1104 or 1110.
        code: i32,
    },
    /// A SOAP fault (`S:Body/S:Fault`).
    #[error("SOAP fault {code}: {message}")]
    SoapFault {
        /// `faultcode`, e.g. `S:Server`.
        code: String,
        /// `faultstring`, shortened, identifier-like numbers masked.
        message: String,
    },
    /// A non-success HTTP status without a SOAP fault in the body.
    #[error("the bureau answered HTTP {status}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
    },
    /// The answer is not the XML we expect: not well-formed, truncated, or of another shape.
    #[error("malformed bureau answer: {0}")]
    Malformed(String),
    /// The bytes did not get there or back.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The call's deadline passed.
    #[error("the bureau did not answer in time")]
    Timeout,
    /// The adapter's configuration cannot be used.
    #[error("FCB adapter configuration: {0}")]
    Config(String),
    /// The bureau failed too often lately: its circuit breaker is open and it was not called.
    #[error("the bureau's circuit breaker is open; it was not called")]
    BreakerOpen,
    /// The bureau's rate limit would have let the call through only after its deadline.
    #[error("the bureau's rate limit is exhausted until after the deadline")]
    RateLimited,
    /// The contracts to upload cannot make a valid file (an empty or oversized batch, a
    /// missing repayment date, an empty contract code, …); the bureau was not called. The
    /// message names the record by position and the problem, never a value.
    #[error("the upload cannot be built: {0}")]
    InvalidUpload(String),
}

impl FcbError {
    /// Whether a retry of the same request may succeed: the bureau's internal error (1111),
    /// connect failures and timeouts, HTTP 502/503/504, and SOAP faults of the server kind.
    /// Never a refusal about the subject or the request (1102, 1112, 1104, …).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::BureauInternal | Self::Timeout => true,
            Self::Transport(e) => e.is_transient(),
            Self::HttpStatus { status } => matches!(status, 502..=504),
            Self::SoapFault { code, .. } => is_server_fault(code),
            Self::ConsentRequired
            | Self::SubjectNotFound
            | Self::SeveralSubjects
            | Self::Bureau { .. }
            | Self::Unauthorized { .. }
            | Self::Malformed(_)
            | Self::Config(_)
            | Self::BreakerOpen
            | Self::RateLimited
            | Self::InvalidUpload(_) => false,
        }
    }

    /// A stable snake_case name of the failure, for logs, metrics and the transfer log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ConsentRequired => "consent_required",
            Self::SubjectNotFound => "subject_not_found",
            Self::SeveralSubjects => "several_subjects",
            Self::Bureau { .. } => "bureau_error",
            Self::BureauInternal => "bureau_internal_error",
            Self::Unauthorized { .. } => "unauthorized",
            Self::SoapFault { .. } => "soap_fault",
            Self::HttpStatus { .. } => "http_status",
            Self::Malformed(_) => "malformed_response",
            Self::Transport(TransportError::Timeout) | Self::Timeout => "timeout",
            Self::Transport(TransportError::Config(_)) | Self::Config(_) => "config_error",
            Self::Transport(_) => "connection_failed",
            Self::BreakerOpen => "breaker_open",
            Self::RateLimited => "rate_limited",
            Self::InvalidUpload(_) => "invalid_upload",
        }
    }
}

impl AttemptError for FcbError {
    /// Refusals about the subject or the request are the bureau working as designed; malformed
    /// answers, refused credentials and client faults are failures no repeat fixes.
    fn failure(&self) -> Failure {
        match self {
            e if e.is_transient() => Failure::Transient,
            Self::SubjectNotFound
            | Self::SeveralSubjects
            | Self::Bureau { .. }
            | Self::ConsentRequired
            | Self::InvalidUpload(_)
            | Self::BreakerOpen
            | Self::RateLimited => Failure::Answered,
            _ => Failure::Broken,
        }
    }

    fn code(&self) -> &'static str {
        FcbError::code(self)
    }
}

/// SOAP 1.1 `Server` (and SOAP 1.2 `Receiver`) faults, with any prefix or dotted subcode,
/// are the other side's problem and may pass; `Client` faults are ours and will not.
fn is_server_fault(code: &str) -> bool {
    let local = code.rsplit(':').next().unwrap_or(code);
    let head = local.split('.').next().unwrap_or(local);
    head.eq_ignore_ascii_case("Server") || head.eq_ignore_ascii_case("Receiver")
}
