//! kuzet: the gateway.
#![forbid(unsafe_code)]

pub mod contract;
pub mod transfer_log;
