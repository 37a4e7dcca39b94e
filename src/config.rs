//! The gateway's configuration: one TOML file (`--config`), or the embedded defaults.
//!
//! Every field has a default, so an empty file is a valid configuration; unknown keys are an
//! error (`deny_unknown_fields`) so that a typo never silently falls back to a default.
//! `kuzet config example` prints [`EXAMPLE`], which a test parses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The complete, commented example configuration (`kuzet config example`).
pub const EXAMPLE: &str = include_str!("../kuzet.example.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The data directory (transfer log, registry, keys). `--data` / `KUZET_DATA` override it;
    /// without any, `./kuzet-data`.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Where contracts are read from.
    #[serde(default)]
    pub contracts: ContractsConfig,
    /// The transfer log.
    #[serde(default)]
    pub log: LogConfig,
    /// The First Credit Bureau.
    #[serde(default = "default_fcb")]
    pub fcb: kuzet_fcb::FcbConfig,
    /// The State Centre for Pension Payments, over the e-government gateway (SHEP).
    #[serde(default = "default_gcvp")]
    pub gcvp: kuzet_gcvp::GcvpConfig,
    /// The road-traffic authority, over the e-government gateway (SHEP).
    #[serde(default = "default_traffic")]
    pub traffic: kuzet_traffic::TrafficConfig,
    /// The gateway's SHEP signing key and certificate (PEM files). Without it, and without
    /// `--mock-upstreams` (which makes a throw-away one), the parties behind SHEP cannot be
    /// called: their operations answer 503 `upstream_unavailable`.
    #[serde(default)]
    pub shep_signer: Option<kuzet_shep::SignerFiles>,
    /// The in-process mock parties of `kuzet serve --mock-upstreams`.
    #[serde(default)]
    pub mocks: MocksConfig,
    /// The scheduled bureau reporting (`kuzet report run`, and the schedule in `serve`).
    #[serde(default)]
    pub reporting: crate::reporting::ReportingConfig,
    /// What the process writes to stderr.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Where the state lives: the data directory's SQLite files, or a PostgreSQL database that
    /// several replicas share. `KUZET_DATABASE_URL` overrides `database.url`.
    #[serde(default)]
    pub database: crate::db::DatabaseConfig,
}

/// The process's own log lines (tracing), not the transfer log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// `human` (one readable line per event) or `json` (one JSON object per line, for a log
    /// collector).
    #[serde(default)]
    pub format: LogFormat,
    /// Which events: a tracing filter such as `info` or `info,kuzet=debug`. `RUST_LOG`
    /// overrides it.
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

/// The format of the process's log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

fn default_log_filter() -> String {
    "info".to_owned()
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: default_log_filter(),
        }
    }
}

/// The in-process mock parties (`--mock-upstreams` only; ignored otherwise).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MocksConfig {
    /// Where the in-process mock parties listen; `127.0.0.1:0` picks a free port.
    /// `kuzet serve --mock-listen ADDR` overrides it.
    #[serde(default = "default_mock_listen")]
    pub listen: SocketAddr,
    /// Recorded answers served instead of the synthetic ones: `DIR/fcb/credit-report/<IIN>.xml`
    /// (a `CigResult` document), `DIR/gcvp/income/<IIN>.xml` and `DIR/traffic/vehicle/<IIN>.xml`
    /// (the SHEP `data` payload). `--mock-fixtures DIR` overrides it.
    #[serde(default)]
    pub fixtures: Option<PathBuf>,
    /// The size of the mock bureau's reports: `full` (about 300 KB, a dozen contracts, like
    /// the sample report) or `two_contracts` (about 60 KB).
    #[serde(default)]
    pub fcb_report_size: MockReportSize,
    /// Extra time the mock bureau waits before each answer, in milliseconds.
    #[serde(default)]
    pub fcb_latency_ms: u64,
}

impl MocksConfig {
    /// Why `fixtures` cannot be used, if it cannot: it names no folder (a mistyped one would
    /// serve the synthetic answers without a word).
    pub fn fixtures_problem(&self) -> Option<String> {
        let dir = self.fixtures.as_ref()?;
        (!dir.is_dir()).then(|| {
            format!(
                "mocks.fixtures: {} is not a folder of recorded answers",
                dir.display()
            )
        })
    }
}

fn default_mock_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Default for MocksConfig {
    fn default() -> Self {
        Self {
            listen: default_mock_listen(),
            fixtures: None,
            fcb_report_size: MockReportSize::default(),
            fcb_latency_ms: 0,
        }
    }
}

/// The size of the mock bureau's reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MockReportSize {
    #[default]
    Full,
    TwoContracts,
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address `kuzet serve` listens on (`--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes; larger ones get `413 body_too_large`.
    #[serde(default = "default_body_limit_bytes")]
    pub body_limit_bytes: usize,
    /// The deadline of one exchange request, from arrival to answer, in milliseconds. It is
    /// passed to the adapter so that an upstream call never outlives its caller.
    #[serde(default = "default_request_deadline_ms")]
    pub request_deadline_ms: u64,
    /// The longest any request may take before it is answered `504 request_timeout`, in
    /// milliseconds; above `request_deadline_ms`, so that it only catches what the deadline
    /// cannot (a stuck log, a slow client). A transfer already under way still finishes and is
    /// logged.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// The most requests served at once; one more is answered `503 overloaded` at once.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Requests per second each API client may make (a token bucket per client); one more is
    /// answered `429 rate_limited` with `Retry-After`. 0 turns the limit off.
    #[serde(default = "default_client_rate_per_second")]
    pub client_rate_per_second: u32,
    /// How many requests a client may make at once above its rate (the bucket's size).
    #[serde(default = "default_client_rate_burst")]
    pub client_rate_burst: u32,
    /// On SIGTERM or SIGINT: how long requests in flight may take to finish, in seconds, before
    /// their connections are closed. The log is flushed either way.
    #[serde(default = "default_shutdown_grace_seconds")]
    pub shutdown_grace_seconds: u64,
    /// The parties whose circuit breaker must not be open (nor their adapter missing) for
    /// `GET /readyz` to say ready: any of `fcb`, `gcvp`, `traffic`.
    #[serde(default = "default_required_parties")]
    pub required_parties: Vec<String>,
    /// HTTPS on the listener. Without it the gateway speaks plain HTTP (behind a TLS-terminating
    /// proxy, or on loopback).
    #[serde(default)]
    pub tls: Option<ListenerTls>,
}

/// HTTPS on the gateway's listener (rustls). `kill -HUP` re-reads the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// PEM file with the server's certificate chain (leaf first).
    pub certificate_pem: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
    /// Client certificates: `none`, `optional` (verified against `client_ca_pem` when a
    /// caller presents one; its subject's common name must then be the token's client name)
    /// or `required` (every caller must present one, and it must name the token's client).
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// PEM file with the CA certificates that issue callers' client certificates; required
    /// unless `client_auth = "none"`.
    #[serde(default)]
    pub client_ca_pem: Option<PathBuf>,
}

/// Whether callers authenticate with a client certificate, in addition to their token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    #[default]
    None,
    Optional,
    Required,
}

/// The parties a readiness check may require.
pub const PARTIES: [&str; 3] = ["fcb", "gcvp", "traffic"];

impl ServerConfig {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.body_limit_bytes == 0 {
            out.push("server.body_limit_bytes: must be at least 1".to_owned());
        }
        if self.request_deadline_ms == 0 {
            out.push("server.request_deadline_ms: must be at least 1".to_owned());
        }
        if self.request_timeout_ms <= self.request_deadline_ms {
            out.push(format!(
                "server.request_timeout_ms: must be above server.request_deadline_ms ({})",
                self.request_deadline_ms
            ));
        }
        if self.max_concurrent_requests == 0 {
            out.push("server.max_concurrent_requests: must be at least 1".to_owned());
        }
        if self.client_rate_per_second > 0 && self.client_rate_burst == 0 {
            out.push("server.client_rate_burst: must be at least 1".to_owned());
        }
        for party in &self.required_parties {
            if !PARTIES.contains(&party.as_str()) {
                out.push(format!(
                    "server.required_parties: {party:?} is not a party (one of fcb, gcvp, traffic)"
                ));
            }
        }
        if let Some(tls) = &self.tls
            && tls.client_auth != ClientAuth::None
            && tls.client_ca_pem.is_none()
        {
            out.push(
                "server.tls.client_ca_pem: required when client_auth is \"optional\" or \"required\""
                    .to_owned(),
            );
        }
        out
    }
}

/// Where contracts are read from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractsConfig {
    /// The contracts folder. When it does not exist, the contracts embedded in the binary
    /// (a copy of the repository's `contracts/`) are used, and the gateway says so at start.
    #[serde(default = "default_contracts_dir")]
    pub dir: PathBuf,
}

/// The transfer log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Where the log lives: `sqlite` (in the data dir) or `postgres` (the database of
    /// `database.url`, which selects PostgreSQL for all the state by itself).
    #[serde(default = "default_backend")]
    pub backend: String,
    /// A signed checkpoint after this many entries...
    #[serde(default = "default_checkpoint_every_entries")]
    pub checkpoint_every_entries: u64,
    /// ...or this many bytes of logged bodies (keeps offline proofs small)...
    #[serde(default = "default_checkpoint_every_bytes")]
    pub checkpoint_every_bytes: u64,
    /// ...or, when entries were appended, this many seconds after the last one.
    #[serde(default = "default_checkpoint_every_seconds")]
    pub checkpoint_every_seconds: u64,
    /// When `kuzet serve` destroys the body keys whose retention ended (`kuzet retention
    /// apply`): a cron expression in Asia/Almaty time; `""` turns the schedule off.
    #[serde(default = "default_retention_schedule")]
    pub retention_schedule: String,
}

impl LogConfig {
    /// The writer's checkpoint policy.
    pub fn checkpoint_policy(&self) -> crate::transfer_log::CheckpointPolicy {
        crate::transfer_log::CheckpointPolicy {
            every_entries: self.checkpoint_every_entries,
            every_bytes: self.checkpoint_every_bytes,
            every: std::time::Duration::from_secs(self.checkpoint_every_seconds),
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, v) in [
            ("checkpoint_every_entries", self.checkpoint_every_entries),
            ("checkpoint_every_bytes", self.checkpoint_every_bytes),
            ("checkpoint_every_seconds", self.checkpoint_every_seconds),
        ] {
            if v == 0 {
                out.push(format!("log.{key}: must be at least 1"));
            }
        }
        if !self.retention_schedule.trim().is_empty()
            && let Err(e) = crate::reporting::schedule::parse(&self.retention_schedule)
        {
            out.push(format!("log.retention_schedule: {e}"));
        }
        out
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_body_limit_bytes() -> usize {
    64 * 1024
}
fn default_request_deadline_ms() -> u64 {
    15_000
}
fn default_request_timeout_ms() -> u64 {
    20_000
}
fn default_max_concurrent_requests() -> usize {
    1024
}
fn default_client_rate_per_second() -> u32 {
    5_000
}
fn default_client_rate_burst() -> u32 {
    10_000
}
fn default_shutdown_grace_seconds() -> u64 {
    30
}
fn default_required_parties() -> Vec<String> {
    PARTIES.iter().map(|p| (*p).to_owned()).collect()
}
fn default_contracts_dir() -> PathBuf {
    PathBuf::from("contracts")
}
fn default_backend() -> String {
    "sqlite".to_owned()
}
fn default_checkpoint_every_entries() -> u64 {
    1000
}
fn default_checkpoint_every_bytes() -> u64 {
    1 << 20
}
fn default_checkpoint_every_seconds() -> u64 {
    10
}
fn default_retention_schedule() -> String {
    "15 3 * * *".to_owned()
}

/// The bureau's defaults point at the mock bureau on its standalone port (`kuzet mocks`), with
/// the mock's demo credentials; a real deployment sets its own.
fn default_fcb() -> kuzet_fcb::FcbConfig {
    kuzet_fcb::FcbConfig::new(
        "http://127.0.0.1:9101/FCBServices/Service",
        "kuzet-demo",
        "demo-password",
    )
}

/// The pension centre's defaults point at the mock SHEP channel on the standalone mock port,
/// with the mock's service id and demo credentials; a real deployment sets its own.
fn default_gcvp() -> kuzet_gcvp::GcvpConfig {
    kuzet_gcvp::GcvpConfig::new(
        kuzet_mocks::shep::DEFAULT_GCVP_SERVICE_ID,
        kuzet_shep::ShepConfig::new(
            "http://127.0.0.1:9101/bip-sync-wss-gost/",
            "kuzet-demo",
            "demo-password",
        ),
    )
}

/// The traffic authority's defaults point at the mock SHEP channel, like the pension centre's.
fn default_traffic() -> kuzet_traffic::TrafficConfig {
    kuzet_traffic::TrafficConfig::new(
        kuzet_mocks::shep::DEFAULT_TRAFFIC_SERVICE_ID,
        kuzet_mocks::shep::DEFAULT_USER_MARK_SERVICE_ID,
        kuzet_shep::ShepConfig::new(
            "http://127.0.0.1:9101/bip-sync-wss-gost/",
            "kuzet-demo",
            "demo-password",
        ),
    )
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: None,
            server: ServerConfig::default(),
            contracts: ContractsConfig::default(),
            log: LogConfig::default(),
            fcb: default_fcb(),
            gcvp: default_gcvp(),
            traffic: default_traffic(),
            shep_signer: None,
            mocks: MocksConfig::default(),
            reporting: crate::reporting::ReportingConfig::default(),
            logging: LoggingConfig::default(),
            database: crate::db::DatabaseConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            body_limit_bytes: default_body_limit_bytes(),
            request_deadline_ms: default_request_deadline_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            max_concurrent_requests: default_max_concurrent_requests(),
            client_rate_per_second: default_client_rate_per_second(),
            client_rate_burst: default_client_rate_burst(),
            shutdown_grace_seconds: default_shutdown_grace_seconds(),
            required_parties: default_required_parties(),
            tls: None,
        }
    }
}

impl Default for ContractsConfig {
    fn default() -> Self {
        Self {
            dir: default_contracts_dir(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            backend: default_backend(),
            checkpoint_every_entries: default_checkpoint_every_entries(),
            checkpoint_every_bytes: default_checkpoint_every_bytes(),
            checkpoint_every_seconds: default_checkpoint_every_seconds(),
            retention_schedule: default_retention_schedule(),
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", problems.iter().map(|p| p.located(path)).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One thing wrong with a configuration: what, and where (the line, when it can be found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the offending key, when known.
    pub line: Option<usize>,
    /// `section.key: what is wrong`, or the TOML parser's own message.
    pub message: String,
}

impl Problem {
    /// `FILE:LINE: message` (or `FILE: message` when the line is unknown).
    pub fn located(&self, path: &Path) -> String {
        match self.line {
            Some(line) => format!("{}:{line}: {}", path.display(), self.message),
            None => format!("{}: {}", path.display(), self.message),
        }
    }
}

/// The secrets (and credentials) that the environment may set instead of the file: a
/// deployment keeps them out of the configuration (systemd `EnvironmentFile`, a secret store).
pub const SECRET_ENV: [&str; 6] = [
    "KUZET_FCB_USER_NAME",
    "KUZET_FCB_PASSWORD",
    "KUZET_GCVP_SENDER_ID",
    "KUZET_GCVP_PASSWORD",
    "KUZET_TRAFFIC_SENDER_ID",
    "KUZET_TRAFFIC_PASSWORD",
];

impl Config {
    /// Reads a configuration file, applies the environment's secrets ([`SECRET_ENV`]) and
    /// checks it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::check_text(&text).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
        })?;
        config.apply_env(|name| std::env::var(name).ok());
        Ok(config)
    }

    /// The embedded defaults, with the environment's secrets applied.
    pub fn defaults_with_env() -> Self {
        let mut config = Config::default();
        config.apply_env(|name| std::env::var(name).ok());
        config
    }

    /// Parses a configuration text; the problems joined on one line.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::check_text(text).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| match p.line {
                    Some(line) => format!("line {line}: {}", p.message),
                    None => p.message,
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Parses and checks a configuration text: every problem, each with its line when it can
    /// be found. Files the configuration names are not opened (see [`Config::file_problems`]).
    pub fn check_text(text: &str) -> Result<Self, Vec<Problem>> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            // The parser's message repeats the line and a caret drawing; keep its first line.
            let message = e.message().trim().to_owned();
            vec![Problem { line, message }]
        })?;
        let problems: Vec<Problem> = config
            .problems()
            .into_iter()
            .map(|message| Problem {
                line: locate(text, &message),
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Every problem with the values, each starting with its dotted key.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self
            .data_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            // An empty path would put the log and the keys in whatever folder kuzet starts in.
            out.push("data_dir: is empty (leave it out for ./kuzet-data)".to_owned());
        }
        out.extend(self.server.problems());
        out.extend(self.log.problems());
        match self.log.backend.as_str() {
            "sqlite" => {}
            "postgres" if self.database.url.is_some() => {}
            "postgres" => out.push(
                "log.backend: \"postgres\" needs database.url (or KUZET_DATABASE_URL)".into(),
            ),
            other => out.push(format!(
                "log.backend: {other:?} is not supported (supported: \"sqlite\", \"postgres\")"
            )),
        }
        out.extend(self.database.problems());
        out.extend(self.reporting.problems(self.fcb.upload.max_records));
        let prefixed = |prefix: &str, problems: Vec<String>| -> Vec<String> {
            problems
                .into_iter()
                .map(|p| format!("{prefix}.{p}"))
                .collect()
        };
        out.extend(prefixed("fcb.resilience", self.fcb.resilience.problems()));
        out.extend(prefixed("fcb", self.fcb.upload.problems()));
        out.extend(prefixed("gcvp", self.gcvp.problems()));
        out.extend(prefixed("traffic", self.traffic.problems()));
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.filter) {
            out.push(format!("logging.filter: {e}"));
        }
        out
    }

    /// Problems with the files the configuration names (TLS certificates and keys, the SHEP
    /// signer, trust stores: each must exist and be readable; the mocks' fixtures folder must
    /// exist). `kuzet config check` reports them; `serve` fails on them when it opens them.
    pub fn file_problems(&self) -> Vec<String> {
        let mut files: Vec<(String, &Path)> = Vec::new();
        if let Some(tls) = &self.server.tls {
            files.push(("server.tls.certificate_pem".into(), &tls.certificate_pem));
            files.push(("server.tls.key_pem".into(), &tls.key_pem));
            if let Some(ca) = &tls.client_ca_pem {
                files.push(("server.tls.client_ca_pem".into(), ca));
            }
        }
        if let Some(ca) = &self.database.ca_pem {
            files.push(("database.ca_pem".into(), ca));
        }
        if let Some(signer) = &self.shep_signer {
            files.push(("shep_signer.key_pem".into(), &signer.key_pem));
            files.push((
                "shep_signer.certificate_pem".into(),
                &signer.certificate_pem,
            ));
        }
        for (section, http) in [
            ("fcb.http", &self.fcb.http),
            ("gcvp.shep.http", &self.gcvp.shep.http),
            ("traffic.shep.http", &self.traffic.shep.http),
        ] {
            for (key, path) in [
                ("trust_store_pem", &http.trust_store_pem),
                ("client_cert_pem", &http.client_cert_pem),
                ("client_key_pem", &http.client_key_pem),
            ] {
                if let Some(path) = path {
                    files.push((format!("{section}.{key}"), path));
                }
            }
        }
        let mut out: Vec<String> = files
            .into_iter()
            .filter_map(|(key, path)| match std::fs::File::open(path) {
                Ok(_) => None,
                Err(e) => Some(format!("{key}: cannot read {}: {e}", path.display())),
            })
            .collect();
        out.extend(self.mocks.fixtures_problem());
        out
    }

    /// Sets the secrets the environment holds ([`SECRET_ENV`]); returns the names applied.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Vec<&'static str> {
        let mut applied = Vec::new();
        // The URL may carry the database password.
        if let Some(url) = get(crate::db::DATABASE_URL_ENV).filter(|u| !u.is_empty()) {
            self.database.url = Some(url);
            applied.push(crate::db::DATABASE_URL_ENV);
        }
        for name in SECRET_ENV {
            let Some(value) = get(name) else { continue };
            let slot = match name {
                "KUZET_FCB_USER_NAME" => &mut self.fcb.user_name,
                "KUZET_FCB_PASSWORD" => &mut self.fcb.password,
                "KUZET_GCVP_SENDER_ID" => &mut self.gcvp.shep.sender_id,
                "KUZET_GCVP_PASSWORD" => &mut self.gcvp.shep.password,
                "KUZET_TRAFFIC_SENDER_ID" => &mut self.traffic.shep.sender_id,
                _ => &mut self.traffic.shep.password,
            };
            *slot = value;
            applied.push(name);
        }
        applied
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of the key a problem names (`section.sub.key: …`): the `key = ` line under the
/// `[section.sub]` header, else the header itself. Keys written as dotted keys or inline
/// tables are not found (the problem is then reported without a line).
fn locate(text: &str, problem: &str) -> Option<usize> {
    let path = problem.split(':').next()?.trim();
    let path: Vec<&str> = path
        .split(['.', ' '])
        .take_while(|p| !p.is_empty())
        .collect();
    // The longest table prefix that is a header in the text, then the key after it.
    for split in (1..=path.len()).rev() {
        let table = path[..split].join(".");
        let key = path.get(split).copied();
        let mut in_table = false;
        let mut header_line = None;
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                let name = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
                in_table = name == table;
                if in_table {
                    header_line = Some(i + 1);
                }
                continue;
            }
            if in_table
                && let Some(key) = key
                && let Some((k, _)) = trimmed.split_once('=')
                && k.trim() == key
            {
                return Some(i + 1);
            }
        }
        if header_line.is_some() {
            return header_line;
        }
    }
    // A top-level key (`data_dir`): before the first header.
    let [key] = path[..] else { return None };
    text.lines()
        .take_while(|line| !line.trim().starts_with('['))
        .position(|line| line.split_once('=').is_some_and(|(k, _)| k.trim() == key))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_matches_the_defaults() {
        let example = Config::parse(EXAMPLE).expect("example parses");
        let defaults = Config::default();
        assert_eq!(example.server, defaults.server);
        assert_eq!(example.logging, defaults.logging);
        assert_eq!(example.server.listen, defaults.server.listen);
        assert_eq!(
            example.server.body_limit_bytes,
            defaults.server.body_limit_bytes
        );
        assert_eq!(example.fcb.report_url, defaults.fcb.report_url);
        assert_eq!(example.fcb.http, defaults.fcb.http);
        assert_eq!(example.fcb.resilience, defaults.fcb.resilience);
        assert_eq!(example.mocks.listen, defaults.mocks.listen);
        assert_eq!(example.gcvp, defaults.gcvp);
        assert_eq!(example.traffic, defaults.traffic);
        assert_eq!(example.reporting, defaults.reporting);
        assert_eq!(example.log, defaults.log);
        assert_eq!(example.database, defaults.database);
        assert!(example.shep_signer.is_none());
    }

    #[test]
    fn the_database_is_sqlite_unless_a_url_names_postgres() {
        let config = Config::parse("").expect("empty");
        assert!(!config.database.is_postgres());
        let err = Config::parse("[log]\nbackend = \"postgres\"\n").expect_err("no url");
        assert!(err.contains("needs database.url"), "{err}");
        let err = Config::parse("[database]\nurl = \"mysql:x\"\n").expect_err("not a url");
        assert!(err.contains("database.url"), "{err}");
        let err = Config::parse("[database]\nurl = \"postgres://db/k?sslmode=require\"\n")
            .expect_err("tls without a CA");
        assert!(err.contains("database.ca_pem"), "{err}");
        let err = Config::parse("[database]\nurl = \"postgres://db/k\"\npool_size = 1\n")
            .expect_err("pool");
        assert!(err.contains("database.pool_size"), "{err}");
        let mut config = Config::parse("[database]\nurl = \"postgres://db/file\"\n").expect("ok");
        let applied = config.apply_env(|name| {
            (name == crate::db::DATABASE_URL_ENV).then(|| "postgres://db/env".to_owned())
        });
        assert_eq!(applied, [crate::db::DATABASE_URL_ENV]);
        assert_eq!(config.database.url.as_deref(), Some("postgres://db/env"));
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let empty = Config::parse("").expect("empty parses");
        assert_eq!(empty.server.listen, default_listen());
        assert_eq!(empty.fcb.user_name, "kuzet-demo");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[server]\nlisten_adress = \"127.0.0.1:1\"\n").expect_err("typo");
        assert!(err.contains("listen_adress"), "{err}");
        let err = Config::parse("[fcb]\nreport_url = \"x\"\npasword = \"x\"\n").expect_err("typo");
        assert!(err.contains("pasword"), "{err}");
        let err = Config::parse("[log]\nbackend = \"mysql\"\n").expect_err("backend");
        assert!(err.contains("mysql"), "{err}");
        let err = Config::parse("[log]\ncheckpoint_every_entries = 0\n").expect_err("zero");
        assert!(err.contains("log.checkpoint_every_entries"), "{err}");
        let err = Config::parse("[log]\nretention_schedule = \"daily\"\n").expect_err("cron");
        assert!(err.contains("log.retention_schedule"), "{err}");
        let off = Config::parse("[log]\nretention_schedule = \"\"\n").expect("off");
        assert!(off.log.retention_schedule.is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "\
[server]
listen = \"127.0.0.1:8080\"
request_deadline_ms = 15000
request_timeout_ms = 1000
required_parties = [\"fcb\", \"bank\"]

[server.tls]
certificate_pem = \"/nonexistent/server.pem\"
key_pem = \"/nonexistent/server.key\"
client_auth = \"required\"

[fcb]
report_url = \"https://fcb.example/FCBServices/Service\"
user_name = \"u\"
password = \"p\"

[fcb.resilience]
rate_burst = 0

[logging]
format = \"json\"
";
        let problems = Config::check_text(text).expect_err("problems");
        let found: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.split(':').next().unwrap_or_default()))
            .collect();
        assert_eq!(
            found,
            [
                (Some(4), "server.request_timeout_ms"),
                (Some(5), "server.required_parties"),
                (Some(7), "server.tls.client_ca_pem"),
                (Some(18), "fcb.resilience.rate_burst must be at least 1"),
            ],
            "{problems:?}"
        );
        assert!(problems[1].message.contains("\"bank\""), "{problems:?}");

        // A syntax or shape error is the parser's, with its line.
        let problems = Config::check_text("[server]\nlisten = 8080\n").expect_err("type");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2), "{problems:?}");
        let problems = Config::check_text("[logging]\n\nfromat = \"json\"\n").expect_err("key");
        assert_eq!(problems[0].line, Some(3), "{problems:?}");
        assert!(problems[0].message.contains("fromat"), "{problems:?}");
        // An empty data_dir would be the current folder.
        let problems = Config::check_text("\ndata_dir = \"\"\n").expect_err("empty");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(2), "{problems:?}");
        assert!(
            problems[0].message.starts_with("data_dir: is empty"),
            "{problems:?}"
        );

        // The files a valid configuration names are checked apart.
        let config = Config::parse(
            "[server.tls]\ncertificate_pem = \"/nonexistent/a.pem\"\nkey_pem = \"/nonexistent/a.key\"\n",
        )
        .expect("valid");
        let files = config.file_problems();
        assert_eq!(files.len(), 2, "{files:?}");
        let config =
            Config::parse("[mocks]\nfixtures = \"/nonexistent/fixtures\"\n").expect("valid");
        assert_eq!(
            config.file_problems(),
            ["mocks.fixtures: /nonexistent/fixtures is not a folder of recorded answers"]
        );
        assert!(files[0].starts_with("server.tls.certificate_pem: cannot read /nonexistent/a.pem"));
    }

    #[test]
    fn secrets_come_from_the_environment_over_the_file() {
        let mut config = Config::parse("[fcb]\nreport_url = \"https://fcb.example/\"\nuser_name = \"u\"\npassword = \"from-file\"\n")
            .expect("valid");
        let env = |name: &str| match name {
            "KUZET_FCB_PASSWORD" => Some("from-env".to_owned()),
            "KUZET_TRAFFIC_PASSWORD" => Some("traffic-env".to_owned()),
            _ => None,
        };
        let applied = config.apply_env(env);
        assert_eq!(applied, ["KUZET_FCB_PASSWORD", "KUZET_TRAFFIC_PASSWORD"]);
        assert_eq!(config.fcb.password, "from-env");
        assert_eq!(config.fcb.user_name, "u");
        assert_eq!(config.traffic.shep.password, "traffic-env");
        assert_eq!(config.gcvp.shep.password, "demo-password");
        // Never printed: the configuration's Debug redacts the secrets.
        assert!(!format!("{config:?}").contains("from-env"));
    }
}
