//! The registry: API clients (with their roles and token hashes) and the consent ledger.
//!
//! It is the gateway's mutable state, kept apart from the append-only transfer log: a client can
//! be revoked, a consent can be withdrawn. Neither table ever holds personal data in clear: a
//! consent names its subject by the same keyed hash (HMAC of the IIN) that the transfer log
//! uses, plus the masked IIN for people reading it; a client's token is stored as its SHA-256.
//!
//! Storage sits behind the [`Registry`] trait; [`SqliteRegistry`] keeps it in
//! `DATA_DIR/registry.sqlite`, `db::registry::PgRegistry` in the PostgreSQL database that
//! replicas share (so a consent or an idempotency key is seen by every replica at once). The trait is synchronous and its calls are short point lookups.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::Role;

/// Why the registry could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("a client named {0:?} exists already")]
    DuplicateClient(String),
    #[error("no client named {0:?}")]
    NoSuchClient(String),
    #[error("registry storage: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for RegistryError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

/// An API client as the gateway knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Where a consent was given (policy 4.1, consent information: its source).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    App,
    Branch,
    CallCentre,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::App => "app",
            Self::Branch => "branch",
            Self::CallCentre => "call_centre",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "web" => Self::Web,
            "app" => Self::App,
            "branch" => Self::Branch,
            "call_centre" => Self::CallCentre,
            _ => return None,
        })
    }
}

/// A consent record: what policy 4.1 calls consent information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: Uuid,
    /// HMAC of the subject's IIN (the transfer log's subject index).
    pub subject: [u8; 32],
    /// The IIN masked, for people reading the ledger.
    pub subject_masked: String,
    pub recipients: Vec<String>,
    pub purposes: Vec<String>,
    pub granted_at: OffsetDateTime,
    pub channel: Channel,
    /// A reference to the evidence of consent (e.g. an OTP confirmation id).
    pub evidence: String,
    pub expires_at: Option<OffsetDateTime>,
    pub recorded_at: OffsetDateTime,
    /// The client that recorded it.
    pub recorded_by: String,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_by: Option<String>,
}

impl Consent {
    /// Whether `other` records the same consent given: the same subject, recipients and
    /// purposes (in any order), time (to the microsecond the ledger keeps), channel, evidence
    /// and expiry. Who recorded it, when, and whether it was withdrawn do not matter.
    pub fn same_grant(&self, other: &Consent) -> bool {
        fn set(v: &[String]) -> std::collections::BTreeSet<&str> {
            v.iter().map(String::as_str).collect()
        }
        self.subject == other.subject
            && set(&self.recipients) == set(&other.recipients)
            && set(&self.purposes) == set(&other.purposes)
            && micros(self.granted_at) == micros(other.granted_at)
            && self.channel == other.channel
            && self.evidence == other.evidence
            && self.expires_at.map(micros) == other.expires_at.map(micros)
    }

    /// Whether this consent lets `recipient` receive data about `subject` for `purpose` at `now`.
    pub fn covers(
        &self,
        subject: &[u8; 32],
        recipient: &str,
        purpose: &str,
        now: OffsetDateTime,
    ) -> bool {
        &self.subject == subject
            && self.revoked_at.is_none()
            && self.granted_at <= now
            && self.expires_at.is_none_or(|e| now < e)
            && self.recipients.iter().any(|r| r == recipient)
            && self.purposes.iter().any(|p| p == purpose)
    }
}

/// Outcome of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NotFound,
}

/// What reserving an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now reserved for this request: go ahead, then finish or release it.
    Begun,
    /// A request with this key and the same content finished earlier: its answer.
    Replay { status: u16, body: Vec<u8> },
    /// A request with this key is still running (or the gateway stopped while it ran; the
    /// transfer log tells whether the party was called).
    InProgress,
    /// The key was used for a request with different content.
    Mismatch,
}

impl Reservation {
    /// What a key already stored for `digest` means: its stored digest, state (`running` or
    /// `done`) and, once done, the answer (a status that is not one reads as 500).
    pub(crate) fn of_stored(
        digest: &[u8; 32],
        stored: &[u8],
        state: &str,
        status: Option<i64>,
        body: Option<Vec<u8>>,
    ) -> Reservation {
        if stored != digest {
            Reservation::Mismatch
        } else if state != "done" {
            Reservation::InProgress
        } else {
            Reservation::Replay {
                status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                body: body.unwrap_or_default(),
            }
        }
    }
}

/// The registry's SQLite file inside the data directory.
pub const REGISTRY_FILE: &str = "registry.sqlite";

/// How long a finished write's answer is kept for repeats.
pub const IDEMPOTENCY_TTL: time::Duration = time::Duration::hours(24);

/// The registry's storage.
pub trait Registry: Send + Sync + 'static {
    /// Adds a client; the token's SHA-256 is stored, never the token.
    fn add_client(&self, name: &str, role: Role, token: &str) -> Result<Client, RegistryError>;
    fn list_clients(&self) -> Result<Vec<Client>, RegistryError>;
    fn revoke_client(&self, name: &str) -> Result<Client, RegistryError>;
    /// The active (unrevoked) client holding this token.
    fn client_by_token(&self, token: &str) -> Result<Option<Client>, RegistryError>;
    fn add_consent(&self, consent: &Consent) -> Result<(), RegistryError>;
    /// Adds many consents at once (an import): all or none.
    fn add_consents(&self, consents: &[Consent]) -> Result<(), RegistryError> {
        for c in consents {
            self.add_consent(c)?;
        }
        Ok(())
    }
    fn consent(&self, id: Uuid) -> Result<Option<Consent>, RegistryError>;
    /// Marks a consent withdrawn. The record stays: it is evidence (policy 4.1 P4).
    fn revoke_consent(
        &self,
        id: Uuid,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Revoked, RegistryError>;
    /// Consents recorded for a subject, newest first.
    fn consents_for(&self, subject: &[u8; 32]) -> Result<Vec<Consent>, RegistryError>;
    /// Reserves `key` of `client` for a request whose content has `digest`, or finds what an
    /// earlier request with that key did. Finished answers older than [`IDEMPOTENCY_TTL`] are
    /// forgotten; a reservation that never finished is never forgotten (its write may have
    /// happened).
    fn reserve_idempotency_key(
        &self,
        client: &str,
        key: &str,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Reservation, RegistryError>;
    /// Stores the answer of the request holding the reservation.
    fn finish_idempotency_key(
        &self,
        client: &str,
        key: &str,
        status: u16,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), RegistryError>;
    /// Drops a reservation whose request never reached the party, so the key can be used again.
    fn release_idempotency_key(&self, client: &str, key: &str) -> Result<(), RegistryError>;
}

/// Makes a new random bearer token: `kz_` and 43 characters of URL-safe base64 (256 bits).
pub fn new_token() -> Result<String, RegistryError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RegistryError::Storage(e.to_string()))?;
    Ok(format!(
        "kz_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    // Tokens carry 256 bits of randomness, so a plain hash is enough: no salt, no stretching.
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The registry in `DATA_DIR/registry.sqlite`.
pub struct SqliteRegistry {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE TABLE IF NOT EXISTS consents (
    id              BLOB PRIMARY KEY,
    subject         BLOB NOT NULL,
    subject_masked  TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    purposes        TEXT NOT NULL,
    granted_at      INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    expires_at      INTEGER,
    recorded_at     INTEGER NOT NULL,
    recorded_by     TEXT NOT NULL,
    revoked_at      INTEGER,
    revoked_by      TEXT
);
CREATE INDEX IF NOT EXISTS consents_subject ON consents (subject);
CREATE TABLE IF NOT EXISTS idempotency (
    client          TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_digest  BLOB NOT NULL,
    state           TEXT NOT NULL,
    status          INTEGER,
    body            BLOB,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    PRIMARY KEY (client, key)
) WITHOUT ROWID;
";

/// The file's versioned migrations (`db::sqlite`); 1 is the baseline.
pub const MIGRATIONS: &[crate::db::sqlite::SqliteMigration] =
    &[crate::db::sqlite::SqliteMigration {
        version: 1,
        name: "baseline: clients, consents, idempotency keys",
        sql: SCHEMA,
    }];

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    // Microseconds since the epoch fit an i64 for ±292,000 years.
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn list_to_text(items: &[String]) -> String {
    items.join(",")
}

pub(crate) fn text_to_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SqliteRegistry {
    /// Opens (creating if needed) the registry in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, RegistryError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            RegistryError::Storage(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let mut conn = Connection::open(data_dir.join(REGISTRY_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        crate::db::sqlite::migrate(&mut conn, MIGRATIONS)
            .map_err(|e| RegistryError::Storage(format!("{REGISTRY_FILE}: {e}")))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing registry read-only, for the auditors' tools (they run beside a
    /// serving gateway); `Ok(None)` when `data_dir` holds none. Creates no table and writes
    /// nothing: any write through it fails.
    pub fn open_read_only(data_dir: &Path) -> Result<Option<Self>, RegistryError> {
        let path = data_dir.join(REGISTRY_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Some(Self {
            conn: Mutex::new(conn),
        }))
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| RegistryError::Storage("registry lock poisoned".into()))?;
        f(&conn)
    }
}

fn client_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Client> {
    let role: String = row.get(1)?;
    let role = role.parse::<Role>().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown role {role:?}").into(),
        )
    })?;
    Ok(Client {
        name: row.get(0)?,
        role,
        created_at: from_micros(row.get(2)?),
        revoked_at: row.get::<_, Option<i64>>(3)?.map(from_micros),
    })
}

fn consent_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Consent> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Blob,
            what.to_owned().into(),
        )
    };
    let id: Vec<u8> = row.get(0)?;
    let id = Uuid::from_slice(&id).map_err(|_| bad(0, "consent id"))?;
    let subject: Vec<u8> = row.get(1)?;
    let subject: [u8; 32] = subject.try_into().map_err(|_| bad(1, "subject"))?;
    let channel: String = row.get(6)?;
    Ok(Consent {
        id,
        subject,
        subject_masked: row.get(2)?,
        recipients: text_to_list(&row.get::<_, String>(3)?),
        purposes: text_to_list(&row.get::<_, String>(4)?),
        granted_at: from_micros(row.get(5)?),
        channel: Channel::parse(&channel).ok_or_else(|| bad(6, "channel"))?,
        evidence: row.get(7)?,
        expires_at: row.get::<_, Option<i64>>(8)?.map(from_micros),
        recorded_at: from_micros(row.get(9)?),
        recorded_by: row.get(10)?,
        revoked_at: row.get::<_, Option<i64>>(11)?.map(from_micros),
        revoked_by: row.get(12)?,
    })
}

pub(crate) const CONSENT_COLUMNS: &str = "id, subject, subject_masked, recipients, purposes, granted_at, \
    channel, evidence, expires_at, recorded_at, recorded_by, revoked_at, revoked_by";

impl Registry for SqliteRegistry {
    fn add_client(&self, name: &str, role: Role, token: &str) -> Result<Client, RegistryError> {
        let now = OffsetDateTime::now_utc();
        self.with(|c| {
            let exists: Option<String> = c
                .query_row("SELECT name FROM clients WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_some() {
                return Err(RegistryError::DuplicateClient(name.to_owned()));
            }
            c.execute(
                "INSERT INTO clients (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), token_hash(token), micros(now)],
            )?;
            Ok(Client {
                name: name.to_owned(),
                role,
                created_at: from_micros(micros(now)),
                revoked_at: None,
            })
        })
    }

    fn list_clients(&self) -> Result<Vec<Client>, RegistryError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT name, role, created_at, revoked_at FROM clients ORDER BY created_at, name",
            )?;
            let rows = stmt.query_map([], client_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn revoke_client(&self, name: &str) -> Result<Client, RegistryError> {
        let now = micros(OffsetDateTime::now_utc());
        self.with(|c| {
            c.execute(
                "UPDATE clients SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, now],
            )?;
            c.query_row(
                "SELECT name, role, created_at, revoked_at FROM clients WHERE name = ?1",
                [name],
                client_from_row,
            )
            .optional()?
            .ok_or_else(|| RegistryError::NoSuchClient(name.to_owned()))
        })
    }

    fn client_by_token(&self, token: &str) -> Result<Option<Client>, RegistryError> {
        let hash = token_hash(token);
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, role, created_at, revoked_at FROM clients \
                 WHERE token_hash = ?1 AND revoked_at IS NULL",
            )?;
            Ok(stmt.query_row([hash], client_from_row).optional()?)
        })
    }

    fn add_consent(&self, k: &Consent) -> Result<(), RegistryError> {
        self.add_consents(std::slice::from_ref(k))
    }

    fn add_consents(&self, consents: &[Consent]) -> Result<(), RegistryError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "INSERT INTO consents ({CONSENT_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ))?;
                for k in consents {
                    st.execute(params![
                        k.id.as_bytes().as_slice(),
                        k.subject.as_slice(),
                        k.subject_masked,
                        list_to_text(&k.recipients),
                        list_to_text(&k.purposes),
                        micros(k.granted_at),
                        k.channel.as_str(),
                        k.evidence,
                        k.expires_at.map(micros),
                        micros(k.recorded_at),
                        k.recorded_by,
                        k.revoked_at.map(micros),
                        k.revoked_by,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn consent(&self, id: Uuid) -> Result<Option<Consent>, RegistryError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONSENT_COLUMNS} FROM consents WHERE id = ?1"
            ))?;
            Ok(stmt
                .query_row([id.as_bytes().as_slice()], consent_from_row)
                .optional()?)
        })
    }

    fn revoke_consent(
        &self,
        id: Uuid,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Revoked, RegistryError> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE consents SET revoked_at = ?2, revoked_by = ?3 \
                 WHERE id = ?1 AND revoked_at IS NULL",
                params![id.as_bytes().as_slice(), micros(at), by],
            )?;
            if changed == 1 {
                return Ok(Revoked::Now);
            }
            let exists: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM consents WHERE id = ?1",
                    [id.as_bytes().as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(if exists.is_some() {
                Revoked::Already
            } else {
                Revoked::NotFound
            })
        })
    }

    fn consents_for(&self, subject: &[u8; 32]) -> Result<Vec<Consent>, RegistryError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = ?1 \
                 ORDER BY recorded_at DESC"
            ))?;
            let rows = stmt.query_map([subject.as_slice()], consent_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn reserve_idempotency_key(
        &self,
        client: &str,
        key: &str,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Reservation, RegistryError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            tx.execute(
                "DELETE FROM idempotency WHERE state = 'done' AND finished_at < ?1",
                [micros(now - IDEMPOTENCY_TTL)],
            )?;
            let inserted = tx.execute(
                "INSERT INTO idempotency (client, key, request_digest, state, created_at) \
                 VALUES (?1, ?2, ?3, 'running', ?4) ON CONFLICT DO NOTHING",
                rusqlite::params![client, key, &digest[..], micros(now)],
            )?;
            let found = if inserted == 1 {
                Reservation::Begun
            } else {
                let (stored, state, status, body): (Vec<u8>, String, Option<i64>, Option<Vec<u8>>) =
                    tx.query_row(
                        "SELECT request_digest, state, status, body FROM idempotency \
                         WHERE client = ?1 AND key = ?2",
                        rusqlite::params![client, key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )?;
                Reservation::of_stored(digest, &stored, &state, status, body)
            };
            tx.commit()?;
            Ok(found)
        })
    }

    fn finish_idempotency_key(
        &self,
        client: &str,
        key: &str,
        status: u16,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), RegistryError> {
        self.with(|c| {
            c.execute(
                "UPDATE idempotency SET state = 'done', status = ?3, body = ?4, finished_at = ?5 \
                 WHERE client = ?1 AND key = ?2",
                rusqlite::params![client, key, i64::from(status), body, micros(now)],
            )?;
            Ok(())
        })
    }

    fn release_idempotency_key(&self, client: &str, key: &str) -> Result<(), RegistryError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM idempotency WHERE client = ?1 AND key = ?2 AND state = 'running'",
                rusqlite::params![client, key],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> (tempfile::TempDir, SqliteRegistry) {
        let dir = tempfile::tempdir().expect("tempdir");
        let reg = SqliteRegistry::open(dir.path()).expect("open");
        (dir, reg)
    }

    #[test]
    fn clients_are_found_by_token_until_revoked() {
        let (dir, reg) = registry();
        let token = new_token().expect("token");
        assert!(token.starts_with("kz_") && token.len() == 46);
        reg.add_client("uw", Role::Underwriting, &token)
            .expect("add");
        assert!(matches!(
            reg.add_client("uw", Role::Auditor, "other"),
            Err(RegistryError::DuplicateClient(_))
        ));
        let found = reg.client_by_token(&token).expect("lookup").expect("found");
        assert_eq!(found.name, "uw");
        assert_eq!(found.role, Role::Underwriting);
        assert!(reg.client_by_token("kz_wrong").expect("lookup").is_none());
        let revoked = reg.revoke_client("uw").expect("revoke");
        assert!(revoked.revoked_at.is_some());
        assert!(reg.client_by_token(&token).expect("lookup").is_none());
        assert!(matches!(
            reg.revoke_client("nobody"),
            Err(RegistryError::NoSuchClient(_))
        ));
        // Only the hash is stored.
        drop(reg);
        let bytes = std::fs::read(dir.path().join("registry.sqlite")).expect("read");
        let wal = std::fs::read(dir.path().join("registry.sqlite-wal")).unwrap_or_default();
        for b in [bytes, wal] {
            assert!(!b.windows(token.len()).any(|w| w == token.as_bytes()));
        }
    }

    #[test]
    fn consent_coverage() {
        let (_dir, reg) = registry();
        let now = OffsetDateTime::now_utc();
        let consent = Consent {
            id: Uuid::now_v7(),
            subject: [7; 32],
            subject_masked: "8705******13".into(),
            recipients: vec!["fcb".into(), "gcvp".into()],
            purposes: vec!["contract_performance".into()],
            granted_at: now - time::Duration::minutes(1),
            channel: Channel::App,
            evidence: "otp:123".into(),
            expires_at: Some(now + time::Duration::days(30)),
            recorded_at: now,
            recorded_by: "uw".into(),
            revoked_at: None,
            revoked_by: None,
        };
        reg.add_consent(&consent).expect("add");
        let stored = reg.consent(consent.id).expect("get").expect("found");
        // The stored record is the same grant (times kept to the microsecond), whoever
        // recorded it and in whatever order its lists come; any other term makes another.
        let mut again = consent.clone();
        again.id = Uuid::now_v7();
        again.recorded_by = "kuzet-import".into();
        again.recipients.reverse();
        assert!(stored.same_grant(&again));
        for other in [
            Consent {
                evidence: "otp:124".into(),
                ..again.clone()
            },
            Consent {
                channel: Channel::Branch,
                ..again.clone()
            },
            Consent {
                expires_at: None,
                ..again.clone()
            },
            Consent {
                recipients: vec!["fcb".into()],
                ..again.clone()
            },
            Consent {
                granted_at: again.granted_at - time::Duration::seconds(1),
                ..again.clone()
            },
        ] {
            assert!(!stored.same_grant(&other), "{other:?}");
        }
        assert_eq!(stored.recipients, consent.recipients);
        assert_eq!(stored.channel, Channel::App);
        assert!(stored.covers(&[7; 32], "fcb", "contract_performance", now));
        assert!(!stored.covers(&[8; 32], "fcb", "contract_performance", now));
        assert!(!stored.covers(&[7; 32], "traffic", "contract_performance", now));
        assert!(!stored.covers(&[7; 32], "fcb", "marketing", now));
        assert!(!stored.covers(
            &[7; 32],
            "fcb",
            "contract_performance",
            now + time::Duration::days(31)
        ));
        assert!(!stored.covers(
            &[7; 32],
            "fcb",
            "contract_performance",
            now - time::Duration::minutes(2)
        ));
        assert_eq!(
            reg.revoke_consent(consent.id, "uw", now).expect("revoke"),
            Revoked::Now
        );
        assert_eq!(
            reg.revoke_consent(consent.id, "uw", now).expect("revoke"),
            Revoked::Already
        );
        assert_eq!(
            reg.revoke_consent(Uuid::now_v7(), "uw", now)
                .expect("revoke"),
            Revoked::NotFound
        );
        let stored = reg.consent(consent.id).expect("get").expect("found");
        assert!(!stored.covers(&[7; 32], "fcb", "contract_performance", now));
        assert_eq!(reg.consents_for(&[7; 32]).expect("list").len(), 1);
    }
}
