//! Kazakh identifiers: the IIN (individual identification number) and the BIN (business
//! identification number), validated with their check digit.
//!
//! An [`Iin`] is personal data. Its `Debug` and `Display` print it masked (`8705******13`), so
//! that it can never leak into tracing output or error messages by accident; the clear value is
//! only reachable through [`Iin::expose`], which makes each such use visible in review.

#![forbid(unsafe_code)]

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

/// Why a string is not a valid IIN or BIN. Messages never repeat the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("the first six digits are not a valid date (YYMMDD)")]
    Date,
    #[error("the seventh digit (century and sex) must be 1 to 6")]
    Century,
    #[error("the check digit does not match")]
    CheckDigit,
    #[error("the fifth digit (BIN type) must be 4, 5 or 6")]
    BinType,
    #[error("the first four digits are not a valid year and month (YYMM)")]
    BinMonth,
}

/// The check digit of an IIN or BIN from its first eleven digits, or `None` when the
/// algorithm yields 10 under both weightings (such numbers are never issued).
pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
    let sum = |weights: [u32; 11]| -> u32 {
        first11
            .iter()
            .zip(weights)
            .map(|(d, w)| u32::from(*d) * w)
            .sum::<u32>()
            % 11
    };
    let first = sum([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    if first != 10 {
        return u8::try_from(first).ok();
    }
    let second = sum([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
    if second == 10 {
        None
    } else {
        u8::try_from(second).ok()
    }
}

/// Appends the check digit to eleven ASCII digits; `None` when there is none.
fn with_check_digit(first11: String) -> Option<String> {
    let mut d = [0u8; 11];
    for (o, b) in d.iter_mut().zip(first11.as_bytes()) {
        *o = b.wrapping_sub(b'0');
    }
    let c = check_digit(&d)?;
    Some(format!("{first11}{c}"))
}

fn digits(s: &str) -> Result<[u8; 12], IdentError> {
    let bytes = s.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(IdentError::Format);
    }
    let mut out = [0u8; 12];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b - b'0';
    }
    Ok(out)
}

fn verify_check_digit(d: &[u8; 12]) -> Result<(), IdentError> {
    let mut first11 = [0u8; 11];
    first11.copy_from_slice(&d[..11]);
    match check_digit(&first11) {
        Some(c) if c == d[11] => Ok(()),
        _ => Err(IdentError::CheckDigit),
    }
}

/// An individual identification number, validated: date of birth, century digit, check digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin(String);

impl Iin {
    /// Parses and validates an IIN.
    pub fn parse(s: &str) -> Result<Self, IdentError> {
        let d = digits(s)?;
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            _ => return Err(IdentError::Century),
        };
        let yy = i32::from(d[0] * 10 + d[1]);
        let month = Month::try_from(d[2] * 10 + d[3]).map_err(|_| IdentError::Date)?;
        Date::from_calendar_date(century + yy, month, d[4] * 10 + d[5])
            .map_err(|_| IdentError::Date)?;
        verify_check_digit(&d)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds a valid IIN from a birth date, sex and a four-digit serial, choosing the check
    /// digit; `None` when that serial has no valid check digit. For synthetic people only.
    pub fn synthesize(birth: Date, male: bool, serial: u16) -> Option<Self> {
        let year = birth.year();
        let century_digit = match (year / 100, male) {
            (18, true) => 1,
            (18, false) => 2,
            (19, true) => 3,
            (19, false) => 4,
            (20, true) => 5,
            (20, false) => 6,
            _ => return None,
        };
        let s = format!(
            "{:02}{:02}{:02}{}{:04}",
            year % 100,
            u8::from(birth.month()),
            birth.day(),
            century_digit,
            serial % 10_000
        );
        with_check_digit(s).map(Self)
    }

    /// The clear value. Every call site is a place where personal data is handled on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The date of birth encoded in the first seven digits.
    pub fn birth_date(&self) -> Date {
        let d = self.0.as_bytes();
        let n = |i: usize| d[i] - b'0';
        let century = match n(6) {
            1 | 2 => 1800,
            3 | 4 => 1900,
            _ => 2000,
        };
        let year = century + i32::from(n(0) * 10 + n(1));
        let month = Month::try_from(n(2) * 10 + n(3)).unwrap_or(Month::January);
        // Validated in `parse`/`synthesize`, so the fallback is unreachable.
        Date::from_calendar_date(year, month, n(4) * 10 + n(5)).unwrap_or(Date::MIN)
    }

    /// Whether the century digit marks a man (odd) or a woman (even).
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[6] - b'0') % 2 == 1
    }

    /// The masked form, `870525******`-style: the first four and the last two digits.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks any identifier-like string: keeps the first four and last two characters.
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.extend(&chars[..4]);
    out.extend(std::iter::repeat_n('*', chars.len() - 6));
    out.extend(&chars[chars.len() - 2..]);
    out
}

/// Keeps a message from another party short and free of identifier-like numbers, for errors
/// and logs (a party may echo an IIN, 12 digits, or a document number back): runs of six or
/// more digits are masked with [`mask`], whitespace is collapsed, and the result is cut at 200
/// characters (with `…`).
pub fn short_message(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 2));
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.push_str(&mask(digits));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    let mut last_space = true;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            last_space = false;
            continue;
        }
        flush(&mut digits, &mut out);
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    flush(&mut digits, &mut out);
    let trimmed = out.trim_end();
    match trimmed.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({})", self.masked())
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for Iin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Iin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iin::parse(&s).map_err(|e| serde::de::Error::custom(format!("invalid IIN: {e}")))
    }
}

/// A business identification number, validated: registration month, type digit, check digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Bin(String);

impl Bin {
    /// Parses and validates a BIN.
    pub fn parse(s: &str) -> Result<Self, IdentError> {
        let d = digits(s)?;
        let month = d[2] * 10 + d[3];
        if !(1..=12).contains(&month) {
            return Err(IdentError::BinMonth);
        }
        if !matches!(d[4], 4..=6) {
            return Err(IdentError::BinType);
        }
        verify_check_digit(&d)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds a valid BIN (resident legal entity, head office) for synthetic organisations.
    pub fn synthesize(yy: u8, month: u8, serial: u32) -> Option<Self> {
        let s = format!(
            "{:02}{:02}40{:05}",
            yy % 100,
            month.clamp(1, 12),
            serial % 100_000
        );
        with_check_digit(s).map(Self)
    }

    /// A BIN identifies an organisation, not a person: it may be shown in clear.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bin({})", self.0)
    }
}

impl fmt::Display for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn short_message_masks_numbers_and_keeps_the_spacing() {
        assert_eq!(
            short_message("Subject 870525301012\n\n not found, code 42"),
            "Subject 8705******12 not found, code 42"
        );
        assert_eq!(short_message("  a   b  "), "a b");
        assert_eq!(short_message("id 123456 ok"), "id ****** ok");
        let long = short_message(&"x".repeat(500));
        assert_eq!(long.chars().count(), 201);
        assert!(long.ends_with('…'));
    }

    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn accepts_valid_iins() {
        // Synthetic, computed with the published algorithm.
        let iin = Iin::synthesize(date!(1987 - 05 - 25), true, 1234).expect("valid serial");
        assert_eq!(Iin::parse(iin.expose()), Ok(iin.clone()));
        assert_eq!(iin.birth_date(), date!(1987 - 05 - 25));
        assert!(iin.is_male());
    }

    #[test]
    fn second_weighting_is_used_when_first_gives_ten() {
        // Find a number whose first weighting gives 10 and check that parse accepts the
        // second weighting's digit.
        let mut found = false;
        for serial in 0..10_000u16 {
            let s = format!("870525300{:02}", serial % 100);
            let mut first11 = [0u8; 11];
            for (o, b) in first11.iter_mut().zip(s.as_bytes()) {
                *o = b - b'0';
            }
            let w1: u32 = first11
                .iter()
                .zip(1..=11u32)
                .map(|(d, w)| u32::from(*d) * w)
                .sum::<u32>()
                % 11;
            if w1 == 10
                && let Some(c) = check_digit(&first11)
            {
                assert!(Iin::parse(&format!("{s}{c}")).is_ok());
                found = true;
                break;
            }
        }
        assert!(found);
    }

    #[test]
    fn rejects_bad_iins() {
        let good = Iin::synthesize(date!(1990 - 01 - 31), false, 42).expect("valid");
        let g = good.expose();
        let bad_check = format!("{}{}", &g[..11], (g.as_bytes()[11] - b'0' + 1) % 10);
        assert_eq!(Iin::parse(&bad_check), Err(IdentError::CheckDigit));
        assert_eq!(Iin::parse("900231400425"), Err(IdentError::Date)); // 31 Feb... 23rd month
        assert_eq!(Iin::parse("901301400425"), Err(IdentError::Date)); // month 13
        assert_eq!(Iin::parse("900101700425"), Err(IdentError::Century));
        assert_eq!(Iin::parse("900101000425"), Err(IdentError::Century));
        assert_eq!(Iin::parse("90010140042"), Err(IdentError::Format));
        assert_eq!(Iin::parse("9001014004250"), Err(IdentError::Format));
        assert_eq!(Iin::parse("90010140042a"), Err(IdentError::Format));
        assert_eq!(Iin::parse(""), Err(IdentError::Format));
        assert_eq!(
            Iin::parse("９００１０１４００４２５"),
            Err(IdentError::Format)
        );
    }

    #[test]
    fn never_displays_in_clear() {
        let iin = Iin::synthesize(date!(1987 - 05 - 25), true, 1234).expect("valid");
        let shown = format!("{iin} {iin:?}");
        assert!(!shown.contains(iin.expose()));
        assert!(shown.contains("8705******"));
        let json = serde_json::to_string(&iin).expect("serialize");
        assert_eq!(json, format!("\"{}\"", iin.expose()));
    }

    #[test]
    fn bins() {
        let bin = Bin::synthesize(5, 3, 12345).or_else(|| Bin::synthesize(5, 3, 12346));
        let bin = bin.expect("one of two serials has a check digit");
        assert_eq!(Bin::parse(bin.as_str()), Ok(bin.clone()));
        assert_eq!(Bin::parse("051370012345"), Err(IdentError::BinMonth));
    }

    proptest! {
        #[test]
        fn synthesized_iins_always_parse(days in 0i32..70_000, male: bool, serial in 0u16..10_000) {
            let birth = date!(1850 - 01 - 01) + time::Duration::days(i64::from(days));
            if let Some(iin) = Iin::synthesize(birth, male, serial) {
                prop_assert_eq!(Iin::parse(iin.expose()), Ok(iin.clone()));
                prop_assert_eq!(iin.birth_date(), birth);
                prop_assert_eq!(iin.is_male(), male);
            }
        }

        #[test]
        fn a_changed_check_digit_is_caught(days in 0i32..50_000, serial in 0u16..10_000, delta in 1u8..10) {
            let birth = date!(1900 - 01 - 01) + time::Duration::days(i64::from(days));
            if let Some(iin) = Iin::synthesize(birth, true, serial) {
                let mut b = iin.expose().as_bytes().to_vec();
                b[11] = b'0' + (b[11] - b'0' + delta) % 10;
                let changed = String::from_utf8(b).expect("ascii");
                prop_assert_eq!(Iin::parse(&changed), Err(IdentError::CheckDigit));
            }
        }
    }
}
