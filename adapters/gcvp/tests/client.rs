//! The client against the SHEP mock on port 0: signed requests verified by the mock (its CA
//! trusts the test signer), the GCVP handler's synthetic answers, the reserved IINs, and the
//! guard's retries of a transient fault. No sleeps.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{IIN, TestPki, config};
use kuzet_gcvp::{GcvpClient, GcvpError, IncomeRequest, IncomeStatus, Money};
use kuzet_ident::Iin;
use kuzet_mocks::shep::{self, SYNC_PATH, ShepMockOptions};
use kuzet_mocks::{Fault, Running};
use kuzet_shep::ShepError;
use kuzet_transport::Retry;
use time::macros::date;

const SERVICE: &str = "GCVP_MOCK_SERVICE";

async fn mock(pki: &TestPki, fail_first: u32, fault: Option<Fault>) -> Running {
    shep::spawn(ShepMockOptions {
        fail_first,
        fault,
        gcvp_service_id: SERVICE.into(),
        trusted_ca_pem: Some(pki.ca_pem.clone()),
        ..ShepMockOptions::default()
    })
    .await
    .unwrap()
}

fn client(running: &Running, pki: &TestPki) -> GcvpClient {
    GcvpClient::new(
        config(&running.url(SYNC_PATH), SERVICE),
        Arc::new(pki.signer()),
    )
    .unwrap()
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
}

fn request(iin: &str) -> IncomeRequest {
    IncomeRequest {
        iin: Iin::parse(iin).unwrap(),
    }
}

#[tokio::test]
async fn an_ordinary_subject_gets_a_confirmed_income() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 0, None).await;
    let answer = client(&running, &pki)
        .income_as_of(
            &request(IIN),
            date!(2026 - 03 - 02),
            deadline(),
            Retry::Safe,
        )
        .await
        .unwrap();
    let income = &answer.income;
    assert_eq!(income.status, IncomeStatus::Confirmed);
    assert_eq!(
        (income.period_from.as_str(), income.period_to.as_str()),
        ("2025-09", "2026-02")
    );

    // The mock's synthetic data, computed independently.
    let expected = shep::gcvp_payments(&request(IIN).iin, (2025, 9), (2026, 2));
    assert_eq!(income.contributions.len(), expected.len());
    for (got, want) in income.contributions.iter().zip(&expected) {
        assert_eq!(
            got.month,
            format!("{:04}-{:02}", want.period.0, want.period.1)
        );
        assert_eq!(got.amount, Money::kzt(want.amount_tiyn));
        assert_eq!(got.employer_bin, want.employer_bin);
        assert_eq!(
            got.employer_name.as_deref(),
            Some(want.employer_name.as_str())
        );
    }
    let sum: i64 = expected.iter().map(|p| p.amount_tiyn).sum();
    assert_eq!(
        income.estimated_monthly_income_total,
        Some(Money::kzt(sum / 6 * 10))
    );

    assert_eq!(answer.shep.service_id, SERVICE);
    assert!(answer.shep.correlation_id.is_some());
    assert!(answer.shep.session_id.is_some());
    assert!(answer.shep.response_message_id.is_some());
    assert_eq!(running.calls(), 1);
}

#[tokio::test]
async fn reserved_subjects() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 0, None).await;
    let client = client(&running, &pki);
    let ask = |iin: &'static str| {
        let client = client.clone();
        async move {
            client
                .income_as_of(
                    &request(iin),
                    date!(2026 - 03 - 02),
                    deadline(),
                    Retry::Safe,
                )
                .await
        }
    };

    let income = ask(shep::IIN_NO_DATA).await.unwrap().income;
    assert_eq!(income.status, IncomeStatus::NoData);
    assert_eq!(income.estimated_monthly_income_total, None);

    let income = ask(shep::IIN_ZERO_AMOUNTS).await.unwrap().income;
    assert_eq!(income.status, IncomeStatus::Confirmed);
    assert_eq!(income.contributions.len(), 6);
    assert_eq!(income.estimated_monthly_income_total, Some(Money::kzt(0)));

    let income = ask(shep::IIN_SEVERAL_EMPLOYERS).await.unwrap().income;
    assert_eq!(income.employers.len(), 3);
    let total: i64 = income
        .employers
        .iter()
        .map(|e| e.estimated_monthly_income.minor)
        .sum();
    assert_eq!(
        income.estimated_monthly_income_total,
        Some(Money::kzt(total))
    );
    let former = income
        .employers
        .iter()
        .find(|e| e.months_with_contributions == 2)
        .unwrap();
    assert!(former.estimated_monthly_income.minor > 0);

    let err = ask(shep::IIN_NOT_FOUND).await.unwrap_err();
    assert!(matches!(err, GcvpError::SubjectNotFound { .. }), "{err}");
    assert!(err.shep_ids().is_some());

    // The registry's internal error is retried (Retry::Safe) and fails every time.
    let before = running.calls();
    let err = ask(shep::IIN_REGISTRY_ERROR).await.unwrap_err();
    assert!(matches!(err, GcvpError::RegistryInternal { .. }), "{err}");
    assert_eq!(running.calls() - before, 3);
}

#[tokio::test]
async fn the_mock_rejects_an_unsigned_request() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 0, None).await;
    let mut request = kuzet_shep::ShepRequest::new(SERVICE, "<iin>870525301012</iin>");
    request.correlation_id = Some("c".into());
    let shep_config = kuzet_shep::ShepConfig::new(running.url(SYNC_PATH), "KUZET_TEST", "pw");
    let unsigned = kuzet_shep::build_envelope(&shep_config, &request)
        .unwrap()
        .to_xml();
    let response = reqwest::Client::builder()
        .build()
        .unwrap()
        .post(running.url(SYNC_PATH))
        .header("Content-Type", kuzet_shep::SOAP_CONTENT_TYPE)
        .body(unsigned)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    let err = kuzet_shep::read_http_answer(status, &body).unwrap_err();
    match err {
        ShepError::Fault(info) => assert_eq!(info.code, shep::ERROR_SIGNATURE_MISSING),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_request_signed_under_another_ca_is_refused() {
    let trusted = TestPki::generate("trusted");
    let other = TestPki::generate("other");
    let running = mock(&trusted, 0, None).await;
    let err = client(&running, &other)
        .income(&request(IIN), deadline(), Retry::Safe)
        .await
        .unwrap_err();
    match &err {
        GcvpError::Shep(ShepError::Fault(info)) => {
            assert_eq!(info.code, shep::ERROR_CERTIFICATE_UNTRUSTED);
        }
        other => panic!("{other}"),
    }
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_503_is_retried_when_safe() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 1, Some(Fault::HttpStatus(503))).await;
    let client = client(&running, &pki);
    let answer = client
        .income(&request(IIN), deadline(), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(answer.income.status, IncomeStatus::Confirmed);
    assert_eq!(running.calls(), 2);
    assert_eq!(client.guard_stats().retries, 1);
}

#[tokio::test]
async fn a_503_is_not_retried_when_never() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 1, Some(Fault::HttpStatus(503))).await;
    let client = client(&running, &pki);
    let err = client
        .income(&request(IIN), deadline(), Retry::Never)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GcvpError::Shep(ShepError::HttpStatus { status: 503 })),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(running.calls(), 1);
    assert_eq!(client.guard_stats().retries, 0);
}

#[tokio::test]
async fn injected_faults_are_typed() {
    let pki = TestPki::generate("gcvp");
    let running = mock(&pki, 0, None).await;
    let client = client(&running, &pki);
    let cases: [(Fault, &str, bool); 5] = [
        (Fault::SoapFault, "shep_fault", true),
        (Fault::Malformed, "malformed_response", false),
        (Fault::Truncated, "malformed_response", false),
        (Fault::BureauError(3), "registry_refused", false),
        (Fault::CloseConnection, "connection_failed", true),
    ];
    for (fault, code, transient) in cases {
        running.set_fault(Some(fault));
        let err = client
            .income(&request(IIN), deadline(), Retry::Never)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{fault:?}: {err}");
        assert_eq!(err.is_transient(), transient, "{fault:?}: {err}");
    }
    running.set_fault(None);
    client
        .income(&request(IIN), deadline(), Retry::Never)
        .await
        .unwrap();
}

#[test]
fn the_config_parses_and_hides_the_password() {
    let toml = r#"
        service_id = "GCVP_SERVICE"
        months = 12
        [shep]
        endpoint_url = "https://shep.example/bip-sync-wss-gost/"
        sender_id = "KUZET"
        password = "very-secret"
        [resilience]
        retry_max_attempts = 2
    "#;
    let config: kuzet_gcvp::GcvpConfig = toml::from_str(toml).unwrap();
    assert_eq!(config.months, 12);
    assert_eq!(config.resilience.retry_max_attempts, 2);
    assert!(!format!("{config:?}").contains("very-secret"));
    let defaults: kuzet_gcvp::GcvpConfig = toml::from_str(
        "service_id = \"S\"\n[shep]\nendpoint_url = \"https://x/\"\nsender_id = \"K\"\npassword = \"p\"\n",
    )
    .unwrap();
    assert_eq!(defaults.months, 6);
    assert!(toml::from_str::<kuzet_gcvp::GcvpConfig>("service_id = \"S\"\nmonth = 3\n[shep]\nendpoint_url = \"https://x/\"\nsender_id = \"K\"\npassword = \"p\"\n").is_err());
    let mut bad = defaults.clone();
    bad.months = 0;
    let err = GcvpClient::new(bad, Arc::new(TestPki::generate("x").signer())).unwrap_err();
    assert_eq!(err.code(), "config_error");
}
