//! How to reach the pension centre: its SHEP `serviceId`, how many months of contributions to
//! consider, the SHEP channel itself and the call policy (rate limit, retries, breaker). Real
//! values come with the SHEP connection agreement, so everything here is configuration, never a
//! constant in code.
//!
//! The SHEP password must never be printed: [`kuzet_shep::ShepConfig`]'s `Debug` redacts it, and
//! the type is not `Serialize`.

use kuzet_shep::ShepConfig;
use kuzet_transport::GuardConfig;
use serde::Deserialize;

use crate::wire::PAYLOAD_NS;

/// The pension centre's income service, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcvpConfig {
    /// SHEP `serviceId` of the pension centre's contributions service *(inferred: it comes with
    /// the SHEP connection agreement)*.
    pub service_id: String,
    /// N: how many whole calendar months of contributions are asked for and averaged (the
    /// window ends with the month before the request's month; see the crate docs). 1 to 36.
    #[serde(default = "default_months")]
    pub months: u32,
    /// Namespace of the request payload's elements *(inferred: the real schema is not public)*.
    /// Answers are read by local name whatever their namespace.
    #[serde(default = "default_payload_namespace")]
    pub payload_namespace: String,
    /// The SHEP synchronous channel: endpoint, sender credentials, HTTP settings.
    pub shep: ShepConfig,
    /// Rate limit, concurrency cap, retries and circuit breaker for calls to the pension centre.
    #[serde(default)]
    pub resilience: GuardConfig,
}

/// The default N: lenders look at the last 6–12 months.
pub const DEFAULT_MONTHS: u32 = 6;
/// The longest window that may be configured, in months.
pub const MAX_MONTHS: u32 = 36;

fn default_months() -> u32 {
    DEFAULT_MONTHS
}

fn default_payload_namespace() -> String {
    PAYLOAD_NS.to_owned()
}

impl GcvpConfig {
    /// A configuration with the defaults, for the given service id and SHEP channel.
    pub fn new(service_id: impl Into<String>, shep: ShepConfig) -> Self {
        Self {
            service_id: service_id.into(),
            months: DEFAULT_MONTHS,
            payload_namespace: default_payload_namespace(),
            shep,
            resilience: GuardConfig::default(),
        }
    }

    /// Every problem with the settings of this adapter (not of the SHEP channel, which its
    /// client checks), one message each; empty when they can be used.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.service_id.trim().is_empty() {
            out.push("service_id is empty".to_owned());
        }
        if !(1..=MAX_MONTHS).contains(&self.months) {
            out.push(format!("months must be between 1 and {MAX_MONTHS}"));
        }
        if self.payload_namespace.trim().is_empty() {
            out.push("payload_namespace is empty".to_owned());
        }
        out.extend(
            self.resilience
                .problems()
                .into_iter()
                .map(|p| format!("resilience: {p}")),
        );
        out
    }
}
