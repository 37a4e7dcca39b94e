//! Every party over TLS: the gateway trusts only the configured CA, presents its client
//! certificate for mutual TLS, and a party it cannot authenticate is never sent anything. The
//! bureau (SOAP) and the two registries behind SHEP (each with its own transport settings).

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

/// The gateway pointed at the SHEP channel of `server` for both registries, signing with the
/// test PKI's client key (the mock checks the signature, not the CA: no `trusted_ca_pem`).
async fn shep_gateway(
    server: &MockServer,
    files: &PkiFiles,
    trust: bool,
    client_cert: bool,
) -> TestApp {
    let mut config = test_config();
    config.shep_signer = Some(kuzet_shep::SignerFiles {
        key_pem: files.client_key_pem.clone(),
        certificate_pem: files.client_cert_pem.clone(),
    });
    for (shep, resilience) in [
        (&mut config.gcvp.shep, &mut config.gcvp.resilience),
        (&mut config.traffic.shep, &mut config.traffic.resilience),
    ] {
        shep.endpoint_url = server.shep_url();
        assert!(shep.endpoint_url.starts_with("https://localhost:"));
        if trust {
            shep.http.trust_store_pem = Some(files.ca_pem.clone());
        }
        if client_cert {
            shep.http.client_cert_pem = Some(files.client_cert_pem.clone());
            shep.http.client_key_pem = Some(files.client_key_pem.clone());
        }
        resilience.retry_max_attempts = 1;
    }
    TestApp::spawn_config(config, false).await
}

/// Income and vehicle status for the demo subject: (status, code) of each.
async fn shep_calls(app: &TestApp) -> Vec<(u16, String)> {
    let iin = common::demo_iin();
    app.consent_to(&iin, &["gcvp"]).await;
    let mut out = Vec::new();
    for path in ["/v1/exchange/gcvp/income", "/v1/exchange/traffic/vehicle"] {
        let a = app
            .post(
                path,
                Some(app.token(kuzet::contract::Role::Underwriting)),
                &serde_json::json!({"purpose": "contract_performance",
                                    "data": {"subject": {"iin": iin}}}),
            )
            .await;
        out.push((a.status, a.code().to_owned()));
    }
    out
}

#[tokio::test]
async fn the_shep_registries_over_tls_with_the_configured_ca() {
    let (server, files, _dir) = tls_mock(ClientAuth::None).await;
    let app = shep_gateway(&server, &files, true, false).await;
    assert_eq!(
        shep_calls(&app).await,
        [(200, String::new()), (200, String::new())]
    );
    assert_eq!(server.shep.calls(), 2);
}

#[tokio::test]
async fn shep_with_a_certificate_from_the_wrong_ca_gets_nothing() {
    let (server, files, _dir) = tls_mock(ClientAuth::None).await;
    // Trust a CA, but not the one that issued the server's certificate.
    let other = TestPki::generate().expect("pki");
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other_files = other.write(other_dir.path()).expect("pki files");
    let mut config_files = files.clone();
    config_files.ca_pem = other_files.ca_pem.clone();
    let app = shep_gateway(&server, &config_files, true, false).await;
    let unavailable = (503, "upstream_unavailable".to_owned());
    assert_eq!(shep_calls(&app).await, [unavailable.clone(), unavailable]);
    assert_eq!(server.shep.calls(), 0, "the handshake failed first");
    let entries = app.all_entries().await;
    let ins: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.kind == Kind::In)
        .map(|e| (e.recipient.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        ins,
        [
            ("gcvp", "error:connection_failed"),
            ("traffic", "error:connection_failed")
        ]
    );
}

#[tokio::test]
async fn shep_over_mutual_tls_needs_the_client_certificate() {
    let (server, files, _dir) = tls_mock(ClientAuth::Required).await;
    let without = shep_gateway(&server, &files, true, false).await;
    for (status, code) in shep_calls(&without).await {
        assert_eq!((status, code.as_str()), (502, "upstream_error"));
    }
    assert_eq!(server.shep.calls(), 0, "refused in the handshake");
    let with = shep_gateway(&server, &files, true, true).await;
    assert_eq!(
        shep_calls(&with).await,
        [(200, String::new()), (200, String::new())]
    );
    assert_eq!(server.shep.calls(), 2);
}
