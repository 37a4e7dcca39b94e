//! Where kuzet keeps its state: the embedded SQLite files in the data directory (the default),
//! or one PostgreSQL database shared by several gateway replicas (scale-out, DESIGN.md
//! "Scaling out").
//!
//! [`Database`] is the choice, made once from `[database] url` or `KUZET_DATABASE_URL`.
//! [`Pg`] is a connection pool on a small runtime of its own: the stores' traits are blocking
//! (like SQLite's calls), so a call waits on the pool's runtime, never on the caller's, and
//! works the same from a request handler, the log writer's thread or a CLI command.
//!
//! With PostgreSQL the data directory still holds the keys (`master.key`, `checkpoint.key`);
//! every replica must have the same ones. The database remembers which keys it was started
//! with (`kuzet_meta`) and refuses a replica with others, before it writes anything.
//!
//! This module never puts a personal value into an error: database errors are reduced to their
//! SQLSTATE and message (never the DETAIL, which can quote a row).

pub mod copy;
pub mod migrations;
pub mod registry;
pub mod reporting;
pub mod sqlite;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;

/// The environment variable that selects the database (overrides `[database] url`).
pub const DATABASE_URL_ENV: &str = "KUZET_DATABASE_URL";

/// `[database]`: where the state lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A PostgreSQL URL (`postgres://USER@HOST:PORT/DB`, libpq's keys in the query string:
    /// `sslmode`, `options=-csearch_path%3DSCHEMA`, `connect_timeout`, ...). Absent: the
    /// embedded SQLite files in the data directory. `KUZET_DATABASE_URL` overrides it.
    pub url: Option<String>,
    /// With `sslmode=require` in the URL: the CA certificates (PEM) the server's certificate
    /// must chain to. TLS is rustls; without `sslmode=require` the connection is plain (fine on
    /// loopback or a private network, not across one you do not control).
    pub ca_pem: Option<PathBuf>,
    /// Connections per replica (the log writer holds one; requests share the rest).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_pool_size() -> usize {
    16
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            ca_pem: None,
            pool_size: default_pool_size(),
        }
    }
}

impl DatabaseConfig {
    /// Whether the state lives in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }

    /// What is wrong with these settings (without connecting).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(url) = &self.url {
            match url.parse::<tokio_postgres::Config>() {
                Err(e) => out.push(format!("database.url: not a PostgreSQL URL ({e})")),
                Ok(c) => {
                    if c.get_ssl_mode() == SslMode::Require && self.ca_pem.is_none() {
                        out.push(
                            "database.ca_pem: required with sslmode=require (the CA the \
                             server's certificate chains to)"
                                .into(),
                        );
                    }
                }
            }
        }
        if self.pool_size < 2 {
            out.push("database.pool_size: at least 2 (the log writer holds one)".into());
        }
        out
    }
}

/// A database failure; the message names no personal value.
#[derive(Debug, thiserror::Error)]
#[error("database: {0}")]
pub struct DbError(pub String);

/// A PostgreSQL error as SQLSTATE and message only (the DETAIL can quote a row's values).
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => {
            // The cause (a refused connection, a certificate that does not verify) is the
            // useful part; these never quote a row.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Whether `e` is PostgreSQL's `unique_violation`.
pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// A pool of PostgreSQL connections on a runtime of its own (see the module header).
pub struct Pg {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// Host, port and database, for messages (never the password).
    shown: String,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").field("database", &self.shown).finish()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Dropping a runtime may happen on an async thread; this never blocks.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A connection taken from the pool.
pub type PgConn = deadpool_postgres::Object;

impl Pg {
    /// A pool for `config.url` (which must be set). Connects once to check the database can
    /// be reached.
    pub fn connect(config: &DatabaseConfig) -> Result<Arc<Pg>, DbError> {
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| DbError("no database URL".into()))?;
        let mut pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| DbError(format!("not a PostgreSQL URL ({e})")))?;
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("kuzet");
        }
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(Duration::from_secs(10));
        }
        // A database or network that goes silent (no reset) fails the calls waiting on it
        // within about half a minute, instead of when the kernel gives up hours later: the
        // transfer log then refuses appends (fail closed) and the requests get an answer.
        // Keepalive probes are answered by a live server however long a query runs.
        if pg_config.get_tcp_user_timeout().is_none() {
            pg_config.tcp_user_timeout(Duration::from_secs(30));
        }
        if pg_config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            // libpq's default, so the URL did not set it.
            pg_config
                .keepalives_idle(Duration::from_secs(15))
                .keepalives_interval(Duration::from_secs(5))
                .keepalives_retries(3);
        }
        let shown = shown(&pg_config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kuzet-pg")
            .enable_all()
            .build()
            .map_err(|e| DbError(format!("cannot start the database runtime: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if pg_config.get_ssl_mode() == SslMode::Require {
            let ca = config.ca_pem.as_deref().ok_or_else(|| {
                DbError("sslmode=require needs database.ca_pem (the server's CA)".into())
            })?;
            Manager::from_config(pg_config, tls_connector(ca)?, manager_config)
        } else {
            // `prefer` (libpq's default) would try TLS without anything to verify it against.
            pg_config.ssl_mode(SslMode::Disable);
            Manager::from_config(pg_config, tokio_postgres::NoTls, manager_config)
        };
        let pool = {
            let _in = runtime.enter();
            Pool::builder(manager)
                .max_size(config.pool_size.max(2))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(Duration::from_secs(30)))
                .create_timeout(Some(Duration::from_secs(10)))
                .build()
                .map_err(|e| DbError(format!("cannot build the connection pool: {e}")))?
        };
        let pg = Arc::new(Pg {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            shown,
        });
        // Fail at start, with the reason, rather than on the first request.
        drop(pg.conn()?);
        Ok(pg)
    }

    /// Runs `f` to completion on this pool's runtime, blocking the calling thread (any thread
    /// but the pool's own).
    ///
    /// Unconstrained by tokio's cooperative budget: called from inside a task of another
    /// runtime (an async command, a test), that task's budget would run out after some dozens
    /// of queries, and from then on every poll here would yield at once and be woken at once,
    /// for ever, since the task never returns to its scheduler to get a new budget (a
    /// `consents import` of a few hundred lines hung at 100% CPU).
    pub fn block<F: Future>(&self, f: F) -> F::Output {
        let _in = self.handle.enter();
        futures::executor::block_on(tokio::task::unconstrained(f))
    }

    /// A connection from the pool.
    pub fn conn(&self) -> Result<PgConn, DbError> {
        self.block(self.pool.get()).map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => {
                DbError(format!("{}: {}", self.shown, pg_error(&e)))
            }
            other => DbError(format!("{}: {other}", self.shown)),
        })
    }

    /// Host, port and database (for messages).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

fn shown(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{host}:{port}/{}",
        c.get_dbname().unwrap_or("postgres")
    )
}

fn tls_connector(ca: &Path) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(ca).map_err(|e| DbError(format!("{}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| DbError(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| DbError(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(DbError(format!("{}: no certificate", ca.display())));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
}

/// Where the state lives.
#[derive(Clone, Debug)]
pub enum Database {
    /// The SQLite files in the data directory.
    Sqlite,
    /// One PostgreSQL database (migrated, keys checked).
    Postgres(Arc<Pg>),
}

impl Database {
    /// The database `config` names (`KUZET_DATABASE_URL` having been applied to it): connects,
    /// applies the migrations and checks that `data_dir`'s keys are the database's.
    pub fn open(config: &DatabaseConfig, data_dir: &Path) -> Result<Database, DbError> {
        if config.url.is_none() {
            return Ok(Database::Sqlite);
        }
        let pg = Pg::connect(config)?;
        migrations::migrate(&pg)?;
        check_keys(&pg, data_dir)?;
        Ok(Database::Postgres(pg))
    }

    /// The PostgreSQL pool, when that is the database.
    pub fn pg(&self) -> Option<&Arc<Pg>> {
        match self {
            Database::Sqlite => None,
            Database::Postgres(pg) => Some(pg),
        }
    }
}

/// Records (first replica) or checks (every later one) the identity of the data directory's
/// master key and checkpoint key in the database: a replica with other keys would write
/// bodies nobody else can read and checkpoints under another key.
pub fn check_keys(pg: &Pg, data_dir: &Path) -> Result<(), DbError> {
    // A database that has its keys already: a data directory without them must not make new
    // ones (they would be refused anyway, and left behind).
    let recorded = {
        let conn = pg.conn()?;
        pg.block(conn.query_one("SELECT COUNT(*) FROM kuzet_meta", &[]))
            .map_err(|e| DbError(pg_error(&e)))?
            .get::<_, i64>(0)
    };
    for file in [
        crate::transfer_log::MASTER_KEY_FILE,
        crate::transfer_log::checkpoint::CHECKPOINT_KEY_FILE,
    ] {
        if recorded > 0 && !data_dir.join(file).exists() {
            return Err(DbError(format!(
                "{} has no {file}, and {} was started with keys: copy master.key and \
                 checkpoint.key (0600) from another replica's data directory",
                data_dir.display(),
                pg.shown()
            )));
        }
    }
    let keys = crate::transfer_log::Keys::open(data_dir).map_err(|e| DbError(e.to_string()))?;
    let signer = crate::transfer_log::CheckpointSigner::open(data_dir)
        .map_err(|e| DbError(e.to_string()))?;
    let wanted = [
        ("master_key_id", keys.key_id().to_vec()),
        ("checkpoint_public_key", signer.public_key().to_vec()),
    ];
    let conn = pg.conn()?;
    pg.block(async {
        for (name, value) in &wanted {
            conn.execute(
                "INSERT INTO kuzet_meta (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[name, value],
            )
            .await
            .map_err(|e| DbError(pg_error(&e)))?;
            let row = conn
                .query_one("SELECT value FROM kuzet_meta WHERE name = $1", &[name])
                .await
                .map_err(|e| DbError(pg_error(&e)))?;
            let stored: Vec<u8> = row.get(0);
            if &stored != value {
                return Err(DbError(format!(
                    "the data directory's {} is not the one {} was started with: every \
                     replica needs the same master.key and checkpoint.key (copy them from \
                     the first replica's data directory)",
                    if *name == "master_key_id" {
                        "master.key"
                    } else {
                        "checkpoint.key"
                    },
                    pg.shown()
                )));
            }
        }
        Ok(())
    })
}

// Statements prepared once per connection (deadpool's cache): one round trip per call instead
// of two (parse, then execute).

/// `query` with a cached prepared statement.
pub async fn query(
    conn: &PgConn,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let st = conn.prepare_cached(sql).await?;
    conn.query(&st, params).await
}

/// `query_opt` with a cached prepared statement.
pub async fn query_opt(
    conn: &PgConn,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    let st = conn.prepare_cached(sql).await?;
    conn.query_opt(&st, params).await
}

/// `query_one` with a cached prepared statement.
pub async fn query_one(
    conn: &PgConn,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
    let st = conn.prepare_cached(sql).await?;
    conn.query_one(&st, params).await
}

/// `execute` with a cached prepared statement.
pub async fn execute(
    conn: &PgConn,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let st = conn.prepare_cached(sql).await?;
    conn.execute(&st, params).await
}
