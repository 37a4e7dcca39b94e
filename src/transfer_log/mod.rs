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
//! (sqlite.rs) its embedded implementation; [`Keys`] (keys.rs) holds the master key, the subject
//! index (HMAC of the IIN) and the per-subject body keys; [`verify`] (verify.rs) re-walks the
//! chain read-only.
//!
//! This module must never: update or delete a stored entry (subject body keys live in a separate
//! table and are the only thing erasure destroys); store an IIN or a body in clear; put a
//! personal value into an error message or tracing output; acknowledge an append before the
//! batch holding it is committed and synced.
//!
//! # Canonical encoding, version 1
//!
//! The bytes hashed for an entry are `prev_hash` (32 bytes) followed by:
//!
//! ```text
//! "KZLOG" 0x01            domain tag and encoding version (6 bytes)
//! u64 seq
//! [16] transfer_id        UUID bytes
//! i64 at                  UTC, microseconds since the Unix epoch
//! u8 kind                 1 = out, 2 = in, 3 = denied
//! str recipient, str operation, str caller
//! opt<str> purpose, opt<str> legal_basis
//! opt<[16]> consent_id
//! opt<str> reference
//! opt<[32]> subject       HMAC-SHA256 subject index
//! list<str> fields, list<str> dropped, list<str> denied
//! opt<[32]> body_digest   SHA-256 of the plaintext body
//! opt<[12] bytes> body    nonce, then the ciphertext (with its tag)
//! list<str str> upstream
//! str outcome
//! opt<u64> latency_ms
//! ```
//!
//! Integers are big-endian; `str`/`bytes` are a `u32` byte length then the bytes (UTF-8 for
//! `str`); `opt<T>` is `0x00`, or `0x01` then `T`; `list<T>` is a `u32` count then the items;
//! `[n]` is exactly n bytes. Every stored column except `hash` itself is covered (`prev_hash` as
//! the hash's prefix), including the body ciphertext, so destroying a subject's body key later
//! never changes a hash. A future version changes the version byte; verify refuses unknown ones
//! by construction (it recomputes with version 1 only).

mod backend;
mod entry;
mod keys;
mod sqlite;
pub mod testing;
mod verify;
mod writer;

pub use backend::{EncodedRow, LogBackend, RowError, WrappedKey};
pub use entry::{Appended, Entry, EntryDraft, Kind, SealedBody, canonical_encoding, entry_hash};
pub use keys::{Keys, MASTER_KEY_FILE, NO_SUBJECT};
pub use sqlite::{SQLITE_FILE, SqliteBackend};
pub use verify::{VerifyError, VerifyFailure, VerifySummary, verify, verify_data_dir};
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
