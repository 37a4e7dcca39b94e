//! TLS for the mock server: a throw-away test PKI (a CA, a server certificate for `localhost`
//! and `127.0.0.1`, a client certificate for mutual TLS), generated at start with rcgen on ring,
//! and a TLS listener for axum. With [`ClientAuth::Required`] a client without a certificate
//! issued by the test CA cannot even finish the handshake.
//!
//! Everything here is for tests and development: the keys live in memory and, when asked, in
//! files under a directory the caller chooses. Never use them for anything real.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Whether the mock asks callers for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Server authentication only.
    #[default]
    None,
    /// Mutual TLS: a client certificate issued by the test CA is required.
    Required,
}

/// A test CA with a server and a client certificate, all PEM.
#[derive(Clone)]
pub struct TestPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// Where [`TestPki::write`] put the files a gateway needs to call the mock over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFiles {
    /// The test CA (the gateway's `trust_store_pem`).
    pub ca_pem: PathBuf,
    /// The client certificate and key (the gateway's `client_cert_pem`, `client_key_pem`).
    pub client_cert_pem: PathBuf,
    pub client_key_pem: PathBuf,
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("test PKI: {e}"))
}

impl TestPki {
    /// A fresh CA, a server certificate for `localhost` / `127.0.0.1` / `::1`, and a client
    /// certificate.
    pub fn generate() -> io::Result<Self> {
        let ca_key = KeyPair::generate().map_err(tls_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kuzet mock parties test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).map_err(tls_error)?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let server_key = KeyPair::generate().map_err(tls_error)?;
        let mut server = CertificateParams::new(vec!["localhost".to_owned()]).map_err(tls_error)?;
        server
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        server
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        server
            .distinguished_name
            .push(DnType::CommonName, "kuzet mock parties");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).map_err(tls_error)?;

        let client_key = KeyPair::generate().map_err(tls_error)?;
        let mut client = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        client
            .distinguished_name
            .push(DnType::CommonName, "kuzet gateway (test)");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer).map_err(tls_error)?;

        Ok(Self {
            ca_pem: ca.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Writes the CA and the client certificate and key into `dir` (keys with mode 0600).
    pub fn write(&self, dir: &Path) -> io::Result<PkiFiles> {
        std::fs::create_dir_all(dir)?;
        let files = PkiFiles {
            ca_pem: dir.join("mock-ca.pem"),
            client_cert_pem: dir.join("mock-client.pem"),
            client_key_pem: dir.join("mock-client.key"),
        };
        std::fs::write(&files.ca_pem, &self.ca_pem)?;
        std::fs::write(&files.client_cert_pem, &self.client_cert_pem)?;
        write_private(&files.client_key_pem, &self.client_key_pem)?;
        Ok(files)
    }

    /// The rustls server configuration (ring provider) for the mock.
    pub fn server_config(&self, client_auth: ClientAuth) -> io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = CertificateDer::pem_slice_iter(self.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(tls_error)?;
        let key =
            PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).map_err(tls_error)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let builder = match client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Required => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
                    roots.add(ca.map_err(tls_error)?).map_err(tls_error)?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(tls_error)?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(tls_error)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    std::fs::write(path, contents)
}

/// A TLS listener for `axum::serve`: accepts TCP connections, runs each handshake on its own
/// task (a slow or failing client never holds up the others), and hands over the connections
/// whose handshake succeeded. Failed handshakes (no client certificate under mutual TLS, a
/// client that does not trust the CA) are dropped and traced.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Binds `listen` and serves TLS with `config`.
    pub async fn bind(listen: SocketAddr, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let tcp = TcpListener::bind(listen).await?;
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "Mock TLS accept failed.");
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(tls) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Err(e) => tracing::debug!(error = %e, "Mock TLS handshake refused."),
                    }
                });
            }
        });
        Ok(Self {
            local,
            ready,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task only ends when the listener is dropped; until then, wait.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
