//! What the gateway asks the authority about: the vehicle lookup key ([`VehicleRequest`]: IIN,
//! VIN or state plate, [`Vin`] and [`Plate`] validated), and the user mark
//! ([`UserMarkRequest`]).
//!
//! Plates, VINs, IINs and names are personal values: every `Debug` here masks them, and no
//! error repeats them. The clear values are reachable only through `expose`.

use std::fmt;

use kuzet_ident::{Iin, mask};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a lookup key or a user mark cannot be sent. Messages never repeat the value.
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
