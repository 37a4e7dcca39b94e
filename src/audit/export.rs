//! Exporting the transfer log: every entry a query matches, oldest first, as JSON Lines (one
//! [`EntryView`] object a line) or CSV ([`CSV_HEADER`], then one record an entry). Entries are
//! streamed from the backend to the writer one at a time, so memory stays constant whatever
//! the size of the log.

use std::io::Write;
use std::ops::ControlFlow;

use crate::transfer_log::query::CSV_HEADER;
use crate::transfer_log::{EntryView, LogBackend, Order, Query};

use super::AuditError;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line, the shape of the API's and `log query --format json`'s
    /// entries.
    Jsonl,
    /// `CSV_HEADER`, then one record per entry (lists joined with `;`).
    Csv,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    /// The first and last seq written (`None` when nothing matched).
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
}

/// Writes every entry `q` matches (its order is ignored: always oldest first; its cursor, when
/// set, starts after that seq) to `out`, calling `progress` with each entry's seq. Stops at the
/// first write error. The caller decides where `out` goes (see `kuzet log export`, which
/// writes a temporary file and renames it only once everything was written).
pub fn export(
    backend: &mut dyn LogBackend,
    q: &Query,
    format: ExportFormat,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<ExportSummary, AuditError> {
    let q = Query {
        order: Order::OldestFirst,
        ..q.clone()
    };
    let mut summary = ExportSummary::default();
    let mut failed: Option<std::io::Error> = None;
    let mut count = |summary: &mut ExportSummary, seq: u64| {
        summary.entries += 1;
        summary.first_seq.get_or_insert(seq);
        summary.last_seq = Some(seq);
        progress(seq);
    };
    match format {
        ExportFormat::Jsonl => {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
            backend.query(&q, &mut |e| {
                let view = EntryView::from(&e);
                let written = serde_json::to_writer(&mut w, &view)
                    .map_err(std::io::Error::from)
                    .and_then(|()| w.write_all(b"\n"));
                match written {
                    Ok(()) => {
                        count(&mut summary, e.seq);
                        ControlFlow::Continue(())
                    }
                    Err(err) => {
                        failed = Some(err);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if failed.is_none()
                && let Err(e) = w.flush()
            {
                failed = Some(e);
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::WriterBuilder::new()
                .buffer_capacity(1 << 16)
                .from_writer(out);
            w.write_record(CSV_HEADER)
                .map_err(|e| AuditError::Write(csv_io(e)))?;
            backend.query(
                &q,
                &mut |e| match w.write_record(EntryView::from(&e).csv_record()) {
                    Ok(()) => {
                        count(&mut summary, e.seq);
                        ControlFlow::Continue(())
                    }
                    Err(err) => {
                        failed = Some(csv_io(err));
                        ControlFlow::Break(())
                    }
                },
            )?;
            if failed.is_none()
                && let Err(e) = w.flush()
            {
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => Err(AuditError::Write(e)),
        None => Ok(summary),
    }
}

/// The I/O error inside a CSV writer's error (writing strings cannot fail otherwise).
fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}
