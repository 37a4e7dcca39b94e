//! The transfer pipeline: one exchange, from an authenticated request to a logged answer.
//!
//! The order is the product (DESIGN.md, "One transfer, step by step"): the caller's role and
//! purpose, the outgoing fields against the vocabulary and the send list, the subject's
//! identifier, consent where the legal basis is consent; then a durable OUT entry, the adapter
//! call, the incoming record filtered by the receive list, a durable IN entry, and only then the
//! answer. A refusal at any step before the OUT entry sends nothing and logs a `denied` entry.
//!
//! This module never parses XML (adapters do) and never prints personal values: subjects
//! appear in tracing as masked IINs, fields by name only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kuzet_ident::Iin;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{AppError, safe_paths};
use crate::contract::{BodyLogging, Contracts, Denial, LegalBasis, Operation, Role};
use crate::metrics::Metrics;
use crate::registry::{Channel, Client, Consent, Registry, Revoked};
use crate::transfer_log::{EntryDraft, Kind, TransferLog};
use crate::upstream::{PrepareError, UpstreamFailure, Upstreams};

/// One exchange request, as the API parsed it.
#[derive(Debug)]
pub struct ExchangeRequest {
    pub recipient: String,
    pub operation: String,
    pub purpose: String,
    pub consent_id: Option<Uuid>,
    pub reference: Option<String>,
    pub data: Value,
    /// The API request's id: recorded in the transfer's entries (`request_id`) and, when it is
    /// a UUID, sent to parties that carry one (the SHEP `correlationId`).
    pub request_id: Option<String>,
    /// The person the transfer is about when `data` names none: the applicant of an applicant
    /// check whose vehicle is looked up by VIN or plate. Never sent; the subject of its entries.
    pub about: Option<Iin>,
}

/// The answer to a successful exchange: the kept data and the names of the dropped fields.
///
/// `data` is the kept record already serialised: the same bytes are logged (encrypted) and
/// sent, so a large report is serialised once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(
    as = ExchangeResponse,
    description = "A transfer that went through: the kept fields, the transfer id, the dropped names."
)]
pub struct ExchangeOutcome {
    /// The transfer's id (UUID v7), shared by its OUT and IN entries in the transfer log.
    pub transfer_id: Uuid,
    /// The fields of the party's answer that the operation's `receive` list lets in.
    #[schema(value_type = Object)]
    pub data: Box<RawValue>,
    /// The paths of the fields the party sent that were dropped (names only, never values).
    pub dropped: Vec<String>,
}

/// A consent as the API received it.
#[derive(Debug)]
pub struct NewConsent {
    pub subject_iin: String,
    pub recipients: Vec<String>,
    pub purposes: Vec<String>,
    pub granted_at: OffsetDateTime,
    pub channel: Channel,
    pub evidence: String,
    pub expires_at: Option<OffsetDateTime>,
}

/// Roles that may record and withdraw consents: the teams that talk to clients.
const CONSENT_ROLES: [Role; 3] = [Role::Underwriting, Role::Servicing, Role::Admin];

/// How far in the future a consent's `granted_at` may lie (clock skew between systems).
const GRANTED_AT_SKEW: time::Duration = time::Duration::minutes(5);

/// The gateway: contracts, registry, transfer log and the parties' adapters.
pub struct Gateway {
    contracts: Arc<Contracts>,
    registry: Arc<dyn Registry>,
    log: TransferLog,
    upstreams: Upstreams,
    request_deadline: Duration,
    metrics: Arc<Metrics>,
}

/// What the log needs to know about the transfer being decided.
#[derive(Clone)]
struct Ctx<'a> {
    op: &'a Operation,
    caller: &'a Client,
    transfer_id: Uuid,
    purpose: &'a str,
    reference: Option<&'a str>,
    subject: Option<Iin>,
    consent_id: Option<Uuid>,
    request_id: Option<&'a str>,
}

impl Gateway {
    pub fn new(
        contracts: Arc<Contracts>,
        registry: Arc<dyn Registry>,
        log: TransferLog,
        upstreams: Upstreams,
        request_deadline: Duration,
    ) -> Self {
        Self {
            contracts,
            registry,
            log,
            upstreams,
            request_deadline,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The same gateway, counting its transfers in `metrics` (shared with the API and the
    /// reporting job).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn registry(&self) -> &dyn Registry {
        self.registry.as_ref()
    }

    pub fn log(&self) -> &TransferLog {
        &self.log
    }

    /// The adapters (their breakers, for readiness).
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    pub fn contracts(&self) -> &Arc<Contracts> {
        &self.contracts
    }

    /// The checks that come before anything else, with the same answers (and the same
    /// `denied` entries) as [`Gateway::exchange`]: the operation exists, and the caller's role
    /// and the purpose are allowed. The API runs them before asking a write for its
    /// idempotency key, so that a caller without the right gets `forbidden_role` either way.
    pub async fn admit(&self, caller: &Client, req: &ExchangeRequest) -> Result<(), AppError> {
        let op = self
            .contracts
            .operation(&req.recipient, &req.operation)
            .ok_or_else(|| {
                AppError::unknown_operation(format!(
                    "no operation {}/{} in the contracts",
                    req.recipient, req.operation
                ))
            })?;
        if let Err(denial) = crate::contract::authorize(op, caller.role, &req.purpose) {
            let ctx = Ctx {
                op,
                caller,
                transfer_id: Uuid::now_v7(),
                purpose: &req.purpose,
                reference: req.reference.as_deref(),
                // A refusal is about the subject named in the request too (their access
                // report lists it), when a valid IIN is there.
                subject: subject_of(&req.data).ok().flatten().or(req.about.clone()),
                consent_id: None,
                request_id: req.request_id.as_deref(),
            };
            return Err(self.deny(&ctx, denial).await);
        }
        Ok(())
    }

    /// Whether `recipient/operation` is a declared write (the contract's `safe_to_retry` is
    /// false): the API then requires an idempotency key. `false` for unknown operations.
    pub fn is_write(&self, recipient: &str, operation: &str) -> bool {
        self.contracts
            .operation(recipient, operation)
            .is_some_and(|op| !op.safe_to_retry)
    }

    /// Records a consent (policy 4.1, consent information) and returns its id.
    pub fn record_consent(&self, caller: &Client, new: NewConsent) -> Result<Uuid, AppError> {
        if !CONSENT_ROLES.contains(&caller.role) {
            return Err(AppError::forbidden_role(format!(
                "role {} may not record consents",
                caller.role.as_str()
            )));
        }
        let consent = self.prepare_consent(&caller.name, new)?;
        self.registry.add_consent(&consent)?;
        tracing::info!(consent_id = %consent.id, subject = %consent.subject_masked, caller = %caller.name, "Consent recorded.");
        Ok(consent.id)
    }

    /// Checks a consent the way [`Gateway::record_consent`] does and makes its record (not yet
    /// stored), recorded by `recorded_by`: for imports of many at once.
    pub fn prepare_consent(&self, recorded_by: &str, new: NewConsent) -> Result<Consent, AppError> {
        let iin =
            Iin::parse(&new.subject_iin).map_err(|e| AppError::invalid_iin("subject_iin", e))?;
        if new.recipients.is_empty() {
            return Err(AppError::invalid_value(
                "recipients",
                "at least one is needed",
            ));
        }
        for r in &new.recipients {
            if self.contracts.recipient(r).is_none() {
                return Err(AppError::invalid_value(
                    "recipients",
                    format!("unknown recipient {r:?}"),
                ));
            }
        }
        if new.purposes.is_empty() {
            return Err(AppError::invalid_value(
                "purposes",
                "at least one is needed",
            ));
        }
        for p in &new.purposes {
            if self.contracts.purpose(p).is_none() {
                return Err(AppError::invalid_value(
                    "purposes",
                    format!("unknown purpose {p:?}"),
                ));
            }
        }
        let evidence = new.evidence.trim();
        if evidence.is_empty() || evidence.chars().count() > 256 {
            return Err(AppError::invalid_value(
                "evidence",
                "a reference of 1 to 256 characters is needed",
            ));
        }
        no_control_characters("evidence", evidence)?;
        let now = OffsetDateTime::now_utc();
        if new.granted_at > now + GRANTED_AT_SKEW {
            return Err(AppError::invalid_value("granted_at", "lies in the future"));
        }
        // Before the person was born (the IIN says when): a placeholder or a mistyped date.
        if new.granted_at.date() < iin.birth_date() {
            return Err(AppError::invalid_value(
                "granted_at",
                "lies before the subject's birth date (which the IIN gives)",
            ));
        }
        if let Some(expires) = new.expires_at
            && expires <= new.granted_at
        {
            return Err(AppError::invalid_value(
                "expires_at",
                "must be later than granted_at",
            ));
        }
        let mut recipients = new.recipients;
        recipients.sort();
        recipients.dedup();
        let mut purposes = new.purposes;
        purposes.sort();
        purposes.dedup();
        let consent = Consent {
            id: Uuid::now_v7(),
            subject: self.log.subject_index(&iin),
            subject_masked: iin.masked(),
            recipients,
            purposes,
            granted_at: new.granted_at,
            channel: new.channel,
            evidence: evidence.to_owned(),
            expires_at: new.expires_at,
            recorded_at: now,
            recorded_by: recorded_by.to_owned(),
            revoked_at: None,
            revoked_by: None,
        };
        Ok(consent)
    }

    /// Withdraws a consent. Withdrawing twice is not an error.
    pub fn revoke_consent(&self, caller: &Client, id: Uuid) -> Result<(), AppError> {
        if !CONSENT_ROLES.contains(&caller.role) {
            return Err(AppError::forbidden_role(format!(
                "role {} may not withdraw consents",
                caller.role.as_str()
            )));
        }
        match self
            .registry
            .revoke_consent(id, &caller.name, OffsetDateTime::now_utc())?
        {
            Revoked::Now | Revoked::Already => {
                tracing::info!(consent_id = %id, caller = %caller.name, "Consent withdrawn.");
                Ok(())
            }
            Revoked::NotFound => Err(AppError::new(
                StatusCode::NOT_FOUND,
                "consent_not_found",
                format!("no consent {id}"),
            )),
        }
    }

    /// Whether [`Gateway::exchange`] would refuse `req`'s data as such before sending anything:
    /// a field unknown or not on the send list, or a value the adapter cannot take (a VIN of
    /// 16 characters). The same checks, without logging; the caller, purpose, consent and the
    /// party's availability are not judged here.
    pub fn refuses_the_data(&self, req: &ExchangeRequest) -> bool {
        let Some(op) = self.contracts.operation(&req.recipient, &req.operation) else {
            return false;
        };
        crate::contract::check_outgoing(&self.contracts, op, &req.data).is_err()
            || subject_of(&req.data).is_err()
            || self.upstreams.prepare(op, &req.data).is_err_and(|e| {
                matches!(e, PrepareError::Missing(_) | PrepareError::Invalid { .. })
            })
    }

    /// One exchange, end to end.
    pub async fn exchange(
        &self,
        caller: &Client,
        req: ExchangeRequest,
    ) -> Result<ExchangeOutcome, AppError> {
        let started = Instant::now();
        let deadline = started + self.request_deadline;
        let op = self
            .contracts
            .operation(&req.recipient, &req.operation)
            .ok_or_else(|| {
                AppError::unknown_operation(format!(
                    "no operation {}/{} in the contracts",
                    req.recipient, req.operation
                ))
            })?;
        let mut ctx = Ctx {
            op,
            caller,
            transfer_id: Uuid::now_v7(),
            purpose: &req.purpose,
            reference: req.reference.as_deref(),
            // Refusals below are logged about the subject named in the request, when valid.
            subject: subject_of(&req.data).ok().flatten().or(req.about.clone()),
            consent_id: None,
            request_id: req.request_id.as_deref(),
        };
        if let Some(problem) = ctx.reference.and_then(reference_problem) {
            return Err(AppError::invalid_value("reference", problem));
        }

        // The caller and the purpose.
        if let Err(denial) = crate::contract::authorize(op, caller.role, &req.purpose) {
            return Err(self.deny(&ctx, denial).await);
        }
        // The outgoing fields: nothing unknown, nothing the send list does not name.
        let sent = match crate::contract::check_outgoing(&self.contracts, op, &req.data) {
            Ok(paths) => paths,
            Err(denial) => return Err(self.deny(&ctx, denial).await),
        };
        // The values the adapters rely on.
        ctx.subject = subject_of(&req.data)?.or(req.about.clone());
        // The adapter must exist, and have what it needs, before anything is logged as sent.
        let call = self
            .upstreams
            .prepare(op, &req.data)
            .map_err(|e| match &e {
                PrepareError::Missing(path) => AppError::invalid_value(path, "is required"),
                PrepareError::Invalid { path, reason } => AppError::invalid_value(path, reason),
                PrepareError::NotConfigured { .. } => AppError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "upstream_unavailable",
                    e.to_string(),
                ),
                other => AppError::unknown_operation(other.to_string()),
            })?;
        // Consent, where the legal basis is consent.
        if op.legal_basis == LegalBasis::Consent {
            match self.find_consent(&ctx, req.consent_id)? {
                Some(id) => ctx.consent_id = Some(id),
                None => return Err(self.deny(&ctx, Denial::ConsentMissing).await),
            }
        }

        // Durable OUT entry, or nothing leaves.
        let out_body = body_for(op, &req.data);
        self.append(
            &ctx,
            Kind::Out,
            sent,
            Vec::new(),
            out_body,
            Vec::new(),
            "sent",
            None,
        )
        .await?;

        let answer = self
            .upstreams
            .call(call, ctx.consent_id.is_some(), ctx.request_id, deadline)
            .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // From here on the party has been called: every error says so (`AppError::sent`), so
        // that an idempotent write stores its outcome instead of letting a repeat call again.
        let finished = async {
            match answer {
                Ok(answer) => {
                    let filtered = crate::contract::filter_incoming(op, answer.record);
                    // A lookup by a vehicle's VIN or plate names no person (unless it is part
                    // of an applicant's check), but its answer does (the vehicle's registered
                    // user): the IN entry is about them, so that their access request, erasure
                    // and retention find it.
                    let about_received;
                    let in_ctx = match (&ctx.subject, received_subject(&filtered.kept)) {
                        (None, Some(person)) => {
                            about_received = Ctx {
                                subject: Some(person),
                                ..ctx.clone()
                            };
                            &about_received
                        }
                        _ => &ctx,
                    };
                    let kept = serde_json::value::to_raw_value(&filtered.kept).map_err(|e| {
                        AppError::internal(format!("the kept record cannot be serialised: {e}"))
                    })?;
                    // The tree is large for a full report; free it before waiting on the log.
                    drop(filtered.kept);
                    let in_body = match op.body_logging {
                        BodyLogging::Encrypted => Some(kept.get().as_bytes().to_vec()),
                        BodyLogging::Metadata => None,
                    };
                    self.append(
                        in_ctx,
                        Kind::In,
                        filtered.kept_fields,
                        filtered.dropped.clone(),
                        in_body,
                        answer.upstream_ids,
                        "ok",
                        Some(latency_ms),
                    )
                    .await?;
                    Ok(ExchangeOutcome {
                        transfer_id: ctx.transfer_id,
                        data: kept,
                        dropped: filtered.dropped,
                    })
                }
                Err(failure) => {
                    tracing::warn!(
                        recipient = %op.recipient,
                        operation = %op.name,
                        transfer_id = %ctx.transfer_id,
                        code = failure.code,
                        error = %failure.detail,
                        "Upstream call failed."
                    );
                    let outcome = format!("error:{}", failure.code);
                    self.append(
                        &ctx,
                        Kind::In,
                        Vec::new(),
                        Vec::new(),
                        None,
                        failure.upstream_ids.clone(),
                        &outcome,
                        Some(latency_ms),
                    )
                    .await?;
                    Err(failure_error(&ctx, failure))
                }
            }
        }
        .await;
        finished.map_err(AppError::sent)
    }

    /// Finds the consent that covers this transfer: the one the caller named, or else any
    /// valid one on record for the subject.
    fn find_consent(&self, ctx: &Ctx<'_>, named: Option<Uuid>) -> Result<Option<Uuid>, AppError> {
        let Some(subject) = &ctx.subject else {
            return Ok(None);
        };
        let index = self.log.subject_index(subject);
        let now = OffsetDateTime::now_utc();
        let covers = |c: &Consent| c.covers(&index, &ctx.op.recipient, ctx.purpose, now);
        Ok(match named {
            Some(id) => self.registry.consent(id)?.filter(covers).map(|c| c.id),
            None => self
                .registry
                .consents_for(&index)?
                .into_iter()
                .find(covers)
                .map(|c| c.id),
        })
    }

    /// Logs a `denied` entry and turns the denial into its API error. If even the denial cannot
    /// be logged, the answer is `503 log_unavailable`: every refusal is on the record.
    async fn deny(&self, ctx: &Ctx<'_>, denial: Denial) -> AppError {
        let error = denial_error(&denial);
        tracing::info!(
            recipient = %ctx.op.recipient,
            operation = %ctx.op.name,
            caller = %ctx.caller.name,
            code = denial.code(),
            fields = ?error.fields,
            "Transfer denied."
        );
        let outcome = format!("denied:{}", denial.code());
        let denied = error.fields.clone();
        match self
            .append_entry(
                ctx,
                Kind::Denied,
                Vec::new(),
                Vec::new(),
                denied,
                None,
                Vec::new(),
                &outcome,
                None,
            )
            .await
        {
            Ok(()) => error,
            Err(e) => e,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        ctx: &Ctx<'_>,
        kind: Kind,
        fields: Vec<String>,
        dropped: Vec<String>,
        body: Option<Vec<u8>>,
        upstream: Vec<(String, String)>,
        outcome: &str,
        latency_ms: Option<u64>,
    ) -> Result<(), AppError> {
        self.append_entry(
            ctx,
            kind,
            fields,
            dropped,
            Vec::new(),
            body,
            upstream,
            outcome,
            latency_ms,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn append_entry(
        &self,
        ctx: &Ctx<'_>,
        kind: Kind,
        fields: Vec<String>,
        dropped: Vec<String>,
        denied: Vec<String>,
        body: Option<Vec<u8>>,
        mut upstream: Vec<(String, String)>,
        outcome: &str,
        latency_ms: Option<u64>,
    ) -> Result<(), AppError> {
        if let Some(id) = ctx.request_id {
            upstream.insert(0, ("request_id".to_owned(), id.to_owned()));
        }
        let (dropped_n, denied_n) = (dropped.len(), denied.len());
        let draft = EntryDraft {
            transfer_id: ctx.transfer_id,
            kind,
            recipient: ctx.op.recipient.clone(),
            operation: ctx.op.name.clone(),
            caller: ctx.caller.name.clone(),
            purpose: Some(ctx.purpose.to_owned()),
            legal_basis: Some(ctx.op.legal_basis.as_str().to_owned()),
            consent_id: ctx.consent_id,
            reference: ctx.reference.map(str::to_owned),
            subject: ctx.subject.clone(),
            fields,
            dropped,
            denied,
            body,
            upstream,
            outcome: outcome.to_owned(),
            latency_ms,
        };
        let appended = self.log.append(draft).await;
        let (recipient, operation) = (&ctx.op.recipient, &ctx.op.name);
        match &appended {
            Ok(_) => self
                .metrics
                .transfer(recipient, operation, kind, outcome, dropped_n, denied_n),
            Err(_) => self
                .metrics
                .transfer(recipient, operation, kind, "log_unavailable", 0, 0),
        }
        appended.map(|_| ()).map_err(|e| {
            tracing::error!(transfer_id = %ctx.transfer_id, error = %e, "Transfer log append failed.");
            AppError::log_unavailable()
        })
    }
}

/// What free text that the log or the ledger keeps and reports print (a reference, a consent's
/// evidence) may not hold: a control character could start a line of its own in a subject
/// report or move the cursor in an auditor's terminal.
const CONTROL_CHARACTER: &str = "contains a control character (a line break, a tab, an escape)";

fn no_control_characters(field: &str, value: &str) -> Result<(), AppError> {
    if value.chars().any(char::is_control) {
        return Err(AppError::invalid_value(field, CONTROL_CHARACTER));
    }
    Ok(())
}

/// Why a reference (an exchange's, an erasure request's) cannot be logged, if it cannot:
/// empty (it would name nothing an auditor can look up), more than 128 characters, or a
/// control character.
pub fn reference_problem(reference: &str) -> Option<&'static str> {
    if reference.trim().is_empty() {
        Some("is empty: leave it out, or give the application or contract it belongs to")
    } else if reference.chars().count() > 128 {
        Some("longer than 128 characters")
    } else if reference.chars().any(char::is_control) {
        Some(CONTROL_CHARACTER)
    } else {
        None
    }
}

/// The subject of a request: `subject.iin`, else `user.iin`, validated.
fn subject_of(data: &Value) -> Result<Option<Iin>, AppError> {
    for path in ["subject.iin", "user.iin"] {
        let mut cur = data;
        for key in path.split('.') {
            match cur.get(key) {
                Some(v) => cur = v,
                None => {
                    cur = &Value::Null;
                    break;
                }
            }
        }
        match cur {
            Value::Null => continue,
            Value::String(s) => {
                return Iin::parse(s)
                    .map(Some)
                    .map_err(|e| AppError::invalid_iin(path, e));
            }
            _ => return Err(AppError::invalid_iin(path, "must be a string of 12 digits")),
        }
    }
    Ok(None)
}

/// Where a received record names the natural person it is about, in order: the registered
/// user of a vehicle (the client, on a car-secured loan), else its owner when that is a person.
const RECEIVED_SUBJECT_PATHS: [&str; 2] = ["vehicle_status.user.iin", "vehicle_status.owner.iin"];

/// The person a received record is about, by the first valid IIN at [`RECEIVED_SUBJECT_PATHS`].
/// A BIN (a legal entity) is not an IIN and is passed over.
fn received_subject(record: &Value) -> Option<Iin> {
    RECEIVED_SUBJECT_PATHS.iter().find_map(|path| {
        let value = path.split('.').try_fold(record, |v, key| v.get(key))?;
        Iin::parse(value.as_str()?).ok()
    })
}

/// The body to keep in the log, as the contract says: encrypted JSON, or nothing.
fn body_for(op: &Operation, value: &Value) -> Option<Vec<u8>> {
    match op.body_logging {
        BodyLogging::Encrypted => serde_json::to_vec(value).ok(),
        BodyLogging::Metadata => None,
    }
}

fn denial_error(denial: &Denial) -> AppError {
    let paths = safe_paths(denial.paths());
    match denial {
        Denial::UnknownField { .. } => AppError::unknown_field(paths),
        Denial::FieldNotAllowed { .. } => AppError::new(
            StatusCode::FORBIDDEN,
            "field_not_allowed",
            format!("the contract does not allow sending: {}", paths.join(", ")),
        )
        .with_fields(paths),
        Denial::ForbiddenRole { .. } => AppError::forbidden_role(denial.to_string()),
        Denial::PurposeNotAllowed { .. } => AppError::new(
            StatusCode::FORBIDDEN,
            "purpose_not_allowed",
            denial.to_string(),
        ),
        Denial::ConsentMissing => AppError::new(
            StatusCode::FORBIDDEN,
            "consent_missing",
            "no valid consent covers this recipient and purpose for this subject",
        ),
    }
}

fn failure_error(ctx: &Ctx<'_>, failure: UpstreamFailure) -> AppError {
    let message = format!(
        "{}: {} (transfer {})",
        ctx.op.recipient, failure.message, ctx.transfer_id
    );
    AppError::new(failure.status, failure.api_code, message)
}
