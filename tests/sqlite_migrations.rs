//! The embedded SQLite files' versioned migrations: a fresh data directory at the current
//! schema, a file from before the versioning brought up to date with its data, and a file from
//! a newer kuzet refused (by `serve`'s stores and reported by `kuzet db status`).

mod common;

use kuzet::registry::{Registry, SqliteRegistry};
use kuzet::transfer_log::TransferLog;

fn status(data: &std::path::Path) -> (bool, String) {
    let out = common::kuzet(data, &["db", "status"]);
    (out.status.success(), common::stdout(&out))
}

#[tokio::test]
async fn files_are_versioned_migrated_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    // Fresh: created at the current schema.
    TransferLog::open_sqlite(data).expect("log").close().await;
    let registry = SqliteRegistry::open(data).expect("registry");
    registry
        .add_client("scoring", kuzet::contract::Role::Underwriting, "kz_token")
        .expect("client");
    drop(registry);
    kuzet::reporting::ReportStore::open(data).expect("reporting");
    let (ok, out) = status(data);
    assert!(ok, "{out}");
    assert!(
        out.contains("transfer-log.sqlite: schema version 3 (this kuzet: 3)"),
        "{out}"
    );
    assert!(
        out.contains("registry.sqlite: schema version 1 (this kuzet: 1)"),
        "{out}"
    );
    assert!(
        out.contains("reporting.sqlite: schema version 1 (this kuzet: 1)"),
        "{out}"
    );

    // A registry from before the versioning (user_version 0): migrated, its rows kept.
    let conn = rusqlite::Connection::open(data.join(kuzet::registry::REGISTRY_FILE)).expect("open");
    conn.execute_batch("PRAGMA user_version = 0")
        .expect("downgrade");
    drop(conn);
    let (ok, out) = status(data);
    assert!(
        !ok && out.contains("registry.sqlite: schema version 0"),
        "{out}"
    );
    let migrate = common::kuzet(data, &["db", "migrate"]);
    assert!(migrate.status.success(), "{}", common::stderr(&migrate));
    let out = common::stdout(&migrate);
    assert!(
        out.contains("registry.sqlite: applied migration 1, schema at version 1"),
        "{out}"
    );
    assert!(
        out.contains("transfer-log.sqlite: schema current (version 3)"),
        "{out}"
    );
    let registry = SqliteRegistry::open(data).expect("registry");
    assert_eq!(
        registry.list_clients().expect("clients").len(),
        1,
        "data kept"
    );
    drop(registry);

    // A file a newer kuzet wrote: refused, nothing written.
    let conn =
        rusqlite::Connection::open(data.join(kuzet::reporting::REPORTING_FILE)).expect("open");
    conn.execute_batch("PRAGMA user_version = 7")
        .expect("upgrade");
    drop(conn);
    let err = kuzet::reporting::ReportStore::open(data).expect_err("newer");
    assert!(err.to_string().contains("newer than this kuzet"), "{err}");
    let (ok, out) = status(data);
    assert!(
        !ok && out.contains("reporting.sqlite: schema version 7 (this kuzet: 1)"),
        "{out}"
    );
    let migrate = common::kuzet(data, &["db", "migrate"]);
    assert!(!migrate.status.success());
    assert!(
        common::stderr(&migrate).contains("newer than this kuzet"),
        "{}",
        common::stderr(&migrate)
    );
}
