//! Entry types and the canonical encoding that the chain hashes (format in the module header
//! of `transfer_log`). This file must never change the meaning of encoding version 1: stored
//! chains depend on it byte for byte.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The kind of transfer event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Data leaving for a recipient.
    Out,
    /// Data arriving from a recipient.
    In,
    /// A transfer refused by the contract; nothing left.
    Denied,
}

impl Kind {
    /// The stored and serialized name: `out`, `in`, `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Out => "out",
            Kind::In => "in",
            Kind::Denied => "denied",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "out" => Some(Kind::Out),
            "in" => Some(Kind::In),
            "denied" => Some(Kind::Denied),
            _ => None,
        }
    }

    fn tag(self) -> u8 {
        match self {
            Kind::Out => 1,
            Kind::In => 2,
            Kind::Denied => 3,
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

const TAG: &[u8; 6] = b"KZLOG\x01";

struct Enc<'a>(&'a mut Vec<u8>);

impl Enc<'_> {
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn len(&mut self, n: usize) {
        // Lengths above 4 GiB cannot occur: a body that large would never reach the log (the
        // API limits request sizes), and saturating keeps the encoding total anyway.
        self.raw(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.raw(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.raw(&[0]),
            Some(v) => {
                self.raw(&[1]);
                f(self, v);
            }
        }
    }
    fn list(&mut self, l: &[String]) {
        self.len(l.len());
        for s in l {
            self.str(s);
        }
    }
}

/// Appends the canonical encoding (version 1) of `e` to `out`. `e.prev_hash` and `e.hash` are
/// not part of it (the hash input is `prev_hash ‖ encoding`).
pub fn canonical_encoding(e: &Entry, out: &mut Vec<u8>) {
    let mut w = Enc(out);
    w.raw(TAG);
    w.raw(&e.seq.to_be_bytes());
    w.raw(e.transfer_id.as_bytes());
    w.raw(&e.at_micros().to_be_bytes());
    w.raw(&[e.kind.tag()]);
    w.str(&e.recipient);
    w.str(&e.operation);
    w.str(&e.caller);
    w.opt(e.purpose.as_deref(), |w, s| w.str(s));
    w.opt(e.legal_basis.as_deref(), |w, s| w.str(s));
    w.opt(e.consent_id.as_ref(), |w, u| w.raw(u.as_bytes()));
    w.opt(e.reference.as_deref(), |w, s| w.str(s));
    w.opt(e.subject.as_ref(), |w, s| w.raw(s));
    w.list(&e.fields);
    w.list(&e.dropped);
    w.list(&e.denied);
    w.opt(e.body_digest.as_ref(), |w, d| w.raw(d));
    w.opt(e.body.as_ref(), |w, b| {
        w.raw(&b.nonce);
        w.bytes(&b.ciphertext);
    });
    w.len(e.upstream.len());
    for (k, v) in &e.upstream {
        w.str(k);
        w.str(v);
    }
    w.str(&e.outcome);
    w.opt(e.latency_ms, |w, l| w.raw(&l.to_be_bytes()));
}

/// `SHA-256(e.prev_hash ‖ canonical_encoding(e))`; `buf` is scratch space reused across calls.
pub fn entry_hash(e: &Entry, buf: &mut Vec<u8>) -> [u8; 32] {
    buf.clear();
    buf.extend_from_slice(&e.prev_hash);
    canonical_encoding(e, buf);
    Sha256::digest(buf.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
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
    fn micros_round_trip() {
        let t = now_micros();
        assert_eq!(from_micros(micros(t)), Some(t));
    }
}
