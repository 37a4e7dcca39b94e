//! The bureau's value formats: amounts like `"120 000,00 KZT"`, dates `dd.MM.yyyy`, counts
//! like `"49 (2 (A) + 47 (B))"`, rates like `"51.00"`, and `"-"` for "no data".
//!
//! Every reader returns `Ok(None)` for an absent value (empty, whitespace, `"-"`) and
//! `Err(InvalidValue)` for text it cannot read, so that the caller decides what a bad field
//! means (the report reader drops it). Amounts never pass through floating point.

use std::fmt;

use time::{Date, Month, PrimitiveDateTime, Time};

use crate::report::Money;

/// A value that is present but cannot be read. Carries nothing: the text may be personal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidValue;

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unreadable bureau value")
    }
}

impl std::error::Error for InvalidValue {}

/// Spaces the bureau uses inside and around numbers: ASCII, no-break, narrow no-break.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}'
}

/// The text without surrounding spaces, or `None` when it means "no data".
pub fn present(text: &str) -> Option<&str> {
    let t = text.trim_matches(is_space);
    if t.is_empty() || t == "-" {
        None
    } else {
        Some(t)
    }
}

/// Reads an amount: optional sign, digits grouped by spaces, an optional decimal part after
/// `,` (or `.`) with at most two digits (more only if they are zeros), then an optional
/// currency code. `"120 000,00 KZT"` → 12 000 000 minor units of KZT; `"0"` → 0 with no
/// currency.
pub fn parse_amount(text: &str) -> Result<Option<Money>, InvalidValue> {
    let Some(t) = present(text) else {
        return Ok(None);
    };
    let number = t.trim_end_matches(|c: char| c.is_alphabetic());
    let currency = &t[number.len()..];
    let minor = parse_hundredths(number)?;
    Ok(Some(Money {
        minor,
        currency: currency.to_owned(),
    }))
}

/// Reads a percentage into basis points (hundredths of a percent): `"51.00"` → 5100.
pub fn parse_rate_bps(text: &str) -> Result<Option<i64>, InvalidValue> {
    let Some(t) = present(text) else {
        return Ok(None);
    };
    let t = t.strip_suffix('%').unwrap_or(t);
    parse_hundredths(t).map(Some)
}

/// A decimal number in hundredths, exactly.
fn parse_hundredths(text: &str) -> Result<i64, InvalidValue> {
    let t = text.trim_matches(is_space);
    let (negative, t) = match t.strip_prefix(['-', '\u{2212}']) {
        Some(rest) => (true, rest.trim_start_matches(is_space)),
        None => (false, t),
    };
    let (int_part, frac_part) = match t.find([',', '.']) {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let mut units: i64 = 0;
    let mut int_digits = 0;
    for c in int_part.chars() {
        if let Some(d) = c.to_digit(10) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i64::from(d)))
                .ok_or(InvalidValue)?;
            int_digits += 1;
        } else if !is_space(c) {
            return Err(InvalidValue);
        }
    }
    let mut hundredths: i64 = 0;
    let mut frac_digits = 0;
    for c in frac_part.chars() {
        let d = c.to_digit(10).ok_or(InvalidValue)?;
        frac_digits += 1;
        if frac_digits <= 2 {
            hundredths = hundredths * 10 + i64::from(d);
        } else if d != 0 {
            // A third significant decimal cannot be held exactly in minor units.
            return Err(InvalidValue);
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return Err(InvalidValue);
    }
    if frac_digits == 1 {
        hundredths *= 10;
    }
    let minor = units
        .checked_mul(100)
        .and_then(|m| m.checked_add(hundredths))
        .ok_or(InvalidValue)?;
    Ok(if negative { -minor } else { minor })
}

/// Reads a date: `dd.MM.yyyy`, or `yyyy-MM-dd`; a time after a space is ignored.
pub fn parse_date(text: &str) -> Result<Option<Date>, InvalidValue> {
    let Some(t) = present(text) else {
        return Ok(None);
    };
    let day_part = t.split(is_space).next().unwrap_or(t);
    date_of(day_part).map(Some)
}

/// Reads a date and time: `dd.MM.yyyy HH:mm:ss` (or with an ISO date).
pub fn parse_datetime(text: &str) -> Result<Option<PrimitiveDateTime>, InvalidValue> {
    let Some(t) = present(text) else {
        return Ok(None);
    };
    let mut parts = t.split(is_space).filter(|p| !p.is_empty());
    let date = date_of(parts.next().ok_or(InvalidValue)?)?;
    let time = match parts.next() {
        Some(clock) => time_of(clock)?,
        None => Time::MIDNIGHT,
    };
    if parts.next().is_some() {
        return Err(InvalidValue);
    }
    Ok(Some(PrimitiveDateTime::new(date, time)))
}

fn number<T: std::str::FromStr>(s: &str, len: usize) -> Result<T, InvalidValue> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue);
    }
    s.parse().map_err(|_| InvalidValue)
}

fn date_of(s: &str) -> Result<Date, InvalidValue> {
    let (year, month, day) = if let Some((d, rest)) = s.split_once('.') {
        let (m, y) = rest.split_once('.').ok_or(InvalidValue)?;
        (
            number::<i32>(y, 4)?,
            number::<u8>(m, 2)?,
            number::<u8>(d, 2)?,
        )
    } else {
        let mut it = s.splitn(3, '-');
        let y = it.next().ok_or(InvalidValue)?;
        let m = it.next().ok_or(InvalidValue)?;
        let d = it.next().ok_or(InvalidValue)?;
        (
            number::<i32>(y, 4)?,
            number::<u8>(m, 2)?,
            number::<u8>(d, 2)?,
        )
    };
    let month = Month::try_from(month).map_err(|_| InvalidValue)?;
    Date::from_calendar_date(year, month, day).map_err(|_| InvalidValue)
}

fn time_of(s: &str) -> Result<Time, InvalidValue> {
    // Fractions of a second (`12:00:00.070`) are dropped: the bureau's are not meaningful.
    let s = s.split('.').next().unwrap_or(s);
    let mut it = s.split(':');
    let h = number::<u8>(it.next().ok_or(InvalidValue)?, 2)?;
    let m = number::<u8>(it.next().ok_or(InvalidValue)?, 2)?;
    let sec = match it.next() {
        Some(x) => number::<u8>(x, 2)?,
        None => 0,
    };
    if it.next().is_some() {
        return Err(InvalidValue);
    }
    Time::from_hms(h, m, sec).map_err(|_| InvalidValue)
}

/// Reads a count: the leading whole number. The bureau appends breakdowns such as
/// `"9 (7 (BANK) + 2 (MFO))"`; the total is what it leads with.
pub fn parse_count(text: &str) -> Result<Option<u32>, InvalidValue> {
    let Some(t) = present(text) else {
        return Ok(None);
    };
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if end == 0 {
        return Err(InvalidValue);
    }
    let rest = t[end..].trim_start_matches(is_space);
    if !(rest.is_empty() || rest.starts_with('(')) {
        return Err(InvalidValue);
    }
    t[..end].parse().map(Some).map_err(|_| InvalidValue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_values() {
        assert_eq!(present(" - "), None);
        assert_eq!(present("\u{a0}"), None);
        assert_eq!(parse_count("-"), Ok(None));
    }

    #[test]
    fn counts_with_breakdowns() {
        assert_eq!(parse_count("9 (7 (EVK) + 4 (FWO))"), Ok(Some(9)));
        assert_eq!(parse_count("12"), Ok(Some(12)));
        assert_eq!(parse_count("12 apples"), Err(InvalidValue));
        assert_eq!(parse_count("x"), Err(InvalidValue));
    }

    #[test]
    fn datetimes() {
        assert_eq!(
            parse_datetime("22.12.2021 21:46:59"),
            Ok(Some(time::macros::datetime!(2021-12-22 21:46:59)))
        );
        assert_eq!(
            parse_datetime("2021-12-22 00:00:00.000"),
            Ok(Some(time::macros::datetime!(2021-12-22 0:00)))
        );
        assert_eq!(parse_datetime("44.83.3049 81:54:38"), Err(InvalidValue));
    }
}
