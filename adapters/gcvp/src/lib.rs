//! The State Centre for Pension Payments (GCVP, "ГЦВП") adapter: asks the centre, over SHEP's
//! synchronous channel ([`kuzet_shep`]), for a subject's mandatory pension contributions (ОПВ,
//! 10 % of official salary) over the last N months, and turns them into a typed [`Income`]:
//! the contributions, one estimate per employer (average contribution × 10) and their total.
//!
//! How "the last N months" are counted, and the exact arithmetic, are in the `income` module's
//! docs (summary: the N whole calendar months before the month of the request date; sums ÷ N,
//! rounded down to a tiyn, × 10). "No data" is a status of its own, never an income of zero.
//! The payload shapes (request and answer inside SHEP's `data`) are in the `wire` module's
//! docs; the centre's return codes, with the ones assumed marked, in [`RETURN_CODES`].
//!
//! Code map: `config` (service id, N, SHEP channel, call policy), `client` (the typed call
//! under the centre's guard), `wire` (the payloads), `income` (the domain types and the
//! estimate), `error` (one error enum, with retry classification and stable codes).
//!
//! This crate never reads contracts, never writes the transfer log, never decides what the
//! gateway may keep, and never puts a personal value into an error or a log line.

#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod income;
mod wire;

pub use client::{GcvpClient, IncomeAnswer, IncomeRequest, ShepIds, income_from_answer};
pub use config::{DEFAULT_MONTHS, GcvpConfig, MAX_MONTHS};
pub use error::{
    GcvpError, RETURN_CODES, RETURN_INTERNAL_ERROR, RETURN_INVALID_REQUEST, RETURN_NO_DATA,
    RETURN_OK, RETURN_SUBJECT_NOT_FOUND,
};
pub use income::{
    CONTRIBUTION_TO_INCOME_FACTOR, CURRENCY_KZT, Contribution, EmployerIncome, Income,
    IncomeStatus, Money, Window, YearMonth,
};
pub use wire::{AnswerData, PAYLOAD_NS, build_request_data, parse_amount_tiyn, parse_answer_data};
