//! The typed call: one `GetReport` over the shared transport, its failure classified.
//!
//! No retries here: whether and how often to retry is the transport's and the gateway's
//! policy; [`FcbError::is_transient`] tells them which failures qualify. This module never
//! logs a body, a credential or an IIN.

use std::time::Instant;

use bytes::Bytes;
use kuzet_transport::{Transport, TransportError};

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
        Ok(Self { config, transport })
    }

    /// The configuration in use.
    pub fn config(&self) -> &FcbConfig {
        &self.config
    }

    /// Asks the bureau for the subject's credit report: one `GetReport` call, no retry.
    /// Without confirmed consent it returns [`FcbError::ConsentRequired`] and calls nobody.
    pub async fn credit_report(
        &self,
        request: &ReportRequest,
        deadline: Option<Instant>,
    ) -> Result<ReportAnswer, FcbError> {
        let envelope = build_get_report_request(&self.config, request)?;
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(FcbError::Timeout);
        }
        let headers = [
            ("Content-Type", SOAP_CONTENT_TYPE),
            ("SOAPAction", GET_REPORT_ACTION),
        ];
        let response = self
            .transport
            .post(
                &self.config.report_url,
                &headers,
                Bytes::from(envelope),
                deadline,
            )
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
