//! The typed call: the income request as one signed SHEP `SendMessage`, under the centre's own
//! [`Guard`] (rate limit, concurrency cap, circuit breaker, and retries when the caller says
//! the operation is safe to repeat and the failure is transient: [`GcvpError::is_transient`]).
//!
//! Every attempt is a new SHEP message (a new `messageId`); all attempts of one call share one
//! `correlationId`, so the centre can tie a retry to the first try. This module never logs a
//! body, a credential or an IIN; SHEP's ids and the service id are fine.

use std::sync::Arc;
use std::time::Instant;

use kuzet_shep::{ShepClient, ShepRequest, Signer};
use kuzet_transport::{BreakerState, Guard, GuardError, GuardStats, Retry};
use time::macros::offset;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::config::GcvpConfig;
use crate::error::{
    GcvpError, RETURN_INTERNAL_ERROR, RETURN_NO_DATA, RETURN_OK, RETURN_SUBJECT_NOT_FOUND,
};
use crate::income::{Income, Window};
use crate::wire::{AnswerData, build_request_data, parse_answer_data};

/// Whose income to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeRequest {
    /// The subject.
    pub iin: kuzet_ident::Iin,
}

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

/// The centre's answer: the income, and SHEP's ids of the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeAnswer {
    /// The income, as the gateway flattens it under `income.`.
    pub income: Income,
    /// SHEP's ids, for the transfer log.
    pub shep: ShepIds,
}

/// The pension centre's income client.
#[derive(Debug, Clone)]
pub struct GcvpClient {
    config: GcvpConfig,
    shep: ShepClient,
    guard: Arc<Guard>,
}

impl GcvpClient {
    /// Checks the configuration and builds the SHEP client; `signer` signs every message.
    pub fn new(config: GcvpConfig, signer: Arc<dyn Signer>) -> Result<Self, GcvpError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(GcvpError::Config(problems.join("; ")));
        }
        let shep = ShepClient::new(config.shep.clone(), signer)?;
        let guard = Guard::new("gcvp", &config.resilience).map_err(|problems| {
            GcvpError::Config(format!("resilience: {}", problems.join("; ")))
        })?;
        Ok(Self {
            config,
            shep,
            guard: Arc::new(guard),
        })
    }

    /// The counters of the centre's guard (attempts, retries, breaker, rate limit).
    pub fn guard_stats(&self) -> GuardStats {
        self.guard.stats()
    }

    /// The state of the centre's circuit breaker.
    pub fn breaker_state(&self) -> BreakerState {
        self.guard.breaker_state()
    }

    /// The configuration in use.
    pub fn config(&self) -> &GcvpConfig {
        &self.config
    }

    /// Asks the centre for the subject's contributions over the last N months before today
    /// (Astana time, +06:00) and estimates the income, under the centre's guard; `retry` is the
    /// contract's `safe_to_retry` for the operation.
    pub async fn income(
        &self,
        request: &IncomeRequest,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<IncomeAnswer, GcvpError> {
        self.income_correlated(request, None, deadline, retry).await
    }

    /// [`GcvpClient::income`] with the SHEP `correlationId` given (the gateway's request id,
    /// so the centre's records and the gateway's name the same request); `None` makes one.
    pub async fn income_correlated(
        &self,
        request: &IncomeRequest,
        correlation_id: Option<&str>,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<IncomeAnswer, GcvpError> {
        let today = OffsetDateTime::now_utc().to_offset(offset!(+6)).date();
        self.income_between(request, today, correlation_id, deadline, retry)
            .await
    }

    /// [`GcvpClient::income`] with the request date given: the window is the N months before
    /// `as_of`'s month.
    pub async fn income_as_of(
        &self,
        request: &IncomeRequest,
        as_of: Date,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<IncomeAnswer, GcvpError> {
        self.income_between(request, as_of, None, deadline, retry)
            .await
    }

    async fn income_between(
        &self,
        request: &IncomeRequest,
        as_of: Date,
        correlation_id: Option<&str>,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<IncomeAnswer, GcvpError> {
        let window = Window::ending_before(as_of, self.config.months);
        let data = build_request_data(&self.config.payload_namespace, &request.iin, &window);
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(GcvpError::Timeout);
        }
        let correlation_id =
            correlation_id.map_or_else(|| Uuid::now_v7().hyphenated().to_string(), str::to_owned);
        self.guard
            .run(retry, deadline, |_| {
                self.attempt(&data, &correlation_id, &window, deadline)
            })
            .await
            .map_err(|e| match e {
                GuardError::Upstream(e) => e,
                GuardError::BreakerOpen => GcvpError::BreakerOpen,
                GuardError::RateLimited => GcvpError::RateLimited,
                GuardError::DeadlineExceeded => GcvpError::Timeout,
            })
    }

    /// One `SendMessage` attempt, its answer read and judged.
    async fn attempt(
        &self,
        data: &str,
        correlation_id: &str,
        window: &Window,
        deadline: Option<Instant>,
    ) -> Result<IncomeAnswer, GcvpError> {
        let mut request = ShepRequest::new(self.config.service_id.trim(), data);
        request.correlation_id = Some(correlation_id.to_owned());
        let answer = self.shep.send(&request, deadline).await?;
        let shep = ShepIds {
            message_id: answer.message_id.hyphenated().to_string(),
            response_message_id: answer.response_message_id,
            correlation_id: answer.correlation_id,
            session_id: answer.session_id,
            service_id: answer.service_id,
        };
        let data = answer
            .data
            .ok_or_else(|| GcvpError::Malformed("the SHEP answer carries no data".into()))?;
        let parsed = parse_answer_data(&data)?;
        tracing::debug!(
            service_id = %shep.service_id,
            message_id = %shep.message_id,
            return_code = parsed.return_code,
            payments = parsed.payment_count(),
            "GCVP income answered."
        );
        let income = income_from_answer(window, parsed, &shep)?;
        Ok(IncomeAnswer { income, shep })
    }
}

/// Judges the centre's answer: return code 0 gives the income over `window` (no payments in it:
/// `no_data`), [`RETURN_NO_DATA`] gives `no_data`, the others their [`GcvpError`] (see
/// [`crate::RETURN_CODES`]); `shep` goes into those errors for the transfer log.
pub fn income_from_answer(
    window: &Window,
    answer: AnswerData,
    shep: &ShepIds,
) -> Result<Income, GcvpError> {
    match answer.return_code {
        RETURN_OK => Income::from_payments(window, answer.payments),
        RETURN_NO_DATA => Ok(Income::no_data(window)),
        RETURN_SUBJECT_NOT_FOUND => Err(GcvpError::SubjectNotFound {
            shep: Box::new(shep.clone()),
        }),
        RETURN_INTERNAL_ERROR => Err(GcvpError::RegistryInternal {
            code: answer.return_code,
            shep: Box::new(shep.clone()),
        }),
        code => Err(GcvpError::Refused {
            code,
            message: answer.return_message.unwrap_or_default(),
            shep: Box::new(shep.clone()),
        }),
    }
}
