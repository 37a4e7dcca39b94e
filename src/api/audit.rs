//! The auditors' API: `GET /v1/transfers` (search), `GET /v1/transfers/{transfer_id}` (one
//! transfer) and `GET /v1/log/verify` (the chain), for the `auditor` role only. The search
//! parameters, the verification and its JSON live here once; the web page
//! (`audit_page.rs`) uses the same functions.
//!
//! This module never writes the log, never decrypts a body, and never puts a searched IIN
//! anywhere: `subject_iin` becomes the subject index (HMAC) at once, and errors about a
//! parameter name the parameter, never its value.

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use kuzet_ident::Iin;
use serde_json::Value;
use uuid::Uuid;

use super::{AppError, AppState, Caller, safe_paths};
use crate::contract::Role;
use crate::registry::Client;
use crate::transfer_log::query::{MAX_PAGE, parse_cursor, parse_instant, parse_key, parse_kind};
use crate::transfer_log::{
    EntryView, LogError, Page, Query, TransferLog, VerifyError, VerifySummary,
};

/// An authenticated caller with the auditor role: 401 without a valid token, 403
/// `forbidden_role` for any other role.
pub struct Auditor(pub Client);

impl FromRequestParts<AppState> for Auditor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Caller(client) = Caller::from_request_parts(parts, state).await?;
        require_auditor(&client)?;
        Ok(Auditor(client))
    }
}

/// Only auditors read the transfer log.
pub fn require_auditor(client: &Client) -> Result<(), AppError> {
    if client.role == Role::Auditor {
        Ok(())
    } else {
        Err(AppError::forbidden_role(format!(
            "role {} may not read the transfer log; it takes the auditor role",
            client.role.as_str()
        )))
    }
}

/// The parameters a search takes, in the order the page's form shows them.
pub const SEARCH_PARAMS: [&str; 11] = [
    "subject_iin",
    "recipient",
    "operation",
    "kind",
    "caller",
    "outcome",
    "purpose",
    "since",
    "until",
    "cursor",
    "limit",
];

/// The search parameters as the API documents them (`GET /v1/transfers`); a test keeps them
/// equal to [`SEARCH_PARAMS`]. Parsing goes through [`search_pairs`] and [`parse_search`].
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documentation only: never built.
pub struct SearchParams {
    /// The subject's IIN; searched by its index (HMAC), never stored or logged.
    #[param(pattern = "^[0-9]{12}$")]
    subject_iin: Option<String>,
    /// A recipient key (`fcb`, `gcvp`, `traffic`).
    recipient: Option<String>,
    /// An operation key (`credit-report`, …).
    operation: Option<String>,
    kind: Option<crate::transfer_log::Kind>,
    /// The client name.
    caller: Option<String>,
    /// An outcome, or its part before a `:` (`error` matches `error:timeout`).
    outcome: Option<String>,
    /// A purpose key.
    purpose: Option<String>,
    /// Entries at or after: RFC 3339, or a date (its midnight UTC).
    since: Option<String>,
    /// Entries strictly before: RFC 3339, or a date (its midnight UTC).
    until: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The answer of `GET /v1/transfers/{transfer_id}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TransferEntries {
    pub transfer_id: Uuid,
    /// The transfer's entries in seq order (OUT then IN, or one `denied`).
    pub entries: Vec<EntryView>,
}

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// What an empty parameter (`?recipient=`) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Empty {
    /// An error (the API: a script that sends `subject_iin=` with an empty variable must not
    /// silently get every subject's entries).
    Refused,
    /// Not set (the page's form sends every field, filled or not).
    Unset,
}

/// A parsed search: the log query and the page size.
#[derive(Clone, Debug)]
pub struct Search {
    pub query: Query,
    pub limit: usize,
}

/// Splits a query string into the known search parameters with their values, refusing
/// unknown names (422 `unknown_field`, names that look like values shown as `<?>`) and a
/// parameter given twice (422 `invalid_value`).
pub fn search_pairs(raw: Option<&str>) -> Result<Vec<(&'static str, String)>, AppError> {
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    let mut unknown = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match SEARCH_PARAMS.iter().find(|p| **p == name) {
            Some(&param) => pairs.push((param, value.into_owned())),
            None => unknown.push(name.into_owned()),
        }
    }
    if !unknown.is_empty() {
        let mut e = AppError::unknown_field(safe_paths(&unknown));
        // Say what is taken: `iin=` for `subject_iin=` is the likely slip.
        e.message = format!(
            "{}; the parameters are {}",
            e.message,
            SEARCH_PARAMS.join(", ")
        );
        return Err(e);
    }
    for (i, (param, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(p, _)| p == param) {
            return Err(AppError::invalid_value(param, "given more than once"));
        }
    }
    Ok(pairs)
}

/// Turns search parameters into a log query. A bad value is 422 `invalid_value` (or
/// `invalid_iin`) naming the parameter, never repeating the value.
pub fn parse_search(
    pairs: &[(&'static str, String)],
    log: &TransferLog,
    empty: Empty,
) -> Result<Search, AppError> {
    let mut search = Search {
        query: Query::default(),
        limit: DEFAULT_LIMIT,
    };
    let q = &mut search.query;
    for (param, value) in pairs {
        let param: &'static str = param;
        let value = value.trim();
        if value.is_empty() {
            match (empty, param) {
                (Empty::Unset, _) => continue,
                (Empty::Refused, "subject_iin") => {
                    return Err(AppError::invalid_iin(param, "it is empty"));
                }
                (Empty::Refused, _) => {
                    return Err(AppError::invalid_value(param, "must not be empty"));
                }
            }
        }
        let bad = |message: String| AppError::invalid_value(param, message);
        match param {
            "subject_iin" => {
                let iin = Iin::parse(value).map_err(|e| AppError::invalid_iin(param, e))?;
                q.subject = Some(log.subject_index(&iin));
            }
            "recipient" => q.recipient = Some(parse_key(value).map_err(bad)?),
            "operation" => q.operation = Some(parse_key(value).map_err(bad)?),
            "kind" => q.kind = Some(parse_kind(value).map_err(bad)?),
            "caller" => q.caller = Some(value.to_owned()),
            "outcome" => q.outcome = Some(value.to_owned()),
            "purpose" => q.purpose = Some(parse_key(value).map_err(bad)?),
            "since" => q.since = Some(parse_instant(value).map_err(bad)?),
            "until" => q.until = Some(parse_instant(value).map_err(bad)?),
            "cursor" => q.cursor = Some(parse_cursor(value).map_err(bad)?),
            "limit" => {
                search.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .ok_or_else(|| bad(format!("expected a whole number from 1 to {MAX_PAGE}")))?;
            }
            // `search_pairs` lets only SEARCH_PARAMS through.
            _ => return Err(AppError::unknown_field(vec![param.to_owned()])),
        }
    }
    if crate::transfer_log::query::empty_range(q.since, q.until) {
        return Err(AppError::invalid_value(
            "until",
            "must be later than since (the range is since ≤ at < until)",
        ));
    }
    Ok(search)
}

/// Runs a search, saying in tracing who searched with which filters (their names only).
pub async fn run_search(
    log: &TransferLog,
    caller: &Client,
    pairs: &[(&'static str, String)],
    search: Search,
) -> Result<Page, AppError> {
    let filters: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(p, _)| *p)
        .collect();
    tracing::info!(caller = %caller.name, filters = ?filters, "Transfer log searched.");
    log.search(search.query, search.limit)
        .await
        .map_err(read_failed)
}

/// The entries of one transfer, in seq order; 404 `transfer_not_found` when there are none.
pub async fn transfer_entries(
    log: &TransferLog,
    caller: &Client,
    transfer_id: &str,
) -> Result<(Uuid, Vec<EntryView>), AppError> {
    let id = Uuid::parse_str(transfer_id.trim())
        .map_err(|_| AppError::invalid_value("transfer_id", "not a UUID"))?;
    tracing::info!(caller = %caller.name, transfer_id = %id, "Transfer read from the log.");
    let entries = log.get_transfer(id).await.map_err(read_failed)?;
    if entries.is_empty() {
        return Err(AppError::transfer_not_found());
    }
    Ok((id, entries.iter().map(EntryView::from).collect()))
}

fn read_failed(e: LogError) -> AppError {
    tracing::error!(error = %e, "Transfer log read failed.");
    AppError::log_unreadable()
}

/// Verifies the gateway's log read-only (the data directory's SQLite file, or the shared
/// PostgreSQL database), on a blocking thread (it reads every entry).
pub async fn verify_chain(state: &AppState) -> Result<VerifySummary, VerifyError> {
    let data_dir = state.data_dir.clone();
    let shared = state.gateway.log().shared_database();
    tokio::task::spawn_blocking(move || {
        crate::transfer_log::verify_log(&data_dir, shared, Default::default())
    })
    .await
    .unwrap_or_else(|_| {
        Err(VerifyError::Log(LogError::Storage(
            "the verifier panicked".into(),
        )))
    })
}

/// The answer of `GET /v1/log/verify` for a verification result, and what the page shows:
/// the fields of [`crate::transfer_log::verify_json`] (the same as `kuzet log verify --json`:
/// the chain and its signed checkpoints), `{"ok": false, "bad_seq", "reason"}` for a broken
/// log; a log that cannot be read is 503 `log_unavailable`.
pub fn verify_json(result: &Result<VerifySummary, VerifyError>) -> Result<Value, AppError> {
    match result {
        Err(VerifyError::Log(e)) => {
            tracing::error!(error = %e, "Transfer log verification could not read the log.");
            Err(AppError::log_unreadable())
        }
        other => Ok(crate::transfer_log::verify_json(other)),
    }
}

/// `GET /v1/transfers?…` → `{"entries": [...], "next_cursor"}`, newest first.
#[utoipa::path(
    get,
    path = "/v1/transfers",
    tag = "audit",
    operation_id = "search_transfers",
    summary = "Search the transfer log",
    description = "Role `auditor`. Every given filter must hold; an empty or repeated parameter \
                   is refused, and so is an unknown one. Newest first, by pages.",
    params(SearchParams),
    responses((status = 200, description = "One page of entries.", body = Page)),
    security(("bearer" = [])),
)]
pub async fn search(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page>, AppError> {
    let log = state.gateway.log();
    let pairs = search_pairs(raw.as_deref())?;
    let search = parse_search(&pairs, log, Empty::Refused)?;
    run_search(log, &caller, &pairs, search).await.map(Json)
}

/// `GET /v1/transfers/{transfer_id}` → `{"transfer_id", "entries": [...]}` in seq order.
#[utoipa::path(
    get,
    path = "/v1/transfers/{transfer_id}",
    tag = "audit",
    operation_id = "get_transfer",
    summary = "One transfer's entries",
    description = "Role `auditor`.",
    params(("transfer_id" = Uuid, Path, description = "The transfer's id.")),
    responses((status = 200, description = "The transfer's entries.", body = TransferEntries)),
    security(("bearer" = [])),
)]
pub async fn transfer(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    Path(transfer_id): Path<String>,
) -> Result<Json<TransferEntries>, AppError> {
    let (transfer_id, entries) =
        transfer_entries(state.gateway.log(), &caller, &transfer_id).await?;
    Ok(Json(TransferEntries {
        transfer_id,
        entries,
    }))
}

/// `GET /v1/log/verify`.
#[utoipa::path(
    get,
    path = "/v1/log/verify",
    tag = "audit",
    operation_id = "verify_log",
    summary = "Verify the transfer log's chain and signed checkpoints",
    description = "Role `auditor`. Re-reads the whole log (the same check as `kuzet log verify \
                   --json`). A broken chain is a 200 answer with `ok: false`.",
    responses((status = 200, description = "The verification's result.",
               body = super::openapi::Verification)),
    security(("bearer" = [])),
)]
pub async fn verify(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, AppError> {
    // It takes no parameters: one given (`public_key=`, as the command line takes) would
    // otherwise be ignored without a word.
    let given: Vec<String> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(name, _)| name.into_owned())
        .collect();
    if !given.is_empty() {
        let mut e = AppError::unknown_field(safe_paths(&given));
        e.message = format!("{}; this route takes no parameters", e.message);
        return Err(e);
    }
    tracing::info!(caller = %caller.name, "Transfer log verification requested.");
    let result = verify_chain(&state).await;
    verify_json(&result).map(Json)
}
