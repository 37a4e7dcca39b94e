//! The mock bureau's upload service (`…/DataPumpService/DataPumpService`):
//! `UploadZippedData2` takes a base64 ZIP holding one datapump `Records` file and answers
//! with a batch; `GetBatchStatus2` reports the batch, deterministically.
//!
//! How an upload is judged, in order (the first failing check answers):
//!
//! 1. an injected fault ([`crate::Knobs`], shared with the report service) answers before the
//!    request is read (the fault's envelope names the operation the body mentions);
//! 2. not a SOAP 1.1 envelope holding `UploadZippedData2` or `GetBatchStatus2` in
//!    `https://ws.creditinfo.com` → `S:Fault` `S:Client` (HTTP 500);
//! 3. missing `CigWsHeader` or wrong credentials → bureau error 1104;
//! 4. `schemaId` other than 3 → bureau error 1101 ("schema not supported");
//! 5. `zippedXML` not base64, not a ZIP of exactly one file, or a file that is not a datapump
//!    `Records` document with at least one `Contract` → bureau error 1101 with a message
//!    saying which;
//! 6. otherwise a new batch (`Batch@Id` counting up from 1001, `StatusId` 1 "Received",
//!    `RecordCount`) that remembers every record's `ContractCode` and `operation` in file
//!    order ([`MockBatch::contracts`], for tests), and whose records are judged one by one:
//!    - `operation` other than 1 or 2 → message 3001;
//!    - no `ContractCode` → message 3002 about the batch (the record cannot be named);
//!    - the same `ContractCode` twice in the file → message 3005 on the second;
//!    - no IIN (`Identification@typeId=14/Number`) or an invalid one → message 3003;
//!    - `ContractPhase` 5, 6 or 8 without `RealPaymentDate` → message 3004;
//!    - the reserved contract codes: [`CONTRACT_CODE_REJECTED`] → 3010,
//!      [`CONTRACT_CODE_SUBJECT_MISMATCH`] → 3011 (its message echoes the IIN, as real
//!      services do, so clients are seen to mask it).
//!
//! `GetBatchStatus2`: an unknown `batchId` → bureau error 1101 ("batch not found"); the first
//! poll of a batch answers `StatusId` 2 "Processing"; every later poll answers the final
//! state, `StatusId` 3 "Processed" (4 "Failed" when every record was rejected) with
//! `RecordCount`, `AcceptedCount`, `RejectedCount` and one `Message` (`TypeName` "Error",
//! `Code`, `ContractCode`, `Description`) per rejection.
//!
//! This module never logs request values: tracing carries only batch ids and counts.

use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use kuzet_ident::Iin;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::request::SOAP11_NS;
use super::{ENVELOPE_CLOSE, ENVELOPE_OPEN, error_message, fault_envelope, xml_response};
use crate::Error;

/// The upload service's namespace (https, no trailing slash).
pub const DATAPUMP_NS: &str = "https://ws.creditinfo.com";
/// The datapump `Records` file's namespace.
pub const RECORDS_NS: &str = "http://www.datapump.cig.com";
/// A contract code the mock always rejects (message 3010).
pub const CONTRACT_CODE_REJECTED: &str = "MOCK-REJECT";
/// A contract code the mock rejects with a message echoing the subject's IIN (3011).
pub const CONTRACT_CODE_SUBJECT_MISMATCH: &str = "MOCK-SUBJECT-MISMATCH";
/// Largest unzipped `Records` file the mock reads, in bytes.
const MAX_RECORDS_BYTES: u64 = 64 * 1024 * 1024;

/// The batches the mock has received: shared between the router and a test that wants to
/// look (a cheap `Arc` clone). Pass one in [`super::FcbMockOptions::uploads`].
#[derive(Debug, Clone, Default)]
pub struct Uploads {
    inner: Arc<UploadsInner>,
}

#[derive(Debug, Default)]
struct UploadsInner {
    next_id: AtomicU64,
    batches: Mutex<BTreeMap<String, MockBatch>>,
}

/// One batch as the mock holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockBatch {
    /// The batch's id.
    pub id: String,
    /// Contracts in the uploaded file.
    pub record_count: u32,
    /// The rejections: (contract code if known, message code, description).
    pub rejections: Vec<(Option<String>, i32, String)>,
    /// `GetBatchStatus2` calls answered for this batch so far.
    pub polls: u32,
    /// Every record of the uploaded file, in file order: (ContractCode, Contract@operation). A record without a ContractCode has an empty code; an unreadable operation is 0.
    pub contracts: Vec<(String, u32)>,
}

impl MockBatch {
    /// Records rejected (each contract once).
    pub fn rejected(&self) -> u32 {
        let named: HashSet<&str> = self
            .rejections
            .iter()
            .filter_map(|(c, _, _)| c.as_deref())
            .collect();
        let unnamed = self
            .rejections
            .iter()
            .filter(|(c, _, _)| c.is_none())
            .count();
        u32::try_from(named.len() + unnamed).unwrap_or(u32::MAX)
    }

    /// Records accepted.
    pub fn accepted(&self) -> u32 {
        self.record_count.saturating_sub(self.rejected())
    }
}

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, MockBatch>> {
        // Whole values only: a panic elsewhere cannot leave a batch half-written.
        self.inner
            .batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every batch received so far, by id.
    pub fn batches(&self) -> Vec<MockBatch> {
        self.lock().values().cloned().collect()
    }

    /// One batch, by id.
    pub fn batch(&self, id: &str) -> Option<MockBatch> {
        self.lock().get(id).cloned()
    }

    fn add(
        &self,
        record_count: u32,
        rejections: Vec<(Option<String>, i32, String)>,
        contracts: Vec<(String, u32)>,
    ) -> MockBatch {
        let id = (1001 + self.inner.next_id.fetch_add(1, Ordering::Relaxed)).to_string();
        let batch = MockBatch {
            id: id.clone(),
            record_count,
            rejections,
            polls: 0,
            contracts,
        };
        self.lock().insert(id, batch.clone());
        batch
    }

    /// Counts a poll and returns the batch as it was before it.
    fn poll(&self, id: &str) -> Option<MockBatch> {
        let mut batches = self.lock();
        let batch = batches.get_mut(id)?;
        let before = batch.clone();
        batch.polls = batch.polls.saturating_add(1);
        Some(before)
    }
}

/// Which upload-service operation a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Upload,
    BatchStatus,
}

impl Operation {
    /// A cheap guess from the raw body, for fault envelopes answered before parsing.
    pub(crate) fn guess(body: &[u8]) -> Self {
        let needle = b"GetBatchStatus2";
        if body.windows(needle.len()).any(|w| w == needle) {
            Self::BatchStatus
        } else {
            Self::Upload
        }
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Upload => ("UploadZippedData2Response", "UploadZippedData2Result"),
            Self::BatchStatus => ("GetBatchStatus2Response", "GetBatchStatus2Result"),
        }
    }
}

/// What an upload-service request carries.
#[derive(Debug, Default)]
struct DatapumpRequest {
    operation: Option<Operation>,
    header_present: bool,
    user_name: Option<String>,
    password: Option<String>,
    zipped_xml: Option<String>,
    schema_id: Option<String>,
    batch_id: Option<String>,
}

/// Reads an `UploadZippedData2` or `GetBatchStatus2` envelope, whatever the prefixes.
fn parse_request(body: &[u8]) -> Result<DatapumpRequest, Error> {
    let mut reader = NsReader::from_reader(body);
    let mut out = DatapumpRequest::default();
    let mut path: Vec<Vec<u8>> = Vec::with_capacity(8);
    let mut text = String::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| Error::MalformedXml)?;
        let in_ns = |want: &[u8]| matches!(ns, ResolveResult::Bound(n) if n.as_ref() == want);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name().as_ref().to_vec();
                let depth = path.len();
                if depth == 0 {
                    if local != b"Envelope" {
                        return Err(Error::NotSoapEnvelope);
                    }
                    if !in_ns(SOAP11_NS) {
                        return Err(Error::SoapVersionMismatch);
                    }
                }
                let parent = path.last().map(Vec::as_slice);
                if depth == 2 && parent == Some(b"Header") && local == b"CigWsHeader" {
                    out.header_present = in_ns(DATAPUMP_NS.as_bytes());
                }
                if depth == 2 && parent == Some(b"Body") {
                    out.operation = match local.as_slice() {
                        b"UploadZippedData2" if in_ns(DATAPUMP_NS.as_bytes()) => {
                            Some(Operation::Upload)
                        }
                        b"GetBatchStatus2" if in_ns(DATAPUMP_NS.as_bytes()) => {
                            Some(Operation::BatchStatus)
                        }
                        _ => return Err(Error::UnknownOperation),
                    };
                }
                text.clear();
                if matches!(event, Event::Start(_)) {
                    path.push(local);
                }
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|_| Error::MalformedXml)?),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|_| Error::MalformedXml)? {
                    Some(c) => c,
                    None => match &*r {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return Err(Error::MalformedXml),
                    },
                };
                text.push(c);
            }
            Event::End(_) => {
                let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                let value = Some(text.trim().to_owned());
                match names.as_slice() {
                    [_, b"Header", b"CigWsHeader", b"UserName"] if out.header_present => {
                        out.user_name = value;
                    }
                    [_, b"Header", b"CigWsHeader", b"Password"] if out.header_present => {
                        out.password = value;
                    }
                    [_, b"Body", b"UploadZippedData2", b"zippedXML"] => out.zipped_xml = value,
                    [_, b"Body", b"UploadZippedData2", b"schemaId"] => out.schema_id = value,
                    [_, b"Body", b"GetBatchStatus2", b"batchId"] => out.batch_id = value,
                    _ => {}
                }
                text.clear();
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if out.operation.is_none() {
        return Err(Error::UnknownOperation);
    }
    Ok(out)
}

/// One `Contract` of the uploaded file, as far as the mock judges it.
#[derive(Debug, Default)]
struct UploadedRecord {
    operation: Option<String>,
    contract_code: Option<String>,
    phase: Option<String>,
    has_real_payment_date: bool,
    iin: Option<String>,
}

/// Why an uploaded file is garbage (the message of bureau error 1101).
type Garbage = &'static str;

fn unzip(zipped_base64: &str) -> Result<Vec<u8>, Garbage> {
    let compact: String = zipped_base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "zippedXML is not base64")?;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zipped)).map_err(|_| "zippedXML is not a ZIP archive")?;
    if archive.len() != 1 {
        return Err("the ZIP archive must hold exactly one file");
    }
    let file = archive
        .by_index(0)
        .map_err(|_| "the ZIP entry cannot be read")?;
    if file.size() > MAX_RECORDS_BYTES {
        return Err("the zipped file is too large");
    }
    let mut xml = Vec::new();
    file.take(MAX_RECORDS_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|_| "the ZIP entry cannot be read")?;
    if xml.len() as u64 > MAX_RECORDS_BYTES {
        return Err("the zipped file is too large");
    }
    Ok(xml)
}

fn parse_records(xml: &[u8]) -> Result<Vec<UploadedRecord>, Garbage> {
    const NOT_RECORDS: Garbage = "the zipped file is not a valid Records document";
    let mut reader = NsReader::from_reader(xml);
    let mut path: Vec<Vec<u8>> = Vec::with_capacity(16);
    let mut records: Vec<UploadedRecord> = Vec::new();
    let mut text = String::new();
    let mut in_iin = false;
    let mut seen_root = false;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|_| NOT_RECORDS)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name().as_ref().to_vec();
                let attr = |key: &[u8]| {
                    e.try_get_attribute(key)
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_owned()))
                };
                match path.len() {
                    0 => {
                        let in_records_ns = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == RECORDS_NS.as_bytes());
                        if seen_root || local != b"Records" || !in_records_ns {
                            return Err(NOT_RECORDS);
                        }
                        seen_root = true;
                    }
                    1 if local == b"Contract" => records.push(UploadedRecord {
                        operation: attr(b"operation"),
                        ..UploadedRecord::default()
                    }),
                    _ => {}
                }
                let parent = path.last().map(Vec::as_slice);
                if let Some(record) = records.last_mut() {
                    match (parent, local.as_slice()) {
                        (Some(b"General"), b"ContractPhase") => record.phase = attr(b"id"),
                        (Some(b"General"), b"RealPaymentDate") => {
                            record.has_real_payment_date = true;
                        }
                        (Some(b"Identifications"), b"Identification") => {
                            in_iin = attr(b"typeId").as_deref() == Some("14");
                        }
                        _ => {}
                    }
                }
                text.clear();
                if matches!(event, Event::Start(_)) {
                    path.push(local);
                }
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|_| NOT_RECORDS)?),
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|_| NOT_RECORDS)? {
                Some(c) => text.push(c),
                None => {
                    let name = r.decode().map_err(|_| NOT_RECORDS)?;
                    let resolved =
                        quick_xml::escape::resolve_predefined_entity(&name).ok_or(NOT_RECORDS)?;
                    text.push_str(resolved);
                }
            },
            Event::End(_) => {
                let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                if let Some(record) = records.last_mut() {
                    match names.as_slice() {
                        [b"Records", b"Contract", b"General", b"ContractCode"] => {
                            record.contract_code =
                                Some(text.trim().to_owned()).filter(|c| !c.is_empty());
                        }
                        [.., b"Identification", b"Number"] if in_iin => {
                            record.iin = Some(text.trim().to_owned());
                        }
                        [.., b"Identification"] => in_iin = false,
                        _ => {}
                    }
                }
                text.clear();
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root || !path.is_empty() {
        return Err(NOT_RECORDS);
    }
    if records.is_empty() {
        return Err("the Records document holds no Contract");
    }
    Ok(records)
}

/// Every record's (ContractCode, operation), in file order: an empty code when there is none,
/// operation 0 when it is missing or not a number.
fn contracts_of(records: &[UploadedRecord]) -> Vec<(String, u32)> {
    records
        .iter()
        .map(|record| {
            let code = record.contract_code.clone().unwrap_or_default();
            let operation = record
                .operation
                .as_deref()
                .and_then(|o| o.parse::<u32>().ok())
                .unwrap_or(0);
            (code, operation)
        })
        .collect()
}

/// The per-record rejections of a file, in record order.
fn judge(records: &[UploadedRecord]) -> Vec<(Option<String>, i32, String)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for record in records {
        let Some(code) = record.contract_code.clone() else {
            out.push((None, 3002, "Contract code missing".to_owned()));
            continue;
        };
        let mut reject = |n: i32, message: String| out.push((Some(code.clone()), n, message));
        if !seen.insert(code.clone()) {
            reject(3005, "Contract code appears twice in the file".to_owned());
            continue;
        }
        if !matches!(record.operation.as_deref(), Some("1" | "2")) {
            reject(3001, "Invalid operation".to_owned());
            continue;
        }
        let Some(iin) = record.iin.as_deref().and_then(|i| Iin::parse(i).ok()) else {
            reject(
                3003,
                "Identification number of the subject is not valid".to_owned(),
            );
            continue;
        };
        if matches!(record.phase.as_deref(), Some("5" | "6" | "8")) && !record.has_real_payment_date
        {
            reject(
                3004,
                "Real payment date required for the contract phase".to_owned(),
            );
            continue;
        }
        match code.as_str() {
            CONTRACT_CODE_REJECTED => {
                reject(3010, "Contract data failed the bureau's checks".to_owned());
            }
            CONTRACT_CODE_SUBJECT_MISMATCH => reject(
                3011,
                format!(
                    "Subject data do not match the state register for IIN {}",
                    iin.expose()
                ),
            ),
            _ => {}
        }
    }
    out
}

fn envelope(operation: Operation, inner: &str) -> String {
    let (response, result) = operation.names();
    format!(
        "{ENVELOPE_OPEN}<ns2:{response} xmlns:ns2=\"{DATAPUMP_NS}\"><{result}>{inner}</{result}></ns2:{response}>{ENVELOPE_CLOSE}"
    )
}

/// A bureau error in the answer of `operation`: `…Result/CigResultError/Errmessage@code`.
pub(crate) fn error_envelope(operation: Operation, code: i32, message: &str) -> String {
    envelope(
        operation,
        &format!(
            "<CigResultError Version=\"4.0\"><Errmessage code=\"{code}\">{}</Errmessage></CigResultError>",
            escape(message)
        ),
    )
}

fn bureau_error(operation: Operation, code: i32, message: &str) -> Response {
    tracing::debug!(
        code,
        "Bureau mock upload service answers with a bureau error."
    );
    xml_response(StatusCode::OK, error_envelope(operation, code, message))
}

/// A batch answer with the given status and, when final, counts and messages.
fn batch_envelope(
    operation: Operation,
    batch: &MockBatch,
    status: (i32, &str),
    final_: bool,
) -> String {
    let (status_id, status_name) = status;
    let mut x = format!(
        "<CigResult Version=\"4.0\"><Result><Batch Id=\"{}\" StatusId=\"{status_id}\" StatusName=\"{status_name}\" RecordCount=\"{}\"",
        batch.id, batch.record_count
    );
    if !final_ {
        x.push_str("/></Result></CigResult>");
        return envelope(operation, &x);
    }
    x.push_str(&format!(
        " AcceptedCount=\"{}\" RejectedCount=\"{}\">",
        batch.accepted(),
        batch.rejected()
    ));
    for (contract, code, message) in &batch.rejections {
        x.push_str("<Message TypeName=\"Error\"");
        x.push_str(&format!(" Code=\"{code}\""));
        if let Some(contract) = contract {
            x.push_str(&format!(" ContractCode=\"{}\"", escape(contract.as_str())));
        }
        x.push_str(&format!(
            "><Description>{}</Description></Message>",
            escape(message.as_str())
        ));
    }
    x.push_str("</Batch></Result></CigResult>");
    envelope(operation, &x)
}

/// A sample upload answer (for truncated-answer faults).
pub(crate) fn sample_upload_envelope() -> String {
    let batch = MockBatch {
        id: "1000".to_owned(),
        record_count: 1,
        rejections: Vec::new(),
        polls: 0,
        contracts: Vec::new(),
    };
    batch_envelope(Operation::Upload, &batch, (1, "Received"), false)
}

/// Answers an upload-service request that passed the fault knobs and the content-type check.
pub(crate) fn answer(body: &[u8], user: &str, password: &str, uploads: &Uploads) -> Response {
    let req = match parse_request(body) {
        Ok(r) => r,
        Err(e @ Error::SoapVersionMismatch) => {
            return xml_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                fault_envelope("S:VersionMismatch", &e.to_string()),
            );
        }
        Err(e) => {
            return xml_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                fault_envelope("S:Client", &e.to_string()),
            );
        }
    };
    let operation = req.operation.unwrap_or(Operation::Upload);
    let creds_ok = req.header_present
        && req.user_name.as_deref() == Some(user)
        && req.password.as_deref() == Some(password);
    if !creds_ok {
        return bureau_error(operation, 1104, error_message(1104));
    }
    match operation {
        Operation::Upload => upload(&req, uploads),
        Operation::BatchStatus => batch_status(&req, uploads),
    }
}

fn upload(req: &DatapumpRequest, uploads: &Uploads) -> Response {
    let op = Operation::Upload;
    if req.schema_id.as_deref() != Some("3") {
        return bureau_error(op, 1101, "Schema not supported");
    }
    let records =
        match unzip(req.zipped_xml.as_deref().unwrap_or("")).and_then(|xml| parse_records(&xml)) {
            Ok(r) => r,
            Err(garbage) => return bureau_error(op, 1101, garbage),
        };
    let rejections = judge(&records);
    let contracts = contracts_of(&records);
    let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
    let batch = uploads.add(count, rejections, contracts);
    tracing::debug!(batch = %batch.id, records = count, "Bureau mock received a batch.");
    let mut response = xml_response(
        StatusCode::OK,
        batch_envelope(op, &batch, (1, "Received"), false),
    );
    // For the journal (crate::control): the upload's record count.
    response.headers_mut().insert(
        crate::control::RECORDS_HEADER,
        axum::http::HeaderValue::from(count),
    );
    response
}

fn batch_status(req: &DatapumpRequest, uploads: &Uploads) -> Response {
    let op = Operation::BatchStatus;
    let Some(batch) = req.batch_id.as_deref().and_then(|id| uploads.poll(id)) else {
        return bureau_error(op, 1101, "Batch not found");
    };
    let body = if batch.polls == 0 {
        batch_envelope(op, &batch, (2, "Processing"), false)
    } else if batch.rejected() >= batch.record_count {
        batch_envelope(op, &batch, (4, "Failed"), true)
    } else {
        batch_envelope(op, &batch, (3, "Processed"), true)
    };
    xml_response(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_named() {
        assert_eq!(unzip("%%%"), Err("zippedXML is not base64"));
        assert_eq!(unzip("aGVsbG8="), Err("zippedXML is not a ZIP archive"));
        assert!(parse_records(b"<Records/>").is_err(), "no namespace");
        assert_eq!(
            parse_records(br#"<Records xmlns="http://www.datapump.cig.com"/>"#).err(),
            Some("the Records document holds no Contract")
        );
        assert!(
            parse_records(br#"<Records xmlns="http://www.datapump.cig.com"><Contract>"#).is_err()
        );
    }

    #[test]
    fn records_are_judged() {
        let xml = br#"<Records xmlns="http://www.datapump.cig.com">
<Contract operation="1"><General><ContractCode>A</ContractCode><ContractPhase id="4"/>
<Subjects><Subject><Entity><Individual><Identifications><Identification typeId="14"><Number>870525301012</Number></Identification><Identification typeId="7"><Number>1</Number></Identification></Identifications></Individual></Entity></Subject></Subjects></General></Contract>
<Contract operation="1"><General><ContractCode>B</ContractCode><ContractPhase id="5"/>
<Subjects><Subject><Entity><Individual><Identifications><Identification typeId="14"><Number>870525301012</Number></Identification></Identifications></Individual></Entity></Subject></Subjects></General></Contract>
<Contract operation="1"><General><ContractCode>C</ContractCode>
<Subjects><Subject><Entity><Individual><Identifications><Identification typeId="14"><Number>870525301013</Number></Identification></Identifications></Individual></Entity></Subject></Subjects></General></Contract>
<Contract operation="3"><General><ContractCode>A</ContractCode></General></Contract>
</Records>"#;
        let records = parse_records(xml).expect("parses");
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].iin.as_deref(), Some("870525301012"));
        let judged = judge(&records);
        let codes: Vec<(Option<&str>, i32)> =
            judged.iter().map(|(c, n, _)| (c.as_deref(), *n)).collect();
        assert_eq!(
            codes,
            [(Some("B"), 3004), (Some("C"), 3003), (Some("A"), 3005)]
        );
        let contracts = contracts_of(&records);
        let contracts: Vec<(&str, u32)> = contracts.iter().map(|(c, o)| (c.as_str(), *o)).collect();
        assert_eq!(contracts, [("A", 1), ("B", 1), ("C", 1), ("A", 3)]);
        let odd = parse_records(
            br#"<Records xmlns="http://www.datapump.cig.com"><Contract operation="x"><General/></Contract><Contract><General><ContractCode>D</ContractCode></General></Contract></Records>"#,
        )
        .expect("parses");
        assert_eq!(
            contracts_of(&odd),
            [(String::new(), 0), ("D".to_owned(), 0)]
        );
    }
}
