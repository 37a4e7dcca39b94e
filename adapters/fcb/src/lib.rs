//! The First Credit Bureau adapter (Creditinfo platform, SOAP 1.1): asks for a subject's
//! credit report with `GetReport` and turns the bureau's `CigResult` into a typed
//! [`CreditReport`] the gateway can flatten and filter.
//!
//! Code map: `config` (endpoint, credentials, report codes), `client` (the typed call),
//! `wire` (the request envelope and the answer's XML shapes), `sections` (the report's
//! sections read into domain types), `values` (amounts, dates, counts), `report` (the domain
//! types), `error` (one error enum, with retry classification and stable codes).
//!
//! This crate never reads contracts, never writes the transfer log, never decides what the
//! gateway may keep, and never puts a personal value into an error or a log line.

#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod report;
mod sections;
mod values;
mod wire;

pub use client::{FcbClient, ReportAnswer, read_http_answer};
pub use config::FcbConfig;
pub use error::FcbError;
#[doc(hidden)]
pub use report::sample_full;
pub use report::{
    BorrowerClassification, CalendarPayment, Coded, Collateral, ContractNegativeStatus,
    CreditContract, CreditHistory, CreditReport, IdentityDocument, Inquiries, Money,
    NegativeStatus, PublicSourceCheck, PublicSources, RelatedSubject, RoleTotals, StatusCount,
    SubjectAddress, SubjectIdentity, Summary, UnsecuredContractDebt, UnsecuredDebt,
};
pub use values::{
    InvalidValue, parse_amount, parse_count, parse_date, parse_datetime, parse_rate_bps,
};
pub use wire::{
    GET_REPORT_ACTION, ID_NUMBER_TYPE_IIN, REPORT_NS, ReportRequest, SOAP_CONTENT_TYPE,
    SOAP_ENVELOPE_NS, build_get_report_request, parse_get_report_response, parse_report,
};
