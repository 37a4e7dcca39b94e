//! What the authority says, as the gateway sees it: plain domain types named in English, with
//! exact money ([`Money`], integer minor units) and calendar dates, ready to be serialized and
//! flattened into field paths (`vehicle_status.registration.make`,
//! `vehicle_status.unpaid_fines.0.amount.minor`).
//!
//! These types know nothing of the authority's XML (that is `wire.rs`) and never decide what
//! the gateway may keep: the contracts do. Types that hold personal values (names, IINs,
//! plates, VINs) have a `Debug` that prints no clear value, so that a stray `?status` in a log
//! line leaks nothing.
//!
//! Serialization rules: `None` and empty vectors are skipped; dates are ISO `YYYY-MM-DD`.

use std::fmt;

use kuzet_ident::{Bin, Iin, mask};
use serde::{Serialize, Serializer};
use time::Date;

/// The currency of every amount the authority gives unless it names another: fines are set in
/// tenge.
pub const CURRENCY_KZT: &str = "KZT";

/// An exact amount of money: `minor` hundredths of the currency unit (tiyn for KZT). Never a
/// float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Money {
    /// Hundredths of the currency unit; never negative here (fines are not refunds).
    pub minor: i64,
    /// The currency code, `KZT` unless the authority said otherwise.
    pub currency: String,
}

impl Money {
    /// An amount in tenge, given in tiyn.
    pub fn kzt(minor: i64) -> Self {
        Self {
            minor,
            currency: CURRENCY_KZT.to_owned(),
        }
    }
}

/// The authority's answer about one vehicle and the people on it (policy 4.2.4). Every part
/// is optional: what the authority did not send is `None` or empty, never an error.
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct VehicleStatus {
    /// The vehicle's registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// The last technical inspection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspection: Option<Inspection>,
    /// The registered owner (for a car-secured loan, usually the lender: a legal entity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Person>,
    /// The registered user (for a car-secured loan, the client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Person>,
    /// Administrative offences on record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// Fines not paid yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpaid_fines: Vec<UnpaidFine>,
    /// A driving ban on record (in force or past, see [`DrivingBan::active`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driving_ban: Option<DrivingBan>,
    /// The driver's medical certificate; `None` when the authority knows of none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medical_certificate: Option<MedicalCertificate>,
}

/// Counts and presence only: the parts hold personal values.
impl fmt::Debug for VehicleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VehicleStatus")
            .field("registration", &self.registration)
            .field("inspection", &self.inspection)
            .field("owner", &self.owner)
            .field("user", &self.user)
            .field("violations", &self.violations.len())
            .field("unpaid_fines", &self.unpaid_fines.len())
            .field("driving_ban", &self.driving_ban)
            .field("medical_certificate", &self.medical_certificate)
            .finish()
    }
}

/// The vehicle's registration record.
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Registration {
    /// State plate (`grnz`), as the authority wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    /// VIN (`vin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// Body number (`body_no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_number: Option<String>,
    /// Chassis number (`chassis_no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis_number: Option<String>,
    /// Make (`make`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    /// Model (`model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Year of manufacture (`issue_year`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,
    /// Colour, as the authority names it (`color_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Date of registration (`reg_date`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub registration_date: Option<Date>,
    /// Registration certificate series (`cert_series`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_series: Option<String>,
    /// Registration certificate number (`cert_no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_number: Option<String>,
    /// Registration status as the authority names it (`status`, e.g. `registered`,
    /// `deregistered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Plate, VIN, body and chassis numbers and the certificate number are masked.
impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = |v: &Option<String>| v.as_deref().map(mask);
        f.debug_struct("Registration")
            .field("plate", &m(&self.plate))
            .field("vin", &m(&self.vin))
            .field("body_number", &m(&self.body_number))
            .field("chassis_number", &m(&self.chassis_number))
            .field("make", &self.make)
            .field("model", &self.model)
            .field("year", &self.year)
            .field("colour", &self.colour)
            .field("registration_date", &self.registration_date)
            .field("certificate_series", &self.certificate_series)
            .field("certificate_number", &m(&self.certificate_number))
            .field("status", &self.status)
            .finish()
    }
}

/// The last technical inspection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Inspection {
    /// When it took place (`inspection_date`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub date: Option<Date>,
    /// Until when it is valid (`valid_until`); a date in the past means it has expired.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub valid_until: Option<Date>,
    /// The outcome as the authority names it (`result`, e.g. `passed`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// An owner or user of the vehicle: a person (IIN) or, for an owner, a legal entity (BIN).
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Person {
    /// Surname, name and patronymic (`lastname firstname midname`), or the organisation's
    /// name (`org_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The person's IIN (`iinbin`, when it is an IIN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iin: Option<Iin>,
    /// The legal entity's BIN (`iinbin`, when it is a BIN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<Bin>,
}

/// The name is never printed; the IIN is masked.
impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("full_name", &self.full_name.as_ref().map(|_| "<redacted>"))
            .field("iin", &self.iin)
            .field("bin", &self.bin)
            .finish()
    }
}

/// One administrative offence (`offence`).
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Violation {
    /// Protocol number (`protocol_no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_number: Option<String>,
    /// Date the protocol was registered (`reg_date`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub date: Option<Date>,
    /// Article of the Code of Administrative Offences (`article`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    /// The authority that drew up the protocol (`authority`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The fine imposed (`fine_amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine_amount: Option<Money>,
    /// Enforcement status as the authority names it (`status`, e.g. `paid`, `unpaid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The protocol number is masked.
impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Violation")
            .field(
                "protocol_number",
                &self.protocol_number.as_deref().map(mask),
            )
            .field("date", &self.date)
            .field("article", &self.article)
            .field("authority", &self.authority)
            .field("fine_amount", &self.fine_amount)
            .field("status", &self.status)
            .finish()
    }
}

/// One fine not paid yet (`fine`).
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct UnpaidFine {
    /// Protocol number (`protocol_no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_number: Option<String>,
    /// Date the protocol was registered (`reg_date`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub date: Option<Date>,
    /// Article of the Code of Administrative Offences (`article`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    /// The amount still due (`amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

/// The protocol number is masked.
impl fmt::Debug for UnpaidFine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnpaidFine")
            .field(
                "protocol_number",
                &self.protocol_number.as_deref().map(mask),
            )
            .field("date", &self.date)
            .field("article", &self.article)
            .field("amount", &self.amount)
            .finish()
    }
}

/// A driving ban (deprivation of the right to drive).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct DrivingBan {
    /// Whether the ban is in force, as the authority says (`active`; absent: `true`, a listed
    /// ban being in force).
    pub active: bool,
    /// First day of the ban (`date_from`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub from: Option<Date>,
    /// Last day of the ban (`date_to`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub until: Option<Date>,
    /// The reason as the authority gives it (`reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The driver's medical certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct MedicalCertificate {
    /// Until when it is valid (`valid_until`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub valid_until: Option<Date>,
}

/// The authority's acknowledgement of a user mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct UserMark {
    /// Whether the authority registered the mark (`accepted`; absent: `true`, the return code
    /// having been 0).
    pub accepted: bool,
    /// The authority's id of the mark (`mark_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_id: Option<String>,
    /// When the authority registered it (`registered_at`), an ISO date and time as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<String>,
    /// The authority's message (`message`), shortened, long digit runs masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `YYYY-MM-DD`.
pub(crate) fn iso_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn iso_date_opt<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.serialize_str(&iso_date(*d)),
        None => s.serialize_none(),
    }
}
