//! The reporting job's state, `DATA_DIR/reporting.sqlite` (WAL, `synchronous=FULL`): what the
//! bureau last accepted of each contract (its fingerprint), every batch with its records and
//! where it stands, and every run. A batch is recorded, with its records, before anything is
//! sent; its state moves forward only:
//!
//! ```text
//! built ──► sending ──► uploaded ──► final
//!   │          │  └──► failed        (the bureau refused the file; nothing was accepted)
//!   │          └──► uncertain        (interrupted before the bureau's answer was recorded)
//!   └──► abandoned                   (never sent: a crash came first)
//! ```
//!
//! It stores contract codes, fingerprints (SHA-256 of what was sent) and subject indexes (the
//! transfer log's HMAC of the IIN), never a personal value.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;

/// The file's name inside the data directory.
pub const REPORTING_FILE: &str = "reporting.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS report_runs (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    trigger     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    dry_run     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    read        INTEGER NOT NULL DEFAULT 0,
    invalid     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    sent        INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    accepted    INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    message     TEXT
);
CREATE TABLE IF NOT EXISTS report_batches (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    records         INTEGER NOT NULL,
    transfer_id     BLOB,
    bureau_batch_id TEXT,
    accepted        INTEGER,
    rejected        INTEGER,
    message         TEXT
);
CREATE INDEX IF NOT EXISTS report_batches_state ON report_batches(state);
CREATE TABLE IF NOT EXISTS report_batch_records (
    batch_id      INTEGER NOT NULL,
    contract_code TEXT    NOT NULL,
    operation     INTEGER NOT NULL,
    fingerprint   BLOB    NOT NULL,
    subject       BLOB    NOT NULL,
    outcome       TEXT,
    message       TEXT,
    PRIMARY KEY (batch_id, contract_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_contracts (
    contract_code TEXT PRIMARY KEY,
    fingerprint   BLOB    NOT NULL,
    subject       BLOB    NOT NULL,
    batch_id      INTEGER NOT NULL,
    accepted_at   INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The file's versioned migrations (`db::sqlite`); 1 is the baseline.
pub const MIGRATIONS: &[crate::db::sqlite::SqliteMigration] =
    &[crate::db::sqlite::SqliteMigration {
        version: 1,
        name: "baseline: runs, batches, records, accepted contracts",
        sql: SCHEMA,
    }];

/// A store failure (the message names no personal value).
#[derive(Debug, thiserror::Error)]
#[error("reporting state ({path}): {message}")]
pub struct StoreError {
    path: String,
    message: String,
}

/// Where a batch stands (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    Built,
    Sending,
    Uploaded,
    Final,
    Failed,
    Uncertain,
    Abandoned,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Built => "built",
            Self::Sending => "sending",
            Self::Uploaded => "uploaded",
            Self::Final => "final",
            Self::Failed => "failed",
            Self::Uncertain => "uncertain",
            Self::Abandoned => "abandoned",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "built" => Self::Built,
            "sending" => Self::Sending,
            "uploaded" => Self::Uploaded,
            "final" => Self::Final,
            "failed" => Self::Failed,
            "uncertain" => Self::Uncertain,
            "abandoned" => Self::Abandoned,
            _ => return None,
        })
    }
}

/// One record of a batch, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub contract_code: String,
    /// 1 first load, 2 update.
    pub operation: u32,
    pub fingerprint: [u8; 32],
    pub subject: [u8; 32],
}

/// A batch, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    pub id: i64,
    pub run_id: i64,
    pub state: BatchState,
    pub records: u64,
    pub transfer_id: Option<uuid::Uuid>,
    pub bureau_batch_id: Option<String>,
    pub accepted: Option<u64>,
    pub rejected: Option<u64>,
    pub message: Option<String>,
}

/// A contract of one subject in a batch, with where its batch stands: what the subject report
/// (policy 9.1) shows of the reporting uploads, whose log entries name no subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    pub batch_id: i64,
    pub run_id: i64,
    /// When the batch was recorded (before it was sent).
    pub batch_created_at: OffsetDateTime,
    pub batch_state: BatchState,
    /// The transfer that carried the batch (its OUT and IN log entries); `None` when the batch
    /// was never sent.
    pub transfer_id: Option<uuid::Uuid>,
    pub bureau_batch_id: Option<String>,
    pub contract_code: String,
    /// 1 first load, 2 update.
    pub operation: u32,
    /// `accepted`, `rejected` or `unconfirmed` once the bureau gave its final word.
    pub outcome: Option<String>,
    /// The bureau's message about the record, as stored.
    pub message: Option<String>,
}

/// A run, as `kuzet report status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub trigger: String,
    pub source: String,
    pub dry_run: bool,
    pub status: String,
    pub read: u64,
    pub invalid: u64,
    pub unchanged: u64,
    pub sent: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub message: Option<String>,
    /// Contracts held for a batch still at the bureau.
    pub held: u64,
}

/// The counts a run ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Lines read from the source.
    pub read: u64,
    /// Lines refused (invalid, not allowed by the contract, no consent, duplicate).
    pub invalid: u64,
    /// Contracts the bureau already has as they are.
    pub unchanged: u64,
    /// Records sent (or, in a dry run, that would be).
    pub sent: u64,
    /// Contracts not sent because a batch of an earlier run that holds them is still being
    /// processed by the bureau (the next run polls it).
    pub held: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// The reporting state (see the module header).
pub struct ReportStore {
    /// The SQLite file (`None` on PostgreSQL).
    conn: Option<Mutex<Connection>>,
    /// The shared database, when the replicas use one.
    pg: Option<crate::db::reporting::PgReportStore>,
    path: String,
}

impl std::fmt::Debug for ReportStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportStore")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn hash32(v: Vec<u8>) -> [u8; 32] {
    v.try_into().unwrap_or([0; 32])
}

impl ReportStore {
    /// Opens (creating) `DATA_DIR/reporting.sqlite`.
    pub fn open(data_dir: &Path) -> Result<ReportStore, StoreError> {
        let path = data_dir.join(REPORTING_FILE);
        let shown = path.display().to_string();
        let err = |e: rusqlite::Error| StoreError {
            path: shown.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError {
            path: data_dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        // A batch's state is what makes a rerun exactly-once: every change is synced.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        crate::db::sqlite::migrate(&mut conn, MIGRATIONS).map_err(|e| StoreError {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Ok(ReportStore {
            conn: Some(Mutex::new(conn)),
            pg: None,
            path: shown,
        })
    }

    /// Opens an existing `DATA_DIR/reporting.sqlite` read-only, for the auditors' tools (they
    /// run beside a serving gateway); `Ok(None)` when there is none (no run ever happened).
    /// Creates no table and writes nothing.
    pub fn open_read_only(data_dir: &Path) -> Result<Option<ReportStore>, StoreError> {
        let path = data_dir.join(REPORTING_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let shown = path.display().to_string();
        let err = |e: rusqlite::Error| StoreError {
            path: shown.clone(),
            message: e.to_string(),
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        Ok(Some(ReportStore {
            conn: Some(Mutex::new(conn)),
            pg: None,
            path: shown,
        }))
    }

    /// Every batch record about `subject` (its subject index), oldest batch first. The records
    /// table has no index on the subject (an access request is rare, and a random HMAC would
    /// cost every batch insert), so this reads the whole table once.
    pub fn records_for_subject(
        &self,
        subject: &[u8; 32],
    ) -> Result<Vec<SubjectRecord>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.records_for_subject(subject).map_err(|m| self.error(m));
        }
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT b.id, b.run_id, b.created_at, b.state, b.transfer_id, b.bureau_batch_id, \
                 r.contract_code, r.operation, r.outcome, r.message \
                 FROM report_batch_records r JOIN report_batches b ON b.id = r.batch_id \
                 WHERE r.subject = ?1 ORDER BY b.id, r.contract_code",
            )?;
            st.query_map([&subject[..]], |r| {
                let state: String = r.get(3)?;
                let transfer: Option<Vec<u8>> = r.get(4)?;
                Ok(SubjectRecord {
                    batch_id: r.get(0)?,
                    run_id: r.get(1)?,
                    batch_created_at: from_micros(r.get(2)?),
                    batch_state: BatchState::parse(&state).unwrap_or(BatchState::Uncertain),
                    transfer_id: transfer
                        .and_then(|b| <[u8; 16]>::try_from(b).ok())
                        .map(uuid::Uuid::from_bytes),
                    bureau_batch_id: r.get(5)?,
                    contract_code: r.get(6)?,
                    operation: r.get(7)?,
                    outcome: r.get(8)?,
                    message: r.get(9)?,
                })
            })?
            .collect()
        })
    }

    fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let Some(conn) = &self.conn else {
            return Err(self.error("no SQLite connection".into()));
        };
        let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn).map_err(|e| self.error(e.to_string()))
    }

    fn error(&self, message: String) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message,
        }
    }

    /// The state in the PostgreSQL database the replicas share (migrated).
    pub fn open_postgres(pg: std::sync::Arc<crate::db::Pg>) -> ReportStore {
        let pg = crate::db::reporting::PgReportStore::new(pg);
        ReportStore {
            conn: None,
            path: pg.shown().to_owned(),
            pg: Some(pg),
        }
    }

    /// The shared database's side of the store (its run lock), when there is one.
    pub fn postgres(&self) -> Option<&crate::db::reporting::PgReportStore> {
        self.pg.as_ref()
    }

    /// Records a run as started; returns its id.
    pub fn begin_run(&self, trigger: &str, source: &str, dry_run: bool) -> Result<i64, StoreError> {
        if let Some(pg) = &self.pg {
            return pg
                .begin_run(trigger, source, dry_run)
                .map_err(|m| self.error(m));
        }
        self.with(|c| {
            c.execute(
                "INSERT INTO report_runs (started_at, trigger, source, dry_run, status) \
                 VALUES (?1, ?2, ?3, ?4, 'running')",
                params![micros(OffsetDateTime::now_utc()), trigger, source, dry_run],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Records how a run ended.
    pub fn finish_run(
        &self,
        id: i64,
        status: &str,
        counts: &Counts,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(pg) = &self.pg {
            return pg
                .finish_run(id, status, counts, message)
                .map_err(|m| self.error(m));
        }
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.with(|c| {
            c.execute(
                "UPDATE report_runs SET finished_at = ?2, status = ?3, read = ?4, invalid = ?5, \
                 unchanged = ?6, sent = ?7, accepted = ?8, rejected = ?9, message = ?10, \
                 held = ?11 WHERE id = ?1",
                params![
                    id,
                    micros(OffsetDateTime::now_utc()),
                    status,
                    n(counts.read),
                    n(counts.invalid),
                    n(counts.unchanged),
                    n(counts.sent),
                    n(counts.accepted),
                    n(counts.rejected),
                    message,
                    n(counts.held)
                ],
            )?;
            Ok(())
        })
    }

    /// Runs that never finished (the process died): marked failed, so status tells the truth.
    pub fn close_abandoned_runs(&self) -> Result<u64, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.close_abandoned_runs().map_err(|m| self.error(m));
        }
        self.with(|c| {
            let n = c.execute(
                "UPDATE report_runs SET status = 'failed', finished_at = ?1, \
                 message = 'the run stopped before it finished (the process ended)' \
                 WHERE status = 'running'",
                params![micros(OffsetDateTime::now_utc())],
            )?;
            Ok(n as u64)
        })
    }

    /// The fingerprint of what the bureau last accepted of `contract_code`.
    pub fn accepted_fingerprint(
        &self,
        contract_code: &str,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg
                .accepted_fingerprint(contract_code)
                .map_err(|m| self.error(m));
        }
        self.with(|c| {
            c.prepare_cached("SELECT fingerprint FROM report_contracts WHERE contract_code = ?1")?
                .query_row([contract_code], |r| r.get::<_, Vec<u8>>(0))
                .optional()
                .map(|v| v.map(hash32))
        })
    }

    /// Records a batch and its records (state `built`) in one transaction; returns its id.
    pub fn create_batch(&self, run_id: i64, records: &[BatchRecord]) -> Result<i64, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.create_batch(run_id, records).map_err(|m| self.error(m));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let now = micros(OffsetDateTime::now_utc());
            tx.execute(
                "INSERT INTO report_batches (run_id, created_at, updated_at, state, records) \
                 VALUES (?1, ?2, ?2, 'built', ?3)",
                params![run_id, now, records.len() as i64],
            )?;
            let id = tx.last_insert_rowid();
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO report_batch_records \
                     (batch_id, contract_code, operation, fingerprint, subject) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for r in records {
                    st.execute(params![
                        id,
                        r.contract_code,
                        r.operation,
                        &r.fingerprint[..],
                        &r.subject[..]
                    ])?;
                }
            }
            tx.commit()?;
            Ok(id)
        })
    }

    /// Moves a batch to `state`, with the transfer id, the bureau's batch id and a message when
    /// given (an absent value keeps the stored one).
    pub fn set_batch_state(
        &self,
        id: i64,
        state: BatchState,
        transfer_id: Option<uuid::Uuid>,
        bureau_batch_id: Option<&str>,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(pg) = &self.pg {
            return pg
                .set_batch_state(id, state, transfer_id, bureau_batch_id, message)
                .map_err(|m| self.error(m));
        }
        self.with(|c| {
            c.execute(
                "UPDATE report_batches SET state = ?2, updated_at = ?3, \
                 transfer_id = COALESCE(?4, transfer_id), \
                 bureau_batch_id = COALESCE(?5, bureau_batch_id), \
                 message = COALESCE(?6, message) WHERE id = ?1",
                params![
                    id,
                    state.as_str(),
                    micros(OffsetDateTime::now_utc()),
                    transfer_id.map(|t| t.as_bytes().to_vec()),
                    bureau_batch_id,
                    message
                ],
            )?;
            Ok(())
        })
    }

    /// The bureau's final word on a batch, in one transaction: each record's outcome, the
    /// accepted contracts' fingerprints (so they are not sent again until they change), and the
    /// batch's counts and state `final`.
    pub fn finalize_batch(
        &self,
        id: i64,
        outcomes: &[(String, &'static str, Option<String>)],
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(pg) = &self.pg {
            return pg
                .finalize_batch(id, outcomes, message)
                .map_err(|m| self.error(m));
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let now = micros(OffsetDateTime::now_utc());
            let (mut accepted, mut rejected) = (0i64, 0i64);
            {
                let mut set = tx.prepare_cached(
                    "UPDATE report_batch_records SET outcome = ?3, message = ?4 \
                     WHERE batch_id = ?1 AND contract_code = ?2",
                )?;
                let mut keep = tx.prepare_cached(
                    "INSERT INTO report_contracts \
                     (contract_code, fingerprint, subject, batch_id, accepted_at) \
                     SELECT contract_code, fingerprint, subject, batch_id, ?3 \
                     FROM report_batch_records WHERE batch_id = ?1 AND contract_code = ?2 \
                     ON CONFLICT (contract_code) DO UPDATE SET fingerprint = excluded.fingerprint, \
                     subject = excluded.subject, batch_id = excluded.batch_id, \
                     accepted_at = excluded.accepted_at",
                )?;
                for (code, outcome, msg) in outcomes {
                    set.execute(params![id, code, outcome, msg])?;
                    match *outcome {
                        "accepted" => {
                            accepted += 1;
                            keep.execute(params![id, code, now])?;
                        }
                        "rejected" => rejected += 1,
                        _ => {}
                    }
                }
            }
            tx.execute(
                "UPDATE report_batches SET state = 'final', updated_at = ?2, accepted = ?3, \
                 rejected = ?4, message = COALESCE(?5, message) WHERE id = ?1",
                params![id, now, accepted, rejected, message],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn batch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBatch> {
        let state: String = r.get(2)?;
        let transfer: Option<Vec<u8>> = r.get(4)?;
        let count = |v: Option<i64>| v.map(|v| u64::try_from(v).unwrap_or(0));
        Ok(StoredBatch {
            id: r.get(0)?,
            run_id: r.get(1)?,
            state: BatchState::parse(&state).unwrap_or(BatchState::Uncertain),
            records: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            transfer_id: transfer
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(uuid::Uuid::from_bytes),
            bureau_batch_id: r.get(5)?,
            accepted: count(r.get(6)?),
            rejected: count(r.get(7)?),
            message: r.get(8)?,
        })
    }

    const BATCH_COLUMNS: &'static str =
        "id, run_id, state, records, transfer_id, bureau_batch_id, accepted, rejected, message";

    /// Batches a run left before the bureau's final word: `built`, `sending`, `uploaded`.
    pub fn unfinished_batches(&self) -> Result<Vec<StoredBatch>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.unfinished_batches().map_err(|m| self.error(m));
        }
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {} FROM report_batches \
                 WHERE state IN ('built', 'sending', 'uploaded') ORDER BY id",
                Self::BATCH_COLUMNS
            ))?;
            st.query_map([], Self::batch_from_row)?.collect()
        })
    }

    /// The contract codes of the batches still waiting for the bureau's final word.
    pub fn codes_in_flight(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.codes_in_flight().map_err(|m| self.error(m));
        }
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT r.contract_code FROM report_batch_records r \
                 JOIN report_batches b ON b.id = r.batch_id WHERE b.state = 'uploaded'",
            )?;
            st.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// A batch's records, by contract code.
    pub fn batch_records(&self, batch_id: i64) -> Result<Vec<BatchRecord>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.batch_records(batch_id).map_err(|m| self.error(m));
        }
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT contract_code, operation, fingerprint, subject \
                 FROM report_batch_records WHERE batch_id = ?1 ORDER BY contract_code",
            )?;
            st.query_map([batch_id], |r| {
                Ok(BatchRecord {
                    contract_code: r.get(0)?,
                    operation: r.get(1)?,
                    fingerprint: hash32(r.get(2)?),
                    subject: hash32(r.get(3)?),
                })
            })?
            .collect()
        })
    }

    /// The most recent runs, newest first.
    pub fn recent_runs(&self, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.recent_runs(limit).map_err(|m| self.error(m));
        }
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, started_at, finished_at, trigger, source, dry_run, status, read, \
                 invalid, unchanged, sent, accepted, rejected, message, held FROM report_runs \
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            st.query_map([limit], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    started_at: from_micros(r.get(1)?),
                    finished_at: r.get::<_, Option<i64>>(2)?.map(from_micros),
                    trigger: r.get(3)?,
                    source: r.get(4)?,
                    dry_run: r.get(5)?,
                    status: r.get(6)?,
                    read: n(r.get(7)?),
                    invalid: n(r.get(8)?),
                    unchanged: n(r.get(9)?),
                    sent: n(r.get(10)?),
                    accepted: n(r.get(11)?),
                    rejected: n(r.get(12)?),
                    message: r.get(13)?,
                    held: n(r.get(14)?),
                })
            })?
            .collect()
        })
    }

    /// Contracts the bureau has accepted so far.
    pub fn accepted_contracts(&self) -> Result<u64, StoreError> {
        if let Some(pg) = &self.pg {
            return pg.accepted_contracts().map_err(|m| self.error(m));
        }
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM report_contracts", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
        })
    }
}
