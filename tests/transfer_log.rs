//! The transfer log, black-box: concurrency, restart, tamper detection, fail-closed writes,
//! keys and encryption at rest.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use kuzet::transfer_log::testing::SwitchableBackend;
use kuzet::transfer_log::{
    EntryDraft, Kind, LogError, SQLITE_FILE, SqliteBackend, TransferLog, VerifyError,
    verify_data_dir,
};
use kuzet_ident::Iin;
use uuid::Uuid;

fn person(n: u16) -> Iin {
    (n.wrapping_mul(7)..)
        .find_map(|s| Iin::synthesize(time::macros::date!(1987 - 05 - 25), n.is_multiple_of(2), s))
        .expect("some serial has a check digit")
}

fn draft(kind: Kind, transfer_id: Uuid, subject: Option<Iin>, body: Option<&[u8]>) -> EntryDraft {
    let mut d = EntryDraft::new(
        transfer_id,
        kind,
        "fcb",
        "credit-report",
        "underwriting",
        "ok",
    );
    d.purpose = Some("contract_performance".into());
    d.legal_basis = Some("consent".into());
    d.consent_id = Some(Uuid::now_v7());
    d.reference = Some("APP-1".into());
    d.subject = subject;
    d.fields = vec!["subject.iin".into()];
    if kind == Kind::In {
        d.fields = vec!["credit_history".into()];
        d.dropped = vec!["subject.phone".into()];
        d.upstream = vec![("bureau_reference".into(), "10".into())];
        d.latency_ms = Some(42);
    }
    d.body = body.map(<[u8]>::to_vec);
    d
}

/// A log of `n` entries with subjects and bodies, closed.
async fn built_log(n: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    for i in 0..n {
        let kind = if i % 2 == 0 { Kind::Out } else { Kind::In };
        let body = format!("{{\"n\":{i}}}");
        log.append(draft(
            kind,
            Uuid::now_v7(),
            Some(person(i)),
            Some(body.as_bytes()),
        ))
        .await
        .expect("append");
    }
    log.close().await;
    dir
}

/// Runs SQL on the log file as an attacker with file access would (dropping the append-only
/// triggers first).
fn tamper(dir: &Path, sql: &str) {
    let c = rusqlite::Connection::open(dir.join(SQLITE_FILE)).expect("open sqlite");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;",
    )
    .expect("drop triggers");
    c.execute_batch(sql).expect("tamper");
}

fn bad_seq(dir: &Path) -> u64 {
    match verify_data_dir(dir) {
        Err(VerifyError::Broken(f)) => f.seq,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pairs_get_gapless_unique_seqs_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    let mut tasks = Vec::new();
    for t in 0..16u16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..40u16 {
                let id = Uuid::now_v7();
                let who = person(t * 100 + i);
                let out = log
                    .append(draft(Kind::Out, id, Some(who.clone()), Some(b"{\"q\":1}")))
                    .await
                    .expect("out");
                let inn = log
                    .append(draft(Kind::In, id, Some(who), Some(b"{\"a\":2}")))
                    .await
                    .expect("in");
                assert!(inn.seq > out.seq, "IN is logged after its OUT");
                seqs.extend([out.seq, inn.seq]);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=16 * 40 * 2).collect();
    assert_eq!(all, expected);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());

    let tip = log.tip().expect("tip");
    let summary = verify_data_dir(dir.path()).expect("verifies");
    assert_eq!(summary.entries, 1280);
    assert_eq!((summary.first_seq, summary.last_seq), (1, 1280));
    assert_eq!((summary.last_seq, summary.tip_hash), tip);
    log.close().await;
}

#[tokio::test]
async fn a_transfer_reads_back_with_its_out_and_in_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    let id = Uuid::now_v7();
    let who = person(3);
    let out = log
        .append(draft(Kind::Out, id, Some(who.clone()), None))
        .await
        .expect("out");
    log.append(draft(Kind::Out, Uuid::now_v7(), None, None))
        .await
        .expect("other");
    let inn = log
        .append(draft(Kind::In, id, Some(who.clone()), None))
        .await
        .expect("in");
    let entries = log.get_transfer(id).await.expect("read");
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].kind, entries[1].kind), (Kind::Out, Kind::In));
    assert_eq!((entries[0].seq, entries[1].seq), (out.seq, inn.seq));
    assert_eq!((entries[0].hash, entries[0].at), (out.hash, out.at));
    assert_eq!(entries[1].subject, Some(log.subject_index(&who)));
    assert_eq!(entries[1].dropped, vec!["subject.phone".to_string()]);
    assert_eq!(
        entries[1].upstream,
        vec![("bureau_reference".to_string(), "10".to_string())]
    );
    assert_eq!(entries[1].latency_ms, Some(42));
    assert_eq!(entries[1].body, None, "metadata-only entries carry no body");
    log.close().await;
}

#[tokio::test]
async fn a_restart_continues_the_chain() {
    let dir = built_log(10).await;
    let log = TransferLog::open_sqlite(dir.path()).expect("reopen");
    assert_eq!(log.tip().map(|t| t.0), Some(10));
    let a = log
        .append(draft(
            Kind::Out,
            Uuid::now_v7(),
            Some(person(1)),
            Some(b"{}"),
        ))
        .await
        .expect("append");
    assert_eq!(a.seq, 11);
    let id = {
        let mut b = SqliteBackend::open_read_only(dir.path()).expect("ro");
        let mut first = Vec::new();
        kuzet::transfer_log::LogBackend::scan(&mut b, 10, &mut |r| {
            first.push(r.expect("row"));
            std::ops::ControlFlow::Continue(())
        })
        .expect("scan");
        assert_eq!(first[1].prev_hash, first[0].hash, "seq 11 links to seq 10");
        first[1].transfer_id
    };
    assert_eq!(log.get_transfer(id).await.expect("get")[0].seq, 11);
    log.close().await;
    assert_eq!(verify_data_dir(dir.path()).expect("verifies").entries, 11);
}

#[tokio::test]
async fn verify_names_the_first_changed_entry_for_each_column() {
    let cases: &[(&str, u64)] = &[
        (
            "UPDATE entries SET outcome = 'error:timeout' WHERE seq = 7",
            7,
        ),
        (
            "UPDATE entries SET fields = '[\"subject.phone\"]' WHERE seq = 8",
            8,
        ),
        ("UPDATE entries SET subject = zeroblob(32) WHERE seq = 9", 9),
        (
            "UPDATE entries SET body = zeroblob(length(body)) WHERE seq = 10",
            10,
        ),
        ("UPDATE entries SET at = at + 1 WHERE seq = 11", 11),
        ("UPDATE entries SET kind = 'denied' WHERE seq = 12", 12),
        ("UPDATE entries SET hash = zeroblob(32) WHERE seq = 13", 13),
        (
            "UPDATE entries SET prev_hash = zeroblob(32) WHERE seq = 14",
            14,
        ),
        ("UPDATE entries SET fields = 'not json' WHERE seq = 15", 15),
        // The same list, re-serialized with a space: semantically equal, still caught.
        (
            "UPDATE entries SET fields = '[ \"subject.iin\"]' WHERE seq = 3",
            3,
        ),
        // The same latency (42) stored as a blob of its digits: another stored type.
        ("UPDATE entries SET latency_ms = x'3432' WHERE seq = 6", 6),
        // Two edits: the first one is named.
        (
            "UPDATE entries SET caller = 'x' WHERE seq = 16; \
             UPDATE entries SET caller = 'y' WHERE seq = 5",
            5,
        ),
    ];
    for (sql, seq) in cases {
        let dir = built_log(20).await;
        verify_data_dir(dir.path()).expect("intact before tampering");
        tamper(dir.path(), sql);
        assert_eq!(bad_seq(dir.path()), *seq, "{sql}");
    }
}

#[tokio::test]
async fn verify_detects_removed_inserted_and_reordered_entries() {
    let all_but_seq = "transfer_id, at, kind, recipient, operation, caller, purpose, \
        legal_basis, consent_id, reference, subject, fields, dropped, denied, body_digest, \
        body_nonce, body, upstream, outcome, latency_ms, prev_hash, hash";
    let cases: Vec<(String, u64)> = vec![
        ("DELETE FROM entries WHERE seq = 5".into(), 5),
        ("DELETE FROM entries WHERE seq = 1".into(), 1),
        // Either side of where verify splits a 20-entry log between its two threads.
        ("DELETE FROM entries WHERE seq = 10".into(), 10),
        ("DELETE FROM entries WHERE seq = 11".into(), 11),
        (
            format!(
                "INSERT INTO entries (seq, {all_but_seq}) \
                 SELECT 21, {all_but_seq} FROM entries WHERE seq = 3"
            ),
            21,
        ),
        (
            // Removed and replaced by a copy of another entry: the link breaks there.
            format!(
                "DELETE FROM entries WHERE seq = 12; INSERT INTO entries (seq, {all_but_seq}) \
                 SELECT 12, {all_but_seq} FROM entries WHERE seq = 2"
            ),
            12,
        ),
        (
            // The same at the first entry of verify's second half.
            format!(
                "DELETE FROM entries WHERE seq = 11; INSERT INTO entries (seq, {all_but_seq}) \
                 SELECT 11, {all_but_seq} FROM entries WHERE seq = 3"
            ),
            11,
        ),
        (
            format!(
                "CREATE TEMP TABLE t AS SELECT * FROM entries WHERE seq IN (4, 6); \
                 DELETE FROM entries WHERE seq IN (4, 6); \
                 INSERT INTO entries (seq, {all_but_seq}) \
                 SELECT CASE seq WHEN 4 THEN 6 ELSE 4 END, {all_but_seq} FROM t;"
            ),
            4,
        ),
    ];
    for (sql, seq) in cases {
        let dir = built_log(20).await;
        tamper(dir.path(), &sql);
        assert_eq!(bad_seq(dir.path()), seq, "{sql}");
    }
}

#[tokio::test]
async fn the_log_refuses_updates_and_deletes() {
    let dir = built_log(2).await;
    let c = rusqlite::Connection::open(dir.path().join(SQLITE_FILE)).expect("open");
    assert!(c.execute("UPDATE entries SET outcome = 'x'", []).is_err());
    assert!(c.execute("DELETE FROM entries", []).is_err());
    drop(c);
    assert_eq!(verify_data_dir(dir.path()).expect("verifies").entries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_backend_refuses_appends_and_recovery_leaves_no_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteBackend::open(dir.path()).expect("sqlite");
    let (backend, fail) = SwitchableBackend::new(Box::new(sqlite));
    let log = TransferLog::open(dir.path(), Box::new(backend)).expect("open");
    for i in 0..3 {
        log.append(draft(
            Kind::Out,
            Uuid::now_v7(),
            Some(person(i)),
            Some(b"{}"),
        ))
        .await
        .expect("append");
    }
    fail.store(true, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(draft(
                Kind::Out,
                Uuid::now_v7(),
                Some(person(50 + i)),
                Some(b"{}"),
            ))
            .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert!(matches!(r, Err(LogError::Unavailable(_))), "{r:?}");
    }
    assert_eq!(verify_data_dir(dir.path()).expect("verifies").entries, 3);

    fail.store(false, Ordering::SeqCst);
    let a = log
        .append(draft(
            Kind::In,
            Uuid::now_v7(),
            Some(person(60)),
            Some(b"{}"),
        ))
        .await
        .expect("append after recovery");
    assert_eq!(a.seq, 4);
    let stored = log.get_transfer(Uuid::nil()).await.expect("read");
    assert!(stored.is_empty());
    log.close().await;
    let s = verify_data_dir(dir.path()).expect("verifies");
    assert_eq!((s.entries, s.last_seq, s.tip_hash), (4, 4, a.hash));
}

#[tokio::test]
async fn the_master_key_is_private_and_a_readable_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = TransferLog::open_sqlite(&data).expect("open");
    log.close().await;
    let key = data.join("master.key");
    let meta = std::fs::metadata(&key).expect("key file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = TransferLog::open_sqlite(&data).expect_err("refused");
    assert!(matches!(err, LogError::Keys(_)), "{err:?}");
    assert!(err.to_string().contains("644"), "{err}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    TransferLog::open_sqlite(&data)
        .expect("accepted again")
        .close()
        .await;
}

#[tokio::test]
async fn bodies_round_trip_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let who = person(9);
    let body = br#"{"subject":{"iin":"x"},"score":712}"#;
    let (a, b) = {
        let log = TransferLog::open_sqlite(dir.path()).expect("open");
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        log.append(draft(Kind::Out, a, Some(who.clone()), Some(body)))
            .await
            .expect("with subject");
        log.append(draft(Kind::Out, b, None, Some(b"{\"batch\":1}")))
            .await
            .expect("without subject");
        let e = &log.get_transfer(a).await.expect("get")[0];
        assert_eq!(
            log.decrypt_body(e).await.expect("decrypt"),
            Some(body.to_vec())
        );
        log.close().await;
        (a, b)
    };
    // A fresh process has no cached keys: they come from the backend, unwrapped.
    let log = TransferLog::open_sqlite(dir.path()).expect("reopen");
    let e = &log.get_transfer(a).await.expect("get")[0];
    assert_eq!(
        log.decrypt_body(e).await.expect("decrypt"),
        Some(body.to_vec())
    );
    let e = &log.get_transfer(b).await.expect("get")[0];
    assert_eq!(e.subject, None);
    assert_eq!(
        log.decrypt_body(e).await.expect("decrypt"),
        Some(b"{\"batch\":1}".to_vec())
    );
    // A body moved to another entry does not decrypt (AAD = transfer id).
    let mut moved = log.get_transfer(a).await.expect("get")[0].clone();
    moved.transfer_id = Uuid::now_v7();
    assert!(matches!(
        log.decrypt_body(&moved).await,
        Err(LogError::Decrypt(_))
    ));
    log.close().await;
}

#[tokio::test]
async fn destroying_a_subject_key_erases_bodies_but_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let erased = person(11);
    let kept = person(12);
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    let ea = Uuid::now_v7();
    let ka = Uuid::now_v7();
    log.append(draft(
        Kind::Out,
        ea,
        Some(erased.clone()),
        Some(b"{\"e\":1}"),
    ))
    .await
    .expect("append");
    log.append(draft(Kind::Out, ka, Some(kept.clone()), Some(b"{\"k\":1}")))
        .await
        .expect("append");
    let before = verify_data_dir(dir.path()).expect("verifies");

    let (erasure, existed) = log
        .erase(log.subject_index(&erased), "erasure-request", "dpo", None)
        .await
        .expect("erase");
    assert!(existed, "the subject had a body key");
    let recorded = log
        .search(
            kuzet::transfer_log::Query {
                kind: Some(Kind::Erasure),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("search");
    assert_eq!(recorded.entries.len(), 1);
    assert_eq!(recorded.entries[0].seq, erasure.seq);
    assert_eq!(recorded.entries[0].outcome, "key_destroyed");
    assert_eq!(
        recorded.entries[0].subject,
        Some(hex::encode(log.subject_index(&erased)))
    );
    let e = &log.get_transfer(ea).await.expect("get")[0];
    assert!(matches!(
        log.decrypt_body(e).await,
        Err(LogError::Decrypt(_))
    ));
    let k = &log.get_transfer(ka).await.expect("get")[0];
    assert_eq!(
        log.decrypt_body(k).await.expect("kept"),
        Some(b"{\"k\":1}".to_vec())
    );
    log.close().await;

    let after = verify_data_dir(dir.path()).expect("still verifies");
    assert_eq!(
        after.entries,
        before.entries + 1,
        "the erasure is itself logged"
    );
    assert_eq!(after.tip_hash, erasure.hash);
    let log = TransferLog::open_sqlite(dir.path()).expect("reopen");
    let e = &log.get_transfer(ea).await.expect("get")[0];
    assert!(matches!(
        log.decrypt_body(e).await,
        Err(LogError::Decrypt(_))
    ));
    log.close().await;
}

#[tokio::test]
async fn no_iin_or_plaintext_body_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let who = person(21);
    let marker = "PLAINTEXT-MARKER-5b1e";
    let body = format!("{{\"note\":\"{marker}\",\"iin\":\"{}\"}}", who.expose());
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    for kind in [Kind::Out, Kind::In, Kind::Denied] {
        log.append(draft(
            kind,
            Uuid::now_v7(),
            Some(who.clone()),
            Some(body.as_bytes()),
        ))
        .await
        .expect("append");
    }
    // Checked both while the WAL holds the rows and after the writer is gone.
    let scan = |when: &str| {
        let mut seen = 0;
        for f in std::fs::read_dir(dir.path()).expect("read dir") {
            let bytes = std::fs::read(f.expect("entry").path()).expect("read file");
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(who.expose()), "IIN in clear ({when})");
            assert!(!hay.contains(marker), "plaintext body ({when})");
            seen += bytes.len();
        }
        assert!(seen > 0);
    };
    scan("open");
    log.close().await;
    scan("closed");
}

/// Every entry matching `q`, by scanning the whole log (the reference the indexed query must
/// agree with).
fn scanned(dir: &Path, q: &kuzet::transfer_log::Query) -> Vec<u64> {
    use kuzet::transfer_log::LogBackend;
    let mut seqs = Vec::new();
    SqliteBackend::open_read_only(dir)
        .expect("open")
        .scan(1, &mut |row| {
            let e = row.expect("row");
            if q.matches(&e) {
                seqs.push(e.seq);
            }
            std::ops::ControlFlow::Continue(())
        })
        .expect("scan");
    if q.order == kuzet::transfer_log::Order::NewestFirst {
        seqs.reverse();
    }
    seqs
}

/// Every page of `q`, following the cursors.
fn paged(dir: &Path, mut q: kuzet::transfer_log::Query, limit: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        let mut b = SqliteBackend::open_read_only(dir).expect("open");
        let page = kuzet::transfer_log::query::search(&mut b, &q, limit).expect("search");
        seqs.extend(page.entries.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c.parse().expect("cursor")),
            None => return seqs,
        }
    }
}

#[tokio::test]
async fn queries_by_subject_agree_with_a_scan_with_and_without_the_index() {
    use kuzet::transfer_log::{Order, Query, subject_index};
    let dir = tempfile::tempdir().expect("tempdir");
    let log = TransferLog::open_sqlite(dir.path()).expect("open");
    let people: Vec<Iin> = (0..7).map(person).collect();
    let append_some = async |n: usize| {
        for i in 0..n {
            let kind = if i % 3 == 0 { Kind::In } else { Kind::Out };
            let who = (i % 8 < 7).then(|| people[i % 7].clone());
            log.append(draft(kind, Uuid::now_v7(), who, None))
                .await
                .expect("append");
        }
    };
    append_some(120).await;
    let check = |label: &str| {
        for who in [&people[0], &people[3]] {
            for order in [Order::NewestFirst, Order::OldestFirst] {
                for kind in [None, Some(Kind::In)] {
                    let q = Query {
                        subject: Some(log.subject_index(who)),
                        kind,
                        order,
                        ..Query::default()
                    };
                    let want = scanned(dir.path(), &q);
                    assert!(!want.is_empty());
                    assert_eq!(paged(dir.path(), q.clone(), 4), want, "{label} {order:?}");
                    assert_eq!(paged(dir.path(), q, 1000), want, "{label} {order:?}");
                }
            }
        }
    };
    check("no index");
    assert_eq!(subject_index::catch_up(dir.path()).expect("index"), 120);
    check("indexed");
    // The index is what answers: a row taken out of it is missing from the answer.
    let q = Query {
        subject: Some(log.subject_index(&people[0])),
        ..Query::default()
    };
    let all = scanned(dir.path(), &q);
    let ix = rusqlite::Connection::open(dir.path().join(subject_index::INDEX_FILE)).expect("ix");
    ix.execute("DELETE FROM by_subject WHERE seq = ?1", [all[1] as i64])
        .expect("remove");
    assert_eq!(paged(dir.path(), q.clone(), 1000).len(), all.len() - 1);
    ix.execute(
        "INSERT INTO by_subject (bucket, subject, seq) VALUES (?1 >> ?3, ?2, ?1)",
        rusqlite::params![
            all[1] as i64,
            &log.subject_index(&people[0])[..],
            subject_index::BUCKET_BITS
        ],
    )
    .expect("restore");
    append_some(50).await;
    check("indexed up to 120, the rest scanned");
    // An index that is not this log's (its recorded hash differs) is ignored, then rebuilt.
    ix.execute("UPDATE state SET upto_hash = zeroblob(32)", [])
        .expect("tamper");
    ix.execute("DELETE FROM by_subject WHERE seq % 2 = 0", [])
        .expect("tamper");
    check("foreign index ignored");
    assert_eq!(subject_index::catch_up(dir.path()).expect("rebuild"), 170);
    check("rebuilt");
    // Many buckets (of 4 entries, rebuilt so): the pages follow each other across them, both
    // ways, whatever the page size, and a cursor skips the buckets behind it.
    drop(ix);
    assert_eq!(
        subject_index::catch_up_in_buckets(dir.path(), 2).expect("small buckets"),
        170
    );
    check("buckets of 4");
    let all = scanned(dir.path(), &q);
    let ix = rusqlite::Connection::open(dir.path().join(subject_index::INDEX_FILE)).expect("ix");
    for (i, _) in all.iter().enumerate().step_by(5) {
        let seq = all[i] as i64;
        let subject = &log.subject_index(&people[0])[..];
        let rows = |sql| ix.execute(sql, rusqlite::params![seq >> 2, subject, seq]);
        rows("DELETE FROM by_subject WHERE bucket = ?1 AND subject = ?2 AND seq = ?3")
            .expect("remove");
        // Still the index that answers, in whichever bucket the entry is.
        assert_eq!(
            paged(dir.path(), q.clone(), 3).len(),
            all.len() - 1,
            "seq {seq}"
        );
        rows("INSERT INTO by_subject (bucket, subject, seq) VALUES (?1, ?2, ?3)").expect("restore");
    }
    drop(ix);
    append_some(9).await;
    check("buckets of 4, the rest scanned");
    // A file in the first layout (keyed by subject alone, no recorded layout) is not read,
    // and the next catch-up rebuilds it.
    std::fs::remove_file(dir.path().join(subject_index::INDEX_FILE)).expect("remove");
    let old = rusqlite::Connection::open(dir.path().join(subject_index::INDEX_FILE)).expect("ix");
    old.execute_batch(
        "CREATE TABLE by_subject (subject BLOB NOT NULL, seq INTEGER NOT NULL, \
         PRIMARY KEY (subject, seq)) WITHOUT ROWID; \
         CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL, \
         upto_hash BLOB NOT NULL);",
    )
    .expect("old layout");
    // Its state names this log's tip, so only the layout tells it apart; its rows are none.
    let tip: Vec<u8> = rusqlite::Connection::open(dir.path().join("transfer-log.sqlite"))
        .and_then(|c| c.query_row("SELECT hash FROM entries WHERE seq = 179", [], |r| r.get(0)))
        .expect("tip");
    old.execute(
        "INSERT INTO state (id, upto, upto_hash) VALUES (1, 179, ?1)",
        [tip],
    )
    .expect("old state");
    drop(old);
    check("first layout ignored");
    assert_eq!(subject_index::catch_up(dir.path()).expect("rebuild"), 179);
    check("first layout rebuilt");
    log.close().await;
}
