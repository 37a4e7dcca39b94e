//! The credit report as the gateway sees it: plain domain types, named in English, with exact
//! money ([`Money`], integer minor units) and calendar dates, ready to be serialized and
//! flattened into field paths (`credit_history.existing_contracts.total_amount.minor`).
//!
//! These types know nothing of the bureau's XML (that is `wire.rs`) and never decide what the
//! gateway may keep: the contracts do. Types that hold personal values (names, IIN, phones,
//! addresses, document numbers) have a `Debug` that prints no value, so that a stray `?report`
//! in a log line leaks nothing.
//!
//! Serialization rules: `None` and empty vectors are skipped; dates are ISO `YYYY-MM-DD`; date
//! and times are ISO `YYYY-MM-DDTHH:MM:SS`.

use std::fmt;

use serde::{Serialize, Serializer};
use time::{Date, PrimitiveDateTime};

/// An exact amount of money.
///
/// `minor` is the amount in hundredths of the currency unit (tiyn for KZT, cents for USD): the
/// bureau always prints two decimals, whatever the currency. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Money {
    /// Hundredths of the currency unit; negative for negative amounts.
    pub minor: i64,
    /// The currency code as the bureau printed it (`KZT`), or empty when it printed none.
    pub currency: String,
}

/// A value the bureau gives as a code from its own code list plus a Russian label
/// (`<ContractStatus id="1" value="Стандартные кредиты"/>`). Either part may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Coded {
    /// The bureau's code (`id` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The bureau's label, as given (usually Russian).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One bureau credit report, converted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CreditReport {
    /// The credit history proper (policy 4.2.1).
    pub credit_history: CreditHistory,
    /// Who the report is about, as the bureau knows them (`Header`, `SubjectDetails`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<SubjectIdentity>,
    /// Addresses and contacts on record (`SubjectsAddress`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<SubjectAddress>,
    /// Identification documents on record (`IdentificationDocuments`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<IdentityDocument>,
    /// Subjects linked to this one (`InterconnectedSubjects`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_subjects: Vec<RelatedSubject>,
    /// Checks against public lists: terrorism, wanted persons, alimony, bankruptcy, tax debts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_sources: Option<PublicSources>,
}

/// The credit history: summary, contracts, classification, negative statuses, inquiries.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CreditHistory {
    /// Totals over existing and terminated contracts (`SummaryInformation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Contracts still running (`ExistingContracts`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub existing_contracts: Vec<CreditContract>,
    /// Contracts that have ended (`TerminatedContracts`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terminated_contracts: Vec<CreditContract>,
    /// How the bureau classifies the borrower (`ClassificationOfBorrower`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<BorrowerClassification>,
    /// The client's and the contracts' negative statuses (`NegativeData`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_status: Option<NegativeStatus>,
    /// How often lenders asked about this subject (`NumberOfInquiries`, `NumberOfQueries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inquiries: Option<Inquiries>,
    /// Debt on unsecured ("blank") loans (`RWA170`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsecured_debt: Option<UnsecuredDebt>,
}

/// `SummaryInformation`: totals per contract group, one entry per subject role.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Summary {
    /// Totals over existing contracts, per role (borrower, guarantor, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub existing: Vec<RoleTotals>,
    /// Totals over terminated contracts, per role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terminated: Vec<RoleTotals>,
    /// Totals over contracts terminated more than five years ago, per role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terminated_over_5_years_ago: Vec<RoleTotals>,
    /// Number of withdrawn applications (`WithdrawnApplications`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_applications: Option<u32>,
    /// Number of refused or withdrawn applications (`NumberOfApplications`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_or_withdrawn_applications: Option<u32>,
}

/// Totals of one contract group for one subject role.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct RoleTotals {
    /// The role code as the bureau gives it (`Borrower`, `Guarantor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Number of contracts (the leading number of `NumberOfContracts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_count: Option<u32>,
    /// Number of credit lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_line_count: Option<u32>,
    /// Total outstanding debt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_outstanding_debt: Option<Money>,
    /// Total overdue instalments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_overdue_debt: Option<Money>,
    /// Total fines (пеня).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_fine: Option<Money>,
    /// Total penalties (штраф).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_penalty: Option<Money>,
    /// How many contracts are in each status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<StatusCount>,
}

/// A contract status and how many contracts have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct StatusCount {
    /// The status label, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Number of contracts in this status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// One credit contract (`Contract` under `ExistingContracts` or `TerminatedContracts`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CreditContract {
    /// Kind of contract, label (`ContractType` attribute: "Кредитный договор").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_type: Option<String>,
    /// Kind of contract, the bureau's code (`ContractTypeCode` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_type_code: Option<String>,
    /// The bureau's contract code (`CodeOfContract`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The lender's agreement number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement_number: Option<String>,
    /// Funding type: loan, credit card, … (`TypeOfFounding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funding_type: Option<Coded>,
    /// Purpose of the credit (`PurposeOfCredit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Coded>,
    /// What the credit finances (`CreditObject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_object: Option<Coded>,
    /// Contract currency code (`CurrencyCode`, else the `Currency` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Contract status (`ContractStatus`): standard, doubtful, loss, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Coded>,
    /// The lender's classification of the contract (`ClassificationOfContract`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<String>,
    /// The subject's role in this contract (borrower, guarantor, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_role: Option<String>,
    /// The lender that reported the contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financial_institution: Option<Coded>,
    /// Date of the application.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub application_date: Option<Date>,
    /// Start of the contract term.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub start_date: Option<Date>,
    /// Planned end of the contract term.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub end_date: Option<Date>,
    /// Date the contract actually ended (`DateOfRealRepayment`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub real_repayment_date: Option<Date>,
    /// Date the money was actually disbursed (`ActualDate`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub disbursement_date: Option<Date>,
    /// Date the figures below are valid for (`LastUpdate`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub last_update: Option<Date>,
    /// Date the bureau received the data (`DateOfInserted`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub bureau_received_date: Option<Date>,
    /// Total credit amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<Money>,
    /// Amount used (`Amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_amount: Option<Money>,
    /// Used amount still to be repaid (`ResidualAmount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residual_amount: Option<Money>,
    /// Credit limit (cards, credit lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<Money>,
    /// Outstanding amount of the credit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outstanding_amount: Option<Money>,
    /// Overdue instalments, amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_amount: Option<Money>,
    /// Days overdue now (`NumberOfOverdueInstalments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_days: Option<u32>,
    /// Periodic instalment (`InstalmentAmount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instalment_amount: Option<Money>,
    /// Minimum payment (`MonthlyInstalmentAmount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_payment: Option<Money>,
    /// Total number of instalments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instalment_count: Option<u32>,
    /// Number of instalments still to come.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outstanding_instalment_count: Option<u32>,
    /// How often payments fall due (`PeriodicityOfPayments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_periodicity: Option<Coded>,
    /// How payments are made (`MethodOfPayments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<Coded>,
    /// Interest rate, in basis points (hundredths of a percent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest_rate_bps: Option<i64>,
    /// Annual effective rate, in basis points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_effective_rate_bps: Option<i64>,
    /// Nominal rate, in basis points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominal_rate_bps: Option<i64>,
    /// Fines (пеня) on this contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine: Option<Money>,
    /// Penalties (штраф) on this contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<Money>,
    /// Provisions the lender made (`AmountProvisions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisions_amount: Option<Money>,
    /// Number of prolongations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prolongation_count: Option<u32>,
    /// Most days overdue since the contract began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_overdue_days: Option<u32>,
    /// Date of the most days overdue.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub max_overdue_days_date: Option<Date>,
    /// Overdue amount at the time of the most days overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_overdue_days_amount: Option<Money>,
    /// Largest overdue amount since the contract began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_overdue_amount: Option<Money>,
    /// Date of the largest overdue amount.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub max_overdue_amount_date: Option<Date>,
    /// Days overdue at the time of the largest overdue amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_overdue_amount_days: Option<u32>,
    /// Whether the borrower has special relationships with the lender, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_relationship: Option<String>,
    /// The assignee when the claim was assigned (`ContractThirdParty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Code of the parent contract (credit lines, restructurings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_contract_code: Option<String>,
    /// Status of the parent contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_contract_status: Option<Coded>,
    /// Number of the bank guarantee or surety agreement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guarantee_agreement_number: Option<String>,
    /// Date of the bank guarantee or surety agreement.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub guarantee_agreement_date: Option<Date>,
    /// The event that ended the bank's guarantee obligation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guarantee_termination_event: Option<String>,
    /// Grace period on the principal, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_principal: Option<String>,
    /// Grace period on the interest, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_interest: Option<String>,
    /// Collateral securing the contract.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collaterals: Vec<Collateral>,
    /// Month-by-month payment discipline (`PaymentsCalendar/Year/Payment`), in the bureau's
    /// order; months without data are kept with their values absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payments_calendar: Vec<CalendarPayment>,
}

/// Collateral of one contract.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Collateral {
    /// Kind of security (`TypeOfGuarantee`: "Бланковые" = unsecured, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guarantee_type: Option<String>,
    /// Value of the security.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
    /// How the value was established (market value, internal estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// Kind of pledge (`TypeOfCollateral`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collateral_type: Option<String>,
    /// Status of the pledge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Name of the pledged item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One month of a contract's payment calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CalendarPayment {
    /// Calendar year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Days overdue in that month (the `value` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_overdue: Option<u32>,
    /// Overdue amount in that month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_amount: Option<Money>,
    /// Fine in that month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine: Option<Money>,
    /// Penalty in that month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<Money>,
}

/// `ClassificationOfBorrower`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct BorrowerClassification {
    /// Kind of borrower (individual, entrepreneur, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub borrower_type: Option<Coded>,
    /// Patent (entrepreneurs), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patent: Option<String>,
    /// Residency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residency: Option<Coded>,
    /// Occupation (`SubjectsPosition`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupation: Option<String>,
    /// Citizenship (code 110 = Kazakhstan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citizenship: Option<Coded>,
    /// Kind of employment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employment: Option<String>,
    /// Citizenship of a foreigner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_citizenship: Option<String>,
    /// Economic sector (`EconomicActivityGroup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub economic_sector: Option<String>,
}

/// `NegativeData`: the client's negative status and each contract's.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct NegativeStatus {
    /// The client's status ("Клиент не имеет негативной информации" when clean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_status: Option<Coded>,
    /// When the client's status was last recorded.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub client_status_date: Option<Date>,
    /// Each contract's status; entries the bureau left empty are skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contract_statuses: Vec<ContractNegativeStatus>,
}

/// One contract's entry in `NegativeData`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct ContractNegativeStatus {
    /// The group the entry is in (`current`, `withdrawn`: the `type` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The contract's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Coded>,
    /// When the status was last recorded.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub registration_date: Option<Date>,
    /// The subject's role (`SubjectRoleEn` when given, else `SubjectRole`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_role: Option<String>,
}

/// Inquiries made about the subject.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Inquiries {
    /// Inquiries in the last 12 months (`SummaryInformation/NumberOfInquiries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_12_months: Option<u32>,
    /// Inquiries in the first quarter of those 12 months.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_quarter: Option<u32>,
    /// Inquiries in the second quarter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_quarter: Option<u32>,
    /// Inquiries in the third quarter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_quarter: Option<u32>,
    /// Inquiries in the fourth quarter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fourth_quarter: Option<u32>,
    /// Queries by bureau participants (`NumberOfQueries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries_total: Option<u32>,
    /// Number of queries listed for the last 7 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_7_days: Option<u32>,
    /// Queries in the last 30 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_30_days: Option<u32>,
    /// Queries in the last 90 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_90_days: Option<u32>,
    /// Queries in the last 120 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_120_days: Option<u32>,
    /// Queries in the last 180 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_180_days: Option<u32>,
    /// Queries in the last 360 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_360_days: Option<u32>,
    /// When each query of the last 7 days was made; unreadable times are left out.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "iso_datetime_vec"
    )]
    pub last_7_days_times: Vec<PrimitiveDateTime>,
}

/// `RWA170`: debt on loans without collateral.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct UnsecuredDebt {
    /// Total debt over those loans (`ContractsSumm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    /// The debt per contract.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<UnsecuredContractDebt>,
}

/// One unsecured contract's debt.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct UnsecuredContractDebt {
    /// The bureau's contract code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Debt on that contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debt: Option<Money>,
}

/// Who the report is about (`Header` and `SubjectDetails`). Personal data: `Debug` masks it.
#[derive(Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct SubjectIdentity {
    /// `Individual` or a legal entity (`EntityType`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    /// The bureau's subject id (`RegistrationID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bureau_subject_id: Option<String>,
    /// IIN as the bureau has it (not re-validated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iin: Option<String>,
    /// The old tax number (РНН).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rnn: Option<String>,
    /// Date of birth.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub birth_date: Option<Date>,
    /// `male`, `female`, or the bureau's label when it is neither "Мужской" nor "Женский".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Current surname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Patronymic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Surname at birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_last_name: Option<String>,
    /// Place of birth: city.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_city: Option<String>,
    /// Place of birth: region or district.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_region: Option<String>,
    /// Place of birth: country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_country: Option<String>,
    /// Education.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub education: Option<Coded>,
    /// Marital status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marital_status: Option<Coded>,
    /// Dependants under 18.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants_under_18: Option<u32>,
    /// Dependants over 18.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants_over_18: Option<u32>,
    /// Mobile phone numbers, as the bureau lists them (`;`-separated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phones: Option<String>,
    /// Home phone numbers, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_phones: Option<String>,
    /// Office phone numbers, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_phones: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Net salary as free text (`EmployeesSalary`): lenders type it in, it is not a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_salary_text: Option<String>,
    /// The address in `SubjectDetails`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<SubjectAddress>,
}

/// An address with its contacts. Personal data: `Debug` masks it.
#[derive(Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct SubjectAddress {
    /// `Current` or `Historical` (the `type` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Kind of address (permanent residence, place of birth, …), label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    /// Street, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// House or flat number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Region or district.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Home phones, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_phones: Option<String>,
    /// Office phones, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_phones: Option<String>,
    /// Mobile phones, as listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phones: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the address was recorded (`AddressInserted`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub registered_date: Option<Date>,
}

/// An identification document on record. Personal data: `Debug` masks it.
#[derive(Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct IdentityDocument {
    /// `Current` or `Historical` (the `type` attribute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The bureau's confidence rank (`rank` attribute), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<String>,
    /// Kind of document (`Name`: id code and label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<Coded>,
    /// Document number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// When the document was recorded (`DateOfRegistration`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub registration_date: Option<Date>,
    /// Date of issue.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub issue_date: Option<Date>,
    /// Date of expiry.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub expiry_date: Option<Date>,
    /// Issuing authority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<String>,
    /// When the bureau received it (`DateOfInserted`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub bureau_received_date: Option<Date>,
}

/// A subject linked to the report's subject. Personal data: `Debug` masks it.
#[derive(Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct RelatedSubject {
    /// Kind of link (`TypeOfLink`: borrower, guarantor, …), label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// The bureau's id of the linked subject (`SubjectCode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bureau_subject_id: Option<String>,
    /// Name of the linked subject, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// IIN of the linked subject, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iin: Option<String>,
    /// РНН of the linked subject, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rnn: Option<String>,
}

/// `PublicSources`: the subject checked against public registers, one field per register.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct PublicSources {
    /// Persons financing terrorism and extremism (`TerrorList`, financial monitoring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terror_list: Option<PublicSourceCheck>,
    /// Wanted criminals, debtors, missing persons (`QamqorList`, prosecutor's office).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted_persons: Option<PublicSourceCheck>,
    /// Wanted by the state revenue committee (`KgdWanted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_wanted: Option<PublicSourceCheck>,
    /// Wanted alimony debtors (`QamqorAlimony`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alimony_debtors: Option<PublicSourceCheck>,
    /// Unreliable public-procurement suppliers (`RNUGosZakup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreliable_suppliers: Option<PublicSourceCheck>,
    /// Taxpayers found to run sham businesses (`FalseBusi`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub false_business: Option<PublicSourceCheck>,
    /// Customs and tax arrears older than four months (`Areears`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_arrears: Option<PublicSourceCheck>,
    /// Insolvent debtors and bankrupts (`Bankruptcy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy: Option<PublicSourceCheck>,
    /// Taxpayers with tax debts above 150/10 MCI (`L150o10`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_debtors: Option<PublicSourceCheck>,
}

/// The outcome of one public-register check.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct PublicSourceCheck {
    /// The subject's status in the register, code and label ("Субъект не найден…").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Coded>,
    /// Where the register is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// When the register was last refreshed at its source.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub refreshed_date: Option<Date>,
    /// When the bureau received the register.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_date_opt"
    )]
    pub bureau_received_date: Option<Date>,
}

// ---- Debug that prints no personal value ----

/// Prints the names of the fields that are present, never their values.
macro_rules! masked_debug {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut present: Vec<&'static str> = Vec::new();
                $(
                    if self.$field.is_some() {
                        present.push(stringify!($field));
                    }
                )*
                f.debug_struct(stringify!($ty))
                    .field("present", &present)
                    .finish_non_exhaustive()
            }
        }
    };
}

masked_debug!(SubjectIdentity {
    entity_type,
    bureau_subject_id,
    iin,
    rnn,
    birth_date,
    gender,
    last_name,
    first_name,
    middle_name,
    birth_last_name,
    birth_city,
    birth_region,
    birth_country,
    education,
    marital_status,
    dependants_under_18,
    dependants_over_18,
    mobile_phones,
    home_phones,
    office_phones,
    email,
    net_salary_text,
    address,
});

masked_debug!(SubjectAddress {
    status,
    address_type,
    street,
    house_number,
    zip_code,
    city,
    region,
    country,
    home_phones,
    office_phones,
    mobile_phones,
    email,
    registered_date,
});

masked_debug!(IdentityDocument {
    status,
    rank,
    document_type,
    number,
    registration_date,
    issue_date,
    expiry_date,
    issued_by,
    bureau_received_date,
});

masked_debug!(RelatedSubject {
    link_type,
    bureau_subject_id,
    name,
    iin,
    rnn,
});

// ---- serialization of dates ----

const ISO_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");
const ISO_DATETIME: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

// `time`'s own serde impl writes a (year, ordinal) tuple unless `serde-human-readable` is on;
// the gateway's field paths and the caller's JSON want ISO text, so we say it here.
fn iso_date_opt<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => {
            let text = d.format(ISO_DATE).map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        }
        None => s.serialize_none(),
    }
}

fn iso_datetime_vec<S: Serializer>(times: &[PrimitiveDateTime], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(times.len()))?;
    for t in times {
        let text = t.format(ISO_DATETIME).map_err(serde::ser::Error::custom)?;
        seq.serialize_element(&text)?;
    }
    seq.end()
}

// ---- the full sample ----

/// A report in which every optional field is set and every list has one element, so that
/// serializing it yields every field path this adapter can produce. The gateway's vocabulary
/// test flattens it; a field added to a type above but forgotten here fails this crate's
/// `sample_full_has_every_field` test. Synthetic values only.
#[doc(hidden)]
pub fn sample_full() -> CreditReport {
    /// Whole tenge.
    fn money(tenge: i64) -> Option<Money> {
        Some(Money {
            minor: tenge * 100,
            currency: "KZT".into(),
        })
    }
    fn coded(code: &str, label: &str) -> Option<Coded> {
        Some(Coded {
            code: Some(code.into()),
            label: Some(label.into()),
        })
    }
    fn text(s: &str) -> Option<String> {
        Some(s.into())
    }
    let date = Some(time::macros::date!(2021 - 06 - 15));
    let totals = RoleTotals {
        role: text("Borrower"),
        contract_count: Some(2),
        credit_line_count: Some(1),
        total_outstanding_debt: money(120_000),
        total_overdue_debt: money(5_000),
        total_fine: money(100),
        total_penalty: money(200),
        statuses: vec![StatusCount {
            status: text("Стандартные кредиты"),
            count: Some(2),
        }],
    };
    let contract = CreditContract {
        contract_type: text("Кредитный договор"),
        contract_type_code: text("Contract.Type.CreditContract"),
        code: text("A10000000-001"),
        agreement_number: text("AG-1"),
        funding_type: coded("2", "Займ"),
        purpose: coded("09", "Прочие"),
        credit_object: coded("10", "Прочие"),
        currency: text("KZT"),
        status: coded("1", "Стандартные кредиты"),
        classification: text("Стандартный"),
        subject_role: text("Заёмщик"),
        financial_institution: coded("113", "АО \"Банк\""),
        application_date: date,
        start_date: date,
        end_date: date,
        real_repayment_date: date,
        disbursement_date: date,
        last_update: date,
        bureau_received_date: date,
        total_amount: money(500_000),
        used_amount: money(400_000),
        residual_amount: money(300_000),
        credit_limit: money(500_000),
        outstanding_amount: money(300_000),
        overdue_amount: money(5_000),
        overdue_days: Some(12),
        instalment_amount: money(25_000),
        minimum_payment: money(10_000),
        instalment_count: Some(24),
        outstanding_instalment_count: Some(12),
        payment_periodicity: coded("2", "Ежемесячные платежи"),
        payment_method: coded("1", "Прямое дебетование"),
        interest_rate_bps: Some(2_500),
        annual_effective_rate_bps: Some(2_750),
        nominal_rate_bps: Some(2_500),
        fine: money(100),
        penalty: money(200),
        provisions_amount: money(1_000),
        prolongation_count: Some(1),
        max_overdue_days: Some(30),
        max_overdue_days_date: date,
        max_overdue_days_amount: money(25_000),
        max_overdue_amount: money(30_000),
        max_overdue_amount_date: date,
        max_overdue_amount_days: Some(15),
        special_relationship: text("Нет"),
        assignee: text("ТОО \"Коллектор\""),
        parent_contract_code: text("A10000000-000"),
        parent_contract_status: coded("1", "Стандартные кредиты"),
        guarantee_agreement_number: text("G-1"),
        guarantee_agreement_date: date,
        guarantee_termination_event: text("Исполнение"),
        grace_period_principal: text("3 месяца"),
        grace_period_interest: text("1 месяц"),
        collaterals: vec![Collateral {
            guarantee_type: text("Залог"),
            value: money(1_000_000),
            value_type: text("Рыночная стоимость"),
            collateral_type: text("Автотранспорт"),
            status: text("Действующий"),
            name: text("Автомобиль"),
        }],
        payments_calendar: vec![CalendarPayment {
            year: 2021,
            month: 6,
            days_overdue: Some(12),
            overdue_amount: money(5_000),
            fine: money(100),
            penalty: money(200),
        }],
    };
    let check = PublicSourceCheck {
        status: coded("2", "Субъект не найден"),
        source_url: text("https://example.kz/register"),
        refreshed_date: date,
        bureau_received_date: date,
    };
    let address = SubjectAddress {
        status: text("Current"),
        address_type: text("Постоянное место жительства"),
        street: text("ул. Примерная 1"),
        house_number: text("1"),
        zip_code: text("010000"),
        city: text("Астана"),
        region: text("г.Астана"),
        country: text("Казахстан"),
        home_phones: text("+7 7172 000000"),
        office_phones: text("+7 7172 000001"),
        mobile_phones: text("+7 700 0000000"),
        email: text("someone@example.kz"),
        registered_date: date,
    };
    CreditReport {
        credit_history: CreditHistory {
            summary: Some(Summary {
                existing: vec![totals.clone()],
                terminated: vec![totals.clone()],
                terminated_over_5_years_ago: vec![totals],
                withdrawn_applications: Some(1),
                refused_or_withdrawn_applications: Some(2),
            }),
            existing_contracts: vec![contract.clone()],
            terminated_contracts: vec![contract],
            classification: Some(BorrowerClassification {
                borrower_type: coded("1", "Физическое лицо"),
                patent: text("P-1"),
                residency: coded("1", "Резидент"),
                occupation: text("Инженер"),
                citizenship: coded("110", "Казахстан"),
                employment: text("Наёмный работник"),
                foreign_citizenship: text("Нет"),
                economic_sector: text("Прочее"),
            }),
            negative_status: Some(NegativeStatus {
                client_status: coded("0", "Клиент не имеет негативной информации"),
                client_status_date: date,
                contract_statuses: vec![ContractNegativeStatus {
                    group: text("current"),
                    status: coded("1", "Стандартные кредиты"),
                    registration_date: date,
                    subject_role: text("Borrower"),
                }],
            }),
            inquiries: Some(Inquiries {
                last_12_months: Some(8),
                first_quarter: Some(1),
                second_quarter: Some(2),
                third_quarter: Some(2),
                fourth_quarter: Some(3),
                queries_total: Some(9),
                last_7_days: Some(1),
                last_30_days: Some(2),
                last_90_days: Some(3),
                last_120_days: Some(4),
                last_180_days: Some(5),
                last_360_days: Some(8),
                last_7_days_times: vec![time::macros::datetime!(2021-06-15 10:30:00)],
            }),
            unsecured_debt: Some(UnsecuredDebt {
                total: money(22_415),
                contracts: vec![UnsecuredContractDebt {
                    code: text("A10000000-001"),
                    debt: money(22_415),
                }],
            }),
        },
        identity: Some(SubjectIdentity {
            entity_type: text("Individual"),
            bureau_subject_id: text("1000001"),
            iin: text("900101300017"),
            rnn: text("000000000000"),
            birth_date: Some(time::macros::date!(1990 - 01 - 01)),
            gender: text("male"),
            last_name: text("Примеров"),
            first_name: text("Пример"),
            middle_name: text("Примерович"),
            birth_last_name: text("Примеров"),
            birth_city: text("Астана"),
            birth_region: text("г.Астана"),
            birth_country: text("Казахстан"),
            education: coded("3", "Высшее"),
            marital_status: coded("2", "Женат/замужем"),
            dependants_under_18: Some(1),
            dependants_over_18: Some(0),
            mobile_phones: text("+7 700 0000000"),
            home_phones: text("+7 7172 000000"),
            office_phones: text("+7 7172 000001"),
            email: text("someone@example.kz"),
            net_salary_text: text("300 000 тенге"),
            address: Some(address.clone()),
        }),
        addresses: vec![address],
        documents: vec![IdentityDocument {
            status: text("Current"),
            rank: text("Первичная оценка"),
            document_type: coded("7", "Удостоверение личности"),
            number: text("000000001"),
            registration_date: date,
            issue_date: date,
            expiry_date: date,
            issued_by: text("МВД РК"),
            bureau_received_date: date,
        }],
        related_subjects: vec![RelatedSubject {
            link_type: text("Заёмщик"),
            bureau_subject_id: text("1000002"),
            name: text("Примеров Пример"),
            iin: text("900101300017"),
            rnn: text("000000000000"),
        }],
        public_sources: Some(PublicSources {
            terror_list: Some(check.clone()),
            wanted_persons: Some(check.clone()),
            tax_wanted: Some(check.clone()),
            alimony_debtors: Some(check.clone()),
            unreliable_suppliers: Some(check.clone()),
            false_business: Some(check.clone()),
            tax_arrears: Some(check.clone()),
            bankruptcy: Some(check.clone()),
            tax_debtors: Some(check),
        }),
    }
}
