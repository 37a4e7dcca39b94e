//! Scheduled bureau reporting against the mock bureau: first load, reruns, updates, refused
//! lines, the bureau's rejections, a contract change taking effect, a bureau outage mid-run, and
//! crashes at every stage of a batch followed by a rerun (no contract lost, none sent twice).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::TestApp;
use kuzet::registry::{Consent, Registry};
use kuzet::reporting::{CrashPoint, Event, RunOptions, RunReport, RunStatus, Trigger};
use kuzet::transfer_log::Kind;
use kuzet_ident::Iin;
use kuzet_mocks::contracts_source::synthetic_contract;
use kuzet_mocks::fcb::Uploads;
use serde_json::Value;

fn iin_of(contract: &Value) -> Iin {
    Iin::parse(contract["borrower"]["iin"].as_str().expect("iin")).expect("valid")
}

/// Records a consent to the bureau for every borrower of `contracts`.
fn consent_all(registry: &dyn Registry, index: impl Fn(&Iin) -> [u8; 32], contracts: &[Value]) {
    let consents: Vec<Consent> = contracts
        .iter()
        .map(|c| {
            let iin = iin_of(c);
            common::bureau_consent(index(&iin), &iin)
        })
        .collect();
    registry.add_consents(&consents).expect("consents");
}

/// `contracts` as the source file `loans.jsonl`, every borrower with a consent.
fn consented_source(app: &TestApp, contracts: &[Value]) -> PathBuf {
    app.consent_borrowers(contracts);
    write_lines(app.dir.path(), "loans.jsonl", &lines(contracts))
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write source");
    path
}

fn lines(contracts: &[Value]) -> Vec<String> {
    contracts.iter().map(|c| c.to_string()).collect()
}

async fn spawn(batch_size: usize) -> TestApp {
    TestApp::spawn_with(|c| {
        c.reporting.batch_size = batch_size;
        c.reporting.poll_initial_ms = 1;
        c.reporting.poll_max_ms = 5;
    })
    .await
}

fn uploads(app: &TestApp) -> &Uploads {
    &app.app.mocks.as_ref().expect("mocks").uploads
}

/// Every contract the mock bureau received, counted.
fn received(uploads: &Uploads) -> HashMap<String, Vec<u32>> {
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    for b in uploads.batches() {
        for (code, op) in b.contracts {
            out.entry(code).or_default().push(op);
        }
    }
    out
}

async fn try_run(app: &TestApp, source: &Path) -> Result<RunReport, kuzet::reporting::ReportError> {
    app.app
        .reporter
        .run(
            &RunOptions {
                source: source.to_owned(),
                dry_run: false,
                trigger: Trigger::Cli,
                crash_at: None,
            },
            &|_| {},
        )
        .await
}

fn no_run_recorded(app: &TestApp) -> bool {
    app.app
        .reporter
        .store()
        .recent_runs(10)
        .expect("runs")
        .is_empty()
}

async fn run(app: &TestApp, source: &Path) -> RunReport {
    try_run(app, source).await.expect("the run starts")
}

#[tokio::test]
async fn first_load_then_nothing_then_only_the_changed_contracts_as_updates() {
    let app = spawn(10).await;
    let contracts: Vec<Value> = (1..=25).map(synthetic_contract).collect();
    let source = consented_source(&app, &contracts);

    let first = run(&app, &source).await;
    assert_eq!(first.status, RunStatus::Ok, "{first:?}");
    assert_eq!(
        (first.counts.read, first.counts.sent, first.counts.accepted),
        (25, 25, 25)
    );
    assert_eq!(first.batches.len(), 3, "10 + 10 + 5");
    let got = received(uploads(&app));
    assert_eq!(got.len(), 25);
    assert!(got.values().all(|ops| ops == &[1]), "first loads: {got:?}");

    // Each batch is a transfer: an OUT entry with the contract codes and field names, an IN
    // entry with the bureau's batch id and status.
    let entries = app.all_entries().await;
    let outs: Vec<_> = entries
        .iter()
        .filter(|e| e.operation == "contract-upload" && e.kind == Kind::Out)
        .collect();
    let ins: Vec<_> = entries
        .iter()
        .filter(|e| e.operation == "contract-upload" && e.kind == Kind::In)
        .collect();
    assert_eq!((outs.len(), ins.len()), (3, 3));
    assert!(outs[0].fields.iter().any(|f| f == "loan.borrower.iin"));
    assert_eq!(
        outs[0]
            .upstream
            .iter()
            .filter(|(k, _)| k == "contract_code")
            .count(),
        10
    );
    assert_eq!(outs[0].transfer_id, ins[0].transfer_id);
    assert!(ins[0].upstream.iter().any(|(k, _)| k == "bureau_batch_id"));
    assert!(ins[0].fields.iter().any(|f| f == "upload_batch.id"));
    assert!(
        outs.iter().all(|e| e.body.is_none()),
        "metadata logging only"
    );

    // Nothing changed: nothing sent.
    let again = run(&app, &source).await;
    assert_eq!(again.status, RunStatus::Ok);
    assert_eq!((again.counts.unchanged, again.counts.sent), (25, 0));
    assert_eq!(uploads(&app).batches().len(), 3);

    // Ten contracts changed: ten updates, nothing else.
    let mut changed = contracts.clone();
    for c in changed.iter_mut().take(20).skip(10) {
        c["accounting_date"] = "2026-11-30".into();
    }
    let source = write_lines(app.dir.path(), "loans-2.jsonl", &lines(&changed));
    let third = run(&app, &source).await;
    assert_eq!(third.status, RunStatus::Ok, "{third:?}");
    assert_eq!(
        (
            third.counts.unchanged,
            third.counts.sent,
            third.counts.accepted
        ),
        (15, 10, 10)
    );
    let got = received(uploads(&app));
    for (i, c) in changed.iter().enumerate() {
        let code = c["contract_code"].as_str().expect("code");
        let expected: &[u32] = if (10..20).contains(&i) { &[1, 2] } else { &[1] };
        assert_eq!(got[code], expected, "{code}");
    }
}

#[tokio::test]
async fn refused_lines_are_named_with_line_and_reason_and_never_stop_the_others() {
    let app = spawn(100).await;
    let good: Vec<Value> = (1..=4).map(synthetic_contract).collect();
    app.consent_borrowers(&good);
    let mut bad_iin = synthetic_contract(5);
    bad_iin["borrower"]["iin"] = "870525301013".into();
    let mut unknown = synthetic_contract(6);
    unknown["borrower"]["email"] = "someone@example.kz".into();
    let mut not_repaid = synthetic_contract(10);
    not_repaid["repaid_date"] = Value::Null;
    let mut negative = synthetic_contract(7);
    negative["total_amount"] = (-5).into();
    let mut currency = synthetic_contract(8);
    currency["currency"] = "XAU".into();
    let no_consent = synthetic_contract(9);
    let mut duplicate = synthetic_contract(1);
    duplicate["agreement_number"] = "other".into();
    let mut control = synthetic_contract(11);
    control["borrower"]["last_name"] = "Ахметов\u{1b}[2J".into();
    let mut control_middle = synthetic_contract(12);
    control_middle["borrower"]["middle_name"] = "Сери\nкович".into();
    let mut source: Vec<String> = lines(&good);
    source.extend([
        bad_iin.to_string(),               // line 5
        unknown.to_string(),               // line 6
        not_repaid.to_string(),            // line 7
        negative.to_string(),              // line 8
        currency.to_string(),              // line 9
        "{\"contract_code\": ".to_owned(), // line 10
        no_consent.to_string(),            // line 11
        duplicate.to_string(),             // line 12
        "[1, 2]".to_owned(),               // line 13
        control.to_string(),               // line 14
        control_middle.to_string(),        // line 15
    ]);
    let path = write_lines(app.dir.path(), "loans.jsonl", &source);
    let report = run(&app, &path).await;
    assert_eq!(report.status, RunStatus::Partial);
    assert_eq!(report.status.exit_code(), 2);
    assert_eq!(
        (
            report.counts.read,
            report.counts.invalid,
            report.counts.sent
        ),
        (15, 11, 4)
    );
    let refused: Vec<(u64, &str)> = report.refusals.iter().map(|r| (r.line, r.code)).collect();
    assert_eq!(
        refused,
        [
            (5, "invalid"),
            (6, "unknown_field"),
            (7, "invalid"),
            (8, "invalid"),
            (9, "invalid"),
            (10, "malformed"),
            (11, "consent_missing"),
            (12, "duplicate"),
            (13, "invalid"),
            (14, "invalid"),
            (15, "invalid"),
        ]
    );
    let reason = |line: u64| {
        report
            .refusals
            .iter()
            .find(|r| r.line == line)
            .map(|r| r.reason.clone())
            .unwrap_or_default()
    };
    assert!(reason(5).contains("borrower.iin"), "{}", reason(5));
    assert!(reason(6).contains("borrower.email"), "{}", reason(6));
    assert!(reason(7).contains("repaid_date"), "{}", reason(7));
    assert!(
        reason(8).contains("total_amount is negative"),
        "{}",
        reason(8)
    );
    assert!(reason(9).contains("currency"), "{}", reason(9));
    assert!(reason(12).contains("line 1"), "{}", reason(12));
    assert_eq!(
        reason(14),
        "borrower.last_name contains a control character"
    );
    assert_eq!(
        reason(15),
        "borrower.middle_name contains a control character"
    );
    // No value from the file in any reason.
    let longest_digit_run = |s: &str| {
        s.split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0)
    };
    for r in &report.refusals {
        assert!(longest_digit_run(&r.reason) < 6, "{r}");
        assert!(!r.reason.contains("someone@"), "{r}");
    }
    assert_eq!(received(uploads(&app)).len(), 4);
}

#[tokio::test]
async fn dates_no_contract_can_have_and_lines_of_megabytes_are_refused_and_a_byte_order_mark_opens_the_file()
 {
    let app = spawn(100).await;
    let contracts: Vec<Value> = (1..=8).map(synthetic_contract).collect();
    app.consent_borrowers(&contracts);
    let mut c = contracts.clone();
    // The state on a date still to come.
    c[1]["accounting_date"] = "2100-01-01".into();
    // Signed, or the ID card issued, before the borrower was born; a card issued tomorrow.
    c[2]["start_date"] = "1900-01-02".into();
    c[3]["borrower"]["id_document"]["issued"] = "1900-01-02".into();
    c[4]["borrower"]["id_document"]["issued"] = "2100-01-01".into();
    c[5]["borrower"]["iin_registration_date"] = "1900-01-02".into();
    // A fraction of a tiyn: said in words, not as a Rust type.
    c[6]["total_amount"] = serde_json::json!(150000000.5);
    let mut source = lines(&c);
    // A line of megabytes (a file whose line ends were lost) is skipped, never held whole.
    source.insert(7, "x".repeat(3 << 20));
    let mut text = source.join("\r\n");
    // A Windows tool's file: a byte order mark first, CRLF line ends.
    text.insert(0, '\u{feff}');
    let path = app.dir.path().join("windows.jsonl");
    std::fs::write(&path, text).expect("write");
    let report = run(&app, &path).await;
    let refused: Vec<(u64, &str, &str)> = report
        .refusals
        .iter()
        // serde's position within the line aside.
        .map(|r| {
            (
                r.line,
                r.code,
                r.reason.split(" at line").next().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (
                2,
                "invalid",
                "accounting_date is in the future (after today in Asia/Almaty)"
            ),
            (3, "invalid", "start_date is before borrower.birth_date"),
            (
                4,
                "invalid",
                "borrower.id_document was issued before borrower.birth_date"
            ),
            (5, "invalid", "borrower.id_document.issued is in the future"),
            (
                6,
                "invalid",
                "borrower.iin_registration_date is before borrower.birth_date"
            ),
            (
                7,
                "invalid",
                "total_amount: invalid type, expected a whole number"
            ),
            (8, "malformed", kuzet::jsonl::LINE_TOO_LONG),
        ]
    );
    // Lines 1 (behind the mark) and 9 went to the bureau.
    let sent = received(uploads(&app));
    assert_eq!(sent.len(), 2, "{sent:?}");
    for n in [0, 7] {
        let code = contracts[n]["contract_code"].as_str().expect("code");
        assert!(sent.contains_key(code), "{code} not sent: {sent:?}");
    }
}

#[tokio::test]
async fn the_bureaus_rejections_are_reported_and_sent_again_next_time() {
    let app = spawn(10).await;
    let mut contracts: Vec<Value> = (1..=3).map(synthetic_contract).collect();
    contracts[1]["contract_code"] = kuzet_mocks::fcb::datapump::CONTRACT_CODE_REJECTED.into();
    let path = consented_source(&app, &contracts);
    let report = run(&app, &path).await;
    assert_eq!(report.status, RunStatus::Partial);
    assert_eq!((report.counts.accepted, report.counts.rejected), (2, 1));
    assert_eq!(report.rejections.len(), 1);
    assert_eq!(
        report.rejections[0].0,
        kuzet_mocks::fcb::datapump::CONTRACT_CODE_REJECTED
    );
    let entries = app.all_entries().await;
    let last = entries.last().expect("entries");
    assert_eq!(last.kind, Kind::In);
    assert!(last.upstream.iter().any(|(k, v)| k == "rejected_contract"
        && v == kuzet_mocks::fcb::datapump::CONTRACT_CODE_REJECTED));
    // Not accepted, so not remembered: the next run sends it again (and only it), as a first
    // load still.
    let again = run(&app, &path).await;
    assert_eq!((again.counts.unchanged, again.counts.sent), (2, 1));
    assert_eq!(
        received(uploads(&app))[kuzet_mocks::fcb::datapump::CONTRACT_CODE_REJECTED],
        [1, 1]
    );
}

#[tokio::test]
async fn a_bureau_outage_mid_run_stops_it_and_the_rerun_sends_the_rest_once() {
    let app = spawn(10).await;
    let contracts: Vec<Value> = (1..=30).map(synthetic_contract).collect();
    let path = consented_source(&app, &contracts);
    let mock = app.mock();
    let watch = |e: Event<'_>| {
        // Once the first batch is done, the bureau goes down for the next upload.
        if let Event::Batch(b) = e
            && b.accepted == 10
        {
            mock.fail_next(1, kuzet_mocks::Fault::HttpStatus(503));
        }
    };
    let options = RunOptions {
        source: path.clone(),
        dry_run: false,
        trigger: Trigger::Cli,
        crash_at: None,
    };
    let report = app.app.reporter.run(&options, &watch).await.expect("run");
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    assert_eq!(report.status.exit_code(), 1);
    assert_eq!(report.counts.accepted, 10);
    assert!(
        report
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("upload failed"),
        "{report:?}"
    );
    assert_eq!(
        uploads(&app).batches().len(),
        1,
        "the second upload was refused"
    );

    let rerun = run(&app, &path).await;
    assert_eq!(rerun.status, RunStatus::Ok, "{rerun:?}");
    assert_eq!((rerun.counts.unchanged, rerun.counts.sent), (10, 20));
    let got = received(uploads(&app));
    assert_eq!(got.len(), 30);
    assert!(got.values().all(|ops| ops == &[1]), "{got:?}");
}

#[tokio::test]
async fn a_contract_change_takes_effect_without_code_changes() {
    // The same contracts, but the upload may no longer carry the borrower's phone.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    for f in std::fs::read_dir(&root).expect("contracts") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, dir.path().join(f.file_name().expect("name"))).expect("copy");
    }
    let fcb = std::fs::read_to_string(dir.path().join("fcb.toml")).expect("fcb.toml");
    let narrowed = fcb.replacen(
        "  \"loan\",",
        "  \"loan.contract_code\", \"loan.agreement_number\", \"loan.funding_type\",\n  \
         \"loan.credit_purpose\", \"loan.credit_object\", \"loan.phase\", \"loan.status\",\n  \
         \"loan.start_date\", \"loan.end_date\", \"loan.real_payment_date\",\n  \
         \"loan.classification\", \"loan.total_amount\", \"loan.instalment_amount\",\n  \
         \"loan.instalment_count\", \"loan.payment_method\", \"loan.payment_period\",\n  \
         \"loan.balance\", \"loan.collaterals\", \"loan.borrower.iin\",\n  \
         \"loan.borrower.last_name\", \"loan.borrower.first_name\", \"loan.borrower.middle_name\",\n  \
         \"loan.borrower.gender\", \"loan.borrower.birth_date\", \"loan.borrower.residency\",\n  \
         \"loan.borrower.citizenship\", \"loan.borrower.classification\",\n  \
         \"loan.borrower.id_card\", \"loan.borrower.addresses\",",
        1,
    );
    assert_ne!(fcb, narrowed, "the send list was found");
    std::fs::write(dir.path().join("fcb.toml"), narrowed).expect("write");
    let contracts_dir = dir.path().to_owned();
    let app = TestApp::spawn_with(move |c| {
        c.contracts.dir = contracts_dir;
        c.reporting.poll_initial_ms = 1;
        c.reporting.poll_max_ms = 5;
    })
    .await;
    let mut contracts: Vec<Value> = (1..=2).map(synthetic_contract).collect();
    contracts[1]["borrower"]
        .as_object_mut()
        .expect("borrower")
        .remove("mobile");
    let path = consented_source(&app, &contracts);
    let report = run(&app, &path).await;
    assert_eq!(report.counts.sent, 1);
    assert_eq!(report.refusals.len(), 1);
    assert_eq!(report.refusals[0].code, "field_not_allowed");
    assert!(
        report.refusals[0].reason.contains("loan.borrower.phone"),
        "{}",
        report.refusals[0].reason
    );
}

#[tokio::test]
async fn a_dry_run_sends_records_and_logs_nothing() {
    let app = spawn(10).await;
    let contracts: Vec<Value> = (1..=15).map(synthetic_contract).collect();
    let path = consented_source(&app, &contracts);
    let report = app
        .app
        .reporter
        .run(
            &RunOptions {
                source: path,
                dry_run: true,
                trigger: Trigger::Cli,
                crash_at: None,
            },
            &|_| {},
        )
        .await
        .expect("run");
    assert_eq!(report.status, RunStatus::Ok);
    assert_eq!(report.counts.sent, 15);
    assert_eq!(report.batches.len(), 2);
    assert!(report.batches.iter().all(|b| b.zipped_bytes > 0));
    assert!(uploads(&app).batches().is_empty());
    assert!(app.all_entries().await.is_empty());
    assert!(no_run_recorded(&app));
}

#[tokio::test]
async fn a_source_that_is_missing_a_folder_or_not_utf8_text_is_refused_before_a_run_starts() {
    let app = spawn(10).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut contract = synthetic_contract(1);
    contract["borrower"]["last_name"] = "Ахметов".into();
    let good = lines(&[contract]).join("\n");
    // The export compressed, and the export saved in Windows-1251 (the Cyrillic names).
    let gz = dir.path().join("loans.jsonl.gz");
    let mut compressed = vec![0x1f, 0x8b, 8, 0];
    compressed.extend_from_slice(good.as_bytes());
    std::fs::write(&gz, compressed).expect("write");
    let cp1251 = dir.path().join("loans-1251.jsonl");
    // Each Cyrillic letter one byte of 0xC0 to 0xFF, as in Windows-1251.
    let text: Vec<u8> = good
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { 0xE0 })
        .collect();
    std::fs::write(&cp1251, text).expect("write");
    for (source, reason) in [
        (dir.path().join("no-such.jsonl"), "No such file"),
        (dir.path().to_owned(), "a folder, not a file"),
        (gz, "gzip-compressed"),
        (cp1251, "not UTF-8 text"),
    ] {
        let err = try_run(&app, &source).await.expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains(&source.display().to_string()) && message.contains(reason),
            "{message}"
        );
    }
    // No run was recorded, nothing logged, nothing sent.
    assert!(no_run_recorded(&app));
    assert!(app.all_entries().await.is_empty());
    assert!(uploads(&app).batches().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Crashes: the real binary, killed at each stage of its first batch, then run again.

fn kuzet(data: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--data")
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run kuzet")
}

// The mock serves on the runtime's other worker while the test waits for the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_stage_then_a_rerun_loses_and_repeats_nothing() {
    let mock = kuzet_mocks::server::spawn(kuzet_mocks::server::MockServerOptions::default())
        .await
        .expect("mock");
    let base = mock.running.url("");
    for point in [
        CrashPoint::AfterBuild,
        CrashPoint::AfterUpload,
        CrashPoint::WhilePolling,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let config = dir.path().join("kuzet.toml");
        let text = kuzet::config::EXAMPLE
            .replace("http://127.0.0.1:9101", base.trim_end_matches('/'))
            .replace("batch_size = 1000", "batch_size = 10")
            .replace("poll_initial_ms = 500", "poll_initial_ms = 1")
            .replace("poll_max_ms = 30000", "poll_max_ms = 5");
        std::fs::write(&config, text).expect("config");
        // Consents, under the data dir's own keys.
        kuzet::app::ensure_data_dir(&data).expect("data dir");
        let keys = kuzet::transfer_log::Keys::open(&data).expect("keys");
        let registry = kuzet::registry::SqliteRegistry::open(&data).expect("registry");
        let first = 1 + 100 * point as u64;
        let contracts: Vec<Value> = (first..first + 25).map(synthetic_contract).collect();
        consent_all(&registry, |i| keys.subject_index(i), &contracts);
        drop(registry);
        let source = write_lines(dir.path(), "loans.jsonl", &lines(&contracts));
        let source = source.to_str().expect("path");
        let before = mock.uploads.batches().len();

        let crash = match point {
            CrashPoint::AfterBuild => "after-build",
            CrashPoint::AfterUpload => "after-upload",
            CrashPoint::WhilePolling => "while-polling",
        };
        let out = kuzet(
            &data,
            &config,
            &["report", "run", "--source", source, "--crash-at", crash],
        );
        assert!(!out.status.success(), "{point:?}: it died");
        let out = kuzet(&data, &config, &["report", "run", "--source", source]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{point:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Every contract reached the bureau exactly once.
        let mut seen: HashMap<String, u32> = HashMap::new();
        for b in &mock.uploads.batches()[before..] {
            for (code, _) in &b.contracts {
                *seen.entry(code.clone()).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), 25, "{point:?}: none lost");
        assert!(
            seen.values().all(|n| *n == 1),
            "{point:?}: none twice: {seen:?}"
        );
        // A third run has nothing to send; the chain verifies.
        let out = kuzet(&data, &config, &["report", "run", "--source", source]);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("unchanged 25"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = kuzet(&data, &config, &["log", "verify"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = kuzet(&data, &config, &["report", "status"]);
        assert!(out.status.success());
        let status = String::from_utf8_lossy(&out.stdout);
        assert!(
            status.contains("failed"),
            "the crashed run is on record: {status}"
        );
        assert!(
            status.contains("contracts the bureau has accepted: 25"),
            "{status}"
        );
    }
}

#[tokio::test]
async fn runs_never_overlap_in_a_process_or_across_processes() {
    let app = spawn(10).await;
    let contracts: Vec<Value> = (1..=3).map(synthetic_contract).collect();
    let path = consented_source(&app, &contracts);
    // Another process holds the lock (as a running `kuzet report run` does).
    let lock =
        std::fs::File::create(app.dir.path().join(kuzet::reporting::LOCK_FILE)).expect("lock file");
    lock.try_lock().expect("lock");
    let options = RunOptions {
        source: path.clone(),
        dry_run: false,
        trigger: Trigger::Schedule,
        crash_at: None,
    };
    let refused = app.app.reporter.run(&options, &|_| {}).await;
    assert!(
        matches!(refused, Err(kuzet::reporting::ReportError::AlreadyRunning)),
        "{refused:?}"
    );
    drop(lock);
    // In one process: the second of two concurrent runs is refused, the first goes through.
    let (a, b) = tokio::join!(
        app.app.reporter.run(&options, &|_| {}),
        app.app.reporter.run(&options, &|_| {})
    );
    let refused = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(kuzet::reporting::ReportError::AlreadyRunning)))
        .count();
    assert_eq!(refused, 1, "{a:?} {b:?}");
    assert_eq!(received(uploads(&app)).len(), 3);
}

#[tokio::test]
async fn a_batch_still_processing_is_left_to_the_next_run_which_polls_it_and_sends_nothing_again() {
    // Poll once per run: the mock's first answer is "processing", its second the final one.
    let app = TestApp::spawn_with(|c| {
        c.reporting.batch_size = 10;
        c.reporting.poll_initial_ms = 1;
        c.reporting.poll_max_ms = 5;
        c.reporting.poll_timeout_ms = 0;
    })
    .await;
    let contracts: Vec<Value> = (1..=5).map(synthetic_contract).collect();
    let path = consented_source(&app, &contracts);
    let first = run(&app, &path).await;
    assert_eq!(first.status, RunStatus::Failed, "{first:?}");
    assert!(
        first
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("still being processed"),
        "{first:?}"
    );
    assert_eq!((first.counts.sent, first.counts.accepted), (5, 0));
    let waiting = app
        .app
        .reporter
        .store()
        .unfinished_batches()
        .expect("batches");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].state, kuzet::reporting::BatchState::Uploaded);

    let second = run(&app, &path).await;
    assert_eq!(second.status, RunStatus::Ok, "{second:?}");
    assert!(second.batches[0].resumed);
    assert_eq!(second.counts.accepted, 5, "the resumed batch's outcome");
    assert_eq!((second.counts.sent, second.counts.unchanged), (0, 5));
    assert_eq!(uploads(&app).batches().len(), 1, "nothing sent again");
    assert!(
        app.app
            .reporter
            .store()
            .unfinished_batches()
            .expect("batches")
            .is_empty()
    );
}
