//! How to reach the bureau's report and upload services: the endpoints, the `CigWsHeader`
//! credentials, the report codes, the upload's code lists and batch status codes, the HTTP
//! settings and the call policy (rate limit, retries, breaker). Real values come with the
//! connection agreement, so everything here is configuration, never a constant in code.
//!
//! The password must never be printed: `Debug` redacts it, and the type is not `Serialize`.

use std::fmt;

use kuzet_transport::{GuardConfig, HttpConfig};
use serde::Deserialize;

/// The First Credit Bureau report service, as configured.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcbConfig {
    /// URL of the report service (`https://…/FCBServices/Service`).
    pub report_url: String,
    /// `CigWsHeader/UserName`.
    pub user_name: String,
    /// `CigWsHeader/Password`. Never logged.
    pub password: String,
    /// `CigWsHeader/Culture`: the language of the report's labels.
    #[serde(default = "default_culture")]
    pub culture: String,
    /// `GetReport/reportId`: which report product to ask for.
    #[serde(default = "default_report_id")]
    pub report_id: u32,
    /// `keyValue/reportImportCode`: the import code of that report product.
    #[serde(default = "default_report_import_code")]
    pub report_import_code: String,
    /// `CigWsHeader/Version`, sent only when set.
    #[serde(default)]
    pub version: Option<String>,
    /// URL of the upload service (`https://…/DataPumpService/DataPumpService`). When unset, it
    /// is `report_url` with its `/FCBServices/Service` ending replaced by
    /// `/DataPumpService/DataPumpService` (see [`FcbConfig::upload_url`]).
    #[serde(default)]
    pub upload_url: Option<String>,
    /// Codes of the contract upload (`UploadZippedData2`) and of its batch status.
    #[serde(default)]
    pub upload: UploadConfig,
    /// Timeouts, trust store and client certificate for the bureau's endpoint.
    #[serde(default)]
    pub http: HttpConfig,
    /// Rate limit, concurrency cap, retries and circuit breaker for calls to the bureau.
    #[serde(default)]
    pub resilience: GuardConfig,
}

fn default_culture() -> String {
    "ru-RU".to_owned()
}

fn default_report_id() -> u32 {
    6
}

fn default_report_import_code() -> String {
    "6".to_owned()
}

impl FcbConfig {
    /// A configuration with the defaults, for the given endpoint and credentials.
    pub fn new(
        report_url: impl Into<String>,
        user_name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            report_url: report_url.into(),
            user_name: user_name.into(),
            password: password.into(),
            culture: default_culture(),
            report_id: default_report_id(),
            report_import_code: default_report_import_code(),
            version: None,
            upload_url: None,
            upload: UploadConfig::default(),
            http: HttpConfig::default(),
            resilience: GuardConfig::default(),
        }
    }
}

/// The usual ending of the report service's URL, and of the upload service's next to it.
const REPORT_PATH: &str = "/FCBServices/Service";
const UPLOAD_PATH: &str = "/DataPumpService/DataPumpService";

impl FcbConfig {
    /// The upload service's URL: `upload_url` when set, else `report_url` with its
    /// `/FCBServices/Service` ending replaced by `/DataPumpService/DataPumpService` (the two
    /// services live side by side on the bureau's host, and on the mock). `None` when neither
    /// gives one.
    pub fn upload_url(&self) -> Option<String> {
        if let Some(url) = &self.upload_url {
            return Some(url.trim().to_owned());
        }
        let report = self.report_url.trim().trim_end_matches('/');
        report
            .strip_suffix(REPORT_PATH)
            .map(|base| format!("{base}{UPLOAD_PATH}"))
    }
}

/// The contract upload's settings: the schema, the batch size, and the bureau's code lists
/// for what the lender does not send per contract. EXCHANGES.md gives the defaults public
/// clients use for a car-less consumer loan; the code lists come with the bureau's schema, so
/// they are configuration, never constants in code. Batch status codes are not publicly
/// documented *(inferred)*: their meaning is configuration too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// `UploadZippedData2/schemaId`: 3 = credit contracts.
    pub schema_id: u32,
    /// Most contracts in one file (banks send 1,000–2,000).
    pub max_records: usize,
    /// `Text@language` of names and street names.
    pub text_language: String,
    /// `FundingType@id` (2 = loan).
    pub funding_type_id: String,
    /// `CreditPurpose2@id` (09).
    pub credit_purpose_id: String,
    /// `CreditObject@id` (10 = other).
    pub credit_object_id: String,
    /// `ContractStatus@id` of a contract *(inferred: 1 = standard)*.
    pub contract_status_id: String,
    /// `Classification@id` of the contract and of the borrower (1 = standard).
    pub classification_id: String,
    /// `Collateral@typeId` of an unsecured loan (1, value 0).
    pub unsecured_collateral_type_id: String,
    /// `Collateral@typeId` of a vehicle *(inferred: 3)*.
    pub vehicle_collateral_type_id: String,
    /// `Value@typeId` of a collateral's value *(inferred: 1 = market value)*.
    pub collateral_value_type_id: String,
    /// `Instalment@paymentMethodId` (6).
    pub payment_method_id: String,
    /// `Instalment@paymentPeriodId` (9).
    pub payment_period_id: String,
    /// `Residency@id` of a resident *(inferred: 1)*.
    pub resident_id: String,
    /// `Residency@id` of a non-resident *(inferred: 2)*.
    pub non_resident_id: String,
    /// `Batch@StatusId` values of a batch received but not started *(inferred: 1)*.
    pub batch_pending_status_ids: Vec<i32>,
    /// `Batch@StatusId` values of a batch being processed *(inferred: 2)*.
    pub batch_processing_status_ids: Vec<i32>,
    /// `Batch@StatusId` values of a batch the bureau has finished with, accepted in whole or
    /// in part or rejected *(inferred: 3 processed, 4 failed)*.
    pub batch_final_status_ids: Vec<i32>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            schema_id: 3,
            max_records: 2_000,
            text_language: "ru-RU".to_owned(),
            funding_type_id: "2".to_owned(),
            credit_purpose_id: "09".to_owned(),
            credit_object_id: "10".to_owned(),
            contract_status_id: "1".to_owned(),
            classification_id: "1".to_owned(),
            unsecured_collateral_type_id: "1".to_owned(),
            vehicle_collateral_type_id: "3".to_owned(),
            collateral_value_type_id: "1".to_owned(),
            payment_method_id: "6".to_owned(),
            payment_period_id: "9".to_owned(),
            resident_id: "1".to_owned(),
            non_resident_id: "2".to_owned(),
            batch_pending_status_ids: vec![1],
            batch_processing_status_ids: vec![2],
            batch_final_status_ids: vec![3, 4],
        }
    }
}

impl UploadConfig {
    /// Every problem with the settings, one message each; empty when they can be used.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_records == 0 {
            out.push("upload.max_records must be at least 1".to_owned());
        }
        let codes = [
            ("text_language", &self.text_language),
            ("funding_type_id", &self.funding_type_id),
            ("credit_purpose_id", &self.credit_purpose_id),
            ("credit_object_id", &self.credit_object_id),
            ("contract_status_id", &self.contract_status_id),
            ("classification_id", &self.classification_id),
            (
                "unsecured_collateral_type_id",
                &self.unsecured_collateral_type_id,
            ),
            (
                "vehicle_collateral_type_id",
                &self.vehicle_collateral_type_id,
            ),
            ("collateral_value_type_id", &self.collateral_value_type_id),
            ("payment_method_id", &self.payment_method_id),
            ("payment_period_id", &self.payment_period_id),
            ("resident_id", &self.resident_id),
            ("non_resident_id", &self.non_resident_id),
        ];
        for (name, value) in codes {
            if value.trim().is_empty() {
                out.push(format!("upload.{name} is empty"));
            }
        }
        let lists = [
            &self.batch_pending_status_ids,
            &self.batch_processing_status_ids,
            &self.batch_final_status_ids,
        ];
        let all: Vec<i32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != all.len() {
            out.push("upload batch status ids must each have one meaning".to_owned());
        }
        if self.batch_final_status_ids.is_empty() {
            out.push("upload.batch_final_status_ids is empty".to_owned());
        }
        out
    }
}

impl fmt::Debug for FcbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcbConfig")
            .field("report_url", &self.report_url)
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .field("culture", &self.culture)
            .field("report_id", &self.report_id)
            .field("report_import_code", &self.report_import_code)
            .field("version", &self.version)
            .field("upload_url", &self.upload_url)
            .field("upload", &self.upload)
            .field("http", &self.http)
            .field("resilience", &self.resilience)
            .finish()
    }
}
