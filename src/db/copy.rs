//! `kuzet db copy --from sqlite:DATA_DIR --to postgres:URL`: moves an embedded deployment to
//! PostgreSQL with the chain intact.
//!
//! In order: the source log is verified (a broken chain is not copied); the target is migrated
//! and must be empty; the target records the source's keys (so only replicas with the source's
//! `master.key` and `checkpoint.key` can use it); then every table of the three SQLite files is
//! copied in ONE PostgreSQL transaction, row values unchanged (binary COPY, streamed), and the
//! target's log is verified, its tip compared with the source's. Nothing is written to the
//! source. A failure leaves the target as it was (the transaction rolls back).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{DatabaseConfig, DbError, Pg, pg_error};
use crate::transfer_log::{LogBackend, PgBackend, VerifyOptions, VerifySummary};

/// The tables copied, per SQLite file, in an order that keeps references whole.
const TABLES: &[(&str, &str, &str)] = &[
    (
        crate::transfer_log::SQLITE_FILE,
        "entries",
        crate::transfer_log::ENTRY_COLUMNS,
    ),
    (
        crate::transfer_log::SQLITE_FILE,
        "subject_keys",
        "subject, wrapped, created_at",
    ),
    (
        crate::transfer_log::SQLITE_FILE,
        "checkpoints",
        crate::transfer_log::CHECKPOINT_COLUMNS,
    ),
    (
        crate::registry::REGISTRY_FILE,
        "clients",
        "name, role, token_hash, created_at, revoked_at",
    ),
    (
        crate::registry::REGISTRY_FILE,
        "consents",
        crate::registry::CONSENT_COLUMNS,
    ),
    (
        crate::registry::REGISTRY_FILE,
        "idempotency",
        "client, key, request_digest, state, status, body, created_at, finished_at",
    ),
    (
        crate::reporting::REPORTING_FILE,
        "report_runs",
        "id, started_at, finished_at, trigger, source, dry_run, status, read, invalid, \
         unchanged, sent, held, accepted, rejected, message",
    ),
    (
        crate::reporting::REPORTING_FILE,
        "report_batches",
        "id, run_id, created_at, updated_at, state, records, transfer_id, bureau_batch_id, \
         accepted, rejected, message",
    ),
    (
        crate::reporting::REPORTING_FILE,
        "report_batch_records",
        "batch_id, contract_code, operation, fingerprint, subject, outcome, message",
    ),
    (
        crate::reporting::REPORTING_FILE,
        "report_contracts",
        "contract_code, fingerprint, subject, batch_id, accepted_at",
    ),
];

/// Rows per progress report.
const PROGRESS_EVERY: u64 = 10_000;

/// What `db copy` is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// The source data directory.
    pub from: PathBuf,
    /// The target's URL.
    pub to: String,
}

/// Parses `--from sqlite:PATH` (a data directory, or its `transfer-log.sqlite`) and
/// `--to postgres:URL` (or a bare `postgres://` URL).
pub fn parse_spec(from: &str, to: &str) -> Result<CopySpec, String> {
    let path = from.strip_prefix("sqlite:").ok_or_else(|| {
        format!("--from: expected sqlite:PATH (the data directory), got {from:?}")
    })?;
    let mut path = PathBuf::from(path);
    if path.is_file() {
        path = path.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let url = if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        to.to_owned()
    } else if let Some(rest) = to.strip_prefix("postgres:") {
        rest.to_owned()
    } else {
        return Err(
            "--to: expected postgres:URL (e.g. postgres:postgres://kuzet@db:5432/kuzet)".into(),
        );
    };
    Ok(CopySpec {
        from: path,
        to: url,
    })
}

/// What was copied.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// Rows per table.
    pub tables: Vec<(&'static str, u64)>,
    /// The target's log as verified after the copy.
    pub verified: VerifySummary,
}

/// A SQLite value bound to the target column's type.
struct Value<'a>(ValueRef<'a>);

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Value")
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (ValueRef::Null, _) => Ok(IsNull::Yes),
            (ValueRef::Integer(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out),
            (ValueRef::Integer(i), &Type::BOOL) => (i != 0).to_sql(ty, out),
            (ValueRef::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (ValueRef::Text(t), &Type::TEXT) => std::str::from_utf8(t)?.to_sql(ty, out),
            (ValueRef::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (v, ty) => Err(format!(
                "a stored {:?} value cannot go into a {ty} column",
                v.data_type()
            )
            .into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT4, Type::INT8, Type::BOOL, Type::TEXT, Type::BYTEA].contains(ty)
    }

    to_sql_checked!();
}

fn io(e: rusqlite::Error, file: &Path) -> DbError {
    DbError(format!("{}: {e}", file.display()))
}

/// Copies the deployment in `spec.from` into `spec.to` (see the module header); `progress`
/// hears each table's name and the rows copied so far.
pub fn copy(
    spec: &CopySpec,
    config: &DatabaseConfig,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport, DbError> {
    let log_file = spec.from.join(crate::transfer_log::SQLITE_FILE);
    if !log_file.is_file() {
        return Err(DbError(format!(
            "{}: no transfer log here (is it the data directory?)",
            log_file.display()
        )));
    }
    // 1. The source must hold: a broken chain is evidence to keep as it is, not to move.
    let source = crate::transfer_log::verify_data_dir(&spec.from).map_err(|e| {
        DbError(format!(
            "the source log does not verify, nothing copied: {e}"
        ))
    })?;
    // 2. The target: migrated, empty, with the source's keys.
    let config = DatabaseConfig {
        url: Some(spec.to.clone()),
        ..config.clone()
    };
    let pg = Pg::connect(&config)?;
    super::migrations::migrate(&pg)?;
    ensure_empty(&pg)?;
    super::check_keys(&pg, &spec.from)?;
    // 3. Every table, in one transaction.
    let mut conn = pg.conn()?;
    let mut tables = Vec::new();
    pg.block(async {
        let tx = conn
            .transaction()
            .await
            .map_err(|e| DbError(pg_error(&e)))?;
        tx.execute("SELECT erasures FROM log_head WHERE id = 1 FOR UPDATE", &[])
            .await
            .map_err(|e| DbError(pg_error(&e)))?;
        for (file, table, columns) in TABLES {
            let path = spec.from.join(file);
            if !path.is_file() {
                tables.push((*table, 0));
                continue;
            }
            let src = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| io(e, &path))?;
            let exists: bool = src
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                    [table],
                    |r| r.get(0),
                )
                .map_err(|e| io(e, &path))?;
            if !exists {
                tables.push((*table, 0));
                continue;
            }
            let types: Vec<Type> = tx
                .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
                .await
                .map_err(|e| DbError(pg_error(&e)))?
                .columns()
                .iter()
                .map(|c| c.type_().clone())
                .collect();
            let sink = tx
                .copy_in(&format!("COPY {table} ({columns}) FROM STDIN BINARY"))
                .await
                .map_err(|e| DbError(pg_error(&e)))?;
            let writer = BinaryCopyInWriter::new(sink, &types);
            futures::pin_mut!(writer);
            let mut st = src
                .prepare(&format!("SELECT {columns} FROM {table} ORDER BY rowid"))
                .or_else(|_| src.prepare(&format!("SELECT {columns} FROM {table}")))
                .map_err(|e| io(e, &path))?;
            let mut rows = st.query([]).map_err(|e| io(e, &path))?;
            let mut n = 0u64;
            while let Some(row) = rows.next().map_err(|e| io(e, &path))? {
                let values: Vec<Value<'_>> = (0..types.len())
                    .map(|i| Value(row.get_ref(i).unwrap_or(ValueRef::Null)))
                    .collect();
                let refs: Vec<&(dyn ToSql + Sync)> =
                    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                writer
                    .as_mut()
                    .write(&refs)
                    .await
                    .map_err(|e| DbError(format!("{table}: {}", pg_error(&e))))?;
                n += 1;
                if n.is_multiple_of(PROGRESS_EVERY) {
                    progress(table, n);
                }
            }
            writer
                .finish()
                .await
                .map_err(|e| DbError(format!("{table}: {}", pg_error(&e))))?;
            progress(table, n);
            tables.push((*table, n));
        }
        // The serial ids continue after the copied ones.
        for table in ["report_runs", "report_batches"] {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )
            .await
            .map_err(|e| DbError(pg_error(&e)))?;
        }
        tx.commit().await.map_err(|e| DbError(pg_error(&e)))
    })?;
    drop(conn);
    // 4. The copy verifies, and ends where the source did.
    let mut backend = PgBackend::new(pg.clone());
    let options = VerifyOptions {
        public_key: Some(
            crate::transfer_log::CheckpointSigner::open(&spec.from)
                .map_err(|e| DbError(e.to_string()))?
                .public_key(),
        ),
        ..VerifyOptions::default()
    };
    let verified = crate::transfer_log::verify_with(&mut backend, &options)
        .map_err(|e| DbError(format!("the copied log does not verify: {e}")))?;
    if (verified.last_seq, verified.tip_hash) != (source.last_seq, source.tip_hash) {
        return Err(DbError(format!(
            "the copied log ends at seq {}, the source at seq {}",
            verified.last_seq, source.last_seq
        )));
    }
    Ok(CopyReport { tables, verified })
}

/// Refuses a target that holds anything (a copy never merges).
fn ensure_empty(pg: &Arc<Pg>) -> Result<(), DbError> {
    let mut backend = PgBackend::new(pg.clone());
    if backend.tip().map_err(|e| DbError(e.to_string()))?.is_some() {
        return Err(DbError(format!(
            "{} already holds a transfer log: a copy goes into an empty database only",
            pg.shown()
        )));
    }
    let conn = pg.conn()?;
    for (_, table, _) in TABLES {
        let any: bool = pg
            .block(conn.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[]))
            .map_err(|e| DbError(pg_error(&e)))?
            .get(0);
        if any {
            return Err(DbError(format!(
                "{}: table {table} is not empty: a copy goes into an empty database only",
                pg.shown()
            )));
        }
    }
    Ok(())
}
