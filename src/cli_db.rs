//! `kuzet db migrate`, `kuzet db status`, `kuzet db copy`, and the shared database for the
//! other commands: with `database.url` (or `KUZET_DATABASE_URL`) every command works on
//! PostgreSQL instead of the data directory's SQLite files (the data directory then holds the
//! keys only).

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use kuzet::config::Config;
use kuzet::db::{Pg, migrations};
use kuzet::transfer_log::{LogBackend, PgBackend, SqliteBackend};

/// How a command uses the shared database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: the schema must be current (never migrated by a reader).
    Read,
    /// Writes: pending migrations are applied and the data directory's keys checked.
    Write,
}

/// The PostgreSQL database the configuration names, if it names one.
pub fn shared(config: &Config, data: &Path, access: Access) -> anyhow::Result<Option<Arc<Pg>>> {
    if !config.database.is_postgres() {
        return Ok(None);
    }
    let pg = Pg::connect(&config.database)?;
    match access {
        Access::Write => {
            migrations::migrate(&pg)?;
            kuzet::db::check_keys(&pg, data)?;
        }
        Access::Read => {
            let version = migrations::version(&pg)?;
            if version != migrations::latest_version() {
                bail!(
                    "{}: the schema is at version {version}, this kuzet expects {} (run `kuzet \
                     db migrate`, or start a replica, which migrates)",
                    pg.shown(),
                    migrations::latest_version()
                );
            }
        }
    }
    Ok(Some(pg))
}

/// The transfer log for reading: PostgreSQL's when shared, else the data directory's SQLite
/// file opened read-only.
pub fn log_reader(data: &Path, pg: Option<&Arc<Pg>>) -> anyhow::Result<Box<dyn LogBackend>> {
    match pg {
        Some(pg) => Ok(Box::new(PgBackend::new(pg.clone()))),
        None => {
            if !data.is_dir() {
                bail!(
                    "no data directory at {} (give the gateway's with --data or KUZET_DATA)",
                    data.display()
                );
            }
            Ok(Box::new(SqliteBackend::open_read_only(data).with_context(
                || format!("cannot read the transfer log in {}", data.display()),
            )?))
        }
    }
}

/// `kuzet db migrate`: applies the pending migrations and prints what was applied.
pub fn migrate(config: &Config, data: &Path) -> anyhow::Result<ExitCode> {
    if !config.database.is_postgres() {
        if !data.is_dir() {
            bail!(
                "no data directory at {} (give it with --data or KUZET_DATA; the SQLite files \
                 are created, at the current schema, on first use)",
                data.display()
            );
        }
        for f in kuzet::db::sqlite::migrate_data_dir(data).map_err(anyhow::Error::msg)? {
            match (&f.found, f.applied.is_empty()) {
                (None, _) => outln!("{}: not created yet", f.file),
                (Some(_), true) => outln!("{}: schema current (version {})", f.file, f.known),
                (Some(_), false) => outln!(
                    "{}: applied migration {}, schema at version {}",
                    f.file,
                    f.applied
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    f.known
                ),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let pg = Pg::connect(&config.database)?;
    let applied = migrations::migrate(&pg)?;
    kuzet::db::check_keys(&pg, data)?;
    if applied.is_empty() {
        outln!(
            "{}: schema current (version {})",
            pg.shown(),
            migrations::latest_version()
        );
    } else {
        for m in &applied {
            outln!(
                "{}: applied migration {} ({})",
                pg.shown(),
                m.version,
                m.name
            );
        }
        outln!(
            "{}: schema at version {}",
            pg.shown(),
            migrations::latest_version()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kuzet db status`: where the state lives and the schema version.
pub fn status(config: &Config, data: &Path) -> anyhow::Result<ExitCode> {
    if !config.database.is_postgres() {
        outln!(
            "embedded SQLite in {} (set database.url or KUZET_DATABASE_URL for PostgreSQL)",
            data.display()
        );
        let mut current = true;
        for f in kuzet::db::sqlite::versions(data).map_err(anyhow::Error::msg)? {
            match f.found {
                None => outln!("{}: not created yet", f.file),
                Some(v) => {
                    current &= v == f.known;
                    outln!("{}: schema version {v} (this kuzet: {})", f.file, f.known);
                }
            }
        }
        return Ok(if current {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let pg = Pg::connect(&config.database)?;
    let version = migrations::version(&pg)?;
    let tip = if version > 0 {
        PgBackend::new(pg.clone()).tip()?.map_or(0, |t| t.0)
    } else {
        0
    };
    outln!(
        "{}: schema version {version} (this kuzet: {}), transfer log tip seq {tip}",
        pg.shown(),
        migrations::latest_version()
    );
    Ok(if version == migrations::latest_version() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `kuzet db copy --from sqlite:PATH --to postgres:URL`.
pub fn copy(config: &Config, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let spec = kuzet::db::copy::parse_spec(from, to).map_err(anyhow::Error::msg)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    });
    let report = kuzet::db::copy::copy(&spec, &config.database, &mut |table, rows| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{table}: {rows} rows"));
            bar.tick();
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("nothing was copied");
            return Ok(ExitCode::FAILURE);
        }
    };
    for (table, rows) in &report.tables {
        outln!("{table}: {rows} rows");
    }
    outln!("copied, and verified in PostgreSQL: {}", report.verified);
    outln!(
        "every replica's data directory needs {}'s master.key and checkpoint.key (0600)",
        spec.from.display()
    );
    Ok(ExitCode::SUCCESS)
}
