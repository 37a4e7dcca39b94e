//! The pension centre's income over SHEP, end to end: consent, the signed SHEP call to the
//! in-process mock, the income estimate, the contract filter, and the log with SHEP's ids.

mod common;

use common::TestApp;
use kuzet::contract::{Contracts, Role, flatten};
use kuzet::transfer_log::Kind;
use kuzet_mocks::Fault;
use kuzet_mocks::shep::{IIN_NO_DATA, IIN_NOT_FOUND, IIN_REGISTRY_ERROR, IIN_SEVERAL_EMPLOYERS};
use serde_json::{Value, json};

async fn consent(app: &TestApp, iin: &str) {
    let mut body = common::consent_body(iin);
    body["recipients"] = json!(["gcvp"]);
    let a = app
        .post("/v1/consents", Some(app.token(Role::Underwriting)), &body)
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
}

async fn income(app: &TestApp, iin: &str) -> common::Answer {
    app.post(
        "/v1/exchange/gcvp/income",
        Some(app.token(Role::Underwriting)),
        &json!({"purpose": "contract_performance", "reference": "APP-7",
                "data": {"subject": {"iin": iin}}}),
    )
    .await
}

fn contracts() -> Contracts {
    Contracts::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"))
        .expect("contracts")
}

#[tokio::test]
async fn income_with_several_employers_is_estimated_and_logged_with_shep_ids() {
    let app = TestApp::spawn().await;
    consent(&app, IIN_SEVERAL_EMPLOYERS).await;
    let a = income(&app, IIN_SEVERAL_EMPLOYERS).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let income = &a.body["data"]["income"];
    assert_eq!(income["status"], "confirmed", "{income}");
    let employers = income["employers"].as_array().expect("employers");
    assert!(employers.len() >= 2, "{income}");
    // The total is the sum of the employers' estimates, in exact minor units.
    let sum: i64 = employers
        .iter()
        .map(|e| {
            e["estimated_monthly_income"]["minor"]
                .as_i64()
                .expect("minor")
        })
        .sum();
    assert_eq!(
        income["estimated_monthly_income_total"]["minor"].as_i64(),
        Some(sum)
    );
    assert_eq!(a.body["dropped"], json!([]));
    // Every path the adapter produced is in the vocabulary.
    let vocabulary = contracts();
    let unknown: Vec<String> = flatten(&a.body["data"])
        .into_iter()
        .filter(|p| !vocabulary.vocabulary().contains(p))
        .collect();
    assert!(
        unknown.is_empty(),
        "add to contracts/fields.toml: {unknown:#?}"
    );

    let transfer = a.body["transfer_id"].as_str().expect("transfer id");
    let entries = app.entries(transfer).await;
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].kind, entries[1].kind), (Kind::Out, Kind::In));
    assert_eq!(entries[0].fields, vec!["subject.iin".to_owned()]);
    let ids: Vec<&str> = entries[1]
        .upstream
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    for id in [
        "shep_message_id",
        "shep_service_id",
        "shep_response_message_id",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // No IIN in the answer's metadata or the log's ids.
    assert!(!format!("{:?}", entries[1].upstream).contains(IIN_SEVERAL_EMPLOYERS));
}

#[tokio::test]
async fn no_data_is_not_zero_income() {
    let app = TestApp::spawn().await;
    consent(&app, IIN_NO_DATA).await;
    let a = income(&app, IIN_NO_DATA).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let income = &a.body["data"]["income"];
    assert_eq!(income["status"], "no_data");
    assert!(
        income
            .get("estimated_monthly_income_total")
            .is_none_or(Value::is_null)
    );
}

#[tokio::test]
async fn refusals_and_faults_have_stable_codes_and_in_entries() {
    let app = TestApp::spawn_with(|c| {
        c.gcvp.resilience.retry_initial_backoff_ms = 1;
        c.gcvp.resilience.retry_max_backoff_ms = 2;
    })
    .await;
    for iin in [IIN_NOT_FOUND, IIN_REGISTRY_ERROR] {
        consent(&app, iin).await;
    }
    let a = income(&app, IIN_NOT_FOUND).await;
    assert_eq!(
        (a.status, a.code()),
        (404, "subject_not_found"),
        "{}",
        a.body
    );
    let before = app.shep().calls();
    let a = income(&app, IIN_REGISTRY_ERROR).await;
    assert_eq!((a.status, a.code()), (502, "upstream_error"), "{}", a.body);
    assert_eq!(
        app.shep().calls() - before,
        3,
        "a transient registry error is retried"
    );
    let iin = IIN_SEVERAL_EMPLOYERS;
    consent(&app, iin).await;
    for (fault, status, code, attempts) in [
        (Fault::HttpStatus(503), 502, "upstream_error", 3),
        (Fault::Malformed, 502, "upstream_error", 1),
        (Fault::CloseConnection, 502, "upstream_error", 3),
    ] {
        app.shep().set_fault(Some(fault));
        let before = app.shep().calls();
        let a = income(&app, iin).await;
        assert_eq!(
            (a.status, a.code()),
            (status, code),
            "{fault:?}: {}",
            a.body
        );
        assert_eq!(app.shep().calls() - before, attempts, "{fault:?}");
        let entries = app.all_entries().await;
        let last = entries.last().expect("entries");
        assert_eq!(last.kind, Kind::In);
        assert!(last.outcome.starts_with("error:"), "{}", last.outcome);
    }
    app.shep().set_fault(None);
    assert_eq!(income(&app, iin).await.status, 200);
}

#[tokio::test]
async fn income_needs_a_consent_for_the_pension_centre() {
    let app = TestApp::spawn().await;
    // A consent for the bureau does not cover the pension centre.
    app.consent(IIN_SEVERAL_EMPLOYERS).await;
    let a = income(&app, IIN_SEVERAL_EMPLOYERS).await;
    assert_eq!((a.status, a.code()), (403, "consent_missing"), "{}", a.body);
    assert_eq!(app.shep().calls(), 0);
}

#[tokio::test]
async fn without_a_shep_signer_the_pension_centre_is_unavailable_and_nothing_leaves() {
    // No mock parties and no [shep_signer]: the gateway starts, and income answers 503.
    let app = TestApp::spawn_config(common::test_config(), false).await;
    let iin = IIN_SEVERAL_EMPLOYERS;
    consent(&app, iin).await;
    let a = income(&app, iin).await;
    assert_eq!(
        (a.status, a.code()),
        (503, "upstream_unavailable"),
        "{}",
        a.body
    );
    assert!(a.body.to_string().contains("not configured"), "{}", a.body);
    // Refused before anything was sent: no OUT entry claims a transfer.
    assert!(app.all_entries().await.is_empty());
}
