//! The storage trait behind the transfer log. It is shaped for a networked database shared by
//! several gateway replicas as well as for embedded SQLite: `append` checks the stored tip
//! inside its transaction and answers [`LogError::Conflict`] when another writer moved it, so
//! the chain stays one line. Implementations must never update or delete an entry; the only
//! destructive operation is [`LogBackend::destroy_subject_key`] (erasure).

use std::ops::ControlFlow;

use super::{Entry, LogError};

/// A subject's body key, wrapped (ChaCha20-Poly1305 under a key derived from the master key):
/// 12-byte nonce ‖ ciphertext ‖ tag.
pub type WrappedKey = Vec<u8>;

/// A stored row that cannot be decoded into an [`Entry`]; `verify` reports it at `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub seq: u64,
    pub reason: String,
}

/// Blocking storage for the chain and the subject keys. The writer thread owns one instance;
/// readers (verify, auditors) open their own.
pub trait LogBackend: Send + 'static {
    /// The last stored `(seq, hash)`, `None` when the log is empty.
    fn tip(&mut self) -> Result<Option<(u64, [u8; 32])>, LogError>;

    /// Stores `new_keys` (insert only; an existing key for a subject is a `Conflict`) and
    /// `entries` (consecutive seqs, chained) in ONE transaction, committed durably before
    /// returning `Ok`. Fails with `Conflict`, storing nothing, when the stored tip is not
    /// `(entries[0].seq - 1, entries[0].prev_hash)`. Any other failure stores nothing either.
    fn append(
        &mut self,
        new_keys: &[([u8; 32], WrappedKey)],
        entries: &[Entry],
    ) -> Result<(), LogError>;

    /// Visits stored rows with `seq >= from_seq` in seq order, from one consistent snapshot,
    /// until the visitor breaks. Rows that cannot be decoded are passed as `Err`.
    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(Result<Entry, RowError>) -> ControlFlow<()>,
    ) -> Result<(), LogError>;

    /// The entries of one transfer (OUT, IN or DENIED), in seq order.
    fn get_transfer(&mut self, transfer_id: uuid::Uuid) -> Result<Vec<Entry>, LogError>;

    /// The wrapped body key of a subject index, if one exists (and was not destroyed).
    fn subject_key(&mut self, subject: &[u8; 32]) -> Result<Option<WrappedKey>, LogError>;

    /// Destroys a subject's wrapped body key (erasure); `true` when one existed. Entries are
    /// untouched, so the chain still verifies while their bodies become unreadable.
    fn destroy_subject_key(&mut self, subject: &[u8; 32]) -> Result<bool, LogError>;
}
