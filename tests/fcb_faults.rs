//! A bureau that refuses, fails, answers garbage or cannot be reached: a stable error code for
//! the caller, an IN entry recording the failure, never a panic.

mod common;

use common::{TestApp, test_config};
use kuzet::transfer_log::Kind;
use kuzet_mocks::Fault;
use kuzet_mocks::fcb::{IIN_BUREAU_INTERNAL_ERROR, IIN_NOT_FOUND, IIN_SEVERAL_SUBJECTS};

/// Requests a report for `iin` and checks the failure: status, code, and an OUT + IN pair in
/// the log whose IN outcome is `error:<adapter code>`. Returns the IN outcome.
async fn expect_failure(app: &TestApp, iin: &str, status: u16, code: &str) -> String {
    let consent = app.consent(iin).await;
    let a = app.credit_report(iin, Some(&consent)).await;
    assert_eq!((a.status, a.code()), (status, code), "{}", a.body);
    assert!(
        !a.body.to_string().contains(iin),
        "no IIN in error messages"
    );
    // The failed transfer is on the record: OUT, then an IN naming the failure.
    let entries = app.all_entries().await;
    let last_in = entries.last().expect("entries");
    assert_eq!(last_in.kind, Kind::In);
    assert!(last_in.outcome.starts_with("error:"), "{}", last_in.outcome);
    assert!(last_in.fields.is_empty());
    let out = &entries[entries.len() - 2];
    assert_eq!(out.kind, Kind::Out);
    assert_eq!(out.transfer_id, last_in.transfer_id);
    last_in.outcome.clone()
}

#[tokio::test]
async fn reserved_subjects_map_to_stable_codes() {
    let app = TestApp::spawn().await;
    let outcome = expect_failure(&app, IIN_NOT_FOUND, 404, "subject_not_found").await;
    assert_eq!(outcome, "error:subject_not_found");
    let outcome = expect_failure(&app, IIN_SEVERAL_SUBJECTS, 502, "upstream_rejected").await;
    assert_eq!(outcome, "error:several_subjects");
    let outcome = expect_failure(&app, IIN_BUREAU_INTERNAL_ERROR, 502, "upstream_error").await;
    assert_eq!(outcome, "error:bureau_internal_error");
}

#[tokio::test]
async fn faults_of_the_bureau_are_502_with_an_in_entry() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    for (fault, status, code) in [
        (Fault::SoapFault, 502, "upstream_error"),
        (Fault::BureauError(1106), 502, "upstream_rejected"),
        (Fault::BureauError(1104), 502, "upstream_rejected"),
        (Fault::Malformed, 502, "upstream_error"),
        (Fault::Truncated, 502, "upstream_error"),
        (Fault::HttpStatus(503), 502, "upstream_error"),
        (Fault::CloseConnection, 502, "upstream_error"),
    ] {
        app.mock().set_fault(Some(fault));
        let outcome = expect_failure(&app, &iin, status, code).await;
        eprintln!("{fault:?} -> {outcome}");
    }
    // Once the bureau is well again, so is the gateway.
    app.mock().set_fault(None);
    let a = app.credit_report(&iin, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn a_bureau_that_cannot_be_reached_is_503() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut config = test_config();
    config.fcb.report_url = format!("http://127.0.0.1:{port}/FCBServices/Service");
    let app = TestApp::spawn_config(config, false).await;
    let iin = common::demo_iin();
    let consent = app.consent(&iin).await;
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(
        (a.status, a.code()),
        (503, "upstream_unavailable"),
        "{}",
        a.body
    );
    let entries = app.all_entries().await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].kind, Kind::In);
    assert!(
        entries[1].outcome.starts_with("error:"),
        "{}",
        entries[1].outcome
    );
}

#[tokio::test]
async fn a_slow_bureau_is_504_within_the_deadline() {
    let app = TestApp::spawn_with(|c| c.server.request_deadline_ms = 200).await;
    app.mock().set_latency(std::time::Duration::from_secs(5));
    let iin = common::demo_iin();
    let started = std::time::Instant::now();
    let _ = expect_failure(&app, &iin, 504, "upstream_timeout").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}
