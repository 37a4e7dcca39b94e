//! The PostgreSQL backend: one log shared by several gateway replicas (DESIGN.md "Scaling
//! out"). The tables are created by `db::migrations` and mirror the SQLite file's, column for
//! column and type for type (INTEGER → BIGINT, BLOB → BYTEA, TEXT → TEXT), so the canonical
//! encoding (mod.rs) is computed from the same values on either backend and a copied log
//! verifies unchanged.
//!
//! One chain under many writers: each replica keeps its own group-commit writer, and every
//! batch transaction first locks the single `log_head` row ([`LogBackend::lock_chain`]), then
//! reads the stored tip, and only then does the writer seal, number and chain the batch onto
//! it. Replicas therefore take turns per batch (never per entry), the chain stays one gapless
//! line, and no batch is ever refused for a moved tip. The lock is held for the batch's
//! sealing and one pipelined round trip: the rows (one INSERT of unnested column arrays), any
//! new subject keys, the checkpoint, and the COMMIT.
//!
//! Readers stream with a portal inside one REPEATABLE READ transaction (one snapshot, bounded
//! memory). Triggers refuse UPDATE, DELETE and TRUNCATE on `entries` and `checkpoints`; the
//! only destructive statement here is the DELETE of a subject key (erasure).

use std::ops::ControlFlow;
use std::sync::Arc;

use rusqlite::types::ValueRef;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::backend::Head;
use super::checkpoint::Checkpoint;
use super::entry::{COLUMNS, ENCODED_COLUMNS, from_micros, micros};
use super::query::{Order, Query};
use super::sqlite::{CP_COLUMNS, checkpoint_from_values, decode_columns, encode_columns};
use super::{Batch, BodyEntry, EncodedRow, Entry, LogBackend, LogError, RowError, WrappedKey};
use crate::db::{Pg, PgConn, pg_error};

/// Rows fetched per round trip while streaming.
const FETCH_ROWS: i32 = 2_000;

/// The PostgreSQL types of [`COLUMNS`], in order.
const COLUMN_TYPES: [Type; ENCODED_COLUMNS + 2] = [
    Type::INT8,  // seq
    Type::BYTEA, // transfer_id
    Type::INT8,  // at
    Type::TEXT,  // kind
    Type::TEXT,  // recipient
    Type::TEXT,  // operation
    Type::TEXT,  // caller
    Type::TEXT,  // purpose
    Type::TEXT,  // legal_basis
    Type::BYTEA, // consent_id
    Type::TEXT,  // reference
    Type::BYTEA, // subject
    Type::TEXT,  // fields
    Type::TEXT,  // dropped
    Type::TEXT,  // denied
    Type::BYTEA, // body_digest
    Type::BYTEA, // body_nonce
    Type::BYTEA, // body
    Type::TEXT,  // upstream
    Type::TEXT,  // outcome
    Type::INT8,  // latency_ms
    Type::BYTEA, // prev_hash
    Type::BYTEA, // hash
];

/// A stored column as SQLite's value (what the encoding and the decoder take).
fn value(row: &Row, i: usize) -> ValueRef<'_> {
    let Some(column) = row.columns().get(i) else {
        return ValueRef::Null;
    };
    match *column.type_() {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .ok()
            .flatten()
            .map_or(ValueRef::Null, ValueRef::Integer),
        Type::TEXT => row
            .try_get::<_, Option<&str>>(i)
            .ok()
            .flatten()
            .map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
        Type::BYTEA => row
            .try_get::<_, Option<&[u8]>>(i)
            .ok()
            .flatten()
            .map_or(ValueRef::Null, ValueRef::Blob),
        _ => ValueRef::Null,
    }
}

fn decode(row: &Row) -> Result<Entry, RowError> {
    decode_columns(|i| value(row, i))
}

fn unavailable(e: tokio_postgres::Error) -> LogError {
    LogError::Unavailable(format!("PostgreSQL: {}", pg_error(&e)))
}

fn storage(e: tokio_postgres::Error) -> LogError {
    LogError::Storage(format!("PostgreSQL: {}", pg_error(&e)))
}

fn corrupt(e: RowError) -> LogError {
    LogError::Corrupt {
        seq: e.seq,
        reason: e.reason,
    }
}

fn checkpoint_from_row(row: &Row) -> Result<Checkpoint, LogError> {
    checkpoint_from_values(|i| value(row, i))
}

/// The writers' lock. The tip is read by the NEXT statement: a statement that waited for the
/// lock still reads from the snapshot it started with (READ COMMITTED), which would miss the
/// batch whose commit released the lock.
const LOCK_HEAD: &str = "SELECT erasures FROM log_head WHERE id = 1 FOR UPDATE";

const READ_TIP: &str = "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1";

/// Begins a batch's transaction. A writer waits at most this long for the writers' lock: when
/// the replica holding it hangs (paused, or cut off before the database has noticed), this
/// batch fails, its appenders get `Unavailable` (nothing is sent), and the next batch tries
/// again, instead of every appender waiting without end. A batch holds the lock for a few
/// milliseconds.
const BEGIN: &str = "BEGIN; SET LOCAL lock_timeout = '5s'";

const INSERT_KEYS: &str = "INSERT INTO subject_keys (subject, wrapped, created_at) \
     SELECT s, w, $3 FROM UNNEST($1::bytea[], $2::bytea[]) AS k(s, w)";

const INSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (seq, hash, at, public_key, signature) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING";

/// Erasure: the keys go, and the count every writer reads under the lock moves on.
const DESTROY_KEYS: &str = "WITH gone AS (DELETE FROM subject_keys \
     WHERE subject = ANY($1::bytea[]) RETURNING 1) \
     UPDATE log_head SET erasures = erasures + 1 WHERE id = 1";

/// A batch's rows in one statement: one array per column, unnested.
static INSERT_ENTRIES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let arrays: Vec<String> = COLUMN_TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{}[]", i + 1, t.name()))
        .collect();
    format!(
        "INSERT INTO entries ({COLUMNS}) SELECT * FROM UNNEST({})",
        arrays.join(", ")
    )
});

/// One array per stored column, borrowed from a batch's entries.
enum Column<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Bytes(Vec<Option<&'a [u8]>>),
}

struct Columns<'a>(Vec<Column<'a>>);

impl<'a> Columns<'a> {
    fn of(entries: &'a [super::StagedEntry]) -> Columns<'a> {
        let mut cols: Vec<Column<'a>> = COLUMN_TYPES
            .iter()
            .map(|t| match *t {
                Type::INT8 => Column::Int(Vec::with_capacity(entries.len())),
                Type::TEXT => Column::Text(Vec::with_capacity(entries.len())),
                _ => Column::Bytes(Vec::with_capacity(entries.len())),
            })
            .collect();
        for staged in entries {
            let e = staged.entry();
            let values = staged.column_values();
            let all = values.into_iter().chain([
                ValueRef::Blob(&e.prev_hash[..]),
                ValueRef::Blob(&e.hash[..]),
            ]);
            for (col, v) in cols.iter_mut().zip(all) {
                match (col, v) {
                    (Column::Int(c), ValueRef::Integer(i)) => c.push(Some(i)),
                    (Column::Int(c), _) => c.push(None),
                    (Column::Text(c), ValueRef::Text(t)) => c.push(std::str::from_utf8(t).ok()),
                    (Column::Text(c), _) => c.push(None),
                    (Column::Bytes(c), ValueRef::Blob(b)) => c.push(Some(b)),
                    (Column::Bytes(c), _) => c.push(None),
                }
            }
        }
        Columns(cols)
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|c| match c {
                Column::Int(v) => v as &(dyn ToSql + Sync),
                Column::Text(v) => v as &(dyn ToSql + Sync),
                Column::Bytes(v) => v as &(dyn ToSql + Sync),
            })
            .collect()
    }
}

/// The PostgreSQL implementation of [`LogBackend`]. The writer owns one; readers open theirs.
pub struct PgBackend {
    pg: Arc<Pg>,
    conn: Option<PgConn>,
    /// The head read by `lock_chain`, while its transaction is open.
    locked: Option<Head>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("database", &self.pg.shown())
            .finish()
    }
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

impl PgBackend {
    /// A backend on `pg` (connections come from its pool when first needed).
    pub fn new(pg: Arc<Pg>) -> PgBackend {
        PgBackend {
            pg,
            conn: None,
            locked: None,
        }
    }

    /// The connection, taken from the pool on first use and again after one broke.
    fn conn(&mut self) -> Result<(Arc<Pg>, &PgConn), LogError> {
        if self.conn.as_ref().is_some_and(|c| c.is_closed()) {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            slot => slot.insert(
                self.pg
                    .conn()
                    .map_err(|e| LogError::Unavailable(e.to_string()))?,
            ),
        };
        Ok((self.pg.clone(), conn))
    }

    /// Streams the rows of `sql` (with `params`) from one REPEATABLE READ snapshot, a portal
    /// at a time, until `visit` breaks.
    fn stream(
        &mut self,
        sql: &str,
        params: &Params,
        visit: &mut dyn FnMut(&Row) -> Result<ControlFlow<()>, LogError>,
    ) -> Result<(), LogError> {
        let (pg, _) = self.conn()?;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| LogError::Unavailable("PostgreSQL: no connection".into()))?;
        pg.block(async {
            let tx = conn
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(storage)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let portal = tx.bind(sql, &refs).await.map_err(storage)?;
            loop {
                let rows = tx
                    .query_portal(&portal, FETCH_ROWS)
                    .await
                    .map_err(storage)?;
                let done = rows.len() < FETCH_ROWS as usize;
                for row in &rows {
                    if visit(row)?.is_break() {
                        return Ok(());
                    }
                }
                if done {
                    return Ok(());
                }
            }
        })
    }

    fn select_checkpoints(
        &mut self,
        sql: &str,
        arg: Option<i64>,
    ) -> Result<Vec<Checkpoint>, LogError> {
        let (pg, conn) = self.conn()?;
        let rows = pg
            .block(async {
                match arg {
                    Some(a) => crate::db::query(conn, sql, &[&a]).await,
                    None => crate::db::query(conn, sql, &[]).await,
                }
            })
            .map_err(storage)?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    async fn read_tip(conn: &PgConn) -> Result<Option<(u64, [u8; 32])>, tokio_postgres::Error> {
        let row = crate::db::query_opt(conn, READ_TIP, &[]).await?;
        Ok(row.map(|r| {
            let seq: i64 = r.get(0);
            let hash: &[u8] = r.get(1);
            (seq as u64, hash.try_into().unwrap_or([0xff; 32]))
        }))
    }
}

/// The SELECT of a query over PostgreSQL and its parameters (all bound; only the shape varies).
fn query_sql(q: &Query) -> (String, Params) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Params = Vec::new();
    let push = |conds: &mut Vec<String>,
                args: &mut Params,
                cond: &str,
                v: Box<dyn ToSql + Sync + Send>| {
        args.push(v);
        conds.push(cond.replace('?', &format!("${}", args.len())));
    };
    for (cond, v) in [
        ("recipient = ?", &q.recipient),
        ("operation = ?", &q.operation),
        ("caller = ?", &q.caller),
        ("purpose = ?", &q.purpose),
    ] {
        if let Some(v) = v {
            push(&mut conds, &mut args, cond, Box::new(v.clone()));
        }
    }
    if let Some(k) = q.kind {
        push(
            &mut conds,
            &mut args,
            "kind = ?",
            Box::new(k.as_str().to_owned()),
        );
    }
    if let Some(o) = &q.outcome {
        push(&mut conds, &mut args, "(outcome = ?", Box::new(o.clone()));
        let last = conds.pop().unwrap_or_default();
        args.push(Box::new(format!("{o}:")));
        conds.push(format!("{last} OR starts_with(outcome, ${}))", args.len()));
    }
    if let Some(s) = q.subject {
        push(&mut conds, &mut args, "subject = ?", Box::new(s.to_vec()));
    }
    if let Some(t) = q.transfer_id {
        push(
            &mut conds,
            &mut args,
            "transfer_id = ?",
            Box::new(t.as_bytes().to_vec()),
        );
    }
    if let Some(t) = q.since {
        push(&mut conds, &mut args, "at >= ?", Box::new(micros(t)));
    }
    if let Some(t) = q.until {
        push(&mut conds, &mut args, "at < ?", Box::new(micros(t)));
    }
    let (order, cursor) = match q.order {
        Order::NewestFirst => ("DESC", "seq < ?"),
        Order::OldestFirst => ("ASC", "seq > ?"),
    };
    if let Some(c) = q.cursor {
        push(
            &mut conds,
            &mut args,
            cursor,
            Box::new(i64::try_from(c).unwrap_or(i64::MAX)),
        );
    }
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (
        format!("SELECT {COLUMNS} FROM entries{filter} ORDER BY seq {order}"),
        args,
    )
}

impl LogBackend for PgBackend {
    fn tip(&mut self) -> Result<Option<(u64, [u8; 32])>, LogError> {
        let (pg, conn) = self.conn()?;
        pg.block(PgBackend::read_tip(conn)).map_err(unavailable)
    }

    fn lock_chain(&mut self) -> Result<Option<Head>, LogError> {
        if self.locked.is_some() {
            self.abandon();
        }
        let (pg, conn) = self.conn()?;
        let head = pg
            .block(async {
                let lock = conn.prepare_cached(LOCK_HEAD).await?;
                let tip = conn.prepare_cached(READ_TIP).await?;
                // BEGIN, the lock and the tip read go out together (one round trip); the
                // server runs them in order, the tip read with a snapshot taken after the lock.
                let (begun, erasures, tip) = futures::join!(
                    conn.batch_execute(BEGIN),
                    conn.query_one(&lock, &[]),
                    conn.query_opt(&tip, &[])
                );
                let locked = begun.and(erasures).and_then(|e| {
                    let erasures: i64 = e.get(0);
                    let tip = tip?.map(|r| {
                        let seq: i64 = r.get(0);
                        let hash: &[u8] = r.get(1);
                        (seq as u64, hash.try_into().unwrap_or([0xff; 32]))
                    });
                    Ok(Head {
                        tip,
                        erasures: erasures.max(0) as u64,
                    })
                });
                if locked.is_err() {
                    let _ = conn.batch_execute("ROLLBACK").await;
                }
                locked
            })
            .map_err(unavailable)?;
        self.locked = Some(head);
        Ok(Some(head))
    }

    fn abandon(&mut self) {
        if self.locked.take().is_some()
            && let Some(conn) = &self.conn
        {
            let pg = self.pg.clone();
            if pg.block(conn.batch_execute("ROLLBACK")).is_err() {
                // A connection that cannot roll back is not given back to the pool.
                self.conn = None;
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
        let Some(first) = entries.first().map(|s| s.entry()) else {
            self.abandon();
            return Ok(());
        };
        let head = match self.locked {
            Some(h) => h,
            None => self
                .lock_chain()?
                .ok_or_else(|| LogError::Unavailable("PostgreSQL: no lock".into()))?,
        };
        if head.tip.unwrap_or((0, [0; 32])) != (first.seq - 1, first.prev_hash) {
            self.abandon();
            return Err(LogError::Conflict);
        }
        let columns = Columns::of(entries);
        let params = columns.params();
        let key_subjects: Vec<&[u8]> = new_keys.iter().map(|(s, _)| &s[..]).collect();
        let key_wrapped: Vec<&[u8]> = new_keys.iter().map(|(_, w)| w.as_slice()).collect();
        let destroyed: Vec<&[u8]> = destroy_keys.iter().map(|s| &s[..]).collect();
        let now = micros(time::OffsetDateTime::now_utc());
        let (pg, conn) = self.conn()?;
        let result = pg.block(async {
            let insert = conn.prepare_cached(&INSERT_ENTRIES).await?;
            let insert_keys = conn.prepare_cached(INSERT_KEYS).await?;
            let insert_checkpoint = conn.prepare_cached(INSERT_CHECKPOINT).await?;
            let destroy = conn.prepare_cached(DESTROY_KEYS).await?;
            let cp_params = checkpoint.map(|cp| {
                (
                    cp.seq as i64,
                    &cp.hash[..],
                    micros(cp.at),
                    &cp.public_key[..],
                    &cp.signature[..],
                )
            });
            // Everything up to the COMMIT goes out at once (pipelined): one round trip and the
            // commit's sync. A statement that fails aborts the transaction, its COMMIT then
            // only rolls back, and the error is what this returns. A subject key that exists
            // already is a unique violation (keys are only created under this lock).
            let keys = async {
                if new_keys.is_empty() {
                    Ok(0)
                } else {
                    conn.execute(&insert_keys, &[&key_subjects, &key_wrapped, &now])
                        .await
                }
            };
            let rows = conn.execute(&insert, &params);
            let signed = async {
                match &cp_params {
                    None => Ok(0),
                    Some((seq, hash, at, key, sig)) => {
                        conn.execute(&insert_checkpoint, &[seq, hash, at, key, sig])
                            .await
                    }
                }
            };
            let erased = async {
                if destroyed.is_empty() {
                    Ok(0)
                } else {
                    conn.execute(&destroy, &[&destroyed]).await
                }
            };
            let commit = conn.batch_execute("COMMIT");
            let (keys, rows, signed, erased, commit) =
                futures::join!(keys, rows, signed, erased, commit);
            keys?;
            let rows = rows?;
            signed?;
            erased?;
            commit?;
            Ok::<_, tokio_postgres::Error>(rows)
        });
        // Whatever happened, the transaction is over (committed, or rolled back by the COMMIT
        // of an aborted one).
        self.locked = None;
        match result {
            Ok(rows) if rows == entries.len() as u64 => Ok(()),
            Ok(rows) => Err(LogError::Unavailable(format!(
                "PostgreSQL stored {rows} of {} entries",
                entries.len()
            ))),
            Err(e) => {
                if self.conn.as_ref().is_some_and(|c| c.is_closed()) {
                    self.conn = None;
                } else if let Some(conn) = &self.conn {
                    // A COMMIT that never ran (the connection failed mid-pipeline): make sure.
                    let _ = self.pg.block(conn.batch_execute("ROLLBACK"));
                }
                Err(unavailable(e))
            }
        }
    }

    fn add_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), LogError> {
        let (pg, conn) = self.conn()?;
        let stored = pg
            .block(async {
                crate::db::execute(
                    conn,
                    "INSERT INTO checkpoints (seq, hash, at, public_key, signature) \
                     SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
                     (SELECT 1 FROM entries WHERE seq = $1 AND hash = $2) \
                     ON CONFLICT (seq) DO NOTHING",
                    &[
                        &(cp.seq as i64),
                        &&cp.hash[..],
                        &micros(cp.at),
                        &&cp.public_key[..],
                        &&cp.signature[..],
                    ],
                )
                .await?;
                crate::db::query_opt(
                    conn,
                    "SELECT 1 FROM entries WHERE seq = $1 AND hash = $2",
                    &[&(cp.seq as i64), &&cp.hash[..]],
                )
                .await
            })
            .map_err(unavailable)?;
        match stored {
            Some(_) => Ok(()),
            None => Err(LogError::Conflict),
        }
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, LogError> {
        self.select_checkpoints(
            &format!("SELECT {CP_COLUMNS} FROM checkpoints ORDER BY seq"),
            None,
        )
    }

    fn checkpoint_covering(&mut self, from_seq: u64) -> Result<Option<Checkpoint>, LogError> {
        Ok(self
            .select_checkpoints(
                &format!(
                    "SELECT {CP_COLUMNS} FROM checkpoints WHERE seq >= $1 ORDER BY seq LIMIT 1"
                ),
                Some(i64::try_from(from_seq).unwrap_or(i64::MAX)),
            )?
            .pop())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>, LogError> {
        Ok(self
            .select_checkpoints(
                &format!("SELECT {CP_COLUMNS} FROM checkpoints ORDER BY seq DESC LIMIT 1"),
                None,
            )?
            .pop())
    }

    fn entry_hash_at(&mut self, seq: u64) -> Result<Option<[u8; 32]>, LogError> {
        let (pg, conn) = self.conn()?;
        let row = pg
            .block(crate::db::query_opt(
                conn,
                "SELECT hash FROM entries WHERE seq = $1",
                &[&i64::try_from(seq).unwrap_or(i64::MAX)],
            ))
            .map_err(storage)?;
        row.map(|r| {
            r.get::<_, Vec<u8>>(0)
                .try_into()
                .map_err(|_| LogError::Corrupt {
                    seq,
                    reason: "hash is not 32 bytes".into(),
                })
        })
        .transpose()
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(Result<Entry, RowError>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let params: Params = vec![Box::new(i64::try_from(from_seq).unwrap_or(i64::MAX))];
        self.stream(
            &format!("SELECT {COLUMNS} FROM entries WHERE seq >= $1 ORDER BY seq"),
            &params,
            &mut |row| Ok(visit(decode(row))),
        )
    }

    fn scan_encoded(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(EncodedRow<'_>) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let params: Params = vec![Box::new(i64::try_from(from_seq).unwrap_or(i64::MAX))];
        let mut buf = Vec::with_capacity(1024);
        self.stream(
            &format!("SELECT {COLUMNS} FROM entries WHERE seq >= $1 ORDER BY seq"),
            &params,
            &mut |row| Ok(visit(encode_columns(|i| value(row, i), &mut buf))),
        )
    }

    fn query(
        &mut self,
        q: &Query,
        visit: &mut dyn FnMut(Entry) -> ControlFlow<()>,
    ) -> Result<(), LogError> {
        let (sql, params) = query_sql(q);
        self.stream(&sql, &params, &mut |row| {
            let e = decode(row).map_err(corrupt)?;
            Ok(visit(e))
        })
    }

    fn get_transfer(&mut self, transfer_id: Uuid) -> Result<Vec<Entry>, LogError> {
        let (pg, conn) = self.conn()?;
        let rows = pg
            .block(crate::db::query(
                conn,
                &format!("SELECT {COLUMNS} FROM entries WHERE transfer_id = $1 ORDER BY seq"),
                &[&&transfer_id.as_bytes()[..]],
            ))
            .map_err(storage)?;
        rows.iter().map(|r| decode(r).map_err(corrupt)).collect()
    }

    fn subject_key(&mut self, subject: &[u8; 32]) -> Result<Option<WrappedKey>, LogError> {
        let (pg, conn) = self.conn()?;
        let row = pg
            .block(crate::db::query_opt(
                conn,
                "SELECT wrapped FROM subject_keys WHERE subject = $1",
                &[&&subject[..]],
            ))
            .map_err(storage)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn subject_keys(
        &mut self,
        subjects: &[[u8; 32]],
    ) -> Result<Vec<([u8; 32], WrappedKey)>, LogError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let (pg, conn) = self.conn()?;
        let wanted: Vec<&[u8]> = subjects.iter().map(|s| &s[..]).collect();
        let rows = pg
            .block(crate::db::query(
                conn,
                "SELECT subject, wrapped FROM subject_keys WHERE subject = ANY($1::bytea[])",
                &[&wanted],
            ))
            .map_err(storage)?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let s: &[u8] = r.get(0);
                Some((s.try_into().ok()?, r.get(1)))
            })
            .collect())
    }

    fn body_entries(&mut self, visit: &mut dyn FnMut(BodyEntry<'_>)) -> Result<(), LogError> {
        let params: Params = Vec::new();
        self.stream(
            "SELECT seq, subject, recipient, operation, at FROM entries \
             WHERE body_nonce IS NOT NULL ORDER BY seq",
            &params,
            &mut |row| {
                let seq: i64 = row.try_get(0).map_err(storage)?;
                let corrupt = |reason: &str| LogError::Corrupt {
                    seq: seq.max(0) as u64,
                    reason: reason.into(),
                };
                let subject = match row.try_get::<_, Option<&[u8]>>(1).map_err(storage)? {
                    None => super::NO_SUBJECT,
                    Some(b) => b.try_into().map_err(|_| corrupt("subject: not 32 bytes"))?,
                };
                let recipient: &str = row.try_get(2).map_err(storage)?;
                let operation: &str = row.try_get(3).map_err(storage)?;
                let at = from_micros(row.try_get(4).map_err(storage)?)
                    .ok_or_else(|| corrupt("at: out of range"))?;
                visit(BodyEntry {
                    subject: &subject,
                    recipient,
                    operation,
                    at,
                });
                Ok(ControlFlow::Continue(()))
            },
        )
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.abandon();
    }
}
