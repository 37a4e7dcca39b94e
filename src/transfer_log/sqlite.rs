//! The embedded SQLite backend: `DATA_DIR/transfer-log.sqlite`, WAL, `synchronous=FULL`.
//!
//! Lists (`fields`, `dropped`, `denied`, `upstream`) are JSON text so auditors can query them
//! with `json_each`; hashes, ids and ciphertext are BLOBs; `at` is INTEGER microseconds since
//! the Unix epoch (UTC). Triggers refuse UPDATE and DELETE on `entries`: this module never
//! issues either, and the triggers make an accidental one fail loudly (they are no defence
//! against someone with the file — the hash chain is).

use std::ops::ControlFlow;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::entry::{from_micros, micros};
use super::{Entry, Kind, LogBackend, LogError, RowError, SealedBody, WrappedKey};

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
CREATE INDEX IF NOT EXISTS entries_subject ON entries(subject) WHERE subject IS NOT NULL;
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
PRAGMA user_version = 1;
";

const COLUMNS: &str = "seq, transfer_id, at, kind, recipient, operation, caller, purpose, \
    legal_basis, consent_id, reference, subject, fields, dropped, denied, body_digest, \
    body_nonce, body, upstream, outcome, latency_ms, prev_hash, hash";

/// The SQLite implementation of [`LogBackend`].
pub struct SqliteBackend {
    conn: Connection,
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
        let conn = Connection::open(data_dir.join(SQLITE_FILE)).map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
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
        conn.execute_batch(SCHEMA).map_err(storage)?;
        Ok(SqliteBackend { conn })
    }

    /// Opens an existing log read-only (verify, auditors); never writes to it.
    pub fn open_read_only(data_dir: &Path) -> Result<SqliteBackend, LogError> {
        let path = data_dir.join(SQLITE_FILE);
        if !path.exists() {
            return Err(LogError::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(storage)?;
        Ok(SqliteBackend { conn })
    }

    /// The underlying connection, for auditors' ad-hoc queries and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn json_list<T: serde::Serialize>(v: &T) -> Result<String, LogError> {
    serde_json::to_string(v).map_err(|e| LogError::Unavailable(format!("encoding a list: {e}")))
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
    let c = |i: usize| row.get_ref(i).unwrap_or(ValueRef::Null);
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

    fn append(
        &mut self,
        new_keys: &[([u8; 32], WrappedKey)],
        entries: &[Entry],
    ) -> Result<(), LogError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let expected = (first.seq - 1, first.prev_hash);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        let tip: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
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
            for e in entries {
                st.execute(params![
                    e.seq as i64,
                    &e.transfer_id.as_bytes()[..],
                    e.at_micros(),
                    e.kind.as_str(),
                    e.recipient,
                    e.operation,
                    e.caller,
                    e.purpose,
                    e.legal_basis,
                    e.consent_id.as_ref().map(|u| &u.as_bytes()[..]),
                    e.reference,
                    e.subject.as_ref().map(|s| &s[..]),
                    json_list(&e.fields)?,
                    json_list(&e.dropped)?,
                    json_list(&e.denied)?,
                    e.body_digest.as_ref().map(|d| &d[..]),
                    e.body.as_ref().map(|b| &b.nonce[..]),
                    e.body.as_ref().map(|b| &b.ciphertext[..]),
                    json_list(&e.upstream)?,
                    e.outcome,
                    e.latency_ms.map(|l| l as i64),
                    &e.prev_hash[..],
                    &e.hash[..],
                ])
                .map_err(unavailable)?;
            }
        }
        tx.commit().map_err(unavailable)
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

    fn destroy_subject_key(&mut self, subject: &[u8; 32]) -> Result<bool, LogError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM subject_keys WHERE subject = ?1",
                [&subject[..]],
            )
            .map_err(unavailable)?;
        // The WAL still holds the page with the key until a checkpoint rewrites the database
        // and truncates it; best effort, since a busy reader may delay it to the next one.
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(n > 0)
    }
}
