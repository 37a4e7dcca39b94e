//! SHEP ("ШЭП"), Kazakhstan's e-government gateway: its synchronous channel (SOAP 1.1,
//! `SendMessage`), generic over the service payload, for the adapters of the registries behind
//! it (pension centre, traffic authority).
//!
//! Code map: `config` (endpoint, sender credentials, success codes), `wire` (the `SendMessage`
//! envelope, the answer and the fault), `signature` (the WS-Security signature: the [`Signer`]
//! and [`SignatureVerifier`] traits, a ring test signer, [`verify_envelope`]), `c14n` (exclusive
//! XML canonicalization), `xml` (the namespace-aware tree both read), `client` (the typed call),
//! `error` (one error enum, with retry classification and stable codes).
//!
//! This crate never reads contracts, never writes the transfer log, never parses a service's
//! payload, and never puts a personal value or a credential into an error or a log line.

#![forbid(unsafe_code)]

mod c14n;
mod client;
mod config;
mod error;
mod signature;
mod wire;
mod xml;

pub use c14n::EXC_C14N;
pub use client::{ShepAnswer, ShepClient, read_http_answer};
pub use config::{SUCCESS_STATUS_CODE, ShepConfig};
pub use error::{
    ErrorInfo, ShepError, TRANSIENT_SHEP_CODES, is_transient_shep_code, short_message,
};
pub use signature::{
    DIGEST_SHA256, DSIG_NS, EcdsaP256Signer, RingVerifier, SIGNATURE_ECDSA_SHA256,
    SIGNATURE_RSA_SHA256, SignatureVerifier, Signer, SignerFiles, VerifiedEnvelope, WSSE_NS,
    sign_envelope, verify_envelope,
};
pub use wire::{
    Property, SOAP_CONTENT_TYPE, SOAP_ENVELOPE_NS, SYNC_INTERFACES_NS, SYNC_TYPES_NS, ShepRequest,
    ShepResponse, ShepStatus, UnsignedEnvelope, WSU_NS, build_envelope, parse_response,
};
