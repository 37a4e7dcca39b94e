//! Verification of the chain: re-walks every stored entry in seq order, recomputes each hash
//! and checks each link, and names the first bad `seq`. It opens the log read-only so an
//! auditor can run it beside a running gateway (it reads one consistent snapshot).
//!
//! It must never write to the log. What it cannot see on its own: entries cut off the END of
//! the log (the remaining chain is intact) — signed checkpoints, pinned outside the gateway,
//! are what catch that.

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::checkpoint::{Checkpoint, data_dir_public_key};
use super::{LogBackend, LogError, SqliteBackend};

/// A verified chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySummary {
    /// Entries checked; 0 for an empty log.
    pub entries: u64,
    /// 1 for a non-empty log, 0 for an empty one.
    pub first_seq: u64,
    /// The tip's seq; 0 for an empty log.
    pub last_seq: u64,
    /// The tip's hash; zeros for an empty log.
    pub tip_hash: [u8; 32],
    /// Signed checkpoints checked (signature, key and the entry hash they pin).
    pub checkpoints: u64,
    /// The seq of the latest checkpoint, 0 when there is none.
    pub latest_checkpoint: u64,
    /// The public key the checkpoints were checked against.
    pub public_key: Option<[u8; 32]>,
    pub elapsed: Duration,
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.entries as f64 / secs
        } else {
            0.0
        };
        write!(
            f,
            "transfer log OK: {} entries, seq {}..{}, tip {}, ",
            self.entries,
            self.first_seq,
            self.last_seq,
            hex::encode(self.tip_hash),
        )?;
        match self.checkpoints {
            0 => f.write_str("no signed checkpoints yet, ")?,
            n => write!(
                f,
                "{n} signed checkpoints (latest at seq {}, key {}), ",
                self.latest_checkpoint,
                self.public_key.map(hex::encode).unwrap_or_default()
            )?,
        }
        write!(f, "verified in {secs:.3} s ({rate:.0} entries/s)")
    }
}

/// The first entry at which the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    pub seq: u64,
    pub reason: String,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transfer log BROKEN at seq {}: {}",
            self.seq, self.reason
        )
    }
}

/// Why verification did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The chain is broken; `seq` is the first bad entry.
    #[error("{0}")]
    Broken(VerifyFailure),
    /// The log could not be read at all.
    #[error("cannot verify the transfer log: {0}")]
    Log(#[from] LogError),
}

impl VerifyError {
    /// The first bad seq, when the chain itself is broken.
    pub fn bad_seq(&self) -> Option<u64> {
        match self {
            VerifyError::Broken(f) => Some(f.seq),
            VerifyError::Log(_) => None,
        }
    }
}

/// The JSON of a verification: `kuzet log verify --json` and `GET /v1/log/verify` show it.
pub fn verify_json(result: &Result<VerifySummary, VerifyError>) -> serde_json::Value {
    match result {
        Ok(s) => serde_json::json!({
            "ok": true,
            "entries": s.entries,
            "first_seq": s.first_seq,
            "last_seq": s.last_seq,
            "tip_hash": hex::encode(s.tip_hash),
            "checkpoints": s.checkpoints,
            "latest_checkpoint_seq": s.latest_checkpoint,
            "public_key": s.public_key.map(hex::encode),
            "elapsed_ms": s.elapsed.as_millis() as u64,
        }),
        Err(VerifyError::Broken(f)) => serde_json::json!({
            "ok": false,
            "bad_seq": f.seq,
            "reason": f.reason,
        }),
        Err(e) => serde_json::json!({
            "ok": false,
            "bad_seq": null,
            "reason": e.to_string(),
        }),
    }
}

/// What verification checks beyond the stored chain.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The key checkpoints must be signed with. `verify_data_dir` uses `checkpoint.key`'s
    /// public key when this is `None`; without either, each checkpoint is checked against its
    /// own key and all must share one.
    pub public_key: Option<[u8; 32]>,
    /// Checkpoints held outside the gateway (published, or handed to an auditor): the chain
    /// must contain the entry each one pins.
    pub trusted: Vec<Checkpoint>,
}

/// Verifies the log in `DATA_DIR/transfer-log.sqlite` and its signed checkpoints against
/// `checkpoint.key`, all opened read-only.
pub fn verify_data_dir(data_dir: &Path) -> Result<VerifySummary, VerifyError> {
    verify_data_dir_with(data_dir, VerifyOptions::default())
}

/// [`verify_data_dir`] with options (a pinned key, trusted checkpoints).
pub fn verify_data_dir_with(
    data_dir: &Path,
    mut options: VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    if options.public_key.is_none() {
        options.public_key = data_dir_public_key(data_dir)?;
    }
    // Checkpoints are read before the chain: a running gateway signs new ones meanwhile, and
    // those must not look like entries cut off the end of the chain read earlier.
    let mut backend = SqliteBackend::open_read_only(data_dir)?;
    let stored = backend.checkpoints()?;
    let chain = verify_chain_data_dir(data_dir);
    with_checkpoints(&mut backend, stored, chain, &options)
}

/// Verifies the log a data directory's gateway writes: its SQLite file, or, when the replicas
/// share one, the PostgreSQL database's. The checkpoint key is the data directory's unless
/// `options` pins one.
pub fn verify_log(
    data_dir: &Path,
    shared: Option<std::sync::Arc<crate::db::Pg>>,
    mut options: VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    let Some(pg) = shared else {
        return verify_data_dir_with(data_dir, options);
    };
    if options.public_key.is_none() {
        options.public_key = data_dir_public_key(data_dir)?;
    }
    verify_with(&mut super::PgBackend::new(pg), &options)
}

/// Verifies the whole chain of `backend` and its checkpoints (see [`VerifyOptions`]).
pub fn verify_with(
    backend: &mut dyn LogBackend,
    options: &VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    let stored = backend.checkpoints()?;
    let chain = verify_chain(backend);
    with_checkpoints(backend, stored, chain, options)
}

/// Verifies the whole chain of `backend` and its checkpoints' signatures.
pub fn verify(backend: &mut dyn LogBackend) -> Result<VerifySummary, VerifyError> {
    verify_with(backend, &VerifyOptions::default())
}

/// Checks the checkpoints against a chain result: each one's signature and key, and that it
/// pins the stored hash at its seq; a checkpoint beyond the tip means entries were cut off
/// the end. The answer names the lowest bad seq, whether a checkpoint or the chain found it.
fn with_checkpoints(
    backend: &mut dyn LogBackend,
    stored: Vec<Checkpoint>,
    chain: Result<VerifySummary, VerifyError>,
    options: &VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    let broken_at = match &chain {
        Ok(_) => None,
        Err(VerifyError::Broken(f)) => Some(f.seq),
        Err(VerifyError::Log(_)) => return chain,
    };
    let last_seq = chain.as_ref().map_or(0, |s| s.last_seq);
    let key = options
        .public_key
        .or_else(|| stored.first().map(|c| c.public_key));
    let mut bad: Option<VerifyFailure> = None;
    let mut note = |f: VerifyFailure| {
        if bad.as_ref().is_none_or(|b| f.seq < b.seq) {
            bad = Some(f);
        }
    };
    let pinned = stored
        .iter()
        .map(|c| (c, "signed checkpoint"))
        .chain(options.trusted.iter().map(|c| (c, "trusted checkpoint")));
    for (cp, what) in pinned {
        let seq = cp.seq;
        if !cp.verify() {
            note(failure(
                seq,
                format!("{what} at seq {seq}: the signature does not verify (forged or altered)"),
            ));
            continue;
        }
        if key.is_some_and(|k| k != cp.public_key) {
            note(failure(
                seq,
                format!("{what} at seq {seq}: signed by a key other than the log's checkpoint key"),
            ));
            continue;
        }
        if broken_at.is_some_and(|b| seq >= b) {
            continue;
        }
        if broken_at.is_none() && seq > last_seq {
            note(failure(
                last_seq + 1,
                format!(
                    "entries missing at the end: the {what} at seq {seq} covers them, the log \
                     ends at seq {last_seq}"
                ),
            ));
            continue;
        }
        if seq == 0 || backend.entry_hash_at(seq)? != Some(cp.hash) {
            note(failure(
                seq,
                format!(
                    "the {what} at seq {seq} does not match the stored entry (rewritten after \
                     it was signed)"
                ),
            ));
        }
    }
    match (chain, bad) {
        (Err(VerifyError::Broken(f)), Some(b)) if b.seq < f.seq => Err(VerifyError::Broken(b)),
        (Err(e), _) => Err(e),
        (Ok(_), Some(b)) => Err(VerifyError::Broken(b)),
        (Ok(mut s), None) => {
            s.checkpoints = stored.len() as u64;
            s.latest_checkpoint = stored.last().map_or(0, |c| c.seq);
            s.public_key = key;
            Ok(s)
        }
    }
}

/// Verifies the chain in `DATA_DIR/transfer-log.sqlite`, opened read-only. A large log is
/// verified as two halves on two threads, each with its own read-only connection; the halves
/// are then linked (the second half's first `prev_hash` must be the first half's last hash).
/// Entries are never changed once written, so two snapshots agree on the rows both contain.
fn verify_chain_data_dir(data_dir: &Path) -> Result<VerifySummary, VerifyError> {
    let started = Instant::now();
    let mut first = SqliteBackend::open_read_only(data_dir)?;
    let last = first.tip()?.map_or(0, |t| t.0);
    if last < SPLIT_MIN {
        return verify_chain(&mut first);
    }
    let mid = last / 2;
    let mut second = SqliteBackend::open_read_only(data_dir)?;
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| walk(&mut second, mid + 1, u64::MAX));
        let a = walk(&mut first, 1, mid);
        let b = b.join().unwrap_or_else(|_| Walk {
            first_prev: None,
            result: Err(failure(mid + 1, "the verifier thread panicked")),
            scanned: Ok(()),
        });
        (a, b)
    });
    let a_span = a.result.map_err(VerifyError::Broken)?;
    a.scanned?;
    if a_span.next != mid + 1 {
        return Err(VerifyError::Broken(failure(
            a_span.next,
            format!("entry missing: the next stored entry is seq {}", mid + 1),
        )));
    }
    if let Some(p) = b.first_prev
        && p != a_span.prev
    {
        return Err(VerifyError::Broken(failure(mid + 1, UNLINKED)));
    }
    let b_span = b.result.map_err(VerifyError::Broken)?;
    b.scanned?;
    let (entries, prev) = if b_span.next > mid + 1 {
        (b_span.next - 1, b_span.prev)
    } else {
        (a_span.next - 1, a_span.prev)
    };
    Ok(VerifySummary {
        entries,
        first_seq: 1,
        last_seq: entries,
        tip_hash: prev,
        checkpoints: 0,
        latest_checkpoint: 0,
        public_key: None,
        elapsed: started.elapsed(),
    })
}

/// Below this many entries there is nothing to gain from a second connection. Kept small so
/// that the tests' logs of a few dozen entries exercise the split path too.
const SPLIT_MIN: u64 = 16;

const UNLINKED: &str =
    "prev_hash does not link to the previous entry (entry inserted, removed or reordered)";

/// Where a walk over a seq range got to: the next expected seq and the last hash.
struct Span {
    next: u64,
    prev: [u8; 32],
}

struct Walk {
    /// The stored `prev_hash` of the range's first row (not checked by the walk itself when
    /// the range does not start at seq 1).
    first_prev: Option<[u8; 32]>,
    result: Result<Span, VerifyFailure>,
    scanned: Result<(), LogError>,
}

/// Reads and hashes the rows with `from <= seq <= to` on this thread.
fn walk(backend: &mut dyn LogBackend, from: u64, to: u64) -> Walk {
    let mut span = Span {
        next: from,
        prev: [0; 32],
    };
    let mut first_prev = None;
    let mut failed = None;
    let scanned = backend.scan_encoded(from, &mut |row| {
        let seq = row.seq;
        if seq > to {
            return ControlFlow::Break(());
        }
        let mut fail = |f: VerifyFailure| {
            failed = Some(f);
            ControlFlow::Break(())
        };
        if seq > span.next {
            return fail(failure(
                span.next,
                format!("entry missing: the next stored entry is seq {seq}"),
            ));
        }
        if seq < span.next {
            return fail(failure(seq, "entry out of order or duplicated"));
        }
        let input = match row.hashed {
            Ok(b) => b,
            Err(r) => return fail(failure(seq, format!("row unreadable: {r}"))),
        };
        let stored_prev: Option<[u8; 32]> = input.get(..32).and_then(|p| p.try_into().ok());
        if seq == from && from != 1 {
            first_prev = stored_prev;
        } else if stored_prev != Some(span.prev) {
            return fail(failure(seq, UNLINKED));
        }
        let hash: [u8; 32] = Sha256::digest(input).into();
        if hash != row.hash {
            return fail(failure(
                seq,
                "hash does not match the entry's content (entry altered)",
            ));
        }
        span.prev = hash;
        span.next += 1;
        ControlFlow::Continue(())
    });
    Walk {
        first_prev,
        result: failed.map_or(Ok(span), Err),
        scanned,
    }
}

/// Rows per chunk handed from the reading thread to the hashing one.
const CHUNK: usize = 4096;
/// Chunks in flight; they are reused, so verification allocates nothing per row.
const CHUNKS: usize = 4;

/// Rows read but not yet hashed: their hash inputs back to back in `bytes`.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    rows: Vec<ChunkRow>,
}

struct ChunkRow {
    seq: u64,
    /// The row's hash input is `bytes[start..end]`; `Err` names why there is none.
    input: Result<(usize, usize), String>,
    hash: [u8; 32],
}

/// Verifies the whole chain of `backend`. Rows are read (and encoded from their stored values)
/// on this thread and hashed on a second one, so reading and hashing overlap.
fn verify_chain(backend: &mut dyn LogBackend) -> Result<VerifySummary, VerifyError> {
    let started = Instant::now();
    let (full_tx, full_rx) = mpsc::sync_channel::<Chunk>(CHUNKS);
    let (free_tx, free_rx) = mpsc::sync_channel::<Chunk>(CHUNKS);
    for _ in 1..CHUNKS {
        let _ = free_tx.send(Chunk::default());
    }
    let (scanned, checked) = std::thread::scope(|s| {
        // The hasher owns the return channel: when it stops (a broken chain) the reader's next
        // send or receive fails and the scan stops too.
        let hasher = s.spawn(move || check(full_rx, free_tx));
        let mut chunk = Chunk::default();
        let scanned = backend.scan_encoded(1, &mut |row| {
            let input = match row.hashed {
                Ok(b) => {
                    let start = chunk.bytes.len();
                    chunk.bytes.extend_from_slice(b);
                    Ok((start, chunk.bytes.len()))
                }
                Err(reason) => Err(reason.to_owned()),
            };
            chunk.rows.push(ChunkRow {
                seq: row.seq,
                input,
                hash: row.hash,
            });
            if chunk.rows.len() == CHUNK {
                let Ok(next) = free_rx.recv() else {
                    return ControlFlow::Break(());
                };
                if full_tx.send(std::mem::replace(&mut chunk, next)).is_err() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !chunk.rows.is_empty() {
            let _ = full_tx.send(chunk);
        }
        drop(full_tx);
        let checked = hasher
            .join()
            .unwrap_or_else(|_| Err(failure(0, "the verifier thread panicked")));
        (scanned, checked)
    });
    // A broken chain is the more useful answer even when the scan also stopped early.
    let (entries, last_seq, tip_hash) = checked.map_err(VerifyError::Broken)?;
    scanned?;
    Ok(VerifySummary {
        entries,
        first_seq: u64::from(entries > 0),
        last_seq,
        tip_hash,
        checkpoints: 0,
        latest_checkpoint: 0,
        public_key: None,
        elapsed: started.elapsed(),
    })
}

fn failure(seq: u64, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure {
        seq,
        reason: reason.into(),
    }
}

fn check(
    rx: mpsc::Receiver<Chunk>,
    free: mpsc::SyncSender<Chunk>,
) -> Result<(u64, u64, [u8; 32]), VerifyFailure> {
    let mut expected = 1u64;
    let mut prev = [0u8; 32];
    for mut chunk in rx {
        for row in &chunk.rows {
            let seq = row.seq;
            if seq > expected {
                return Err(failure(
                    expected,
                    format!("entry missing: the next stored entry is seq {seq}"),
                ));
            }
            if seq < expected {
                return Err(failure(seq, "entry out of order or duplicated"));
            }
            let (start, end) = row
                .input
                .clone()
                .map_err(|r| failure(seq, format!("row unreadable: {r}")))?;
            let input = &chunk.bytes[start..end];
            if input.get(..32) != Some(&prev[..]) {
                return Err(failure(
                    seq,
                    "prev_hash does not link to the previous entry (entry inserted, removed or \
                     reordered)",
                ));
            }
            let hash: [u8; 32] = Sha256::digest(input).into();
            if hash != row.hash {
                return Err(failure(
                    seq,
                    "hash does not match the entry's content (entry altered)",
                ));
            }
            prev = hash;
            expected += 1;
        }
        chunk.bytes.clear();
        chunk.rows.clear();
        // The reader may have stopped already; then the chunk is simply dropped.
        let _ = free.try_send(chunk);
    }
    Ok((expected - 1, expected - 1, prev))
}
