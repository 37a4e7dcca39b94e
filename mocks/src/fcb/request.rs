//! Reads the bureau's `GetReport` SOAP 1.1 request, whatever namespace prefixes the client
//! chose.
//!
//! Only the fields the mock acts on are kept. This module never validates business rules
//! (credentials, consent, IIN): it only says what the request contains.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::Error;

/// The SOAP 1.1 envelope namespace.
pub(crate) const SOAP11_NS: &[u8] = b"http://schemas.xmlsoap.org/soap/envelope/";
/// The bureau's report-service namespace.
pub(crate) const REPORT_NS: &[u8] = b"http://ws.creditinfo.com/";

/// What a `GetReport` request carries. Missing elements are `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct GetReport {
    /// Whether the header holds a `CigWsHeader` in the report namespace.
    pub header_present: bool,
    pub culture: Option<String>,
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub report_id: Option<String>,
    pub report_import_code: Option<String>,
    pub id_number: Option<String>,
    pub id_number_type: Option<String>,
    pub consent_confirmed: Option<String>,
}

/// Where in the envelope the reader is, so that same-named elements elsewhere are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Culture,
    UserName,
    Password,
    ReportId,
    ReportImportCode,
    IdNumber,
    IdNumberType,
    ConsentConfirmed,
    /// `doc` itself: its text may be an escaped `keyValue` document.
    Doc,
}

/// Parses a `GetReport` envelope.
pub(crate) fn parse(body: &[u8]) -> Result<GetReport, Error> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut out = GetReport::default();
    // Local names of the open elements, outermost first.
    let mut path: Vec<Vec<u8>> = Vec::with_capacity(8);
    let mut text = String::new();
    let mut doc_text = String::new();
    let mut slot: Option<Slot> = None;
    let mut saw_envelope = false;
    let mut saw_operation = false;

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|_| Error::MalformedXml)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name().as_ref().to_vec();
                let in_ns =
                    |want: &[u8]| matches!(ns, ResolveResult::Bound(n) if n.as_ref() == want);
                let depth = path.len();
                if depth == 0 {
                    if local != b"Envelope" {
                        return Err(Error::NotSoapEnvelope);
                    }
                    if !in_ns(SOAP11_NS) {
                        return Err(Error::SoapVersionMismatch);
                    }
                    saw_envelope = true;
                }
                let parent = path.last().map(Vec::as_slice);
                if depth == 2 && parent == Some(b"Header") && local == b"CigWsHeader" {
                    out.header_present = in_ns(REPORT_NS);
                }
                if depth == 2 && parent == Some(b"Body") {
                    if local == b"GetReport" && in_ns(REPORT_NS) {
                        saw_operation = true;
                    } else {
                        return Err(Error::UnknownOperation);
                    }
                }
                slot = slot_for(&path, &local, out.header_present);
                text.clear();
                if matches!(event, Event::Start(_)) {
                    path.push(local);
                } else {
                    slot = None;
                }
            }
            Event::Text(t) => push_text(
                &mut text,
                &mut doc_text,
                slot,
                &t.decode().map_err(|_| Error::MalformedXml)?,
            ),
            Event::CData(t) => push_text(
                &mut text,
                &mut doc_text,
                slot,
                &t.decode().map_err(|_| Error::MalformedXml)?,
            ),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|_| Error::MalformedXml)? {
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
                let mut buf = [0u8; 4];
                push_text(
                    &mut text,
                    &mut doc_text,
                    slot,
                    resolved.encode_utf8(&mut buf),
                );
            }
            Event::End(_) => {
                if let Some(s) = slot.take() {
                    store(&mut out, s, text.trim());
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_envelope {
        return Err(Error::NotSoapEnvelope);
    }
    if !saw_operation {
        return Err(Error::UnknownOperation);
    }
    // Some clients send `doc` as an escaped XML string rather than as child elements.
    if out.id_number.is_none() && doc_text.contains("keyValue") {
        read_escaped_doc(&doc_text, &mut out)?;
    }
    Ok(out)
}

fn push_text(text: &mut String, doc_text: &mut String, slot: Option<Slot>, s: &str) {
    match slot {
        Some(Slot::Doc) => doc_text.push_str(s),
        Some(_) => text.push_str(s),
        None => {}
    }
}

fn slot_for(path: &[Vec<u8>], local: &[u8], header_present: bool) -> Option<Slot> {
    let names: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [_, b"Header", b"CigWsHeader"] if header_present => match local {
            b"Culture" => Some(Slot::Culture),
            b"UserName" => Some(Slot::UserName),
            b"Password" => Some(Slot::Password),
            _ => None,
        },
        [_, b"Body", b"GetReport"] => match local {
            b"reportId" => Some(Slot::ReportId),
            b"doc" => Some(Slot::Doc),
            _ => None,
        },
        [_, b"Body", b"GetReport", b"doc", b"keyValue"] => key_value_slot(local),
        _ => None,
    }
}

fn key_value_slot(local: &[u8]) -> Option<Slot> {
    match local {
        b"reportImportCode" => Some(Slot::ReportImportCode),
        b"idNumber" => Some(Slot::IdNumber),
        b"idNumberType" => Some(Slot::IdNumberType),
        b"ConsentConfirmed" => Some(Slot::ConsentConfirmed),
        _ => None,
    }
}

fn store(out: &mut GetReport, slot: Slot, value: &str) {
    let v = Some(value.to_owned());
    match slot {
        Slot::Culture => out.culture = v,
        Slot::UserName => out.user_name = v,
        Slot::Password => out.password = v,
        Slot::ReportId => out.report_id = v,
        Slot::ReportImportCode => out.report_import_code = v,
        Slot::IdNumber => out.id_number = v,
        Slot::IdNumberType => out.id_number_type = v,
        Slot::ConsentConfirmed => out.consent_confirmed = v,
        Slot::Doc => {}
    }
}

/// Reads `<keyValue>…</keyValue>` given as text inside `doc`.
fn read_escaped_doc(doc: &str, out: &mut GetReport) -> Result<(), Error> {
    let mut reader = NsReader::from_str(doc);
    let mut slot = None;
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|_| Error::MalformedXml)? {
            Event::Start(e) => {
                slot = key_value_slot(e.local_name().as_ref());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|_| Error::MalformedXml)?),
            Event::End(_) => {
                if let Some(s) = slot.take() {
                    store(out, s, text.trim());
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_prefixes_and_escaped_doc() {
        let xml = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="http://ws.creditinfo.com/">
  <e:Header><c:CigWsHeader><c:Culture>ru-RU</c:Culture><c:UserName>u</c:UserName><c:Password>p&amp;q</c:Password></c:CigWsHeader></e:Header>
  <e:Body><c:GetReport><c:reportId>6</c:reportId><c:doc>&lt;keyValue&gt;&lt;reportImportCode&gt;6&lt;/reportImportCode&gt;&lt;idNumber&gt;870525301012&lt;/idNumber&gt;&lt;idNumberType&gt;14&lt;/idNumberType&gt;&lt;ConsentConfirmed&gt;1&lt;/ConsentConfirmed&gt;&lt;/keyValue&gt;</c:doc></c:GetReport></e:Body>
</e:Envelope>"#;
        let r = parse(xml.as_bytes()).expect("parses");
        assert!(r.header_present);
        assert_eq!(r.password.as_deref(), Some("p&q"));
        assert_eq!(r.report_id.as_deref(), Some("6"));
        assert_eq!(r.id_number.as_deref(), Some("870525301012"));
        assert_eq!(r.id_number_type.as_deref(), Some("14"));
        assert_eq!(r.consent_confirmed.as_deref(), Some("1"));
    }

    #[test]
    fn rejects_non_soap_and_unknown_operations() {
        assert!(parse(b"not xml <<").is_err());
        assert_eq!(parse(b"not xml"), Err(Error::NotSoapEnvelope));
        assert_eq!(parse(b"<Envelope/>"), Err(Error::SoapVersionMismatch));
        assert_eq!(parse(b"<Other/>"), Err(Error::NotSoapEnvelope));
        let other = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><x:Other xmlns:x="http://ws.creditinfo.com/"/></S:Body></S:Envelope>"#;
        assert_eq!(parse(other.as_bytes()), Err(Error::UnknownOperation));
    }
}
