//! The `kuzet` command line as operators and auditors use it: exit codes and output.

mod common;

use common::{kuzet, stderr, stdout};

use std::path::Path;
use std::process::Command;

#[test]
fn clients_add_list_revoke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let added = kuzet(
        &data,
        &["clients", "add", "scoring", "--role", "underwriting"],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let token = stdout(&added).lines().last().expect("a line").to_owned();
    assert!(
        token.starts_with("kz_"),
        "the token is the last line: {token}"
    );

    // The data dir is private to its owner.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&data)
        .expect("data dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // Only a hash of the token is stored.
    for entry in std::fs::read_dir(&data).expect("read dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    }

    let again = kuzet(&data, &["clients", "add", "scoring", "--role", "auditor"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    let bad_role = kuzet(&data, &["clients", "add", "x", "--role", "superuser"]);
    assert_eq!(bad_role.status.code(), Some(1));
    assert!(
        stderr(&bad_role).contains("underwriting"),
        "{}",
        stderr(&bad_role)
    );

    let list = kuzet(&data, &["clients", "list"]);
    assert!(list.status.success());
    let line = stdout(&list)
        .lines()
        .find(|l| l.starts_with("scoring"))
        .expect("listed")
        .to_owned();
    assert!(
        line.contains("underwriting") && line.contains("active"),
        "{line}"
    );
    assert!(!stdout(&list).contains(&token));

    let revoked = kuzet(&data, &["clients", "revoke", "scoring"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let list = kuzet(&data, &["clients", "list"]);
    assert!(stdout(&list).contains("revoked"), "{}", stdout(&list));
    let missing = kuzet(&data, &["clients", "revoke", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn listing_or_revoking_clients_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("mistyped");
    for args in [&["clients", "list"][..], &["clients", "revoke", "scoring"]] {
        let out = kuzet(&data, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("no client registry"),
            "{}",
            stderr(&out)
        );
        assert!(!data.exists(), "{args:?} created the data directory");
    }
    // Adding creates it; listing then works.
    let added = kuzet(
        &data,
        &["clients", "add", "scoring", "--role", "underwriting"],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let list = kuzet(&data, &["clients", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("scoring"), "{}", stdout(&list));
}

#[test]
fn contracts_check_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let ok = kuzet(
        dir.path(),
        &[
            "contracts",
            "check",
            "--dir",
            shipped.to_str().expect("utf-8"),
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("contracts ok:"), "{}", stdout(&ok));

    let broken = dir.path().join("contracts");
    std::fs::create_dir(&broken).expect("mkdir");
    for entry in std::fs::read_dir(&shipped).expect("read") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), broken.join(entry.file_name())).expect("copy");
    }
    let fcb = std::fs::read_to_string(broken.join("fcb.toml")).expect("read");
    std::fs::write(
        broken.join("fcb.toml"),
        fcb.replacen(
            "  \"subject.iin\",",
            "  \"subject.iin\", \"subject.shoe_size\",",
            1,
        ),
    )
    .expect("write");
    let bad = kuzet(
        dir.path(),
        &[
            "contracts",
            "check",
            "--dir",
            broken.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(
        err.contains("fcb.toml")
            && err.contains("credit-report")
            && err.contains("subject.shoe_size"),
        "{err}"
    );
}

#[test]
fn contracts_check_without_a_folder_checks_what_serve_would_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("KUZET_CONFIG")
            .env_remove("KUZET_DATA")
            .output()
            .expect("run kuzet")
    };
    // No ./contracts here: serve would use the copy built into the binary, so that is checked.
    let ok = run(&["contracts", "check"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = stdout(&ok);
    assert!(out.contains("built into the binary"), "{out}");
    assert!(out.contains("contracts ok:"), "{out}");
    // A folder named on the command line must exist.
    let missing = run(&["contracts", "check", "--dir", "nowhere"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nowhere"), "{}", stderr(&missing));
}

#[test]
fn the_example_configuration_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = kuzet(dir.path(), &["config", "example"]);
    assert!(example.status.success());
    let text = stdout(&example);
    kuzet::config::Config::parse(&text).expect("the printed example parses");
    let file = dir.path().join("kuzet.toml");
    std::fs::write(&file, &text).expect("write");
    // `--config` accepts it: `contracts check` loads the configuration first.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let check = Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--config")
        .arg(&file)
        .args([
            "contracts",
            "check",
            "--dir",
            shipped.to_str().expect("utf-8"),
        ])
        .output()
        .expect("run");
    assert!(check.status.success(), "{}", stderr(&check));
    std::fs::write(&file, "[server]\nlisten = \"nowhere\"\n").expect("write");
    let bad = Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--config")
        .arg(&file)
        .args(["contracts", "check"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("kuzet.toml"), "{}", stderr(&bad));
}

#[test]
fn log_verify_names_the_first_bad_seq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let log = kuzet::transfer_log::TransferLog::open_sqlite(&data).expect("open");
        for i in 0..5 {
            let mut draft = kuzet::transfer_log::EntryDraft::new(
                uuid::Uuid::now_v7(),
                kuzet::transfer_log::Kind::Out,
                "fcb",
                "credit-report",
                "cli-test",
                "sent",
            );
            draft.reference = Some(format!("R-{i}"));
            log.append(draft).await.expect("append");
        }
        log.close().await;
    });
    let ok = kuzet(&data, &["log", "verify"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(stdout(&ok).lines().count(), 1, "a one-line summary");
    assert!(stdout(&ok).contains('5'), "{}", stdout(&ok));

    let conn = rusqlite::Connection::open(data.join("transfer-log.sqlite")).expect("sqlite");
    conn.execute_batch(
        "DROP TRIGGER entries_no_update; UPDATE entries SET reference = 'R-X' WHERE seq = 3;",
    )
    .expect("tamper");
    drop(conn);
    let bad = kuzet(&data, &["log", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("seq 3"), "{}", stderr(&bad));
}

#[test]
fn consents_import_records_the_good_lines_and_names_the_bad_ones() {
    use kuzet::registry::{Registry, SqliteRegistry};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let good = kuzet_mocks::fcb::demo_iin().expose().to_owned();
    let line = |iin: &str, extra: &str| {
        format!(
            r#"{{"subject_iin": "{iin}", "recipients": ["fcb"], "purposes": ["contract_performance"], "granted_at": "2026-01-01T10:00:00Z", "channel": "branch", "evidence": "loan-contract:1"{extra}}}"#
        )
    };
    let file = dir.path().join("consents.jsonl");
    // As a Windows tool writes it: a byte order mark first, CRLF line ends.
    let text = [
        line(&good, ""),
        line("910610400012", r#", "expires_at": "2030-01-01T00:00:00Z""#),
        line("870525301013", ""),
        line(&good, r#", "note": "x""#),
        String::new(),
        "not json".to_owned(),
        // A line whose ends were lost: skipped, never held whole.
        "x".repeat(2 << 20),
    ]
    .join("\r\n");
    std::fs::write(&file, format!("\u{feff}{text}")).expect("write");
    let out = kuzet(
        &data,
        &["consents", "import", "--file", file.to_str().expect("path")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("consents recorded: 2; already on record: 0; lines refused: 4"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("line 3: invalid_iin"), "{err}");
    assert!(err.contains("line 4: unknown_field"), "{err}");
    assert!(err.contains("line 6: malformed_request"), "{err}");
    assert!(
        err.contains("line 7: malformed_request: the line is longer than 1 MiB"),
        "{err}"
    );
    assert!(
        !err.contains("870525301013"),
        "no value in the messages: {err}"
    );
    // Recorded under the data dir's subject index, by the importer.
    let keys = kuzet::transfer_log::Keys::open(&data).expect("keys");
    let registry = SqliteRegistry::open(&data).expect("registry");
    let iin = kuzet_ident::Iin::parse(&good).expect("iin");
    let consents = registry
        .consents_for(&keys.subject_index(&iin))
        .expect("consents");
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].recorded_by, "kuzet-import");
    assert_eq!(consents[0].recipients, ["fcb"]);

    // The subject withdraws it; the same file imported again records nothing twice and does
    // not bring the withdrawn consent back. A line repeated within a file counts once.
    registry
        .revoke_consent(consents[0].id, "test", time::OffsetDateTime::now_utc())
        .expect("revoke");
    drop(registry);
    let again = dir.path().join("again.jsonl");
    let other = kuzet_ident::Iin::synthesize(time::macros::date!(1992 - 04 - 05), false, 11)
        .expect("iin")
        .expose()
        .to_owned();
    std::fs::write(
        &again,
        [
            line(&good, ""),
            line("910610400012", r#", "expires_at": "2030-01-01T00:00:00Z""#),
            line(&other, ""),
            line(&other, ""),
        ]
        .join("\n"),
    )
    .expect("write");
    let out = kuzet(
        &data,
        &[
            "consents",
            "import",
            "--file",
            again.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("consents recorded: 1; already on record: 3; lines refused: 0"),
        "{}",
        stdout(&out)
    );
    let registry = SqliteRegistry::open(&data).expect("registry");
    let consents = registry
        .consents_for(&keys.subject_index(&iin))
        .expect("consents");
    assert_eq!(consents.len(), 1, "not recorded twice");
    assert!(consents[0].revoked_at.is_some(), "still withdrawn");
    drop(registry);

    // A compressed file is refused as a whole, before any line: exit 1, nothing recorded.
    let gz = dir.path().join("consents.jsonl.gz");
    let mut compressed = vec![0x1f, 0x8b, 8, 0];
    compressed.extend_from_slice(line(&other, "").as_bytes());
    std::fs::write(&gz, compressed).expect("write");
    let out = kuzet(
        &data,
        &["consents", "import", "--file", gz.to_str().expect("path")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("gzip-compressed"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn log_verify_names_a_missing_empty_or_foreign_log_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = data.join("transfer-log.sqlite");
    let expect = |what: &str, message: &str| {
        let out = kuzet(&data, &["log", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{what}");
        assert!(stderr(&out).contains(message), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&file.display().to_string()),
            "{what} names the file: {}",
            stderr(&out)
        );
    };
    expect("no data directory", "no transfer log here");
    std::fs::create_dir_all(&data).expect("dir");
    expect("no file", "no transfer log here");
    std::fs::write(&file, b"").expect("empty");
    expect("an empty file", "not a kuzet transfer log");
    std::fs::write(&file, [0x5a; 8192]).expect("junk");
    expect("not a database", "file is not a database");
    std::fs::remove_file(&file).expect("rm");
    let other = rusqlite::Connection::open(&file).expect("sqlite");
    other
        .execute_batch("CREATE TABLE entries (seq INTEGER PRIMARY KEY);")
        .expect("table");
    drop(other);
    expect("another database", "not a kuzet transfer log");
    assert_eq!(
        std::fs::read_dir(&data).expect("ls").count(),
        1,
        "verification created nothing beside the file"
    );
}
