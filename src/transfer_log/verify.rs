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
            "transfer log OK: {} entries, seq {}..{}, tip {}, verified in {:.3} s ({:.0} entries/s)",
            self.entries,
            self.first_seq,
            self.last_seq,
            hex::encode(self.tip_hash),
            secs,
            rate
        )
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

/// Verifies the log in `DATA_DIR/transfer-log.sqlite`, opened read-only. A large log is
/// verified as two halves on two threads, each with its own read-only connection; the halves
/// are then linked (the second half's first `prev_hash` must be the first half's last hash).
/// Entries are never changed once written, so two snapshots agree on the rows both contain.
pub fn verify_data_dir(data_dir: &Path) -> Result<VerifySummary, VerifyError> {
    let started = Instant::now();
    let mut first = SqliteBackend::open_read_only(data_dir)?;
    let last = first.tip()?.map_or(0, |t| t.0);
    if last < SPLIT_MIN {
        return verify(&mut first);
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
pub fn verify(backend: &mut dyn LogBackend) -> Result<VerifySummary, VerifyError> {
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
