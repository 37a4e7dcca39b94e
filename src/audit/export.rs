//! Exporting the transfer log: every entry a query matches, oldest first, as JSON Lines (one
//! [`EntryView`] object a line) or CSV ([`CSV_HEADER`], then one record an entry). Entries are
//! streamed from the backend to the writer one at a time, so memory stays constant whatever
//! the size of the log.

use std::io::Write;
use std::ops::ControlFlow;

use crate::transfer_log::query::CSV_HEADER;
use crate::transfer_log::{Entry, EntryView, LogBackend, Order, Query};

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

/// Entries handed from the reading thread to the writing one at a time.
const CHUNK: usize = 512;

/// Chunks in flight between the two threads: with [`CHUNK`], what bounds the export's memory.
const IN_FLIGHT: usize = 4;

/// Writes every entry `q` matches (its order is ignored: always oldest first; its cursor, when
/// set, starts after that seq) to `out`, calling `progress` with each entry's seq as it is
/// read. Reading (SQLite, decoding) and writing (the entry view, JSON or CSV, `out`) run on two
/// threads with a bounded queue of chunks between them, so memory stays constant. Stops at
/// the first read or write error. The caller decides where `out` goes (see `kuzet log export`,
/// which writes a temporary file and renames it only once everything was written).
pub fn export(
    backend: &mut dyn LogBackend,
    q: &Query,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
    progress: &mut dyn FnMut(u64),
) -> Result<ExportSummary, AuditError> {
    let q = Query {
        order: Order::OldestFirst,
        ..q.clone()
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Entry>>(IN_FLIGHT);
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("kuzet-export-writer".into())
            .spawn_scoped(scope, move || write_chunks(&rx, format, out))
            .map_err(AuditError::Write)?;
        let mut summary = ExportSummary::default();
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut tx = Some(tx);
        let read = backend.query(&q, &mut |e| {
            summary.entries += 1;
            summary.first_seq.get_or_insert(e.seq);
            summary.last_seq = Some(e.seq);
            progress(e.seq);
            chunk.push(e);
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                // The writer has stopped (a write error): it reports why.
                if tx.as_ref().is_none_or(|t| t.send(full).is_err()) {
                    tx = None;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if read.is_ok()
            && !chunk.is_empty()
            && let Some(t) = &tx
        {
            let _ = t.send(chunk);
        }
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the export writer panicked")));
        read?;
        written.map_err(AuditError::Write)?;
        Ok(summary)
    })
}

/// The writing half of [`export`]: every chunk until the reader hangs up, then a flush.
fn write_chunks(
    rx: &std::sync::mpsc::Receiver<Vec<Entry>>,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
) -> std::io::Result<()> {
    match format {
        ExportFormat::Jsonl => {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
            for chunk in rx {
                for e in &chunk {
                    serde_json::to_writer(&mut w, &EntryView::from(e))?;
                    w.write_all(b"\n")?;
                }
            }
            w.flush()
        }
        ExportFormat::Csv => {
            let mut w = csv::WriterBuilder::new()
                .buffer_capacity(1 << 16)
                .from_writer(out);
            w.write_record(CSV_HEADER).map_err(csv_io)?;
            for chunk in rx {
                for e in &chunk {
                    w.write_record(EntryView::from(e).csv_record())
                        .map_err(csv_io)?;
                }
            }
            w.flush()
        }
    }
}

/// The I/O error inside a CSV writer's error (writing strings cannot fail otherwise).
fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer_log::{Entry, Kind, SqliteBackend, StagedEntry, entry_hash};

    fn backend(n: u64) -> (tempfile::TempDir, SqliteBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = SqliteBackend::open(dir.path()).expect("open");
        let (mut prev, mut buf, mut staged) = ([0u8; 32], Vec::new(), Vec::new());
        for seq in 1..=n {
            let mut e = Entry {
                seq,
                transfer_id: uuid::Uuid::now_v7(),
                at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seq as i64),
                kind: Kind::Out,
                recipient: "fcb".into(),
                operation: "credit-report".into(),
                caller: "scoring".into(),
                purpose: None,
                legal_basis: None,
                consent_id: None,
                reference: Some(format!("a \"quoted\", {seq}")),
                subject: None,
                fields: vec!["subject.iin".into()],
                dropped: vec![],
                denied: vec![],
                body_digest: None,
                body: None,
                upstream: vec![],
                outcome: "sent".into(),
                latency_ms: None,
                prev_hash: prev,
                hash: [0; 32],
            };
            e.hash = entry_hash(&e, &mut buf);
            prev = e.hash;
            staged.push(StagedEntry::new(e));
        }
        b.append(&crate::transfer_log::Batch {
            entries: &staged,
            ..Default::default()
        })
        .expect("append");
        (dir, b)
    }

    #[test]
    fn oldest_first_whatever_the_query_order_and_from_the_cursor() {
        let (_dir, mut b) = backend(5);
        let q = Query {
            cursor: Some(2),
            ..Query::default()
        };
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let s = export(&mut b, &q, ExportFormat::Jsonl, &mut out, &mut |s| {
            seen.push(s)
        })
        .expect("export");
        assert_eq!(seen, [3, 4, 5]);
        assert_eq!(
            s,
            ExportSummary {
                entries: 3,
                first_seq: Some(3),
                last_seq: Some(5)
            }
        );
        let text = String::from_utf8(out).expect("utf-8");
        let seqs: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                    .as_u64()
                    .expect("seq")
            })
            .collect();
        assert_eq!(seqs, [3, 4, 5]);

        let mut out = Vec::new();
        export(
            &mut b,
            &Query::default(),
            ExportFormat::Csv,
            &mut out,
            &mut |_| {},
        )
        .expect("csv");
        let mut r = csv::Reader::from_reader(out.as_slice());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
        assert_eq!(rows.len(), 5);
        assert_eq!(&rows[4][10], "a \"quoted\", 5", "quotes and commas survive");
    }

    /// A writer that accepts `room` bytes, then fails like a full disk.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_failure_is_an_error_not_a_short_export() {
        let (_dir, mut b) = backend(3_000);
        for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
            let mut full = Full { room: 100_000 };
            let got = export(&mut b, &Query::default(), format, &mut full, &mut |_| {});
            assert!(
                matches!(got, Err(AuditError::Write(ref e)) if e.kind() == std::io::ErrorKind::StorageFull),
                "{format:?}: {got:?}"
            );
        }
    }
}
