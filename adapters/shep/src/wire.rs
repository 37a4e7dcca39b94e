//! SHEP's synchronous-channel XML, both ways: the `SendMessage` envelope we send (before it is
//! signed) and the `SendMessageResponse` or `SendMessageSendMessageFaultMsg` we read.
//!
//! The service payload (`requestData/data`, `responseData/data`) is opaque here: the caller hands
//! in an already-serialized fragment, which is checked for well-formedness and embedded
//! verbatim; an answer's `data` content is handed back verbatim for the service adapter to read.
//! Elements of the answer are matched by local name, so any prefix is accepted.
//!
//! This module must never put a value from a message (IINs, names, the password) into an error
//! or a log line: errors name the problem and a byte offset only, and SHEP's own messages go
//! through [`short_message`].

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::{format_description, offset};
use uuid::Uuid;

use crate::config::ShepConfig;
use crate::error::{ErrorInfo, ShepError, is_transient_shep_code, short_message};
use crate::xml::{self, Element};

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of the synchronous channel's messages (`SendMessage`, its answer and fault).
pub const SYNC_TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// The namespace of the synchronous channel's interface (`ISyncChannel`, operation
/// `SendMessage`).
pub const SYNC_INTERFACES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Interfaces";
/// The WS-Security utility namespace (`wsu:Id`).
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// The `Content-Type` of a SOAP 1.1 request.
pub const SOAP_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// `messageDate` as SHEP's examples write it: milliseconds and the Astana offset.
const MESSAGE_DATE: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);

/// One `requestInfo/properties` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
}

/// What a service adapter asks SHEP to deliver: the `requestInfo` fields that vary per call and
/// the service payload. `sender` comes from [`ShepConfig`].
#[derive(Clone, PartialEq, Eq)]
pub struct ShepRequest {
    /// `messageId`: a UUID v4 or v7, new for every call.
    pub message_id: Uuid,
    /// `correlationId`, when the exchange has one.
    pub correlation_id: Option<String>,
    /// `serviceId`: which registry service SHEP routes to (from configuration).
    pub service_id: String,
    /// `messageDate`; written with the `+06:00` offset whatever offset it has here.
    pub message_date: OffsetDateTime,
    /// `routeId`, when the service needs one.
    pub route_id: Option<String>,
    /// `properties`, in order.
    pub properties: Vec<Property>,
    /// `sessionId`, when the exchange has one.
    pub session_id: Option<String>,
    /// The content of `requestData/data`: well-formed XML content (elements and text) that
    /// declares every namespace prefix it uses. Embedded verbatim.
    pub data: String,
}

impl ShepRequest {
    /// A request for `service_id` carrying `data`, with a new UUID v7 message id and the current
    /// time; the optional fields empty.
    pub fn new(service_id: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            message_id: Uuid::now_v7(),
            correlation_id: None,
            service_id: service_id.into(),
            message_date: OffsetDateTime::now_utc(),
            route_id: None,
            properties: Vec::new(),
            session_id: None,
            data: data.into(),
        }
    }

    /// The same, with the payload given as bytes; they must be UTF-8.
    pub fn from_bytes(service_id: impl Into<String>, data: &[u8]) -> Result<Self, ShepError> {
        let data =
            std::str::from_utf8(data).map_err(|_| ShepError::InvalidPayload("not UTF-8".into()))?;
        Ok(Self::new(service_id, data))
    }
}

/// The payload may hold personal data: `Debug` shows its size only.
impl std::fmt::Debug for ShepRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShepRequest")
            .field("message_id", &self.message_id)
            .field("correlation_id", &self.correlation_id)
            .field("service_id", &self.service_id)
            .field("message_date", &self.message_date)
            .field("route_id", &self.route_id)
            .field("properties", &self.properties.len())
            .field("session_id", &self.session_id)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// A `SendMessage` envelope, not yet signed: the text before and after the place in
/// `soap:Header` where the `wsse:Security` header goes, and the Body's `wsu:Id`.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsignedEnvelope {
    pub(crate) head: String,
    pub(crate) tail: String,
    pub(crate) body_id: String,
}

impl UnsignedEnvelope {
    /// The `wsu:Id` of the Body, which the signature references.
    pub fn body_id(&self) -> &str {
        &self.body_id
    }

    /// The envelope as it would be sent without a signature.
    pub fn to_xml(&self) -> String {
        format!("{}{}", self.head, self.tail)
    }

    /// The envelope with `security` (a `wsse:Security` element) inserted into the header.
    pub(crate) fn with_header(&self, security: &str) -> String {
        let mut out = String::with_capacity(self.head.len() + security.len() + self.tail.len());
        out.push_str(&self.head);
        out.push_str(security);
        out.push_str(&self.tail);
        out
    }
}

/// It holds the password and the payload: `Debug` shows sizes only.
impl std::fmt::Debug for UnsignedEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsignedEnvelope")
            .field("body_id", &self.body_id)
            .field("bytes", &(self.head.len() + self.tail.len()))
            .finish()
    }
}

/// Builds the `SendMessage` envelope for `request`. Refuses a message id that is not a UUID v4
/// or v7, an empty service id, and a payload that is not well-formed XML content, so that no
/// code path can emit broken XML. Every text is escaped.
pub fn build_envelope(
    config: &ShepConfig,
    request: &ShepRequest,
) -> Result<UnsignedEnvelope, ShepError> {
    if !matches!(request.message_id.get_version_num(), 4 | 7) {
        return Err(ShepError::InvalidRequest(
            "messageId must be a UUID v4 or v7".into(),
        ));
    }
    if request.service_id.trim().is_empty() {
        return Err(ShepError::InvalidRequest("serviceId is empty".into()));
    }
    if config.sender_id.trim().is_empty() {
        return Err(ShepError::Config("sender_id is empty".into()));
    }
    xml::check_fragment(request.data.as_bytes())
        .map_err(|e| ShepError::InvalidPayload(e.to_string()))?;
    let message_date = request
        .message_date
        .to_offset(offset!(+6))
        .format(MESSAGE_DATE)
        .map_err(|_| ShepError::InvalidRequest("messageDate cannot be written".into()))?;

    let body_id = format!("id-{}", request.message_id.hyphenated());
    let mut head = String::with_capacity(256);
    head.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    head.push_str(r#"<soap:Envelope xmlns:soap=""#);
    head.push_str(SOAP_ENVELOPE_NS);
    head.push_str(r#"" xmlns:wsu=""#);
    head.push_str(WSU_NS);
    head.push_str(r#""><soap:Header>"#);

    let mut x = String::with_capacity(1024 + request.data.len());
    x.push_str(r#"</soap:Header><soap:Body wsu:Id=""#);
    x.push_str(&body_id);
    x.push_str(r#""><typ:SendMessage xmlns:typ=""#);
    x.push_str(SYNC_TYPES_NS);
    // The message's children are unqualified, as the channel's schema and its clients have them.
    x.push_str(r#""><request><requestInfo>"#);
    element(
        &mut x,
        "messageId",
        &request.message_id.hyphenated().to_string(),
    );
    optional(&mut x, "correlationId", request.correlation_id.as_deref());
    element(&mut x, "serviceId", request.service_id.trim());
    element(&mut x, "messageDate", &message_date);
    optional(&mut x, "routeId", request.route_id.as_deref());
    x.push_str("<sender>");
    element(&mut x, "senderId", &config.sender_id);
    element(&mut x, "password", &config.password);
    x.push_str("</sender>");
    for property in &request.properties {
        x.push_str("<properties>");
        element(&mut x, "key", &property.key);
        element(&mut x, "value", &property.value);
        x.push_str("</properties>");
    }
    optional(&mut x, "sessionId", request.session_id.as_deref());
    x.push_str("</requestInfo><requestData><data>");
    x.push_str(&request.data);
    x.push_str("</data></requestData></request></typ:SendMessage></soap:Body></soap:Envelope>");
    Ok(UnsignedEnvelope {
        head,
        tail: x,
        body_id,
    })
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&quick_xml::escape::escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn optional(out: &mut String, name: &str, text: Option<&str>) {
    if let Some(text) = text {
        element(out, name, text);
    }
}

/// `responseInfo/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShepStatus {
    /// `code`; [`crate::SUCCESS_STATUS_CODE`] means success.
    pub code: String,
    /// `message` (at most 250 characters by the schema), shortened, long digit runs masked.
    pub message: String,
}

/// A `SendMessageResponse`, read but not judged: the status may be a failure. `Debug` shows the
/// size of `data`, never its content.
#[derive(Clone, PartialEq, Eq)]
pub struct ShepResponse {
    /// `responseInfo/messageId`.
    pub message_id: Option<String>,
    /// `responseInfo/correlationId`.
    pub correlation_id: Option<String>,
    /// `responseInfo/responseDate`, as sent.
    pub response_date: Option<String>,
    /// `responseInfo/sessionId`.
    pub session_id: Option<String>,
    /// `responseInfo/status`.
    pub status: ShepStatus,
    /// The content of `responseData/data`, verbatim (prefixes it uses may be declared on its
    /// ancestors); `None` when the answer has no data.
    pub data: Option<String>,
}

impl std::fmt::Debug for ShepResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShepResponse")
            .field("message_id", &self.message_id)
            .field("correlation_id", &self.correlation_id)
            .field("response_date", &self.response_date)
            .field("session_id", &self.session_id)
            .field("status", &self.status)
            .field("data_bytes", &self.data.as_ref().map(String::len))
            .finish()
    }
}

/// Reads a synchronous-channel answer: a `SendMessageResponse`, or a SOAP fault (SHEP's
/// `SendMessageSendMessageFaultMsg` becomes [`ShepError::Fault`], any other fault
/// [`ShepError::SoapFault`]).
pub fn parse_response(body: &[u8]) -> Result<ShepResponse, ShepError> {
    let root = xml::parse(body).map_err(|e| ShepError::Malformed(e.to_string()))?;
    if !root.is(SOAP_ENVELOPE_NS, "Envelope") {
        return Err(malformed("the answer is not a SOAP 1.1 envelope"));
    }
    let soap_body = root
        .child_ns(SOAP_ENVELOPE_NS, "Body")
        .ok_or_else(|| malformed("SOAP envelope without a Body"))?;
    if let Some(fault) = soap_body.child_ns(SOAP_ENVELOPE_NS, "Fault") {
        return Err(read_fault(fault));
    }
    let response = soap_body
        .child("SendMessageResponse")
        .ok_or_else(|| malformed("SOAP Body holds no SendMessageResponse"))?
        .child("response")
        .ok_or_else(|| malformed("SendMessageResponse without response"))?;
    let info = response
        .child("responseInfo")
        .ok_or_else(|| malformed("response without responseInfo"))?;
    let status = info
        .child("status")
        .ok_or_else(|| malformed("responseInfo without status"))?;
    let code = status
        .child_text("code")
        .ok_or_else(|| malformed("status without code"))?;
    let data = match response.child("responseData").and_then(|d| d.child("data")) {
        Some(data) => {
            let raw = body
                .get(data.inner.0..data.inner.1)
                .ok_or_else(|| malformed("data content out of range"))?;
            Some(
                String::from_utf8(raw.to_vec())
                    .map_err(|_| malformed("data content is not UTF-8"))?,
            )
        }
        None => None,
    };
    Ok(ShepResponse {
        message_id: info.child_text("messageId"),
        correlation_id: info.child_text("correlationId"),
        response_date: info.child_text("responseDate"),
        session_id: info.child_text("sessionId"),
        status: ShepStatus {
            code: short_message(&code),
            message: short_message(&status.child_text("message").unwrap_or_default()),
        },
        data,
    })
}

/// The deepest `subError` nesting read; deeper causes are dropped.
const MAX_SUB_ERRORS: usize = 16;

/// A SOAP 1.1 fault: SHEP's `ErrorInfo` when `detail` holds `SendMessageSendMessageFaultMsg`
/// (its fields either directly inside, or in an `ErrorInfo`/`errorInfo` child), else the plain
/// `faultcode` and `faultstring`.
fn read_fault(fault: &Element) -> ShepError {
    let shep = fault
        .child("detail")
        .and_then(|d| d.child("SendMessageSendMessageFaultMsg"));
    if let Some(msg) = shep {
        let info = msg
            .child("ErrorInfo")
            .or_else(|| msg.child("errorInfo"))
            .unwrap_or(msg);
        if info.child("errorCode").is_some() {
            let mut info = read_error_info(info, 0);
            let transient = info.chain().any(|e| is_transient_shep_code(&e.code));
            info.transient = transient;
            return ShepError::Fault(Box::new(info));
        }
    }
    ShepError::SoapFault {
        code: short_message(&fault.child_text("faultcode").unwrap_or_default()),
        message: short_message(&fault.child_text("faultstring").unwrap_or_default()),
    }
}

fn read_error_info(info: &Element, depth: usize) -> ErrorInfo {
    let sub_error = if depth < MAX_SUB_ERRORS {
        info.child("subError")
            .map(|sub| Box::new(read_error_info(sub, depth + 1)))
    } else {
        None
    };
    ErrorInfo {
        code: short_message(&info.child_text("errorCode").unwrap_or_default()),
        message: short_message(&info.child_text("errorMessage").unwrap_or_default()),
        date: info.child_text("errorDate"),
        session_id: info.child_text("sessionId"),
        has_error_data: info.child("errorData").is_some(),
        transient: false,
        sub_error,
    }
}

fn malformed(what: &str) -> ShepError {
    ShepError::Malformed(what.to_owned())
}
