//! Offline evidence for one transfer (what X-Road offers per message, in one small file): the
//! transfer's entries, the chain segment from its first entry up to the next signed
//! checkpoint, and the checkpoint with its public key. [`verify_proof`] checks it without the
//! database: every segment row hashes to its stored hash, each links to the one before, the
//! last is the checkpoint's entry, the checkpoint's signature holds, and the readable entries
//! are exactly what the hashed bytes say.
//!
//! A proof carries, for the segment's other entries, only what the log stores: metadata, the
//! subject index (an HMAC, not the IIN) and encrypted bodies. It never carries a plaintext
//! body or an IIN. Its size is bounded by the checkpoint policy (`checkpoint_every_entries`,
//! `checkpoint_every_bytes`).

use std::ops::ControlFlow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::checkpoint::{CheckpointJson, hex_array};
use super::entry::ENCODED_COLUMNS;
use super::query::EntryView;
use super::sqlite::decode_columns;
use super::{LogBackend, LogError};

/// The `format` of a proof file.
pub const PROOF_FORMAT: &str = "kuzet-transfer-proof/1";

/// One entry of the chain segment: its seq, the bytes its hash covers (`prev_hash ‖ canonical
/// encoding`, base64) and its stored hash (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRow {
    pub seq: u64,
    pub hashed: String,
    pub hash: String,
}

/// A transfer's offline proof (`kuzet log proof`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub format: String,
    pub transfer_id: Uuid,
    /// The transfer's entries as auditors read them (checked against their hashed bytes).
    pub entries: Vec<EntryView>,
    /// Every entry from the transfer's first one to the checkpoint's, in seq order.
    pub segment: Vec<SegmentRow>,
    pub checkpoint: CheckpointJson,
}

/// Why a proof cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("the log has no transfer {0}")]
    NoSuchTransfer(Uuid),
    #[error(
        "no signed checkpoint covers seq {0} yet; the writer signs one within \
         log.checkpoint_every_seconds while entries come, and one when it stops"
    )]
    NotCheckpointed(u64),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Builds the proof of `transfer_id` from one backend.
pub fn build(backend: &mut dyn LogBackend, transfer_id: Uuid) -> Result<Proof, ProofError> {
    let entries = backend.get_transfer(transfer_id)?;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(ProofError::NoSuchTransfer(transfer_id));
    };
    let (first, last) = (first.seq, last.seq);
    let checkpoint = backend
        .checkpoint_covering(last)?
        .ok_or(ProofError::NotCheckpointed(last))?;
    let mut segment = Vec::with_capacity((checkpoint.seq - first + 1) as usize);
    let mut bad: Option<LogError> = None;
    backend.scan_encoded(first, &mut |row| {
        if row.seq > checkpoint.seq {
            return ControlFlow::Break(());
        }
        match row.hashed {
            Ok(bytes) => segment.push(SegmentRow {
                seq: row.seq,
                hashed: B64.encode(bytes),
                hash: hex::encode(row.hash),
            }),
            Err(reason) => {
                bad = Some(LogError::Corrupt {
                    seq: row.seq,
                    reason: reason.to_owned(),
                });
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = bad {
        return Err(e.into());
    }
    Ok(Proof {
        format: PROOF_FORMAT.to_owned(),
        transfer_id,
        entries: entries.iter().map(EntryView::from).collect(),
        segment,
        checkpoint: checkpoint.to_json(),
    })
}

/// What a valid proof shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofSummary {
    pub transfer_id: Uuid,
    pub entries: usize,
    /// The seq range of the segment.
    pub first_seq: u64,
    pub checkpoint_seq: u64,
    pub checkpoint_at: String,
    pub public_key: String,
}

impl std::fmt::Display for ProofSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proof OK: transfer {} ({} entries) is in the chain, seq {}..{}, pinned by the \
             checkpoint signed at {} with key {}",
            self.transfer_id,
            self.entries,
            self.first_seq,
            self.checkpoint_seq,
            self.checkpoint_at,
            self.public_key
        )
    }
}

/// Reads the values of a hash input (`prev_hash ‖ tag ‖ 21 values`) back into an entry with
/// the given stored hash.
fn decode_hashed(bytes: &[u8], hash: [u8; 32]) -> Result<super::Entry, String> {
    const TAG: &[u8] = b"KZLOG\x02";
    let (prev, rest) = bytes.split_at_checked(32).ok_or("shorter than a hash")?;
    let mut rest = rest.strip_prefix(TAG).ok_or("not encoding version 2")?;
    let mut values: Vec<ValueRef<'_>> = Vec::with_capacity(ENCODED_COLUMNS + 2);
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        let (a, b) = rest.split_at_checked(n).ok_or("truncated value")?;
        *rest = b;
        Ok(a)
    }
    for _ in 0..ENCODED_COLUMNS {
        let tag = take(&mut rest, 1)?[0];
        let v = match tag {
            0 => ValueRef::Null,
            1 => ValueRef::Integer(i64::from_be_bytes(
                take(&mut rest, 8)?.try_into().map_err(|_| "bad integer")?,
            )),
            2 => ValueRef::Real(f64::from_bits(u64::from_be_bytes(
                take(&mut rest, 8)?.try_into().map_err(|_| "bad real")?,
            ))),
            3 | 4 => {
                let len =
                    u32::from_be_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "bad length")?)
                        as usize;
                let b = take(&mut rest, len)?;
                if tag == 3 {
                    ValueRef::Text(b)
                } else {
                    ValueRef::Blob(b)
                }
            }
            _ => return Err(format!("unknown value tag {tag}")),
        };
        values.push(v);
    }
    if !rest.is_empty() {
        return Err("bytes after the last value".into());
    }
    values.push(ValueRef::Blob(prev));
    values.push(ValueRef::Blob(&hash));
    decode_columns(|i| values.get(i).copied().unwrap_or(ValueRef::Null)).map_err(|e| e.reason)
}

/// Checks a proof offline. With `trusted_key` (the published checkpoint key), the checkpoint
/// must be signed by it; without, the proof's own key is reported for the reader to compare.
pub fn verify_proof(proof: &Proof, trusted_key: Option<[u8; 32]>) -> Result<ProofSummary, String> {
    if proof.format != PROOF_FORMAT {
        return Err(format!(
            "not a kuzet transfer proof (format {:?}, expected {PROOF_FORMAT:?})",
            proof.format
        ));
    }
    let cp = proof
        .checkpoint
        .parse()
        .map_err(|e| format!("checkpoint: {e}"))?;
    if !cp.verify() {
        return Err("checkpoint: the signature does not verify (forged or altered)".into());
    }
    if let Some(k) = trusted_key
        && k != cp.public_key
    {
        return Err("checkpoint: signed by a key other than the trusted one".into());
    }
    let first = proof.segment.first().ok_or("the chain segment is empty")?;
    let mut prev: Option<[u8; 32]> = None;
    let mut expected = first.seq;
    let mut decoded = Vec::new();
    for row in &proof.segment {
        let seq = row.seq;
        if seq != expected {
            return Err(format!(
                "segment: seq {seq} where seq {expected} was expected (entry missing or reordered)"
            ));
        }
        let bytes = B64
            .decode(&row.hashed)
            .map_err(|_| format!("segment seq {seq}: the hashed bytes are not base64"))?;
        let hash = hex_array::<32>(&row.hash, &format!("segment seq {seq}: hash"))?;
        if <[u8; 32]>::from(Sha256::digest(&bytes)) != hash {
            return Err(format!(
                "segment seq {seq}: the bytes do not hash to the entry's hash (altered)"
            ));
        }
        if let Some(p) = prev
            && bytes.get(..32) != Some(&p[..])
        {
            return Err(format!(
                "segment seq {seq}: prev_hash does not link to seq {}",
                seq - 1
            ));
        }
        let entry = decode_hashed(&bytes, hash).map_err(|e| format!("segment seq {seq}: {e}"))?;
        if entry.seq != seq {
            return Err(format!(
                "segment seq {seq}: the hashed bytes are of seq {}",
                entry.seq
            ));
        }
        if entry.transfer_id == proof.transfer_id {
            decoded.push(EntryView::from(&entry));
        }
        prev = Some(hash);
        expected += 1;
    }
    let last = expected - 1;
    if last != cp.seq || prev != Some(cp.hash) {
        return Err(format!(
            "the segment ends at seq {last}, which is not the entry the checkpoint pins (seq {})",
            cp.seq
        ));
    }
    if decoded.first().map(|e| e.seq) != Some(first.seq) {
        return Err("the segment does not start at the transfer's first entry".into());
    }
    if decoded != proof.entries {
        return Err(
            "the readable entries are not exactly the transfer's entries in the hashed bytes"
                .into(),
        );
    }
    Ok(ProofSummary {
        transfer_id: proof.transfer_id,
        entries: decoded.len(),
        first_seq: first.seq,
        checkpoint_seq: cp.seq,
        checkpoint_at: proof.checkpoint.at.clone(),
        public_key: proof.checkpoint.public_key.clone(),
    })
}
