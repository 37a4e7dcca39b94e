//! The auditors' commands as they use them, through the real binary: `log query` (every
//! filter, the formats, pagination), `log export` (content, atomicity) and `log subject-report`
//! (policy 9.1: exactly one subject's transfers, including the bureau uploads that carried
//! their contract), all read-only on the data directory.

mod common;

use common::{kuzet, stderr, stdout};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use kuzet::contract::Role;
use kuzet::transfer_log::query::CSV_HEADER;
use kuzet::transfer_log::{
    Entry, Keys, Kind, LogBackend, SealedBody, SqliteBackend, StagedEntry, entry_hash,
};
use kuzet_ident::Iin;
use serde_json::Value;
use uuid::Uuid;

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    stdout(o)
}

/// Subject A and subject B of the synthetic log (valid, invented IINs).
fn subject(n: u16) -> Iin {
    Iin::synthesize(
        time::macros::date!(1990 - 03 - 14),
        n.is_multiple_of(2),
        100 + n,
    )
    .or_else(|| Iin::synthesize(time::macros::date!(1990 - 03 - 15), true, 200 + n))
    .expect("a valid synthetic IIN")
}

/// One entry of the synthetic log: (transfer, kind, recipient, operation, caller, purpose,
/// subject, outcome).
type Spec = (
    usize,
    Kind,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<u16>,
    &'static str,
);

/// The synthetic log: entry `seq` is at 2026-01-01 plus `seq - 1` days, 10:00 UTC.
const LOG: [Spec; 12] = [
    (
        1,
        Kind::Out,
        "fcb",
        "credit-report",
        "scoring",
        Some("contract_performance"),
        Some(1),
        "sent",
    ),
    (
        1,
        Kind::In,
        "fcb",
        "credit-report",
        "scoring",
        Some("contract_performance"),
        Some(1),
        "ok",
    ),
    (
        2,
        Kind::Out,
        "gcvp",
        "income",
        "scoring",
        Some("contract_performance"),
        Some(1),
        "sent",
    ),
    (
        2,
        Kind::In,
        "gcvp",
        "income",
        "scoring",
        Some("contract_performance"),
        Some(1),
        "error:timeout",
    ),
    (
        3,
        Kind::Denied,
        "fcb",
        "credit-report",
        "scoring",
        Some("contract_performance"),
        Some(2),
        "denied:consent_missing",
    ),
    (
        4,
        Kind::Out,
        "traffic",
        "user-mark",
        "servicing",
        Some("contract_performance"),
        Some(2),
        "sent",
    ),
    (
        4,
        Kind::In,
        "traffic",
        "user-mark",
        "servicing",
        Some("contract_performance"),
        Some(2),
        "ok",
    ),
    (
        5,
        Kind::Out,
        "fcb",
        "contract-upload",
        "reporter",
        Some("contract_performance"),
        None,
        "ok",
    ),
    (
        5,
        Kind::In,
        "fcb",
        "contract-upload",
        "reporter",
        Some("contract_performance"),
        None,
        "ok",
    ),
    (
        6,
        Kind::Erasure,
        "kuzet",
        "erasure",
        "dpo",
        None,
        Some(1),
        "ok",
    ),
    (
        7,
        Kind::Out,
        "fcb",
        "credit-report",
        "campaigns",
        Some("marketing"),
        Some(2),
        "sent",
    ),
    (
        7,
        Kind::In,
        "fcb",
        "credit-report",
        "campaigns",
        Some("marketing"),
        Some(2),
        "error:upstream_rejected",
    ),
];

struct SyntheticLog {
    _dir: tempfile::TempDir,
    data: PathBuf,
    transfers: Vec<Uuid>,
}

/// Writes [`LOG`] as a valid chain (verify passes) with chosen times, through the backend.
fn synthetic_log() -> SyntheticLog {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let keys = Keys::open(&data).expect("keys");
    let transfers: Vec<Uuid> = (0..=7).map(|_| Uuid::now_v7()).collect();
    let mut backend = SqliteBackend::open(&data).expect("open");
    let mut prev = [0u8; 32];
    let mut buf = Vec::new();
    let mut staged = Vec::new();
    for (i, (t, kind, recipient, operation, caller, purpose, who, outcome)) in
        LOG.iter().enumerate()
    {
        let seq = i as u64 + 1;
        let mut e = Entry {
            seq,
            transfer_id: transfers[*t],
            at: time::macros::datetime!(2026-01-01 10:00 UTC) + time::Duration::days(i as i64),
            kind: *kind,
            recipient: (*recipient).into(),
            operation: (*operation).into(),
            caller: (*caller).into(),
            purpose: purpose.map(str::to_owned),
            legal_basis: purpose.map(|_| "consent".to_owned()),
            consent_id: None,
            reference: Some(format!("APP-{seq}")),
            subject: who.map(|n| keys.subject_index(&subject(n))),
            fields: if *kind == Kind::Out {
                vec!["subject.iin".into()]
            } else {
                vec![]
            },
            dropped: vec![],
            denied: vec![],
            body_digest: (*kind == Kind::In).then_some([7; 32]),
            body: (*kind == Kind::In).then(|| SealedBody {
                nonce: [1; 12],
                ciphertext: vec![0xab; 48],
            }),
            upstream: vec![("bureau_reference".into(), format!("R,{seq}"))],
            outcome: (*outcome).into(),
            latency_ms: (*kind == Kind::In).then_some(12),
            prev_hash: prev,
            hash: [0; 32],
        };
        e.hash = entry_hash(&e, &mut buf);
        prev = e.hash;
        staged.push(StagedEntry::new(e));
    }
    backend
        .append(&kuzet::transfer_log::Batch {
            entries: &staged,
            ..Default::default()
        })
        .expect("append");
    drop(backend);
    SyntheticLog {
        _dir: dir,
        data,
        transfers,
    }
}

/// The seqs a JSON page lists.
fn seqs(page: &Value) -> Vec<u64> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

fn query_seqs(data: &Path, args: &[&str]) -> BTreeSet<u64> {
    let mut all = vec!["log", "query", "--format", "json", "--limit", "1000"];
    all.extend_from_slice(args);
    let page: Value = serde_json::from_str(&ok(&kuzet(data, &all))).expect("a JSON page");
    assert!(page["next_cursor"].is_null(), "one page: {page}");
    let got = seqs(&page);
    let mut sorted = got.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(got, sorted, "newest first");
    got.into_iter().collect()
}

fn set(seqs: &[u64]) -> BTreeSet<u64> {
    seqs.iter().copied().collect()
}

#[test]
fn every_query_filter_narrows_to_exactly_its_entries() {
    let log = synthetic_log();
    let data = &log.data;
    let a = subject(1).expose().to_owned();
    let b = subject(2).expose().to_owned();
    let t4 = log.transfers[4].to_string();
    let cases: Vec<(Vec<&str>, &[u64])> = vec![
        (vec![], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        (vec!["--iin", &a], &[1, 2, 3, 4, 10]),
        (vec!["--iin", &b], &[5, 6, 7, 11, 12]),
        (vec!["--recipient", "gcvp"], &[3, 4]),
        (vec!["--operation", "user-mark"], &[6, 7]),
        (vec!["--kind", "out"], &[1, 3, 6, 8, 11]),
        (vec!["--kind", "in"], &[2, 4, 7, 9, 12]),
        (vec!["--kind", "denied"], &[5]),
        (vec!["--kind", "erasure"], &[10]),
        (vec!["--caller", "servicing"], &[6, 7]),
        (vec!["--outcome", "error"], &[4, 12]),
        (vec!["--outcome", "error:timeout"], &[4]),
        (vec!["--outcome", "err"], &[]),
        (vec!["--outcome", "denied"], &[5]),
        (vec!["--purpose", "marketing"], &[11, 12]),
        (vec!["--transfer", &t4], &[6, 7]),
        (vec!["--since", "2026-01-09"], &[9, 10, 11, 12]),
        (
            vec!["--since", "2026-01-09T10:00:00.000001Z"],
            &[10, 11, 12],
        ),
        (vec!["--until", "2026-01-03"], &[1, 2]),
        (
            vec!["--until", "2026-01-03T15:00:00.000001+05:00"],
            &[1, 2, 3],
        ),
        (vec!["--until", "2026-01-03T15:00:00+05:00"], &[1, 2]),
        (
            vec!["--since", "2026-01-02", "--until", "2026-01-04"],
            &[2, 3],
        ),
        (vec!["--iin", &b, "--kind", "in"], &[7, 12]),
        (vec!["--recipient", "fcb", "--caller", "reporter"], &[8, 9]),
    ];
    for (args, want) in cases {
        assert_eq!(query_seqs(data, &args), set(want), "{args:?}");
    }
    // An empty result is a success too, with a word on stderr.
    let none = kuzet(data, &["log", "query", "--recipient", "nobody"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(
        stderr(&none).contains("no matching entries"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn bad_arguments_exit_2_and_never_echo_an_iin() {
    let log = synthetic_log();
    let mut wrong = subject(1).expose().to_owned();
    // The same digits with another check digit: a plausible typo.
    let last = wrong.pop().expect("digit");
    wrong.push(if last == '0' { '1' } else { '0' });
    for args in [
        vec!["log", "query", "--iin", &wrong],
        vec![
            "log", "export", "--format", "jsonl", "--out", "x", "--iin", &wrong,
        ],
        vec!["log", "subject-report", "--iin", &wrong],
    ] {
        let o = kuzet(&log.data, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not a valid IIN"), "{}", stderr(&o));
        assert!(!stderr(&o).contains(&wrong), "echoed: {}", stderr(&o));
        assert!(!stdout(&o).contains(&wrong));
    }
    for args in [
        vec!["log", "query", "--kind", "sideways"],
        vec!["log", "query", "--recipient", "FCB"],
        vec![
            "log",
            "export",
            "--format",
            "csv",
            "--out",
            "-",
            "--purpose",
            "P1 ",
        ],
        vec!["log", "query", "--since", "yesterday"],
        vec!["log", "query", "--transfer", "not-a-uuid"],
        vec!["log", "query", "--limit", "0"],
        vec!["log", "query", "--limit", "1001"],
        vec!["log", "query", "--cursor", "0"],
        vec!["log", "query", "--format", "xml"],
        vec!["log", "export", "--format", "jsonl"],
    ] {
        let o = kuzet(&log.data, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    // A transfer id that is not one says so in words, not in the UUID parser's.
    for args in [
        vec!["log", "query", "--transfer", "abc"],
        vec!["log", "proof", "abc", "--out", "p.json"],
    ] {
        let o = kuzet(&log.data, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not a transfer id (a UUID)"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // A range that cannot hold anything is refused, not answered with nothing.
    for args in [
        vec![
            "log",
            "query",
            "--since",
            "2026-02-01",
            "--until",
            "2026-01-01",
        ],
        vec![
            "log",
            "query",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-01T00:00:00Z",
        ],
        vec![
            "log",
            "export",
            "--format",
            "csv",
            "--out",
            "x.csv",
            "--since",
            "2026-02-01",
            "--until",
            "2026-01-01",
        ],
    ] {
        let o = kuzet(&log.data, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--until must be later than --since"),
            "{}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty());
    }
    assert!(!log.data.join("x.csv").exists() && !std::path::Path::new("x.csv").exists());
}

#[test]
fn formats_json_csv_and_table() {
    let log = synthetic_log();
    let data = &log.data;
    let page: Value =
        serde_json::from_str(&ok(&kuzet(data, &["log", "query", "--format", "json"])))
            .expect("json");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 12);
    assert!(page["next_cursor"].is_null());
    let top = &entries[0];
    assert_eq!(top["seq"], 12);
    assert_eq!(top["kind"], "in");
    assert_eq!(top["body"], "encrypted");
    assert_eq!(top["upstream"]["bureau_reference"], "R,12");
    assert_eq!(top["transfer_id"], log.transfers[7].to_string());
    for key in ["at", "hash", "prev_hash", "subject", "outcome", "fields"] {
        assert!(top.get(key).is_some(), "{key} in {top}");
    }

    let csv_text = ok(&kuzet(data, &["log", "query", "--format", "csv"]));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 12);
    assert_eq!(&rows[0][0], "12");
    // A value with a comma is quoted, not split.
    assert_eq!(&rows[0][17], "bureau_reference=R,12");

    let table = kuzet(data, &["log", "query", "--limit", "3"]);
    let text = ok(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header and 3 rows: {text}");
    for col in [
        "SEQ",
        "AT (UTC)",
        "KIND",
        "RECIPIENT",
        "OPERATION",
        "CALLER",
        "PURPOSE",
        "OUTCOME",
        "TRANSFER",
    ] {
        assert!(lines[0].contains(col), "{col}: {}", lines[0]);
    }
    // Aligned: every row has its kind where the header has KIND.
    let kind_at = lines[0].find("KIND").expect("KIND");
    assert!(lines[1][kind_at..].starts_with("in "), "{text}");
    assert!(lines[2][kind_at..].starts_with("out"), "{text}");
    assert!(lines[1].ends_with(&log.transfers[7].to_string()));
    assert!(
        stderr(&table).contains("--cursor 10"),
        "the next page is named apart from the table: {}",
        stderr(&table)
    );
}

#[test]
fn pages_visit_every_entry_exactly_once() {
    let log = synthetic_log();
    for filter in [vec![], vec!["--recipient", "fcb"]] {
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let mut args = vec!["log", "query", "--format", "json", "--limit", "5"];
            args.extend_from_slice(&filter);
            if let Some(c) = &cursor {
                args.extend(["--cursor", c.as_str()]);
            }
            let page: Value = serde_json::from_str(&ok(&kuzet(&log.data, &args))).expect("json");
            seen.extend(seqs(&page));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
            assert!(pages < 10, "pagination ends");
        }
        let all = query_seqs(&log.data, &filter);
        assert_eq!(seen.len(), all.len(), "no entry twice: {seen:?}");
        assert_eq!(set(&seen), all);
        let mut newest_first = seen.clone();
        newest_first.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(seen, newest_first);
    }
}

/// Every entry, oldest first, as `log query` shows it (all pages).
fn everything(data: &Path) -> Vec<Value> {
    let page: Value = serde_json::from_str(&ok(&kuzet(
        data,
        &["log", "query", "--format", "json", "--limit", "1000"],
    )))
    .expect("json");
    let mut entries = page["entries"].as_array().expect("entries").clone();
    entries.reverse();
    entries
}

#[test]
fn export_jsonl_and_csv_equal_a_query_of_everything() {
    let log = synthetic_log();
    let data = &log.data;
    let out = log._dir.path().join("exports");
    std::fs::create_dir(&out).expect("mkdir");
    let all = everything(data);
    assert_eq!(all.len(), 12);

    let jsonl = out.join("log.jsonl");
    let done = ok(&kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--out",
            jsonl.to_str().expect("utf-8"),
        ],
    ));
    assert_eq!(
        done.trim(),
        format!("exported 12 entries to {}", jsonl.display())
    );
    let text = std::fs::read_to_string(&jsonl).expect("read");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object a line"))
        .collect();
    assert_eq!(lines, all);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&jsonl)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "an export is its owner's only: {mode:o}");

    let csv_path = out.join("log.csv");
    ok(&kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "csv",
            "--out",
            csv_path.to_str().expect("utf-8"),
        ],
    ));
    let mut reader = csv::Reader::from_path(&csv_path).expect("csv");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        CSV_HEADER
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 12);
    let query_csv = ok(&kuzet(data, &["log", "query", "--format", "csv"]));
    let mut expected: Vec<csv::StringRecord> = csv::Reader::from_reader(query_csv.as_bytes())
        .records()
        .map(|r| r.expect("row"))
        .collect();
    expected.reverse();
    assert_eq!(rows, expected);

    // The same filters as query.
    let mine = out.join("a.jsonl");
    let a = subject(1).expose().to_owned();
    let done = ok(&kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--iin",
            &a,
            "--out",
            mine.to_str().expect("utf-8"),
        ],
    ));
    assert!(done.starts_with("exported 5 entries"), "{done}");
    let text = std::fs::read_to_string(&mine).expect("read");
    assert!(!text.contains(&a), "no IIN in an export");
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 10]);

    // `--out -` streams to stdout.
    let piped = kuzet(
        data,
        &[
            "log", "export", "--format", "jsonl", "--kind", "denied", "--out", "-",
        ],
    );
    assert_eq!(ok(&piped).lines().count(), 1);
    assert!(
        stderr(&piped).contains("exported 1 entries"),
        "{}",
        stderr(&piped)
    );
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn export_refuses_what_it_cannot_write_and_never_leaves_a_partial_file() {
    let log = synthetic_log();
    let data = &log.data;
    let base = log._dir.path().join("out");
    std::fs::create_dir(&base).expect("mkdir");

    // A folder that does not exist.
    let missing = base.join("no-such-folder").join("log.jsonl");
    let o = kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--out",
            missing.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no-such-folder"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No such file or directory"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains(".partial"), "{}", stderr(&o));
    assert!(listing(&base).is_empty());

    // An existing file is kept unless --force.
    let file = base.join("log.jsonl");
    std::fs::write(&file, "keep me\n").expect("write");
    let o = kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--out",
            file.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me\n");
    ok(&kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--out",
            file.to_str().expect("utf-8"),
            "--force",
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(&file)
            .expect("read")
            .lines()
            .count(),
        12
    );
    assert_eq!(listing(&base), set_of(&["log.jsonl"]));

    // Never anything but a regular file, not even with --force: not a symlink (nor what it
    // points to), not a folder.
    let link = base.join("link.jsonl");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    let folder = base.join("folder.jsonl");
    std::fs::create_dir(&folder).expect("mkdir");
    for target in [&link, &folder] {
        let o = kuzet(
            data,
            &[
                "log",
                "export",
                "--format",
                "jsonl",
                "--out",
                target.to_str().expect("utf-8"),
                "--force",
            ],
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&file)
            .expect("read")
            .lines()
            .count(),
        12
    );
    std::fs::remove_file(&link).expect("rm");
    std::fs::remove_dir(&folder).expect("rm");

    // A log that fails half-way (a row that cannot be read): no file, no leftover.
    let conn = rusqlite::Connection::open(data.join("transfer-log.sqlite")).expect("sqlite");
    conn.execute_batch(
        "DROP TRIGGER entries_no_update; UPDATE entries SET kind = 'sideways' WHERE seq = 7;",
    )
    .expect("tamper");
    drop(conn);
    let broken = base.join("broken.csv");
    let o = kuzet(
        data,
        &[
            "log",
            "export",
            "--format",
            "csv",
            "--out",
            broken.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("seq 7"), "{}", stderr(&o));
    assert_eq!(listing(&base), set_of(&["log.jsonl"]), "no partial file");
}

fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// What the data directory holds, apart from SQLite's own companions of a database (`-wal`,
/// `-shm`, which even a read-only reader of a WAL database may have to create).
fn kuzet_files(dir: &Path) -> BTreeSet<String> {
    listing(dir)
        .into_iter()
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect()
}

#[test]
fn read_only_commands_create_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nowhere");
    let iin = subject(1).expose().to_owned();
    for args in [
        vec!["log", "query"],
        vec!["log", "query", "--iin", &iin],
        vec!["log", "export", "--format", "csv", "--out", "-"],
        vec!["log", "subject-report", "--iin", &iin],
        vec!["log", "verify"],
    ] {
        let o = kuzet(&missing, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(!stderr(&o).is_empty(), "{args:?}: a clear error");
        if args[1] != "verify" {
            assert!(stderr(&o).contains("no data directory"), "{}", stderr(&o));
        }
        assert!(!stderr(&o).contains(&iin));
        assert!(!missing.exists(), "{args:?} created the data dir");
    }

    // A data directory with a log and no master key: a subject cannot be found, and no key
    // is made up.
    let log = synthetic_log();
    std::fs::remove_file(log.data.join("master.key")).expect("rm key");
    let before = kuzet_files(&log.data);
    let o = kuzet(&log.data, &["log", "query", "--iin", &iin]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("master key"), "{}", stderr(&o));
    let o = kuzet(&log.data, &["log", "subject-report", "--iin", &iin]);
    assert_eq!(o.status.code(), Some(1));
    ok(&kuzet(&log.data, &["log", "query"]));
    ok(&kuzet(
        &log.data,
        &["log", "export", "--format", "jsonl", "--out", "-"],
    ));
    assert_eq!(
        kuzet_files(&log.data),
        before,
        "no registry, key or store created"
    );
}

// ---------------------------------------------------------------------------------------------
// The subject report, over what the gateway really logged.

fn iin_of(contract: &Value) -> Iin {
    Iin::parse(contract["borrower"]["iin"].as_str().expect("iin")).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_report_lists_exactly_that_subjects_transfers() {
    use kuzet::reporting::{RunOptions, RunStatus, Trigger};
    let app = common::TestApp::spawn_with(|c| {
        c.reporting.batch_size = 10;
        c.reporting.poll_initial_ms = 1;
        c.reporting.poll_max_ms = 5;
    })
    .await;
    let contracts: Vec<Value> = (1..=3)
        .map(kuzet_mocks::contracts_source::synthetic_contract)
        .collect();
    let a = iin_of(&contracts[0]);
    let b = iin_of(&contracts[1]);
    let c = iin_of(&contracts[2]);
    assert!(a != b && b != c && a != c);

    // A: a consent, a credit report, an income request its consent does not cover (refused).
    let consent_a = app.consent(a.expose()).await;
    let report_a = app.credit_report(a.expose(), Some(&consent_a)).await;
    assert_eq!(report_a.status, 200, "{}", report_a.body);
    let refused = app
        .post(
            "/v1/exchange/gcvp/income",
            Some(app.token(Role::Underwriting)),
            &serde_json::json!({"purpose": "contract_performance", "reference": "APP-9",
                "data": {"subject": {"iin": a.expose()}}}),
        )
        .await;
    assert_eq!(refused.code(), "consent_missing", "{}", refused.body);
    // B: a consent and a credit report of their own.
    let consent_b = app.consent(b.expose()).await;
    let report_b = app.credit_report(b.expose(), Some(&consent_b)).await;
    assert_eq!(report_b.status, 200);
    app.consent(c.expose()).await;
    // One reporting batch carrying A's, B's and C's contracts.
    let source = app.dir.path().join("loans.jsonl");
    let text: Vec<String> = contracts.iter().map(|c| c.to_string()).collect();
    std::fs::write(&source, text.join("\n") + "\n").expect("source");
    let run = app
        .app
        .reporter
        .run(
            &RunOptions {
                source: source.clone(),
                dry_run: false,
                trigger: Trigger::Cli,
                crash_at: None,
            },
            &|_| {},
        )
        .await
        .expect("run");
    assert_eq!(run.status, RunStatus::Ok, "{run:?}");
    let batch_transfer = run.batches[0].transfer_id.expect("sent");

    // Beside the running gateway.
    let data = app.dir.path();
    let json = kuzet(
        data,
        &[
            "log",
            "subject-report",
            "--iin",
            a.expose(),
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&ok(&json)).expect("json");
    assert_eq!(report["subject"], a.masked());
    let transfers = report["transfers"].as_array().expect("transfers");
    let kinds: Vec<&str> = transfers
        .iter()
        .map(|t| t["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["exchange", "refused", "reporting_upload"],
        "{report:#}"
    );
    assert_eq!(report["summary"]["transfers"], 3);

    let credit = &transfers[0];
    assert_eq!(credit["transfer_id"], report_a.body["transfer_id"]);
    assert_eq!(
        credit["recipient"]["description"],
        "First Credit Bureau LLP"
    );
    assert_eq!(credit["operation"]["key"], "credit-report");
    assert_eq!(credit["purpose"]["key"], "contract_performance");
    assert!(
        credit["purpose"]["description"]
            .as_str()
            .expect("description")
            .starts_with("Concluding and performing"),
        "{credit}"
    );
    assert_eq!(credit["legal_basis"], "consent");
    assert_eq!(credit["consent"]["id"], consent_a.as_str());
    assert_eq!(credit["consent"]["source"], "named_in_log");
    assert_eq!(credit["consent"]["valid_then"], true);
    assert_eq!(credit["consent"]["record"]["channel"], "app");
    assert_eq!(credit["consent"]["record"]["evidence"], "otp:000111");
    assert_eq!(
        credit["consent"]["record"]["given_at"]["utc"],
        "2026-01-01T10:00:00Z"
    );
    assert_eq!(
        credit["consent"]["record"]["given_at"]["almaty"],
        "2026-01-01T15:00:00+05:00"
    );
    assert_eq!(credit["sent"][0]["path"], "subject.iin");
    assert!(
        credit["sent"][0]["description"]
            .as_str()
            .expect("d")
            .contains("identification number")
    );
    assert!(!credit["received"].as_array().expect("received").is_empty());
    assert!(
        credit["received"]
            .as_array()
            .expect("r")
            .iter()
            .all(|f| f["path"].as_str().expect("p").starts_with("credit_history"))
    );
    assert!(
        !credit["dropped"].as_array().expect("dropped").is_empty(),
        "the report's identity is dropped"
    );
    assert_eq!(credit["outcome"], "ok");
    assert_eq!(credit["log_entries"].as_array().expect("seqs").len(), 2);

    let refusal = &transfers[1];
    assert_eq!(refusal["recipient"]["key"], "gcvp");
    assert_eq!(refusal["outcome"], "denied:consent_missing");
    assert!(refusal["sent"].as_array().expect("sent").is_empty());
    assert!(
        refusal["outcome_text"]
            .as_str()
            .expect("text")
            .contains("Nothing left")
    );

    let upload = &transfers[2];
    assert_eq!(upload["transfer_id"], batch_transfer.to_string());
    assert_eq!(upload["operation"]["key"], "contract-upload");
    let codes: Vec<&str> = upload["contracts"]
        .as_array()
        .expect("contracts")
        .iter()
        .map(|c| c["contract_code"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        [contracts[0]["contract_code"].as_str().expect("code")]
    );
    assert_eq!(upload["contracts"][0]["outcome"], "accepted");
    assert_eq!(upload["consent"]["source"], "on_record_at_the_time");
    assert_eq!(upload["consent"]["id"], consent_a.as_str());
    assert!(
        upload["sent"]
            .as_array()
            .expect("sent")
            .iter()
            .any(|f| f["path"].as_str().expect("p").starts_with("loan."))
    );

    let consents = report["consents"].as_array().expect("consents");
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["status"], "active");

    // Nothing of B or C: not their transfers, not their contract codes, not their consent.
    let whole = stdout(&json);
    for other in [&contracts[1], &contracts[2]] {
        assert!(
            !whole.contains(other["contract_code"].as_str().expect("code")),
            "another borrower's contract"
        );
    }
    assert!(!whole.contains(report_b.body["transfer_id"].as_str().expect("id")));
    assert!(!whole.contains(&consent_b));
    // The IIN only masked, anywhere.
    assert!(!whole.contains(a.expose()));

    // The text for the person: headings and sentences, the same transfers.
    let text = kuzet(data, &["log", "subject-report", "--iin", a.expose()]);
    let t = ok(&text);
    assert!(!t.contains(a.expose()) && !stderr(&text).contains(a.expose()));
    assert!(t.contains(&format!("IIN {}", a.masked())), "{t}");
    assert!(
        t.contains("1. First Credit Bureau LLP: credit report"),
        "{t}"
    );
    assert!(
        t.contains("2. State Centre for Pension Payments: income (refused, nothing sent)"),
        "{t}"
    );
    assert!(
        t.contains("3. First Credit Bureau LLP: reporting of your loan contract"),
        "{t}"
    );
    assert!(t.contains("Legal basis: your consent"), "{t}");
    assert!(t.contains("in the mobile app"), "{t}");
    assert!(
        t.contains("1 January 2026, 10:00:00 UTC (15:00:00 Almaty time)"),
        "{t}"
    );
    assert!(t.contains("Sent: nothing."), "{t}");
    assert!(
        t.contains(contracts[0]["contract_code"].as_str().expect("code")),
        "{t}"
    );

    // B's report has B's credit report and upload, nothing of A's.
    let b_report: Value = serde_json::from_str(&ok(&kuzet(
        data,
        &[
            "log",
            "subject-report",
            "--iin",
            b.expose(),
            "--format",
            "json",
        ],
    )))
    .expect("json");
    let ids: Vec<&str> = b_report["transfers"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| t["transfer_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            report_b.body["transfer_id"].as_str().expect("id"),
            batch_transfer.to_string().as_str()
        ]
    );

    // A subject with nothing on record gets a report saying so.
    let nobody = subject(9);
    let empty = ok(&kuzet(
        data,
        &["log", "subject-report", "--iin", nobody.expose()],
    ));
    assert!(
        empty.contains("No transfer about you is recorded"),
        "{empty}"
    );
}

#[test]
fn subject_report_lists_erasures_and_refusals_from_the_log() {
    let log = synthetic_log();
    let a = subject(1);
    let report: Value = serde_json::from_str(&ok(&kuzet(
        &log.data,
        &[
            "log",
            "subject-report",
            "--iin",
            a.expose(),
            "--format",
            "json",
        ],
    )))
    .expect("json");
    let kinds: Vec<&str> = report["transfers"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| t["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["exchange", "exchange", "erasure"]);
    assert_eq!(report["transfers"][1]["outcome"], "error:timeout");
    assert_eq!(
        report["transfers"][1]["recipient"]["description"],
        "State Centre for Pension Payments"
    );
    assert!(
        report["notes"][0]
            .as_str()
            .expect("note")
            .contains("no consent ledger")
    );
    let b = subject(2);
    let text = ok(&kuzet(
        &log.data,
        &["log", "subject-report", "--iin", b.expose()],
    ));
    assert!(text.contains("(refused, nothing sent)"), "{text}");
    assert!(text.contains("1 refused"), "{text}");
}

/// A reader that goes away (`kuzet log query | head`) ends the output quietly, with the status
/// a shell shows for SIGPIPE (141), not a panic or an error message.
#[test]
fn a_closed_stdout_ends_the_output_quietly_with_the_sigpipe_status() {
    let log = synthetic_log();
    let iin = subject(1).expose().to_owned();
    for args in [
        vec!["log", "query", "--format", "json"],
        vec!["log", "query", "--format", "csv"],
        vec!["log", "query", "--format", "table"],
        vec!["log", "export", "--format", "jsonl", "--out", "-"],
        vec!["log", "export", "--format", "csv", "--out", "-"],
        vec!["log", "subject-report", "--iin", &iin],
        vec!["log", "subject-report", "--iin", &iin, "--format", "json"],
        vec!["log", "verify", "--json"],
        vec!["log", "verify"],
        vec!["config", "example"],
    ] {
        // The pipe's reading end is closed before the command starts: its first write fails.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--data")
            .arg(&log.data)
            .args(&args)
            .env_remove("KUZET_CONFIG")
            .env_remove("KUZET_DATA")
            .env_remove("KUZET_DATABASE_URL")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run kuzet");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}
