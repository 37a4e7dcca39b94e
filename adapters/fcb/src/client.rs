//! The typed calls: `GetReport`, `UploadZippedData2` and `GetBatchStatus2` over the shared
//! transport, under the bureau's [`Guard`] (rate
//! limit, concurrency cap, circuit breaker, and retries when the caller says the operation is
//! safe to repeat and the failure is transient: [`FcbError::is_transient`]). An upload is a
//! write: it runs with [`Retry::Never`] whatever happens, since a repeated file would load the
//! contracts twice. This module never logs a body, a credential or an IIN.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kuzet_transport::{Guard, GuardError, GuardStats, Retry, Transport, TransportError};

use crate::config::FcbConfig;
use crate::error::FcbError;
use crate::report::CreditReport;
use crate::upload::{
    BatchId, BatchStatus, UploadAnswer, UploadContract, build_records_xml, zip_records,
};
use crate::wire::{
    self, BATCH_STATUS_ACTION, GET_REPORT_ACTION, ReportRequest, SOAP_CONTENT_TYPE, UPLOAD_ACTION,
    build_batch_status_request, build_get_report_request, build_upload_request,
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
        if let Some(url) = &config.upload_url {
            let url = url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(FcbError::Config(
                    "upload_url must be an http:// or https:// URL".into(),
                ));
            }
        }
        let problems = config.upload.problems();
        if !problems.is_empty() {
            return Err(FcbError::Config(problems.join("; ")));
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
            .map_err(guard_error)
    }

    /// Uploads the contracts as one datapump file (`UploadZippedData2`, the configured
    /// `schemaId`) and returns the bureau's batch. A write: one attempt under the guard
    /// ([`Retry::Never`]), never repeated, even after a transient failure; the caller checks
    /// the batch's status with [`FcbClient::batch_status`] before sending the file again. The
    /// contracts are checked before anything is sent ([`FcbError::InvalidUpload`]).
    pub async fn upload_batch(
        &self,
        contracts: &[UploadContract],
        deadline: Option<Instant>,
    ) -> Result<UploadAnswer, FcbError> {
        let url = self.upload_url()?;
        let xml = build_records_xml(&self.config.upload, contracts)?;
        let zipped = zip_records(&xml)?;
        let zipped_bytes = zipped.len();
        let envelope = Bytes::from(build_upload_request(&self.config, &zipped));
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(FcbError::Timeout);
        }
        let (status, bytes_received) = self
            .guard
            .run(Retry::Never, deadline, |_| {
                self.datapump_call(
                    &url,
                    UPLOAD_ACTION,
                    envelope.clone(),
                    deadline,
                    wire::parse_upload_response,
                )
            })
            .await
            .map_err(guard_error)?;
        tracing::info!(
            batch = %status.batch_id,
            records = contracts.len(),
            zipped_bytes,
            "FCB upload accepted as a batch."
        );
        Ok(UploadAnswer {
            batch_id: status.batch_id.clone(),
            status,
            records_sent: contracts.len(),
            zipped_bytes,
            bytes_received,
        })
    }

    /// Asks how an uploaded batch stands (`GetBatchStatus2`). A read: `retry` may be
    /// [`Retry::Safe`].
    pub async fn batch_status(
        &self,
        batch_id: &BatchId,
        deadline: Option<Instant>,
        retry: Retry,
    ) -> Result<BatchStatus, FcbError> {
        let url = self.upload_url()?;
        let envelope = Bytes::from(build_batch_status_request(&self.config, batch_id));
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(FcbError::Timeout);
        }
        self.guard
            .run(retry, deadline, |_| {
                self.datapump_call(
                    &url,
                    BATCH_STATUS_ACTION,
                    envelope.clone(),
                    deadline,
                    wire::parse_batch_status_response,
                )
            })
            .await
            .map(|(status, _)| status)
            .map_err(guard_error)
    }

    fn upload_url(&self) -> Result<String, FcbError> {
        self.config.upload_url().ok_or_else(|| {
            FcbError::Config("upload_url is not set and cannot be derived from report_url".into())
        })
    }

    /// One attempt at the upload service.
    async fn datapump_call(
        &self,
        url: &str,
        action: &'static str,
        envelope: Bytes,
        deadline: Option<Instant>,
        parse: fn(&[u8], &crate::config::UploadConfig) -> Result<BatchStatus, FcbError>,
    ) -> Result<(BatchStatus, usize), FcbError> {
        let headers = [("Content-Type", SOAP_CONTENT_TYPE), ("SOAPAction", action)];
        let response = self
            .transport
            .post(url, &headers, envelope, deadline)
            .await
            .map_err(|e| match e {
                TransportError::Timeout => FcbError::Timeout,
                other => FcbError::Transport(other),
            })?;
        tracing::debug!(
            status = response.status,
            bytes = response.body.len(),
            "FCB upload service answered."
        );
        let parsed = parse(&response.body, &self.config.upload);
        let status = if (200..300).contains(&response.status) {
            parsed?
        } else {
            return Err(match parsed {
                Err(fault @ FcbError::SoapFault { .. }) => fault,
                _ => FcbError::HttpStatus {
                    status: response.status,
                },
            });
        };
        Ok((status, response.body.len()))
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

fn guard_error(e: GuardError<FcbError>) -> FcbError {
    match e {
        GuardError::Upstream(e) => e,
        GuardError::BreakerOpen => FcbError::BreakerOpen,
        GuardError::RateLimited => FcbError::RateLimited,
        GuardError::DeadlineExceeded => FcbError::Timeout,
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
