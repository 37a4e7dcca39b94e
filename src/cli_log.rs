//! `kuzet log query`, `kuzet log export` and `kuzet log subject-report`: the auditors'
//! read-only commands over a data directory. They open the transfer log, the consent ledger
//! and the reporting state read-only, so they run beside a serving gateway; they never create
//! a master key, a database or any other file in the data directory. An IIN given to them is
//! turned into the subject index at once and appears nowhere in their output but masked.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kuzet::audit::{self, ExportFormat, ReportSources};
use kuzet::transfer_log::query::{self, CSV_HEADER, MAX_PAGE};
use std::sync::Arc;

use kuzet::db::Pg;
use kuzet::transfer_log::{Keys, Kind, LogBackend, Query};
use kuzet_ident::Iin;
use time::OffsetDateTime;
use uuid::Uuid;

/// Parses `--iin` without ever repeating the value in the error (clap's own parsers quote it).
#[derive(Clone, Copy, Debug)]
pub struct IinParser;

impl clap::builder::TypedValueParser for IinParser {
    type Value = Iin;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Iin, clap::Error> {
        let name = arg.map_or("--iin".to_owned(), |a| format!("--{}", a.get_id()));
        let reason = match value.to_str().map(Iin::parse) {
            Some(Ok(iin)) => return Ok(iin),
            Some(Err(e)) => e.to_string(),
            None => "must be exactly 12 digits".to_owned(),
        };
        let mut cmd = cmd.clone();
        Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!(
                "the value of {name} is not a valid IIN: {reason} (the value is not repeated here)"
            ),
        )
        .format(&mut cmd))
    }
}

/// The filters `log query` and `log export` share; every one given must hold.
#[derive(Args, Debug, Clone)]
pub struct Filters {
    /// Entries about this subject (the IIN is turned into the log's subject index; it is
    /// never printed).
    #[arg(long, value_parser = IinParser)]
    iin: Option<Iin>,
    /// The recipient key (fcb, gcvp, traffic).
    #[arg(long, value_parser = query::parse_key)]
    recipient: Option<String>,
    /// The operation key (credit-report, contract-upload, income, vehicle, user-mark).
    #[arg(long, value_parser = query::parse_key)]
    operation: Option<String>,
    /// out | in | denied | erasure
    #[arg(long, value_parser = query::parse_kind)]
    kind: Option<Kind>,
    /// The API client (or job) that caused the transfer.
    #[arg(long)]
    caller: Option<String>,
    /// The outcome, or its part before ':' (`error` matches `error:timeout`).
    #[arg(long)]
    outcome: Option<String>,
    /// The purpose key (contract_performance, ...).
    #[arg(long, value_parser = query::parse_key)]
    purpose: Option<String>,
    /// One transfer's entries (its UUID).
    #[arg(long = "transfer", value_parser = query::parse_transfer_id)]
    transfer: Option<Uuid>,
    /// Entries at or after this time (RFC 3339, or YYYY-MM-DD for that day's midnight UTC).
    #[arg(long, value_parser = query::parse_instant)]
    since: Option<OffsetDateTime>,
    /// Entries before this time (RFC 3339, or YYYY-MM-DD for that day's midnight UTC).
    #[arg(long, value_parser = query::parse_instant)]
    until: Option<OffsetDateTime>,
}

/// `log query --format`.
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueryFormat {
    /// Aligned columns; the next page's cursor on stderr.
    #[default]
    Table,
    /// The page object: {"entries": [...], "next_cursor": "..." | null}.
    Json,
    /// The CSV header, then one record per entry.
    Csv,
}

/// `log export --format`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFileFormat {
    /// JSON Lines: one entry object per line.
    Jsonl,
    /// The CSV header, then one record per entry.
    Csv,
}

/// `log subject-report --format`.
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// Plain text for the person who asked.
    #[default]
    Text,
    /// The same content as a stable JSON object.
    Json,
}

/// The data directory must exist already: the read-only commands never create one.
fn existing_data_dir(data: &Path) -> anyhow::Result<()> {
    if !data.is_dir() {
        bail!(
            "no data directory at {} (give the gateway's with --data or KUZET_DATA)",
            data.display()
        );
    }
    Ok(())
}

/// The transfer log, read-only (PostgreSQL's when the replicas share one).
fn open_log(data: &Path, pg: Option<&Arc<Pg>>) -> anyhow::Result<Box<dyn LogBackend>> {
    existing_data_dir(data)?;
    crate::cli_db::log_reader(data, pg)
}

/// The existing master key (for the subject index); never creates one.
fn open_keys(data: &Path) -> anyhow::Result<Keys> {
    Keys::open_existing(data).with_context(|| {
        format!(
            "cannot read the master key of {} (needed to find a subject)",
            data.display()
        )
    })
}

impl Filters {
    /// What makes these filters contradict themselves ([`query::empty_range`]).
    pub fn contradiction(&self) -> Option<&'static str> {
        query::empty_range(self.since, self.until)
            .then_some("--until must be later than --since (the range is since ≤ at < until)")
    }

    fn to_query(&self, data: &Path) -> anyhow::Result<Query> {
        let subject = match &self.iin {
            Some(iin) => Some(open_keys(data)?.subject_index(iin)),
            None => None,
        };
        Ok(Query {
            subject,
            recipient: self.recipient.clone(),
            operation: self.operation.clone(),
            kind: self.kind,
            caller: self.caller.clone(),
            outcome: self.outcome.clone(),
            purpose: self.purpose.clone(),
            transfer_id: self.transfer,
            since: self.since,
            until: self.until,
            cursor: None,
            order: Default::default(),
        })
    }
}

/// `kuzet log query`: one page, newest first.
pub fn query(
    data: &Path,
    pg: Option<&Arc<Pg>>,
    filters: &Filters,
    limit: usize,
    cursor: Option<u64>,
    format: QueryFormat,
) -> anyhow::Result<ExitCode> {
    let mut log = open_log(data, pg)?;
    let mut q = filters.to_query(data)?;
    q.cursor = cursor;
    let page = query::search(&mut *log, &q, limit.min(MAX_PAGE))
        .with_context(|| format!("cannot read the transfer log in {}", data.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &page)?;
            writeln!(out)?;
        }
        QueryFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(CSV_HEADER)?;
            for e in &page.entries {
                w.write_record(e.csv_record())?;
            }
            w.flush()?;
        }
        QueryFormat::Table => {
            let header = [
                "SEQ",
                "AT (UTC)",
                "KIND",
                "RECIPIENT",
                "OPERATION",
                "CALLER",
                "PURPOSE",
                "OUTCOME",
                "TRANSFER",
            ];
            let rows: Vec<[String; 9]> = page
                .entries
                .iter()
                .map(|e| {
                    [
                        e.seq.to_string(),
                        e.at.clone(),
                        e.kind.as_str().to_owned(),
                        e.recipient.clone(),
                        e.operation.clone(),
                        e.caller.clone(),
                        e.purpose.clone().unwrap_or_else(|| "-".to_owned()),
                        e.outcome.clone(),
                        e.transfer_id.to_string(),
                    ]
                })
                .collect();
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
                let mut text = String::new();
                for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                    if i == 0 {
                        text.push_str(&format!("{cell:>w$}"));
                    } else if i == cells.len() - 1 {
                        text.push_str(&format!("  {cell}"));
                    } else {
                        text.push_str(&format!("  {cell:<w$}"));
                    }
                }
                writeln!(out, "{text}")
            };
            line(&mut out, &header)?;
            for row in &rows {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                line(&mut out, &cells)?;
            }
        }
    }
    out.flush()?;
    drop(out);
    if format != QueryFormat::Json {
        if let Some(c) = &page.next_cursor {
            eprintln!("more entries: next page with --cursor {c}");
        } else if page.entries.is_empty() {
            eprintln!("no matching entries");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kuzet log export`: every matching entry, oldest first, streamed into a temporary file
/// beside `out` that is renamed to `out` only once it is complete and synced, so a failed
/// export never leaves a partial file. An existing `out` is replaced only with `force`.
/// `out` `-` writes to stdout instead.
pub fn export(
    data: &Path,
    pg: Option<&Arc<Pg>>,
    filters: &Filters,
    format: ExportFileFormat,
    out: &Path,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let mut log = open_log(data, pg)?;
    let q = filters.to_query(data)?;
    let format = match format {
        ExportFileFormat::Jsonl => ExportFormat::Jsonl,
        ExportFileFormat::Csv => ExportFormat::Csv,
    };
    let tip = log
        .tip()
        .with_context(|| format!("cannot read the transfer log in {}", data.display()))?
        .map_or(0, |t| t.0);
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(tip);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} seq {pos}/{len}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut progress = |seq: u64| bar.set_position(seq);

    if out == Path::new("-") {
        let mut stdout = std::io::stdout();
        let summary = audit::export(&mut *log, &q, format, &mut stdout, &mut progress)
            .context("the export failed")?;
        bar.finish_and_clear();
        eprintln!("exported {} entries to stdout", summary.entries);
        return Ok(ExitCode::SUCCESS);
    }

    let summary = write_file(out, force, |file| {
        audit::export(&mut *log, &q, format, file, &mut progress)
            .with_context(|| format!("the export to {} failed", out.display()))
    })?;
    bar.finish_and_clear();
    outln!("exported {} entries to {}", summary.entries, out.display());
    Ok(ExitCode::SUCCESS)
}

/// `kuzet log subject-report`: everything sent or received about one subject (policy 9.1).
pub fn subject_report(
    data: &Path,
    pg: Option<&Arc<Pg>>,
    contracts_dir: &Path,
    iin: &Iin,
    format: ReportFormat,
) -> anyhow::Result<ExitCode> {
    let mut log = open_log(data, pg)?;
    let keys = open_keys(data)?;
    let (contracts, _) = kuzet::app::load_contracts(contracts_dir)?;
    let (registry, uploads): (Option<Box<dyn kuzet::registry::Registry>>, _) = match pg {
        Some(pg) => (
            Some(Box::new(kuzet::db::registry::PgRegistry::new(pg.clone()))),
            Some(kuzet::reporting::ReportStore::open_postgres(pg.clone())),
        ),
        None => (
            kuzet::registry::SqliteRegistry::open_read_only(data)
                .with_context(|| format!("cannot read the consent ledger in {}", data.display()))?
                .map(|r| Box::new(r) as Box<dyn kuzet::registry::Registry>),
            kuzet::reporting::ReportStore::open_read_only(data)?,
        ),
    };
    let report = audit::subject_report(
        ReportSources {
            log: &mut *log,
            contracts: &contracts,
            consents: registry.as_deref(),
            uploads: uploads.as_ref(),
        },
        keys.subject_index(iin),
        iin.masked(),
        OffsetDateTime::now_utc(),
    )
    .context("cannot build the subject report")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        ReportFormat::Text => out.write_all(report.to_text().as_bytes())?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `out` whole or not at all: through a temporary file beside it (mode 0600), synced,
/// then renamed into place. Only a regular file is ever replaced, and only with `force`.
pub fn write_file<R>(
    out: &Path,
    force: bool,
    write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<R>,
) -> anyhow::Result<R> {
    // Only a regular file is ever replaced: renaming over a device, a pipe or a symlink
    // would replace the thing itself (as root, /dev/null); `--out -` serves those.
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if !meta.file_type().is_file() {
            bail!(
                "{} exists and is not a regular file; give a new file name",
                out.display()
            );
        }
        if !force {
            bail!(
                "{} exists already; pass --force to replace it",
                out.display()
            );
        }
    }
    let name = out
        .file_name()
        .with_context(|| format!("{} names no file", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    // Created 0600: an export describes people's transfers, it is for its owner only.
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".partial")
        .tempfile_in(&parent)
        .map_err(|e| {
            // tempfile's message ends with " at path …" naming its random file; the folder
            // and the reason are what the user needs.
            let message = e.to_string();
            let reason = message.split(" at path ").next().unwrap_or(&message);
            anyhow::anyhow!("cannot write in {}: {reason}", parent.display())
        })?;
    let result = write(tmp.as_file_mut())?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot sync {}", tmp.path().display()))?;
    let persisted = if force {
        tmp.persist(out).map(drop)
    } else {
        tmp.persist_noclobber(out).map(drop)
    };
    // On failure the error owns the temporary file, which is removed when it drops.
    persisted.map_err(|e| anyhow::anyhow!("cannot create {}: {}", out.display(), e.error))?;
    if let Ok(dir) = std::fs::File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(result)
}
