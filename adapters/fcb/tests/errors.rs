//! Every way a bureau answer can fail maps to the right `FcbError`, with the right retry
//! classification and stable code.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_fcb::{FcbError, parse_get_report_response, parse_report, read_http_answer};
use kuzet_transport::TransportError;

const SAMPLE: &[u8] = include_bytes!("fixtures/credit-report-standard.xml");
const RESPONSE: &[u8] = include_bytes!("fixtures/get-report-response.xml");
const ERROR_1102: &[u8] = include_bytes!("fixtures/error-1102.xml");
const ERROR_1111: &[u8] = include_bytes!("fixtures/error-1111.xml");
const ERROR_1112: &[u8] = include_bytes!("fixtures/error-1112.xml");
const SOAP_FAULT: &[u8] = include_bytes!("fixtures/soap-fault.xml");
const TRUNCATED: &[u8] = include_bytes!("fixtures/truncated.xml");

fn bureau_error(code: i32, message: &str) -> Vec<u8> {
    format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:GetReportResponse xmlns:ns2="http://ws.creditinfo.com/"><GetReportResult><CigResultError><Errmessage code="{code}">{message}</Errmessage></CigResultError></GetReportResult></ns2:GetReportResponse></S:Body></S:Envelope>"#
    )
    .into_bytes()
}

#[test]
fn subject_not_found() {
    let e = parse_get_report_response(ERROR_1102).unwrap_err();
    assert!(matches!(e, FcbError::SubjectNotFound), "{e:?}");
    assert_eq!(e.code(), "subject_not_found");
    assert!(!e.is_transient());
}

#[test]
fn several_subjects() {
    let e = parse_get_report_response(ERROR_1112).unwrap_err();
    assert!(matches!(e, FcbError::SeveralSubjects), "{e:?}");
    assert_eq!(e.code(), "several_subjects");
    assert!(!e.is_transient());
}

#[test]
fn bureau_internal_error_is_transient() {
    let e = parse_get_report_response(ERROR_1111).unwrap_err();
    assert!(matches!(e, FcbError::BureauInternal), "{e:?}");
    assert_eq!(e.code(), "bureau_internal_error");
    assert!(e.is_transient());
}

#[test]
fn credentials_rejected() {
    for code in [1104, 1110] {
        let e = parse_get_report_response(&bureau_error(code, "Неверный логин")).unwrap_err();
        assert!(
            matches!(e, FcbError::Unauthorized { code: c } if c == code),
            "{e:?}"
        );
        assert_eq!(e.code(), "unauthorized");
        assert!(!e.is_transient());
    }
}

#[test]
fn other_bureau_codes_keep_a_short_masked_message() {
    let long = format!("Нет прав на отчёт для 900101300017. {}", "x".repeat(500));
    let e = parse_get_report_response(&bureau_error(1106, &long)).unwrap_err();
    let FcbError::Bureau { code, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*code, 1106);
    assert!(
        message.starts_with("Нет прав на отчёт для 9001******17."),
        "{message}"
    );
    assert!(
        message.chars().count() <= 201,
        "shortened: {}",
        message.chars().count()
    );
    assert!(!e.to_string().contains("900101300017"));
    assert_eq!(e.code(), "bureau_error");
    assert!(!e.is_transient());
}

#[test]
fn bare_cig_result_error() {
    let e = parse_report(
        br#"<CigResultError><Errmessage code="1102">not found</Errmessage></CigResultError>"#,
    )
    .unwrap_err();
    assert!(matches!(e, FcbError::SubjectNotFound), "{e:?}");
}

#[test]
fn error_without_numeric_code_is_malformed() {
    let body = String::from_utf8(bureau_error(0, "x"))
        .unwrap()
        .replace(r#"code="0""#, r#"code="abc""#);
    let e = parse_get_report_response(body.as_bytes()).unwrap_err();
    assert!(matches!(e, FcbError::Malformed(_)), "{e:?}");
}

#[test]
fn soap_fault_of_the_server_is_transient_and_masked() {
    let e = parse_get_report_response(SOAP_FAULT).unwrap_err();
    let FcbError::SoapFault { code, message } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(code, "S:Server");
    assert!(message.starts_with("java.lang.NullPointerException"));
    assert!(!message.contains("900101300017"), "{message}");
    assert_eq!(e.code(), "soap_fault");
    assert!(e.is_transient());
}

#[test]
fn soap_fault_of_the_client_is_not_transient() {
    let body = String::from_utf8(SOAP_FAULT.to_vec())
        .unwrap()
        .replace("S:Server", "S:Client");
    let e = parse_get_report_response(body.as_bytes()).unwrap_err();
    assert!(matches!(&e, FcbError::SoapFault { code, .. } if code == "S:Client"));
    assert!(!e.is_transient());
}

#[test]
fn truncated_documents_are_malformed() {
    let e = parse_get_report_response(TRUNCATED).unwrap_err();
    assert!(matches!(e, FcbError::Malformed(_)), "{e:?}");
    assert_eq!(e.code(), "malformed_response");
    assert!(!e.is_transient());

    // Cut right after a complete tag: well-formed so far, but elements are left open.
    let text = std::str::from_utf8(SAMPLE).unwrap();
    let cut = text[..text.len() / 2].rfind('>').unwrap() + 1;
    let e = parse_report(&SAMPLE[..cut]).unwrap_err();
    assert!(
        matches!(&e, FcbError::Malformed(m) if m.contains("left open")),
        "{e:?}"
    );

    // And cut at every few bytes of a small answer: never a report, never a panic.
    for end in (0..RESPONSE.len() - 20).step_by(37) {
        assert!(
            matches!(
                parse_get_report_response(&RESPONSE[..end]),
                Err(FcbError::Malformed(_))
            ),
            "cut at {end}"
        );
    }
}

#[test]
fn not_xml_or_wrong_shape_is_malformed() {
    for body in [
        &b""[..],
        b"<html><body>Bad gateway</body></html>",
        b"<a><b></a></b>",
        b"<S:Envelope xmlns:S=\"x\"><S:Body/></S:Envelope>",
        b"<S:Envelope xmlns:S=\"x\"><S:Body><Other/></S:Body></S:Envelope>",
        b"<S:Envelope xmlns:S=\"x\"><S:Body><GetReportResponse><GetReportResult/></GetReportResponse></S:Body></S:Envelope>",
        b"<CigResult><ReferenceId>1</ReferenceId></CigResult>",
        b"<CigResult><Result><Root></Root></Result></CigResult><second/>",
        b"<CigResult attr=\"unterminated><Result/></CigResult>",
        b"<CigResult>&unknown;</CigResult>",
    ] {
        let shown = String::from_utf8_lossy(body);
        let e = parse_get_report_response(body).unwrap_err();
        assert!(matches!(e, FcbError::Malformed(_)), "{shown}: {e:?}");
        let e = parse_report(body).unwrap_err();
        assert!(matches!(e, FcbError::Malformed(_)), "{shown}: {e:?}");
    }
}

#[test]
fn http_status_without_fault() {
    for (status, transient) in [
        (500, false),
        (502, true),
        (503, true),
        (504, true),
        (404, false),
    ] {
        let e = read_http_answer(status, b"<html>Service Unavailable</html>").unwrap_err();
        assert!(
            matches!(e, FcbError::HttpStatus { status: s } if s == status),
            "{e:?}"
        );
        assert_eq!(e.is_transient(), transient, "{status}");
        assert_eq!(e.code(), "http_status");
    }
}

#[test]
fn http_500_with_fault_is_a_soap_fault() {
    let e = read_http_answer(500, SOAP_FAULT).unwrap_err();
    assert!(matches!(e, FcbError::SoapFault { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[test]
fn http_200_goes_through_the_parser() {
    let (report, reference) = read_http_answer(200, RESPONSE).unwrap();
    assert_eq!(reference.as_deref(), Some("REF-2024-0001"));
    assert_eq!(report.credit_history.existing_contracts.len(), 1);
    assert!(matches!(
        read_http_answer(200, ERROR_1102),
        Err(FcbError::SubjectNotFound)
    ));
}

#[test]
fn transport_failures_are_classified() {
    let connect = FcbError::from(TransportError::Connect("refused".into()));
    assert!(connect.is_transient());
    assert_eq!(connect.code(), "connection_failed");
    let io = FcbError::from(TransportError::Io("reset".into()));
    assert!(io.is_transient());
    assert_eq!(io.code(), "connection_failed");
    let timeout = FcbError::from(TransportError::Timeout);
    assert!(timeout.is_transient());
    assert_eq!(timeout.code(), "timeout");
    assert!(FcbError::Timeout.is_transient());
    assert_eq!(FcbError::Timeout.code(), "timeout");
    let config = FcbError::from(TransportError::Config("bad pem".into()));
    assert!(!config.is_transient());
    assert_eq!(config.code(), "config_error");
    assert_eq!(FcbError::ConsentRequired.code(), "consent_required");
    assert!(!FcbError::ConsentRequired.is_transient());
}
