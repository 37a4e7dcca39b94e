//! The client against a tiny in-test SHEP on port 0: it answers the first calls with HTTP 503,
//! then with the mock authority's answer to the request's payload. Proves that the lookup
//! retries a transient fault when safe and that the user mark is never retried. No sleeps.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use kuzet_ident::Iin;
use kuzet_mocks::traffic as mock;
use kuzet_shep::{EcdsaP256Signer, ShepConfig};
use kuzet_traffic::{TrafficClient, TrafficConfig, UserMarkRequest, VehicleRequest};
use kuzet_transport::{GuardConfig, Retry};

const VEHICLE_SERVICE: &str = "MVD_TRAFFIC_VEHICLE";
const MARK_SERVICE: &str = "MVD_TRAFFIC_USER_MARK";

struct Shep {
    /// Calls received.
    calls: AtomicU32,
    /// The first this many calls get HTTP 503.
    fail_first: u32,
}

/// The content of the first `<data>` element of the envelope (ours has no nested `data`).
fn request_data(body: &str) -> &str {
    let start = body.find("<data>").unwrap() + "<data>".len();
    let end = body.rfind("</data>").unwrap();
    &body[start..end]
}

fn field<'a>(body: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = body.find(&open).unwrap() + open.len();
    let end = body[start..].find('<').unwrap() + start;
    &body[start..end]
}

async fn send_message(
    State(shep): State<Arc<Shep>>,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let xml = [(header::CONTENT_TYPE, "text/xml; charset=utf-8")];
    let n = shep.calls.fetch_add(1, Ordering::SeqCst);
    if n < shep.fail_first {
        return (StatusCode::SERVICE_UNAVAILABLE, xml, String::new());
    }
    let body = std::str::from_utf8(&body).unwrap();
    let data = request_data(body);
    let answer = match field(body, "serviceId") {
        VEHICLE_SERVICE => mock::vehicle_answer(data).unwrap(),
        MARK_SERVICE => mock::user_mark_answer(data).unwrap(),
        other => panic!("unknown service {other}"),
    };
    let envelope = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>answer-{n}</messageId><correlationId>{corr}</correlationId><responseDate>2026-03-02T15:15:31.004+06:00</responseDate><status><code>SCSS001</code><message>ok</message></status><sessionId>session-{n}</sessionId></responseInfo><responseData><data>{answer}</data></responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>"#,
        corr = field(body, "correlationId"),
    );
    (StatusCode::OK, xml, envelope)
}

async fn spawn(fail_first: u32) -> (String, Arc<Shep>) {
    let shep = Arc::new(Shep {
        calls: AtomicU32::new(0),
        fail_first,
    });
    let app = Router::new()
        .route("/bip-sync/", post(send_message))
        .with_state(shep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/bip-sync/"), shep)
}

fn signer() -> EcdsaP256Signer {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["kuzet test gateway".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    EcdsaP256Signer::from_pkcs8(&key.serialize_der(), cert.der().to_vec()).unwrap()
}

fn client(url: &str) -> TrafficClient {
    let mut config = TrafficConfig::new(
        VEHICLE_SERVICE,
        MARK_SERVICE,
        ShepConfig::new(url, "KUZET_TEST", "test-password"),
    );
    config.resilience = GuardConfig {
        retry_max_attempts: 3,
        retry_initial_backoff_ms: 1,
        retry_max_backoff_ms: 2,
        retry_budget_min_per_second: 10,
        ..GuardConfig::default()
    };
    TrafficClient::new(config, Arc::new(signer())).unwrap()
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
}

fn iin() -> Iin {
    Iin::parse("870525301012").unwrap()
}

#[tokio::test]
async fn the_lookup_retries_a_transient_fault_when_safe() {
    let (url, shep) = spawn(2).await;
    let c = client(&url);
    let answer = c
        .vehicle(&VehicleRequest::ByIin(iin()), deadline(), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(shep.calls.load(Ordering::SeqCst), 3);
    let stats = c.guard_stats();
    assert_eq!((stats.attempts, stats.retries), (3, 2));
    let user = answer.vehicle_status.user.unwrap();
    assert_eq!(user.iin.unwrap(), iin());
    assert_eq!(answer.shep.service_id, VEHICLE_SERVICE);
    assert_eq!(answer.shep.response_message_id.as_deref(), Some("answer-2"));
    assert_eq!(answer.shep.session_id.as_deref(), Some("session-2"));
    assert!(answer.shep.correlation_id.is_some());
    assert_eq!(c.breaker_state().as_str(), "closed");
}

#[tokio::test]
async fn the_lookup_is_not_retried_when_the_caller_forbids_it() {
    let (url, shep) = spawn(1).await;
    let err = client(&url)
        .vehicle(&VehicleRequest::ByIin(iin()), deadline(), Retry::Never)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "http_status");
    assert!(err.is_transient());
    assert_eq!(shep.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn not_found_is_an_answer_and_not_retried() {
    let (url, shep) = spawn(0).await;
    let c = client(&url);
    let err = c
        .vehicle(
            &VehicleRequest::ByIin(Iin::parse(mock::IIN_NOT_FOUND).unwrap()),
            deadline(),
            Retry::Safe,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(err.shep_ids().unwrap().service_id, VEHICLE_SERVICE);
    assert_eq!(shep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(c.guard_stats().failed_attempts, 0);
}

fn mark() -> UserMarkRequest {
    UserMarkRequest {
        user_iin: iin(),
        user_full_name: "Ахметов Арман Серикович".into(),
        contract_number: "KZT-2026/0001".into(),
        advance_account_number: "KZ000000000000000001".into(),
    }
}

#[tokio::test]
async fn the_user_mark_is_never_retried() {
    let (url, shep) = spawn(1).await;
    let c = client(&url);
    let err = c.user_mark(&mark(), deadline()).await.unwrap_err();
    assert_eq!(err.code(), "http_status");
    assert!(err.is_transient());
    assert_eq!(shep.calls.load(Ordering::SeqCst), 1);
    assert_eq!(c.guard_stats().retries, 0);

    // The same client, the fault gone: one call, one acknowledgement.
    let answer = c.user_mark(&mark(), deadline()).await.unwrap();
    assert_eq!(shep.calls.load(Ordering::SeqCst), 2);
    assert!(answer.user_mark.accepted);
    assert!(answer.user_mark.mark_id.unwrap().starts_with("UM-"));
    assert_eq!(answer.shep.service_id, MARK_SERVICE);
}

#[tokio::test]
async fn an_internal_error_of_the_authority_is_not_retried_for_a_mark() {
    let (url, shep) = spawn(0).await;
    let mut m = mark();
    m.user_iin = Iin::parse(mock::IIN_AUTHORITY_ERROR).unwrap();
    let err = client(&url).user_mark(&m, deadline()).await.unwrap_err();
    assert_eq!(err.code(), "authority_internal_error");
    assert_eq!(shep.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_past_deadline_or_an_invalid_mark_calls_nobody() {
    let (url, shep) = spawn(0).await;
    let c = client(&url);
    let err = c
        .vehicle(
            &VehicleRequest::ByIin(iin()),
            Some(Instant::now()),
            Retry::Safe,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout");
    let mut m = mark();
    m.user_full_name.clear();
    let err = c.user_mark(&m, deadline()).await.unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert_eq!(shep.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn the_configuration_is_checked_and_strict() {
    let config: TrafficConfig = toml::from_str(
        r#"
        vehicle_service_id = "MVD_VEHICLE"
        user_mark_service_id = "MVD_USER_MARK"
        [shep]
        endpoint_url = "https://shep.test/bip-sync-wss-gost/"
        sender_id = "KUZET"
        password = "secret"
        [resilience]
        retry_max_attempts = 2
        "#,
    )
    .unwrap();
    assert_eq!(config.purpose, kuzet_traffic::DEFAULT_PURPOSE);
    assert_eq!(config.resilience.retry_max_attempts, 2);
    assert!(!format!("{config:?}").contains("secret"));
    assert!(
        toml::from_str::<TrafficConfig>(
            r#"
            vehicle_service_id = "a"
            user_mark_service_id = "b"
            surprise = 1
            [shep]
            endpoint_url = "https://shep.test/"
            sender_id = "KUZET"
            password = "p"
            "#
        )
        .is_err()
    );
    let mut bad = config.clone();
    bad.user_mark_service_id = " ".into();
    let err = TrafficClient::new(bad, Arc::new(signer())).unwrap_err();
    assert_eq!(err.code(), "config_error");
    let mut bad = config;
    bad.shep.endpoint_url = "ftp://shep.test/".into();
    assert!(TrafficClient::new(bad, Arc::new(signer())).is_err());
}
