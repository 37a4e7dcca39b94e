//! `POST /v1/applicants/check`: three parties at once, each its own transfer, partial results.

mod common;

use common::TestApp;
use kuzet::contract::Role;
use serde_json::{Value, json};

async fn check(app: &TestApp, data: Value) -> common::Answer {
    app.post(
        "/v1/applicants/check",
        Some(app.token(Role::Underwriting)),
        &json!({"purpose": "contract_performance", "reference": "APP-42", "data": data}),
    )
    .await
}

#[tokio::test]
async fn all_three_parts_each_its_own_transfer() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["fcb", "gcvp"]).await;
    let a = check(
        &app,
        json!({"subject": {"iin": iin}, "vehicle": {"plate": "123ABC02"}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let parts = &a.body["parts"];
    let mut ids = Vec::new();
    for (name, key) in [
        ("credit_report", "credit_history"),
        ("income", "income"),
        ("vehicle", "vehicle_status"),
    ] {
        let part = &parts[name];
        assert_eq!(part["status"], 200, "{name}: {part}");
        assert!(part["data"][key].is_object(), "{name}: {part}");
        ids.push(
            part["transfer_id"]
                .as_str()
                .expect("transfer id")
                .to_owned(),
        );
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three transfers");
    let entries = app.all_entries().await;
    assert_eq!(entries.len(), 6, "an OUT and an IN for each");
    assert!(
        entries
            .iter()
            .all(|e| e.reference.as_deref() == Some("APP-42"))
    );
    // Every entry is about the applicant, the vehicle looked up by plate too (their access
    // request lists it), though only the plate was sent to the authority.
    let applicant = app
        .app
        .gateway
        .log()
        .subject_index(&kuzet_ident::Iin::parse(&iin).expect("iin"));
    assert!(
        entries.iter().all(|e| e.subject == Some(applicant)),
        "{entries:?}"
    );
    let vehicle_out = entries
        .iter()
        .find(|e| e.recipient == "traffic" && e.kind == kuzet::transfer_log::Kind::Out)
        .expect("the vehicle's OUT entry");
    assert_eq!(vehicle_out.fields, ["vehicle.plate"]);
}

#[tokio::test]
async fn one_party_failing_leaves_the_others() {
    let app = TestApp::spawn().await;
    // The pension centre does not know this person; the bureau and the police answer.
    let iin = kuzet_mocks::shep::IIN_NOT_FOUND;
    app.consent_to(iin, &["fcb", "gcvp"]).await;
    let a = check(&app, json!({"subject": {"iin": iin}})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let parts = &a.body["parts"];
    assert_eq!(parts["credit_report"]["status"], 200, "{parts}");
    assert_eq!(parts["vehicle"]["status"], 200, "{parts}");
    assert_eq!(parts["income"]["status"], 404, "{parts}");
    assert_eq!(parts["income"]["error"]["code"], "subject_not_found");
}

#[tokio::test]
async fn each_part_needs_its_own_consent() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["fcb"]).await;
    let a = check(&app, json!({"subject": {"iin": iin}})).await;
    let parts = &a.body["parts"];
    assert_eq!(parts["credit_report"]["status"], 200, "{parts}");
    assert_eq!(parts["income"]["status"], 403, "{parts}");
    assert_eq!(parts["income"]["error"]["code"], "consent_missing");
    // The vehicle lookup's legal basis is the contract, not consent.
    assert_eq!(parts["vehicle"]["status"], 200, "{parts}");
}

#[tokio::test]
async fn a_bad_iin_is_one_error_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let a = check(&app, json!({"subject": {"iin": "870525301013"}})).await;
    assert_eq!((a.status, a.code()), (422, "invalid_iin"), "{}", a.body);
    let a = check(&app, json!({"vehicle": {"plate": "123ABC02"}})).await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    assert_eq!(app.mock().calls() + app.shep().calls(), 0);
    assert!(app.all_entries().await.is_empty());
}

#[tokio::test]
async fn a_vehicle_key_the_vehicle_part_refuses_is_one_error_and_no_inquiry_is_made() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["fcb", "gcvp"]).await;
    // A VIN one character short, a plate in Cyrillic letters, no key, and a member the
    // vocabulary does not know.
    for (vehicle, code, field) in [
        (
            json!({"vin": "KZ03ZWBPNJ61MW7Z"}),
            "invalid_value",
            "vehicle.vin",
        ),
        (
            json!({"plate": "А123ВС02"}),
            "invalid_value",
            "vehicle.plate",
        ),
        (json!({}), "invalid_value", "vehicle"),
        (
            json!({"plate": "123ABC02", "colour": "red"}),
            "unknown_field",
            "vehicle.colour",
        ),
    ] {
        let a = check(&app, json!({"subject": {"iin": iin}, "vehicle": vehicle})).await;
        assert_eq!((a.status, a.code()), (422, code), "{vehicle}: {}", a.body);
        assert_eq!(a.body["error"]["fields"], json!([field]), "{vehicle}");
    }
    // Neither the bureau (whose inquiries the applicant's credit history keeps) nor the
    // pension centre nor the authority was asked; only the unknown member's refusal is
    // logged, as any refusal of a field is.
    assert_eq!(app.mock().calls() + app.shep().calls(), 0);
    let entries = app.all_entries().await;
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.kind.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(kinds, [("denied", "denied:unknown_field")], "{entries:?}");
    // A good key still runs all three.
    let a = check(
        &app,
        json!({"subject": {"iin": iin}, "vehicle": {"plate": "123ABC02"}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for part in ["credit_report", "income", "vehicle"] {
        assert_eq!(a.body["parts"][part]["status"], 200, "{part}: {}", a.body);
    }
}

#[tokio::test]
async fn a_field_a_part_may_not_send_is_that_parts_refusal() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["fcb", "gcvp"]).await;
    let a = check(
        &app,
        json!({"subject": {"iin": iin, "phone": "+77011234567"}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let parts = &a.body["parts"];
    for name in ["credit_report", "income"] {
        assert_eq!(parts[name]["status"], 403, "{parts}");
        assert_eq!(parts[name]["error"]["code"], "field_not_allowed");
        assert_eq!(parts[name]["error"]["fields"], json!(["subject.phone"]));
    }
    // The vehicle part sent only the IIN.
    assert_eq!(parts["vehicle"]["status"], 200, "{parts}");
    assert_eq!(app.mock().calls(), 0, "the bureau got nothing");
}

#[tokio::test]
async fn the_mock_journal_names_each_party_and_operation() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent_to(&iin, &["fcb", "gcvp"]).await;
    let a = check(&app, json!({"subject": {"iin": iin}})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let journal = app.journal().await;
    let mut seen: Vec<(String, String)> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["party"].as_str().unwrap_or_default().to_owned(),
                e["operation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let want: Vec<(String, String)> = [
        ("fcb", "GetReport"),
        ("gcvp", "income"),
        ("traffic", "vehicle"),
    ]
    .iter()
    .map(|(p, o)| (p.to_string(), o.to_string()))
    .collect();
    assert_eq!(seen, want, "{journal}");
    assert!(!journal.to_string().contains(&iin), "no IIN in the journal");
}
