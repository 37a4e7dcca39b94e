//! Online backup and restore of a data directory: `kuzet log backup` and `kuzet log restore`.
//!
//! # The archive
//!
//! One file, a plain tar (`tar tvf` lists it), with flat names and every entry mode 0600:
//!
//! ```text
//! kuzet-backup.json     the manifest (first): format, kuzet version, time, the log's last
//!                       seq and hash, its latest signed checkpoint, each file's size and SHA-256
//! reporting.sqlite      the bureau-reporting state (when there is one)
//! transfer-log.sqlite   the transfer log, its checkpoints and the wrapped body keys
//! registry.sqlite       clients, consents (evidence), idempotency reservations
//! master.key            without it the logged bodies are unreadable
//! checkpoint.key        without it no new checkpoint is signed under the published key
//! ```
//!
//! Each database is a consistent snapshot taken with SQLite's online backup API from a
//! read-only connection while the gateway runs and writes (the WAL lets a reader copy beside
//! the writer); each snapshot is one committed state of its database. Left out: the subject
//! index (`transfer-index.sqlite`, derived from the log and rebuilt by the gateway), the
//! reporting lock file, and the databases' `-wal`/`-shm` files (the snapshots hold their
//! committed content). The archive holds the keys: whoever has it can read every logged body.
//!
//! The databases are separate files written by separate transactions, so no copy of all three
//! is one instant; the order makes the references between them hold in the copy. The
//! reporting state is taken first, then the log: every batch the copy of the reporting state
//! records as sent has its OUT entry in the copy of the log (the entry is durable before the
//! batch is marked `sending`). The registry is taken last: every consent an entry in the copy
//! names is in the copy of the ledger (a consent is recorded before it is used and never
//! deleted).
//!
//! # Verified after
//!
//! Once written, the archive is read back: the manifest must come first and every file must
//! match its size and digest; then the snapshot of the log is verified in full (the chain and
//! every signed checkpoint, against the live data directory's checkpoint key) and must end
//! at the seq and hash the manifest names, and the other databases must pass SQLite's
//! integrity check. A restore does the same on what it unpacks before it puts anything in
//! place.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::transfer_log::checkpoint::{CHECKPOINT_KEY_FILE, CheckpointJson, data_dir_public_key};
use crate::transfer_log::{
    LogBackend, LogError, MASTER_KEY_FILE, SQLITE_FILE, SqliteBackend, VerifyError, VerifyOptions,
    VerifySummary, verify_data_dir_with,
};

/// The manifest's name in the archive (its first entry).
pub const MANIFEST_FILE: &str = "kuzet-backup.json";

/// The archive format this version writes and reads.
pub const FORMAT: &str = "kuzet-backup/1";

/// Pages copied per step of the online backup (4 MiB at SQLite's default 4 KiB pages).
const STEP_PAGES: i32 = 1024;

/// The pause between steps: the copy yields the disk and the CPU to the gateway's writer (whose
/// every commit is an fsync) between chunks. The writer never waits for this reader's lock
/// (WAL); the pause only spreads the copy's I/O, so it is short.
const STEP_PAUSE: Duration = Duration::from_millis(1);

/// The manifest is small; anything bigger is not one.
const MANIFEST_MAX_BYTES: u64 = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Sqlite,
    Key,
}

/// One file of the data directory that goes into a backup.
struct Part {
    name: &'static str,
    kind: PartKind,
    /// A data directory without it cannot be backed up.
    required: bool,
}

/// What a backup holds, in the order the snapshots are taken (see the module's comment).
const PARTS: [Part; 5] = [
    Part {
        name: crate::reporting::REPORTING_FILE,
        kind: PartKind::Sqlite,
        required: false,
    },
    Part {
        name: SQLITE_FILE,
        kind: PartKind::Sqlite,
        required: true,
    },
    Part {
        name: crate::registry::REGISTRY_FILE,
        kind: PartKind::Sqlite,
        required: false,
    },
    Part {
        name: MASTER_KEY_FILE,
        kind: PartKind::Key,
        required: false,
    },
    Part {
        name: CHECKPOINT_KEY_FILE,
        kind: PartKind::Key,
        required: false,
    },
];

fn part(name: &str) -> Option<&'static Part> {
    PARTS.iter().find(|p| p.name == name)
}

/// Files of a data directory a backup leaves out on purpose (besides the databases' own
/// `-wal`, `-shm` and `-journal` files), with the reason the manifest gives.
const LEFT_OUT: [(&str, &str); 2] = [
    (
        crate::transfer_log::subject_index::INDEX_FILE,
        "derived from the log; the gateway rebuilds it",
    ),
    (
        crate::reporting::LOCK_FILE,
        "held only while a reporting run goes",
    ),
];

/// The archive's first entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The version of kuzet that wrote it.
    pub kuzet_version: String,
    /// When the snapshots were taken (RFC 3339, UTC).
    pub created_at: String,
    /// The state of the log in the archive.
    pub log: LogState,
    /// Every other entry of the archive, in order.
    pub files: Vec<FileEntry>,
    /// Files of the data directory left out, each with the reason.
    pub left_out: Vec<String>,
}

/// The transfer log as the archive holds it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogState {
    /// The tip's seq (the log is gapless: also its number of entries); 0 when empty.
    pub last_seq: u64,
    /// The tip's hash (hex); zeros when empty.
    pub tip_hash: String,
    /// The latest signed checkpoint, as `kuzet log checkpoint` prints it (usable as a
    /// `--trusted-checkpoint` file).
    pub latest_checkpoint: Option<CheckpointJson>,
}

/// One file in the archive.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    /// SHA-256 of the content (hex).
    pub sha256: String,
}

/// What a written (or restored) backup holds, once verified.
#[derive(Clone, Debug)]
pub struct Verified {
    pub manifest: Manifest,
    /// The verification of the log's snapshot.
    pub log: VerifySummary,
    /// The archive's size in bytes.
    pub archive_bytes: u64,
    /// Files found in the data directory that this version does not know, hence left out.
    pub unknown: Vec<String>,
}

/// Why a backup or a restore did not happen. Messages name files and seqs, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error("{file}: {message}")]
    Sqlite { file: String, message: String },
    /// Writing the archive, or reading it back, failed.
    #[error("the archive: {0}")]
    ArchiveIo(io::Error),
    /// The data directory has no transfer log.
    #[error("no transfer log in {0} (give the gateway's data directory with --data or KUZET_DATA)")]
    NoLog(PathBuf),
    /// A restore goes only into an empty or new directory.
    #[error(
        "{0} is not an empty directory: a backup is restored only into an empty or new data \
         directory"
    )]
    NotEmpty(PathBuf),
    /// The archive is not one this version reads, or does not match its manifest.
    #[error("not a valid kuzet backup: {0}")]
    Archive(String),
    /// The snapshot of the log does not verify.
    #[error("the backup's transfer log does not verify: {0}")]
    Verify(VerifyError),
    /// Another database of the archive fails SQLite's integrity check.
    #[error("the backup's {file} fails SQLite's integrity check: {message}")]
    Integrity { file: String, message: String },
    #[error(transparent)]
    Log(#[from] LogError),
}

// By hand rather than `#[from]`: the message already holds the cause, which as a `source` too
// would be printed twice in an error chain.
impl From<VerifyError> for BackupError {
    fn from(e: VerifyError) -> BackupError {
        BackupError::Verify(e)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |error| BackupError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |e| BackupError::Sqlite {
        file: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes a backup of `data_dir` into `out` (an empty file open for reading and writing),
/// then reads it back and verifies it (see the module's comment). The snapshots are staged in
/// a private temporary directory under `scratch` (beside the archive, so on its file system)
/// and removed afterwards. On an error `out` holds no usable backup: the caller discards it.
pub fn write(data_dir: &Path, scratch: &Path, out: &mut File) -> Result<Verified, BackupError> {
    if !data_dir.join(SQLITE_FILE).is_file() {
        return Err(BackupError::NoLog(data_dir.to_path_buf()));
    }
    // The live key, read before anything: the copy must verify under the key the gateway
    // signs with, not only under the copy's own.
    let public_key = data_dir_public_key(data_dir)?;
    let staged = private_dir(scratch, ".kuzet-backup-")?;
    let created_at = OffsetDateTime::now_utc();
    let mut files = Vec::new();
    for part in &PARTS {
        let from = data_dir.join(part.name);
        if !from.is_file() {
            if part.required {
                return Err(BackupError::NoLog(data_dir.to_path_buf()));
            }
            continue;
        }
        let to = staged.path().join(part.name);
        match part.kind {
            PartKind::Sqlite => snapshot(&from, &to)?,
            PartKind::Key => copy_key(&from, &to)?,
        }
        files.push(part.name);
    }
    let log = log_state(staged.path())?;
    let mut entries = Vec::new();
    for name in files {
        let path = staged.path().join(name);
        let mut f = File::open(&path).map_err(io_err(&path))?;
        let (bytes, sha256) = digest(&mut f, &mut io::sink()).map_err(io_err(&path))?;
        entries.push(FileEntry {
            name: name.to_owned(),
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        kuzet_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: rfc3339(created_at),
        log,
        files: entries,
        left_out: LEFT_OUT
            .iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect(),
    };
    write_archive(out, &manifest, staged.path(), created_at)?;

    // Verified after: what the file holds, read back, must be what was staged...
    out.rewind().map_err(BackupError::ArchiveIo)?;
    let read_back = read_archive(out, None)?;
    if read_back != manifest {
        return Err(BackupError::Archive(
            "the manifest read back differs from the one written".into(),
        ));
    }
    let archive_bytes = out.metadata().map_err(BackupError::ArchiveIo)?.len();
    // ...and what was staged must verify.
    let log = verify_staged(staged.path(), &manifest, public_key)?;
    Ok(Verified {
        manifest,
        log,
        archive_bytes,
        unknown: unknown_files(data_dir)?,
    })
}

/// Restores the archive `from` into `data_dir`, which must be empty or not exist, then
/// verifies it (the same checks as after a backup; the checkpoints against `public_key`, by
/// default the archive's own `checkpoint.key`). Files are restored 0600, the directory
/// 0700. Nothing is put in place unless everything verifies; a directory the restore created
/// is removed again when it fails.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    public_key: Option<[u8; 32]>,
) -> Result<Verified, BackupError> {
    let mut archive = File::open(from).map_err(io_err(from))?;
    let archive_bytes = archive.metadata().map_err(io_err(from))?.len();
    let created = match std::fs::symlink_metadata(data_dir) {
        Ok(meta) => {
            let empty = meta.is_dir()
                && std::fs::read_dir(data_dir)
                    .map_err(io_err(data_dir))?
                    .next()
                    .is_none();
            if !empty {
                return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_dir)
                .map_err(io_err(data_dir))?;
            true
        }
        Err(e) => return Err(io_err(data_dir)(e)),
    };
    let result = restore_into(&mut archive, data_dir, public_key);
    if result.is_err() && created {
        // Only the empty directory this restore made (the staging area is gone by now).
        let _ = std::fs::remove_dir(data_dir);
    }
    let (manifest, log) = result?;
    Ok(Verified {
        manifest,
        log,
        archive_bytes,
        unknown: Vec::new(),
    })
}

fn restore_into(
    archive: &mut File,
    data_dir: &Path,
    public_key: Option<[u8; 32]>,
) -> Result<(Manifest, VerifySummary), BackupError> {
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io_err(data_dir))?;
    // Unpacked and verified inside the target itself (same file system, and the one place
    // the restoring user surely may write), then moved up into place.
    let staged = private_dir(data_dir, ".kuzet-restore-")?;
    let manifest = read_archive(archive, Some(staged.path()))?;
    let log = verify_staged(staged.path(), &manifest, public_key)?;
    let mut moved = Vec::new();
    for file in &manifest.files {
        let to = data_dir.join(&file.name);
        if let Err(e) = std::fs::rename(staged.path().join(&file.name), &to) {
            // All or nothing: what was moved already goes too.
            for path in moved {
                let _ = std::fs::remove_file(path);
            }
            return Err(io_err(&to)(e));
        }
        moved.push(to);
    }
    sync_dir(data_dir)?;
    drop(staged);
    Ok((manifest, log))
}

/// A new directory, mode 0700, removed when dropped.
fn private_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir, BackupError> {
    // tempfile creates directories 0700.
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(io_err(parent))
}

/// One consistent copy of the database at `from` into a new file `to`, through the online
/// backup API, from a read-only connection.
fn snapshot(from: &Path, to: &Path) -> Result<(), BackupError> {
    let src_err = sqlite_err(from);
    let dst_err = sqlite_err(to);
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&src_err)?;
    src.busy_timeout(Duration::from_secs(5)).map_err(&src_err)?;
    // One read transaction over every step: the copy is of the one state committed when it
    // began. Without it, each step reads the newest state, and any commit between two steps
    // restarts the copy from its first page, so that under a steady writer a database of more
    // than a few steps would never finish copying.
    src.execute_batch("BEGIN DEFERRED").map_err(&src_err)?;
    src.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(&src_err)?;
    let mut dst = Connection::open(to).map_err(&dst_err)?;
    // A scratch file: the archive is synced as a whole once written.
    dst.pragma_update(None, "synchronous", "OFF")
        .map_err(&dst_err)?;
    {
        let backup = Backup::new(&src, &mut dst).map_err(&dst_err)?;
        backup
            .run_to_completion(STEP_PAGES, STEP_PAUSE, None)
            .map_err(&src_err)?;
    }
    src.execute_batch("COMMIT").map_err(&src_err)?;
    drop(src);
    // The copy carries the source's WAL mode in its header; a rollback-journal file is one
    // self-contained file (the gateway turns WAL on again when it opens it).
    dst.pragma_update(None, "journal_mode", "DELETE")
        .map_err(&dst_err)?;
    dst.close().map_err(|(_, e)| dst_err(e))?;
    restrict(to)
}

/// Copies a key file; the copy is 0600.
fn copy_key(from: &Path, to: &Path) -> Result<(), BackupError> {
    let bytes = std::fs::read(from).map_err(io_err(from))?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(io_err(to))?;
    f.write_all(&bytes).map_err(io_err(to))
}

fn restrict(path: &Path) -> Result<(), BackupError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))
}

/// The tip and latest checkpoint of the staged log.
fn log_state(staged: &Path) -> Result<LogState, BackupError> {
    let mut log = SqliteBackend::open_read_only(staged)?;
    let (last_seq, tip) = log.tip()?.unwrap_or((0, [0; 32]));
    Ok(LogState {
        last_seq,
        tip_hash: hex::encode(tip),
        latest_checkpoint: log.latest_checkpoint()?.map(|c| c.to_json()),
    })
}

/// Streams `from` into `to`, returning its length and SHA-256 (hex).
fn digest(from: &mut impl Read, to: &mut impl Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

fn header(name: &str, bytes: u64, at: OffsetDateTime) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(bytes);
    h.set_mode(0o600);
    h.set_mtime(u64::try_from(at.unix_timestamp()).unwrap_or(0));
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

fn write_archive(
    out: &mut File,
    manifest: &Manifest,
    staged: &Path,
    at: OffsetDateTime,
) -> Result<(), BackupError> {
    let mut json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| BackupError::Archive(format!("manifest: {e}")))?;
    json.push(b'\n');
    let mut tar = tar::Builder::new(io::BufWriter::new(&mut *out));
    let result = (|| {
        tar.append(
            &header(MANIFEST_FILE, json.len() as u64, at)?,
            json.as_slice(),
        )?;
        for file in &manifest.files {
            let f = File::open(staged.join(&file.name))?;
            tar.append(&header(&file.name, file.bytes, at)?, f)?;
        }
        tar.into_inner()?.flush()
    })();
    result.map_err(BackupError::ArchiveIo)
}

/// Reads an archive: the manifest first, then every file it lists, each checked against its
/// size and digest. With `into`, the files are written there (0600); without, only checked.
fn read_archive(archive: &mut File, into: Option<&Path>) -> Result<Manifest, BackupError> {
    let bad = |m: String| BackupError::Archive(m);
    // The tar crate's header complaints (kind `Other`) quote the header's name field, which in
    // a file that is not an archive is its first bytes, whatever they hold: those are left
    // out. A read error of the file itself keeps its reason.
    let tar_error = |what: &str, e: io::Error| match e.kind() {
        io::ErrorKind::Other => bad(what.to_owned()),
        _ => bad(format!("{what} ({e})")),
    };
    let mut tar = tar::Archive::new(io::BufReader::new(archive));
    let mut entries = tar
        .entries()
        .map_err(|e| tar_error("not a tar archive", e))?;
    let mut first = entries
        .next()
        .ok_or_else(|| bad("the archive is empty".into()))?
        .map_err(|e| tar_error("not a tar archive", e))?;
    if entry_name(&first).as_deref() != Some(MANIFEST_FILE) || first.size() > MANIFEST_MAX_BYTES {
        return Err(bad(format!("its first entry is not {MANIFEST_FILE}")));
    }
    let mut json = Vec::new();
    first
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("{MANIFEST_FILE}: {e}")))?;
    drop(first);
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|e| bad(format!("{MANIFEST_FILE}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "format {:?}, this version reads {FORMAT:?}",
            manifest.format
        )));
    }
    let mut seen = BTreeSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_error("a damaged entry", e))?;
        let name = entry_name(&entry).ok_or_else(|| bad("an entry with a bad name".into()))?;
        let Some(listed) = manifest.files.iter().find(|f| f.name == name) else {
            return Err(bad(format!("{name} is not in the manifest")));
        };
        if part(&name).is_none() || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("{name} is not a file a backup holds")));
        }
        if !seen.insert(name.clone()) {
            return Err(bad(format!("{name} appears twice")));
        }
        let (bytes, sha256) = match into {
            Some(dir) => {
                let path = dir.join(&name);
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let got = digest(&mut entry, &mut f).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                got
            }
            None => digest(&mut entry, &mut io::sink())
                .map_err(|e| bad(format!("{name}: cannot be read ({e})")))?,
        };
        if bytes != listed.bytes || sha256 != listed.sha256 {
            return Err(bad(format!(
                "{name} does not match the size and SHA-256 its manifest gives (damaged or \
                 altered)"
            )));
        }
    }
    if let Some(missing) = manifest.files.iter().find(|f| !seen.contains(&f.name)) {
        return Err(bad(format!(
            "{} is in the manifest but not in the archive (truncated?)",
            missing.name
        )));
    }
    if !seen.contains(SQLITE_FILE) {
        return Err(bad(format!("it holds no {SQLITE_FILE}")));
    }
    Ok(manifest)
}

/// A tar entry's name when it is a plain file name (no directory, nothing relative).
fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> Option<String> {
    let path = entry.path().ok()?;
    let mut parts = path.components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(name)), None) => name.to_str().map(str::to_owned),
        _ => None,
    }
}

/// The full verification of a staged data directory against its manifest.
fn verify_staged(
    staged: &Path,
    manifest: &Manifest,
    public_key: Option<[u8; 32]>,
) -> Result<VerifySummary, BackupError> {
    let summary = verify_data_dir_with(
        staged,
        VerifyOptions {
            public_key,
            trusted: Vec::new(),
        },
    )?;
    if summary.last_seq != manifest.log.last_seq
        || hex::encode(summary.tip_hash) != manifest.log.tip_hash
    {
        return Err(BackupError::Archive(format!(
            "the log ends at seq {} but the manifest says seq {}",
            summary.last_seq, manifest.log.last_seq
        )));
    }
    for file in &manifest.files {
        if file.name != SQLITE_FILE && part(&file.name).is_some_and(|p| p.kind == PartKind::Sqlite)
        {
            integrity_check(&staged.join(&file.name))?;
        }
    }
    Ok(summary)
}

fn integrity_check(path: &Path) -> Result<(), BackupError> {
    let err = sqlite_err(path);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&err)?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(&err)?;
    if result != "ok" {
        return Err(BackupError::Integrity {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            message: result,
        });
    }
    Ok(())
}

/// Files in the data directory that no backup takes and none leaves out on purpose: a newer
/// feature's state this version does not know, worth a word to the operator.
fn unknown_files(data_dir: &Path) -> Result<Vec<String>, BackupError> {
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(data_dir).map_err(io_err(data_dir))? {
        let entry = entry.map_err(io_err(data_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = ["-wal", "-shm", "-journal"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        let known = part(base).is_some() || LEFT_OUT.iter().any(|(n, _)| *n == base);
        if !known {
            unknown.push(name);
        }
    }
    unknown.sort();
    Ok(unknown)
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_of_known_parts_are_restored() {
        assert!(part("transfer-log.sqlite").is_some());
        assert!(part("../transfer-log.sqlite").is_none());
        assert!(part("transfer-index.sqlite").is_none());
    }

    #[test]
    fn unknown_files_skip_the_known_and_their_journals() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "transfer-log.sqlite",
            "transfer-log.sqlite-wal",
            "transfer-index.sqlite-shm",
            "reporting.lock",
            "something-new.sqlite",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        assert_eq!(
            unknown_files(dir.path()).expect("list"),
            vec!["something-new.sqlite".to_owned()]
        );
    }
}
