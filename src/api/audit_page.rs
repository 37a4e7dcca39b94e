//! The auditors' web page at `/audit`: server-rendered HTML (maud escapes every value), no
//! JavaScript, one small stylesheet. Sign-in posts an auditor's token, which an HttpOnly,
//! SameSite=Strict cookie scoped to `/audit` then carries; every page checks it against the
//! registry again, so a revoked token ends the session at once. The pages use the API's own
//! search, transfer and verification functions (`audit.rs`), so the page and the API cannot
//! disagree.
//!
//! The search form is a GET with the filters (the IIN among them) in the query string: the
//! gateway logs no request URIs, pages are sent with `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer`. This module never renders an IIN it did not get from the
//! form itself, and error messages never carry a value.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cookie::{Cookie, SameSite};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::audit::{
    Empty, SEARCH_PARAMS, parse_search, run_search, search_pairs, transfer_entries, verify_chain,
    verify_json,
};
use super::{AppError, AppState};
use crate::contract::Role;
use crate::registry::Client;
use crate::transfer_log::{EntryView, Kind, Page};

/// The cookie that holds the signed-in auditor's token.
pub const SESSION_COOKIE: &str = "kuzet_audit";

const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("audit_page.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(search_page))
        .route("/audit/sign-in", post(sign_in))
        .route("/audit/sign-out", post(sign_out))
        .route("/audit/transfers/{transfer_id}", get(transfer_page))
        .route("/audit/verify", get(verify_page))
        .route("/audit/style.css", get(stylesheet))
}

/// Who is looking at the page.
enum Session {
    Auditor(Client),
    /// No cookie.
    None,
    /// A cookie whose token is unknown, revoked, or not an auditor's: cleared.
    Ended,
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

fn session(state: &AppState, headers: &HeaderMap) -> Result<Session, AppError> {
    let Some(token) = session_token(headers) else {
        return Ok(Session::None);
    };
    Ok(match state.gateway.registry().client_by_token(&token)? {
        Some(client) if client.role == Role::Auditor => Session::Auditor(client),
        _ => Session::Ended,
    })
}

/// The signed-in auditor, or the answer to give instead (the sign-in page).
fn auditor(state: &AppState, headers: &HeaderMap) -> Result<Client, Box<Response>> {
    let refusal = match session(state, headers) {
        Ok(Session::Auditor(client)) => return Ok(client),
        Ok(Session::None) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("Sign in with an auditor token to see the transfer log."),
            false,
        ),
        Ok(Session::Ended) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some(
                "Your session has ended: the token is unknown, revoked or not an auditor's. Sign in again.",
            ),
            true,
        ),
        Err(e) => error_page(None, &e),
    };
    Err(Box::new(refusal))
}

/// The session: the auditor's token, for `/audit` only, never readable by scripts nor sent
/// cross-site; over a TLS listener also `Secure`, so a browser never sends it over plain HTTP.
fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/audit")
        .secure(secure)
        .build()
}

fn removal_cookie() -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/audit")
        .removal()
        .build()
}

fn set_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    // A cookie built from a token (URL-safe base64) and fixed attributes is a valid header
    // value; if it ever were not, the session simply is not set.
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// An HTML answer with the page's security headers.
fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        markup.into_string(),
    )
        .into_response()
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLE,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn sign_in(
    State(state): State<AppState>,
    tls: Option<axum::Extension<std::sync::Arc<axum_server::tls::TlsInfo>>>,
    body: Bytes,
) -> Response {
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    if token.is_empty() {
        return sign_in_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Paste an auditor token to sign in."),
            false,
        );
    }
    match state.gateway.registry().client_by_token(&token) {
        Err(e) => error_page(None, &AppError::from(e)),
        Ok(None) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("This token is unknown or revoked."),
            false,
        ),
        Ok(Some(client)) if client.role != Role::Auditor => {
            let message = format!(
                "This token belongs to a client with the role {}; only auditors may sign in here.",
                client.role.as_str()
            );
            sign_in_page(StatusCode::FORBIDDEN, Some(&message), false)
        }
        Ok(Some(client)) => {
            tracing::info!(caller = %client.name, "Auditor signed in to the audit page.");
            let mut response = redirect("/audit");
            set_cookie(&mut response, &session_cookie(token, tls.is_some()));
            response
        }
    }
}

async fn sign_out() -> Response {
    let mut response = redirect("/audit");
    set_cookie(&mut response, &removal_cookie());
    response
}

async fn search_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let client = match auditor(&state, &headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    let log = state.gateway.log();
    let (values, result) = match search_pairs(raw.as_deref()) {
        Err(e) => (Vec::new(), Err(e)),
        Ok(pairs) => {
            let result = match parse_search(&pairs, log, Empty::Unset) {
                Ok(search) => run_search(log, &client, &pairs, search).await,
                Err(e) => Err(e),
            };
            (pairs, result)
        }
    };
    let status = result
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::OK);
    html_response(status, search_view(&client, &values, &result))
}

async fn transfer_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(transfer_id): Path<String>,
) -> Response {
    let client = match auditor(&state, &headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    match transfer_entries(state.gateway.log(), &client, &transfer_id).await {
        Ok((id, entries)) => html_response(StatusCode::OK, transfer_view(&client, &id, &entries)),
        Err(e) => error_page(Some(&client), &e),
    }
}

async fn verify_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let client = match auditor(&state, &headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    tracing::info!(caller = %client.name, "Transfer log verification requested.");
    let result = verify_chain(&state).await;
    match verify_json(&result) {
        Ok(report) => html_response(StatusCode::OK, verify_view(&client, &report)),
        Err(e) => error_page(Some(&client), &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Views

fn layout(title: &str, client: Option<&Client>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kuzet audit" }
                link rel="stylesheet" href="/audit/style.css";
            }
            body {
                header.top {
                    a.brand href="/audit" { "kuzet" span { "transfer log" } }
                    @if let Some(c) = client {
                        nav {
                            a href="/audit" { "Search" }
                            a href="/audit/verify" { "Chain verification" }
                        }
                        div.who {
                            span { "Signed in as " strong { (c.name) } }
                            form method="post" action="/audit/sign-out" {
                                button.link type="submit" id="sign-out" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn sign_in_page(status: StatusCode, notice: Option<&str>, clear: bool) -> Response {
    let body = html! {
        section.sign-in {
            h1 { "Sign in" }
            p { "The transfer log is open to auditors and the data-protection officer. \
                 Sign in with your auditor client's token (" code { "kuzet clients add NAME \
                 --role auditor" } ")." }
            @if let Some(n) = notice {
                p.notice role="alert" { (n) }
            }
            form method="post" action="/audit/sign-in" id="sign-in" {
                label for="token" { "Auditor token" }
                input type="password" id="token" name="token" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
        }
    };
    let mut response = html_response(status, layout("Sign in", None, body));
    if clear {
        set_cookie(&mut response, &removal_cookie());
    }
    response
}

fn error_page(client: Option<&Client>, e: &AppError) -> Response {
    let body = html! {
        h1 { "Something went wrong" }
        p.error role="alert" { (e.message) " (" code { (e.code) } ")" }
        p { a href="/audit" { "Back to the search" } }
    };
    html_response(e.status, layout("Error", client, body))
}

fn value<'a>(values: &'a [(&'static str, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(p, _)| *p == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The search's query string with `cursor` replaced (or dropped), empty fields left out.
fn search_link(values: &[(&'static str, String)], cursor: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (p, v) in values {
        if *p != "cursor" && !v.trim().is_empty() {
            query.append_pair(p, v);
        }
    }
    if let Some(c) = cursor {
        query.append_pair("cursor", c);
    }
    let query = query.finish();
    if query.is_empty() {
        "/audit".to_owned()
    } else {
        format!("/audit?{query}")
    }
}

struct Filter {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
}

const TEXT_FILTERS: [Filter; 8] = [
    Filter {
        name: "subject_iin",
        label: "Subject IIN",
        hint: "12 digits",
    },
    Filter {
        name: "recipient",
        label: "Recipient",
        hint: "fcb, gcvp, traffic",
    },
    Filter {
        name: "operation",
        label: "Operation",
        hint: "credit-report, income, …",
    },
    Filter {
        name: "caller",
        label: "Caller",
        hint: "client name",
    },
    Filter {
        name: "outcome",
        label: "Outcome",
        hint: "ok, sent, error, error:timeout, …",
    },
    Filter {
        name: "purpose",
        label: "Purpose",
        hint: "contract_performance, …",
    },
    Filter {
        name: "since",
        label: "Since",
        hint: "2026-12-01 or 2026-12-01T10:00:00Z",
    },
    Filter {
        name: "until",
        label: "Until (before)",
        hint: "2026-12-02 or RFC 3339",
    },
];

const KINDS: [Kind; 4] = [Kind::Out, Kind::In, Kind::Denied, Kind::Erasure];

fn search_view(
    client: &Client,
    values: &[(&'static str, String)],
    result: &Result<Page, AppError>,
) -> Markup {
    debug_assert!(TEXT_FILTERS.iter().all(|f| SEARCH_PARAMS.contains(&f.name)));
    let kind = value(values, "kind").trim();
    let limit = value(values, "limit");
    let cursor = value(values, "cursor");
    let applied = values
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(p, _)| *p)
        .collect::<Vec<_>>()
        .join(" ");
    let body = html! {
        h1 { "Transfer log" }
        form.search method="get" action="/audit" id="search" {
            div.filters {
                @for f in &TEXT_FILTERS {
                    label {
                        span { (f.label) }
                        input type="text" name=(f.name) id=(f.name) value=(value(values, f.name))
                            placeholder=(f.hint) autocomplete="off" spellcheck="false"
                            inputmode=[(f.name == "subject_iin").then_some("numeric")];
                    }
                }
                label {
                    span { "Kind" }
                    select name="kind" id="kind" {
                        option value="" selected[kind.is_empty()] { "any" }
                        @for k in KINDS {
                            option value=(k.as_str()) selected[kind == k.as_str()] { (k.as_str()) }
                        }
                    }
                }
            }
            @if !limit.is_empty() {
                input type="hidden" name="limit" value=(limit);
            }
            div.actions {
                button type="submit" id="search-button" { "Search" }
                a href="/audit" { "Clear" }
            }
        }
        @match result {
            Err(e) => {
                p.error role="alert" id="search-error" { (e.message) }
            }
            Ok(page) => {
                // Which filters this page applied (names only), for people and for tests
                // waiting on the page to change.
                p.summary id="summary" data-filters=(applied) {
                    @if page.entries.is_empty() {
                        "No entries match."
                    } @else {
                        (page.entries.len()) " entries, newest first"
                        @if !cursor.is_empty() {
                            " (older than seq " (cursor.trim()) ") · "
                            a href=(search_link(values, None)) { "back to the newest" }
                        }
                        "."
                    }
                }
                @if !page.entries.is_empty() {
                    (results_table(&page.entries))
                }
                @if let Some(next) = &page.next_cursor {
                    p.pager {
                        a href=(search_link(values, Some(next))) id="next-page" rel="next" {
                            "Next page →"
                        }
                    }
                }
            }
        }
    };
    layout("Search", Some(client), body)
}

fn short_time(at: &str) -> String {
    // RFC 3339 in UTC with microseconds: shown to the second, the full instant in the title.
    let second = at.split('.').next().unwrap_or(at).trim_end_matches('Z');
    format!("{} UTC", second.replacen('T', " ", 1))
}

fn kind_badge(kind: Kind) -> Markup {
    html! { span class={ "kind kind-" (kind.as_str()) } { (kind.as_str()) } }
}

fn outcome_badge(outcome: &str) -> Markup {
    let class = match outcome {
        "ok" | "sent" => "outcome good",
        o if o.starts_with("error") => "outcome bad",
        _ => "outcome",
    };
    html! { span class=(class) { (outcome) } }
}

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("—")
}

fn results_table(entries: &[EntryView]) -> Markup {
    html! {
        div.table-wrap {
            table.results id="results" {
                thead {
                    tr {
                        th.num { "seq" } th { "time" } th { "kind" } th { "recipient" }
                        th { "operation" } th { "caller" } th { "purpose" } th { "legal basis" }
                        th { "outcome" } th.num title="fields sent or kept" { "fields" }
                        th.num { "dropped" } th { "transfer" }
                    }
                }
                tbody {
                    @for e in entries {
                        tr.entry data-seq=(e.seq) {
                            td.num { (e.seq) }
                            td.time title=(e.at) { (short_time(&e.at)) }
                            td { (kind_badge(e.kind)) }
                            td.recipient { (e.recipient) }
                            td.operation { (e.operation) }
                            td { (e.caller) }
                            td { (or_dash(e.purpose.as_deref())) }
                            td { (or_dash(e.legal_basis.as_deref())) }
                            td { (outcome_badge(&e.outcome)) }
                            td.num { (e.fields.len()) }
                            td.num { (e.dropped.len()) }
                            td {
                                a.transfer-link href={ "/audit/transfers/" (e.transfer_id) }
                                    title=(e.transfer_id) {
                                    "…" (short_id(&e.transfer_id))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The random tail of a UUID v7 (its head is the time, alike for neighbouring entries).
fn short_id(id: &uuid::Uuid) -> String {
    let s = id.to_string();
    s[s.len() - 8..].to_owned()
}

/// Lists longer than this are folded (a full credit report keeps some two hundred fields).
const FOLD_OVER: usize = 12;

fn name_list(names: &[String]) -> Markup {
    let list = html! {
        ul.names {
            @for n in names { li { code { (n) } } }
        }
    };
    html! {
        @if names.is_empty() {
            span.none { "none" }
        } @else if names.len() > FOLD_OVER {
            details {
                summary { (names.len()) " fields" }
                (list)
            }
        } @else {
            (list)
        }
    }
}

fn transfer_view(client: &Client, id: &uuid::Uuid, entries: &[EntryView]) -> Markup {
    let body = html! {
        h1 { "Transfer " code { (id) } }
        p.summary {
            (entries.len()) " entries in seq order. "
            a href="/audit" { "Back to the search" }
        }
        @for e in entries {
            section.entry id={ "seq-" (e.seq) } data-kind=(e.kind.as_str()) {
                h2 { "seq " (e.seq) " " (kind_badge(e.kind)) " " (outcome_badge(&e.outcome)) }
                table.facts {
                    tr { th { "Time" } td { (e.at) } }
                    tr { th { "Recipient / operation" } td { (e.recipient) " / " (e.operation) } }
                    tr { th { "Caller" } td { (e.caller) } }
                    tr { th { "Purpose" } td { (or_dash(e.purpose.as_deref())) } }
                    tr { th { "Legal basis" } td { (or_dash(e.legal_basis.as_deref())) } }
                    tr {
                        th { "Consent used" }
                        td { @match e.consent_id {
                            Some(c) => code { (c) },
                            None => span.none { "none" },
                        } }
                    }
                    tr { th { "Reference" } td { (or_dash(e.reference.as_deref())) } }
                    tr {
                        th { (fields_label(e.kind)) }
                        td.fields { (name_list(&e.fields)) }
                    }
                    tr { th { "Dropped" } td.dropped { (name_list(&e.dropped)) } }
                    tr { th { "Denied" } td.denied { (name_list(&e.denied)) } }
                    tr {
                        th { "Upstream ids" }
                        td {
                            @if e.upstream.is_empty() {
                                span.none { "none" }
                            } @else {
                                ul.names {
                                    @for (k, v) in &e.upstream {
                                        li { (k) " = " code { (v) } }
                                    }
                                }
                            }
                        }
                    }
                    tr { th { "Outcome" } td { (e.outcome) } }
                    tr {
                        th { "Latency" }
                        td { @match e.latency_ms {
                            Some(ms) => { (ms) " ms" },
                            None => span.none { "—" },
                        } }
                    }
                    tr {
                        th { "Body" }
                        td {
                            (e.body)
                            @if let Some(d) = &e.body_digest { " · SHA-256 " code.hash { (d) } }
                        }
                    }
                    tr {
                        th { "Subject index" }
                        td { @match &e.subject {
                            Some(s) => code.hash { (s) },
                            None => span.none { "none" },
                        } }
                    }
                    tr { th { "Hash" } td { code.hash { (e.hash) } } }
                    tr { th { "Previous hash" } td { code.hash { (e.prev_hash) } } }
                }
            }
        }
    };
    layout("Transfer", Some(client), body)
}

fn fields_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Out => "Fields sent",
        Kind::In => "Fields kept",
        Kind::Denied => "Fields requested",
        Kind::Erasure => "Fields",
    }
}

fn verify_view(client: &Client, report: &Value) -> Markup {
    let ok = report["ok"].as_bool() == Some(true);
    let body = html! {
        h1 { "Chain verification" }
        @if ok {
            p.banner.good id="verify-status" role="status" {
                "The chain holds: " (report["entries"]) " entries, every hash and link checked."
            }
        } @else {
            p.banner.bad id="verify-status" role="alert" {
                "The chain is broken at seq " (report["bad_seq"]) ": "
                (report["reason"].as_str().unwrap_or_default())
            }
        }
        table.facts id="verify-report" {
            @if let Some(fields) = report.as_object() {
                @for (k, v) in fields {
                    tr {
                        th { (k) }
                        td { @match v {
                            Value::String(s) => code { (s) },
                            other => (other),
                        } }
                    }
                }
            }
        }
        p.summary {
            "Verification re-reads the whole log, read-only, beside the running gateway. \
             Entries cut off the end leave an intact chain; signed checkpoints catch that."
        }
    };
    layout("Verification", Some(client), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_replace_the_cursor() {
        let values = vec![
            ("recipient", "fcb".to_owned()),
            ("operation", String::new()),
            ("cursor", "40".to_owned()),
        ];
        assert_eq!(
            search_link(&values, Some("20")),
            "/audit?recipient=fcb&cursor=20"
        );
        assert_eq!(search_link(&values, None), "/audit?recipient=fcb");
        assert_eq!(search_link(&[], None), "/audit");
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_scoped() {
        let c = session_cookie("kz_abc".to_owned(), false).to_string();
        assert!(c.starts_with("kuzet_audit=kz_abc"), "{c}");
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Strict"), "{c}");
        assert!(c.contains("Path=/audit"), "{c}");
        assert!(!c.contains("Secure"), "{c}");
        let c = session_cookie("kz_abc".to_owned(), true).to_string();
        assert!(c.contains("Secure") && c.contains("HttpOnly"), "{c}");
        let r = removal_cookie().to_string();
        assert!(r.contains("Max-Age=0"), "{r}");
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(
            short_time("2026-12-01T10:00:00.123456Z"),
            "2026-12-01 10:00:00 UTC"
        );
    }
}
