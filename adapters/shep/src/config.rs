//! How to reach SHEP's synchronous channel: the endpoint, the `sender` credentials, the status
//! codes that mean success, and the HTTP settings. Real values come with the SHEP connection
//! agreement, so everything here is configuration, never a constant in code.
//!
//! The password must never be printed: `Debug` redacts it, and the type is not `Serialize`.

use std::fmt;

use kuzet_transport::HttpConfig;
use serde::Deserialize;

/// `responseInfo/status/code` of a successful SHEP answer, as SHEP's public clients check it.
pub const SUCCESS_STATUS_CODE: &str = "SCSS001";

/// The SHEP synchronous channel, as configured.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShepConfig {
    /// URL of the synchronous channel (`https://…/bip-sync-wss-gost/`).
    pub endpoint_url: String,
    /// `requestInfo/sender/senderId`: this gateway's system id at SHEP.
    pub sender_id: String,
    /// `requestInfo/sender/password`. Never logged.
    pub password: String,
    /// The `SOAPAction` header, unquoted. SHEP's WSDL declares an empty action for
    /// `SendMessage`; the default is that.
    #[serde(default)]
    pub soap_action: String,
    /// `status/code` values that mean success; any other code is an error.
    #[serde(default = "default_success_status_codes")]
    pub success_status_codes: Vec<String>,
    /// Status and fault (`ErrorInfo/errorCode`, at any `subError` depth) codes worth a retry of
    /// a read: failures of SHEP or of the route, not of the request. Compared without case.
    /// Default: [`crate::TRANSIENT_SHEP_CODES`] (inferred; set the connection agreement's list).
    #[serde(default = "default_transient_error_codes")]
    pub transient_error_codes: Vec<String>,
    /// Timeouts, trust store and client certificate for the endpoint.
    #[serde(default)]
    pub http: HttpConfig,
}

fn default_success_status_codes() -> Vec<String> {
    vec![SUCCESS_STATUS_CODE.to_owned()]
}

fn default_transient_error_codes() -> Vec<String> {
    crate::TRANSIENT_SHEP_CODES
        .iter()
        .map(|(code, _)| (*code).to_owned())
        .collect()
}

impl ShepConfig {
    /// A configuration with the defaults, for the given endpoint and sender credentials.
    pub fn new(
        endpoint_url: impl Into<String>,
        sender_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            endpoint_url: endpoint_url.into(),
            sender_id: sender_id.into(),
            password: password.into(),
            soap_action: String::new(),
            success_status_codes: default_success_status_codes(),
            transient_error_codes: default_transient_error_codes(),
            http: HttpConfig::default(),
        }
    }

    /// Whether `code` is one of [`ShepConfig::transient_error_codes`].
    pub fn is_transient_code(&self, code: &str) -> bool {
        let code = code.trim();
        self.transient_error_codes
            .iter()
            .any(|c| c.trim().eq_ignore_ascii_case(code))
    }

    /// Whether `code` is one of [`ShepConfig::success_status_codes`].
    pub fn is_success(&self, code: &str) -> bool {
        let code = code.trim();
        self.success_status_codes.iter().any(|c| c == code)
    }
}

impl fmt::Debug for ShepConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShepConfig")
            .field("endpoint_url", &self.endpoint_url)
            .field("sender_id", &self.sender_id)
            .field("password", &"<redacted>")
            .field("soap_action", &self.soap_action)
            .field("success_status_codes", &self.success_status_codes)
            .field("transient_error_codes", &self.transient_error_codes)
            .field("http", &self.http)
            .finish()
    }
}
