//! The fault matrix for the bureau's credit report (a read, `safe_to_retry`): for every kind of
//! failure, the caller's status and code, the number of attempts the mock saw (transient
//! failures retried up to the attempt limit, nothing else retried), and the IN entry that
//! records the failure. TLS failures are in `tls.rs`, the breaker in `fcb_faults.rs`.

mod common;

use common::TestApp;
use kuzet::transfer_log::Kind;
use kuzet_mocks::Fault;

struct Row {
    name: &'static str,
    fault: Fault,
    status: u16,
    code: &'static str,
    outcome: &'static str,
    attempts: u64,
}

const ATTEMPTS: u32 = 3;

fn matrix() -> Vec<Row> {
    let row = |name, fault, status, code, outcome, attempts| Row {
        name,
        fault,
        status,
        code,
        outcome,
        attempts,
    };
    let all = u64::from(ATTEMPTS);
    vec![
        row(
            "http 500 without a fault body",
            Fault::HttpStatus(500),
            502,
            "upstream_error",
            "error:http_status",
            1,
        ),
        row(
            "http 503",
            Fault::HttpStatus(503),
            502,
            "upstream_error",
            "error:http_status",
            all,
        ),
        row(
            "http 502",
            Fault::HttpStatus(502),
            502,
            "upstream_error",
            "error:http_status",
            all,
        ),
        row(
            "retryable SOAP fault (Server)",
            Fault::SoapFault,
            502,
            "upstream_error",
            "error:soap_fault",
            all,
        ),
        row(
            "retryable bureau code 1111",
            Fault::BureauError(1111),
            502,
            "upstream_error",
            "error:bureau_internal_error",
            all,
        ),
        row(
            "non-retryable bureau code 1106",
            Fault::BureauError(1106),
            502,
            "upstream_rejected",
            "error:bureau_error",
            1,
        ),
        row(
            "refused credentials 1104",
            Fault::BureauError(1104),
            502,
            "upstream_rejected",
            "error:unauthorized",
            1,
        ),
        row(
            "malformed XML",
            Fault::Malformed,
            502,
            "upstream_error",
            "error:malformed_response",
            1,
        ),
        row(
            "truncated XML",
            Fault::Truncated,
            502,
            "upstream_error",
            "error:malformed_response",
            1,
        ),
        row(
            "connection reset",
            Fault::CloseConnection,
            502,
            "upstream_error",
            "error:connection_failed",
            all,
        ),
    ]
}

#[tokio::test]
async fn every_fault_has_its_status_code_attempts_and_in_entry() {
    let app = TestApp::spawn_with(|c| {
        let r = &mut c.fcb.resilience;
        r.retry_max_attempts = ATTEMPTS;
        r.retry_initial_backoff_ms = 1;
        r.retry_max_backoff_ms = 2;
        // The matrix fails many calls in a row; the breaker is tested on its own.
        r.breaker_min_calls = 10_000;
        // Enough budget for every row's retries.
        r.retry_budget_min_per_second = 100;
    })
    .await;
    let iin = common::demo_iin();
    let consent = app.consent(&iin).await;
    for row in matrix() {
        app.mock().set_fault(Some(row.fault));
        let before = app.mock().calls();
        let a = app.credit_report(&iin, Some(&consent)).await;
        assert_eq!(
            (a.status, a.code()),
            (row.status, row.code),
            "{}: {}",
            row.name,
            a.body
        );
        assert_eq!(
            app.mock().calls() - before,
            row.attempts,
            "{}: attempts",
            row.name
        );
        let entries = app.all_entries().await;
        let last = entries.last().expect("entries");
        assert_eq!(last.kind, Kind::In, "{}", row.name);
        assert_eq!(last.outcome, row.outcome, "{}", row.name);
        let out = &entries[entries.len() - 2];
        assert_eq!(
            (out.kind, out.transfer_id),
            (Kind::Out, last.transfer_id),
            "{}",
            row.name
        );
    }
    app.mock().set_fault(None);
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(a.status, 200, "well again: {}", a.body);
}

#[tokio::test]
async fn latency_past_the_deadline_is_504_and_not_retried_past_it() {
    let app = TestApp::spawn_with(|c| {
        c.server.request_deadline_ms = 300;
        c.fcb.resilience.retry_initial_backoff_ms = 1;
    })
    .await;
    let iin = common::demo_iin();
    let consent = app.consent(&iin).await;
    app.mock().set_latency(std::time::Duration::from_secs(2));
    let before = app.mock().calls();
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(
        (a.status, a.code()),
        (504, "upstream_timeout"),
        "{}",
        a.body
    );
    assert_eq!(app.mock().calls() - before, 1, "no time left for a retry");
    let entries = app.all_entries().await;
    assert_eq!(entries.last().expect("entries").outcome, "error:timeout");
}

/// The same matrix for the two registries behind SHEP (the pension centre's income and the
/// traffic authority's vehicle lookup, both reads): a fault injected on the SHEP channel.
#[tokio::test]
async fn every_fault_of_the_shep_parties_has_its_status_code_attempts_and_in_entry() {
    let app = TestApp::spawn_with(|c| {
        for r in [&mut c.gcvp.resilience, &mut c.traffic.resilience] {
            r.retry_max_attempts = ATTEMPTS;
            r.retry_initial_backoff_ms = 1;
            r.retry_max_backoff_ms = 2;
            r.breaker_min_calls = 10_000;
            r.retry_budget_min_per_second = 100;
        }
    })
    .await;
    let iin = common::demo_iin();
    let mut consent = common::consent_body(&iin);
    consent["recipients"] = serde_json::json!(["gcvp"]);
    let a = app
        .post(
            "/v1/consents",
            Some(app.token(kuzet::contract::Role::Underwriting)),
            &consent,
        )
        .await;
    assert_eq!(a.status, 201);
    let all = u64::from(ATTEMPTS);
    let shared = [
        (
            "http 500",
            Fault::HttpStatus(500),
            502,
            "upstream_error",
            "error:http_status",
            1,
        ),
        (
            "http 503",
            Fault::HttpStatus(503),
            502,
            "upstream_error",
            "error:http_status",
            all,
        ),
        (
            "retryable SHEP fault SE001",
            Fault::SoapFault,
            502,
            "upstream_error",
            "error:shep_fault",
            all,
        ),
        (
            "malformed XML",
            Fault::Malformed,
            502,
            "upstream_error",
            "error:malformed_response",
            1,
        ),
        (
            "truncated XML",
            Fault::Truncated,
            502,
            "upstream_error",
            "error:malformed_response",
            1,
        ),
        (
            "connection reset",
            Fault::CloseConnection,
            502,
            "upstream_error",
            "error:connection_failed",
            all,
        ),
    ];
    let gcvp_only = [
        (
            "non-retryable registry code 3",
            Fault::BureauError(3),
            502,
            "upstream_rejected",
            "error:registry_refused",
            1,
        ),
        (
            "retryable registry code 9",
            Fault::BureauError(9),
            502,
            "upstream_error",
            "error:registry_internal_error",
            all,
        ),
    ];
    for (path, data, rows) in [
        (
            "/v1/exchange/gcvp/income",
            serde_json::json!({"subject": {"iin": iin}}),
            shared.iter().chain(gcvp_only.iter()).collect::<Vec<_>>(),
        ),
        (
            "/v1/exchange/traffic/vehicle",
            serde_json::json!({"subject": {"iin": iin}}),
            shared.iter().collect(),
        ),
    ] {
        for &&(name, fault, status, code, outcome, attempts) in &rows {
            app.shep().set_fault(Some(fault));
            let before = app.shep().calls();
            let a = app
                .post(
                    path,
                    Some(app.token(kuzet::contract::Role::Underwriting)),
                    &serde_json::json!({"purpose": "contract_performance", "data": data}),
                )
                .await;
            assert_eq!(
                (a.status, a.code()),
                (status, code),
                "{path} {name}: {}",
                a.body
            );
            assert_eq!(
                app.shep().calls() - before,
                attempts,
                "{path} {name}: attempts"
            );
            let entries = app.all_entries().await;
            let last = entries.last().expect("entries");
            assert_eq!(
                (last.kind, last.outcome.as_str()),
                (Kind::In, outcome),
                "{path} {name}"
            );
        }
        app.shep().set_fault(None);
    }
}

#[tokio::test]
async fn a_shep_party_past_the_deadline_then_its_breaker_opens_and_recovers() {
    let app = TestApp::spawn_with(|c| {
        c.server.request_deadline_ms = 300;
        let r = &mut c.traffic.resilience;
        r.retry_max_attempts = 1;
        r.breaker_min_calls = 3;
        r.breaker_open_ms = 300;
    })
    .await;
    let iin = common::demo_iin();
    let vehicle = || async {
        app.post(
            "/v1/exchange/traffic/vehicle",
            Some(app.token(kuzet::contract::Role::Underwriting)),
            &serde_json::json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}),
        )
        .await
    };
    app.shep().set_latency(std::time::Duration::from_secs(2));
    for _ in 0..3 {
        let a = vehicle().await;
        assert_eq!(
            (a.status, a.code()),
            (504, "upstream_timeout"),
            "{}",
            a.body
        );
    }
    // Three timeouts out of three calls: open; refused at once, SHEP not called.
    let before = app.shep().calls();
    let a = vehicle().await;
    assert_eq!(
        (a.status, a.code()),
        (503, "upstream_unavailable"),
        "{}",
        a.body
    );
    assert_eq!(app.shep().calls(), before);
    let entries = app.all_entries().await;
    assert_eq!(
        entries.last().expect("entries").outcome,
        "error:breaker_open"
    );
    // The authority is quick again; after the open period a probe closes the breaker. Waiting
    // out the period is the behaviour under test (the state machine's timing is unit-tested).
    app.shep().set_latency(std::time::Duration::ZERO);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(vehicle().await.status, 200);
    assert_eq!(vehicle().await.status, 200);
}
