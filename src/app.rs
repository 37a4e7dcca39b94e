//! Putting the gateway together: configuration, contracts, registry, transfer log, adapters and
//! (with `--mock-upstreams`) the in-process mock parties, into one router.
//!
//! Tests build the same thing through [`App::build`], so what they exercise is what runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::api::{self, AppState};
use crate::config::{Config, MockReportSize};
use crate::contract::{Contracts, Role};
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::registry::{Registry, SqliteRegistry};
use crate::transfer_log::TransferLog;
use crate::upstream::Upstreams;

/// Why the gateway could not start. Each names what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("contracts in {dir}:\n{problems}")]
    Contracts { dir: String, problems: String },
    #[error("transfer log: {0}")]
    Log(String),
    #[error("registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error("bureau adapter: {0}")]
    Fcb(String),
    #[error("bureau reporting: {0}")]
    Reporting(String),
    #[error("pension-centre adapter: {0}")]
    Gcvp(String),
    #[error("road-traffic adapter: {0}")]
    Traffic(String),
    #[error("SHEP signer: {0}")]
    Signer(String),
    #[error("mock parties: {0}")]
    Mocks(String),
    #[error("data directory: {0}")]
    DataDir(String),
    #[error("{0}")]
    Database(String),
}

/// A signing key and certificate from a fresh test CA, for the in-process SHEP mock; returns
/// the signer and the CA (PEM) the mock must trust.
fn throwaway_signer() -> Result<(Arc<dyn kuzet_shep::Signer>, String), StartError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
    let bad = |e: &dyn std::fmt::Display| StartError::Signer(format!("test signer: {e}"));
    let pki = kuzet_mocks::tls::TestPki::generate().map_err(|e| bad(&e))?;
    let key =
        PrivatePkcs8KeyDer::from_pem_slice(pki.client_key_pem.as_bytes()).map_err(|e| bad(&e))?;
    let cert =
        CertificateDer::from_pem_slice(pki.client_cert_pem.as_bytes()).map_err(|e| bad(&e))?;
    let signer = kuzet_shep::EcdsaP256Signer::from_pkcs8(key.secret_pkcs8_der(), cert.to_vec())
        .map_err(|e| bad(&e))?;
    Ok((Arc::new(signer), pki.ca_pem))
}

/// How to build the gateway.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub data_dir: PathBuf,
    pub config: Config,
    /// Start the mock parties in-process on loopback and point the adapters at them.
    pub mock_upstreams: bool,
}

/// A built gateway, ready to serve.
pub struct App {
    pub router: Router,
    /// What the router's handlers share (readiness, transfers under way: for the listener).
    pub state: AppState,
    pub gateway: Arc<Gateway>,
    /// Where the contracts came from (a folder, or "embedded").
    pub contracts_source: String,
    /// The in-process mock parties, when `mock_upstreams` is on.
    pub mocks: Option<kuzet_mocks::server::MockServer>,
    /// The scheduled bureau reporting job (over the same contracts, ledger, log and bureau).
    pub reporter: Arc<crate::reporting::Reporter>,
}

/// Creates the data directory, readable by its owner only (it holds the master key, the
/// transfer log and the token hashes). An existing directory is left as it is.
pub fn ensure_data_dir(dir: &Path) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StartError::DataDir(format!("cannot create {}: {e}", dir.display())))
}

/// Loads the contracts from `dir`, or the embedded copy when `dir` does not exist.
pub fn load_contracts(dir: &Path) -> Result<(Contracts, String), StartError> {
    let to_error = |e: crate::contract::ContractErrors| StartError::Contracts {
        dir: dir.display().to_string(),
        problems: e.to_string(),
    };
    match Contracts::load_or_embedded(dir).map_err(to_error)? {
        (contracts, false) => Ok((contracts, dir.display().to_string())),
        (contracts, true) => Ok((contracts, "embedded".to_owned())),
    }
}

impl App {
    pub async fn build(options: AppOptions) -> Result<App, StartError> {
        Self::build_with_log(options, None).await
    }

    /// Builds with a given transfer log (tests use one whose backend fails on demand);
    /// `None` opens the SQLite log in the data dir.
    pub async fn build_with_log(
        options: AppOptions,
        log: Option<TransferLog>,
    ) -> Result<App, StartError> {
        kuzet_transport::install_crypto_provider();
        ensure_data_dir(&options.data_dir)?;
        let mut config = options.config;
        let (contracts, contracts_source) = load_contracts(&config.contracts.dir)?;

        // The SHEP signer: the configured key, or under --mock-upstreams a throw-away one whose
        // CA the in-process mock trusts.
        let mut signer: Option<Arc<dyn kuzet_shep::Signer>> = match &config.shep_signer {
            Some(files) => Some(Arc::new(
                kuzet_shep::EcdsaP256Signer::from_pem_files(files)
                    .map_err(|e| StartError::Signer(e.to_string()))?,
            )),
            None => None,
        };
        let mocks = if options.mock_upstreams {
            if let Some(problem) = config.mocks.fixtures_problem() {
                return Err(StartError::Mocks(problem));
            }
            let report_size = match config.mocks.fcb_report_size {
                MockReportSize::Full => kuzet_mocks::fcb::ReportSize::Full,
                MockReportSize::TwoContracts => kuzet_mocks::fcb::ReportSize::TwoContracts,
            };
            let mut shep = kuzet_mocks::shep::ShepMockOptions {
                fixtures: config.mocks.fixtures.clone(),
                gcvp_service_id: config.gcvp.service_id.clone(),
                traffic_service_id: config.traffic.vehicle_service_id.clone(),
                user_mark_service_id: config.traffic.user_mark_service_id.clone(),
                ..Default::default()
            };
            if signer.is_none() {
                let (mock_signer, ca_pem) = throwaway_signer()?;
                signer = Some(mock_signer);
                shep.trusted_ca_pem = Some(ca_pem);
            }
            let server = kuzet_mocks::server::spawn(kuzet_mocks::server::MockServerOptions {
                listen: config.mocks.listen,
                fcb: kuzet_mocks::fcb::FcbMockOptions {
                    expected_user: config.fcb.user_name.clone(),
                    expected_password: config.fcb.password.clone(),
                    report_size,
                    latency: Duration::from_millis(config.mocks.fcb_latency_ms),
                    fixtures: config.mocks.fixtures.clone(),
                    ..Default::default()
                },
                shep,
                tls: None,
            })
            .await
            .map_err(|e| StartError::Mocks(e.to_string()))?;
            config.fcb.report_url = server.fcb_url();
            config.gcvp.shep.endpoint_url = server.shep_url();
            config.traffic.shep.endpoint_url = server.shep_url();
            Some(server)
        } else {
            None
        };
        let (gcvp, traffic) = match signer {
            Some(signer) => (
                Some(
                    kuzet_gcvp::GcvpClient::new(config.gcvp.clone(), signer.clone())
                        .map_err(|e| StartError::Gcvp(e.to_string()))?,
                ),
                Some(
                    kuzet_traffic::TrafficClient::new(config.traffic.clone(), signer)
                        .map_err(|e| StartError::Traffic(e.to_string()))?,
                ),
            ),
            None => {
                tracing::warn!(
                    "No [shep_signer] configured: the pension centre and the road-traffic \
                     authority cannot be called (their operations answer 503)."
                );
                (None, None)
            }
        };

        // SQLite in the data dir, or the PostgreSQL database replicas share (migrated, its
        // keys checked against the data dir's).
        let database = crate::db::Database::open(&config.database, &options.data_dir)
            .map_err(|e| StartError::Database(e.to_string()))?;
        let registry: Arc<dyn Registry> = match database.pg() {
            Some(pg) => Arc::new(crate::db::registry::PgRegistry::new(pg.clone())),
            None => Arc::new(SqliteRegistry::open(&options.data_dir)?),
        };
        let log = match (log, database.pg()) {
            (Some(log), _) => log,
            (None, Some(pg)) => TransferLog::open_postgres(
                &options.data_dir,
                pg.clone(),
                config.log.checkpoint_policy(),
            )
            .map_err(|e| StartError::Log(e.to_string()))?,
            (None, None) => crate::transfer_log::SqliteBackend::open(&options.data_dir)
                .and_then(|b| {
                    TransferLog::open_with(
                        &options.data_dir,
                        Box::new(b),
                        config.log.checkpoint_policy(),
                    )
                })
                .map_err(|e| StartError::Log(e.to_string()))?,
        };
        let fcb = kuzet_fcb::FcbClient::new(config.fcb.clone())
            .map_err(|e| StartError::Fcb(e.to_string()))?;
        let contracts = Arc::new(contracts);
        let upstreams = Upstreams::new(fcb.clone(), gcvp, traffic);
        // One set of metrics for the API, the gateway and the reporting job.
        let metrics = Arc::new(Metrics::new(upstreams.parties(), Some(log.stats())));
        // The same client (and so the same guard: rate limit, breaker) as the exchange API's.
        let report_store = match database.pg() {
            Some(pg) => crate::reporting::ReportStore::open_postgres(pg.clone()),
            None => crate::reporting::ReportStore::open(&options.data_dir)
                .map_err(|e| StartError::Reporting(e.to_string()))?,
        };
        let reporter = Arc::new(
            crate::reporting::Reporter::new(
                report_store,
                &options.data_dir,
                contracts.clone(),
                registry.clone(),
                log.clone(),
                fcb,
                config.fcb.upload.clone(),
                config.reporting.clone(),
            )
            .with_metrics(metrics.clone()),
        );
        let gateway = Arc::new(
            Gateway::new(
                contracts,
                registry,
                log,
                upstreams,
                Duration::from_millis(config.server.request_deadline_ms),
            )
            .with_metrics(metrics),
        );
        let state = AppState {
            gateway: gateway.clone(),
            body_limit_bytes: config.server.body_limit_bytes,
            data_dir: options.data_dir.clone(),
            limits: Arc::new(api::limits::Limits::new(&config.server)),
            transfers: tokio_util::task::TaskTracker::new(),
            readiness: Arc::new(api::Readiness::new(config.server.required_parties.clone())),
            client_auth: config
                .server
                .tls
                .as_ref()
                .map_or(crate::config::ClientAuth::None, |t| t.client_auth),
        };
        let router = api::router(state.clone());
        Ok(App {
            router,
            state,
            gateway,
            contracts_source,
            mocks,
            reporter,
        })
    }

    /// The in-process mock bureau's handle (its calls and faults), when `mock_upstreams` is on.
    pub fn mock(&self) -> Option<&kuzet_mocks::Running> {
        self.mocks.as_ref().map(|m| &m.running)
    }

    /// Creates one demo client per role when the registry has none; returns `(name, role,
    /// token)` for each, to be printed once.
    pub fn create_demo_clients(&self) -> Result<Vec<(String, Role, String)>, StartError> {
        let registry = self.gateway.registry();
        if !registry.list_clients()?.is_empty() {
            return Ok(Vec::new());
        }
        let mut created = Vec::new();
        for &role in Role::ALL {
            let name = format!("demo-{}", role.as_str());
            let token = crate::registry::new_token()?;
            match registry.add_client(&name, role, &token) {
                Ok(_) => created.push((name, role, token)),
                // Another replica on the same database made it meanwhile.
                Err(crate::registry::RegistryError::DuplicateClient(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }
}
