//! Signed checkpoints, black-box: the writer signs them by count and on close, verify checks
//! their signatures and what they pin, and an attacker with the log file but not the key can
//! neither forge one, nor rewrite the chain under one, nor cut entries off the end.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use kuzet::transfer_log::checkpoint::CHECKPOINT_KEY_FILE;
use kuzet::transfer_log::{
    Batch, CheckpointPolicy, CheckpointSigner, EntryDraft, Kind, LogBackend, SQLITE_FILE,
    SqliteBackend, StagedEntry, TransferLog, VerifyError, VerifyOptions, entry_hash,
    verify_data_dir, verify_data_dir_with,
};
use kuzet_ident::Iin;
use uuid::Uuid;

fn person(n: u16) -> Iin {
    (n.wrapping_mul(11)..)
        .find_map(|s| Iin::synthesize(time::macros::date!(1990 - 03 - 14), true, s))
        .expect("some serial has a check digit")
}

fn policy(every_entries: u64) -> CheckpointPolicy {
    CheckpointPolicy {
        every_entries,
        every_bytes: u64::MAX,
        // Long enough never to fire in a test; closing the log signs the tip anyway.
        every: Duration::from_secs(3600),
    }
}

/// A log of `n` single-entry appends (so batches never merge) under `policy`, closed.
async fn built_log(n: u16, policy: CheckpointPolicy) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = SqliteBackend::open(dir.path()).expect("backend");
    let log = TransferLog::open_with(dir.path(), Box::new(backend), policy).expect("open");
    for i in 0..n {
        let mut d = EntryDraft::new(
            Uuid::now_v7(),
            Kind::Out,
            "fcb",
            "credit-report",
            "underwriting",
            "ok",
        );
        d.subject = Some(person(i));
        d.fields = vec!["subject.iin".into()];
        d.body = Some(format!("{{\"n\":{i}}}").into_bytes());
        log.append(d).await.expect("append");
    }
    log.close().await;
    dir
}

fn checkpoints(dir: &Path) -> Vec<kuzet::transfer_log::Checkpoint> {
    SqliteBackend::open_read_only(dir)
        .expect("open")
        .checkpoints()
        .expect("checkpoints")
}

fn sql(dir: &Path, sql: &str) {
    let c = rusqlite::Connection::open(dir.join(SQLITE_FILE)).expect("open sqlite");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;
         DROP TRIGGER IF EXISTS checkpoints_no_update;
         DROP TRIGGER IF EXISTS checkpoints_no_delete;",
    )
    .expect("drop triggers");
    c.execute_batch(sql).expect("tamper");
}

fn broken(dir: &Path) -> (u64, String) {
    match verify_data_dir(dir) {
        Err(VerifyError::Broken(f)) => (f.seq, f.reason),
        other => panic!("expected a broken log, got {other:?}"),
    }
}

#[tokio::test]
async fn the_writer_signs_every_n_entries_and_the_tip_on_close() {
    let dir = built_log(25, policy(10)).await;
    let cps = checkpoints(dir.path());
    let seqs: Vec<u64> = cps.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![10, 20, 25]);
    let key = CheckpointSigner::open(dir.path())
        .expect("key")
        .public_key();
    for c in &cps {
        assert!(c.verify_with(&key));
    }
    let summary = verify_data_dir(dir.path()).expect("verifies");
    assert_eq!(summary.checkpoints, 3);
    assert_eq!(summary.latest_checkpoint, 25);
    assert_eq!(summary.public_key, Some(key));
    assert!(summary.to_string().contains("3 signed checkpoints"));
}

#[tokio::test]
async fn a_forged_or_altered_checkpoint_is_rejected() {
    let cases = [
        // A changed signature byte.
        (
            "UPDATE checkpoints SET signature = zeroblob(64) WHERE seq = 10",
            10,
        ),
        // Moved to another entry.
        ("UPDATE checkpoints SET seq = 11 WHERE seq = 10", 11),
        // A pinned hash swapped for another entry's (signature no longer matches).
        (
            "UPDATE checkpoints SET hash = (SELECT hash FROM entries WHERE seq = 5) WHERE seq = 10",
            10,
        ),
    ];
    for (tamper, seq) in cases {
        let dir = built_log(20, policy(10)).await;
        sql(dir.path(), tamper);
        let (bad, reason) = broken(dir.path());
        assert_eq!(bad, seq, "{tamper}: {reason}");
        assert!(reason.contains("checkpoint"), "{reason}");
    }
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_rejected() {
    let dir = built_log(12, policy(10)).await;
    // The attacker signs a checkpoint of the real chain with their own key.
    let tip = SqliteBackend::open_read_only(dir.path())
        .expect("open")
        .tip()
        .expect("tip")
        .expect("entries");
    let forged = CheckpointSigner::from_seed(&[9; 32]).sign(
        tip.0,
        tip.1,
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("ns"),
    );
    sql(dir.path(), "DELETE FROM checkpoints WHERE seq = 12");
    SqliteBackend::open(dir.path())
        .expect("open")
        .add_checkpoint(&forged)
        .expect("store");
    let (bad, reason) = broken(dir.path());
    assert_eq!(bad, 12);
    assert!(
        reason.contains("another key") || reason.contains("other than"),
        "{reason}"
    );
    // Pinned by the auditor's copy of the real key, the same holds without the key file.
    let real = CheckpointSigner::open(dir.path())
        .expect("key")
        .public_key();
    std::fs::remove_file(dir.path().join(CHECKPOINT_KEY_FILE)).expect("rm key");
    let r = verify_data_dir_with(
        dir.path(),
        VerifyOptions {
            public_key: Some(real),
            trusted: vec![],
        },
    );
    assert!(matches!(r, Err(VerifyError::Broken(f)) if f.seq == 12));
}

/// Rewrites the stored chain as an attacker with the file but without the checkpoint key: one
/// entry's content changed and every later hash recomputed, so the chain itself is consistent.
fn rewrite_chain(dir: &Path, changed_seq: u64) {
    let mut entries = Vec::new();
    SqliteBackend::open_read_only(dir)
        .expect("open")
        .scan(1, &mut |row| {
            entries.push(row.expect("row"));
            ControlFlow::Continue(())
        })
        .expect("scan");
    let mut prev = [0u8; 32];
    let mut buf = Vec::new();
    for e in &mut entries {
        if e.seq == changed_seq {
            e.caller = "someone-else".into();
        }
        e.prev_hash = prev;
        e.hash = entry_hash(e, &mut buf);
        prev = e.hash;
    }
    sql(dir, "DELETE FROM entries");
    let staged: Vec<StagedEntry> = entries.into_iter().map(StagedEntry::new).collect();
    SqliteBackend::open(dir)
        .expect("open")
        .append(&Batch {
            entries: &staged,
            ..Default::default()
        })
        .expect("rewrite");
}

#[tokio::test]
async fn a_consistently_rewritten_chain_does_not_match_its_checkpoints() {
    let dir = built_log(30, policy(10)).await;
    rewrite_chain(dir.path(), 14);
    let (bad, reason) = broken(dir.path());
    // The chain holds; the first checkpoint after the change (seq 20) does not.
    assert_eq!(bad, 20, "{reason}");
    assert!(reason.contains("does not match"), "{reason}");
}

#[tokio::test]
async fn entries_cut_off_the_end_are_detected() {
    let dir = built_log(25, policy(10)).await;
    sql(dir.path(), "DELETE FROM entries WHERE seq > 22");
    let (bad, reason) = broken(dir.path());
    assert_eq!(bad, 23, "{reason}");
    assert!(reason.contains("missing at the end"), "{reason}");
}

#[tokio::test]
async fn a_trusted_checkpoint_held_outside_pins_the_log() {
    let dir = built_log(25, policy(10)).await;
    let published = checkpoints(dir.path()).pop().expect("latest");
    // The attacker removes the tail AND every checkpoint that would betray it.
    sql(
        dir.path(),
        "DELETE FROM entries WHERE seq > 15; DELETE FROM checkpoints WHERE seq > 15",
    );
    verify_data_dir(dir.path()).expect("the stored log alone looks intact");
    let r = verify_data_dir_with(
        dir.path(),
        VerifyOptions {
            public_key: None,
            trusted: vec![published],
        },
    );
    match r {
        Err(VerifyError::Broken(f)) => {
            assert_eq!(f.seq, 16);
            assert!(f.reason.contains("trusted checkpoint"), "{}", f.reason);
        }
        other => panic!("expected the trusted checkpoint to fail, got {other:?}"),
    }
}
