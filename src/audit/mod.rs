//! The auditors' and the data-protection officer's tools over a data directory: exporting the
//! transfer log ([`export`]) and answering a client's access request (policy 9.1,
//! [`subject_report`]). The CLI (`kuzet log export`, `kuzet log subject-report`) is a thin layer
//! over these; the web page can reuse them.
//!
//! Everything here reads: it must never write to the transfer log, the consent ledger or the
//! reporting state, never decrypt a body, and never put an IIN (other than masked) or another
//! personal value into an error message or tracing output.

pub mod export;
pub mod subject_report;
mod text;
mod when;

pub use export::{ExportFormat, ExportSummary, export};
pub use subject_report::{ReportSources, SubjectReport, subject_report};
pub use when::When;

/// What can go wrong reading for an audit. Messages name files and codes, never a personal value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The transfer log could not be read.
    #[error("{0}")]
    Log(#[from] crate::transfer_log::LogError),
    /// The consent ledger could not be read.
    #[error("consent ledger: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    /// The reporting state could not be read.
    #[error("{0}")]
    Reporting(#[from] crate::reporting::store::StoreError),
    /// Writing the output failed (a full disk, a closed pipe).
    #[error("writing failed: {0}")]
    Write(#[source] std::io::Error),
}
