//! The service's state in PostgreSQL: every query the service makes, in one place.
//!
//! Migrations are embedded and versioned (`migrations/`), and run at start-up under PostgreSQL's advisory lock,
//! so replicas starting together migrate once. Every write that belongs with another happens in one transaction.

use alloy::primitives::{Address, B256};
use serde_json::Value;
use sqlx::{postgres::PgPoolOptions, PgPool, Postgres, Row, Transaction};
use std::time::Duration;

/// A database failure, with the operation it interrupted. Carries no row data (rows may hold ciphertext).
#[derive(Debug, thiserror::Error)]
#[error("the database{} failed ({action}): {source}", place.as_ref().map(|p| format!(" at {p}")).unwrap_or_default())]
pub struct DbError {
    action: &'static str,
    place: Option<String>,
    #[source]
    source: sqlx::Error,
}

impl DbError {
    /// The same failure, naming where (a host and port).
    fn at(mut self, place: &str) -> Self {
        self.place = Some(place.to_owned());
        self
    }

    /// Whether a unique constraint refused the write.
    pub fn is_conflict(&self) -> bool {
        matches!(&self.source, sqlx::Error::Database(e) if e.is_unique_violation())
    }
}

fn failed(action: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError { action, place: None, source }
}

type Result<T> = std::result::Result<T, DbError>;

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A tenant, as the service reads it for a request.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Its row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its data key, wrapped.
    pub data_key: Vec<u8>,
}

/// An account row.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// Its row id.
    pub id: i64,
    /// Its name within the tenant.
    pub name: String,
    /// The account.
    pub address: Address,
    /// Its owner.
    pub owner: Address,
    /// The factory that deploys it.
    pub factory: Address,
    /// The CREATE2 salt.
    pub salt: B256,
    /// The validators installed at deployment.
    pub validators: Vec<Address>,
}

/// A session row.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Its row id.
    pub id: i64,
    /// Its tenant.
    pub tenant_id: i64,
    /// Its name within the tenant.
    pub name: String,
    /// The account it acts for.
    pub account: AccountRow,
    /// The session's id.
    pub session_id: B256,
    /// The packed session and its actions (`{"session": "0x…", "actions": [...]}`).
    pub session: Value,
    /// The session key, sealed; `None` once destroyed by a revoke.
    pub sealed_key: Option<Vec<u8>>,
    /// The grant the owner signed, once signed.
    pub grant: Option<Value>,
    /// `pending`, `granted` or `revoked`.
    pub state: String,
}

/// An operation row.
#[derive(Clone, Debug)]
pub struct OperationRow {
    /// The UserOperation hash.
    pub hash: B256,
    /// The tenant.
    pub tenant_id: i64,
    /// The session that signed it (none for the owner's operations).
    pub session_id: Option<i64>,
    /// The account.
    pub account: Address,
    /// The nonce lane.
    pub lane: i64,
    /// The nonce, in decimal.
    pub nonce: String,
    /// The caller's idempotency key.
    pub request_id: Option<String>,
    /// The hash of the calls (the account's `execute` calldata).
    pub calls_hash: B256,
    /// signed, sent, landed, reverted or failed.
    pub state: String,
    /// The signed UserOperation.
    pub user_op: Value,
    /// The transaction that included it.
    pub transaction_hash: Option<B256>,
    /// Why it failed.
    pub error: Option<String>,
}

/// An audit entry.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its position in the log (increasing).
    pub seq: i64,
    /// The tenant (none for the admin's actions on no tenant).
    pub tenant: Option<String>,
    /// When, in Unix seconds.
    pub at: i64,
    /// Who: `admin`, `tenant`, or `agent:SESSION`.
    pub actor: String,
    /// What: `tenant.create`, `session.grant`, `operation.send`, ...
    pub action: String,
    /// To what: a session's or account's name, an operation's hash.
    pub subject: String,
    /// With which result: `ok`, `refused: RULE`, `landed`, `failed: ...`.
    pub result: String,
    /// The rest (ids, hashes).
    pub detail: Value,
}

/// An audit entry to append.
#[derive(Debug)]
pub struct NewAudit<'a> {
    /// The tenant.
    pub tenant_id: Option<i64>,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// To what.
    pub subject: &'a str,
    /// With which result.
    pub result: &'a str,
    /// The rest.
    pub detail: Value,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

fn address(bytes: Vec<u8>) -> Address {
    Address::from_slice(&bytes)
}

fn b256(bytes: Vec<u8>) -> B256 {
    B256::from_slice(&bytes)
}

impl Db {
    /// Connects to `url` (at most `connections` at once) and brings the schema up to date.
    pub async fn connect(url: &str, connections: u32) -> Result<Self> {
        use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};
        let options: PgConnectOptions = url.parse().map_err(failed("read the database URL"))?;
        // One connection first: a refused or unauthorised one says why, where the pool would only time out.
        // The error names the host and port, never the URL (it may carry a password).
        let place = format!("{}:{}", options.get_host(), options.get_port());
        let probe = options.connect().await.map_err(|e| failed("connect")(e).at(&place))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(failed("connect"))?;
        MIGRATOR.run(&pool).await.map_err(|e| DbError {
            action: "migrate",
            place: None,
            source: e.into(),
        })?;
        Ok(Self { pool })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates a tenant; `None` if the name is taken.
    pub async fn create_tenant(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        data_key: &[u8],
        kek_id: &str,
        audit: NewAudit<'_>,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO tenants (name, token_hash, data_key, kek_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(token_hash.as_slice())
        .bind(data_key)
        .bind(kek_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed("create tenant"))?;
        if let Some(id) = id {
            append(&mut tx, NewAudit { tenant_id: Some(id), ..audit }).await?;
        }
        tx.commit().await.map_err(failed("commit"))?;
        Ok(id)
    }

    /// The tenant whose token hashes to `hash`.
    pub async fn tenant_by_token(&self, hash: &[u8; 32]) -> Result<Option<Tenant>> {
        let row = sqlx::query("SELECT id, name, data_key FROM tenants WHERE token_hash = $1")
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("find tenant"))?;
        Ok(row.map(|r| Tenant { id: r.get(0), name: r.get(1), data_key: r.get(2) }))
    }

    /// The tenant `id`.
    pub async fn tenant(&self, id: i64) -> Result<Tenant> {
        let r = sqlx::query("SELECT id, name, data_key FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(failed("read tenant"))?;
        Ok(Tenant { id: r.get(0), name: r.get(1), data_key: r.get(2) })
    }

    /// The tenants' names.
    pub async fn tenant_names(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM tenants ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("list tenants"))
    }

    /// Registers an account with `lanes` free nonce lanes; `None` if the name or the address is taken.
    pub async fn create_account(
        &self,
        tenant: i64,
        account: &AccountRow,
        lanes: u32,
        audit: NewAudit<'_>,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO accounts (tenant_id, name, address, owner, factory, salt, validators)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(tenant)
        .bind(&account.name)
        .bind(account.address.as_slice())
        .bind(account.owner.as_slice())
        .bind(account.factory.as_slice())
        .bind(account.salt.as_slice())
        .bind(serde_json::to_value(&account.validators).expect("addresses serialise"))
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed("create account"))?;
        let Some(id) = id else { return Ok(None) };
        sqlx::query(
            "INSERT INTO lanes (account, lane) SELECT $1, n FROM generate_series(0, $2 - 1) AS n
             ON CONFLICT DO NOTHING",
        )
        .bind(account.address.as_slice())
        .bind(i64::from(lanes))
        .execute(&mut *tx)
        .await
        .map_err(failed("create lanes"))?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(Some(id))
    }

    /// The tenant's account `name`.
    pub async fn account(&self, tenant: i64, name: &str) -> Result<Option<AccountRow>> {
        let row = sqlx::query(
            "SELECT id, name, address, owner, factory, salt, validators FROM accounts
             WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("read account"))?;
        Ok(row.map(|r| account_row(&r, 0)))
    }

    /// The tenant's accounts.
    pub async fn accounts(&self, tenant: i64) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(
            "SELECT id, name, address, owner, factory, salt, validators FROM accounts
             WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("list accounts"))?;
        Ok(rows.iter().map(|r| account_row(r, 0)).collect())
    }

    /// Creates a session (pending the owner's signature) and seals its key with `seal(row id)`, in one
    /// transaction; `None` if the name is taken.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_session(
        &self,
        tenant: i64,
        account: i64,
        name: &str,
        session_id: B256,
        session: &Value,
        agent_token_hash: &[u8; 32],
        seal: impl FnOnce(i64) -> Vec<u8>,
        audit: NewAudit<'_>,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO sessions (tenant_id, account_id, name, session_id, session, agent_token_hash, state)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id",
        )
        .bind(tenant)
        .bind(account)
        .bind(name)
        .bind(session_id.as_slice())
        .bind(session)
        .bind(agent_token_hash.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed("create session"))?;
        let Some(id) = id else { return Ok(None) };
        sqlx::query("UPDATE sessions SET sealed_key = $2 WHERE id = $1")
            .bind(id)
            .bind(seal(id))
            .execute(&mut *tx)
            .await
            .map_err(failed("seal session key"))?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(Some(id))
    }

    const SESSION: &'static str = "SELECT s.id, s.tenant_id, s.name, s.session_id, s.session, s.sealed_key,
            s.grant_document, s.state, a.id, a.name, a.address, a.owner, a.factory, a.salt, a.validators
        FROM sessions s JOIN accounts a ON a.id = s.account_id";

    /// The tenant's session `name`.
    pub async fn session(&self, tenant: i64, name: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(&format!("{} WHERE s.tenant_id = $1 AND s.name = $2", Self::SESSION))
            .bind(tenant)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("read session"))?;
        Ok(row.map(|r| session_row(&r)))
    }

    /// The session whose agent token hashes to `hash`.
    pub async fn session_by_agent_token(&self, hash: &[u8; 32]) -> Result<Option<SessionRow>> {
        let row = sqlx::query(&format!("{} WHERE s.agent_token_hash = $1", Self::SESSION))
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("find agent"))?;
        Ok(row.map(|r| session_row(&r)))
    }

    /// The session with row id `id`.
    pub async fn session_by_id(&self, id: i64) -> Result<Option<SessionRow>> {
        let row = sqlx::query(&format!("{} WHERE s.id = $1", Self::SESSION))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("read session"))?;
        Ok(row.map(|r| session_row(&r)))
    }

    /// The tenant's sessions: name, account name, state.
    pub async fn sessions(&self, tenant: i64) -> Result<Vec<(String, String, String, B256)>> {
        let rows = sqlx::query(
            "SELECT s.name, a.name, s.state, s.session_id FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.tenant_id = $1 ORDER BY s.name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("list sessions"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), b256(r.get(3)))).collect())
    }

    /// Stores the owner's signed grant of a pending session; false if it is not pending any more.
    pub async fn grant_session(&self, id: i64, grant: &Value, audit: NewAudit<'_>) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let done = sqlx::query(
            "UPDATE sessions SET grant_document = $2, state = 'granted' WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(grant)
        .execute(&mut *tx)
        .await
        .map_err(failed("grant session"))?
        .rows_affected()
            == 1;
        if done {
            append(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(failed("commit"))?;
        Ok(done)
    }

    /// Revokes sessions here: they sign nothing more, and their sealed keys are destroyed. `ids` empty revokes
    /// every session of `account`. Returns the names revoked now.
    pub async fn revoke_sessions(
        &self,
        tenant: i64,
        account: i64,
        ids: &[i64],
        audit: NewAudit<'_>,
    ) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let names: Vec<String> = sqlx::query_scalar(
            "UPDATE sessions SET state = 'revoked', sealed_key = NULL
             WHERE tenant_id = $1 AND account_id = $2 AND (cardinality($3::BIGINT[]) = 0 OR id = ANY($3))
               AND state <> 'revoked'
             RETURNING name",
        )
        .bind(tenant)
        .bind(account)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed("revoke sessions"))?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(names)
    }

    /// Takes a free lane of `account` (lane `only`, if given) for `holder` for `ttl`: one whose lease expired and
    /// with no operation in doubt on it. Rows another replica is taking are skipped, not waited for.
    pub async fn lease_lane(
        &self,
        account: Address,
        only: Option<i64>,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE lanes SET holder = $2, until = now() + make_interval(secs => $3)
             WHERE (account, lane) = (
                 SELECT l.account, l.lane FROM lanes l
                 WHERE l.account = $1 AND l.until < now() AND ($4::BIGINT IS NULL OR l.lane = $4)
                   AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.account = l.account AND o.lane = l.lane
                                   AND o.state IN ('signed', 'sent'))
                 ORDER BY l.until, l.lane LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING lane",
        )
        .bind(account.as_slice())
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .bind(only)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("lease lane"))
    }

    /// Gives a lane back, if `holder` holds it.
    pub async fn release_lane(&self, account: Address, lane: i64, holder: &str) -> Result<()> {
        sqlx::query("UPDATE lanes SET holder = NULL, until = 'epoch' WHERE account = $1 AND lane = $2 AND holder = $3")
            .bind(account.as_slice())
            .bind(lane)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(failed("release lane"))?;
        Ok(())
    }

    /// Records a signed operation before it is sent, if its session is still granted (a revocation committed
    /// before this refuses it: false); `Err` with [`DbError::is_conflict`] when the request id or the nonce is
    /// taken by a live operation already.
    pub async fn record_signed(&self, op: &OperationRow, replica: &str) -> Result<bool> {
        // The session's row is share-locked for the insert, so a revocation (which updates it) is ordered before
        // or after: never an operation recorded after its session's revocation committed.
        let recorded = sqlx::query(
            "INSERT INTO operations
                 (hash, tenant_id, session_id, account, lane, nonce, request_id, calls_hash, state, user_op, replica)
             SELECT $1, $2, s.id, $4, $5, $6::NUMERIC, $7, $8, 'signed', $9, $10
             FROM sessions s WHERE s.id = $3 AND s.state = 'granted' AND s.sealed_key IS NOT NULL FOR SHARE",
        )
        .bind(op.hash.as_slice())
        .bind(op.tenant_id)
        .bind(op.session_id)
        .bind(op.account.as_slice())
        .bind(op.lane)
        .bind(&op.nonce)
        .bind(&op.request_id)
        .bind(op.calls_hash.as_slice())
        .bind(&op.user_op)
        .bind(replica)
        .execute(&self.pool)
        .await
        .map_err(failed("record operation"))?
        .rows_affected();
        Ok(recorded == 1)
    }

    /// Extends `holder`'s lease of a lane; false if it lost the lane (the lease ran out and another took it).
    pub async fn renew_lane(
        &self,
        account: Address,
        lane: i64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let renewed = sqlx::query(
            "UPDATE lanes SET until = now() + make_interval(secs => $4)
             WHERE account = $1 AND lane = $2 AND holder = $3 AND until > now()",
        )
        .bind(account.as_slice())
        .bind(lane)
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .execute(&self.pool)
        .await
        .map_err(failed("renew lane"))?
        .rows_affected();
        Ok(renewed == 1)
    }

    /// Moves an operation that is still in doubt (`signed` or `sent`) to `state` (with its transaction or error),
    /// and appends `audit` with it; false (and nothing written) when it was settled already, by this replica or
    /// another.
    pub async fn settle_operation(
        &self,
        hash: B256,
        state: &str,
        transaction: Option<B256>,
        error: Option<&str>,
        audit: Option<NewAudit<'_>>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let changed = sqlx::query(
            "UPDATE operations SET state = $2, transaction_hash = COALESCE($3, transaction_hash),
                 error = $4, updated_at = now() WHERE hash = $1 AND state IN ('signed', 'sent')",
        )
        .bind(hash.as_slice())
        .bind(state)
        .bind(transaction.as_ref().map(|t| t.as_slice()))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(failed("update operation"))?
        .rows_affected()
            == 1;
        if let (true, Some(audit)) = (changed, audit) {
            append(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(failed("commit"))?;
        Ok(changed)
    }

    const OPERATION: &'static str =
        "SELECT hash, tenant_id, session_id, account, lane, nonce::TEXT, request_id,
        state, user_op, transaction_hash, error, calls_hash FROM operations";

    /// The operation `hash`.
    pub async fn operation(&self, hash: B256) -> Result<Option<OperationRow>> {
        let row = sqlx::query(&format!("{} WHERE hash = $1", Self::OPERATION))
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("read operation"))?;
        Ok(row.map(|r| operation_row(&r)))
    }

    /// The operation a session made for `request_id`.
    pub async fn operation_for_request(
        &self,
        session: i64,
        request_id: &str,
    ) -> Result<Option<OperationRow>> {
        // A failed operation never used its nonce: the request may be made again.
        let row = sqlx::query(&format!(
            "{} WHERE session_id = $1 AND request_id = $2 AND state <> 'failed'",
            Self::OPERATION
        ))
        .bind(session)
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("read operation"))?;
        Ok(row.map(|r| operation_row(&r)))
    }

    /// Operations in doubt whose lane lease expired (their replica died or gave up): takes their lanes for
    /// `holder` for `ttl` and returns them, at most `limit`.
    pub async fn claim_in_doubt(
        &self,
        holder: &str,
        ttl: Duration,
        limit: i64,
    ) -> Result<Vec<OperationRow>> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let lanes: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT l.account, l.lane FROM lanes l
             WHERE l.until < now() AND EXISTS (SELECT 1 FROM operations o WHERE o.account = l.account
                 AND o.lane = l.lane AND o.state IN ('signed', 'sent'))
             LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed("find operations in doubt"))?;
        let mut operations = Vec::new();
        for (account, lane) in lanes {
            sqlx::query(
                "UPDATE lanes SET holder = $3, until = now() + make_interval(secs => $4)
                 WHERE account = $1 AND lane = $2",
            )
            .bind(&account)
            .bind(lane)
            .bind(holder)
            .bind(ttl.as_secs_f64())
            .execute(&mut *tx)
            .await
            .map_err(failed("claim lane"))?;
            let rows = sqlx::query(&format!(
                "{} WHERE account = $1 AND lane = $2 AND state IN ('signed', 'sent') ORDER BY nonce",
                Self::OPERATION
            ))
            .bind(&account)
            .bind(lane)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed("read operations in doubt"))?;
            operations.extend(rows.iter().map(operation_row));
        }
        tx.commit().await.map_err(failed("commit"))?;
        Ok(operations)
    }

    /// Counts of operations by state (for the load test and the health page).
    pub async fn operation_counts(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query_as("SELECT state, count(*) FROM operations GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("count operations"))
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: NewAudit<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        append(&mut tx, entry).await?;
        tx.commit().await.map_err(failed("commit"))
    }

    /// The audit log after `after` (a `seq`), oldest first, at most `limit` entries; one tenant's or all.
    pub async fn audit_log(
        &self,
        tenant: Option<i64>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT a.seq, t.name, extract(epoch FROM a.at)::BIGINT, a.actor, a.action, a.subject, a.result, a.detail
             FROM audit a LEFT JOIN tenants t ON t.id = a.tenant_id
             WHERE a.seq > $2 AND ($1::BIGINT IS NULL OR a.tenant_id = $1)
             ORDER BY a.seq LIMIT $3",
        )
        .bind(tenant)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("read audit log"))?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                seq: r.get(0),
                tenant: r.get(1),
                at: r.get(2),
                actor: r.get(3),
                action: r.get(4),
                subject: r.get(5),
                result: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }
}

async fn append(tx: &mut Transaction<'_, Postgres>, entry: NewAudit<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (tenant_id, actor, action, subject, result, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.tenant_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.subject)
    .bind(entry.result)
    .bind(&entry.detail)
    .execute(&mut **tx)
    .await
    .map_err(failed("append audit"))?;
    Ok(())
}

fn account_row(r: &sqlx::postgres::PgRow, at: usize) -> AccountRow {
    let validators: Value = r.get(at + 6);
    AccountRow {
        id: r.get(at),
        name: r.get(at + 1),
        address: address(r.get(at + 2)),
        owner: address(r.get(at + 3)),
        factory: address(r.get(at + 4)),
        salt: b256(r.get(at + 5)),
        validators: serde_json::from_value(validators).unwrap_or_default(),
    }
}

fn session_row(r: &sqlx::postgres::PgRow) -> SessionRow {
    SessionRow {
        id: r.get(0),
        tenant_id: r.get(1),
        name: r.get(2),
        session_id: b256(r.get(3)),
        session: r.get(4),
        sealed_key: r.get(5),
        grant: r.get(6),
        state: r.get(7),
        account: account_row(r, 8),
    }
}

fn operation_row(r: &sqlx::postgres::PgRow) -> OperationRow {
    OperationRow {
        hash: b256(r.get(0)),
        tenant_id: r.get(1),
        session_id: r.get(2),
        account: address(r.get(3)),
        lane: r.get(4),
        nonce: r.get(5),
        request_id: r.get(6),
        state: r.get(7),
        user_op: r.get(8),
        transaction_hash: r.get::<Option<Vec<u8>>, _>(9).map(b256),
        error: r.get(10),
        calls_hash: b256(r.get(11)),
    }
}
