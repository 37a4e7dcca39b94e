//! The answer to a client's access request (policy 9.1: "what did you send about me, to whom,
//! when, why"): every transfer about one subject, from the transfer log, the consent ledger and
//! the reporting state, grouped per transfer and worded for a person who is not an engineer.
//!
//! Sources, all read-only: the log entries whose subject index is the subject's (exchanges,
//! refusals, erasures) and the other entries of the same transfers; the reporting state's batch
//! records about the subject (the bureau uploads, whose log entries carry a whole batch and so
//! name no subject), each joined to the transfer that carried its batch; the consent ledger
//! (the consent a transfer named, or for an upload the consent on record that covered it, and
//! every consent the subject gave); the contracts (the recipient's name, what the operation is,
//! the purpose's description, each field's description).
//!
//! The report never holds the IIN in clear: the subject appears masked (`8705******13`), which
//! is enough for the person to recognise it and little for anyone else a letter might reach.
//! It never decrypts a body, and never shows another subject's data: an upload batch's contract
//! codes are filtered down to the subject's own.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::Contracts;
use crate::registry::{Consent, Registry};
use crate::reporting::store::{ReportStore, SubjectRecord};
use crate::transfer_log::{Entry, Kind, LogBackend, Order, Query};

use super::{AuditError, When};

/// Where a report reads from. `consents` and `uploads` are optional: a data directory without
/// a consent ledger (none was ever recorded) or without reporting state (no run ever
/// happened).
pub struct ReportSources<'a> {
    pub log: &'a mut dyn LogBackend,
    pub contracts: &'a Contracts,
    pub consents: Option<&'a dyn Registry>,
    pub uploads: Option<&'a ReportStore>,
}

/// The whole report. Its JSON shape is stable: fields are only ever added.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectReport {
    /// The subject's IIN, masked.
    pub subject: String,
    pub generated_at: When,
    /// The last log entry the report reflects (0 for an empty log).
    pub log_tip_seq: u64,
    pub summary: Summary,
    /// Oldest first.
    pub transfers: Vec<Transfer>,
    /// Every consent the subject gave, as the ledger holds it, newest first.
    pub consents: Vec<ConsentView>,
    /// What the report could not read (e.g. no consent ledger).
    pub notes: Vec<String>,
}

/// Counts of [`SubjectReport::transfers`] by what they were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub transfers: usize,
    /// Requests to an outside party and their answers.
    pub exchanges: usize,
    /// Transfers the gateway refused: nothing was sent.
    pub refused: usize,
    /// Scheduled reporting uploads to the credit bureau that carried the subject's contracts.
    pub reporting_uploads: usize,
    pub erasures: usize,
}

/// What a transfer was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// A request sent to a party and, usually, its answer.
    Exchange,
    /// Refused by the gateway before anything was sent.
    Refused,
    /// A scheduled upload of loan contracts to the credit bureau.
    ReportingUpload,
    /// The subject's stored copies were made unreadable (their key destroyed).
    Erasure,
}

/// A key with what the contracts say about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Named {
    pub key: String,
    /// The name or description from the contracts (`None` when they no longer know the key).
    pub description: Option<String>,
    /// The policy clause, where the contracts give one.
    pub clause: Option<String>,
}

/// A field by its path, with the vocabulary's description and data category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldView {
    pub path: String,
    pub description: Option<String>,
    pub category: Option<String>,
}

/// A consent record as the subject may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentView {
    pub id: Uuid,
    pub given_at: When,
    /// `web`, `app`, `branch`, `call_centre`.
    pub channel: String,
    /// A reference to the evidence of consent (an OTP confirmation id, a signed contract).
    pub evidence: String,
    /// The recipients it covers, with their names.
    pub recipients: Vec<Named>,
    /// The purposes it covers, with their descriptions.
    pub purposes: Vec<Named>,
    pub expires_at: Option<When>,
    /// When it was withdrawn, if it was.
    pub revoked_at: Option<When>,
    /// `active`, `expired` or `withdrawn` when the report was made.
    pub status: &'static str,
}

/// How a transfer's consent is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The transfer's log entry names it.
    NamedInLog,
    /// The log entry names none (reporting uploads); this consent on record covered the
    /// recipient and purpose at the time.
    OnRecordAtTheTime,
}

/// The consent a transfer rested on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentUse {
    pub source: ConsentSource,
    pub id: Uuid,
    /// The ledger's record; `None` when the ledger has no such consent.
    pub record: Option<ConsentView>,
    /// Whether it covered this recipient and purpose at the transfer's time.
    pub valid_then: Option<bool>,
}

/// One of the subject's contracts in a reporting upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadedContract {
    pub contract_code: String,
    /// `first_load` or `update`.
    pub operation: &'static str,
    /// The bureau's word on the record: `accepted`, `rejected`, `unconfirmed`, or `pending`.
    pub outcome: String,
    /// The bureau's message about the record (digit runs masked).
    pub message: Option<String>,
}

/// One transfer about the subject.
#[derive(Clone, Debug, Serialize)]
pub struct Transfer {
    pub transfer_id: Uuid,
    pub kind: TransferKind,
    /// The party, with its name from the contracts.
    pub recipient: Named,
    /// The operation, with its description and clause.
    pub operation: Named,
    /// When it started (its first log entry).
    pub at: When,
    /// When the party's answer (the IN entry) was logged.
    pub answered_at: Option<When>,
    /// The purpose, with its description and clause from `purposes.toml`.
    pub purpose: Option<Named>,
    /// `consent`, `contract`, `legal_obligation`, `legitimate_interest`.
    pub legal_basis: Option<String>,
    /// The application or contract id the caller gave.
    pub reference: Option<String>,
    pub consent: Option<ConsentUse>,
    /// Fields sent to the party.
    pub sent: Vec<FieldView>,
    /// Fields received from the party and kept.
    pub received: Vec<FieldView>,
    /// Fields the party sent that the gateway discarded (names only; nothing of them kept).
    pub dropped: Vec<String>,
    /// For a refusal: the fields that caused it.
    pub refused_fields: Vec<String>,
    /// The stored outcome of the transfer's last entry (`ok`, `error:timeout`,
    /// `denied:field_not_allowed`, ...).
    pub outcome: String,
    /// The outcome in words.
    pub outcome_text: String,
    /// For a reporting upload: the subject's contracts in the batch.
    pub contracts: Vec<UploadedContract>,
    /// For a reporting upload: the lender's batch number and the bureau's batch id.
    pub batch: Option<BatchRef>,
    /// The party's ids for an exchange (bureau reference, SHEP message ids); empty for an
    /// upload.
    pub upstream_ids: BTreeMap<String, String>,
    /// The log entries of the transfer, by seq.
    pub log_entries: Vec<u64>,
}

/// A reporting batch, as the subject report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchRef {
    pub batch: i64,
    pub run: i64,
    pub bureau_batch_id: Option<String>,
    /// The batch's state in the reporting store (`final`, `failed`, `uncertain`, ...).
    pub state: &'static str,
}

/// Builds the report for the subject whose index is `subject` (see
/// [`crate::transfer_log::Keys::subject_index`]); `subject_masked` is what the report calls
/// them.
pub fn subject_report(
    src: ReportSources<'_>,
    subject: [u8; 32],
    subject_masked: String,
    now: OffsetDateTime,
) -> Result<SubjectReport, AuditError> {
    let ReportSources {
        log,
        contracts,
        consents,
        uploads,
    } = src;
    let tip = log.tip()?.map_or(0, |t| t.0);

    // Entries about the subject, then the other entries of the same transfers (a transfer's
    // entries normally all carry the subject; this keeps any that do not).
    let mut by_transfer: BTreeMap<Uuid, Vec<Entry>> = BTreeMap::new();
    let q = Query {
        subject: Some(subject),
        order: Order::OldestFirst,
        ..Query::default()
    };
    log.query(&q, &mut |e| {
        if e.seq <= tip {
            by_transfer.entry(e.transfer_id).or_default().push(e);
        }
        ControlFlow::Continue(())
    })?;
    let ids: Vec<Uuid> = by_transfer.keys().copied().collect();
    for id in ids {
        let all = log.get_transfer(id)?;
        let all: Vec<Entry> = all.into_iter().filter(|e| e.seq <= tip).collect();
        by_transfer.insert(id, all);
    }

    // Reporting uploads: the batches that carried the subject's contracts.
    let mut records: BTreeMap<Uuid, Vec<SubjectRecord>> = BTreeMap::new();
    if let Some(store) = uploads {
        for r in store.records_for_subject(&subject)? {
            // A batch never sent has no transfer: nothing left the lender.
            if let Some(t) = r.transfer_id {
                records.entry(t).or_default().push(r);
            }
        }
    }
    for id in records.keys() {
        if !by_transfer.contains_key(id) {
            let all: Vec<Entry> = log
                .get_transfer(*id)?
                .into_iter()
                .filter(|e| e.seq <= tip)
                .collect();
            if !all.is_empty() {
                by_transfer.insert(*id, all);
            }
        }
    }

    let mut notes = Vec::new();
    if consents.is_none() {
        notes.push(
            "There is no consent ledger in this data directory: consents cannot be shown."
                .to_owned(),
        );
    }
    let ledger = Ledger {
        registry: consents,
        contracts,
        subject,
        now,
    };

    let mut transfers = Vec::with_capacity(by_transfer.len());
    for (id, entries) in by_transfer {
        let upload = records.remove(&id).unwrap_or_default();
        transfers.push(transfer(contracts, &ledger, id, &entries, &upload)?);
    }
    transfers.sort_by_key(|t| t.log_entries.first().copied().unwrap_or(0));

    let mut summary = Summary {
        transfers: transfers.len(),
        ..Summary::default()
    };
    for t in &transfers {
        match t.kind {
            TransferKind::Exchange => summary.exchanges += 1,
            TransferKind::Refused => summary.refused += 1,
            TransferKind::ReportingUpload => summary.reporting_uploads += 1,
            TransferKind::Erasure => summary.erasures += 1,
        }
    }
    let consents = match consents {
        Some(r) => r
            .consents_for(&subject)?
            .iter()
            .map(|c| consent_view(c, now, contracts))
            .collect(),
        None => Vec::new(),
    };
    Ok(SubjectReport {
        subject: subject_masked,
        generated_at: When::of(now),
        log_tip_seq: tip,
        summary,
        transfers,
        consents,
        notes,
    })
}

struct Ledger<'a> {
    registry: Option<&'a dyn Registry>,
    contracts: &'a Contracts,
    subject: [u8; 32],
    now: OffsetDateTime,
}

impl Ledger<'_> {
    /// The consent a transfer rested on: the one its entries name, or, for a consent-based
    /// transfer naming none, the newest consent on record that covered it at the time.
    fn consent_use(
        &self,
        named: Option<Uuid>,
        legal_basis: Option<&str>,
        recipient: &str,
        purpose: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Option<ConsentUse>, AuditError> {
        let valid_then = |c: &Consent| purpose.map(|p| c.covers(&self.subject, recipient, p, at));
        if let Some(id) = named {
            let record = match self.registry {
                Some(r) => r.consent(id)?,
                None => None,
            };
            return Ok(Some(ConsentUse {
                source: ConsentSource::NamedInLog,
                id,
                valid_then: record.as_ref().and_then(valid_then),
                record: record
                    .as_ref()
                    .map(|c| consent_view(c, self.now, self.contracts)),
            }));
        }
        let (Some(registry), Some("consent"), Some(p)) = (self.registry, legal_basis, purpose)
        else {
            return Ok(None);
        };
        let found = registry
            .consents_for(&self.subject)?
            .into_iter()
            .find(|c| c.covers(&self.subject, recipient, p, at));
        Ok(found.map(|c| ConsentUse {
            source: ConsentSource::OnRecordAtTheTime,
            id: c.id,
            valid_then: Some(true),
            record: Some(consent_view(&c, self.now, self.contracts)),
        }))
    }
}

fn recipient_named(contracts: &Contracts, key: &str) -> Named {
    Named {
        key: key.to_owned(),
        description: contracts.recipient(key).map(|r| r.name.clone()),
        clause: None,
    }
}

fn purpose_named(contracts: &Contracts, key: &str) -> Named {
    let def = contracts.purpose(key);
    Named {
        key: key.to_owned(),
        description: def.map(|d| d.description.clone()),
        clause: def.map(|d| d.clause.clone()),
    }
}

fn consent_view(c: &Consent, now: OffsetDateTime, contracts: &Contracts) -> ConsentView {
    let status = if c.revoked_at.is_some() {
        "withdrawn"
    } else if c.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    ConsentView {
        id: c.id,
        given_at: When::of(c.granted_at),
        channel: c.channel.as_str().to_owned(),
        evidence: c.evidence.clone(),
        recipients: c
            .recipients
            .iter()
            .map(|r| recipient_named(contracts, r))
            .collect(),
        purposes: c
            .purposes
            .iter()
            .map(|p| purpose_named(contracts, p))
            .collect(),
        expires_at: c.expires_at.map(When::of),
        revoked_at: c.revoked_at.map(When::of),
        status,
    }
}

fn field_views(contracts: &Contracts, paths: impl IntoIterator<Item = String>) -> Vec<FieldView> {
    let vocabulary = contracts.vocabulary();
    paths
        .into_iter()
        .map(|path| {
            let def = vocabulary.get(&path);
            FieldView {
                description: def.map(|d| d.description.clone()),
                category: def.map(|d| d.category.clone()),
                path,
            }
        })
        .collect()
}

fn transfer(
    contracts: &Contracts,
    ledger: &Ledger<'_>,
    id: Uuid,
    entries: &[Entry],
    upload: &[SubjectRecord],
) -> Result<Transfer, AuditError> {
    // `entries` is never empty: a transfer is known from at least one entry.
    let first = &entries[0];
    let last = &entries[entries.len() - 1];
    let has = |k: Kind| entries.iter().any(|e| e.kind == k);
    let kind = if has(Kind::Erasure) {
        TransferKind::Erasure
    } else if has(Kind::Denied) {
        TransferKind::Refused
    } else if !upload.is_empty() {
        TransferKind::ReportingUpload
    } else {
        TransferKind::Exchange
    };
    let pick = |f: fn(&Entry) -> Option<&String>| entries.iter().find_map(|e| f(e).cloned());
    let purpose_key = pick(|e| e.purpose.as_ref());
    let legal_basis = pick(|e| e.legal_basis.as_ref());
    let reference = pick(|e| e.reference.as_ref());
    let recipient = recipient_named(contracts, &first.recipient);
    let op = contracts.operation(&first.recipient, &first.operation);
    let operation = Named {
        key: first.operation.clone(),
        description: op.map(|o| o.description.clone()),
        clause: op.map(|o| o.clause.clone()),
    };
    let purpose = purpose_key.as_ref().map(|p| purpose_named(contracts, p));
    let named_consent = entries.iter().find_map(|e| e.consent_id);
    let consent = match kind {
        TransferKind::Erasure => None,
        // Only an upload rests on a consent its entries do not name: the reporting job checks
        // the ledger per contract. A refusal without one had none.
        TransferKind::Exchange | TransferKind::Refused if named_consent.is_none() => None,
        _ => ledger.consent_use(
            named_consent,
            legal_basis.as_deref(),
            &first.recipient,
            purpose_key.as_deref(),
            first.at,
        )?,
    };
    let list = |k: Kind, f: fn(&Entry) -> &Vec<String>| -> Vec<String> {
        let set: BTreeSet<String> = entries
            .iter()
            .filter(|e| e.kind == k)
            .flat_map(|e| f(e).iter().cloned())
            .collect();
        set.into_iter().collect()
    };
    let sent = if kind == TransferKind::Exchange || kind == TransferKind::ReportingUpload {
        field_views(contracts, list(Kind::Out, |e| &e.fields))
    } else {
        Vec::new()
    };
    let received = field_views(contracts, list(Kind::In, |e| &e.fields));
    let dropped = list(Kind::In, |e| &e.dropped);
    let refused_fields = list(Kind::Denied, |e| &e.denied);
    let answered_at = entries
        .iter()
        .find(|e| e.kind == Kind::In)
        .map(|e| When::of(e.at));
    let outcome = last.outcome.clone();
    let outcome_text = outcome_text(kind, entries, &outcome);
    // The party's ids of an exchange; none of an upload, whose ids describe the whole batch
    // (other people's contract codes, its counts): `batch` names it instead.
    let upstream_ids: BTreeMap<String, String> = if kind == TransferKind::ReportingUpload {
        BTreeMap::new()
    } else {
        entries
            .iter()
            .flat_map(|e| e.upstream.iter())
            .filter(|(k, _)| k != "contract_code")
            .cloned()
            .collect()
    };
    let contracts_in_batch = upload
        .iter()
        .map(|r| UploadedContract {
            contract_code: r.contract_code.clone(),
            operation: if r.operation == 2 {
                "update"
            } else {
                "first_load"
            },
            outcome: r.outcome.clone().unwrap_or_else(|| "pending".to_owned()),
            message: r.message.as_deref().map(kuzet_ident::short_message),
        })
        .collect();
    let batch = upload.first().map(|r| BatchRef {
        batch: r.batch_id,
        run: r.run_id,
        bureau_batch_id: r.bureau_batch_id.clone(),
        state: r.batch_state.as_str(),
    });
    Ok(Transfer {
        transfer_id: id,
        kind,
        recipient,
        operation,
        at: When::of(first.at),
        answered_at,
        purpose,
        legal_basis,
        reference,
        consent,
        sent,
        received,
        dropped,
        refused_fields,
        outcome,
        outcome_text,
        contracts: contracts_in_batch,
        batch,
        upstream_ids,
        log_entries: entries.iter().map(|e| e.seq).collect(),
    })
}

/// The outcome in words.
fn outcome_text(kind: TransferKind, entries: &[Entry], outcome: &str) -> String {
    let code = outcome.split_once(':').map(|(_, c)| c);
    match kind {
        TransferKind::Erasure => {
            "The stored copies of the data exchanged about you were made unreadable (their key \
             was destroyed); the record that the exchanges happened remains."
                .to_owned()
        }
        TransferKind::Refused => format!(
            "Refused by the lender's gateway before anything was sent{}. Nothing left the \
             lender.",
            code.map(|c| format!(" (reason: {})", c.replace('_', " ")))
                .unwrap_or_default()
        ),
        TransferKind::Exchange | TransferKind::ReportingUpload => {
            if !entries.iter().any(|e| e.kind == Kind::In) {
                "Sent; no answer from the party has been recorded.".to_owned()
            } else if outcome == "ok" {
                "Completed: the party answered.".to_owned()
            } else {
                format!(
                    "Sent, but the party's answer was not a success ({}).",
                    code.unwrap_or(outcome).replace('_', " ")
                )
            }
        }
    }
}
