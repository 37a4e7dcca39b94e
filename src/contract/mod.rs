//! Contracts (the privacy policy as data) and their enforcement.
//!
//! `contracts/` holds the field vocabulary, the purposes and one file per recipient; [`load`]
//! reads and validates them all at start-up, [`enforce`] decides each transfer: the caller's
//! role and purpose, the outgoing fields (vocabulary and `send` list) and the incoming fields
//! (`receive` list).
//!
//! This module must never see or emit personal-data values: it deals in field *names*; the
//! payloads it inspects are walked, never logged, and never quoted in errors.

pub mod enforce;
pub mod load;
pub mod model;

pub use enforce::{Denial, Filtered, authorize, check_outgoing, filter_incoming, flatten};
pub use load::{ContractErrors, Contracts, EMBEDDED, Problem, Summary, check};
pub use model::{
    BodyLogging, FieldDef, LegalBasis, Operation, Purpose, Recipient, Retention, Role, UnknownName,
    Vocabulary,
};
