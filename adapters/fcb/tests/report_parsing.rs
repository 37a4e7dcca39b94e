//! The golden sample and hand-written fixtures parse into the values the XML holds.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_fcb::{Coded, CreditContract, Money, parse_get_report_response, parse_report};
use time::macros::date;

const SAMPLE: &[u8] = include_bytes!("fixtures/credit-report-standard.xml");
const RESPONSE: &[u8] = include_bytes!("fixtures/get-report-response.xml");
const MISSING_SECTIONS: &[u8] = include_bytes!("fixtures/report-missing-sections.xml");

fn kzt(minor: i64) -> Option<Money> {
    Some(Money {
        minor,
        currency: "KZT".into(),
    })
}

fn bare(minor: i64) -> Option<Money> {
    Some(Money {
        minor,
        currency: String::new(),
    })
}

fn coded(code: &str, label: &str) -> Option<Coded> {
    Some(Coded {
        code: Some(code.into()),
        label: Some(label.into()),
    })
}

fn contract<'a>(contracts: &'a [CreditContract], code: &str) -> &'a CreditContract {
    contracts
        .iter()
        .find(|c| c.code.as_deref() == Some(code))
        .unwrap_or_else(|| panic!("contract {code} missing"))
}

#[test]
fn golden_sample_contracts() {
    let report = parse_report(SAMPLE).unwrap();
    let history = &report.credit_history;
    assert_eq!(history.existing_contracts.len(), 12);
    assert!(
        history.terminated_contracts.is_empty(),
        "the sample has none"
    );

    let card = &history.existing_contracts[0];
    assert_eq!(card.code.as_deref(), Some("O10037085-003"));
    assert_eq!(card.agreement_number.as_deref(), Some("H90068074-001"));
    assert_eq!(card.contract_type.as_deref(), Some("Кредитный договор"));
    assert_eq!(card.funding_type, coded("9", "Кредитная карта"));
    assert_eq!(card.purpose, coded("01", "Приобретение/покупка"));
    assert_eq!(card.status, coded("1", "Стандартные кредиты"));
    assert_eq!(
        card.financial_institution,
        coded("126", "АО \"Kaspi Bank\"")
    );
    assert_eq!(card.currency.as_deref(), Some("KZT"));
    assert_eq!(card.start_date, Some(date!(2020 - 05 - 18)));
    assert_eq!(card.end_date, Some(date!(2022 - 12 - 17)));
    assert_eq!(card.real_repayment_date, None, "`-` means no data");
    assert_eq!(card.disbursement_date, Some(date!(2020 - 07 - 31)));
    assert_eq!(card.last_update, Some(date!(2021 - 07 - 12)));
    assert_eq!(card.total_amount, None, "empty value");
    assert_eq!(card.residual_amount, kzt(0));
    assert_eq!(card.overdue_days, Some(0));
    assert_eq!(card.annual_effective_rate_bps, Some(5_100));
    assert_eq!(card.nominal_rate_bps, Some(0));
    assert_eq!(card.interest_rate_bps, None);
    assert_eq!(card.collaterals.len(), 1);
    assert_eq!(
        card.collaterals[0].guarantee_type.as_deref(),
        Some("Бланковые")
    );
    assert_eq!(card.collaterals[0].value, kzt(0));
    assert_eq!(
        card.collaterals[0].value_type.as_deref(),
        Some("Рыночная стоимость")
    );
    assert_eq!(card.collaterals[0].collateral_type, None);
    assert_eq!(
        card.payments_calendar.len(),
        24,
        "two years of twelve months"
    );

    let second = contract(&history.existing_contracts, "J40064025-008");
    assert_eq!(second.credit_limit, kzt(86_000_000));
    assert_eq!(second.residual_amount, kzt(1_382_400));
    assert_eq!(second.minimum_payment, kzt(5_888_200));
    assert_eq!(second.instalment_amount, kzt(3_122_600));
    assert_eq!(second.max_overdue_days, Some(2));
    assert_eq!(second.max_overdue_days_date, Some(date!(2021 - 10 - 25)));
    assert_eq!(second.max_overdue_days_amount, kzt(7_585_900));
    assert_eq!(second.max_overdue_amount, kzt(5_582_600));
    assert_eq!(second.max_overdue_amount_days, Some(7));
    let july = second
        .payments_calendar
        .iter()
        .find(|p| p.year == 2021 && p.month == 7)
        .unwrap();
    assert_eq!(july.days_overdue, Some(2));
    assert_eq!(july.overdue_amount, kzt(6_162_200));
    assert_eq!(july.fine, None);
    let empty_month = second
        .payments_calendar
        .iter()
        .find(|p| p.year == 2020 && p.month == 1)
        .unwrap();
    assert_eq!(
        empty_month.days_overdue, None,
        "months before the contract have no data"
    );

    let loan = contract(&history.existing_contracts, "DBSPN.17507035");
    assert_eq!(loan.funding_type, coded("2", "Займ"));
    assert_eq!(loan.application_date, Some(date!(2021 - 03 - 31)));
    assert_eq!(loan.total_amount, kzt(76_110_000));
    assert_eq!(loan.outstanding_amount, kzt(65_434_872));
    assert_eq!(loan.instalment_count, Some(29));
    assert_eq!(loan.outstanding_instalment_count, Some(17));
    assert_eq!(
        loan.payment_periodicity,
        coded("2", "Ежемесячные платежи -30 дней")
    );
    assert_eq!(loan.annual_effective_rate_bps, Some(9_900));
    assert_eq!(loan.nominal_rate_bps, Some(4_728));
    assert_eq!(
        loan.provisions_amount,
        bare(3_364_255),
        "dot decimals, no currency"
    );
    assert_eq!(loan.special_relationship.as_deref(), Some("Нет"));
    assert_eq!(loan.bureau_received_date, Some(date!(2021 - 12 - 08)));
    assert_eq!(loan.payments_calendar.len(), 12);

    let assigned = contract(&history.existing_contracts, "7904946");
    assert_eq!(assigned.assignee.as_deref(), Some("text"));
    assert_eq!(assigned.total_amount, kzt(6_999_874));
    assert_eq!(assigned.fine, kzt(0));
}

#[test]
fn golden_sample_summary_and_status() {
    let report = parse_report(SAMPLE).unwrap();
    let history = &report.credit_history;
    let summary = history.summary.as_ref().unwrap();
    assert_eq!(summary.existing.len(), 1);
    let existing = &summary.existing[0];
    assert_eq!(existing.role.as_deref(), Some("Borrower"));
    assert_eq!(existing.contract_count, Some(49));
    assert_eq!(existing.credit_line_count, Some(0));
    assert_eq!(existing.total_outstanding_debt, kzt(777_594_574));
    assert_eq!(existing.total_overdue_debt, bare(0));
    assert_eq!(existing.statuses.len(), 1);
    assert_eq!(existing.statuses[0].count, Some(12));
    assert_eq!(summary.terminated[0].contract_count, Some(74));
    assert_eq!(summary.terminated[0].statuses[0].count, Some(63));
    assert_eq!(
        summary.terminated_over_5_years_ago[0].contract_count,
        Some(9),
        "the leading number of `9 (7 (EVK) + 4 (FWO))`"
    );
    assert_eq!(summary.withdrawn_applications, None);

    let inquiries = history.inquiries.as_ref().unwrap();
    assert_eq!(inquiries.last_12_months, Some(401));
    assert_eq!(
        (
            inquiries.first_quarter,
            inquiries.second_quarter,
            inquiries.third_quarter,
            inquiries.fourth_quarter
        ),
        (Some(80), Some(63), Some(55), Some(64))
    );
    assert_eq!(inquiries.queries_total, Some(16));
    assert_eq!(inquiries.last_7_days, Some(3));
    assert!(
        inquiries.last_7_days_times.is_empty(),
        "the sample's query times are scrambled beyond reading"
    );
    assert_eq!(inquiries.last_30_days, Some(2));
    assert_eq!(inquiries.last_360_days, Some(73));

    let classification = history.classification.as_ref().unwrap();
    assert_eq!(classification.citizenship, coded("110", "Казахстан"));
    assert_eq!(classification.residency, coded("1", "Резидент"));
    assert_eq!(classification.economic_sector.as_deref(), Some("Прочее"));
    assert_eq!(classification.patent, None);

    let negative = history.negative_status.as_ref().unwrap();
    assert_eq!(
        negative
            .client_status
            .as_ref()
            .and_then(|c| c.label.as_deref()),
        Some("Клиент не имеет негативной информации")
    );
    assert_eq!(negative.client_status_date, Some(date!(2021 - 01 - 02)));
    assert_eq!(negative.contract_statuses.len(), 80);
    let first = &negative.contract_statuses[0];
    assert_eq!(first.group.as_deref(), Some("current"));
    assert_eq!(first.status, coded("1", "Стандартные кредиты"));
    assert_eq!(first.registration_date, Some(date!(2021 - 06 - 07)));
    assert_eq!(first.subject_role.as_deref(), Some("Borrower"));

    let unsecured = history.unsecured_debt.as_ref().unwrap();
    assert_eq!(unsecured.total, kzt(452_867_556));
    assert_eq!(unsecured.contracts.len(), 12);
    assert_eq!(
        unsecured.contracts[1].code.as_deref(),
        Some("C80044067-002")
    );
    assert_eq!(unsecured.contracts[1].debt, kzt(2_241_500));
}

#[test]
fn golden_sample_subject_sections() {
    let report = parse_report(SAMPLE).unwrap();
    assert_eq!(report.addresses.len(), 41);
    assert_eq!(report.documents.len(), 11);
    assert_eq!(report.related_subjects.len(), 80);

    let identity = report.identity.as_ref().unwrap();
    assert_eq!(identity.entity_type.as_deref(), Some("Individual"));
    assert_eq!(identity.bureau_subject_id.as_deref(), Some("2104070"));
    assert_eq!(identity.birth_date, Some(date!(1987 - 12 - 16)));
    assert_eq!(identity.gender.as_deref(), Some("male"));
    assert_eq!(identity.birth_last_name, None);
    assert_eq!(identity.marital_status, coded("2", "Женат/замужем"));
    assert_eq!(identity.dependants_under_18, Some(0));
    assert_eq!(
        identity.email.as_deref(),
        Some("wnjwg_p6003@grte.jc"),
        "trimmed"
    );
    assert_eq!(
        identity.address.as_ref().and_then(|a| a.region.as_deref()),
        Some("г.Нур-Султан")
    );

    let address = &report.addresses[0];
    assert_eq!(address.status.as_deref(), Some("Current"));
    assert_eq!(address.street.as_deref(), Some("Юковфзеч дэзотл 98 эс 354"));
    assert_eq!(address.registered_date, Some(date!(2020 - 01 - 18)));
    assert_eq!(address.house_number, None);

    let document = &report.documents[1];
    assert_eq!(document.number.as_deref(), Some("V91780041"));
    assert_eq!(document.issue_date, Some(date!(2021 - 02 - 10)));
    assert_eq!(document.expiry_date, Some(date!(2031 - 03 - 29)));
    assert_eq!(
        document
            .document_type
            .as_ref()
            .and_then(|d| d.code.as_deref()),
        Some("6")
    );

    let related = &report.related_subjects[0];
    assert_eq!(related.link_type.as_deref(), Some("Заёмщик"));
    assert_eq!(related.bureau_subject_id.as_deref(), Some("6103020"));

    let sources = report.public_sources.as_ref().unwrap();
    let checks = [
        &sources.terror_list,
        &sources.wanted_persons,
        &sources.tax_wanted,
        &sources.alimony_debtors,
        &sources.unreliable_suppliers,
        &sources.false_business,
        &sources.tax_arrears,
        &sources.bankruptcy,
        &sources.tax_debtors,
    ];
    for check in checks {
        let check = check.as_ref().expect("every register is in the sample");
        assert_eq!(check.status.as_ref().unwrap().code.as_deref(), Some("2"));
    }
    let terror = sources.terror_list.as_ref().unwrap();
    assert_eq!(terror.refreshed_date, Some(date!(2021 - 05 - 10)));
    assert_eq!(terror.bureau_received_date, None, "scrambled date dropped");
    assert!(
        terror
            .source_url
            .as_deref()
            .unwrap()
            .starts_with("http://kfm.gov.kz/")
    );
}

#[test]
fn envelope_with_report() {
    let (report, reference) = parse_get_report_response(RESPONSE).unwrap();
    assert_eq!(reference.as_deref(), Some("REF-2024-0001"));
    let identity = report.identity.as_ref().unwrap();
    assert_eq!(identity.iin.as_deref(), Some("900101300017"));
    assert_eq!(identity.middle_name, None);
    assert_eq!(identity.marital_status, coded("1", "Холост/не замужем"));

    let summary = &report.credit_history.summary.as_ref().unwrap().existing[0];
    assert_eq!(summary.contract_count, Some(2));
    assert_eq!(
        summary.total_outstanding_debt,
        kzt(125_000_050),
        "no-break spaces"
    );
    assert_eq!(summary.total_fine, bare(0));
    assert_eq!(summary.total_penalty, None);

    let c = &report.credit_history.existing_contracts[0];
    assert_eq!(
        c.agreement_number.as_deref(),
        Some("AG<1> & \"2\""),
        "entities unescaped"
    );
    assert_eq!(c.start_date, Some(date!(2023 - 02 - 01)));
    assert_eq!(c.end_date, None, "31 February is dropped, the rest is kept");
    assert_eq!(c.interest_rate_bps, None, "unreadable rate dropped");
    assert_eq!(c.annual_effective_rate_bps, Some(2_450));
    assert_eq!(c.total_amount, kzt(150_000_000));
    assert_eq!(c.overdue_days, Some(12));
    assert_eq!(c.collaterals[0].value, kzt(300_000_000));
    assert_eq!(
        c.collaterals[0].collateral_type.as_deref(),
        Some("Автотранспорт")
    );
    assert_eq!(c.payments_calendar.len(), 3);
    assert_eq!(c.payments_calendar[1].fine, kzt(150));
    assert_eq!(c.payments_calendar[1].days_overdue, Some(12));

    let t = &report.credit_history.terminated_contracts[0];
    assert_eq!(
        t.currency.as_deref(),
        Some("USD"),
        "from the Currency attribute"
    );
    assert_eq!(
        t.total_amount,
        Some(Money {
            minor: 123_450,
            currency: "USD".into()
        })
    );
    assert_eq!(t.real_repayment_date, Some(date!(2022 - 10 - 10)));

    assert_eq!(report.related_subjects.len(), 1);
    let terror = report.public_sources.unwrap().terror_list.unwrap();
    assert_eq!(terror.status, coded("1", "Субъект найден в списке"));
}

#[test]
fn report_missing_sections_parses() {
    let report = parse_report(MISSING_SECTIONS).unwrap();
    let history = &report.credit_history;
    assert!(history.summary.is_none());
    assert!(history.existing_contracts.is_empty());
    assert!(history.terminated_contracts.is_empty());
    assert!(history.negative_status.is_none());
    assert!(
        history.inquiries.is_none(),
        "`-` everywhere means no inquiries section"
    );
    assert!(report.addresses.is_empty());
    assert!(report.documents.is_empty());
    assert!(report.related_subjects.is_empty());
    assert!(report.public_sources.is_none());
    assert_eq!(report.identity.unwrap().gender.as_deref(), Some("female"));
    let json = serde_json::to_value(parse_report(MISSING_SECTIONS).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "credit_history": {},
            "identity": {"entity_type": "Individual", "iin": "850722400018", "gender": "female"}
        })
    );
}

#[test]
fn report_as_escaped_string_is_accepted() {
    let inner = std::str::from_utf8(MISSING_SECTIONS).unwrap();
    let escaped = quick_xml::escape::escape(inner);
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetReportResponse xmlns="http://ws.creditinfo.com/"><GetReportResult>{escaped}</GetReportResult></GetReportResponse></soap:Body></soap:Envelope>"#
    );
    let (report, reference) = parse_get_report_response(body.as_bytes()).unwrap();
    assert_eq!(reference.as_deref(), Some("11"));
    assert_eq!(report, parse_report(MISSING_SECTIONS).unwrap());
}

#[test]
fn sample_wrapped_in_envelope_equals_bare() {
    let inner = std::str::from_utf8(SAMPLE).unwrap();
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:GetReportResponse xmlns:ns2="http://ws.creditinfo.com/"><ns2:GetReportResult>{inner}</ns2:GetReportResult></ns2:GetReportResponse></S:Body></S:Envelope>"#
    );
    let (report, reference) = parse_get_report_response(body.as_bytes()).unwrap();
    assert_eq!(reference.as_deref(), Some("10"));
    assert_eq!(report, parse_report(SAMPLE).unwrap());
}

#[test]
fn dates_serialize_as_iso() {
    let report = parse_report(SAMPLE).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["credit_history"]["existing_contracts"][0]["start_date"],
        "2020-05-18"
    );
    assert_eq!(
        json["credit_history"]["existing_contracts"][0]["total_amount"],
        serde_json::Value::Null,
        "absent fields are skipped"
    );
    assert!(
        json["credit_history"]["existing_contracts"][0]
            .as_object()
            .unwrap()
            .get("total_amount")
            .is_none()
    );
}

#[test]
fn personal_values_stay_out_of_debug() {
    let report = parse_report(SAMPLE).unwrap();
    let debug = format!("{report:?}");
    for personal in [
        "860228358119",
        "Юояслаомуб",
        "Эшмбр",
        "wnjwg_p6003",
        "V91780041",
        "+51878497982",
    ] {
        assert!(!debug.contains(personal), "{personal} leaked into Debug");
    }
    assert!(
        debug.contains("O10037085-003"),
        "contract data is not personal and stays visible"
    );
}

#[test]
fn one_unreadable_attribute_drops_only_its_field() {
    let mut doc = br#"<CigResult><Result><Root><ExistingContracts><Contract>
        <CodeOfContract title="caption with a bad byte: "#
        .to_vec();
    doc.push(0xff);
    doc.extend_from_slice(
        br#"" value="C-1"/>
        <TotalAmount value="&bogus; KZT"/>
        <OverdueAmount value="12,00 KZT"/>
        </Contract></ExistingContracts></Root></Result></CigResult>"#,
    );
    let report = parse_report(&doc).unwrap();
    let c = &report.credit_history.existing_contracts[0];
    assert_eq!(
        c.code.as_deref(),
        Some("C-1"),
        "the unread caption does not matter"
    );
    assert_eq!(c.total_amount, None, "unknown entity: the field is dropped");
    assert_eq!(c.overdue_amount, kzt(1_200));
}
