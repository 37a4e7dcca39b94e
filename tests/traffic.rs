//! The road-traffic authority over SHEP, end to end: the vehicle lookup by any one key, and the
//! user mark (a write with an idempotency key), through the contract and the log.

mod common;

use common::TestApp;
use kuzet::contract::{Contracts, Role, flatten};
use kuzet::transfer_log::Kind;
use kuzet_mocks::Fault;
use kuzet_mocks::traffic::{
    CONTRACT_REJECTED, IIN_DRIVING_BAN, IIN_NOT_FOUND, IIN_UNPAID_FINES, PLATE_NOT_FOUND,
    VIN_EXPIRED_INSPECTION,
};
use serde_json::{Value, json};

async fn vehicle(app: &TestApp, data: Value) -> common::Answer {
    app.post(
        "/v1/exchange/traffic/vehicle",
        Some(app.token(Role::Underwriting)),
        &json!({"purpose": "contract_performance", "reference": "APP-9", "data": data}),
    )
    .await
}

async fn user_mark(app: &TestApp, key: Option<&str>, data: Value) -> (u16, Value, bool) {
    let mut req = reqwest::Client::new()
        .post(app.url("/v1/exchange/traffic/user-mark"))
        .bearer_auth(app.token(Role::Servicing))
        .json(&json!({"purpose": "contract_performance", "reference": "LN-1", "data": data}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, r.json().await.unwrap_or(Value::Null), replayed)
}

fn mark(iin: &str, contract: &str) -> Value {
    json!({"user": {"iin": iin, "full_name": "Test Testov Testovich"},
           "contract": {"number": contract, "advance_account_number": "KZ00TEST0000000001"}})
}

fn unknown_paths(data: &Value) -> Vec<String> {
    let contracts =
        Contracts::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"))
            .expect("contracts");
    flatten(data)
        .into_iter()
        .filter(|p| !contracts.vocabulary().contains(p))
        .collect()
}

#[tokio::test]
async fn vehicle_status_by_each_key_with_every_path_in_the_vocabulary() {
    let app = TestApp::spawn().await;
    for data in [
        json!({"subject": {"iin": IIN_UNPAID_FINES}}),
        json!({"subject": {"iin": IIN_DRIVING_BAN}}),
        json!({"vehicle": {"vin": VIN_EXPIRED_INSPECTION}}),
        json!({"vehicle": {"plate": "123ABC02"}}),
    ] {
        let a = vehicle(&app, data.clone()).await;
        assert_eq!(a.status, 200, "{data}: {}", a.body);
        let status = &a.body["data"]["vehicle_status"];
        assert!(status.is_object(), "{}", a.body);
        let unknown = unknown_paths(&a.body["data"]);
        assert!(
            unknown.is_empty(),
            "add to contracts/fields.toml: {unknown:#?}"
        );
        let transfer = a.body["transfer_id"].as_str().expect("transfer");
        let entries = app.entries(transfer).await;
        assert_eq!((entries[0].kind, entries[1].kind), (Kind::Out, Kind::In));
        assert!(
            entries[1]
                .upstream
                .iter()
                .any(|(k, _)| k == "shep_message_id"),
            "{:?}",
            entries[1].upstream
        );
    }
    let fines = vehicle(&app, json!({"subject": {"iin": IIN_UNPAID_FINES}})).await;
    let fines = &fines.body["data"]["vehicle_status"]["unpaid_fines"];
    assert!(fines.as_array().is_some_and(|f| !f.is_empty()), "{fines}");
}

#[tokio::test]
async fn a_lookup_by_vin_or_plate_is_logged_about_the_vehicle_user_it_returns() {
    let app = TestApp::spawn().await;
    for data in [
        json!({"vehicle": {"plate": "123ABC02"}}),
        json!({"vehicle": {"vin": VIN_EXPIRED_INSPECTION}}),
    ] {
        let a = vehicle(&app, data.clone()).await;
        assert_eq!(a.status, 200, "{data}: {}", a.body);
        let user_iin = a.body["data"]["vehicle_status"]["user"]["iin"]
            .as_str()
            .expect("the mock names the vehicle's user");
        let user = kuzet_ident::Iin::parse(user_iin).expect("a valid IIN");
        let transfer = a.body["transfer_id"].as_str().expect("transfer");
        let entries = app.entries(transfer).await;
        // Nothing about a person was sent; what came back is about the user.
        assert_eq!(entries[0].subject, None, "{data}");
        assert_eq!(
            entries[1].subject,
            Some(app.app.gateway.log().subject_index(&user)),
            "{data}"
        );
        // So the auditor finds it by the user's IIN (their access request, erasure, retention).
        let found = app
            .audit(&format!("/v1/transfers?subject_iin={user_iin}&kind=in"))
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        let ids: Vec<&str> = found.body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["transfer_id"].as_str())
            .collect();
        assert!(ids.contains(&transfer), "{data}: {ids:?}");
    }
    // A lookup by IIN stays about the person asked for.
    let a = vehicle(&app, json!({"subject": {"iin": IIN_DRIVING_BAN}})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let asked = kuzet_ident::Iin::parse(IIN_DRIVING_BAN).expect("iin");
    let entries = app
        .entries(a.body["transfer_id"].as_str().expect("id"))
        .await;
    let index = app.app.gateway.log().subject_index(&asked);
    assert_eq!(
        (entries[0].subject, entries[1].subject),
        (Some(index), Some(index))
    );
}

#[tokio::test]
async fn vehicle_lookups_refuse_bad_keys_and_map_failures() {
    let app = TestApp::spawn_with(|c| {
        c.traffic.resilience.retry_initial_backoff_ms = 1;
        c.traffic.resilience.retry_max_backoff_ms = 2;
    })
    .await;
    // Two keys, or none: refused before anything is sent.
    for data in [
        json!({"subject": {"iin": IIN_UNPAID_FINES}, "vehicle": {"plate": "123ABC02"}}),
        json!({}),
        json!({"vehicle": {"vin": "NOT-A-VIN"}}),
    ] {
        let a = vehicle(&app, data.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{data}: {}",
            a.body
        );
    }
    assert_eq!(app.shep().calls(), 0);
    assert!(app.all_entries().await.is_empty());
    // Not found is an answer, not a failure: 404, one call.
    for data in [
        json!({"subject": {"iin": IIN_NOT_FOUND}}),
        json!({"vehicle": {"plate": PLATE_NOT_FOUND}}),
    ] {
        let before = app.shep().calls();
        let a = vehicle(&app, data.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (404, "subject_not_found"),
            "{data}: {}",
            a.body
        );
        assert_eq!(app.shep().calls() - before, 1);
    }
    // A transient fault of a read is retried.
    app.shep().fail_next(2, Fault::HttpStatus(503));
    let before = app.shep().calls();
    let a = vehicle(&app, json!({"subject": {"iin": IIN_DRIVING_BAN}})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(app.shep().calls() - before, 3);
}

#[tokio::test]
async fn the_user_mark_is_a_write_once_per_key() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    // Underwriting may not send the mark.
    let a = app
        .post(
            "/v1/exchange/traffic/user-mark",
            Some(app.token(Role::Underwriting)),
            &json!({"purpose": "contract_performance", "data": mark(&iin, "LN-2026-1")}),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, "forbidden_role"), "{}", a.body);
    let (status, v, _) = user_mark(&app, None, mark(&iin, "LN-2026-1")).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("idempotency_key_required"))
    );
    let (status, first, replayed) =
        user_mark(&app, Some("mark-LN-2026-1"), mark(&iin, "LN-2026-1")).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    assert!(first["data"]["user_mark"].is_object(), "{first}");
    assert!(
        unknown_paths(&first["data"]).is_empty(),
        "{:?}",
        unknown_paths(&first["data"])
    );
    let calls = app.shep().calls();
    let (status, again, replayed) =
        user_mark(&app, Some("mark-LN-2026-1"), mark(&iin, "LN-2026-1")).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(first, again);
    assert_eq!(app.shep().calls(), calls, "no second call");
    // The OUT entry names what was sent; the log's subject is the user.
    let transfer = first["transfer_id"].as_str().expect("transfer");
    let entries = app.entries(transfer).await;
    let mut sent = entries[0].fields.clone();
    sent.sort();
    assert_eq!(
        sent,
        vec![
            "contract.advance_account_number",
            "contract.number",
            "user.full_name",
            "user.iin"
        ]
    );
    assert_eq!(
        entries[0].subject,
        Some(
            app.app
                .gateway
                .log()
                .subject_index(&kuzet_ident::Iin::parse(&iin).expect("iin"))
        )
    );
}

#[tokio::test]
async fn a_rejected_or_failed_user_mark_is_never_retried() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    let before = app.shep().calls();
    let (status, v, _) = user_mark(&app, Some("k1"), mark(&iin, CONTRACT_REJECTED)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (502, Some("upstream_rejected")),
        "{v}"
    );
    assert_eq!(app.shep().calls() - before, 1);
    app.shep().set_fault(Some(Fault::HttpStatus(503)));
    let before = app.shep().calls();
    let (status, _, _) = user_mark(&app, Some("k2"), mark(&iin, "LN-2026-2")).await;
    assert_eq!(status, 502);
    assert_eq!(app.shep().calls() - before, 1, "a write is not retried");
}

#[tokio::test]
async fn a_user_mark_the_authority_could_not_take_is_refused_before_anything_is_logged() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    let long = "Ж".repeat(kuzet_traffic::MAX_FIELD_CHARS + 1);
    for (i, (path, data)) in [
        (
            "user.full_name",
            json!({"user": {"iin": iin, "full_name": "Test\u{0}Testov"},
                   "contract": {"number": "LN-1", "advance_account_number": "KZ01"}}),
        ),
        (
            "contract.number",
            json!({"user": {"iin": iin, "full_name": "Test Testov"},
                   "contract": {"number": "LN\n1", "advance_account_number": "KZ01"}}),
        ),
        (
            "contract.advance_account_number",
            json!({"user": {"iin": iin, "full_name": "Test Testov"},
                   "contract": {"number": "LN-1", "advance_account_number": "KZ\u{1b}[2J"}}),
        ),
        (
            "user.full_name",
            json!({"user": {"iin": iin, "full_name": long},
                   "contract": {"number": "LN-1", "advance_account_number": "KZ01"}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, v, _) = user_mark(&app, Some(&format!("bad-{i}")), data).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some("invalid_value")),
            "{path}: {v}"
        );
        assert_eq!(v["error"]["fields"], json!([path]), "{v}");
    }
    assert_eq!(app.shep().calls(), 0, "nothing was sent");
    assert!(app.all_entries().await.is_empty(), "nor logged as sent");
    // Line breaks and tabs inside a name are whitespace: collapsed, not refused.
    let (status, v, _) = user_mark(
        &app,
        Some("good"),
        json!({"user": {"iin": iin, "full_name": "Test\n\tTestov"},
               "contract": {"number": "LN-1", "advance_account_number": "KZ01"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}
