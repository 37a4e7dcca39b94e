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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Where the log lives: `sqlite` (in the data dir). PostgreSQL comes later.
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
            server: ServerConfig::default(),
            contracts: ContractsConfig::default(),
            log: LogConfig::default(),
            fcb: default_fcb(),
            gcvp: default_gcvp(),
            traffic: default_traffic(),
            shep_signer: None,
            mocks: MocksConfig::default(),
            reporting: crate::reporting::ReportingConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            body_limit_bytes: default_body_limit_bytes(),
            request_deadline_ms: default_request_deadline_ms(),
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
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses a configuration text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = config.reporting.problems(config.fcb.upload.max_records);
        problems.extend(config.log.problems());
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        if config.log.backend != "sqlite" {
            return Err(format!(
                "log.backend: {:?} is not supported (supported: \"sqlite\")",
                config.log.backend
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_matches_the_defaults() {
        let example = Config::parse(EXAMPLE).expect("example parses");
        let defaults = Config::default();
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
        assert!(example.shep_signer.is_none());
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
}
