//! The embedded SQLite backend: `DATA_DIR/transfer-log.sqlite`, WAL, `synchronous=FULL`.
//!
//! Lists (`fields`, `dropped`, `denied`, `upstream`) are JSON text so auditors can query them
//! with `json_each`; hashes, ids and ciphertext are BLOBs; `at` is INTEGER microseconds since
//! the Unix epoch (UTC). Triggers refuse UPDATE and DELETE on `entries`: this module never
//! issues either, and the triggers make an accidental one fail loudly (they are no defence
//! against someone with the file — the hash chain is).
//!
//! Throughput: every commit's WAL write and fsync is on the appenders' latency, so the hot table
//! has only append-friendly indexes (seq, the time-ordered UUID v7 transfer id, `at`). There is
//! deliberately no index on `subject` (a random HMAC: every entry would dirty a different index
//! page); lookups by subject use the separate subject index (`subject_index.rs`) and scan only
//! the entries after it. Checkpoints run on a separate thread and connection
//! (`wal_autocheckpoint=0` on the writer), so the writer never copies pages into the database
//! file inside a commit; only the WAL's restart, when the checkpointer asks for it, is done by
//! the writer between two batches (see [`WAL_RESTART_PAGES`]).

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::checkpoint::Checkpoint;
use super::entry::{COLUMNS, ENCODED_COLUMNS, begin_encoding, encode_value, from_micros, micros};
use super::query::{Order, Query};
use super::{
    Batch, BodyEntry, EncodedRow, Entry, Kind, LogBackend, LogError, RowError, SealedBody,
    StagedEntry, WrappedKey,
};

/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "transfer-log.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq         INTEGER PRIMARY KEY,
    transfer_id BLOB    NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    purpose     TEXT,
    legal_basis TEXT,
    consent_id  BLOB,
    reference   TEXT,
    subject     BLOB,
    fields      TEXT    NOT NULL,
    dropped     TEXT    NOT NULL,
    denied      TEXT    NOT NULL,
    body_digest BLOB,
    body_nonce  BLOB,
    body        BLOB,
    upstream    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    latency_ms  INTEGER,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_transfer ON entries(transfer_id);
DROP INDEX IF EXISTS entries_subject;
CREATE INDEX IF NOT EXISTS entries_at ON entries(at);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the transfer log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the transfer log is append-only'); END;
CREATE TABLE IF NOT EXISTS subject_keys (
    subject    BLOB PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL,
    at         INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
";

/// The file's versioned migrations (`db::sqlite`). Versions 1 and 2 predate the versioning;
/// 3, the baseline, brings a file at either up to date.
pub const MIGRATIONS: &[crate::db::sqlite::SqliteMigration] =
    &[crate::db::sqlite::SqliteMigration {
        version: 3,
        name: "baseline: entries, subject keys, checkpoints",
        sql: SCHEMA,
    }];

/// Entries committed between two checkpoint requests: about 1-2 MB of WAL for small entries.
const CHECKPOINT_EVERY: usize = 4096;

/// Bytes committed (bodies and a row's worth of metadata) between two checkpoint requests, so
/// that entries with large bodies (a full credit report is ~150 KB) are checkpointed in small
/// steps too, instead of one long stall every 4096 entries.
const CHECKPOINT_EVERY_BYTES: usize = 4 << 20;

/// About what one entry's metadata (everything but the body) takes in the WAL.
const ROW_BYTES: usize = 512;

/// WAL pages above which the WAL is restarted from its beginning: a passive checkpoint racing a
/// busy writer never catches up, and the WAL would grow for as long as the load lasts. A
/// restarted WAL is overwritten in place, and syncing overwritten blocks is about twice as fast
/// on ext4 as syncing a growing file (0.22 ms against 0.42 ms per 40 KB commit, measured).
///
/// The checkpointer only asks for it (`restart_due`): the writer restarts the WAL itself
/// between two batches, on its own connection, right after a passive pass copied nearly all of
/// it, so only the last few pages are left to copy. Done by the checkpointer, the restart had to
/// catch the writer between batches through SQLite's busy handler, whose sleeps (1-100 ms)
/// stalled appends for up to half a second; and the writer, itself asleep in the busy handler
/// meanwhile, often began its next batch too late to rewind the WAL, which then grew to
/// hundreds of MB before a rewind.
const WAL_RESTART_PAGES: i64 = 8_192;

/// How long a connection to the log's files waits for another's lock before `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The SQLite implementation of [`LogBackend`].
pub struct SqliteBackend {
    // Declared first so it stops (finishing any checkpoint) before `conn` closes.
    checkpointer: Option<Checkpointer>,
    conn: Connection,
    /// The subject index is attached as `ix` (read-only connections).
    indexed: bool,
}

/// The checkpointer thread of a writing backend; it stops when `wake` is dropped.
struct Checkpointer {
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Set by a passive pass that left the WAL over [`WAL_RESTART_PAGES`].
    restart_due: Arc<AtomicBool>,
    /// Entries committed since the last request.
    pending: usize,
    /// Bytes committed since the last request.
    pending_bytes: usize,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, LogError> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(storage)?;
        let (wake, rx) = mpsc::sync_channel::<()>(1);
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let restart_due = Arc::new(AtomicBool::new(false));
        let due = restart_due.clone();
        let thread = std::thread::Builder::new()
            .name("kuzet-log-checkpoint".into())
            .spawn(move || {
                let mut indexer = None;
                while rx.recv().is_ok() {
                    // The index first: its reads of the log would keep the writer from
                    // restarting the WAL right after the pass.
                    index(&dir, &mut indexer);
                    if checkpoint(&conn) > WAL_RESTART_PAGES {
                        due.store(true, Ordering::Relaxed);
                    }
                }
                // The last entries of a closing writer are indexed too.
                index(&dir, &mut indexer);
            })
            .map_err(|source| LogError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            restart_due,
            pending: 0,
            pending_bytes: 0,
        })
    }

    fn committed(&mut self, entries: usize, bytes: usize) {
        self.pending += entries;
        self.pending_bytes += bytes;
        if self.pending >= CHECKPOINT_EVERY || self.pending_bytes >= CHECKPOINT_EVERY_BYTES {
            self.pending = 0;
            self.pending_bytes = 0;
            if let Some(w) = &self.wake {
                // Full means a request is already waiting; one is enough.
                let _ = w.try_send(());
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Brings the subject index up to date; failures are left to the next pass (queries by
/// subject scan more of the log meanwhile).
fn index(dir: &Path, indexer: &mut Option<super::subject_index::Indexer>) {
    if indexer.is_none() {
        match super::subject_index::Indexer::open(dir) {
            Ok(i) => *indexer = Some(i),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot open the subject index; queries scan.");
                return;
            }
        }
    }
    if let Some(i) = indexer
        && let Err(e) = i.catch_up()
    {
        tracing::warn!(error = %e, "Subject index catch-up failed; the next pass retries.");
    }
}

/// One passive checkpoint pass; returns the WAL's size in pages (0 when the pass failed: it is
/// left to the next one, the WAL only grows meanwhile).
fn checkpoint(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
        .unwrap_or(0)
}

/// Restarts the WAL from its beginning, between two batches on the writer's connection, without
/// waiting: when a reader still reads from the WAL (or the checkpointer is mid-pass), it is
/// left to the checkpointer's next request.
fn restart_wal(conn: &Connection) {
    let busy = |timeout| conn.busy_timeout(timeout);
    if busy(std::time::Duration::ZERO).is_err() {
        return;
    }
    let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
    let _ = busy(BUSY_TIMEOUT);
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteBackend")
    }
}

fn unavailable(e: rusqlite::Error) -> LogError {
    LogError::Unavailable(e.to_string())
}

fn storage(e: rusqlite::Error) -> LogError {
    LogError::Storage(e.to_string())
}

impl SqliteBackend {
    /// Opens (creating if needed) `DATA_DIR/transfer-log.sqlite` for writing.
    pub fn open(data_dir: &Path) -> Result<SqliteBackend, LogError> {
        std::fs::create_dir_all(data_dir).map_err(|source| LogError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let mut conn = Connection::open(data_dir.join(SQLITE_FILE)).map_err(storage)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(storage)?;
        // WAL lets auditors read beside the writer; FULL syncs the WAL at every commit, which
        // is what makes an acknowledged append durable.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(storage)?;
        // Erasure deletes wrapped subject keys; the freed pages must not keep their bytes.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(storage)?;
        // Checkpoints run on the checkpointer's connection, not inside a commit; the size
        // limit truncates the WAL file after a restart, so a burst leaves no huge file behind.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(storage)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(storage)?;
        crate::db::sqlite::migrate(&mut conn, MIGRATIONS)
            .map_err(|e| LogError::Storage(format!("{SQLITE_FILE}: {e}")))?;
        let checkpointer = Checkpointer::start(&data_dir.join(SQLITE_FILE))?;
        Ok(SqliteBackend {
            conn,
            checkpointer: Some(checkpointer),
            indexed: false,
        })
    }

    /// Opens an existing log read-only (verify, auditors); never writes to it.
    pub fn open_read_only(data_dir: &Path) -> Result<SqliteBackend, LogError> {
        let path = data_dir.join(SQLITE_FILE);
        if !path.exists() {
            return Err(LogError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no transfer log here (is this the gateway's data directory?)",
                ),
            });
        }
        let named = |e: rusqlite::Error| LogError::Storage(format!("{}: {e}", path.display()));
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(named)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(named)?;
        // A file that is not a database, or a database without the log's tables (an empty
        // file, a copy taken without its WAL), is named as such, not by a failing query.
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                 AND name IN ('entries', 'checkpoints', 'subject_keys')",
                [],
                |r| r.get(0),
            )
            .map_err(named)?;
        if tables != 3 {
            return Err(LogError::Storage(format!(
                "{}: not a kuzet transfer log (it lacks the log's tables)",
                path.display()
            )));
        }
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(storage)?;
        // Verify reads every page once: mapping the file saves a copy per page. The whole file
        // (SQLite caps the request at its compile-time limit, 2 GB), so that a log over 1 GB is
        // not partly read through copies; on a 1.2 GB log the gain was within this machine's
        // noise (1.19-1.57 s against 1.39-1.41 s).
        conn.pragma_update(None, "mmap_size", 1i64 << 40)
            .map_err(storage)?;
        // The subject index, when there is one (see subject_index.rs); queries by subject use
        // it up to where it is complete for this log.
        let index = data_dir.join(super::subject_index::INDEX_FILE);
        let indexed = index.exists()
            && conn
                .execute("ATTACH DATABASE ?1 AS ix", [index.to_string_lossy()])
                .is_ok();
        Ok(SqliteBackend {
            checkpointer: None,
            conn,
            indexed,
        })
    }

    /// The underlying connection, for auditors' ad-hoc queries and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn blob<const N: usize>(v: ValueRef<'_>, col: &str) -> Result<Option<[u8; N]>, String> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => b
            .try_into()
            .map(Some)
            .map_err(|_| format!("{col}: expected {N} bytes, found {}", b.len())),
        _ => Err(format!("{col}: expected a blob")),
    }
}

fn text(v: ValueRef<'_>, col: &str) -> Result<Option<String>, String> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| format!("{col}: not UTF-8")),
        _ => Err(format!("{col}: expected text")),
    }
}

fn int(v: ValueRef<'_>, col: &str) -> Result<Option<i64>, String> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        _ => Err(format!("{col}: expected an integer")),
    }
}

fn required<T>(v: Result<Option<T>, String>, col: &str) -> Result<T, String> {
    v?.ok_or_else(|| format!("{col}: missing"))
}

fn list<T: serde::de::DeserializeOwned>(v: ValueRef<'_>, col: &str) -> Result<T, String> {
    match v {
        ValueRef::Text(t) => serde_json::from_slice(t).map_err(|_| format!("{col}: not a list")),
        _ => Err(format!("{col}: expected text")),
    }
}

fn decode(row: &Row<'_>) -> Result<Entry, RowError> {
    decode_columns(|i: usize| row.get_ref(i).unwrap_or(ValueRef::Null))
}

/// An entry from its stored column values in [`COLUMNS`] order (the encoded columns, then
/// `prev_hash` and `hash`); proofs decode their hashed bytes with it too.
pub(crate) fn decode_columns<'a>(c: impl Fn(usize) -> ValueRef<'a>) -> Result<Entry, RowError> {
    let seq = match c(0) {
        ValueRef::Integer(i) if i > 0 => i as u64,
        _ => {
            return Err(RowError {
                seq: 0,
                reason: "seq: not a positive integer".into(),
            });
        }
    };
    let inner = || -> Result<Entry, String> {
        let nonce = blob::<12>(c(16), "body_nonce")?;
        let ct = match c(17) {
            ValueRef::Null => None,
            ValueRef::Blob(b) => Some(b.to_vec()),
            _ => return Err("body: expected a blob".into()),
        };
        let body = match (nonce, ct) {
            (None, None) => None,
            (Some(nonce), Some(ciphertext)) => Some(SealedBody { nonce, ciphertext }),
            _ => return Err("body: nonce and ciphertext must both be present".into()),
        };
        let at = required(int(c(2), "at"), "at")?;
        Ok(Entry {
            seq,
            transfer_id: Uuid::from_bytes(required(
                blob::<16>(c(1), "transfer_id"),
                "transfer_id",
            )?),
            at: from_micros(at).ok_or("at: out of range")?,
            kind: Kind::parse(&required(text(c(3), "kind"), "kind")?).ok_or("kind: unknown")?,
            recipient: required(text(c(4), "recipient"), "recipient")?,
            operation: required(text(c(5), "operation"), "operation")?,
            caller: required(text(c(6), "caller"), "caller")?,
            purpose: text(c(7), "purpose")?,
            legal_basis: text(c(8), "legal_basis")?,
            consent_id: blob::<16>(c(9), "consent_id")?.map(Uuid::from_bytes),
            reference: text(c(10), "reference")?,
            subject: blob::<32>(c(11), "subject")?,
            fields: list(c(12), "fields")?,
            dropped: list(c(13), "dropped")?,
            denied: list(c(14), "denied")?,
            body_digest: blob::<32>(c(15), "body_digest")?,
            body,
            upstream: list(c(18), "upstream")?,
            outcome: required(text(c(19), "outcome"), "outcome")?,
            latency_ms: int(c(20), "latency_ms")?
                .map(|l| u64::try_from(l).map_err(|_| "latency_ms: negative"))
                .transpose()?,
            prev_hash: required(blob::<32>(c(21), "prev_hash"), "prev_hash")?,
            hash: required(blob::<32>(c(22), "hash"), "hash")?,
        })
    };
    inner().map_err(|reason| RowError { seq, reason })
}

/// A stored checkpoint from its column values in [`CP_COLUMNS`] order (either backend).
pub(crate) fn checkpoint_from_values<'a>(
    c: impl Fn(usize) -> ValueRef<'a>,
) -> Result<Checkpoint, LogError> {
    let seq = match c(0) {
        ValueRef::Integer(i) => i,
        _ => {
            return Err(LogError::Corrupt {
                seq: 0,
                reason: "checkpoint seq is not an integer".into(),
            });
        }
    };
    let bad = |what: &str| LogError::Corrupt {
        seq: seq.max(0) as u64,
        reason: format!("checkpoint {what}"),
    };
    let bytes = |i: usize| match c(i) {
        ValueRef::Blob(b) => Ok(b),
        _ => Err(bad("is not a blob")),
    };
    let at = match c(2) {
        ValueRef::Integer(i) => i,
        _ => return Err(bad("time is not an integer")),
    };
    Ok(Checkpoint {
        seq: u64::try_from(seq).map_err(|_| bad("seq is negative"))?,
        hash: bytes(1)?
            .try_into()
            .map_err(|_| bad("hash is not 32 bytes"))?,
        at: from_micros(at).ok_or_else(|| bad("time is out of range"))?,
        public_key: bytes(3)?
            .try_into()
            .map_err(|_| bad("public key is not 32 bytes"))?,
        signature: bytes(4)?
            .try_into()
            .map_err(|_| bad("signature is not 64 bytes"))?,
    })
}

/// The hash input of a stored row, straight from its values into `buf` (no decoding, no
/// allocation once `buf` has grown).
fn encode_row<'a>(row: &Row<'_>, buf: &'a mut Vec<u8>) -> EncodedRow<'a> {
    encode_columns(|i: usize| row.get_ref(i).unwrap_or(ValueRef::Null), buf)
}

/// The hash input of a stored row from its column values in [`COLUMNS`] order (any backend
/// that can present its values as SQLite's).
pub(crate) fn encode_columns<'a, 'v>(
    c: impl Fn(usize) -> ValueRef<'v>,
    buf: &'a mut Vec<u8>,
) -> EncodedRow<'a> {
    let bad = |seq: u64, reason: &'static str| EncodedRow {
        seq,
        hashed: Err(reason),
        hash: [0; 32],
    };
    let seq = match c(0) {
        ValueRef::Integer(i) if i > 0 => i as u64,
        _ => return bad(0, "seq: not a positive integer"),
    };
    let prev = match c(ENCODED_COLUMNS) {
        ValueRef::Blob(b) if b.len() == 32 => b,
        _ => return bad(seq, "prev_hash: not 32 bytes"),
    };
    let hash: [u8; 32] = match c(ENCODED_COLUMNS + 1) {
        ValueRef::Blob(b) => match b.try_into() {
            Ok(h) => h,
            Err(_) => return bad(seq, "hash: not 32 bytes"),
        },
        _ => return bad(seq, "hash: not 32 bytes"),
    };
    begin_encoding(prev, buf);
    for i in 0..ENCODED_COLUMNS {
        encode_value(c(i), buf);
    }
    EncodedRow {
        seq,
        hashed: Ok(buf),
        hash,
    }
}

pub(crate) const CP_COLUMNS: &str = "seq, hash, at, public_key, signature";

fn insert_checkpoint(tx: &rusqlite::Transaction<'_>, cp: &Checkpoint) -> Result<(), LogError> {
    tx.prepare_cached(
        "INSERT INTO checkpoints (seq, hash, at, public_key, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO NOTHING",
    )
    .and_then(|mut st| {
        st.execute(params![
            cp.seq as i64,
            &cp.hash[..],
            micros(cp.at),
            &cp.public_key[..],
            &cp.signature[..]
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

impl SqliteBackend {
    fn select_checkpoints(&mut self, sql: &str, arg: u64) -> Result<Vec<Checkpoint>, LogError> {
        let mut st = self.conn.prepare_cached(sql).map_err(storage)?;
        let n = st.parameter_count();
        let mut rows = if n == 0 {
            st.query([])
        } else {
            st.query([arg as i64])
        }
        .map_err(storage)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(storage)? {
            out.push(checkpoint_from_values(|i| {
                row.get_ref(i).unwrap_or(ValueRef::Null)
            })?);
        }
        Ok(out)
    }
}

/// The SELECT of a query and its arguments. Every filter is a bound parameter; only the shape
/// (which filters are set, the order) varies, so prepared statements cache well.
/// Which rows a query's SELECT reads.
#[derive(Clone, Copy)]
enum Part {
    /// The whole table.
    All,
    /// Entries after the subject index's `upto` (scanned, filtered by subject).
    After(u64),
    /// Entries up to `upto` in one bucket of the subject index, found through it.
    Indexed { upto: u64, bucket: u64 },
}

fn query_sql(q: &Query, part: Part) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut conds: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    // In the indexed part the index table `s` also has `subject` and `seq`.
    let (seq, subject) = match part {
        Part::Indexed { .. } => ("s.seq", "s.subject"),
        _ => ("seq", "subject"),
    };
    match part {
        Part::All => {}
        Part::After(upto) => {
            conds.push("seq > ?");
            args.push(Value::Integer(upto as i64));
        }
        Part::Indexed { upto, bucket } => {
            conds.push("s.bucket = ?");
            args.push(Value::Integer(bucket as i64));
            conds.push("s.seq <= ?");
            args.push(Value::Integer(upto as i64));
        }
    }
    let mut text = |conds: &mut Vec<&str>, cond, v: &Option<String>| {
        if let Some(v) = v {
            conds.push(cond);
            args.push(Value::Text(v.clone()));
        }
    };
    text(&mut conds, "recipient = ?", &q.recipient);
    text(&mut conds, "operation = ?", &q.operation);
    text(&mut conds, "caller = ?", &q.caller);
    text(&mut conds, "purpose = ?", &q.purpose);
    if let Some(k) = q.kind {
        conds.push("kind = ?");
        args.push(Value::Text(k.as_str().into()));
    }
    if let Some(o) = &q.outcome {
        conds.push("(outcome = ? OR substr(outcome, 1, ?) = ?)");
        args.push(Value::Text(o.clone()));
        args.push(Value::Integer(o.chars().count() as i64 + 1));
        args.push(Value::Text(format!("{o}:")));
    }
    let subject_cond = format!("{subject} = ?");
    if let Some(s) = q.subject {
        conds.push(&subject_cond);
        args.push(Value::Blob(s.to_vec()));
    }
    if let Some(t) = q.transfer_id {
        conds.push("transfer_id = ?");
        args.push(Value::Blob(t.as_bytes().to_vec()));
    }
    if let Some(t) = q.since {
        conds.push("at >= ?");
        args.push(Value::Integer(micros(t)));
    }
    if let Some(t) = q.until {
        conds.push("at < ?");
        args.push(Value::Integer(micros(t)));
    }
    let order = match q.order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    let cursor_cond = match q.order {
        Order::NewestFirst => format!("{seq} < ?"),
        Order::OldestFirst => format!("{seq} > ?"),
    };
    if let Some(c) = q.cursor {
        conds.push(&cursor_cond);
        args.push(Value::Integer(i64::try_from(c).unwrap_or(i64::MAX)));
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    let sql = match part {
        Part::Indexed { .. } => {
            let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("e.{c}")).collect();
            format!(
                "SELECT {} FROM ix.by_subject AS s JOIN entries AS e ON e.seq = s.seq{filter} \
                 ORDER BY s.seq {order}",
                columns.join(", ")
            )
        }
        _ => format!("SELECT {COLUMNS} FROM entries{filter} ORDER BY seq {order}"),
    };
    (sql, args)
}

/// The subject index's buckets a query reads, in its order: those up to the index's `upto`,
/// less the ones wholly on the far side of the cursor.
fn indexed_parts(q: &Query, ix: super::subject_index::Usable) -> Vec<Part> {
    let bucket = |seq: u64| seq >> ix.bucket_bits;
    let (mut first, mut last) = (0, bucket(ix.upto));
    match (q.order, q.cursor) {
        (Order::NewestFirst, Some(c)) => last = last.min(bucket(c.saturating_sub(1))),
        (Order::OldestFirst, Some(c)) => first = bucket(c.saturating_add(1)),
        (_, None) => {}
    }
    let mut parts: Vec<Part> = (first..=last)
        .map(|bucket| Part::Indexed {
            upto: ix.upto,
            bucket,
        })
        .collect();
    if q.order == Order::NewestFirst {
        parts.reverse();
    }
    parts
}

impl LogBackend for SqliteBackend {
    fn tip(&mut self) -> Result<Option<(u64, [u8; 32])>, LogError> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(unavailable)?;
        match row {
            None => Ok(None),
            Some((seq, hash)) => {
                let hash: [u8; 32] = hash.try_into().map_err(|_| LogError::Corrupt {
                    seq: seq as u64,
                    reason: "hash is not 32 bytes".into(),
                })?;
                Ok(Some((seq as u64, hash)))
            }
        }
    }

    fn append(&mut self, batch: &Batch<'_>) -> Result<(), LogError> {
        let Batch {
            new_keys,
            entries,
            checkpoint,
            destroy_keys,
        } = *batch;
        let Some(first) = entries.first().map(StagedEntry::entry) else {
            return Ok(());
        };
        let expected = (first.seq - 1, first.prev_hash);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let tip: Option<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1")
            .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(unavailable)?;
        let stored = match &tip {
            None => (0, [0u8; 32]),
            Some((s, h)) => (*s as u64, h.as_slice().try_into().unwrap_or([0xff; 32])),
        };
        if stored != expected {
            return Err(LogError::Conflict);
        }
        if !new_keys.is_empty() {
            let now = micros(time::OffsetDateTime::now_utc());
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO subject_keys (subject, wrapped, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )
                .map_err(unavailable)?;
            for (subject, wrapped) in new_keys {
                if st
                    .execute(params![&subject[..], wrapped, now])
                    .map_err(unavailable)?
                    == 0
                {
                    return Err(LogError::Conflict);
                }
            }
        }
        {
            let mut st = tx
                .prepare_cached(&format!(
                    "INSERT INTO entries ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
                     ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
                ))
                .map_err(unavailable)?;
            for staged in entries {
                let e = staged.entry();
                // The very values the hash covers (entry::with_columns), so what is stored is
                // what was hashed.
                staged
                    .columns(|cols| {
                        for (i, v) in cols.iter().enumerate() {
                            st.raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(*v))?;
                        }
                        st.raw_bind_parameter(ENCODED_COLUMNS + 1, &e.prev_hash[..])?;
                        st.raw_bind_parameter(ENCODED_COLUMNS + 2, &e.hash[..])?;
                        st.raw_execute()
                    })
                    .map_err(unavailable)?;
            }
        }
        if let Some(cp) = checkpoint {
            insert_checkpoint(&tx, cp)?;
        }
        if !destroy_keys.is_empty() {
            let mut st = tx
                .prepare_cached("DELETE FROM subject_keys WHERE subject = ?1")
                .map_err(unavailable)?;
            for subject in destroy_keys {
                st.execute([&subject[..]]).map_err(unavailable)?;
            }
        }
        tx.commit().map_err(unavailable)?;
        if !destroy_keys.is_empty() {
            // The WAL still holds the pages with the keys until a checkpoint rewrites the
            // database and truncates it; best effort, since a busy reader may delay it to the
            // next one (secure_delete zeroes the freed bytes in the database file).
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        if let Some(c) = &mut self.checkpointer {
            let bytes = entries
                .iter()
                .map(|e| ROW_BYTES + e.entry().body.as_ref().map_or(0, |b| b.ciphertext.len()))
                .sum();
            c.committed(entries.len(), bytes);
        }
        Ok(())
    }

    fn between_batches(&mut self) {
        if let Some(c) = &self.checkpointer
            && c.restart_due.swap(false, Ordering::Relaxed)
        {
            restart_wal(&self.conn);
        }
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(Result<Entry, RowError>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM entries WHERE seq >= ?1 ORDER BY seq"
            ))
            .map_err(storage)?;
        let mut rows = st.query([from_seq as i64]).map_err(storage)?;
        while let Some(row) = rows.next().map_err(storage)? {
            if visit(decode(row)).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn scan_encoded(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(EncodedRow<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM entries WHERE seq >= ?1 ORDER BY seq"
            ))
            .map_err(storage)?;
        let mut rows = st.query([from_seq as i64]).map_err(storage)?;
        let mut buf = Vec::with_capacity(1024);
        while let Some(row) = rows.next().map_err(storage)? {
            if visit(encode_row(row, &mut buf)).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn query(
        &mut self,
        q: &Query,
        visit: &mut dyn FnMut(Entry) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        // One read transaction: both parts (and the index's state) from one snapshot.
        let tx = self.conn.transaction().map_err(storage)?;
        let usable = match q.subject {
            Some(_) if self.indexed => super::subject_index::usable(&tx),
            _ => None,
        };
        let parts = match usable {
            None => vec![Part::All],
            Some(ix) => {
                let mut parts = indexed_parts(q, ix);
                match q.order {
                    Order::NewestFirst => parts.insert(0, Part::After(ix.upto)),
                    Order::OldestFirst => parts.push(Part::After(ix.upto)),
                }
                parts
            }
        };
        for part in parts {
            let (sql, args) = query_sql(q, part);
            let mut st = tx.prepare_cached(&sql).map_err(storage)?;
            let mut rows = st
                .query(rusqlite::params_from_iter(args.iter()))
                .map_err(storage)?;
            while let Some(row) = rows.next().map_err(storage)? {
                let e = decode(row).map_err(|e| LogError::Corrupt {
                    seq: e.seq,
                    reason: e.reason,
                })?;
                if visit(e).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn get_transfer(&mut self, transfer_id: Uuid) -> Result<Vec<Entry>, LogError> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM entries WHERE transfer_id = ?1 ORDER BY seq"
            ))
            .map_err(storage)?;
        let mut rows = st.query([&transfer_id.as_bytes()[..]]).map_err(storage)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(storage)? {
            out.push(decode(row).map_err(|e| LogError::Corrupt {
                seq: e.seq,
                reason: e.reason,
            })?);
        }
        Ok(out)
    }

    fn subject_key(&mut self, subject: &[u8; 32]) -> Result<Option<WrappedKey>, LogError> {
        self.conn
            .prepare_cached("SELECT wrapped FROM subject_keys WHERE subject = ?1")
            .and_then(|mut st| st.query_row([&subject[..]], |r| r.get(0)).optional())
            .map_err(storage)
    }

    fn add_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), LogError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let stored: Option<Vec<u8>> = tx
            .query_row(
                "SELECT hash FROM entries WHERE seq = ?1",
                [cp.seq as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable)?;
        if stored.as_deref() != Some(&cp.hash[..]) {
            return Err(LogError::Conflict);
        }
        insert_checkpoint(&tx, cp)?;
        tx.commit().map_err(unavailable)
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, LogError> {
        self.select_checkpoints(
            &format!("SELECT {CP_COLUMNS} FROM checkpoints ORDER BY seq"),
            0,
        )
    }

    fn checkpoint_covering(&mut self, from_seq: u64) -> Result<Option<Checkpoint>, LogError> {
        Ok(self
            .select_checkpoints(
                &format!(
                    "SELECT {CP_COLUMNS} FROM checkpoints WHERE seq >= ?1 ORDER BY seq LIMIT 1"
                ),
                from_seq,
            )?
            .pop())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>, LogError> {
        Ok(self
            .select_checkpoints(
                &format!(
                    "SELECT {CP_COLUMNS} FROM checkpoints WHERE seq >= ?1 \
                     ORDER BY seq DESC LIMIT 1"
                ),
                0,
            )?
            .pop())
    }

    fn entry_hash_at(&mut self, seq: u64) -> Result<Option<[u8; 32]>, LogError> {
        let h: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT hash FROM entries WHERE seq = ?1")
            .and_then(|mut st| {
                st.query_row([i64::try_from(seq).unwrap_or(i64::MAX)], |r| r.get(0))
                    .optional()
            })
            .map_err(storage)?;
        h.map(|h| {
            h.try_into().map_err(|_| LogError::Corrupt {
                seq,
                reason: "hash is not 32 bytes".into(),
            })
        })
        .transpose()
    }

    fn body_entries(&mut self, visit: &mut dyn FnMut(BodyEntry<'_>)) -> Result<(), LogError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, subject, recipient, operation, at FROM entries \
                 WHERE body_nonce IS NOT NULL ORDER BY seq",
            )
            .map_err(storage)?;
        let mut rows = st.query([]).map_err(storage)?;
        while let Some(row) = rows.next().map_err(storage)? {
            let seq: i64 = row.get(0).map_err(storage)?;
            let corrupt = |reason: &str| LogError::Corrupt {
                seq: seq as u64,
                reason: reason.into(),
            };
            let subject = match row.get_ref(1).map_err(storage)? {
                ValueRef::Null => super::NO_SUBJECT,
                ValueRef::Blob(b) => b.try_into().map_err(|_| corrupt("subject: not 32 bytes"))?,
                _ => return Err(corrupt("subject: expected a blob")),
            };
            let recipient: String = row.get(2).map_err(storage)?;
            let operation: String = row.get(3).map_err(storage)?;
            let at = from_micros(row.get(4).map_err(storage)?)
                .ok_or_else(|| corrupt("at: out of range"))?;
            visit(BodyEntry {
                subject: &subject,
                recipient: &recipient,
                operation: &operation,
                at,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer_log::entry::tests::sample;
    use crate::transfer_log::entry_hash;

    /// `n` small chained entries after `tip`.
    fn batch(tip: (u64, [u8; 32]), n: u64) -> Vec<StagedEntry> {
        let (mut seq, mut prev) = tip;
        let mut buf = Vec::new();
        (0..n)
            .map(|_| {
                seq += 1;
                let mut e = Entry {
                    seq,
                    transfer_id: Uuid::now_v7(),
                    prev_hash: prev,
                    ..sample()
                };
                e.hash = entry_hash(&e, &mut buf);
                prev = e.hash;
                StagedEntry::new(e)
            })
            .collect()
    }

    fn append(backend: &mut SqliteBackend, n: u64) {
        let tip = backend.tip().expect("tip").unwrap_or((0, [0; 32]));
        let entries = batch(tip, n);
        backend
            .append(&Batch {
                entries: &entries,
                ..Default::default()
            })
            .expect("append");
    }

    /// The WAL file's size: it grows while commits are appended to the WAL, and stays put
    /// once the WAL is rewound (commits then overwrite it from its beginning). Measured so
    /// rather than by a checkpoint, since a checkpoint that copies everything lets the writer
    /// rewind the WAL by itself.
    fn wal_size(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(format!("{SQLITE_FILE}-wal")))
            .expect("wal")
            .len()
    }

    /// `.cargo/config.toml` builds the bundled SQLite without it (its shared page-cache LRU
    /// let the checkpointer and indexer evict the writer's pages); a build that lost the
    /// setting fails here rather than only running slower.
    #[test]
    fn sqlite_is_built_with_one_page_cache_per_connection() {
        let c = Connection::open_in_memory().expect("open");
        let used: i64 = c
            .query_row(
                "SELECT sqlite_compileoption_used('ENABLE_MEMORY_MANAGEMENT')",
                [],
                |r| r.get(0),
            )
            .expect("compile options");
        assert_eq!(used, 0, "SQLite built with SQLITE_ENABLE_MEMORY_MANAGEMENT");
    }

    #[test]
    fn the_writer_restarts_the_wal_when_asked_and_never_waits_for_a_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut backend = SqliteBackend::open(dir.path()).expect("open");
        for _ in 0..20 {
            append(&mut backend, 50);
        }
        let due = backend
            .checkpointer
            .as_ref()
            .expect("checkpointer")
            .restart_due
            .clone();
        // Not asked: the WAL only grows.
        let grown = wal_size(dir.path());
        backend.between_batches();
        append(&mut backend, 50);
        assert!(wal_size(dir.path()) > grown);

        // A reader inside a snapshot: the restart gives up at once (nothing waits for the
        // busy timeout), and the WAL goes on growing.
        let reader = Connection::open(dir.path().join(SQLITE_FILE)).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
            .expect("read");
        due.store(true, Ordering::Relaxed);
        let started = std::time::Instant::now();
        backend.between_batches();
        assert!(started.elapsed() < BUSY_TIMEOUT / 2, "the restart waited");
        assert!(!due.load(Ordering::Relaxed), "the request is taken");
        let before = wal_size(dir.path());
        append(&mut backend, 50);
        assert!(wal_size(dir.path()) > before, "rewound under a reader");
        reader.execute_batch("COMMIT").expect("end");
        assert_eq!(seen, 1050);

        // Asked again with no reader: the next commits write from the WAL's beginning.
        due.store(true, Ordering::Relaxed);
        backend.between_batches();
        let before = wal_size(dir.path());
        append(&mut backend, 50);
        append(&mut backend, 50);
        assert_eq!(wal_size(dir.path()), before, "not rewound");
        // And the writer's busy timeout is back: it still waits for a lock as before.
        let timeout: i64 = backend
            .conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .expect("busy_timeout");
        assert_eq!(timeout, BUSY_TIMEOUT.as_millis() as i64);
        assert_eq!(backend.tip().expect("tip").map(|t| t.0), Some(1200));
    }
}
