//! The client against a tiny in-test SHEP: it checks the signature and the SOAPAction of every
//! request, then answers as configured. Port 0, no sleeps.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use common::{TestPki, config, fixed_request};
use kuzet_shep::{RingVerifier, ShepClient, ShepError, verify_envelope};

#[derive(Clone, Copy)]
enum Answer {
    Success,
    Status,
    Fault,
    Unavailable,
}

struct Shep {
    ca_der: Vec<u8>,
    answer: Answer,
    verified: AtomicUsize,
}

async fn send_message(
    State(shep): State<Arc<Shep>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let xml = [(header::CONTENT_TYPE, "text/xml; charset=utf-8")];
    if headers.get("SOAPAction").and_then(|v| v.to_str().ok()) != Some("\"\"") {
        return (StatusCode::BAD_REQUEST, xml, "no SOAPAction".into());
    }
    if let Err(e) = verify_envelope(&body, &RingVerifier, Some(&shep.ca_der)) {
        let fault = std::fs::read_to_string("tests/fixtures/soap-fault-plain.xml")
            .unwrap()
            .replace("Unmarshalling error: unexpected element", e.code());
        return (StatusCode::INTERNAL_SERVER_ERROR, xml, fault);
    }
    shep.verified.fetch_add(1, Ordering::SeqCst);
    let fixture = |name: &str| std::fs::read_to_string(format!("tests/fixtures/{name}")).unwrap();
    match shep.answer {
        Answer::Success => (StatusCode::OK, xml, fixture("response-success.xml")),
        Answer::Status => (StatusCode::OK, xml, fixture("response-status-error.xml")),
        Answer::Fault => (
            StatusCode::INTERNAL_SERVER_ERROR,
            xml,
            fixture("fault-nested.xml"),
        ),
        Answer::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, xml, String::new()),
    }
}

/// Starts the test SHEP on port 0; returns its URL and state.
async fn spawn(ca_der: Vec<u8>, answer: Answer) -> (String, Arc<Shep>) {
    let shep = Arc::new(Shep {
        ca_der,
        answer,
        verified: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/bip-sync/", post(send_message))
        .with_state(shep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/bip-sync/"), shep)
}

fn client(url: &str, pki: &TestPki) -> ShepClient {
    ShepClient::new(config(url), Arc::new(pki.signer())).unwrap()
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
}

#[tokio::test]
async fn a_signed_request_is_verified_and_answered() {
    let pki = TestPki::generate("a");
    let (url, shep) = spawn(pki.ca_der.clone(), Answer::Success).await;
    let request = fixed_request();
    let answer = client(&url, &pki).send(&request, deadline()).await.unwrap();
    assert_eq!(shep.verified.load(Ordering::SeqCst), 1);
    assert_eq!(answer.message_id, request.message_id);
    assert_eq!(
        answer.response_message_id.as_deref(),
        Some("7c1f3a52-9d2e-4b8a-a1c3-5e6f7a8b9c0d")
    );
    assert_eq!(answer.service_id, "GCVP_TEST_SERVICE");
    assert_eq!(answer.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(
        answer.session_id.as_deref(),
        Some("{f0774397-4fcd-484a-9434-f71535ee4326}")
    );
    assert_eq!(answer.status.code, "SCSS001");
    assert!(answer.data.unwrap().starts_with("<ns3:iin>"));
    assert!(answer.bytes_received > 0);
}

#[tokio::test]
async fn a_request_signed_under_another_ca_is_refused_by_the_server() {
    let trusted = TestPki::generate("trusted");
    let other = TestPki::generate("other");
    let (url, shep) = spawn(trusted.ca_der.clone(), Answer::Success).await;
    let err = client(&url, &other)
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShepError::SoapFault { message, .. } if message == "certificate_untrusted"),
        "{err}"
    );
    assert_eq!(shep.verified.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_non_success_status_is_a_typed_error() {
    let pki = TestPki::generate("a");
    let (url, _) = spawn(pki.ca_der.clone(), Answer::Status).await;
    let err = client(&url, &pki)
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ShepError::Status { code, .. } if code == "SE002"),
        "{err}"
    );
    assert_eq!(err.code(), "shep_status");
    assert!(err.is_transient());
}

#[tokio::test]
async fn faults_and_unavailability_are_classified() {
    let pki = TestPki::generate("a");
    let (url, _) = spawn(pki.ca_der.clone(), Answer::Fault).await;
    let err = client(&url, &pki)
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "shep_fault");

    let (url, _) = spawn(pki.ca_der.clone(), Answer::Unavailable).await;
    let err = client(&url, &pki)
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, ShepError::HttpStatus { status: 503 }));
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_past_deadline_and_a_bad_payload_send_nothing() {
    let pki = TestPki::generate("a");
    let (url, shep) = spawn(pki.ca_der.clone(), Answer::Success).await;
    let c = client(&url, &pki);
    let err = c
        .send(&fixed_request(), Some(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout");
    let mut request = fixed_request();
    request.data = "<unclosed>".into();
    let err = c.send(&request, deadline()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_payload");
    assert_eq!(shep.verified.load(Ordering::SeqCst), 0);
}

#[test]
fn the_client_refuses_a_configuration_it_cannot_use() {
    let pki = TestPki::generate("a");
    let err = ShepClient::new(config("ftp://shep.test/"), Arc::new(pki.signer())).unwrap_err();
    assert_eq!(err.code(), "config_error");
    let mut cfg = config("http://shep.test/");
    cfg.success_status_codes.clear();
    assert!(ShepClient::new(cfg, Arc::new(pki.signer())).is_err());
}

#[tokio::test]
async fn the_transient_codes_are_the_configured_ones() {
    let pki = TestPki::generate("a");
    let (status_url, _) = spawn(pki.ca_der.clone(), Answer::Status).await;
    let (fault_url, _) = spawn(pki.ca_der.clone(), Answer::Fault).await;
    let with_codes = |url: &str, codes: &[&str]| {
        let mut c = config(url);
        c.transient_error_codes = codes.iter().map(|c| (*c).to_owned()).collect();
        ShepClient::new(c, Arc::new(pki.signer())).unwrap()
    };
    // SE002 is transient by default; a channel whose agreement lists other codes says no.
    let err = with_codes(&status_url, &["X-BUSY"])
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let err = with_codes(&status_url, &["se002"])
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "compared without case: {err}");
    // A fault is transient when any level of it carries a listed code.
    let ShepError::Fault(info) = client(&fault_url, &pki)
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err()
    else {
        panic!("a fault");
    };
    let codes: Vec<String> = info.chain().map(|e| e.code.clone()).collect();
    let deepest = codes.last().expect("a code").clone();
    let err = with_codes(&fault_url, &[deepest.as_str()])
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{codes:?}: {err}");
    let err = with_codes(&fault_url, &[])
        .send(&fixed_request(), deadline())
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{codes:?}: {err}");
}
