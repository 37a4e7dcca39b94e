//! Keys of the transfer log: the master key file, the subject index (HMAC of the IIN) and the
//! per-subject body keys (random, stored wrapped under a key derived from the master key,
//! cached in memory after first use). Erasure destroys a subject's wrapped key, after which
//! that subject's bodies are unreadable while the chain still verifies.
//!
//! This module must never write a key or an IIN anywhere but the master key file (mode 0600)
//! and the backend's subject-key table (wrapped), nor put either into an error or a log line.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Entry, LogBackend, LogError, SealedBody, WrappedKey};

/// The master key's file name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The reserved subject index whose body key encrypts entries without a subject. An HMAC output
/// of all zeros has probability 2^-256, so it cannot collide with a real subject.
pub const NO_SUBJECT: [u8; 32] = [0; 32];

const INDEX_LABEL: &[u8] = b"kuzet subject index v1";
const WRAP_LABEL: &[u8] = b"kuzet subject key wrap v1";
const KEY_ID_LABEL: &[u8] = b"kuzet master key id v1";

/// The transfer log's key material. Share it behind an `Arc`.
pub struct Keys {
    index_mac: Hmac<Sha256>,
    wrap: ChaCha20Poly1305,
    key_id: [u8; 32],
    cache: Mutex<Cache>,
}

/// Unwrapped body keys, and a generation that every forgetting bumps: a key looked up (or a
/// body sealed) under an older generation may belong to an erased subject and is not used.
#[derive(Default)]
struct Cache {
    generation: u64,
    keys: HashMap<[u8; 32], ChaCha20Poly1305>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn random<const N: usize>() -> Result<[u8; N], LogError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| LogError::Keys(format!("no randomness: {e}")))?;
    Ok(b)
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail for 32 bytes.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Keys {
    /// Loads `DATA_DIR/master.key`, creating the directory and a new random key (mode 0600) on
    /// first use. Refuses a key file that group or others may access.
    pub fn open(data_dir: &Path) -> Result<Keys, LogError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LogError::Io { path, source }
        };
        std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
        let path = data_dir.join(MASTER_KEY_FILE);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                let master: [u8; 32] = random()?;
                f.write_all(&master).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
                // The new directory entry must survive a crash too.
                if let Ok(dir) = std::fs::File::open(data_dir) {
                    dir.sync_all().map_err(io(data_dir))?;
                }
                Ok(Keys::from_master(&master))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut f = std::fs::File::open(&path).map_err(io(&path))?;
                let mode = f.metadata().map_err(io(&path))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(LogError::Keys(format!(
                        "{} has mode {:o}: group or others may access it; it must be 0600 \
                         (chmod 600 it, and consider the key compromised)",
                        path.display(),
                        mode & 0o777
                    )));
                }
                let mut master = [0u8; 32];
                let mut rest = Vec::new();
                f.read_exact(&mut master).map_err(|_| {
                    LogError::Keys(format!("{} is shorter than 32 bytes", path.display()))
                })?;
                f.read_to_end(&mut rest).map_err(io(&path))?;
                if !rest.is_empty() {
                    return Err(LogError::Keys(format!(
                        "{} is longer than 32 bytes",
                        path.display()
                    )));
                }
                Ok(Keys::from_master(&master))
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Loads an existing `DATA_DIR/master.key` (with the same checks as [`Keys::open`]) and
    /// never creates one: for the read-only tools (search, reports, verification).
    pub fn open_existing(data_dir: &Path) -> Result<Keys, LogError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        if !path.exists() {
            return Err(LogError::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Keys::open(data_dir)
    }

    /// Keys derived from a given master key (tests, tools).
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let index_key = derive(master, INDEX_LABEL);
        let wrap_key = derive(master, WRAP_LABEL);
        Keys {
            index_mac: <Hmac<Sha256> as Mac>::new_from_slice(&index_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
            wrap: ChaCha20Poly1305::new(Key::from_slice(&wrap_key)),
            key_id: derive(master, KEY_ID_LABEL),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// A value that names the master key without revealing it (an HMAC of a fixed label): a
    /// shared database records it so that a replica with another key is refused.
    pub fn key_id(&self) -> [u8; 32] {
        self.key_id
    }

    /// The subject index: `HMAC-SHA256(index_key, iin)`. The log, the consent ledger and the
    /// subject report find a subject by this value, never by the IIN.
    pub fn subject_index(&self, iin: &kuzet_ident::Iin) -> [u8; 32] {
        let mut mac = self.index_mac.clone();
        mac.update(iin.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A poisoned cache only means another thread panicked mid-insert of a whole value;
        // the map itself is still consistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cache's generation, to be read BEFORE a lookup whose result is kept.
    pub(crate) fn generation(&self) -> u64 {
        self.cache().generation
    }

    /// A cached key and the generation it is valid in.
    pub(crate) fn cached(&self, subject: &[u8; 32]) -> Option<(ChaCha20Poly1305, u64)> {
        let c = self.cache();
        c.keys.get(subject).map(|k| (k.clone(), c.generation))
    }

    /// Caches a key found or created under `generation`, unless something was forgotten since.
    pub(crate) fn remember(&self, generation: u64, subject: [u8; 32], key: ChaCha20Poly1305) {
        let mut c = self.cache();
        if c.generation == generation {
            c.keys.insert(subject, key);
        }
    }

    /// Drops a subject's cached key (its key is being destroyed).
    pub(crate) fn forget(&self, subject: &[u8; 32]) {
        let mut c = self.cache();
        c.generation += 1;
        c.keys.remove(subject);
    }

    /// Drops every cached key: another writer changed the log, and may have destroyed some.
    pub(crate) fn forget_all(&self) {
        let mut c = self.cache();
        c.generation += 1;
        c.keys.clear();
    }

    /// A fresh random body key for `subject` and its wrapped form.
    pub(crate) fn new_subject_key(
        &self,
        subject: &[u8; 32],
    ) -> Result<(ChaCha20Poly1305, WrappedKey), LogError> {
        let key: [u8; 32] = random()?;
        let nonce: [u8; 12] = random()?;
        let ct = self
            .wrap
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &key,
                    aad: subject,
                },
            )
            .map_err(|_| LogError::Keys("cannot wrap a subject key".into()))?;
        let mut wrapped = Vec::with_capacity(12 + ct.len());
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&ct);
        Ok((ChaCha20Poly1305::new(Key::from_slice(&key)), wrapped))
    }

    /// Unwraps a stored subject key (the subject index is the AAD, so a key moved to another
    /// subject's row does not unwrap).
    pub(crate) fn unwrap_key(
        &self,
        subject: &[u8; 32],
        wrapped: &[u8],
    ) -> Result<ChaCha20Poly1305, LogError> {
        if wrapped.len() != 12 + 32 + 16 {
            return Err(LogError::Keys(
                "a wrapped subject key has a bad length".into(),
            ));
        }
        let (nonce, ct) = wrapped.split_at(12);
        let key = self
            .wrap
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: subject,
                },
            )
            .map_err(|_| {
                LogError::Keys("a wrapped subject key does not unwrap under this master key".into())
            })?;
        Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
    }

    /// The body key of `subject` from the cache or the backend, without creating one.
    pub fn body_key(
        &self,
        backend: &mut dyn LogBackend,
        subject: &[u8; 32],
    ) -> Result<Option<ChaCha20Poly1305>, LogError> {
        let generation = self.generation();
        if let Some((k, _)) = self.cached(subject) {
            return Ok(Some(k));
        }
        match backend.subject_key(subject)? {
            None => Ok(None),
            Some(w) => {
                let k = self.unwrap_key(subject, &w)?;
                self.remember(generation, *subject, k.clone());
                Ok(Some(k))
            }
        }
    }

    /// The plaintext body of `entry` (`None` when it was logged metadata only). Fails with
    /// `Decrypt` when the subject's key was destroyed or the ciphertext or digest was altered.
    pub fn decrypt_body(
        &self,
        backend: &mut dyn LogBackend,
        entry: &Entry,
    ) -> Result<Option<Vec<u8>>, LogError> {
        let Some(body) = &entry.body else {
            return Ok(None);
        };
        let subject = entry.subject.unwrap_or(NO_SUBJECT);
        let key = self.body_key(backend, &subject)?.ok_or_else(|| {
            LogError::Decrypt(format!(
                "seq {}: the subject's body key does not exist (erased)",
                entry.seq
            ))
        })?;
        let plain = open(&key, entry.transfer_id, body).ok_or_else(|| {
            LogError::Decrypt(format!("seq {}: authentication failed", entry.seq))
        })?;
        if entry.body_digest != Some(Sha256::digest(&plain).into()) {
            return Err(LogError::Decrypt(format!(
                "seq {}: body digest does not match",
                entry.seq
            )));
        }
        Ok(Some(plain))
    }
}

/// Encrypts a body under a subject key with a random nonce; AAD = transfer id bytes.
pub(crate) fn seal(
    key: &ChaCha20Poly1305,
    transfer_id: Uuid,
    plain: &[u8],
) -> Result<SealedBody, LogError> {
    let nonce: [u8; 12] = random()?;
    let ciphertext = key
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: transfer_id.as_bytes(),
            },
        )
        .map_err(|_| LogError::Keys("cannot encrypt a body".into()))?;
    Ok(SealedBody { nonce, ciphertext })
}

fn open(key: &ChaCha20Poly1305, transfer_id: Uuid, body: &SealedBody) -> Option<Vec<u8>> {
    key.decrypt(
        Nonce::from_slice(&body.nonce),
        Payload {
            msg: &body.ciphertext,
            aad: transfer_id.as_bytes(),
        },
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iin(serial: u16) -> kuzet_ident::Iin {
        (serial..)
            .find_map(|s| {
                kuzet_ident::Iin::synthesize(time::macros::date!(1987 - 05 - 25), true, s)
            })
            .expect("some serial has a check digit")
    }

    #[test]
    fn subject_index_is_keyed_and_stable() {
        let a = Keys::from_master(&[1; 32]);
        let b = Keys::from_master(&[2; 32]);
        let p = iin(100);
        assert_eq!(a.subject_index(&p), a.subject_index(&p));
        assert_ne!(a.subject_index(&p), b.subject_index(&p));
        assert_ne!(a.subject_index(&p), a.subject_index(&iin(200)));
    }

    #[test]
    fn wrapped_key_is_bound_to_its_subject() {
        let k = Keys::from_master(&[3; 32]);
        let (_, wrapped) = k.new_subject_key(&[5; 32]).expect("wrap");
        assert!(k.unwrap_key(&[5; 32], &wrapped).is_ok());
        assert!(k.unwrap_key(&[6; 32], &wrapped).is_err());
        assert!(
            Keys::from_master(&[4; 32])
                .unwrap_key(&[5; 32], &wrapped)
                .is_err()
        );
    }

    #[test]
    fn body_is_bound_to_its_transfer() {
        let k = Keys::from_master(&[3; 32]);
        let (key, _) = k.new_subject_key(&[5; 32]).expect("wrap");
        let t = Uuid::now_v7();
        let sealed = seal(&key, t, b"{\"a\":1}").expect("seal");
        assert_eq!(open(&key, t, &sealed).as_deref(), Some(&b"{\"a\":1}"[..]));
        assert!(open(&key, Uuid::now_v7(), &sealed).is_none());
    }
}
