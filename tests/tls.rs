//! The bureau over TLS: the gateway trusts only the configured CA, presents its client
//! certificate for mutual TLS, and a party it cannot authenticate is never sent anything.

mod common;

use common::{TestApp, test_config};
use kuzet::transfer_log::Kind;
use kuzet_mocks::server::{MockServer, MockServerOptions};
use kuzet_mocks::tls::{ClientAuth, PkiFiles, TestPki};

async fn tls_mock(auth: ClientAuth) -> (MockServer, PkiFiles, tempfile::TempDir) {
    let pki = TestPki::generate().expect("pki");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = pki.write(dir.path()).expect("pki files");
    let server = kuzet_mocks::server::spawn(MockServerOptions {
        tls: Some((pki, auth)),
        ..Default::default()
    })
    .await
    .expect("mock");
    (server, files, dir)
}

async fn gateway(server: &MockServer, files: &PkiFiles, trust: bool, client_cert: bool) -> TestApp {
    let mut config = test_config();
    config.fcb.report_url = server.fcb_url();
    assert!(config.fcb.report_url.starts_with("https://localhost:"));
    if trust {
        config.fcb.http.trust_store_pem = Some(files.ca_pem.clone());
    }
    if client_cert {
        config.fcb.http.client_cert_pem = Some(files.client_cert_pem.clone());
        config.fcb.http.client_key_pem = Some(files.client_key_pem.clone());
    }
    config.fcb.resilience.retry_max_attempts = 1;
    TestApp::spawn_config(config, false).await
}

/// A credit report for the demo subject: (status, code).
async fn report(app: &TestApp) -> (u16, String) {
    let iin = common::demo_iin();
    let consent = app.consent(&iin).await;
    let a = app.credit_report(&iin, Some(&consent)).await;
    (a.status, a.code().to_owned())
}

#[tokio::test]
async fn the_bureau_over_tls_with_the_configured_ca() {
    let (server, files, _dir) = tls_mock(ClientAuth::None).await;
    let app = gateway(&server, &files, true, false).await;
    let (status, _) = report(&app).await;
    assert_eq!(status, 200);
    assert_eq!(server.running.calls(), 1);
}

#[tokio::test]
async fn a_party_whose_certificate_is_not_trusted_gets_nothing() {
    let (server, files, _dir) = tls_mock(ClientAuth::None).await;
    // The system's trust store does not know the test CA.
    let app = gateway(&server, &files, false, false).await;
    assert_eq!(report(&app).await, (503, "upstream_unavailable".to_owned()));
    // The handshake failed before any request reached the mock.
    assert_eq!(server.running.calls(), 0);
    let entries = app.all_entries().await;
    let last = entries.last().expect("entries");
    assert_eq!(last.kind, Kind::In);
    assert_eq!(last.outcome, "error:connection_failed");
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let (server, files, _dir) = tls_mock(ClientAuth::Required).await;
    let without = gateway(&server, &files, true, false).await;
    // Under TLS 1.3 the server refuses the missing certificate after the client's side of the
    // handshake is done, so the gateway sees a broken connection: 502 upstream_error.
    assert_eq!(report(&without).await, (502, "upstream_error".to_owned()));
    assert_eq!(server.running.calls(), 0, "refused in the handshake");
    let with = gateway(&server, &files, true, true).await;
    assert_eq!(report(&with).await.0, 200);
    assert_eq!(server.running.calls(), 1);
}
