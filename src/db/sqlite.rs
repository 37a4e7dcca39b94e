//! Versioned schema migrations for the embedded SQLite files, the same way as PostgreSQL's
//! (`migrations.rs`): each file's migrations are numbered, `PRAGMA user_version` records the
//! last one applied, pending ones run in one `IMMEDIATE` transaction when the file is opened
//! for writing (and by `kuzet db migrate`), and a file written by a newer kuzet (a version this
//! binary does not know) is refused rather than used.
//!
//! Each file's first migration is its baseline: the schema as it stood when versioning began,
//! written idempotently (`CREATE … IF NOT EXISTS`), so it also brings up to date a file from
//! before (`transfer-log.sqlite` at versions 1 and 2 had the same tables less an index change
//! its baseline repeats). Migrations are append-only: add the next number, never edit one.

use rusqlite::{Connection, TransactionBehavior};

/// One schema change of a SQLite file.
#[derive(Debug, Clone, Copy)]
pub struct SqliteMigration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The schema version a file records (0: none yet).
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Why a file's schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SqliteMigrationError {
    #[error(
        "the schema is at version {found}, newer than this kuzet knows ({known}): run the newer \
         kuzet, or restore a backup taken before its upgrade"
    )]
    Newer { found: i64, known: i64 },
    #[error("migration {version} ({name}): {source}")]
    Failed {
        version: i64,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies the pending `migrations` of `conn`'s file; returns the versions applied now.
pub fn migrate(
    conn: &mut Connection,
    migrations: &[SqliteMigration],
) -> Result<Vec<i64>, SqliteMigrationError> {
    let known = migrations.last().map_or(0, |m| m.version);
    // Checked outside the transaction first, so a newer file is never even locked for writing.
    let found = version(conn)?;
    if found > known {
        return Err(SqliteMigrationError::Newer { found, known });
    }
    if found == known {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated meanwhile.
    let found = version(&tx)?;
    if found > known {
        return Err(SqliteMigrationError::Newer { found, known });
    }
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sql)
            .map_err(|source| SqliteMigrationError::Failed {
                version: m.version,
                name: m.name,
                source,
            })?;
        // PRAGMA takes no parameters; the version is a number of this binary's.
        tx.execute_batch(&format!("PRAGMA user_version = {}", m.version))?;
        applied.push(m.version);
    }
    tx.commit()?;
    Ok(applied)
}

/// The data directory's SQLite files and their migrations.
pub fn files() -> [(&'static str, &'static [SqliteMigration]); 3] {
    [
        (
            crate::transfer_log::SQLITE_FILE,
            crate::transfer_log::SQLITE_MIGRATIONS,
        ),
        (crate::registry::REGISTRY_FILE, crate::registry::MIGRATIONS),
        (
            crate::reporting::REPORTING_FILE,
            crate::reporting::store::MIGRATIONS,
        ),
    ]
}

/// One file's schema: its name, the version it records (`None`: not created yet), and the
/// version this binary knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    pub file: &'static str,
    pub found: Option<i64>,
    pub known: i64,
    /// Migrations applied now (by [`migrate_data_dir`]).
    pub applied: Vec<i64>,
}

/// The versions of the data directory's files, read only.
pub fn versions(data_dir: &std::path::Path) -> Result<Vec<FileVersion>, String> {
    files()
        .into_iter()
        .map(|(file, migrations)| {
            let known = migrations.last().map_or(0, |m| m.version);
            let path = data_dir.join(file);
            let found = if path.is_file() {
                let recorded = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .and_then(|c| version(&c))
                .map_err(|e| format!("{}: {e}", path.display()))?;
                Some(recorded.max(0))
            } else {
                None
            };
            Ok(FileVersion {
                file,
                found,
                known,
                applied: Vec::new(),
            })
        })
        .collect()
}

/// Applies the pending migrations of every file the data directory holds (files not created
/// yet are left to the first open).
pub fn migrate_data_dir(data_dir: &std::path::Path) -> Result<Vec<FileVersion>, String> {
    files()
        .into_iter()
        .map(|(file, migrations)| {
            let known = migrations.last().map_or(0, |m| m.version);
            let path = data_dir.join(file);
            if !path.is_file() {
                return Ok(FileVersion {
                    file,
                    found: None,
                    known,
                    applied: Vec::new(),
                });
            }
            let mut conn =
                Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let applied =
                migrate(&mut conn, migrations).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(FileVersion {
                file,
                found: Some(known),
                known,
                applied,
            })
        })
        .collect()
}
