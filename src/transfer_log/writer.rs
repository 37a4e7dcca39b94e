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
use std::time::{Duration, Instant};

use chacha20poly1305::ChaCha20Poly1305;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::{error, warn};
use uuid::Uuid;

use super::checkpoint::{CheckpointPolicy, CheckpointSigner};
use super::entry::{chain_hash, encode_tail, now_micros};
use super::keys::seal;
use super::{
    Appended, Batch, Entry, EntryDraft, Keys, LogBackend, LogError, NO_SUBJECT, SqliteBackend,
    StagedEntry, WrappedKey,
};
use crate::metrics::LogStats;

/// The recipient recorded on erasure entries: the lender itself, nothing leaves.
pub const ERASURE_RECIPIENT: &str = "kuzet";

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
    /// The plaintext body, kept until the batch commits: the writer seals it when the
    /// appender had no cached key, and seals it again when the key the appender used may have
    /// been destroyed meanwhile.
    plain: Option<Vec<u8>>,
    /// The key-cache generation the appender sealed the body under (`None`: not sealed).
    sealed_in: Option<u64>,
    /// An erasure: the subject whose body key this entry's transaction destroys.
    destroy: Option<[u8; 32]>,
    /// The entry, and for an erasure whether a key existed.
    reply: oneshot::Sender<Result<(Appended, bool), LogError>>,
}

/// What the writer keeps of a job while it writes the batch.
struct Pending {
    tail: Option<Vec<u8>>,
    plain: Option<Vec<u8>>,
    sealed_in: Option<u64>,
    destroy: Option<[u8; 32]>,
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
    /// The shared database readers open their own connections to (PostgreSQL).
    shared: Option<Arc<crate::db::Pg>>,
    keys: Arc<Keys>,
    tip: Arc<Mutex<Tip>>,
    /// When a batch last failed to be stored (for readiness).
    last_failure: Arc<Mutex<Option<Instant>>>,
    stats: Arc<LogStats>,
    thread: Option<JoinHandle<()>>,
}

/// How long after a failed batch the log still counts as unavailable for readiness: a
/// load balancer then sends this replica nothing for that long, and tries again after.
const FAILURE_HOLD: Duration = Duration::from_secs(10);

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
    pub fn open(data_dir: &Path, backend: Box<dyn LogBackend>) -> Result<TransferLog, LogError> {
        TransferLog::open_with(data_dir, backend, CheckpointPolicy::default())
    }

    /// [`TransferLog::open`] with a checkpoint policy; the signing key is
    /// `DATA_DIR/checkpoint.key` (created on first use).
    pub fn open_with(
        data_dir: &Path,
        backend: Box<dyn LogBackend>,
        checkpoints: CheckpointPolicy,
    ) -> Result<TransferLog, LogError> {
        TransferLog::start(data_dir, backend, checkpoints, None)
    }

    /// The writer over `backend`; `shared`: the database readers use beside it.
    fn start(
        data_dir: &Path,
        mut backend: Box<dyn LogBackend>,
        checkpoints: CheckpointPolicy,
        shared: Option<Arc<crate::db::Pg>>,
    ) -> Result<TransferLog, LogError> {
        let keys = Arc::new(Keys::open(data_dir)?);
        let signer = CheckpointSigner::open(data_dir)?;
        let tip = backend.tip()?;
        let last_checkpoint = backend.latest_checkpoint()?.map_or(0, |c| c.seq);
        let shared_tip = Arc::new(Mutex::new(tip));
        let last_failure = Arc::new(Mutex::new(None));
        let stats = Arc::new(LogStats::default());
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            backend,
            keys: keys.clone(),
            tip,
            shared_tip: shared_tip.clone(),
            last_failure: last_failure.clone(),
            stats: stats.clone(),
            buf: Vec::with_capacity(1024),
            tail_buf: Vec::new(),
            signer,
            policy: checkpoints,
            last_checkpoint,
            checkpointed_at: Instant::now(),
            bytes_since_checkpoint: 0,
            erasures_seen: None,
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
                shared,
                keys,
                tip: shared_tip,
                last_failure,
                stats,
                thread: Some(thread),
            }),
        })
    }

    /// Opens the log on a PostgreSQL database shared with other replicas (already migrated),
    /// with the keys of `data_dir`. Readers beside the writer use their own connections.
    pub fn open_postgres(
        data_dir: &Path,
        pg: Arc<crate::db::Pg>,
        checkpoints: CheckpointPolicy,
    ) -> Result<TransferLog, LogError> {
        let backend = super::PgBackend::new(pg.clone());
        TransferLog::start(data_dir, Box::new(backend), checkpoints, Some(pg))
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
        let (body_digest, body, sealed_in) = match &draft.body {
            None => (None, None, None),
            Some(p) => {
                let digest: [u8; 32] = Sha256::digest(p).into();
                match keys.cached(&subject.unwrap_or(NO_SUBJECT)) {
                    // Sealing here spreads the encryption over the appenders' threads.
                    Some((k, generation)) => (
                        Some(digest),
                        Some(seal(&k, draft.transfer_id, p)?),
                        Some(generation),
                    ),
                    None => (Some(digest), None, None),
                }
            }
        };
        let plain = draft.body;
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
        let tail = (plain.is_none() || sealed_in.is_some()).then(|| {
            let mut tail = Vec::new();
            encode_tail(&staged, &mut tail);
            tail
        });
        let (reply, rx) = oneshot::channel();
        let queued_at = Instant::now();
        let answer = match self.enqueue(Job {
            staged,
            tail,
            plain,
            sealed_in,
            destroy: None,
            reply,
        }) {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(unavailable_writer())),
            Err(e) => Err(e),
        };
        self.inner
            .stats
            .appended(queued_at.elapsed(), answer.is_ok());
        Ok(answer?.0)
    }

    /// Erasure: destroys the body key of a subject index and appends an `erasure` entry
    /// recording it, in one transaction. Earlier entries stay and still verify; their bodies
    /// no longer decrypt. `operation` says why (`erasure-request`, `retention`), `caller` who.
    /// Returns the entry and whether a key existed.
    pub async fn erase(
        &self,
        subject: [u8; 32],
        operation: &str,
        caller: &str,
        reference: Option<String>,
    ) -> Result<(Appended, bool), LogError> {
        let entry = Entry {
            seq: 0,
            transfer_id: Uuid::now_v7(),
            at: time::OffsetDateTime::UNIX_EPOCH,
            kind: super::Kind::Erasure,
            recipient: ERASURE_RECIPIENT.into(),
            operation: operation.into(),
            caller: caller.into(),
            purpose: None,
            legal_basis: None,
            consent_id: None,
            reference,
            subject: Some(subject),
            fields: Vec::new(),
            dropped: Vec::new(),
            denied: Vec::new(),
            body_digest: None,
            body: None,
            upstream: Vec::new(),
            // The writer sets `key_destroyed` or `no_key` once it knows.
            outcome: String::new(),
            latency_ms: None,
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let (reply, rx) = oneshot::channel();
        self.enqueue(Job {
            staged: StagedEntry::new(entry),
            tail: None,
            plain: None,
            sealed_in: None,
            destroy: Some(subject),
            reply,
        })?;
        rx.await.map_err(|_| unavailable_writer())?
    }

    /// Queues an append for the writer, counted in the queue depth until the writer takes it.
    fn enqueue(&self, job: Job) -> Result<(), LogError> {
        let stats = &self.inner.stats;
        // Counted before sending, so that the writer's count of what it took never passes it.
        stats.queued();
        self.send(Command::Append(job))
            .inspect_err(|_| stats.dequeued(1))
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

    /// Whether the log can be used now, for readiness: the writer runs and its backend answers
    /// (the tip is read on the writer thread, between batches), and no batch failed in the
    /// last ten seconds.
    pub async fn probe(&self) -> Result<(), LogError> {
        let failed = *self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(at) = failed
            && at.elapsed() < FAILURE_HOLD
        {
            return Err(LogError::Unavailable(
                "a batch failed to be stored in the last ten seconds".into(),
            ));
        }
        self.read(|b| b.tip().map(|_| ())).await
    }

    /// Runs `f` with a read-only view of the log on a blocking thread, beside the writer
    /// (appends go on meanwhile); on the writer thread when the backend is not the data
    /// directory's SQLite file (test backends).
    pub async fn read_only<R, F>(&self, f: F) -> Result<R, LogError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn LogBackend) -> Result<R, LogError> + Send + 'static,
    {
        if let Some(pg) = &self.inner.shared {
            let pg = pg.clone();
            return tokio::task::spawn_blocking(move || {
                let mut b = super::PgBackend::new(pg);
                f(&mut b)
            })
            .await
            .map_err(|_| LogError::Storage("a log reader panicked".into()))?;
        }
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

    /// The PostgreSQL database this log shares with other replicas, if it does.
    pub fn shared_database(&self) -> Option<Arc<crate::db::Pg>> {
        self.inner.shared.clone()
    }

    /// The subject index (HMAC) of an IIN under this log's master key.
    pub fn subject_index(&self, iin: &kuzet_ident::Iin) -> [u8; 32] {
        self.inner.keys.subject_index(iin)
    }

    /// The key material (subject index, body decryption).
    pub fn keys(&self) -> &Arc<Keys> {
        &self.inner.keys
    }

    /// The log's counters (queue depth, append latency, batch sizes, checkpoints), for metrics.
    pub fn stats(&self) -> Arc<LogStats> {
        self.inner.stats.clone()
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
    last_failure: Arc<Mutex<Option<Instant>>>,
    stats: Arc<LogStats>,
    buf: Vec<u8>,
    tail_buf: Vec<u8>,
    signer: CheckpointSigner,
    policy: CheckpointPolicy,
    /// The seq of the latest stored checkpoint (0: none).
    last_checkpoint: u64,
    checkpointed_at: Instant,
    /// Body bytes appended since the latest checkpoint.
    bytes_since_checkpoint: u64,
    /// A shared backend's erasure count when this writer last held the lock.
    erasures_seen: Option<u64>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut jobs = Vec::with_capacity(BATCH_CAP);
        let mut reads = Vec::new();
        // A command left over when a batch was cut after an erasure.
        let mut carried: Option<Command> = None;
        loop {
            let first = match carried.take() {
                Some(c) => c,
                None => match rx.recv_timeout(self.until_checkpoint_due()) {
                    Ok(c) => c,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.checkpoint_idle();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
            };
            let mut next = Some(first);
            while let Some(c) = next {
                match c {
                    Command::Append(j) => {
                        // An erasure ends its batch, so that no entry after it in the chain
                        // is sealed under the key it destroys.
                        let ends = j.destroy.is_some();
                        jobs.push(j);
                        if ends {
                            break;
                        }
                    }
                    Command::Read(r) => reads.push(r),
                }
                next = if jobs.len() < BATCH_CAP {
                    rx.try_recv().ok()
                } else {
                    None
                };
                if let Some(Command::Append(j)) = &next
                    && j.destroy.is_some()
                    && !jobs.is_empty()
                {
                    carried = next.take();
                }
            }
            if !jobs.is_empty() {
                self.stats.dequeued(jobs.len());
                self.commit(std::mem::take(&mut jobs));
                self.backend.between_batches();
            }
            for r in reads.drain(..) {
                let backend = &mut *self.backend;
                if std::panic::catch_unwind(AssertUnwindSafe(|| r(backend))).is_err() {
                    error!("A transfer log read panicked; the writer goes on.");
                }
            }
        }
        // Closing: pin what was appended since the last checkpoint.
        self.checkpoint_idle();
    }

    /// How long the writer may wait for work before the time-based checkpoint is due.
    fn until_checkpoint_due(&self) -> Duration {
        self.policy
            .every
            .saturating_sub(self.checkpointed_at.elapsed())
            .max(Duration::from_millis(10))
    }

    /// The time-based checkpoint while no batch comes: signs the tip when entries were
    /// appended since the last checkpoint.
    fn checkpoint_idle(&mut self) {
        self.checkpointed_at = Instant::now();
        let Some((seq, hash)) = self.tip else { return };
        if seq <= self.last_checkpoint {
            return;
        }
        let cp = self.signer.sign(seq, hash, now_micros());
        match self.backend.add_checkpoint(&cp) {
            Ok(()) => {
                self.stats.checkpoint();
                self.last_checkpoint = seq;
                self.bytes_since_checkpoint = 0;
            }
            Err(e) => {
                // Another writer moved on, or the store is down: the next batch re-reads the
                // tip and signs it then.
                self.tip = None;
                warn!(error = %e, "Checkpoint not stored; the next batch signs one.");
            }
        }
    }

    fn commit(&mut self, jobs: Vec<Job>) {
        let n = jobs.len();
        let mut entries = Vec::with_capacity(n);
        let mut pending = Vec::with_capacity(n);
        let mut replies = Vec::with_capacity(n);
        for j in jobs {
            entries.push(j.staged);
            pending.push(Pending {
                tail: j.tail,
                plain: j.plain,
                sealed_in: j.sealed_in,
                destroy: j.destroy,
            });
            replies.push(j.reply);
        }
        let started = Instant::now();
        let result = self.write(&mut entries, &mut pending);
        self.stats.batch(n, started.elapsed(), result.is_ok());
        *self.shared_tip.lock().unwrap_or_else(|p| p.into_inner()) = self.tip;
        match result {
            Ok(existed) => {
                for ((e, r), existed) in entries
                    .iter()
                    .map(StagedEntry::entry)
                    .zip(replies)
                    .zip(existed)
                {
                    let _ = r.send(Ok((
                        Appended {
                            seq: e.seq,
                            hash: e.hash,
                            at: e.at,
                        },
                        existed,
                    )));
                }
            }
            Err(err) => {
                warn!(entries = n, error = %err, "Transfer log batch failed; appenders refused.");
                *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                let msg = err.to_string();
                for r in replies {
                    let _ = r.send(Err(LogError::Unavailable(msg.clone())));
                }
            }
        }
    }

    /// Chains and stores the batch; per entry, whether an erasure found a key to destroy.
    fn write(
        &mut self,
        entries: &mut [StagedEntry],
        pending: &mut [Pending],
    ) -> Result<Vec<bool>, LogError> {
        let written = self.write_chained(entries, pending);
        if written.is_err() {
            // Releases the writers' lock of a shared backend, if this batch still holds it.
            self.backend.abandon();
        }
        written
    }

    fn write_chained(
        &mut self,
        entries: &mut [StagedEntry],
        pending: &mut [Pending],
    ) -> Result<Vec<bool>, LogError> {
        for _ in 0..CONFLICT_RETRIES {
            // A shared backend: the batch is built under the writers' lock, onto the stored
            // head, so other replicas' appends never make it conflict.
            let head = self.backend.lock_chain()?;
            if let Some(h) = head {
                if self.erasures_seen.is_some_and(|seen| seen != h.erasures) {
                    // Another replica destroyed keys: any cached one may be among them.
                    self.keys.forget_all();
                }
                self.erasures_seen = Some(h.erasures);
                if h.tip != self.tip {
                    self.tip = Some(h.tip.unwrap_or((0, [0; 32])));
                }
            }
            let (mut seq, mut prev) = match self.tip {
                Some(t) => t,
                None => self.backend.tip()?.unwrap_or((0, [0; 32])),
            };
            let generation = self.keys.generation();
            let mut existed = vec![false; entries.len()];
            let mut destroy = Vec::new();
            for ((s, p), existed) in entries.iter_mut().zip(pending.iter_mut()).zip(&mut existed) {
                // A body sealed under a key that may have been destroyed since is sealed again,
                // and so is one this writer sealed in a failed attempt (under a key that may
                // never have been stored).
                if p.plain.is_some() && p.sealed_in.is_none_or(|g| g != generation) {
                    s.entry.body = None;
                    p.sealed_in = None;
                    p.tail = None;
                }
                if let Some(subject) = p.destroy {
                    *existed = self.backend.subject_key(&subject)?.is_some();
                    s.entry.outcome = if *existed { "key_destroyed" } else { "no_key" }.into();
                    p.tail = None;
                    destroy.push(subject);
                }
            }
            let new_keys = self.seal_pending(entries, pending)?;
            let wrapped: Vec<([u8; 32], WrappedKey)> =
                new_keys.iter().map(|(s, w, _)| (*s, w.clone())).collect();
            let mut body_bytes = 0u64;
            for (s, p) in entries.iter_mut().zip(pending.iter()) {
                seq += 1;
                let tail = match &p.tail {
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
                body_bytes += e.body.as_ref().map_or(0, |b| b.ciphertext.len() as u64);
            }
            let checkpoint = self.checkpoint_due(seq, body_bytes).then(|| {
                self.signer.sign(
                    seq,
                    prev,
                    entries.last().map_or_else(now_micros, |e| e.entry.at),
                )
            });
            let batch = Batch {
                new_keys: &wrapped,
                entries,
                checkpoint: checkpoint.as_ref(),
                destroy_keys: &destroy,
            };
            match self.backend.append(&batch) {
                Ok(()) => {
                    self.tip = Some((seq, prev));
                    if let Some(h) = head {
                        self.erasures_seen = Some(h.erasures + u64::from(!destroy.is_empty()));
                    }
                    for (s, _, k) in new_keys {
                        self.keys.remember(generation, s, k);
                    }
                    for s in &destroy {
                        self.keys.forget(s);
                    }
                    if checkpoint.is_some() {
                        self.stats.checkpoint();
                        self.last_checkpoint = seq;
                        self.checkpointed_at = Instant::now();
                        self.bytes_since_checkpoint = 0;
                    } else {
                        self.bytes_since_checkpoint += body_bytes;
                    }
                    return Ok(existed);
                }
                Err(LogError::Conflict) => {
                    // Another writer appended; it may have destroyed keys we hold.
                    self.tip = None;
                    self.keys.forget_all();
                    if let Ok(Some(c)) = self.backend.latest_checkpoint() {
                        self.last_checkpoint = self.last_checkpoint.max(c.seq);
                    }
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

    /// Whether the batch ending at `last_seq` with `body_bytes` of bodies gets a checkpoint.
    fn checkpoint_due(&self, last_seq: u64, body_bytes: u64) -> bool {
        last_seq.saturating_sub(self.last_checkpoint) >= self.policy.every_entries
            || self.bytes_since_checkpoint + body_bytes >= self.policy.every_bytes
            || self.checkpointed_at.elapsed() >= self.policy.every
    }

    /// Seals the bodies not sealed yet, finding or creating the subjects' keys. New keys are
    /// returned to be stored in the batch's transaction and cached only after it commits, so a
    /// failed batch never leaves a cached key that was not stored.
    #[allow(clippy::type_complexity)]
    fn seal_pending(
        &mut self,
        entries: &mut [StagedEntry],
        pending: &[Pending],
    ) -> Result<Vec<([u8; 32], WrappedKey, ChaCha20Poly1305)>, LogError> {
        let mut new_keys = Vec::new();
        let mut keys: HashMap<[u8; 32], ChaCha20Poly1305> = HashMap::new();
        // The subjects whose keys are not cached: looked up at once (one round trip on a
        // networked backend); those without a stored key get a new one below.
        let generation = self.keys.generation();
        let mut missing = Vec::new();
        for (s, p) in entries.iter().zip(pending) {
            if p.plain.is_none() || s.entry.body.is_some() {
                continue;
            }
            let subject = s.entry.subject.unwrap_or(NO_SUBJECT);
            if keys.contains_key(&subject) {
                continue;
            }
            match self.keys.cached(&subject) {
                Some((k, _)) => {
                    keys.insert(subject, k);
                }
                None => missing.push(subject),
            }
        }
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            for (subject, wrapped) in self.backend.subject_keys(&missing)? {
                let k = self.keys.unwrap_key(&subject, &wrapped)?;
                self.keys.remember(generation, subject, k.clone());
                keys.insert(subject, k);
            }
        }
        for (s, p) in entries.iter_mut().zip(pending) {
            let Some(plain) = &p.plain else { continue };
            if s.entry.body.is_some() {
                continue;
            }
            let e = &mut s.entry;
            let subject = e.subject.unwrap_or(NO_SUBJECT);
            // Every subject here is cached or was looked up: one still without a key has none.
            let key = match keys.get(&subject) {
                Some(k) => k.clone(),
                None => {
                    let (k, w) = self.keys.new_subject_key(&subject)?;
                    new_keys.push((subject, w, k.clone()));
                    keys.insert(subject, k.clone());
                    k
                }
            };
            e.body = Some(seal(&key, e.transfer_id, plain)?);
        }
        Ok(new_keys)
    }
}
