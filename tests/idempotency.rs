//! Writes need an `Idempotency-Key`; a repeat gets the first answer without a second call.
//!
//! The only writes reachable over HTTP are the traffic authority's user mark; to test the
//! mechanism against the mock bureau, these tests run with a copy of the contracts in which the
//! credit report is declared a write (`safe_to_retry = false`), which is all that makes an
//! operation a write for the API.

mod common;

use common::{TestApp, test_config};
use kuzet::contract::Role;
use kuzet_mocks::Fault;
use serde_json::{Value, json};

struct App {
    app: TestApp,
    _contracts: tempfile::TempDir,
}

async fn app_with_credit_report_as_a_write() -> App {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&src).expect("contracts") {
        let entry = entry.expect("entry");
        let mut text = std::fs::read_to_string(entry.path()).expect("read");
        if entry.file_name() == "fcb.toml" {
            // The first `safe_to_retry = true` is the credit report's.
            text = text.replacen("safe_to_retry = true", "safe_to_retry = false", 1);
        }
        std::fs::write(dir.path().join(entry.file_name()), text).expect("write");
    }
    let mut config = test_config();
    config.contracts.dir = dir.path().to_owned();
    config.fcb.resilience.retry_max_attempts = 1;
    App {
        app: TestApp::spawn_config(config, true).await,
        _contracts: dir,
    }
}

async fn post(app: &TestApp, key: Option<&str>, body: &Value) -> (u16, Value, bool) {
    let mut req = reqwest::Client::new()
        .post(app.url("/v1/exchange/fcb/credit-report"))
        .bearer_auth(app.token(Role::Underwriting))
        .json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    let v = r.json().await.unwrap_or(Value::Null);
    (status, v, replayed)
}

fn body(iin: &str, reference: &str) -> Value {
    json!({"purpose": "contract_performance", "reference": reference,
           "data": {"subject": {"iin": iin}}})
}

#[tokio::test]
async fn a_write_without_one_valid_key_is_refused_before_anything_happens() {
    let App { app, .. } = app_with_credit_report_as_a_write().await;
    let iin = common::demo_iin();
    app.consent(&iin).await;
    for key in [None, Some(""), Some("has space")] {
        let (status, v, _) = post(&app, key, &body(&iin, "A-1")).await;
        assert_eq!(status, 400, "{key:?}: {v}");
        assert_eq!(v["error"]["code"], "idempotency_key_required");
    }
    // Two keys: which write was meant is not the gateway's to pick.
    let r = reqwest::Client::new()
        .post(app.url("/v1/exchange/fcb/credit-report"))
        .bearer_auth(app.token(Role::Underwriting))
        .header("Idempotency-Key", "k-1")
        .header("Idempotency-Key", "k-2")
        .json(&body(&iin, "A-1"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "idempotency_key_required", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("more than one")),
        "{v}"
    );
    assert_eq!(app.mock().calls(), 0);
    assert!(app.all_entries().await.is_empty());
}

#[tokio::test]
async fn a_repeat_gets_the_first_answer_without_a_second_call() {
    let App { app, .. } = app_with_credit_report_as_a_write().await;
    let iin = common::demo_iin();
    app.consent(&iin).await;
    let (s1, first, replayed) = post(&app, Some("mark-1"), &body(&iin, "A-1")).await;
    assert_eq!(s1, 200, "{first}");
    assert!(!replayed);
    let (s2, second, replayed) = post(&app, Some("mark-1"), &body(&iin, "A-1")).await;
    assert_eq!((s2, replayed), (200, true));
    assert_eq!(first, second, "the same answer, the same transfer id");
    assert_eq!(app.mock().calls(), 1, "one call to the party");
    assert_eq!(app.all_entries().await.len(), 2, "one transfer in the log");
    // The same key for another request is refused; a new key is a new write.
    let (s3, v, _) = post(&app, Some("mark-1"), &body(&iin, "A-2")).await;
    assert_eq!(
        (s3, v["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let (s4, _, _) = post(&app, Some("mark-2"), &body(&iin, "A-2")).await;
    assert_eq!(s4, 200);
    assert_eq!(app.mock().calls(), 2);
}

#[tokio::test]
async fn a_failed_write_is_replayed_too_and_never_retried() {
    let App { app, .. } = app_with_credit_report_as_a_write().await;
    let iin = common::demo_iin();
    app.consent(&iin).await;
    // A transient fault: a read would be retried, a write is not, and its repeat is the same
    // failure from the store, not a new call.
    app.mock().set_fault(Some(Fault::HttpStatus(503)));
    let (s1, first, _) = post(&app, Some("k"), &body(&iin, "A-1")).await;
    assert_eq!(
        (s1, first["error"]["code"].as_str()),
        (502, Some("upstream_error"))
    );
    assert_eq!(app.mock().calls(), 1);
    app.mock().set_fault(None);
    let (s2, second, replayed) = post(&app, Some("k"), &body(&iin, "A-1")).await;
    assert_eq!((s2, replayed), (502, true));
    assert_eq!(first, second);
    assert_eq!(app.mock().calls(), 1);
}

#[tokio::test]
async fn a_request_refused_before_sending_frees_its_key() {
    let App { app, .. } = app_with_credit_report_as_a_write().await;
    let iin = common::demo_iin();
    // No consent yet: refused before anything is sent.
    let (s1, v, _) = post(&app, Some("k"), &body(&iin, "A-1")).await;
    assert_eq!(
        (s1, v["error"]["code"].as_str()),
        (403, Some("consent_missing"))
    );
    app.consent(&iin).await;
    let (s2, _, replayed) = post(&app, Some("k"), &body(&iin, "A-1")).await;
    assert_eq!((s2, replayed), (200, false), "the key was free again");
    assert_eq!(app.mock().calls(), 1);
}

#[tokio::test]
async fn reads_need_no_key() {
    let app = TestApp::spawn().await;
    let iin = common::demo_iin();
    app.consent(&iin).await;
    let (status, _, replayed) = post(&app, None, &body(&iin, "A-1")).await;
    assert_eq!((status, replayed), (200, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_while_the_first_runs_is_409() {
    let App { app, .. } = app_with_credit_report_as_a_write().await;
    let iin = common::demo_iin();
    app.consent(&iin).await;
    app.mock()
        .set_latency(std::time::Duration::from_millis(1_500));
    let app = std::sync::Arc::new(app);
    let first = {
        let app = app.clone();
        let b = body(&iin, "A-1");
        tokio::spawn(async move { post(&app, Some("k"), &b).await })
    };
    // The first request holds the key once the mock has it (the key is reserved before the
    // call), whatever the scheduling.
    while app.mock().calls() == 0 {
        tokio::task::yield_now().await;
    }
    let (status, v, _) = post(&app, Some("k"), &body(&iin, "A-1")).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("idempotency_in_progress"))
    );
    let (s1, _, _) = first.await.expect("first");
    assert_eq!(s1, 200);
    assert_eq!(app.mock().calls(), 1);
}
