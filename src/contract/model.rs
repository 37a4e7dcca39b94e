//! The contract model: roles, legal bases, body logging, purposes, the field vocabulary and the
//! operations a recipient file declares.
//!
//! Values of these types only come out of the loader (`Contracts::from_sources`), which has
//! validated them; nothing here parses TOML or decides a request. The name enums are public so
//! that the rest of the gateway (clients, the transfer log, the API) reuses them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name (role, legal basis, body-logging mode) that is not one of the known ones.
///
/// The name is a configuration or API word, never a personal value, so it is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{name}\" (expected one of: {})", .expected.join(", "))]
pub struct UnknownName {
    /// What was being parsed: "role", "legal basis", "body_logging".
    pub kind: &'static str,
    /// The name as given.
    pub name: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

macro_rules! name_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $name:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $ty {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[ $( $ty::$variant, )+ ];

            /// The name used in contracts, tokens, the API and the log.
            pub fn as_str(self) -> &'static str {
                match self { $( $ty::$variant => $name, )+ }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $name => Ok($ty::$variant), )+
                    _ => Err(UnknownName {
                        kind: $kind,
                        name: s.to_owned(),
                        expected: &[ $( $name, )+ ],
                    }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_enum! {
    /// A client role: what kind of caller holds a bearer token.
    pub enum Role ("role") {
        /// The underwriting pipeline (credit history, income, vehicle per application).
        Underwriting => "underwriting",
        /// Scheduled bureau reporting (contract uploads).
        Reporting => "reporting",
        /// Loan servicing (the user mark with the traffic authority).
        Servicing => "servicing",
        /// Auditors and the data-protection officer (the transfer log).
        Auditor => "auditor",
        /// Gateway administration.
        Admin => "admin",
    }
}

name_enum! {
    /// The legal basis a transfer rests on (policy 4.1, the "legal basis" column).
    pub enum LegalBasis ("legal basis") {
        /// The data subject's consent; a valid consent record must exist for the subject.
        Consent => "consent",
        /// Concluding or performing the contract with the subject.
        Contract => "contract",
        /// A duty the law places on the lender.
        LegalObligation => "legal_obligation",
        /// The lender's legitimate interest.
        LegitimateInterest => "legitimate_interest",
    }
}

name_enum! {
    /// What the transfer log keeps of a body. There is deliberately no plaintext mode.
    pub enum BodyLogging ("body_logging") {
        /// The body, encrypted with the subject's key (destroyed on erasure).
        Encrypted => "encrypted",
        /// Field names, digest and metadata only.
        Metadata => "metadata",
    }
}

/// How long the transfer log keeps an operation's bodies readable after the transfer (policy
/// 8.2: while the contract runs, claims can be brought, a legal duty lasts or consent lasts;
/// then destroyed). Written `90d`, `18m` or `5y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Days(u32),
    Months(u32),
    Years(u32),
}

impl std::str::FromStr for Retention {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "retention \"{s}\" is not a period: write a number of days, months or years \
                 (\"90d\", \"18m\", \"5y\"), at most 100 years"
            )
        };
        let t = s.trim();
        let (n, unit) = t.split_at(t.len().saturating_sub(1));
        let n: u32 = n.parse().map_err(|_| bad())?;
        let r = match unit {
            "d" if (1..=36_525).contains(&n) => Retention::Days(n),
            "m" if (1..=1_200).contains(&n) => Retention::Months(n),
            "y" if (1..=100).contains(&n) => Retention::Years(n),
            _ => return Err(bad()),
        };
        Ok(r)
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retention::Days(n) => write!(f, "{n}d"),
            Retention::Months(n) => write!(f, "{n}m"),
            Retention::Years(n) => write!(f, "{n}y"),
        }
    }
}

impl Retention {
    /// When a body logged at `at` is due for destruction: the same instant `n` days, calendar
    /// months or years later (the 31st becomes the month's last day; 29 February, the 28th).
    pub fn ends(self, at: time::OffsetDateTime) -> time::OffsetDateTime {
        let months = match self {
            Retention::Days(n) => return at + time::Duration::days(i64::from(n)),
            Retention::Months(n) => n,
            Retention::Years(n) => n * 12,
        };
        let date = at.date();
        let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
        let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
        let Ok(month) = time::Month::try_from(month0 as u8 + 1) else {
            return at;
        };
        let day = date.day().min(month.length(year));
        match time::Date::from_calendar_date(year, month, day) {
            Ok(d) => at.replace_date(d),
            Err(_) => time::OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
        }
    }
}

/// A set of dot-separated paths stored segment by segment, so that membership and prefix tests
/// never build strings and never confuse `credit_history_extra` with `credit_history`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathTrie {
    terminal: bool,
    children: HashMap<String, PathTrie>,
}

impl PathTrie {
    pub(crate) fn insert(&mut self, path: &str) {
        let mut node = self;
        for segment in path.split('.') {
            node = node.children.entry(segment.to_owned()).or_default();
        }
        node.terminal = true;
    }

    pub(crate) fn child(&self, segment: &str) -> Option<&PathTrie> {
        self.children.get(segment)
    }

    /// True when this node is itself one of the inserted paths.
    pub(crate) fn is_terminal(&self) -> bool {
        self.terminal
    }

    pub(crate) fn has_children(&self) -> bool {
        !self.children.is_empty()
    }

    /// True when `path` equals an inserted path or lies under one (on a dot boundary).
    pub(crate) fn covers(&self, path: &str) -> bool {
        let mut node = self;
        for segment in path.split('.') {
            match node.child(segment) {
                Some(next) if next.terminal => return true,
                Some(next) => node = next,
                None => return false,
            }
        }
        false
    }
}

/// One entry of the field vocabulary (`contracts/fields.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// The dot-separated leaf path, e.g. `subject.iin`.
    pub path: String,
    /// Its data category (policy 4.1), a key of the `[categories]` table.
    pub category: String,
    /// What the field means.
    pub description: String,
}

/// The field vocabulary: every path that may cross the gateway and its data category.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub(crate) categories: BTreeMap<String, String>,
    pub(crate) fields: BTreeMap<String, FieldDef>,
    pub(crate) trie: PathTrie,
}

impl Vocabulary {
    /// The field at exactly this path.
    pub fn get(&self, path: &str) -> Option<&FieldDef> {
        self.fields.get(path)
    }

    /// True when `path` is a vocabulary path (a leaf, not a branch).
    pub fn contains(&self, path: &str) -> bool {
        self.fields.contains_key(path)
    }

    /// All fields, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.values()
    }

    /// The fields equal to `prefix` or under it on a dot boundary, sorted by path.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a FieldDef> + 'a {
        self.fields
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(path, _)| path.starts_with(prefix))
            .filter(move |(path, _)| {
                path.len() == prefix.len() || path.as_bytes().get(prefix.len()) == Some(&b'.')
            })
            .map(|(_, field)| field)
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The data categories (key → description), sorted by key.
    pub fn categories(&self) -> &BTreeMap<String, String> {
        &self.categories
    }
}

/// A purpose of processing (`contracts/purposes.toml`, policy 4.1 P1–P7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    /// The key, e.g. `contract_performance`.
    pub key: String,
    /// The policy clause, e.g. `4.1 P1`.
    pub clause: String,
    /// What the purpose is.
    pub description: String,
    /// The legal bases the purpose may rest on.
    pub legal_bases: Vec<LegalBasis>,
    /// The data categories the purpose may touch.
    pub categories: Vec<String>,
}

/// One operation of a recipient (`[operations.NAME]` in a recipient file).
#[derive(Debug, Clone)]
pub struct Operation {
    /// The recipient key, e.g. `fcb`.
    pub recipient: String,
    /// The operation key, e.g. `credit-report`.
    pub name: String,
    /// What the operation does.
    pub description: String,
    /// The policy clause the operation rests on, e.g. `4.2.1`.
    pub clause: String,
    /// Client roles that may invoke it.
    pub callers: Vec<Role>,
    /// Purposes (keys of `purposes.toml`) a caller may state.
    pub purposes: Vec<String>,
    /// The legal basis of the transfer.
    pub legal_basis: LegalBasis,
    /// Whether the transport may retry transient failures (reads only).
    pub safe_to_retry: bool,
    /// What the transfer log keeps of the bodies.
    pub body_logging: BodyLogging,
    /// How long logged bodies stay readable (required when they are logged).
    pub retention: Option<Retention>,
    /// Paths (or prefixes, on dot boundaries) the lender may send.
    pub send: Vec<String>,
    /// Paths (or prefixes, on dot boundaries) the lender may receive.
    pub receive: Vec<String>,
    pub(crate) send_trie: PathTrie,
    pub(crate) receive_trie: PathTrie,
}

impl Operation {
    /// True when the role is one of the operation's callers.
    pub fn allows_role(&self, role: Role) -> bool {
        self.callers.contains(&role)
    }

    /// True when the purpose is one of the operation's purposes.
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.iter().any(|p| p == purpose)
    }

    /// True when `path` is granted by the `send` list (exactly or under a prefix).
    pub fn may_send(&self, path: &str) -> bool {
        self.send_trie.covers(path)
    }

    /// True when `path` is granted by the `receive` list (exactly or under a prefix).
    pub fn may_receive(&self, path: &str) -> bool {
        self.receive_trie.covers(path)
    }
}

/// A recipient file: one outside party and its operations.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The key, equal to the file name without `.toml`, e.g. `fcb`.
    pub key: String,
    /// The party's name.
    pub name: String,
    /// The policy clauses that allow exchanges with it.
    pub clauses: Vec<String>,
    /// Its operations, by name.
    pub operations: BTreeMap<String, Operation>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        for basis in LegalBasis::ALL {
            assert_eq!(basis.as_str().parse::<LegalBasis>(), Ok(*basis));
        }
        for mode in BodyLogging::ALL {
            assert_eq!(mode.as_str().parse::<BodyLogging>(), Ok(*mode));
        }
        let err = "plaintext".parse::<BodyLogging>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown body_logging \"plaintext\" (expected one of: encrypted, metadata)"
        );
    }

    #[test]
    fn trie_respects_dot_boundaries() {
        let mut trie = PathTrie::default();
        trie.insert("credit_history");
        trie.insert("subject.iin");
        assert!(trie.covers("credit_history"));
        assert!(trie.covers("credit_history.a.b"));
        assert!(!trie.covers("credit_history_extra"));
        assert!(!trie.covers("subject"));
        assert!(trie.covers("subject.iin"));
        assert!(!trie.covers("subject.iinx"));
    }
}
