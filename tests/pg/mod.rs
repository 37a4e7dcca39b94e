//! A PostgreSQL schema of its own for one test, from `KUZET_TEST_PG` (`.ci/run` sets it); the
//! test is skipped, saying so, when it is unset. Every test gets a fresh schema (its tables, its
//! advisory locks), dropped when it ends, so tests run in parallel against one database.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use kuzet::db::{DatabaseConfig, Pg};

pub struct TestDb {
    admin: Arc<Pg>,
    pub schema: String,
    /// The URL of the test's schema (its `search_path`).
    pub url: String,
}

impl TestDb {
    /// A fresh schema, or `None` (and a note on stderr) without `KUZET_TEST_PG`.
    pub fn new(test: &str) -> Option<TestDb> {
        kuzet_transport::install_crypto_provider();
        let Some(base) = std::env::var("KUZET_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!(
                "skipped {test}: KUZET_TEST_PG is not set (a PostgreSQL URL; .ci/run sets it)"
            );
            return None;
        };
        let admin = Pg::connect(&DatabaseConfig {
            url: Some(base.clone()),
            ..DatabaseConfig::default()
        })
        .expect("KUZET_TEST_PG: cannot connect");
        let schema = format!("kz_test_{}", uuid::Uuid::new_v4().simple());
        let conn = admin.conn().expect("connection");
        admin
            .block(conn.batch_execute(&format!("CREATE SCHEMA {schema}")))
            .expect("create schema");
        drop(conn);
        let sep = if base.contains('?') { '&' } else { '?' };
        // The schema's own application name lets a test find (and kill) its sessions.
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}");
        Some(TestDb { admin, schema, url })
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: Some(self.url.clone()),
            ..DatabaseConfig::default()
        }
    }

    /// A new pool on the test's schema, migrated (what a replica opens).
    pub fn replica(&self, data_dir: &Path) -> Arc<Pg> {
        match kuzet::db::Database::open(&self.config(), data_dir).expect("open the database") {
            kuzet::db::Database::Postgres(pg) => pg,
            kuzet::db::Database::Sqlite => unreachable!("a URL was given"),
        }
    }

    /// Two replicas' pools on the test's schema, their data directories `DIR/a` and `DIR/b`
    /// holding the same keys (the first replica's).
    pub fn two_replicas(&self, dir: &Path) -> [(std::path::PathBuf, Arc<Pg>); 2] {
        let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
        let a = self.replica(&a_dir);
        share_keys(&a_dir, &b_dir);
        let b = self.replica(&b_dir);
        [(a_dir, a), (b_dir, b)]
    }

    /// One number from a query on the test's schema.
    pub fn count(&self, sql: &str) -> i64 {
        let conn = self.admin.conn().expect("connection");
        self.admin
            .block(async {
                conn.batch_execute(&format!("SET search_path = {}", self.schema))
                    .await?;
                conn.query_one(sql, &[]).await
            })
            .expect("query")
            .get(0)
    }

    /// Ends every session of the test's replicas (what a database failover or restart does to
    /// them); returns how many there were.
    pub fn kill_sessions(&self) -> i64 {
        self.count(&format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}'",
            self.schema
        ))
    }

    /// Runs statements on the test's schema.
    pub fn execute(&self, sql: &str) {
        let conn = self.admin.conn().expect("connection");
        self.admin
            .block(conn.batch_execute(&format!("SET search_path = {}; {sql}", self.schema)))
            .expect("execute");
    }
}

/// A transaction held open on the test's schema until dropped (then rolled back).
pub struct Held {
    pg: Arc<Pg>,
    conn: Option<kuzet::db::PgConn>,
}

impl TestDb {
    /// Runs `sql` in a transaction left open (its locks held) until the result is dropped.
    pub fn hold(&self, sql: &str) -> Held {
        let conn = self.admin.conn().expect("connection");
        self.admin
            .block(conn.batch_execute(&format!(
                "BEGIN; SET LOCAL search_path = {}; {sql}",
                self.schema
            )))
            .expect("hold");
        Held {
            pg: self.admin.clone(),
            conn: Some(conn),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.pg.block(conn.batch_execute("ROLLBACK"));
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(conn) = self.admin.conn() {
            let _ = self.admin.block(
                conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)),
            );
        }
    }
}

/// Copies a replica's keys into another data directory (every replica needs the same).
pub fn share_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("data dir");
    for key in ["master.key", "checkpoint.key"] {
        std::fs::copy(from.join(key), to.join(key)).expect("copy key");
    }
}
