//! Scheduled bureau reporting (policy 4.5): the lender's loan contracts, read from the loan
//! system's JSON Lines export, checked, enforced against the `fcb` contract's `contract-upload`
//! operation, and sent to the First Credit Bureau in batches, exactly once and resumably.
//!
//! One run, in order:
//! 1. the job's own right: the `reporting` role and the configured purpose must be allowed by
//!    the operation (else the run fails and a `denied` entry is logged);
//! 2. batches an earlier run left unfinished: an `uploaded` batch is polled, never sent again;
//!    a `built` one was never sent and is abandoned (its contracts are read again below); a
//!    `sending` one was interrupted between sending and recording the bureau's answer and
//!    becomes `uncertain` (see README: its contracts are sent again);
//! 3. the source, streamed line by line: each line is validated ([`source`]), flattened to
//!    `loan.*` paths and checked against the operation's `send` list, and, where the legal basis
//!    is consent, against the consent ledger; a refused line is reported with its number and
//!    reason and never stops the others;
//! 4. change detection: a contract whose fingerprint (SHA-256 of everything sent) equals what
//!    the bureau last accepted is skipped; a new one goes as `operation` 1, a changed one as 2;
//! 5. every `batch_size` contracts: the batch is recorded (`built`), its OUT entry logged
//!    (contract codes and field names), marked `sending`, uploaded, marked `uploaded` with the
//!    bureau's batch id, polled with backoff until final, and finalized: each record's outcome,
//!    the accepted fingerprints, and the IN entry (batch id, status, rejected contracts).
//!
//! A run never overlaps another: one at a time in the process, a lock file
//! (`DATA_DIR/reporting.lock`, released by the OS when a process dies) across processes on one
//! machine, and with PostgreSQL an advisory lock across replicas (released by the database
//! when the replica holding it dies; the next run takes over what it left).
//!
//! This module never logs or prints a personal value: refusals name lines, members and rules;
//! the log's entries carry contract codes (the lender's identifiers) and field names.

pub mod schedule;
pub mod source;
pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kuzet_fcb::{BatchStatus, FcbClient, FcbError, UploadConfig, UploadContract, UploadOperation};
use kuzet_transport::{Retry, TransportError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::{Contracts, Denial, LegalBasis, Role, authorize, check_outgoing};
use crate::jsonl;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::transfer_log::{EntryDraft, Kind, TransferLog};

pub use source::Refusal;
pub use store::{
    BatchState, Counts, REPORTING_FILE, ReportStore, RunRow, StoredBatch, SubjectRecord,
};

/// The lock file that keeps two runs from overlapping.
pub const LOCK_FILE: &str = "reporting.lock";
/// The caller name of the job's transfer log entries.
pub const CALLER: &str = "kuzet-report";
/// The party the reporting job sends to.
pub const RECIPIENT: &str = "fcb";
/// The operation the reporting job performs; not offered over the HTTP API.
pub const OPERATION: &str = "contract-upload";

/// `[reporting]`: the scheduled bureau reporting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportingConfig {
    /// Contracts per uploaded file (the bureau takes 1,000–2,000; at most
    /// `fcb.upload.max_records`).
    pub batch_size: usize,
    /// When `kuzet serve` runs the job: a cron expression (five fields, or six with seconds
    /// first) in Asia/Almaty time. Absent: `serve` never runs it.
    pub schedule: Option<String>,
    /// The export the scheduled run reads (required with `schedule`).
    pub source: Option<PathBuf>,
    /// The purpose the job states (one the operation allows).
    pub purpose: String,
    /// Currencies a contract may be reported in.
    pub currencies: Vec<String>,
    /// The bureau's `Citizenship@id` for each ISO 3166 alpha-2 code of the export.
    pub citizenship_ids: std::collections::BTreeMap<String, String>,
    /// First pause between two batch status polls, in milliseconds.
    pub poll_initial_ms: u64,
    /// Longest pause between two polls, in milliseconds.
    pub poll_max_ms: u64,
    /// How long one run polls a batch before leaving it to the next run, in milliseconds.
    pub poll_timeout_ms: u64,
    /// The deadline of one bureau call (upload or status), in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for ReportingConfig {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            schedule: None,
            source: None,
            purpose: "contract_performance".into(),
            currencies: vec!["KZT".into()],
            citizenship_ids: [("KZ".to_owned(), "110".to_owned())].into_iter().collect(),
            poll_initial_ms: 500,
            poll_max_ms: 30_000,
            poll_timeout_ms: 600_000,
            request_timeout_ms: 60_000,
        }
    }
}

impl ReportingConfig {
    /// What is wrong with the settings, given the adapter's batch limit.
    pub fn problems(&self, max_records: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.batch_size == 0 || self.batch_size > max_records {
            out.push(format!(
                "reporting.batch_size must be 1 to {max_records} (fcb.upload.max_records)"
            ));
        }
        if let Some(expr) = &self.schedule {
            if let Err(e) = schedule::parse(expr) {
                out.push(format!("reporting.schedule: {e}"));
            }
            if self.source.is_none() {
                out.push("reporting.schedule needs reporting.source".into());
            }
        }
        if self.poll_initial_ms == 0 || self.poll_max_ms < self.poll_initial_ms {
            out.push("reporting.poll_initial_ms must be > 0 and <= poll_max_ms".into());
        }
        if self.currencies.is_empty() {
            out.push("reporting.currencies is empty".into());
        }
        out
    }
}

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `kuzet report run`.
    Cli,
    /// The schedule in `kuzet serve`.
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Schedule => "schedule",
        }
    }
}

/// Where a test makes the process die (`kuzet report run --crash-at`), to prove resumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CrashPoint {
    /// The first batch is recorded; nothing is sent.
    AfterBuild,
    /// The first batch is uploaded and its batch id recorded; not polled.
    AfterUpload,
    /// The first batch was polled once (still processing).
    WhilePolling,
}

/// One run's request.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub source: PathBuf,
    /// Validate, enforce, detect changes and build the zipped batches; send, record and log
    /// nothing.
    pub dry_run: bool,
    pub trigger: Trigger,
    pub crash_at: Option<CrashPoint>,
}

/// What a run tells its watcher as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// The source is this long, in bytes.
    Started { bytes: u64 },
    /// Read up to this byte offset.
    Read { bytes: u64, counts: &'a Counts },
    /// A line is not reported.
    Refused(&'a Refusal),
    /// A batch is done (or, in a dry run, built).
    Batch(&'a BatchReport),
    /// Something an operator should know (resumed or uncertain batches, a stop).
    Note(&'a str),
}

/// One batch of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// The store's batch number (`None` in a dry run).
    pub id: Option<i64>,
    pub records: usize,
    pub bureau_batch_id: Option<String>,
    pub transfer_id: Option<Uuid>,
    pub accepted: u64,
    pub rejected: u64,
    /// Size of the zipped file.
    pub zipped_bytes: usize,
    /// Whether it was left by an earlier run.
    pub resumed: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Every line reported and accepted.
    Ok,
    /// Done, but some lines were refused or some records rejected by the bureau.
    Partial,
    /// The run could not finish (the bureau unreachable, a batch still processing, the log
    /// unavailable…): the next run carries on.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Partial => "partial",
            Self::Failed => "failed",
        }
    }

    /// `kuzet report run`'s exit code: 0 all accepted, 2 some refused or rejected, 1 failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Partial => 2,
            Self::Failed => 1,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: Option<i64>,
    pub status: RunStatus,
    pub counts: Counts,
    /// The lines refused (every one; they were also passed to the watcher as they came).
    pub refusals: Vec<Refusal>,
    /// The bureau's rejections: (contract code, its messages).
    pub rejections: Vec<(String, String)>,
    pub batches: Vec<BatchReport>,
    /// Why the run failed, when it did.
    pub failure: Option<String>,
    pub notes: Vec<String>,
}

/// Why a run could not start at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("another reporting run is in progress")]
    AlreadyRunning,
    #[error("the contracts refuse the reporting job: {0}")]
    Denied(Denial),
    #[error("the contracts declare no fcb/contract-upload operation")]
    NoOperation,
    #[error("cannot read the source {path}: {source}")]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Io(String),
}

/// Lines read and checked together (on two threads).
const CHUNK_LINES: usize = 512;

/// A line after the checks it can be judged on alone.
enum Checked {
    Blank,
    Refused(Refusal),
    Ready(Box<Ready>),
}

/// A contract ready for a batch.
struct Ready {
    line: u64,
    contract: UploadContract,
    fields: Vec<String>,
    fingerprint: [u8; 32],
    subject: [u8; 32],
}

/// Why a batch could not be taken to the end.
enum Stop {
    /// The run must stop (the bureau is unreachable, the log or the store failed).
    Run(String),
    /// This batch is left for the next run (still processing); the run goes on.
    Batch(String),
}

/// The reporting job (see the module header).
pub struct Reporter {
    contracts: Arc<Contracts>,
    registry: Arc<dyn Registry>,
    log: TransferLog,
    fcb: FcbClient,
    upload_codes: UploadConfig,
    store: ReportStore,
    config: ReportingConfig,
    lock_path: PathBuf,
    running: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn fingerprint(payload: &serde_json::Value) -> [u8; 32] {
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    Sha256::digest(bytes).into()
}

/// Whether an upload that failed this way may have reached the bureau anyway.
fn upload_uncertain(e: &FcbError) -> bool {
    matches!(
        e,
        FcbError::Timeout
            | FcbError::Malformed(_)
            | FcbError::Transport(TransportError::Timeout | TransportError::Io(_))
    )
}

impl Reporter {
    /// The job over the gateway's contracts, consent ledger and log, keeping its state in
    /// `store` (`ReportStore::open` on the data directory, or PostgreSQL's for replicas); the
    /// lock file is in `data_dir`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: ReportStore,
        data_dir: &Path,
        contracts: Arc<Contracts>,
        registry: Arc<dyn Registry>,
        log: TransferLog,
        fcb: FcbClient,
        upload_codes: UploadConfig,
        config: ReportingConfig,
    ) -> Reporter {
        Reporter {
            contracts,
            registry,
            log,
            fcb,
            upload_codes,
            store,
            config,
            lock_path: data_dir.join(LOCK_FILE),
            running: tokio::sync::Mutex::new(()),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The same job, counting its runs and transfers in `metrics` (the gateway's).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The job's state (runs, batches), for `kuzet report status`.
    pub fn store(&self) -> &ReportStore {
        &self.store
    }

    fn deadline(&self) -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(self.config.request_timeout_ms))
    }

    async fn log_entry(&self, draft: EntryDraft) -> Result<(), String> {
        let (kind, outcome) = (draft.kind, draft.outcome.clone());
        let (dropped, denied) = (draft.dropped.len(), draft.denied.len());
        let appended = self.log.append(draft).await;
        let (outcome, dropped, denied) = match &appended {
            Ok(_) => (outcome.as_str(), dropped, denied),
            Err(_) => ("log_unavailable", 0, 0),
        };
        self.metrics
            .transfer(RECIPIENT, OPERATION, kind, outcome, dropped, denied);
        appended
            .map(|_| ())
            .map_err(|e| format!("the transfer log is unavailable: {e}"))
    }

    fn draft(&self, transfer_id: Uuid, kind: Kind, outcome: &str) -> EntryDraft {
        let mut d = EntryDraft::new(transfer_id, kind, RECIPIENT, OPERATION, CALLER, outcome);
        d.purpose = Some(self.config.purpose.clone());
        if let Some(op) = self.contracts.operation(RECIPIENT, OPERATION) {
            d.legal_basis = Some(op.legal_basis.as_str().to_owned());
        }
        d
    }

    /// One run now. Errors are for runs that cannot start; a run that starts always ends with a
    /// [`RunReport`] (its status says whether it failed).
    pub async fn run(
        &self,
        options: &RunOptions,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<RunReport, ReportError> {
        let result = self.run_once(options, watch).await;
        // A dry run sends nothing: it is a check, not a run of the job.
        if !options.dry_run {
            let trigger = options.trigger.as_str();
            match &result {
                Ok(report) => self.metrics.reporting_run(
                    trigger,
                    report.status.as_str(),
                    Some(&report.counts),
                ),
                Err(_) => self.metrics.reporting_run(trigger, "not_started", None),
            }
        }
        result
    }

    async fn run_once(
        &self,
        options: &RunOptions,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<RunReport, ReportError> {
        let _in_process = self
            .running
            .try_lock()
            .map_err(|_| ReportError::AlreadyRunning)?;
        // Across replicas: PostgreSQL's advisory lock, held for the whole run.
        let _across_replicas = match self.store.postgres() {
            Some(pg) => Some(
                pg.try_lock_run()
                    .map_err(|e| ReportError::Io(format!("the reporting lock: {e}")))?
                    .ok_or(ReportError::AlreadyRunning)?,
            ),
            None => None,
        };
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| ReportError::Io(format!("{}: {e}", self.lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(ReportError::AlreadyRunning),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(ReportError::Io(format!(
                    "{}: {e}",
                    self.lock_path.display()
                )));
            }
        }
        let op = self
            .contracts
            .operation(RECIPIENT, OPERATION)
            .ok_or(ReportError::NoOperation)?;
        if let Err(denial) = authorize(op, Role::Reporting, &self.config.purpose) {
            let mut d = self.draft(
                Uuid::now_v7(),
                Kind::Denied,
                &format!("denied:{}", denial.code()),
            );
            d.purpose = None;
            let _ = self.log_entry(d).await;
            return Err(ReportError::Denied(denial));
        }
        let mut file = File::open(&options.source).map_err(|source| ReportError::Source {
            path: options.source.clone(),
            source,
        })?;
        let metadata = file.metadata().map_err(|source| ReportError::Source {
            path: options.source.clone(),
            source,
        })?;
        // A folder opens on Unix and fails at its first read: refuse it before a run starts.
        if metadata.is_dir() {
            return Err(ReportError::Source {
                path: options.source.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "a folder, not a file of contract lines",
                ),
            });
        }
        // An archive, UTF-16 or Windows-1251 text would be refused line by line: say so once.
        if metadata.is_file() {
            let sniffed = jsonl::not_text(&mut file).map_err(|source| ReportError::Source {
                path: options.source.clone(),
                source,
            })?;
            if let Some(why) = sniffed {
                return Err(ReportError::Source {
                    path: options.source.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
                });
            }
        }
        let bytes = metadata.len();

        let mut report = RunReport {
            run_id: None,
            status: RunStatus::Ok,
            counts: Counts::default(),
            refusals: Vec::new(),
            rejections: Vec::new(),
            batches: Vec::new(),
            failure: None,
            notes: Vec::new(),
        };
        let source_name = options.source.display().to_string();
        let mut stopped = false;
        if !options.dry_run {
            self.store.close_abandoned_runs()?;
            report.run_id = Some(self.store.begin_run(
                options.trigger.as_str(),
                &source_name,
                false,
            )?);
            // An error stops the run (the bureau unreachable, the store failed); a batch left
            // still processing does not, but its contracts wait for it (sending them again
            // would be sending them twice).
            if let Err(stop) = self.resume(&mut report, watch).await {
                report.failure = Some(stop);
                stopped = true;
            }
        }
        watch(Event::Started { bytes });
        if !stopped {
            let in_flight = if options.dry_run {
                Default::default()
            } else {
                self.store.codes_in_flight()?
            };
            if let Err(stop) = self
                .stream(file, options, &in_flight, &mut report, watch)
                .await
            {
                report.failure = Some(stop);
            }
        }
        report.status = if report.failure.is_some() {
            RunStatus::Failed
        } else if report.counts.invalid > 0 || report.counts.rejected > 0 {
            RunStatus::Partial
        } else {
            RunStatus::Ok
        };
        if let Some(id) = report.run_id {
            self.store.finish_run(
                id,
                report.status.as_str(),
                &report.counts,
                report.failure.as_deref(),
            )?;
        }
        Ok(report)
    }

    /// Step 2 of the module header: what earlier runs left.
    async fn resume(
        &self,
        report: &mut RunReport,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<(), String> {
        let left = self.store.unfinished_batches().map_err(|e| e.to_string())?;
        for batch in left {
            match batch.state {
                BatchState::Built => {
                    self.store
                        .set_batch_state(
                            batch.id,
                            BatchState::Abandoned,
                            None,
                            None,
                            Some("never sent: the run stopped first"),
                        )
                        .map_err(|e| e.to_string())?;
                    let note = format!(
                        "batch {} was recorded but never sent; its contracts are read again \
                         from the source",
                        batch.id
                    );
                    watch(Event::Note(&note));
                    report.notes.push(note);
                }
                BatchState::Sending => {
                    self.store
                        .set_batch_state(
                            batch.id,
                            BatchState::Uncertain,
                            None,
                            None,
                            Some("the upload was interrupted before the bureau's answer was recorded"),
                        )
                        .map_err(|e| e.to_string())?;
                    let note = format!(
                        "batch {} was interrupted between sending and recording the bureau's \
                         answer; whether the bureau received it is unknown, so its contracts \
                         are sent again",
                        batch.id
                    );
                    watch(Event::Note(&note));
                    report.notes.push(note);
                }
                BatchState::Uploaded => {
                    let records = self
                        .store
                        .batch_records(batch.id)
                        .map_err(|e| e.to_string())?;
                    let (Some(bureau_id), Some(transfer_id)) =
                        (batch.bureau_batch_id.clone(), batch.transfer_id)
                    else {
                        continue;
                    };
                    let mut b = BatchReport {
                        id: Some(batch.id),
                        records: records.len(),
                        bureau_batch_id: Some(bureau_id.clone()),
                        transfer_id: Some(transfer_id),
                        accepted: 0,
                        rejected: 0,
                        zipped_bytes: 0,
                        resumed: true,
                    };
                    let codes: Vec<String> =
                        records.iter().map(|r| r.contract_code.clone()).collect();
                    match self
                        .poll(
                            batch.id,
                            &bureau_id,
                            transfer_id,
                            &codes,
                            None,
                            report,
                            &mut b,
                        )
                        .await
                    {
                        Ok(()) => {}
                        Err(Stop::Run(why)) => return Err(why),
                        Err(Stop::Batch(why)) => {
                            watch(Event::Note(&why));
                            report.notes.push(why.clone());
                            report.failure.get_or_insert(why);
                        }
                    }
                    watch(Event::Batch(&b));
                    report.batches.push(b);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Steps 3 to 5 of the module header. Lines are read in chunks of [`CHUNK_LINES`]; the
    /// checks that need nothing but the line (validation, enforcement, the subject index, the
    /// fingerprint) run on two threads, then, in line order, those that read the state (the
    /// consent ledger, duplicates, change detection).
    async fn stream(
        &self,
        file: File,
        options: &RunOptions,
        in_flight: &std::collections::HashSet<String>,
        report: &mut RunReport,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<(), String> {
        let Some(op) = self.contracts.operation(RECIPIENT, OPERATION) else {
            return Err("the contracts declare no fcb/contract-upload operation".into());
        };
        let needs_consent = op.legal_basis == LegalBasis::Consent;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line_no = 0u64;
        let mut offset = 0u64;
        let mut first_seen: HashMap<String, u64> = HashMap::new();
        let mut pending: Vec<Ready> = Vec::with_capacity(self.config.batch_size);
        let mut last_report = Instant::now();
        let mut building: Option<Building> = None;
        // A line's bytes, or `None` for one longer than `jsonl::MAX_LINE_BYTES` (skipped).
        let mut chunk: Vec<(u64, Option<Vec<u8>>)> = Vec::with_capacity(CHUNK_LINES);
        let mut eof = false;
        while !eof {
            chunk.clear();
            while chunk.len() < CHUNK_LINES {
                let mut line = Vec::with_capacity(1024);
                let read = jsonl::read_line(&mut reader, &mut line).map_err(|e| {
                    format!("reading the source failed at line {}: {e}", line_no + 1)
                })?;
                let Some((n, too_long)) = read else {
                    eof = true;
                    break;
                };
                line_no += 1;
                offset += n;
                chunk.push((line_no, (!too_long).then_some(line)));
            }
            for checked in self.check_chunk(&chunk, op) {
                let ready = match checked {
                    Checked::Blank => continue,
                    Checked::Refused(r) => {
                        report.counts.read += 1;
                        self.refuse(report, watch, r);
                        continue;
                    }
                    Checked::Ready(ready) => {
                        report.counts.read += 1;
                        ready
                    }
                };
                let mut ready = match self.check_state(*ready, needs_consent, &mut first_seen) {
                    Ok(r) => r,
                    Err(r) => {
                        self.refuse(report, watch, r);
                        continue;
                    }
                };
                if in_flight.contains(&ready.contract.contract_code) {
                    report.counts.held += 1;
                    continue;
                }
                match self
                    .store
                    .accepted_fingerprint(&ready.contract.contract_code)
                    .map_err(|e| e.to_string())?
                {
                    Some(fp) if fp == ready.fingerprint => {
                        report.counts.unchanged += 1;
                    }
                    Some(_) => {
                        ready.contract.operation = UploadOperation::Changed;
                        pending.push(ready);
                    }
                    None => pending.push(ready),
                }
                if pending.len() >= self.config.batch_size {
                    let batch = std::mem::take(&mut pending);
                    if options.dry_run {
                        self.dry_batch(batch, &mut building, report, watch).await?;
                    } else {
                        self.send(batch, options, report, watch).await?;
                    }
                }
            }
            if last_report.elapsed() >= Duration::from_millis(200) {
                last_report = Instant::now();
                watch(Event::Read {
                    bytes: offset,
                    counts: &report.counts,
                });
            }
        }
        if !pending.is_empty() {
            if options.dry_run {
                self.dry_batch(pending, &mut building, report, watch)
                    .await?;
            } else {
                self.send(pending, options, report, watch).await?;
            }
        }
        finish_building(building.take(), report, watch).await?;
        watch(Event::Read {
            bytes: offset,
            counts: &report.counts,
        });
        Ok(())
    }

    fn refuse(
        &self,
        report: &mut RunReport,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
        refusal: Refusal,
    ) {
        report.counts.invalid += 1;
        watch(Event::Refused(&refusal));
        report.refusals.push(refusal);
    }

    /// [`Reporter::check_line`] of every line of `chunk`, in order, on two threads.
    fn check_chunk(
        &self,
        chunk: &[(u64, Option<Vec<u8>>)],
        op: &crate::contract::Operation,
    ) -> Vec<Checked> {
        // The lender's date, once a chunk: no accounting or issue date may pass it.
        let today = schedule::lender_today();
        let check = |part: &[(u64, Option<Vec<u8>>)]| -> Vec<Checked> {
            part.iter()
                .map(|(line, bytes)| match bytes {
                    Some(bytes) => self.check_line(*line, bytes, op, today),
                    None => Checked::Refused(Refusal {
                        line: *line,
                        contract_code: None,
                        code: "malformed",
                        reason: jsonl::LINE_TOO_LONG.into(),
                    }),
                })
                .collect()
        };
        if chunk.len() < 64 {
            return check(chunk);
        }
        let (first, second) = chunk.split_at(chunk.len() / 2);
        std::thread::scope(|s| {
            let other = s.spawn(|| check(second));
            let mut out = check(first);
            match other.join() {
                Ok(rest) => out.extend(rest),
                // A panic in a check is a bug; the lines are checked again here rather than
                // lost.
                Err(_) => out.extend(check(second)),
            }
            out
        })
    }

    /// What one line can be judged on alone: validation, enforcement against the operation's
    /// `send` list, the subject index and the fingerprint.
    fn check_line(
        &self,
        line: u64,
        bytes: &[u8],
        op: &crate::contract::Operation,
        today: time::Date,
    ) -> Checked {
        let text = match jsonl::text(line, bytes) {
            Ok(t) => t,
            Err(reason) => {
                return Checked::Refused(Refusal {
                    line,
                    contract_code: None,
                    code: "malformed",
                    reason: reason.into(),
                });
            }
        };
        if text.is_empty() {
            return Checked::Blank;
        }
        let prepared = match source::prepare(line, text, &self.upload_codes, &self.config, today) {
            Ok(p) => p,
            Err(r) => return Checked::Refused(r),
        };
        let fields = match check_outgoing(&self.contracts, op, &prepared.payload) {
            Ok(f) => f,
            Err(d) => {
                return Checked::Refused(Refusal {
                    line,
                    contract_code: Some(prepared.contract.contract_code.clone()),
                    code: d.code(),
                    reason: d.to_string(),
                });
            }
        };
        Checked::Ready(Box::new(Ready {
            line,
            fingerprint: fingerprint(&prepared.payload),
            subject: self.log.subject_index(&prepared.contract.borrower.iin),
            contract: prepared.contract,
            fields,
        }))
    }

    /// What a line is judged on against the state, in line order: the borrower's consent
    /// (where the legal basis is consent) and a contract code seen before in this source.
    fn check_state(
        &self,
        ready: Ready,
        needs_consent: bool,
        first_seen: &mut HashMap<String, u64>,
    ) -> Result<Ready, Refusal> {
        let code = ready.contract.contract_code.clone();
        let refusal = |code_name: &'static str, reason: String| Refusal {
            line: ready.line,
            contract_code: Some(code.clone()),
            code: code_name,
            reason,
        };
        if needs_consent {
            let now = OffsetDateTime::now_utc();
            let subject = ready.subject;
            let consents = self
                .registry
                .consents_for(&subject)
                .map_err(|e| refusal("consent_missing", format!("the consent ledger: {e}")))?;
            if !consents
                .iter()
                .any(|c| c.covers(&subject, RECIPIENT, &self.config.purpose, now))
            {
                return Err(refusal(
                    "consent_missing",
                    "no valid consent of the borrower covers fcb for this purpose".into(),
                ));
            }
        }
        if let Some(first) = first_seen.get(&code) {
            return Err(refusal(
                "duplicate",
                format!("contract_code appears again (first on line {first})"),
            ));
        }
        first_seen.insert(code, ready.line);
        Ok(ready)
    }

    /// A dry run's batch: built and zipped on a blocking thread while the next lines are read
    /// (at most one batch in the making, so memory stays bounded); `building` holds it, and the
    /// one before is finished first.
    async fn dry_batch(
        &self,
        batch: Vec<Ready>,
        building: &mut Option<Building>,
        report: &mut RunReport,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<(), String> {
        finish_building(building.take(), report, watch).await?;
        let contracts: Vec<UploadContract> = batch.into_iter().map(|r| r.contract).collect();
        let codes = self.upload_codes.clone();
        report.counts.sent += contracts.len() as u64;
        *building = Some(tokio::task::spawn_blocking(move || {
            let xml = kuzet_fcb::build_records_xml(&codes, &contracts)
                .map_err(|e| format!("building a batch failed: {e}"))?;
            let zipped =
                kuzet_fcb::zip_records(&xml).map_err(|e| format!("zipping a batch failed: {e}"))?;
            Ok(BatchReport {
                id: None,
                records: contracts.len(),
                bureau_batch_id: None,
                transfer_id: None,
                accepted: 0,
                rejected: 0,
                zipped_bytes: zipped.len(),
                resumed: false,
            })
        }));
        Ok(())
    }

    /// One batch, from recording it to the bureau's final word (step 5).
    async fn send(
        &self,
        batch: Vec<Ready>,
        options: &RunOptions,
        report: &mut RunReport,
        watch: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<(), String> {
        let fields: BTreeSet<String> = batch
            .iter()
            .flat_map(|r| r.fields.iter().cloned())
            .collect();
        let run_id = report.run_id.unwrap_or(0);
        let records: Vec<store::BatchRecord> = batch
            .iter()
            .map(|r| store::BatchRecord {
                contract_code: r.contract.contract_code.clone(),
                operation: r.contract.operation.code(),
                fingerprint: r.fingerprint,
                subject: r.subject,
            })
            .collect();
        let codes: Vec<String> = records.iter().map(|r| r.contract_code.clone()).collect();
        let contracts: Vec<UploadContract> = batch.into_iter().map(|r| r.contract).collect();
        let id = self
            .store
            .create_batch(run_id, &records)
            .map_err(|e| e.to_string())?;
        crash_if(options, CrashPoint::AfterBuild);
        let transfer_id = Uuid::now_v7();
        let mut out = self.draft(transfer_id, Kind::Out, "ok");
        out.reference = Some(format!("report-run-{run_id}/batch-{id}"));
        out.fields = fields.into_iter().collect();
        out.upstream = std::iter::once(("report_batch".to_owned(), id.to_string()))
            .chain(
                codes
                    .iter()
                    .map(|c| ("contract_code".to_owned(), c.clone())),
            )
            .collect();
        if let Err(e) = self.log_entry(out).await {
            let _ = self.store.set_batch_state(
                id,
                BatchState::Abandoned,
                None,
                None,
                Some("not sent: the transfer log was unavailable"),
            );
            return Err(e);
        }
        self.store
            .set_batch_state(id, BatchState::Sending, Some(transfer_id), None, None)
            .map_err(|e| e.to_string())?;
        report.counts.sent += contracts.len() as u64;
        let started = Instant::now();
        let answer = self.fcb.upload_batch(&contracts, self.deadline()).await;
        let mut b = BatchReport {
            id: Some(id),
            records: contracts.len(),
            bureau_batch_id: None,
            transfer_id: Some(transfer_id),
            accepted: 0,
            rejected: 0,
            zipped_bytes: 0,
            resumed: false,
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let uncertain = upload_uncertain(&e);
                let (state, what) = if uncertain {
                    (
                        BatchState::Uncertain,
                        "the bureau's answer to the upload was lost; whether it received the \
                         file is unknown, so the next run sends these contracts again",
                    )
                } else {
                    (
                        BatchState::Failed,
                        "the bureau did not take the file; the next run sends these contracts \
                         again",
                    )
                };
                let _ = self
                    .store
                    .set_batch_state(id, state, None, None, Some(&e.to_string()));
                let mut inn = self.draft(transfer_id, Kind::In, &format!("error:{}", e.code()));
                inn.reference = Some(format!("report-run-{run_id}/batch-{id}"));
                inn.latency_ms = Some(started.elapsed().as_millis() as u64);
                let unlogged = match self.log_entry(inn).await {
                    Ok(()) => "",
                    Err(_) => " (and the failure's IN entry could not be logged)",
                };
                watch(Event::Batch(&b));
                report.batches.push(b);
                return Err(format!(
                    "batch {id}: upload failed ({}): {what}{unlogged}",
                    e.code()
                ));
            }
        };
        b.bureau_batch_id = Some(answer.batch_id.as_str().to_owned());
        b.zipped_bytes = answer.zipped_bytes;
        self.store
            .set_batch_state(
                id,
                BatchState::Uploaded,
                None,
                Some(answer.batch_id.as_str()),
                None,
            )
            .map_err(|e| e.to_string())?;
        crash_if(options, CrashPoint::AfterUpload);
        let result = self
            .poll(
                id,
                answer.batch_id.as_str(),
                transfer_id,
                &codes,
                options.crash_at,
                report,
                &mut b,
            )
            .await;
        watch(Event::Batch(&b));
        report.batches.push(b);
        match result {
            Ok(()) => Ok(()),
            Err(Stop::Run(why)) => Err(why),
            Err(Stop::Batch(why)) => {
                watch(Event::Note(&why));
                report.notes.push(why.clone());
                report.failure.get_or_insert(why);
                Ok(())
            }
        }
    }

    /// Polls an uploaded batch until the bureau's final word, with backoff, then records it.
    #[allow(clippy::too_many_arguments)]
    async fn poll(
        &self,
        id: i64,
        bureau_batch_id: &str,
        transfer_id: Uuid,
        codes: &[String],
        crash_at: Option<CrashPoint>,
        report: &mut RunReport,
        b: &mut BatchReport,
    ) -> Result<(), Stop> {
        use backon::{BackoffBuilder, ExponentialBuilder};
        let batch_id = kuzet_fcb::BatchId::new(bureau_batch_id)
            .map_err(|e| Stop::Batch(format!("batch {id}: {e}")))?;
        let mut pauses = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.config.poll_initial_ms))
            .with_max_delay(Duration::from_millis(self.config.poll_max_ms))
            .with_jitter()
            .without_max_times()
            .with_total_delay(Some(Duration::from_millis(self.config.poll_timeout_ms)))
            .build();
        let started = Instant::now();
        let status: BatchStatus = loop {
            match self
                .fcb
                .batch_status(&batch_id, self.deadline(), Retry::Safe)
                .await
            {
                Ok(s) if s.is_final() => break s,
                Ok(_) => {
                    if crash_at == Some(CrashPoint::WhilePolling) {
                        std::process::abort();
                    }
                }
                Err(e) => {
                    return Err(Stop::Run(format!(
                        "batch {id} (bureau batch {bureau_batch_id}): its status could not be \
                         read ({}); it stays uploaded and the next run polls it",
                        e.code()
                    )));
                }
            }
            match pauses.next() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => {
                    return Err(Stop::Batch(format!(
                        "batch {id} (bureau batch {bureau_batch_id}) is still being processed \
                         by the bureau; the next run polls it"
                    )));
                }
            }
        };
        let rejected: HashMap<&str, Vec<&str>> = status
            .messages
            .iter()
            .filter(|m| m.is_error())
            .fold(HashMap::new(), |mut acc, m| {
                if let Some(c) = m.contract_code.as_deref() {
                    acc.entry(c).or_default().push(m.message.as_str());
                }
                acc
            });
        // A rejection count above the records the messages name leaves the others unknown:
        // they are not taken as accepted (the next run sends them again).
        let unnamed = status
            .rejected
            .map(u64::from)
            .unwrap_or(0)
            .saturating_sub(rejected.len() as u64);
        let outcomes: Vec<(String, &'static str, Option<String>)> = codes
            .iter()
            .map(|c| match rejected.get(c.as_str()) {
                Some(msgs) => (c.clone(), "rejected", Some(msgs.join("; "))),
                None if unnamed > 0 => (c.clone(), "unconfirmed", None),
                None => (c.clone(), "accepted", None),
            })
            .collect();
        let count = |what: &str| outcomes.iter().filter(|(_, o, _)| *o == what).count() as u64;
        let (accepted, rejected_count) = (count("accepted"), count("rejected"));
        // The IN entry first: if it cannot be logged the batch stays `uploaded` and the next
        // run polls and logs it, so no incoming transfer goes unlogged.
        let mut inn = self.draft(transfer_id, Kind::In, "ok");
        inn.reference = Some(format!(
            "report-run-{}/batch-{id}",
            report.run_id.unwrap_or(0)
        ));
        inn.latency_ms = Some(started.elapsed().as_millis() as u64);
        let record = serde_json::json!({"upload_batch": {
            "id": status.batch_id.as_str(),
            "status_id": status.status_id,
            "status_name": status.status_name,
            "messages": status.messages.iter().map(|m| serde_json::json!({
                "type_name": m.kind, "description": m.message, "contract_code": m.contract_code,
            })).collect::<Vec<_>>(),
        }});
        if let Some(op) = self.contracts.operation(RECIPIENT, OPERATION) {
            let filtered = crate::contract::filter_incoming(op, record);
            inn.fields = filtered.kept_fields;
            inn.dropped = filtered.dropped;
        }
        inn.upstream = vec![
            (
                "bureau_batch_id".to_owned(),
                status.batch_id.as_str().to_owned(),
            ),
            ("status_id".to_owned(), status.status_id.to_string()),
            ("accepted".to_owned(), accepted.to_string()),
            ("rejected".to_owned(), rejected_count.to_string()),
        ];
        inn.upstream.extend(
            outcomes
                .iter()
                .filter(|(_, o, _)| *o == "rejected")
                .map(|(c, _, _)| ("rejected_contract".to_owned(), c.clone())),
        );
        self.log_entry(inn).await.map_err(Stop::Run)?;
        self.store
            .finalize_batch(id, &outcomes, Some(&status.status_name))
            .map_err(|e| Stop::Run(e.to_string()))?;
        b.accepted += accepted;
        b.rejected += rejected_count;
        report.counts.accepted += accepted;
        report.counts.rejected += rejected_count;
        report.rejections.extend(
            outcomes
                .into_iter()
                .filter(|(_, o, _)| *o == "rejected")
                .map(|(c, _, m)| (c, m.unwrap_or_default())),
        );
        if unnamed > 0 {
            let note = format!(
                "batch {id}: the bureau rejected {} records without naming them; those are not \
                 taken as accepted",
                status.rejected.unwrap_or(0)
            );
            report.notes.push(note.clone());
            report.failure.get_or_insert(note);
        }
        Ok(())
    }
}

/// A dry run's batch being built and zipped.
type Building = tokio::task::JoinHandle<Result<BatchReport, String>>;

async fn finish_building(
    building: Option<Building>,
    report: &mut RunReport,
    watch: &(dyn Fn(Event<'_>) + Send + Sync),
) -> Result<(), String> {
    let Some(task) = building else {
        return Ok(());
    };
    let b = task
        .await
        .map_err(|e| format!("building a batch failed: {e}"))??;
    watch(Event::Batch(&b));
    report.batches.push(b);
    Ok(())
}

fn crash_if(options: &RunOptions, point: CrashPoint) {
    if options.crash_at == Some(point) {
        // A test hook: die the way a killed process does, with no cleanup.
        std::process::abort();
    }
}
