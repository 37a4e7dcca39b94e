//! Signed checkpoints: an Ed25519 signature over `(seq, hash, time)` of the chain, made by the
//! writer every N entries, every B bytes of bodies or every T seconds, stored beside the log.
//! Published (`kuzet log checkpoint`) or handed to an auditor, a checkpoint pins the log's state
//! outside the gateway: a later rewrite of any entry up to its seq, or entries cut off the end,
//! no longer match it.
//!
//! The signing key is `DATA_DIR/checkpoint.key` (the 32-byte Ed25519 seed, mode 0600), created
//! on first use. The signed message is
//!
//! ```text
//! "kuzet checkpoint v1" 0x00   domain tag (20 bytes)
//! seq                          u64 big-endian
//! hash                         the entry's 32-byte chain hash
//! at                           i64 big-endian, UTC microseconds since the Unix epoch
//! ```
//!
//! This module must never sign a hash that is not the stored hash of the entry at `seq`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::LogError;
use super::entry::{from_micros, micros};
use super::query::{format_instant, parse_instant};

/// The checkpoint key's file name inside the data directory.
pub const CHECKPOINT_KEY_FILE: &str = "checkpoint.key";

const TAG: &[u8; 20] = b"kuzet checkpoint v1\0";

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    /// The chain hash of the entry at `seq`.
    pub hash: [u8; 32],
    /// When it was signed (UTC, microseconds).
    pub at: OffsetDateTime,
    /// The Ed25519 public key that signed it.
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// The message a checkpoint's signature covers.
pub fn signed_message(seq: u64, hash: &[u8; 32], at: OffsetDateTime) -> [u8; 68] {
    let mut m = [0u8; 68];
    m[..20].copy_from_slice(TAG);
    m[20..28].copy_from_slice(&seq.to_be_bytes());
    m[28..60].copy_from_slice(hash);
    m[60..].copy_from_slice(&micros(at).to_be_bytes());
    m
}

impl Checkpoint {
    /// Whether the signature is valid for `(seq, hash, at)` under `key`.
    pub fn verify_with(&self, key: &[u8; 32]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(key) else {
            return false;
        };
        key.verify(
            &signed_message(self.seq, &self.hash, self.at),
            &Signature::from_bytes(&self.signature),
        )
        .is_ok()
    }

    /// Whether the signature is valid under the checkpoint's own public key (a forged or
    /// altered checkpoint fails; whether the key is the right one is a separate question).
    pub fn verify(&self) -> bool {
        self.verify_with(&self.public_key)
    }

    /// The JSON form that `kuzet log checkpoint` prints and proofs carry.
    pub fn to_json(&self) -> CheckpointJson {
        CheckpointJson {
            seq: self.seq,
            hash: hex::encode(self.hash),
            at: format_instant(self.at),
            public_key: hex::encode(self.public_key),
            signature: hex::encode(self.signature),
        }
    }
}

/// A checkpoint as JSON: hashes, keys and the signature in hex, the time in RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointJson {
    pub seq: u64,
    pub hash: String,
    pub at: String,
    pub public_key: String,
    pub signature: String,
}

pub(crate) fn hex_array<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = hex::decode(s).map_err(|_| format!("{what}: not hex"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{what}: expected {N} bytes"))
}

impl CheckpointJson {
    /// The checkpoint it describes (the signature is not checked here).
    pub fn parse(&self) -> Result<Checkpoint, String> {
        let at = parse_instant(&self.at).map_err(|e| format!("at: {e}"))?;
        // Stored instants are whole microseconds; a longer fraction cannot be the signed one.
        let at = from_micros(micros(at)).ok_or("at: out of range")?;
        Ok(Checkpoint {
            seq: self.seq,
            hash: hex_array(&self.hash, "hash")?,
            at,
            public_key: hex_array(&self.public_key, "public_key")?,
            signature: hex_array(&self.signature, "signature")?,
        })
    }
}

/// When the writer signs a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// After this many entries since the last checkpoint.
    pub every_entries: u64,
    /// After this many bytes of bodies since the last checkpoint (keeps proofs small).
    pub every_bytes: u64,
    /// When entries were appended and this long has passed since the last checkpoint.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_entries: 1000,
            every_bytes: 1 << 20,
            every: Duration::from_secs(10),
        }
    }
}

/// The writer's signing key.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CheckpointSigner({})",
            hex::encode(self.key.verifying_key().as_bytes())
        )
    }
}

impl CheckpointSigner {
    /// Loads `DATA_DIR/checkpoint.key`, creating a new random key (mode 0600) on first use.
    /// Refuses a key file that group or others may access.
    pub fn open(data_dir: &Path) -> Result<CheckpointSigner, LogError> {
        let path = data_dir.join(CHECKPOINT_KEY_FILE);
        let io = |source| LogError::Io {
            path: path.clone(),
            source,
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed)
                    .map_err(|e| LogError::Keys(format!("no randomness: {e}")))?;
                f.write_all(&seed).map_err(io)?;
                f.sync_all().map_err(io)?;
                if let Ok(dir) = std::fs::File::open(data_dir) {
                    let _ = dir.sync_all();
                }
                Ok(CheckpointSigner {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(CheckpointSigner {
                key: SigningKey::from_bytes(&read_seed(&path)?),
            }),
            Err(e) => Err(io(e)),
        }
    }

    /// A signer over a given seed (tests).
    pub fn from_seed(seed: &[u8; 32]) -> CheckpointSigner {
        CheckpointSigner {
            key: SigningKey::from_bytes(seed),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `(seq, hash, at)`.
    pub fn sign(&self, seq: u64, hash: [u8; 32], at: OffsetDateTime) -> Checkpoint {
        Checkpoint {
            seq,
            hash,
            at,
            public_key: self.public_key(),
            signature: self.key.sign(&signed_message(seq, &hash, at)).to_bytes(),
        }
    }
}

fn read_seed(path: &Path) -> Result<[u8; 32], LogError> {
    let io = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mode = f.metadata().map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(LogError::Keys(format!(
            "{} has mode {:o}: group or others may access it; it must be 0600",
            path.display(),
            mode & 0o777
        )));
    }
    let mut seed = Vec::new();
    f.read_to_end(&mut seed).map_err(io)?;
    seed.try_into()
        .map_err(|_| LogError::Keys(format!("{} is not a 32-byte key", path.display())))
}

/// The public key of `DATA_DIR/checkpoint.key`, `None` when there is none (never creates it).
pub fn data_dir_public_key(data_dir: &Path) -> Result<Option<[u8; 32]>, LogError> {
    let path = data_dir.join(CHECKPOINT_KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let seed = read_seed(&path)?;
    Ok(Some(
        SigningKey::from_bytes(&seed).verifying_key().to_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_seq_hash_and_time() {
        let s = CheckpointSigner::from_seed(&[7; 32]);
        let at = super::super::entry::now_micros();
        let cp = s.sign(42, [1; 32], at);
        assert!(cp.verify());
        assert!(cp.verify_with(&s.public_key()));
        let other = CheckpointSigner::from_seed(&[8; 32]);
        assert!(!cp.verify_with(&other.public_key()));
        for edit in [
            |c: &mut Checkpoint| c.seq += 1,
            |c: &mut Checkpoint| c.hash[0] ^= 1,
            |c: &mut Checkpoint| c.at += time::Duration::microseconds(1),
            |c: &mut Checkpoint| c.signature[10] ^= 1,
        ] {
            let mut c = cp.clone();
            edit(&mut c);
            assert!(!c.verify());
        }
    }

    #[test]
    fn json_round_trip() {
        let s = CheckpointSigner::from_seed(&[7; 32]);
        let cp = s.sign(3, [9; 32], super::super::entry::now_micros());
        let json = serde_json::to_string(&cp.to_json()).expect("json");
        let back: CheckpointJson = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.parse().expect("checkpoint"), cp);
    }
}
