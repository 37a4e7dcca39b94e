//! The mock road-traffic authority's answers (policy 4.2.4): pure functions from the request
//! payload (SHEP's `requestData/data` content) to the answer payload (`responseData/data`
//! content), in the shapes `kuzet-traffic`'s `wire` module documents. No server here: the SHEP
//! mock routes the authority's `serviceId`s to [`vehicle_answer`] and [`user_mark_answer`].
//!
//! Answers are synthetic and deterministic from the lookup key: the same key always gives
//! byte-identical answers (no clock is read, so dates are fixed: ordinary inspections are valid
//! until 2027, medical certificates until 2029). A lookup by IIN describes a vehicle whose
//! registered user is that person; a lookup by VIN or plate describes a vehicle with that VIN
//! or plate and a synthetic user derived from it. The owner is a synthetic leasing company
//! (BIN) for two keys in three, else the user. Some keys are reserved:
//!
//! | constant | key | answer |
//! |---|---|---|
//! | [`IIN_NOT_FOUND`], [`VIN_NOT_FOUND`], [`PLATE_NOT_FOUND`] | `820115300105`, `KZ0TESTNF00000404`, `404NFZ01` | `returnCode` 1, nothing found |
//! | [`IIN_UNPAID_FINES`] | `930422400103` | two unpaid fines (19 660.00 and 5 898.50 KZT) |
//! | [`IIN_DRIVING_BAN`] | `760730300105` | an active driving ban |
//! | [`IIN_EXPIRED_INSPECTION`], [`VIN_EXPIRED_INSPECTION`] | `881011400103`, `KZ0TESTEX00000001` | inspection valid until 2022-03-14 |
//! | [`IIN_NO_MEDICAL_CERTIFICATE`] | `850606300102` | no medical certificate section |
//! | [`IIN_AUTHORITY_ERROR`] | `711212400109` | `returnCode` 9, internal error (both operations) |
//! | [`CONTRACT_REJECTED`] | contract `REJECT-0001` | user mark: `returnCode` 3, rejected |
//!
//! A key that is not a valid IIN, VIN or plate, a lookup with no key or several, and a user mark
//! with a missing field or an invalid IIN get `returnCode` 2 (invalid request). Only a payload
//! that is not XML or not a request of the authority is a [`MockDataError`].
//!
//! This module must never hold or produce real personal data (names, IINs, plates and VINs are
//! generated), and never log the values it is asked about.

use std::fmt::Write as _;

use kuzet_ident::{Bin, Iin};
use quick_xml::escape::escape;
use quick_xml::events::Event;
use time::{Date, Month};

/// The payloads' namespace (as `kuzet_traffic::PAYLOAD_NS`).
pub const PAYLOAD_NS: &str = "urn:kuzet:traffic:v1";

/// `returnCode` 0: the answer follows.
pub const RETURN_OK: i64 = 0;
/// `returnCode` 1: nothing found for the key.
pub const RETURN_NOT_FOUND: i64 = 1;
/// `returnCode` 2: invalid request.
pub const RETURN_INVALID_REQUEST: i64 = 2;
/// `returnCode` 3: the user mark is rejected.
pub const RETURN_MARK_REJECTED: i64 = 3;
/// `returnCode` 9: internal error of the authority.
pub const RETURN_INTERNAL_ERROR: i64 = 9;

/// Nothing found (`returnCode` 1). A man born 15.01.1982.
pub const IIN_NOT_FOUND: &str = "820115300105";
/// Nothing found (`returnCode` 1).
pub const VIN_NOT_FOUND: &str = "KZ0TESTNF00000404";
/// Nothing found (`returnCode` 1).
pub const PLATE_NOT_FOUND: &str = "404NFZ01";
/// Two unpaid fines, 19 660.00 and 5 898.50 KZT, also listed as unpaid offences. A woman born
/// 22.04.1993.
pub const IIN_UNPAID_FINES: &str = "930422400103";
/// An active driving ban, 2025-11-01 to 2027-05-01. A man born 30.07.1976.
pub const IIN_DRIVING_BAN: &str = "760730300105";
/// The last inspection expired on 2022-03-14. A woman born 11.10.1988.
pub const IIN_EXPIRED_INSPECTION: &str = "881011400103";
/// The last inspection expired on 2022-03-14.
pub const VIN_EXPIRED_INSPECTION: &str = "KZ0TESTEX00000001";
/// No medical certificate on record (the section is absent). A man born 06.06.1985.
pub const IIN_NO_MEDICAL_CERTIFICATE: &str = "850606300102";
/// `returnCode` 9, internal error, for a lookup by this IIN and for a user mark of this user.
/// A woman born 12.12.1971.
pub const IIN_AUTHORITY_ERROR: &str = "711212400109";
/// A contract number the authority rejects user marks for (`returnCode` 3).
pub const CONTRACT_REJECTED: &str = "REJECT-0001";

/// Why the mock cannot answer a payload at all (the SHEP mock answers these with a fault).
/// Messages never carry payload values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MockDataError {
    /// The payload is not well-formed XML.
    #[error("the payload is not well-formed XML")]
    MalformedXml,
    /// The payload's root is not the request this operation expects.
    #[error("the payload is not a {0}")]
    UnknownRequest(&'static str),
}

impl MockDataError {
    /// A stable snake_case name, for the SHEP mock's fault code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedXml => "malformed_payload",
            Self::UnknownRequest(_) => "unknown_request",
        }
    }
}

/// The answer payload to a vehicle lookup payload (`VehicleRequest`, see the module docs).
pub fn vehicle_answer(request_data: &str) -> Result<String, MockDataError> {
    let fields = read_request(request_data, "VehicleRequest")?;
    let keys: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "iinbin" | "vin" | "grnz"))
        .collect();
    let [(kind, value)] = keys.as_slice() else {
        return Ok(answer(
            "VehicleResponse",
            RETURN_INVALID_REQUEST,
            "exactly one of iinbin, vin, grnz is required",
            "",
        ));
    };
    let value = value.trim();
    let key = match kind.as_str() {
        "iinbin" => Iin::parse(value).ok().map(Key::Iin),
        "vin" => valid_vin(value).map(Key::Vin),
        _ => valid_plate(value).map(Key::Plate),
    };
    let Some(key) = key else {
        return Ok(answer(
            "VehicleResponse",
            RETURN_INVALID_REQUEST,
            "the key is not a valid IIN, VIN or plate",
            "",
        ));
    };
    let reserved = key.reserved();
    Ok(match reserved {
        Reserved::NotFound => answer("VehicleResponse", RETURN_NOT_FOUND, "no vehicle found", ""),
        Reserved::InternalError => answer(
            "VehicleResponse",
            RETURN_INTERNAL_ERROR,
            "internal error",
            "",
        ),
        _ => answer(
            "VehicleResponse",
            RETURN_OK,
            "OK",
            &vehicle_body(&key, reserved),
        ),
    })
}

/// The answer payload to a user mark payload (`UserMarkRequest`, see the module docs): a
/// deterministic acknowledgement, or a refusal.
pub fn user_mark_answer(request_data: &str) -> Result<String, MockDataError> {
    let fields = read_request(request_data, "UserMarkRequest")?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let (Some(iin), Some(name), Some(contract), Some(account)) = (
        field("user_iin"),
        field("user_full_name"),
        field("contract_no"),
        field("advance_account_no"),
    ) else {
        return Ok(answer(
            "UserMarkResponse",
            RETURN_INVALID_REQUEST,
            "user_iin, user_full_name, contract_no and advance_account_no are required",
            "",
        ));
    };
    if Iin::parse(iin).is_err() {
        return Ok(answer(
            "UserMarkResponse",
            RETURN_INVALID_REQUEST,
            "user_iin is not a valid IIN",
            "",
        ));
    }
    if iin == IIN_AUTHORITY_ERROR {
        return Ok(answer(
            "UserMarkResponse",
            RETURN_INTERNAL_ERROR,
            "internal error",
            "",
        ));
    }
    if contract == CONTRACT_REJECTED {
        return Ok(answer(
            "UserMarkResponse",
            RETURN_MARK_REJECTED,
            "the contract is not registered as a pledge of the owner's vehicle",
            "",
        ));
    }
    let h = hash(&format!("mark|{iin}|{name}|{contract}|{account}"));
    let mut body = String::with_capacity(256);
    body.push_str("<tr:mark>");
    el(&mut body, "accepted", "true");
    el(
        &mut body,
        "mark_id",
        &format!("UM-{:012X}", h & 0xFFFF_FFFF_FFFF),
    );
    el(
        &mut body,
        "registered_at",
        &format!(
            "2026-{:02}-{:02}T{:02}:{:02}:00+06:00",
            1 + (h >> 48) % 12,
            1 + (h >> 52) % 28,
            9 + (h >> 56) % 9,
            (h >> 60) * 3
        ),
    );
    el(&mut body, "message", "user mark registered");
    body.push_str("</tr:mark>");
    Ok(answer("UserMarkResponse", RETURN_OK, "OK", &body))
}

/// The direct children of the payload's root, by local name with their text, after checking
/// the root is `expected`.
fn read_request(
    data: &str,
    expected: &'static str,
) -> Result<Vec<(String, String)>, MockDataError> {
    let mut reader = quick_xml::Reader::from_str(data);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut fields = Vec::new();
    let mut text = String::new();
    loop {
        match reader
            .read_event()
            .map_err(|_| MockDataError::MalformedXml)?
        {
            Event::Start(start) => {
                depth += 1;
                text.clear();
                if depth == 1 {
                    if root_seen || start.local_name().into_inner() != expected.as_bytes() {
                        return Err(MockDataError::UnknownRequest(expected));
                    }
                    root_seen = true;
                }
            }
            Event::Empty(start) => {
                if depth == 0 {
                    if root_seen || start.local_name().into_inner() != expected.as_bytes() {
                        return Err(MockDataError::UnknownRequest(expected));
                    }
                    root_seen = true;
                }
                if depth == 1 {
                    let name = String::from_utf8_lossy(start.local_name().into_inner());
                    fields.push((name.into_owned(), String::new()));
                }
            }
            Event::End(end) => {
                if depth == 2 {
                    let name = String::from_utf8_lossy(end.local_name().into_inner());
                    fields.push((name.into_owned(), std::mem::take(&mut text)));
                }
                depth = depth.checked_sub(1).ok_or(MockDataError::MalformedXml)?;
            }
            Event::Text(t) => {
                text.push_str(std::str::from_utf8(&t).map_err(|_| MockDataError::MalformedXml)?)
            }
            Event::CData(c) => {
                text.push_str(std::str::from_utf8(&c).map_err(|_| MockDataError::MalformedXml)?)
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|_| MockDataError::MalformedXml)?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|_| MockDataError::MalformedXml)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or(MockDataError::MalformedXml)?
                            .to_owned()
                    }
                };
                text.push_str(&resolved);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if depth != 0 {
        return Err(MockDataError::MalformedXml);
    }
    if !root_seen {
        return Err(MockDataError::UnknownRequest(expected));
    }
    Ok(fields)
}

fn valid_vin(v: &str) -> Option<String> {
    let v = v.to_ascii_uppercase();
    (v.len() == 17
        && v.bytes().all(|b| b.is_ascii_alphanumeric())
        && !v.bytes().any(|b| matches!(b, b'I' | b'O' | b'Q')))
    .then_some(v)
}

fn valid_plate(p: &str) -> Option<String> {
    let p: String = p
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    ((6..=9).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(p)
}

enum Key {
    Iin(Iin),
    Vin(String),
    Plate(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reserved {
    Ordinary,
    NotFound,
    InternalError,
    UnpaidFines,
    DrivingBan,
    ExpiredInspection,
    NoMedicalCertificate,
}

impl Key {
    fn reserved(&self) -> Reserved {
        match self {
            Self::Iin(iin) => match iin.expose() {
                IIN_NOT_FOUND => Reserved::NotFound,
                IIN_AUTHORITY_ERROR => Reserved::InternalError,
                IIN_UNPAID_FINES => Reserved::UnpaidFines,
                IIN_DRIVING_BAN => Reserved::DrivingBan,
                IIN_EXPIRED_INSPECTION => Reserved::ExpiredInspection,
                IIN_NO_MEDICAL_CERTIFICATE => Reserved::NoMedicalCertificate,
                _ => Reserved::Ordinary,
            },
            Self::Vin(vin) => match vin.as_str() {
                VIN_NOT_FOUND => Reserved::NotFound,
                VIN_EXPIRED_INSPECTION => Reserved::ExpiredInspection,
                _ => Reserved::Ordinary,
            },
            Self::Plate(plate) if plate == PLATE_NOT_FOUND => Reserved::NotFound,
            Self::Plate(_) => Reserved::Ordinary,
        }
    }

    fn seed(&self) -> u64 {
        match self {
            Self::Iin(iin) => hash(&format!("iin|{}", iin.expose())),
            Self::Vin(vin) => hash(&format!("vin|{vin}")),
            Self::Plate(plate) => hash(&format!("plate|{plate}")),
        }
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases, which `std`'s hasher is not.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Picks from `list` by `n`.
fn pick<T: Copy>(list: &[T], n: u64) -> T {
    // `list` is never empty: every caller passes a non-empty constant.
    list[(n % list.len() as u64) as usize]
}

/// A synthetic person: full name parts and IIN.
struct Person {
    iin: Iin,
    lastname: &'static str,
    firstname: &'static str,
    midname: &'static str,
}

const SURNAMES: &[(&str, &str)] = &[
    ("Ахметов", "Ахметова"),
    ("Садыков", "Садыкова"),
    ("Жумабаев", "Жумабаева"),
    ("Касымов", "Касымова"),
    ("Иванов", "Иванова"),
    ("Нурланов", "Нурланова"),
];
const MALE_NAMES: &[&str] = &["Арман", "Ерлан", "Даурен", "Сергей", "Асхат"];
const FEMALE_NAMES: &[&str] = &["Айгерим", "Динара", "Мария", "Салтанат", "Жанна"];
const PATRONYMICS: &[(&str, &str)] = &[
    ("Серикович", "Сериковна"),
    ("Маратович", "Маратовна"),
    ("Болатович", "Болатовна"),
    ("Игоревич", "Игоревна"),
];
const MAKES: &[(&str, &str)] = &[
    ("TOYOTA", "CAMRY"),
    ("HYUNDAI", "TUCSON"),
    ("KIA", "SPORTAGE"),
    ("LADA", "GRANTA"),
    ("CHEVROLET", "COBALT"),
    ("VOLKSWAGEN", "POLO"),
];
const COLOURS: &[&str] = &["БЕЛЫЙ", "ЧЁРНЫЙ", "СЕРЕБРИСТЫЙ", "СИНИЙ", "КРАСНЫЙ"];
const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
const VIN_CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
/// Articles of the Code of Administrative Offences, with fines in KZT (synthetic amounts).
const OFFENCES: &[(&str, &str)] = &[
    ("592.1", "19660.00"),
    ("596.1", "7864.00"),
    ("610.1", "39320.00"),
];
const AUTHORITY: &str = "УАП ДП (синтетический)";

fn person_from_iin(iin: Iin) -> Person {
    let h = hash(&format!("person|{}", iin.expose()));
    let male = iin.is_male();
    let (m, f) = pick(SURNAMES, h);
    let (pm, pf) = pick(PATRONYMICS, h >> 16);
    Person {
        lastname: if male { m } else { f },
        firstname: pick(if male { MALE_NAMES } else { FEMALE_NAMES }, h >> 8),
        midname: if male { pm } else { pf },
        iin,
    }
}

fn synthetic_iin(seed: u64) -> Iin {
    let year = 1965 + (seed % 35) as i32;
    let month = Month::try_from(1 + ((seed >> 8) % 12) as u8).unwrap_or(Month::January);
    let day = 1 + ((seed >> 16) % 28) as u8;
    let birth = Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN);
    let male = (seed >> 24) & 1 == 1;
    let mut serial = ((seed >> 32) % 9000) as u16 + 100;
    // About one serial in eleven has no check digit; the next one always does.
    loop {
        if let Some(iin) = Iin::synthesize(birth, male, serial) {
            return iin;
        }
        serial = serial.wrapping_add(1) % 10_000;
    }
}

fn lender_bin() -> Option<Bin> {
    (100..200).find_map(|serial| Bin::synthesize(5, 3, serial))
}

fn vehicle_body(key: &Key, reserved: Reserved) -> String {
    let seed = key.seed();
    let user = match key {
        Key::Iin(iin) => person_from_iin(iin.clone()),
        _ => person_from_iin(synthetic_iin(seed)),
    };
    let plate = match key {
        Key::Plate(p) => p.clone(),
        _ => format!(
            "{:03}{}{}{}{:02}",
            seed % 1000,
            char::from(pick(PLATE_LETTERS, seed >> 10)),
            char::from(pick(PLATE_LETTERS, seed >> 15)),
            char::from(pick(PLATE_LETTERS, seed >> 20)),
            1 + (seed >> 25) % 20
        ),
    };
    let vin = match key {
        Key::Vin(v) => v.clone(),
        _ => {
            let mut v = String::from("KZ0");
            let mut h = seed;
            for i in 0..14 {
                if i == 7 {
                    h = hash(&format!("vin-tail|{seed}"));
                }
                v.push(char::from(pick(VIN_CHARS, h)));
                h >>= 5;
            }
            v
        }
    };
    let (make, model) = pick(MAKES, seed >> 30);
    let year = 2008 + (seed >> 33) % 16;
    let month = 1 + (seed >> 38) % 12;
    let day = 1 + (seed >> 42) % 28;

    let mut x = String::with_capacity(2048);
    x.push_str("<tr:vehicle>");
    el(&mut x, "grnz", &plate);
    el(&mut x, "vin", &vin);
    el(&mut x, "body_no", &vin);
    el(&mut x, "engine_no", &format!("{:08}", seed % 100_000_000));
    el(&mut x, "make", make);
    el(&mut x, "model", model);
    el(&mut x, "issue_year", &year.to_string());
    el(&mut x, "color_name", pick(COLOURS, seed >> 47));
    el(&mut x, "category", "B");
    el(
        &mut x,
        "reg_date",
        &format!("{}-{month:02}-{day:02}", year + 1),
    );
    el(
        &mut x,
        "cert_series",
        if seed & 1 == 0 { "AA" } else { "AB" },
    );
    el(
        &mut x,
        "cert_no",
        &format!("{:08}", (seed >> 20) % 100_000_000),
    );
    el(&mut x, "status", "registered");
    x.push_str("</tr:vehicle>");

    x.push_str("<tr:inspection>");
    if reserved == Reserved::ExpiredInspection {
        el(&mut x, "inspection_date", "2021-03-14");
        el(&mut x, "valid_until", "2022-03-14");
    } else {
        el(
            &mut x,
            "inspection_date",
            &format!("2025-{month:02}-{day:02}"),
        );
        el(&mut x, "valid_until", &format!("2027-{month:02}-{day:02}"));
    }
    el(&mut x, "result", "passed");
    x.push_str("</tr:inspection>");

    if seed.is_multiple_of(3) {
        person_xml(&mut x, "owner", &user);
    } else {
        x.push_str("<tr:owner>");
        if let Some(bin) = lender_bin() {
            el(&mut x, "iinbin", bin.as_str());
        }
        el(&mut x, "org_name", "ТОО «Синтетик Лизинг»");
        x.push_str("</tr:owner>");
    }
    person_xml(&mut x, "user", &user);

    let paid = (seed >> 50) % 3;
    let unpaid: &[(&str, &str, &str, &str)] = if reserved == Reserved::UnpaidFines {
        &[
            ("ПР-00000001", "2025-09-12", "592.1", "19660.00"),
            ("ПР-00000002", "2025-12-03", "596.1", "5898.50"),
        ]
    } else {
        &[]
    };
    if paid > 0 || !unpaid.is_empty() {
        x.push_str("<tr:offences>");
        for i in 0..paid {
            let (article, amount) = pick(OFFENCES, (seed >> 52) + i);
            x.push_str("<tr:offence>");
            el(
                &mut x,
                "protocol_no",
                &format!("ПР-{:08}", (seed >> 8) % 90_000_000 + 10 + i),
            );
            el(
                &mut x,
                "reg_date",
                &format!("2024-{:02}-{day:02}", 1 + (month + 4 * i) % 12),
            );
            el(&mut x, "article", article);
            el(&mut x, "authority", AUTHORITY);
            el(&mut x, "fine_amount", amount);
            el(&mut x, "status", "paid");
            el(
                &mut x,
                "end_date",
                &format!("2024-{:02}-28", 1 + (month + 4 * i + 1) % 12),
            );
            x.push_str("</tr:offence>");
        }
        for (protocol, date, article, amount) in unpaid {
            x.push_str("<tr:offence>");
            el(&mut x, "protocol_no", protocol);
            el(&mut x, "reg_date", date);
            el(&mut x, "article", article);
            el(&mut x, "authority", AUTHORITY);
            el(&mut x, "fine_amount", amount);
            el(&mut x, "status", "unpaid");
            x.push_str("</tr:offence>");
        }
        x.push_str("</tr:offences>");
    }
    if !unpaid.is_empty() {
        x.push_str("<tr:unpaid_fines>");
        for (protocol, date, article, amount) in unpaid {
            x.push_str("<tr:fine>");
            el(&mut x, "protocol_no", protocol);
            el(&mut x, "reg_date", date);
            el(&mut x, "article", article);
            el(&mut x, "amount", amount);
            x.push_str("</tr:fine>");
        }
        x.push_str("</tr:unpaid_fines>");
    }
    if reserved == Reserved::DrivingBan {
        x.push_str("<tr:driving_ban>");
        el(&mut x, "active", "true");
        el(&mut x, "date_from", "2025-11-01");
        el(&mut x, "date_to", "2027-05-01");
        el(
            &mut x,
            "reason",
            "ст. 608 КоАП: управление в состоянии опьянения (синтетический)",
        );
        x.push_str("</tr:driving_ban>");
    }
    if reserved != Reserved::NoMedicalCertificate {
        x.push_str("<tr:medical_certificate>");
        el(&mut x, "valid_until", &format!("2029-{month:02}-{day:02}"));
        x.push_str("</tr:medical_certificate>");
    }
    x
}

fn person_xml(out: &mut String, tag: &str, p: &Person) {
    let _ = write!(out, "<tr:{tag}>");
    el(out, "iinbin", p.iin.expose());
    el(out, "lastname", p.lastname);
    el(out, "firstname", p.firstname);
    el(out, "midname", p.midname);
    let _ = write!(out, "</tr:{tag}>");
}

/// An answer of `operation` (`vehicle` or `user-mark`) carrying only `returnCode` = `code`: the
/// authority's own error answer, as the control endpoint's `soap_fault` with a `code` injects it.
pub fn error_answer(operation: &str, code: i64) -> String {
    let root = match operation {
        "user-mark" => "UserMarkResponse",
        _ => "VehicleResponse",
    };
    answer(root, code, "Injected error", "")
}

/// The answer payload: `root` with the return code and message, then `body`.
fn answer(root: &str, code: i64, message: &str, body: &str) -> String {
    let mut x = String::with_capacity(256 + body.len());
    let _ = write!(x, r#"<tr:{root} xmlns:tr="{PAYLOAD_NS}">"#);
    el(&mut x, "returnCode", &code.to_string());
    el(&mut x, "returnMessage", message);
    x.push_str(body);
    let _ = write!(x, "</tr:{root}>");
    x
}

fn el(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<tr:{name}>{}</tr:{name}>", escape(text));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    fn lookup(element: &str, key: &str) -> String {
        vehicle_answer(&format!(
            r#"<tr:VehicleRequest xmlns:tr="{PAYLOAD_NS}"><tr:{element}>{key}</tr:{element}><tr:purpose>p</tr:purpose></tr:VehicleRequest>"#
        ))
        .unwrap()
    }

    #[test]
    fn reserved_keys_are_valid() {
        for iin in [
            IIN_NOT_FOUND,
            IIN_UNPAID_FINES,
            IIN_DRIVING_BAN,
            IIN_EXPIRED_INSPECTION,
            IIN_NO_MEDICAL_CERTIFICATE,
            IIN_AUTHORITY_ERROR,
        ] {
            assert!(Iin::parse(iin).is_ok(), "{iin}");
        }
        for vin in [VIN_NOT_FOUND, VIN_EXPIRED_INSPECTION] {
            assert_eq!(valid_vin(vin).as_deref(), Some(vin));
        }
        assert_eq!(
            valid_plate(PLATE_NOT_FOUND).as_deref(),
            Some(PLATE_NOT_FOUND)
        );
        assert!(lender_bin().is_some());
    }

    #[test]
    fn answers_are_deterministic_and_keyed() {
        let a = lookup("iinbin", "870525301012");
        assert_eq!(a, lookup("iinbin", "870525301012"));
        assert!(a.contains("<tr:iinbin>870525301012</tr:iinbin>"));
        assert_ne!(a, lookup("iinbin", IIN_DRIVING_BAN));
        let v = lookup("vin", "kz0testab12345678");
        assert!(v.contains("<tr:vin>KZ0TESTAB12345678</tr:vin>"));
        let p = lookup("grnz", "123 abc-02");
        assert!(p.contains("<tr:grnz>123ABC02</tr:grnz>"));
        // Generated VINs and IINs are valid.
        for key in ["000AAA01", "999ZZZ20", "123ABC02", "777KZT17"] {
            let p = lookup("grnz", key);
            let vin = p
                .split("<tr:vin>")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap();
            assert!(valid_vin(vin).is_some(), "{vin}");
            let iin = p.split("<tr:user><tr:iinbin>").nth(1).unwrap();
            assert!(Iin::parse(&iin[..12]).is_ok());
        }
    }

    #[test]
    fn refusals() {
        assert!(lookup("iinbin", IIN_NOT_FOUND).contains("<tr:returnCode>1<"));
        assert!(lookup("vin", VIN_NOT_FOUND).contains("<tr:returnCode>1<"));
        assert!(lookup("grnz", PLATE_NOT_FOUND).contains("<tr:returnCode>1<"));
        assert!(lookup("iinbin", IIN_AUTHORITY_ERROR).contains("<tr:returnCode>9<"));
        assert!(lookup("iinbin", "870525301013").contains("<tr:returnCode>2<"));
        assert!(lookup("vin", "KZ0TESTIO00000001").contains("<tr:returnCode>2<"));
        let none = vehicle_answer("<VehicleRequest><purpose>p</purpose></VehicleRequest>").unwrap();
        assert!(none.contains("<tr:returnCode>2<"));
        assert_eq!(
            vehicle_answer("<VehicleRequest><vin>"),
            Err(MockDataError::MalformedXml)
        );
        assert_eq!(
            vehicle_answer("<a/>"),
            Err(MockDataError::UnknownRequest("VehicleRequest"))
        );
        assert!(
            vehicle_answer("<VehicleRequest/>")
                .unwrap()
                .contains("<tr:returnCode>2<")
        );
        assert_eq!(
            vehicle_answer("<UserMarkRequest/>"),
            Err(MockDataError::UnknownRequest("VehicleRequest"))
        );
        assert_eq!(
            user_mark_answer("<VehicleRequest/>").unwrap_err().code(),
            "unknown_request"
        );
    }

    fn mark(iin: &str, contract: &str) -> String {
        user_mark_answer(&format!(
            "<UserMarkRequest><request_id>r</request_id><user_iin>{iin}</user_iin><user_full_name>Ахметов Арман</user_full_name><contract_no>{contract}</contract_no><advance_account_no>KZ000000000000000001</advance_account_no></UserMarkRequest>"
        ))
        .unwrap()
    }

    #[test]
    fn user_marks() {
        let a = mark("870525301012", "KZT-2026-0001");
        assert_eq!(a, mark("870525301012", "KZT-2026-0001"));
        assert!(a.contains("<tr:accepted>true</tr:accepted>"));
        assert!(a.contains("<tr:mark_id>UM-"));
        assert_ne!(a, mark("870525301012", "KZT-2026-0002"));
        assert!(mark("870525301012", CONTRACT_REJECTED).contains("<tr:returnCode>3<"));
        assert!(mark(IIN_AUTHORITY_ERROR, "c").contains("<tr:returnCode>9<"));
        assert!(mark("870525301013", "c").contains("<tr:returnCode>2<"));
        assert!(mark("870525301012", "").contains("<tr:returnCode>2<"));
    }
}
