//! The pension centre's payloads inside SHEP's `requestData/data` and `responseData/data`.
//!
//! The shapes, and how they are read, are in the crate docs.
//!
//! This module must never put a value from the payload (IINs, names, amounts) into an error or
//! a log line: errors name the problem only.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use time::Date;
use time::macros::format_description;

use kuzet_ident::{Bin, Iin};

use crate::error::GcvpError;
use crate::income::{Payment, Window, YearMonth};

/// The request payload's namespace by default *(inferred: the real one is not public)*.
pub const PAYLOAD_NS: &str = "urn:kuzet:gcvp:income:v1";

/// Builds the request payload for `iin` over `window`, in namespace `ns` (prefix `gcvp`).
/// Every text is escaped; the IIN appears only in `iin`.
pub fn build_request_data(ns: &str, iin: &Iin, window: &Window) -> String {
    let mut x = String::with_capacity(256);
    x.push_str(r#"<gcvp:IncomeRequest xmlns:gcvp=""#);
    x.push_str(&escape(ns));
    x.push_str(r#"">"#);
    element(&mut x, "gcvp:iin", iin.expose());
    element(&mut x, "gcvp:periodFrom", &window.first.to_string());
    element(&mut x, "gcvp:periodTo", &window.last.to_string());
    x.push_str("</gcvp:IncomeRequest>");
    x
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

/// The centre's answer as read, before the return code is judged.
#[derive(Clone, PartialEq, Eq)]
pub struct AnswerData {
    /// `returnCode`; 0 when absent.
    pub return_code: i64,
    /// `returnMessage`, shortened, long digit runs masked.
    pub return_message: Option<String>,
    pub(crate) payments: Vec<Payment>,
}

impl AnswerData {
    /// How many payments the answer lists.
    pub fn payment_count(&self) -> usize {
        self.payments.len()
    }
}

/// Payments carry personal data: `Debug` shows their count only.
impl std::fmt::Debug for AnswerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerData")
            .field("return_code", &self.return_code)
            .field("return_message", &self.return_message)
            .field("payments", &self.payments.len())
            .finish()
    }
}

#[derive(Default)]
struct RawPayment {
    period: Option<String>,
    payment_date: Option<String>,
    amount: Option<String>,
    employer_bin: Option<String>,
    employer_name: Option<String>,
}

fn malformed(what: &str) -> GcvpError {
    GcvpError::Malformed(what.to_owned())
}

fn xml_error(e: impl std::fmt::Display) -> GcvpError {
    GcvpError::Malformed(format!(
        "the payload is not well-formed XML: {}",
        kuzet_ident::short_message(&e.to_string())
    ))
}

/// Reads the content of SHEP's `responseData/data` (see the module docs for the shape).
pub fn parse_answer_data(data: &str) -> Result<AnswerData, GcvpError> {
    let mut reader = quick_xml::Reader::from_str(data);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::with_capacity(16);
    // Depth (stack length) at which the current `payment` was opened.
    let mut payment_depth: Option<usize> = None;
    let mut current = RawPayment::default();
    let mut raw_payments: Vec<RawPayment> = Vec::new();
    let mut return_code: Option<String> = None;
    let mut return_message: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Start(start) => {
                let name = std::str::from_utf8(start.local_name().into_inner())
                    .map_err(xml_error)?
                    .to_owned();
                stack.push(name);
                text.clear();
                if payment_depth.is_none() && stack.last().is_some_and(|n| n == "payment") {
                    payment_depth = Some(stack.len());
                    current = RawPayment::default();
                }
            }
            Event::Empty(start) => {
                // An empty `payment` is a payment without any field: refused below.
                if payment_depth.is_none() && start.local_name().into_inner() == b"payment" {
                    raw_payments.push(RawPayment::default());
                }
            }
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(malformed("an end tag without a start tag"));
                };
                let value = std::mem::take(&mut text);
                match payment_depth {
                    Some(depth) if stack.len() + 1 == depth => {
                        raw_payments.push(std::mem::take(&mut current));
                        payment_depth = None;
                    }
                    Some(depth) if stack.len() == depth => {
                        let slot = match name.as_str() {
                            "period" => &mut current.period,
                            "paymentDate" => &mut current.payment_date,
                            "amount" => &mut current.amount,
                            "employerBin" => &mut current.employer_bin,
                            "employerName" => &mut current.employer_name,
                            _ => continue,
                        };
                        *slot = Some(value);
                    }
                    Some(_) => {}
                    None => match name.as_str() {
                        "returnCode" => return_code = Some(value),
                        "returnMessage" => return_message = Some(value),
                        _ => {}
                    },
                }
            }
            Event::Text(t) => {
                let raw = std::str::from_utf8(t.as_ref()).map_err(xml_error)?;
                text.push_str(raw);
            }
            Event::CData(c) => {
                let raw = std::str::from_utf8(c.as_ref()).map_err(xml_error)?;
                text.push_str(raw);
            }
            Event::GeneralRef(reference) => {
                match reference.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => text.push(c),
                    None => {
                        let name = reference.decode().map_err(xml_error)?;
                        let resolved = resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed("the payload uses an unknown entity"))?;
                        text.push_str(resolved);
                    }
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and doctypes carry nothing we
            // read; quick-xml never expands custom entities.
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the payload ends inside an element"));
    }
    let return_code = match return_code.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(code) => code
            .parse::<i64>()
            .map_err(|_| malformed("returnCode is not an integer"))?,
    };
    let payments = raw_payments
        .into_iter()
        .map(read_payment)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AnswerData {
        return_code,
        return_message: return_message
            .map(|m| kuzet_ident::short_message(&m))
            .filter(|m| !m.is_empty()),
        payments,
    })
}

fn read_payment(raw: RawPayment) -> Result<Payment, GcvpError> {
    let month = raw
        .period
        .as_deref()
        .ok_or_else(|| malformed("a payment has no period"))
        .and_then(|p| {
            YearMonth::parse(p).ok_or_else(|| malformed("a payment's period is not YYYY-MM"))
        })?;
    let amount_tiyn = raw
        .amount
        .as_deref()
        .ok_or_else(|| malformed("a payment has no amount"))
        .and_then(parse_amount_tiyn)?;
    let employer_bin = raw
        .employer_bin
        .as_deref()
        .ok_or_else(|| malformed("a payment has no employer BIN"))
        .and_then(|b| {
            Bin::parse(b.trim()).map_err(|e| {
                GcvpError::Malformed(format!("a payment's employer BIN is not a valid BIN: {e}"))
            })
        })?;
    let payment_date = match raw.payment_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(parse_date(d)?),
    };
    let employer_name = raw
        .employer_name
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|n| !n.is_empty());
    Ok(Payment {
        month,
        payment_date,
        amount_tiyn,
        employer_bin,
        employer_name,
    })
}

/// `YYYY-MM-DD`, optionally followed by a time or an offset (`2026-02-20+06:00`,
/// `2026-02-20T00:00:00`): only the date is kept.
fn parse_date(text: &str) -> Result<Date, GcvpError> {
    let head = text.get(..10).unwrap_or(text);
    let rest = text.get(10..).unwrap_or("");
    if !(rest.is_empty() || rest.starts_with(['T', '+', '-', 'Z'])) {
        return Err(malformed("a payment's date is not YYYY-MM-DD"));
    }
    Date::parse(head, format_description!("[year]-[month]-[day]"))
        .map_err(|_| malformed("a payment's date is not YYYY-MM-DD"))
}

/// A non-negative KZT amount with at most two decimals (`.` or `,`), as whole tiyn. Refuses a
/// sign, an exponent, a third decimal and anything beyond `i64`.
pub fn parse_amount_tiyn(text: &str) -> Result<i64, GcvpError> {
    let t = text.trim();
    let bad =
        || malformed("a payment's amount is not a non-negative amount with at most two decimals");
    let (whole, frac) = match t.find(['.', ',']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_tiyn() {
        assert_eq!(parse_amount_tiyn("41250.00").unwrap(), 4_125_000);
        assert_eq!(parse_amount_tiyn(" 41250 ").unwrap(), 4_125_000);
        assert_eq!(parse_amount_tiyn("0.5").unwrap(), 50);
        assert_eq!(parse_amount_tiyn("12,07").unwrap(), 1207);
        assert_eq!(parse_amount_tiyn("0").unwrap(), 0);
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
            assert!(parse_amount_tiyn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_keep_the_day_only() {
        assert_eq!(parse_date("2026-02-20").unwrap().to_string(), "2026-02-20");
        assert_eq!(
            parse_date("2026-02-20+06:00").unwrap().to_string(),
            "2026-02-20"
        );
        assert_eq!(
            parse_date("2026-02-20T10:00:00").unwrap().to_string(),
            "2026-02-20"
        );
        assert!(parse_date("20.02.2026").is_err());
        assert!(parse_date("2026-02-30").is_err());
    }
}
