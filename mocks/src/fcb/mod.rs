//! The mock First Credit Bureau report service: `GetReport` over SOAP 1.1, answered the way
//! the real bureau answers (a JAX-WS style envelope holding `CigResult` as ordinary child
//! elements, `CigResultError/Errmessage@code` for bureau errors, `S:Fault` for transport
//! problems).
//!
//! How a request is judged, in order (the first failing check answers):
//!
//! 1. an injected fault ([`crate::Knobs`]) answers before the request is even read;
//! 2. a `Content-Type` that is not XML → HTTP 415; a body that is not a SOAP 1.1 envelope with
//!    a `GetReport` in `http://ws.creditinfo.com/` → `S:Fault` `S:Client` (HTTP 500)
//!    (`S:VersionMismatch` for a non-SOAP-1.1 envelope);
//! 3. missing `CigWsHeader` or wrong `UserName`/`Password` → 1104 (login);
//! 4. `Culture` other than `ru-RU`, `kk-KZ`, `en-US` → 1103;
//! 5. missing `reportId` or `reportImportCode` → 1105 (report code);
//! 6. `idNumberType` other than 14, or no `idNumber` → 1116 (search code);
//! 7. `ConsentConfirmed` other than 1 → -1017 (subject consent needed, the verification
//!    service's code);
//! 8. an `idNumber` that is not a valid IIN (bad date, century or check digit) → 1102:
//!    the bureau searches, it does not validate, and no subject carries an invalid number;
//! 9. the reserved IINs (see the crate docs) → 1102, 1112, 1111;
//! 10. otherwise the synthetic report for the IIN, in the configured [`ReportSize`].
//!
//! The upload service (`UploadZippedData2`, `GetBatchStatus2`) answers at [`DATAPUMP_PATH`],
//! with the same credentials and fault knobs; see `datapump.rs` for how it judges a file and
//! the reserved contract codes ([`CONTRACT_CODE_REJECTED`],
//! [`CONTRACT_CODE_SUBJECT_MISMATCH`]).
//!
//! This module never logs request values: tracing carries only codes and masked IINs.

pub mod datapump;
mod people;
mod report;
mod request;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use kuzet_ident::Iin;

use crate::{Error, Fault, Knobs, Running};

pub use datapump::{
    CONTRACT_CODE_REJECTED, CONTRACT_CODE_SUBJECT_MISMATCH, DATAPUMP_NS, MockBatch, RECORDS_NS,
    Uploads,
};
pub use people::{
    IIN_BUREAU_INTERNAL_ERROR, IIN_DEMO, IIN_HEAVY_OVERDUE, IIN_NO_CREDIT_HISTORY, IIN_NOT_FOUND,
    IIN_SEVERAL_SUBJECTS, demo_iin,
};
pub use report::{ReportSize, report_xml};

/// The path the real report service typically lives at. The mock answers any path but
/// [`DATAPUMP_PATH`].
pub const SERVICE_PATH: &str = "/FCBServices/Service";
/// The path the real upload service typically lives at; the mock's upload service answers
/// here only.
pub const DATAPUMP_PATH: &str = "/DataPumpService/DataPumpService";
/// Largest upload request body the mock takes, in bytes.
const DATAPUMP_BODY_LIMIT: usize = 128 * 1024 * 1024;

/// How many rendered envelopes the mock keeps (per IIN and size).
const CACHE_ENTRIES: usize = 1024;

/// Settings of the bureau mock.
#[derive(Clone)]
pub struct FcbMockOptions {
    /// Where [`spawn`] listens; default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Wait this long before every answer.
    pub latency: Duration,
    /// When > 0, only the first `fail_first` calls get `fault` (a SOAP fault when `fault` is
    /// `None`), then calls are normal. When 0, `fault` (if any) answers every call.
    pub fail_first: u32,
    /// The fault to answer with (see `fail_first`).
    pub fault: Option<Fault>,
    /// How big synthetic reports are.
    pub report_size: ReportSize,
    /// The `CigWsHeader/UserName` the mock accepts.
    pub expected_user: String,
    /// The `CigWsHeader/Password` the mock accepts.
    pub expected_password: String,
    /// Where the upload service keeps its batches; pass a clone to look at them from a test.
    pub uploads: Uploads,
    /// Recorded answers: `DIR/fcb/credit-report/<IIN>.xml` (a `CigResult` document) is served
    /// for that IIN instead of the synthetic report.
    pub fixtures: Option<std::path::PathBuf>,
}

impl Default for FcbMockOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            fail_first: 0,
            fault: None,
            report_size: ReportSize::Full,
            expected_user: "kuzet-demo".to_owned(),
            expected_password: "demo-password".to_owned(),
            uploads: Uploads::default(),
            fixtures: None,
        }
    }
}

impl fmt::Debug for FcbMockOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcbMockOptions")
            .field("listen", &self.listen)
            .field("latency", &self.latency)
            .field("fail_first", &self.fail_first)
            .field("fault", &self.fault)
            .field("report_size", &self.report_size)
            .field("expected_user", &self.expected_user)
            .field("expected_password", &"***")
            .field("uploads", &self.uploads.batches().len())
            .field("fixtures", &self.fixtures)
            .finish()
    }
}

impl FcbMockOptions {
    fn knobs(&self) -> Knobs {
        Knobs::new(self.latency, self.fail_first, self.fault)
    }
}

struct FcbState {
    knobs: Knobs,
    user: String,
    password: String,
    size: ReportSize,
    cache: Mutex<HashMap<(Iin, ReportSize), Bytes>>,
    uploads: Uploads,
    fixtures: Option<std::path::PathBuf>,
}

impl FcbState {
    /// The answer envelope for `iin`, rendered once and then served from the cache.
    fn envelope(&self, iin: &Iin) -> Bytes {
        let key = (iin.clone(), self.size);
        if let Some(b) = self.lock_cache().get(&key) {
            return b.clone();
        }
        // Rendered outside the lock: two racing misses render the same bytes twice, which is
        // harmless, while holding the lock would serialise every miss.
        let bytes = Bytes::from(report_envelope(iin, self.size));
        let mut cache = self.lock_cache();
        if cache.len() >= CACHE_ENTRIES {
            // Evict an arbitrary entry: load tests reuse a small set of IINs, so any simple
            // bound will do.
            if let Some(k) = cache.keys().next().cloned() {
                cache.remove(&k);
            }
        }
        cache.insert(key, bytes.clone());
        bytes
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<(Iin, ReportSize), Bytes>> {
        // A cache is always safe to reuse after a panic elsewhere: entries are whole values.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The mock's axum router with its own fresh knobs. Any path answers.
pub fn router(options: FcbMockOptions) -> Router {
    let knobs = options.knobs();
    router_with_knobs(options, knobs)
}

/// The mock's router using `knobs` (so an in-process host can count calls and inject faults;
/// the `latency`/`fail_first`/`fault` fields of `options` are ignored here).
pub fn router_with_knobs(options: FcbMockOptions, knobs: Knobs) -> Router {
    let state = Arc::new(FcbState {
        knobs,
        user: options.expected_user,
        password: options.expected_password,
        size: options.report_size,
        cache: Mutex::new(HashMap::new()),
        uploads: options.uploads,
        fixtures: options.fixtures,
    });
    Router::new()
        .route(
            DATAPUMP_PATH,
            any(handle_datapump).layer(DefaultBodyLimit::max(DATAPUMP_BODY_LIMIT)),
        )
        .fallback(handle)
        .with_state(state)
}

/// Starts the mock on `options.listen` (default `127.0.0.1:0`).
pub async fn spawn(options: FcbMockOptions) -> io::Result<Running> {
    let knobs = options.knobs();
    let listen = options.listen;
    let router = router_with_knobs(options, knobs.clone());
    Running::serve(listen, router, knobs).await
}

/// The full answer envelope for a report (what the mock sends for `iin`).
pub fn report_envelope(iin: &Iin, size: ReportSize) -> String {
    envelope_around(&report_xml(iin, size))
}

/// The answer envelope around a `CigResult` document (its XML declaration, if any, dropped).
pub fn envelope_around(report: &str) -> String {
    let report = crate::strip_xml_declaration(report);
    let mut out = String::with_capacity(report.len() + 512);
    out.push_str(ENVELOPE_OPEN);
    out.push_str(
        "<ns2:GetReportResponse xmlns:ns2=\"http://ws.creditinfo.com/\"><GetReportResult>",
    );
    out.push_str(report);
    out.push_str("</GetReportResult></ns2:GetReportResponse>");
    out.push_str(ENVELOPE_CLOSE);
    out
}

const ENVELOPE_OPEN: &str = "<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>";
const ENVELOPE_CLOSE: &str = "</S:Body></S:Envelope>";

/// The message the bureau attaches to each error code (from the bureau's code list).
fn error_message(code: i32) -> &'static str {
    match code {
        1101 => "General error",
        1102 => "Subject not found",
        1103 => "Culture not supported",
        1104 => "Login failed",
        1105 => "Report code not valid",
        1106 => "Insufficient rights for the report",
        1107 => "Document not found",
        1108 => "Report not found",
        1109 => "Subject type not valid",
        1110 => "Password expired or IP address not allowed",
        1111 => "Internal error of the bureau",
        1112 => "Several subjects found",
        1115 => "Documents not valid",
        1116 => "Search code not valid",
        -1017 => "Subject consent needed",
        _ => "Error",
    }
}

/// A bureau error envelope: `GetReportResult/CigResultError/Errmessage@code`, HTTP 200.
pub fn error_envelope(code: i32) -> String {
    format!(
        "{ENVELOPE_OPEN}<ns2:GetReportResponse xmlns:ns2=\"http://ws.creditinfo.com/\"><GetReportResult><CigResultError Version=\"4.0\"><Errmessage code=\"{code}\">{}</Errmessage></CigResultError></GetReportResult></ns2:GetReportResponse>{ENVELOPE_CLOSE}",
        error_message(code)
    )
}

/// A SOAP 1.1 fault envelope (`faultcode` like `S:Client` or `S:Server`).
pub fn fault_envelope(faultcode: &str, faultstring: &str) -> String {
    format!(
        "{ENVELOPE_OPEN}<S:Fault><faultcode>{faultcode}</faultcode><faultstring>{faultstring}</faultstring></S:Fault>{ENVELOPE_CLOSE}"
    )
}

fn xml_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=utf-8"),
    );
    r
}

fn bureau_error(code: i32) -> Response {
    tracing::debug!(code, "Bureau mock answers with a bureau error.");
    xml_response(StatusCode::OK, error_envelope(code))
}

fn soap_fault(faultcode: &str, faultstring: &str) -> Response {
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        fault_envelope(faultcode, faultstring),
    )
}

fn fault_response(fault: Fault, state: &FcbState) -> Response {
    tracing::debug!(?fault, "Bureau mock injects a fault.");
    match fault {
        Fault::SoapFault => soap_fault("S:Server", "Internal server error"),
        Fault::BureauError(code) => bureau_error(code),
        Fault::Malformed => xml_response(
            StatusCode::OK,
            "Proxy error: upstream sent an invalid response <<<",
        ),
        Fault::Truncated => {
            let full = state.envelope(&demo_iin());
            xml_response(StatusCode::OK, full.slice(..full.len() / 2))
        }
        Fault::HttpStatus(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = (status, status.canonical_reason().unwrap_or("Error")).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        Fault::CloseConnection => {
            // A body that fails before its first byte makes hyper abort the connection
            // without completing the response: the client sees the connection drop.
            let stream = futures::stream::once(async {
                Err::<Bytes, io::Error>(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "injected connection close",
                ))
            });
            Response::new(Body::from_stream(stream))
        }
    }
}

/// The method and content-type checks both services make: `Some` answer when they fail.
fn check_post_xml(method: &Method, headers: &HeaderMap) -> Option<Response> {
    if method != Method::POST {
        return Some((StatusCode::METHOD_NOT_ALLOWED, "Only POST is supported").into_response());
    }
    let xml_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("xml"));
    if !xml_content {
        return Some(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Content-Type, expected text/xml",
            )
                .into_response(),
        );
    }
    None
}

async fn handle_datapump(
    State(state): State<Arc<FcbState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plan = state.knobs.begin_call();
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    if let Some(fault) = plan.fault {
        let operation = datapump::Operation::guess(&body);
        return match fault {
            Fault::BureauError(code) => xml_response(
                StatusCode::OK,
                datapump::error_envelope(operation, code, error_message(code)),
            ),
            Fault::Truncated => {
                let full = datapump::sample_upload_envelope();
                xml_response(StatusCode::OK, full[..full.len() / 2].to_owned())
            }
            other => fault_response(other, &state),
        };
    }
    if let Some(refused) = check_post_xml(&method, &headers) {
        return refused;
    }
    datapump::answer(&body, &state.user, &state.password, &state.uploads)
}

async fn handle(
    State(state): State<Arc<FcbState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plan = state.knobs.begin_call();
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    if let Some(fault) = plan.fault {
        return fault_response(fault, &state);
    }
    if let Some(refused) = check_post_xml(&method, &headers) {
        return refused;
    }
    let req = match request::parse(&body) {
        Ok(r) => r,
        Err(e @ Error::SoapVersionMismatch) => {
            return soap_fault("S:VersionMismatch", &e.to_string());
        }
        Err(e) => return soap_fault("S:Client", &e.to_string()),
    };
    answer(&state, &req)
}

fn answer(state: &FcbState, req: &request::GetReport) -> Response {
    let creds_ok = req.header_present
        && req.user_name.as_deref() == Some(state.user.as_str())
        && req.password.as_deref() == Some(state.password.as_str());
    if !creds_ok {
        return bureau_error(1104);
    }
    if let Some(c) = req.culture.as_deref()
        && !matches!(c, "ru-RU" | "kk-KZ" | "en-US")
    {
        return bureau_error(1103);
    }
    let numeric = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    };
    if !numeric(&req.report_id) || !numeric(&req.report_import_code) {
        return bureau_error(1105);
    }
    if req.id_number_type.as_deref() != Some("14")
        || req.id_number.as_deref().is_none_or(str::is_empty)
    {
        return bureau_error(1116);
    }
    if req.consent_confirmed.as_deref() != Some("1") {
        return bureau_error(-1017);
    }
    let Ok(iin) = Iin::parse(req.id_number.as_deref().unwrap_or_default()) else {
        return bureau_error(1102);
    };
    match iin.expose() {
        IIN_NOT_FOUND => return bureau_error(1102),
        IIN_SEVERAL_SUBJECTS => return bureau_error(1112),
        IIN_BUREAU_INTERNAL_ERROR => return bureau_error(1111),
        _ => {}
    }
    if let Some(recorded) = crate::fixture(state.fixtures.as_deref(), "fcb", "credit-report", &iin)
    {
        tracing::debug!(subject = %iin, "Bureau mock serves a recorded report.");
        return xml_response(StatusCode::OK, envelope_around(&recorded));
    }
    tracing::debug!(subject = %iin, "Bureau mock serves a report.");
    xml_response(StatusCode::OK, state.envelope(&iin))
}
