//! The PostgreSQL backend, in process, against the real database of `KUZET_TEST_PG` (each test
//! in a schema of its own; skipped, saying so, without it): several writers on one gapless
//! chain, an erasure through one replica honoured by another, the registry and the reporting
//! lock shared by replicas, and `kuzet db copy` from an embedded deployment.

mod common;
mod pg;

use std::collections::HashSet;

use kuzet::registry::{Registry, Reservation, Revoked};
use kuzet::transfer_log::{
    CheckpointPolicy, EntryDraft, Kind, PgBackend, TransferLog, VerifyOptions, verify_with,
};
use kuzet_ident::Iin;
use pg::{TestDb, share_keys};
use uuid::Uuid;

fn person(n: u16) -> Iin {
    (n.wrapping_mul(7)..)
        .find_map(|s| Iin::synthesize(time::macros::date!(1987 - 05 - 25), n.is_multiple_of(2), s))
        .expect("some serial has a check digit")
}

fn draft(kind: Kind, subject: Option<Iin>, body: Option<&[u8]>) -> EntryDraft {
    let mut d = EntryDraft::new(
        Uuid::now_v7(),
        kind,
        "fcb",
        "credit-report",
        "underwriting",
        "ok",
    );
    d.purpose = Some("contract_performance".into());
    d.legal_basis = Some("consent".into());
    d.subject = subject;
    d.fields = vec!["subject.iin".into()];
    d.latency_ms = Some(7);
    d.body = body.map(<[u8]>::to_vec);
    d
}

fn open_log(db: &TestDb, data: &std::path::Path) -> TransferLog {
    log_on(data, db.replica(data))
}

fn log_on(data: &std::path::Path, pg: std::sync::Arc<kuzet::db::Pg>) -> TransferLog {
    TransferLog::open_postgres(
        data,
        pg,
        CheckpointPolicy {
            every_entries: 150,
            ..CheckpointPolicy::default()
        },
    )
    .expect("open the log")
}

/// Two replicas' logs on one schema (their data directories under `dir`, the same keys);
/// the first's data directory.
fn two_logs(db: &TestDb, dir: &std::path::Path) -> (std::path::PathBuf, TransferLog, TransferLog) {
    let [(a_dir, a), (b_dir, b)] = db.two_replicas(dir);
    let (a, b) = (log_on(&a_dir, a), log_on(&b_dir, b));
    (a_dir, a, b)
}

fn verify_db(db: &TestDb, data: &std::path::Path) -> kuzet::transfer_log::VerifySummary {
    let mut backend = PgBackend::new(db.replica(data));
    let options = VerifyOptions {
        public_key: kuzet::transfer_log::checkpoint::data_dir_public_key(data).expect("key"),
        ..VerifyOptions::default()
    };
    verify_with(&mut backend, &options).expect("the shared log verifies")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_appending_at_once_make_one_gapless_verifiable_chain() {
    let Some(db) = TestDb::new("replicas_appending_at_once") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (a_dir, a, b) = two_logs(&db, dir.path());

    // 2 replicas × 8 appenders × 60 entries, with bodies under 12 subjects.
    let mut tasks = Vec::new();
    for (r, log) in [&a, &b].into_iter().enumerate() {
        for t in 0..8u16 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..60u16 {
                    let subject = person((t * 60 + i) % 12);
                    let body = format!("report {r}/{t}/{i}");
                    let kind = if i % 2 == 0 { Kind::Out } else { Kind::In };
                    let appended = log
                        .append(draft(kind, Some(subject), Some(body.as_bytes())))
                        .await
                        .expect("append");
                    seqs.push(appended.seq);
                }
                seqs
            }));
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.expect("task"));
    }
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), 960, "every append got its own seq");
    assert_eq!(unique, (1..=960).collect(), "no gap");
    a.clone().close().await;
    b.clone().close().await;

    let summary = verify_db(&db, &a_dir);
    assert_eq!((summary.entries, summary.last_seq), (960, 960));
    assert!(summary.checkpoints >= 2, "{summary}");
    assert_eq!(db.count("SELECT COUNT(*) FROM entries"), 960);
    // One key per subject, however many replicas met it first.
    assert_eq!(db.count("SELECT COUNT(*) FROM subject_keys"), 12);

    // Every body decrypts on either replica.
    let a = open_log(&db, &a_dir);
    let b = open_log(&db, &dir.path().join("b"));
    for seq in [1u64, 480, 960] {
        let entry = a
            .read(move |backend| {
                let mut found = None;
                backend.scan(seq, &mut |row| {
                    found = row.ok();
                    std::ops::ControlFlow::Break(())
                })?;
                Ok(found)
            })
            .await
            .expect("read")
            .expect("entry");
        let body_a = a.decrypt_body(&entry).await.expect("decrypt on a");
        let body_b = b.decrypt_body(&entry).await.expect("decrypt on b");
        assert_eq!(body_a, body_b);
        assert!(body_a.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_through_one_replica_is_honoured_by_the_other() {
    let Some(db) = TestDb::new("erasure_across_replicas") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (a_dir, a, b) = two_logs(&db, dir.path());
    let subject = person(3);

    // Replica a logs (and caches the key of) the subject.
    let index = a.subject_index(&subject);
    a.append(draft(Kind::In, Some(subject.clone()), Some(b"before")))
        .await
        .expect("append");
    let before = a.get_transfer_latest().await;
    // Replica b erases the subject.
    let (_, existed) = b
        .erase(index, "erasure-request", "dpo", None)
        .await
        .expect("erase");
    assert!(existed);
    // Replica a must not seal the next body under the destroyed key.
    a.append(draft(Kind::In, Some(subject), Some(b"after")))
        .await
        .expect("append");
    let after = a.get_transfer_latest().await;

    assert!(
        b.decrypt_body(&before).await.is_err(),
        "the erased body stays unreadable"
    );
    assert_eq!(
        b.decrypt_body(&after).await.expect("new key").as_deref(),
        Some(&b"after"[..]),
        "the body after the erasure is under a new key both replicas can read"
    );
    assert_eq!(
        a.decrypt_body(&after).await.expect("new key").as_deref(),
        Some(&b"after"[..])
    );
    a.close().await;
    b.close().await;
    let summary = verify_db(&db, &a_dir);
    assert_eq!(summary.entries, 3);
}

/// The last entry of a log (a helper over `read`).
trait Latest {
    async fn get_transfer_latest(&self) -> kuzet::transfer_log::Entry;
}

impl Latest for TransferLog {
    async fn get_transfer_latest(&self) -> kuzet::transfer_log::Entry {
        self.read(|backend| {
            let tip = backend.tip()?.expect("an entry").0;
            let mut found = None;
            backend.scan(tip, &mut |row| {
                found = row.ok();
                std::ops::ControlFlow::Break(())
            })?;
            Ok(found)
        })
        .await
        .expect("read")
        .expect("entry")
    }
}

#[test]
fn hundreds_of_queries_in_one_poll_of_an_async_task_complete() {
    let Some(db) = TestDb::new("queries_in_one_poll") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = kuzet::db::registry::PgRegistry::new(db.replica(&dir.path().join("a")));
    // As `consents import` runs its lines: from inside one poll of a task of another runtime,
    // query after query with no await between them. That task's cooperative budget runs out
    // after a few dozen; before `Pg::block` ran its futures unconstrained, every query after
    // that yielded and was woken at once, for ever (a `consents import` of 400 lines hung).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let done = runtime.block_on(async move {
            (0..500)
                .map(|_| registry.consents_for(&[7; 32]).expect("query").len())
                .filter(|&found| found == 0)
                .count()
        });
        let _ = tx.send(done);
    });
    // A hang detector, not a speed goal: the 500 queries take about a second.
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(120)),
        Ok(500),
        "the queries did not complete"
    );
}

#[test]
fn consents_clients_and_idempotency_keys_are_the_same_for_every_replica() {
    let Some(db) = TestDb::new("registry_shared") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let [(a_dir, a), (_, b)] = db.two_replicas(dir.path());
    let (a, b) = (
        kuzet::db::registry::PgRegistry::new(a),
        kuzet::db::registry::PgRegistry::new(b),
    );

    // Clients: added through one, known to the other; a name is taken once.
    let token = kuzet::registry::new_token().expect("token");
    a.add_client("scoring", kuzet::contract::Role::Underwriting, &token)
        .expect("add");
    assert_eq!(
        b.client_by_token(&token).expect("lookup").map(|c| c.name),
        Some("scoring".to_owned())
    );
    assert!(matches!(
        b.add_client("scoring", kuzet::contract::Role::Admin, "other"),
        Err(kuzet::registry::RegistryError::DuplicateClient(_))
    ));
    b.revoke_client("scoring").expect("revoke");
    assert!(a.client_by_token(&token).expect("lookup").is_none());

    // Consents: recorded through one, withdrawn through the other.
    let iin = person(1);
    let keys = kuzet::transfer_log::Keys::open(&a_dir).expect("keys");
    let consent = common::bureau_consent(keys.subject_index(&iin), &iin);
    a.add_consent(&consent).expect("consent");
    // Times are stored to the microsecond, as on SQLite.
    let seen = b.consent(consent.id).expect("read").expect("found");
    assert_eq!(
        (
            &seen.subject,
            &seen.recipients,
            &seen.purposes,
            &seen.evidence,
            seen.channel
        ),
        (
            &consent.subject,
            &consent.recipients,
            &consent.purposes,
            &consent.evidence,
            consent.channel
        )
    );
    assert_eq!(
        seen.granted_at.unix_timestamp_nanos() / 1000,
        consent.granted_at.unix_timestamp_nanos() / 1000
    );
    assert_eq!(
        b.consents_for(&consent.subject).expect("read").len(),
        1,
        "found by subject"
    );
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        b.revoke_consent(consent.id, "dpo", now).expect("revoke"),
        Revoked::Now
    );
    assert_eq!(
        a.revoke_consent(consent.id, "dpo", now).expect("revoke"),
        Revoked::Already
    );
    assert!(
        a.consent(consent.id)
            .expect("read")
            .expect("kept")
            .revoked_at
            .is_some()
    );
    assert_eq!(
        a.revoke_consent(Uuid::now_v7(), "dpo", now)
            .expect("revoke"),
        Revoked::NotFound
    );

    // Idempotency keys: a request running on one replica is seen running on the other, and
    // its answer is replayed there.
    let digest = [7u8; 32];
    assert_eq!(
        a.reserve_idempotency_key("scoring", "K-1", &digest, now)
            .expect("reserve"),
        Reservation::Begun
    );
    assert_eq!(
        b.reserve_idempotency_key("scoring", "K-1", &digest, now)
            .expect("reserve"),
        Reservation::InProgress
    );
    assert_eq!(
        b.reserve_idempotency_key("scoring", "K-1", &[8u8; 32], now)
            .expect("reserve"),
        Reservation::Mismatch
    );
    a.finish_idempotency_key("scoring", "K-1", 200, b"{\"ok\":true}", now)
        .expect("finish");
    assert_eq!(
        b.reserve_idempotency_key("scoring", "K-1", &digest, now)
            .expect("reserve"),
        Reservation::Replay {
            status: 200,
            body: b"{\"ok\":true}".to_vec()
        }
    );
    // A released reservation frees the key on every replica.
    assert_eq!(
        a.reserve_idempotency_key("scoring", "K-2", &digest, now)
            .expect("reserve"),
        Reservation::Begun
    );
    a.release_idempotency_key("scoring", "K-2")
        .expect("release");
    assert_eq!(
        b.reserve_idempotency_key("scoring", "K-2", &digest, now)
            .expect("reserve"),
        Reservation::Begun
    );
}

#[test]
fn a_replica_with_other_keys_is_refused_before_it_writes() {
    let Some(db) = TestDb::new("other_keys_refused") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = db.replica(&dir.path().join("a"));
    // No keys: refused, and none made.
    let bare = dir.path().join("b");
    std::fs::create_dir_all(&bare).expect("dir");
    let err = kuzet::db::Database::open(&db.config(), &bare).expect_err("no keys");
    assert!(err.to_string().contains("has no master.key"), "{err}");
    assert!(!bare.join("master.key").exists());
    // Other keys: refused.
    let other = dir.path().join("c");
    kuzet::transfer_log::Keys::open(&other).expect("keys");
    kuzet::transfer_log::CheckpointSigner::open(&other).expect("signer");
    let err = kuzet::db::Database::open(&db.config(), &other).expect_err("other keys");
    assert!(
        err.to_string().contains("master.key is not the one"),
        "{err}"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM entries"), 0);
}

#[test]
fn the_reporting_lock_admits_one_replica_at_a_time() {
    let Some(db) = TestDb::new("reporting_lock") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let [(_, a), (_, b)] = db.two_replicas(dir.path());
    let (a, b) = (
        kuzet::db::reporting::PgReportStore::new(a),
        kuzet::db::reporting::PgReportStore::new(b),
    );
    let held = a.try_lock_run().expect("lock").expect("a gets it");
    assert!(b.try_lock_run().expect("lock").is_none(), "b waits");
    assert!(
        a.try_lock_run().expect("lock").is_none(),
        "not twice on a either"
    );
    drop(held);
    let held = b.try_lock_run().expect("lock").expect("b gets it after");
    drop(held);
    // Another schema (another deployment in the same database) has its own lock.
    let Some(other) = TestDb::new("reporting_lock_other") else {
        return;
    };
    let held = a.try_lock_run().expect("lock").expect("a again");
    let c = kuzet::db::reporting::PgReportStore::new(other.replica(&dir.path().join("c")));
    assert!(c.try_lock_run().expect("lock").is_some());
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_deployment_moves_to_postgres_with_its_chain_clients_and_consents() {
    let Some(db) = TestDb::new("db_copy") else {
        return;
    };
    // An embedded gateway with some history.
    let app = common::TestApp::spawn().await;
    let iin = common::demo_iin();
    let consent = app.consent(&iin).await;
    for _ in 0..3 {
        assert_eq!(app.credit_report(&iin, Some(&consent)).await.status, 200);
    }
    let token = app.token(kuzet::contract::Role::Underwriting).to_owned();
    let data = app.dir.path().to_owned();
    let source_tip = app.app.gateway.log().tip().expect("tip");
    let mut app = app;
    assert!(app.shutdown(std::time::Duration::from_secs(5)).await);

    let copy = common::kuzet(
        &data,
        &[
            "db",
            "copy",
            "--from",
            &format!("sqlite:{}", data.display()),
            "--to",
            &format!("postgres:{}", db.url),
        ],
    );
    assert!(copy.status.success(), "{}", common::stderr(&copy));
    let out = common::stdout(&copy);
    assert!(out.contains("entries: 6 rows"), "{out}");
    assert!(out.contains("copied, and verified"), "{out}");
    assert_eq!(
        db.count("SELECT MAX(seq) FROM entries") as u64,
        source_tip.0
    );

    // `kuzet log verify` on the copy, through KUZET_DATABASE_URL.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--data")
        .arg(&data)
        .args(["log", "verify", "--json"])
        .env("KUZET_DATABASE_URL", &db.url)
        .env_remove("KUZET_CONFIG")
        .output()
        .expect("verify");
    assert!(verify.status.success(), "{}", common::stderr(&verify));
    let summary: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("json");
    assert_eq!(summary["last_seq"], 6);
    assert_eq!(summary["tip_hash"], hex::encode(source_tip.1));

    // A copy never merges into a database that holds anything.
    let again = common::kuzet(
        &data,
        &[
            "db",
            "copy",
            "--from",
            &format!("sqlite:{}", data.display()),
            "--to",
            &db.url,
        ],
    );
    assert!(!again.status.success());
    assert!(
        common::stderr(&again).contains("empty database only"),
        "{}",
        common::stderr(&again)
    );

    // A gateway on the copy: the old token and consent work, the chain goes on.
    let dir = tempfile::tempdir().expect("tempdir");
    share_keys(&data, dir.path());
    let mut config = common::test_config();
    config.database = db.config();
    let replica = common::TestApp::spawn_in(dir, config, true).await;
    let answer = replica
        .post(
            "/v1/exchange/fcb/credit-report",
            Some(&token),
            &serde_json::json!({"purpose": "contract_performance", "consent_id": consent,
                "data": {"subject": {"iin": iin}}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(replica.app.gateway.log().tip().expect("tip").0, 8);
    // The auditors' verification reads the shared database too.
    let verified = replica.audit("/v1/log/verify").await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["ok"], true, "{:?}", verified.body);
    assert_eq!(verified.body["last_seq"], 8, "{:?}", verified.body);
}

#[tokio::test]
async fn a_source_that_does_not_verify_is_not_copied() {
    let Some(db) = TestDb::new("db_copy_broken") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = TransferLog::open_sqlite(dir.path()).expect("log");
    for i in 0..5u16 {
        log.append(draft(Kind::Out, Some(person(i)), None))
            .await
            .expect("append");
    }
    log.close().await;
    let conn = rusqlite::Connection::open(dir.path().join(kuzet::transfer_log::SQLITE_FILE))
        .expect("open");
    conn.execute_batch(
        "DROP TRIGGER entries_no_update; UPDATE entries SET caller = 'someone' WHERE seq = 3;",
    )
    .expect("tamper");
    drop(conn);
    let copy = common::kuzet(
        dir.path(),
        &[
            "db",
            "copy",
            "--from",
            &format!("sqlite:{}", dir.path().display()),
            "--to",
            &format!("postgres:{}", db.url),
        ],
    );
    assert!(!copy.status.success());
    let err = common::stderr(&copy);
    assert!(
        err.contains("does not verify") && err.contains("seq 3"),
        "{err}"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'entries'"), 0, "nothing created");
}

#[test]
fn migrations_are_applied_once_and_a_newer_schema_is_refused() {
    let Some(db) = TestDb::new("migrations") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = kuzet::db::Pg::connect(&db.config()).expect("connect");
    let applied = kuzet::db::migrations::migrate(&pg).expect("migrate");
    assert_eq!(applied.len(), kuzet::db::migrations::MIGRATIONS.len());
    assert!(
        kuzet::db::migrations::migrate(&pg)
            .expect("again")
            .is_empty()
    );
    // Replicas starting together on an empty schema: each migration applied exactly once.
    let Some(fresh) = TestDb::new("migrations_together") else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let config = fresh.config();
            std::thread::spawn(move || {
                let pg = kuzet::db::Pg::connect(&config).expect("connect");
                kuzet::db::migrations::migrate(&pg).expect("migrate").len()
            })
        })
        .collect();
    let applied: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(applied, kuzet::db::migrations::MIGRATIONS.len());
    db.execute("INSERT INTO kuzet_migrations (version, name) VALUES (999, 'from the future')");
    let err = kuzet::db::Database::open(&db.config(), dir.path()).expect_err("newer");
    assert!(err.to_string().contains("newer than this kuzet"), "{err}");
}

#[test]
fn tls_to_postgres_is_rustls_verified_against_the_configured_ca() {
    // `.ci/run` points these at the machine's PostgreSQL (ssl = on, Debian's snake-oil
    // certificate for localhost) when it has one.
    let (Some(url), Some(ca)) = (
        std::env::var("KUZET_TEST_PG_TLS")
            .ok()
            .filter(|v| !v.is_empty()),
        std::env::var("KUZET_TEST_PG_TLS_CA")
            .ok()
            .filter(|v| !v.is_empty()),
    ) else {
        eprintln!(
            "skipped tls_to_postgres: KUZET_TEST_PG_TLS (a URL with sslmode=require) and \
             KUZET_TEST_PG_TLS_CA (its CA) are not set"
        );
        return;
    };
    kuzet_transport::install_crypto_provider();
    let config = kuzet::db::DatabaseConfig {
        url: Some(url.clone()),
        ca_pem: Some(ca.into()),
        ..kuzet::db::DatabaseConfig::default()
    };
    let pg = kuzet::db::Pg::connect(&config).expect("a verified TLS connection");
    let conn = pg.conn().expect("connection");
    let ssl: bool = pg
        .block(conn.query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        ))
        .expect("query")
        .get(0);
    assert!(ssl, "the session is encrypted");

    // A CA the server's certificate does not chain to: refused, saying why.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.cert.pem()).expect("write");
    let refused = kuzet::db::Pg::connect(&kuzet::db::DatabaseConfig {
        url: Some(url),
        ca_pem: Some(other_ca),
        ..kuzet::db::DatabaseConfig::default()
    })
    .expect_err("an unknown issuer");
    assert!(refused.to_string().contains("TLS"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_hangs_holding_the_chain_lock_makes_appends_fail_not_wait() {
    let Some(db) = TestDb::new("lock_held") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&db, dir.path());
    log.append(draft(Kind::Out, Some(person(1)), Some(b"before")))
        .await
        .expect("append");
    // Another replica's batch, stuck with the writers' lock (what a paused process does).
    let held = db.hold("SELECT erasures FROM log_head WHERE id = 1 FOR UPDATE");
    let refused = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        log.append(draft(Kind::In, Some(person(1)), Some(b"during"))),
    )
    .await
    .expect("the append is answered, not left waiting");
    assert!(
        matches!(refused, Err(kuzet::transfer_log::LogError::Unavailable(_))),
        "{refused:?}"
    );
    drop(held);
    let after = log
        .append(draft(Kind::In, Some(person(1)), Some(b"after")))
        .await
        .expect("the lock is free again");
    assert_eq!(after.seq, 2, "nothing was stored by the refused append");
    log.close().await;
    assert_eq!(verify_db(&db, dir.path()).last_seq, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_comes_back_after_its_database_sessions_are_killed_without_a_gap() {
    let Some(db) = TestDb::new("sessions_killed") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&db, dir.path());
    for i in 0..10u16 {
        log.append(draft(Kind::Out, Some(person(i)), Some(b"before")))
            .await
            .expect("append");
    }
    assert!(db.kill_sessions() >= 1, "the writer's session was found");
    // The first append after may find its connection dead (refused: nothing stored, the
    // caller gets log_unavailable); the writer then takes a new one.
    let mut stored = 10;
    let mut refused = 0;
    for i in 0..20u16 {
        match log
            .append(draft(Kind::In, Some(person(i)), Some(b"after")))
            .await
        {
            Ok(a) => {
                stored += 1;
                assert_eq!(a.seq, stored, "no gap after a refused append");
            }
            Err(kuzet::transfer_log::LogError::Unavailable(_)) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused <= 1, "{refused} appends refused");
    // Readiness holds a failed batch against the log for a while (a balancer backs off).
    assert_eq!(log.probe().await.is_err(), refused == 1, "{refused}");
    log.close().await;
    let summary = verify_db(&db, dir.path());
    assert_eq!(summary.last_seq, stored);
}
