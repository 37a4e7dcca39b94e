//! The reporting job's state in the shared PostgreSQL database (the same tables and state
//! machine as `reporting.sqlite`, see `reporting::store`), and the lock that lets one replica
//! at a time run the job: a session-level advisory lock held on a connection of its own for
//! the whole run. When the replica holding it dies, PostgreSQL ends its session and releases
//! the lock, and the next replica's run takes over: it closes the dead run, polls the batches it
//! left `uploaded`, and reads again the contracts of those it left `built`.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{Pg, PgConn, pg_error};
use crate::reporting::store::{
    BatchRecord, BatchState, Counts, RunRow, StoredBatch, SubjectRecord, from_micros, micros,
};

/// The advisory lock's key: per schema, so that separate deployments (or tests) in one
/// database do not exclude each other.
const LOCK_KEY: &str = "hashtextextended(current_schema() || '.kuzet.reporting', 0)";

/// The reporting state on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgReportStore {
    pg: Arc<Pg>,
}

/// The job's lock across replicas; released when dropped (or when the process dies).
pub struct RunLock {
    pg: Arc<Pg>,
    conn: Option<PgConn>,
}

impl std::fmt::Debug for RunLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLock")
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let unlocked = self.pg.block(super::query_one(
                &conn,
                &format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
                &[],
            ));
            if !matches!(unlocked.map(|r| r.get::<_, bool>(0)), Ok(true)) {
                // Closing the session releases the lock for sure: never give it back to the
                // pool still holding it.
                drop(deadpool_postgres::Object::take(conn));
            }
        }
    }
}

fn n(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn hash32(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap_or([0; 32])
}

fn uuid(v: Option<&[u8]>) -> Option<uuid::Uuid> {
    v.and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(uuid::Uuid::from_bytes)
}

fn batch_from_row(r: &Row) -> StoredBatch {
    let state: &str = r.get(2);
    StoredBatch {
        id: r.get(0),
        run_id: r.get(1),
        state: BatchState::parse(state).unwrap_or(BatchState::Uncertain),
        records: u(r.get(3)),
        transfer_id: uuid(r.get(4)),
        bureau_batch_id: r.get(5),
        accepted: r.get::<_, Option<i64>>(6).map(u),
        rejected: r.get::<_, Option<i64>>(7).map(u),
        message: r.get(8),
    }
}

const BATCH_COLUMNS: &str =
    "id, run_id, state, records, transfer_id, bureau_batch_id, accepted, rejected, message";

impl PgReportStore {
    /// The state in `pg` (migrated).
    pub fn new(pg: Arc<Pg>) -> PgReportStore {
        PgReportStore { pg }
    }

    /// Where the state is, for messages.
    pub fn shown(&self) -> &str {
        self.pg.shown()
    }

    fn conn(&self) -> Result<PgConn, String> {
        self.pg.conn().map_err(|e| e.to_string())
    }

    /// Takes the job's lock across replicas; `Ok(None)` when another replica's run holds it.
    pub fn try_lock_run(&self) -> Result<Option<RunLock>, String> {
        let conn = self.conn()?;
        let got: bool = self
            .pg
            .block(super::query_one(
                &conn,
                &format!("SELECT pg_try_advisory_lock({LOCK_KEY})"),
                &[],
            ))
            .map_err(|e| pg_error(&e))?
            .get(0);
        Ok(got.then(|| RunLock {
            pg: self.pg.clone(),
            conn: Some(conn),
        }))
    }

    pub fn records_for_subject(&self, subject: &[u8; 32]) -> Result<Vec<SubjectRecord>, String> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                "SELECT b.id, b.run_id, b.created_at, b.state, b.transfer_id, b.bureau_batch_id, \
                 r.contract_code, r.operation, r.outcome, r.message \
                 FROM report_batch_records r JOIN report_batches b ON b.id = r.batch_id \
                 WHERE r.subject = $1 ORDER BY b.id, r.contract_code",
                &[&&subject[..]],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let state: &str = r.get(3);
                SubjectRecord {
                    batch_id: r.get(0),
                    run_id: r.get(1),
                    batch_created_at: from_micros(r.get(2)),
                    batch_state: BatchState::parse(state).unwrap_or(BatchState::Uncertain),
                    transfer_id: uuid(r.get(4)),
                    bureau_batch_id: r.get(5),
                    contract_code: r.get(6),
                    operation: u32::try_from(r.get::<_, i64>(7)).unwrap_or(0),
                    outcome: r.get(8),
                    message: r.get(9),
                }
            })
            .collect())
    }

    pub fn begin_run(&self, trigger: &str, source: &str, dry_run: bool) -> Result<i64, String> {
        let conn = self.conn()?;
        self.pg
            .block(super::query_one(
                &conn,
                "INSERT INTO report_runs (started_at, trigger, source, dry_run, status) \
                 VALUES ($1, $2, $3, $4, 'running') RETURNING id",
                &[
                    &micros(OffsetDateTime::now_utc()),
                    &trigger,
                    &source,
                    &dry_run,
                ],
            ))
            .map(|r| r.get(0))
            .map_err(|e| pg_error(&e))
    }

    pub fn finish_run(
        &self,
        id: i64,
        status: &str,
        counts: &Counts,
        message: Option<&str>,
    ) -> Result<(), String> {
        let conn = self.conn()?;
        self.pg
            .block(super::execute(
                &conn,
                "UPDATE report_runs SET finished_at = $2, status = $3, read = $4, invalid = $5, \
                 unchanged = $6, sent = $7, accepted = $8, rejected = $9, message = $10, \
                 held = $11 WHERE id = $1",
                &[
                    &id,
                    &micros(OffsetDateTime::now_utc()),
                    &status,
                    &n(counts.read),
                    &n(counts.invalid),
                    &n(counts.unchanged),
                    &n(counts.sent),
                    &n(counts.accepted),
                    &n(counts.rejected),
                    &message,
                    &n(counts.held),
                ],
            ))
            .map(|_| ())
            .map_err(|e| pg_error(&e))
    }

    pub fn close_abandoned_runs(&self) -> Result<u64, String> {
        let conn = self.conn()?;
        self.pg
            .block(super::execute(
                &conn,
                "UPDATE report_runs SET status = 'failed', finished_at = $1, \
                 message = 'the run stopped before it finished (the process ended)' \
                 WHERE status = 'running'",
                &[&micros(OffsetDateTime::now_utc())],
            ))
            .map_err(|e| pg_error(&e))
    }

    pub fn accepted_fingerprint(&self, contract_code: &str) -> Result<Option<[u8; 32]>, String> {
        let conn = self.conn()?;
        let row = self
            .pg
            .block(super::query_opt(
                &conn,
                "SELECT fingerprint FROM report_contracts WHERE contract_code = $1",
                &[&contract_code],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(row.map(|r| hash32(r.get(0))))
    }

    pub fn create_batch(&self, run_id: i64, records: &[BatchRecord]) -> Result<i64, String> {
        let mut conn = self.conn()?;
        self.pg
            .block(async {
                let tx = conn.transaction().await?;
                let now = micros(OffsetDateTime::now_utc());
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO report_batches (run_id, created_at, updated_at, state, records) \
                         VALUES ($1, $2, $2, 'built', $3) RETURNING id",
                        &[&run_id, &now, &(records.len() as i64)],
                    )
                    .await?
                    .get(0);
                let codes: Vec<&str> = records.iter().map(|r| r.contract_code.as_str()).collect();
                let ops: Vec<i64> = records.iter().map(|r| i64::from(r.operation)).collect();
                let prints: Vec<&[u8]> = records.iter().map(|r| &r.fingerprint[..]).collect();
                let subjects: Vec<&[u8]> = records.iter().map(|r| &r.subject[..]).collect();
                tx.execute(
                    "INSERT INTO report_batch_records \
                     (batch_id, contract_code, operation, fingerprint, subject) \
                     SELECT $1, c, o, f, s FROM UNNEST($2::text[], $3::int8[], $4::bytea[], \
                     $5::bytea[]) AS r(c, o, f, s)",
                    &[&id, &codes, &ops, &prints, &subjects],
                )
                .await?;
                tx.commit().await?;
                Ok(id)
            })
            .map_err(|e: tokio_postgres::Error| pg_error(&e))
    }

    pub fn set_batch_state(
        &self,
        id: i64,
        state: BatchState,
        transfer_id: Option<uuid::Uuid>,
        bureau_batch_id: Option<&str>,
        message: Option<&str>,
    ) -> Result<(), String> {
        let conn = self.conn()?;
        let transfer = transfer_id.map(|t| t.as_bytes().to_vec());
        self.pg
            .block(super::execute(
                &conn,
                "UPDATE report_batches SET state = $2, updated_at = $3, \
                 transfer_id = COALESCE($4, transfer_id), \
                 bureau_batch_id = COALESCE($5, bureau_batch_id), \
                 message = COALESCE($6, message) WHERE id = $1",
                &[
                    &id,
                    &state.as_str(),
                    &micros(OffsetDateTime::now_utc()),
                    &transfer,
                    &bureau_batch_id,
                    &message,
                ],
            ))
            .map(|_| ())
            .map_err(|e| pg_error(&e))
    }

    pub fn finalize_batch(
        &self,
        id: i64,
        outcomes: &[(String, &'static str, Option<String>)],
        message: Option<&str>,
    ) -> Result<(), String> {
        let mut conn = self.conn()?;
        self.pg
            .block(async {
                let tx = conn.transaction().await?;
                let now = micros(OffsetDateTime::now_utc());
                let codes: Vec<&str> = outcomes.iter().map(|(c, _, _)| c.as_str()).collect();
                let results: Vec<&str> = outcomes.iter().map(|(_, o, _)| *o).collect();
                let messages: Vec<Option<&str>> =
                    outcomes.iter().map(|(_, _, m)| m.as_deref()).collect();
                tx.execute(
                    "UPDATE report_batch_records r SET outcome = o.outcome, message = o.message \
                     FROM UNNEST($2::text[], $3::text[], $4::text[]) AS o(code, outcome, message) \
                     WHERE r.batch_id = $1 AND r.contract_code = o.code",
                    &[&id, &codes, &results, &messages],
                )
                .await?;
                let accepted: Vec<&str> = outcomes
                    .iter()
                    .filter(|(_, o, _)| *o == "accepted")
                    .map(|(c, _, _)| c.as_str())
                    .collect();
                let rejected = outcomes.iter().filter(|(_, o, _)| *o == "rejected").count();
                tx.execute(
                    "INSERT INTO report_contracts \
                     (contract_code, fingerprint, subject, batch_id, accepted_at) \
                     SELECT contract_code, fingerprint, subject, batch_id, $3 \
                     FROM report_batch_records WHERE batch_id = $1 \
                     AND contract_code = ANY($2::text[]) \
                     ON CONFLICT (contract_code) DO UPDATE SET fingerprint = excluded.fingerprint, \
                     subject = excluded.subject, batch_id = excluded.batch_id, \
                     accepted_at = excluded.accepted_at",
                    &[&id, &accepted, &now],
                )
                .await?;
                tx.execute(
                    "UPDATE report_batches SET state = 'final', updated_at = $2, accepted = $3, \
                     rejected = $4, message = COALESCE($5, message) WHERE id = $1",
                    &[
                        &id,
                        &now,
                        &(accepted.len() as i64),
                        &(rejected as i64),
                        &message,
                    ],
                )
                .await?;
                tx.commit().await
            })
            .map_err(|e| pg_error(&e))
    }

    pub fn unfinished_batches(&self) -> Result<Vec<StoredBatch>, String> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                &format!(
                    "SELECT {BATCH_COLUMNS} FROM report_batches \
                     WHERE state IN ('built', 'sending', 'uploaded') ORDER BY id"
                ),
                &[],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(rows.iter().map(batch_from_row).collect())
    }

    pub fn codes_in_flight(&self) -> Result<std::collections::HashSet<String>, String> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                "SELECT r.contract_code FROM report_batch_records r \
                 JOIN report_batches b ON b.id = r.batch_id WHERE b.state = 'uploaded'",
                &[],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub fn batch_records(&self, batch_id: i64) -> Result<Vec<BatchRecord>, String> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                "SELECT contract_code, operation, fingerprint, subject \
                 FROM report_batch_records WHERE batch_id = $1 ORDER BY contract_code",
                &[&batch_id],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| BatchRecord {
                contract_code: r.get(0),
                operation: u32::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                fingerprint: hash32(r.get(2)),
                subject: hash32(r.get(3)),
            })
            .collect())
    }

    pub fn recent_runs(&self, limit: u32) -> Result<Vec<RunRow>, String> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                "SELECT id, started_at, finished_at, trigger, source, dry_run, status, read, \
                 invalid, unchanged, sent, accepted, rejected, message, held FROM report_runs \
                 ORDER BY id DESC LIMIT $1",
                &[&i64::from(limit)],
            ))
            .map_err(|e| pg_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| RunRow {
                id: r.get(0),
                started_at: from_micros(r.get(1)),
                finished_at: r.get::<_, Option<i64>>(2).map(from_micros),
                trigger: r.get(3),
                source: r.get(4),
                dry_run: r.get(5),
                status: r.get(6),
                read: u(r.get(7)),
                invalid: u(r.get(8)),
                unchanged: u(r.get(9)),
                sent: u(r.get(10)),
                accepted: u(r.get(11)),
                rejected: u(r.get(12)),
                message: r.get(13),
                held: u(r.get(14)),
            })
            .collect())
    }

    pub fn accepted_contracts(&self) -> Result<u64, String> {
        let conn = self.conn()?;
        self.pg
            .block(super::query_one(
                &conn,
                "SELECT COUNT(*) FROM report_contracts",
                &[],
            ))
            .map(|r| u(r.get(0)))
            .map_err(|e| pg_error(&e))
    }
}
