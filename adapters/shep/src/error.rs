//! Everything that can go wrong in a SHEP call, as one enum the gateway and the service adapters
//! can act on: which failures are worth a retry ([`ShepError::is_transient`]) and a stable name
//! for each ([`ShepError::code`]) for logs, metrics and the transfer log.
//!
//! No variant carries a request or response body or a personal value: SHEP status and fault
//! messages are shortened and have long digit runs masked ([`short_message`]) before they get
//! here, and a fault's `errorData` (free content) is never kept.

use kuzet_transport::TransportError;

/// SHEP error and status codes that are worth a retry, each with the reason. The one place where
/// SHEP's own codes are classified; everything not listed is permanent.
///
/// *(inferred)* SHEP's error code list is not public (only `SCSS001`, success, is widely seen).
/// These entries name the failure kinds a gateway reports for itself rather than for the
/// request; they are unconfirmed. They are the default of
/// [`crate::ShepConfig::transient_error_codes`]: set the connection agreement's list there.
/// A [`crate::ShepClient`] classifies with its configuration; this table is used only where no
/// configuration is at hand (an answer read on its own).
pub const TRANSIENT_SHEP_CODES: &[(&str, &str)] = &[
    (
        "SE001",
        "SHEP internal error: the gateway failed, not the request",
    ),
    ("SE002", "the target service did not answer SHEP in time"),
    ("SE003", "the target service is unavailable behind SHEP"),
    (
        "TIMEOUT",
        "SHEP reports a timeout towards the target service",
    ),
    (
        "SERVICE_UNAVAILABLE",
        "SHEP reports the target service as down",
    ),
];

/// Whether SHEP's `code` is one of the default [`TRANSIENT_SHEP_CODES`].
pub fn is_transient_shep_code(code: &str) -> bool {
    TRANSIENT_SHEP_CODES
        .iter()
        .any(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
}

/// One level of a SHEP fault (`ErrorInfo`), sanitized: the message is shortened and masked, and
/// `errorData` is reduced to whether it was present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `errorCode`.
    pub code: String,
    /// `errorMessage`, shortened, long digit runs masked.
    pub message: String,
    /// `errorDate` as sent (an `xs:dateTime`), when present.
    pub date: Option<String>,
    /// `sessionId`, when present.
    pub session_id: Option<String>,
    /// Whether `errorData` was present (its content is never kept: it may hold personal data).
    pub has_error_data: bool,
    /// On the outermost level: whether a code of this fault or of one of its causes is a
    /// transient one (worth a retry of a read), by the client's configured list, else by
    /// [`TRANSIENT_SHEP_CODES`]. `false` on the causes themselves.
    pub transient: bool,
    /// `subError`: the cause, itself an `ErrorInfo`.
    pub sub_error: Option<Box<ErrorInfo>>,
}

impl ErrorInfo {
    /// This error and its nested causes, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &ErrorInfo> {
        std::iter::successors(Some(self), |e| e.sub_error.as_deref())
    }
}

/// A failed SHEP call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShepError {
    /// The request cannot be sent as it is (bad message id, empty service id, …).
    #[error("invalid SHEP request: {0}")]
    InvalidRequest(String),
    /// The service payload given for `requestData/data` is not well-formed XML content.
    #[error("the SHEP data fragment is not well-formed XML: {0}")]
    InvalidPayload(String),
    /// The signer failed to sign.
    #[error("signing the SHEP message failed: {0}")]
    Signing(String),
    /// A message that must be signed carries no `wsse:Security/ds:Signature`.
    #[error("the SHEP message is not signed")]
    SignatureMissing,
    /// The signature does not hold: wrong digest or signature value, an unsupported algorithm,
    /// a reference to something other than the Body.
    #[error("the SHEP message signature is invalid: {0}")]
    SignatureInvalid(&'static str),
    /// The signing certificate is unreadable or does not chain to the trusted CA.
    #[error("the SHEP signing certificate is not trusted: {0}")]
    CertificateUntrusted(String),
    /// SHEP answered with a `responseInfo/status` code that is not success.
    #[error("SHEP answered status {code}: {message}")]
    Status {
        /// `status/code`.
        code: String,
        /// `status/message`, shortened, long digit runs masked.
        message: String,
        /// Whether `code` is a transient one (by the client's configured list).
        transient: bool,
    },
    /// SHEP answered with a `SendMessageSendMessageFaultMsg` fault.
    #[error("SHEP fault {}: {}", .0.code, .0.message)]
    Fault(Box<ErrorInfo>),
    /// A SOAP fault without SHEP's `ErrorInfo` detail.
    #[error("SOAP fault {code}: {message}")]
    SoapFault {
        /// `faultcode`, e.g. `soap:Server`.
        code: String,
        /// `faultstring`, shortened, long digit runs masked.
        message: String,
    },
    /// A non-success HTTP status without a SOAP fault in the body.
    #[error("SHEP answered HTTP {status}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
    },
    /// The answer is not the XML we expect: not well-formed, truncated, or of another shape.
    #[error("malformed SHEP answer: {0}")]
    Malformed(String),
    /// The bytes did not get there or back.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The call's deadline passed.
    #[error("SHEP did not answer in time")]
    Timeout,
    /// The adapter's configuration cannot be used.
    #[error("SHEP adapter configuration: {0}")]
    Config(String),
}

impl ShepError {
    /// Whether a retry of the same request may succeed: connect failures and timeouts, HTTP
    /// 502/503/504, SOAP faults of the server kind without SHEP detail, and SHEP status or fault
    /// codes listed in [`TRANSIENT_SHEP_CODES`] (anywhere in a fault's `subError` chain). Never a
    /// malformed or unsigned message, a refused request or a signature failure.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout => true,
            Self::Transport(e) => e.is_transient(),
            Self::HttpStatus { status } => matches!(status, 502..=504),
            Self::SoapFault { code, .. } => is_server_fault(code),
            Self::Status { transient, .. } => *transient,
            Self::Fault(info) => info.transient,
            Self::InvalidRequest(_)
            | Self::InvalidPayload(_)
            | Self::Signing(_)
            | Self::SignatureMissing
            | Self::SignatureInvalid(_)
            | Self::CertificateUntrusted(_)
            | Self::Malformed(_)
            | Self::Config(_) => false,
        }
    }

    /// A stable snake_case name of the failure, for logs, metrics and the transfer log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidPayload(_) => "invalid_payload",
            Self::Signing(_) => "signing_failed",
            Self::SignatureMissing => "signature_missing",
            Self::SignatureInvalid(_) => "signature_invalid",
            Self::CertificateUntrusted(_) => "certificate_untrusted",
            Self::Status { .. } => "shep_status",
            Self::Fault(_) => "shep_fault",
            Self::SoapFault { .. } => "soap_fault",
            Self::HttpStatus { .. } => "http_status",
            Self::Malformed(_) => "malformed_response",
            Self::Transport(TransportError::Timeout) | Self::Timeout => "timeout",
            Self::Transport(TransportError::Config(_)) | Self::Config(_) => "config_error",
            Self::Transport(_) => "connection_failed",
        }
    }
}

/// SOAP 1.1 `Server` (and SOAP 1.2 `Receiver`) faults, with any prefix or dotted subcode, are
/// the other side's problem and may pass; `Client` faults are ours and will not.
fn is_server_fault(code: &str) -> bool {
    let local = code.rsplit(':').next().unwrap_or(code);
    let head = local.split('.').next().unwrap_or(local);
    head.eq_ignore_ascii_case("Server") || head.eq_ignore_ascii_case("Receiver")
}

/// Shortens and masks text from the other side (see [`kuzet_ident::short_message`]).
pub use kuzet_ident::short_message;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn masks_iins_and_shortens() {
        let m = short_message("Subject 870525301012\n\n not found, code 42");
        assert_eq!(m, "Subject 8705******12 not found, code 42");
        assert!(short_message(&"x".repeat(500)).chars().count() <= 201);
    }

    #[test]
    fn classification() {
        assert!(ShepError::HttpStatus { status: 503 }.is_transient());
        assert!(!ShepError::HttpStatus { status: 500 }.is_transient());
        assert!(ShepError::Timeout.is_transient());
        assert!(!ShepError::SignatureMissing.is_transient());
        let status = |code: &str| ShepError::Status {
            code: code.into(),
            message: String::new(),
            transient: is_transient_shep_code(code),
        };
        assert!(status("SE002").is_transient());
        assert!(!status("SE999").is_transient());
        assert_eq!(status("SE002").code(), "shep_status");
    }
}
