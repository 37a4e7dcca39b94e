//! The control endpoint and the journal, black-box over HTTP, on the bureau mock.

use std::time::Duration;

use kuzet_mocks::control::{Control, JournalEntry};
use kuzet_mocks::fcb::{self, FcbMockOptions, SERVICE_PATH};
use kuzet_mocks::{Knobs, Running};
use serde_json::{Value, json};

const GET_REPORT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://ws.creditinfo.com/">
  <soapenv:Header><ws:CigWsHeader><ws:Culture>ru-RU</ws:Culture><ws:UserName>kuzet-demo</ws:UserName><ws:Password>demo-password</ws:Password></ws:CigWsHeader></soapenv:Header>
  <soapenv:Body><ws:GetReport><ws:reportId>6</ws:reportId><ws:doc><keyValue><reportImportCode>6</reportImportCode><idNumber>870525301012</idNumber><idNumberType>14</idNumberType><ConsentConfirmed>1</ConsentConfirmed></keyValue></ws:doc></ws:GetReport></soapenv:Body>
</soapenv:Envelope>"#;

async fn server() -> (Running, Knobs) {
    let knobs = Knobs::default();
    let control = Control::default().with_party("fcb", knobs.clone());
    let fcb = control.journaled(
        "fcb",
        fcb::router_with_knobs(FcbMockOptions::default(), knobs.clone()),
    );
    let router = control.router().fallback_service(fcb);
    let running = Running::serve("127.0.0.1:0".parse().expect("addr"), router, knobs.clone())
        .await
        .expect("serve");
    (running, knobs)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn report(m: &Running) -> u16 {
    match client()
        .post(m.url(SERVICE_PATH))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"http://ws.creditinfo.com/GetReport\"")
        .body(GET_REPORT)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        // A dropped connection.
        Err(_) => 0,
    }
}

async fn control(m: &Running, body: Value) -> (u16, String) {
    let r = client()
        .post(m.url("/__mock/faults"))
        .json(&body)
        .send()
        .await
        .expect("control");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

async fn journal(m: &Running) -> Vec<JournalEntry> {
    let v: Value = client()
        .get(m.url("/__mock/journal"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    serde_json::from_value(v["entries"].clone()).expect("entries")
}

#[tokio::test]
async fn faults_apply_to_the_next_n_calls_and_the_journal_lists_every_call() {
    let (m, _knobs) = server().await;
    assert_eq!(report(&m).await, 200);
    let (status, body) =
        control(&m, json!({"party": "fcb", "fault": "http_503", "count": 2})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(report(&m).await, 503);
    assert_eq!(report(&m).await, 503);
    assert_eq!(report(&m).await, 200);
    let (status, _) = control(&m, json!({"party": "fcb", "fault": "reset"})).await;
    assert_eq!(status, 204);
    assert_eq!(report(&m).await, 0, "the connection is dropped");
    assert_eq!(report(&m).await, 200);

    let entries = journal(&m).await;
    assert_eq!(entries.len(), 6, "{entries:?}");
    assert!(entries.iter().all(|e| e.party == "fcb"));
    assert!(
        entries.iter().all(|e| e.operation == "GetReport"),
        "{entries:?}"
    );
    assert!(entries.iter().all(|e| e.records.is_none()));
    let times: Vec<_> = entries
        .iter()
        .map(|e| {
            time::OffsetDateTime::parse(&e.at, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order");
    // No request value in the journal.
    let raw = serde_json::to_string(&entries).expect("json");
    assert!(!raw.contains("870525301012"));
}

#[tokio::test]
async fn soap_faults_codes_latency_and_clearing() {
    let (m, knobs) = server().await;
    let (status, _) = control(
        &m,
        json!({"party": "fcb", "fault": "soap_fault", "code": "1111"}),
    )
    .await;
    assert_eq!(status, 204);
    // The bureau's own error answer (HTTP 200 with CigResultError 1111).
    assert_eq!(report(&m).await, 200);
    let (status, _) = control(
        &m,
        json!({"party": "fcb", "fault": "latency", "latency_ms": 1500, "count": 3}),
    )
    .await;
    assert_eq!(status, 204);
    // Read the plan straight from the knobs: exact, no timing.
    assert_eq!(knobs.begin_call().latency, Duration::from_millis(1500));
    let (status, _) = control(
        &m,
        json!({"party": "fcb", "fault": "malformed_xml", "count": 5}),
    )
    .await;
    assert_eq!(status, 204);
    let r = client()
        .delete(m.url("/__mock/faults"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    let plan = knobs.begin_call();
    assert_eq!((plan.latency, plan.fault), (Duration::ZERO, None));
    assert_eq!(report(&m).await, 200);
}

#[tokio::test]
async fn bad_control_requests_say_what_is_wrong() {
    let (m, _) = server().await;
    for (body, needle) in [
        (
            json!({"party": "nobody", "fault": "http_500"}),
            "unknown party",
        ),
        (
            json!({"party": "fcb", "fault": "gremlins"}),
            "unknown fault",
        ),
        (json!({"party": "fcb", "fault": "latency"}), "latency_ms"),
        (
            json!({"party": "fcb", "fault": "http_500", "count": 0}),
            "count",
        ),
        (
            json!({"party": "fcb", "fault": "soap_fault", "code": "x1"}),
            "not a number",
        ),
        (
            json!({"party": "fcb", "fault": "http_500", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, text) = control(&m, body.clone()).await;
        assert_eq!(status, 422, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    // Nothing was applied.
    assert_eq!(report(&m).await, 200);
}
