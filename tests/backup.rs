//! `kuzet log backup` and `kuzet log restore` through the real binary: a backup taken while
//! the gateway serves and writes restores into a data directory that verifies and holds a
//! prefix of the live log with every consent it names; a damaged or altered archive, or a
//! broken live log, is refused; files are 0600 and directories 0700; nothing is overwritten.

mod common;

use common::{TestApp, kuzet, person, stderr, stdout};

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kuzet::backup::{MANIFEST_FILE, Manifest};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn failed(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", stdout(o));
    stderr(o)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The archive's entries, in order, with their content.
fn unpack(archive: &Path) -> Vec<(String, Vec<u8>)> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).expect("open archive"));
    tar.entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("an entry");
            let name = e.path().expect("a name").to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read entry");
            (name, bytes)
        })
        .collect()
}

fn manifest(archive: &Path) -> Manifest {
    let entries = unpack(archive);
    assert_eq!(entries[0].0, MANIFEST_FILE, "the manifest comes first");
    serde_json::from_slice(&entries[0].1).expect("the manifest parses")
}

/// A data directory no gateway runs on: a client and three logged erasure requests (each
/// command signs a checkpoint as it closes the log).
fn stopped_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&kuzet(
        dir.path(),
        &["clients", "add", "auditor-1", "--role", "auditor"],
    ));
    for n in 1..=3 {
        ok(&kuzet(
            dir.path(),
            &["subjects", "erase", "--iin", &person(n)],
        ));
    }
    dir
}

fn verify_json(data: &Path) -> Value {
    let o = kuzet(data, &["log", "verify", "--json"]);
    serde_json::from_str(&stdout(&o)).expect("verify prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_the_gateway_writes_restores_to_a_verifying_prefix() {
    let app = Arc::new(
        TestApp::spawn_with(|c| {
            c.log.checkpoint_every_entries = 8;
        })
        .await,
    );
    // Writers: each round records a new consent and uses it at once, so the registry and
    // the log both change all the time.
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0u64);
    let count_tx = Arc::new(count_tx);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3u16 {
        let (app, count_tx, stop) = (app.clone(), count_tx.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut round = 0u16;
            while !stop.load(Ordering::Relaxed) {
                let iin = person(w * 1000 + round % 50);
                let consent = app.consent(&iin).await;
                let answer = app.credit_report(&iin, Some(&consent)).await;
                assert_eq!(answer.status, 200, "{}", answer.body);
                count_tx.send_modify(|n| *n += 1);
                round += 1;
            }
        }));
    }
    count_rx.wait_for(|n| *n >= 10).await.expect("writers run");

    let backups = tempfile::tempdir().expect("tempdir");
    let archive = backups.path().join("kuzet.tar");
    let data = app.dir.path().to_owned();
    // Taken again until one overlapped appends (transfers completed while it ran); each one
    // must verify and be a prefix of the live log.
    let mut overlapped = 0;
    for _ in 0..10 {
        let before = *count_rx.borrow();
        let (data, out) = (data.clone(), archive.clone());
        let o = tokio::task::spawn_blocking(move || {
            kuzet(
                &data,
                &[
                    "log",
                    "backup",
                    "--out",
                    out.to_str().expect("utf-8"),
                    "--force",
                ],
            )
        })
        .await
        .expect("backup ran");
        let after = *count_rx.borrow();
        let line = ok(&o);
        assert!(line.contains("verified"), "{line}");
        let m = manifest(&archive);
        // Every transfer answered before the backup began has its two entries in it.
        assert!(
            m.log.last_seq >= 2 * before,
            "seq {} < {}",
            m.log.last_seq,
            2 * before
        );
        let seq = m.log.last_seq;
        let live = app
            .app
            .gateway
            .log()
            .read(move |b| b.entry_hash_at(seq))
            .await
            .expect("live log")
            .expect("the live log has the backup's tip");
        assert_eq!(
            hex::encode(live),
            m.log.tip_hash,
            "a prefix of the live log"
        );
        if after > before {
            overlapped += 1;
            if overlapped == 2 {
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    assert!(overlapped > 0, "no backup ran while transfers completed");

    assert_eq!(mode(&archive), 0o600, "the archive holds the keys");
    let m = manifest(&archive);
    let listed: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
    for name in [
        "transfer-log.sqlite",
        "registry.sqlite",
        "master.key",
        "checkpoint.key",
    ] {
        assert!(listed.contains(&name), "{name} in {listed:?}");
    }
    assert!(
        !listed.contains(&"transfer-index.sqlite"),
        "derived: left out"
    );
    assert!(
        m.log.latest_checkpoint.is_some(),
        "the manifest names the latest checkpoint"
    );

    let target = tempfile::tempdir().expect("tempdir");
    let restored = target.path().join("restored");
    let line = ok(&kuzet(
        &restored,
        &["log", "restore", "--from", archive.to_str().expect("utf-8")],
    ));
    assert!(
        line.contains(&format!("last seq {}", m.log.last_seq)),
        "{line}"
    );
    assert_eq!(mode(&restored), 0o700);
    for name in names(&restored) {
        assert_eq!(mode(&restored.join(&name)), 0o600, "{name}");
    }
    let v = verify_json(&restored);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"].as_u64(), Some(m.log.last_seq));
    assert_eq!(v["tip_hash"].as_str(), Some(m.log.tip_hash.as_str()));
    assert!(v["checkpoints"].as_u64().expect("checkpoints") > 0);
    // The same checkpoint key as the live gateway's: new checkpoints go on under it.
    assert_eq!(
        v["public_key"],
        verify_json(&data)["public_key"],
        "the checkpoint key came along"
    );

    // Every consent an entry of the restored log names is in the restored ledger.
    let conn = rusqlite::Connection::open_with_flags(
        restored.join("transfer-log.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open restored log");
    conn.execute(
        "ATTACH DATABASE ?1 AS reg",
        [restored.join("registry.sqlite").to_str().expect("utf-8")],
    )
    .expect("attach registry");
    let (named, missing): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(NOT EXISTS (SELECT 1 FROM reg.consents c \
             WHERE c.id = e.consent_id)), 0) FROM entries e WHERE e.consent_id IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("join");
    assert!(named > 0, "the entries name consents");
    assert_eq!(missing, 0, "an entry names a consent the ledger lacks");
    drop(conn);

    // The restored directory is a working data directory: its clients, and the log goes on.
    let clients = ok(&kuzet(&restored, &["clients", "list"]));
    assert!(clients.contains("test-auditor"), "{clients}");
    ok(&kuzet(
        &restored,
        &["subjects", "erase", "--iin", &person(7)],
    ));
    let v = verify_json(&restored);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"].as_u64(), Some(m.log.last_seq + 1));
}

/// Rewrites the archive with `change` applied to the unpacked log and the manifest's digest
/// brought in line: an alteration only the chain can catch.
fn repack_with_altered_log(archive: &Path, out: &Path, change: &str) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let entries = unpack(archive);
    let mut m: Manifest = serde_json::from_slice(&entries[0].1).expect("manifest");
    let log = scratch.path().join("transfer-log.sqlite");
    let bytes = &entries
        .iter()
        .find(|(n, _)| n == "transfer-log.sqlite")
        .expect("the log")
        .1;
    std::fs::write(&log, bytes).expect("write log");
    rusqlite::Connection::open(&log)
        .expect("open")
        .execute_batch(change)
        .expect("alter");
    let altered = std::fs::read(&log).expect("read log");
    for f in &mut m.files {
        if f.name == "transfer-log.sqlite" {
            f.bytes = altered.len() as u64;
            f.sha256 = hex::encode(Sha256::digest(&altered));
        }
    }
    let mut tar = tar::Builder::new(std::fs::File::create(out).expect("create"));
    let put = |tar: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).expect("name");
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        tar.append(&h, data).expect("append");
    };
    put(
        &mut tar,
        MANIFEST_FILE,
        &serde_json::to_vec(&m).expect("json"),
    );
    for (name, data) in &entries[1..] {
        if name == "transfer-log.sqlite" {
            put(&mut tar, name, &altered);
        } else {
            put(&mut tar, name, data);
        }
    }
    tar.into_inner().expect("finish").flush().expect("flush");
}

#[test]
fn a_damaged_or_altered_archive_is_refused_and_nothing_is_restored() {
    let data = stopped_data_dir();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("b.tar");
    ok(&kuzet(
        data.path(),
        &["log", "backup", "--out", archive.to_str().expect("utf-8")],
    ));
    let restore = |from: &Path, into: &Path| {
        kuzet(
            into,
            &["log", "restore", "--from", from.to_str().expect("utf-8")],
        )
    };

    // One byte of the log flipped: the digest no longer matches.
    let damaged = work.path().join("damaged.tar");
    std::fs::copy(&archive, &damaged).expect("copy");
    let offset = {
        let mut tar = tar::Archive::new(std::fs::File::open(&archive).expect("open"));
        let mut entries = tar.entries().expect("tar");
        entries
            .find_map(|e| {
                let e = e.expect("entry");
                (e.path().expect("name").to_str() == Some("transfer-log.sqlite"))
                    .then(|| e.raw_file_position() + e.size() / 2)
            })
            .expect("the log is in the archive")
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&damaged)
        .expect("open");
    let mut byte = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.read_exact(&mut byte).expect("read");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(&[byte[0] ^ 0x40]).expect("write");
    drop(f);
    let into = work.path().join("from-damaged");
    let err = failed(&restore(&damaged, &into));
    assert!(err.contains("transfer-log.sqlite does not match"), "{err}");
    assert!(!into.exists(), "the directory the restore made is gone");

    // An entry altered and the digest fixed up: the chain names the entry.
    let altered = work.path().join("altered.tar");
    repack_with_altered_log(
        &archive,
        &altered,
        "DROP TRIGGER entries_no_update; UPDATE entries SET reference = 'R-X' WHERE seq = 2;",
    );
    let into = work.path().join("from-altered");
    std::fs::create_dir(&into).expect("an empty target");
    let err = failed(&restore(&altered, &into));
    assert!(err.contains("BROKEN at seq 2"), "{err}");
    assert!(
        names(&into).is_empty(),
        "nothing restored: {:?}",
        names(&into)
    );

    // Entries cut off the end (manifest adjusted too): the signed checkpoints catch it.
    let cut = work.path().join("cut.tar");
    repack_with_altered_log(
        &archive,
        &cut,
        "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 3;",
    );
    let err = failed(&restore(&cut, &work.path().join("from-cut")));
    assert!(err.contains("the signed checkpoint at seq 3"), "{err}");

    // A file that is not an archive at all (an export of someone's data, say): refused, and
    // nothing of its content is quoted back.
    let not_tar = work.path().join("export.csv");
    std::fs::write(
        &not_tar,
        "seq,reference,subject\n1,APP-870525301012,Ахметова Айгерим\n".repeat(20),
    )
    .expect("write");
    let into = work.path().join("from-not-tar");
    let err = failed(&restore(&not_tar, &into));
    assert!(err.contains("not a tar archive"), "{err}");
    for quoted in ["seq,", "APP-", "Ахметова"] {
        assert!(!err.contains(quoted), "{quoted} quoted back: {err}");
    }
    assert!(!into.exists());

    // The intact archive still restores.
    ok(&restore(&archive, &work.path().join("from-intact")));
}

#[test]
fn a_live_log_that_does_not_verify_is_not_backed_up() {
    let data = stopped_data_dir();
    rusqlite::Connection::open(data.path().join("transfer-log.sqlite"))
        .expect("open")
        .execute_batch(
            "DROP TRIGGER entries_no_update; UPDATE entries SET caller = 'someone' WHERE seq = 1;",
        )
        .expect("alter");
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("b.tar");
    let err = failed(&kuzet(
        data.path(),
        &["log", "backup", "--out", archive.to_str().expect("utf-8")],
    ));
    assert!(err.contains("BROKEN at seq 1"), "{err}");
    assert!(
        names(work.path()).is_empty(),
        "no archive and no leftovers: {:?}",
        names(work.path())
    );
}

#[test]
fn a_backup_keeps_an_existing_file_unless_forced_and_needs_a_log() {
    let data = stopped_data_dir();
    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("b.tar");
    std::fs::write(&archive, b"keep me").expect("write");
    let out = archive.to_str().expect("utf-8");
    let err = failed(&kuzet(data.path(), &["log", "backup", "--out", out]));
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&archive).expect("read"), b"keep me");

    ok(&kuzet(
        data.path(),
        &["log", "backup", "--out", out, "--force"],
    ));
    assert_eq!(mode(&archive), 0o600);
    assert_eq!(manifest(&archive).log.last_seq, 3);
    assert_eq!(names(work.path()), vec!["b.tar".to_owned()], "no leftovers");

    // Inside the data directory it would be backed up by the next backup, keys and all.
    let inside = data.path().join("b.tar");
    let err = failed(&kuzet(
        data.path(),
        &["log", "backup", "--out", inside.to_str().expect("utf-8")],
    ));
    assert!(err.contains("inside the data directory"), "{err}");

    let empty = tempfile::tempdir().expect("tempdir");
    let err = failed(&kuzet(
        empty.path(),
        &[
            "log",
            "backup",
            "--out",
            work.path().join("c.tar").to_str().expect("utf-8"),
        ],
    ));
    assert!(err.contains("no transfer log"), "{err}");
    assert!(!work.path().join("c.tar").exists());
}

#[test]
fn a_restore_goes_only_into_an_empty_or_new_directory() {
    let data = stopped_data_dir();
    let work = tempfile::tempdir().expect("tempdir");
    let archive: PathBuf = work.path().join("b.tar");
    let from = archive.to_str().expect("utf-8");
    ok(&kuzet(data.path(), &["log", "backup", "--out", from]));

    let busy = work.path().join("busy");
    std::fs::create_dir(&busy).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), b"mine").expect("write");
    let err = failed(&kuzet(&busy, &["log", "restore", "--from", from]));
    assert!(err.contains("not an empty directory"), "{err}");
    assert_eq!(names(&busy), vec!["notes.txt".to_owned()]);

    // The gateway's own data directory is never empty.
    let err = failed(&kuzet(data.path(), &["log", "restore", "--from", from]));
    assert!(err.contains("not an empty directory"), "{err}");

    // An existing empty directory is made private.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    ok(&kuzet(&empty, &["log", "restore", "--from", from]));
    assert_eq!(mode(&empty), 0o700);
    assert_eq!(
        names(&empty),
        vec![
            "checkpoint.key",
            "master.key",
            "registry.sqlite",
            "reporting.sqlite",
            "transfer-log.sqlite"
        ]
    );
    assert_eq!(verify_json(&empty)["entries"], 3);
}
