//! The evidence and erasure commands: `log verify` (with pinned keys and trusted checkpoints),
//! `log checkpoint`, `log proof`, `log verify-proof`, `retention apply`, `subjects erase`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kuzet::app::App;
use kuzet::transfer_log::checkpoint::CheckpointJson;
use kuzet::transfer_log::proof::{self, Proof};
use std::sync::Arc;

use kuzet::db::Pg;
use kuzet::transfer_log::VerifyOptions;

/// `--public-key`'s argument check, so that a bad key is a usage error (exit 2) like every
/// other bad argument; [`public_key`] then decodes it.
pub fn checked_public_key(hex_key: &str) -> Result<String, String> {
    public_key(Some(hex_key))
        .map(|_| hex_key.trim().to_owned())
        .map_err(|_| "expected the 64 hex digits of an Ed25519 public key".to_owned())
}

/// `--reference`'s argument check: the log keeps it and reports print it, so, as over HTTP,
/// at most 128 characters and no control character.
pub fn checked_reference(reference: &str) -> Result<String, String> {
    match kuzet::gateway::reference_problem(reference) {
        Some(problem) => Err(problem.to_owned()),
        None => Ok(reference.to_owned()),
    }
}

/// Parses `--public-key`.
pub fn public_key(hex_key: Option<&str>) -> anyhow::Result<Option<[u8; 32]>> {
    hex_key
        .map(|k| {
            hex::decode(k.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .context("--public-key: expected the 64 hex digits of an Ed25519 public key")
        })
        .transpose()
}

fn read_checkpoint(path: &Path) -> anyhow::Result<kuzet::transfer_log::Checkpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: CheckpointJson = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a checkpoint as `kuzet log checkpoint` prints it",
            path.display()
        )
    })?;
    json.parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `kuzet log verify`: exit 0 with a summary, 1 naming the first bad seq (or why the log
/// cannot be read).
pub fn verify(
    data: &Path,
    pg: Option<&Arc<Pg>>,
    key: Option<&str>,
    trusted: &[PathBuf],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let options = VerifyOptions {
        public_key: public_key(key)?,
        trusted: trusted
            .iter()
            .map(|p| read_checkpoint(p))
            .collect::<anyhow::Result<_>>()?,
    };
    let result = kuzet::transfer_log::verify_log(data, pg.cloned(), options);
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&kuzet::transfer_log::verify_json(&result))?
        );
        return Ok(if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    match result {
        Ok(summary) => {
            outln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `kuzet log checkpoint`: the latest signed checkpoint as JSON, to publish or hand over.
pub fn checkpoint(data: &Path, pg: Option<&Arc<Pg>>) -> anyhow::Result<ExitCode> {
    let mut b = crate::cli_db::log_reader(data, pg)?;
    match b.latest_checkpoint()? {
        Some(cp) => {
            outln!("{}", serde_json::to_string_pretty(&cp.to_json())?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "no signed checkpoint yet: the gateway signs one every \
                 log.checkpoint_every_entries entries or checkpoint_every_seconds, and on \
                 shutdown"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `kuzet log proof TRANSFER_ID --out FILE`.
pub fn make_proof(
    data: &Path,
    pg: Option<&Arc<Pg>>,
    id: uuid::Uuid,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let mut b = crate::cli_db::log_reader(data, pg)?;
    let proof = match proof::build(&mut *b, id) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // A proof can always be made again: an existing (regular) file is replaced.
    crate::cli_log::write_file(out, true, |file| {
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, &proof)?;
        w.write_all(b"\n")?;
        w.flush()?;
        Ok(())
    })?;
    outln!(
        "wrote the proof of transfer {id} ({} entries, chain seq {}..{}, checkpoint at seq {}) \
         to {}",
        proof.entries.len(),
        proof.segment.first().map_or(0, |r| r.seq),
        proof.segment.last().map_or(0, |r| r.seq),
        proof.checkpoint.seq,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `kuzet log verify-proof FILE [--public-key HEX]`: offline, no data dir needed.
pub fn verify_proof(file: &Path, key: Option<&str>) -> anyhow::Result<ExitCode> {
    let key = public_key(key)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let proof: Proof = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "proof REJECTED: {} is not a kuzet transfer proof ({})",
                file.display(),
                e
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    match proof::verify_proof(&proof, key) {
        Ok(summary) => {
            outln!("{summary}");
            if key.is_none() {
                outln!("compare the key with the one the lender published (or pass --public-key)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            eprintln!("proof REJECTED: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `kuzet retention apply [--dry-run] [--json]`.
pub async fn retention_apply(app: App, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let contracts = app.gateway.contracts().clone();
    let report = kuzet::retention::apply(
        app.gateway.log(),
        contracts,
        time::OffsetDateTime::now_utc(),
        dry_run,
    )
    .await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if dry_run {
            "would destroy"
        } else {
            "destroyed"
        };
        let n = if dry_run {
            report.expired
        } else {
            report.destroyed
        };
        let plural =
            |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        outln!(
            "retention: {} {} with readable bodies; {verb} the body keys of {n} whose \
             retention ended{}",
            report.subjects,
            plural(report.subjects, "subject", "subjects"),
            report
                .next_due
                .as_deref()
                .map(|d| format!("; next due {d}"))
                .unwrap_or_default()
        );
        if report.kept_unknown > 0 {
            outln!(
                "kept {} {} of operations without a retention in the contracts",
                report.kept_unknown,
                plural(report.kept_unknown, "body", "bodies")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kuzet subjects erase --iin IIN [--reference REF]`: a client's erasure request.
pub async fn erase(
    app: App,
    iin: &kuzet_ident::Iin,
    reference: Option<String>,
) -> anyhow::Result<ExitCode> {
    let log = app.gateway.log();
    let caller = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let (entry, existed) = log
        .erase(
            log.subject_index(iin),
            "erasure-request",
            &caller,
            reference,
        )
        .await?;
    if existed {
        outln!(
            "erased: the body key of subject {iin} is destroyed; the bodies logged about them \
             can no longer be read by anyone (the entries and the chain remain); recorded as \
             seq {}",
            entry.seq
        );
    } else {
        outln!(
            "nothing to destroy: subject {iin} has no body key (no body was logged, or it was \
             erased before); the request is recorded as seq {}",
            entry.seq
        );
    }
    Ok(ExitCode::SUCCESS)
}
