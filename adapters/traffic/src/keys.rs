//! What the gateway asks the authority about: the vehicle lookup key ([`VehicleRequest`]: IIN,
//! VIN or state plate, [`Vin`] and [`Plate`] validated), and the user mark
//! ([`UserMarkRequest`]).
//!
//! Plates, VINs, IINs and names are personal values: every `Debug` here masks them, and no
//! error repeats them. The clear values are reachable only through `expose`.

use std::fmt;

use kuzet_ident::{Iin, mask};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::MAX_FIELD_CHARS;

/// Why a lookup key cannot be sent. Messages never repeat the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A VIN must be 17 letters and digits.
    #[error("a VIN must be exactly 17 letters and digits")]
    VinFormat,
    /// A VIN never holds `I`, `O` or `Q` (ISO 3779).
    #[error("a VIN never holds the letters I, O or Q")]
    VinLetter,
    /// A plate must be 6 to 9 Latin letters and digits (spaces and hyphens aside).
    #[error("a state plate must be 6 to 9 Latin letters and digits")]
    PlateFormat,
}

/// Why a user mark cannot be sent: which text field, and what is wrong with it. The message
/// never repeats the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct UserMarkProblem {
    pub field: UserMarkField,
    pub problem: TextProblem,
}

/// What is wrong with a user mark's text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    /// Empty, or only whitespace.
    #[error("is empty")]
    Empty,
    /// Longer than [`MAX_FIELD_CHARS`] characters.
    #[error("is longer than {MAX_FIELD_CHARS} characters")]
    TooLong,
    /// A control character (a line break, a tab, an escape), which XML 1.0 cannot carry (NUL)
    /// or the authority's records would keep.
    #[error("contains a control character (a line break, a tab, an escape)")]
    ControlCharacter,
}

/// The text fields of a user mark, as the wire names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMarkField {
    /// The user's full name.
    FullName,
    /// The loan contract's number.
    ContractNumber,
    /// The advance account's number.
    AdvanceAccountNumber,
}

impl fmt::Display for UserMarkField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FullName => "user_full_name",
            Self::ContractNumber => "contract_number",
            Self::AdvanceAccountNumber => "advance_account_number",
        })
    }
}

/// A vehicle identification number: 17 characters, Latin capitals and digits, never `I`, `O`
/// or `Q`. Parsing trims and upper-cases; the check digit (position 9) is not enforced, being
/// mandatory in North America only. `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Vin(String);

impl Vin {
    /// Parses and validates a VIN.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let v = s.trim().to_ascii_uppercase();
        if v.len() != 17 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::VinFormat);
        }
        if v.bytes().any(|b| matches!(b, b'I' | b'O' | b'Q')) {
            return Err(KeyError::VinLetter);
        }
        Ok(Self(v))
    }

    /// The clear value. Every call site is a place where personal data is handled on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vin({})", mask(&self.0))
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

impl Serialize for Vin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Vin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Vin::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A Kazakh state registration plate (`grnz`), normalised: upper case, spaces and hyphens
/// removed. Validated loosely: 6 to 9 Latin letters and digits (current plates are `123ABC02`,
/// older and special ones vary). `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Plate(String);

impl Plate {
    /// Normalises and validates a plate.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let p: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !(6..=9).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::PlateFormat);
        }
        Ok(Self(p))
    }

    /// The clear, normalised value. Every call site is a place where personal data is handled
    /// on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plate({})", mask(&self.0))
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

impl Serialize for Plate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Plate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Plate::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The key of a vehicle lookup: any one of them (policy 4.2.4). `Debug` masks the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VehicleRequest {
    /// The vehicles and driver record of a person (`iinbin`).
    ByIin(Iin),
    /// The vehicle with this VIN (`vin`).
    ByVin(Vin),
    /// The vehicle with this state plate (`grnz`).
    ByPlate(Plate),
}

impl VehicleRequest {
    /// `iin`, `vin` or `plate`: which key this is, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ByIin(_) => "iin",
            Self::ByVin(_) => "vin",
            Self::ByPlate(_) => "plate",
        }
    }
}

/// The user mark the lender sends (policy 4.2.4): the client becomes the registered user of
/// the lender's vehicle under the loan contract. A write: never retried blindly.
#[derive(Clone, PartialEq, Eq)]
pub struct UserMarkRequest {
    /// The user's IIN.
    pub user_iin: Iin,
    /// The user's full name (surname, name, patronymic).
    pub user_full_name: String,
    /// The loan contract's number.
    pub contract_number: String,
    /// The advance account's number.
    pub advance_account_number: String,
}

impl UserMarkRequest {
    /// The full name as sent: its whitespace collapsed to single spaces.
    pub fn full_name(&self) -> String {
        self.user_full_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The text fields as sent, each with its name: the name collapsed, the numbers trimmed.
    pub fn texts(&self) -> [(UserMarkField, String); 3] {
        [
            (UserMarkField::FullName, self.full_name()),
            (
                UserMarkField::ContractNumber,
                self.contract_number.trim().to_owned(),
            ),
            (
                UserMarkField::AdvanceAccountNumber,
                self.advance_account_number.trim().to_owned(),
            ),
        ]
    }

    /// Whether the mark can be sent: no text empty, longer than [`MAX_FIELD_CHARS`] or holding
    /// a control character. The gateway asks before anything is logged as sent; the payload
    /// builder asks again.
    pub fn check(&self) -> Result<(), UserMarkProblem> {
        for (field, value) in self.texts() {
            let problem = if value.is_empty() {
                TextProblem::Empty
            } else if value.chars().count() > MAX_FIELD_CHARS {
                TextProblem::TooLong
            } else if value.chars().any(char::is_control) {
                TextProblem::ControlCharacter
            } else {
                continue;
            };
            return Err(UserMarkProblem { field, problem });
        }
        Ok(())
    }
}

/// The name is never printed; the IIN, contract and account numbers are masked.
impl fmt::Debug for UserMarkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserMarkRequest")
            .field("user_iin", &self.user_iin)
            .field("user_full_name", &"<redacted>")
            .field("contract_number", &mask(&self.contract_number))
            .field(
                "advance_account_number",
                &mask(&self.advance_account_number),
            )
            .finish()
    }
}
