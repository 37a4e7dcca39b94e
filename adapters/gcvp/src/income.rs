//! The domain types the gateway flattens under `income.`, and the estimate: which months count,
//! per-employer averages, and average contribution × 10 as the gross monthly income.
//!
//! The rules (the window, the arithmetic, no data) are in the crate docs.
//!
//! This module never logs and never builds an error from a value it reads.

use std::collections::BTreeMap;
use std::fmt;

use kuzet_ident::Bin;
use serde::Serialize;
use time::Date;

use crate::error::GcvpError;

/// The currency of every amount the centre reports.
pub const CURRENCY_KZT: &str = "KZT";

/// Gross salary is this many times the mandatory pension contribution (10 %).
pub const CONTRIBUTION_TO_INCOME_FACTOR: i64 = 10;

/// An amount in minor units (tiyn for KZT), exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Hundredths of the currency unit.
    pub minor: i64,
    /// ISO 4217 code (`KZT`).
    pub currency: String,
}

impl Money {
    /// `minor` tiyn.
    pub fn kzt(minor: i64) -> Self {
        Self {
            minor,
            currency: CURRENCY_KZT.to_owned(),
        }
    }
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: u8,
}

impl YearMonth {
    /// The month `month` (1–12) of `year` (1–9999); `None` otherwise.
    pub fn new(year: i32, month: u8) -> Option<Self> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// The month `date` falls in.
    pub fn of(date: Date) -> Self {
        Self {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    /// Reads `YYYY-MM` or `YYYYMM`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (y, m) = match t.len() {
            7 if t.as_bytes()[4] == b'-' => (t.get(..4)?, t.get(5..)?),
            6 => (t.get(..4)?, t.get(4..)?),
            _ => return None,
        };
        if !(y.bytes().all(|b| b.is_ascii_digit()) && m.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        Self::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    fn from_index(index: i64) -> Self {
        // `month` is in 0..12 by construction, so the casts cannot truncate.
        let month = u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1);
        let year = i32::try_from(index.div_euclid(12)).unwrap_or(1);
        Self { year, month }
    }

    /// The month `n` months later (earlier when negative).
    pub fn plus(self, n: i64) -> Self {
        Self::from_index(self.index() + n)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The months considered: `months` whole calendar months, `first` … `last` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The earliest month.
    pub first: YearMonth,
    /// The latest month.
    pub last: YearMonth,
    /// How many months, at least 1.
    pub months: u32,
}

impl Window {
    /// The `months` months ending with the month before `as_of`'s month (see the module docs);
    /// `months` 0 is taken as 1.
    pub fn ending_before(as_of: Date, months: u32) -> Self {
        let months = months.max(1);
        let last = YearMonth::of(as_of).plus(-1);
        Self {
            first: last.plus(1 - i64::from(months)),
            last,
            months,
        }
    }

    /// Whether `month` is in the window.
    pub fn contains(&self, month: YearMonth) -> bool {
        self.first <= month && month <= self.last
    }
}

/// Whether the centre's answer confirms an income.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeStatus {
    /// At least one contribution falls in the window (even one of 0.00).
    Confirmed,
    /// No contribution in the window: income not confirmed (not zero income).
    NoData,
}

/// One mandatory pension contribution, as the centre reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contribution {
    /// The month the contribution is for, `YYYY-MM`.
    pub month: String,
    /// The date it was paid, `YYYY-MM-DD`, when the centre gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<String>,
    /// The amount paid.
    pub amount: Money,
    /// The employer (or agent) who paid it.
    pub employer_bin: Bin,
    /// The employer's name as the centre gave it, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employer_name: Option<String>,
}

/// The income estimated from one employer's contributions in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmployerIncome {
    /// The employer's BIN.
    pub bin: Bin,
    /// The employer's name, from its latest contribution that carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Distinct months of the window with at least one contribution from this employer.
    pub months_with_contributions: u32,
    /// Sum of its contributions in the window ÷ N, rounded down to a whole tiyn.
    pub average_contribution: Money,
    /// `average_contribution` × 10: the estimated gross monthly income from this employer.
    pub estimated_monthly_income: Money,
}

/// The subject's income as the pension centre proves it: what the gateway flattens under
/// `income.` (every field name snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Income {
    /// `confirmed` or `no_data`.
    pub status: IncomeStatus,
    /// N: the months of the window.
    pub months_considered: u32,
    /// The window's first month, `YYYY-MM`.
    pub period_from: String,
    /// The window's last month, `YYYY-MM`.
    pub period_to: String,
    /// The contributions in the window, by month, then payment date, then employer BIN.
    pub contributions: Vec<Contribution>,
    /// One line per employer, the largest estimate first (then by BIN).
    pub employers: Vec<EmployerIncome>,
    /// The sum of the employers' estimates; absent when `status` is `no_data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_monthly_income_total: Option<Money>,
}

/// One payment as read from the wire, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payment {
    pub(crate) month: YearMonth,
    pub(crate) payment_date: Option<Date>,
    pub(crate) amount_tiyn: i64,
    pub(crate) employer_bin: Bin,
    pub(crate) employer_name: Option<String>,
}

fn overflow() -> GcvpError {
    GcvpError::Malformed("the amounts add up beyond the representable range".into())
}

impl Income {
    /// The answer "no contributions in the window".
    pub fn no_data(window: &Window) -> Self {
        Self {
            status: IncomeStatus::NoData,
            months_considered: window.months,
            period_from: window.first.to_string(),
            period_to: window.last.to_string(),
            contributions: Vec::new(),
            employers: Vec::new(),
            estimated_monthly_income_total: None,
        }
    }

    /// The income over `window` from the centre's payments (see the module docs for the
    /// rules). Payments outside the window are ignored.
    pub(crate) fn from_payments(
        window: &Window,
        payments: Vec<Payment>,
    ) -> Result<Self, GcvpError> {
        let mut inside: Vec<Payment> = payments
            .into_iter()
            .filter(|p| window.contains(p.month))
            .collect();
        if inside.is_empty() {
            return Ok(Self::no_data(window));
        }
        inside.sort_by(|a, b| {
            (a.month, a.payment_date, &a.employer_bin).cmp(&(
                b.month,
                b.payment_date,
                &b.employer_bin,
            ))
        });

        struct Acc<'p> {
            sum: i64,
            months: std::collections::BTreeSet<YearMonth>,
            name: Option<&'p str>,
        }
        let mut by_employer: BTreeMap<&Bin, Acc<'_>> = BTreeMap::new();
        for p in &inside {
            let acc = by_employer.entry(&p.employer_bin).or_insert(Acc {
                sum: 0,
                months: Default::default(),
                name: None,
            });
            acc.sum = acc.sum.checked_add(p.amount_tiyn).ok_or_else(overflow)?;
            acc.months.insert(p.month);
            // Sorted by month, so the last name seen is the latest.
            if let Some(name) = p.employer_name.as_deref() {
                acc.name = Some(name);
            }
        }
        let n = i64::from(window.months);
        let mut employers = Vec::with_capacity(by_employer.len());
        let mut total: i64 = 0;
        for (bin, acc) in by_employer {
            // Amounts are never negative (the wire refuses them), so division rounds down.
            let average = acc.sum / n;
            let estimate = average
                .checked_mul(CONTRIBUTION_TO_INCOME_FACTOR)
                .ok_or_else(overflow)?;
            total = total.checked_add(estimate).ok_or_else(overflow)?;
            employers.push(EmployerIncome {
                bin: bin.clone(),
                name: acc.name.map(str::to_owned),
                months_with_contributions: u32::try_from(acc.months.len()).unwrap_or(u32::MAX),
                average_contribution: Money::kzt(average),
                estimated_monthly_income: Money::kzt(estimate),
            });
        }
        employers.sort_by(|a, b| {
            b.estimated_monthly_income
                .minor
                .cmp(&a.estimated_monthly_income.minor)
                .then_with(|| a.bin.cmp(&b.bin))
        });
        let contributions = inside
            .into_iter()
            .map(|p| Contribution {
                month: p.month.to_string(),
                payment_date: p.payment_date.map(format_date),
                amount: Money::kzt(p.amount_tiyn),
                employer_bin: p.employer_bin,
                employer_name: p.employer_name,
            })
            .collect();
        Ok(Self {
            status: IncomeStatus::Confirmed,
            months_considered: window.months,
            period_from: window.first.to_string(),
            period_to: window.last.to_string(),
            contributions,
            employers,
            estimated_monthly_income_total: Some(Money::kzt(total)),
        })
    }
}

fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_window_ends_with_the_month_before_the_request() {
        let w = Window::ending_before(date!(2026 - 03 - 02), 6);
        assert_eq!(w.first.to_string(), "2025-09");
        assert_eq!(w.last.to_string(), "2026-02");
        let w = Window::ending_before(date!(2026 - 01 - 31), 12);
        assert_eq!(
            (w.first.to_string(), w.last.to_string()),
            ("2025-01".into(), "2025-12".into())
        );
        let w = Window::ending_before(date!(2026 - 01 - 01), 1);
        assert_eq!(
            (w.first, w.last),
            (w.last, YearMonth::new(2025, 12).unwrap())
        );
    }

    #[test]
    fn months_parse() {
        assert_eq!(YearMonth::parse("2026-01"), YearMonth::new(2026, 1));
        assert_eq!(YearMonth::parse("202601"), YearMonth::new(2026, 1));
        assert_eq!(YearMonth::parse("2026-13"), None);
        assert_eq!(YearMonth::parse("2026/01"), None);
        assert_eq!(YearMonth::parse("+2026-1"), None);
    }
}
