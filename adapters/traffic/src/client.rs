//! The typed calls: the vehicle lookup and the user mark, each as one signed SHEP
//! `SendMessage`, under the authority's one [`Guard`] (rate limit, concurrency cap, circuit
//! breaker; retries only for the lookup, when the caller says it is safe and the failure is
//! transient: [`TrafficError::is_transient`]). The user mark is a write and runs with
//! [`Retry::Never`], whatever happens.
//!
//! Every attempt is a new SHEP message (a new `messageId`); all attempts of one call share one
//! `correlationId`. This module never logs a body, a credential or a personal value (IIN, name,
//! plate, VIN); SHEP's ids, the service id and the kind of key are fine.

use std::sync::Arc;
use std::time::Instant;

use kuzet_shep::{ShepAnswer, ShepClient, ShepRequest, Signer};
use kuzet_transport::{BreakerState, Guard, GuardError, GuardStats, Retry};
use uuid::Uuid;

use crate::config::TrafficConfig;
use crate::error::{RETURN_INTERNAL_ERROR, RETURN_NOT_FOUND, RETURN_OK, TrafficError};
use crate::keys::{UserMarkRequest, VehicleRequest};
use crate::status::{UserMark, VehicleStatus};
use crate::wire::{
    UserMarkAnswerData, VehicleAnswerData, build_user_mark_request_data,
    build_vehicle_request_data, parse_user_mark_answer_data, parse_vehicle_answer_data,
};

/// SHEP's identifiers of one exchange: what the counterparty can trace, for the transfer log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShepIds {
    /// The `messageId` we sent (of the attempt that was answered).
    pub message_id: String,
    /// SHEP's `responseInfo/messageId`.
    pub response_message_id: Option<String>,
    /// The answer's `correlationId`, else the one we sent.
    pub correlation_id: Option<String>,
    /// The answer's `sessionId`, else the one we sent.
    pub session_id: Option<String>,
    /// The `serviceId` we called.
    pub service_id: String,
}

impl ShepIds {
    fn of(answer: &ShepAnswer) -> Self {
        Self {
            message_id: answer.message_id.hyphenated().to_string(),
            response_message_id: answer.response_message_id.clone(),
            correlation_id: answer.correlation_id.clone(),
            session_id: answer.session_id.clone(),
            service_id: answer.service_id.clone(),
        }
    }
}

/// The authority's answer to a vehicle lookup, and SHEP's ids of the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleAnswer {
    /// What the authority knows, as the gateway flattens it under `vehicle_status.`.
    pub vehicle_status: VehicleStatus,
    /// SHEP's ids, for the transfer log.
    pub shep: ShepIds,
}

/// The authority's acknowledgement of a user mark, and SHEP's ids of the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMarkAnswer {
    /// The acknowledgement, as the gateway flattens it under `user_mark.`.
    pub user_mark: UserMark,
    /// SHEP's ids, for the transfer log.
    pub shep: ShepIds,
}

/// The road-traffic authority's client.
#[derive(Debug, Clone)]
pub struct TrafficClient {
    config: TrafficConfig,
    shep: ShepClient,
    guard: Arc<Guard>,
}

impl TrafficClient {
    /// Checks the configuration and builds the SHEP client; `signer` signs every message.
    pub fn new(config: TrafficConfig, signer: Arc<dyn Signer>) -> Result<Self, TrafficError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(TrafficError::Config(problems.join("; ")));
        }
        let shep = ShepClient::new(config.shep.clone(), signer)?;
        let guard = Guard::new("traffic", &config.resilience).map_err(|problems| {
            TrafficError::Config(format!("resilience: {}", problems.join("; ")))
        })?;
        Ok(Self {
            config,
            shep,
            guard: Arc::new(guard),
        })
    }

    /// The counters of the authority's guard (attempts, retries, breaker, rate limit).
    pub fn guard_stats(&self) -> GuardStats {
        self.guard.stats()
    }

    /// The state of the authority's circuit breaker.
    pub fn breaker_state(&self) -> BreakerState {
        self.guard.breaker_state()
    }

    /// The configuration in use.
    pub fn config(&self) -> &TrafficConfig {
        &self.config
    }

    /// Looks the vehicle up by `request`'s key, under the authority's guard; `retry` is the
    /// contract's `safe_to_retry` for the operation (a read: normally [`Retry::Safe`]).
    pub async fn vehicle(
        &self,
        request: &VehicleRequest,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<VehicleAnswer, TrafficError> {
        self.vehicle_correlated(request, None, deadline, retry)
            .await
    }

    /// [`TrafficClient::vehicle`] with the SHEP `correlationId` given (the gateway's request
    /// id); `None` makes one.
    pub async fn vehicle_correlated(
        &self,
        request: &VehicleRequest,
        correlation_id: Option<&str>,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<VehicleAnswer, TrafficError> {
        let data = build_vehicle_request_data(request, &self.config.purpose);
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(TrafficError::Timeout);
        }
        let correlation_id =
            correlation_id.map_or_else(|| Uuid::now_v7().hyphenated().to_string(), str::to_owned);
        self.guard
            .run(retry, deadline, |_| {
                self.vehicle_attempt(&data, &correlation_id, request.kind(), deadline)
            })
            .await
            .map_err(from_guard)
    }

    /// Sends the user mark, under the authority's guard, exactly once: a write is never
    /// retried ([`Retry::Never`]), whatever the failure. The call's correlation id is also the
    /// payload's `request_id`.
    pub async fn user_mark(
        &self,
        request: &UserMarkRequest,
        deadline: Option<Instant>,
    ) -> Result<UserMarkAnswer, TrafficError> {
        let correlation_id = Uuid::now_v7().hyphenated().to_string();
        let data = build_user_mark_request_data(request, &correlation_id)?;
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(TrafficError::Timeout);
        }
        self.guard
            .run(Retry::Never, deadline, |_| {
                self.user_mark_attempt(&data, &correlation_id, deadline)
            })
            .await
            .map_err(from_guard)
    }

    /// One vehicle lookup attempt, its answer read and judged.
    async fn vehicle_attempt(
        &self,
        data: &str,
        correlation_id: &str,
        kind: &'static str,
        deadline: Option<Instant>,
    ) -> Result<VehicleAnswer, TrafficError> {
        let service_id = self.config.vehicle_service_id.trim();
        let answer = self
            .send(service_id, data, correlation_id, deadline)
            .await?;
        let shep = ShepIds::of(&answer);
        let parsed = parse_vehicle_answer_data(payload(&answer)?)?;
        tracing::debug!(
            service_id = %shep.service_id,
            message_id = %shep.message_id,
            key = kind,
            return_code = parsed.return_code,
            "Road-traffic vehicle lookup answered."
        );
        let vehicle_status = vehicle_from_answer(parsed, &shep)?;
        Ok(VehicleAnswer {
            vehicle_status,
            shep,
        })
    }

    /// One user mark attempt (there is only ever one), its answer read and judged.
    async fn user_mark_attempt(
        &self,
        data: &str,
        correlation_id: &str,
        deadline: Option<Instant>,
    ) -> Result<UserMarkAnswer, TrafficError> {
        let service_id = self.config.user_mark_service_id.trim();
        let answer = self
            .send(service_id, data, correlation_id, deadline)
            .await?;
        let shep = ShepIds::of(&answer);
        let parsed = parse_user_mark_answer_data(payload(&answer)?)?;
        tracing::debug!(
            service_id = %shep.service_id,
            message_id = %shep.message_id,
            return_code = parsed.return_code,
            "Road-traffic user mark answered."
        );
        let user_mark = user_mark_from_answer(parsed, &shep)?;
        Ok(UserMarkAnswer { user_mark, shep })
    }

    /// One `SendMessage`.
    async fn send(
        &self,
        service_id: &str,
        data: &str,
        correlation_id: &str,
        deadline: Option<Instant>,
    ) -> Result<ShepAnswer, TrafficError> {
        let mut request = ShepRequest::new(service_id, data);
        request.correlation_id = Some(correlation_id.to_owned());
        Ok(self.shep.send(&request, deadline).await?)
    }
}

fn from_guard(e: GuardError<TrafficError>) -> TrafficError {
    match e {
        GuardError::Upstream(e) => e,
        GuardError::BreakerOpen => TrafficError::BreakerOpen,
        GuardError::RateLimited => TrafficError::RateLimited,
        GuardError::DeadlineExceeded => TrafficError::Timeout,
    }
}

fn payload(answer: &ShepAnswer) -> Result<&str, TrafficError> {
    answer
        .data
        .as_deref()
        .ok_or_else(|| TrafficError::Malformed("the SHEP answer carries no data".into()))
}

/// Judges a vehicle answer: return code 0 gives the status, the others their [`TrafficError`]
/// (see [`crate::RETURN_CODES`]); `shep` goes into those errors for the transfer log.
pub fn vehicle_from_answer(
    answer: VehicleAnswerData,
    shep: &ShepIds,
) -> Result<VehicleStatus, TrafficError> {
    judge(answer.return_code, answer.return_message, shep)?;
    Ok(answer.status)
}

/// Judges a user mark answer: return code 0 gives the acknowledgement, the others their
/// [`TrafficError`] (see [`crate::RETURN_CODES`]).
pub fn user_mark_from_answer(
    answer: UserMarkAnswerData,
    shep: &ShepIds,
) -> Result<UserMark, TrafficError> {
    judge(answer.return_code, answer.return_message, shep)?;
    answer
        .mark
        .ok_or_else(|| TrafficError::Malformed("the answer holds no user mark".into()))
}

fn judge(code: i64, message: Option<String>, shep: &ShepIds) -> Result<(), TrafficError> {
    match code {
        RETURN_OK => Ok(()),
        RETURN_NOT_FOUND => Err(TrafficError::NotFound {
            shep: Box::new(shep.clone()),
        }),
        RETURN_INTERNAL_ERROR => Err(TrafficError::AuthorityInternal {
            code,
            shep: Box::new(shep.clone()),
        }),
        code => Err(TrafficError::Refused {
            code,
            message: message.unwrap_or_default(),
            shep: Box::new(shep.clone()),
        }),
    }
}
