//! `kuzet log backup` and `kuzet log restore` (the work is in `kuzet::backup`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use kuzet::backup::{self, Verified};

/// `kuzet log backup --out FILE [--force]`: the archive is written beside its final name and
/// renamed into place only once it verifies; it is created 0600 (it holds the keys).
pub fn backup(data: &Path, out: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if out == Path::new("-") {
        bail!("a backup is verified once written, so it goes to a file: give --out FILE");
    }
    if !data.is_dir() {
        bail!(
            "no data directory at {} (give the gateway's with --data or KUZET_DATA)",
            data.display()
        );
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let inside = |dir: &Path| -> anyhow::Result<bool> {
        let data = data
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", data.display()))?;
        Ok(dir
            .canonicalize()
            .with_context(|| format!("cannot write in {}", dir.display()))?
            .starts_with(data))
    };
    if inside(&parent)? {
        bail!(
            "{} is inside the data directory: write the backup elsewhere",
            out.display()
        );
    }
    let verified =
        crate::cli_log::write_file(out, force, |file| Ok(backup::write(data, &parent, file)?))
            .context("backup not written")?;
    outln!("{}", backup_line(out, &verified));
    for name in &verified.unknown {
        eprintln!(
            "note: {}/{name} is not a file this version backs up; it is not in the archive",
            data.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kuzet log restore --from FILE [--public-key HEX]` into `--data`, which must be empty or
/// new.
pub fn restore(data: &Path, from: &Path, public_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let key = crate::evidence_cli::public_key(public_key)?;
    let verified = backup::restore(from, data, key).context("nothing restored")?;
    let m = &verified.manifest;
    outln!(
        "restored {} (taken {} by kuzet {}) into {}: {}; files: {}",
        from.display(),
        m.created_at,
        m.kuzet_version,
        data.display(),
        log_part(&verified),
        names(&verified)
    );
    if key.is_none() {
        outln!(
            "compare the checkpoint key {} with the one the lender published (or pass \
             --public-key)",
            verified.log.public_key.map(hex::encode).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn backup_line(out: &Path, v: &Verified) -> String {
    format!(
        "backup written to {} ({}, verified): {}; with {} (it holds the keys: store it \
         encrypted)",
        out.display(),
        size(v.archive_bytes),
        log_part(v),
        names(v)
    )
}

fn log_part(v: &Verified) -> String {
    let s = &v.log;
    let checkpoints = match s.checkpoints {
        0 => "no signed checkpoints yet".to_owned(),
        n => format!(
            "{n} signed checkpoints (latest at seq {})",
            s.latest_checkpoint
        ),
    };
    format!(
        "transfer log {} entries, last seq {}, {checkpoints}",
        s.entries, s.last_seq
    )
}

fn names(v: &Verified) -> String {
    v.manifest
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
