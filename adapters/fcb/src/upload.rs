//! The contract upload (policy 4.5, the scheduled bureau reporting): the records the lender
//! reports as domain types ([`UploadContract`]), the datapump `Records` file built from them
//! ([`build_records_xml`]) and zipped into one entry ([`zip_records`]), and the batch the bureau
//! answers with ([`BatchStatus`]). The SOAP envelopes around them are in `wire.rs`; the calls
//! are [`crate::FcbClient::upload_batch`] and [`crate::FcbClient::batch_status`].
//!
//! # The `Records` file
//!
//! EXCHANGES.md gives the element names; where it is silent the shape below is an
//! **assumption** (marked *A*) to be checked against the bureau's schema when the connection
//! agreement brings it:
//!
//! ```text
//! <Records xmlns="http://www.datapump.cig.com">
//!   <Contract operation="1|2">
//!     <General>
//!       <ContractCode/> <AgreementNumber/>
//!       <FundingType id/> <CreditPurpose2 id/> <CreditObject id/>
//!       <ContractPhase id="4|5|6|8"/> <ContractStatus id/>
//!       <StartDate/> <EndDate/> <RealPaymentDate/>   (only phases 5/6/8; ISO dates)
//!       <Classification id/>
//!       <Collaterals><Collateral typeId>
//!         <Value currency typeId>0.00</Value>
//!         <VIN/> <RegistrationNumber/>               (A: a vehicle's identifiers)
//!       </Collateral></Collaterals>
//!       <Subjects><Subject roleId="1"><Entity><Individual>
//!         <FirstName><Text language/></FirstName> <Surname>…</Surname> <FathersName>…</FathersName>
//!         <Gender>M|F</Gender> <Classification id/> <Residency id/> <DateOfBirth/>
//!         <Citizenship id/>
//!         <Identifications>
//!           <Identification typeId="14" rank="1"><Number/><RegistrationDate/></Identification>
//!           <Identification typeId="7" rank="2"><Number/><RegistrationDate/><IssueDate/>
//!             <ExpirationDate/></Identification>
//!         </Identifications>
//!         <Addresses><Address typeId="1|6" katoId><StreetName><Text language/></StreetName>
//!         </Address></Addresses>
//!         <Communications><Communication typeId="3">+7…</Communication></Communications>
//!       </Individual></Entity></Subject></Subjects>
//!     </General>
//!     <Type><Instalment paymentMethodId paymentPeriodId>
//!       <TotalAmount currency/> <InstalmentAmount currency/> <InstalmentCount/>
//!       <Records><Record accountingDate>
//!         <OutstandingInstalmentCount/> <OutstandingAmount currency/>
//!         <OverdueInstalmentCount/> (days overdue) <OverdueAmount currency/>
//!       </Record></Records>
//!     </Instalment></Type>
//!   </Contract>
//! </Records>
//! ```
//!
//! *A*: the order of the elements; the `rank` of the two identifications; amounts as
//! `xs:decimal` text in major units with two decimals and a dot (`1200000.00`), converted
//! exactly from integer minor units; the vehicle's `VIN` and `RegistrationNumber` under its
//! `Collateral`; the ZIP entry's name `records.xml`. The code lists (funding type, purpose,
//! object, status, classification, collateral types, payment method and period, residency)
//! are configuration ([`crate::UploadConfig`]); the codes EXCHANGES.md fixes (phases 4/5/6/8,
//! role 1, identification types 14 and 7, address types 1 and 6, communication type 3,
//! gender M/F) are constants here.
//!
//! This module must never put a personal value (IIN, name, document number, VIN, plate, phone,
//! address) into an error or a log line: errors name the record by its position and the
//! field, never its content. Types holding personal values have a `Debug` that masks them.

use std::collections::HashSet;
use std::fmt;
use std::io::{Cursor, Write};

use kuzet_ident::Iin;
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::config::UploadConfig;
use crate::error::FcbError;

/// The datapump namespace of the `Records` file.
pub const DATAPUMP_RECORDS_NS: &str = "http://www.datapump.cig.com";
/// The name of the one entry in the uploaded ZIP.
pub const RECORDS_ENTRY_NAME: &str = "records.xml";
/// `Subject@roleId` of the borrower.
pub const ROLE_BORROWER: u32 = 1;
/// `Identification@typeId` of an IIN.
pub const IDENTIFICATION_IIN: u32 = 14;
/// `Identification@typeId` of the national ID card.
pub const IDENTIFICATION_ID_CARD: u32 = 7;
/// `Address@typeId` of the residence address.
pub const ADDRESS_RESIDENCE: u32 = 1;
/// `Address@typeId` of the registration address.
pub const ADDRESS_REGISTRATION: u32 = 6;
/// `Communication@typeId` of a mobile phone.
pub const COMMUNICATION_MOBILE: u32 = 3;

/// Longest contract code accepted, in characters (*A*: the bureau's schema will say).
const MAX_CODE_CHARS: usize = 64;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Whether the record is the contract's first load or an update of a loaded one
/// (`Contract@operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadOperation {
    /// 1: the contract's first load.
    New,
    /// 2: an update of a contract the bureau already has.
    Changed,
}

impl UploadOperation {
    /// The bureau's code: 1 new, 2 changed.
    pub fn code(self) -> u32 {
        match self {
            Self::New => 1,
            Self::Changed => 2,
        }
    }
}

/// Where the contract stands (`ContractPhase@id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractPhase {
    /// 4: open.
    Open,
    /// 5: repaid (needs the repaid date).
    Repaid,
    /// 6: repaid early (needs the repaid date).
    RepaidEarly,
    /// 8: the creditor changed, e.g. the claim was assigned (needs the date).
    CreditorChanged,
}

impl ContractPhase {
    /// The bureau's code: 4 open, 5 repaid, 6 repaid early, 8 creditor changed.
    pub fn code(self) -> u32 {
        match self {
            Self::Open => 4,
            Self::Repaid => 5,
            Self::RepaidEarly => 6,
            Self::CreditorChanged => 8,
        }
    }

    /// Whether the bureau needs `RealPaymentDate` (every phase but open).
    pub fn needs_repaid_date(self) -> bool {
        !matches!(self, Self::Open)
    }
}

/// The borrower's gender as the bureau writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// `M`.
    Male,
    /// `F`.
    Female,
}

/// What secures the loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollateralKind {
    /// An unsecured loan: the configured unsecured type, value 0.
    Unsecured,
    /// A car-secured loan: the configured vehicle type, its value, VIN and plate.
    Vehicle,
}

/// The loan's collateral.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct UploadCollateral {
    /// What secures the loan.
    #[serde(rename = "type")]
    pub kind: CollateralKind,
    /// The collateral's value, in minor units (tiyn); must be 0 for an unsecured loan.
    #[serde(default)]
    pub value_minor: u64,
    /// The vehicle's VIN (required for a vehicle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// The vehicle's registration plate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
}

impl UploadCollateral {
    /// An unsecured loan.
    pub fn unsecured() -> Self {
        Self {
            kind: CollateralKind::Unsecured,
            value_minor: 0,
            vin: None,
            plate: None,
        }
    }
}

impl fmt::Debug for UploadCollateral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadCollateral")
            .field("kind", &self.kind)
            .field("value_minor", &self.value_minor)
            .field("vin", &self.vin.as_ref().map(|_| "<redacted>"))
            .field("plate", &self.plate.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The borrower's national ID card (`Identification@typeId` 7).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct IdDocument {
    /// The card's number.
    pub number: String,
    /// When the card was registered, when known.
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_date: Option<Date>,
    /// When the card was issued.
    #[serde(with = "iso_date")]
    pub issue_date: Date,
    /// When the card expires.
    #[serde(with = "iso_date")]
    pub expiration_date: Date,
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdDocument")
            .field("number", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// An address as the bureau takes it: the KATO code of the locality and the street line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct UploadAddress {
    /// The locality's KATO code (`Address@katoId`).
    pub kato_id: String,
    /// Street, house and flat (`StreetName/Text`).
    pub street: String,
}

impl fmt::Debug for UploadAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadAddress(<redacted>)")
    }
}

/// The borrower (`Subject@roleId` 1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct UploadBorrower {
    /// The IIN, validated (a bad one cannot be deserialized or constructed).
    pub iin: Iin,
    /// When the IIN was registered, when known (`Identification@typeId=14/RegistrationDate`).
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub iin_registration_date: Option<Date>,
    /// Surname.
    pub surname: String,
    /// First name.
    pub first_name: String,
    /// Patronymic, when the borrower has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fathers_name: Option<String>,
    /// Gender; must agree with the IIN's century digit.
    pub gender: Gender,
    /// Date of birth; must agree with the IIN.
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    /// `Citizenship@id` from the bureau's country list (110 = Kazakhstan).
    pub citizenship_id: String,
    /// Whether the borrower is a resident of Kazakhstan.
    pub resident: bool,
    /// The national ID card, when on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_document: Option<IdDocument>,
    /// Where the borrower lives (`Address@typeId` 1).
    pub residence_address: UploadAddress,
    /// Where the borrower is registered (`Address@typeId` 6).
    pub registration_address: UploadAddress,
    /// Mobile phone (`Communication@typeId` 3), when on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

impl fmt::Debug for UploadBorrower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadBorrower")
            .field("iin", &self.iin)
            .field("resident", &self.resident)
            .finish_non_exhaustive()
    }
}

/// One loan contract as the lender reports it to the bureau. Amounts are exact integer minor
/// units (tiyn for KZT), never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct UploadContract {
    /// First load or update (`Contract@operation` 1 or 2).
    pub operation: UploadOperation,
    /// The lender's unique code of the contract (`ContractCode`): how the bureau and the
    /// batch's messages name the record.
    pub contract_code: String,
    /// The agreement's number as printed on it (`AgreementNumber`).
    pub agreement_number: String,
    /// `StartDate`.
    #[serde(with = "iso_date")]
    pub start_date: Date,
    /// `EndDate`, the contractual end.
    #[serde(with = "iso_date")]
    pub end_date: Date,
    /// `ContractPhase`.
    pub phase: ContractPhase,
    /// `RealPaymentDate`: required for every phase but open, refused for open.
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub repaid_date: Option<Date>,
    /// ISO 4217 letter code of every amount (`KZT`).
    pub currency: String,
    /// The loan's total amount, in minor units.
    pub total_amount_minor: u64,
    /// One instalment, in minor units.
    pub instalment_amount_minor: u64,
    /// Instalments in all.
    pub instalment_count: u32,
    /// The date the figures below are as of (`Record@accountingDate`).
    #[serde(with = "iso_date")]
    pub accounting_date: Date,
    /// Instalments still to pay.
    pub outstanding_instalment_count: u32,
    /// Still owed, in minor units.
    pub outstanding_amount_minor: u64,
    /// Days overdue (`OverdueInstalmentCount`, which the bureau reads as days).
    pub overdue_days: u32,
    /// Overdue, in minor units.
    pub overdue_amount_minor: u64,
    /// The loan's collateral.
    pub collateral: UploadCollateral,
    /// The borrower.
    pub borrower: UploadBorrower,
}

/// Formats minor units as the bureau's decimal text: `120000050` → `1200000.50`. Exact.
pub fn format_minor(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn iso(date: Date) -> Result<String, FcbError> {
    date.format(ISO_DATE)
        .map_err(|_| FcbError::InvalidUpload("a date cannot be written as ISO".into()))
}

/// Builds the datapump `Records` file for the contracts, with the configured code lists.
/// Every record is checked first; the first problem refuses the whole file with
/// [`FcbError::InvalidUpload`] naming the record's position and the field, never a value.
pub fn build_records_xml(
    codes: &UploadConfig,
    contracts: &[UploadContract],
) -> Result<Vec<u8>, FcbError> {
    if contracts.is_empty() {
        return Err(FcbError::InvalidUpload("no contracts to upload".into()));
    }
    if contracts.len() > codes.max_records {
        return Err(FcbError::InvalidUpload(format!(
            "{} contracts exceed the batch limit of {}",
            contracts.len(),
            codes.max_records
        )));
    }
    let mut seen = HashSet::with_capacity(contracts.len());
    for (i, c) in contracts.iter().enumerate() {
        check_contract(i, c)?;
        if !seen.insert(c.contract_code.as_str()) {
            return Err(invalid(i, "contract_code appears twice in the batch"));
        }
    }
    let mut w = XmlWriter::with_capacity(contracts.len() * 3_000);
    w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    w.open("Records", &[("xmlns", DATAPUMP_RECORDS_NS)]);
    for c in contracts {
        write_contract(&mut w, codes, c)?;
    }
    w.close("Records");
    Ok(w.out.into_bytes())
}

/// Zips the `Records` file as the one entry [`RECORDS_ENTRY_NAME`], deflated, dated
/// 1980-01-01 (so the same file always zips to the same bytes).
pub fn zip_records(xml: &[u8]) -> Result<Vec<u8>, FcbError> {
    let zip_error = |e: &dyn fmt::Display| FcbError::InvalidUpload(format!("zip: {e}"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(xml.len() / 4 + 256)));
    writer
        .start_file(RECORDS_ENTRY_NAME, options)
        .map_err(|e| zip_error(&e))?;
    writer.write_all(xml).map_err(|e| zip_error(&e))?;
    let cursor = writer.finish().map_err(|e| zip_error(&e))?;
    Ok(cursor.into_inner())
}

fn invalid(index: usize, what: &str) -> FcbError {
    FcbError::InvalidUpload(format!("record {index}: {what}"))
}

/// Text the file can carry: not empty after trimming, no control characters (XML 1.0 cannot
/// hold most of them, and none belongs in these fields).
fn check_text(index: usize, field: &str, value: &str) -> Result<(), FcbError> {
    if value.trim().is_empty() {
        return Err(invalid(index, &format!("{field} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            index,
            &format!("{field} holds a control character"),
        ));
    }
    Ok(())
}

/// Checks one contract the way [`build_records_xml`] checks each of a batch's (so that a
/// caller can refuse a bad record alone instead of a whole file): the reason names the field,
/// never a value.
pub fn check_upload_contract(c: &UploadContract) -> Result<(), String> {
    check_contract(0, c).map_err(|e| match e {
        FcbError::InvalidUpload(m) => m.strip_prefix("record 0: ").unwrap_or(&m).to_owned(),
        other => other.to_string(),
    })
}

fn check_contract(i: usize, c: &UploadContract) -> Result<(), FcbError> {
    check_text(i, "contract_code", &c.contract_code)?;
    if c.contract_code.chars().count() > MAX_CODE_CHARS {
        return Err(invalid(
            i,
            &format!("contract_code is longer than {MAX_CODE_CHARS} characters"),
        ));
    }
    check_text(i, "agreement_number", &c.agreement_number)?;
    if c.end_date < c.start_date {
        return Err(invalid(i, "end_date is before start_date"));
    }
    match (c.phase.needs_repaid_date(), c.repaid_date) {
        (true, None) => {
            return Err(invalid(
                i,
                "repaid_date is required for a repaid, repaid early or creditor-changed contract",
            ));
        }
        (false, Some(_)) => return Err(invalid(i, "repaid_date is set on an open contract")),
        _ => {}
    }
    if c.currency.len() != 3 || !c.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(i, "currency is not a three-letter ISO code"));
    }
    if c.instalment_count == 0 {
        return Err(invalid(i, "instalment_count is 0"));
    }
    if c.outstanding_instalment_count > c.instalment_count {
        return Err(invalid(
            i,
            "outstanding_instalment_count exceeds instalment_count",
        ));
    }
    match c.collateral.kind {
        CollateralKind::Unsecured => {
            if c.collateral.value_minor != 0 {
                return Err(invalid(i, "an unsecured loan's collateral value must be 0"));
            }
            if c.collateral.vin.is_some() || c.collateral.plate.is_some() {
                return Err(invalid(i, "an unsecured loan carries a VIN or plate"));
            }
        }
        CollateralKind::Vehicle => {
            check_text(
                i,
                "collateral.vin",
                c.collateral.vin.as_deref().unwrap_or(""),
            )?;
            if let Some(plate) = &c.collateral.plate {
                check_text(i, "collateral.plate", plate)?;
            }
        }
    }
    let b = &c.borrower;
    check_text(i, "borrower.surname", &b.surname)?;
    check_text(i, "borrower.first_name", &b.first_name)?;
    if let Some(name) = &b.fathers_name {
        check_text(i, "borrower.fathers_name", name)?;
    }
    if b.birth_date != b.iin.birth_date() {
        return Err(invalid(
            i,
            "borrower.birth_date does not agree with the IIN",
        ));
    }
    if (b.gender == Gender::Male) != b.iin.is_male() {
        return Err(invalid(i, "borrower.gender does not agree with the IIN"));
    }
    // Nobody signs a loan, gets an ID card or an IIN before being born: such a date is a
    // mistyped one (or the contract of someone else).
    if c.start_date < b.birth_date {
        return Err(invalid(i, "start_date is before borrower.birth_date"));
    }
    if b.iin_registration_date.is_some_and(|d| d < b.birth_date) {
        return Err(invalid(
            i,
            "borrower.iin_registration_date is before borrower.birth_date",
        ));
    }
    check_text(i, "borrower.citizenship_id", &b.citizenship_id)?;
    if let Some(doc) = &b.id_document {
        check_text(i, "borrower.id_document.number", &doc.number)?;
        if doc.issue_date < b.birth_date {
            return Err(invalid(
                i,
                "borrower.id_document was issued before borrower.birth_date",
            ));
        }
        if doc.expiration_date < doc.issue_date {
            return Err(invalid(
                i,
                "borrower.id_document expires before it was issued",
            ));
        }
    }
    for (field, a) in [
        ("borrower.residence_address", &b.residence_address),
        ("borrower.registration_address", &b.registration_address),
    ] {
        check_text(i, &format!("{field}.kato_id"), &a.kato_id)?;
        check_text(i, &format!("{field}.street"), &a.street)?;
    }
    if let Some(mobile) = &b.mobile {
        let digits = mobile.strip_prefix('+').unwrap_or(mobile);
        if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
            return Err(invalid(i, "borrower.mobile is not a phone number"));
        }
    }
    Ok(())
}

fn write_contract(
    w: &mut XmlWriter,
    codes: &UploadConfig,
    c: &UploadContract,
) -> Result<(), FcbError> {
    let operation = c.operation.code().to_string();
    w.open("Contract", &[("operation", &operation)]);
    w.open("General", &[]);
    w.leaf("ContractCode", &[], &c.contract_code);
    w.leaf("AgreementNumber", &[], &c.agreement_number);
    w.empty("FundingType", &[("id", &codes.funding_type_id)]);
    w.empty("CreditPurpose2", &[("id", &codes.credit_purpose_id)]);
    w.empty("CreditObject", &[("id", &codes.credit_object_id)]);
    w.empty("ContractPhase", &[("id", &c.phase.code().to_string())]);
    w.empty("ContractStatus", &[("id", &codes.contract_status_id)]);
    w.leaf("StartDate", &[], &iso(c.start_date)?);
    w.leaf("EndDate", &[], &iso(c.end_date)?);
    if let Some(repaid) = c.repaid_date {
        w.leaf("RealPaymentDate", &[], &iso(repaid)?);
    }
    w.empty("Classification", &[("id", &codes.classification_id)]);

    w.open("Collaterals", &[]);
    let (type_id, value) = match c.collateral.kind {
        CollateralKind::Unsecured => (&codes.unsecured_collateral_type_id, 0),
        CollateralKind::Vehicle => (&codes.vehicle_collateral_type_id, c.collateral.value_minor),
    };
    w.open("Collateral", &[("typeId", type_id)]);
    w.leaf(
        "Value",
        &[
            ("currency", &c.currency),
            ("typeId", &codes.collateral_value_type_id),
        ],
        &format_minor(value),
    );
    if let Some(vin) = &c.collateral.vin {
        w.leaf("VIN", &[], vin);
    }
    if let Some(plate) = &c.collateral.plate {
        w.leaf("RegistrationNumber", &[], plate);
    }
    w.close("Collateral");
    w.close("Collaterals");

    write_borrower(w, codes, &c.borrower)?;
    w.close("General");

    w.open("Type", &[]);
    w.open(
        "Instalment",
        &[
            ("paymentMethodId", &codes.payment_method_id),
            ("paymentPeriodId", &codes.payment_period_id),
        ],
    );
    let currency = [("currency", c.currency.as_str())];
    w.leaf(
        "TotalAmount",
        &currency,
        &format_minor(c.total_amount_minor),
    );
    w.leaf(
        "InstalmentAmount",
        &currency,
        &format_minor(c.instalment_amount_minor),
    );
    w.leaf("InstalmentCount", &[], &c.instalment_count.to_string());
    w.open("Records", &[]);
    w.open("Record", &[("accountingDate", &iso(c.accounting_date)?)]);
    w.leaf(
        "OutstandingInstalmentCount",
        &[],
        &c.outstanding_instalment_count.to_string(),
    );
    w.leaf(
        "OutstandingAmount",
        &currency,
        &format_minor(c.outstanding_amount_minor),
    );
    w.leaf("OverdueInstalmentCount", &[], &c.overdue_days.to_string());
    w.leaf(
        "OverdueAmount",
        &currency,
        &format_minor(c.overdue_amount_minor),
    );
    w.close("Record");
    w.close("Records");
    w.close("Instalment");
    w.close("Type");
    w.close("Contract");
    Ok(())
}

fn write_borrower(
    w: &mut XmlWriter,
    codes: &UploadConfig,
    b: &UploadBorrower,
) -> Result<(), FcbError> {
    let language = [("language", codes.text_language.as_str())];
    w.open("Subjects", &[]);
    w.open("Subject", &[("roleId", &ROLE_BORROWER.to_string())]);
    w.open("Entity", &[]);
    w.open("Individual", &[]);
    for (name, text) in [
        ("FirstName", Some(&b.first_name)),
        ("Surname", Some(&b.surname)),
        ("FathersName", b.fathers_name.as_ref()),
    ] {
        if let Some(text) = text {
            w.open(name, &[]);
            w.leaf("Text", &language, text);
            w.close(name);
        }
    }
    let gender = match b.gender {
        Gender::Male => "M",
        Gender::Female => "F",
    };
    w.leaf("Gender", &[], gender);
    w.empty("Classification", &[("id", &codes.classification_id)]);
    let residency = if b.resident {
        &codes.resident_id
    } else {
        &codes.non_resident_id
    };
    w.empty("Residency", &[("id", residency)]);
    w.leaf("DateOfBirth", &[], &iso(b.birth_date)?);
    w.empty("Citizenship", &[("id", &b.citizenship_id)]);

    w.open("Identifications", &[]);
    w.open(
        "Identification",
        &[("typeId", &IDENTIFICATION_IIN.to_string()), ("rank", "1")],
    );
    w.leaf("Number", &[], b.iin.expose());
    if let Some(date) = b.iin_registration_date {
        w.leaf("RegistrationDate", &[], &iso(date)?);
    }
    w.close("Identification");
    if let Some(doc) = &b.id_document {
        w.open(
            "Identification",
            &[
                ("typeId", &IDENTIFICATION_ID_CARD.to_string()),
                ("rank", "2"),
            ],
        );
        w.leaf("Number", &[], &doc.number);
        if let Some(date) = doc.registration_date {
            w.leaf("RegistrationDate", &[], &iso(date)?);
        }
        w.leaf("IssueDate", &[], &iso(doc.issue_date)?);
        w.leaf("ExpirationDate", &[], &iso(doc.expiration_date)?);
        w.close("Identification");
    }
    w.close("Identifications");

    w.open("Addresses", &[]);
    for (type_id, address) in [
        (ADDRESS_RESIDENCE, &b.residence_address),
        (ADDRESS_REGISTRATION, &b.registration_address),
    ] {
        w.open(
            "Address",
            &[
                ("typeId", &type_id.to_string()),
                ("katoId", &address.kato_id),
            ],
        );
        w.open("StreetName", &[]);
        w.leaf("Text", &language, &address.street);
        w.close("StreetName");
        w.close("Address");
    }
    w.close("Addresses");

    if let Some(mobile) = &b.mobile {
        w.open("Communications", &[]);
        w.leaf(
            "Communication",
            &[("typeId", &COMMUNICATION_MOBILE.to_string())],
            mobile,
        );
        w.close("Communications");
    }
    w.close("Individual");
    w.close("Entity");
    w.close("Subject");
    w.close("Subjects");
    Ok(())
}

/// A small indenting XML writer: every text and attribute value is escaped.
struct XmlWriter {
    out: String,
    depth: usize,
}

impl XmlWriter {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            depth: 0,
        }
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape(*value));
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>\n");
    }

    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name, attrs);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }
}

/// The bureau's identifier of an uploaded batch (`Batch@Id`): 1 to 64 ASCII letters, digits,
/// `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BatchId(String);

impl BatchId {
    /// Checks the shape of a batch id.
    pub fn new(id: impl Into<String>) -> Result<Self, FcbError> {
        let id = id.into();
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id))
        } else {
            Err(FcbError::Malformed(
                "a batch id of an unexpected shape".into(),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BatchId {
    type Error = FcbError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<BatchId> for String {
    fn from(id: BatchId) -> Self {
        id.0
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a batch stands, by the configured meaning of its `StatusId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Received, not started.
    Pending,
    /// Being processed: poll again.
    Processing,
    /// Done: the counts and messages are final.
    Final,
    /// A `StatusId` the configuration gives no meaning to: keep polling with care, and add
    /// it to the configuration.
    Unknown,
}

/// One message the bureau attached to a batch (`Message@TypeName/Description`): about one
/// record when it names a contract code, else about the whole batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct RecordMessage {
    /// The contract the message is about, as the lender sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_code: Option<String>,
    /// The message's kind (`TypeName`: `Error`, `Warning`, …), shortened.
    pub kind: String,
    /// The bureau's message code, when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The message, shortened, identifier-like numbers masked.
    pub message: String,
}

impl RecordMessage {
    /// Whether the message says the record was refused (`TypeName` `Error`).
    pub fn is_error(&self) -> bool {
        self.kind.eq_ignore_ascii_case("error")
    }
}

/// A batch as the bureau reports it (`CigResult/Result/Batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct BatchStatus {
    /// The bureau's batch id.
    pub batch_id: BatchId,
    /// `StatusId`, as given.
    pub status_id: i32,
    /// `StatusName`, shortened.
    pub status_name: String,
    /// What `status_id` means, by the configuration.
    pub state: BatchState,
    /// Records the bureau counted in the file, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u32>,
    /// Records accepted, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u32>,
    /// Records rejected, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u32>,
    /// The bureau's messages, per record or about the batch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<RecordMessage>,
}

impl BatchStatus {
    /// Whether the bureau has finished with the batch.
    pub fn is_final(&self) -> bool {
        self.state == BatchState::Final
    }

    /// The contract codes of the records the bureau refused, in message order, each once.
    pub fn rejected_contracts(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.messages
            .iter()
            .filter(|m| m.is_error())
            .filter_map(|m| m.contract_code.as_deref())
            .filter(|c| seen.insert(*c))
            .collect()
    }
}

/// What the bureau answered to an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadAnswer {
    /// The batch's id, to poll with [`crate::FcbClient::batch_status`].
    pub batch_id: BatchId,
    /// The batch as the upload's answer reports it (usually pending).
    pub status: BatchStatus,
    /// Contracts sent.
    pub records_sent: usize,
    /// Size of the ZIP sent, in bytes.
    pub zipped_bytes: usize,
    /// Size of the HTTP body received, in bytes.
    pub bytes_received: usize,
}
