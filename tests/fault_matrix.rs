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
/// traffic authority's vehicle lookup, both reads; the user mark, a write): a fault injected
/// on that registry alone, with each registry's own return codes in its own payload shape.
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
    app.consent_to(&iin, &["gcvp"]).await;
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
    let traffic_only = [
        (
            "non-retryable authority code 2",
            Fault::BureauError(2),
            502,
            "upstream_rejected",
            "error:authority_refused",
            1,
        ),
        (
            "retryable authority code 9",
            Fault::BureauError(9),
            502,
            "upstream_error",
            "error:authority_internal_error",
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
    let registries = &app.app.mocks.as_ref().expect("mocks").registries;
    for (path, data, rows, knobs, other) in [
        (
            "/v1/exchange/gcvp/income",
            serde_json::json!({"subject": {"iin": iin}}),
            shared.iter().chain(gcvp_only.iter()).collect::<Vec<_>>(),
            &registries.gcvp,
            &registries.traffic,
        ),
        (
            "/v1/exchange/traffic/vehicle",
            serde_json::json!({"subject": {"iin": iin}}),
            shared.iter().chain(traffic_only.iter()).collect(),
            &registries.traffic,
            &registries.gcvp,
        ),
    ] {
        for &&(name, fault, status, code, outcome, attempts) in &rows {
            knobs.set_fault(Some(fault));
            let before = knobs.calls();
            let other_before = other.calls();
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
            assert_eq!(knobs.calls() - before, attempts, "{path} {name}: attempts");
            assert_eq!(
                other.calls(),
                other_before,
                "{path} {name}: the other registry"
            );
            let entries = app.all_entries().await;
            let last = entries.last().expect("entries");
            assert_eq!(
                (last.kind, last.outcome.as_str()),
                (Kind::In, outcome),
                "{path} {name}"
            );
        }
        knobs.set_fault(None);
    }
}

/// The user mark is a write: whatever the fault, exactly one attempt, the documented status and
/// an IN entry; the authority's own refusal codes in the user mark's payload shape.
#[tokio::test]
async fn every_fault_of_the_user_mark_is_one_attempt_with_its_status_and_in_entry() {
    let app = TestApp::spawn_with(|c| {
        let r = &mut c.traffic.resilience;
        r.retry_max_attempts = ATTEMPTS;
        r.retry_initial_backoff_ms = 1;
        r.breaker_min_calls = 10_000;
    })
    .await;
    let knobs = &app.app.mocks.as_ref().expect("mocks").registries.traffic;
    let rows = [
        (
            Fault::HttpStatus(500),
            502,
            "upstream_error",
            "error:http_status",
        ),
        (
            Fault::HttpStatus(503),
            502,
            "upstream_error",
            "error:http_status",
        ),
        (Fault::SoapFault, 502, "upstream_error", "error:shep_fault"),
        (
            Fault::Malformed,
            502,
            "upstream_error",
            "error:malformed_response",
        ),
        (
            Fault::Truncated,
            502,
            "upstream_error",
            "error:malformed_response",
        ),
        (
            Fault::CloseConnection,
            502,
            "upstream_error",
            "error:connection_failed",
        ),
        (
            Fault::BureauError(3),
            502,
            "upstream_rejected",
            "error:authority_refused",
        ),
        (
            Fault::BureauError(9),
            502,
            "upstream_error",
            "error:authority_internal_error",
        ),
    ];
    for (i, (fault, status, code, outcome)) in rows.into_iter().enumerate() {
        knobs.set_fault(Some(fault));
        let before = knobs.calls();
        let r = app
            .http
            .post(app.url("/v1/exchange/traffic/user-mark"))
            .bearer_auth(app.token(kuzet::contract::Role::Servicing))
            .header("Idempotency-Key", format!("mark-fault-{i}"))
            .json(
                &serde_json::json!({"purpose": "contract_performance", "reference": "LN-1",
                "data": {"user": {"iin": common::demo_iin(), "full_name": "Test Testov Testovich"},
                         "contract": {"number": format!("LN-F-{i}"),
                                      "advance_account_number": "KZ00TEST0000000001"}}}),
            )
            .send()
            .await
            .expect("send");
        let a = common::Answer {
            status: r.status().as_u16(),
            body: r.json().await.unwrap_or(serde_json::Value::Null),
        };
        assert_eq!(
            (a.status, a.code()),
            (status, code),
            "{fault:?}: {}",
            a.body
        );
        assert_eq!(
            knobs.calls() - before,
            1,
            "{fault:?}: a write is never retried"
        );
        let entries = app.all_entries().await;
        let last = entries.last().expect("entries");
        assert_eq!(
            (last.kind, last.outcome.as_str()),
            (Kind::In, outcome),
            "{fault:?}"
        );
    }
    knobs.set_fault(None);
}

#[tokio::test]
async fn a_shep_party_past_the_deadline_then_its_breaker_opens_and_recovers() {
    let app = TestApp::spawn_with(|c| {
        c.server.request_deadline_ms = 300;
        let r = &mut c.traffic.resilience;
        r.retry_max_attempts = 1;
        r.breaker_min_calls = 3;
        // Long enough that a loaded machine cannot let it pass before the refused call below.
        r.breaker_open_ms = 1500;
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
    tokio::time::sleep(std::time::Duration::from_millis(1550)).await;
    assert_eq!(vehicle().await.status, 200);
    assert_eq!(vehicle().await.status, 200);
}

/// Through the control endpoint, as a person or another test runner drives it: a fault set for
/// one registry behind SHEP reaches only that registry; one set for `shep` reaches both; the
/// journal names the registry of every call, failed ones included.
#[tokio::test]
async fn a_fault_set_for_one_registry_reaches_only_that_registry() {
    let app = TestApp::spawn_with(|c| {
        for r in [&mut c.gcvp.resilience, &mut c.traffic.resilience] {
            r.retry_max_attempts = 1;
        }
    })
    .await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["gcvp"]).await;
    let mocks = app.app.mocks.as_ref().expect("mocks");
    let control = |body: serde_json::Value| {
        let url = mocks.running.url("/__mock/faults");
        let http = app.http.clone();
        async move {
            let r = http.post(url).json(&body).send().await.expect("control");
            r.status().as_u16()
        }
    };
    let call = |path: &'static str| {
        let body = serde_json::json!({"purpose": "contract_performance",
                                      "data": {"subject": {"iin": iin}}});
        let app = &app;
        async move {
            app.post(
                path,
                Some(app.token(kuzet::contract::Role::Underwriting)),
                &body,
            )
            .await
        }
    };
    const INCOME: &str = "/v1/exchange/gcvp/income";
    const VEHICLE: &str = "/v1/exchange/traffic/vehicle";

    assert_eq!(
        control(serde_json::json!({"party": "gcvp", "fault": "http_500", "count": 2})).await,
        204
    );
    assert_eq!(call(VEHICLE).await.status, 200, "traffic is not touched");
    assert_eq!(call(INCOME).await.status, 502);
    assert_eq!(call(VEHICLE).await.status, 200);
    assert_eq!(call(INCOME).await.status, 502);
    assert_eq!(
        call(INCOME).await.status,
        200,
        "two faults, then well again"
    );

    // The authority's own error code, in the authority's payload shape.
    assert_eq!(
        control(serde_json::json!({"party": "traffic", "fault": "soap_fault", "code": "2"})).await,
        204
    );
    assert_eq!(call(INCOME).await.status, 200);
    let a = call(VEHICLE).await;
    assert_eq!(
        (a.status, a.code()),
        (502, "upstream_rejected"),
        "{}",
        a.body
    );
    assert_eq!(
        app.all_entries().await.last().expect("entries").outcome,
        "error:authority_refused"
    );

    // The channel itself: both registries.
    assert_eq!(
        control(serde_json::json!({"party": "shep", "fault": "http_503", "count": 2})).await,
        204
    );
    assert_eq!(call(INCOME).await.status, 502);
    assert_eq!(call(VEHICLE).await.status, 502);
    assert_eq!(call(VEHICLE).await.status, 200);

    let journal = app.journal().await;
    let parties: Vec<(&str, &str)> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["party"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        parties,
        [
            ("traffic", "vehicle"),
            ("gcvp", "income"),
            ("traffic", "vehicle"),
            ("gcvp", "income"),
            ("gcvp", "income"),
            ("gcvp", "income"),
            ("traffic", "vehicle"),
            ("gcvp", "income"),
            ("traffic", "vehicle"),
            ("traffic", "vehicle"),
        ]
    );
}

#[tokio::test]
async fn the_pension_centre_past_the_deadline_is_504_with_one_attempt() {
    let app = TestApp::spawn_with(|c| {
        c.server.request_deadline_ms = 300;
        c.gcvp.resilience.retry_initial_backoff_ms = 1;
    })
    .await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["gcvp"]).await;
    let knobs = &app.app.mocks.as_ref().expect("mocks").registries.gcvp;
    knobs.set_latency(std::time::Duration::from_secs(2));
    let before = knobs.calls();
    let a = app
        .post(
            "/v1/exchange/gcvp/income",
            Some(app.token(kuzet::contract::Role::Underwriting)),
            &serde_json::json!({"purpose": "contract_performance",
                                "data": {"subject": {"iin": iin}}}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (504, "upstream_timeout"),
        "{}",
        a.body
    );
    assert_eq!(knobs.calls() - before, 1, "no time left for a retry");
    let entries = app.all_entries().await;
    let last = entries.last().expect("entries");
    assert_eq!(
        (last.kind, last.outcome.as_str()),
        (Kind::In, "error:timeout")
    );
    knobs.set_latency(std::time::Duration::ZERO);
}
