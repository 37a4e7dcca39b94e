//! The storage trait behind the transfer log. It is shaped for a networked database shared by
//! several gateway replicas as well as for embedded SQLite: `append` checks the stored tip
//! inside its transaction and answers [`LogError::Conflict`] when another writer moved it, so
//! the chain stays one line. Implementations must never update or delete an entry; the only
//! destructive operation is [`LogBackend::destroy_subject_key`] (erasure).

use std::ops::ControlFlow;

use super::checkpoint::Checkpoint;
use super::entry::canonical_encoding;
use super::query::{Order, Query};
use super::{Entry, LogError, StagedEntry};

/// A subject's body key, wrapped (ChaCha20-Poly1305 under a key derived from the master key):
/// 12-byte nonce ‖ ciphertext ‖ tag.
pub type WrappedKey = Vec<u8>;

/// A stored row that cannot be decoded into an [`Entry`]; `verify` reports it at `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub seq: u64,
    pub reason: String,
}

/// One stored row as `verify` sees it, borrowed from the backend until the visitor returns.
#[derive(Clone, Copy, Debug)]
pub struct EncodedRow<'a> {
    /// 0 when the stored seq is not a positive integer.
    pub seq: u64,
    /// `prev_hash ‖ canonical encoding` of the stored values (the first 32 bytes are the stored
    /// `prev_hash`), or why the row cannot be hashed.
    pub hashed: Result<&'a [u8], &'a str>,
    /// The stored hash (zeros when `hashed` is an error).
    pub hash: [u8; 32],
}

/// What one append transaction stores, all or nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch<'a> {
    /// New subject keys (insert only; an existing key for a subject is a `Conflict`).
    pub new_keys: &'a [([u8; 32], WrappedKey)],
    /// Consecutive, chained entries.
    pub entries: &'a [StagedEntry],
    /// A checkpoint signed over the last of `entries`.
    pub checkpoint: Option<&'a Checkpoint>,
    /// Subject keys to destroy (erasure); absent ones are ignored.
    pub destroy_keys: &'a [[u8; 32]],
}

/// An entry holding a body, as retention sees it.
#[derive(Clone, Copy, Debug)]
pub struct BodyEntry<'a> {
    /// The subject index (`NO_SUBJECT` for entries without a subject).
    pub subject: &'a [u8; 32],
    pub recipient: &'a str,
    pub operation: &'a str,
    pub at: time::OffsetDateTime,
}

/// The chain's stored head, read under the writers' lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The last stored `(seq, hash)`, `None` when the log is empty.
    pub tip: Option<(u64, [u8; 32])>,
    /// How many transactions have destroyed subject keys so far (an erasure anywhere makes
    /// every writer's cached keys suspect).
    pub erasures: u64,
}

/// Blocking storage for the chain and the subject keys. The writer thread owns one instance;
/// readers (verify, auditors) open their own.
pub trait LogBackend: Send + 'static {
    /// The last stored `(seq, hash)`, `None` when the log is empty.
    fn tip(&mut self) -> Result<Option<(u64, [u8; 32])>, LogError>;

    /// For a backend that several writers (replicas) share: begins the append transaction,
    /// takes the writers' lock (held until [`LogBackend::append`] commits or
    /// [`LogBackend::abandon`] rolls back) and returns the stored head, so that the writer
    /// seals and chains its batch onto what is really stored and never conflicts. A backend
    /// with one writer returns `None` (the default); its `append` checks the tip itself.
    fn lock_chain(&mut self) -> Result<Option<Head>, LogError> {
        Ok(None)
    }

    /// Ends the transaction [`LogBackend::lock_chain`] began, storing nothing.
    fn abandon(&mut self) {}

    /// Stores a [`Batch`] in ONE transaction, committed durably before returning `Ok`. Fails
    /// with `Conflict`, storing nothing, when the stored tip is not
    /// `(entries[0].seq - 1, entries[0].prev_hash)`. Any other failure stores nothing either.
    fn append(&mut self, batch: &Batch<'_>) -> Result<(), LogError>;

    /// Upkeep between batches, once the last one's appenders are answered (the SQLite backend
    /// restarts its WAL here when its checkpointer asks for it). Failures are left to the next
    /// time; nothing is lost by them.
    fn between_batches(&mut self) {}

    /// Stores a checkpoint over an already stored entry, in its own transaction; fails with
    /// `Conflict` when the stored entry at `seq` does not have that hash.
    fn add_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), LogError>;

    /// Every stored checkpoint, in seq order. Rows that cannot be decoded are errors.
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, LogError>;

    /// The first checkpoint with `seq >= from_seq` (what a proof ends on).
    fn checkpoint_covering(&mut self, from_seq: u64) -> Result<Option<Checkpoint>, LogError>;

    /// The latest checkpoint.
    fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>, LogError>;

    /// The stored hash of the entry at `seq`.
    fn entry_hash_at(&mut self, seq: u64) -> Result<Option<[u8; 32]>, LogError>;

    /// Visits stored rows with `seq >= from_seq` in seq order, from one consistent snapshot,
    /// until the visitor breaks. Rows that cannot be decoded are passed as `Err`.
    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(Result<Entry, RowError>) -> ControlFlow<()>,
    ) -> Result<(), LogError>;

    /// Visits stored rows with `seq >= from_seq` in seq order as hash inputs, from one
    /// consistent snapshot, until the visitor breaks. Backends should produce the encoding from
    /// the stored values without decoding an [`Entry`] (that is what makes `verify` fast); this
    /// default decodes and re-encodes.
    fn scan_encoded(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(EncodedRow<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let mut buf = Vec::with_capacity(1024);
        self.scan(from_seq, &mut |row| match row {
            Ok(e) => {
                buf.clear();
                buf.extend_from_slice(&e.prev_hash);
                canonical_encoding(&e, &mut buf);
                visit(EncodedRow {
                    seq: e.seq,
                    hashed: Ok(&buf),
                    hash: e.hash,
                })
            }
            Err(r) => visit(EncodedRow {
                seq: r.seq,
                hashed: Err(&r.reason),
                hash: [0; 32],
            }),
        })
    }

    /// Visits the stored entries that match `q` (its cursor included) in `q.order`, from one
    /// consistent snapshot, until the visitor breaks. A row that cannot be decoded is an error
    /// (`Corrupt`). This default scans the whole log and filters with [`Query::matches`];
    /// backends should use their indexes.
    fn query(
        &mut self,
        q: &Query,
        visit: &mut dyn FnMut(Entry) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let mut hits = Vec::new();
        let mut bad = None;
        self.scan(1, &mut |row| match row {
            Ok(e) => {
                if q.matches(&e) {
                    if q.order == Order::OldestFirst {
                        if visit(e).is_break() {
                            return ControlFlow::Break(());
                        }
                    } else {
                        hits.push(e);
                    }
                }
                ControlFlow::Continue(())
            }
            Err(r) => {
                bad = Some(r);
                ControlFlow::Break(())
            }
        })?;
        if let Some(r) = bad {
            return Err(LogError::Corrupt {
                seq: r.seq,
                reason: r.reason,
            });
        }
        for e in hits.into_iter().rev() {
            if visit(e).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The entries of one transfer (OUT, IN or DENIED), in seq order.
    fn get_transfer(&mut self, transfer_id: uuid::Uuid) -> Result<Vec<Entry>, LogError>;

    /// The wrapped body key of a subject index, if one exists (and was not destroyed).
    fn subject_key(&mut self, subject: &[u8; 32]) -> Result<Option<WrappedKey>, LogError>;

    /// The wrapped keys of several subjects at once (those that have one), for a batch's
    /// cache misses: one round trip on a networked backend.
    fn subject_keys(
        &mut self,
        subjects: &[[u8; 32]],
    ) -> Result<Vec<([u8; 32], WrappedKey)>, LogError> {
        let mut out = Vec::new();
        for s in subjects {
            if let Some(w) = self.subject_key(s)? {
                out.push((*s, w));
            }
        }
        Ok(out)
    }

    /// Visits every entry that holds a body, in seq order (what retention needs).
    fn body_entries(&mut self, visit: &mut dyn FnMut(BodyEntry<'_>)) -> Result<(), LogError>;
}
