//! `TestApp`: the gateway on port 0, with a fresh data dir and the mock bureau in-process on
//! port 0, plus one client per role. What the tests drive is what `kuzet serve` runs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use kuzet::app::{App, AppOptions};
use kuzet::config::Config;
use kuzet::contract::Role;
use serde_json::{Value, json};

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub app: App,
    pub http: reqwest::Client,
    pub tokens: HashMap<Role, String>,
    server: Option<kuzet::server::Server>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with the mock bureau in-process; `tweak` may change the configuration first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config();
        tweak(&mut config);
        Self::spawn_config(config, true).await
    }

    pub async fn spawn_config(config: Config, mock_upstreams: bool) -> TestApp {
        Self::spawn_in(
            tempfile::tempdir().expect("tempdir"),
            config,
            mock_upstreams,
        )
        .await
    }

    /// Spawns over a given data directory (replicas sharing a database share their keys).
    pub async fn spawn_in(dir: tempfile::TempDir, config: Config, mock_upstreams: bool) -> TestApp {
        let app = App::build(AppOptions {
            data_dir: dir.path().to_owned(),
            config,
            mock_upstreams,
        })
        .await
        .expect("the gateway builds");
        Self::serve(app, dir).await
    }

    /// Spawns with `config` over a transfer log whose writes fail while the returned switch is
    /// on (`transfer_log::testing::SwitchableBackend`).
    pub async fn spawn_with_switchable_log(
        config: Config,
    ) -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicBool>) {
        use kuzet::transfer_log::testing::SwitchableBackend;
        use kuzet::transfer_log::{SqliteBackend, TransferLog};
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = SqliteBackend::open(dir.path()).expect("sqlite");
        let (backend, fail_writes) = SwitchableBackend::new(Box::new(sqlite));
        let log = TransferLog::open(dir.path(), Box::new(backend)).expect("log");
        let app = App::build_with_log(
            AppOptions {
                data_dir: dir.path().to_owned(),
                config,
                mock_upstreams: true,
            },
            Some(log),
        )
        .await
        .expect("build");
        (Self::serve(app, dir).await, fail_writes)
    }

    pub async fn serve(app: App, dir: tempfile::TempDir) -> TestApp {
        // The listener `kuzet serve` runs (plain HTTP here; tests/listener_tls.rs covers HTTPS).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let server =
            kuzet::server::Server::start(app.router.clone(), app.state.clone(), listener, None)
                .await
                .expect("serve");
        let addr = server.local_addr();
        let mut tokens = HashMap::new();
        for &role in Role::ALL {
            let token = kuzet::registry::new_token().expect("token");
            let registry = app.gateway.registry();
            let name = format!("test-{}", role.as_str());
            // A replica over a shared database finds the first one's clients.
            match registry.add_client(&name, role, &token) {
                Ok(_) => {}
                Err(kuzet::registry::RegistryError::DuplicateClient(_)) => {
                    registry
                        .add_client(&format!("{name}-{}", &token[3..11]), role, &token)
                        .expect("add client");
                }
                Err(e) => panic!("add client: {e}"),
            }
            tokens.insert(role, token);
        }
        TestApp {
            addr,
            dir,
            app,
            http: reqwest::Client::new(),
            tokens,
            server: Some(server),
        }
    }

    /// The graceful shutdown of `kuzet serve` (SIGTERM): whether everything finished within
    /// `grace`.
    pub async fn shutdown(&mut self, grace: std::time::Duration) -> bool {
        let server = self.server.take().expect("still serving");
        server.shutdown(grace).await.expect("shutdown")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    pub fn mock(&self) -> &kuzet_mocks::Running {
        self.app.mock().expect("mock bureau running")
    }

    /// The in-process SHEP channel's knobs (pension centre).
    pub fn shep(&self) -> &kuzet_mocks::Knobs {
        &self.app.mocks.as_ref().expect("mocks running").shep
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.post_raw(path, token, serde_json::to_vec(body).expect("json"))
            .await
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `GET path` as the auditor client.
    pub async fn audit(&self, path: &str) -> Answer {
        self.get(path, Some(self.token(Role::Auditor))).await
    }

    /// An income request (pension centre) for `iin`, as the underwriting client.
    pub async fn income(&self, iin: &str) -> Answer {
        self.post(
            "/v1/exchange/gcvp/income",
            Some(self.token(Role::Underwriting)),
            &json!({"purpose": "contract_performance", "reference": "APP-7",
                    "data": {"subject": {"iin": iin}}}),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Records, straight in the ledger, a [`bureau_consent`] for the borrower of each of
    /// `contracts` (bureau reporting's JSON lines).
    pub fn consent_borrowers(&self, contracts: &[Value]) {
        let consents: Vec<_> = contracts
            .iter()
            .map(|c| {
                let iin = kuzet_ident::Iin::parse(c["borrower"]["iin"].as_str().expect("iin"))
                    .expect("valid IIN");
                bureau_consent(self.app.gateway.log().subject_index(&iin), &iin)
            })
            .collect();
        self.app
            .gateway
            .registry()
            .add_consents(&consents)
            .expect("consents");
    }

    /// Records a consent for `iin` to the bureau for contract performance; returns its id.
    pub async fn consent(&self, iin: &str) -> String {
        self.consent_to(iin, &["fcb"]).await
    }

    /// The in-process mock server's call journal (`GET /__mock/journal`).
    pub async fn journal(&self) -> Value {
        self.http
            .get(self.mock().url("/__mock/journal"))
            .send()
            .await
            .expect("journal")
            .json()
            .await
            .expect("json")
    }

    /// Records a consent for `iin` to `recipients` for contract performance; returns its id.
    pub async fn consent_to(&self, iin: &str, recipients: &[&str]) -> String {
        let mut body = consent_body(iin);
        body["recipients"] = json!(recipients);
        let a = self
            .post("/v1/consents", Some(self.token(Role::Underwriting)), &body)
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["consent_id"]
            .as_str()
            .expect("consent_id")
            .to_owned()
    }

    /// A credit-report request for `iin` naming `consent_id`.
    pub async fn credit_report(&self, iin: &str, consent_id: Option<&str>) -> Answer {
        let mut body = json!({
            "purpose": "contract_performance",
            "reference": "APP-1",
            "data": {"subject": {"iin": iin}},
        });
        if let Some(c) = consent_id {
            body["consent_id"] = json!(c);
        }
        self.post(
            "/v1/exchange/fcb/credit-report",
            Some(self.token(Role::Underwriting)),
            &body,
        )
        .await
    }

    /// The log's entries for a transfer.
    pub async fn entries(&self, transfer_id: &str) -> Vec<kuzet::transfer_log::Entry> {
        let id = uuid::Uuid::parse_str(transfer_id).expect("uuid");
        self.app
            .gateway
            .log()
            .get_transfer(id)
            .await
            .expect("read transfer")
    }

    /// Every entry of the log, in seq order.
    pub async fn all_entries(&self) -> Vec<kuzet::transfer_log::Entry> {
        self.app
            .gateway
            .log()
            .read(|b| {
                let mut entries = Vec::new();
                b.scan(1, &mut |row| {
                    entries.push(row.expect("a readable row"));
                    std::ops::ControlFlow::Continue(())
                })?;
                Ok(entries)
            })
            .await
            .expect("scan")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// A consent to the bureau for contract performance, given at the branch an hour ago (as the
/// loan system's book records it), for the subject index `subject` of `iin`.
pub fn bureau_consent(subject: [u8; 32], iin: &kuzet_ident::Iin) -> kuzet::registry::Consent {
    let now = time::OffsetDateTime::now_utc();
    kuzet::registry::Consent {
        id: uuid::Uuid::new_v4(),
        subject,
        subject_masked: iin.masked(),
        recipients: vec!["fcb".into()],
        purposes: vec!["contract_performance".into()],
        granted_at: now - time::Duration::hours(1),
        channel: kuzet::registry::Channel::Branch,
        evidence: "loan-contract:signed".into(),
        expires_at: None,
        recorded_at: now,
        recorded_by: "test".into(),
        revoked_at: None,
        revoked_by: None,
    }
}

/// The default configuration with the repository's contracts.
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.contracts.dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts");
    config
}

pub fn consent_body(iin: &str) -> Value {
    json!({
        "subject_iin": iin,
        "recipients": ["fcb"],
        "purposes": ["contract_performance"],
        "granted_at": "2026-01-01T10:00:00Z",
        "channel": "app",
        "evidence": "otp:000111",
    })
}

/// Records [`consent_body`] for `iin` through a gateway at `url` (a `kuzet serve` process);
/// the consent's id.
pub async fn record_consent(http: &reqwest::Client, url: &str, token: &str, iin: &str) -> String {
    let r = http
        .post(format!("{url}/v1/consents"))
        .bearer_auth(token)
        .json(&consent_body(iin))
        .send()
        .await
        .expect("consent");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    body["consent_id"].as_str().expect("id").to_owned()
}

/// The `n`th synthetic person (a valid IIN born 1987-05-25, not one of the mocks' reserved
/// ones): ordinary answers from every mock party.
pub fn person(n: u16) -> String {
    (n.wrapping_mul(7).wrapping_add(100)..)
        .find_map(|s| {
            kuzet_ident::Iin::synthesize(
                time::macros::date!(1987 - 05 - 25),
                n.is_multiple_of(2),
                s,
            )
        })
        .expect("some serial has a check digit")
        .expose()
        .to_owned()
}

/// A synthetic person with an ordinary report at the mock bureau.
pub fn demo_iin() -> String {
    kuzet_mocks::fcb::demo_iin().expose().to_owned()
}

/// Runs the `kuzet` binary on `data` with the embedded defaults (no `KUZET_CONFIG` or
/// `KUZET_DATA` from the environment), from the workspace root.
pub fn kuzet(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("KUZET_CONFIG")
        .env_remove("KUZET_DATA")
        .env_remove("KUZET_DATABASE_URL")
        .output()
        .expect("run kuzet")
}

/// A command's standard output as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A running `kuzet serve --mock-upstreams` process (stderr discarded, stdout drained after
/// start). Killed when dropped.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// The listener's base URL.
    pub url: String,
    /// The demo underwriting token, when this start created the demo clients.
    pub token: Option<String>,
}

impl ServeProcess {
    /// Starts `kuzet --data DATA --config CONFIG serve --mock-upstreams` with `env`, and reads
    /// its stdout up to the listening line, or, when `demo_tokens` (an empty registry: it prints
    /// them), up to the end of the demo block (the curl example).
    pub fn start(
        data: &std::path::Path,
        config: &std::path::Path,
        env: &[(&str, &str)],
        demo_tokens: bool,
    ) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kuzet"))
            .arg("--data")
            .arg(data)
            .arg("--config")
            .arg(config)
            .args(["serve", "--mock-upstreams"])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start kuzet");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut url, mut token) = (None, None);
        while let Some(Ok(line)) = lines.next() {
            if let Some(u) = line.strip_prefix("kuzet listening on ") {
                url = Some(u.to_owned());
                if !demo_tokens {
                    break;
                }
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.first() == Some(&"demo-underwriting") {
                token = words.get(2).map(|t| (*t).to_owned());
            }
            if line.starts_with("  curl") {
                break;
            }
        }
        // Keep draining stdout so the gateway never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServeProcess {
            child,
            url: url.expect("the gateway printed its address"),
            token,
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
