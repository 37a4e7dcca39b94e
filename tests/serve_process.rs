//! `kuzet serve` as an operator runs it, a real process: SIGTERM under load loses nothing
//! (every `200` has its entries, the process exits 0, verify passes); nothing the process
//! writes (stdout, stderr, JSON or human logs at debug level) holds a personal value that a
//! full scenario used; and `kuzet config check` names each problem with its line.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{kuzet, person, stderr, stdout};
use serde_json::{Value, json};

/// A `kuzet serve --mock-upstreams` child process on a free port, with what it printed.
struct Served {
    child: Child,
    base: String,
    mock_base: String,
    tokens: HashMap<String, String>,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Served {
    fn start(data: &std::path::Path, config: &std::path::Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kuzet"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--data")
            .arg(data)
            .arg("--config")
            .arg(config)
            .args(["serve", "--mock-upstreams", "--listen", "127.0.0.1:0"])
            .env_remove("KUZET_CONFIG")
            .env_remove("KUZET_DATA")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kuzet serve");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        let mut readers = Vec::new();
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
                out.clone(),
            ),
            (
                Box::new(child.stderr.take().expect("stderr")) as Box<dyn std::io::Read + Send>,
                err.clone(),
            ),
        ] {
            let tx = lines_tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut s = sink.lock().expect("sink");
                    s.push_str(&line);
                    s.push('\n');
                    drop(s);
                    let _ = tx.send(line);
                }
            }));
        }
        drop(lines_tx);
        // Until the address, the mock's address and every demo token are known.
        let (mut base, mut mock_base) = (None, None);
        let mut tokens = HashMap::new();
        while base.is_none() || mock_base.is_none() || tokens.len() < 5 {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!("kuzet serve did not start:\n{}", err.lock().expect("err"))
                });
            if let Some(addr) = line.strip_prefix("kuzet listening on ") {
                base = Some(addr.trim().to_owned());
            }
            if let Some(i) = line.find("/FCBServices/Service") {
                let start = line[..i].rfind("http://").expect("mock url");
                mock_base = Some(line[start..i].to_owned());
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [name, role, token] = words[..]
                && name.starts_with("demo-")
            {
                tokens.insert(role.to_owned(), token.to_owned());
            }
        }
        Served {
            child,
            base: base.expect("base"),
            mock_base: mock_base.expect("mock"),
            tokens,
            out,
            err,
            readers,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn token(&self, role: &str) -> &str {
        &self.tokens[role]
    }

    /// SIGTERM, then the exit status and everything the process wrote.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        for r in self.readers.drain(..) {
            r.join().expect("reader");
        }
        let written = format!(
            "{}{}",
            self.out.lock().expect("out"),
            self.err.lock().expect("err")
        );
        (exit, written)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("kuzet.toml");
    let contracts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    std::fs::write(
        &path,
        format!("[contracts]\ndir = {:?}\n\n{text}", contracts.display()),
    )
    .expect("config");
    path
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: &Value) -> (u16, Value) {
    match http.post(url).bearer_auth(token).json(body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.json().await.unwrap_or(Value::Null);
            (status, body)
        }
        // A request that never got an answer (the connection closed at shutdown).
        Err(_) => (0, Value::Null),
    }
}

fn consent(iin: &str, recipients: &[&str]) -> Value {
    let mut body = common::consent_body(iin);
    body["recipients"] = json!(recipients);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing_and_the_process_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = config_file(
        dir.path(),
        "[server]\nshutdown_grace_seconds = 30\n\n[mocks]\nfcb_latency_ms = 400\nfcb_report_size = \"two_contracts\"\n",
    );
    let served = Served::start(&data, &config);
    kuzet_transport::install_crypto_provider();
    let http = reqwest::Client::new();
    let uw = served.token("underwriting").to_owned();
    let iin = person(11);
    let (status, body) = post(
        &http,
        served.url("/v1/consents"),
        &uw,
        &consent(&iin, &["fcb"]),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let requests: Vec<_> = (0..48)
        .map(|n| {
            let (http, url, uw) = (
                http.clone(),
                served.url("/v1/exchange/fcb/credit-report"),
                uw.clone(),
            );
            let body = json!({"purpose": "contract_performance", "reference": format!("APP-{n}"),
                              "data": {"subject": {"iin": iin}}});
            tokio::spawn(async move { post(&http, url, &uw, &body).await })
        })
        .collect();
    // SIGTERM once transfers are at the bureau (in flight between their OUT and IN entries).
    let journal = served.mock_base.clone() + "/__mock/journal";
    let in_flight = loop {
        let calls = http
            .get(&journal)
            .send()
            .await
            .expect("journal")
            .json::<Value>()
            .await
            .expect("json")["entries"]
            .as_array()
            .map_or(0, Vec::len);
        if calls >= 4 {
            break calls;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (exit, written) = tokio::task::spawn_blocking(move || served.terminate())
        .await
        .expect("terminate");
    assert!(exit.success(), "exit {exit:?}\n{written}");
    assert!(written.contains("kuzet stopped."), "{written}");

    let mut ok = Vec::new();
    for r in requests {
        let (status, body) = r.await.expect("task");
        assert!(
            status == 200 || status == 0,
            "a request during shutdown is answered in full or not at all: {status} {body}"
        );
        if status == 200 {
            ok.push(
                body["transfer_id"]
                    .as_str()
                    .expect("transfer id")
                    .to_owned(),
            );
        }
    }
    assert!(
        ok.len() >= in_flight,
        "every transfer in flight at SIGTERM finished: {} of {in_flight}",
        ok.len()
    );

    // The log after the restart-free stop: verify passes, and every 200 has OUT and IN.
    let verify = kuzet(&data, &["log", "verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let export = kuzet(&data, &["log", "export", "--format", "jsonl", "--out", "-"]);
    assert!(export.status.success(), "{}", stderr(&export));
    let mut kinds: HashMap<String, Vec<String>> = HashMap::new();
    for line in stdout(&export).lines() {
        let e: Value = serde_json::from_str(line).expect("jsonl");
        kinds
            .entry(e["transfer_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(e["kind"].as_str().unwrap_or_default().to_owned());
    }
    for id in &ok {
        assert_eq!(
            kinds.get(id).map(Vec::as_slice),
            Some(&["out".to_owned(), "in".to_owned()][..]),
            "{id}"
        );
    }
}

/// The personal values a scenario sends, then every line the process wrote is searched for
/// them: none may appear, in JSON or in human-readable logs, at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_process_writes_holds_a_personal_value_of_the_scenario() {
    for format in ["json", "human"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let config = config_file(
            dir.path(),
            &format!("[logging]\nformat = \"{format}\"\nfilter = \"debug\"\n"),
        );
        let served = Served::start(&data, &config);
        kuzet_transport::install_crypto_provider();
        let http = reqwest::Client::new();
        let uw = served.token("underwriting").to_owned();
        let auditor = served.token("auditor").to_owned();
        let servicing = served.token("servicing").to_owned();
        let (a, b, c) = (person(21), person(22), person(23));
        let bad_iin = {
            // A's IIN with another check digit: invalid, and still personal.
            let mut s = a.clone();
            let last = s.pop().expect("digit");
            s.push(if last == '0' { '1' } else { '0' });
            s
        };
        let full_name = "Zhanatova Aizhan Serikovna";
        let phone = "+77015550123";
        let plate = "123ABC02";
        let vin = kuzet_mocks::traffic::VIN_EXPIRED_INSPECTION;
        let contract = "LN-2026-PII-1";
        let account = "KZ00TEST0000000042";
        let secrets = [
            a.as_str(),
            b.as_str(),
            c.as_str(),
            bad_iin.as_str(),
            full_name,
            "Zhanatova",
            phone,
            plate,
            vin,
        ];

        let ex = |op: &str| served.url(&format!("/v1/exchange/{op}"));
        let mut answers = Vec::new();
        for iin in [&a, &c] {
            answers.push(
                post(
                    &http,
                    served.url("/v1/consents"),
                    &uw,
                    &consent(iin, &["fcb", "gcvp"]),
                )
                .await,
            );
        }
        let subject = |iin: &str| json!({"purpose": "contract_performance", "reference": "APP-9", "data": {"subject": {"iin": iin}}});
        answers.push(post(&http, ex("fcb/credit-report"), &uw, &subject(&a)).await);
        answers.push(post(&http, ex("gcvp/income"), &uw, &subject(&a)).await);
        answers.push(
            post(
                &http,
                ex("traffic/vehicle"),
                &uw,
                &json!({"purpose": "contract_performance", "data": {"vehicle": {"plate": plate}}}),
            )
            .await,
        );
        answers.push(
            post(
                &http,
                ex("traffic/vehicle"),
                &uw,
                &json!({"purpose": "contract_performance", "data": {"vehicle": {"vin": vin}}}),
            )
            .await,
        );
        let mark = json!({"purpose": "contract_performance", "data": {
            "user": {"iin": b, "full_name": full_name},
            "contract": {"number": contract, "advance_account_number": account}}});
        let resp = http
            .post(ex("traffic/user-mark"))
            .bearer_auth(&servicing)
            .header("idempotency-key", "pii-scan-1")
            .json(&mark)
            .send()
            .await
            .expect("user mark");
        answers.push((
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        ));
        answers.push(post(&http, served.url("/v1/applicants/check"), &uw, &json!({"purpose": "contract_performance", "data": {"subject": {"iin": c}, "vehicle": {"plate": plate}}})).await);
        // Refusals: a phone where none may go, a bad IIN, no consent, a personal value as a key.
        answers.push(post(&http, ex("fcb/credit-report"), &uw, &json!({"purpose": "contract_performance", "data": {"subject": {"iin": a, "phone": phone}}})).await);
        answers.push(post(&http, ex("fcb/credit-report"), &uw, &subject(&bad_iin)).await);
        answers.push(post(&http, ex("fcb/credit-report"), &uw, &subject(&b)).await);
        let mut keyed = json!({"purpose": "contract_performance", "data": {"subject": {"iin": a}}});
        keyed["data"][a.as_str()] = json!(full_name);
        answers.push(post(&http, ex("fcb/credit-report"), &uw, &keyed).await);
        answers.push(post(&http, served.url("/v1/consents"), &uw, &json!({"subject_iin": bad_iin, "recipients": ["fcb"], "purposes": ["contract_performance"], "granted_at": "2026-01-01T10:00:00Z", "channel": "app", "evidence": phone})).await);
        // An auditor searching by IIN (the IIN is in the query string).
        let search = http
            .get(served.url(&format!("/v1/transfers?subject_iin={a}")))
            .bearer_auth(&auditor)
            .send()
            .await
            .expect("search");
        assert_eq!(search.status(), 200);
        let codes: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            codes,
            [
                201, 201, 200, 200, 200, 200, 200, 200, 403, 422, 403, 422, 422
            ],
            "{answers:?}"
        );

        let (exit, written) = tokio::task::spawn_blocking(move || served.terminate())
            .await
            .expect("terminate");
        assert!(exit.success(), "{written}");
        // The scenario was logged (so the scan looked at something) ...
        assert!(written.contains("request_id"), "{written}");
        assert!(written.lines().count() > 20, "{written}");
        if format == "json" {
            for line in written.lines().filter(|l| l.starts_with('{')) {
                serde_json::from_str::<Value>(line).expect("every log line is JSON");
            }
        }
        // ... and holds none of its personal values.
        for secret in secrets {
            let hits: Vec<&str> = written.lines().filter(|l| l.contains(secret)).collect();
            assert!(
                hits.is_empty(),
                "{format}: {secret:?} appears in:\n{}",
                hits.join("\n")
            );
        }
    }
}

#[test]
fn config_check_accepts_the_example_and_names_each_problem_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = kuzet(dir.path(), &["config", "example"]);
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &example.stdout).expect("write");
    let ok = kuzet(
        dir.path(),
        &["config", "check", good.to_str().expect("utf-8")],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("configuration OK"), "{}", stdout(&ok));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"127.0.0.1:8080\"\nmax_concurrent_requests = 0\n\n[server.tls]\ncertificate_pem = \"/nonexistent/cert.pem\"\nkey_pem = \"/nonexistent/key.pem\"\n\n[log]\ncheckpoint_every_entries = 0\n",
    )
    .expect("write");
    let failed = kuzet(
        dir.path(),
        &["--config", bad.to_str().expect("utf-8"), "config", "check"],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    let path = bad.display().to_string();
    assert!(
        err.contains(&format!(
            "{path}:3: server.max_concurrent_requests: must be at least 1"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:10: log.checkpoint_every_entries")),
        "{err}"
    );
    assert!(err.contains("2 problems"), "{err}");

    // Once the values are right, the files it names are checked.
    std::fs::write(
        &bad,
        "[server.tls]\ncertificate_pem = \"/nonexistent/cert.pem\"\nkey_pem = \"/nonexistent/key.pem\"\n",
    )
    .expect("write");
    let failed = kuzet(
        dir.path(),
        &["config", "check", bad.to_str().expect("utf-8")],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(
        err.contains("server.tls.certificate_pem: cannot read /nonexistent/cert.pem"),
        "{err}"
    );
    assert!(
        err.contains("server.tls.key_pem: cannot read /nonexistent/key.pem"),
        "{err}"
    );

    // A typo is the parser's error, with its line.
    std::fs::write(&bad, "[server]\n\nlisten_adress = \"127.0.0.1:1\"\n").expect("write");
    let failed = kuzet(
        dir.path(),
        &["config", "check", bad.to_str().expect("utf-8")],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(
        err.contains(&format!("{path}:3: unknown field `listen_adress`")),
        "{err}"
    );

    // No file at all.
    let none = kuzet(dir.path(), &["config", "check"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
}

#[test]
fn the_data_dir_comes_from_data_else_the_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let from_config = dir.path().join("from-config");
    let config = dir.path().join("kuzet.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", from_config.display().to_string()),
    )
    .expect("config");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kuzet"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("KUZET_CONFIG")
            .env_remove("KUZET_DATA")
            .output()
            .expect("run kuzet")
    };
    let added = run(&["clients", "add", "pipeline", "--role", "underwriting"]);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(from_config.join("registry.sqlite").exists());
    let flag = dir.path().join("from-flag");
    // --data wins: that folder has no registry (and listing does not make one).
    let listed = run(&["--data", flag.to_str().expect("utf-8"), "clients", "list"]);
    assert_eq!(listed.status.code(), Some(1), "{}", stdout(&listed));
    assert!(stderr(&listed).contains("from-flag"), "{}", stderr(&listed));
    assert!(!flag.exists());
    let listed = run(&["clients", "list"]);
    assert!(stdout(&listed).contains("pipeline"), "{}", stdout(&listed));
}

/// A gateway whose stdout nobody reads any more (`kuzet serve | head -1`, a `tee` that died)
/// says so on stderr and goes on serving: its banner and demo tokens are not worth an outage.
#[test]
fn a_closed_stdout_does_not_stop_the_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_file(dir.path(), "");
    // The pipe's reading end is closed before the gateway starts: its first print fails.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .args(["serve", "--mock-upstreams", "--listen", "127.0.0.1:0"])
        .env_remove("KUZET_CONFIG")
        .env_remove("KUZET_DATA")
        .env("RUST_LOG", "info")
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kuzet serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (mut addr, mut warned_banner, mut warned_tokens) = (None, false, false);
    while addr.is_none() || !warned_banner || !warned_tokens {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("kuzet serve stopped");
        if line.contains("kuzet is listening.")
            && let Some(rest) = line.split("addr=").nth(1)
        {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        warned_banner |= line.contains("Cannot print to stdout; serving on.");
        warned_tokens |= line.contains("Cannot print the demo clients' tokens");
    }
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.expect("addr");
    let health = (|| -> std::io::Result<String> {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&addr)?;
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: kuzet\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        conn.read_to_string(&mut answer)?;
        Ok(answer)
    })();
    let _ = child.kill();
    let _ = child.wait();
    let health = health.expect("healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
