//! kuzet: the one door through which a lender's personal data leave for, and arrive from,
//! outside parties.
//!
//! The library is the gateway; the `kuzet` binary is a thin command line over it. See
//! ARCHITECTURE.md for the map: [`contract`] (policy as data and enforcement), [`registry`]
//! (clients, consents), [`transfer_log`] (the tamper-evident log), [`gateway`] (one transfer,
//! step by step), [`upstream`] (which adapter serves which operation), [`api`] (HTTP), [`app`]
//! (wiring), [`server`] (the listener: TLS, graceful shutdown), [`config`], [`audit`] (exports and
//! the subject report for auditors), [`metrics`] (Prometheus), [`backup`] (online backup and
//! restore of a data directory).

#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod audit;
pub mod backup;
pub mod config;
pub mod contract;
pub mod db;
pub mod gateway;
pub mod jsonl;
pub mod metrics;
pub mod registry;
pub mod reporting;
pub mod retention;
pub mod server;
pub mod transfer_log;
pub mod upstream;
