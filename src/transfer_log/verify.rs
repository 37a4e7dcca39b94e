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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Entry, LogBackend, LogError, RowError, SqliteBackend, entry_hash};

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

/// Verifies the log in `DATA_DIR/transfer-log.sqlite`, opened read-only.
pub fn verify_data_dir(data_dir: &Path) -> Result<VerifySummary, VerifyError> {
    let mut backend = SqliteBackend::open_read_only(data_dir)?;
    verify(&mut backend)
}

const CHUNK: usize = 2048;

type Chunk = Vec<Result<Entry, RowError>>;

/// Verifies the whole chain of `backend`. Rows are read on this thread and hashed on a second
/// one, so reading and hashing overlap.
pub fn verify(backend: &mut dyn LogBackend) -> Result<VerifySummary, VerifyError> {
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Chunk>(8);
    let (scanned, checked) = std::thread::scope(|s| {
        let hasher = s.spawn(|| {
            let r = check(rx);
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            r
        });
        let mut chunk = Vec::with_capacity(CHUNK);
        let scanned = backend.scan(1, &mut |row| {
            chunk.push(row);
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if stop.load(Ordering::Relaxed) || tx.send(full).is_err() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
        drop(tx);
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

fn check(rx: mpsc::Receiver<Chunk>) -> Result<(u64, u64, [u8; 32]), VerifyFailure> {
    let mut expected = 1u64;
    let mut prev = [0u8; 32];
    let mut buf = Vec::with_capacity(1024);
    for chunk in rx {
        for row in chunk {
            let seq = match &row {
                Ok(e) => e.seq,
                Err(r) => r.seq,
            };
            if seq > expected {
                return Err(failure(
                    expected,
                    format!("entry missing: the next stored entry is seq {seq}"),
                ));
            }
            if seq < expected {
                return Err(failure(seq, "entry out of order or duplicated"));
            }
            let e = row.map_err(|r| failure(r.seq, format!("row unreadable: {}", r.reason)))?;
            if e.prev_hash != prev {
                return Err(failure(
                    seq,
                    "prev_hash does not link to the previous entry (entry inserted, removed or \
                     reordered)",
                ));
            }
            if entry_hash(&e, &mut buf) != e.hash {
                return Err(failure(
                    seq,
                    "hash does not match the entry's content (entry altered)",
                ));
            }
            prev = e.hash;
            expected += 1;
        }
    }
    Ok((expected - 1, expected - 1, prev))
}
