//! The subject index: which seqs concern which subject (by its HMAC), in a separate SQLite file
//! (`DATA_DIR/transfer-index.sqlite`) kept off the commit path. The log table itself has no
//! index on `subject` (a random HMAC: every commit would dirty a different index page, and
//! every commit's pages are on the appenders' latency); instead the writer's checkpointer
//! thread brings this file up to date after its WAL checkpoints, and a query by subject reads
//! the index up to where it is complete (`upto`) and scans only the entries after it.
//!
//! The index is derived data: it can be deleted at any time and is rebuilt from the log. It
//! records the hash of the entry at `upto`; when the log does not have that entry with that
//! hash (a log restored from an older backup, another log file), it is ignored by readers and
//! rebuilt by the next catch-up. A file in another layout (`PRAGMA user_version`, see
//! [`LAYOUT`]) is rebuilt the same way.
//!
//! Rows are keyed `(bucket, subject, seq)` with `bucket = seq >> bucket_bits`: each catch-up
//! inserts into the newest bucket only, so the pages it dirties are bounded by one bucket's
//! size (about a thousand 4 KB pages) however long the log grows. Keyed by subject alone, a
//! catch-up of 4,096 entries dirtied a page per entry across the whole index, and its cost
//! grew with the log (66 ms at 0.5 M entries, 91 ms at 2 M, against 15-17 ms bucketed,
//! measured on the 2-core VM), taking disk flushes and a core from the writer. A query by
//! subject reads the buckets one after another, one seek each (16 for a million entries).

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// The index file's name inside the data directory.
pub const INDEX_FILE: &str = "transfer-index.sqlite";

/// The file's layout, in `PRAGMA user_version`: 2 is bucketed by seq. The first layout, keyed
/// by subject alone, recorded none (0, as a new file reads).
pub const LAYOUT: i64 = 2;

/// Entries per bucket, as a shift of the seq: 65,536. Smaller buckets make catch-ups dirty
/// fewer pages and queries by subject seek more often.
pub const BUCKET_BITS: u32 = 16;

const SCHEMA: &str = "
DROP TABLE IF EXISTS by_subject;
DROP TABLE IF EXISTS state;
CREATE TABLE by_subject (
    bucket  INTEGER NOT NULL,
    subject BLOB    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (bucket, subject, seq)
) WITHOUT ROWID;
CREATE TABLE state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    upto        INTEGER NOT NULL,
    upto_hash   BLOB    NOT NULL,
    bucket_bits INTEGER NOT NULL
);
";

/// Rows indexed per transaction while catching up.
const CHUNK: i64 = 50_000;

/// Keeps the index file up to date from the log (one per writing process).
pub(crate) struct Indexer {
    index: Connection,
    log: Connection,
    bucket_bits: u32,
}

impl Indexer {
    pub(crate) fn open(data_dir: &Path) -> rusqlite::Result<Indexer> {
        Indexer::open_with(data_dir, BUCKET_BITS)
    }

    fn open_with(data_dir: &Path, bucket_bits: u32) -> rusqlite::Result<Indexer> {
        let mut index = Connection::open(data_dir.join(INDEX_FILE))?;
        index.busy_timeout(super::sqlite::BUSY_TIMEOUT)?;
        index.pragma_update(None, "journal_mode", "WAL")?;
        // Derived data: a crash may lose the last chunks, which the next catch-up redoes.
        index.pragma_update(None, "synchronous", "NORMAL")?;
        let tx = index.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let layout: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if layout != LAYOUT {
            // A new file, or one in another layout: (re)built from the log.
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", LAYOUT)?;
        }
        tx.commit()?;
        let log = Connection::open_with_flags(
            data_dir.join(super::SQLITE_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        log.busy_timeout(super::sqlite::BUSY_TIMEOUT)?;
        Ok(Indexer {
            index,
            log,
            bucket_bits,
        })
    }

    /// Indexes every entry after `upto` (rebuilding first when the index is not this log's);
    /// returns the new `upto`.
    pub(crate) fn catch_up(&mut self) -> rusqlite::Result<u64> {
        let state: Option<(i64, Vec<u8>, i64)> = self
            .index
            .query_row(
                "SELECT upto, upto_hash, bucket_bits FROM state WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let mut upto = match state {
            Some((upto, hash, bits))
                if bits == i64::from(self.bucket_bits)
                    && stored_hash(&self.log, upto)?.as_deref() == Some(&hash[..]) =>
            {
                upto
            }
            Some(_) => {
                self.index
                    .execute_batch("DELETE FROM by_subject; DELETE FROM state;")?;
                0
            }
            None => 0,
        };
        loop {
            let tx = self.index.transaction()?;
            let mut last: Option<(i64, Vec<u8>)> = None;
            {
                let mut read = self.log.prepare_cached(
                    "SELECT seq, subject, hash FROM entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?;
                let mut rows = read.query(params![upto, CHUNK])?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO by_subject (bucket, subject, seq) VALUES (?1, ?2, ?3)",
                )?;
                while let Some(row) = rows.next()? {
                    let seq: i64 = row.get(0)?;
                    if let Some(subject) = row.get::<_, Option<Vec<u8>>>(1)? {
                        insert.execute(params![seq >> self.bucket_bits, subject, seq])?;
                    }
                    last = Some((seq, row.get(2)?));
                }
            }
            let Some((seq, hash)) = last else {
                tx.commit()?;
                return Ok(upto as u64);
            };
            tx.execute(
                "INSERT INTO state (id, upto, upto_hash, bucket_bits) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET upto = excluded.upto, \
                 upto_hash = excluded.upto_hash, bucket_bits = excluded.bucket_bits",
                params![seq, hash, self.bucket_bits],
            )?;
            tx.commit()?;
            upto = seq;
        }
    }
}

fn stored_hash(log: &Connection, seq: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    log.prepare_cached("SELECT hash FROM entries WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))
        .optional()
}

/// Brings the index of `data_dir`'s log up to date now (tests, benchmarks, tools); returns
/// the seq it is complete up to.
pub fn catch_up(data_dir: &Path) -> Result<u64, super::LogError> {
    catch_up_in_buckets(data_dir, BUCKET_BITS)
}

/// [`catch_up`] with buckets of `2^bucket_bits` entries (rebuilding an index with other
/// buckets), so that tests can cross bucket boundaries with a few entries. The gateway's own
/// catch-ups rebuild it with [`BUCKET_BITS`] again.
#[doc(hidden)]
pub fn catch_up_in_buckets(data_dir: &Path, bucket_bits: u32) -> Result<u64, super::LogError> {
    Indexer::open_with(data_dir, bucket_bits)
        .and_then(|mut i| i.catch_up())
        .map_err(|e| super::LogError::Storage(format!("subject index: {e}")))
}

/// How far an index is complete for a log, and its buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usable {
    pub(crate) upto: u64,
    pub(crate) bucket_bits: u32,
}

/// On a read-only log connection with the index attached as `ix`: how far the index is
/// complete for this log (`None` when it is not this log's index, is in another layout, or
/// is not there).
pub(crate) fn usable(conn: &Connection) -> Option<Usable> {
    let layout: i64 = conn
        .query_row("PRAGMA ix.user_version", [], |r| r.get(0))
        .ok()?;
    if layout != LAYOUT {
        return None;
    }
    let (upto, hash, bits): (i64, Vec<u8>, i64) = conn
        .query_row(
            "SELECT upto, upto_hash, bucket_bits FROM ix.state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()?;
    let bucket_bits = u32::try_from(bits).ok().filter(|b| *b < 63)?;
    (upto > 0 && stored_hash(conn, upto).ok().flatten().as_deref() == Some(&hash[..])).then_some(
        Usable {
            upto: upto as u64,
            bucket_bits,
        },
    )
}
