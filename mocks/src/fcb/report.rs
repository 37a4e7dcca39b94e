//! Synthetic standard credit reports (`CigResult Version="4.0"`), deterministic from the IIN.
//!
//! The layout follows the shared sample `credit-report-standard.xml` element for element:
//! same element names and order, `title`/`value`/`id` attributes with the sample's Russian
//! labels, dates `dd.MM.yyyy`, amounts `"120 000,00 KZT"`, `"-"` for no data. Summary totals
//! are computed from the rendered contracts, so a parser can check them against each other.
//!
//! Rendering writes straight into one preallocated `String` (no DOM, no serializer) because
//! the mock serves load tests. It must never depend on the clock or on anything but the IIN
//! and the size: the same input gives byte-identical output.

use std::fmt::{self, Write};

use kuzet_ident::Iin;
use time::{Date, Month};

use super::people::{IIN_HEAVY_OVERDUE, IIN_NO_CREDIT_HISTORY, Person, Rng, days_before};

/// How big the synthetic reports are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportSize {
    /// Like the shared sample (~300 KB): 12 open and 6 closed contracts, 41 addresses, 11
    /// documents, 80 interconnected subjects.
    #[default]
    Full,
    /// A small report (~60 KB): one open and one closed contract, 8 addresses, 4 documents,
    /// 10 interconnected subjects.
    TwoContracts,
}

struct Shape {
    existing: usize,
    terminated: usize,
    addresses: usize,
    documents: usize,
    interconnected: usize,
    capacity: usize,
}

impl ReportSize {
    fn shape(self) -> Shape {
        match self {
            Self::Full => Shape {
                existing: 12,
                terminated: 4,
                addresses: 41,
                documents: 11,
                interconnected: 80,
                capacity: 340 * 1024,
            },
            Self::TwoContracts => Shape {
                existing: 1,
                terminated: 1,
                addresses: 8,
                documents: 4,
                interconnected: 10,
                capacity: 72 * 1024,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Ordinary,
    NoHistory,
    HeavyOverdue,
}

/// The fixed instant every synthetic report is issued at. Reports must not depend on the
/// clock (byte-identical answers), and a December date gives two whole calendar years of
/// payment history.
pub(crate) fn as_of() -> Date {
    // 16 is a valid day of December, so the fallback is never used.
    Date::from_calendar_date(2024, Month::December, 16).unwrap_or(Date::MIN)
}
const AS_OF_TIME: &str = "10:15:42";

// ---------------------------------------------------------------------------------------
// Value formatting

/// An amount in tiyn, shown as `1 234 567,89 KZT`.
#[derive(Clone, Copy)]
struct Kzt(i64);

impl fmt::Display for Kzt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenge = self.0.unsigned_abs() / 100;
        let tiyn = self.0.unsigned_abs() % 100;
        if self.0 < 0 {
            f.write_char('-')?;
        }
        let digits = tenge.to_string();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_char(' ')?;
            }
            f.write_char(c)?;
        }
        write!(f, ",{tiyn:02} KZT")
    }
}

/// A summary total: `0` when zero (as the sample shows), else like [`Kzt`].
struct Total(i64);

impl fmt::Display for Total {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_char('0')
        } else {
            Kzt(self.0).fmt(f)
        }
    }
}

/// An amount in tiyn with a dot and no currency, as in payment fines (`1500.00`).
struct Dotted(i64);

impl fmt::Display for Dotted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A date as `dd.MM.yyyy`.
struct D(Date);

impl fmt::Display for D {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}.{:02}.{:04}",
            self.0.day(),
            u8::from(self.0.month()),
            self.0.year()
        )
    }
}

/// An optional date: `-` when absent.
struct OD(Option<Date>);

impl fmt::Display for OD {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => D(d).fmt(f),
            None => f.write_char('-'),
        }
    }
}

/// Escapes text for an attribute value.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                _ => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn months_before(d: Date, months: i64) -> Date {
    let total = i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1 - months;
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(2000);
    let month = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let month = Month::try_from(month).unwrap_or(Month::January);
    let day = d.day().min(28);
    Date::from_calendar_date(year, month, day).unwrap_or(d)
}

/// Months from the month of `a` to the month of `b` (negative when `b` is earlier).
fn month_index(d: Date) -> i64 {
    i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1
}

// ---------------------------------------------------------------------------------------
// The synthetic contract model

const MONTHS: [&str; 12] = [
    "Январь",
    "Февраль",
    "Март",
    "Апрель",
    "Май",
    "Июнь",
    "Июль",
    "Август",
    "Сентябрь",
    "Октябрь",
    "Ноябрь",
    "Декабрь",
];

/// Invented lenders (no real institution names): (bureau id, name, already escaped).
const LENDERS: &[(u16, &str)] = &[
    (901, "АО &quot;Демо Банк Казахстана&quot;"),
    (902, "АО «Тестовый Сберегательный Банк»"),
    (
        903,
        "ТОО &quot;Микрофинансовая организация &quot;Пример Кредит&quot;",
    ),
    (904, "АО «Условный Народный Банк»"),
    (905, "ТОО «МФО «Синтетик Финанс»"),
    (906, "АО &quot;Макет Банк&quot;"),
];
const BRANCHES: &[&str] = &["Алматы", "Астана", "Шымкент", "Караганда", "Актобе", ""];

#[derive(Clone, Copy)]
struct Month1 {
    /// `None`: the provider sent nothing for this month (all attributes empty).
    days: Option<u32>,
    amount: i64,
    fine: i64,
    penalty: i64,
}

struct Contract {
    card: bool,
    code: String,
    agreement: String,
    status: (u8, &'static str),
    purpose: (&'static str, &'static str),
    object: (&'static str, &'static str),
    application: Option<Date>,
    start: Date,
    end: Date,
    repaid: Option<Date>,
    last_update: Date,
    inserted: Date,
    actual: Option<Date>,
    /// Instalment loans: the amount lent; cards: the credit limit.
    total: i64,
    /// Instalment loans: `OutstandingAmount`; cards: `ResidualAmount` (as in the sample).
    outstanding: i64,
    instalments: i64,
    outstanding_instalments: i64,
    periodic: i64,
    overdue_days: u32,
    overdue_amount: i64,
    fine: i64,
    penalty: i64,
    lender: (u16, &'static str),
    effective_rate: i64,
    nominal_rate: i64,
    periodicity: (&'static str, &'static str),
    method: (&'static str, &'static str),
    classification: &'static str,
    vehicle: Option<i64>,
    branch: &'static str,
    first_year: i32,
    calendar: Vec<Month1>,
}

impl Contract {
    /// The debt the summary counts: `OutstandingAmount` or, for cards, `ResidualAmount`.
    fn debt(&self) -> i64 {
        self.outstanding
    }

    fn max_overdue(&self) -> (u32, Option<Date>, i64, i64, Option<Date>, u32) {
        let mut max_days = (0u32, None, 0i64);
        let mut max_amount = (0i64, None, 0u32);
        for (i, m) in self.calendar.iter().enumerate() {
            let Some(days) = m.days else { continue };
            let month = i64::try_from(i).unwrap_or(0);
            // The 28th stands for "end of that month", but never after the last report.
            let date = months_before(
                Date::from_calendar_date(self.first_year, Month::January, 28).unwrap_or(self.start),
                -month,
            )
            .min(self.repaid.unwrap_or_else(as_of));
            if days > max_days.0 {
                max_days = (days, Some(date), m.amount);
            }
            if m.amount > max_amount.0 {
                max_amount = (m.amount, Some(date), days);
            }
        }
        (
            max_days.0,
            max_days.1,
            max_days.2,
            max_amount.0,
            max_amount.1,
            max_amount.2,
        )
    }
}

fn round_tenge(tiyn: i64, step: i64) -> i64 {
    (tiyn / (step * 100)) * step * 100
}

fn make_contract(rng: &mut Rng, idx: usize, open: bool, profile: Profile) -> Contract {
    let today = as_of();
    let card = idx % 3 == 1;
    let (start, end, repaid) = if open {
        let start = days_before(today, rng.range(60, 1100));
        let end = months_before(today, -rng.range(3, 48));
        (start, end, None)
    } else {
        let start = days_before(today, rng.range(800, 3000));
        let term = rng.range(6, 24);
        let end = months_before(start, -term);
        let repaid = days_before(end, rng.range(0, 90)).max(start);
        (start, end, Some(repaid))
    };
    let last = repaid.unwrap_or(today);
    let term = (month_index(end) - month_index(start)).max(1);
    let total = if card {
        round_tenge(rng.range(100_000, 2_000_000) * 100, 10_000)
    } else {
        round_tenge(rng.range(150_000, 6_000_000) * 100, 100)
    };
    let periodic = if card {
        0
    } else {
        // Principal plus a flat quarter of interest, spread over the term.
        (total + total / 4) / term
    };
    let remaining = if open {
        (month_index(end) - month_index(today)).max(0)
    } else {
        0
    };

    // Payment discipline: two calendar years ending with the last reported month.
    let first_year = last.year() - 1;
    let first_month = i64::from(first_year) * 12;
    let start_i = month_index(start);
    let last_i = month_index(last);
    let mut calendar = Vec::with_capacity(24);
    for i in 0..24 {
        let m = first_month + i;
        calendar.push(Month1 {
            days: (m >= start_i && m <= last_i).then_some(0),
            amount: 0,
            fine: 0,
            penalty: 0,
        });
    }
    let instalment = if card { total / 20 } else { periodic };
    let in_contract: Vec<usize> = (0..24).filter(|&i| calendar[i].days.is_some()).collect();
    // A past episode, settled since: some months late, then back to 0.
    if in_contract.len() > 4 && (idx.is_multiple_of(3) || rng.chance(20)) {
        // Never the first month of the contract: nothing can be late yet.
        let pos = in_contract[usize::try_from(
            rng.range(1, i64::try_from(in_contract.len() - 4).unwrap_or(1)),
        )
        .unwrap_or(1)];
        let len = usize::try_from(rng.range(1, 3)).unwrap_or(1);
        let base = u32::try_from(rng.range(1, 25)).unwrap_or(1);
        for k in 0..len {
            let m = &mut calendar[pos + k];
            if m.days.is_some() {
                let k32 = u32::try_from(k).unwrap_or(0);
                m.days = Some(base + 30 * k32);
                m.amount = instalment * (i64::try_from(k).unwrap_or(0) + 1);
                if profile == Profile::HeavyOverdue {
                    m.fine = m.amount / 50;
                }
            }
        }
    }
    // The current episode of an open contract ends in the last month.
    let (overdue_days, overdue_amount) = match profile {
        _ if !open => (0, 0),
        Profile::HeavyOverdue => (
            u32::try_from(rng.range(60, 400)).unwrap_or(60),
            instalment * rng.range(3, 12),
        ),
        _ if idx % 5 == 1 => (
            u32::try_from(rng.range(5, 45)).unwrap_or(5),
            instalment * rng.range(1, 2),
        ),
        _ => (0, 0),
    };
    if overdue_days > 0 {
        let months = i64::from(overdue_days / 30 + 1).min(24);
        let months_u = usize::try_from(months).unwrap_or(1);
        let mut days = overdue_days;
        let mut amount = overdue_amount;
        for k in 0..months_u {
            let m = &mut calendar[23 - k];
            if m.days.is_none() {
                break;
            }
            m.days = Some(days);
            m.amount = amount.max(instalment.min(overdue_amount));
            if profile == Profile::HeavyOverdue {
                m.fine = amount / 100;
                m.penalty = amount / 200;
            }
            days = days.saturating_sub(30);
            amount -= instalment;
            if days == 0 {
                break;
            }
        }
    }
    let (fine, penalty) = if profile == Profile::HeavyOverdue && open {
        (overdue_amount / 20, overdue_amount / 40)
    } else {
        (0, 0)
    };
    let outstanding = if !open {
        0
    } else if card {
        round_tenge(total * rng.range(10, 110) / 100, 1) + overdue_amount
    } else {
        periodic * remaining + overdue_amount
    };
    let status = match (profile, overdue_days) {
        (Profile::HeavyOverdue, d) if d >= 90 && open => (3, "Безнадежные кредиты"),
        (Profile::HeavyOverdue, _) if open => (2, "Сомнительные кредиты"),
        _ => (1, "Стандартные кредиты"),
    };
    let code_prefix = rng.pick(&["KZ", "DM", "TS", "SY"]);
    Contract {
        card,
        code: format!("{code_prefix}{}-{:03}", rng.digits(8), idx + 1),
        agreement: format!("{}/{}", rng.digits(6), rng.range(10, 99)),
        status,
        purpose: if card || rng.chance(50) {
            ("01", "Приобретение/покупка")
        } else {
            ("09", "Прочие")
        },
        object: if card || rng.chance(40) {
            (
                "03",
                "Потребительские товары и услуги (кроме автотранспорта)",
            )
        } else {
            ("10", "Прочие")
        },
        application: (!card).then(|| days_before(start, rng.range(1, 14))),
        start,
        end,
        repaid,
        last_update: days_before(last, rng.range(0, 20)),
        inserted: days_before(last, rng.range(0, 10)),
        actual: card.then(|| {
            start
                .checked_add(time::Duration::days(rng.range(0, 60)))
                .unwrap_or(start)
        }),
        total,
        outstanding,
        instalments: if card { 0 } else { term },
        outstanding_instalments: remaining,
        periodic: if card {
            round_tenge(outstanding / 20, 1)
        } else {
            periodic
        },
        overdue_days,
        overdue_amount,
        fine,
        penalty,
        lender: rng.pick(LENDERS),
        effective_rate: rng.range(1500, 5600),
        nominal_rate: rng.range(1000, 4500),
        periodicity: if card {
            ("", "")
        } else {
            ("2", "Ежемесячные платежи -30 дней")
        },
        method: rng.pick(&[
            ("1", "Прямое дебетование банковского счета"),
            ("3", "Передача наличных денег"),
            ("6", "Другие"),
        ]),
        classification: if card {
            "Однородный"
        } else {
            "Стандартный"
        },
        vehicle: (!card && idx % 4 == 2).then(|| round_tenge(total * 3 / 2, 1000)),
        branch: rng.pick(BRANCHES),
        first_year,
        calendar,
    }
}

// ---------------------------------------------------------------------------------------
// Rendering

/// The standard credit report for `iin` (a `CigResult` document, no XML declaration), in the
/// layout of the shared sample. Same IIN and size, same bytes.
pub fn report_xml(iin: &Iin, size: ReportSize) -> String {
    let shape = size.shape();
    let mut out = String::with_capacity(shape.capacity);
    // Writing into a `String` cannot fail: its `fmt::Write` impl always returns `Ok`.
    let _ = render(&mut out, iin, &shape);
    out
}

fn profile_of(iin: &Iin) -> Profile {
    match iin.expose() {
        IIN_NO_CREDIT_HISTORY => Profile::NoHistory,
        IIN_HEAVY_OVERDUE => Profile::HeavyOverdue,
        _ => Profile::Ordinary,
    }
}

fn render(o: &mut String, iin: &Iin, shape: &Shape) -> fmt::Result {
    let profile = profile_of(iin);
    let today = as_of();
    let person = Person::for_iin(iin, shape.addresses, today);
    let mut rng = Rng::from_iin(iin, 2);
    let (existing, terminated): (Vec<Contract>, Vec<Contract>) = if profile == Profile::NoHistory {
        (Vec::new(), Vec::new())
    } else {
        (
            (0..shape.existing)
                .map(|i| make_contract(&mut rng, i, true, profile))
                .collect(),
            (0..shape.terminated)
                .map(|i| make_contract(&mut rng, shape.existing + i, false, profile))
                .collect(),
        )
    };

    write!(
        o,
        "<CigResult  xmlns:ns2=\"http://ws.creditinfo.com/\" Version=\"4.0\">\n    <DateTime>{} {AS_OF_TIME}</DateTime>\n    <ReferenceId>{}</ReferenceId>\n    <ServiceName>Front Office WS</ServiceName>\n    <ResultCulture>ru-RU</ResultCulture>\n    <ResultCode>10</ResultCode>\n    <ResultDescription/>\n    <UsageIdentity/>\n    <Result>\n        <Root>\n",
        D(today),
        rng.range(100_000, 999_999),
    )?;
    header(o, iin, &person)?;
    subject_details(o, &person)?;
    addresses(o, &person)?;
    documents(o, iin, &person, shape.documents, &mut rng)?;
    classification(o, &person)?;
    negative_data(o, profile, &existing, &terminated)?;
    let queries = Queries::new(&mut rng, profile);
    summary(o, &existing, &terminated, &queries)?;
    contracts_section(
        o,
        "ExistingContracts",
        "Действующие договора",
        "ПОДРОБНАЯ ИНФОРМАЦИЯ – ДЕЙСТВУЮЩИЕ ДОГОВОРА",
        &existing,
    )?;
    contracts_section(
        o,
        "TerminatedContracts",
        "Завершенные договора",
        "ПОДРОБНАЯ ИНФОРМАЦИЯ – ЗАВЕРШЕННЫЕ ДОГОВОРА",
        &terminated,
    )?;
    interconnected(
        o,
        if profile == Profile::NoHistory {
            0
        } else {
            shape.interconnected
        },
        &mut rng,
    )?;
    queries.render(o)?;
    o.push_str("            <RelatedCompanies title=\"Аффилированность\"/>\n");
    public_sources(o)?;
    o.push_str("            <Sems/>\n");
    rwa170(o, &existing)?;
    footer(o)?;
    o.push_str("        </Root>\n    </Result>\n</CigResult>\n");
    Ok(())
}

fn header(o: &mut String, iin: &Iin, p: &Person) -> fmt::Result {
    write!(
        o,
        r#"            <Title intitle="СУБЪЕКТ КРЕДИТНОГО ОТЧЕТА" name="tblTitle" title="Республика Казахстан. ТОО «Первое кредитное бюро»"/>
            <Header EntityType="Individual" ReportCode="Report.ReportName.Standard" intitle="СУБЪЕКТ КРЕДИТНОГО ОТЧЕТА" name="tblHeader" stitle="Данные о субъекте кредитной истории" subject="Физическое лицо" title="Кредитный отчет - стандарт">
                <FIUniqueNumberID id="2" title="Уникальный номер финансового учреждения" value="{fi}"/>
                <RegistrationID stitle="ID субъекта" title="Регистрационный ИД" value="{reg}"/>
                <RNN id="1" title="РНН" value="{rnn}"/>
                <SIC id="" title="СИК" value=""/>
                <IIN id="14" title="ИИН" value="{iin}"/>
                <DateOfBirth title="Дата рождения" value="{dob}"/>
                <Gender title="Пол" value="{gender}"/>
                <Surname title="Фамилия в настоящее время" value="{surname}"/>
                <Name stitle="ФИО" title="Имя" value="{name}"/>
                <FathersName title="Отчество" value="{fathers}"/>
                <BirthName title="Фамилия по рождению" value="-"/>
                <CityOfBirth title="Место рождения  (город)" value=""/>
                <Education id="{edu_id}" title="Образование" value="{edu}"/>
                <MatrialStatus id="{mar_id}" title="Семейное положение" value="{mar}"/>
                <RegionOfBirth title="Место рождения ( область, район)" value=""/>
                <CountryOfBirth title="Страна рождения (код страны)" value="Казахстан"/>
            </Header>
"#,
        fi = p.fi_unique,
        reg = p.registration_id,
        rnn = p.rnn,
        iin = iin.expose(),
        dob = D(p.birth),
        gender = p.gender(),
        surname = Esc(&p.surname),
        name = Esc(p.name),
        fathers = Esc(&p.fathers_name),
        edu_id = p.education.0,
        edu = p.education.1,
        mar_id = p.marital.0,
        mar = p.marital.1,
    )
}

fn subject_details(o: &mut String, p: &Person) -> fmt::Result {
    let home = p.addresses.first();
    let street = home.map(|a| a.street.as_str()).unwrap_or("");
    let region = home.map(|a| a.region).unwrap_or("");
    write!(
        o,
        r#"            <SubjectDetails name="SubjectDetails" stitle="Дополнительная информация" title="СУБЪЕКТ, СЕМЬЯ И ЗАНЯТОСТЬ  ">
                <NumberOfDependents title="Кол-во иждивенцев до 18 лет" value="{dep}"/>
                <NumberOfChildern stitle="старше 18 лет"/>
                <NumberOfDependents stitle2="Количество иждивенцев" stitle3="Возраст иждивенцев"/>
                <NumberOfChildern title="Кол-во иждивенцев старше 18 лет" value="0"/>
                <NumberOfDependents stitle="до 18 лет"/>
                <StreetAddress title="Улица" value="{street}"/>
                <Street title="Улица" value="{street}"/>
                <City title="Город" value=""/>
                <ZipCode title="Почтовый индекс" value=""/>
                <Region title="Область, район" value="{region}"/>
                <Country title="Cтрана" value="Казахстан"/>
                <Number title="Номер дома" value=""/>
                <CellularPhone title="Номер сотового телефона" value=" {cell}"/>
                <HomePhone title="Домашний телефон" value=" {home}"/>
                <OfficePhone title="Рабочий телефон" value=" {office}"/>
                <Fax title="Номер факса" value=""/>
                <Email title="E-Mail" value=" {email}"/>
                <EmployeesSalary title="Зарплата (нетто)" value=""/>
            </SubjectDetails>
"#,
        dep = p.dependents,
        street = Esc(street),
        region = region,
        cell = p.cellular,
        home = p.home_phone,
        office = p.office_phone,
        email = Esc(&p.email),
    )
}

fn addresses(o: &mut String, p: &Person) -> fmt::Result {
    if p.addresses.is_empty() {
        o.push_str(
            "            <SubjectsAddress stitle=\"Адреса\" stitle2=\"Контакты\" title=\"\"/>\n",
        );
        return Ok(());
    }
    o.push_str("            <SubjectsAddress stitle=\"Адреса\" stitle2=\"Контакты\" title=\"\">\n");
    for a in &p.addresses {
        let kind = if a.permanent {
            " value=\"Постоянное место жительства\""
        } else {
            ""
        };
        let city = if a.region.starts_with("г.") {
            ""
        } else {
            a.city
        };
        write!(
            o,
            r#"                <Address title="Текущие" type="Current">
                    <AddressType title="Тип адреса"{kind}/>
                    <Street title="Улица" value="{street}"/>
                    <Number stitle="№ дома/квартиры" title="Номер дома" value="{house}"/>
                    <ZipCode title="Почтовый индекс" value=""/>
                    <City title="Город" value="{city}"/>
                    <Country title="Cтрана" value="Казахстан"/>
                    <Region stitle="Населенный пункт" title="Область, район" value="{region}"/>
                    <HomePhone title="Домашний телефон" value="{home}"/>
                    <OfficePhone title="Рабочий телефон" value="{office}"/>
                    <Fax title="Номер факса" value=""/>
                    <CellularPhone title="Номер сотового телефона" value="{cell}"/>
                    <EmailAddress title="E-Mail" value="{email}"/>
                    <WebPageAddress title="Сайт" value=""/>
                    <AddressInserted title="Дата" value="{inserted}"/>
                    <PostBox title="Почтовый ящик" value=""/>
                    <AdditionalInfo title="Дополнительная информация" value=""/>
                </Address>
"#,
            street = Esc(&a.street),
            house = a.house,
            region = a.region,
            home = p.home_phone,
            office = p.office_phone,
            cell = p.cellular,
            email = Esc(&p.email),
            inserted = D(a.inserted),
        )?;
    }
    o.push_str("            </SubjectsAddress>\n");
    Ok(())
}

fn documents(o: &mut String, iin: &Iin, p: &Person, n: usize, rng: &mut Rng) -> fmt::Result {
    o.push_str("            <IdentificationDocuments stitle=\"Документы\" title=\"ДОКУМЕНТЫ УДОСТОВЕРЯЮЩИЕ ЛИЧНОСТЬ – НАСТОЯЩАЯ И ИСТОРИЧЕСКАЯ ИНФОРМАЦИЯ\">\n");
    let today = as_of();
    for i in 0..n {
        let (id, name, number) = match i % 4 {
            0 => (
                "14",
                "Индивидуальный идентификационный номер (ИИН)",
                iin.expose().to_owned(),
            ),
            1 => ("7", "Удостоверение личности", p.id_card.clone()),
            2 => ("6", "Паспорт гражданина РК", p.passport.clone()),
            _ => ("1", "РНН", p.rnn.clone()),
        };
        let historical = i >= 4 && i % 3 == 0;
        let issued = days_before(today, rng.range(100, 3600));
        let has_dates = id == "7" || id == "6";
        write!(
            o,
            r#"                <Document rank="{rank}" stitle="{stitle}" type="{ty}">
                    <Name id="{id}" title="Вид документа" value="{name}"/>
                    <DateOfRegistration title="Дата записи в систему" value="{reg}"/>
                    <DateOfIssuance title="Дата выдачи" value="{issued}"/>
                    <DateOfExpiration title="Срок действия" value="{expires}"/>
                    <Number title="Номер" value="{number}"/>
                    <IssuanceLocation title="Кем выдан" value="{place}"/>
                    <DateOfInserted title="Дата получения сведений кред.бюро" value="{inserted}"/>
                </Document>
"#,
            rank = if i % 5 == 4 {
                "Вторичная оценка"
            } else {
                "Первичная оценка"
            },
            stitle = if historical {
                "Исторические"
            } else {
                "Текущие"
            },
            ty = if historical { "Historical" } else { "Current" },
            reg = D(days_before(today, rng.range(30, 3000))),
            issued = OD(has_dates.then_some(issued)),
            expires = OD(has_dates.then(|| months_before(issued, -120))),
            place = if has_dates { "МВД РК" } else { "" },
            inserted = D(days_before(today, rng.range(10, 2000))),
        )?;
    }
    o.push_str("            </IdentificationDocuments>\n");
    Ok(())
}

fn classification(o: &mut String, p: &Person) -> fmt::Result {
    write!(
        o,
        r#"            <ClassificationOfBorrower name="ClassificationOfBorrower" title="СОЦИАЛЬНО-ЭКОНОМИЧЕСКИЙ СТАТУС">
                <BorrowerClassification id="1" title="Классификация субъекта" value="Физическое лицо"/>
                <Patent title="Номер патента" value=""/>
                <Resident id="1" title="Резидент/Нерезидент" value="Резидент"/>
                <SubjectsPosition title="Род занятий" value="{}"/>
                <Citizenship id="110" title="Гражданство" value="Казахстан"/>
                <SubjectsEmployment title="Характер занятости клиента" value=""/>
                <ForeignersCitizenship title="Гражданство иностранца" value=""/>
                <EconomicActivityGroup title="Отрасль" value="Прочее"/>
            </ClassificationOfBorrower>
"#,
        p.occupation
    )
}

fn negative_list(o: &mut String, contracts: &[Contract]) -> fmt::Result {
    if contracts.is_empty() {
        o.push_str("                    <list/>\n");
        return Ok(());
    }
    o.push_str("                    <list>\n");
    for c in contracts {
        write!(
            o,
            r#"                        <NegativeStatusOfContract>
                            <NegativeStatusOfContract id="{}" title="Статус договора" value="{}"/>
                            <RegistrationDate title="Последняя дата записи в систему" value="{}"/>
                            <SubjectRole title="Роль субъекта" value="Заёмщик"/>
                            <SubjectRoleEn value="Borrower"/>
                        </NegativeStatusOfContract>
"#,
            c.status.0,
            c.status.1,
            D(c.last_update)
        )?;
    }
    o.push_str("                    </list>\n");
    Ok(())
}

fn negative_data(
    o: &mut String,
    profile: Profile,
    existing: &[Contract],
    terminated: &[Contract],
) -> fmt::Result {
    let client = if profile == Profile::HeavyOverdue {
        "Клиент имеет просроченную задолженность свыше 90 дней"
    } else {
        "Клиент не имеет негативной информации"
    };
    let last = existing
        .iter()
        .map(|c| c.last_update)
        .max()
        .unwrap_or(as_of());
    write!(
        o,
        r#"            <NegativeData name="NegativeData" title="СТАТУС СУБЪЕКТА">
                <NegativeStatus title="Действующие договора" type="current" typeTitle="Текущие">
                    <NegativeStatusOfClient>
                        <NegativeStatusOfClient title="Статус субъекта" value="{client}"/>
                        <RegistrationDate title="Последняя дата записи в систему" value="{}"/>
                    </NegativeStatusOfClient>
"#,
        D(last)
    )?;
    negative_list(o, existing)?;
    o.push_str("                </NegativeStatus>\n                <NegativeStatus title=\"Завершенные договора\" type=\"historical\" typeTitle=\"Исторический\">\n");
    negative_list(o, terminated)?;
    o.push_str("                </NegativeStatus>\n                <NegativeStatus title=\"Отозванные договора\" type=\"withdrawn\" typeTitle=\"Текущие\"/>\n            </NegativeData>\n");
    Ok(())
}

fn summary_block(
    o: &mut String,
    element: &str,
    title: &str,
    contracts: &[&Contract],
) -> fmt::Result {
    let debt: i64 = contracts.iter().map(|c| c.debt()).sum();
    let overdue: i64 = contracts.iter().map(|c| c.overdue_amount).sum();
    let fine: i64 = contracts.iter().map(|c| c.fine).sum();
    let penalty: i64 = contracts.iter().map(|c| c.penalty).sum();
    let lines = contracts.iter().filter(|c| c.card).count();
    write!(
        o,
        r#"                <{element} title="{title}">
                    <SubjectRole title="Заёмщик" type="Borrower">
                        <NumberOfContracts title="Количество" value="{}"/>
                        <NumberOfCreditLines title="Количество кредитных линии" value="{lines}"/>
                        <TotalOutstandingDebt title="Общая непогашенная сумма" value="{}"/>
                        <TotalDebtOverdue title="Общая сумма просроченных взносов" value="{}"/>
                        <TotalFine title="Сумма пеней" value="{}"/>
                        <TotalPenalty title="Сумма штрафов" value="{}"/>
"#,
        contracts.len(),
        Total(debt),
        Total(overdue),
        Total(fine),
        Total(penalty),
    )?;
    // Counts per status, in order of first appearance.
    let mut statuses: Vec<(&str, usize)> = Vec::new();
    for c in contracts {
        match statuses.iter_mut().find(|(s, _)| *s == c.status.1) {
            Some((_, n)) => *n += 1,
            None => statuses.push((c.status.1, 1)),
        }
    }
    if statuses.is_empty() {
        o.push_str("                        <ContractStatuses/>\n");
    } else {
        o.push_str("                        <ContractStatuses>\n");
        for (s, n) in statuses {
            writeln!(
                o,
                "                            <ContractStatus count=\"{n}\" value=\"{s}\"/>"
            )?;
        }
        o.push_str("                        </ContractStatuses>\n");
    }
    write!(
        o,
        "                    </SubjectRole>\n                </{element}>\n"
    )
}

fn summary(
    o: &mut String,
    existing: &[Contract],
    terminated: &[Contract],
    q: &Queries,
) -> fmt::Result {
    o.push_str("            <SummaryInformation title=\"ОБЩАЯ ИНФОРМАЦИЯ - ДОГОВОРА\">\n");
    let open: Vec<&Contract> = existing.iter().collect();
    summary_block(o, "ExistingContracts", "Действующие договора", &open)?;
    let closed: Vec<&Contract> = terminated.iter().collect();
    summary_block(o, "TerminatedContracts", "Завершенные договора", &closed)?;
    let five_years_ago = months_before(as_of(), 60);
    let old: Vec<&Contract> = terminated
        .iter()
        .filter(|c| c.repaid.is_some_and(|d| d < five_years_ago))
        .collect();
    summary_block(
        o,
        "TerminatedContractsDateLimit",
        "Завершенные более 5 лет назад",
        &old,
    )?;
    write!(
        o,
        r#"                <WithdrawnApplications title="Отозванные договора"/>
                <NumberOfApplications title="КОЛИЧЕСТВО ОТКАЗАННЫХ/ОТОЗВАННЫХ ЗАЯВЛЕНИЙ"/>
                <NumberOfInquiries title="Количество запросов (12м)" value="{}">
                    <FirstQuarter title="1- ый квартал" value="{}"/>
                    <SecondQuarter title="2- ой квартал" value="{}"/>
                    <ThirdQuarter title="3- ий квартал" value="{}"/>
                    <FourthQuarter title="4- ой квартал" value="{}"/>
                </NumberOfInquiries>
            </SummaryInformation>
"#,
        q.days[4], q.quarters[0], q.quarters[1], q.quarters[2], q.quarters[3]
    )
}

fn contracts_section(
    o: &mut String,
    element: &str,
    stitle: &str,
    title: &str,
    contracts: &[Contract],
) -> fmt::Result {
    write!(
        o,
        "            <{element} name=\"{element}\" stitle=\"{stitle}\" title=\"{title}\""
    )?;
    if contracts.is_empty() {
        return o.write_str("/>\n");
    }
    o.push_str(">\n");
    for c in contracts {
        contract(o, c)?;
    }
    writeln!(o, "            </{element}>")
}

fn contract(o: &mut String, c: &Contract) -> fmt::Result {
    let (kind, kind_code, founding) = if c.card {
        (
            "Кредитный договор",
            "Contract.Type .CreditContract",
            ("9", "Кредитная карта"),
        )
    } else {
        (
            "Рассроченный (кредит)",
            "Contract.Type .Instalment",
            ("2", "Займ"),
        )
    };
    let blank = String::new();
    let amount = |v: i64, show: bool| {
        if show {
            Kzt(v).to_string()
        } else {
            blank.clone()
        }
    };
    let (
        guarantee,
        guarantee_value,
        value_kind,
        collateral_kind,
        collateral_status,
        collateral_name,
    ) = match c.vehicle {
        Some(v) => (
            "Движимое имущество",
            v,
            "Рыночная стоимость",
            "Автотранспорт",
            "Действующий",
            "Легковой автомобиль",
        ),
        None => ("Бланковые", 0, "Внутреняя оценка", "", "", ""),
    };
    let (max_days, max_days_date, max_days_amount, max_amount, max_amount_date, max_amount_days) =
        c.max_overdue();
    let zero_or = |v: i64| {
        if v == 0 {
            "0".to_owned()
        } else {
            Kzt(v).to_string()
        }
    };
    write!(
        o,
        r#"                <Contract ContractType="{kind}" ContractTypeCode="{kind_code}" Currency="KZT">
                    <CodeOfContract title="Код контракта" value="{code}"/>
                    <AgreementNumber title="Номер договора" value="{agreement}"/>
                    <AgreementNumberGuarantee title="Номер договора банковской гарантии" value=""/>
                    <TypeOfFounding id="{fid}" title="Вид финансирования" value="{fname}"/>
                    <PurposeOfCredit id="{pid}" title="Цель кредита" value="{pname}"/>
                    <CurrencyCode title="Код валюты" value="KZT"/>
                    <ContractStatus id="{sid}" title="Статус договора" value="{sname}"/>
                    <DateOfApplication title="Дата заявки" value="{application}"/>
                    <DateOfCreditStart title="Дата начала срока действия договора" value="{start}"/>
                    <DateOfCreditEnd title="Дата окончания срока действия договора" value="{end}"/>
                    <DateOfRealRepayment title="Дата фактического завершения" value="{repaid}"/>
                    <DateAgreementGuarantee title="Дата договора банковской гарантии/поручительства" value="-"/>
                    <GuaranteeEvent title="Обстоятельство (событие) прекращения обязательства банка" value="-"/>
                    <LastUpdate title="Информация по состоянию на" value="{last_update}"/>
                    <Collateral>
                        <TypeOfGuarantee title="Вид обеспечения" value="{guarantee}"/>
                        <ValueOfGuarantee title="Стоимость обеспечения" value="{guarantee_value}"/>
                        <TypeOfValueOfGuarantee title="Вид стоимости обеспечения" value="{value_kind}"/>
                        <AdditionalInformation title="" value=""/>
                        <PlaceOfGuarantee title="" value=""/>
                        <TypeOfCollateral title="Вид залога" value="{collateral_kind}"/>
                        <CollateralStatus title="Cтатус залога" value="{collateral_status}"/>
                        <CollateralName title="Наименование залога" value="{collateral_name}"/>
                    </Collateral>
                    <ClassificationOfContract title="Классификация договора" value="{classification}"/>
                    <TotalAmount title="Общая сумма кредита/валюта" value="{total}"/>
                    <Amount title="Использованная сумма" value=""/>
                    <CreditUsage id="" title="" value=""/>
                    <ResidualAmount title="Использованная сумма (подлежащая погашению)" value="{residual}"/>
                    <CreditLimit title="Сумма кредитного лимита" value="{limit}"/>
                    <NumberOfOutstandingInstalments title="Кол-во непогашенных (предстоящих)  платежей" value="{left}"/>
                    <NumberOfInstalments title="Общее количество платежей" value="{count}"/>
                    <OutstandingAmount title="Непогашенная сумма по кредиту" value="{outstanding}"/>
                    <PeriodicityOfPayments id="{per_id}" title="Периодичность платежей" value="{per}"/>
                    <MethodOfPayments id="{met_id}" title="Форма расчёта" value="{met}"/>
                    <NumberOfOverdueInstalments title="Количество дней просрочки" value="{overdue_days}"/>
                    <OverdueAmount title="Сумма просроченных взносов" value="{overdue_amount}"/>
                    <MonthlyInstalmentAmount title="{monthly_title}" value="{monthly}"/>
                    <InterestRate title="Процентная ставка" value=""/>
                    <SubjectRole number="1" title="Роль субъекта" value="Заёмщик"/>
                    <FinancialInstitution id="{lid}" title="Источник информации (Кредитор)" value="{lname}"/>
                    <SpecialRelationship title="Признак связанности с банком особыми отношениями" value="Нет"/>
                    <AnnualEffectiveRate title="Годовая эффективная ставка вознаграждения" value="{aer}"/>
                    <NominalRate title="Номинальная ставка вознаграждения" value="{nominal}"/>
                    <AmountProvisions title="Размер провизии" value=""/>
                    <LoanAccount title="Ссудный счет" value=""/>
                    <GracePrincipal title="Льготный период по основному долгу" value=""/>
                    <GracePay title="Льготный период по вознаграждению" value=""/>
                    <PlaceOfDisbursement id="" title="Место освоения кредита" value=""/>
                    <PaymentsCalendar>
"#,
        code = c.code,
        agreement = c.agreement,
        fid = founding.0,
        fname = founding.1,
        pid = c.purpose.0,
        pname = c.purpose.1,
        sid = c.status.0,
        sname = c.status.1,
        application = OD(c.application),
        start = D(c.start),
        end = D(c.end),
        repaid = OD(c.repaid),
        last_update = D(c.last_update),
        guarantee_value = Kzt(guarantee_value),
        classification = c.classification,
        total = amount(c.total, !c.card),
        residual = amount(c.outstanding, c.card),
        limit = amount(c.total, c.card),
        left = if c.card {
            blank.clone()
        } else {
            c.outstanding_instalments.to_string()
        },
        count = if c.card {
            blank.clone()
        } else {
            c.instalments.to_string()
        },
        outstanding = amount(c.outstanding, !c.card),
        per_id = c.periodicity.0,
        per = c.periodicity.1,
        met_id = c.method.0,
        met = c.method.1,
        overdue_days = c.overdue_days,
        overdue_amount = Kzt(c.overdue_amount),
        monthly_title = if c.card {
            "Минимальный платеж"
        } else {
            "Сумма периодического платежа"
        },
        monthly = Kzt(c.periodic),
        lid = c.lender.0,
        lname = c.lender.1,
        aer = Dotted(c.effective_rate),
        nominal = Dotted(c.nominal_rate),
    )?;
    for (y, months) in c.calendar.chunks(12).enumerate() {
        writeln!(
            o,
            "                        <Year title=\"{}\">",
            c.first_year + i32::try_from(y).unwrap_or(0)
        )?;
        for (m, p) in months.iter().enumerate() {
            let title = MONTHS[m];
            let number = m + 1;
            match p.days {
                None => writeln!(
                    o,
                    "                            <Payment fine=\"\" number=\"{number}\" overdue=\"\" penalty=\"\" title=\"{title}\" value=\"\"/>"
                )?,
                Some(days) => {
                    let fine = if p.fine > 0 {
                        Dotted(p.fine).to_string()
                    } else {
                        "-".to_owned()
                    };
                    let penalty = if p.penalty > 0 {
                        Dotted(p.penalty).to_string()
                    } else {
                        "-".to_owned()
                    };
                    let overdue = if p.amount > 0 {
                        Kzt(p.amount).to_string()
                    } else {
                        "0".to_owned()
                    };
                    writeln!(
                        o,
                        "                            <Payment fine=\"{fine}\" number=\"{number}\" overdue=\"{overdue}\" penalty=\"{penalty}\" title=\"{title}\" value=\"{days}\"/>"
                    )?;
                }
            }
        }
        o.push_str("                        </Year>\n");
    }
    write!(
        o,
        r#"                    </PaymentsCalendar>
                    <ContractThirdParty title="Наименование цессионария" value=""/>
                    <ParentContractCode title="Номер родительского контракта" value=""/>
                    <ParentProvider id="" title="Поставщик родительского контракта"/>
                    <ParentContractStatus id="" title="Статус родительского контракта" value=""/>
                    <ParentOperationDate title="Дата операции в родительском процессе" value="-"/>
                    <Fine title="Пеня" value="{fine}"/>
                    <Penalty title="Штраф" value="{penalty}"/>
                    <BranchLocation title="Местонахождение филиала" value="{branch}"/>
                    <ProlongationCount title="Кол-во пролонгаций" value=""/>
                    <NumberOfTransactions title="Количество транзакций" value=""/>
                    <InstalmentAmount title="Сумма периодического платежа" value="{instalment}"/>
                    <ActualDate title="Дата фактической выдачи" value="{actual}"/>
                    <DateOfInserted title="Дата получения сведений кред.бюро" value="{inserted}"/>
                    <NumberOfOverdueInstalmentsMax title="Максимальное количество дней просрочки с начала действия договора" value="{max_days}"/>
                    <NumberOfOverdueInstalmentsMaxDate title="Дата актуальности информации" value="{max_days_date}"/>
                    <NumberOfOverdueInstalmentsMaxAmount title="Сумма просроченных взносов" value="{max_days_amount}"/>
                    <OverdueAmountMax title="Максимальная сумма просроченных взносов с начала действия договора" value="{max_amount}"/>
                    <OverdueAmountMaxDate title="Дата актуальности информации" value="{max_amount_date}"/>
                    <OverdueAmountMaxCount title="Количество дней просрочки" value="{max_amount_days}"/>
                    <CreditObject id="{oid}" title="Объект кредитования" value="{oname}"/>
                    <InterconnectedSubjects name="InterconnectedSubjects" title="СВЯЗАННЫЕ ОБЬЕКТЫ (2-Я ФАЗА)"/>
                    <Schema title="Схема контракта" value=""/>
                </Contract>
"#,
        fine = if c.fine > 0 {
            Kzt(c.fine).to_string()
        } else {
            blank.clone()
        },
        penalty = if c.penalty > 0 {
            Kzt(c.penalty).to_string()
        } else {
            blank.clone()
        },
        branch = c.branch,
        instalment = amount(c.periodic, c.card),
        actual = OD(c.actual),
        inserted = D(c.inserted),
        max_days_date = OD(max_days_date),
        max_days_amount = zero_or(max_days_amount),
        max_amount = zero_or(max_amount),
        max_amount_date = OD(max_amount_date),
        oid = c.object.0,
        oname = c.object.1,
    )
}

fn interconnected(o: &mut String, n: usize, rng: &mut Rng) -> fmt::Result {
    o.push_str("            <InterconnectedSubjects name=\"InterconnectedSubjects\" title=\"СВЯЗАННЫЕ ОБЬЕКТЫ (2-Я ФАЗА)\"");
    if n == 0 {
        return o.write_str("/>\n");
    }
    o.push_str(">\n");
    let own = rng.range(1_000_000, 9_999_999);
    for _ in 0..n {
        let (role, code) = if rng.chance(70) {
            ("Заёмщик", own)
        } else {
            (
                rng.pick(&["Созаёмщик", "Гарант", "Залогодатель"]),
                rng.range(1_000_000, 9_999_999),
            )
        };
        write!(
            o,
            r#"                <InterconnectedSubject>
                    <TypeOfLink title="Роль субъекта" value="{role}"/>
                    <SubjectCode title="Регистрационный ИД" value="{code}"/>
                </InterconnectedSubject>
"#
        )?;
    }
    o.push_str("            </InterconnectedSubjects>\n");
    Ok(())
}

/// Inquiry counts, consistent across the summary and `NumberOfQueries`.
struct Queries {
    /// 30, 90, 120, 180, 360 days (cumulative).
    days: [i64; 5],
    quarters: [i64; 4],
    last7: Vec<(Date, i64)>,
}

impl Queries {
    fn new(rng: &mut Rng, profile: Profile) -> Self {
        let scale = match profile {
            Profile::NoHistory => 1,
            Profile::Ordinary => 4,
            Profile::HeavyOverdue => 12,
        };
        let d30 = rng.range(1, scale);
        let d90 = d30 + rng.range(0, scale * 2);
        let d120 = d90 + rng.range(0, scale);
        let d180 = d120 + rng.range(0, scale * 2);
        let d360 = d180 + rng.range(0, scale * 3);
        let q4 = d90;
        let q3 = (d180 - d90) / 2;
        let q2 = (d360 - d180) / 2;
        let q1 = d360 - q4 - q3 - q2;
        let last7 = (0..d30.min(3))
            .map(|_| {
                (
                    days_before(as_of(), rng.range(0, 6)),
                    rng.range(9 * 3600, 19 * 3600),
                )
            })
            .collect();
        Self {
            days: [d30, d90, d120, d180, d360],
            quarters: [q1, q2, q3, q4],
            last7,
        }
    }

    fn render(&self, o: &mut String) -> fmt::Result {
        write!(
            o,
            "            <NumberOfQueries title=\"Количество произведенных участниками ПКБ запросов\" value=\"{}\">\n                <DetailsQueries7days title=\"Детализация запросов за 7 дней\"",
            self.days[4]
        )?;
        if self.last7.is_empty() {
            o.push_str("/>\n");
        } else {
            o.push_str(">\n");
            for (d, secs) in &self.last7 {
                writeln!(
                    o,
                    "                    <query value=\"{} {:02}:{:02}:{:02}\"/>",
                    D(*d),
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )?;
            }
            o.push_str("                </DetailsQueries7days>\n");
        }
        write!(
            o,
            r#"                <Days30 title="За 30 дней" value="{}"/>
                <Days90 title="За 90 дней" value="{}"/>
                <Days120 title="За 120 дней" value="{}"/>
                <Days180 title="За 180 дней" value="{}"/>
                <Days360 title="За 360 дней" value="{}"/>
            </NumberOfQueries>
"#,
            self.days[0], self.days[1], self.days[2], self.days[3], self.days[4]
        )
    }
}

fn public_sources(o: &mut String) -> fmt::Result {
    let refresh = D(days_before(as_of(), 14));
    let stamp = format!(
        "{:04}-{:02}-{:02} 00:00:00.000",
        as_of().year(),
        u8::from(as_of().month()),
        as_of().day()
    );
    write!(
        o,
        r#"            <PublicSources title="">
                <QamqorList title="Розыск преступников, должников, без вести пропавших лиц Комитетом по правовой статистике и специальным учетам ГП РК">
                    <Source title="Ссылка на источник" value="http://qamqor.gov.kz/portal/page/portal/POPageGroup/Services/SuRet"/>
                    <ActualDate title="Дата получения сведений кредитным бюро"/>
                    <RefreshDate value="{refresh}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке преступников, должников, без вести пропавших лиц"/>
                </QamqorList>
                <KgdWanted title="Розыск Комитетом государственных доходов Министерства Финансов РК">
                    <Source title="Ссылка на источник" value="http://kgd.gov.kz/ru/mobile-api/wanted"/>
                    <ActualDate title="Дата получения сведений кредитным бюро"/>
                    <RefreshDate value="{refresh}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке Розыск Комитетом государственных доходов Министерства Финансов РК"/>
                </KgdWanted>
                <QamqorAlimony title="Розыск алиментщиков Комитетом по правовой статистике и специальным учетам ГП РК">
                    <Source title="Ссылка на источник" value="http://qamqor.gov.kz/portal/page/portal/POPageGroup/Services/Alimony"/>
                    <ActualDate title="Дата получения сведений кредитным бюро"/>
                    <RefreshDate value="{refresh}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке разыскиваемых алиментщиков Комитета по правовой статистике и специальным учетам ГП РК"/>
                </QamqorAlimony>
                <RNUGosZakup title="Реестр недобросовестных участников государственных закупок">
                    <Source title="Ссылка на источник" value="https://goszakup.gov.kz/ru/registry/rnu"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{stamp}"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в реестре недобросовестных участников государственных закупок"/>
                    <Companies title="Компании"/>
                </RNUGosZakup>
                <FalseBusi title="Перечень налогоплательщиков, осуществивших лжепредпринимательскую деятельность">
                    <Source title="Ссылка на источник" value="http://kgd.gov.kz/ru/services/taxpayer_search_unreliable/list"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{stamp}"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке налогоплательщиков, осуществивших лжепредпринимательскую деятельность"/>
                    <Companies title="Компании"/>
                </FalseBusi>
                <TerrorList title="Перечень организаций и лиц, связанных с финансированием терроризма и экстремизма">
                    <Source title="Ссылка на источник" value="http://kfm.gov.kz/ru/the-list-of-organizations-and-individuals-associa/"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{refresh}"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке организаций и лиц, связанных с финансированием терроризма и экстремизма"/>
                </TerrorList>
                <Areears title="Список плательщиков, имеющих задолженность по таможенным платежам, налогам и пеням, не погашенную в течение 4 месяцев со дня ее возникновения">
                    <Source title="Ссылка на источник" value="https://data.egov.kz/datasets/view?index=01102016_zhylgy_kezenine_tuy"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{stamp}"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке плательщиков, имеющих задолженность по таможенным платежам, налогам и пеням"/>
                </Areears>
                <Bankruptcy title="Списки несостоятельных должников/Список банкротов">
                    <Source title="Ссылка на источник" value="https://data.egov.kz/datasets/view?index=darmensiz_boryshkerlerdin_tizi3"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{stamp}"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке банкротов, в отношении которых решения суда о признании их банкротами вступили в законную силу"/>
                    <Companies title="Компании"/>
                </Bankruptcy>
                <L150o10 title="Поиск в списке налогоплательщиков - ЮЛ, имеющих налоговую задолженность более 150 МРП и ИП, частных нотариусах, частных судебных исполнителях, адвокатах, профессиональных медиаторах, имеющих налоговую задолженность более 10 МРП, не погашенную в течение 4 месяцев со дня ее возникновения; агентов, имеющих налоговую задолженность по пенсионным взносам, обязательным профессиональным пенсионным взносам, не погашенную в срок более 6 месяцев.">
                    <Source title="Ссылка на источник" value="http://kgd.gov.kz/ru/content/2021-god-1-2"/>
                    <ActualDate title="Дата получения сведений кредитным бюро" value="{stamp}"/>
                    <RefreshDate title="Дата обновления сведений на источнике" value="{stamp}"/>
                    <Status id="2" title="Статус субъекта" value="Субъект не найден в списке о налогоплательщиках - ЮЛ, имеющих налоговую задолженность более 150 МРП и ИП, частных нотариусах, частных судебных исполнителях, адвокатах, профессиональных медиаторах, имеющих налоговую задолженность более 10 МРП, не погашенную в течение 4 месяцев со дня ее возникновения"/>
                    <Companies title="Компании"/>
                </L150o10>
            </PublicSources>
"#
    )
}

fn rwa170(o: &mut String, existing: &[Contract]) -> fmt::Result {
    let unsecured: Vec<&Contract> = existing.iter().filter(|c| c.vehicle.is_none()).collect();
    let sum: i64 = unsecured.iter().map(|c| c.debt()).sum();
    write!(
        o,
        "            <RWA170 NotFoundText=\"Задолженность по займам, отнесенным к категории бланковых по виду обеспечения – информация не найдена\" title=\"Задолженность по займам, отнесенным к категории бланковых по виду обеспечения\">\n                <Contracts ContractsSumm=\"{}\" title=\"Общая сумма задолженности\"",
        Kzt(sum)
    )?;
    if unsecured.is_empty() {
        o.push_str("/>\n");
    } else {
        o.push_str(">\n");
        for c in unsecured {
            write!(
                o,
                r#"                    <Contract>
                        <ContractCode title="Код контракта" value="{}"/>
                        <ContractSumm title="Сумма задолженности по контракту" value="{}"/>
                    </Contract>
"#,
                c.code,
                Kzt(c.debt())
            )?;
        }
        o.push_str("                </Contracts>\n");
    }
    o.push_str("            </RWA170>\n");
    Ok(())
}

fn footer(o: &mut String) -> fmt::Result {
    write!(
        o,
        r#"            <Footer EndOfReport="КОНЕЦ КРЕДИТНОГО ОТЧЕТА" name="tblFooter">
                <DateOfIssue title="Дата выдачи" value="{} {AS_OF_TIME}"/>
                <ContactInfo value="Синтетический отчёт мок-сервера kuzet. Данные вымышлены и не относятся к реальным лицам."/>
"#,
        D(as_of())
    )?;
    o.push_str(FOOTER_STATIC);
    Ok(())
}

/// The footer's fixed labels, as in the sample.
const FOOTER_STATIC: &str = r#"                <Contracts>
                    <AdditionalInformation stitle="Дополнительная информация"/>
                    <Balance stitle="Баланс"/>
                    <Collaterals stitle="Залоги"/>
                    <Contract stitle="Договор"/>
                    <DaysOverdue stitle="Дни просрочки"/>
                    <Payment stitle="Платежная дисциплина"/>
                    <RelatedSubjects stitle="Связанные субьекты">
                        <Documents stitle="Документы"/>
                        <FIO stitle="ФИО/Наименование"/>
                        <SubjectRole stitle="Роль субъекта"/>
                    </RelatedSubjects>
                    <Status stitle="Состояние"/>
                    <TypeOfGuarantee stitle="Вид обеспечения"/>
                    <ValueOfGuarantee stitle="Стоимость обеспечения"/>
                    <ProlongationStartDate stitle="Дата пролонгации"/>
                    <ProlongationEndDate stitle="Дата завершения пролонгации"/>
                    <Collateral>
                        <TypeOfGuarantee stitle="Вид обеспечения"/>
                        <ValueOfGuarantee stitle="Стоимость обеспечения"/>
                        <TypeOfValueOfGuarantee stitle="Вид стоимости обеспечения"/>
                        <PlaceOfGuarantee stitle="Местоположение залога"/>
                        <CollateralStatus stitle="Cтатус залога"/>
                        <CollateralName stitle="Наименование залога"/>
                        <TypeOfCollateral stitle="Вид залога"/>
                    </Collateral>
                </Contracts>
                <FiveYearsWarning stitle="Получение кредитного отчета, не содержащего информацию по кредитам, по которым последняя информация получена ранее пяти лет с даты получения последней информации о Вас от соответствующего поставщика информации, будет возможно после 01 июля 2021 года в связи с техническими доработками. Приносим извинения за неудобство"/>
                <AuthenticityWarning stitle="Внимание! Подлинность данного отчета можно проверить в мобильном приложении 1cb.kz в разделе проверка QR-кода."/>
                <Footer stitle="© ТОО «Первое кредитное бюро». Все права защищены."/>
                <ExistingContracts stitle="Действующие договора"/>
                <TerminatedContracts stitle="Завершенные договора"/>
                <WithdrawnApplications stitle="Отозванные договора"/>
                <NoAddresses stitle="Нет данных об адресах субъекта"/>
                <NoContacts stitle="Нет данных о контактах субъекта"/>
                <Guarant stitle="Гарант"/>
                <Borrower stitle="Заёмщик/Созаёмщик"/>
                <SubjectRole stitle="Роль субъекта"/>
                <NoDocuments stitle="Нет данных о документах субъекта"/>
                <NoExistingContracts stitle="Субъект не имеет действующих договоров"/>
                <NoNegativeStatus stitle=""/>
                <NoTerminatedContracts stitle="Субьект не имеет завершенных договоров"/>
                <NoTerminatedContractsDateLimit stitle="Субьект не имеет завершенных более 5 лет назад договоров"/>
                <NoWithdrawnApplications stitle="Субьект не имеет отозванных договоров"/>
                <TitleDetailedInformation stitle="Подробная информация"/>
                <TitleAdditionalInformation stitle="Дополнительная информация"/>
                <TitleLiabilities stitle="Обязательства">
                    <ContractsNumber stitle="Количество"/>
                    <ContractsPhase stitle="Фаза договора"/>
                    <ContractStatus stitle="Статус договора"/>
                    <OutstandingAmount stitle="Непогашенная сумма/валюта"/>
                    <OverdueAmount stitle="Просроченная сумма/валюта"/>
                    <NumberOfCreditLines title="Количество кредитных линии"/>
                    <TotalFine title="Сумма пеней"/>
                    <TotalPenalty title="Сумма штрафов"/>
                </TitleLiabilities>
                <InterconnectedSubjects>
                    <TypeOfLink title="Роль субъекта"/>
                    <SubjectCode title="ID субъекта"/>
                    <SubjectName title="ФИО/Наименование"/>
                    <SubjectRNN title="РНН"/>
                    <SubjectIIN title="ИИН/БИН"/>
                </InterconnectedSubjects>
                <TitleSummaryInformation stitle="Общая информация"/>
                <Contract stitle="Контракт"/>
                <SubjectDetails2 stitle="Количество произведенных запросов"/>
                <AmountOverdue stitle="Сумма просрочки"/>
                <MaxOverdueAmount title="Сумма просроченных взносов"/>
                <MaxOverdueCount title="Количество дней просрочки"/>
                <PaymentsCalendar title="Платежная дисциплина за 24 месяца">
                    <Description1 title="*« - » - Поставщик информации не  предоставил данные"/>
                    <Description2 title="« 0 » - Просрочки отсутствуют"/>
                </PaymentsCalendar>
                <NoSubjects title="Данных по субъектам нет"/>
                <NoViolations title="Данных по штрафам нет"/>
                <InformationFromDB title="Раздел 1. Информация из БДКИ"/>
                <InformationFromPS title="Раздел 2. Информация из ГБД и других источников"/>
                <InformationFromPSS title="Раздел 2. Информация из дополнительных источников"/>
                <InformationFromPSS3 title=""/>
                <InformationFromPCR title=""/>
                <InformationFromGDB title="Раздел 2. Сведения из государственных баз данных"/>
                <Tranches title=""/>
                <TestWarning title=""/>
                <AdvCC title="Контролируй свою кредитную историю. 24/7"/>
                <IncludingRehabilitation title="В том числе"/>
            </Footer>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_dates_format_like_the_sample() {
        assert_eq!(Kzt(12_000_000).to_string(), "120 000,00 KZT");
        assert_eq!(Kzt(777_594_574).to_string(), "7 775 945,74 KZT");
        assert_eq!(Kzt(0).to_string(), "0,00 KZT");
        assert_eq!(Kzt(99).to_string(), "0,99 KZT");
        assert_eq!(Total(0).to_string(), "0");
        assert_eq!(Dotted(5100).to_string(), "51.00");
        let d = Date::from_calendar_date(2021, Month::March, 5).expect("date");
        assert_eq!(D(d).to_string(), "05.03.2021");
        assert_eq!(OD(None).to_string(), "-");
        assert_eq!(Esc("a\"b&<").to_string(), "a&quot;b&amp;&lt;");
    }

    #[test]
    fn months_before_crosses_years() {
        let d = Date::from_calendar_date(2024, Month::February, 29).expect("date");
        assert_eq!(D(months_before(d, 3)).to_string(), "28.11.2023");
        assert_eq!(D(months_before(d, -11)).to_string(), "28.01.2025");
    }
}
