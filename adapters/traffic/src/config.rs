//! How to reach the road-traffic authority: its two SHEP `serviceId`s (vehicle lookup, user
//! mark), the purpose stated in lookups, the SHEP channel itself and the call policy (rate
//! limit, retries, breaker). Real values come with the SHEP connection agreement, so
//! everything here is configuration, never a constant in code.
//!
//! The SHEP password must never be printed: [`kuzet_shep::ShepConfig`]'s `Debug` redacts it,
//! and the type is not `Serialize`.

use kuzet_shep::ShepConfig;
use kuzet_transport::GuardConfig;
use serde::Deserialize;

/// The purpose stated in vehicle lookups by default (policy 4.1 P1).
pub const DEFAULT_PURPOSE: &str = "contract_performance";

/// The road-traffic authority's services, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// SHEP `serviceId` of the vehicle lookup *(inferred: it comes with the SHEP connection
    /// agreement)*.
    pub vehicle_service_id: String,
    /// SHEP `serviceId` of the user mark *(inferred, as above)*.
    pub user_mark_service_id: String,
    /// The purpose stated in every vehicle lookup (`purpose`): the authority asks for one.
    #[serde(default = "default_purpose")]
    pub purpose: String,
    /// The SHEP synchronous channel: endpoint, sender credentials, HTTP settings.
    pub shep: ShepConfig,
    /// Rate limit, concurrency cap, retries and circuit breaker for calls to the authority,
    /// shared by both operations.
    #[serde(default)]
    pub resilience: GuardConfig,
}

fn default_purpose() -> String {
    DEFAULT_PURPOSE.to_owned()
}

impl TrafficConfig {
    /// A configuration with the defaults, for the given service ids and SHEP channel.
    pub fn new(
        vehicle_service_id: impl Into<String>,
        user_mark_service_id: impl Into<String>,
        shep: ShepConfig,
    ) -> Self {
        Self {
            vehicle_service_id: vehicle_service_id.into(),
            user_mark_service_id: user_mark_service_id.into(),
            purpose: default_purpose(),
            shep,
            resilience: GuardConfig::default(),
        }
    }

    /// Every problem with the settings of this adapter (not of the SHEP channel, which its
    /// client checks), one message each; empty when they can be used.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.vehicle_service_id.trim().is_empty() {
            out.push("vehicle_service_id is empty".to_owned());
        }
        if self.user_mark_service_id.trim().is_empty() {
            out.push("user_mark_service_id is empty".to_owned());
        }
        if self.purpose.trim().is_empty() {
            out.push("purpose is empty".to_owned());
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
