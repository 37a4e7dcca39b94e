//! The bureau's amounts, dates, counts and rates.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use kuzet_fcb::{InvalidValue, Money, parse_amount, parse_count, parse_date, parse_rate_bps};
use time::macros::date;

fn money(minor: i64, currency: &str) -> Result<Option<Money>, InvalidValue> {
    Ok(Some(Money {
        minor,
        currency: currency.into(),
    }))
}

#[test]
fn amounts() {
    assert_eq!(parse_amount("120 000,00 KZT"), money(12_000_000, "KZT"));
    assert_eq!(parse_amount("1 234,5 USD"), money(123_450, "USD"));
    assert_eq!(
        parse_amount("1\u{a0}250\u{a0}000,50 KZT"),
        money(125_000_050, "KZT")
    );
    assert_eq!(parse_amount("7 775 945,74 KZT"), money(777_594_574, "KZT"));
    assert_eq!(parse_amount("0,00 KZT"), money(0, "KZT"));
    assert_eq!(parse_amount("0"), money(0, ""));
    assert_eq!(parse_amount("33642.55"), money(3_364_255, ""));
    assert_eq!(parse_amount("500KZT"), money(50_000, "KZT"));
    assert_eq!(parse_amount("  12,30 EUR  "), money(1_230, "EUR"));
    assert_eq!(
        parse_amount("1,000 KZT"),
        money(100, "KZT"),
        "trailing zero decimals are exact"
    );
}

#[test]
fn negative_amounts() {
    assert_eq!(parse_amount("-1 500,00 KZT"), money(-150_000, "KZT"));
    assert_eq!(parse_amount("\u{2212}0,01 KZT"), money(-1, "KZT"));
}

#[test]
fn absent_amounts() {
    for text in ["-", "", "   ", "\u{a0}", " - "] {
        assert_eq!(parse_amount(text), Ok(None), "{text:?}");
    }
}

#[test]
fn garbage_amounts() {
    for text in [
        "KZT",
        "abc",
        "12,3,4 KZT",
        "1.234,56 KZT",
        "1,234 KZT",
        "12a34 KZT",
        "--5 KZT",
        "99999999999999999999 KZT",
        ",",
    ] {
        assert_eq!(parse_amount(text), Err(InvalidValue), "{text:?}");
    }
}

#[test]
fn dates() {
    assert_eq!(parse_date("16.12.1987"), Ok(Some(date!(1987 - 12 - 16))));
    assert_eq!(parse_date("2021-05-10"), Ok(Some(date!(2021 - 05 - 10))));
    assert_eq!(
        parse_date("22.12.2021 21:46:59"),
        Ok(Some(date!(2021 - 12 - 22)))
    );
    assert_eq!(parse_date("-"), Ok(None));
    assert_eq!(parse_date(""), Ok(None));
    for bad in [
        "31.02.2021",
        "1.2.2021",
        "97.98.6068",
        "2021/01/01",
        "01.13.2020",
        "soon",
    ] {
        assert_eq!(parse_date(bad), Err(InvalidValue), "{bad}");
    }
}

#[test]
fn counts_and_rates() {
    assert_eq!(parse_count("49 (TBC)"), Ok(Some(49)));
    assert_eq!(parse_count("0"), Ok(Some(0)));
    assert_eq!(parse_count("-"), Ok(None));
    assert_eq!(parse_count("-3"), Err(InvalidValue));
    assert_eq!(parse_rate_bps("51.00"), Ok(Some(5_100)));
    assert_eq!(parse_rate_bps("47.28"), Ok(Some(4_728)));
    assert_eq!(parse_rate_bps("24,5%"), Ok(Some(2_450)));
    assert_eq!(parse_rate_bps(""), Ok(None));
    assert_eq!(parse_rate_bps("12.345"), Err(InvalidValue));
}
