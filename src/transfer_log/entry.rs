//! Entry types and the canonical encoding that the chain hashes (format in the module header
//! of `transfer_log`). The encoding is defined over the stored column values, produced by one
//! function ([`with_columns`]) for both binding and hashing, so `verify` can hash stored bytes
//! without decoding them. This file must never change the meaning of encoding version 2:
//! stored chains depend on it byte for byte.

use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The kind of transfer event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Data leaving for a recipient.
    Out,
    /// Data arriving from a recipient.
    In,
    /// A transfer refused by the contract; nothing left.
    Denied,
    /// A subject's body key destroyed (retention end or an erasure request); nothing left.
    Erasure,
}

impl Kind {
    /// The stored and serialized name: `out`, `in`, `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Out => "out",
            Kind::In => "in",
            Kind::Denied => "denied",
            Kind::Erasure => "erasure",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "out" => Some(Kind::Out),
            "in" => Some(Kind::In),
            "denied" => Some(Kind::Denied),
            "erasure" => Some(Kind::Erasure),
            _ => None,
        }
    }
}

/// What an appender gives; the log adds `seq`, `at`, the subject HMAC, the body digest and
/// ciphertext, and the chain hashes.
#[derive(Clone, Debug)]
pub struct EntryDraft {
    /// UUID v7, shared by a transfer's OUT and IN entries.
    pub transfer_id: Uuid,
    pub kind: Kind,
    pub recipient: String,
    pub operation: String,
    /// The client name that called the API.
    pub caller: String,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub consent_id: Option<Uuid>,
    /// Application or contract id.
    pub reference: Option<String>,
    /// The data subject; the log stores only its HMAC.
    pub subject: Option<kuzet_ident::Iin>,
    /// Field names sent (OUT) or kept (IN).
    pub fields: Vec<String>,
    /// Field names received but dropped.
    pub dropped: Vec<String>,
    /// Field names that caused a denial.
    pub denied: Vec<String>,
    /// Plaintext JSON of what was sent or received; stored encrypted. `None` when the contract
    /// logs metadata only.
    pub body: Option<Vec<u8>>,
    /// Upstream ids, e.g. `("bureau_reference", "10")`.
    pub upstream: Vec<(String, String)>,
    /// `ok`, `denied:field_not_allowed`, `error:timeout`, ...
    pub outcome: String,
    pub latency_ms: Option<u64>,
}

impl EntryDraft {
    /// A draft with the required parts and everything optional empty.
    pub fn new(
        transfer_id: Uuid,
        kind: Kind,
        recipient: impl Into<String>,
        operation: impl Into<String>,
        caller: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            transfer_id,
            kind,
            recipient: recipient.into(),
            operation: operation.into(),
            caller: caller.into(),
            purpose: None,
            legal_basis: None,
            consent_id: None,
            reference: None,
            subject: None,
            fields: Vec::new(),
            dropped: Vec::new(),
            denied: Vec::new(),
            body: None,
            upstream: Vec::new(),
            outcome: outcome.into(),
            latency_ms: None,
        }
    }
}

/// An encrypted body: ChaCha20-Poly1305 under the subject's body key, AAD = transfer id bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBody {
    pub nonce: [u8; 12],
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Gapless, monotonic from 1.
    pub seq: u64,
    pub transfer_id: Uuid,
    /// UTC, microsecond precision.
    pub at: OffsetDateTime,
    pub kind: Kind,
    pub recipient: String,
    pub operation: String,
    pub caller: String,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub consent_id: Option<Uuid>,
    pub reference: Option<String>,
    /// HMAC-SHA256 subject index (see [`crate::transfer_log::Keys::subject_index`]).
    pub subject: Option<[u8; 32]>,
    pub fields: Vec<String>,
    pub dropped: Vec<String>,
    pub denied: Vec<String>,
    /// SHA-256 of the plaintext body.
    pub body_digest: Option<[u8; 32]>,
    pub body: Option<SealedBody>,
    pub upstream: Vec<(String, String)>,
    pub outcome: String,
    pub latency_ms: Option<u64>,
    /// The previous entry's hash; zeros for seq 1.
    pub prev_hash: [u8; 32],
    /// SHA-256(prev_hash ‖ canonical encoding).
    pub hash: [u8; 32],
}

/// What an append returns once the batch holding it is committed and synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: [u8; 32],
    pub at: OffsetDateTime,
}

impl Entry {
    /// `at` as whole microseconds since the Unix epoch (the stored and hashed form).
    pub fn at_micros(&self) -> i64 {
        micros(self.at)
    }
}

/// Microseconds since the epoch; the `i128` → `i64` narrowing holds for any date before the
/// year 294,000.
pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

/// The instant for stored micros, `None` when out of `time`'s range.
pub(crate) fn from_micros(us: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).ok()
}

/// The current UTC time truncated to microseconds, as stored.
pub(crate) fn now_micros() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let us = micros(now);
    from_micros(us).unwrap_or(now)
}

/// Domain tag and encoding version.
const TAG: &[u8; 6] = b"KZLOG\x02";

/// How many stored columns the encoding covers: every column but `prev_hash` (the hash input's
/// prefix) and `hash`, in [`COLUMNS`] order.
pub(crate) const ENCODED_COLUMNS: usize = 21;

/// The stored columns in the order the encoding covers them, then `prev_hash` and `hash`.
pub(crate) const COLUMNS: &str = "seq, transfer_id, at, kind, recipient, operation, caller, \
    purpose, legal_basis, consent_id, reference, subject, fields, dropped, denied, body_digest, \
    body_nonce, body, upstream, outcome, latency_ms, prev_hash, hash";

/// The JSON text stored for a list column. Serializing strings into JSON cannot fail (no maps
/// with non-string keys, no failing `Serialize` impls), so the fallback is never taken.
fn json_list<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The stored (and hashed) JSON text of an entry's list columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lists {
    fields: String,
    dropped: String,
    denied: String,
    upstream: String,
}

impl Lists {
    pub(crate) fn of(e: &Entry) -> Lists {
        Lists {
            fields: json_list(&e.fields),
            dropped: json_list(&e.dropped),
            denied: json_list(&e.denied),
            upstream: json_list(&e.upstream),
        }
    }
}

/// An entry on its way into a backend, with its list columns already serialized: appenders
/// build it on their own threads so that the single writer thread only chains and stores.
#[derive(Clone, Debug)]
pub struct StagedEntry {
    pub(crate) entry: Entry,
    pub(crate) lists: Lists,
}

impl StagedEntry {
    /// Stages `entry` (serializes its lists).
    pub fn new(entry: Entry) -> StagedEntry {
        let lists = Lists::of(&entry);
        StagedEntry { entry, lists }
    }

    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The values to store for the encoded columns, exactly as hashed (see [`with_columns`]).
    pub(crate) fn columns<R>(&self, f: impl FnOnce(&[ValueRef<'_>; ENCODED_COLUMNS]) -> R) -> R {
        with_columns(&self.entry, &self.lists, f)
    }

    /// The stored values of the encoded columns, borrowed from this entry.
    pub(crate) fn column_values(&self) -> [ValueRef<'_>; ENCODED_COLUMNS] {
        column_values(&self.entry, &self.lists)
    }
}

/// The values stored for `e`'s encoded columns (everything but `prev_hash` and `hash`), exactly
/// as the backend binds them, with `lists` (which must be `Lists::of(e)`) for the list columns.
pub(crate) fn with_columns<R>(
    e: &Entry,
    lists: &Lists,
    f: impl FnOnce(&[ValueRef<'_>; ENCODED_COLUMNS]) -> R,
) -> R {
    f(&column_values(e, lists))
}

/// The values of [`with_columns`], borrowed from `e` and `lists`.
pub(crate) fn column_values<'a>(e: &'a Entry, lists: &'a Lists) -> [ValueRef<'a>; ENCODED_COLUMNS] {
    fn text(s: &str) -> ValueRef<'_> {
        ValueRef::Text(s.as_bytes())
    }
    fn opt_text(s: &Option<String>) -> ValueRef<'_> {
        s.as_deref().map_or(ValueRef::Null, text)
    }
    fn opt_blob(b: Option<&[u8]>) -> ValueRef<'_> {
        b.map_or(ValueRef::Null, ValueRef::Blob)
    }
    // seq and latency are stored as SQLite's signed 64-bit integers; the writer keeps both
    // below i64::MAX, so the casts are exact.
    [
        ValueRef::Integer(e.seq as i64),
        ValueRef::Blob(e.transfer_id.as_bytes()),
        ValueRef::Integer(e.at_micros()),
        text(e.kind.as_str()),
        text(&e.recipient),
        text(&e.operation),
        text(&e.caller),
        opt_text(&e.purpose),
        opt_text(&e.legal_basis),
        opt_blob(e.consent_id.as_ref().map(|u| &u.as_bytes()[..])),
        opt_text(&e.reference),
        opt_blob(e.subject.as_ref().map(|s| &s[..])),
        text(&lists.fields),
        text(&lists.dropped),
        text(&lists.denied),
        opt_blob(e.body_digest.as_ref().map(|d| &d[..])),
        opt_blob(e.body.as_ref().map(|b| &b.nonce[..])),
        opt_blob(e.body.as_ref().map(|b| &b.ciphertext[..])),
        text(&lists.upstream),
        text(&e.outcome),
        e.latency_ms
            .map_or(ValueRef::Null, |l| ValueRef::Integer(l as i64)),
    ]
}

/// The columns the writer assigns (seq, transfer id and `at` come first in the encoding; the
/// transfer id is the appender's but sits between the two).
const HEAD_COLUMNS: usize = 3;

/// The encoding of everything after the head columns (`kind` to `latency_ms`), which does not
/// depend on the writer: appenders compute it so the writer hashes it without re-encoding.
pub(crate) fn encode_tail(staged: &StagedEntry, out: &mut Vec<u8>) {
    out.clear();
    staged.columns(|cols| {
        for v in &cols[HEAD_COLUMNS..] {
            encode_value(*v, out);
        }
    });
}

/// [`entry_hash`] of `e` given its [`encode_tail`], with `scratch` reused across calls:
/// `SHA-256(prev_hash ‖ tag ‖ seq ‖ transfer_id ‖ at ‖ tail)`.
pub(crate) fn chain_hash(e: &Entry, tail: &[u8], scratch: &mut Vec<u8>) -> [u8; 32] {
    begin_encoding(&e.prev_hash, scratch);
    encode_value(ValueRef::Integer(e.seq as i64), scratch);
    encode_value(ValueRef::Blob(e.transfer_id.as_bytes()), scratch);
    encode_value(ValueRef::Integer(e.at_micros()), scratch);
    Sha256::new()
        .chain_update(scratch.as_slice())
        .chain_update(tail)
        .finalize()
        .into()
}

/// Starts an encoding: clears `out` and writes `prev_hash` and the tag.
pub(crate) fn begin_encoding(prev_hash: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(prev_hash);
    out.extend_from_slice(TAG);
}

/// Appends one stored column value (version 2): a type tag, then an integer as 8 bytes
/// big-endian, a real as its IEEE-754 bits big-endian, text or a blob as a `u32` big-endian
/// length and the raw bytes.
pub(crate) fn encode_value(v: ValueRef<'_>, out: &mut Vec<u8>) {
    let mut bytes = |tag: u8, b: &[u8]| {
        out.push(tag);
        // Lengths above 4 GiB cannot occur (SQLite's own limit is 1 GB); saturating keeps the
        // encoding total anyway.
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(b);
    };
    match v {
        ValueRef::Null => out.push(0),
        ValueRef::Integer(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_be_bytes());
        }
        ValueRef::Real(r) => {
            out.push(2);
            out.extend_from_slice(&r.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => bytes(3, t),
        ValueRef::Blob(b) => bytes(4, b),
    }
}

/// Appends the canonical encoding (version 2) of `e` to `out`: the tag, then each encoded
/// column's stored value. `e.prev_hash` and `e.hash` are not part of it (the hash input is
/// `prev_hash ‖ encoding`).
pub fn canonical_encoding(e: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(TAG);
    with_columns(e, &Lists::of(e), |cols| {
        for v in cols {
            encode_value(*v, out);
        }
    });
}

/// `SHA-256(e.prev_hash ‖ canonical_encoding(e))`; `buf` is scratch space reused across calls.
pub fn entry_hash(e: &Entry, buf: &mut Vec<u8>) -> [u8; 32] {
    buf.clear();
    buf.extend_from_slice(&e.prev_hash);
    canonical_encoding(e, buf);
    Sha256::digest(buf.as_slice()).into()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An `out` entry with every kind of column set, for the module tests.
    pub(crate) fn sample() -> Entry {
        Entry {
            seq: 7,
            transfer_id: Uuid::now_v7(),
            at: now_micros(),
            kind: Kind::Out,
            recipient: "fcb".into(),
            operation: "credit-report".into(),
            caller: "underwriting".into(),
            purpose: Some("contract_performance".into()),
            legal_basis: Some("consent".into()),
            consent_id: None,
            reference: Some("A-1".into()),
            subject: Some([9; 32]),
            fields: vec!["subject.iin".into()],
            dropped: vec![],
            denied: vec![],
            body_digest: None,
            body: None,
            upstream: vec![],
            outcome: "ok".into(),
            latency_ms: Some(12),
            prev_hash: [1; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn list_boundaries_are_unambiguous() {
        // ["ab"] + [] and ["a"] + ["b"] carry the same characters; the encoding must differ.
        let mut a = sample();
        a.fields = vec!["ab".into()];
        let mut b = sample();
        b.fields = vec!["a".into()];
        b.dropped = vec!["b".into()];
        let mut buf = Vec::new();
        assert_ne!(entry_hash(&a, &mut buf), entry_hash(&b, &mut buf));
    }

    #[test]
    fn none_differs_from_empty_string() {
        let mut a = sample();
        a.reference = None;
        let mut b = sample();
        b.reference = Some(String::new());
        let mut buf = Vec::new();
        assert_ne!(entry_hash(&a, &mut buf), entry_hash(&b, &mut buf));
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample();
        let mut buf = Vec::new();
        let h = entry_hash(&base, &mut buf);
        type Edit = Box<dyn Fn(&mut Entry)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.seq += 1),
            Box::new(|e| e.transfer_id = Uuid::nil()),
            Box::new(|e| e.at += time::Duration::microseconds(1)),
            Box::new(|e| e.kind = Kind::In),
            Box::new(|e| e.caller.push('x')),
            Box::new(|e| e.consent_id = Some(Uuid::nil())),
            Box::new(|e| e.subject = None),
            Box::new(|e| e.body_digest = Some([0; 32])),
            Box::new(|e| {
                e.body = Some(SealedBody {
                    nonce: [0; 12],
                    ciphertext: vec![1],
                })
            }),
            Box::new(|e| e.upstream.push(("k".into(), "v".into()))),
            Box::new(|e| e.outcome = "error:timeout".into()),
            Box::new(|e| e.latency_ms = None),
            Box::new(|e| e.prev_hash = [2; 32]),
        ];
        for edit in edits {
            let mut e = base.clone();
            edit(&mut e);
            assert_ne!(entry_hash(&e, &mut buf), h);
        }
    }

    #[test]
    fn chain_hash_is_entry_hash() {
        let mut e = sample();
        e.dropped = vec!["a.b".into(), "c".into()];
        e.upstream = vec![("bureau_reference".into(), "10".into())];
        e.body = Some(SealedBody {
            nonce: [3; 12],
            ciphertext: vec![5; 40],
        });
        let mut buf = Vec::new();
        let want = entry_hash(&e, &mut buf);
        let staged = StagedEntry::new(e.clone());
        let mut tail = Vec::new();
        encode_tail(&staged, &mut tail);
        assert_eq!(chain_hash(&e, &tail, &mut buf), want);
    }

    #[test]
    fn micros_round_trip() {
        let t = now_micros();
        assert_eq!(from_micros(micros(t)), Some(t));
    }
}
