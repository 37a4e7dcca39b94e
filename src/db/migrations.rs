//! Versioned schema migrations for PostgreSQL, applied at start-up and by `kuzet db migrate`.
//!
//! Each migration has a number, a name and its SQL; `kuzet_migrations` records which are
//! applied. All pending ones run in ONE transaction under a transaction-level advisory lock
//! (keyed by the current schema), so replicas starting together apply each exactly once and a
//! failed migration leaves nothing half-done. A database migrated by a newer kuzet (a version
//! this binary does not know) is refused rather than used.
//!
//! Migrations are append-only: never edit a released one, add the next number.
//!
//! The tables mirror the SQLite files' (`transfer-log.sqlite`, `registry.sqlite`,
//! `reporting.sqlite`) column for column, so `kuzet db copy` moves rows unchanged and the
//! hash chain, computed over the stored values, still verifies. Times are `BIGINT` microseconds
//! since the Unix epoch (UTC), as in SQLite.

use super::{DbError, Pg, pg_error};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial schema: transfer log, registry, reporting state",
    sql: r#"
CREATE TABLE entries (
    seq         BIGINT  PRIMARY KEY CHECK (seq > 0),
    transfer_id BYTEA   NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    purpose     TEXT,
    legal_basis TEXT,
    consent_id  BYTEA,
    reference   TEXT,
    subject     BYTEA,
    fields      TEXT    NOT NULL,
    dropped     TEXT    NOT NULL,
    denied      TEXT    NOT NULL,
    body_digest BYTEA,
    body_nonce  BYTEA,
    body        BYTEA,
    upstream    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    latency_ms  BIGINT,
    prev_hash   BYTEA   NOT NULL,
    hash        BYTEA   NOT NULL
);
CREATE INDEX entries_transfer ON entries (transfer_id);
CREATE INDEX entries_at ON entries (at);
CREATE INDEX entries_subject ON entries (subject, seq);
CREATE FUNCTION kuzet_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION kuzet_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION kuzet_append_only();

-- The writers' lock: every append transaction locks this one row first, so appends from all
-- replicas form one line. `erasures` counts key destructions, so a replica knows when the
-- subject keys it has cached may be stale.
CREATE TABLE log_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    erasures  BIGINT  NOT NULL
);
INSERT INTO log_head (id, erasures) VALUES (1, 0);

CREATE TABLE subject_keys (
    subject    BYTEA  PRIMARY KEY,
    wrapped    BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       BYTEA  NOT NULL,
    at         BIGINT NOT NULL,
    public_key BYTEA  NOT NULL,
    signature  BYTEA  NOT NULL
);
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION kuzet_append_only();

CREATE TABLE clients (
    name        TEXT   PRIMARY KEY,
    role        TEXT   NOT NULL,
    token_hash  BYTEA  NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE TABLE consents (
    id              BYTEA  PRIMARY KEY,
    subject         BYTEA  NOT NULL,
    subject_masked  TEXT   NOT NULL,
    recipients      TEXT   NOT NULL,
    purposes        TEXT   NOT NULL,
    granted_at      BIGINT NOT NULL,
    channel         TEXT   NOT NULL,
    evidence        TEXT   NOT NULL,
    expires_at      BIGINT,
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT   NOT NULL,
    revoked_at      BIGINT,
    revoked_by      TEXT
);
CREATE INDEX consents_subject ON consents (subject);
CREATE TABLE idempotency (
    client          TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    request_digest  BYTEA   NOT NULL,
    state           TEXT    NOT NULL,
    status          INTEGER,
    body            BYTEA,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT,
    PRIMARY KEY (client, key)
);

CREATE TABLE report_runs (
    id          BIGSERIAL PRIMARY KEY,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT,
    trigger     TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    dry_run     BOOLEAN NOT NULL,
    status      TEXT    NOT NULL,
    read        BIGINT  NOT NULL DEFAULT 0,
    invalid     BIGINT  NOT NULL DEFAULT 0,
    unchanged   BIGINT  NOT NULL DEFAULT 0,
    sent        BIGINT  NOT NULL DEFAULT 0,
    held        BIGINT  NOT NULL DEFAULT 0,
    accepted    BIGINT  NOT NULL DEFAULT 0,
    rejected    BIGINT  NOT NULL DEFAULT 0,
    message     TEXT
);
CREATE TABLE report_batches (
    id              BIGSERIAL PRIMARY KEY,
    run_id          BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    state           TEXT    NOT NULL,
    records         BIGINT  NOT NULL,
    transfer_id     BYTEA,
    bureau_batch_id TEXT,
    accepted        BIGINT,
    rejected        BIGINT,
    message         TEXT
);
CREATE INDEX report_batches_state ON report_batches (state);
CREATE TABLE report_batch_records (
    batch_id      BIGINT  NOT NULL,
    contract_code TEXT    NOT NULL,
    operation     BIGINT  NOT NULL,
    fingerprint   BYTEA   NOT NULL,
    subject       BYTEA   NOT NULL,
    outcome       TEXT,
    message       TEXT,
    PRIMARY KEY (batch_id, contract_code)
);
CREATE INDEX report_batch_records_subject ON report_batch_records (subject);
CREATE TABLE report_contracts (
    contract_code TEXT    PRIMARY KEY,
    fingerprint   BYTEA   NOT NULL,
    subject       BYTEA   NOT NULL,
    batch_id      BIGINT  NOT NULL,
    accepted_at   BIGINT  NOT NULL
);

-- What this database was started with (the master key's id, the checkpoint public key).
CREATE TABLE kuzet_meta (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);
"#,
}];

/// The schema version this binary expects (the last migration's).
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// A migration that was applied now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i32,
    pub name: &'static str,
}

/// Applies every pending migration (see the module header); returns those applied now, empty
/// when the schema was current.
pub fn migrate(pg: &Pg) -> Result<Vec<Applied>, DbError> {
    let mut conn = pg.conn()?;
    let err = |e: tokio_postgres::Error| DbError(format!("migrations: {}", pg_error(&e)));
    pg.block(async {
        let tx = conn.transaction().await.map_err(err)?;
        // "relation already exists, skipping" is not news.
        tx.batch_execute("SET LOCAL client_min_messages = warning")
            .await
            .map_err(err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.kuzet.migrate', 0))",
            &[],
        )
        .await
        .map_err(err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS kuzet_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(err)?;
        let current: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM kuzet_migrations", &[])
            .await
            .map_err(err)?
            .get(0);
        if current > latest_version() {
            return Err(DbError(format!(
                "the database schema is at version {current}, newer than this kuzet knows \
                 ({}): run the newer kuzet, or restore a backup taken before its upgrade",
                latest_version()
            )));
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            tx.batch_execute(m.sql).await.map_err(|e| {
                DbError(format!(
                    "migration {} ({}): {}",
                    m.version,
                    m.name,
                    pg_error(&e)
                ))
            })?;
            tx.execute(
                "INSERT INTO kuzet_migrations (version, name) VALUES ($1, $2)",
                &[&m.version, &m.name],
            )
            .await
            .map_err(err)?;
            applied.push(Applied {
                version: m.version,
                name: m.name,
            });
        }
        tx.commit().await.map_err(err)?;
        Ok(applied)
    })
}

/// The applied schema version (0: none).
pub fn version(pg: &Pg) -> Result<i32, DbError> {
    let conn = pg.conn()?;
    pg.block(async {
        let exists: bool = conn
            .query_one("SELECT to_regclass('kuzet_migrations') IS NOT NULL", &[])
            .await
            .map_err(|e| DbError(pg_error(&e)))?
            .get(0);
        if !exists {
            return Ok(0);
        }
        conn.query_one(
            "SELECT COALESCE(MAX(version), 0) FROM kuzet_migrations",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .map_err(|e| DbError(pg_error(&e)))
    })
}
