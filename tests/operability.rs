//! What an operator relies on, through the listener `kuzet serve` runs: readiness, request ids
//! (in the answer, the transfer log and the SHEP `correlationId`), the per-client rate limit,
//! and the graceful shutdown that lets transfers in flight finish. The concurrency cap and the
//! request timeout are tested on the middleware itself (`api::limits`), with a paused clock.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{TestApp, demo_iin, person, test_config};
use kuzet::contract::Role;
use serde_json::json;

#[tokio::test]
async fn ready_when_the_log_and_the_parties_are_fine_and_healthz_says_only_alive() {
    let app = TestApp::spawn().await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"log": "ok", "fcb": "closed", "gcvp": "closed", "traffic": "closed"}})
    );
    let health = app.get("/healthz", None).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );
}

#[tokio::test]
async fn not_ready_while_the_log_fails_and_ready_again_when_it_answers() {
    let (app, fail) = TestApp::spawn_with_switchable_log(test_config()).await;
    assert_eq!(app.get("/readyz", None).await.status, 200);

    fail.store(true, Ordering::SeqCst);
    let not_ready = app.get("/readyz", None).await;
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    assert_eq!(not_ready.body["status"], "not_ready");
    assert_eq!(not_ready.body["checks"]["log"], "unavailable");
    // Healthz is about the process only.
    assert_eq!(app.get("/healthz", None).await.status, 200);

    fail.store(false, Ordering::SeqCst);
    assert_eq!(app.get("/readyz", None).await.status, 200);
}

#[tokio::test]
async fn not_ready_while_a_required_partys_breaker_is_open_unless_it_is_not_required() {
    let tweak = |c: &mut kuzet::config::Config| {
        c.server.request_deadline_ms = 300;
        let r = &mut c.gcvp.resilience;
        r.retry_max_attempts = 1;
        r.breaker_min_calls = 2;
        r.breaker_open_ms = 600_000;
    };
    for required in [true, false] {
        let app = TestApp::spawn_with(|c| {
            tweak(c);
            if !required {
                c.server.required_parties = vec!["fcb".into()];
            }
        })
        .await;
        for n in 0..2 {
            app.consent_to(&person(n), &["gcvp"]).await;
        }
        app.shep().set_latency(Duration::from_secs(2));
        for n in 0..2 {
            let a = app.income(&person(n)).await;
            assert_eq!(a.status, 504, "{}", a.body);
        }
        let ready = app.get("/readyz", None).await;
        assert_eq!(ready.body["checks"]["gcvp"], "open", "{}", ready.body);
        if required {
            assert_eq!(
                (ready.status, &ready.body["status"]),
                (503, &json!("not_ready"))
            );
        } else {
            assert_eq!(
                (ready.status, &ready.body["status"]),
                (200, &json!("ready"))
            );
        }
    }
}

#[tokio::test]
async fn the_request_id_is_answered_logged_with_the_transfer_and_sent_as_the_correlation_id_when_a_uuid()
 {
    let app = TestApp::spawn().await;
    let iin = person(3);
    app.consent_to(&iin, &["fcb", "gcvp"]).await;
    let token = app.token(Role::Underwriting);

    // An income read with `id` as its X-Request-Id: the id answered and the entries logged.
    let income_with_id = async |id: &str| {
        let resp = app
            .http
            .post(app.url("/v1/exchange/gcvp/income"))
            .bearer_auth(token)
            .header("x-request-id", id)
            .json(&json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let answered = resp.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body: serde_json::Value = resp.json().await.expect("json");
        let entries = app
            .entries(body["transfer_id"].as_str().expect("transfer id"))
            .await;
        (answered, entries)
    };

    // The caller's own id is kept.
    let (answered, entries) = income_with_id("uw-job-7.1").await;
    assert_eq!(answered, "uw-job-7.1");
    assert_eq!(entries.len(), 2);
    for e in &entries {
        assert!(
            e.upstream
                .contains(&("request_id".to_owned(), "uw-job-7.1".to_owned())),
            "{:?}",
            e.upstream
        );
    }
    // The caller's own text does not go to the party (past the send list): the pension
    // centre got a fresh UUID as the SHEP correlationId (its answer echoes it back).
    let correlation = |entries: &[kuzet::transfer_log::Entry]| {
        let incoming = entries.last().expect("IN entry");
        incoming
            .upstream
            .iter()
            .find(|(k, _)| k == "shep_correlation_id")
            .map(|(_, v)| v.clone())
            .expect("a correlation id")
    };
    let sent = correlation(&entries);
    assert_ne!(sent, "uw-job-7.1");
    assert!(uuid::Uuid::parse_str(&sent).is_ok(), "{sent}");
    // A caller's UUID is sent as it is, so both sides can find the exchange by it.
    let mine = uuid::Uuid::now_v7().to_string();
    let (_, entries) = income_with_id(&mine).await;
    assert_eq!(correlation(&entries), mine);
    // An id that may be an IIN (twelve digits in a row) is not kept, nor logged.
    let (answered, entries) = income_with_id(&iin).await;
    assert_ne!(answered, iin);
    assert!(
        entries
            .iter()
            .all(|e| e.upstream.iter().all(|(_, v)| !v.contains(&iin))),
        "{entries:?}"
    );

    // Without one (or with one that is not a plain token), the gateway makes a UUID.
    let resp = app
        .http
        .post(app.url("/v1/exchange/fcb/credit-report"))
        .bearer_auth(token)
        .header("x-request-id", "has spaces in it")
        .json(&json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let body: serde_json::Value = resp.json().await.expect("json");
    let entries = app
        .entries(body["transfer_id"].as_str().expect("transfer id"))
        .await;
    assert!(
        entries
            .iter()
            .all(|e| e.upstream[0] == ("request_id".to_owned(), id.clone()))
    );
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_others_are_not_affected() {
    let app = TestApp::spawn_with(|c| {
        c.server.client_rate_per_second = 1;
        c.server.client_rate_burst = 3;
    })
    .await;
    let auditor = app.token(Role::Auditor).to_owned();
    for _ in 0..3 {
        assert_eq!(app.get("/v1/transfers", Some(&auditor)).await.status, 200);
    }
    let resp = app
        .http
        .get(app.url("/v1/transfers"))
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another client has a bucket of its own; unauthenticated requests never reach a bucket.
    let iin = person(4);
    let consent = app.consent(&iin).await;
    assert!(!consent.is_empty());
    assert_eq!(app.get("/v1/transfers", None).await.status, 401);
}

#[tokio::test]
async fn a_graceful_shutdown_lets_transfers_in_flight_finish_and_accepts_nothing_new() {
    let mut app = TestApp::spawn_with(|c| {
        c.mocks.fcb_latency_ms = 0;
    })
    .await;
    let iin = demo_iin();
    let consent = app.consent(&iin).await;
    app.mock().set_latency(Duration::from_millis(700));
    let token = app.token(Role::Underwriting).to_owned();
    let url = app.url("/v1/exchange/fcb/credit-report");
    let http = app.http.clone();
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            let body = json!({"purpose": "contract_performance", "consent_id": consent, "data": {"subject": {"iin": iin}}});
            tokio::spawn(async move {
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("an accepted request is answered");
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.expect("json");
                (status, body)
            })
        })
        .collect();
    // Shut down once every request has reached the bureau (and so is in flight).
    while app.mock().calls() < 8 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let addr = app.addr;
    let finished_in_time = app.shutdown(Duration::from_secs(20)).await;
    assert!(finished_in_time);
    // Nothing new is accepted.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    for task in in_flight {
        let (status, body) = task.await.expect("task");
        assert_eq!(status, 200, "{body}");
        let entries = app
            .entries(body["transfer_id"].as_str().expect("transfer id"))
            .await;
        let kinds: Vec<_> = entries.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["out", "in"]);
    }
}
