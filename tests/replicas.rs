//! Scale-out, the way it is deployed: real `kuzet` processes sharing one PostgreSQL database
//! (`KUZET_TEST_PG`, each test in a schema of its own; skipped, saying so, without it), each
//! replica with its own data directory holding the same keys. Two replicas under concurrent
//! load; SIGKILL of one mid-load; a reporting run taken over after its replica died.

mod common;
mod pg;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::ServeProcess;
use pg::{TestDb, share_keys};
use serde_json::{Value, json};

fn config_file(dir: &Path, latency_ms: u64) -> PathBuf {
    let contracts = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let path = dir.join("kuzet.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[contracts]\ndir = {:?}\n\
             [mocks]\nlisten = \"127.0.0.1:0\"\nfcb_report_size = \"two_contracts\"\n\
             fcb_latency_ms = {latency_ms}\n",
            contracts.display().to_string()
        ),
    )
    .expect("config");
    path
}

/// `kuzet` on the shared database (read-only commands: verify, export).
fn kuzet_on(db: &TestDb, data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("KUZET_DATABASE_URL", &db.url)
        .env_remove("KUZET_CONFIG")
        .output()
        .expect("run kuzet")
}

fn verify(db: &TestDb, data: &Path) -> Value {
    let out = kuzet_on(db, data, &["log", "verify", "--json"]);
    assert!(out.status.success(), "{}", common::stdout(&out));
    serde_json::from_slice(&out.stdout).expect("verify json")
}

/// Every entry of the shared log, by transfer: the kinds it has.
fn kinds_by_transfer(db: &TestDb, data: &Path, dir: &Path) -> HashMap<String, Vec<String>> {
    let file = dir.join("export.jsonl");
    let out = kuzet_on(
        db,
        data,
        &[
            "log",
            "export",
            "--format",
            "jsonl",
            "--out",
            file.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(&file).expect("export").lines() {
        let e: Value = serde_json::from_str(line).expect("entry");
        map.entry(e["transfer_id"].as_str().expect("id").to_owned())
            .or_default()
            .push(e["kind"].as_str().expect("kind").to_owned());
    }
    map
}

/// One credit report; its transfer id when it was answered 200.
async fn credit_report(
    http: reqwest::Client,
    url: String,
    token: String,
    iin: String,
    consent: String,
    i: usize,
) -> Option<String> {
    let r = http
        .post(format!("{url}/v1/exchange/fcb/credit-report"))
        .bearer_auth(token)
        .json(
            &json!({"purpose": "contract_performance", "consent_id": consent,
            "reference": format!("R-{i}"), "data": {"subject": {"iin": iin}}}),
        )
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let body: Value = r.json().await.ok()?;
    body["transfer_id"].as_str().map(str::to_owned)
}

/// Two replicas started on one schema, the second with the first's keys.
fn two_replicas(db: &TestDb, dir: &Path, latency_ms: u64) -> (ServeProcess, ServeProcess, PathBuf) {
    let config = config_file(dir, latency_ms);
    let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
    let a = ServeProcess::start(&a_dir, &config, &[("KUZET_DATABASE_URL", &db.url)], true);
    share_keys(&a_dir, &b_dir);
    let b = ServeProcess::start(&b_dir, &config, &[("KUZET_DATABASE_URL", &db.url)], false);
    assert!(b.token.is_none(), "the second replica found the clients");
    (a, b, a_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_under_concurrent_load_keep_one_gapless_chain() {
    let Some(db) = TestDb::new("two_replicas_under_load") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, a_dir) = two_replicas(&db, dir.path(), 0);
    let token = a.token.clone().expect("demo token");
    let http = reqwest::Client::new();
    let iin = common::demo_iin();
    // Recorded through one replica, used through both.
    let consent_id = common::record_consent(&http, &b.url, &token, &iin).await;

    let mut tasks = Vec::new();
    for i in 0..160 {
        let url = if i % 2 == 0 { &a.url } else { &b.url };
        tasks.push(tokio::spawn(credit_report(
            http.clone(),
            url.clone(),
            token.clone(),
            iin.clone(),
            consent_id.clone(),
            i,
        )));
    }
    let mut served = Vec::new();
    for t in tasks {
        served.push(t.await.expect("task").expect("every request is served"));
    }
    assert_eq!(served.len(), 160);

    let summary = verify(&db, &a_dir);
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(
        summary["entries"], 320,
        "an OUT and an IN per request: {summary}"
    );
    assert_eq!(summary["last_seq"], 320, "no gap: {summary}");
    let kinds = kinds_by_transfer(&db, &a_dir, dir.path());
    for id in &served {
        assert_eq!(kinds[id], ["out", "in"], "transfer {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_one_replica_mid_load_loses_no_acknowledged_transfer() {
    let Some(db) = TestDb::new("sigkill_one_replica") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut a, b, a_dir) = two_replicas(&db, dir.path(), 50);
    let token = a.token.clone().expect("demo token");
    let http = reqwest::Client::new();
    let iin = common::demo_iin();
    let consent_id = common::record_consent(&http, &a.url, &token, &iin).await;

    // 200 requests at once on both replicas; replica a is killed once 20 of its own answered.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let on_a = i % 2 == 0;
        let url = if on_a { a.url.clone() } else { b.url.clone() };
        let request = credit_report(
            http.clone(),
            url,
            token.clone(),
            iin.clone(),
            consent_id.clone(),
            i,
        );
        let done_tx = done_tx.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = request.await;
            let _ = done_tx.send(on_a && outcome.is_some());
            (on_a, outcome)
        }));
    }
    drop(done_tx);
    let mut ok_on_a = 0;
    while let Some(success) = done_rx.recv().await {
        if success {
            ok_on_a += 1;
            if ok_on_a == 20 {
                break;
            }
        }
    }
    a.kill();

    let (mut acknowledged, mut refused_on_a, mut ok_on_b) = (Vec::new(), 0, 0);
    for t in tasks {
        let (on_a, outcome) = t.await.expect("task");
        match outcome {
            Some(id) => {
                ok_on_b += usize::from(!on_a);
                acknowledged.push(id);
            }
            None => {
                assert!(on_a, "replica b refused a request");
                refused_on_a += 1;
            }
        }
    }
    assert_eq!(ok_on_b, 100, "replica b served all of its requests");
    assert!(refused_on_a > 0, "the kill came too late to test anything");

    // The other replica keeps serving.
    for i in 0..5 {
        let served = credit_report(
            http.clone(),
            b.url.clone(),
            token.clone(),
            iin.clone(),
            consent_id.clone(),
            1000 + i,
        )
        .await;
        acknowledged.push(served.expect("replica b serves after the kill"));
    }

    // The chain verifies, and every acknowledged transfer has its OUT and IN entries.
    let summary = verify(&db, &a_dir);
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["entries"], summary["last_seq"], "{summary}");
    let kinds = kinds_by_transfer(&db, &a_dir, dir.path());
    for id in &acknowledged {
        assert_eq!(kinds[id], ["out", "in"], "acknowledged transfer {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporting_run_whose_replica_died_is_taken_over_by_another() {
    let Some(db) = TestDb::new("reporting_takeover") else {
        return;
    };
    let mock = kuzet_mocks::server::spawn(kuzet_mocks::server::MockServerOptions::default())
        .await
        .expect("mock");
    let base = mock.running.url("");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kuzet.toml");
    std::fs::write(
        &config,
        kuzet::config::EXAMPLE
            .replace("http://127.0.0.1:9101", base.trim_end_matches('/'))
            .replace("batch_size = 1000", "batch_size = 10")
            .replace("poll_initial_ms = 500", "poll_initial_ms = 1")
            .replace("poll_max_ms = 30000", "poll_max_ms = 5"),
    )
    .expect("config");
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    // The consents, in the shared ledger under the replicas' keys.
    let registry = kuzet::db::registry::PgRegistry::new(db.replica(&a_dir));
    share_keys(&a_dir, &b_dir);
    let keys = kuzet::transfer_log::Keys::open(&a_dir).expect("keys");
    let contracts: Vec<Value> = (1..=25)
        .map(kuzet_mocks::contracts_source::synthetic_contract)
        .collect();
    let consents: Vec<_> = contracts
        .iter()
        .map(|c| {
            let iin = kuzet_ident::Iin::parse(c["borrower"]["iin"].as_str().expect("iin"))
                .expect("valid");
            common::bureau_consent(keys.subject_index(&iin), &iin)
        })
        .collect();
    kuzet::registry::Registry::add_consents(&registry, &consents).expect("consents");
    let source = dir.path().join("loans.jsonl");
    let text: Vec<String> = contracts.iter().map(Value::to_string).collect();
    std::fs::write(&source, text.join("\n") + "\n").expect("source");
    let source = source.to_str().expect("path");

    let run = |data: &Path, extra: &[&str]| {
        let mut args = vec!["--config", config.to_str().expect("path"), "report", "run"];
        args.extend(["--source", source]);
        args.extend(extra);
        kuzet_on(&db, data, &args)
    };
    // Replica a dies while it waits for the bureau's answer on its first batch.
    let out = run(&a_dir, &["--crash-at", "while-polling"]);
    assert!(!out.status.success(), "replica a died");
    assert_eq!(
        mock.uploads.batches().len(),
        1,
        "one batch had reached the bureau"
    );
    // Replica b's run takes over: it polls what a left and sends the rest.
    let out = run(&b_dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    let mut seen: HashMap<String, u32> = HashMap::new();
    for batch in mock.uploads.batches() {
        for (code, _) in &batch.contracts {
            *seen.entry(code.clone()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 25, "none lost");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    let status = kuzet_on(
        &db,
        &b_dir,
        &[
            "--config",
            config.to_str().expect("path"),
            "report",
            "status",
        ],
    );
    let status = common::stdout(&status);
    assert!(
        status.contains("failed"),
        "the dead run is on record: {status}"
    );
    assert!(
        status.contains("contracts the bureau has accepted: 25"),
        "{status}"
    );
    assert_eq!(verify(&db, &a_dir)["ok"], true);
}
