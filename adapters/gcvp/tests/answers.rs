//! The request payload against its golden file, and the centre's answers read and judged:
//! confirmed, several employers (exact arithmetic), no data, refusals, malformed.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{IIN, fixture};
use kuzet_gcvp::{
    GcvpError, IncomeStatus, Money, PAYLOAD_NS, ShepIds, Window, build_request_data,
    income_from_answer, parse_answer_data,
};
use kuzet_ident::Iin;
use kuzet_transport::{AttemptError, Failure};
use time::macros::date;

fn window() -> Window {
    // Asked on 2026-03-02 with N = 6: 2025-09 … 2026-02.
    Window::ending_before(date!(2026 - 03 - 02), 6)
}

fn ids() -> ShepIds {
    ShepIds {
        message_id: "0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10".into(),
        response_message_id: Some("7c1f3a52-9d2e-4b8a-a1c3-5e6f7a8b9c0d".into()),
        correlation_id: Some("corr-1".into()),
        session_id: None,
        service_id: common::SERVICE_ID.into(),
    }
}

fn income(name: &str) -> Result<kuzet_gcvp::Income, GcvpError> {
    income_from_answer(&window(), parse_answer_data(&fixture(name))?, &ids())
}

#[test]
fn the_request_payload_matches_its_golden_file() {
    let iin = Iin::parse(IIN).unwrap();
    let data = build_request_data(PAYLOAD_NS, &iin, &window());
    assert_eq!(data, fixture("request-data.xml"));
}

#[test]
fn the_request_envelope_carries_the_payload_and_the_service_id() {
    let iin = Iin::parse(IIN).unwrap();
    let mut request = kuzet_shep::ShepRequest::new(
        common::SERVICE_ID,
        build_request_data(PAYLOAD_NS, &iin, &window()),
    );
    request.message_id = uuid::Uuid::parse_str("0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10").unwrap();
    let config = kuzet_shep::ShepConfig::new("http://shep.test/", "KUZET_TEST", "pw");
    let xml = kuzet_shep::build_envelope(&config, &request)
        .unwrap()
        .to_xml();
    assert!(xml.contains("<serviceId>GCVP_TEST_SERVICE</serviceId>"));
    assert!(xml.contains(&format!(
        "<requestData><data>{}</data></requestData>",
        fixture("request-data.xml")
    )));
}

#[test]
fn a_confirmed_answer_with_one_employer() {
    let income = income("answer-confirmed.xml").unwrap();
    assert_eq!(income.status, IncomeStatus::Confirmed);
    assert_eq!(income.months_considered, 6);
    assert_eq!(
        (income.period_from.as_str(), income.period_to.as_str()),
        ("2025-09", "2026-02")
    );
    assert_eq!(income.contributions.len(), 6);
    let first = &income.contributions[0];
    assert_eq!(first.month, "2025-09");
    assert_eq!(first.payment_date.as_deref(), Some("2025-10-20"));
    assert_eq!(first.amount, Money::kzt(4_125_000));
    assert_eq!(first.employer_bin.as_str(), "050140001238");
    assert_eq!(first.employer_name.as_deref(), Some("ТОО «Альфа & Омега»"));
    assert_eq!(income.employers.len(), 1);
    let e = &income.employers[0];
    assert_eq!(e.months_with_contributions, 6);
    assert_eq!(e.average_contribution, Money::kzt(4_125_000));
    // 41 250.00 × 10 = 412 500.00 KZT.
    assert_eq!(e.estimated_monthly_income, Money::kzt(41_250_000));
    assert_eq!(
        income.estimated_monthly_income_total,
        Some(Money::kzt(41_250_000))
    );
}

#[test]
fn several_employers_exact_arithmetic() {
    let income = income("answer-several-employers.xml").unwrap();
    assert_eq!(income.status, IncomeStatus::Confirmed);
    // 2025-08 and 2026-03 are outside the window; the nested `note/amount` is not a field.
    assert_eq!(income.contributions.len(), 11);
    assert!(
        income
            .contributions
            .iter()
            .all(|c| c.month.as_str() >= "2025-09" && c.month.as_str() <= "2026-02")
    );
    // Ordered by month, then payment date (none first), then BIN.
    let order: Vec<(&str, Option<&str>)> = income
        .contributions
        .iter()
        .take(2)
        .map(|c| (c.employer_bin.as_str(), c.payment_date.as_deref()))
        .collect();
    assert_eq!(
        order,
        [
            ("150641007896", Some("2025-10-10")),
            ("050140001238", Some("2025-10-25"))
        ]
    );
    let lines: Vec<(&str, Option<&str>, u32, i64, i64)> = income
        .employers
        .iter()
        .map(|e| {
            (
                e.bin.as_str(),
                e.name.as_deref(),
                e.months_with_contributions,
                e.average_contribution.minor,
                e.estimated_monthly_income.minor,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // (6 × 50 000.00 + 100.00) ÷ 6 = 50 016.666… → 50 016.66; × 10.
            (
                "050140001238",
                Some("ТОО «Альфа Плюс»"),
                6,
                5_001_666,
                50_016_660
            ),
            // 70 000.01 ÷ 6 = 11 666.668… → 11 666.66; × 10.
            ("150641007896", Some("АО «Гамма»"), 1, 1_166_666, 11_666_660),
            // 3 × 12 345.67 ÷ 6 = 6 172.835 → 6 172.83; × 10.
            ("101240004568", Some("ИП Бета"), 3, 617_283, 6_172_830),
        ]
    );
    assert_eq!(
        income.estimated_monthly_income_total,
        Some(Money::kzt(67_856_150))
    );
    assert!(
        income
            .employers
            .iter()
            .all(|e| e.average_contribution.currency == "KZT")
    );
}

#[test]
fn income_serializes_with_snake_case_fields_and_integer_amounts() {
    let income = income("answer-confirmed.xml").unwrap();
    let json = serde_json::to_value(&income).unwrap();
    assert_eq!(json["status"], "confirmed");
    assert_eq!(json["months_considered"], 6);
    assert_eq!(json["contributions"][0]["amount"]["minor"], 4_125_000);
    assert_eq!(json["contributions"][0]["amount"]["currency"], "KZT");
    assert_eq!(json["contributions"][0]["employer_bin"], "050140001238");
    assert_eq!(
        json["employers"][0]["estimated_monthly_income"]["minor"],
        41_250_000
    );
    assert_eq!(json["estimated_monthly_income_total"]["minor"], 41_250_000);
    assert!(json["contributions"][0]["amount"]["minor"].is_i64());
    assert!(json["estimated_monthly_income_total"]["minor"].is_i64());
}

#[test]
fn no_data_is_not_zero_income() {
    for name in ["answer-no-data.xml", "answer-empty.xml"] {
        let income = income(name).unwrap();
        assert_eq!(income.status, IncomeStatus::NoData, "{name}");
        assert!(income.contributions.is_empty() && income.employers.is_empty());
        assert_eq!(income.estimated_monthly_income_total, None);
        let json = serde_json::to_value(&income).unwrap();
        assert_eq!(json["status"], "no_data");
        assert!(json.get("estimated_monthly_income_total").is_none());
    }
}

#[test]
fn payments_outside_the_window_only_are_no_data() {
    let later = Window::ending_before(date!(2030 - 01 - 15), 6);
    let answer = parse_answer_data(&fixture("answer-confirmed.xml")).unwrap();
    let income = income_from_answer(&later, answer, &ids()).unwrap();
    assert_eq!(income.status, IncomeStatus::NoData);
}

#[test]
fn subject_not_found_is_an_answer() {
    let err = income("answer-not-found.xml").unwrap_err();
    assert!(matches!(err, GcvpError::SubjectNotFound { .. }), "{err}");
    assert_eq!(err.code(), "subject_not_found");
    assert!(!err.is_transient());
    assert_eq!(err.failure(), Failure::Answered);
    assert_eq!(
        err.shep_ids().unwrap().correlation_id.as_deref(),
        Some("corr-1")
    );
}

#[test]
fn other_return_codes_are_typed_errors_without_personal_values() {
    let err = income("answer-invalid-request.xml").unwrap_err();
    match &err {
        GcvpError::Refused { code, message, .. } => {
            assert_eq!(*code, 3);
            assert!(!message.contains(IIN), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(!err.to_string().contains(IIN));
    assert_eq!(err.code(), "registry_refused");
    assert_eq!(err.failure(), Failure::Answered);

    let err = income("answer-internal-error.xml").unwrap_err();
    assert!(
        matches!(err, GcvpError::RegistryInternal { code: 9, .. }),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(err.failure(), Failure::Transient);
}

#[test]
fn malformed_answers_are_typed_errors() {
    for name in ["answer-truncated.xml", "answer-bad-bin.xml"] {
        let err = parse_answer_data(&fixture(name))
            .and_then(|a| income_from_answer(&window(), a, &ids()))
            .unwrap_err();
        assert!(matches!(err, GcvpError::Malformed(_)), "{name}: {err}");
        assert_eq!(err.code(), "malformed_response");
        assert!(!err.is_transient());
        assert_eq!(err.failure(), Failure::Broken);
    }
    let bad = [
        "<payment><amount>1.00</amount><employerBin>050140001238</employerBin></payment>",
        "<payment><period>2026-01</period><employerBin>050140001238</employerBin></payment>",
        "<payment><period>2026-01</period><amount>1.00</amount></payment>",
        "<payment><period>2026-01</period><amount>-1.00</amount><employerBin>050140001238</employerBin></payment>",
        "<payment><period>2026-1</period><amount>1.00</amount><employerBin>050140001238</employerBin></payment>",
        "<payment><period>2026-01</period><paymentDate>01.02.2026</paymentDate><amount>1.00</amount><employerBin>050140001238</employerBin></payment>",
        "<returnCode>zero</returnCode>",
        "<a>&unknown;</a>",
        "<a></b>",
        "<payment/>",
    ];
    for data in bad {
        let err = parse_answer_data(data).unwrap_err();
        assert!(matches!(err, GcvpError::Malformed(_)), "{data}: {err}");
        assert!(!err.to_string().contains("050140001238"), "{err}");
    }
}

#[test]
fn a_missing_return_code_reads_as_ok() {
    let data = "<payment><period>2026-01</period><amount>10</amount><employerBin>050140001238</employerBin></payment>";
    let answer = parse_answer_data(data).unwrap();
    assert_eq!(answer.return_code, 0);
    let income = income_from_answer(&window(), answer, &ids()).unwrap();
    // 10.00 ÷ 6 = 1.666… → 1.66; × 10 = 16.60.
    assert_eq!(
        income.estimated_monthly_income_total,
        Some(Money::kzt(1_660))
    );
}
