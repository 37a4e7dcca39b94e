//! SHEP's answers as read: a success with its raw data, a non-success status, a fault with
//! nested causes, a plain SOAP fault, and HTTP statuses. Messages reach errors masked.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_shep::{ShepError, parse_response, read_http_answer};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/{name}")).unwrap()
}

#[test]
fn a_success_answer_hands_back_ids_status_and_the_raw_data() {
    let answer = parse_response(&fixture("response-success.xml")).unwrap();
    assert_eq!(
        answer.message_id.as_deref(),
        Some("7c1f3a52-9d2e-4b8a-a1c3-5e6f7a8b9c0d")
    );
    assert_eq!(answer.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(
        answer.session_id.as_deref(),
        Some("{f0774397-4fcd-484a-9434-f71535ee4326}")
    );
    assert_eq!(
        answer.response_date.as_deref(),
        Some("2026-03-02T15:15:31.004+06:00")
    );
    assert_eq!(answer.status.code, "SCSS001");
    assert_eq!(
        answer.status.message,
        "Message has been processed successfully"
    );
    assert_eq!(
        answer.data.as_deref(),
        Some(concat!(
            "<ns3:iin>870525301012</ns3:iin><ns3:payment><ns3:period>2026-01</ns3:period>",
            "<ns3:amount>41250.00</ns3:amount></ns3:payment><ns3:note>a &amp; b</ns3:note>"
        ))
    );
}

#[test]
fn debug_of_an_answer_never_shows_its_data() {
    let answer = parse_response(&fixture("response-success.xml")).unwrap();
    let shown = format!("{answer:?}");
    assert!(!shown.contains("870525301012"), "{shown}");
    assert!(shown.contains("data_bytes"));
}

#[test]
fn a_non_success_status_is_read_with_its_message_masked() {
    let answer = parse_response(&fixture("response-status-error.xml")).unwrap();
    assert_eq!(answer.status.code, "SE002");
    assert_eq!(
        answer.status.message,
        "Service did not answer for subject 8705******12"
    );
    assert_eq!(answer.data, None);
    assert_eq!(answer.correlation_id, None);
}

#[test]
fn a_shep_fault_keeps_two_levels_of_sub_errors() {
    let err = parse_response(&fixture("fault-nested.xml")).unwrap_err();
    let ShepError::Fault(info) = &err else {
        panic!("not a SHEP fault: {err}");
    };
    let codes: Vec<&str> = info.chain().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["SE999", "SE998", "SE003"]);
    assert_eq!(info.message, "Routing failed");
    assert!(info.has_error_data);
    assert_eq!(info.session_id.as_deref(), Some("session-1"));
    assert_eq!(info.date.as_deref(), Some("2026-03-02T15:15:31.004+06:00"));
    let innermost = info.chain().last().unwrap();
    assert_eq!(
        innermost.message,
        "Target service unavailable while reading subject 8705******12"
    );
    assert_eq!(err.code(), "shep_fault");
    // SE003 (unavailable) anywhere in the chain makes the fault worth a retry.
    assert!(err.is_transient());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("870525301012"), "{shown}");
}

#[test]
fn a_fault_with_only_permanent_codes_is_not_transient() {
    let body = String::from_utf8(fixture("fault-nested.xml"))
        .unwrap()
        .replace("SE003", "SE997");
    let err = parse_response(body.as_bytes()).unwrap_err();
    assert!(matches!(err, ShepError::Fault(_)));
    assert!(!err.is_transient());
}

#[test]
fn a_plain_soap_fault_and_http_statuses() {
    let err = read_http_answer(500, &fixture("soap-fault-plain.xml")).unwrap_err();
    assert!(
        matches!(&err, ShepError::SoapFault { code, .. } if code == "soap:Client"),
        "{err}"
    );
    assert!(!err.is_transient());
    let err = read_http_answer(500, &fixture("fault-nested.xml")).unwrap_err();
    assert!(matches!(err, ShepError::Fault(_)));
    let err = read_http_answer(503, b"<html>busy</html>").unwrap_err();
    assert!(matches!(err, ShepError::HttpStatus { status: 503 }));
    assert!(err.is_transient());
    let err = read_http_answer(404, b"").unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.code(), "http_status");
}

#[test]
fn truncated_or_foreign_answers_are_malformed() {
    let full = fixture("response-success.xml");
    for body in [&full[..full.len() / 2], b"<html/>", b"", b"not xml"] {
        let err = parse_response(body).unwrap_err();
        assert_eq!(err.code(), "malformed_response", "{err}");
        assert!(!err.is_transient());
    }
}
