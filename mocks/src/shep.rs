//! The mock e-government gateway (SHEP): its synchronous channel (`SendMessage`, SOAP 1.1) at
//! [`SYNC_PATH`], routing each message by `serviceId` to a mock registry, the way the real SHEP
//! routes to the pension centre or the traffic authority.
//!
//! How a request is judged, in order (the first failing check answers):
//!
//! 1. an injected fault answers before anything is checked: one of the channel's own
//!    ([`crate::Knobs`], every service), else one of the registry the `serviceId` routes to
//!    ([`PartyKnobs`], so that a fault set for the pension centre never reaches the traffic
//!    authority). [`Fault::SoapFault`] is a SHEP fault (`SendMessageSendMessageFaultMsg` with
//!    an `ErrorInfo`, code [`ERROR_INTERNAL`], HTTP 500); [`Fault::BureauError`]`(code)` is a
//!    successful SHEP answer whose registry payload (the routed registry's shape: pension
//!    centre or traffic authority) carries `returnCode` = `code`; the others as for every
//!    mock. Latency adds up the same way (channel + registry);
//! 2. the WS-Security signature is checked with [`kuzet_shep::verify_envelope`] (and the
//!    signing certificate against the trusted CA when one is configured): an unsigned or
//!    altered message gets a SHEP fault with [`ERROR_SIGNATURE_MISSING`],
//!    [`ERROR_SIGNATURE_INVALID`] or [`ERROR_CERTIFICATE_UNTRUSTED`] (HTTP 500);
//! 3. a message without `messageId`, `serviceId` or `sender/senderId` gets
//!    [`ERROR_BAD_REQUEST`];
//! 4. a `serviceId` not in the routing table gets [`ERROR_SERVICE_NOT_FOUND`];
//! 5. the service's handler answers: a `SendMessageResponse` with status `SCSS001` and the
//!    registry's payload in `responseData/data`.
//!
//! The routing table maps a service id to a [`Handler`] (a plain function of the parsed
//! [`ShepCall`]): the pension centre ([`gcvp_handler`]) and the traffic authority's vehicle
//! lookup and user mark ([`traffic_vehicle_handler`], [`traffic_user_mark_handler`], answering
//! from [`crate::traffic`]).
//!
//! **The pension centre (GCVP).** The payload shape is the one `kuzet-gcvp` documents
//! (`IncomeRequest` with `iin`, `periodFrom`, `periodTo`; `IncomeResponse` with `returnCode`,
//! `returnMessage` and `payments/payment` with `period`, `paymentDate`, `amount`,
//! `employerBin`, `employerName`). Contributions are synthetic and deterministic from the IIN
//! and the months asked for ([`gcvp_payments`]); the reserved IINs:
//!
//! | constant | IIN | answer |
//! |---|---|---|
//! | [`IIN_NO_DATA`] | `910610400012` | `returnCode` 1: no contributions in the period |
//! | [`IIN_SEVERAL_EMPLOYERS`] | `860715300025` | three employers: a main job every month, a second job every other month, a former employer in the first two months |
//! | [`IIN_NOT_FOUND`] | `791203400035` | `returnCode` 2: subject not found |
//! | [`IIN_ZERO_AMOUNTS`] | `950309400043` | one employer, a contribution of 0.00 every month |
//! | [`IIN_REGISTRY_ERROR`] | `880811300050` | `returnCode` 9: internal error of the registry |
//!
//! Any other valid IIN gets one employer paying the same contribution every month. An invalid
//! IIN or period gets `returnCode` 3.
//!
//! The real SHEP signs its answers; this mock does not (the client does not check them). The
//! answer's ids and date vary per call; its `data` is byte-identical for the same request.
//!
//! This module never logs request values: tracing carries only codes, service ids and masked
//! IINs, and fault messages name the problem only.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use kuzet_ident::{Bin, Iin};
use kuzet_shep::{RingVerifier, ShepError, SignatureVerifier, verify_envelope};
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use time::macros::{format_description, offset};
use time::{Date, Month, OffsetDateTime};

use crate::{Fault, Knobs, Running};

/// The path of the synchronous channel (the real one is `…/bip-sync-wss-gost/`).
pub const SYNC_PATH: &str = "/bip-sync-wss-gost/";
/// The pension centre's `serviceId` the mock routes by default.
pub const DEFAULT_GCVP_SERVICE_ID: &str = "GCVP_INCOME";
/// The traffic authority's `serviceId` the mock routes by default.
pub const DEFAULT_TRAFFIC_SERVICE_ID: &str = "MVD_TRAFFIC";
/// The default `serviceId` of the traffic authority's user mark (a write).
pub const DEFAULT_USER_MARK_SERVICE_ID: &str = "MVD_USER_MARK";
/// The namespace of the pension centre's payloads (as `kuzet-gcvp` sends them by default).
pub const GCVP_PAYLOAD_NS: &str = "urn:kuzet:gcvp:income:v1";

/// `ErrorInfo/errorCode` of an injected internal failure of SHEP (one SHEP clients retry).
pub const ERROR_INTERNAL: &str = "SE001";
/// `ErrorInfo/errorCode` of a message without a signature *(inferred: SHEP's codes are not
/// public)*.
pub const ERROR_SIGNATURE_MISSING: &str = "SIGNATURE_MISSING";
/// `ErrorInfo/errorCode` of a signature that does not hold (altered message, wrong key).
pub const ERROR_SIGNATURE_INVALID: &str = "SIGNATURE_INVALID";
/// `ErrorInfo/errorCode` of a signing certificate that does not chain to the trusted CA.
pub const ERROR_CERTIFICATE_UNTRUSTED: &str = "CERTIFICATE_UNTRUSTED";
/// `ErrorInfo/errorCode` of a message that is not a readable `SendMessage`.
pub const ERROR_BAD_REQUEST: &str = "BAD_REQUEST";
/// `ErrorInfo/errorCode` of a `serviceId` SHEP does not route.
pub const ERROR_SERVICE_NOT_FOUND: &str = "SERVICE_NOT_FOUND";

/// GCVP `returnCode` 1: no contributions in the period. A woman born 10.06.1991.
pub const IIN_NO_DATA: &str = "910610400012";
/// Three employers (see the module docs). A man born 15.07.1986.
pub const IIN_SEVERAL_EMPLOYERS: &str = "860715300025";
/// GCVP `returnCode` 2: subject not found. A woman born 03.12.1979.
pub const IIN_NOT_FOUND: &str = "791203400035";
/// One employer, every contribution 0.00. A woman born 09.03.1995.
pub const IIN_ZERO_AMOUNTS: &str = "950309400043";
/// GCVP `returnCode` 9: internal error of the registry. A man born 11.08.1988.
pub const IIN_REGISTRY_ERROR: &str = "880811300050";

/// GCVP `returnCode` values the mock answers with.
const RC_OK: i64 = 0;
const RC_NO_DATA: i64 = 1;
const RC_NOT_FOUND: i64 = 2;
const RC_INVALID: i64 = 3;
const RC_INTERNAL: i64 = 9;

/// The longest period the GCVP mock serves, in months.
const MAX_PERIOD_MONTHS: i64 = 36;

/// Settings of the SHEP mock.
#[derive(Clone)]
pub struct ShepMockOptions {
    /// Where [`spawn`] listens; default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Wait this long before every answer.
    pub latency: Duration,
    /// When > 0, only the first `fail_first` calls get `fault` (a SHEP fault when `fault` is
    /// `None`), then calls are normal. When 0, `fault` (if any) answers every call.
    pub fail_first: u32,
    /// The fault to answer with (see `fail_first`).
    pub fault: Option<Fault>,
    /// The `serviceId` routed to the pension centre.
    pub gcvp_service_id: String,
    /// The `serviceId` routed to the traffic authority (not implemented yet: SHEP fault
    /// [`ERROR_SERVICE_NOT_FOUND`]).
    pub traffic_service_id: String,
    /// The `serviceId` routed to the traffic authority's user mark.
    pub user_mark_service_id: String,
    /// The CA (PEM) signing certificates must chain to; `None`: any certificate, but the
    /// signature must still hold.
    pub trusted_ca_pem: Option<String>,
    /// Checks signatures (digest and signature algorithms, certificates).
    pub verifier: Arc<dyn SignatureVerifier>,
    /// Recorded answers: `DIR/gcvp/income/<IIN>.xml` and `DIR/traffic/vehicle/<IIN>.xml` (the
    /// `data` payload) are served for lookups by that IIN instead of the synthetic answer.
    pub fixtures: Option<std::path::PathBuf>,
}

impl Default for ShepMockOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            fail_first: 0,
            fault: None,
            gcvp_service_id: DEFAULT_GCVP_SERVICE_ID.to_owned(),
            traffic_service_id: DEFAULT_TRAFFIC_SERVICE_ID.to_owned(),
            user_mark_service_id: DEFAULT_USER_MARK_SERVICE_ID.to_owned(),
            trusted_ca_pem: None,
            verifier: Arc::new(RingVerifier),
            fixtures: None,
        }
    }
}

impl fmt::Debug for ShepMockOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShepMockOptions")
            .field("listen", &self.listen)
            .field("latency", &self.latency)
            .field("fail_first", &self.fail_first)
            .field("fault", &self.fault)
            .field("gcvp_service_id", &self.gcvp_service_id)
            .field("traffic_service_id", &self.traffic_service_id)
            .field("user_mark_service_id", &self.user_mark_service_id)
            .field("trusted_ca", &self.trusted_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// A SHEP message as the mock read it: `requestInfo` and the leaf elements of
/// `requestData/data`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShepCall {
    /// `messageId`.
    pub message_id: String,
    /// `correlationId`.
    pub correlation_id: Option<String>,
    /// `serviceId`.
    pub service_id: String,
    /// `sessionId`.
    pub session_id: Option<String>,
    /// `sender/senderId`.
    pub sender_id: String,
    /// Leaf elements under `data`, in order: (local name, text).
    pub data: Vec<(String, String)>,
    /// The content of `data` as received (the service payload's XML).
    pub raw_data: String,
}

impl ShepCall {
    /// The text of the first leaf under `data` with this local name.
    pub fn field(&self, local: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n == local)
            .map(|(_, v)| v.as_str())
    }
}

/// A SHEP fault's `ErrorInfo`, as the mock sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockError {
    /// `errorCode`.
    pub code: &'static str,
    /// `errorMessage`: never a request value.
    pub message: String,
}

/// What a registry behind SHEP answers: the content of `responseData/data`, or a SHEP fault.
pub type Handler = fn(&ShepCall) -> Result<String, MockError>;

/// The knobs of each registry behind the channel: a fault or latency set on one reaches only
/// the calls SHEP routes to that registry (by `serviceId`), counted in its own `calls()`.
#[derive(Debug, Clone, Default)]
pub struct PartyKnobs {
    /// The pension centre's.
    pub gcvp: Knobs,
    /// The road-traffic authority's (vehicle lookup and user mark).
    pub traffic: Knobs,
}

impl PartyKnobs {
    fn of(&self, party: &str) -> Option<&Knobs> {
        match party {
            "gcvp" => Some(&self.gcvp),
            "traffic" => Some(&self.traffic),
            _ => None,
        }
    }
}

/// A routing-table line: `(serviceId, handler, party, operation)`; party and operation name
/// the call in the journal (crate::control) and pick the registry's knobs.
type Route = (String, Handler, &'static str, &'static str);

struct ShepState {
    /// The channel's own knobs (every service).
    knobs: Knobs,
    parties: PartyKnobs,
    ca_der: Option<Vec<u8>>,
    verifier: Arc<dyn SignatureVerifier>,
    routes: Vec<Route>,
    answers: AtomicU64,
    fixtures: Option<std::path::PathBuf>,
}

impl ShepMockOptions {
    fn knobs(&self) -> Knobs {
        Knobs::new(self.latency, self.fail_first, self.fault)
    }
}

/// The mock's axum router (at [`SYNC_PATH`]) with its own fresh knobs. Fails when
/// `trusted_ca_pem` holds no certificate.
pub fn router(options: ShepMockOptions) -> io::Result<Router> {
    let knobs = options.knobs();
    router_with_knobs(options, knobs)
}

/// The mock's router using `knobs` for the channel (the `latency`/`fail_first`/`fault` fields
/// of `options` are ignored here) and fresh knobs for each registry.
pub fn router_with_knobs(options: ShepMockOptions, knobs: Knobs) -> io::Result<Router> {
    router_with_party_knobs(options, knobs, PartyKnobs::default())
}

/// The mock's router using `knobs` for the channel and `parties` for the registries behind it.
pub fn router_with_party_knobs(
    options: ShepMockOptions,
    knobs: Knobs,
    parties: PartyKnobs,
) -> io::Result<Router> {
    let ca_der = match &options.trusted_ca_pem {
        None => None,
        Some(pem) => {
            use rustls_pki_types::CertificateDer;
            use rustls_pki_types::pem::PemObject;
            let cert = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "trusted_ca_pem holds no PEM certificate",
                )
            })?;
            Some(cert.to_vec())
        }
    };
    // The routing table: one line per registry behind SHEP.
    let routes: Vec<Route> = vec![
        (
            options.gcvp_service_id.trim().to_owned(),
            gcvp_handler,
            "gcvp",
            "income",
        ),
        (
            options.traffic_service_id.trim().to_owned(),
            traffic_vehicle_handler,
            "traffic",
            "vehicle",
        ),
        (
            options.user_mark_service_id.trim().to_owned(),
            traffic_user_mark_handler,
            "traffic",
            "user-mark",
        ),
    ];
    let state = Arc::new(ShepState {
        knobs,
        parties,
        ca_der,
        verifier: options.verifier,
        routes,
        answers: AtomicU64::new(0),
        fixtures: options.fixtures,
    });
    Ok(Router::new()
        .route(SYNC_PATH, post(handle))
        .with_state(state))
}

/// Starts the mock on `options.listen` (default `127.0.0.1:0`); the channel is at
/// `running.url(SYNC_PATH)`.
pub async fn spawn(options: ShepMockOptions) -> io::Result<Running> {
    let knobs = options.knobs();
    let listen = options.listen;
    let router = router_with_knobs(options, knobs.clone())?;
    Running::serve(listen, router, knobs).await
}

/// The traffic authority's vehicle lookup: the answer of [`crate::traffic::vehicle_answer`].
pub fn traffic_vehicle_handler(call: &ShepCall) -> Result<String, MockError> {
    crate::traffic::vehicle_answer(&call.raw_data).map_err(|e| MockError {
        code: ERROR_BAD_REQUEST,
        message: e.to_string(),
    })
}

/// The traffic authority's user mark: the answer of [`crate::traffic::user_mark_answer`].
pub fn traffic_user_mark_handler(call: &ShepCall) -> Result<String, MockError> {
    crate::traffic::user_mark_answer(&call.raw_data).map_err(|e| MockError {
        code: ERROR_BAD_REQUEST,
        message: e.to_string(),
    })
}

/// The handler of a service the mock knows the id of but does not implement yet.
pub fn not_implemented(_: &ShepCall) -> Result<String, MockError> {
    Err(MockError {
        code: ERROR_SERVICE_NOT_FOUND,
        message: "The service is not available in this mock".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// The channel.

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";

fn xml_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=utf-8"),
    );
    r
}

/// A SHEP fault envelope: `soap:Fault` with `SendMessageSendMessageFaultMsg` in `detail`.
pub fn fault_envelope(faultcode: &str, error: &MockError) -> String {
    let date = now_astana();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP_NS}\"><soap:Body><soap:Fault><faultcode>{faultcode}</faultcode><faultstring>{msg}</faultstring><detail><ns2:SendMessageSendMessageFaultMsg xmlns:ns2=\"{TYPES_NS}\"><errorCode>{code}</errorCode><errorMessage>{msg}</errorMessage><errorDate>{date}</errorDate></ns2:SendMessageSendMessageFaultMsg></detail></soap:Fault></soap:Body></soap:Envelope>",
        code = escape(error.code),
        msg = escape(&error.message),
    )
}

fn shep_fault(faultcode: &str, error: MockError) -> Response {
    tracing::debug!(code = error.code, "SHEP mock answers with a fault.");
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        fault_envelope(faultcode, &error),
    )
}

/// A `SendMessageResponse` with status `SCSS001` around `data` (the content of
/// `responseData/data`).
pub fn response_envelope(call: &ShepCall, response_message_id: &str, data: &str) -> String {
    let mut x = String::with_capacity(data.len() + 1024);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"");
    x.push_str(SOAP_NS);
    x.push_str("\"><soap:Body><ns2:SendMessageResponse xmlns:ns2=\"");
    x.push_str(TYPES_NS);
    x.push_str("\"><response><responseInfo>");
    element(&mut x, "messageId", response_message_id);
    element(
        &mut x,
        "correlationId",
        call.correlation_id.as_deref().unwrap_or(&call.message_id),
    );
    element(&mut x, "responseDate", &now_astana());
    x.push_str("<status>");
    element(&mut x, "code", "SCSS001");
    element(&mut x, "message", "Message has been processed successfully");
    x.push_str("</status>");
    let session = call
        .session_id
        .clone()
        .unwrap_or_else(|| format!("{{{response_message_id}}}"));
    element(&mut x, "sessionId", &session);
    x.push_str("</responseInfo><responseData><data>");
    x.push_str(data);
    x.push_str(
        "</data></responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>",
    );
    x
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn now_astana() -> String {
    OffsetDateTime::now_utc()
        .to_offset(offset!(+6))
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
        ))
        .unwrap_or_default()
}

impl ShepState {
    /// A fresh UUID-shaped id for an answer (no randomness needed: unique per server).
    fn next_message_id(&self) -> String {
        let n = self.answers.fetch_add(1, Ordering::Relaxed) + 1;
        format!("5e9b0c1d-0000-4000-8000-{n:012x}")
    }
}

/// The answer to an injected `fault`, shaped for the registry of `route` where the call could
/// be routed (the pension centre's shape otherwise).
fn fault_response(fault: Fault, state: &ShepState, route: Option<&Route>) -> Response {
    tracing::debug!(?fault, "SHEP mock injects a fault.");
    match fault {
        Fault::SoapFault => shep_fault(
            "soap:Server",
            MockError {
                code: ERROR_INTERNAL,
                message: "Internal error of the integration gateway".into(),
            },
        ),
        Fault::BureauError(code) => {
            let call = ShepCall {
                message_id: state.next_message_id(),
                ..ShepCall::default()
            };
            let data = match route {
                Some((_, _, "traffic", operation)) => {
                    crate::traffic::error_answer(operation, i64::from(code))
                }
                _ => gcvp_result(i64::from(code), "Injected error", &[]),
            };
            xml_response(
                StatusCode::OK,
                response_envelope(&call, &state.next_message_id(), &data),
            )
        }
        Fault::Malformed => xml_response(
            StatusCode::OK,
            "Proxy error: upstream sent an invalid response <<<",
        ),
        Fault::Truncated => {
            let call = ShepCall {
                message_id: state.next_message_id(),
                ..ShepCall::default()
            };
            let data = gcvp_ok(&several_employers_sample());
            let full = response_envelope(&call, &state.next_message_id(), &data);
            let cut = full.len() / 2;
            // Cut on a character boundary.
            let cut = (0..=cut)
                .rev()
                .find(|i| full.is_char_boundary(*i))
                .unwrap_or(0);
            xml_response(StatusCode::OK, full[..cut].to_owned())
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
            // A body that fails before its first byte makes hyper abort the connection.
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

fn several_employers_sample() -> Vec<SyntheticPayment> {
    Iin::parse(IIN_SEVERAL_EMPLOYERS)
        .ok()
        .map(|iin| gcvp_payments(&iin, (2025, 1), (2025, 6)))
        .unwrap_or_default()
}

/// Names the registry that answered for the journal (crate::control).
fn name_party(mut response: Response, party: &'static str, operation: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        crate::control::PARTY_HEADER,
        HeaderValue::from_static(party),
    );
    headers.insert(
        crate::control::OPERATION_HEADER,
        HeaderValue::from_static(operation),
    );
    response
}

async fn handle(State(state): State<Arc<ShepState>>, body: Bytes) -> Response {
    let channel = state.knobs.begin_call();
    // Read before any check only to route: which registry's knobs apply, and the shape of an
    // injected registry answer. The message is judged below, in the documented order.
    let parsed = parse_call(&body);
    let route = parsed
        .as_ref()
        .ok()
        .and_then(|call| state.routes.iter().find(|(id, ..)| *id == call.service_id));
    let registry = route
        .and_then(|(_, _, party, _)| state.parties.of(party))
        .map(Knobs::begin_call);
    let latency = channel.latency + registry.as_ref().map_or(Duration::ZERO, |p| p.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(fault) = channel.fault.or(registry.and_then(|p| p.fault)) {
        let response = fault_response(fault, &state, route);
        return match route {
            Some((_, _, party, operation)) => name_party(response, party, operation),
            None => response,
        };
    }
    if let Err(e) = verify_envelope(&body, &*state.verifier, state.ca_der.as_deref()) {
        let code = match e {
            ShepError::SignatureMissing => ERROR_SIGNATURE_MISSING,
            ShepError::CertificateUntrusted(_) => ERROR_CERTIFICATE_UNTRUSTED,
            ShepError::Malformed(_) => ERROR_BAD_REQUEST,
            _ => ERROR_SIGNATURE_INVALID,
        };
        return shep_fault(
            "soap:Client",
            MockError {
                code,
                message: format!("Message rejected: {e}"),
            },
        );
    }
    let call = match parsed {
        Ok(call) => call,
        Err(what) => {
            return shep_fault(
                "soap:Client",
                MockError {
                    code: ERROR_BAD_REQUEST,
                    message: what.to_owned(),
                },
            );
        }
    };
    let Some((_, handler, party, operation)) = route else {
        return shep_fault(
            "soap:Client",
            MockError {
                code: ERROR_SERVICE_NOT_FOUND,
                message: "No service is registered under this serviceId".into(),
            },
        );
    };
    // A recorded answer for a lookup by IIN (`--mock-fixtures`) replaces the synthetic one.
    let recorded = ["iin", "iinbin"]
        .iter()
        .find_map(|k| call.field(k))
        .and_then(|iin| kuzet_ident::Iin::parse(iin).ok())
        .and_then(|iin| crate::fixture(state.fixtures.as_deref(), party, operation, &iin));
    let answer = match recorded {
        Some(data) => Ok(crate::strip_xml_declaration(&data).to_owned()),
        None => handler(&call),
    };
    let response = match answer {
        Ok(data) => xml_response(
            StatusCode::OK,
            response_envelope(&call, &state.next_message_id(), &data),
        ),
        Err(error) => shep_fault("soap:Server", error),
    };
    name_party(response, party, operation)
}

/// Reads `requestInfo` and the leaves of `requestData/data` by local name (any prefix).
fn parse_call(body: &[u8]) -> Result<ShepCall, &'static str> {
    const NOT_XML: &str = "The message is not well-formed XML";
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::with_capacity(16);
    let mut text = String::new();
    let mut call = ShepCall::default();
    let mut saw_send_message = false;
    const DATA: &[&str] = &[
        "Envelope",
        "Body",
        "SendMessage",
        "request",
        "requestData",
        "data",
    ];
    let mut data_start = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match reader.read_event().map_err(|_| NOT_XML)? {
            Event::Start(s) => {
                let name = std::str::from_utf8(s.local_name().into_inner())
                    .map_err(|_| NOT_XML)?
                    .to_owned();
                if path.len() == 2 && name == "SendMessage" {
                    saw_send_message = true;
                }
                path.push(name);
                text.clear();
                if path == DATA {
                    data_start = usize::try_from(reader.buffer_position()).ok();
                }
            }
            Event::End(_) => {
                if path == DATA
                    && let Some(raw) = data_start.and_then(|start| body.get(start..before))
                {
                    call.raw_data = String::from_utf8_lossy(raw).into_owned();
                }
                let value = std::mem::take(&mut text).trim().to_owned();
                let under = |prefix: &[&str]| {
                    path.len() > prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
                };
                let name = path.last().cloned().unwrap_or_default();
                const INFO: &[&str] =
                    &["Envelope", "Body", "SendMessage", "request", "requestInfo"];
                if under(INFO) && path.len() == INFO.len() + 1 {
                    match name.as_str() {
                        "messageId" => call.message_id = value,
                        "correlationId" => call.correlation_id = Some(value),
                        "serviceId" => call.service_id = value,
                        "sessionId" => call.session_id = Some(value),
                        _ => {}
                    }
                } else if under(INFO) && name == "senderId" {
                    call.sender_id = value;
                } else if under(DATA) {
                    call.data.push((name, value));
                }
                path.pop();
            }
            Event::Text(t) => {
                text.push_str(std::str::from_utf8(t.as_ref()).map_err(|_| NOT_XML)?);
            }
            Event::CData(c) => {
                text.push_str(std::str::from_utf8(c.as_ref()).map_err(|_| NOT_XML)?);
            }
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|_| NOT_XML)? {
                Some(c) => text.push(c),
                None => {
                    let name = r.decode().map_err(|_| NOT_XML)?;
                    text.push_str(resolve_predefined_entity(&name).ok_or(NOT_XML)?);
                }
            },
            Event::Eof => break,
            Event::Empty(_)
            | Event::Decl(_)
            | Event::Comment(_)
            | Event::PI(_)
            | Event::DocType(_) => {}
        }
    }
    if !saw_send_message {
        return Err("The SOAP Body holds no SendMessage");
    }
    if call.message_id.is_empty() || call.service_id.is_empty() || call.sender_id.is_empty() {
        return Err("requestInfo lacks messageId, serviceId or sender/senderId");
    }
    Ok(call)
}

// ---------------------------------------------------------------------------------------------
// The pension centre.

/// One synthetic contribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticPayment {
    /// The month it is for: (year, month).
    pub period: (i32, u8),
    /// When it was paid.
    pub payment_date: Date,
    /// The amount, in tiyn.
    pub amount_tiyn: i64,
    /// The employer's BIN.
    pub employer_bin: Bin,
    /// The employer's name.
    pub employer_name: String,
}

/// A small deterministic generator (FNV-1a seed, SplitMix64 steps): the same IIN gives the
/// same numbers on every platform.
struct Rng(u64);

impl Rng {
    fn new(iin: &Iin, salt: u64) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in iin.expose().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self(h ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const NAME_FIRST: &[&str] = &[
    "Алтын",
    "Жибек",
    "Кокше",
    "Сары",
    "Дала",
    "Ертис",
    "Тениз",
    "Шыгыс",
    "Батыс",
    "Жулдыз",
];
const NAME_SECOND: &[&str] = &[
    "Логистик",
    "Строй",
    "Агро",
    "Сервис",
    "Трейд",
    "Энерго",
    "Медиа",
    "Фарм",
    "Транс",
    "Инжиниринг",
];

/// A synthetic employer: a valid BIN and an invented name.
fn employer(rng: &mut Rng) -> (Bin, String) {
    let pick = |list: &[&'static str], r: u64| list[usize::try_from(r).unwrap_or(0) % list.len()];
    let name = format!(
        "ТОО «{} {}»",
        pick(NAME_FIRST, rng.next()),
        pick(NAME_SECOND, rng.next())
    );
    loop {
        // Registered between 2000 and 2019; a serial with no check digit is skipped.
        let yy = u8::try_from(rng.below(20)).unwrap_or(0);
        let month = u8::try_from(1 + rng.below(12)).unwrap_or(1);
        let serial = u32::try_from(rng.below(100_000)).unwrap_or(0);
        if let Some(bin) = Bin::synthesize(yy, month, serial) {
            return (bin, name);
        }
    }
}

fn month_index(ym: (i32, u8)) -> i64 {
    i64::from(ym.0) * 12 + i64::from(ym.1) - 1
}

fn month_of(index: i64) -> (i32, u8) {
    (
        i32::try_from(index.div_euclid(12)).unwrap_or(2000),
        u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1),
    )
}

/// The day of the following month a contribution for `period` is paid on.
fn pay_date(period: (i32, u8), day: u8) -> Date {
    let (y, m) = month_of(month_index(period) + 1);
    let month = Month::try_from(m).unwrap_or(Month::January);
    Date::from_calendar_date(y, month, day.clamp(1, 28)).unwrap_or(Date::MIN)
}

/// The synthetic contributions of `iin` for the months `from` … `to` (inclusive, (year,
/// month)), in order of month then employer. Reserved IINs as in the module docs (those
/// answered with a return code have none).
pub fn gcvp_payments(iin: &Iin, from: (i32, u8), to: (i32, u8)) -> Vec<SyntheticPayment> {
    let (first, last) = (month_index(from), month_index(to));
    if last < first {
        return Vec::new();
    }
    let mut rng = Rng::new(iin, 0x6c76_7000);
    // Contributions of 15 000.00 to 165 000.00 KZT (salaries of 150 000 to 1 650 000), to the
    // tiyn.
    let contribution =
        |rng: &mut Rng| 1_500_000 + i64::try_from(rng.below(15_000_001)).unwrap_or(0);
    let (main_bin, main_name) = employer(&mut rng);
    let main_amount = contribution(&mut rng);
    let pay_day = u8::try_from(15 + rng.below(11)).unwrap_or(20);
    let mut out = Vec::new();
    let pay = |period, amount_tiyn, bin: &Bin, name: &str, day| SyntheticPayment {
        period,
        payment_date: pay_date(period, day),
        amount_tiyn,
        employer_bin: bin.clone(),
        employer_name: name.to_owned(),
    };
    match iin.expose() {
        IIN_NO_DATA | IIN_NOT_FOUND | IIN_REGISTRY_ERROR => {}
        IIN_ZERO_AMOUNTS => {
            for i in first..=last {
                out.push(pay(month_of(i), 0, &main_bin, &main_name, pay_day));
            }
        }
        IIN_SEVERAL_EMPLOYERS => {
            let (second_bin, second_name) = employer(&mut rng);
            let second_amount = contribution(&mut rng) / 3;
            let (former_bin, former_name) = employer(&mut rng);
            let former_amount = contribution(&mut rng);
            for i in first..=last {
                let k = i - first;
                let period = month_of(i);
                let mut month = vec![pay(period, main_amount, &main_bin, &main_name, pay_day)];
                if k % 2 == 1 {
                    month.push(pay(period, second_amount, &second_bin, &second_name, 25));
                }
                if k < 2 {
                    month.push(pay(period, former_amount, &former_bin, &former_name, 10));
                }
                month.sort_by(|a, b| a.employer_bin.cmp(&b.employer_bin));
                out.extend(month);
            }
        }
        _ => {
            for i in first..=last {
                out.push(pay(
                    month_of(i),
                    main_amount,
                    &main_bin,
                    &main_name,
                    pay_day,
                ));
            }
        }
    }
    out
}

fn format_amount(tiyn: i64) -> String {
    format!("{}.{:02}", tiyn / 100, tiyn % 100)
}

fn gcvp_result(code: i64, message: &str, payments: &[SyntheticPayment]) -> String {
    let mut x = String::with_capacity(256 + payments.len() * 320);
    x.push_str("<gcvp:IncomeResponse xmlns:gcvp=\"");
    x.push_str(GCVP_PAYLOAD_NS);
    x.push_str("\">");
    element(&mut x, "gcvp:returnCode", &code.to_string());
    element(&mut x, "gcvp:returnMessage", message);
    if !payments.is_empty() {
        x.push_str("<gcvp:payments>");
        for p in payments {
            x.push_str("<gcvp:payment>");
            element(
                &mut x,
                "gcvp:period",
                &format!("{:04}-{:02}", p.period.0, p.period.1),
            );
            element(
                &mut x,
                "gcvp:paymentDate",
                &format!(
                    "{:04}-{:02}-{:02}",
                    p.payment_date.year(),
                    u8::from(p.payment_date.month()),
                    p.payment_date.day()
                ),
            );
            element(&mut x, "gcvp:amount", &format_amount(p.amount_tiyn));
            element(&mut x, "gcvp:employerBin", p.employer_bin.as_str());
            element(&mut x, "gcvp:employerName", &p.employer_name);
            x.push_str("</gcvp:payment>");
        }
        x.push_str("</gcvp:payments>");
    }
    x.push_str("</gcvp:IncomeResponse>");
    x
}

fn gcvp_ok(payments: &[SyntheticPayment]) -> String {
    gcvp_result(RC_OK, "OK", payments)
}

fn parse_month(text: &str) -> Option<(i32, u8)> {
    let (y, m) = text.trim().split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// The pension centre's answer (the content of `responseData/data`) to `call`: see the module
/// docs. A missing period is the 12 months before the current month.
pub fn gcvp_handler(call: &ShepCall) -> Result<String, MockError> {
    let Some(iin) = call.field("iin").and_then(|v| Iin::parse(v.trim()).ok()) else {
        return Ok(gcvp_result(RC_INVALID, "Invalid IIN", &[]));
    };
    let current = OffsetDateTime::now_utc().to_offset(offset!(+6)).date();
    let default_to = month_of(month_index((current.year(), u8::from(current.month()))) - 1);
    let to = match call.field("periodTo") {
        None => default_to,
        Some(t) => match parse_month(t) {
            Some(m) => m,
            None => return Ok(gcvp_result(RC_INVALID, "Invalid period", &[])),
        },
    };
    let from = match call.field("periodFrom") {
        None => month_of(month_index(to) - 11),
        Some(t) => match parse_month(t) {
            Some(m) => m,
            None => return Ok(gcvp_result(RC_INVALID, "Invalid period", &[])),
        },
    };
    let span = month_index(to) - month_index(from) + 1;
    if !(1..=MAX_PERIOD_MONTHS).contains(&span) {
        return Ok(gcvp_result(RC_INVALID, "Invalid period", &[]));
    }
    tracing::debug!(subject = %iin, months = span, "SHEP mock serves GCVP contributions.");
    Ok(match iin.expose() {
        IIN_NOT_FOUND => gcvp_result(RC_NOT_FOUND, "Subject not found", &[]),
        IIN_REGISTRY_ERROR => gcvp_result(RC_INTERNAL, "Internal error", &[]),
        IIN_NO_DATA => gcvp_result(RC_NO_DATA, "No contributions for the period", &[]),
        _ => gcvp_ok(&gcvp_payments(&iin, from, to)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn reserved_iins_are_valid_and_distinct() {
        let all = [
            IIN_NO_DATA,
            IIN_SEVERAL_EMPLOYERS,
            IIN_NOT_FOUND,
            IIN_ZERO_AMOUNTS,
            IIN_REGISTRY_ERROR,
        ];
        for iin in all {
            Iin::parse(iin).unwrap();
        }
        let mut sorted = all.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
    }

    #[test]
    fn payments_are_deterministic_with_valid_bins() {
        let iin = Iin::parse(IIN_SEVERAL_EMPLOYERS).unwrap();
        let a = gcvp_payments(&iin, (2025, 9), (2026, 2));
        assert_eq!(a, gcvp_payments(&iin, (2025, 9), (2026, 2)));
        // 6 main + 3 second-job + 2 former-employer contributions.
        assert_eq!(a.len(), 11);
        for p in &a {
            Bin::parse(p.employer_bin.as_str()).unwrap();
            assert!(p.amount_tiyn > 0);
        }
        let employers: std::collections::BTreeSet<_> = a.iter().map(|p| &p.employer_bin).collect();
        assert_eq!(employers.len(), 3);
    }
}
