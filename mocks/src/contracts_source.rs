//! Synthetic loan contracts in the loan system's export format (one JSON object per contract,
//! JSON Lines for files), for tests and benchmarks of the bureau upload.
//!
//! [`synthetic_contract`] builds contract number `n` deterministically: the same `n` always
//! gives the same JSON, on every platform. The borrowers are invented people: the last names
//! are plainly made up (`Testov`, `Sinteev`, `Primerov`…), the IIN is synthesized with a valid
//! check digit from a birth date in 1960–1999, and it agrees with the borrower's `gender` and
//! `birth_date`. No two `n` up to 29,220,000 share an IIN. Phone, document and vehicle numbers
//! are made-up digits. This module must never hold real personal data.
//!
//! The shape of the contracts:
//!
//! - `contract_code` `JC-2024-{n:06}`, `agreement_number` `JC/24/{n:04}`;
//! - `start_date` in 2024 (the day varies with `n`), `end_date` 36, 48 or 60 months later,
//!   always after [`ACCOUNTING_DATE`];
//! - `phase` `repaid` for every 10th `n` (with a `repaid_date` after `start_date` and not
//!   after the accounting date, nothing outstanding, nothing overdue), `open` otherwise
//!   (`repaid_date` null);
//! - amounts are integers in minor units (tiyn) of `KZT`; `outstanding_amount` is the
//!   principal not yet repaid (never above `total_amount`);
//! - every 7th `n` that is not repaid is overdue: `overdue_days` 1 to 90, `overdue_amount`
//!   above 0 and not above `outstanding_amount`;
//! - the collateral is a vehicle with a 17-character VIN (with its check digit) and an
//!   Almaty plate; the borrower lives in Almaty (KATO `751110000`).

use kuzet_ident::Iin;
use serde_json::{Value, json};
use time::macros::date;
use time::{Date, Duration, Month};

/// The accounting date of every synthetic contract (the export's "as of" date).
pub const ACCOUNTING_DATE: Date = date!(2026 - 11 - 25);

/// First possible birth date of a borrower.
const FIRST_BIRTH: Date = date!(1960 - 01 - 01);
/// Days from 1960-01-01 to 1999-12-31 inclusive: borrowers are born in 1960..2000.
const BIRTH_DAYS: u64 = 14_610;
/// Coprime to [`BIRTH_DAYS`] (`2·3·5·487`), so that consecutive people get scattered days.
const BIRTH_DAY_STEP: u64 = 7_919;

const LAST_NAMES: &[(&str, &str)] = &[
    ("Testov", "Testova"),
    ("Sinteev", "Sinteeva"),
    ("Primerov", "Primerova"),
    ("Obraztsov", "Obraztsova"),
    ("Maketov", "Maketova"),
    ("Shablonov", "Shablonova"),
    ("Synaqov", "Synaqova"),
    ("Ulgiev", "Ulgieva"),
];
const MALE_FIRST_NAMES: &[&str] = &["Arman", "Yerlan", "Daniyar", "Timur", "Ivan", "Sergey"];
const FEMALE_FIRST_NAMES: &[&str] = &["Aigerim", "Dinara", "Saule", "Madina", "Anna", "Elena"];
const MIDDLE_NAMES: &[(&str, &str)] = &[
    ("Serikovich", "Serikovna"),
    ("Maratovich", "Maratovna"),
    ("Bolatovich", "Bolatovna"),
    ("Ivanovich", "Ivanovna"),
    ("Petrovich", "Petrovna"),
];
const STREETS: &[&str] = &[
    "Testovaya",
    "Primernaya",
    "Sinteticheskaya",
    "Obraztsovaya",
    "Maketnaya",
    "Shablonnaya",
];
const INSTALMENT_COUNTS: &[u32] = &[36, 48, 60];
/// Letters of a plate (Latin, without I, O and Q).
const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
/// Characters allowed in a VIN (no I, O, Q).
const VIN_CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";

/// SplitMix64 of `n` and a salt: well-mixed bits, the same on every platform.
fn mix(n: u64, salt: u64) -> u64 {
    let mut z = n
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(salt.wrapping_mul(0xd1b5_4a32_d192_ed03));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One of `items` (never empty: every caller passes a non-empty constant).
fn pick<T: Copy>(items: &[T], h: u64) -> T {
    let len = u64::try_from(items.len()).unwrap_or(1).max(1);
    items[usize::try_from(h % len).unwrap_or(0)]
}

fn days(d: u64) -> Duration {
    Duration::days(i64::try_from(d).unwrap_or(0))
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `d` plus `months` months; `d.day()` must be at most 28 (always valid then).
fn add_months(d: Date, months: u32) -> Date {
    let index =
        d.year() * 12 + i32::from(u8::from(d.month())) - 1 + i32::try_from(months).unwrap_or(0);
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1))
        .unwrap_or(Month::January);
    Date::from_calendar_date(index.div_euclid(12), month, d.day()).unwrap_or(d)
}

/// Monthly due dates (on `start`'s day of the month) after `start` and not after `on`.
fn months_due(start: Date, on: Date) -> u32 {
    let index = |d: Date| d.year() * 12 + i32::from(u8::from(d.month()));
    let mut months = index(on) - index(start);
    if on.day() < start.day() {
        months -= 1;
    }
    u32::try_from(months.max(0)).unwrap_or(0)
}

/// The borrower's IIN of contract `n`: distinct for every `n` up to `2 · 14,610 · 1,000`.
///
/// Person `k = n - 1` gets the sex `k % 2`, the birth day `(k / 2) · 7919 mod 14,610` after
/// 1960-01-01 (a permutation of the days) and the serial block `k / 29,220` (shifted by the
/// day, modulo 1,000), so two people with the same birth date and sex always have different
/// blocks. The serial is the block's first number with a check digit: the last serial digit
/// does not change the first weighting and changes the second one for each of its values, so
/// at most one of the block's ten serials has none.
fn borrower_iin(n: u64) -> Iin {
    let k = n.wrapping_sub(1);
    let male = k.is_multiple_of(2);
    let day_index = (k / 2 % BIRTH_DAYS) * BIRTH_DAY_STEP % BIRTH_DAYS;
    let birth = FIRST_BIRTH + days(day_index);
    let block = (k / (2 * BIRTH_DAYS) + day_index * 37 + u64::from(male)) % 1_000;
    let first = u16::try_from(block * 10).unwrap_or(0);
    (0..10_000u16)
        .map(|j| first.wrapping_add(j) % 10_000)
        .find_map(|serial| Iin::synthesize(birth, male, serial))
        // Cannot fail: at most one serial in ten lacks a check digit (see above), which the
        // `iins_are_valid_and_distinct` test also shows.
        .expect("a block of ten serials always has one with a check digit")
}

/// The ISO 3779 check digit (position 9) of a VIN whose other 16 characters are `vin`'s.
fn vin_check_digit(vin: &[u8; 17]) -> u8 {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            b'S'..=b'Z' => u32::from(c - b'S') + 2,
            _ => 0,
        }
    };
    let sum: u32 = vin.iter().zip(WEIGHTS).map(|(c, w)| value(*c) * w).sum();
    match sum % 11 {
        10 => b'X',
        r => b'0' + u8::try_from(r).unwrap_or(0),
    }
}

/// A VIN for contract `n`: maker code `SYN`, five descriptor characters from `h`, the check
/// digit, model year 2024 (`R`), plant `A`, and `n` as the six-digit serial.
fn vin(n: u64, h: u64) -> String {
    let mut v = [b'0'; 17];
    v[..3].copy_from_slice(b"SYN");
    for (i, c) in v[3..8].iter_mut().enumerate() {
        *c = pick(VIN_CHARS, h >> (i * 6));
    }
    v[9] = b'R';
    v[10] = b'A';
    let serial = format!("{:06}", n % 1_000_000);
    v[11..].copy_from_slice(serial.as_bytes());
    v[8] = vin_check_digit(&v);
    String::from_utf8_lossy(&v).into_owned()
}

/// Contract number `n` (from 1) in the loan system's export format, deterministic from `n`.
/// Synthetic data only; see the module documentation for the shape.
pub fn synthetic_contract(n: u64) -> Value {
    let h = mix(n, 1);
    let p = mix(n, 2);

    // Dates.
    let start = Date::from_calendar_date(
        2024,
        Month::try_from(u8::try_from(1 + (h >> 4) % 12).unwrap_or(1)).unwrap_or(Month::January),
        u8::try_from(1 + n % 28).unwrap_or(1),
    )
    .unwrap_or(date!(2024 - 01 - 15));
    let instalment_count = pick(INSTALMENT_COUNTS, h >> 12);
    let end = add_months(start, instalment_count);
    let repaid = n.is_multiple_of(10);
    let repaid_date = repaid.then(|| {
        let span = u64::try_from((ACCOUNTING_DATE - start).whole_days())
            .unwrap_or(1)
            .max(1);
        start + days(1 + (h >> 20) % span)
    });

    // Amounts, in tiyn.
    let count = u64::from(instalment_count);
    let total: u64 = (300_000 + (h >> 28) % 196 * 50_000) * 100;
    let markup = 15 + (h >> 36) % 26;
    let instalment_amount = (total * (100 + markup)).div_ceil(100 * count);
    let overdue = !repaid && n.is_multiple_of(7);
    let overdue_days = if overdue { 1 + (h >> 44) % 90 } else { 0 };
    let missed = overdue_days.div_ceil(30);
    // Fewer instalments are due (at most 34) than there are (at least 36): something is
    // always outstanding on an open contract.
    let paid = u64::from(months_due(start, ACCOUNTING_DATE)).saturating_sub(missed);
    let outstanding = if repaid {
        0
    } else {
        total - total * paid.min(count) / count
    };
    let overdue_amount = (missed * instalment_amount).min(outstanding);
    let collateral_value = total * (130 + (h >> 52) % 70) / 100 / 100_000 * 100_000;

    // The borrower.
    let iin = borrower_iin(n);
    let male = iin.is_male();
    let (last_m, last_f) = pick(LAST_NAMES, p);
    let (middle_m, middle_f) = pick(MIDDLE_NAMES, p >> 8);
    let first_name = pick(
        if male {
            MALE_FIRST_NAMES
        } else {
            FEMALE_FIRST_NAMES
        },
        p >> 16,
    );
    let issued = date!(2016 - 01 - 01) + days((p >> 24) % 2_922);
    let document = format!(
        "{:09}",
        (n.wrapping_mul(7_919_111) + 12_345) % 1_000_000_000
    );
    let mobile = format!(
        "+7701{:07}",
        (n.wrapping_mul(3_141_593) + 1_000_003) % 10_000_000
    );
    let street = format!(
        "ul. {}, d. {}, kv. {}",
        pick(STREETS, p >> 32),
        1 + (p >> 40) % 150,
        1 + (p >> 48) % 300
    );
    let plate = format!(
        "{:03}{}{}{}02",
        n % 1_000,
        char::from(pick(PLATE_LETTERS, h >> 56)),
        char::from(pick(PLATE_LETTERS, p >> 56)),
        char::from(pick(PLATE_LETTERS, (h ^ p) >> 8)),
    );

    json!({
        "contract_code": format!("JC-2024-{n:06}"),
        "agreement_number": format!("JC/24/{n:04}"),
        "start_date": iso(start),
        "end_date": iso(end),
        "phase": if repaid { "repaid" } else { "open" },
        "repaid_date": repaid_date.map(iso),
        "currency": "KZT",
        "total_amount": total,
        "instalment_amount": instalment_amount,
        "instalment_count": instalment_count,
        "accounting_date": iso(ACCOUNTING_DATE),
        "outstanding_amount": outstanding,
        "overdue_amount": overdue_amount,
        "overdue_days": overdue_days,
        "collateral": {
            "type": "vehicle",
            "value": collateral_value,
            "vin": vin(n, p),
            "plate": plate,
        },
        "borrower": {
            "iin": iin.expose(),
            "last_name": if male { last_m } else { last_f },
            "first_name": first_name,
            "middle_name": if male { middle_m } else { middle_f },
            "gender": if male { "M" } else { "F" },
            "birth_date": iso(iin.birth_date()),
            "citizenship": "KZ",
            "resident": true,
            "id_document": {
                "type": "id_card",
                "number": document,
                "issued": iso(issued),
            },
            "addresses": [{
                "type": "registration",
                "kato": "751110000",
                "text": street,
            }],
            "mobile": mobile,
        },
    })
}

/// Writes contracts `1..=count` to `out` as JSON Lines: each [`synthetic_contract`] as
/// `serde_json::to_string` followed by `\n`. Buffer `out` for speed (e.g. `BufWriter`).
pub fn write_jsonl(out: &mut impl std::io::Write, count: u64) -> std::io::Result<()> {
    for n in 1..=count {
        let line = serde_json::to_string(&synthetic_contract(n))?;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // Tests: a panic is the failure report.
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;

    use super::*;

    fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is a string"))
    }

    fn u64_of(v: &Value, key: &str) -> u64 {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} is an integer"))
    }

    fn date_of(v: &Value, key: &str) -> Date {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(str_of(v, key), format).unwrap_or_else(|_| panic!("{key} is an ISO date"))
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn iins_are_valid_and_distinct() {
        let mut seen = HashSet::new();
        for n in 1..=2_000 {
            let contract = synthetic_contract(n);
            let text = str_of(&contract["borrower"], "iin");
            let iin = Iin::parse(text).unwrap_or_else(|e| panic!("contract {n}: {e}"));
            assert!(seen.insert(iin), "contract {n} repeats an IIN");
        }
        // Cheaper, without the JSON: distinct far beyond the first 2,000.
        let mut seen = HashSet::new();
        for n in 1..=200_000 {
            let iin = borrower_iin(n);
            let year = iin.birth_date().year();
            assert!((1960..2000).contains(&year), "contract {n}: born {year}");
            assert!(seen.insert(iin), "contract {n} repeats an IIN");
        }
    }

    #[test]
    fn gender_and_birth_date_agree_with_the_iin() {
        for n in 1..=2_000 {
            let b = &synthetic_contract(n)["borrower"];
            let iin = Iin::parse(str_of(b, "iin")).unwrap();
            let digits = iin.expose().as_bytes();
            let century = digits[6] - b'0';
            assert!(matches!(century, 3 | 4), "contract {n}: born in the 1900s");
            let male = century % 2 == 1;
            assert_eq!(str_of(b, "gender"), if male { "M" } else { "F" }, "{n}");
            let birth = date_of(b, "birth_date");
            let yymmdd = format!(
                "{:02}{:02}{:02}",
                birth.year() % 100,
                u8::from(birth.month()),
                birth.day()
            );
            assert_eq!(&iin.expose()[..6], yymmdd, "contract {n}");
            assert_eq!(birth.year() / 100, 19, "contract {n}");
            let last = str_of(b, "last_name");
            assert_eq!(last.ends_with('a'), !male, "contract {n}: {last}");
        }
    }

    #[test]
    fn the_same_n_gives_the_same_json() {
        for n in [1, 2, 7, 10, 70, 1_234, 199_999] {
            let a = serde_json::to_string(&synthetic_contract(n)).unwrap();
            let b = serde_json::to_string(&synthetic_contract(n)).unwrap();
            assert_eq!(a, b);
        }
        assert_ne!(synthetic_contract(1), synthetic_contract(2));
        let first = synthetic_contract(1);
        assert_eq!(str_of(&first, "contract_code"), "JC-2024-000001");
        assert_eq!(str_of(&first, "agreement_number"), "JC/24/0001");
    }

    #[test]
    fn every_object_has_exactly_the_export_members() {
        const TOP: &[&str] = &[
            "contract_code",
            "agreement_number",
            "start_date",
            "end_date",
            "phase",
            "repaid_date",
            "currency",
            "total_amount",
            "instalment_amount",
            "instalment_count",
            "accounting_date",
            "outstanding_amount",
            "overdue_amount",
            "overdue_days",
            "collateral",
            "borrower",
        ];
        const COLLATERAL: &[&str] = &["type", "value", "vin", "plate"];
        const BORROWER: &[&str] = &[
            "iin",
            "last_name",
            "first_name",
            "middle_name",
            "gender",
            "birth_date",
            "citizenship",
            "resident",
            "id_document",
            "addresses",
            "mobile",
        ];
        const DOCUMENT: &[&str] = &["type", "number", "issued"];
        const ADDRESS: &[&str] = &["type", "kato", "text"];
        for n in 1..=2_000 {
            let c = synthetic_contract(n);
            assert_eq!(keys(&c), TOP, "contract {n}");
            assert_eq!(keys(&c["collateral"]), COLLATERAL, "contract {n}");
            let b = &c["borrower"];
            assert_eq!(keys(b), BORROWER, "contract {n}");
            assert_eq!(keys(&b["id_document"]), DOCUMENT, "contract {n}");
            let addresses = b["addresses"].as_array().unwrap();
            assert_eq!(addresses.len(), 1, "contract {n}");
            assert_eq!(keys(&addresses[0]), ADDRESS, "contract {n}");
        }
    }

    #[test]
    fn contracts_are_consistent() {
        let mut overdue = 0;
        for n in 1..=2_000u64 {
            let c = synthetic_contract(n);
            let b = &c["borrower"];
            let start = date_of(&c, "start_date");
            let end = date_of(&c, "end_date");
            let accounting = date_of(&c, "accounting_date");
            assert_eq!(accounting, ACCOUNTING_DATE);
            assert_eq!(start.year(), 2024, "contract {n}");
            assert!(end > accounting && end > start, "contract {n}");
            let total = u64_of(&c, "total_amount");
            let outstanding = u64_of(&c, "outstanding_amount");
            let overdue_amount = u64_of(&c, "overdue_amount");
            let overdue_days = u64_of(&c, "overdue_days");
            assert!(total > 0 && outstanding <= total, "contract {n}");
            assert!(u64_of(&c, "instalment_amount") > 0, "contract {n}");
            assert!(
                [36, 48, 60].contains(&u64_of(&c, "instalment_count")),
                "{n}"
            );
            assert_eq!(str_of(&c, "currency"), "KZT");
            if n % 10 == 0 {
                assert_eq!(str_of(&c, "phase"), "repaid", "contract {n}");
                let repaid = date_of(&c, "repaid_date");
                assert!(repaid > start && repaid <= accounting, "contract {n}");
                assert_eq!((outstanding, overdue_amount, overdue_days), (0, 0, 0));
            } else {
                assert_eq!(str_of(&c, "phase"), "open", "contract {n}");
                assert!(c["repaid_date"].is_null(), "contract {n}");
                assert!(outstanding > 0, "contract {n}");
                if n % 7 == 0 {
                    overdue += 1;
                    assert!((1..=90).contains(&overdue_days), "contract {n}");
                    assert!(overdue_amount > 0 && overdue_amount <= outstanding, "{n}");
                } else {
                    assert_eq!((overdue_amount, overdue_days), (0, 0), "contract {n}");
                }
            }

            let collateral = &c["collateral"];
            assert_eq!(str_of(collateral, "type"), "vehicle");
            assert!(u64_of(collateral, "value") > 0);
            let vin = str_of(collateral, "vin").as_bytes();
            assert_eq!(vin.len(), 17, "contract {n}");
            assert!(vin.iter().all(|c| VIN_CHARS.contains(c)), "contract {n}");
            assert!(!vin.iter().any(|c| matches!(c, b'I' | b'O' | b'Q')));
            let vin: [u8; 17] = vin.try_into().unwrap();
            assert_eq!(vin[8], vin_check_digit(&vin), "contract {n}");
            let plate = str_of(collateral, "plate").as_bytes();
            assert_eq!(plate.len(), 8, "contract {n}");
            assert!(plate[..3].iter().all(u8::is_ascii_digit));
            assert!(plate[3..6].iter().all(|c| PLATE_LETTERS.contains(c)));
            assert_eq!(&plate[6..], b"02");

            let document = &b["id_document"];
            let number = str_of(document, "number");
            assert!(number.len() == 9 && number.bytes().all(|c| c.is_ascii_digit()));
            let issued = date_of(document, "issued");
            assert!(issued < start && issued > date_of(b, "birth_date"), "{n}");
            let mobile = str_of(b, "mobile");
            assert_eq!(mobile.len(), 12, "contract {n}");
            assert!(mobile.starts_with("+7701"));
            assert!(mobile[1..].bytes().all(|c| c.is_ascii_digit()));
            assert_eq!(str_of(b, "citizenship"), "KZ");
            assert_eq!(b["resident"], Value::Bool(true));
        }
        assert!(overdue > 200, "{overdue} overdue contracts");
    }

    #[test]
    fn a_known_vin_check_digit() {
        // The textbook example of the North American check digit.
        let vin: [u8; 17] = *b"1M8GDM9AXKP042788";
        assert_eq!(vin_check_digit(&vin), b'X');
    }

    #[test]
    fn jsonl_has_one_contract_a_line() {
        let mut out = Vec::new();
        write_jsonl(&mut out, 25).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 25);
        for (line, n) in lines.iter().zip(1..) {
            assert_eq!(
                *line,
                serde_json::to_string(&synthetic_contract(n)).unwrap()
            );
        }
        let mut empty = Vec::new();
        write_jsonl(&mut empty, 0).unwrap();
        assert!(empty.is_empty());
    }
}
