//! The contract upload without a network: the `Records` file and the SOAP envelopes against
//! golden fixtures, the ZIP, exact amounts, records refused before anything is sent, batch
//! answers read. `UPDATE_GOLDEN=1 cargo test -p kuzet-fcb --test upload_records` rewrites the
//! fixtures (review the diff).

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::PathBuf;

use kuzet_fcb::{
    BatchId, BatchState, CollateralKind, ContractPhase, FcbConfig, FcbError, Gender, IdDocument,
    UploadAddress, UploadBorrower, UploadCollateral, UploadConfig, UploadContract, UploadOperation,
    build_batch_status_request, build_records_xml, build_upload_request, format_minor,
    parse_batch_status_response, parse_upload_response, zip_records,
};
use kuzet_ident::Iin;
use time::macros::date;

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "{name} differs from its golden fixture");
}

/// An open, unsecured consumer loan of a synthetic woman.
fn open_loan() -> UploadContract {
    let iin = Iin::synthesize(date!(1990 - 03 - 14), false, 77).unwrap();
    UploadContract {
        operation: UploadOperation::New,
        contract_code: "KZT-2025-0001".into(),
        agreement_number: "№ 15/2025 <A&B>".into(),
        start_date: date!(2025 - 01 - 15),
        end_date: date!(2028 - 01 - 15),
        phase: ContractPhase::Open,
        repaid_date: None,
        currency: "KZT".into(),
        total_amount_minor: 120_000_000,
        instalment_amount_minor: 4_166_667,
        instalment_count: 36,
        accounting_date: date!(2025 - 06 - 30),
        outstanding_instalment_count: 31,
        outstanding_amount_minor: 103_333_305,
        overdue_days: 12,
        overdue_amount_minor: 4_166_667,
        collateral: UploadCollateral::unsecured(),
        borrower: UploadBorrower {
            iin: iin.clone(),
            iin_registration_date: None,
            surname: "Тестова".into(),
            first_name: "Айгерим".into(),
            fathers_name: Some("Синтетовна".into()),
            gender: Gender::Female,
            birth_date: iin.birth_date(),
            citizenship_id: "110".into(),
            resident: true,
            id_document: Some(IdDocument {
                number: "012345678".into(),
                registration_date: None,
                issue_date: date!(2020 - 02 - 01),
                expiration_date: date!(2030 - 01 - 31),
            }),
            residence_address: UploadAddress {
                kato_id: "751110000".into(),
                street: "ул. Синтетическая, д. 1, кв. 2".into(),
            },
            registration_address: UploadAddress {
                kato_id: "751110000".into(),
                street: "ул. Синтетическая, д. 1, кв. 2".into(),
            },
            mobile: Some("+77010000000".into()),
        },
    }
}

/// A car loan of a synthetic man, repaid early, updated.
fn repaid_car_loan() -> UploadContract {
    let iin = Iin::parse("870525301012").unwrap();
    UploadContract {
        operation: UploadOperation::Changed,
        contract_code: "AUTO-2023-0042".into(),
        agreement_number: "A-42".into(),
        start_date: date!(2023 - 05 - 01),
        end_date: date!(2028 - 05 - 01),
        phase: ContractPhase::RepaidEarly,
        repaid_date: Some(date!(2025 - 06 - 10)),
        currency: "KZT".into(),
        total_amount_minor: 850_000_050,
        instalment_amount_minor: 18_000_001,
        instalment_count: 60,
        accounting_date: date!(2025 - 06 - 30),
        outstanding_instalment_count: 0,
        outstanding_amount_minor: 0,
        overdue_days: 0,
        overdue_amount_minor: 0,
        collateral: UploadCollateral {
            kind: CollateralKind::Vehicle,
            value_minor: 900_000_000,
            vin: Some("XTA00000000000001".into()),
            plate: Some("001AAA01".into()),
        },
        borrower: UploadBorrower {
            iin: iin.clone(),
            iin_registration_date: Some(date!(2005 - 01 - 01)),
            surname: "Синтетов".into(),
            first_name: "Ерлан".into(),
            fathers_name: None,
            gender: Gender::Male,
            birth_date: iin.birth_date(),
            citizenship_id: "110".into(),
            resident: false,
            id_document: None,
            residence_address: UploadAddress {
                kato_id: "711210000".into(),
                street: "пр. Тестовый, 10".into(),
            },
            registration_address: UploadAddress {
                kato_id: "711210000".into(),
                street: "пр. Тестовый, 12".into(),
            },
            mobile: None,
        },
    }
}

fn config() -> FcbConfig {
    FcbConfig::new(
        "https://bureau.test/FCBServices/Service",
        "lender<&>",
        "p&ss<word>",
    )
}

#[test]
fn records_document_matches_golden() {
    let xml =
        build_records_xml(&UploadConfig::default(), &[open_loan(), repaid_car_loan()]).unwrap();
    golden("upload-records.xml", &String::from_utf8(xml).unwrap());
}

#[test]
fn upload_envelope_matches_golden() {
    // Placeholder bytes stand for the ZIP: the envelope is what is checked here.
    let envelope = build_upload_request(&config(), b"PK\x03\x04 placeholder zip bytes");
    golden("upload-request.xml", &envelope);
    assert!(envelope.contains("<ws:schemaId>3</ws:schemaId>"));
    assert!(envelope.contains(r#"xmlns:ws="https://ws.creditinfo.com""#));
    let status = build_batch_status_request(&config(), &BatchId::new("1001").unwrap());
    golden("batch-status-request.xml", &status);
}

#[test]
fn schema_id_is_configuration() {
    let mut c = config();
    c.upload.schema_id = 11;
    assert!(build_upload_request(&c, b"x").contains("<ws:schemaId>11</ws:schemaId>"));
}

#[test]
fn zip_holds_the_document_once_and_is_deterministic() {
    let xml = build_records_xml(&UploadConfig::default(), &[open_loan()]).unwrap();
    let zipped = zip_records(&xml).unwrap();
    assert_eq!(zipped, zip_records(&xml).unwrap(), "same input, same bytes");
    assert!(zipped.len() < xml.len(), "deflated");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name(), "records.xml");
    assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
    let mut back = Vec::new();
    entry.read_to_end(&mut back).unwrap();
    assert_eq!(back, xml);
}

#[test]
fn amounts_are_exact() {
    assert_eq!(format_minor(0), "0.00");
    assert_eq!(format_minor(5), "0.05");
    assert_eq!(format_minor(120_000_050), "1200000.50");
    // Far beyond what an f64 holds exactly.
    assert_eq!(format_minor(u64::MAX), "184467440737095516.15");
    let mut big = open_loan();
    big.total_amount_minor = 9_007_199_254_740_993; // 2^53 + 1
    let xml =
        String::from_utf8(build_records_xml(&UploadConfig::default(), &[big]).unwrap()).unwrap();
    assert!(
        xml.contains(r#"<TotalAmount currency="KZT">90071992547409.93</TotalAmount>"#),
        "{xml}"
    );
    // JSON input: a float amount is refused, a large integer is kept exactly.
    let mut json = serde_json::to_value(open_loan()).unwrap();
    json["total_amount_minor"] = serde_json::json!(1200.5);
    assert!(serde_json::from_value::<UploadContract>(json.clone()).is_err());
    json["total_amount_minor"] = serde_json::json!(9_007_199_254_740_993u64);
    let back: UploadContract = serde_json::from_value(json).unwrap();
    assert_eq!(back.total_amount_minor, 9_007_199_254_740_993);
}

#[test]
fn serde_round_trip_in_snake_case() {
    let contract = repaid_car_loan();
    let json = serde_json::to_value(&contract).unwrap();
    assert_eq!(json["phase"], "repaid_early");
    assert_eq!(json["operation"], "changed");
    assert_eq!(json["repaid_date"], "2025-06-10");
    assert_eq!(json["collateral"]["type"], "vehicle");
    assert_eq!(json["borrower"]["iin"], "870525301012");
    let back: UploadContract = serde_json::from_value(json).unwrap();
    assert_eq!(back, contract);
}

#[test]
fn a_bad_iin_cannot_make_a_record() {
    let err = Iin::parse("870525301013").unwrap_err();
    assert_eq!(err, kuzet_ident::IdentError::CheckDigit);
    let mut json = serde_json::to_value(open_loan()).unwrap();
    json["borrower"]["iin"] = serde_json::json!("870525301013");
    let err = serde_json::from_value::<UploadContract>(json).unwrap_err();
    assert!(err.to_string().contains("invalid IIN"), "{err}");
    assert!(!err.to_string().contains("870525301013"), "{err}");
}

#[test]
fn unknown_fields_are_refused() {
    let mut json = serde_json::to_value(open_loan()).unwrap();
    json["total_amount"] = serde_json::json!(1);
    assert!(serde_json::from_value::<UploadContract>(json).is_err());
}

fn refused(contracts: &[UploadContract]) -> String {
    match build_records_xml(&UploadConfig::default(), contracts) {
        Err(e @ FcbError::InvalidUpload(_)) => {
            assert_eq!(e.code(), "invalid_upload");
            assert!(!e.is_transient());
            e.to_string()
        }
        other => panic!("expected InvalidUpload, got {other:?}"),
    }
}

#[test]
fn invalid_records_are_refused_without_values() {
    assert!(refused(&[]).contains("no contracts"));

    let mut repaid = open_loan();
    repaid.phase = ContractPhase::Repaid;
    assert!(refused(&[repaid]).contains("record 0: repaid_date is required"));

    let mut open_with_date = open_loan();
    open_with_date.repaid_date = Some(date!(2025 - 01 - 01));
    assert!(refused(&[open_with_date]).contains("open contract"));

    let duplicate = [open_loan(), open_loan()];
    assert!(refused(&duplicate).contains("record 1: contract_code appears twice"));

    let mut wrong_birth = open_loan();
    wrong_birth.borrower.birth_date = date!(1991 - 01 - 01);
    let message = refused(&[wrong_birth]);
    assert!(message.contains("birth_date does not agree"), "{message}");
    assert!(!message.contains("1991"), "{message}");

    let mut wrong_gender = open_loan();
    wrong_gender.borrower.gender = Gender::Male;
    assert!(refused(&[wrong_gender]).contains("gender"));

    let mut vehicle_without_vin = repaid_car_loan();
    vehicle_without_vin.collateral.vin = None;
    assert!(refused(&[vehicle_without_vin]).contains("collateral.vin is empty"));

    let mut control = open_loan();
    control.borrower.surname = "Тест\u{0}ова".into();
    let message = refused(&[control]);
    assert!(message.contains("control character"), "{message}");
    assert!(!message.contains("Тест"), "{message}");

    let mut currency = open_loan();
    currency.currency = "kzt".into();
    assert!(refused(&[currency]).contains("currency"));

    let too_many = UploadConfig {
        max_records: 1,
        ..UploadConfig::default()
    };
    let err = build_records_xml(&too_many, &[open_loan(), repaid_car_loan()]).unwrap_err();
    assert!(err.to_string().contains("batch limit"), "{err}");
}

#[test]
fn debug_never_prints_personal_values() {
    let debug = format!("{:?}", repaid_car_loan());
    for secret in [
        "870525301012",
        "Синтетов",
        "Ерлан",
        "XTA00000000000001",
        "001AAA01",
        "пр. Тестовый",
    ] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("8705******12"), "{debug}");
}

const STATUS_FINAL: &str = r#"<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:GetBatchStatus2Response xmlns:ns2="https://ws.creditinfo.com"><GetBatchStatus2Result><CigResult Version="4.0"><Result><Batch Id="1001" StatusId="3" StatusName="Processed" RecordCount="3" AcceptedCount="1" RejectedCount="2"><Message TypeName="Error" Code="3010" ContractCode="C-2"><Description>Contract data failed</Description></Message><Message TypeName="Error" Code="3011" ContractCode="C-3"><Description>Subject data do not match for IIN 870525301012</Description></Message><Message TypeName="Warning"><Description>File   read
 with warnings</Description></Message></Batch></Result></CigResult></GetBatchStatus2Result></ns2:GetBatchStatus2Response></S:Body></S:Envelope>"#;

#[test]
fn batch_status_is_read() {
    let status =
        parse_batch_status_response(STATUS_FINAL.as_bytes(), &UploadConfig::default()).unwrap();
    assert_eq!(status.batch_id.as_str(), "1001");
    assert_eq!(status.state, BatchState::Final);
    assert!(status.is_final());
    assert_eq!(
        (status.record_count, status.accepted, status.rejected),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(status.rejected_contracts(), ["C-2", "C-3"]);
    assert_eq!(status.messages[1].code, Some(3011));
    assert_eq!(
        status.messages[1].message,
        "Subject data do not match for IIN 8705******12"
    );
    assert_eq!(status.messages[2].contract_code, None);
    assert_eq!(status.messages[2].message, "File read with warnings");
    assert!(!status.messages[2].is_error());

    // The meaning of a status id is configuration.
    let mut codes = UploadConfig {
        batch_final_status_ids: vec![4],
        batch_processing_status_ids: vec![2, 3],
        ..UploadConfig::default()
    };
    let status = parse_batch_status_response(STATUS_FINAL.as_bytes(), &codes).unwrap();
    assert_eq!(status.state, BatchState::Processing);
    codes.batch_processing_status_ids = vec![2];
    let status = parse_batch_status_response(STATUS_FINAL.as_bytes(), &codes).unwrap();
    assert_eq!(status.state, BatchState::Unknown);
}

#[test]
fn batch_answers_refuse_wrong_shapes() {
    let codes = UploadConfig::default();
    // The answer of another operation.
    let err = parse_upload_response(STATUS_FINAL.as_bytes(), &codes).unwrap_err();
    assert!(matches!(err, FcbError::Malformed(_)), "{err:?}");
    // A batch id that could smuggle markup.
    let evil = STATUS_FINAL.replace(r#"Id="1001""#, r#"Id="10&lt;01""#);
    assert!(matches!(
        parse_batch_status_response(evil.as_bytes(), &codes),
        Err(FcbError::Malformed(_))
    ));
    let error = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:UploadZippedData2Response xmlns:ns2="https://ws.creditinfo.com"><UploadZippedData2Result><CigResultError><Errmessage code="1111">Internal</Errmessage></CigResultError></UploadZippedData2Result></ns2:UploadZippedData2Response></S:Body></S:Envelope>"#;
    let err = parse_upload_response(error.as_bytes(), &codes).unwrap_err();
    assert!(matches!(err, FcbError::BureauInternal), "{err:?}");
    let cut = &STATUS_FINAL.as_bytes()[..STATUS_FINAL.len() / 2];
    assert!(matches!(
        parse_batch_status_response(cut, &codes),
        Err(FcbError::Malformed(_))
    ));
}

#[test]
fn upload_url_sits_next_to_the_report_url() {
    let c = config();
    assert_eq!(
        c.upload_url().as_deref(),
        Some("https://bureau.test/DataPumpService/DataPumpService")
    );
    let mut other = FcbConfig::new("https://bureau.test/reports", "u", "p");
    assert_eq!(other.upload_url(), None);
    other.upload_url = Some("https://pump.test/DataPumpService/DataPumpService".into());
    assert_eq!(
        other.upload_url().as_deref(),
        Some("https://pump.test/DataPumpService/DataPumpService")
    );
    let json = r#"{"report_url": "https://b.test/FCBServices/Service", "user_name": "u",
        "password": "p", "upload": {"schema_id": 3, "batch_final_status_ids": [3, 4, 5]}}"#;
    let parsed: FcbConfig = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.upload.batch_final_status_ids, [3, 4, 5]);
    assert_eq!(parsed.upload.funding_type_id, "2");
    let typo = json.replace("schema_id", "schema");
    assert!(serde_json::from_str::<FcbConfig>(&typo).is_err());
}

#[test]
fn ambiguous_status_codes_are_refused() {
    let mut c = config();
    c.upload.batch_processing_status_ids = vec![3];
    assert!(matches!(
        kuzet_fcb::FcbClient::new(c),
        Err(FcbError::Config(_))
    ));
}
