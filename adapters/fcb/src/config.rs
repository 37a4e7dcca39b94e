//! How to reach the bureau's report service: the endpoint, the `CigWsHeader` credentials, the
//! report codes, the HTTP settings and the call policy (rate limit, retries, breaker). Real values come with the connection agreement, so
//! everything here is configuration, never a constant in code.
//!
//! The password must never be printed: `Debug` redacts it, and the type is not `Serialize`.

use std::fmt;

use kuzet_transport::{GuardConfig, HttpConfig};
use serde::Deserialize;

/// The First Credit Bureau report service, as configured.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcbConfig {
    /// URL of the report service (`https://…/FCBServices/Service`).
    pub report_url: String,
    /// `CigWsHeader/UserName`.
    pub user_name: String,
    /// `CigWsHeader/Password`. Never logged.
    pub password: String,
    /// `CigWsHeader/Culture`: the language of the report's labels.
    #[serde(default = "default_culture")]
    pub culture: String,
    /// `GetReport/reportId`: which report product to ask for.
    #[serde(default = "default_report_id")]
    pub report_id: u32,
    /// `keyValue/reportImportCode`: the import code of that report product.
    #[serde(default = "default_report_import_code")]
    pub report_import_code: String,
    /// `CigWsHeader/Version`, sent only when set.
    #[serde(default)]
    pub version: Option<String>,
    /// Timeouts, trust store and client certificate for the bureau's endpoint.
    #[serde(default)]
    pub http: HttpConfig,
    /// Rate limit, concurrency cap, retries and circuit breaker for calls to the bureau.
    #[serde(default)]
    pub resilience: GuardConfig,
}

fn default_culture() -> String {
    "ru-RU".to_owned()
}

fn default_report_id() -> u32 {
    6
}

fn default_report_import_code() -> String {
    "6".to_owned()
}

impl FcbConfig {
    /// A configuration with the defaults, for the given endpoint and credentials.
    pub fn new(
        report_url: impl Into<String>,
        user_name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            report_url: report_url.into(),
            user_name: user_name.into(),
            password: password.into(),
            culture: default_culture(),
            report_id: default_report_id(),
            report_import_code: default_report_import_code(),
            version: None,
            http: HttpConfig::default(),
            resilience: GuardConfig::default(),
        }
    }
}

impl fmt::Debug for FcbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcbConfig")
            .field("report_url", &self.report_url)
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .field("culture", &self.culture)
            .field("report_id", &self.report_id)
            .field("report_import_code", &self.report_import_code)
            .field("version", &self.version)
            .field("http", &self.http)
            .field("resilience", &self.resilience)
            .finish()
    }
}
