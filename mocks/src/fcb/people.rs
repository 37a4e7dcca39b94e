//! Synthetic people for the bureau mock: names, addresses, phones and documents drawn
//! deterministically from the IIN, and the IINs reserved for edge cases.
//!
//! Every value here is made up. This module must never contain real people's data; the name
//! and street lists are invented combinations, the e-mail domain is the reserved
//! `example.com`, and phone numbers are random digits.

use kuzet_ident::Iin;
use time::Date;

/// Bureau error 1102 (subject not found). A man born 01.01.1990.
pub const IIN_NOT_FOUND: &str = "900101300017";
/// Bureau error 1112 (several subjects found for the IIN). A woman born 02.02.1985.
pub const IIN_SEVERAL_SUBJECTS: &str = "850202400020";
/// Bureau error 1111 (internal bureau error; the one bureau code worth a retry). A man born
/// 03.03.1978.
pub const IIN_BUREAU_INTERNAL_ERROR: &str = "780303300038";
/// A report with no credit history: empty contract sections, zero totals. A woman born
/// 04.04.1992.
pub const IIN_NO_CREDIT_HISTORY: &str = "920404400044";
/// A report where every open contract is 60+ days overdue, with fines, penalties, a
/// non-standard contract status and a negative subject status. A man born 05.05.1988.
pub const IIN_HEAVY_OVERDUE: &str = "880505300057";
/// An ordinary synthetic person with a full report. A man born 25.05.1987.
pub const IIN_DEMO: &str = "870525301012";

/// An ordinary synthetic person with a full report ([`IIN_DEMO`]).
pub fn demo_iin() -> Iin {
    // Cannot fail: `IIN_DEMO` is a literal with a valid check digit, which the
    // `reserved_iins_are_valid` test proves.
    Iin::parse(IIN_DEMO).expect("IIN_DEMO is a valid IIN")
}

/// A small deterministic generator (SplitMix64): the same seed gives the same sequence on
/// every platform, which is what byte-identical reports need.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeds from the IIN's digits (FNV-1a) and a per-use salt.
    pub(crate) fn from_iin(iin: &Iin, salt: u64) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in iin.expose().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self(h ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = u64::try_from(hi - lo).unwrap_or(0).saturating_add(1);
        lo + i64::try_from(self.next_u64() % span).unwrap_or(0)
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items`, which must not be empty (all callers pass constant, non-empty lists).
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let len = u64::try_from(items.len()).unwrap_or(1).max(1);
        let i = usize::try_from(self.next_u64() % len).unwrap_or(0);
        items[i.min(items.len().saturating_sub(1))]
    }

    /// `n` random decimal digits.
    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + u8::try_from(self.next_u64() % 10).unwrap_or(0)))
            .collect()
    }
}

const SURNAMES: &[&str] = &[
    "Абдыкалов",
    "Жумагалиев",
    "Сейтказин",
    "Нурпеисов",
    "Тлеубердин",
    "Кайыржанов",
    "Омарбеков",
    "Бекмуратов",
    "Ержанов",
    "Сарсембаев",
    "Токтаров",
    "Есенбеков",
];
const MALE_NAMES: &[&str] = &[
    "Ерлан",
    "Нурлан",
    "Асхат",
    "Даурен",
    "Бауыржан",
    "Ержан",
    "Талгат",
    "Арман",
    "Руслан",
    "Серик",
];
const FEMALE_NAMES: &[&str] = &[
    "Айгуль",
    "Жанар",
    "Сауле",
    "Динара",
    "Гульнара",
    "Асель",
    "Мадина",
    "Алия",
    "Камила",
    "Айжан",
];
const FATHERS: &[&str] = &[
    "Болат",
    "Кайрат",
    "Марат",
    "Жанат",
    "Самат",
    "Азамат",
    "Берик",
    "Канат",
    "Мурат",
];
const STREETS: &[&str] = &[
    "ул. Тестовая",
    "пр. Демонстрационный",
    "ул. Вымышленная",
    "мкр. Примерный",
    "ул. Условная",
    "пр. Синтетический",
    "ул. Образцовая",
    "мкр. Макетный",
];
const CITIES: &[(&str, &str)] = &[
    ("г.Алматы", "Алматы"),
    ("г.Астана", "Астана"),
    ("г.Шымкент", "Шымкент"),
    ("Карагандинская область", "Караганда"),
    ("Актюбинская область", "Актобе"),
    ("Павлодарская область", "Павлодар"),
];
const OCCUPATIONS: &[&str] = &[
    "Специалист",
    "Менеджер",
    "Инженер",
    "Бухгалтер",
    "Водитель",
    "Преподаватель",
];

/// One synthetic address.
#[derive(Debug, Clone)]
pub(crate) struct Address {
    pub street: String,
    pub house: String,
    pub region: &'static str,
    pub city: &'static str,
    pub permanent: bool,
    pub inserted: Date,
}

/// A synthetic person, everything but the IIN drawn from the IIN.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub birth: Date,
    pub male: bool,
    pub surname: String,
    pub name: &'static str,
    pub fathers_name: String,
    pub registration_id: u64,
    pub rnn: String,
    pub fi_unique: String,
    pub education: (u8, &'static str),
    pub marital: (u8, &'static str),
    pub occupation: &'static str,
    pub dependents: u8,
    pub cellular: String,
    pub home_phone: String,
    pub office_phone: String,
    pub email: String,
    pub addresses: Vec<Address>,
    pub id_card: String,
    pub passport: String,
}

fn phone(rng: &mut Rng) -> String {
    let d = rng.digits(7);
    format!("+7 7{} {} {} {}", rng.digits(2), &d[..3], &d[3..5], &d[5..])
}

/// A date `days` days before `d` (saturating at `Date::MIN`).
pub(crate) fn days_before(d: Date, days: i64) -> Date {
    d.checked_sub(time::Duration::days(days))
        .unwrap_or(Date::MIN)
}

impl Person {
    /// The person for `iin`, with `addresses` addresses, as of `as_of`.
    pub(crate) fn for_iin(iin: &Iin, addresses: usize, as_of: Date) -> Self {
        let mut rng = Rng::from_iin(iin, 1);
        let male = iin.is_male();
        let surname_base = rng.pick(SURNAMES);
        let surname = if male {
            surname_base.to_owned()
        } else {
            format!("{surname_base}а")
        };
        let name = rng.pick(if male { MALE_NAMES } else { FEMALE_NAMES });
        let father = rng.pick(FATHERS);
        let fathers_name = if male {
            format!("{father}ович")
        } else {
            format!("{father}овна")
        };
        let (region, city) = rng.pick(CITIES);
        let home = format!("{} {}", rng.pick(STREETS), rng.range(1, 250));
        let adult_days = (as_of - iin.birth_date()).whole_days().max(18 * 365);
        let mut addr = Vec::with_capacity(addresses);
        for i in 0..addresses {
            let (region, city) = if i % 3 == 0 {
                (region, city)
            } else {
                rng.pick(CITIES)
            };
            let street = if i % 4 == 0 {
                home.clone()
            } else {
                format!("{} {}", rng.pick(STREETS), rng.range(1, 250))
            };
            addr.push(Address {
                street,
                house: if rng.chance(40) {
                    rng.range(1, 400).to_string()
                } else {
                    String::new()
                },
                region,
                city,
                permanent: rng.chance(60),
                inserted: days_before(as_of, rng.range(10, (adult_days - 18 * 365).max(400))),
            });
        }
        let login = format!("user{}", rng.digits(6));
        Self {
            birth: iin.birth_date(),
            male,
            surname,
            name,
            fathers_name,
            registration_id: u64::try_from(rng.range(1_000_000, 9_999_999)).unwrap_or(1_000_000),
            rnn: rng.digits(12),
            fi_unique: format!("{}.{}", rng.digits(6), rng.digits(6)),
            education: rng.pick(&[(1, "Среднее"), (2, "Среднее специальное"), (3, "Высшее")]),
            marital: rng.pick(&[
                (1, "Холост/не замужем"),
                (2, "Женат/замужем"),
                (3, "Разведен/разведена"),
            ]),
            occupation: rng.pick(OCCUPATIONS),
            dependents: u8::try_from(rng.range(0, 3)).unwrap_or(0),
            cellular: phone(&mut rng),
            home_phone: phone(&mut rng),
            office_phone: phone(&mut rng),
            email: format!("{login}@example.com"),
            addresses: addr,
            id_card: format!("0{}", rng.digits(8)),
            passport: format!("N{}", rng.digits(8)),
        }
    }

    pub(crate) fn gender(&self) -> &'static str {
        if self.male {
            "Мужской"
        } else {
            "Женский"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Month;

    #[test]
    fn reserved_iins_are_valid() {
        for s in [
            IIN_NOT_FOUND,
            IIN_SEVERAL_SUBJECTS,
            IIN_BUREAU_INTERNAL_ERROR,
            IIN_NO_CREDIT_HISTORY,
            IIN_HEAVY_OVERDUE,
            IIN_DEMO,
        ] {
            assert!(Iin::parse(s).is_ok(), "reserved IIN {s} must be valid");
        }
        assert_eq!(demo_iin().expose(), IIN_DEMO);
    }

    #[test]
    fn people_are_deterministic_and_differ() {
        let as_of = Date::from_calendar_date(2024, Month::December, 16).expect("date");
        let a = Person::for_iin(&demo_iin(), 5, as_of);
        let b = Person::for_iin(&demo_iin(), 5, as_of);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let other = Iin::parse(IIN_HEAVY_OVERDUE).expect("valid");
        let c = Person::for_iin(&other, 5, as_of);
        assert_ne!(format!("{a:?}"), format!("{c:?}"));
        assert!(a.male && a.gender() == "Мужской");
    }
}
