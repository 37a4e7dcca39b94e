//! The payloads both ways: golden request payloads, answers parsed (full, minimal, refusals,
//! malformed), round trips through the mock's generator for each reserved key, exact amounts,
//! key validation and masking. Synthetic values only.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_ident::Iin;
use kuzet_mocks::traffic as mock;
use kuzet_traffic::{
    KeyError, Money, Plate, ShepIds, TextProblem, TrafficError, UserMarkField, UserMarkProblem,
    UserMarkRequest, VehicleRequest, Vin, build_user_mark_request_data, build_vehicle_request_data,
    parse_user_mark_answer_data, parse_vehicle_answer_data, user_mark_from_answer,
    vehicle_from_answer,
};
use kuzet_transport::{AttemptError, Failure};
use time::macros::date;

const IIN: &str = "870525301012";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("tests/fixtures/{name}")).unwrap()
}

fn ids() -> ShepIds {
    ShepIds {
        message_id: "0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10".into(),
        response_message_id: Some("r-1".into()),
        correlation_id: Some("c-1".into()),
        session_id: None,
        service_id: "MVD_TRAFFIC".into(),
    }
}

fn vehicle(data: &str) -> Result<kuzet_traffic::VehicleStatus, TrafficError> {
    vehicle_from_answer(parse_vehicle_answer_data(data)?, &ids())
}

fn mark_request() -> UserMarkRequest {
    UserMarkRequest {
        user_iin: Iin::parse(IIN).unwrap(),
        user_full_name: "  Ахметов   Арман <Серикович> & Co ".into(),
        contract_number: "KZT-2026/0001".into(),
        advance_account_number: "KZ000000000000000001".into(),
    }
}

#[test]
fn request_payloads_match_the_golden_files() {
    let cases = [
        (
            VehicleRequest::ByVin(Vin::parse(" kz0testab12345678 ").unwrap()),
            "vehicle-request-vin.xml",
        ),
        (
            VehicleRequest::ByIin(Iin::parse(IIN).unwrap()),
            "vehicle-request-iin.xml",
        ),
        (
            VehicleRequest::ByPlate(Plate::parse("123 abc-02").unwrap()),
            "vehicle-request-plate.xml",
        ),
    ];
    for (request, name) in cases {
        let built = build_vehicle_request_data(&request, "contract_performance");
        assert_eq!(built, fixture(name).trim_end(), "{name}");
    }
    let built =
        build_user_mark_request_data(&mark_request(), "0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10")
            .unwrap();
    assert_eq!(built, fixture("user-mark-request.xml").trim_end());
}

#[test]
fn a_user_mark_with_an_empty_or_odd_field_is_refused_before_sending() {
    let mut r = mark_request();
    r.contract_number = "  ".into();
    let err = build_user_mark_request_data(&r, "id").unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("contract_number"));
    let mut r = mark_request();
    r.advance_account_number = "KZ00\u{0}1".into();
    assert!(build_user_mark_request_data(&r, "id").is_err());
    assert_eq!(
        r.check(),
        Err(UserMarkProblem {
            field: UserMarkField::AdvanceAccountNumber,
            problem: TextProblem::ControlCharacter
        })
    );
    let mut r = mark_request();
    r.user_full_name = "я".repeat(201);
    assert!(build_user_mark_request_data(&r, "id").is_err());
    assert_eq!(
        r.check().map_err(|e| e.to_string()),
        Err("user_full_name is longer than 200 characters".to_owned())
    );
    // Whitespace inside the name (a line break, a tab) is collapsed, not refused.
    let mut r = mark_request();
    r.user_full_name = " Test\n\tTestov ".into();
    assert_eq!(r.check(), Ok(()));
    assert_eq!(r.full_name(), "Test Testov");
}

#[test]
fn a_full_answer_is_read_into_the_vehicle_status() {
    let s = vehicle(&fixture("vehicle-answer-full.xml")).unwrap();
    let reg = s.registration.as_ref().unwrap();
    assert_eq!(reg.plate.as_deref(), Some("123ABC02"));
    assert_eq!(reg.vin.as_deref(), Some("KZ0TESTAB12345678"));
    assert_eq!(reg.chassis_number.as_deref(), Some("CH-0001"));
    assert_eq!(reg.make.as_deref(), Some("TOYOTA"));
    assert_eq!(reg.model.as_deref(), Some("CAMRY XV70"));
    assert_eq!(reg.year, Some(2019));
    assert_eq!(reg.colour.as_deref(), Some("БЕЛЫЙ"));
    assert_eq!(reg.registration_date, Some(date!(2019 - 05 - 14)));
    assert_eq!(reg.certificate_series.as_deref(), Some("AB"));
    assert_eq!(reg.certificate_number.as_deref(), Some("00123456"));
    assert_eq!(reg.status.as_deref(), Some("registered"));
    let insp = s.inspection.as_ref().unwrap();
    assert_eq!(insp.date, Some(date!(2025 - 04 - 10)));
    assert_eq!(insp.valid_until, Some(date!(2026 - 04 - 10)));
    assert_eq!(insp.result.as_deref(), Some("passed"));
    let owner = s.owner.as_ref().unwrap();
    assert_eq!(owner.full_name.as_deref(), Some("ТОО «Синтетик Лизинг»"));
    assert_eq!(owner.bin.as_ref().unwrap().as_str(), "050340001235");
    assert!(owner.iin.is_none());
    let user = s.user.as_ref().unwrap();
    assert_eq!(user.full_name.as_deref(), Some("Ахметов Арман Серикович"));
    assert_eq!(user.iin.as_ref().unwrap().expose(), IIN);
    assert_eq!(s.violations.len(), 2);
    assert_eq!(s.violations[0].fine_amount, Some(Money::kzt(1_966_000)));
    assert_eq!(
        s.violations[0].authority.as_deref(),
        Some("УАП ДП (синтетический)")
    );
    assert_eq!(s.violations[1].fine_amount, Some(Money::kzt(589_850)));
    assert_eq!(s.violations[1].authority, None);
    assert_eq!(s.unpaid_fines.len(), 1);
    assert_eq!(s.unpaid_fines[0].amount, Some(Money::kzt(589_850)));
    assert_eq!(s.unpaid_fines[0].date, Some(date!(2025 - 12 - 03)));
    let ban = s.driving_ban.as_ref().unwrap();
    assert!(!ban.active);
    assert_eq!(ban.until, Some(date!(2021 - 07 - 15)));
    assert_eq!(
        s.medical_certificate.as_ref().unwrap().valid_until,
        Some(date!(2029 - 01 - 31))
    );

    // The shape the gateway flattens: snake_case, ISO dates, integer amounts, absent skipped.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["registration"]["registration_date"], "2019-05-14");
    assert_eq!(json["unpaid_fines"][0]["amount"]["minor"], 589_850);
    assert_eq!(json["unpaid_fines"][0]["amount"]["currency"], "KZT");
    assert_eq!(json["user"]["iin"], IIN);
    assert_eq!(json["driving_ban"]["active"], false);
    assert!(json["owner"].get("iin").is_none());
    assert!(json["violations"][1].get("authority").is_none());
}

#[test]
fn a_minimal_answer_leaves_absent_parts_empty() {
    let s = vehicle(&fixture("vehicle-answer-minimal.xml")).unwrap();
    let reg = s.registration.as_ref().unwrap();
    assert_eq!(reg.vin.as_deref(), Some("KZ0TESTAB12345678"));
    assert_eq!(reg.plate, None);
    assert!(s.inspection.is_none() && s.owner.is_none() && s.user.is_none());
    assert!(s.violations.is_empty() && s.unpaid_fines.is_empty());
    assert!(s.driving_ban.is_none() && s.medical_certificate.is_none());
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"registration":{"vin":"KZ0TESTAB12345678"}}"#
    );
    // Nothing at all is an empty status, not an error.
    assert_eq!(
        vehicle("").unwrap(),
        kuzet_traffic::VehicleStatus::default()
    );
}

#[test]
fn return_codes_are_typed_errors() {
    let err = vehicle(&fixture("vehicle-answer-not-found.xml")).unwrap_err();
    assert!(matches!(&err, TrafficError::NotFound { .. }), "{err}");
    assert_eq!(err.code(), "not_found");
    assert_eq!(err.failure(), Failure::Answered);
    assert!(!err.is_transient());
    assert_eq!(err.shep_ids().unwrap().service_id, "MVD_TRAFFIC");

    let err = vehicle(&fixture("vehicle-answer-refused.xml")).unwrap_err();
    match &err {
        TrafficError::Refused { code, message, .. } => {
            assert_eq!(*code, 2);
            assert!(!message.contains(IIN), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(!err.to_string().contains(IIN));
    assert_eq!(err.failure(), Failure::Answered);

    let err = vehicle(&fixture("vehicle-answer-internal-error.xml")).unwrap_err();
    assert_eq!(err.code(), "authority_internal_error");
    assert!(err.is_transient());
    assert_eq!(err.failure(), Failure::Transient);

    let err = user_mark_from_answer(
        parse_user_mark_answer_data(&fixture("user-mark-rejected.xml")).unwrap(),
        &ids(),
    )
    .unwrap_err();
    assert!(matches!(err, TrafficError::Refused { code: 3, .. }));
}

#[test]
fn malformed_answers_are_refused_without_values() {
    for name in [
        "vehicle-answer-bad-date.xml",
        "vehicle-answer-truncated.xml",
    ] {
        let err = vehicle(&fixture(name)).unwrap_err();
        assert_eq!(err.code(), "malformed_response", "{name}");
        assert_eq!(err.failure(), Failure::Broken);
        assert!(!err.to_string().contains("2026"), "{err}");
    }
    for data in [
        "<returnCode>zero</returnCode>",
        "<vehicle><issue_year>19</issue_year></vehicle>",
        "<user><iinbin>870525301013</iinbin></user>",
        "<unpaid_fines><fine><amount>-5.00</amount></fine></unpaid_fines>",
        "<unpaid_fines><fine><amount>5.005</amount></fine></unpaid_fines>",
        "<offences><offence><fine_amount currency='tenge'>5</fine_amount></offence></offences>",
        "<driving_ban><active>maybe</active></driving_ban>",
        "<a>&unknown;</a>",
    ] {
        let err = vehicle(data).unwrap_err();
        assert_eq!(err.code(), "malformed_response", "{data}");
    }
}

#[test]
fn a_user_mark_answer_is_read() {
    let mark = user_mark_from_answer(
        parse_user_mark_answer_data(&fixture("user-mark-answer.xml")).unwrap(),
        &ids(),
    )
    .unwrap();
    assert!(mark.accepted);
    assert_eq!(mark.mark_id.as_deref(), Some("UM-00000000ABCD"));
    assert_eq!(
        mark.registered_at.as_deref(),
        Some("2026-03-02T10:15:00+06:00")
    );
    assert_eq!(mark.message.as_deref(), Some("user mark registered"));
    let json = serde_json::to_value(&mark).unwrap();
    assert_eq!(json["accepted"], true);
    let declined = parse_user_mark_answer_data(
        "<returnCode>0</returnCode><mark><accepted>false</accepted></mark>",
    )
    .unwrap();
    assert!(!user_mark_from_answer(declined, &ids()).unwrap().accepted);
}

/// The mock's answer to a lookup by `request`, read by the adapter.
fn through_mock(request: &VehicleRequest) -> Result<kuzet_traffic::VehicleStatus, TrafficError> {
    let data = build_vehicle_request_data(request, "contract_performance");
    vehicle(&mock::vehicle_answer(&data).unwrap())
}

fn by_iin(iin: &str) -> VehicleRequest {
    VehicleRequest::ByIin(Iin::parse(iin).unwrap())
}

#[test]
fn the_mock_answers_round_trip_for_every_reserved_key() {
    // Ordinary: a full record whose user is the person asked about.
    let s = through_mock(&by_iin(IIN)).unwrap();
    assert_eq!(s.user.as_ref().unwrap().iin.as_ref().unwrap().expose(), IIN);
    assert!(s.user.as_ref().unwrap().full_name.is_some());
    assert!(s.registration.as_ref().unwrap().vin.is_some());
    assert!(s.inspection.as_ref().unwrap().valid_until > Some(date!(2026 - 01 - 01)));
    assert!(s.unpaid_fines.is_empty() && s.driving_ban.is_none());
    assert!(s.medical_certificate.is_some());
    assert!(s.owner.is_some());

    for request in [
        by_iin(mock::IIN_NOT_FOUND),
        VehicleRequest::ByVin(Vin::parse(mock::VIN_NOT_FOUND).unwrap()),
        VehicleRequest::ByPlate(Plate::parse(mock::PLATE_NOT_FOUND).unwrap()),
    ] {
        let err = through_mock(&request).unwrap_err();
        assert!(matches!(err, TrafficError::NotFound { .. }), "{err}");
    }

    let s = through_mock(&by_iin(mock::IIN_UNPAID_FINES)).unwrap();
    let amounts: Vec<i64> = s
        .unpaid_fines
        .iter()
        .map(|f| f.amount.as_ref().unwrap().minor)
        .collect();
    assert_eq!(amounts, [1_966_000, 589_850]);
    assert!(
        s.violations
            .iter()
            .any(|v| v.status.as_deref() == Some("unpaid"))
    );

    let s = through_mock(&by_iin(mock::IIN_DRIVING_BAN)).unwrap();
    let ban = s.driving_ban.unwrap();
    assert!(ban.active);
    assert_eq!(ban.until, Some(date!(2027 - 05 - 01)));

    for request in [
        by_iin(mock::IIN_EXPIRED_INSPECTION),
        VehicleRequest::ByVin(Vin::parse(mock::VIN_EXPIRED_INSPECTION).unwrap()),
    ] {
        let s = through_mock(&request).unwrap();
        assert_eq!(
            s.inspection.unwrap().valid_until,
            Some(date!(2022 - 03 - 14))
        );
    }

    let s = through_mock(&by_iin(mock::IIN_NO_MEDICAL_CERTIFICATE)).unwrap();
    assert!(s.medical_certificate.is_none());
    assert!(s.registration.is_some());

    let err = through_mock(&by_iin(mock::IIN_AUTHORITY_ERROR)).unwrap_err();
    assert!(err.is_transient());

    // A lookup by VIN or plate describes that vehicle.
    let vin = Vin::parse("KZ0TESTAB12345678").unwrap();
    let s = through_mock(&VehicleRequest::ByVin(vin)).unwrap();
    assert_eq!(
        s.registration.unwrap().vin.as_deref(),
        Some("KZ0TESTAB12345678")
    );
    let plate = Plate::parse("777 kzt 17").unwrap();
    let s = through_mock(&VehicleRequest::ByPlate(plate)).unwrap();
    let reg = s.registration.unwrap();
    assert_eq!(reg.plate.as_deref(), Some("777KZT17"));
    assert!(Vin::parse(reg.vin.as_deref().unwrap()).is_ok());
    assert!(s.user.unwrap().iin.is_some());
}

#[test]
fn the_mock_user_mark_round_trips() {
    let answer = |r: &UserMarkRequest| {
        let data = build_user_mark_request_data(r, "0190f5e2-7c4a-7d3e-9b1a-2f6c8e4d5a10").unwrap();
        user_mark_from_answer(
            parse_user_mark_answer_data(&mock::user_mark_answer(&data).unwrap()).unwrap(),
            &ids(),
        )
    };
    let mark = answer(&mark_request()).unwrap();
    assert!(mark.accepted);
    assert!(mark.mark_id.as_deref().unwrap().starts_with("UM-"));
    assert_eq!(answer(&mark_request()).unwrap(), mark);

    let mut rejected = mark_request();
    rejected.contract_number = mock::CONTRACT_REJECTED.into();
    let err = answer(&rejected).unwrap_err();
    assert!(
        matches!(err, TrafficError::Refused { code: 3, .. }),
        "{err}"
    );
    assert_eq!(err.failure(), Failure::Answered);

    let mut failing = mark_request();
    failing.user_iin = Iin::parse(mock::IIN_AUTHORITY_ERROR).unwrap();
    assert_eq!(
        answer(&failing).unwrap_err().code(),
        "authority_internal_error"
    );
}

#[test]
fn vins_and_plates_are_validated_and_normalised() {
    assert_eq!(
        Vin::parse(" kz0testab12345678").unwrap().expose(),
        "KZ0TESTAB12345678"
    );
    assert_eq!(Vin::parse("KZ0TESTAB1234567"), Err(KeyError::VinFormat));
    assert_eq!(Vin::parse("KZ0TESTAB123456789"), Err(KeyError::VinFormat));
    assert_eq!(Vin::parse("KZ0TESTAB1234567-"), Err(KeyError::VinFormat));
    assert_eq!(Vin::parse("KZ0TESTAB1234567Я"), Err(KeyError::VinFormat));
    for letter in ['I', 'O', 'Q', 'o'] {
        let vin = format!("KZ0TESTAB1234567{letter}");
        assert_eq!(Vin::parse(&vin), Err(KeyError::VinLetter), "{vin}");
    }
    assert_eq!(Plate::parse("123 abc-02").unwrap().expose(), "123ABC02");
    assert_eq!(Plate::parse("A123BC").unwrap().expose(), "A123BC");
    assert!(Plate::parse("12345").is_err());
    assert!(Plate::parse("1234567890").is_err());
    assert!(Plate::parse("123АВС02").is_err()); // Cyrillic letters
    assert!(Plate::parse("123_BC02").is_err());
    let vin: Vin = serde_json::from_str(r#""kz0testab12345678""#).unwrap();
    assert_eq!(
        serde_json::to_string(&vin).unwrap(),
        r#""KZ0TESTAB12345678""#
    );
    assert!(serde_json::from_str::<Plate>(r#""1""#).is_err());
}

#[test]
fn debug_masks_personal_values() {
    let vin = Vin::parse("KZ0TESTAB12345678").unwrap();
    let plate = Plate::parse("123ABC02").unwrap();
    let shown = format!(
        "{:?} {:?} {:?} {vin} {plate}",
        VehicleRequest::ByVin(vin.clone()),
        VehicleRequest::ByPlate(plate.clone()),
        VehicleRequest::ByIin(Iin::parse(IIN).unwrap()),
    );
    for secret in ["KZ0TESTAB12345678", "123ABC02", IIN] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("Vin(KZ0T***********78)"), "{shown}");

    let shown = format!("{:?}", mark_request());
    for secret in [
        IIN,
        "Ахметов",
        "Арман",
        "KZT-2026/0001",
        "KZ000000000000000001",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }

    let status = vehicle(&fixture("vehicle-answer-full.xml")).unwrap();
    let shown = format!("{status:?}");
    for secret in [
        IIN,
        "Ахметов",
        "Синтетик",
        "KZ0TESTAB12345678",
        "123ABC02",
        "00123456",
        "ПР-00000012",
    ] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
}
