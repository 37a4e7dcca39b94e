//! The road-traffic safety authority adapter (МВД, administrative police; policy 4.2.4), over
//! SHEP's synchronous channel ([`kuzet_shep`]): looks a vehicle up by the owner's or user's
//! IIN, its VIN or its state plate and turns the answer into a typed [`VehicleStatus`]
//! (registration, technical inspection, owner and user, offences, unpaid fines, driving ban,
//! medical certificate); and sends the lender's user mark (the client as the registered user of
//! the lender's vehicle), a write that is never retried.
//!
//! The payload shapes (request and answer inside SHEP's `data`) are in the `wire` module's
//! docs; the authority's return codes, all assumed, in [`RETURN_CODES`].
//!
//! Code map: `config` (service ids, purpose, SHEP channel, call policy), `keys` (the lookup key
//! and the user mark: [`Vin`], [`Plate`], validated), `client` (the typed calls under the
//! authority's one guard), `wire` (the payloads), `status` (the domain types), `error` (one
//! error enum, with retry classification and stable codes).
//!
//! This crate never reads contracts, never writes the transfer log, never decides what the
//! gateway may keep, and never puts a personal value (IIN, name, plate, VIN) into an error or a
//! log line.

#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
mod keys;
mod status;
mod wire;

pub use client::{
    ShepIds, TrafficClient, UserMarkAnswer, VehicleAnswer, user_mark_from_answer,
    vehicle_from_answer,
};
pub use config::{DEFAULT_PURPOSE, TrafficConfig};
pub use error::{
    RETURN_CODES, RETURN_INTERNAL_ERROR, RETURN_INVALID_REQUEST, RETURN_MARK_REJECTED,
    RETURN_NOT_FOUND, RETURN_OK, TrafficError,
};
pub use keys::{
    KeyError, Plate, TextProblem, UserMarkField, UserMarkProblem, UserMarkRequest, VehicleRequest,
    Vin,
};
pub use status::{
    CURRENCY_KZT, DrivingBan, Inspection, MedicalCertificate, Money, Person, Registration,
    UnpaidFine, UserMark, VehicleStatus, Violation,
};
pub use wire::{
    MAX_DEPTH, MAX_FIELD_CHARS, PAYLOAD_NS, UserMarkAnswerData, VehicleAnswerData,
    build_user_mark_request_data, build_vehicle_request_data, parse_amount_minor, parse_date,
    parse_user_mark_answer_data, parse_vehicle_answer_data,
};
