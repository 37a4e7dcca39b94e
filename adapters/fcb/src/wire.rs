//! The bureau's XML, both ways: the `GetReport` SOAP request we send, and the answer we read
//! (the JAX-WS envelope, `CigResult`, `CigResultError`, SOAP `Fault`); the upload's
//! `UploadZippedData2` and `GetBatchStatus2` requests and their `Batch` answers.
//!
//! The batch answer's shape beyond EXCHANGES.md (`Batch@Id@StatusId@StatusName`,
//! `Message@TypeName/Description`) is an assumption until the bureau's schema confirms it:
//! counts as `Batch@RecordCount@AcceptedCount@RejectedCount`, and a per-record message naming
//! its record by `Message@ContractCode` with its code in `Message@Code`. Missing counts read as
//! unknown, never as zero.
//!
//! Reading is one streaming pass of quick-xml over the borrowed body into a flat element tree
//! (`Doc`: no per-element allocation; attribute values stay raw slices of the input), then the
//! section readers in `sections.rs` turn that tree into the domain types of `report.rs`.
//! Elements are matched by local name, so any namespace prefix is accepted; unknown elements
//! and attributes are ignored. Structure is strict (mismatched or unclosed tags, bad attribute
//! syntax, unknown entities in text: [`FcbError::Malformed`]); an attribute value is decoded
//! only when read, and one that is not UTF-8 or holds an unknown entity reads as absent, like
//! any other unreadable field.
//!
//! This module must never put a value from the document (names, IINs, amounts) into an error
//! or a log line: errors name the problem and a byte offset only.

use std::borrow::Cow;

use quick_xml::escape::escape;
use quick_xml::events::Event;

use crate::config::{FcbConfig, UploadConfig};
use crate::error::FcbError;
use crate::report::CreditReport;
use crate::sections;
use crate::upload::{BatchId, BatchState, BatchStatus, RecordMessage};

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The Creditinfo report service namespace.
pub const REPORT_NS: &str = "http://ws.creditinfo.com/";
/// The `SOAPAction` header value of `GetReport` (quoted, as SOAP 1.1 wants it).
pub const GET_REPORT_ACTION: &str = "\"http://ws.creditinfo.com/GetReport\"";
/// The `Content-Type` of a SOAP 1.1 request.
pub const SOAP_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// The Creditinfo upload service namespace (https, no trailing slash: not [`REPORT_NS`]).
pub const DATAPUMP_NS: &str = "https://ws.creditinfo.com";
/// The `SOAPAction` header value of `UploadZippedData2`.
pub const UPLOAD_ACTION: &str = "\"https://ws.creditinfo.com/UploadZippedData2\"";
/// The `SOAPAction` header value of `GetBatchStatus2`.
pub const BATCH_STATUS_ACTION: &str = "\"https://ws.creditinfo.com/GetBatchStatus2\"";
/// `idNumberType` of an IIN in the bureau's identifier list.
pub const ID_NUMBER_TYPE_IIN: u32 = 14;

/// What the caller asks for: whose report, and whether a stored consent record confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    /// The subject.
    pub iin: kuzet_ident::Iin,
    /// Set by the gateway only from a valid stored consent record. When false, the bureau is
    /// never called.
    pub consent_confirmed: bool,
}

/// Builds the `GetReport` SOAP request. Refuses with [`FcbError::ConsentRequired`] when the
/// request carries no confirmed consent, so no code path can send `ConsentConfirmed=1`
/// without it. Every text is escaped; the IIN appears only in `idNumber`.
pub fn build_get_report_request(
    config: &FcbConfig,
    request: &ReportRequest,
) -> Result<String, FcbError> {
    if !request.consent_confirmed {
        return Err(FcbError::ConsentRequired);
    }
    let mut x = String::with_capacity(1024);
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    x.push_str(r#"<soapenv:Envelope xmlns:soapenv=""#);
    x.push_str(SOAP_ENVELOPE_NS);
    x.push_str(r#"" xmlns:ws=""#);
    x.push_str(REPORT_NS);
    x.push_str(r#"">"#);
    cig_ws_header(&mut x, config);
    x.push_str("<soapenv:Body><ws:GetReport>");
    element(&mut x, "ws:reportId", &config.report_id.to_string());
    // `doc` is an open XML slot in the bureau's schema: its `keyValue` children are
    // unqualified, as every working public client sends them.
    x.push_str("<ws:doc><keyValue>");
    element(&mut x, "reportImportCode", &config.report_import_code);
    element(&mut x, "idNumber", request.iin.expose());
    element(&mut x, "idNumberType", &ID_NUMBER_TYPE_IIN.to_string());
    element(&mut x, "ConsentConfirmed", "1");
    x.push_str("</keyValue></ws:doc></ws:GetReport></soapenv:Body></soapenv:Envelope>");
    Ok(x)
}

/// `soapenv:Header/ws:CigWsHeader` with the credentials, in whatever namespace `ws` is bound
/// to.
fn cig_ws_header(x: &mut String, config: &FcbConfig) {
    x.push_str("<soapenv:Header><ws:CigWsHeader>");
    element(x, "ws:Culture", &config.culture);
    element(x, "ws:UserName", &config.user_name);
    element(x, "ws:Password", &config.password);
    if let Some(version) = &config.version {
        element(x, "ws:Version", version);
    }
    x.push_str("</ws:CigWsHeader></soapenv:Header>");
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Reads a `GetReport` answer: the envelope, then the report or the bureau's error or the SOAP
/// fault. Returns the report and the bureau's `ReferenceId`.
pub fn parse_get_report_response(body: &[u8]) -> Result<(CreditReport, Option<String>), FcbError> {
    let doc = Doc::parse(body)?;
    let envelope = doc.root().ok_or_else(|| malformed("empty document"))?;
    if doc.name(envelope) != b"Envelope" {
        return Err(malformed("the answer is not a SOAP envelope"));
    }
    let soap_body = doc
        .child(envelope, b"Body")
        .ok_or_else(|| malformed("SOAP envelope without a Body"))?;
    if let Some(fault) = doc.child(soap_body, b"Fault") {
        return Err(soap_fault(&doc, fault));
    }
    let response = doc
        .children(soap_body)
        .next()
        .ok_or_else(|| malformed("empty SOAP Body"))?;
    if doc.name(response) != b"GetReportResponse" {
        return Err(malformed("SOAP Body holds no GetReportResponse"));
    }
    let result = doc
        .child(response, b"GetReportResult")
        .ok_or_else(|| malformed("GetReportResponse without GetReportResult"))?;
    if let Some(error) = doc.child(result, b"CigResultError") {
        return Err(bureau_error(&doc, error));
    }
    if let Some(cig) = doc.child(result, b"CigResult") {
        return read_cig_result(&doc, cig);
    }
    // Some Creditinfo deployments return the report as an escaped string instead of child
    // elements; it costs one more pass to accept both.
    if let Some(inner) = doc.text(result).filter(|t| t.trim_start().starts_with('<')) {
        return parse_cig_document(inner.as_bytes());
    }
    Err(malformed(
        "GetReportResult holds neither CigResult nor CigResultError",
    ))
}

/// Reads a bare `CigResult` document (the report as the bureau's tools save it), or a bare
/// `CigResultError`.
pub fn parse_report(cig_result: &[u8]) -> Result<CreditReport, FcbError> {
    parse_cig_document(cig_result).map(|(report, _)| report)
}

fn parse_cig_document(bytes: &[u8]) -> Result<(CreditReport, Option<String>), FcbError> {
    let doc = Doc::parse(bytes)?;
    let root = doc.root().ok_or_else(|| malformed("empty document"))?;
    match doc.name(root) {
        b"CigResult" => read_cig_result(&doc, root),
        b"CigResultError" => Err(bureau_error(&doc, root)),
        _ => Err(malformed("the document is not a CigResult")),
    }
}

fn read_cig_result(doc: &Doc<'_>, cig: NodeId) -> Result<(CreditReport, Option<String>), FcbError> {
    let reference_id = doc
        .child(cig, b"ReferenceId")
        .and_then(|r| doc.text(r))
        .and_then(|t| crate::values::present(t))
        .map(str::to_owned);
    let root = doc
        .child(cig, b"Result")
        .and_then(|r| doc.child(r, b"Root"))
        .ok_or_else(|| malformed("CigResult without Result/Root"))?;
    Ok((sections::read_root(doc, root), reference_id))
}

/// Maps `CigResultError/Errmessage@code` to an error. 1111 is the only transient one.
pub(crate) fn bureau_error(doc: &Doc<'_>, error: NodeId) -> FcbError {
    let Some(message_node) = doc.child(error, b"Errmessage") else {
        return malformed("CigResultError without Errmessage");
    };
    let Some(code) = doc
        .attr(message_node, b"code")
        .and_then(|c| c.trim().parse::<i32>().ok())
    else {
        return malformed("Errmessage without a numeric code");
    };
    match code {
        1102 => FcbError::SubjectNotFound,
        1112 => FcbError::SeveralSubjects,
        1111 => FcbError::BureauInternal,
        1104 | 1110 => FcbError::Unauthorized { code },
        _ => FcbError::Bureau {
            code,
            message: short_message(doc.text(message_node).unwrap_or("")),
        },
    }
}

/// A SOAP 1.1 fault (`faultcode`, `faultstring`); SOAP 1.2's `Code/Value` and `Reason/Text`
/// are read too, so a misconfigured endpoint still yields a useful error.
pub(crate) fn soap_fault(doc: &Doc<'_>, fault: NodeId) -> FcbError {
    let text_of = |path: &[&[u8]]| -> Option<&str> {
        let mut node = fault;
        for name in path {
            node = doc.child(node, name)?;
        }
        doc.text(node)
    };
    let code = text_of(&[b"faultcode"])
        .or_else(|| text_of(&[b"Code", b"Value"]))
        .unwrap_or("")
        .trim();
    let message = text_of(&[b"faultstring"])
        .or_else(|| text_of(&[b"Reason", b"Text"]))
        .unwrap_or("");
    FcbError::SoapFault {
        code: short_message(code),
        message: short_message(message),
    }
}

// ---------------------------------------------------------------------------------------------
// The contract upload (`UploadZippedData2`) and its batch status (`GetBatchStatus2`).

/// Builds the `UploadZippedData2` SOAP request around an already zipped `Records` file:
/// `zippedXML` is its base64, `schemaId` the configured schema (3 = credit contracts). The
/// `CigWsHeader` is in the upload service's namespace *(inferred: public clients show only the
/// body's)*.
pub fn build_upload_request(config: &FcbConfig, zipped: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(zipped);
    let mut x = String::with_capacity(encoded.len() + 1024);
    datapump_envelope_open(&mut x, config);
    x.push_str("<ws:UploadZippedData2><ws:zippedXML>");
    // Base64 needs no escaping.
    x.push_str(&encoded);
    x.push_str("</ws:zippedXML>");
    element(&mut x, "ws:schemaId", &config.upload.schema_id.to_string());
    x.push_str("</ws:UploadZippedData2></soapenv:Body></soapenv:Envelope>");
    x
}

/// Builds the `GetBatchStatus2` SOAP request for a batch.
pub fn build_batch_status_request(config: &FcbConfig, batch_id: &BatchId) -> String {
    let mut x = String::with_capacity(1024);
    datapump_envelope_open(&mut x, config);
    x.push_str("<ws:GetBatchStatus2>");
    element(&mut x, "ws:batchId", batch_id.as_str());
    x.push_str("</ws:GetBatchStatus2></soapenv:Body></soapenv:Envelope>");
    x
}

fn datapump_envelope_open(x: &mut String, config: &FcbConfig) {
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    x.push_str(r#"<soapenv:Envelope xmlns:soapenv=""#);
    x.push_str(SOAP_ENVELOPE_NS);
    x.push_str(r#"" xmlns:ws=""#);
    x.push_str(DATAPUMP_NS);
    x.push_str(r#"">"#);
    cig_ws_header(x, config);
    x.push_str("<soapenv:Body>");
}

/// Reads an `UploadZippedData2` answer: `UploadZippedData2Response/UploadZippedData2Result`
/// holding `CigResult/Result/Batch`, or `CigResultError`, or a SOAP fault.
pub fn parse_upload_response(body: &[u8], codes: &UploadConfig) -> Result<BatchStatus, FcbError> {
    parse_batch_answer(
        body,
        b"UploadZippedData2Response",
        b"UploadZippedData2Result",
        codes,
    )
}

/// Reads a `GetBatchStatus2` answer: `GetBatchStatus2Response/GetBatchStatus2Result/
/// CigResult/Result/Batch`, or `CigResultError`, or a SOAP fault.
pub fn parse_batch_status_response(
    body: &[u8],
    codes: &UploadConfig,
) -> Result<BatchStatus, FcbError> {
    parse_batch_answer(
        body,
        b"GetBatchStatus2Response",
        b"GetBatchStatus2Result",
        codes,
    )
}

fn parse_batch_answer(
    body: &[u8],
    response_name: &[u8],
    result_name: &[u8],
    codes: &UploadConfig,
) -> Result<BatchStatus, FcbError> {
    let doc = Doc::parse(body)?;
    let envelope = doc.root().ok_or_else(|| malformed("empty document"))?;
    if doc.name(envelope) != b"Envelope" {
        return Err(malformed("the answer is not a SOAP envelope"));
    }
    let soap_body = doc
        .child(envelope, b"Body")
        .ok_or_else(|| malformed("SOAP envelope without a Body"))?;
    if let Some(fault) = doc.child(soap_body, b"Fault") {
        return Err(soap_fault(&doc, fault));
    }
    let response = doc
        .children(soap_body)
        .next()
        .ok_or_else(|| malformed("empty SOAP Body"))?;
    if doc.name(response) != response_name {
        return Err(malformed("SOAP Body holds another operation's answer"));
    }
    let result = doc
        .child(response, result_name)
        .ok_or_else(|| malformed("the answer holds no result element"))?;
    if let Some(error) = doc.child(result, b"CigResultError") {
        return Err(bureau_error(&doc, error));
    }
    let batch = doc
        .child(result, b"CigResult")
        .and_then(|c| doc.child(c, b"Result"))
        .and_then(|r| doc.child(r, b"Batch"))
        .ok_or_else(|| {
            malformed("the answer holds neither CigResult/Result/Batch nor CigResultError")
        })?;
    read_batch(&doc, batch, codes)
}

fn read_batch(doc: &Doc<'_>, batch: NodeId, codes: &UploadConfig) -> Result<BatchStatus, FcbError> {
    let batch_id = doc
        .attr(batch, b"Id")
        .ok_or_else(|| malformed("Batch without an Id"))
        .and_then(|id| BatchId::new(id.trim()))?;
    let status_id = doc
        .attr(batch, b"StatusId")
        .and_then(|s| s.trim().parse::<i32>().ok())
        .ok_or_else(|| malformed("Batch without a numeric StatusId"))?;
    let state = if codes.batch_final_status_ids.contains(&status_id) {
        BatchState::Final
    } else if codes.batch_processing_status_ids.contains(&status_id) {
        BatchState::Processing
    } else if codes.batch_pending_status_ids.contains(&status_id) {
        BatchState::Pending
    } else {
        BatchState::Unknown
    };
    let count = |name: &[u8]| {
        doc.attr(batch, name)
            .and_then(|c| c.trim().parse::<u32>().ok())
    };
    let messages = doc
        .children(batch)
        .filter(|&m| doc.name(m) == b"Message")
        .map(|m| RecordMessage {
            contract_code: doc
                .attr(m, b"ContractCode")
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty() && c.chars().count() <= 64),
            kind: short_message(doc.attr(m, b"TypeName").as_deref().unwrap_or("")),
            code: doc
                .attr(m, b"Code")
                .and_then(|c| c.trim().parse::<i32>().ok()),
            message: short_message(
                doc.child(m, b"Description")
                    .and_then(|d| doc.text(d))
                    .unwrap_or(""),
            ),
        })
        .collect();
    Ok(BatchStatus {
        batch_id,
        status_id,
        status_name: short_message(doc.attr(batch, b"StatusName").as_deref().unwrap_or("")),
        state,
        record_count: count(b"RecordCount"),
        accepted: count(b"AcceptedCount"),
        rejected: count(b"RejectedCount"),
        messages,
    })
}

pub(crate) use kuzet_ident::short_message;

pub(crate) fn malformed(what: &str) -> FcbError {
    FcbError::Malformed(what.to_owned())
}

// ---------------------------------------------------------------------------------------------
// The element tree.

/// Index of an element in a [`Doc`]. 0 is the document itself, never a child.
pub(crate) type NodeId = u32;

const NONE: NodeId = 0;

struct Node<'a> {
    /// Local name: the prefix is dropped.
    name: &'a [u8],
    attrs_start: u32,
    attrs_end: u32,
    /// Text content directly inside the element, when it is not just whitespace.
    text: Option<Cow<'a, str>>,
    first_child: NodeId,
    last_child: NodeId,
    next_sibling: NodeId,
}

/// A parsed XML document as a flat tree borrowing from the input.
pub(crate) struct Doc<'a> {
    nodes: Vec<Node<'a>>,
    /// Attributes of all elements: local name and raw (still escaped) value; each node owns
    /// a range. Values are decoded only when read: most of the report's bytes are Russian
    /// `title` captions that nobody reads, and validating them costs more than the parse.
    attrs: Vec<(&'a [u8], &'a [u8])>,
    input: &'a [u8],
}

/// The bytes of `part` as a slice of `input`, with `input`'s lifetime. A slice reader's events
/// point into its input, but quick-xml 0.38 only lends them for the event's lifetime; finding
/// the same bytes in `input` by address lets the tree keep borrowing instead of copying.
fn borrowed_from<'a>(input: &'a [u8], part: &[u8]) -> Option<&'a [u8]> {
    let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    input.get(start..start.checked_add(part.len())?)
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// A parser error can quote a piece of the document (a tag, an entity, an attribute); it goes
/// through `short_message` like any text from the other side.
fn xml_error(e: impl std::fmt::Display, at: u64) -> FcbError {
    FcbError::Malformed(format!("{} (at byte {at})", short_message(&e.to_string())))
}

impl<'a> Doc<'a> {
    /// Parses a whole document. Fails on anything not well-formed, including a document cut
    /// short (an element left open at the end).
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, FcbError> {
        // Every element takes at least four bytes, so with this bound the `u32` indices below
        // cannot wrap.
        if u32::try_from(input.len()).is_err() {
            return Err(FcbError::Malformed("the document is too large".into()));
        }
        let mut reader = quick_xml::Reader::from_reader(input);
        // The default already checks that end names match; spelled out because truncated or
        // mismatched documents must never pass as a report.
        reader.config_mut().check_end_names = true;
        let mut doc = Doc {
            nodes: Vec::with_capacity(input.len() / 64 + 8),
            attrs: Vec::with_capacity(input.len() / 40 + 8),
            input,
        };
        doc.nodes.push(Node {
            name: b"",
            attrs_start: 0,
            attrs_end: 0,
            text: None,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        // Open elements; the document node at the bottom.
        let mut stack: Vec<NodeId> = Vec::with_capacity(32);
        stack.push(0);
        let mut seen_root = false;
        loop {
            let at = reader.buffer_position();
            let event = reader.read_event().map_err(|e| xml_error(e, at))?;
            match event {
                Event::Start(start) => {
                    let id = doc.open(start, &stack, &mut seen_root, at)?;
                    stack.push(id);
                }
                Event::Empty(start) => {
                    doc.open(start, &stack, &mut seen_root, at)?;
                }
                Event::End(_) => {
                    // quick-xml has checked the name; only the document node may not close.
                    if stack.len() <= 1 {
                        return Err(xml_error("end tag without a start tag", at));
                    }
                    stack.pop();
                }
                Event::Text(text) => {
                    let raw = text.into_inner();
                    if raw.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let text = match raw {
                        Cow::Borrowed(b) => {
                            Cow::Borrowed(std::str::from_utf8(b).map_err(|e| xml_error(e, at))?)
                        }
                        Cow::Owned(b) => {
                            Cow::Owned(String::from_utf8(b).map_err(|e| xml_error(e, at))?)
                        }
                    };
                    doc.push_text(&stack, text, at)?;
                }
                Event::CData(cdata) => {
                    let text = match cdata.into_inner() {
                        Cow::Borrowed(b) => {
                            Cow::Borrowed(std::str::from_utf8(b).map_err(|e| xml_error(e, at))?)
                        }
                        Cow::Owned(b) => {
                            Cow::Owned(String::from_utf8(b).map_err(|e| xml_error(e, at))?)
                        }
                    };
                    doc.push_text(&stack, text, at)?;
                }
                Event::GeneralRef(reference) => {
                    let resolved: String = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.into(),
                        Ok(None) => {
                            let name = reference.decode().map_err(|e| xml_error(e, at))?;
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| xml_error("unknown entity", at))?
                                .to_owned()
                        }
                        Err(e) => return Err(xml_error(e, at)),
                    };
                    doc.push_text(&stack, Cow::Owned(resolved), at)?;
                }
                Event::Eof => break,
                // Declarations, comments, processing instructions and doctypes carry nothing we
                // read; quick-xml never expands custom entities, so a doctype cannot inject any.
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if stack.len() > 1 {
            return Err(FcbError::Malformed(format!(
                "the document ends inside an element ({} left open)",
                stack.len() - 1
            )));
        }
        if !seen_root {
            return Err(FcbError::Malformed("the document holds no element".into()));
        }
        Ok(doc)
    }

    /// Adds an element under the innermost open one and reads its attributes.
    fn open(
        &mut self,
        start: quick_xml::events::BytesStart<'a>,
        stack: &[NodeId],
        seen_root: &mut bool,
        at: u64,
    ) -> Result<NodeId, FcbError> {
        let parent = stack.last().copied().unwrap_or(0);
        if parent == 0 {
            if *seen_root {
                return Err(xml_error("more than one root element", at));
            }
            *seen_root = true;
        }
        let name_len = start.name().as_ref().len();
        let raw =
            borrowed_from(self.input, &start).ok_or_else(|| xml_error("unexpected event", at))?;
        let attrs_start = self.attrs.len() as u32;
        scan_attributes(raw, name_len, &mut self.attrs).map_err(|what| xml_error(what, at))?;
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            name: local(&raw[..name_len]),
            attrs_start,
            attrs_end: self.attrs.len() as u32,
            text: None,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
        });
        let last = self.nodes[parent as usize].last_child;
        if last == NONE {
            self.nodes[parent as usize].first_child = id;
        } else {
            self.nodes[last as usize].next_sibling = id;
        }
        self.nodes[parent as usize].last_child = id;
        Ok(id)
    }

    /// Appends text to the innermost open element.
    fn push_text(&mut self, stack: &[NodeId], text: Cow<'a, str>, at: u64) -> Result<(), FcbError> {
        let current = stack.last().copied().unwrap_or(0);
        if current == 0 {
            return Err(xml_error("text outside the root element", at));
        }
        let node = &mut self.nodes[current as usize];
        node.text = Some(match node.text.take() {
            None => text,
            Some(before) => Cow::Owned(before.into_owned() + &text),
        });
        Ok(())
    }

    /// The root element.
    pub(crate) fn root(&self) -> Option<NodeId> {
        let first = self.nodes.first()?.first_child;
        (first != NONE).then_some(first)
    }

    /// Local name of an element.
    pub(crate) fn name(&self, id: NodeId) -> &'a [u8] {
        self.nodes[id as usize].name
    }

    /// The element's child elements, in document order.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_, 'a> {
        Children {
            doc: self,
            next: self.nodes[id as usize].first_child,
        }
    }

    /// The first child element with this local name.
    pub(crate) fn child(&self, id: NodeId, name: &[u8]) -> Option<NodeId> {
        self.children(id).find(|&c| self.name(c) == name)
    }

    /// An attribute's value, by local name, unescaped. A value that is not UTF-8 or holds an
    /// unknown entity reads as absent: one bad value must not sink the report.
    pub(crate) fn attr(&self, id: NodeId, key: &[u8]) -> Option<Cow<'a, str>> {
        let node = &self.nodes[id as usize];
        let raw = self.attrs[node.attrs_start as usize..node.attrs_end as usize]
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)?;
        let text = std::str::from_utf8(raw).ok()?;
        if !text.contains('&') {
            return Some(Cow::Borrowed(text));
        }
        match quick_xml::escape::unescape(text) {
            Ok(Cow::Borrowed(t)) => Some(Cow::Borrowed(t)),
            Ok(Cow::Owned(t)) => Some(Cow::Owned(t)),
            Err(_) => None,
        }
    }

    /// The text directly inside the element, when there is some besides whitespace.
    pub(crate) fn text(&self, id: NodeId) -> Option<&str> {
        self.nodes[id as usize].text.as_deref()
    }
}

/// Splits the attributes of a start tag (`name a="1" b='2'`, the bytes between `<` and `>`)
/// into local names and raw values. quick-xml has already found the tag's end outside quotes;
/// this checks the rest of the attribute syntax.
fn scan_attributes<'a>(
    tag: &'a [u8],
    name_len: usize,
    out: &mut Vec<(&'a [u8], &'a [u8])>,
) -> Result<(), &'static str> {
    let n = tag.len();
    let mut i = name_len;
    loop {
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let key_start = i;
        while i < n && !tag[i].is_ascii_whitespace() && tag[i] != b'=' {
            i += 1;
        }
        let key = &tag[key_start..i];
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n || tag[i] != b'=' {
            return Err("attribute without a value");
        }
        i += 1;
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = match tag.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err("attribute value without quotes"),
        };
        i += 1;
        let len = memchr::memchr2(quote, b'<', &tag[i..]).ok_or("unterminated attribute value")?;
        if tag[i + len] == b'<' {
            return Err("`<` in an attribute value");
        }
        let value = &tag[i..i + len];
        i += len + 1;
        if i < n && !tag[i].is_ascii_whitespace() {
            return Err("attributes not separated by whitespace");
        }
        out.push((local(key), value));
    }
}

/// Iterator over an element's children.
pub(crate) struct Children<'d, 'a> {
    doc: &'d Doc<'a>,
    next: NodeId,
}

impl Iterator for Children<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.doc.nodes[id as usize].next_sibling;
        Some(id)
    }
}
