//! The listener of `kuzet serve`: plain HTTP or HTTPS (rustls with the one ring provider; the
//! certificate, key and client CA re-read on demand, which `serve` does on SIGHUP), and the
//! graceful shutdown: readiness turns false, no new connection is accepted, requests in flight
//! get a grace period, transfers under way finish.
//!
//! It never reads a request: everything about requests is the router's (`crate::api`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::api::AppState;
use crate::config::{ClientAuth, ListenerTls};

/// Why the listener could not start (or reload).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("server.tls: {0}")]
    Tls(String),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The rustls configuration of the listener, from the PEM files.
pub fn tls_server_config(tls: &ListenerTls) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    kuzet_transport::install_crypto_provider();
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        ServerError::Tls(format!("{what} {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.certificate_pem)
        .map_err(|e| bad("cannot read certificate_pem", &tls.certificate_pem, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate_pem", &tls.certificate_pem, &e))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(format!(
            "certificate_pem {}: no certificate in the file",
            tls.certificate_pem.display()
        )));
    }
    let key =
        PrivateKeyDer::from_pem_file(&tls.key_pem).map_err(|e| bad("key_pem", &tls.key_pem, &e))?;
    let builder = rustls::ServerConfig::builder();
    let builder = match (tls.client_auth, &tls.client_ca_pem) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(ServerError::Tls(
                "client_ca_pem is required when client_auth is not \"none\"".into(),
            ));
        }
        (auth, Some(ca)) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .map_err(|e| bad("cannot read client_ca_pem", ca, &e))?
            {
                let cert = cert.map_err(|e| bad("client_ca_pem", ca, &e))?;
                roots.add(cert).map_err(|e| bad("client_ca_pem", ca, &e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots));
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| bad("client_ca_pem", ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(format!("certificate_pem and key_pem: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A running listener.
pub struct Server {
    addr: SocketAddr,
    handle: Handle<SocketAddr>,
    tls: Option<(ListenerTls, RustlsConfig)>,
    state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `router` on `listener` (HTTPS when `tls` is given).
    pub async fn start(
        router: Router,
        state: AppState,
        listener: std::net::TcpListener,
        tls: Option<ListenerTls>,
    ) -> Result<Server, ServerError> {
        let addr = listener.local_addr()?;
        let handle: Handle<SocketAddr> = Handle::new();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let (task, tls) = match tls {
            Some(files) => {
                let rustls = RustlsConfig::from_config(tls_server_config(&files)?);
                let server =
                    axum_server::from_tcp_rustls(listener, rustls.clone())?.handle(handle.clone());
                (tokio::spawn(server.serve(service)), Some((files, rustls)))
            }
            None => {
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                (tokio::spawn(server.serve(service)), None)
            }
        };
        Ok(Server {
            addr,
            handle,
            tls,
            state,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the listener speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Re-reads the certificate, key and client CA; new connections use them, open ones keep
    /// theirs. On an error the old ones stay in use.
    pub fn reload_tls(&self) -> Result<(), ServerError> {
        let Some((files, rustls)) = &self.tls else {
            return Ok(());
        };
        rustls.reload_from_config(tls_server_config(files)?);
        Ok(())
    }

    /// Stops at once: open connections are closed, nothing is waited for (tests' teardown).
    pub fn abort(&self) {
        self.handle.shutdown();
    }

    /// The graceful shutdown: readiness turns false, the listener stops accepting, requests
    /// in flight get until `grace` is over, and transfers under way are waited for (within
    /// the same grace period). Returns whether everything finished in time.
    pub async fn shutdown(self, grace: Duration) -> Result<bool, ServerError> {
        let started = Instant::now();
        self.state.readiness.shutting_down();
        self.handle.graceful_shutdown(Some(grace));
        match self.task.await {
            Ok(result) => result?,
            Err(e) => return Err(ServerError::Io(std::io::Error::other(e))),
        }
        let transfers = &self.state.transfers;
        transfers.close();
        let left = grace.saturating_sub(started.elapsed());
        let in_time = tokio::time::timeout(left, transfers.wait()).await.is_ok();
        if !in_time {
            tracing::warn!(
                transfers = transfers.len(),
                "Shutdown grace period over with transfers still under way."
            );
        }
        Ok(in_time)
    }
}
