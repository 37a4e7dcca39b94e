//! The upload client against the mock bureau's upload service: a round trip (build → the mock
//! unzips and judges → batch status with per-record rejections), an upload is never retried,
//! a batch status is retried when the caller says it is safe.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kuzet_fcb::{
    BatchState, ContractPhase, FcbClient, FcbConfig, FcbError, Gender, UploadAddress,
    UploadBorrower, UploadCollateral, UploadContract, UploadOperation,
};
use kuzet_ident::Iin;
use kuzet_mocks::Fault;
use kuzet_mocks::fcb::{
    self, CONTRACT_CODE_REJECTED, CONTRACT_CODE_SUBJECT_MISMATCH, FcbMockOptions, SERVICE_PATH,
    Uploads,
};
use kuzet_transport::Retry;
use time::macros::date;

fn contract(code: &str, serial: u16) -> UploadContract {
    let iin = Iin::synthesize(date!(1985 - 07 - 01), true, serial).unwrap();
    UploadContract {
        operation: UploadOperation::New,
        contract_code: code.into(),
        agreement_number: format!("AG-{serial}"),
        start_date: date!(2025 - 01 - 10),
        end_date: date!(2026 - 01 - 10),
        phase: ContractPhase::Open,
        repaid_date: None,
        currency: "KZT".into(),
        total_amount_minor: 50_000_000,
        instalment_amount_minor: 4_166_667,
        instalment_count: 12,
        accounting_date: date!(2025 - 06 - 30),
        outstanding_instalment_count: 7,
        outstanding_amount_minor: 29_166_669,
        overdue_days: 0,
        overdue_amount_minor: 0,
        collateral: UploadCollateral::unsecured(),
        borrower: UploadBorrower {
            iin: iin.clone(),
            iin_registration_date: None,
            surname: "Синтетов".into(),
            first_name: "Тест".into(),
            fathers_name: None,
            gender: Gender::Male,
            birth_date: iin.birth_date(),
            citizenship_id: "110".into(),
            resident: true,
            id_document: None,
            residence_address: UploadAddress {
                kato_id: "751110000".into(),
                street: "ул. Тестовая, 1".into(),
            },
            registration_address: UploadAddress {
                kato_id: "751110000".into(),
                street: "ул. Тестовая, 1".into(),
            },
            mobile: Some("+77000000001".into()),
        },
    }
}

fn with_serial(code: &str, first: u16) -> UploadContract {
    // Not every serial has a valid check digit: take the first that does.
    (first..first + 20)
        .find(|s| Iin::synthesize(date!(1985 - 07 - 01), true, *s).is_some())
        .map(|s| contract(code, s))
        .unwrap()
}

async fn mock() -> (kuzet_mocks::Running, Uploads, FcbClient) {
    let uploads = Uploads::default();
    let running = fcb::spawn(FcbMockOptions {
        uploads: uploads.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = FcbConfig::new(running.url(SERVICE_PATH), "kuzet-demo", "demo-password");
    config.resilience.retry_initial_backoff_ms = 1;
    config.resilience.retry_max_backoff_ms = 2;
    let client = FcbClient::new(config).unwrap();
    (running, uploads, client)
}

fn deadline() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(10))
}

#[tokio::test]
async fn round_trip_with_per_record_rejections() {
    let (running, uploads, client) = mock().await;
    let contracts = [
        with_serial("OK-1", 10),
        with_serial(CONTRACT_CODE_REJECTED, 40),
        with_serial(CONTRACT_CODE_SUBJECT_MISMATCH, 70),
    ];
    let answer = client.upload_batch(&contracts, deadline()).await.unwrap();
    assert_eq!(answer.records_sent, 3);
    assert_eq!(answer.status.state, BatchState::Pending);
    assert_eq!(answer.status.record_count, Some(3));
    assert_eq!(running.calls(), 1);

    // The mock unzipped and parsed the file.
    let held = uploads.batch(answer.batch_id.as_str()).unwrap();
    assert_eq!(held.record_count, 3);

    let first = client
        .batch_status(&answer.batch_id, deadline(), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(first.state, BatchState::Processing);
    assert!(first.messages.is_empty());

    let done = client
        .batch_status(&answer.batch_id, deadline(), Retry::Safe)
        .await
        .unwrap();
    assert!(done.is_final());
    assert_eq!(done.status_id, 3);
    assert_eq!(
        (done.record_count, done.accepted, done.rejected),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(
        done.rejected_contracts(),
        [CONTRACT_CODE_REJECTED, CONTRACT_CODE_SUBJECT_MISMATCH]
    );
    assert_eq!(done.messages[0].code, Some(3010));
    // The bureau echoed the IIN; the client masks it.
    let iin = contracts[2].borrower.iin.expose();
    assert!(
        !done.messages[1].message.contains(iin),
        "{:?}",
        done.messages
    );
    assert!(
        done.messages[1]
            .message
            .contains(&contracts[2].borrower.iin.masked())
    );
    assert_eq!(running.calls(), 3);

    // Every record rejected: the batch fails as a whole, still final.
    let mut bad_phase = with_serial("REPAID-1", 10);
    bad_phase.phase = ContractPhase::Repaid;
    bad_phase.repaid_date = Some(date!(2025 - 05 - 01));
    let answer = client
        .upload_batch(&[with_serial(CONTRACT_CODE_REJECTED, 10)], deadline())
        .await
        .unwrap();
    for _ in 0..2 {
        client
            .batch_status(&answer.batch_id, deadline(), Retry::Safe)
            .await
            .unwrap();
    }
    let failed = client
        .batch_status(&answer.batch_id, deadline(), Retry::Safe)
        .await
        .unwrap();
    assert_eq!((failed.status_id, failed.state), (4, BatchState::Final));
    assert_eq!(failed.accepted, Some(0));

    // A repaid contract with its date goes through.
    let answer = client.upload_batch(&[bad_phase], deadline()).await.unwrap();
    assert!(
        uploads
            .batch(answer.batch_id.as_str())
            .unwrap()
            .rejections
            .is_empty()
    );
}

#[tokio::test]
async fn an_upload_is_never_retried() {
    let (running, uploads, client) = mock().await;
    let contracts = [with_serial("OK-1", 10)];
    for fault in [
        Fault::SoapFault,
        Fault::HttpStatus(503),
        Fault::BureauError(1111),
        Fault::CloseConnection,
    ] {
        let before = running.calls();
        running.fail_next(1, fault);
        let err = client
            .upload_batch(&contracts, deadline())
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{fault:?} gave {err:?}");
        assert_eq!(running.calls() - before, 1, "{fault:?} was retried");
    }
    assert_eq!(client.guard_stats().retries, 0);
    assert!(
        uploads.batches().is_empty(),
        "no fault answer stored a batch"
    );
    // The knobs let calls through again.
    client.upload_batch(&contracts, deadline()).await.unwrap();
    assert_eq!(uploads.batches().len(), 1);
}

#[tokio::test]
async fn batch_status_is_retried_when_safe() {
    let (running, _uploads, client) = mock().await;
    let answer = client
        .upload_batch(&[with_serial("OK-1", 10)], deadline())
        .await
        .unwrap();

    let before = running.calls();
    running.fail_next(1, Fault::SoapFault);
    let status = client
        .batch_status(&answer.batch_id, deadline(), Retry::Safe)
        .await
        .unwrap();
    assert_eq!(status.state, BatchState::Processing);
    assert_eq!(running.calls() - before, 2, "one failure, one retry");
    assert_eq!(client.guard_stats().retries, 1);

    let before = running.calls();
    running.fail_next(1, Fault::HttpStatus(503));
    let err = client
        .batch_status(&answer.batch_id, deadline(), Retry::Never)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FcbError::HttpStatus { status: 503 }),
        "{err:?}"
    );
    assert_eq!(running.calls() - before, 1);
}

#[tokio::test]
async fn bureau_refusals_are_typed() {
    let (running, _uploads, client) = mock().await;
    // Unknown batch: the bureau's generic error, not retried.
    let before = running.calls();
    let err = client
        .batch_status(
            &kuzet_fcb::BatchId::new("999999").unwrap(),
            deadline(),
            Retry::Safe,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, FcbError::Bureau { code: 1101, .. }),
        "{err:?}"
    );
    assert_eq!(running.calls() - before, 1);

    // Wrong credentials.
    let mut config = client.config().clone();
    config.password = "wrong".into();
    let wrong = FcbClient::new(config).unwrap();
    let err = wrong
        .upload_batch(&[with_serial("OK-1", 10)], deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, FcbError::Unauthorized { code: 1104 }),
        "{err:?}"
    );

    // An invalid record never reaches the bureau.
    let before = running.calls();
    let mut bad = with_serial("BAD", 10);
    bad.phase = ContractPhase::RepaidEarly;
    let err = client.upload_batch(&[bad], deadline()).await.unwrap_err();
    assert!(matches!(err, FcbError::InvalidUpload(_)), "{err:?}");
    assert_eq!(running.calls(), before);

    // The report service still answers next to the upload service.
    let report = client
        .credit_report(
            &kuzet_fcb::ReportRequest {
                iin: fcb::demo_iin(),
                consent_confirmed: true,
            },
            deadline(),
            Retry::Safe,
        )
        .await
        .unwrap();
    assert!(!report.report.credit_history.existing_contracts.is_empty());
}
