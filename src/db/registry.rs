//! The registry (clients, the consent ledger, idempotency keys) in the PostgreSQL database the
//! replicas share: a consent recorded or withdrawn through one replica, or an idempotency key
//! reserved by one, holds for every other at once (each call is its own committed statement or
//! transaction; there is no cache). Same tables and semantics as `SqliteRegistry`.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Pg, is_unique_violation, pg_error};
use crate::contract::Role;
use crate::registry::{
    CONSENT_COLUMNS, Channel, Client, Consent, IDEMPOTENCY_TTL, Registry, RegistryError,
    Reservation, Revoked, from_micros, list_to_text, micros, text_to_list, token_hash,
};

/// The registry on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRegistry {
    pg: Arc<Pg>,
}

fn storage(e: tokio_postgres::Error) -> RegistryError {
    RegistryError::Storage(format!("PostgreSQL: {}", pg_error(&e)))
}

fn client_from_row(row: &Row) -> Result<Client, RegistryError> {
    let role: String = row.try_get(1).map_err(storage)?;
    let role = role
        .parse::<Role>()
        .map_err(|_| RegistryError::Storage(format!("unknown role {role:?}")))?;
    Ok(Client {
        name: row.try_get(0).map_err(storage)?,
        role,
        created_at: from_micros(row.try_get(2).map_err(storage)?),
        revoked_at: row
            .try_get::<_, Option<i64>>(3)
            .map_err(storage)?
            .map(from_micros),
    })
}

fn consent_from_row(row: &Row) -> Result<Consent, RegistryError> {
    let bad = |what: &str| RegistryError::Storage(format!("a stored consent's {what} is invalid"));
    let id: &[u8] = row.try_get(0).map_err(storage)?;
    let subject: &[u8] = row.try_get(1).map_err(storage)?;
    let channel: &str = row.try_get(6).map_err(storage)?;
    Ok(Consent {
        id: Uuid::from_slice(id).map_err(|_| bad("id"))?,
        subject: subject.try_into().map_err(|_| bad("subject"))?,
        subject_masked: row.try_get(2).map_err(storage)?,
        recipients: text_to_list(row.try_get(3).map_err(storage)?),
        purposes: text_to_list(row.try_get(4).map_err(storage)?),
        granted_at: from_micros(row.try_get(5).map_err(storage)?),
        channel: Channel::parse(channel).ok_or_else(|| bad("channel"))?,
        evidence: row.try_get(7).map_err(storage)?,
        expires_at: row
            .try_get::<_, Option<i64>>(8)
            .map_err(storage)?
            .map(from_micros),
        recorded_at: from_micros(row.try_get(9).map_err(storage)?),
        recorded_by: row.try_get(10).map_err(storage)?,
        revoked_at: row
            .try_get::<_, Option<i64>>(11)
            .map_err(storage)?
            .map(from_micros),
        revoked_by: row.try_get(12).map_err(storage)?,
    })
}

impl PgRegistry {
    /// The registry in `pg` (migrated).
    pub fn new(pg: Arc<Pg>) -> PgRegistry {
        PgRegistry { pg }
    }

    fn conn(&self) -> Result<super::PgConn, RegistryError> {
        self.pg
            .conn()
            .map_err(|e| RegistryError::Storage(e.to_string()))
    }
}

impl Registry for PgRegistry {
    fn add_client(&self, name: &str, role: Role, token: &str) -> Result<Client, RegistryError> {
        let now = micros(OffsetDateTime::now_utc());
        let conn = self.conn()?;
        let inserted = self.pg.block(super::execute(
            &conn,
            "INSERT INTO clients (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
            &[&name, &role.as_str(), &token_hash(token), &now],
        ));
        match inserted {
            Ok(1) => Ok(Client {
                name: name.to_owned(),
                role,
                created_at: from_micros(now),
                revoked_at: None,
            }),
            Ok(_) => Err(RegistryError::DuplicateClient(name.to_owned())),
            Err(e) if is_unique_violation(&e) => Err(RegistryError::Storage(
                "a client with this token exists already".into(),
            )),
            Err(e) => Err(storage(e)),
        }
    }

    fn list_clients(&self) -> Result<Vec<Client>, RegistryError> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                "SELECT name, role, created_at, revoked_at FROM clients ORDER BY created_at, name",
                &[],
            ))
            .map_err(storage)?;
        rows.iter().map(client_from_row).collect()
    }

    fn revoke_client(&self, name: &str) -> Result<Client, RegistryError> {
        let now = micros(OffsetDateTime::now_utc());
        let conn = self.conn()?;
        let row = self
            .pg
            .block(async {
                super::execute(
                    &conn,
                    "UPDATE clients SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                    &[&name, &now],
                )
                .await?;
                super::query_opt(
                    &conn,
                    "SELECT name, role, created_at, revoked_at FROM clients WHERE name = $1",
                    &[&name],
                )
                .await
            })
            .map_err(storage)?;
        match row {
            Some(r) => client_from_row(&r),
            None => Err(RegistryError::NoSuchClient(name.to_owned())),
        }
    }

    fn client_by_token(&self, token: &str) -> Result<Option<Client>, RegistryError> {
        let conn = self.conn()?;
        let row = self
            .pg
            .block(super::query_opt(
                &conn,
                "SELECT name, role, created_at, revoked_at FROM clients \
                 WHERE token_hash = $1 AND revoked_at IS NULL",
                &[&token_hash(token)],
            ))
            .map_err(storage)?;
        row.as_ref().map(client_from_row).transpose()
    }

    fn add_consent(&self, k: &Consent) -> Result<(), RegistryError> {
        self.add_consents(std::slice::from_ref(k))
    }

    fn add_consents(&self, consents: &[Consent]) -> Result<(), RegistryError> {
        let mut conn = self.conn()?;
        self.pg
            .block(async {
                let tx = conn.transaction().await?;
                let st = tx
                    .prepare(&format!(
                        "INSERT INTO consents ({CONSENT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    ))
                    .await?;
                for k in consents {
                    tx.execute(
                        &st,
                        &[
                            &&k.id.as_bytes()[..],
                            &&k.subject[..],
                            &k.subject_masked,
                            &list_to_text(&k.recipients),
                            &list_to_text(&k.purposes),
                            &micros(k.granted_at),
                            &k.channel.as_str(),
                            &k.evidence,
                            &k.expires_at.map(micros),
                            &micros(k.recorded_at),
                            &k.recorded_by,
                            &k.revoked_at.map(micros),
                            &k.revoked_by,
                        ],
                    )
                    .await?;
                }
                tx.commit().await
            })
            .map_err(storage)
    }

    fn consent(&self, id: Uuid) -> Result<Option<Consent>, RegistryError> {
        let conn = self.conn()?;
        let row = self
            .pg
            .block(super::query_opt(
                &conn,
                &format!("SELECT {CONSENT_COLUMNS} FROM consents WHERE id = $1"),
                &[&&id.as_bytes()[..]],
            ))
            .map_err(storage)?;
        row.as_ref().map(consent_from_row).transpose()
    }

    fn revoke_consent(
        &self,
        id: Uuid,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Revoked, RegistryError> {
        let conn = self.conn()?;
        let id = &id.as_bytes()[..];
        self.pg
            .block(async {
                let changed = conn
                    .execute(
                        "UPDATE consents SET revoked_at = $2, revoked_by = $3 \
                         WHERE id = $1 AND revoked_at IS NULL",
                        &[&id, &micros(at), &by],
                    )
                    .await?;
                if changed == 1 {
                    return Ok(Revoked::Now);
                }
                let exists = conn
                    .query_opt("SELECT 1 FROM consents WHERE id = $1", &[&id])
                    .await?;
                Ok(if exists.is_some() {
                    Revoked::Already
                } else {
                    Revoked::NotFound
                })
            })
            .map_err(storage)
    }

    fn consents_for(&self, subject: &[u8; 32]) -> Result<Vec<Consent>, RegistryError> {
        let conn = self.conn()?;
        let rows = self
            .pg
            .block(super::query(
                &conn,
                &format!(
                    "SELECT {CONSENT_COLUMNS} FROM consents WHERE subject = $1 \
                     ORDER BY recorded_at DESC"
                ),
                &[&&subject[..]],
            ))
            .map_err(storage)?;
        rows.iter().map(consent_from_row).collect()
    }

    fn reserve_idempotency_key(
        &self,
        client: &str,
        key: &str,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Reservation, RegistryError> {
        let mut conn = self.conn()?;
        self.pg
            .block(async {
                let tx = conn.transaction().await?;
                tx.execute(
                    "DELETE FROM idempotency WHERE state = 'done' AND finished_at < $1",
                    &[&micros(now - IDEMPOTENCY_TTL)],
                )
                .await?;
                // Two replicas reserving the same key at once: the unique key makes one insert
                // wait for the other's commit, then find its row.
                let inserted = tx
                    .execute(
                        "INSERT INTO idempotency (client, key, request_digest, state, created_at) \
                         VALUES ($1, $2, $3, 'running', $4) ON CONFLICT DO NOTHING",
                        &[&client, &key, &&digest[..], &micros(now)],
                    )
                    .await?;
                let found = if inserted == 1 {
                    Reservation::Begun
                } else {
                    let r = tx
                        .query_one(
                            "SELECT request_digest, state, status, body FROM idempotency \
                             WHERE client = $1 AND key = $2",
                            &[&client, &key],
                        )
                        .await?;
                    let status: Option<i32> = r.get(2);
                    Reservation::of_stored(
                        digest,
                        r.get(0),
                        r.get(1),
                        status.map(i64::from),
                        r.get(3),
                    )
                };
                tx.commit().await?;
                Ok(found)
            })
            .map_err(storage)
    }

    fn finish_idempotency_key(
        &self,
        client: &str,
        key: &str,
        status: u16,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), RegistryError> {
        let conn = self.conn()?;
        self.pg
            .block(super::execute(
                &conn,
                "UPDATE idempotency SET state = 'done', status = $3, body = $4, finished_at = $5 \
                 WHERE client = $1 AND key = $2",
                &[&client, &key, &i32::from(status), &body, &micros(now)],
            ))
            .map(|_| ())
            .map_err(storage)
    }

    fn release_idempotency_key(&self, client: &str, key: &str) -> Result<(), RegistryError> {
        let conn = self.conn()?;
        self.pg
            .block(super::execute(
                &conn,
                "DELETE FROM idempotency WHERE client = $1 AND key = $2 AND state = 'running'",
                &[&client, &key],
            ))
            .map(|_| ())
            .map_err(storage)
    }
}
