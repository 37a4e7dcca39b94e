//! A credit report end to end: consent, enforcement, the mock bureau, filtering, the log.

mod common;

use common::{TestApp, consent_body, demo_iin};
use kuzet::contract::Role;
use kuzet::transfer_log::Kind;
use serde_json::json;

#[tokio::test]
async fn a_consented_request_returns_the_credit_history_only_and_logs_out_and_in() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    let consent = app.consent(&iin).await;
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Only the credit history comes back; the identity and the rest are dropped by name.
    let data = a.body["data"].as_object().expect("data object");
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["credit_history"]);
    let contracts = a.body["data"]["credit_history"]["existing_contracts"]
        .as_array()
        .expect("existing contracts");
    assert!(!contracts.is_empty());
    let dropped: Vec<&str> = a.body["dropped"]
        .as_array()
        .expect("dropped")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        dropped.iter().any(|p| p.starts_with("identity.")),
        "{dropped:?}"
    );
    assert!(
        dropped.iter().any(|p| p.starts_with("addresses.")),
        "{dropped:?}"
    );
    assert!(dropped.iter().all(|p| !p.starts_with("credit_history")));
    // No personal identification reaches the caller.
    let text = a.body["data"].to_string();
    assert!(
        !text.contains(&iin),
        "the IIN must not come back inside the kept data"
    );

    // The log has the OUT and IN entries of this transfer, durable, with the consent used.
    let transfer_id = a.body["transfer_id"].as_str().expect("transfer_id");
    let entries = app.entries(transfer_id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].kind, Kind::Out);
    assert_eq!(entries[0].fields, vec!["subject.iin".to_owned()]);
    assert_eq!(entries[1].kind, Kind::In);
    assert_eq!(entries[1].outcome, "ok");
    assert!(
        entries[1]
            .fields
            .iter()
            .all(|f| f.starts_with("credit_history."))
    );
    assert_eq!(entries[1].dropped, dropped);
    for e in &entries {
        assert_eq!(
            e.consent_id.map(|c| c.to_string()).as_deref(),
            Some(consent.as_str())
        );
        assert_eq!(e.caller, "test-underwriting");
        assert_eq!(e.purpose.as_deref(), Some("contract_performance"));
        assert_eq!(e.legal_basis.as_deref(), Some("consent"));
        assert_eq!(e.reference.as_deref(), Some("APP-1"));
        assert!(e.subject.is_some());
    }
    assert!(
        entries[1]
            .upstream
            .iter()
            .any(|(k, _)| k == "bureau_reference")
    );
    // The kept body is in the log, encrypted, and decrypts to what the caller got.
    let body = app
        .app
        .gateway
        .log()
        .decrypt_body(&entries[1])
        .await
        .expect("decrypt")
        .expect("a body");
    let logged: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(logged, a.body["data"]);
    assert_eq!(app.mock().calls(), 1);
}

#[tokio::test]
async fn the_same_subject_gets_the_same_report() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    let consent = app.consent(&iin).await;
    let a = app.credit_report(&iin, Some(&consent)).await;
    let b = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"], b.body["data"]);
    assert_ne!(a.body["transfer_id"], b.body["transfer_id"]);
}

#[tokio::test]
async fn without_a_named_consent_a_valid_one_on_record_is_used() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    let consent = app.consent(&iin).await;
    let a = app.credit_report(&iin, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let entries = app
        .entries(a.body["transfer_id"].as_str().expect("id"))
        .await;
    assert_eq!(entries[0].consent_id.map(|c| c.to_string()), Some(consent));
}

#[tokio::test]
async fn no_consent_or_a_revoked_one_is_refused_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();

    let a = app.credit_report(&iin, None).await;
    assert_eq!((a.status, a.code()), (403, "consent_missing"), "{}", a.body);

    let consent = app.consent(&iin).await;
    let revoked = app
        .delete(
            &format!("/v1/consents/{consent}"),
            Some(app.token(Role::Underwriting)),
        )
        .await;
    assert_eq!(revoked.status, 204);
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!((a.status, a.code()), (403, "consent_missing"), "{}", a.body);
    let a = app.credit_report(&iin, None).await;
    assert_eq!((a.status, a.code()), (403, "consent_missing"));

    // A consent for another subject, another recipient or another purpose does not cover it.
    let other = kuzet_ident::Iin::synthesize(time::macros::date!(1990 - 02 - 03), false, 77)
        .expect("valid")
        .expose()
        .to_owned();
    let other_consent = app.consent(&other).await;
    let a = app.credit_report(&iin, Some(&other_consent)).await;
    assert_eq!(a.code(), "consent_missing");
    let mut body = consent_body(&iin);
    body["recipients"] = json!(["gcvp"]);
    let r = app
        .post("/v1/consents", Some(app.token(Role::Underwriting)), &body)
        .await;
    assert_eq!(r.status, 201);
    let a = app
        .credit_report(&iin, Some(r.body["consent_id"].as_str().expect("id")))
        .await;
    assert_eq!(a.code(), "consent_missing");
    // An expired consent does not either.
    let mut body = consent_body(&iin);
    body["expires_at"] = json!("2026-01-02T10:00:00Z");
    let r = app
        .post("/v1/consents", Some(app.token(Role::Underwriting)), &body)
        .await;
    assert_eq!(r.status, 201);
    let a = app
        .credit_report(&iin, Some(r.body["consent_id"].as_str().expect("id")))
        .await;
    assert_eq!(a.code(), "consent_missing");

    assert_eq!(app.mock().calls(), 0, "nothing reached the bureau");
}

#[tokio::test]
async fn consents_are_validated_and_role_checked() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    let uw = Some(app.token(Role::Underwriting));
    let cases = [
        ("subject_iin", json!("123456789012"), "invalid_iin"),
        // Given as a number or null: an IIN problem, as in an exchange, not a type error.
        ("subject_iin", json!(870525301012u64), "invalid_iin"),
        ("subject_iin", json!(null), "invalid_iin"),
        ("recipients", json!([]), "invalid_value"),
        ("recipients", json!(["nsa"]), "invalid_value"),
        ("purposes", json!(["world_domination"]), "invalid_value"),
        ("channel", json!("pigeon"), "invalid_value"),
        ("granted_at", json!("yesterday"), "invalid_value"),
        ("granted_at", json!("2999-01-01T00:00:00Z"), "invalid_value"),
        // The demo subject was born on 25 May 1987: no consent of theirs is older.
        ("granted_at", json!("1987-05-24T23:00:00Z"), "invalid_value"),
        ("expires_at", json!("2025-01-01T00:00:00Z"), "invalid_value"),
        ("evidence", json!(""), "invalid_value"),
        ("colour", json!("red"), "unknown_field"),
    ];
    for (key, value, code) in cases {
        let mut body = consent_body(&iin);
        body[key] = value;
        let a = app.post("/v1/consents", uw, &body).await;
        assert_eq!(a.code(), code, "{key}: {}", a.body);
        assert_eq!(a.status, 422, "{key}");
        assert!(!a.body.to_string().contains("pigeon") || key != "channel");
        assert_eq!(a.body["error"]["fields"], json!([key]), "{}", a.body);
    }
    let a = app
        .post(
            "/v1/consents",
            Some(app.token(Role::Auditor)),
            &consent_body(&iin),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, "forbidden_role"));
    let a = app.post("/v1/consents", None, &consent_body(&iin)).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    let a = app
        .delete("/v1/consents/0190c3c4-0000-7000-8000-000000000000", uw)
        .await;
    assert_eq!(a.status, 404);
    let a = app.delete("/v1/consents/not-a-uuid", uw).await;
    assert_eq!(a.status, 422);
}
