//! The authority's payloads inside SHEP's `requestData/data` and `responseData/data`.
//!
//! The real schema is not public *(inferred shape)*: the element names follow the fields seen
//! in the authority's exchanges (`grnz`, `vin`, `body_no`, `chassis_no`, `issue_year`,
//! `color_name`, `iinbin`, `lastname`, …); inspection, driving bans and medical certificates
//! have no public shape and are designed like the rest. Namespace [`PAYLOAD_NS`] in requests;
//! answers are read by local name, so any prefix (declared or not: SHEP hands over the content
//! of `data`, whose prefixes may be declared on its ancestors) is accepted.
//!
//! The vehicle lookup (exactly one of `iinbin`, `vin`, `grnz`; `purpose` from configuration):
//!
//! ```xml
//! <tr:VehicleRequest xmlns:tr="urn:kuzet:traffic:v1">
//!   <tr:vin>XW8ZZZ61ZKG012345</tr:vin>
//!   <tr:purpose>contract_performance</tr:purpose>
//! </tr:VehicleRequest>
//! ```
//!
//! Its answer (the `VehicleResponse` wrapper is optional, the parts may sit directly in `data`;
//! every part is optional; dates `YYYY-MM-DD`, a time or offset after it ignored; amounts in
//! tenge with at most two decimals, `.` or `,`, another currency in a `currency` attribute):
//!
//! ```xml
//! <tr:VehicleResponse xmlns:tr="urn:kuzet:traffic:v1">
//!   <tr:returnCode>0</tr:returnCode>              <!-- absent: 0; see RETURN_CODES -->
//!   <tr:returnMessage>OK</tr:returnMessage>       <!-- optional -->
//!   <tr:vehicle>                                  <!-- several: the first is read -->
//!     <tr:grnz>123ABC02</tr:grnz>
//!     <tr:vin>XW8ZZZ61ZKG012345</tr:vin>
//!     <tr:body_no>XW8ZZZ61ZKG012345</tr:body_no>
//!     <tr:chassis_no>…</tr:chassis_no>
//!     <tr:make>TOYOTA</tr:make>
//!     <tr:model>CAMRY</tr:model>
//!     <tr:issue_year>2019</tr:issue_year>
//!     <tr:color_name>БЕЛЫЙ</tr:color_name>
//!     <tr:reg_date>2019-05-14</tr:reg_date>
//!     <tr:cert_series>AB</tr:cert_series>
//!     <tr:cert_no>00123456</tr:cert_no>
//!     <tr:status>registered</tr:status>
//!     <!-- engine_no, category, engine_volume, max_weight, … are ignored -->
//!   </tr:vehicle>
//!   <tr:inspection>
//!     <tr:inspection_date>2025-04-10</tr:inspection_date>
//!     <tr:valid_until>2026-04-10</tr:valid_until>
//!     <tr:result>passed</tr:result>
//!   </tr:inspection>
//!   <tr:owner>                                    <!-- and <tr:user>, same shape -->
//!     <tr:iinbin>050140001237</tr:iinbin>         <!-- an IIN, or a BIN for an entity -->
//!     <tr:org_name>ТОО «Пример»</tr:org_name>     <!-- a legal entity; else: -->
//!     <tr:lastname>…</tr:lastname><tr:firstname>…</tr:firstname><tr:midname>…</tr:midname>
//!   </tr:owner>
//!   <tr:offences>
//!     <tr:offence>
//!       <tr:protocol_no>…</tr:protocol_no>
//!       <tr:reg_date>2024-07-02</tr:reg_date>
//!       <tr:article>592.1</tr:article>
//!       <tr:authority>…</tr:authority>
//!       <tr:fine_amount>18460.00</tr:fine_amount>
//!       <tr:status>paid</tr:status>
//!     </tr:offence>
//!   </tr:offences>
//!   <tr:unpaid_fines>
//!     <tr:fine>
//!       <tr:protocol_no>…</tr:protocol_no><tr:reg_date>…</tr:reg_date>
//!       <tr:article>…</tr:article><tr:amount>7384.00</tr:amount>
//!     </tr:fine>
//!   </tr:unpaid_fines>
//!   <tr:driving_ban>
//!     <tr:active>true</tr:active>                 <!-- absent: true -->
//!     <tr:date_from>…</tr:date_from><tr:date_to>…</tr:date_to><tr:reason>…</tr:reason>
//!   </tr:driving_ban>
//!   <tr:medical_certificate><tr:valid_until>…</tr:valid_until></tr:medical_certificate>
//! </tr:VehicleResponse>
//! ```
//!
//! The user mark (`request_id` is the call's correlation id, so the authority can tie a
//! repeat to the first try):
//!
//! ```xml
//! <tr:UserMarkRequest xmlns:tr="urn:kuzet:traffic:v1">
//!   <tr:request_id>0190f5e2-…</tr:request_id>
//!   <tr:user_iin>870525301012</tr:user_iin>
//!   <tr:user_full_name>…</tr:user_full_name>
//!   <tr:contract_no>…</tr:contract_no>
//!   <tr:advance_account_no>…</tr:advance_account_no>
//! </tr:UserMarkRequest>
//! ```
//!
//! Its answer:
//!
//! ```xml
//! <tr:UserMarkResponse xmlns:tr="urn:kuzet:traffic:v1">
//!   <tr:returnCode>0</tr:returnCode>
//!   <tr:returnMessage>OK</tr:returnMessage>
//!   <tr:mark>
//!     <tr:accepted>true</tr:accepted>             <!-- absent: true -->
//!     <tr:mark_id>UM-…</tr:mark_id>
//!     <tr:registered_at>2026-03-02T10:15:00+06:00</tr:registered_at>
//!     <tr:message>…</tr:message>
//!   </tr:mark>
//! </tr:UserMarkResponse>
//! ```
//!
//! With a non-zero `returnCode` nothing but `returnCode` and `returnMessage` is read. Unknown
//! elements are ignored; structure is strict (mismatched or unclosed tags, unknown entities,
//! nesting deeper than [`MAX_DEPTH`]: [`TrafficError::Malformed`]).
//!
//! This module must never put a value from a payload (IINs, names, plates, amounts) into an
//! error or a log line: errors name the problem only.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use time::Date;
use time::macros::format_description;

use kuzet_ident::{Bin, Iin, short_message};

use crate::error::{RETURN_OK, TrafficError};
use crate::keys::{UserMarkRequest, VehicleRequest};
use crate::status::{
    CURRENCY_KZT, DrivingBan, Inspection, MedicalCertificate, Money, Person, Registration,
    UnpaidFine, UserMark, VehicleStatus, Violation,
};

/// The payloads' namespace *(inferred: the real one is not public)*.
pub const PAYLOAD_NS: &str = "urn:kuzet:traffic:v1";
/// Deepest element nesting accepted in an answer payload.
pub const MAX_DEPTH: usize = 32;
/// Longest full name, contract number or account number sent in a user mark, in characters.
pub const MAX_FIELD_CHARS: usize = 200;

/// Builds the vehicle lookup payload for `request`, stating `purpose`. Every text is escaped;
/// the key appears once.
pub fn build_vehicle_request_data(request: &VehicleRequest, purpose: &str) -> String {
    let mut x = String::with_capacity(192);
    open(&mut x, "VehicleRequest");
    match request {
        VehicleRequest::ByIin(iin) => element(&mut x, "tr:iinbin", iin.expose()),
        VehicleRequest::ByVin(vin) => element(&mut x, "tr:vin", vin.expose()),
        VehicleRequest::ByPlate(plate) => element(&mut x, "tr:grnz", plate.expose()),
    }
    element(&mut x, "tr:purpose", purpose.trim());
    x.push_str("</tr:VehicleRequest>");
    x
}

/// Builds the user mark payload for `request`, with `request_id` (the call's correlation id).
/// Refuses an empty or overlong name, contract or account number, and control characters in
/// them; whitespace in the name is collapsed. Every text is escaped.
pub fn build_user_mark_request_data(
    request: &UserMarkRequest,
    request_id: &str,
) -> Result<String, TrafficError> {
    request
        .check()
        .map_err(|e| TrafficError::InvalidRequest(e.to_string()))?;
    let [(_, full_name), (_, contract), (_, account)] = request.texts();
    let mut x = String::with_capacity(384);
    open(&mut x, "UserMarkRequest");
    element(&mut x, "tr:request_id", request_id);
    element(&mut x, "tr:user_iin", request.user_iin.expose());
    element(&mut x, "tr:user_full_name", &full_name);
    element(&mut x, "tr:contract_no", &contract);
    element(&mut x, "tr:advance_account_no", &account);
    x.push_str("</tr:UserMarkRequest>");
    Ok(x)
}

fn open(out: &mut String, root: &str) {
    out.push_str("<tr:");
    out.push_str(root);
    out.push_str(r#" xmlns:tr=""#);
    out.push_str(PAYLOAD_NS);
    out.push_str(r#"">"#);
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

/// A vehicle answer as read, before the return code is judged.
#[derive(Clone, PartialEq, Eq)]
pub struct VehicleAnswerData {
    /// `returnCode`; 0 when absent.
    pub return_code: i64,
    /// `returnMessage`, shortened, long digit runs masked.
    pub return_message: Option<String>,
    /// The parts read (all empty when the return code is not 0).
    pub status: VehicleStatus,
}

/// `Debug` shows the return code and the status's own (masked) `Debug`.
impl std::fmt::Debug for VehicleAnswerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VehicleAnswerData")
            .field("return_code", &self.return_code)
            .field("return_message", &self.return_message)
            .field("status", &self.status)
            .finish()
    }
}

/// A user mark answer as read, before the return code is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMarkAnswerData {
    /// `returnCode`; 0 when absent.
    pub return_code: i64,
    /// `returnMessage`, shortened, long digit runs masked.
    pub return_message: Option<String>,
    /// The acknowledgement (`None` when the return code is not 0).
    pub mark: Option<UserMark>,
}

/// Reads the content of SHEP's `responseData/data` for a vehicle lookup (see the module docs).
pub fn parse_vehicle_answer_data(data: &str) -> Result<VehicleAnswerData, TrafficError> {
    let tree = parse_tree(data)?;
    let root = tree.child("VehicleResponse").unwrap_or(&tree);
    let (return_code, return_message) = read_return(root)?;
    let status = if return_code == RETURN_OK {
        read_vehicle_status(root)?
    } else {
        VehicleStatus::default()
    };
    Ok(VehicleAnswerData {
        return_code,
        return_message,
        status,
    })
}

/// Reads the content of SHEP's `responseData/data` for a user mark (see the module docs).
pub fn parse_user_mark_answer_data(data: &str) -> Result<UserMarkAnswerData, TrafficError> {
    let tree = parse_tree(data)?;
    let root = tree.child("UserMarkResponse").unwrap_or(&tree);
    let (return_code, return_message) = read_return(root)?;
    let mark = if return_code == RETURN_OK {
        let mark = root.child("mark").unwrap_or(root);
        Some(UserMark {
            accepted: match mark.text("accepted") {
                None => true,
                Some(v) => parse_bool(&v).ok_or_else(|| malformed("accepted is not a boolean"))?,
            },
            mark_id: mark.text("mark_id"),
            registered_at: mark.text("registered_at"),
            message: mark.text("message").map(|m| short_message(&m)),
        })
    } else {
        None
    };
    Ok(UserMarkAnswerData {
        return_code,
        return_message,
        mark,
    })
}

fn read_return(root: &Node) -> Result<(i64, Option<String>), TrafficError> {
    let code = match root.text("returnCode") {
        None => RETURN_OK,
        Some(code) => code
            .parse::<i64>()
            .map_err(|_| malformed("returnCode is not an integer"))?,
    };
    let message = root
        .text("returnMessage")
        .map(|m| short_message(&m))
        .filter(|m| !m.is_empty());
    Ok((code, message))
}

fn read_vehicle_status(root: &Node) -> Result<VehicleStatus, TrafficError> {
    let registration = root.child("vehicle").map(read_registration).transpose()?;
    let inspection = match root.child("inspection") {
        Some(n) => Some(Inspection {
            date: n.date("inspection_date", "the inspection date")?,
            valid_until: n.date("valid_until", "the inspection's validity")?,
            result: n.text("result"),
        }),
        None => None,
    };
    let owner = root.child("owner").map(read_person).transpose()?;
    let user = root.child("user").map(read_person).transpose()?;
    let violations = match root.child("offences") {
        Some(list) => list
            .children_named("offence")
            .map(|n| {
                Ok(Violation {
                    protocol_number: n.text("protocol_no"),
                    date: n.date("reg_date", "an offence's date")?,
                    article: n.text("article"),
                    authority: n.name_text("authority"),
                    fine_amount: n.money("fine_amount", "an offence's fine")?,
                    status: n.text("status"),
                })
            })
            .collect::<Result<Vec<_>, TrafficError>>()?,
        None => Vec::new(),
    };
    let unpaid_fines = match root.child("unpaid_fines") {
        Some(list) => list
            .children_named("fine")
            .map(|n| {
                Ok(UnpaidFine {
                    protocol_number: n.text("protocol_no"),
                    date: n.date("reg_date", "an unpaid fine's date")?,
                    article: n.text("article"),
                    amount: n.money("amount", "an unpaid fine's amount")?,
                })
            })
            .collect::<Result<Vec<_>, TrafficError>>()?,
        None => Vec::new(),
    };
    let driving_ban = match root.child("driving_ban") {
        Some(n) => Some(DrivingBan {
            active: match n.text("active") {
                None => true,
                Some(v) => {
                    parse_bool(&v).ok_or_else(|| malformed("a ban's active is not a boolean"))?
                }
            },
            from: n.date("date_from", "a ban's first day")?,
            until: n.date("date_to", "a ban's last day")?,
            reason: n.name_text("reason"),
        }),
        None => None,
    };
    let medical_certificate = match root.child("medical_certificate") {
        Some(n) => Some(MedicalCertificate {
            valid_until: n.date("valid_until", "the medical certificate's validity")?,
        }),
        None => None,
    };
    Ok(VehicleStatus {
        registration,
        inspection,
        owner,
        user,
        violations,
        unpaid_fines,
        driving_ban,
        medical_certificate,
    })
}

fn read_registration(n: &Node) -> Result<Registration, TrafficError> {
    let year = match n.text("issue_year") {
        None => None,
        Some(y) => Some(
            y.parse::<u16>()
                .ok()
                .filter(|y| (1886..=2200).contains(y))
                .ok_or_else(|| malformed("the vehicle's issue_year is not a year"))?,
        ),
    };
    Ok(Registration {
        plate: n.text("grnz"),
        vin: n.text("vin"),
        body_number: n.text("body_no"),
        chassis_number: n.text("chassis_no"),
        make: n.name_text("make"),
        model: n.name_text("model"),
        year,
        colour: n.name_text("color_name"),
        registration_date: n.date("reg_date", "the registration date")?,
        certificate_series: n.text("cert_series"),
        certificate_number: n.text("cert_no"),
        status: n.text("status"),
    })
}

/// An owner or user: `org_name` marks a legal entity, whose `iinbin` is read as a BIN first;
/// a person's as an IIN first. An `iinbin` valid as neither is malformed.
fn read_person(n: &Node) -> Result<Person, TrafficError> {
    let org_name = n.name_text("org_name");
    let full_name = org_name.clone().or_else(|| {
        let parts: Vec<String> = ["lastname", "firstname", "midname"]
            .iter()
            .filter_map(|p| n.name_text(p))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let (mut iin, mut bin) = (None, None);
    if let Some(id) = n.text("iinbin") {
        let as_iin = || Iin::parse(&id).ok();
        let as_bin = || Bin::parse(&id).ok();
        if org_name.is_some() {
            bin = as_bin();
            if bin.is_none() {
                iin = as_iin();
            }
        } else {
            iin = as_iin();
            if iin.is_none() {
                bin = as_bin();
            }
        }
        if iin.is_none() && bin.is_none() {
            return Err(malformed(
                "an iinbin is neither a valid IIN nor a valid BIN",
            ));
        }
    }
    Ok(Person {
        full_name,
        iin,
        bin,
    })
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD`, optionally followed by a time or an offset (`2026-02-20+06:00`,
/// `2026-02-20T00:00:00`): only the date is kept.
pub fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim();
    let head = t.get(..10)?;
    let rest = t.get(10..).unwrap_or("");
    if !(rest.is_empty() || rest.starts_with(['T', '+', '-', 'Z'])) {
        return None;
    }
    Date::parse(head, format_description!("[year]-[month]-[day]")).ok()
}

/// A non-negative amount with at most two decimals (`.` or `,`), as whole hundredths (tiyn).
/// Refuses a sign, an exponent, a third decimal and anything beyond `i64`.
pub fn parse_amount_minor(text: &str) -> Option<i64> {
    let t = text.trim();
    let (whole, frac) = match t.find(['.', ',']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

fn malformed(what: &str) -> TrafficError {
    TrafficError::Malformed(what.to_owned())
}

fn xml_error(e: impl std::fmt::Display) -> TrafficError {
    TrafficError::Malformed(format!(
        "the payload is not well-formed XML: {}",
        short_message(&e.to_string())
    ))
}

/// An element of the payload: local name, attributes by local name, direct text, children.
#[derive(Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn from_start(start: &BytesStart<'_>) -> Result<Self, TrafficError> {
        let name = std::str::from_utf8(start.local_name().into_inner())
            .map_err(xml_error)?
            .to_owned();
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(xml_error)?;
            let key = std::str::from_utf8(attr.key.local_name().into_inner())
                .map_err(xml_error)?
                .to_owned();
            let value = attr.unescape_value().map_err(xml_error)?.into_owned();
            attrs.push((key, value));
        }
        Ok(Self {
            name,
            attrs,
            ..Self::default()
        })
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of child `name`; `None` when absent or blank.
    fn text(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// The text of child `name` with whitespace collapsed (names, labels).
    fn name_text(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty())
    }

    fn date(&self, name: &str, what: &str) -> Result<Option<Date>, TrafficError> {
        self.text(name)
            .map(|t| {
                parse_date(&t)
                    .ok_or_else(|| TrafficError::Malformed(format!("{what} is not YYYY-MM-DD")))
            })
            .transpose()
    }

    fn money(&self, name: &str, what: &str) -> Result<Option<Money>, TrafficError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        let minor = parse_amount_minor(&text).ok_or_else(|| {
            TrafficError::Malformed(format!(
                "{what} is not a non-negative amount with at most two decimals"
            ))
        })?;
        let currency = self
            .child(name)
            .and_then(|c| c.attrs.iter().find(|(k, _)| k == "currency"))
            .map(|(_, v)| v.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| CURRENCY_KZT.to_owned());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TrafficError::Malformed(format!(
                "{what} has a currency that is not a three-letter code"
            )));
        }
        Ok(Some(Money { minor, currency }))
    }
}

/// Reads `data` into a tree under a nameless root holding its top-level elements.
fn parse_tree(data: &str) -> Result<Node, TrafficError> {
    let mut reader = quick_xml::Reader::from_str(data);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Start(start) => {
                if stack.len() > MAX_DEPTH {
                    return Err(malformed("the payload is nested too deeply"));
                }
                stack.push(Node::from_start(&start)?);
            }
            Event::Empty(start) => {
                let node = Node::from_start(&start)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .filter(|_| !stack.is_empty())
                    .ok_or_else(|| malformed("an end tag without a start tag"))?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                }
            }
            Event::Text(t) => {
                let raw = std::str::from_utf8(t.as_ref()).map_err(xml_error)?;
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(raw);
                }
            }
            Event::CData(c) => {
                let raw = std::str::from_utf8(c.as_ref()).map_err(xml_error)?;
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(raw);
                }
            }
            Event::GeneralRef(reference) => {
                let mut resolved = String::new();
                match reference.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => resolved.push(c),
                    None => {
                        let name = reference.decode().map_err(xml_error)?;
                        resolved.push_str(
                            resolve_predefined_entity(&name)
                                .ok_or_else(|| malformed("the payload uses an unknown entity"))?,
                        );
                    }
                }
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and doctypes carry nothing we
            // read; quick-xml never expands custom entities.
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some(root), true) => Ok(root),
        _ => Err(malformed("the payload ends inside an element")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_minor_units() {
        assert_eq!(parse_amount_minor("18460.00"), Some(1_846_000));
        assert_eq!(parse_amount_minor(" 7384 "), Some(738_400));
        assert_eq!(parse_amount_minor("0.5"), Some(50));
        assert_eq!(parse_amount_minor("12,07"), Some(1207));
        assert_eq!(parse_amount_minor("92233720368547758.07"), Some(i64::MAX));
        for bad in [
            "",
            "-1.00",
            "+1",
            "1.005",
            "1e3",
            ".50",
            "1.2.3",
            "92233720368547758.08",
        ] {
            assert_eq!(parse_amount_minor(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_keep_the_day_only() {
        assert_eq!(
            parse_date("2026-02-20+06:00").map(crate::status::iso_date),
            Some("2026-02-20".to_owned())
        );
        assert!(parse_date("2026-02-20T10:00:00").is_some());
        assert!(parse_date("20.02.2026").is_none());
        assert!(parse_date("2026-02-30").is_none());
    }

    #[test]
    fn the_tree_is_strict() {
        assert!(parse_tree("<a><b></a>").is_err());
        assert!(parse_tree("<a>").is_err());
        assert!(parse_tree("</a>").is_err());
        assert!(parse_tree("<a>&custom;</a>").is_err());
        let deep = "<a>".repeat(MAX_DEPTH + 2) + &"</a>".repeat(MAX_DEPTH + 2);
        assert!(parse_tree(&deep).is_err());
        let t = parse_tree("<x:a xmlns:x='u'>1 &amp; <![CDATA[2]]></x:a><b/>").unwrap();
        assert_eq!(t.children.len(), 2);
        assert_eq!(t.children[0].name, "a");
        assert_eq!(t.children[0].text, "1 & 2");
    }
}
