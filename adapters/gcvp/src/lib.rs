//! The State Centre for Pension Payments (GCVP, "ГЦВП") adapter: asks the centre, over SHEP's
//! synchronous channel ([`kuzet_shep`]), for a subject's mandatory pension contributions (ОПВ,
//! 10 % of official salary) over the last N months, and turns them into a typed [`Income`]:
//! the contributions, one estimate per employer (average contribution × 10) and their total.
//!
//! The centre's return codes, with the ones assumed marked, are in [`RETURN_CODES`].
//!
//! **The window ("last N months").** It is counted from the request date, not from the latest
//! month in the answer: the N whole calendar months that end with the month *before* the month
//! of the request date (Astana time, +06:00). Asked on 2026-03-02 with N = 6, the window is
//! 2025-09 … 2026-02. The current month is left out because its contributions are not due yet;
//! counting from the request date means that someone whose last contribution is years old gets
//! `no_data`, not an old salary presented as current income.
//!
//! **The arithmetic.** Amounts are whole tiyn (`i64`), never floats. Per employer, the average
//! contribution is the sum of its contributions in the window divided by N (not by the months
//! it paid: a job held for 2 of 6 months contributes a third of its monthly rate), rounded down
//! to a whole tiyn; the estimated monthly income is that average × 10 (contributions are 10 % of
//! gross salary). The total is the sum of the per-employer estimates, so it always equals what
//! the employer lines add up to. A payment for a month outside the window is ignored.
//!
//! **No data is not zero.** `status` is `confirmed` when at least one contribution (even of
//! 0.00) falls in the window, else `no_data`; with `no_data` there is no total at all, so nobody
//! can read it as an income of zero.
//!
//! **The payloads** inside SHEP's `requestData/data` and `responseData/data` *(inferred: the
//! real schema is not public; the request's namespace is configuration, `payload_namespace`,
//! and the answer is read by local name)*. The request we send:
//!
//! ```xml
//! <gcvp:IncomeRequest xmlns:gcvp="urn:kuzet:gcvp:income:v1">
//!   <gcvp:iin>870525301012</gcvp:iin>
//!   <gcvp:periodFrom>2025-09</gcvp:periodFrom>   <!-- first month of the window -->
//!   <gcvp:periodTo>2026-02</gcvp:periodTo>       <!-- last month of the window -->
//! </gcvp:IncomeRequest>
//! ```
//!
//! The answer we read (the `IncomeResponse` wrapper and `payments` are optional: the fields may
//! sit directly in `data`):
//!
//! ```xml
//! <gcvp:IncomeResponse xmlns:gcvp="urn:kuzet:gcvp:income:v1">
//!   <gcvp:returnCode>0</gcvp:returnCode>            <!-- absent: 0 -->
//!   <gcvp:returnMessage>OK</gcvp:returnMessage>     <!-- optional -->
//!   <gcvp:payments>
//!     <gcvp:payment>
//!       <gcvp:period>2026-01</gcvp:period>          <!-- YYYY-MM or YYYYMM, required -->
//!       <gcvp:paymentDate>2026-02-20</gcvp:paymentDate>  <!-- YYYY-MM-DD, optional -->
//!       <gcvp:amount>41250.00</gcvp:amount>         <!-- KZT, ≤ 2 decimals, ≥ 0, required -->
//!       <gcvp:employerBin>050140001238</gcvp:employerBin>  <!-- valid BIN, required -->
//!       <gcvp:employerName>ТОО «Пример»</gcvp:employerName> <!-- optional -->
//!     </gcvp:payment>
//!   </gcvp:payments>
//! </gcvp:IncomeResponse>
//! ```
//!
//! Elements are matched by local name, so any prefix (declared or not: SHEP hands over the
//! content of `data`, whose prefixes may be declared on its ancestors) is accepted. Payment
//! fields are read only as direct children of a `payment`; `returnCode`/`returnMessage` only
//! outside payments. Unknown elements are ignored; structure is strict (mismatched or unclosed
//! tags, unknown entities: [`GcvpError::Malformed`]).
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
