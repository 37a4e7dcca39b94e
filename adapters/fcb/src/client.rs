//! The typed call: `GetReport` over the shared transport, under the bureau's [`Guard`] (rate
//! limit, concurrency cap, circuit breaker, and retries when the caller says the operation is
//! safe to repeat and the failure is transient: [`FcbError::is_transient`]). This module never
//! logs a body, a credential or an IIN.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kuzet_transport::{Guard, GuardError, GuardStats, Retry, Transport, TransportError};

use crate::config::FcbConfig;
use crate::error::FcbError;
use crate::report::CreditReport;
use crate::wire::{
    self, GET_REPORT_ACTION, ReportRequest, SOAP_CONTENT_TYPE, build_get_report_request,
};

/// A credit report as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportAnswer {
    /// The report, converted.
    pub report: CreditReport,
    /// The bureau's `ReferenceId` of this answer, for the transfer log.
    pub reference_id: Option<String>,
    /// Size of the HTTP body received, in bytes.
    pub bytes_received: usize,
}

/// The First Credit Bureau report client.
#[derive(Debug, Clone)]
pub struct FcbClient {
    config: FcbConfig,
    transport: Transport,
    guard: Arc<Guard>,
}

impl FcbClient {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(config: FcbConfig) -> Result<Self, FcbError> {
        let url = config.report_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(FcbError::Config(
                "report_url must be an http:// or https:// URL".into(),
            ));
        }
        if config.user_name.trim().is_empty() {
            return Err(FcbError::Config("user_name is empty".into()));
        }
        if config.culture.trim().is_empty() {
            return Err(FcbError::Config("culture is empty".into()));
        }
        if config.report_import_code.trim().is_empty() {
            return Err(FcbError::Config("report_import_code is empty".into()));
        }
        let transport = Transport::new(&config.http).map_err(|e| match e {
            TransportError::Config(msg) => FcbError::Config(msg),
            other => FcbError::Config(other.to_string()),
        })?;
        let guard = Guard::new("fcb", &config.resilience)
            .map_err(|problems| FcbError::Config(format!("resilience: {}", problems.join("; "))))?;
        Ok(Self {
            config,
            transport,
            guard: Arc::new(guard),
        })
    }

    /// The counters of the bureau's guard (attempts, retries, breaker, rate limit).
    pub fn guard_stats(&self) -> GuardStats {
        self.guard.stats()
    }

    /// The state of the bureau's circuit breaker.
    pub fn breaker_state(&self) -> kuzet_transport::BreakerState {
        self.guard.breaker_state()
    }

    /// The configuration in use.
    pub fn config(&self) -> &FcbConfig {
        &self.config
    }

    /// Asks the bureau for the subject's credit report, under the bureau's guard; `retry` is
    /// the contract's `safe_to_retry` for the operation. Without confirmed consent it returns
    /// [`FcbError::ConsentRequired`] and calls nobody.
    pub async fn credit_report(
        &self,
        request: &ReportRequest,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<ReportAnswer, FcbError> {
        let envelope = Bytes::from(build_get_report_request(&self.config, request)?);
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(FcbError::Timeout);
        }
        self.guard
            .run(retry, deadline, |_| {
                self.get_report(envelope.clone(), deadline)
            })
            .await
            .map_err(|e| match e {
                GuardError::Upstream(e) => e,
                GuardError::BreakerOpen => FcbError::BreakerOpen,
                GuardError::RateLimited => FcbError::RateLimited,
                GuardError::DeadlineExceeded => FcbError::Timeout,
            })
    }

    /// One `GetReport` attempt.
    async fn get_report(
        &self,
        envelope: Bytes,
        deadline: Option<Instant>,
    ) -> Result<ReportAnswer, FcbError> {
        let headers = [
            ("Content-Type", SOAP_CONTENT_TYPE),
            ("SOAPAction", GET_REPORT_ACTION),
        ];
        let response = self
            .transport
            .post(&self.config.report_url, &headers, envelope, deadline)
            .await
            .map_err(|e| match e {
                TransportError::Timeout => FcbError::Timeout,
                other => FcbError::Transport(other),
            })?;
        let bytes_received = response.body.len();
        tracing::debug!(
            status = response.status,
            bytes = bytes_received,
            "FCB GetReport answered."
        );
        let (report, reference_id) = read_http_answer(response.status, &response.body)?;
        Ok(ReportAnswer {
            report,
            reference_id,
            bytes_received,
        })
    }
}

/// Reads an HTTP answer to `GetReport`. A 2xx body is read as the SOAP answer. Any other
/// status is a [`FcbError::SoapFault`] when the body holds a SOAP fault (SOAP 1.1 servers
/// answer faults with 500), else a [`FcbError::HttpStatus`].
pub fn read_http_answer(
    status: u16,
    body: &[u8],
) -> Result<(CreditReport, Option<String>), FcbError> {
    if (200..300).contains(&status) {
        return wire::parse_get_report_response(body);
    }
    match wire::parse_get_report_response(body) {
        Err(fault @ FcbError::SoapFault { .. }) => Err(fault),
        _ => Err(FcbError::HttpStatus { status }),
    }
}
