//! Retention (policy 8.2): when every body a subject has in the transfer log is past its
//! operation's retention period (`retention` in the contracts), the subject's body key is
//! destroyed, so that those bodies can no longer be decrypted by anyone. Entries' metadata,
//! the chain and the checkpoints stay and still verify; each destruction is itself an
//! `erasure` entry (operation `retention`). `kuzet retention apply` runs it once; `serve` runs
//! it on `log.retention_schedule`.
//!
//! A body key is per subject, not per entry, so it is destroyed only when the LATEST body's
//! retention has ended: a subject with a recent transfer keeps the older bodies readable
//! until that one expires too. Bodies of an operation no longer in the contracts (or without
//! a retention) are kept and counted, never destroyed by guesswork.
//!
//! This module must never destroy a key whose subject has a body still within retention.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::contract::Contracts;
use crate::transfer_log::{LogBackend, LogError, TransferLog};

/// What a retention pass found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Subjects (with a body key) that have bodies in the log.
    pub subjects: u64,
    /// Subjects whose every body is past retention: their keys were destroyed (or, in a dry
    /// run, would be).
    pub expired: u64,
    /// Keys destroyed in this pass.
    pub destroyed: u64,
    /// Bodies kept because their operation has no retention in the contracts.
    pub kept_unknown: u64,
    /// When the next subject's retention ends, if one is pending (RFC 3339).
    pub next_due: Option<String>,
    pub dry_run: bool,
}

/// Per subject index, when its last body is due (`None`: never).
type DueDates = HashMap<[u8; 32], Option<OffsetDateTime>>;

/// When each subject's bodies are all due, from the log's body entries; `None` means never
/// (a body of an operation without a retention). Also counts those bodies.
fn due_dates(
    backend: &mut dyn LogBackend,
    contracts: &Contracts,
) -> Result<(DueDates, u64), LogError> {
    let mut due = DueDates::new();
    let mut unknown = 0u64;
    backend.body_entries(&mut |e| {
        let end = contracts
            .operation(e.recipient, e.operation)
            .and_then(|op| op.retention)
            .map(|r| r.ends(e.at));
        if end.is_none() {
            unknown += 1;
        }
        let slot = due.entry(*e.subject).or_insert(end);
        *slot = match (*slot, end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    })?;
    Ok((due, unknown))
}

/// One retention pass at `now`: finds the subjects whose bodies are all past retention and
/// (unless `dry_run`) destroys their keys through the log, one `erasure` entry each.
pub async fn apply(
    log: &TransferLog,
    contracts: std::sync::Arc<Contracts>,
    now: OffsetDateTime,
    dry_run: bool,
) -> Result<RetentionReport, LogError> {
    let (expired, mut report) = log
        .read_only(move |b| {
            let (due, kept_unknown) = due_dates(b, &contracts)?;
            let mut report = RetentionReport {
                kept_unknown,
                dry_run,
                ..RetentionReport::default()
            };
            let mut expired = Vec::new();
            let mut next: Option<OffsetDateTime> = None;
            for (subject, end) in due {
                // Subjects erased before (no key) have nothing left to destroy.
                if b.subject_key(&subject)?.is_none() {
                    continue;
                }
                report.subjects += 1;
                match end {
                    Some(end) if end <= now => expired.push(subject),
                    Some(end) => next = Some(next.map_or(end, |n| n.min(end))),
                    None => {}
                }
            }
            report.expired = expired.len() as u64;
            report.next_due = next.map(crate::transfer_log::query::format_instant);
            expired.sort_unstable();
            Ok((expired, report))
        })
        .await?;
    if !dry_run {
        for subject in expired {
            let (_, existed) = log.erase(subject, "retention", "retention", None).await?;
            report.destroyed += u64::from(existed);
        }
    }
    Ok(report)
}

/// Runs [`apply`] at every occurrence of `cron` (Asia/Almaty time) until the task is aborted.
pub fn spawn(
    log: TransferLog,
    contracts: std::sync::Arc<Contracts>,
    cron: croner::Cron,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now();
            let Some(next) = crate::reporting::schedule::next_after(&cron, now) else {
                tracing::warn!("The retention schedule has no next occurrence; it stops.");
                return;
            };
            tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
            match apply(&log, contracts.clone(), OffsetDateTime::now_utc(), false).await {
                Ok(r) => tracing::info!(
                    subjects = r.subjects,
                    destroyed = r.destroyed,
                    kept_unknown = r.kept_unknown,
                    "Retention applied."
                ),
                Err(e) => tracing::error!(error = %e, "Retention pass failed."),
            }
        }
    })
}
