//! The group-commit writer: the hot path of every transfer. Appenders (async tasks) prepare
//! their entry (subject HMAC, body digest, body encryption when the subject key is cached, the
//! stored list columns, and the hash input after the columns the writer assigns) and queue it;
//! one dedicated thread owning the backend takes everything queued (up to
//! [`BATCH_CAP`]), assigns seqs, chains the hashes, writes the batch in one transaction, commits
//! (synced), and only then acknowledges each appender.
//!
//! This module must never acknowledge an append before its batch is durable, nor leave a gap:
//! after a failed batch every appender in it gets `Unavailable`, and the tip is re-read from
//! the backend before the next batch.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chacha20poly1305::ChaCha20Poly1305;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::{error, warn};
use uuid::Uuid;

use super::entry::{chain_hash, encode_tail, now_micros};
use super::keys::seal;
use super::{
    Appended, Entry, EntryDraft, Keys, LogBackend, LogError, NO_SUBJECT, SqliteBackend,
    StagedEntry, WrappedKey,
};

/// The most entries one transaction holds.
pub const BATCH_CAP: usize = 4096;

/// How often a batch is re-chained after a `Conflict` (another writer moved the tip) before
/// its appenders get `Unavailable`.
const CONFLICT_RETRIES: usize = 3;

type ReadFn = Box<dyn FnOnce(&mut dyn LogBackend) + Send>;

// Appends are nearly every command; boxing them would add an allocation per entry to save
// bytes on the rare reads.
#[allow(clippy::large_enum_variant)]
enum Command {
    Append(Job),
    Read(ReadFn),
}

struct Job {
    /// Everything but seq, at and the hashes, which the writer assigns.
    staged: StagedEntry,
    /// `encode_tail` of `staged`; `None` while the body is still to seal.
    tail: Option<Vec<u8>>,
    /// A body still to seal because its subject key was not cached on the appender's side.
    plain: Option<Vec<u8>>,
    reply: oneshot::Sender<Result<Appended, LogError>>,
}

type Tip = Option<(u64, [u8; 32])>;

/// The transfer log handle: cheap to clone, shared by every request. Dropping the last handle
/// lets the writer drain its queue and stop (and waits for it).
#[derive(Clone)]
pub struct TransferLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TransferLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferLog")
            .field("tip_seq", &self.tip().map(|t| t.0))
            .finish()
    }
}

struct Inner {
    tx: Option<mpsc::Sender<Command>>,
    data_dir: std::path::PathBuf,
    keys: Arc<Keys>,
    tip: Arc<Mutex<Tip>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue makes the writer finish what is queued and return.
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            // The last handle may be dropped inside a read closure on the writer itself.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

fn unavailable_writer() -> LogError {
    LogError::Unavailable("the log writer has stopped".into())
}

impl TransferLog {
    /// Opens the log over `backend`, with the keys of `data_dir` (creating `master.key` on
    /// first use), continuing the chain from the backend's stored tip.
    pub fn open(
        data_dir: &Path,
        mut backend: Box<dyn LogBackend>,
    ) -> Result<TransferLog, LogError> {
        let keys = Arc::new(Keys::open(data_dir)?);
        let tip = backend.tip()?;
        let shared_tip = Arc::new(Mutex::new(tip));
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            backend,
            keys: keys.clone(),
            tip,
            shared_tip: shared_tip.clone(),
            buf: Vec::with_capacity(1024),
            tail_buf: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("kuzet-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| LogError::Io {
                path: data_dir.to_path_buf(),
                source,
            })?;
        Ok(TransferLog {
            inner: Arc::new(Inner {
                tx: Some(tx),
                data_dir: data_dir.to_path_buf(),
                keys,
                tip: shared_tip,
                thread: Some(thread),
            }),
        })
    }

    /// Opens the log on `DATA_DIR/transfer-log.sqlite`.
    pub fn open_sqlite(data_dir: &Path) -> Result<TransferLog, LogError> {
        let backend = SqliteBackend::open(data_dir)?;
        TransferLog::open(data_dir, Box::new(backend))
    }

    /// Appends one entry and returns once the batch holding it is committed and synced.
    /// `Unavailable` means it was not stored: the transfer must not happen.
    pub async fn append(&self, draft: EntryDraft) -> Result<Appended, LogError> {
        let keys = &self.inner.keys;
        let subject = draft.subject.as_ref().map(|iin| keys.subject_index(iin));
        let (body_digest, body, plain) = match draft.body {
            None => (None, None, None),
            Some(p) => {
                let digest: [u8; 32] = Sha256::digest(&p).into();
                match keys.cached(&subject.unwrap_or(NO_SUBJECT)) {
                    // Sealing here spreads the encryption over the appenders' threads.
                    Some(k) => (Some(digest), Some(seal(&k, draft.transfer_id, &p)?), None),
                    None => (Some(digest), None, Some(p)),
                }
            }
        };
        let entry = Entry {
            seq: 0,
            transfer_id: draft.transfer_id,
            at: time::OffsetDateTime::UNIX_EPOCH,
            kind: draft.kind,
            recipient: draft.recipient,
            operation: draft.operation,
            caller: draft.caller,
            purpose: draft.purpose,
            legal_basis: draft.legal_basis,
            consent_id: draft.consent_id,
            reference: draft.reference,
            subject,
            fields: draft.fields,
            dropped: draft.dropped,
            denied: draft.denied,
            body_digest,
            body,
            upstream: draft.upstream,
            outcome: draft.outcome,
            // Stored as a signed 64-bit integer; no real latency comes near the clamp.
            latency_ms: draft.latency_ms.map(|l| l.min(i64::MAX as u64)),
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        // Staging and encoding here too spreads the work over the appenders' threads.
        let staged = StagedEntry::new(entry);
        let tail = plain.is_none().then(|| {
            let mut tail = Vec::new();
            encode_tail(&staged, &mut tail);
            tail
        });
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append(Job {
            staged,
            tail,
            plain,
            reply,
        }))?;
        rx.await.map_err(|_| unavailable_writer())?
    }

    fn send(&self, c: Command) -> Result<(), LogError> {
        self.inner
            .tx
            .as_ref()
            .ok_or_else(unavailable_writer)?
            .send(c)
            .map_err(|_| unavailable_writer())
    }

    /// Runs `f` on the writer thread with the backend, between two batches. For the API's
    /// queries (by transfer, by subject); keep `f` short, appends wait meanwhile.
    pub async fn read<R, F>(&self, f: F) -> Result<R, LogError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn LogBackend) -> Result<R, LogError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Read(Box::new(move |b: &mut dyn LogBackend| {
            let _ = tx.send(f(b));
        })))?;
        rx.await.map_err(|_| unavailable_writer())?
    }

    /// Runs `f` with a read-only view of the log on a blocking thread, beside the writer
    /// (appends go on meanwhile); on the writer thread when the backend is not the data
    /// directory's SQLite file (test backends).
    pub async fn read_only<R, F>(&self, f: F) -> Result<R, LogError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn LogBackend) -> Result<R, LogError> + Send + 'static,
    {
        let path = self.inner.data_dir.join(super::SQLITE_FILE);
        if !path.exists() {
            return self.read(f).await;
        }
        let dir = self.inner.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut b = SqliteBackend::open_read_only(&dir)?;
            f(&mut b)
        })
        .await
        .map_err(|_| LogError::Storage("a log reader panicked".into()))?
    }

    /// One page of a search (see [`super::query::search`]), read beside the writer.
    pub async fn search(&self, q: super::Query, limit: usize) -> Result<super::Page, LogError> {
        self.read_only(move |b| super::query::search(b, &q, limit))
            .await
    }

    /// The entries of one transfer, in seq order.
    pub async fn get_transfer(&self, transfer_id: Uuid) -> Result<Vec<Entry>, LogError> {
        self.read_only(move |b| b.get_transfer(transfer_id)).await
    }

    /// The plaintext body of a stored entry (auditors, tests); `Decrypt` after erasure.
    pub async fn decrypt_body(&self, entry: &Entry) -> Result<Option<Vec<u8>>, LogError> {
        let keys = self.inner.keys.clone();
        let entry = entry.clone();
        self.read(move |b| keys.decrypt_body(b, &entry)).await
    }

    /// Erasure: destroys the body key of a subject index; `true` when one existed. Entries stay
    /// and still verify; their bodies no longer decrypt.
    pub async fn destroy_subject_key(&self, subject: [u8; 32]) -> Result<bool, LogError> {
        let keys = self.inner.keys.clone();
        self.read(move |b| {
            keys.forget(&subject);
            b.destroy_subject_key(&subject)
        })
        .await
    }

    /// The subject index (HMAC) of an IIN under this log's master key.
    pub fn subject_index(&self, iin: &kuzet_ident::Iin) -> [u8; 32] {
        self.inner.keys.subject_index(iin)
    }

    /// The key material (subject index, body decryption).
    pub fn keys(&self) -> &Arc<Keys> {
        &self.inner.keys
    }

    /// The last committed `(seq, hash)` this process knows, `None` for an empty log or while the
    /// tip is unknown after a failed batch. For health checks.
    pub fn tip(&self) -> Option<(u64, [u8; 32])> {
        *self.inner.tip.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drains the queue and stops the writer when this is the last handle (otherwise just drops
    /// this handle).
    pub async fn close(self) {
        if let Ok(mut inner) = Arc::try_unwrap(self.inner) {
            drop(inner.tx.take());
            if let Some(t) = inner.thread.take() {
                let _ = tokio::task::spawn_blocking(move || t.join()).await;
            }
        }
    }
}

struct Writer {
    backend: Box<dyn LogBackend>,
    keys: Arc<Keys>,
    /// The tip as stored, `None` when it must be re-read (start, after a failed batch).
    tip: Tip,
    shared_tip: Arc<Mutex<Tip>>,
    buf: Vec<u8>,
    tail_buf: Vec<u8>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut jobs = Vec::with_capacity(BATCH_CAP);
        let mut reads = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(c) = next {
                match c {
                    Command::Append(j) => jobs.push(j),
                    Command::Read(r) => reads.push(r),
                }
                next = if jobs.len() < BATCH_CAP {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !jobs.is_empty() {
                self.commit(std::mem::take(&mut jobs));
            }
            for r in reads.drain(..) {
                let backend = &mut *self.backend;
                if std::panic::catch_unwind(AssertUnwindSafe(|| r(backend))).is_err() {
                    error!("A transfer log read panicked; the writer goes on.");
                }
            }
        }
    }

    fn commit(&mut self, jobs: Vec<Job>) {
        let n = jobs.len();
        let mut entries = Vec::with_capacity(n);
        let mut tails = Vec::with_capacity(n);
        let mut plains = Vec::with_capacity(n);
        let mut replies = Vec::with_capacity(n);
        for j in jobs {
            entries.push(j.staged);
            tails.push(j.tail);
            plains.push(j.plain);
            replies.push(j.reply);
        }
        let result = self.write(&mut entries, &tails, &plains);
        *self.shared_tip.lock().unwrap_or_else(|p| p.into_inner()) = self.tip;
        match result {
            Ok(()) => {
                for (e, r) in entries.iter().map(StagedEntry::entry).zip(replies) {
                    let _ = r.send(Ok(Appended {
                        seq: e.seq,
                        hash: e.hash,
                        at: e.at,
                    }));
                }
            }
            Err(err) => {
                warn!(entries = n, error = %err, "Transfer log batch failed; appenders refused.");
                let msg = err.to_string();
                for r in replies {
                    let _ = r.send(Err(LogError::Unavailable(msg.clone())));
                }
            }
        }
    }

    fn write(
        &mut self,
        entries: &mut [StagedEntry],
        tails: &[Option<Vec<u8>>],
        plains: &[Option<Vec<u8>>],
    ) -> Result<(), LogError> {
        for _ in 0..CONFLICT_RETRIES {
            let (mut seq, mut prev) = match self.tip {
                Some(t) => t,
                None => self.backend.tip()?.unwrap_or((0, [0; 32])),
            };
            let new_keys = self.seal_pending(entries, plains)?;
            let wrapped: Vec<([u8; 32], WrappedKey)> =
                new_keys.iter().map(|(s, w, _)| (*s, w.clone())).collect();
            for (s, tail) in entries.iter_mut().zip(tails) {
                seq += 1;
                let tail = match tail {
                    Some(t) => t.as_slice(),
                    None => {
                        encode_tail(s, &mut self.tail_buf);
                        self.tail_buf.as_slice()
                    }
                };
                let e = &mut s.entry;
                e.seq = seq;
                e.at = now_micros();
                e.prev_hash = prev;
                e.hash = chain_hash(e, tail, &mut self.buf);
                prev = e.hash;
            }
            match self.backend.append(&wrapped, entries) {
                Ok(()) => {
                    self.tip = Some((seq, prev));
                    for (s, _, k) in new_keys {
                        self.keys.remember(s, k);
                    }
                    return Ok(());
                }
                Err(LogError::Conflict) => {
                    self.tip = None;
                    warn!("Transfer log tip moved under this writer; re-chaining the batch.");
                }
                Err(e) => {
                    self.tip = None;
                    return Err(e);
                }
            }
        }
        Err(LogError::Unavailable(
            "the chain tip kept moving under this writer".into(),
        ))
    }

    /// Seals the bodies whose subject key the appender did not have, finding or creating the
    /// keys. New keys are returned to be stored in the batch's transaction and cached only after
    /// it commits, so a failed batch never leaves a cached key that was not stored.
    #[allow(clippy::type_complexity)]
    fn seal_pending(
        &mut self,
        entries: &mut [StagedEntry],
        plains: &[Option<Vec<u8>>],
    ) -> Result<Vec<([u8; 32], WrappedKey, ChaCha20Poly1305)>, LogError> {
        let mut new_keys = Vec::new();
        let mut pending: HashMap<[u8; 32], ChaCha20Poly1305> = HashMap::new();
        for (s, plain) in entries.iter_mut().zip(plains) {
            let Some(plain) = plain else { continue };
            let e = &mut s.entry;
            let subject = e.subject.unwrap_or(NO_SUBJECT);
            let key = match pending.get(&subject) {
                Some(k) => k.clone(),
                None => {
                    let k = match self.keys.body_key(&mut *self.backend, &subject)? {
                        Some(k) => k,
                        None => {
                            let (k, w) = self.keys.new_subject_key(&subject)?;
                            new_keys.push((subject, w, k.clone()));
                            k
                        }
                    };
                    pending.insert(subject, k.clone());
                    k
                }
            };
            e.body = Some(seal(&key, e.transfer_id, plain)?);
        }
        Ok(new_keys)
    }
}
