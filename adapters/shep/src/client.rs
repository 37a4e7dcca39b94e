//! The typed call: one signed `SendMessage` over the shared transport, its answer read and
//! judged, its failure classified.
//!
//! No retries here: whether and how often to retry is the caller's policy;
//! [`ShepError::is_transient`] tells it which failures qualify. This module never logs a body,
//! a credential or a personal value; SHEP's ids and the service id are fine.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kuzet_transport::{Transport, TransportError};
use uuid::Uuid;

use crate::config::ShepConfig;
use crate::error::ShepError;
use crate::signature::{Signer, sign_envelope};
use crate::wire::{self, SOAP_CONTENT_TYPE, ShepRequest, ShepResponse, ShepStatus, build_envelope};

/// A successful SHEP answer, with what the transfer log keeps of the exchange. `Debug` shows
/// the size of `data`, never its content.
#[derive(Clone, PartialEq, Eq)]
pub struct ShepAnswer {
    /// The `messageId` we sent.
    pub message_id: Uuid,
    /// SHEP's `responseInfo/messageId`.
    pub response_message_id: Option<String>,
    /// The answer's `correlationId`, else the one we sent.
    pub correlation_id: Option<String>,
    /// The answer's `sessionId`, else the one we sent.
    pub session_id: Option<String>,
    /// The `serviceId` we called.
    pub service_id: String,
    /// `responseInfo/status`: one of the configured success codes.
    pub status: ShepStatus,
    /// `responseInfo/responseDate`, as sent.
    pub response_date: Option<String>,
    /// The content of `responseData/data`, verbatim, for the service adapter to parse.
    pub data: Option<String>,
    /// Size of the HTTP body received, in bytes.
    pub bytes_received: usize,
}

impl std::fmt::Debug for ShepAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShepAnswer")
            .field("message_id", &self.message_id)
            .field("response_message_id", &self.response_message_id)
            .field("correlation_id", &self.correlation_id)
            .field("session_id", &self.session_id)
            .field("service_id", &self.service_id)
            .field("status", &self.status)
            .field("response_date", &self.response_date)
            .field("data_bytes", &self.data.as_ref().map(String::len))
            .field("bytes_received", &self.bytes_received)
            .finish()
    }
}

/// The SHEP synchronous-channel client.
#[derive(Clone)]
pub struct ShepClient {
    config: ShepConfig,
    transport: Transport,
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for ShepClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShepClient")
            .field("config", &self.config)
            .field("signature_method", &self.signer.signature_method())
            .finish_non_exhaustive()
    }
}

impl ShepClient {
    /// Checks the configuration and builds the HTTP client; `signer` signs every message.
    pub fn new(config: ShepConfig, signer: Arc<dyn Signer>) -> Result<Self, ShepError> {
        let url = config.endpoint_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ShepError::Config(
                "endpoint_url must be an http:// or https:// URL".into(),
            ));
        }
        if config.sender_id.trim().is_empty() {
            return Err(ShepError::Config("sender_id is empty".into()));
        }
        if config.success_status_codes.is_empty() {
            return Err(ShepError::Config("success_status_codes is empty".into()));
        }
        let transport = Transport::new(&config.http).map_err(|e| match e {
            TransportError::Config(msg) => ShepError::Config(msg),
            other => ShepError::Config(other.to_string()),
        })?;
        Ok(Self {
            config,
            transport,
            signer,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ShepConfig {
        &self.config
    }

    /// Sends one signed `SendMessage` and reads the answer: no retry. A status code that is not
    /// a configured success code is [`ShepError::Status`].
    pub async fn send(
        &self,
        request: &ShepRequest,
        deadline: Option<Instant>,
    ) -> Result<ShepAnswer, ShepError> {
        let envelope = sign_envelope(&build_envelope(&self.config, request)?, &*self.signer)?;
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(ShepError::Timeout);
        }
        let action = format!("\"{}\"", self.config.soap_action);
        let headers = [
            ("Content-Type", SOAP_CONTENT_TYPE),
            ("SOAPAction", action.as_str()),
        ];
        let response = self
            .transport
            .post(
                &self.config.endpoint_url,
                &headers,
                Bytes::from(envelope),
                deadline,
            )
            .await
            .map_err(|e| match e {
                TransportError::Timeout => ShepError::Timeout,
                other => ShepError::Transport(other),
            })?;
        let bytes_received = response.body.len();
        tracing::debug!(
            service_id = %request.service_id,
            message_id = %request.message_id,
            status = response.status,
            bytes = bytes_received,
            "SHEP SendMessage answered."
        );
        let answer = read_http_answer(response.status, &response.body).map_err(|e| match e {
            // Classified again by this channel's configured list, not the default table.
            ShepError::Fault(mut info) => {
                let transient = info.chain().any(|e| self.config.is_transient_code(&e.code));
                info.transient = transient;
                ShepError::Fault(info)
            }
            other => other,
        })?;
        if !self.config.is_success(&answer.status.code) {
            return Err(ShepError::Status {
                transient: self.config.is_transient_code(&answer.status.code),
                code: answer.status.code,
                message: answer.status.message,
            });
        }
        Ok(ShepAnswer {
            message_id: request.message_id,
            response_message_id: answer.message_id,
            correlation_id: answer
                .correlation_id
                .or_else(|| request.correlation_id.clone()),
            session_id: answer.session_id.or_else(|| request.session_id.clone()),
            service_id: request.service_id.clone(),
            status: answer.status,
            response_date: answer.response_date,
            data: answer.data,
            bytes_received,
        })
    }
}

/// Reads an HTTP answer to `SendMessage`. A 2xx body is read as the SOAP answer. Any other
/// status is the fault its body holds (SOAP 1.1 servers answer faults with 500), else
/// [`ShepError::HttpStatus`].
pub fn read_http_answer(status: u16, body: &[u8]) -> Result<ShepResponse, ShepError> {
    if (200..300).contains(&status) {
        return wire::parse_response(body);
    }
    match wire::parse_response(body) {
        Err(fault @ (ShepError::Fault(_) | ShepError::SoapFault { .. })) => Err(fault),
        _ => Err(ShepError::HttpStatus { status }),
    }
}
