//! HTTPS on the gateway's own listener (`[server.tls]`), with a test CA made here: the
//! certificate is served and re-read on demand (SIGHUP in `serve`), plain HTTP is refused, and
//! with client certificates on, a caller needs a certificate from the client CA that names the
//! client of its token.

mod common;

use std::path::{Path, PathBuf};

use common::test_config;
use kuzet::app::{App, AppOptions};
use kuzet::config::{ClientAuth, ListenerTls};
use kuzet::contract::Role;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).expect("self-signed");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// `(certificate PEM, key PEM)` for the server (localhost, 127.0.0.1) or a client named `cn`.
fn leaf(ca: &Ca, cn: &str, server: bool) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let names = if server {
        vec!["localhost".to_owned()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    if server {
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    let cert = params.signed_by(&key, &ca.issuer).expect("signed");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// A client trusting `ca_pem`, presenting `identity` (certificate and key PEM) when given.
fn client(ca_pem: &str, identity: Option<&(String, String)>) -> reqwest::Client {
    kuzet_transport::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let tls = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("chain");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
            builder.with_client_auth_cert(chain, key).expect("identity")
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // The audit page's sign-in answers 303 with its cookie: seen, not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A listener with a server certificate from `ca` (files in `dir`) and no client certificates.
fn server_only(dir: &Path, ca: &Ca) -> ListenerTls {
    let (cert, key) = leaf(ca, "kuzet", true);
    ListenerTls {
        certificate_pem: write(dir, "server.pem", &cert),
        key_pem: write(dir, "server.key", &key),
        client_auth: ClientAuth::None,
        client_ca_pem: None,
    }
}

struct TlsApp {
    server: kuzet::server::Server,
    app: App,
    dir: tempfile::TempDir,
}

impl TlsApp {
    async fn start(tls: ListenerTls, dir: tempfile::TempDir) -> TlsApp {
        let mut config = test_config();
        config.server.tls = Some(tls.clone());
        let app = App::build(AppOptions {
            data_dir: dir.path().join("data"),
            config,
            mock_upstreams: true,
        })
        .await
        .expect("build");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = kuzet::server::Server::start(
            app.router.clone(),
            app.state.clone(),
            listener,
            Some(tls),
        )
        .await
        .expect("start");
        TlsApp { server, app, dir }
    }

    /// A listener whose callers' certificates `auth` asks for, issued by a clients' CA of its
    /// own; returns it with the server's CA and the clients' CA.
    async fn with_client_auth(auth: ClientAuth) -> (TlsApp, Ca, Ca) {
        let dir = tempfile::tempdir().expect("tempdir");
        let server_ca = ca("kuzet listener server CA");
        let clients_ca = ca("kuzet callers CA");
        let (cert, key) = leaf(&server_ca, "kuzet", true);
        let tls = ListenerTls {
            certificate_pem: write(dir.path(), "server.pem", &cert),
            key_pem: write(dir.path(), "server.key", &key),
            client_auth: auth,
            client_ca_pem: Some(write(dir.path(), "clients-ca.pem", &clients_ca.pem)),
        };
        (TlsApp::start(tls, dir).await, server_ca, clients_ca)
    }

    fn url(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{path}",
            self.server.local_addr().port()
        )
    }

    fn add_client(&self, name: &str, role: Role) -> String {
        let token = kuzet::registry::new_token().expect("token");
        self.app
            .gateway
            .registry()
            .add_client(name, role, &token)
            .expect("add");
        token
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[tokio::test]
async fn the_listener_serves_https_refuses_plain_http_and_reloads_its_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ca("kuzet listener test CA 1");
    let app = TlsApp::start(server_only(dir.path(), &first), dir).await;
    assert!(app.server.is_tls());
    let resp = client(&first.pem, None)
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(resp.status(), 200);
    // Plain HTTP on the same port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            app.server.local_addr().port()
        ))
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));

    // A new certificate from another CA, then the reload `kill -HUP` does.
    let second = ca("kuzet listener test CA 2");
    let (cert, key) = leaf(&second, "kuzet", true);
    let dir = app.dir.path();
    std::fs::write(dir.join("server.pem"), &cert).expect("write");
    std::fs::write(dir.join("server.key"), &key).expect("write");
    app.server.reload_tls().expect("reload");
    let resp = client(&second.pem, None)
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("the new certificate is served");
    assert_eq!(resp.status(), 200);
    assert!(
        client(&first.pem, None)
            .get(app.url("/healthz"))
            .send()
            .await
            .is_err(),
        "the old CA no longer verifies the server"
    );

    // A broken file on reload keeps the working certificate.
    std::fs::write(dir.join("server.key"), "not a key").expect("write");
    assert!(app.server.reload_tls().is_err());
    let resp = client(&second.pem, None)
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("still served");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn with_client_certificates_required_a_caller_needs_one_naming_its_client() {
    let (app, server_ca, clients_ca) = TlsApp::with_client_auth(ClientAuth::Required).await;
    let token = app.add_client("pipeline", Role::Auditor);
    let other_token = app.add_client("someone-else", Role::Auditor);
    let pipeline_cert = leaf(&clients_ca, "pipeline", false);

    // No certificate: the handshake fails.
    assert!(
        client(&server_ca.pem, None)
            .get(app.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    // A certificate from another CA: refused too.
    let stranger = leaf(&ca("elsewhere"), "pipeline", false);
    assert!(
        client(&server_ca.pem, Some(&stranger))
            .get(app.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    // The right certificate with its client's token.
    let http = client(&server_ca.pem, Some(&pipeline_cert));
    let resp = http
        .get(app.url("/v1/transfers"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    // The same certificate with another client's token: 401.
    let resp = http
        .get(app.url("/v1/transfers"))
        .bearer_auth(&other_token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthenticated");
    // The token is still required.
    let resp = http
        .get(app.url("/v1/transfers"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn with_client_certificates_optional_a_caller_without_one_uses_its_token_alone() {
    let (app, server_ca, clients_ca) = TlsApp::with_client_auth(ClientAuth::Optional).await;
    let token = app.add_client("pipeline", Role::Auditor);
    let resp = client(&server_ca.pem, None)
        .get(app.url("/v1/transfers"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    // A presented certificate must still name the client.
    let wrong = leaf(&clients_ca, "not-pipeline", false);
    let resp = client(&server_ca.pem, Some(&wrong))
        .get(app.url("/v1/transfers"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
}

#[test]
fn a_listener_with_unreadable_files_names_them() {
    let tls = ListenerTls {
        certificate_pem: "/nonexistent/server.pem".into(),
        key_pem: "/nonexistent/server.key".into(),
        client_auth: ClientAuth::None,
        client_ca_pem: None,
    };
    let err = kuzet::server::tls_server_config(&tls).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/server.pem"), "{err}");
}

#[tokio::test]
async fn over_tls_the_audit_session_cookie_is_secure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ca("kuzet listener test CA");
    let app = TlsApp::start(server_only(dir.path(), &ca), dir).await;
    let token = app.add_client("auditor-1", Role::Auditor);
    let resp = client(&ca.pem, None)
        .post(app.url("/audit/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("https");
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().expect("ascii");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/audit"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
}
