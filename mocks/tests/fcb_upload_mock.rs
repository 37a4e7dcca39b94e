//! The bureau mock's upload service, black-box over HTTP: garbage is refused with the bureau's
//! error, a good file becomes a batch, faults answer in the operation's own envelope.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use base64::Engine as _;
use kuzet_mocks::Fault;
use kuzet_mocks::fcb::{self, DATAPUMP_PATH, FcbMockOptions, Uploads};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(url: &str, body: String) -> (u16, String) {
    let resp = client()
        .post(url)
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn envelope(password: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="https://ws.creditinfo.com"><soapenv:Header><ws:CigWsHeader><ws:Culture>ru-RU</ws:Culture><ws:UserName>kuzet-demo</ws:UserName><ws:Password>{password}</ws:Password></ws:CigWsHeader></soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#
    )
}

fn upload(zipped: &[u8], schema: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(zipped);
    envelope(
        "demo-password",
        &format!(
            "<ws:UploadZippedData2><ws:zippedXML>{b64}</ws:zippedXML><ws:schemaId>{schema}</ws:schemaId></ws:UploadZippedData2>"
        ),
    )
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const RECORDS: &[u8] = br#"<?xml version="1.0"?><Records xmlns="http://www.datapump.cig.com"><Contract operation="1"><General><ContractCode>C-1</ContractCode><ContractPhase id="4"/><Subjects><Subject roleId="1"><Entity><Individual><Identifications><Identification typeId="14" rank="1"><Number>870525301012</Number></Identification></Identifications></Individual></Entity></Subject></Subjects></General></Contract></Records>"#;

/// The mock bureau on port 0, with its uploads and the upload service's URL.
async fn spawn_with_uploads() -> (kuzet_mocks::Running, Uploads, String) {
    let uploads = Uploads::default();
    let mock = fcb::spawn(FcbMockOptions {
        uploads: uploads.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = mock.url(DATAPUMP_PATH);
    (mock, uploads, url)
}

fn bureau_code(answer: &str) -> Option<&str> {
    let start = answer.find("<Errmessage code=\"")? + "<Errmessage code=\"".len();
    answer[start..].split('"').next()
}

#[tokio::test]
async fn garbage_is_refused_with_the_bureaus_error() {
    let (_mock, uploads, url) = spawn_with_uploads().await;

    let not_base64 = envelope(
        "demo-password",
        "<ws:UploadZippedData2><ws:zippedXML>%%%</ws:zippedXML><ws:schemaId>3</ws:schemaId></ws:UploadZippedData2>",
    );
    let cases = [
        ("not base64", not_base64),
        ("not a zip", upload(b"hello", "3")),
        (
            "two files",
            upload(&zip_of(&[("a.xml", RECORDS), ("b.xml", RECORDS)]), "3"),
        ),
        (
            "not Records",
            upload(&zip_of(&[("a.xml", b"<Other/>")]), "3"),
        ),
        (
            "no contracts",
            upload(
                &zip_of(&[(
                    "a.xml",
                    br#"<Records xmlns="http://www.datapump.cig.com"/>"#,
                )]),
                "3",
            ),
        ),
        (
            "guarantees schema",
            upload(&zip_of(&[("a.xml", RECORDS)]), "11"),
        ),
    ];
    for (what, body) in cases {
        let (status, answer) = post(&url, body).await;
        assert_eq!(status, 200, "{what}");
        assert!(
            answer.contains("UploadZippedData2Response"),
            "{what}: {answer}"
        );
        assert_eq!(bureau_code(&answer), Some("1101"), "{what}: {answer}");
    }
    assert!(uploads.batches().is_empty());

    let (status, answer) = post(&url, upload(&zip_of(&[("r.xml", RECORDS)]), "3")).await;
    assert_eq!(status, 200);
    assert!(
        answer.contains(r#"<Batch Id="1001" StatusId="1" StatusName="Received" RecordCount="1"/>"#),
        "{answer}"
    );
    assert_eq!(uploads.batch("1001").unwrap().record_count, 1);

    // Wrong password; an operation of the report service at the upload path.
    let wrong = upload(&zip_of(&[("r.xml", RECORDS)]), "3").replace("demo-password", "nope");
    assert_eq!(bureau_code(&post(&url, wrong).await.1), Some("1104"));
    let report = envelope("demo-password", "<ws:GetReport/>");
    let (status, answer) = post(&url, report).await;
    assert_eq!(status, 500);
    assert!(answer.contains("S:Client"), "{answer}");
}

#[tokio::test]
async fn faults_answer_in_the_operations_envelope() {
    let mock = fcb::spawn(FcbMockOptions::default()).await.unwrap();
    let url = mock.url(DATAPUMP_PATH);
    mock.fail_next(1, Fault::BureauError(1111));
    let status = envelope(
        "demo-password",
        "<ws:GetBatchStatus2><ws:batchId>1</ws:batchId></ws:GetBatchStatus2>",
    );
    let (_, answer) = post(&url, status.clone()).await;
    assert!(answer.contains("GetBatchStatus2Response"), "{answer}");
    assert_eq!(bureau_code(&answer), Some("1111"));
    // Fault spent: an unknown batch is the bureau's generic error.
    let (_, answer) = post(&url, status).await;
    assert_eq!(bureau_code(&answer), Some("1101"));
    assert_eq!(mock.calls(), 2);
}

#[tokio::test]
async fn a_batch_remembers_its_contracts_in_file_order() {
    let (_mock, uploads, url) = spawn_with_uploads().await;
    let contract = |operation: &str, code: &str| {
        format!(
            r#"<Contract operation="{operation}"><General><ContractCode>{code}</ContractCode><ContractPhase id="4"/><Subjects><Subject roleId="1"><Entity><Individual><Identifications><Identification typeId="14" rank="1"><Number>870525301012</Number></Identification></Identifications></Individual></Entity></Subject></Subjects></General></Contract>"#
        )
    };
    let records = format!(
        r#"<?xml version="1.0"?><Records xmlns="http://www.datapump.cig.com">{}{}</Records>"#,
        contract("1", "C-NEW"),
        contract("2", "C-CHANGED"),
    );
    let (status, answer) = post(&url, upload(&zip_of(&[("r.xml", records.as_bytes())]), "3")).await;
    assert_eq!(status, 200);
    assert!(answer.contains(r#"RecordCount="2""#), "{answer}");

    let batches = uploads.batches();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.record_count, 2);
    assert_eq!(
        batch.contracts,
        [("C-NEW".to_owned(), 1), ("C-CHANGED".to_owned(), 2)]
    );
    assert_eq!(batch.accepted(), 2, "{:?}", batch.rejections);
}
