//! [`PgStore`]: the records of `leash_store::Store` in PostgreSQL, one namespace per tenant, so that the command
//! line and MCP servers on several machines share one set of keys (encrypted under their passwords, as in
//! files), accounts, sessions, lane leases, sent operations and audit log. It passes the same conformance
//! suite as the file store.

use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use leash_sdk::{keystore::EncryptedKey, lanes::Lane, GrantDocument};
use leash_store::{
    check_name, AccountRecord, AuditEvent, LaneLease, Record, SentOperation, SessionRecord, Store,
    StoreError, StoredKey,
};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::PgPool;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One tenant's records in the service's database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    tenant: i64,
}

impl PgStore {
    /// The records of tenant `tenant` (its row id) in the database behind `pool` (migrated by
    /// [`Db::connect`](crate::Db::connect)).
    pub fn new(pool: PgPool, tenant: i64) -> Self {
        Self { pool, tenant }
    }

    fn label(&self, record: Record, name: &str) -> String {
        format!("postgres:tenant-{}/{record}/{name}", self.tenant)
    }

    fn not_found(&self, record: Record, name: &str) -> StoreError {
        StoreError::NotFound { record, name: name.to_owned(), location: self.location() }
    }
}

/// A database failure as a store error: the action and the database's reason, never row data.
fn db(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Io {
        action,
        path: "the database".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn to_json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("records serialise")
}

fn corrupt(record: Record, location: String, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt { record, location, source: e.into() }
}

/// A keystore document as the text it is, checked to be JSON: kept byte for byte, as a file keeps it.
fn document_text(key: &EncryptedKey, record: Record, location: String) -> Result<String> {
    serde_json::from_slice::<serde_json::Value>(key.as_bytes())
        .map_err(|e| corrupt(record, location.clone(), e))?;
    String::from_utf8(key.as_bytes().to_vec()).map_err(|e| StoreError::Corrupt {
        record,
        location,
        source: e.into(),
    })
}

fn from_json<T: DeserializeOwned>(
    record: Record,
    location: String,
    value: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| corrupt(record, location, e))
}

#[async_trait]
impl Store for PgStore {
    fn location(&self) -> String {
        format!("the database (tenant {})", self.tenant)
    }

    async fn key(&self, name: &str) -> Result<StoredKey> {
        check_name(Record::Key, name)?;
        let document: Option<String> = sqlx::query_scalar(
            "SELECT document FROM store_keys WHERE tenant_id = $1 AND name = $2",
        )
        .bind(self.tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read key"))?;
        let document = document.ok_or_else(|| self.not_found(Record::Key, name))?;
        let label = self.label(Record::Key, name);
        Ok(StoredKey {
            name: name.to_owned(),
            source: label.into(),
            document: EncryptedKey::from_bytes(document),
        })
    }

    async fn put_key(&self, name: &str, key: &EncryptedKey, replace: bool) -> Result<()> {
        check_name(Record::Key, name)?;
        let document = document_text(key, Record::Key, self.label(Record::Key, name))?;
        let sql = if replace {
            "INSERT INTO store_keys (tenant_id, name, document) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, name) DO UPDATE SET document = EXCLUDED.document"
        } else {
            "INSERT INTO store_keys (tenant_id, name, document) VALUES ($1, $2, $3)"
        };
        sqlx::query(sql)
            .bind(self.tenant)
            .bind(name)
            .bind(document)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Exists { record: Record::Key, name: name.to_owned() }
                } else {
                    db("store key")(e)
                }
            })?;
        Ok(())
    }

    async fn remove_key(&self, name: &str) -> Result<()> {
        check_name(Record::Key, name)?;
        let removed = sqlx::query("DELETE FROM store_keys WHERE tenant_id = $1 AND name = $2")
            .bind(self.tenant)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db("remove key"))?
            .rows_affected();
        if removed == 0 {
            return Err(self.not_found(Record::Key, name));
        }
        Ok(())
    }

    async fn key_names(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM store_keys WHERE tenant_id = $1 ORDER BY name")
            .bind(self.tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list keys"))
    }

    async fn account(&self, name: &str) -> Result<AccountRecord> {
        check_name(Record::Account, name)?;
        let record: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT record FROM store_accounts WHERE tenant_id = $1 AND name = $2",
        )
        .bind(self.tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read account"))?;
        let record = record.ok_or_else(|| self.not_found(Record::Account, name))?;
        from_json(Record::Account, self.label(Record::Account, name), record)
    }

    async fn put_account(&self, record: &AccountRecord, replace: bool) -> Result<()> {
        check_name(Record::Account, &record.name)?;
        let sql = if replace {
            "INSERT INTO store_accounts (tenant_id, name, record) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, name) DO UPDATE SET record = EXCLUDED.record"
        } else {
            "INSERT INTO store_accounts (tenant_id, name, record) VALUES ($1, $2, $3)"
        };
        sqlx::query(sql)
            .bind(self.tenant)
            .bind(&record.name)
            .bind(to_json(record))
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Exists { record: Record::Account, name: record.name.clone() }
                } else {
                    db("store account")(e)
                }
            })?;
        Ok(())
    }

    async fn remove_account(&self, name: &str) -> Result<()> {
        check_name(Record::Account, name)?;
        let removed = sqlx::query("DELETE FROM store_accounts WHERE tenant_id = $1 AND name = $2")
            .bind(self.tenant)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db("remove account"))?
            .rows_affected();
        if removed == 0 {
            return Err(self.not_found(Record::Account, name));
        }
        Ok(())
    }

    async fn account_names(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM store_accounts WHERE tenant_id = $1 ORDER BY name")
            .bind(self.tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list accounts"))
    }

    async fn session(&self, name: &str) -> Result<SessionRecord> {
        check_name(Record::Session, name)?;
        let row: Option<(String, serde_json::Value)> = sqlx::query_as(
            "SELECT key_document, grant_document FROM store_sessions WHERE tenant_id = $1 AND name = $2",
        )
        .bind(self.tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read session"))?;
        let (key, grant) = row.ok_or_else(|| self.not_found(Record::Session, name))?;
        let label = self.label(Record::Session, name);
        let grant: GrantDocument = from_json(Record::Session, label.clone(), grant)?;
        let session = grant.verify().map_err(|e| StoreError::Corrupt {
            record: Record::Session,
            location: label.clone(),
            source: e.into(),
        })?;
        Ok(SessionRecord {
            name: name.to_owned(),
            key: StoredKey {
                name: name.to_owned(),
                source: label.into(),
                document: EncryptedKey::from_bytes(key),
            },
            grant,
            session,
        })
    }

    async fn put_session(
        &self,
        name: &str,
        key: &EncryptedKey,
        grant: &GrantDocument,
    ) -> Result<()> {
        check_name(Record::Session, name)?;
        let label = self.label(Record::Session, name);
        let key = document_text(key, Record::Session, label)?;
        // Key and grant in one row: stored together or not at all.
        sqlx::query(
            "INSERT INTO store_sessions (tenant_id, name, key_document, grant_document) VALUES ($1, $2, $3, $4)",
        )
        .bind(self.tenant)
        .bind(name)
        .bind(key)
        .bind(to_json(grant))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists { record: Record::Session, name: name.to_owned() }
            } else {
                db("store session")(e)
            }
        })?;
        Ok(())
    }

    async fn remove_session(&self, name: &str) -> Result<()> {
        check_name(Record::Session, name)?;
        let removed = sqlx::query("DELETE FROM store_sessions WHERE tenant_id = $1 AND name = $2")
            .bind(self.tenant)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db("remove session"))?
            .rows_affected();
        if removed == 0 {
            return Err(self.not_found(Record::Session, name));
        }
        Ok(())
    }

    async fn session_names(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM store_sessions WHERE tenant_id = $1 ORDER BY name")
            .bind(self.tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list sessions"))
    }

    async fn lease_lane(&self, lease: &LaneLease, now: u64) -> Result<LaneLease> {
        type Row = (Vec<u8>, i64, String, i64);
        let lane = i64::from(lease.lane);
        // Take the lane if it is free, expired or already the holder's (one statement); else read who holds it.
        // A holder giving it up between the two is seen by taking again.
        for _ in 0..3 {
            let taken: Option<Row> = sqlx::query_as(
                "INSERT INTO store_leases (tenant_id, account, lane, holder, until) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, account, lane) DO UPDATE
                     SET holder = EXCLUDED.holder, until = EXCLUDED.until
                     WHERE store_leases.until <= $6 OR store_leases.holder = EXCLUDED.holder
                 RETURNING account, lane, holder, until",
            )
            .bind(self.tenant)
            .bind(lease.account.as_slice())
            .bind(lane)
            .bind(&lease.holder)
            .bind(lease.until as i64)
            .bind(now as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("lease lane"))?;
            let row = match taken {
                Some(row) => Some(row),
                None => sqlx::query_as::<_, Row>(
                    "SELECT account, lane, holder, until FROM store_leases
                     WHERE tenant_id = $1 AND account = $2 AND lane = $3",
                )
                .bind(self.tenant)
                .bind(lease.account.as_slice())
                .bind(lane)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("read lane lease"))?,
            };
            if let Some((account, lane, holder, until)) = row {
                return Ok(LaneLease {
                    account: Address::from_slice(&account),
                    lane: lane as u32,
                    holder,
                    until: until as u64,
                });
            }
        }
        Err(db("lease lane")(sqlx::Error::Protocol(
            "the lease changed hands three times in a row".into(),
        )))
    }

    async fn release_lane(&self, account: Address, lane: Lane, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM store_leases WHERE tenant_id = $1 AND account = $2 AND lane = $3 AND holder = $4")
            .bind(self.tenant)
            .bind(account.as_slice())
            .bind(i64::from(lane.id()))
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(db("release lane"))?;
        Ok(())
    }

    async fn record_operation(&self, operation: &SentOperation) -> Result<()> {
        sqlx::query(
            "INSERT INTO store_operations (tenant_id, hash, sent_at, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, hash) DO UPDATE SET record = EXCLUDED.record, sent_at = EXCLUDED.sent_at",
        )
        .bind(self.tenant)
        .bind(operation.hash.as_slice())
        .bind(operation.sent_at as i64)
        .bind(to_json(operation))
        .execute(&self.pool)
        .await
        .map_err(db("record operation"))?;
        Ok(())
    }

    async fn operation(&self, hash: B256) -> Result<Option<SentOperation>> {
        let record: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT record FROM store_operations WHERE tenant_id = $1 AND hash = $2",
        )
        .bind(self.tenant)
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("read operation"))?;
        record
            .map(|r| {
                from_json(Record::Operation, self.label(Record::Operation, &hash.to_string()), r)
            })
            .transpose()
    }

    async fn operations(&self) -> Result<Vec<SentOperation>> {
        let records: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT record FROM store_operations WHERE tenant_id = $1 ORDER BY sent_at, hash",
        )
        .bind(self.tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(db("list operations"))?;
        records.into_iter().map(|r| from_json(Record::Operation, self.location(), r)).collect()
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        sqlx::query("INSERT INTO store_audit (tenant_id, event) VALUES ($1, $2)")
            .bind(self.tenant)
            .bind(to_json(event))
            .execute(&self.pool)
            .await
            .map_err(db("append to the audit log"))?;
        Ok(())
    }

    async fn audit_log(&self) -> Result<Vec<AuditEvent>> {
        let events: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT event FROM store_audit WHERE tenant_id = $1 ORDER BY seq")
                .bind(self.tenant)
                .fetch_all(&self.pool)
                .await
                .map_err(db("read the audit log"))?;
        events.into_iter().map(|e| from_json(Record::AuditEvent, self.location(), e)).collect()
    }
}
