//! SIGKILL of the real gateway binary while 100+ requests are in flight, then a restart: the
//! chain verifies, every request that got a 200 has its OUT and IN entries, and the chain goes
//! on from where it stopped.

mod common;

use std::process::Command;

use common::ServeProcess;
use kuzet::transfer_log::{Kind, TransferLog};
use serde_json::json;

/// The gateway on `data`; the first start (an empty registry) prints the demo tokens.
fn start(data: &std::path::Path, config: &std::path::Path) -> ServeProcess {
    let first = !data.join(kuzet::registry::REGISTRY_FILE).exists();
    ServeProcess::start(data, config, &[], first)
}

fn assert_log_verifies(data: &std::path::Path) {
    let verify = Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--data")
        .arg(data)
        .args(["log", "verify"])
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_with_requests_in_flight_loses_no_acknowledged_transfer() {
    kuzet_transport::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = dir.path().join("kuzet.toml");
    let contracts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[contracts]\ndir = {:?}\n\
             [mocks]\nfcb_report_size = \"two_contracts\"\nfcb_latency_ms = 50\n",
            contracts.display().to_string()
        ),
    )
    .expect("config");

    let gw = start(&data, &config);
    let token = gw.token.clone().expect("demo token");
    let http = reqwest::Client::new();
    let iin = kuzet_mocks::fcb::demo_iin().expose().to_owned();
    common::record_consent(&http, &gw.url, &token, &iin).await;

    // 160 requests at once; kill the gateway once 20 of them have been answered.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for i in 0..160 {
        let http = http.clone();
        let url = format!("{}/v1/exchange/fcb/credit-report", gw.url);
        let token = token.clone();
        let iin = iin.clone();
        let done_tx = done_tx.clone();
        tasks.push(tokio::spawn(async move {
            let result = http
                .post(url)
                .bearer_auth(token)
                .json(
                    &json!({"purpose": "contract_performance", "reference": format!("K-{i}"),
                    "data": {"subject": {"iin": iin}}}),
                )
                .send()
                .await;
            let outcome = match result {
                Ok(r) if r.status() == 200 => match r.json::<serde_json::Value>().await {
                    Ok(body) => body["transfer_id"].as_str().map(str::to_owned),
                    Err(_) => None,
                },
                _ => None,
            };
            let _ = done_tx.send(outcome.is_some());
            outcome
        }));
    }
    drop(done_tx);
    let mut ok = 0;
    while let Some(success) = done_rx.recv().await {
        if success {
            ok += 1;
            if ok == 20 {
                break;
            }
        }
    }
    let mut gw = gw;
    gw.kill();

    let mut acknowledged = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.expect("task") {
            acknowledged.push(id);
        }
    }
    assert!(acknowledged.len() >= 20, "{}", acknowledged.len());
    assert!(
        acknowledged.len() < 160,
        "the kill came too late to test anything"
    );

    // The chain verifies after the crash.
    assert_log_verifies(&data);

    // Restart: the chain continues, and a new request succeeds.
    let gw2 = start(&data, &config);
    let r = http
        .post(format!("{}/v1/exchange/fcb/credit-report", gw2.url))
        .bearer_auth(&token)
        .json(&json!({"purpose": "contract_performance", "data": {"subject": {"iin": iin}}}))
        .send()
        .await
        .expect("request after restart");
    assert_eq!(r.status(), 200);
    let mut gw2 = gw2;
    gw2.kill();

    assert_log_verifies(&data);

    // Every acknowledged transfer has its OUT and IN entries.
    let log = TransferLog::open_sqlite(&data).expect("open log");
    for id in &acknowledged {
        let entries = log
            .get_transfer(uuid::Uuid::parse_str(id).expect("uuid"))
            .await
            .expect("read");
        let kinds: Vec<Kind> = entries.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![Kind::Out, Kind::In], "transfer {id}");
        assert_eq!(entries[1].outcome, "ok");
    }
}
