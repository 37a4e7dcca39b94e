//! The loan system's export, one contract per line (JSON Lines), read as a stream: each line
//! becomes a checked [`UploadContract`] and the contract payload (`loan.*` field paths) that the
//! `fcb` contract's upload operation is checked against, or a [`Refusal`] naming the line, the
//! field and the reason.
//!
//! This module must never put a value from the file (an IIN, a name, a number) into a refusal:
//! reasons name members and rules only. Lines are parsed by the API's `parse_json`, which keeps
//! serde's quoted values out of its messages.

use kuzet_fcb::{
    CollateralKind, ContractPhase, Gender, IdDocument, UploadAddress, UploadBorrower,
    UploadCollateral, UploadConfig, UploadContract, UploadOperation, check_upload_contract,
};
use kuzet_ident::Iin;
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use super::ReportingConfig;

/// Member names of the source format, for messages (and the README).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceContract {
    contract_code: String,
    agreement_number: String,
    start_date: String,
    end_date: String,
    phase: String,
    #[serde(default)]
    repaid_date: Option<String>,
    currency: String,
    total_amount: i64,
    instalment_amount: i64,
    instalment_count: i64,
    accounting_date: String,
    outstanding_amount: i64,
    overdue_amount: i64,
    overdue_days: i64,
    /// Optional: instalments still to pay; derived when absent (see README).
    #[serde(default)]
    outstanding_instalment_count: Option<i64>,
    collateral: SourceCollateral,
    borrower: SourceBorrower,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceCollateral {
    #[serde(rename = "type")]
    kind: String,
    value: i64,
    #[serde(default)]
    vin: Option<String>,
    #[serde(default)]
    plate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBorrower {
    iin: String,
    last_name: String,
    first_name: String,
    #[serde(default)]
    middle_name: Option<String>,
    gender: String,
    birth_date: String,
    citizenship: String,
    resident: bool,
    #[serde(default)]
    id_document: Option<SourceIdDocument>,
    addresses: Vec<SourceAddress>,
    #[serde(default)]
    mobile: Option<String>,
    /// Optional: the date the IIN was assigned.
    #[serde(default)]
    iin_registration_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceIdDocument {
    #[serde(rename = "type")]
    kind: String,
    number: String,
    issued: String,
    /// Optional: the expiry date; an ID card is valid ten years from issue when absent.
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceAddress {
    #[serde(rename = "type")]
    kind: String,
    kato: String,
    text: String,
}

/// Why a source line is not reported, without any value from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The line in the source file, from 1.
    pub line: u64,
    /// The contract code, when the line got that far (an identifier of the lender's book, not
    /// personal data).
    pub contract_code: Option<String>,
    /// A stable code: `malformed`, `invalid`, `field_not_allowed`, `unknown_field`,
    /// `consent_missing`, `duplicate`.
    pub code: &'static str,
    /// What is wrong, naming members and rules, never values.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(code) = &self.contract_code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}: {}", self.code, self.reason)
    }
}

/// A line read and checked: what the bureau would get, and its contract payload.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub line: u64,
    /// The contract (its `operation` is set later, by change detection).
    pub contract: UploadContract,
    /// The contract as `loan.*` field paths: what enforcement checks and the fingerprint is
    /// taken of.
    pub payload: Value,
}

fn date(path: &str, s: &str) -> Result<Date, String> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{path} is not a date (YYYY-MM-DD)"))
}

fn amount(path: &str, v: i64) -> Result<u64, String> {
    u64::try_from(v).map_err(|_| format!("{path} is negative"))
}

fn count(path: &str, v: i64) -> Result<u32, String> {
    if v < 0 {
        return Err(format!("{path} is negative"));
    }
    u32::try_from(v).map_err(|_| format!("{path} is too large"))
}

fn text(path: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("{path} is empty"));
    }
    // XML 1.0 cannot carry most of them, and none belongs in a name, a number or an address.
    if t.chars().any(char::is_control) {
        return Err(format!("{path} contains a control character"));
    }
    Ok(t.to_owned())
}

/// Reads one source line into a checked contract. `line` is its number, for the refusal;
/// `today` the lender's date, which no accounting or issue date may pass.
pub fn prepare(
    line: u64,
    text_line: &str,
    upload: &UploadConfig,
    codes: &ReportingConfig,
    today: Date,
) -> Result<Prepared, Refusal> {
    // The API's own parsing: serde's complaints sorted into codes, values never quoted.
    let src: SourceContract =
        crate::api::parse_json(text_line.as_bytes()).map_err(|e| Refusal {
            line,
            contract_code: None,
            code: match e.code {
                "malformed_request" => "malformed",
                "unknown_field" => "unknown_field",
                _ => "invalid",
            },
            reason: e.message,
        })?;
    let code = src.contract_code.trim().to_owned();
    let refuse = |reason: String| Refusal {
        line,
        contract_code: (!code.is_empty()).then(|| code.clone()),
        code: "invalid",
        reason,
    };
    let contract = convert(&src, codes, today).map_err(refuse)?;
    check_upload_contract(&contract).map_err(refuse)?;
    let payload = payload(&contract, upload);
    Ok(Prepared {
        line,
        contract,
        payload,
    })
}

fn convert(
    s: &SourceContract,
    codes: &ReportingConfig,
    today: Date,
) -> Result<UploadContract, String> {
    let contract_code = text("contract_code", &s.contract_code)?;
    let agreement_number = text("agreement_number", &s.agreement_number)?;
    let start_date = date("start_date", &s.start_date)?;
    let end_date = date("end_date", &s.end_date)?;
    let accounting_date = date("accounting_date", &s.accounting_date)?;
    let phase = match s.phase.trim() {
        "open" => ContractPhase::Open,
        "repaid" => ContractPhase::Repaid,
        "repaid_early" => ContractPhase::RepaidEarly,
        "creditor_changed" => ContractPhase::CreditorChanged,
        _ => {
            return Err("phase is not one of open, repaid, repaid_early, creditor_changed".into());
        }
    };
    let repaid_date = match (&s.repaid_date, phase.needs_repaid_date()) {
        (Some(d), true) => Some(date("repaid_date", d)?),
        (None, true) => return Err("repaid_date is required when phase is not open".into()),
        (Some(_), false) => return Err("repaid_date must be null while phase is open".into()),
        (None, false) => None,
    };
    if end_date < start_date {
        return Err("end_date is before start_date".into());
    }
    if accounting_date < start_date {
        return Err("accounting_date is before start_date".into());
    }
    // The state reported is the state on the accounting date: one still to come is a
    // mistyped date, and the bureau would keep it as the contract's latest state.
    if accounting_date > today {
        return Err("accounting_date is in the future (after today in Asia/Almaty)".into());
    }
    if let Some(r) = repaid_date {
        if r < start_date {
            return Err("repaid_date is before start_date".into());
        }
        if r > accounting_date {
            return Err("repaid_date is after accounting_date".into());
        }
    }
    let currency = s.currency.trim().to_owned();
    if !codes.currencies.contains(&currency) {
        return Err(format!(
            "currency is not one the lender reports in ({})",
            codes.currencies.join(", ")
        ));
    }
    let total_amount_minor = amount("total_amount", s.total_amount)?;
    let instalment_amount_minor = amount("instalment_amount", s.instalment_amount)?;
    let instalment_count = count("instalment_count", s.instalment_count)?;
    if instalment_count == 0 {
        return Err("instalment_count must be at least 1".into());
    }
    let outstanding_amount_minor = amount("outstanding_amount", s.outstanding_amount)?;
    let overdue_amount_minor = amount("overdue_amount", s.overdue_amount)?;
    let overdue_days = count("overdue_days", s.overdue_days)?;
    if (overdue_days == 0) != (overdue_amount_minor == 0) {
        return Err("overdue_days and overdue_amount must both be 0 or both be positive".into());
    }
    if phase != ContractPhase::Open && outstanding_amount_minor != 0 {
        return Err("outstanding_amount must be 0 once the contract is repaid or passed on".into());
    }
    let outstanding_instalment_count = match s.outstanding_instalment_count {
        Some(n) => count("outstanding_instalment_count", n)?,
        None if phase != ContractPhase::Open => 0,
        None => derive_outstanding(
            outstanding_amount_minor,
            instalment_amount_minor,
            instalment_count,
        ),
    };
    let collateral = match s.collateral.kind.trim() {
        "vehicle" => UploadCollateral {
            kind: CollateralKind::Vehicle,
            value_minor: amount("collateral.value", s.collateral.value)?,
            vin: Some(text(
                "collateral.vin",
                s.collateral.vin.as_deref().unwrap_or(""),
            )?),
            plate: s
                .collateral
                .plate
                .as_deref()
                .map(|p| text("collateral.plate", p))
                .transpose()?,
        },
        "none" | "unsecured" => {
            if s.collateral.value != 0 {
                return Err("collateral.value must be 0 for an unsecured loan".into());
            }
            if s.collateral.vin.is_some() || s.collateral.plate.is_some() {
                return Err("an unsecured loan carries no collateral.vin or plate".into());
            }
            UploadCollateral::unsecured()
        }
        _ => return Err("collateral.type is not one of vehicle, none".into()),
    };
    if let Some(vin) = &collateral.vin {
        let ok = vin.len() == 17
            && vin
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOQ".contains(&b)));
        if !ok {
            return Err(
                "collateral.vin is not a VIN (17 characters, digits and capitals but I, O, Q)"
                    .into(),
            );
        }
    }
    let borrower = borrower(&s.borrower, codes, today)?;
    Ok(UploadContract {
        operation: UploadOperation::New,
        contract_code,
        agreement_number,
        start_date,
        end_date,
        phase,
        repaid_date,
        currency,
        total_amount_minor,
        instalment_amount_minor,
        instalment_count,
        accounting_date,
        outstanding_instalment_count,
        outstanding_amount_minor,
        overdue_days,
        overdue_amount_minor,
        collateral,
        borrower,
    })
}

/// Instalments still to pay when the export does not say: the outstanding amount in whole
/// instalments, rounded up, at most the instalment count.
fn derive_outstanding(outstanding: u64, instalment: u64, count: u32) -> u32 {
    if outstanding == 0 {
        return 0;
    }
    if instalment == 0 {
        return count;
    }
    let n = outstanding.div_ceil(instalment);
    u32::try_from(n).unwrap_or(u32::MAX).min(count)
}

fn borrower(
    b: &SourceBorrower,
    codes: &ReportingConfig,
    today: Date,
) -> Result<UploadBorrower, String> {
    let iin =
        Iin::parse(b.iin.trim()).map_err(|e| format!("borrower.iin is not a valid IIN: {e}"))?;
    let gender = match b.gender.trim() {
        "M" => Gender::Male,
        "F" => Gender::Female,
        _ => return Err("borrower.gender is not M or F".into()),
    };
    let birth_date = date("borrower.birth_date", &b.birth_date)?;
    let citizenship = b.citizenship.trim();
    let Some(citizenship_id) = codes.citizenship_ids.get(citizenship) else {
        return Err(
            "borrower.citizenship has no bureau code in [reporting.citizenship_ids]".into(),
        );
    };
    let id_document = match &b.id_document {
        None => None,
        Some(d) => {
            if d.kind.trim() != "id_card" {
                return Err("borrower.id_document.type is not id_card".into());
            }
            let issue_date = date("borrower.id_document.issued", &d.issued)?;
            if issue_date > today {
                return Err("borrower.id_document.issued is in the future".into());
            }
            let expiration_date = match &d.expires {
                Some(e) => date("borrower.id_document.expires", e)?,
                // 29 February, ten years on, is 28 February.
                None => Date::from_calendar_date(
                    issue_date.year() + 10,
                    issue_date.month(),
                    issue_date.day(),
                )
                .or_else(|_| {
                    Date::from_calendar_date(
                        issue_date.year() + 10,
                        issue_date.month(),
                        issue_date.day() - 1,
                    )
                })
                .map_err(|_| "borrower.id_document.issued is out of range".to_owned())?,
            };
            Some(IdDocument {
                number: text("borrower.id_document.number", &d.number)?,
                registration_date: None,
                issue_date,
                expiration_date,
            })
        }
    };
    let mut residence = None;
    let mut registration = None;
    for a in &b.addresses {
        let address = UploadAddress {
            kato_id: text("borrower.addresses.kato", &a.kato)?,
            street: text("borrower.addresses.text", &a.text)?,
        };
        if !address.kato_id.bytes().all(|c| c.is_ascii_digit()) || address.kato_id.len() != 9 {
            return Err("borrower.addresses.kato is not a 9-digit KATO code".into());
        }
        let slot = match a.kind.trim() {
            "residence" => &mut residence,
            "registration" => &mut registration,
            _ => return Err("borrower.addresses.type is not residence or registration".into()),
        };
        if slot.is_some() {
            return Err("borrower.addresses holds the same type twice".into());
        }
        *slot = Some(address);
    }
    // One address serves as both where the export has only one (the usual case: people live
    // where they are registered).
    let (residence_address, registration_address) = match (residence, registration) {
        (Some(r), Some(g)) => (r, g),
        (Some(r), None) => (r.clone(), r),
        (None, Some(g)) => (g.clone(), g),
        (None, None) => return Err("borrower.addresses is empty".into()),
    };
    let mobile = b
        .mobile
        .as_deref()
        .map(|m| text("borrower.mobile", m))
        .transpose()?;
    if let Some(m) = &mobile {
        let digits = m.strip_prefix('+').unwrap_or(m);
        if digits.len() < 10 || digits.len() > 15 || !digits.bytes().all(|d| d.is_ascii_digit()) {
            return Err("borrower.mobile is not a phone number (+ and 10 to 15 digits)".into());
        }
    }
    Ok(UploadBorrower {
        iin,
        iin_registration_date: b
            .iin_registration_date
            .as_deref()
            .map(|d| date("borrower.iin_registration_date", d))
            .transpose()?,
        surname: text("borrower.last_name", &b.last_name)?,
        first_name: text("borrower.first_name", &b.first_name)?,
        fathers_name: b
            .middle_name
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|m| text("borrower.middle_name", m))
            .transpose()?,
        gender,
        birth_date,
        citizenship_id: citizenship_id.clone(),
        resident: b.resident,
        id_document,
        residence_address,
        registration_address,
        mobile,
    })
}

fn iso(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

fn money(minor: u64, currency: &str) -> Value {
    json!({"minor": minor, "currency": currency})
}

/// The contract as the `loan.*` vocabulary names it: every value the datapump file carries,
/// code-list values included, in a fixed order (so its JSON is the fingerprint's input).
pub fn payload(c: &UploadContract, codes: &UploadConfig) -> Value {
    let b = &c.borrower;
    let mut loan = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        loan.insert(k.to_owned(), v);
    };
    put("contract_code", json!(c.contract_code));
    put("agreement_number", json!(c.agreement_number));
    put("funding_type", json!(codes.funding_type_id));
    put("credit_purpose", json!(codes.credit_purpose_id));
    put("credit_object", json!(codes.credit_object_id));
    put("phase", json!(c.phase.code()));
    put("status", json!(codes.contract_status_id));
    put("start_date", json!(iso(c.start_date)));
    put("end_date", json!(iso(c.end_date)));
    if let Some(r) = c.repaid_date {
        put("real_payment_date", json!(iso(r)));
    }
    put("classification", json!(codes.classification_id));
    put("total_amount", money(c.total_amount_minor, &c.currency));
    put(
        "instalment_amount",
        money(c.instalment_amount_minor, &c.currency),
    );
    put("instalment_count", json!(c.instalment_count));
    put("payment_method", json!(codes.payment_method_id));
    put("payment_period", json!(codes.payment_period_id));
    put(
        "balance",
        json!({
            "accounting_date": iso(c.accounting_date),
            "outstanding_instalment_count": c.outstanding_instalment_count,
            "outstanding_amount": money(c.outstanding_amount_minor, &c.currency),
            "days_overdue": c.overdue_days,
            "overdue_amount": money(c.overdue_amount_minor, &c.currency),
        }),
    );
    let mut collateral = serde_json::Map::new();
    let kind = match c.collateral.kind {
        CollateralKind::Unsecured => &codes.unsecured_collateral_type_id,
        CollateralKind::Vehicle => &codes.vehicle_collateral_type_id,
    };
    collateral.insert("type".into(), json!(kind));
    collateral.insert("value".into(), money(c.collateral.value_minor, &c.currency));
    if let Some(vin) = &c.collateral.vin {
        collateral.insert("vehicle_vin".into(), json!(vin));
    }
    if let Some(plate) = &c.collateral.plate {
        collateral.insert("vehicle_plate".into(), json!(plate));
    }
    put("collaterals", json!([collateral]));
    let mut borrower = serde_json::Map::new();
    let mut bput = |k: &str, v: Value| {
        borrower.insert(k.to_owned(), v);
    };
    bput("iin", json!(b.iin.expose()));
    if let Some(d) = b.iin_registration_date {
        bput("iin_registration_date", json!(iso(d)));
    }
    bput("last_name", json!(b.surname));
    bput("first_name", json!(b.first_name));
    if let Some(m) = &b.fathers_name {
        bput("middle_name", json!(m));
    }
    bput(
        "gender",
        json!(match b.gender {
            Gender::Male => "M",
            Gender::Female => "F",
        }),
    );
    bput("birth_date", json!(iso(b.birth_date)));
    bput(
        "residency",
        json!(if b.resident {
            &codes.resident_id
        } else {
            &codes.non_resident_id
        }),
    );
    bput("citizenship", json!(b.citizenship_id));
    bput("classification", json!(codes.classification_id));
    if let Some(d) = &b.id_document {
        bput(
            "id_card",
            json!({"number": d.number, "issue_date": iso(d.issue_date),
                   "expiration_date": iso(d.expiration_date)}),
        );
    }
    bput(
        "addresses",
        json!([
            {"type": kuzet_fcb::ADDRESS_RESIDENCE.to_string(),
             "kato_id": b.residence_address.kato_id, "street": b.residence_address.street},
            {"type": kuzet_fcb::ADDRESS_REGISTRATION.to_string(),
             "kato_id": b.registration_address.kato_id, "street": b.registration_address.street},
        ]),
    );
    if let Some(m) = &b.mobile {
        bput("phone", json!(m));
    }
    put("borrower", Value::Object(borrower));
    json!({ "loan": Value::Object(loan) })
}
