//! Bad input gets a clear, stable error and loses nothing; nothing reaches the bureau.

mod common;

use common::{TestApp, demo_iin};
use kuzet::contract::Role;
use kuzet::transfer_log::Kind;
use serde_json::json;

const PATH: &str = "/v1/exchange/fcb/credit-report";

fn request(iin: serde_json::Value) -> serde_json::Value {
    json!({"purpose": "contract_performance", "reference": "APP-9", "data": {"subject": {"iin": iin}}})
}

#[tokio::test]
async fn invalid_iins_are_422_invalid_iin() {
    let app = TestApp::spawn().await;
    let good = demo_iin();
    let mut bad_check = good.clone().into_bytes();
    bad_check[11] = b'0' + (bad_check[11] - b'0' + 1) % 10;
    let bad_check = String::from_utf8(bad_check).expect("ascii");
    let cases = [
        json!(bad_check),
        json!("870230300015"),  // 30 February
        json!("871305300015"),  // month 13
        json!("870525000015"),  // century digit 0
        json!("870525900015"),  // century digit 9
        json!("87052530001a"),  // a letter
        json!("87052530001"),   // 11 digits
        json!("8705253000151"), // 13 digits
        json!(""),
        json!(870525300015u64), // a number, not a string
    ];
    for iin in cases {
        let a = app
            .post(
                PATH,
                Some(app.token(Role::Underwriting)),
                &request(iin.clone()),
            )
            .await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_iin"),
            "{iin}: {}",
            a.body
        );
        assert_eq!(a.body["error"]["fields"], json!(["subject.iin"]));
        if let Some(s) = iin.as_str()
            && !s.is_empty()
        {
            assert!(
                !a.body.to_string().contains(s),
                "the value must not be echoed"
            );
        }
    }
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn unknown_members_and_fields_are_422_unknown_field() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    let uw = Some(app.token(Role::Underwriting));
    let mut body = request(json!(iin));
    body["priority"] = json!("high");
    let a = app.post(PATH, uw, &body).await;
    assert_eq!((a.status, a.code()), (422, "unknown_field"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["priority"]));

    let body = json!({"purpose": "contract_performance",
        "data": {"subject": {"iin": iin, "shoe_size": 44}}});
    let a = app.post(PATH, uw, &body).await;
    assert_eq!((a.status, a.code()), (422, "unknown_field"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["subject.shoe_size"]));

    // A personal value used as a key never comes back, nor goes into the log.
    let body = json!({"purpose": "contract_performance",
        "data": {"subject": {"iin": iin, (iin.clone()): true}}});
    let a = app.post(PATH, uw, &body).await;
    assert_eq!((a.status, a.code()), (422, "unknown_field"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["subject.<?>"]));
    assert!(!a.body.to_string().contains(&iin));
    let entries = app.all_entries().await;
    assert!(
        entries
            .iter()
            .all(|e| e.denied.iter().all(|d| !d.contains(&iin)))
    );
    assert_eq!(app.mock().calls(), 0);
}

/// JSON with a member named twice in one object is ambiguous (serde_json would keep the last):
/// refused with 422 naming the member, at any depth, before anything is sent or logged.
#[tokio::test]
async fn a_member_given_twice_is_422_naming_it_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    app.consent(&iin).await;
    let uw = Some(app.token(Role::Underwriting));
    let other = kuzet_ident::Iin::synthesize(time::macros::date!(1991 - 02 - 03), true, 7)
        .expect("iin")
        .expose()
        .to_owned();
    for (body, field) in [
        (
            format!(
                r#"{{"purpose":"contract_performance","data":{{"subject":{{"iin":"{iin}","iin":"{other}"}}}}}}"#
            ),
            "data.subject.iin",
        ),
        (
            format!(
                r#"{{"purpose":"contract_performance","data":{{"subject":{{"iin":"{iin}"}},"subject":{{"iin":"{other}"}}}}}}"#
            ),
            "data.subject",
        ),
        (
            format!(
                r#"{{"purpose":"contract_performance","purpose":"marketing","data":{{"subject":{{"iin":"{iin}"}}}}}}"#
            ),
            "purpose",
        ),
        // A personal value used as the key is not repeated.
        (
            format!(
                r#"{{"purpose":"contract_performance","data":{{"subject":{{"iin":"{iin}"}},"{other}":1,"{other}":2}}}}"#
            ),
            "data.<?>",
        ),
    ] {
        let a = app.post_raw(PATH, uw, body.clone().into_bytes()).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{body}: {}",
            a.body
        );
        assert_eq!(a.body["error"]["fields"], json!([field]), "{body}");
        assert!(!a.body.to_string().contains(&other), "{}", a.body);
    }
    // A consent too.
    let mut consent = common::consent_body(&iin).to_string();
    consent.pop();
    consent.push_str(r#","evidence":"otp:second"}"#);
    let a = app
        .post_raw("/v1/consents", uw, consent.clone().into_bytes())
        .await;
    assert_eq!(
        (a.status, a.code()),
        (422, "invalid_value"),
        "{consent}: {}",
        a.body
    );
    assert_eq!(a.body["error"]["fields"], json!(["evidence"]));
    assert_eq!(app.mock().calls(), 0);
    assert!(app.all_entries().await.is_empty(), "nothing logged");
}

/// The bureau upload is the reporting job's, not an exchange of the API: whoever calls it over
/// HTTP is told so (404 with the way to run it), not asked for an idempotency key or told that
/// it has no adapter.
#[tokio::test]
async fn the_contract_upload_is_not_an_api_exchange() {
    let app = TestApp::spawn().await;
    for role in [Role::Reporting, Role::Underwriting] {
        let resp = app
            .http
            .post(app.url("/v1/exchange/fcb/contract-upload"))
            .bearer_auth(app.token(role))
            .header("idempotency-key", "upload-1")
            .json(&json!({"purpose": "contract_performance", "data": {"loan": {}}}))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 404);
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unknown_operation", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("kuzet report run"), "{message}");
    }
    assert!(app.all_entries().await.is_empty());
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn a_field_off_the_send_list_is_403_and_logged_as_denied() {
    let app = TestApp::spawn().await;
    let iin = demo_iin();
    app.consent(&iin).await;
    let body = json!({"purpose": "contract_performance", "reference": "APP-7",
        "data": {"subject": {"iin": iin, "phone": "+77010000000", "email": "a@b.kz"}}});
    let a = app
        .post(PATH, Some(app.token(Role::Underwriting)), &body)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (403, "field_not_allowed"),
        "{}",
        a.body
    );
    assert_eq!(
        a.body["error"]["fields"],
        json!(["subject.email", "subject.phone"])
    );
    assert!(!a.body.to_string().contains("+7701"));
    assert_eq!(app.mock().calls(), 0);

    // The denied entry names the paths, and nothing was logged as sent.
    let entries = app.all_entries().await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].kind, Kind::Denied);
    assert_eq!(entries[0].denied, vec!["subject.email", "subject.phone"]);
    assert_eq!(entries[0].outcome, "denied:field_not_allowed");
    assert_eq!(entries[0].reference.as_deref(), Some("APP-7"));
    // About the subject named in the request (so their access report lists the refusal).
    let subject = app
        .app
        .gateway
        .log()
        .subject_index(&kuzet_ident::Iin::parse(&iin).expect("iin"));
    assert_eq!(entries[0].subject, Some(subject));
}

#[tokio::test]
async fn roles_tokens_purposes_and_operations_are_checked() {
    let app = TestApp::spawn().await;
    let body = request(json!(demo_iin()));
    for role in [Role::Reporting, Role::Servicing, Role::Auditor, Role::Admin] {
        let a = app.post(PATH, Some(app.token(role)), &body).await;
        assert_eq!((a.status, a.code()), (403, "forbidden_role"), "{role:?}");
    }
    let a = app.post(PATH, None, &body).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    let a = app.post(PATH, Some("kz_not-a-token"), &body).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));

    // A revoked client's token stops working at once.
    app.app
        .gateway
        .registry()
        .revoke_client("test-underwriting")
        .expect("revoke");
    let a = app
        .post(PATH, Some(app.token(Role::Underwriting)), &body)
        .await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));

    let app = TestApp::spawn().await;
    let uw = Some(app.token(Role::Underwriting));
    let mut marketing = body.clone();
    marketing["purpose"] = json!("marketing");
    let a = app.post(PATH, uw, &marketing).await;
    assert_eq!(
        (a.status, a.code()),
        (403, "purpose_not_allowed"),
        "{}",
        a.body
    );
    let a = app.post("/v1/exchange/fcb/everything", uw, &body).await;
    assert_eq!((a.status, a.code()), (404, "unknown_operation"));
    let a = app.post("/v1/exchange/cia/credit-report", uw, &body).await;
    assert_eq!((a.status, a.code()), (404, "unknown_operation"));
    // The operation is looked up before the body is read: whatever an unknown operation is
    // sent, it is told it does not exist.
    for raw in [&b"{}"[..], b"not json", b""] {
        let a = app
            .post_raw("/v1/exchange/fcb/everything", uw, raw.to_vec())
            .await;
        assert_eq!(
            (a.status, a.code()),
            (404, "unknown_operation"),
            "{}",
            a.body
        );
    }
    // Without a token the caller learns nothing about operations.
    let a = app
        .post_raw("/v1/exchange/fcb/everything", None, b"{}".to_vec())
        .await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_405_in_the_api_shape() {
    let app = TestApp::spawn().await;
    let a = app.get(PATH, Some(app.token(Role::Underwriting))).await;
    assert_eq!(
        (a.status, a.code()),
        (405, "method_not_allowed"),
        "{}",
        a.body
    );
    let resp = reqwest::Client::new()
        .delete(app.url("/v1/consents"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST"),
        "the methods the route takes"
    );
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let app = TestApp::spawn().await;
    let uw = Some(app.token(Role::Underwriting));
    let a = app.post_raw(PATH, uw, b"{\"purpose\": ".to_vec()).await;
    assert_eq!(
        (a.status, a.code()),
        (400, "malformed_request"),
        "{}",
        a.body
    );
    let a = app.post_raw(PATH, uw, b"not json".to_vec()).await;
    assert_eq!((a.status, a.code()), (400, "malformed_request"));
    let a = app.post(PATH, uw, &json!({"purpose": 5, "data": {}})).await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    let a = app.post(PATH, uw, &json!({"data": {}})).await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    // A missing member is named by its own path.
    assert_eq!(a.body["error"]["fields"], json!(["purpose"]), "{}", a.body);
    let a = app
        .post(
            "/v1/consents",
            uw,
            &json!({"subject_iin": demo_iin(), "recipients": ["fcb"]}),
        )
        .await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["purposes"]), "{}", a.body);
    let a = app
        .post(
            PATH,
            uw,
            &json!({"purpose": "contract_performance", "data": [1]}),
        )
        .await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["data"]));
    let a = app
        .post(PATH, uw, &json!({"purpose": "contract_performance"}))
        .await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["subject.iin"]));

    let mut big = request(json!(demo_iin()));
    big["reference"] = json!("x".repeat(70 * 1024));
    let a = app.post(PATH, uw, &big).await;
    assert_eq!((a.status, a.code()), (413, "body_too_large"), "{}", a.body);
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn an_empty_payload_sends_nothing() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            PATH,
            Some(app.token(Role::Underwriting)),
            &json!({"purpose": "contract_performance", "data": {}}),
        )
        .await;
    // The bureau needs the subject's IIN: nothing is sent without it.
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["subject.iin"]));
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn anything_after_the_json_value_is_a_malformed_request() {
    let app = TestApp::spawn().await;
    let mut body = serde_json::to_vec(&common::consent_body(&common::demo_iin())).expect("json");
    body.extend_from_slice(b" {\"more\": 1}");
    let a = app
        .post_raw(
            "/v1/consents",
            Some(app.token(kuzet::contract::Role::Underwriting)),
            body,
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (400, "malformed_request"),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn a_body_given_as_an_array_of_values_is_refused_and_broken_json_is_malformed_anywhere() {
    let app = TestApp::spawn().await;
    let uw = Some(app.token(Role::Underwriting));
    let iin = demo_iin();
    // serde_json alone reads a struct from an array of its fields in declaration order; each
    // of these would be a valid consent, exchange or applicant check that way.
    for (path, positional) in [
        (
            "/v1/consents",
            json!([
                iin,
                ["fcb"],
                ["contract_performance"],
                "2026-01-01T10:00:00Z",
                "app",
                "otp:1",
                null
            ]),
        ),
        (
            PATH,
            json!(["contract_performance", null, "APP-1", {"subject": {"iin": iin}}]),
        ),
        (
            "/v1/applicants/check",
            json!(["contract_performance", null, "APP-1", {"subject": {"iin": iin}}]),
        ),
    ] {
        let a = app.post(path, uw, &positional).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{path}: {}",
            a.body
        );
        let message = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("expected a JSON object"),
            "{path}: {message}"
        );
    }
    // A body that breaks off is malformed even where a wrong type comes first.
    for broken in [&b"[1, 2"[..], b"{\"purpose\": 5, \"data\": ", b"[\"x\", "] {
        let a = app.post_raw("/v1/consents", uw, broken.to_vec()).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "malformed_request"),
            "{}",
            a.body
        );
        let a = app.post_raw(PATH, uw, broken.to_vec()).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "malformed_request"),
            "{}",
            a.body
        );
    }
    // Nothing was recorded or sent.
    let a = app
        .post(
            PATH,
            uw,
            &json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, "consent_missing"), "{}", a.body);
    assert_eq!(app.mock().calls(), 0);
}

#[tokio::test]
async fn references_and_evidence_are_counted_in_characters_take_no_control_characters_and_are_never_empty()
 {
    let app = TestApp::spawn().await;
    let uw = Some(app.token(Role::Underwriting));
    for bad in [
        "APP-1\n   Outcome: forged",
        "APP\u{1b}[2J",
        "A\tB",
        "A\u{0}B",
        "A\u{85}B",
    ] {
        let mut body = common::consent_body(&demo_iin());
        body["evidence"] = json!(format!("otp:{bad}"));
        let a = app.post("/v1/consents", uw, &body).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{bad:?}: {}",
            a.body
        );
        assert_eq!(a.body["error"]["fields"], json!(["evidence"]));
        let mut body = request(json!(demo_iin()));
        body["reference"] = json!(bad);
        let a = app.post(PATH, uw, &body).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{bad:?}: {}",
            a.body
        );
        assert_eq!(a.body["error"]["fields"], json!(["reference"]));
    }
    // An empty reference names nothing an auditor could look up: it is left out or given.
    for empty in ["", "   "] {
        let mut body = request(json!(demo_iin()));
        body["reference"] = json!(empty);
        let a = app.post(PATH, uw, &body).await;
        assert_eq!(
            (a.status, a.code()),
            (422, "invalid_value"),
            "{empty:?}: {}",
            a.body
        );
        assert_eq!(a.body["error"]["fields"], json!(["reference"]));
    }
    assert_eq!(app.mock().calls(), 0, "nothing was sent");
    // 128 characters of Cyrillic (256 bytes) is within the limit; 129 is not.
    let consent = app
        .post("/v1/consents", uw, &common::consent_body(&demo_iin()))
        .await;
    assert_eq!(consent.status, 201, "{}", consent.body);
    let mut body = request(json!(demo_iin()));
    body["reference"] = json!("Ж".repeat(129));
    let a = app.post(PATH, uw, &body).await;
    assert_eq!((a.status, a.code()), (422, "invalid_value"), "{}", a.body);
    body["reference"] = json!("Ж".repeat(128));
    let a = app.post(PATH, uw, &body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut body = common::consent_body(&demo_iin());
    body["evidence"] = json!("Ж".repeat(256));
    let a = app.post("/v1/consents", uw, &body).await;
    assert_eq!(a.status, 201, "{}", a.body);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_two_authorization_headers_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Auditor);
    let get = |value: Vec<String>| {
        let mut req = app.http.get(app.url("/v1/transfers?limit=1"));
        for v in value {
            req = req.header("authorization", v);
        }
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.expect("json");
            (status, body)
        }
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, body) = get(vec![format!("{scheme} {token}")]).await;
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    for values in [
        vec![format!("Bearer {token}"), format!("Bearer {token}")],
        vec![format!("Bearer {token}"), "Bearer kz_other".to_owned()],
        vec![format!("Basic {token}")],
        vec!["Bearer".to_owned()],
        vec!["Bearer    ".to_owned()],
        vec![format!("Bearer{token}")],
    ] {
        let (status, body) = get(values.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthenticated")),
            "{values:?}: {body}"
        );
    }
}
