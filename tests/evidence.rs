//! Evidence and erasure, through the CLI where auditors use it: offline proofs (made, checked,
//! and rejected when any value in them changes), `log checkpoint`, `log verify` with a trusted
//! checkpoint, a client's erasure request (also from another process than the writer's), and
//! retention.

mod common;

use common::{kuzet, stderr, stdout};

use std::path::Path;

use std::time::Duration;

use kuzet::contract::Contracts;
use kuzet::transfer_log::{
    CheckpointPolicy, EntryDraft, Kind, LogError, Query, SqliteBackend, TransferLog,
};
use kuzet_ident::Iin;
use uuid::Uuid;

fn person(n: u16) -> Iin {
    (n.wrapping_mul(13)..)
        .find_map(|s| Iin::synthesize(time::macros::date!(1985 - 11 - 02), false, s))
        .expect("some serial has a check digit")
}

fn open(dir: &Path, every_entries: u64) -> TransferLog {
    let backend = SqliteBackend::open(dir).expect("backend");
    TransferLog::open_with(
        dir,
        Box::new(backend),
        CheckpointPolicy {
            every_entries,
            every_bytes: u64::MAX,
            every: Duration::from_secs(3600),
        },
    )
    .expect("open")
}

fn draft(kind: Kind, transfer: Uuid, who: &Iin, body: &str) -> EntryDraft {
    let mut d = EntryDraft::new(transfer, kind, "fcb", "credit-report", "underwriting", "ok");
    d.purpose = Some("contract_performance".into());
    d.legal_basis = Some("consent".into());
    d.subject = Some(who.clone());
    d.fields = vec![if kind == Kind::Out {
        "subject.iin".into()
    } else {
        "credit_history".into()
    }];
    d.body = Some(body.as_bytes().to_vec());
    d
}

/// Appends an OUT and IN pair for `who`; returns the transfer id.
async fn transfer(log: &TransferLog, who: &Iin) -> Uuid {
    let t = Uuid::now_v7();
    log.append(draft(Kind::Out, t, who, "{\"subject\":{}}"))
        .await
        .expect("out");
    log.append(draft(Kind::In, t, who, "{\"credit_history\":{}}"))
        .await
        .expect("in");
    t
}

#[tokio::test]
async fn a_proof_verifies_offline_and_any_changed_value_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), 8);
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(transfer(&log, &person(i)).await);
    }
    log.close().await;
    let data = dir.path();
    let proof_path = data.join("proof.json");
    // A transfer in the middle: its segment runs to the checkpoint at seq 16.
    let id = ids[5].to_string();
    let made = kuzet(
        data,
        &[
            "log",
            "proof",
            &id,
            "--out",
            proof_path.to_str().expect("utf-8 path"),
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        stdout(&made).contains("checkpoint at seq 16"),
        "{}",
        stdout(&made)
    );
    let text = std::fs::read_to_string(&proof_path).expect("proof");
    assert!(!text.contains(person(5).expose()), "no IIN in a proof");

    // Offline: the data directory is gone.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let copy = elsewhere.path().join("proof.json");
    std::fs::write(&copy, &text).expect("copy");
    let nowhere = elsewhere.path().join("no-data");
    let ok = kuzet(
        &nowhere,
        &["log", "verify-proof", copy.to_str().expect("utf-8 path")],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains(&format!("transfer {id} (2 entries)")),
        "{}",
        stdout(&ok)
    );
    assert!(!nowhere.exists(), "verify-proof creates nothing");

    // The published key pins it; another key does not.
    let cp = kuzet(data, &["log", "checkpoint"]);
    assert!(cp.status.success(), "{}", stderr(&cp));
    let cp: serde_json::Value = serde_json::from_slice(&cp.stdout).expect("checkpoint json");
    let key = cp["public_key"].as_str().expect("key").to_owned();
    let pinned = kuzet(
        &nowhere,
        &[
            "log",
            "verify-proof",
            copy.to_str().expect("utf-8 path"),
            "--public-key",
            &key,
        ],
    );
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    let other = "11".repeat(32);
    let wrong = kuzet(
        &nowhere,
        &[
            "log",
            "verify-proof",
            copy.to_str().expect("utf-8 path"),
            "--public-key",
            &other,
        ],
    );
    assert_eq!(wrong.status.code(), Some(1));

    // Every value in the file matters: change one character of any of them and the proof is
    // refused (or no longer parses as one).
    let original: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut paths = Vec::new();
    leaves(&original, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 50, "{} values", paths.len());
    let proof_of = |v: &serde_json::Value| -> Result<(), String> {
        let p: kuzet::transfer_log::proof::Proof =
            serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        kuzet::transfer_log::proof::verify_proof(&p, None).map(|_| ())
    };
    proof_of(&original).expect("the original verifies");
    for path in &paths {
        let mut v = original.clone();
        let leaf = path.iter().fold(&mut v, |v, k| match k {
            Key::Field(f) => &mut v[f.as_str()],
            Key::Index(i) => &mut v[*i],
        });
        *leaf = changed(leaf);
        assert!(proof_of(&v).is_err(), "a change at {path:?} went unnoticed");
    }

    // And the CLI says so, for a changed byte inside a hashed entry.
    let mut v = original.clone();
    let hashed = v["segment"][1]["hashed"]
        .as_str()
        .expect("hashed")
        .to_owned();
    let mut bytes = base64_decode(&hashed);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    v["segment"][1]["hashed"] = serde_json::Value::String(base64_encode(&bytes));
    std::fs::write(&copy, serde_json::to_string(&v).expect("json")).expect("write");
    let bad = kuzet(
        &nowhere,
        &["log", "verify-proof", copy.to_str().expect("utf-8 path")],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("proof REJECTED"), "{}", stderr(&bad));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[derive(Clone, Debug)]
enum Key {
    Field(String),
    Index(usize),
}

fn leaves(v: &serde_json::Value, at: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                at.push(Key::Field(k.clone()));
                leaves(v, at, out);
                at.pop();
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                at.push(Key::Index(i));
                leaves(v, at, out);
                at.pop();
            }
        }
        _ => out.push(at.clone()),
    }
}

/// The same value with one character changed (a string's last one, a number plus one, null
/// becomes a string).
fn changed(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => {
            let mut c: Vec<char> = s.chars().collect();
            match c.last_mut() {
                Some(l) => *l = if *l == '0' { '1' } else { '0' },
                None => c.push('x'),
            }
            serde_json::Value::String(c.into_iter().collect())
        }
        serde_json::Value::Number(n) => serde_json::json!(n.as_u64().unwrap_or(0) + 1),
        serde_json::Value::Bool(b) => serde_json::Value::Bool(!b),
        serde_json::Value::Null => serde_json::Value::String("x".into()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn a_proof_waits_for_a_checkpoint_and_an_unknown_transfer_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), 1000);
    let id = transfer(&log, &person(1)).await;
    // Not closed: nothing has been signed yet.
    let out = dir.path().join("p.json");
    let early = kuzet(
        dir.path(),
        &[
            "log",
            "proof",
            &id.to_string(),
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(early.status.code(), Some(1));
    assert!(
        stderr(&early).contains("no signed checkpoint covers seq 2"),
        "{}",
        stderr(&early)
    );
    assert!(!out.exists());
    log.close().await;
    let unknown = Uuid::now_v7().to_string();
    let missing = kuzet(
        dir.path(),
        &[
            "log",
            "proof",
            &unknown,
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("has no transfer"),
        "{}",
        stderr(&missing)
    );
    let later = kuzet(
        dir.path(),
        &[
            "log",
            "proof",
            &id.to_string(),
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert!(later.status.success(), "{}", stderr(&later));
}

#[tokio::test]
async fn verify_with_a_trusted_checkpoint_catches_a_cut_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), 4);
    for i in 0..6 {
        transfer(&log, &person(i)).await;
    }
    log.close().await;
    let cp = kuzet(dir.path(), &["log", "checkpoint"]);
    assert!(cp.status.success());
    let published = dir.path().join("published.json");
    std::fs::write(&published, &cp.stdout).expect("publish");
    let ok = kuzet(
        dir.path(),
        &[
            "log",
            "verify",
            "--trusted-checkpoint",
            published.to_str().expect("utf-8 path"),
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains("signed checkpoints"),
        "{}",
        stdout(&ok)
    );
    // Cut the end and every stored checkpoint that would show it.
    let c = rusqlite::Connection::open(dir.path().join(kuzet::transfer_log::SQLITE_FILE))
        .expect("sqlite");
    c.execute_batch(
        "DROP TRIGGER entries_no_delete; DROP TRIGGER checkpoints_no_delete;
         DELETE FROM entries WHERE seq > 9; DELETE FROM checkpoints WHERE seq > 9;",
    )
    .expect("tamper");
    assert!(kuzet(dir.path(), &["log", "verify"]).status.success());
    let cut = kuzet(
        dir.path(),
        &[
            "log",
            "verify",
            "--trusted-checkpoint",
            published.to_str().expect("utf-8 path"),
            "--json",
        ],
    );
    assert_eq!(cut.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["bad_seq"], 10);
}

#[tokio::test]
async fn an_erasure_request_destroys_the_key_is_logged_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (erased, kept) = (person(1), person(2));
    // The "gateway" keeps running, with the erased subject's key cached.
    let log = open(dir.path(), 1000);
    let old = transfer(&log, &erased).await;
    let other = transfer(&log, &kept).await;

    let out = kuzet(
        dir.path(),
        &[
            "subjects",
            "erase",
            "--iin",
            erased.expose(),
            "--reference",
            "REQ-7",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("erased"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains(erased.expose()),
        "the IIN is printed masked"
    );

    // The running writer learns of the other process's erasure before it seals anything
    // under the destroyed key: a body appended now is readable, the old ones are not.
    let new = transfer(&log, &erased).await;
    for e in log.get_transfer(old).await.expect("old") {
        assert!(matches!(
            log.decrypt_body(&e).await,
            Err(LogError::Decrypt(_))
        ));
    }
    for id in [new, other] {
        for e in log.get_transfer(id).await.expect("entries") {
            assert!(log.decrypt_body(&e).await.expect("readable").is_some());
        }
    }
    let erasures = log
        .search(
            Query {
                kind: Some(Kind::Erasure),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("search");
    assert_eq!(erasures.entries.len(), 1);
    let e = &erasures.entries[0];
    assert_eq!(
        (
            e.operation.as_str(),
            e.outcome.as_str(),
            e.reference.as_deref()
        ),
        ("erasure-request", "key_destroyed", Some("REQ-7"))
    );
    assert!(e.caller.starts_with("cli:"));
    log.close().await;

    let verify = kuzet(dir.path(), &["log", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    // A second request finds nothing left of the old key... but the new transfer's key: the
    // subject is erased again, and that is logged too.
    let again = kuzet(dir.path(), &["subjects", "erase", "--iin", erased.expose()]);
    assert!(again.status.success());
    let third = kuzet(dir.path(), &["subjects", "erase", "--iin", erased.expose()]);
    assert!(
        stdout(&third).contains("nothing to destroy"),
        "{}",
        stdout(&third)
    );
    let bad = kuzet(dir.path(), &["subjects", "erase", "--iin", "123456789012"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!stderr(&bad).contains("123456789012"));
    // Refused before anything is opened: no data dir is created for a bad request.
    let fresh = dir.path().join("never-created");
    let bad = kuzet(&fresh, &["subjects", "erase", "--iin", "123456789012"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!fresh.exists());
    assert!(kuzet(dir.path(), &["log", "verify"]).status.success());
}

#[tokio::test]
async fn retention_destroys_only_keys_whose_every_body_has_expired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), 1000);
    let contracts = std::sync::Arc::new(Contracts::load_embedded().expect("contracts"));
    let (a, b) = (person(3), person(4));
    let ta = transfer(&log, &a).await;
    let tb = transfer(&log, &b).await;
    // An operation the contracts no longer have: its bodies are kept, never guessed about.
    let mut gone = draft(Kind::Out, Uuid::now_v7(), &b, "{}");
    gone.operation = "retired-operation".into();
    log.append(gone).await.expect("append");

    let now = time::OffsetDateTime::now_utc();
    let soon = kuzet::retention::apply(
        &log,
        contracts.clone(),
        now + time::Duration::days(1),
        false,
    )
    .await
    .expect("apply");
    assert_eq!((soon.subjects, soon.expired, soon.destroyed), (2, 0, 0));
    assert!(soon.next_due.is_some());

    // Credit reports are kept 6 years (contracts/fcb.toml).
    let later = now + time::Duration::days(6 * 366);
    let dry = kuzet::retention::apply(&log, contracts.clone(), later, true)
        .await
        .expect("dry run");
    assert_eq!((dry.expired, dry.destroyed, dry.kept_unknown), (1, 0, 1));
    let done = kuzet::retention::apply(&log, contracts.clone(), later, false)
        .await
        .expect("apply");
    assert_eq!((done.expired, done.destroyed), (1, 1));
    for e in log.get_transfer(ta).await.expect("a") {
        assert!(matches!(
            log.decrypt_body(&e).await,
            Err(LogError::Decrypt(_))
        ));
    }
    for e in log.get_transfer(tb).await.expect("b") {
        assert!(log.decrypt_body(&e).await.expect("kept").is_some());
    }
    let erasures = log
        .search(
            Query {
                kind: Some(Kind::Erasure),
                operation: Some("retention".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .expect("search");
    assert_eq!(erasures.entries.len(), 1);
    // A second pass has nothing left to do.
    let again = kuzet::retention::apply(&log, contracts, later, false)
        .await
        .expect("again");
    assert_eq!(again.destroyed, 0);
    log.close().await;
    let v = kuzet(dir.path(), &["log", "verify"]);
    assert!(v.status.success(), "{}", stderr(&v));
    // The command line, today: nothing is due.
    let cli = kuzet(dir.path(), &["retention", "apply", "--json"]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let r: serde_json::Value = serde_json::from_slice(&cli.stdout).expect("json");
    assert_eq!(r["destroyed"], 0);
}

#[test]
fn a_bad_key_or_transfer_id_is_a_usage_error_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let proof = dir.path().join("proof.json").to_string_lossy().into_owned();
    for args in [
        vec!["log", "verify", "--public-key", "zz"],
        vec!["log", "verify", "--public-key", &"ab".repeat(31)],
        vec!["log", "verify-proof", &proof, "--public-key", "not hex"],
        vec!["log", "restore", "--from", &proof, "--public-key", "12"],
        vec!["log", "proof", "not-a-uuid", "--out", &proof],
    ] {
        let o = kuzet(&data, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
        assert!(
            stderr(&o).contains("64 hex digits") || stderr(&o).contains("TRANSFER_ID"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let iin = person(1);
    for (reference, reason) in [
        ("LTR-1\n   forged line", "control character"),
        (&*"Ж".repeat(129), "longer than 128 characters"),
    ] {
        let args = [
            "subjects",
            "erase",
            "--iin",
            iin.expose(),
            "--reference",
            reference,
        ];
        let o = kuzet(&data, &args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(reason), "{}", stderr(&o));
        assert!(!stderr(&o).contains(iin.expose()), "{}", stderr(&o));
    }
    assert!(
        !data.exists() && !Path::new(&proof).exists(),
        "nothing created"
    );
}
