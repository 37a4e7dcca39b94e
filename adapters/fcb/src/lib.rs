//! The First Credit Bureau adapter (Creditinfo platform, SOAP 1.1): asks for a subject's
//! credit report with `GetReport` and turns the bureau's `CigResult` into a typed
//! [`CreditReport`] the gateway can flatten and filter; uploads the lender's contracts
//! (`UploadZippedData2`, policy 4.5) and follows the batch (`GetBatchStatus2`).
//!
//! Code map: `config` (endpoints, credentials, report and upload codes), `client` (the typed
//! calls), `upload` (the contracts to report, the `Records` file, its ZIP, the batch),
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
mod upload;
mod values;
mod wire;

pub use client::{FcbClient, ReportAnswer, read_http_answer};
pub use config::{FcbConfig, UploadConfig};
pub use error::FcbError;
#[doc(hidden)]
pub use report::sample_full;
pub use report::{
    BorrowerClassification, CalendarPayment, Coded, Collateral, ContractNegativeStatus,
    CreditContract, CreditHistory, CreditReport, IdentityDocument, Inquiries, Money,
    NegativeStatus, PublicSourceCheck, PublicSources, RelatedSubject, RoleTotals, StatusCount,
    SubjectAddress, SubjectIdentity, Summary, UnsecuredContractDebt, UnsecuredDebt,
};
pub use upload::{
    ADDRESS_REGISTRATION, ADDRESS_RESIDENCE, BatchId, BatchState, BatchStatus,
    COMMUNICATION_MOBILE, CollateralKind, ContractPhase, DATAPUMP_RECORDS_NS, Gender,
    IDENTIFICATION_ID_CARD, IDENTIFICATION_IIN, IdDocument, RECORDS_ENTRY_NAME, ROLE_BORROWER,
    RecordMessage, UploadAddress, UploadAnswer, UploadBorrower, UploadCollateral, UploadContract,
    UploadOperation, build_records_xml, check_upload_contract, format_minor, zip_records,
};
pub use values::{
    InvalidValue, parse_amount, parse_count, parse_date, parse_datetime, parse_rate_bps,
};
pub use wire::{
    BATCH_STATUS_ACTION, DATAPUMP_NS, GET_REPORT_ACTION, ID_NUMBER_TYPE_IIN, REPORT_NS,
    ReportRequest, SOAP_CONTENT_TYPE, SOAP_ENVELOPE_NS, UPLOAD_ACTION, build_batch_status_request,
    build_get_report_request, build_upload_request, parse_batch_status_response,
    parse_get_report_response, parse_report, parse_upload_response,
};
