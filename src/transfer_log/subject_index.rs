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
//! rebuilt by the next catch-up.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// The index file's name inside the data directory.
pub const INDEX_FILE: &str = "transfer-index.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS by_subject (
    subject BLOB    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    upto      INTEGER NOT NULL,
    upto_hash BLOB    NOT NULL
);
";

/// Rows indexed per transaction while catching up.
const CHUNK: i64 = 50_000;

/// Keeps the index file up to date from the log (one per writing process).
pub(crate) struct Indexer {
    index: Connection,
    log: Connection,
}

impl Indexer {
    pub(crate) fn open(data_dir: &Path) -> rusqlite::Result<Indexer> {
        let index = Connection::open(data_dir.join(INDEX_FILE))?;
        index.busy_timeout(std::time::Duration::from_secs(5))?;
        index.pragma_update(None, "journal_mode", "WAL")?;
        // Derived data: a crash may lose the last chunks, which the next catch-up redoes.
        index.pragma_update(None, "synchronous", "NORMAL")?;
        index.execute_batch(SCHEMA)?;
        let log = Connection::open_with_flags(
            data_dir.join(super::SQLITE_FILE),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        log.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Indexer { index, log })
    }

    /// Indexes every entry after `upto` (rebuilding first when the index is not this log's);
    /// returns the new `upto`.
    pub(crate) fn catch_up(&mut self) -> rusqlite::Result<u64> {
        let state: Option<(i64, Vec<u8>)> = self
            .index
            .query_row("SELECT upto, upto_hash FROM state WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let mut upto = match state {
            Some((upto, hash)) if stored_hash(&self.log, upto)?.as_deref() == Some(&hash[..]) => {
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
                    "INSERT OR IGNORE INTO by_subject (subject, seq) VALUES (?1, ?2)",
                )?;
                while let Some(row) = rows.next()? {
                    let seq: i64 = row.get(0)?;
                    if let Some(subject) = row.get::<_, Option<Vec<u8>>>(1)? {
                        insert.execute(params![subject, seq])?;
                    }
                    last = Some((seq, row.get(2)?));
                }
            }
            let Some((seq, hash)) = last else {
                tx.commit()?;
                return Ok(upto as u64);
            };
            tx.execute(
                "INSERT INTO state (id, upto, upto_hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET upto = excluded.upto, \
                 upto_hash = excluded.upto_hash",
                params![seq, hash],
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
    Indexer::open(data_dir)
        .and_then(|mut i| i.catch_up())
        .map_err(|e| super::LogError::Storage(format!("subject index: {e}")))
}

/// On a read-only log connection with the index attached as `ix`: how far the index is
/// complete for this log (0 when it is not this log's index or not there).
pub(crate) fn usable_upto(conn: &Connection) -> u64 {
    let state: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT upto, upto_hash FROM ix.state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ok()
        .flatten();
    match state {
        Some((upto, hash))
            if stored_hash(conn, upto).ok().flatten().as_deref() == Some(&hash[..]) =>
        {
            upto as u64
        }
        _ => 0,
    }
}
