//! The transfer log: an append-only, hash-chained, durable record of every transfer event
//! (DESIGN.md "Transfer log").
//!
//! Every outgoing (`out`), incoming (`in`) and refused (`denied`) transfer becomes one [`Entry`]
//! with a gapless `seq`. Each entry stores `prev_hash` (the previous entry's `hash`, zeros for
//! `seq` 1) and `hash = SHA-256(prev_hash ‖ canonical encoding of the entry)`, so that changing,
//! removing, inserting or reordering any stored entry breaks the chain at a `seq` that
//! [`verify`] names.
//!
//! Pieces: [`TransferLog`] (writer.rs) is the hot path, one writer thread committing queued
//! appends in groups; [`LogBackend`] (backend.rs) is the storage trait, [`SqliteBackend`]
//! (sqlite.rs) its embedded implementation and [`PgBackend`] (postgres.rs) the one replicas
//! share; [`Keys`] (keys.rs) holds the master key, the subject
//! index (HMAC of the IIN) and the per-subject body keys; [`verify`] (verify.rs) re-walks the
//! chain read-only.
//!
//! This module must never: update or delete a stored entry (subject body keys live in a separate
//! table and are the only thing erasure destroys); store an IIN or a body in clear; put a
//! personal value into an error message or tracing output; acknowledge an append before the
//! batch holding it is committed and synced.
//!
//! # Canonical encoding, version 2
//!
//! The encoding is defined over the values as stored, so `verify` hashes the stored bytes
//! without decoding a row. The bytes hashed for an entry are `prev_hash` (32 bytes) followed by:
//!
//! ```text
//! "KZLOG" 0x02            domain tag and encoding version (6 bytes)
//! value × 21              the stored columns, in this order: seq, transfer_id, at, kind,
//!                         recipient, operation, caller, purpose, legal_basis, consent_id,
//!                         reference, subject, fields, dropped, denied, body_digest,
//!                         body_nonce, body, upstream, outcome, latency_ms
//! ```
//!
//! Each value is a type tag, then: `0x00` NULL (nothing more); `0x01` INTEGER, 8 bytes
//! big-endian two's complement; `0x02` REAL, its IEEE-754 bits as 8 bytes big-endian; `0x03`
//! TEXT and `0x04` BLOB, a `u32` big-endian byte length then the raw bytes. What is stored (see
//! sqlite.rs): `seq`, `at` (UTC microseconds since the Unix epoch) and `latency_ms` as
//! integers; `transfer_id`, `consent_id` (16-byte UUIDs), `subject` (HMAC-SHA256 subject index),
//! `body_digest` (SHA-256 of the plaintext), `body_nonce` (12 bytes) and `body` (ciphertext and
//! tag) as blobs; `kind` (`out`/`in`/`denied`) and the other strings as text; the lists
//! `fields`, `dropped`, `denied` and `upstream` as their compact JSON text (`serde_json`), so
//! the exact JSON bytes are hashed and even a semantically equal rewrite of a list breaks the
//! chain. One function (`entry::with_columns`) produces these values from an [`Entry`] both for
//! binding the INSERT and for hashing at append time, so what is stored is what was hashed.
//!
//! Every stored column except `hash` itself is covered (`prev_hash` as the hash's prefix),
//! including the body ciphertext, so destroying a subject's body key later never changes a
//! hash. A future version changes the version byte; verify refuses other versions by
//! construction (it recomputes with version 2 only).

mod backend;
pub mod checkpoint;
mod entry;
mod keys;
mod postgres;
pub mod proof;
pub mod query;
mod sqlite;
pub mod subject_index;
pub mod testing;
mod verify;
mod writer;

pub use backend::{Batch, BodyEntry, EncodedRow, Head, LogBackend, RowError, WrappedKey};
pub use checkpoint::{Checkpoint, CheckpointPolicy, CheckpointSigner};
/// The stored columns of entries and of checkpoints, in their stored order (for `db copy`).
pub(crate) use entry::COLUMNS as ENTRY_COLUMNS;
pub use entry::{
    Appended, Entry, EntryDraft, Kind, SealedBody, StagedEntry, canonical_encoding, entry_hash,
};
pub use keys::{Keys, MASTER_KEY_FILE, NO_SUBJECT};
pub use postgres::PgBackend;
pub use query::{EntryView, Order, Page, Query};
pub(crate) use sqlite::CP_COLUMNS as CHECKPOINT_COLUMNS;
pub use sqlite::{MIGRATIONS as SQLITE_MIGRATIONS, SQLITE_FILE, SqliteBackend};
pub use verify::{
    VerifyError, VerifyFailure, VerifyOptions, VerifySummary, verify, verify_data_dir,
    verify_data_dir_with, verify_json, verify_log, verify_with,
};
pub use writer::{BATCH_CAP, TransferLog};

use std::path::PathBuf;

/// What can go wrong with the transfer log. Messages never carry personal values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The backend could not durably write (or the writer is gone): the transfer must not
    /// happen. The API maps this to 503 `log_unavailable`.
    #[error("transfer log unavailable: {0}")]
    Unavailable(String),
    /// The stored chain tip is not the one this writer chained onto (another writer appended
    /// meanwhile); the writer re-reads the tip and retries.
    #[error("transfer log conflict: the stored chain tip moved")]
    Conflict,
    /// A stored row cannot be decoded or breaks an invariant.
    #[error("transfer log corrupt at seq {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },
    /// The master key or a subject key is missing, malformed or refused.
    #[error("transfer log keys: {0}")]
    Keys(String),
    /// A body cannot be decrypted: its subject key was destroyed (erasure) or it was altered.
    #[error("body not decryptable: {0}")]
    Decrypt(String),
    /// Reading from the backend failed.
    #[error("transfer log storage: {0}")]
    Storage(String),
    /// A file in the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
