//! Searching the log: the filters auditors use ([`Query`]), and the one JSON shape of an entry
//! that the CLI, the export, the HTTP API and the web page all show ([`EntryView`]).
//!
//! A query never decrypts a body and never sees an IIN: a subject is searched by its index
//! (the HMAC of the IIN, [`crate::transfer_log::Keys::subject_index`]). Pagination is by `seq`,
//! which is gapless and never reused, so a page boundary stays where it was while entries are
//! appended (newest-first pages continue below the cursor, oldest-first pages above it).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Entry, Kind, LogBackend, LogError};

/// The order a query visits entries in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Highest seq first (what a search shows).
    #[default]
    NewestFirst,
    /// Lowest seq first (what an export writes).
    OldestFirst,
}

/// Filters over stored entries; every set filter must hold. Strings match exactly, except
/// `outcome`, which also matches the outcomes it prefixes up to a `:` (`error` matches
/// `error:timeout`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The subject index (HMAC of the IIN).
    pub subject: Option<[u8; 32]>,
    pub recipient: Option<String>,
    pub operation: Option<String>,
    pub kind: Option<Kind>,
    pub caller: Option<String>,
    pub outcome: Option<String>,
    pub purpose: Option<String>,
    pub transfer_id: Option<Uuid>,
    /// Entries at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Entries strictly before this instant.
    pub until: Option<OffsetDateTime>,
    /// Pagination: with [`Order::NewestFirst`] only seqs below this one, with
    /// [`Order::OldestFirst`] only seqs above it.
    pub cursor: Option<u64>,
    pub order: Order,
}

impl Query {
    /// Whether `e` passes every filter (the cursor included). Backends that cannot express a
    /// filter in their own query language apply this.
    pub fn matches(&self, e: &Entry) -> bool {
        fn eq(want: &Option<String>, have: &str) -> bool {
            want.as_deref().is_none_or(|w| w == have)
        }
        fn eq_opt(want: &Option<String>, have: &Option<String>) -> bool {
            want.as_deref().is_none_or(|w| have.as_deref() == Some(w))
        }
        self.subject.is_none_or(|s| e.subject == Some(s))
            && eq(&self.recipient, &e.recipient)
            && eq(&self.operation, &e.operation)
            && self.kind.is_none_or(|k| k == e.kind)
            && eq(&self.caller, &e.caller)
            && self
                .outcome
                .as_deref()
                .is_none_or(|o| outcome_matches(o, &e.outcome))
            && eq_opt(&self.purpose, &e.purpose)
            && self.transfer_id.is_none_or(|t| t == e.transfer_id)
            && self.since.is_none_or(|s| e.at >= s)
            && self.until.is_none_or(|u| e.at < u)
            && self.cursor.is_none_or(|c| match self.order {
                Order::NewestFirst => e.seq < c,
                Order::OldestFirst => e.seq > c,
            })
    }
}

/// `filter` matches `outcome` when equal, or when it is `outcome`'s part before a `:`.
pub fn outcome_matches(filter: &str, outcome: &str) -> bool {
    outcome == filter
        || outcome
            .strip_prefix(filter)
            .is_some_and(|rest| rest.starts_with(':'))
}

/// One page of a search: the entries and the cursor of the next page (none on the last).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The matching entries, newest first.
    pub entries: Vec<EntryView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The most entries one page holds.
pub const MAX_PAGE: usize = 1000;

/// One page of `q`: up to `limit` entries (at most [`MAX_PAGE`]) and, when more match, the
/// cursor of the next page.
pub fn search(backend: &mut dyn LogBackend, q: &Query, limit: usize) -> Result<Page, LogError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut entries = Vec::with_capacity(limit.min(64));
    let mut more = false;
    backend.query(q, &mut |e| {
        if entries.len() == limit {
            more = true;
            return ControlFlow::Break(());
        }
        entries.push(EntryView::from(&e));
        ControlFlow::Continue(())
    })?;
    let next_cursor = if more {
        entries.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(Page {
        entries,
        next_cursor,
    })
}

/// Reads a time filter: RFC 3339 (`2026-12-01T10:00:00Z`, `…+05:00`) or a date
/// (`2026-12-01`, meaning its midnight UTC).
/// Whether a `since ≤ at < until` range can hold nothing (`until` not later than `since`): the
/// API and the CLI refuse it, since an empty page would read as "no transfers".
pub fn empty_range(since: Option<OffsetDateTime>, until: Option<OffsetDateTime>) -> bool {
    matches!((since, until), (Some(s), Some(u)) if u <= s)
}

pub fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            let expected =
                "expected an RFC 3339 time (2026-12-01T10:00:00Z) or a date (2026-12-01)";
            // `…T10:00:00+05:00` in a query string arrives with a space for its `+`.
            if s.contains(' ') {
                format!("{expected}; in a URL, write a '+' as %2B")
            } else {
                expected.to_owned()
            }
        })
}

/// Reads a kind filter: `out`, `in`, `denied` or `erasure`.
pub fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s.trim()).ok_or_else(|| "expected out, in, denied or erasure".to_string())
}

/// Reads a recipient, operation or purpose filter. The contracts name these with lower-case
/// ASCII letters, digits, `_` and `-` only (and the log records nothing else), so any other
/// text could never match: it is refused rather than answered with an empty page.
pub fn parse_key(s: &str) -> Result<String, String> {
    use crate::contract::load::is_name;
    let key = s.trim();
    if is_name(key) {
        Ok(key.to_owned())
    } else if is_name(&key.to_ascii_lowercase()) {
        Err("keys are lower-case (fcb, credit-report, contract_performance)".to_owned())
    } else {
        Err("not a key: lower-case letters, digits, '_' and '-' (fcb, credit-report, contract_performance)".to_owned())
    }
}

/// Reads a transfer id (a UUID, as the API answers and the log shows it).
pub fn parse_transfer_id(s: &str) -> Result<Uuid, String> {
    Uuid::try_parse(s.trim()).map_err(|_| "not a transfer id (a UUID)".to_string())
}

/// Reads a pagination cursor (a page's `next_cursor`).
pub fn parse_cursor(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| "not a cursor from a previous page".to_string())
}

/// The RFC 3339 form of a stored instant (UTC, microseconds).
pub fn format_instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// An entry as auditors see it: every stored column but the body itself (which stays
/// encrypted; `body` says whether one was logged), hashes and ids in hex, the instant in
/// RFC 3339, upstream ids as an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryView {
    /// The entry's place in the chain: gapless, from 1.
    pub seq: u64,
    /// The transfer the entry belongs to (its OUT and IN entries share it).
    pub transfer_id: Uuid,
    /// When the entry was written (UTC, RFC 3339, microseconds).
    #[schema(format = DateTime)]
    pub at: String,
    pub kind: Kind,
    pub recipient: String,
    pub operation: String,
    /// The API client (or `reporting`, `retention`) that caused the entry.
    pub caller: String,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub consent_id: Option<Uuid>,
    /// The application or contract id the caller gave.
    pub reference: Option<String>,
    /// The subject index in hex (never the IIN).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub subject: Option<String>,
    /// The field paths sent (OUT) or kept (IN).
    pub fields: Vec<String>,
    /// The field paths the party sent that the contract dropped.
    pub dropped: Vec<String>,
    /// The field paths that made the contract refuse the transfer.
    pub denied: Vec<String>,
    /// `encrypted` when a body was logged, `none` when the contract logs metadata only.
    #[schema(pattern = "^(encrypted|none)$")]
    pub body: String,
    /// SHA-256 of the body, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub body_digest: Option<String>,
    /// The party's ids of the exchange (bureau reference, SHEP message ids).
    pub upstream: BTreeMap<String, String>,
    /// What happened: `ok`, `denied:<code>`, `error:<code>`, …
    pub outcome: String,
    pub latency_ms: Option<u64>,
    /// The previous entry's hash, in hex (zeros before the first).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and the entry's canonical encoding, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> EntryView {
        EntryView {
            seq: e.seq,
            transfer_id: e.transfer_id,
            at: format_instant(e.at),
            kind: e.kind,
            recipient: e.recipient.clone(),
            operation: e.operation.clone(),
            caller: e.caller.clone(),
            purpose: e.purpose.clone(),
            legal_basis: e.legal_basis.clone(),
            consent_id: e.consent_id,
            reference: e.reference.clone(),
            subject: e.subject.map(hex::encode),
            fields: e.fields.clone(),
            dropped: e.dropped.clone(),
            denied: e.denied.clone(),
            body: if e.body.is_some() {
                "encrypted"
            } else {
                "none"
            }
            .to_owned(),
            body_digest: e.body_digest.map(hex::encode),
            upstream: e.upstream.iter().cloned().collect(),
            outcome: e.outcome.clone(),
            latency_ms: e.latency_ms,
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
        }
    }
}

/// The CSV columns of an entry, in order; lists are joined with `;`, upstream ids as
/// `name=value` pairs.
pub const CSV_HEADER: [&str; 22] = [
    "seq",
    "transfer_id",
    "at",
    "kind",
    "recipient",
    "operation",
    "caller",
    "purpose",
    "legal_basis",
    "consent_id",
    "reference",
    "subject",
    "fields",
    "dropped",
    "denied",
    "body",
    "body_digest",
    "upstream",
    "outcome",
    "latency_ms",
    "prev_hash",
    "hash",
];

impl EntryView {
    /// The values of [`CSV_HEADER`]'s columns.
    pub fn csv_record(&self) -> Vec<String> {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        vec![
            self.seq.to_string(),
            self.transfer_id.to_string(),
            self.at.clone(),
            self.kind.as_str().to_string(),
            self.recipient.clone(),
            self.operation.clone(),
            self.caller.clone(),
            opt(&self.purpose),
            opt(&self.legal_basis),
            self.consent_id.map(|c| c.to_string()).unwrap_or_default(),
            opt(&self.reference),
            opt(&self.subject),
            self.fields.join(";"),
            self.dropped.join(";"),
            self.denied.join(";"),
            self.body.clone(),
            opt(&self.body_digest),
            self.upstream
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
            self.outcome.clone(),
            self.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
            self.prev_hash.clone(),
            self.hash.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_prefix_stops_at_a_colon() {
        assert!(outcome_matches("ok", "ok"));
        assert!(outcome_matches("error", "error:timeout"));
        assert!(outcome_matches("error:timeout", "error:timeout"));
        assert!(!outcome_matches("err", "error:timeout"));
        assert!(!outcome_matches("ok", "okay"));
    }

    #[test]
    fn instants_and_dates() {
        let t = parse_instant("2026-12-01T10:00:00+05:00").expect("rfc3339");
        assert_eq!(t.unix_timestamp(), 1_796_101_200);
        let d = parse_instant("2026-12-01").expect("date");
        assert_eq!(d.unix_timestamp(), 1_796_083_200);
        assert!(parse_instant("01.12.2026").is_err());
        // A `+` that a query string turned into a space gets a hint.
        let err = parse_instant("2026-12-01T10:00:00 05:00").expect_err("space");
        assert!(err.ends_with("in a URL, write a '+' as %2B"), "{err}");
        assert!(
            !parse_instant("yesterday")
                .expect_err("word")
                .contains("%2B")
        );
        assert!(parse_instant("2026-13-01").is_err());
    }

    #[test]
    fn keys_that_no_contract_could_name_are_refused() {
        assert_eq!(parse_key(" credit-report "), Ok("credit-report".to_owned()));
        assert_eq!(
            parse_key("contract_performance"),
            Ok("contract_performance".to_owned())
        );
        assert!(parse_key("FCB").expect_err("upper").contains("lower-case"));
        for bad in ["", "fcb traffic", "fcb,gcvp", "ФКБ", "fcb*"] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor("42"), Ok(42));
        assert!(parse_cursor("0").is_err());
        assert!(parse_cursor("-1").is_err());
        assert!(parse_cursor("abc").is_err());
    }
}
