//! `GET /metrics` after a scenario: the families are there in the OpenMetrics text format with
//! the right label sets and counts, the route label is the template (never the path with its
//! ids), and no personal value used in the scenario shows up anywhere in the text. Also: the
//! scrape needs no token, an unwritable log shows as `log_unavailable`, and reporting runs
//! are counted with their records.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use common::{TestApp, person, test_config};
use kuzet::contract::Role;
use kuzet::reporting::{RunOptions, RunStatus, Trigger};
use kuzet_mocks::contracts_source::synthetic_contract;
use serde_json::{Value, json};

/// One sample line: the metric's name, its labels, its value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of an OpenMetrics text (comments skipped). Label values here never hold a quote
/// or a backslash, so the parsing stays simple; a route template's braces are inside quotes.
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("labels close");
                    let mut labels = BTreeMap::new();
                    let mut rest = body;
                    while !rest.is_empty() {
                        let (key, after) = rest.split_once("=\"").expect("key=\"");
                        let (value, after) = after.split_once('"').expect("closing quote");
                        labels.insert(key.to_owned(), value.to_owned());
                        rest = after.strip_prefix(',').unwrap_or(after);
                    }
                    (name.to_owned(), labels)
                }
            };
            Sample {
                name,
                labels,
                value,
            }
        })
        .collect()
}

/// The value of the sample `name` with exactly `labels`, if there is one.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut found = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want);
    let first = found.next().map(|s| s.value);
    assert!(found.next().is_none(), "{name} {labels:?} appears twice");
    first
}

#[track_caller]
fn assert_value(samples: &[Sample], name: &str, labels: &[(&str, &str)], expected: f64) {
    assert_eq!(
        value(samples, name, labels),
        Some(expected),
        "{name} {labels:?}"
    );
}

/// `GET /metrics` without a token: its content type and text.
async fn scrape(app: &TestApp) -> (String, String) {
    let resp = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let content_type = resp
        .headers()
        .get("content-type")
        .expect("content type")
        .to_str()
        .expect("ascii")
        .to_owned();
    (content_type, resp.text().await.expect("text"))
}

#[tokio::test]
async fn a_scenario_shows_up_in_the_metrics_by_route_transfer_party_and_log() {
    let app = TestApp::spawn().await;
    let ok_iin = person(1);
    let refused_iin = person(2);
    let unknown_iin = kuzet_mocks::fcb::IIN_NOT_FOUND;
    let phone = "+77015550199";
    let last_name = "Жумабекова";

    // A consent and a credit report, answered.
    let consent = app.consent(&ok_iin).await;
    let ok = app.credit_report(&ok_iin, Some(&consent)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let dropped = ok.body["dropped"].as_array().expect("dropped").len();
    assert!(dropped > 0, "the bureau's identity section is dropped");

    // A request carrying fields the contract does not let out: refused, nothing sent.
    let refused = app
        .post(
            "/v1/exchange/fcb/credit-report",
            Some(app.token(Role::Underwriting)),
            &json!({
                "purpose": "contract_performance",
                "reference": "APP-2",
                "data": {"subject": {"iin": refused_iin, "phone": phone, "last_name": last_name}},
            }),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.code(), "field_not_allowed");

    // A subject the bureau does not know; then the consent is withdrawn (a path with an id).
    let unknown_consent = app.consent(unknown_iin).await;
    let missing = app.credit_report(unknown_iin, Some(&unknown_consent)).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.code(), "subject_not_found");
    let revoked = app
        .delete(
            &format!("/v1/consents/{unknown_consent}"),
            Some(app.token(Role::Underwriting)),
        )
        .await;
    assert_eq!(revoked.status, 204);

    // No such route.
    assert_eq!(app.get(&format!("/v1/{ok_iin}"), None).await.status, 404);

    let (content_type, text) = scrape(&app).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        text.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends so"
    );
    let s = samples(&text);

    // Requests, by route template, method and status.
    let exchange = "/v1/exchange/{recipient}/{operation}";
    let requests = "kuzet_http_requests_total";
    for (route, method, status, n) in [
        (exchange, "POST", "200", 1.0),
        (exchange, "POST", "403", 1.0),
        (exchange, "POST", "404", 1.0),
        ("/v1/consents", "POST", "201", 2.0),
        ("/v1/consents/{id}", "DELETE", "204", 1.0),
        ("unmatched", "GET", "404", 1.0),
    ] {
        assert_value(
            &s,
            requests,
            &[("route", route), ("method", method), ("status", status)],
            n,
        );
    }
    assert_value(
        &s,
        "kuzet_http_request_duration_seconds_count",
        &[("route", exchange), ("method", "POST")],
        3.0,
    );
    assert!(text.contains("# TYPE kuzet_http_requests counter\n"));
    assert!(text.contains("# TYPE kuzet_http_request_duration_seconds histogram\n"));

    // Transfers: the log's entries by kind and outcome code.
    let transfers = "kuzet_transfers_total";
    let fcb_report = [("recipient", "fcb"), ("operation", "credit-report")];
    for (kind, outcome, n) in [
        ("out", "sent", 2.0),
        ("in", "ok", 1.0),
        ("in", "subject_not_found", 1.0),
        ("denied", "field_not_allowed", 1.0),
    ] {
        let mut labels = fcb_report.to_vec();
        labels.extend([("kind", kind), ("outcome", outcome)]);
        assert_value(&s, transfers, &labels, n);
    }
    assert_eq!(
        s.iter().filter(|x| x.name == transfers).count(),
        4,
        "no other transfer label set"
    );
    assert_value(
        &s,
        "kuzet_dropped_fields_total",
        &[("recipient", "fcb")],
        dropped as f64,
    );
    assert_value(
        &s,
        "kuzet_denied_fields_total",
        &[("recipient", "fcb")],
        2.0,
    );

    // The bureau's guard: two attempts, one answered, one refused (not found); breaker closed.
    assert_value(
        &s,
        "kuzet_upstream_attempts_total",
        &[("party", "fcb")],
        2.0,
    );
    assert_value(&s, "kuzet_upstream_retries_total", &[("party", "fcb")], 0.0);
    let attempts = "kuzet_upstream_attempt_duration_seconds_count";
    assert_value(&s, attempts, &[("party", "fcb"), ("outcome", "ok")], 1.0);
    assert_value(
        &s,
        attempts,
        &[("party", "fcb"), ("outcome", "refused")],
        1.0,
    );
    assert_value(
        &s,
        attempts,
        &[("party", "fcb"), ("outcome", "failed")],
        0.0,
    );
    assert_value(
        &s,
        "kuzet_upstream_attempt_duration_seconds_bucket",
        &[("party", "fcb"), ("outcome", "ok"), ("le", "+Inf")],
        1.0,
    );
    for party in ["fcb", "gcvp", "traffic"] {
        assert_value(&s, "kuzet_upstream_breaker_state", &[("party", party)], 0.0);
        assert!(
            value(
                &s,
                "kuzet_upstream_rate_limit_waits_total",
                &[("party", party)]
            )
            .is_some(),
            "{party}"
        );
    }

    // The transfer log: five entries (two OUT, two IN, one denied), each acknowledged.
    assert_value(
        &s,
        "kuzet_transfer_log_append_duration_seconds_count",
        &[],
        5.0,
    );
    assert_value(&s, "kuzet_transfer_log_batch_entries_sum", &[], 5.0);
    assert_value(&s, "kuzet_transfer_log_queue_depth", &[], 0.0);
    assert_value(&s, "kuzet_transfer_log_append_failures_total", &[], 0.0);
    assert!(value(&s, "kuzet_transfer_log_checkpoints_total", &[]).is_some());

    // Nothing personal, and no id from a path.
    let masked = kuzet_ident::Iin::parse(&ok_iin).expect("iin").masked();
    for secret in [
        ok_iin.as_str(),
        refused_iin.as_str(),
        unknown_iin,
        &masked,
        phone,
        last_name,
        &consent,
        &unknown_consent,
    ] {
        assert!(!text.contains(secret), "{secret} is in the metrics");
    }
}

#[tokio::test]
async fn the_scrape_itself_is_counted_and_needs_no_token() {
    let app = TestApp::spawn().await;
    let (_, first) = scrape(&app).await;
    assert!(
        !first.contains("route=\"/metrics\""),
        "counted once answered"
    );
    let (_, second) = scrape(&app).await;
    assert_value(
        &samples(&second),
        "kuzet_http_requests_total",
        &[("route", "/metrics"), ("method", "GET"), ("status", "200")],
        1.0,
    );
}

#[tokio::test]
async fn an_unwritable_log_is_counted_as_log_unavailable_and_as_failed_batches() {
    let (app, fail) = TestApp::spawn_with_switchable_log(test_config()).await;
    let iin = person(3);
    let consent = app.consent(&iin).await;

    fail.store(true, Ordering::SeqCst);
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!((a.status, a.code()), (503, "log_unavailable"), "{}", a.body);
    fail.store(false, Ordering::SeqCst);

    let (_, text) = scrape(&app).await;
    let s = samples(&text);
    assert_value(
        &s,
        "kuzet_transfers_total",
        &[
            ("recipient", "fcb"),
            ("operation", "credit-report"),
            ("kind", "out"),
            ("outcome", "log_unavailable"),
        ],
        1.0,
    );
    assert_value(&s, "kuzet_transfer_log_append_failures_total", &[], 1.0);
    assert_value(&s, "kuzet_transfer_log_batch_failures_total", &[], 1.0);
    assert_value(
        &s,
        "kuzet_transfer_log_append_duration_seconds_count",
        &[],
        0.0,
    );
    assert_value(
        &s,
        "kuzet_upstream_attempts_total",
        &[("party", "fcb")],
        0.0,
    );
    assert_value(
        &s,
        "kuzet_http_requests_total",
        &[
            ("route", "/v1/exchange/{recipient}/{operation}"),
            ("method", "POST"),
            ("status", "503"),
        ],
        1.0,
    );
}

#[tokio::test]
async fn reporting_runs_and_their_records_are_counted_and_dry_runs_are_not() {
    let app = TestApp::spawn().await;
    let contracts: Vec<Value> = (1..=4).map(synthetic_contract).collect();
    // Every borrower but the last consented: that line is refused.
    app.consent_borrowers(&contracts[..3]);
    let source = app.dir.path().join("loans.jsonl");
    let lines: Vec<String> = contracts.iter().map(Value::to_string).collect();
    std::fs::write(&source, lines.join("\n") + "\n").expect("source");
    let run = |dry_run| {
        let options = RunOptions {
            source: source.clone(),
            dry_run,
            trigger: Trigger::Cli,
            crash_at: None,
        };
        let reporter = app.app.reporter.clone();
        async move { reporter.run(&options, &|_| {}).await.expect("starts") }
    };
    let report = run(false).await;
    assert_eq!(report.status, RunStatus::Partial, "{report:?}");
    assert_eq!(
        (
            report.counts.read,
            report.counts.invalid,
            report.counts.sent
        ),
        (4, 1, 3)
    );
    let dry = run(true).await;
    assert_eq!(dry.counts.unchanged, 3, "{dry:?}");

    let (_, text) = scrape(&app).await;
    let s = samples(&text);
    assert_value(
        &s,
        "kuzet_reporting_runs_total",
        &[("trigger", "cli"), ("outcome", "partial")],
        1.0,
    );
    assert_eq!(
        s.iter()
            .filter(|x| x.name == "kuzet_reporting_runs_total")
            .count(),
        1,
        "the dry run is not counted"
    );
    let records = "kuzet_reporting_records_total";
    for (outcome, n) in [
        ("read", 4.0),
        ("refused", 1.0),
        ("sent", 3.0),
        ("accepted", 3.0),
        ("rejected", 0.0),
    ] {
        assert_value(&s, records, &[("outcome", outcome)], n);
    }
    // The upload is a transfer like the others: one OUT and one IN entry for the batch.
    for kind in ["out", "in"] {
        assert_value(
            &s,
            "kuzet_transfers_total",
            &[
                ("recipient", "fcb"),
                ("operation", "contract-upload"),
                ("kind", kind),
                ("outcome", "ok"),
            ],
            1.0,
        );
    }

    for c in &contracts {
        let b = &c["borrower"];
        for secret in [
            &b["iin"],
            &b["last_name"],
            &b["first_name"],
            &b["middle_name"],
            &b["mobile"],
            &b["id_document"]["number"],
            &c["collateral"]["vin"],
            &c["collateral"]["plate"],
            &c["contract_code"],
        ] {
            let secret = secret.as_str().expect("a string");
            assert!(!text.contains(secret), "{secret} is in the metrics");
        }
    }
}
