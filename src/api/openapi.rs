//! The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.
//!
//! Made once, when the router is built, never per request: the handlers' `#[utoipa::path]`
//! attributes and the `ToSchema` derives of the request and answer types give the paths and
//! schemas; the contracts give one path per exchange operation an adapter serves (who may call
//! it, for which purposes, on which legal basis, whether it is a write, and which fields of the
//! party's answer can come back); [`refusals`] adds every operation's error answers with the
//! stable codes each status carries. Answers built with `json!` elsewhere (health, the log's
//! verification, the applicant check's parts) are described here by documentation-only types;
//! `tests/openapi.rs` checks real answers against all of it.
//!
//! The HTML pages under `/audit` (`audit_page.rs`) are for people, not part of the JSON API,
//! and are left out.

use std::collections::BTreeMap;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, RefOr, Required};
use utoipa::{OpenApi, PartialSchema};

use crate::contract::{Contracts, LegalBasis};

pub use schemas::{ApplicantData, Health, Verification};

/// The static part of the document: every route but the exchange operations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "kuzet",
        description = "The personal-data exchange gateway's HTTP JSON API. Every exchange is \
                       checked against the recipient's contract (role, purpose, legal basis, \
                       consent, the fields sent) and written to the tamper-evident transfer log \
                       before the party is called; only the fields the contract lets in come \
                       back. Authenticated operations take `Authorization: Bearer TOKEN` (a \
                       client token from `kuzet clients add`). Refusals are \
                       `{\"error\": {\"code\", \"message\", \"fields\"?}}` with a stable `code`; \
                       each operation lists the codes of each status. A path no route serves \
                       is `404 not_found`; an exchange operation the contracts do not serve \
                       over HTTP is `404 unknown_operation`."
    ),
    paths(
        super::healthz,
        readyz,
        metrics,
        openapi_json,
        super::consents::create,
        super::consents::revoke,
        super::applicants::check,
        super::audit::search,
        super::audit::transfer,
        super::audit::verify,
    ),
    components(schemas(
        super::error::Body,
        super::error::Inner,
        super::consents::ConsentRequest,
        super::consents::ConsentCreated,
        crate::registry::Channel,
        super::exchange::ExchangeBody,
        crate::gateway::ExchangeOutcome,
        super::applicants::CheckBody,
        crate::transfer_log::Page,
        crate::transfer_log::EntryView,
        crate::transfer_log::Kind,
        super::audit::TransferEntries,
        schemas::Health,
        schemas::HealthStatus,
        schemas::Readiness,
        schemas::ReadyStatus,
        schemas::Verification,
        schemas::VerifyOk,
        schemas::VerifyBroken,
        schemas::SubjectData,
        schemas::SubjectIin,
        schemas::VehicleData,
        schemas::VehicleOnly,
        schemas::VehicleKey,
        schemas::VinKey,
        schemas::PlateKey,
        schemas::UserMarkData,
        schemas::MarkUser,
        schemas::MarkContract,
        schemas::ApplicantData,
    )),
    tags(
        (name = "exchange", description = "Transfers to a party and back, each under its \
                                           recipient's contract."),
        (name = "consents", description = "The consent ledger."),
        (name = "audit", description = "The transfer log, for auditors."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    ),
)]
struct ApiDoc;

/// The security scheme every authenticated operation names.
const BEARER: &str = "bearer";

/// The exchange operations an adapter serves over HTTP, each with the component that describes
/// the `data` it sends (DESIGN.md's table). The bureau's `contract-upload` is not here: bureau
/// reporting sends it, never an API caller (over HTTP it is `404 unknown_operation`).
const EXCHANGES: [(&str, &str, &str); 4] = [
    ("fcb", "credit-report", "SubjectData"),
    ("gcvp", "income", "SubjectData"),
    ("traffic", "vehicle", "VehicleData"),
    ("traffic", "user-mark", "UserMarkData"),
];

/// The parts of `POST /v1/applicants/check`: the member of `parts` and its operation.
const CHECK_PARTS: [(&str, &str, &str); 3] = [
    ("credit_report", "fcb", "credit-report"),
    ("income", "gcvp", "income"),
    ("vehicle", "traffic", "vehicle"),
];

/// Every stable error code, with what it means (the operations' answers quote these).
const CODES: &[(&str, &str)] = &[
    ("malformed_request", "the body is not one valid JSON value"),
    (
        "idempotency_key_required",
        "a write without a valid `Idempotency-Key` header (1 to 255 visible ASCII characters)",
    ),
    (
        "unauthenticated",
        "no bearer token, or an unknown or revoked one",
    ),
    ("forbidden_role", "the caller's role may not do this"),
    (
        "purpose_not_allowed",
        "the operation does not allow this purpose",
    ),
    (
        "field_not_allowed",
        "a field the vocabulary knows but the operation may not send (named in `fields`); \
         nothing was sent",
    ),
    (
        "consent_missing",
        "no valid consent covers this subject, recipient and purpose; nothing was sent",
    ),
    (
        "unknown_operation",
        "no such exchange operation served over HTTP",
    ),
    ("not_found", "no such route"),
    ("consent_not_found", "no consent has this id"),
    (
        "transfer_not_found",
        "the transfer log has no entry with this transfer id",
    ),
    (
        "subject_not_found",
        "the party has nothing for this subject or key",
    ),
    (
        "idempotency_in_progress",
        "a request with this key is running or did not finish (the transfer log says whether \
         the party was called)",
    ),
    ("body_too_large", "the body is over the size limit"),
    (
        "invalid_iin",
        "an IIN is not 12 digits or its check digit is wrong (named in `fields`)",
    ),
    (
        "unknown_field",
        "a field or parameter nobody knows (named in `fields`); nothing was sent",
    ),
    (
        "invalid_value",
        "a value that is missing, of the wrong type or out of range (named in `fields`)",
    ),
    (
        "idempotency_key_reused",
        "this `Idempotency-Key` came with a different request",
    ),
    (
        "rate_limited",
        "this client made more requests than its rate allows (see `Retry-After`), or the \
         party's rate limit would outlast the deadline",
    ),
    (
        "overloaded",
        "the gateway serves as many requests at once as it may; retry shortly (`Retry-After`)",
    ),
    (
        "request_timeout",
        "the request took longer than the gateway's request timeout (a transfer under way \
         still finishes and is logged)",
    ),
    ("internal", "a fault of the gateway"),
    ("upstream_rejected", "the party refused the request"),
    (
        "upstream_error",
        "the party answered with a fault, or with something unusable",
    ),
    (
        "upstream_unavailable",
        "the party cannot be reached or is not configured, or its circuit breaker is open",
    ),
    (
        "log_unavailable",
        "the transfer log cannot be written (nothing was sent) or read",
    ),
    (
        "registry_unavailable",
        "the client and consent registry cannot be read",
    ),
    (
        "upstream_timeout",
        "the party did not answer before the request's deadline",
    ),
];

/// Error answers: each status with the codes it carries.
type Refusals = BTreeMap<u16, Vec<&'static str>>;

fn refusals(list: &[(u16, &[&'static str])]) -> Refusals {
    list.iter().map(|(s, c)| (*s, c.to_vec())).collect()
}

/// What every authenticated operation may also answer, from the inbound limits in front of
/// every handler (`api::limits`): the client's rate, the concurrency cap, the request timeout.
fn add_inbound(r: &mut Refusals) {
    for (status, code) in [
        (429, "rate_limited"),
        (503, "overloaded"),
        (504, "request_timeout"),
    ] {
        let codes = r.entry(status).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
}

/// The error answers of the operations the attributes document, by operation id.
fn static_refusals(operation_id: &str) -> Option<Refusals> {
    const AUTH: (u16, &[&str]) = (401, &["unauthenticated"]);
    const ROLE: (u16, &[&str]) = (403, &["forbidden_role"]);
    const LARGE: (u16, &[&str]) = (413, &["body_too_large"]);
    const MALFORMED: (u16, &[&str]) = (400, &["malformed_request"]);
    const BAD_BODY: (u16, &[&str]) = (422, &["invalid_iin", "invalid_value", "unknown_field"]);
    const REGISTRY: (u16, &[&str]) = (503, &["registry_unavailable"]);
    const LOG: (u16, &[&str]) = (503, &["log_unavailable", "registry_unavailable"]);
    Some(refusals(match operation_id {
        "record_consent" => &[MALFORMED, AUTH, ROLE, LARGE, BAD_BODY, REGISTRY],
        "withdraw_consent" => &[
            AUTH,
            ROLE,
            (404, &["consent_not_found"]),
            (422, &["invalid_value"]),
            REGISTRY,
        ],
        "check_applicant" => &[MALFORMED, AUTH, LARGE, BAD_BODY, REGISTRY],
        "search_transfers" => &[AUTH, ROLE, BAD_BODY, LOG],
        "get_transfer" => &[
            AUTH,
            ROLE,
            (404, &["transfer_not_found"]),
            (422, &["invalid_value"]),
            LOG,
        ],
        "verify_log" => &[AUTH, ROLE, (422, &["unknown_field"]), LOG],
        _ => return None,
    }))
}

/// The error answers of an exchange operation, from its contract: consent refusals only where
/// the legal basis is consent, the idempotency rules only for writes.
fn exchange_refusals(op: &crate::contract::Operation) -> Refusals {
    let write = !op.safe_to_retry;
    let mut r = refusals(&[
        (400, &["malformed_request"]),
        (401, &["unauthenticated"]),
        (
            403,
            &["forbidden_role", "purpose_not_allowed", "field_not_allowed"],
        ),
        (404, &["subject_not_found"]),
        (413, &["body_too_large"]),
        (422, &["invalid_iin", "invalid_value", "unknown_field"]),
        (429, &["rate_limited"]),
        (500, &["internal"]),
        (502, &["upstream_rejected", "upstream_error"]),
        (
            503,
            &[
                "upstream_unavailable",
                "log_unavailable",
                "registry_unavailable",
            ],
        ),
        (504, &["upstream_timeout"]),
    ]);
    if op.legal_basis == LegalBasis::Consent {
        r.entry(403).or_default().push("consent_missing");
    }
    if write {
        r.entry(400).or_default().push("idempotency_key_required");
        r.insert(409, vec!["idempotency_in_progress"]);
        r.entry(422).or_default().push("idempotency_key_reused");
    }
    add_inbound(&mut r);
    r
}

/// The document, with the exchange operations `contracts` declares and an adapter serves.
pub fn document(contracts: &Contracts) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client token from `kuzet clients add NAME --role ROLE`; the role \
                         decides what the client may do.",
                    ))
                    .build(),
            ),
        );
    pin(&mut doc, "VerifyOk", "ok", json!(true));
    pin(&mut doc, "VerifyBroken", "ok", json!(false));

    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if let Some(mut r) = op.operation_id.as_deref().and_then(static_refusals) {
                add_inbound(&mut r);
                add_refusals(op, &r);
            }
            if op.operation_id.as_deref() == Some("check_applicant") {
                set_json(op, "200", applicant_answer(contracts));
            }
        }
    }

    for (recipient, name, data) in EXCHANGES {
        let Some(op) = contracts.operation(recipient, name) else {
            continue;
        };
        doc.paths.paths.insert(
            format!("/v1/exchange/{recipient}/{name}"),
            PathItem::new(HttpMethod::Post, exchange_operation(op, data, contracts)),
        );
    }
    // Every answer names its request (`api::limits::RequestId`).
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response
                        .headers
                        .insert("X-Request-Id".into(), request_id_header());
                }
            }
        }
    }
    doc
}

/// The `X-Request-Id` answer header.
fn request_id_header() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "The request's id: the caller's own `X-Request-Id` when it is a plain token (at \
             most 64 of `A-Z a-z 0-9 - _ .`), else a new UUID. It is on the gateway's log \
             lines, in the transfer log's entries (`request_id`) and the SHEP `correlationId`.",
        ))
        .build()
}

/// The `GET /openapi.json` handler: [`document`] made once, here, and served as it is.
pub fn handler(
    contracts: &Contracts,
) -> impl FnOnce() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    // The document is maps, strings and numbers: serialising it to JSON cannot fail.
    let body = Bytes::from(document(contracts).to_json().unwrap_or_default());
    move || std::future::ready(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Restricts a boolean member of a component to one value (utoipa has no `const`).
fn pin(doc: &mut Document, component: &str, member: &str, value: serde_json::Value) {
    let schema = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut(component));
    if let Some(RefOr::T(Schema::Object(obj))) = schema
        && let Some(RefOr::T(Schema::Object(m))) = obj.properties.get_mut(member)
    {
        m.enum_values = Some(vec![value]);
    }
}

/// `additionalProperties: false`.
fn closed() -> AdditionalProperties<Schema> {
    AdditionalProperties::FreeForm(false)
}

/// The object schema a type derives (its own, inline).
fn object_of<T: PartialSchema>() -> Object {
    match T::schema() {
        RefOr::T(Schema::Object(obj)) => obj,
        _ => Object::new(),
    }
}

fn set_json(op: &mut Operation, status: &str, schema: Schema) {
    if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
        response.content.insert(
            "application/json".into(),
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    }
}

/// `ErrorDetail` with `code` restricted to `codes`.
fn error_detail(codes: &[&str]) -> Object {
    let mut detail = object_of::<super::error::Inner>();
    detail.properties.insert(
        "code".into(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes.to_vec()))
            .into(),
    );
    detail
}

fn meaning(code: &str) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, m)| m)
}

/// Adds one error answer per status, each with its codes and their meanings.
fn add_refusals(op: &mut Operation, refusals: &Refusals) {
    for (status, codes) in refusals {
        let body = ObjectBuilder::new()
            .property("error", error_detail(codes))
            .required("error");
        let description = codes
            .iter()
            .map(|c| format!("`{c}`: {}.", meaning(c)))
            .collect::<Vec<_>>()
            .join(" ");
        op.responses.responses.insert(
            status.to_string(),
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                )
                .into(),
        );
    }
}

/// The `data` of an answer: exactly the branches the operation's `receive` list grants (the
/// contract drops everything else), each granted branch as the party sends it.
fn kept_data(op: &crate::contract::Operation, contracts: &Contracts) -> Object {
    #[derive(Default)]
    struct Node(BTreeMap<String, Node>, Option<String>);
    let mut root = Node::default();
    for path in &op.receive {
        let mut node = &mut root;
        for key in path.split('.') {
            node = node.0.entry(key.to_owned()).or_default();
        }
        node.1 = Some(path.clone());
    }
    fn build(node: &Node, contracts: &Contracts, object: bool) -> Object {
        let mut b = ObjectBuilder::new().additional_properties(Some(closed()));
        if !object {
            // Arrays are transparent in field paths: a branch may be an object or an array
            // of them, so its type is left open.
            b = b.schema_type(SchemaType::AnyValue);
        }
        for (key, child) in &node.0 {
            let schema = match &child.1 {
                Some(path) => {
                    let n = contracts.vocabulary().under(path).count();
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .description(Some(format!(
                            "As the party sends it: the {n} fields of the vocabulary \
                             (contracts/fields.toml) under `{path}`."
                        )))
                        .build()
                }
                None => build(child, contracts, false),
            };
            b = b.property(key, schema);
        }
        b.build()
    }
    let mut data = build(&root, contracts, true);
    data.description = Some(format!(
        "The party's answer, cut down to what the contract's `receive` list grants ({}).",
        op.receive
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    data
}

/// `ExchangeResponse` for one operation: its `data` is what the operation lets in.
fn exchange_answer(op: &crate::contract::Operation, contracts: &Contracts) -> Object {
    let mut answer = object_of::<crate::gateway::ExchangeOutcome>();
    answer
        .properties
        .insert("data".into(), kept_data(op, contracts).into());
    answer
}

/// One exchange operation, from its contract.
fn exchange_operation(
    op: &crate::contract::Operation,
    data_component: &str,
    contracts: &Contracts,
) -> Operation {
    let write = !op.safe_to_retry;
    let list = |items: &mut dyn Iterator<Item = &str>| {
        items
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut description = format!(
        "{} Policy clause {}. Roles: {}. Purposes: {}. Legal basis: `{}`{}. Sent: the fields \
         of `data` the contract's `send` list grants ({}); a field the vocabulary does not know \
         is `422 unknown_field`, a known one the list does not grant `403 field_not_allowed`, \
         and nothing leaves. Back: only what the `receive` list grants; the names of the other \
         fields are in `dropped`.",
        op.description,
        op.clause,
        list(&mut op.callers.iter().map(|r| r.as_str())),
        list(&mut op.purposes.iter().map(String::as_str)),
        op.legal_basis.as_str(),
        if op.legal_basis == LegalBasis::Consent {
            " (a valid consent for the subject, this recipient and the purpose must be on record)"
        } else {
            ""
        },
        list(&mut op.send.iter().map(String::as_str)),
    );
    if write {
        description.push_str(
            " A write: it takes an `Idempotency-Key`; a repeat with the same key and body gets \
             the first answer again (with `Idempotent-Replayed: true`) and the party is not \
             called again.",
        );
    }

    let mut request = object_of::<super::exchange::ExchangeBody>();
    if let Some(RefOr::T(Schema::Object(purpose))) = request.properties.get_mut("purpose") {
        purpose.enum_values = Some(op.purposes.iter().map(|p| json!(p)).collect());
    }
    request.properties.insert(
        "data".into(),
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(data_component)),
    );
    if !request.required.iter().any(|r| r == "data") {
        request.required.push("data".into());
    }

    let mut ok = ResponseBuilder::new()
        .description("Sent and answered: the kept fields, the transfer id, the dropped names.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(exchange_answer(op, contracts)))
                .build(),
        );
    if write {
        ok = ok.header(
            "Idempotent-Replayed",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["true"])),
                )
                .description(Some(
                    "`true` when this is the stored answer of an earlier request with the key.",
                ))
                .build(),
        );
    }

    let mut operation = utoipa::openapi::path::OperationBuilder::new()
        .tag("exchange")
        .operation_id(Some(format!(
            "exchange_{}_{}",
            op.recipient,
            op.name.replace('-', "_")
        )))
        .summary(Some(format!("{}/{}", op.recipient, op.name)))
        .description(Some(description))
        .request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(request)).build(),
                )
                .required(Some(Required::True))
                .build(),
        ))
        .response("200", ok.build())
        .security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    if write {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "One per intended write (1 to 255 visible ASCII characters), reused only \
                     to repeat the same request. Answers are kept for 24 hours.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(255))
                        .pattern(Some("^[!-~]+$")),
                )),
        );
    }
    let mut operation = operation.build();
    add_refusals(&mut operation, &exchange_refusals(op));
    operation
}

/// The answer of `POST /v1/applicants/check`: each part as its exchange would answer, or its
/// refusal with the part's own status.
fn applicant_answer(contracts: &Contracts) -> Schema {
    let mut parts = ObjectBuilder::new().additional_properties(Some(closed()));
    for (member, recipient, name) in CHECK_PARTS {
        let part: Schema = match contracts.operation(recipient, name) {
            Some(op) => {
                let mut ok = exchange_answer(op, contracts);
                ok.properties.insert(
                    "status".into(),
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([200]))
                        .into(),
                );
                ok.required.push("status".into());
                // What only the whole request can give (its body, its token) is not a part's.
                let mut failed: Refusals = exchange_refusals(op);
                failed.retain(|status, _| ![400, 401, 409, 413].contains(status));
                for codes in failed.values_mut() {
                    codes.retain(|c| !c.starts_with("idempotency"));
                }
                let statuses: Vec<u16> = failed.keys().copied().collect();
                let codes: Vec<&str> = failed.values().flatten().copied().collect();
                let error = ObjectBuilder::new()
                    .property(
                        "status",
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .enum_values(Some(statuses)),
                    )
                    .required("status")
                    .property("error", error_detail(&codes))
                    .required("error")
                    .additional_properties(Some(closed()));
                OneOfBuilder::new()
                    .item(ok)
                    .item(error)
                    .description(Some(format!("The `{recipient}/{name}` part.")))
                    .into()
            }
            None => ObjectBuilder::new().into(),
        };
        parts = parts.property(member, part).required(member);
    }
    ObjectBuilder::new()
        .property("parts", parts)
        .required("parts")
        .into()
}

/// `GET /readyz` (served by `api::readiness::readyz`).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "Readiness",
    description = "Whether this gateway should get traffic: not while it shuts down, while \
                   the transfer log cannot be used (every transfer would be refused), or while \
                   a party of `server.required_parties` has its circuit breaker open or no \
                   adapter. `checks` names each: `shutdown`, `log` (`ok` | `unavailable`), \
                   `fcb`, `gcvp`, `traffic` (`closed` | `half_open` | `open` | \
                   `not_configured`). Unauthenticated.",
    responses(
        (status = 200, description = "Ready.", body = schemas::Readiness),
        (status = 503, description = "Not ready; `checks` says what is not.", body = schemas::Readiness),
    ),
)]
#[allow(dead_code)] // Documentation only.
fn readyz() {}

/// `GET /metrics` (served by `crate::metrics`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Counters, gauges and latency histograms: requests by route and status, \
                   transfers by recipient, operation and outcome, dropped and denied fields, \
                   each party's attempts, retries, breaker and rate-limit waits, the transfer \
                   log's append latency, batch size and queue depth, reporting runs. In the \
                   OpenMetrics text format (`application/openmetrics-text; version=1.0.0`), \
                   which Prometheus scrapes. Labels carry names and codes, never personal \
                   values. Unauthenticated.",
    responses((status = 200, description = "The metrics.",
               content_type = "application/openmetrics-text", body = String)),
)]
#[allow(dead_code)] // Documentation only.
fn metrics() {}

/// `GET /openapi.json` (served by [`handler`]).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This document",
    description = "The OpenAPI 3.1 description of this API, generated from the code and the \
                   contracts at start-up. Unauthenticated.",
    responses((status = 200, description = "The document.", body = Object)),
)]
#[allow(dead_code)] // Documentation only.
fn openapi_json() {}

/// Documentation-only types: shapes the handlers build with `json!`, and the `data` each
/// operation sends. They are never built; the conformance test checks the real answers.
#[allow(dead_code)]
mod schemas {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// `GET /healthz`: the process is up.
    #[derive(Serialize, ToSchema)]
    pub struct Health {
        pub status: HealthStatus,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum HealthStatus {
        Ok,
    }

    /// `GET /readyz`.
    #[derive(Serialize, ToSchema)]
    pub struct Readiness {
        pub status: ReadyStatus,
        /// Each check by name: `log` (`ok` or `unavailable`), and each party's circuit
        /// breaker (`closed`, `open`, `half_open`).
        #[schema(required = false)]
        pub checks: BTreeMap<String, String>,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ReadyStatus {
        Ready,
        NotReady,
    }

    /// `GET /v1/log/verify`: the chain and its checkpoints hold, or where they break.
    #[derive(Serialize, ToSchema)]
    #[serde(untagged)]
    pub enum Verification {
        Ok(VerifyOk),
        Broken(VerifyBroken),
    }

    /// The chain and every signed checkpoint hold.
    #[derive(Serialize, ToSchema)]
    pub struct VerifyOk {
        pub ok: bool,
        /// Entries checked; 0 for an empty log.
        pub entries: u64,
        /// 1 for a non-empty log, 0 for an empty one.
        pub first_seq: u64,
        /// The tip's seq; 0 for an empty log.
        pub last_seq: u64,
        /// The tip's hash in hex; zeros for an empty log.
        #[schema(pattern = "^[0-9a-f]{64}$")]
        pub tip_hash: String,
        /// Signed checkpoints checked (signature, key, and the entry hash each pins).
        pub checkpoints: u64,
        /// The seq of the latest checkpoint, 0 when there is none.
        pub latest_checkpoint_seq: u64,
        /// The checkpoints' public key (Ed25519) in hex.
        #[schema(pattern = "^[0-9a-f]{64}$")]
        pub public_key: Option<String>,
        pub elapsed_ms: u64,
    }

    /// The log does not verify.
    #[derive(Serialize, ToSchema)]
    pub struct VerifyBroken {
        pub ok: bool,
        /// The first bad entry's seq, when one entry is to blame.
        pub bad_seq: Option<u64>,
        pub reason: String,
    }

    /// `{"subject": {"iin"}}`.
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct SubjectData {
        pub subject: SubjectIin,
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct SubjectIin {
        /// The subject's IIN (12 digits with a valid check digit).
        #[schema(pattern = "^[0-9]{12}$", example = "870525301012")]
        pub iin: String,
    }

    /// Exactly one lookup key: the owner's or user's IIN, the VIN, or the plate.
    #[derive(Deserialize, ToSchema)]
    #[serde(untagged)]
    pub enum VehicleData {
        Subject(SubjectData),
        Vehicle(VehicleOnly),
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct VehicleOnly {
        pub vehicle: VehicleKey,
    }

    /// The vehicle by its VIN or by its plate.
    #[derive(Deserialize, ToSchema)]
    #[serde(untagged)]
    pub enum VehicleKey {
        Vin(VinKey),
        Plate(PlateKey),
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct VinKey {
        /// The vehicle identification number (17 characters).
        #[schema(example = "KZ0TESTNF00000404")]
        pub vin: String,
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct PlateKey {
        /// The state registration plate.
        #[schema(example = "123ABC02")]
        pub plate: String,
    }

    /// The user mark: the client as the vehicle's user, under the loan contract.
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct UserMarkData {
        pub user: MarkUser,
        pub contract: MarkContract,
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct MarkUser {
        /// The client's IIN.
        #[schema(pattern = "^[0-9]{12}$")]
        pub iin: String,
        pub full_name: String,
    }

    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct MarkContract {
        /// The loan contract's number.
        pub number: String,
        /// The client's advance (prepayment) account number under the contract.
        pub advance_account_number: String,
    }

    /// The applicant, and optionally the vehicle (else looked up by the applicant's IIN).
    #[derive(Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ApplicantData {
        pub subject: SubjectIin,
        #[schema(required = false)]
        pub vehicle: VehicleKey,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        let contracts = Contracts::load_embedded().expect("the embedded contracts load");
        serde_json::to_value(document(&contracts)).expect("json")
    }

    #[test]
    fn is_openapi_3_1_with_every_exchange_operation_an_adapter_serves() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        for (r, o, _) in EXCHANGES {
            let op = &doc["paths"][format!("/v1/exchange/{r}/{o}")]["post"];
            assert!(op.is_object(), "{r}/{o}");
            assert_eq!(op["security"], json!([{"bearer": []}]), "{r}/{o}");
        }
        assert!(doc["paths"]["/v1/exchange/fcb/contract-upload"].is_null());
        assert!(doc["paths"]["/v1/exchange/{recipient}/{operation}"].is_null());
    }

    #[test]
    fn every_answer_documents_its_request_id_and_the_inbound_limits() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let responses = op["responses"].as_object().expect("responses");
                for (status, response) in responses {
                    assert!(
                        response["headers"]["X-Request-Id"].is_object(),
                        "{method} {path} {status}"
                    );
                }
                // The probes, the metrics and this document are never shed or limited.
                let authenticated = op["security"].is_array();
                for (status, code) in [
                    ("429", "rate_limited"),
                    ("503", "overloaded"),
                    ("504", "request_timeout"),
                ] {
                    let documents = responses
                        .get(status)
                        .and_then(|r| r["description"].as_str())
                        .is_some_and(|d| d.contains(&format!("`{code}`")));
                    assert_eq!(documents, authenticated, "{method} {path} {status}");
                }
            }
        }
    }

    #[test]
    fn refusals_follow_the_contract() {
        let doc = doc();
        let codes = |path: &str, status: &str| -> Vec<String> {
            let s = &doc["paths"][path]["post"]["responses"][status]["content"]["application/json"]
                ["schema"]["properties"]["error"]["properties"]["code"]["enum"];
            serde_json::from_value(s.clone()).unwrap_or_default()
        };
        // Consent is the credit report's legal basis, not the vehicle lookup's.
        assert!(codes("/v1/exchange/fcb/credit-report", "403").contains(&"consent_missing".into()));
        assert!(!codes("/v1/exchange/traffic/vehicle", "403").contains(&"consent_missing".into()));
        // Only the write takes an idempotency key.
        assert!(
            codes("/v1/exchange/traffic/user-mark", "409")
                .contains(&"idempotency_in_progress".into())
        );
        assert!(codes("/v1/exchange/traffic/vehicle", "409").is_empty());
        // Every code an answer names has a meaning.
        for (code, meaning) in CODES {
            assert!(!meaning.is_empty(), "{code}");
        }
    }

    #[test]
    fn request_types_that_refuse_unknown_members_say_so() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        for name in [
            "ConsentRequest",
            "ExchangeRequest",
            "ApplicantCheckRequest",
            "SubjectData",
        ] {
            assert_eq!(
                schemas[name]["additionalProperties"],
                json!(false),
                "{name}"
            );
        }
    }

    #[test]
    fn the_search_parameters_are_the_ones_the_api_takes() {
        let doc = doc();
        let names: Vec<&str> = doc["paths"]["/v1/transfers"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, super::super::audit::SEARCH_PARAMS);
    }
}
