//! Sending for an agent, and settling what a crash left in doubt.
//!
//! A send takes a free nonce lane of the account from the database (a lease with an expiry, taken with
//! `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other's rows), signs the operation, records it
//! signed (with its bytes) before it leaves, sends it, waits for its receipt, and gives the lane back. A lane is
//! never leased while an operation on it is in doubt, so two operations never race for one nonce, and the
//! database refuses a second operation with the same `(account, nonce)`.
//!
//! If the replica dies between recording and settling, its lease expires and any replica's settler
//! ([`settle_once`]) claims the lane and settles each operation in doubt: included (a receipt, or the nonce is
//! used), known to the bundler (wait for it), or neither: it sends the same signed bytes again. The EntryPoint's
//! nonce lets those bytes land at most once, so nothing is executed twice.

use crate::{
    db::{NewAudit, OperationRow, SessionRow, Tenant},
    error::ApiError,
    Service,
};
use alloy::primitives::{Address, B256};
use axum::http::StatusCode;
use leash_contracts::bindings::EntryPoint;
use leash_core::Call;
use leash_sdk::{
    lanes::{Lane, NonceKey},
    signer::EcdsaSigner,
    userop::UserOperation,
    Error, Failure, GrantDocument, SessionAgent,
};
use serde_json::json;
use std::{sync::Arc, time::Duration};

/// The agent of a session: its key opened from its sealed row, its grant verified.
pub(crate) fn agent(
    service: &Service,
    tenant: &Tenant,
    row: &SessionRow,
) -> Result<SessionAgent, ApiError> {
    let inner = &service.inner;
    let sealed = row.sealed_key.as_deref().ok_or_else(revoked)?;
    let grant = granted_document(row)?;
    let session = grant.verify().map_err(|e| ApiError::internal(format!("stored grant: {e}")))?;
    let data_key = inner.kek.unwrap(&tenant.name, &tenant.data_key)?;
    let secret = data_key.open_session_key(tenant.id, row.id, sealed)?;
    let signer = EcdsaSigner::from_bytes(&B256::from_slice(&secret))
        .map_err(|e| ApiError::internal(format!("sealed session key: {e}")))?;
    let network = &inner.network;
    let mut builder = SessionAgent::builder(
        network.chain.clone(),
        row.account.address,
        session,
        Arc::new(signer),
    )
    .submitter(inner.submitter.clone())
    .tokens(network.tokens.clone())
    .deploy(smart_account(&row.account));
    if let Some(proof) = grant.proof_for(network.chain.chain_id) {
        builder = builder.lazy_grant(proof);
    }
    builder.build().map_err(|e| ApiError::internal(format!("agent: {e}")))
}

/// The account as the SDK sees it.
pub(crate) fn smart_account(row: &crate::db::AccountRow) -> leash_sdk::SmartAccount {
    leash_sdk::SmartAccount {
        address: row.address,
        factory: row.factory,
        owner: row.owner,
        salt: row.salt,
        validators: row.validators.clone(),
        eip7702: false,
    }
}

fn revoked() -> ApiError {
    ApiError::new(StatusCode::GONE, "revoked", "the session was revoked: it signs nothing any more")
}

/// The grant the owner signed; a pending session has none yet.
pub(crate) fn granted_document(row: &SessionRow) -> Result<GrantDocument, ApiError> {
    match (&row.state[..], &row.grant) {
        ("revoked", _) => Err(revoked()),
        (_, Some(grant)) => serde_json::from_value(grant.clone())
            .map_err(|e| ApiError::internal(format!("stored grant: {e}"))),
        _ => Err(ApiError::conflict(
            "the session is not granted yet: the owner signs its grant digest and the tenant posts the signature \
             to /v1/sessions/{name}/grant",
        )),
    }
}

/// An operation as the API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The UserOperation hash.
    #[schema(value_type = String)]
    pub hash: B256,
    /// `signed` (recorded; in doubt until settled), `sent`, `landed`, `reverted` or `failed`.
    pub state: String,
    /// The account.
    #[schema(value_type = String)]
    pub account: Address,
    /// The nonce lane.
    pub lane: i64,
    /// The nonce, in decimal.
    pub nonce: String,
    /// The caller's idempotency key.
    pub request_id: Option<String>,
    /// The transaction that included it.
    #[schema(value_type = Option<String>)]
    pub transaction_hash: Option<B256>,
    /// Why it failed.
    pub error: Option<String>,
    /// The receipt of an included operation, as the bundler reports it (absent until included, or when the
    /// bundler no longer has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// What an included operation cost.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Whether its calls succeeded.
    pub success: bool,
    /// The gas it was charged for.
    pub gas_used: String,
    /// What it paid, in wei.
    pub gas_cost_wei: String,
    /// The block it is in.
    pub block_number: u64,
}

impl Operation {
    /// The operation with its receipt, read from the bundler once it is included.
    pub(crate) async fn with_receipt(mut self, service: &Service) -> Self {
        if matches!(self.state.as_str(), "landed" | "reverted") {
            if let Ok(Some(receipt)) =
                service.network().bundler.get_user_operation_receipt(self.hash).await
            {
                self.receipt = Some(Receipt {
                    success: receipt.success,
                    gas_used: receipt.actual_gas_used.to_string(),
                    gas_cost_wei: receipt.actual_gas_cost.to_string(),
                    block_number: receipt.receipt.block_number,
                });
            }
        }
        self
    }
}

impl From<OperationRow> for Operation {
    fn from(row: OperationRow) -> Self {
        Self {
            hash: row.hash,
            state: row.state,
            account: row.account,
            lane: row.lane,
            nonce: row.nonce,
            request_id: row.request_id,
            transaction_hash: row.transaction_hash,
            error: row.error,
            receipt: None,
        }
    }
}

/// The hash of what `calls` ask the account to run: a request id reused for other calls is refused.
fn calls_hash(calls: &[Call]) -> B256 {
    alloy::primitives::keccak256(leash_core::encode_execute(calls))
}

/// The record of an operation signed for the session `row` on `lane`, before it is sent.
fn signed_row(
    tenant: &Tenant,
    row: &SessionRow,
    lane: i64,
    signed: &leash_sdk::SignedOperation,
    request_id: Option<&str>,
    calls_hash: B256,
) -> OperationRow {
    OperationRow {
        hash: signed.user_op_hash,
        tenant_id: tenant.id,
        session_id: Some(row.id),
        account: row.account.address,
        lane,
        nonce: signed.op.nonce.to_string(),
        request_id: request_id.map(str::to_owned),
        calls_hash,
        state: "signed".into(),
        user_op: serde_json::to_value(&signed.op).expect("operations serialise"),
        transaction_hash: None,
        error: None,
    }
}

/// Explains, signs, records, sends and settles `calls` for the session `row` (see the module docs). With a
/// `request_id` the caller used before, answers the operation made then.
pub(crate) async fn send(
    service: &Service,
    tenant: &Tenant,
    row: &SessionRow,
    calls: &[Call],
    request_id: Option<&str>,
    actor: &str,
) -> Result<Operation, ApiError> {
    let db = service.db();
    let hash_of_calls = calls_hash(calls);
    if let Some(id) = request_id {
        if let Some(existing) = db.operation_for_request(row.id, id).await? {
            return answer_again(existing, hash_of_calls);
        }
    }
    let account = row.account.address;
    let _place = service.inner.sends.enter(account).ok_or_else(|| {
        let mut busy = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("too many sends for account {account} are under way on this replica; retry"),
        );
        busy.retry_after = Some(Duration::from_secs(1));
        busy
    })?;
    // Each send holds its lane under a name of its own: this replica's settler, or another send of this replica,
    // never passes for it.
    let holder = lease_holder(service);
    let lane = lease_lane(service, &row.account, &holder).await?;
    let result = async {
        // The session as it stands now that the lane is held: a revocation while this request waited for a lane
        // is seen here, before the key is opened.
        let row = db.session_by_id(row.id).await?.ok_or_else(revoked)?;
        let agent = agent(service, tenant, &row)?;
        let at = (lane, holder.as_str());
        send_on_lane(service, tenant, &row, &agent, calls, hash_of_calls, request_id, actor, at)
            .await
    }
    .await;
    // The lane goes back whatever happened: an operation left in doubt keeps it from being leased again until the
    // settler has settled it.
    if let Err(e) = db.release_lane(account, lane, &holder).await {
        tracing::warn!(error = %e, "a lane lease was not given back; it expires");
    }
    result
}

/// The operation made for a request id before, if the calls are the same.
fn answer_again(existing: OperationRow, hash_of_calls: B256) -> Result<Operation, ApiError> {
    if existing.calls_hash != hash_of_calls {
        return Err(ApiError::conflict(
            "this requestId was used for other calls; use a new requestId for a new operation",
        ));
    }
    Ok(existing.into())
}

#[allow(clippy::too_many_arguments)]
async fn send_on_lane(
    service: &Service,
    tenant: &Tenant,
    row: &SessionRow,
    agent: &SessionAgent,
    calls: &[Call],
    hash_of_calls: B256,
    request_id: Option<&str>,
    actor: &str,
    (lane, holder): (i64, &str),
) -> Result<Operation, ApiError> {
    let db = service.db();
    let network = service.network();
    let config = service.config();
    let audit = |result: String, subject: String, detail| {
        let actor = actor.to_owned();
        async move {
            db.audit(NewAudit {
                tenant_id: Some(tenant.id),
                actor: &actor,
                action: "operation.send",
                subject: &subject,
                result: &result,
                detail,
            })
            .await
        }
    };
    let signed = match agent.sign_operation(calls, Lane::new(lane as u32)).await {
        Ok(signed) => signed,
        Err(e) => {
            let failure = Failure::with_rejection(e, agent.session(), &network.tokens);
            let result = match &failure.rule {
                Some(rule) => format!("refused: {rule}"),
                None => format!("failed: {}", failure.kind.name()),
            };
            audit(result, row.name.clone(), json!({ "session": row.name })).await?;
            return Err(failure.into());
        }
    };
    let hash = signed.user_op_hash;
    let record = signed_row(tenant, row, lane, &signed, request_id, hash_of_calls);
    match db.record_signed(&record, &config.replica).await {
        Ok(true) => {}
        Ok(false) => return Err(revoked()),
        Err(e) => {
            // The same request id raced in through another replica: answer what that one made.
            if let (true, Some(id)) = (e.is_conflict(), request_id) {
                if let Some(existing) = db.operation_for_request(row.id, id).await? {
                    return answer_again(existing, hash_of_calls);
                }
            }
            return Err(e.into());
        }
    }
    // Still this replica's lane? If the lease ran out while signing, another replica may be settling this very
    // operation: it is left to that one, never sent from two places.
    if !db.renew_lane(row.account.address, lane, holder, config.lease).await? {
        tracing::warn!(%hash, "the lane's lease ran out before sending; the settler sends it");
        return Ok(record.into());
    }
    let detail = json!({ "session": row.name, "lane": lane, "nonce": record.nonce, "requestId": request_id });
    match agent.send_signed(signed).await {
        Ok(_) => {
            db.settle_operation(hash, "sent", None, None, None).await?;
        }
        Err(e) if throttled(&e) => {
            // The bundler holds as many of the account's operations as ERC-7562 lets an unstaked account have
            // (UREP-010): nothing was taken, so the operation is dropped and the caller told to come back.
            db.settle_operation(
                hash,
                "failed",
                None,
                Some("throttled by the bundler; not sent"),
                None,
            )
            .await?;
            let mut busy = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "the bundler holds as many operations of account {} as it accepts at once; retry",
                    row.account.address
                ),
            );
            busy.retry_after = Some(Duration::from_secs(1));
            return Err(busy);
        }
        Err(e) if definitely_refused(&e) => {
            let failure = Failure::with_rejection(e, agent.session(), &network.tokens);
            let result = match &failure.rule {
                Some(rule) => format!("refused: {rule}"),
                None => "failed: refused by the bundler".to_owned(),
            };
            let audit = NewAudit {
                tenant_id: Some(tenant.id),
                actor,
                action: "operation.send",
                subject: &hash.to_string(),
                result: &result,
                detail,
            };
            db.settle_operation(hash, "failed", None, Some(&failure.message), Some(audit)).await?;
            return Err(failure.into());
        }
        Err(e) => {
            // No answer, a dropped connection, an internal error: the operation may or may not have arrived. It
            // stays recorded as signed and the settler decides.
            tracing::warn!(%hash, error = %e, "operation in doubt after sending");
            return Ok(record.into());
        }
    }
    match service.inner.submitter.wait(hash, config.inclusion_wait).await {
        Ok(outcome) => {
            let state = if outcome.success { "landed" } else { "reverted" };
            let audit = NewAudit {
                tenant_id: Some(tenant.id),
                actor,
                action: "operation.send",
                subject: &hash.to_string(),
                result: state,
                detail,
            };
            db.settle_operation(hash, state, Some(outcome.transaction_hash), None, Some(audit))
                .await?;
            db.operation(hash).await?.map(Into::into).ok_or_else(|| ApiError::not_found(hash))
        }
        // Not included in time: sent, and settled later by whichever replica finds it.
        Err(_) => Ok(Operation { state: "sent".into(), ..record.into() }),
    }
}

/// Whether the bundler refused the operation for now only: too many of the account's operations wait already.
fn throttled(error: &Error) -> bool {
    use leash_sdk::bundler::{BundlerError, RejectionKind};
    matches!(error, Error::Bundler(BundlerError::Rejected { rejection, .. })
        if rejection.kind == RejectionKind::ThrottledOrBanned)
}

/// Whether the bundler refused the operation for good after judging it (its validation failed, a rule of
/// ERC-7562 or of the session): nothing is in flight. An internal error, an unknown code or no answer at all
/// leave the operation in doubt instead.
fn definitely_refused(error: &Error) -> bool {
    use leash_sdk::bundler::{BundlerError, RejectionKind as K};
    match error {
        Error::Rejected { .. } | Error::PreFlight { .. } => true,
        Error::Bundler(BundlerError::Rejected { rejection, .. }) => matches!(
            rejection.kind,
            K::InvalidParams
                | K::SimulationRejected
                | K::PaymasterRejected
                | K::OpcodeViolation
                | K::OutOfTimeRange
                | K::StakeTooLow
                | K::UnsupportedAggregator
                | K::InvalidSignature
                | K::PaymasterBalance
                | K::ExecutionReverted
        ),
        _ => false,
    }
}

/// Takes a free lane of `account`, retrying while all are busy up to the configured wait. An account without
/// code yet is deployed by its first operation, so until it has code its operations take turns on lane 0: two
/// operations each carrying the deployment would have the second refused (AA10).
async fn lease_lane(
    service: &Service,
    row: &crate::db::AccountRow,
    holder: &str,
) -> Result<i64, ApiError> {
    let config = service.config();
    let account = row.address;
    let deployed = smart_account(row)
        .is_deployed(&service.network().chain.provider)
        .await
        .map_err(Failure::from)?;
    let only = (!deployed).then_some(0);
    let deadline = tokio::time::Instant::now() + config.lane_wait;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(lane) = service.db().lease_lane(account, only, holder, config.lease).await? {
            return Ok(lane);
        }
        if tokio::time::Instant::now() + pause > deadline {
            let mut busy = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "every nonce lane of account {account} is busy with an operation in flight; retry, or give \
                     the account more lanes"
                ),
            );
            busy.retry_after = Some(Duration::from_secs(1));
            return Err(busy);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// A lease holder's name: the replica's, and a random part for this one holding.
fn lease_holder(service: &Service) -> String {
    format!("{}/{:016x}", service.config().replica, rand::random::<u64>())
}

/// Settles operations in doubt, every `interval`, until the task is dropped.
pub(crate) async fn settle_forever(service: Service) {
    let interval = (service.config().lease / 4).max(Duration::from_millis(500));
    loop {
        match settle_once(&service).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "settled operations in doubt"),
            Err(e) => tracing::warn!(error = %e.message, "settling operations in doubt failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Claims the lanes of operations in doubt whose lease expired, settles their operations and gives the lanes
/// back; returns how many were settled.
pub async fn settle_once(service: &Service) -> Result<usize, ApiError> {
    let config = service.config();
    let holder = lease_holder(service);
    let claimed = service.db().claim_in_doubt(&holder, config.lease, 16).await?;
    let mut settled = 0;
    let mut lanes = Vec::new();
    for op in claimed {
        if !lanes.contains(&(op.account, op.lane)) {
            lanes.push((op.account, op.lane));
        }
        // Each operation may take several round trips: the lease is renewed before each, and a lane lost to
        // another settler is left to it.
        if !service.db().renew_lane(op.account, op.lane, &holder, config.lease).await? {
            continue;
        }
        match settle_one(service, &op).await {
            Ok(true) => settled += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(hash = %op.hash, error = %e.message, "could not settle yet"),
        }
    }
    for (account, lane) in lanes {
        service.db().release_lane(account, lane, &holder).await?;
    }
    Ok(settled)
}

/// Settles one operation in doubt; false when it is still in flight (the next round looks again).
async fn settle_one(service: &Service, op: &OperationRow) -> Result<bool, ApiError> {
    let network = service.network();
    let bundler = &network.bundler;
    let db = service.db();
    let settled = |state: &'static str, transaction: Option<B256>, error: Option<String>| async move {
        let actor = format!("replica:{}", service.config().replica);
        let audit = NewAudit {
            tenant_id: Some(op.tenant_id),
            actor: &actor,
            action: "operation.settle",
            subject: &op.hash.to_string(),
            result: state,
            detail: json!({ "lane": op.lane, "nonce": op.nonce, "requestId": op.request_id, "error": error }),
        };
        // False when another replica settled it first: one settlement, one audit entry.
        Ok::<bool, ApiError>(
            db.settle_operation(op.hash, state, transaction, error.as_deref(), Some(audit)).await?,
        )
    };
    let network_error =
        |e: leash_sdk::bundler::BundlerError| ApiError::from(Failure::from(Error::Bundler(e)));

    if let Some(receipt) =
        bundler.get_user_operation_receipt(op.hash).await.map_err(network_error)?
    {
        let state = if receipt.success { "landed" } else { "reverted" };
        return settled(state, Some(receipt.receipt.transaction_hash), None).await;
    }
    let user_op: UserOperation = serde_json::from_value(op.user_op.clone())
        .map_err(|e| ApiError::internal(format!("stored operation {}: {e}", op.hash)))?;
    if nonce_used(service, op, &user_op).await? {
        // Its nonce is used: by this operation (its event says how it went), or by another one (then this one
        // can never land, and only then is it failed).
        return match event_of(service, op).await? {
            Some((success, transaction)) => {
                settled(if success { "landed" } else { "reverted" }, Some(transaction), None).await
            }
            None => {
                settled("failed", None, Some("its nonce was used by another operation".into()))
                    .await
            }
        };
    }
    if bundler.get_user_operation_by_hash(op.hash).await.map_err(network_error)?.is_some() {
        return Ok(false);
    }
    // Unknown to the bundler (never sent, dropped, or a bundler that does not list pending operations) and its
    // nonce unused. An operation that may have left is never marked failed on a guess: that would free its
    // nonce and its request id, and a retry could then run the calls twice. Only the chain refusing it for good
    // (the session revoked on chain) fails it.
    let session = match op.session_id {
        Some(id) => db.session_by_id(id).await?,
        None => None,
    };
    let granted_here = session.as_ref().is_some_and(|s| s.state == "granted");
    if !granted_here {
        let on_chain = match &session {
            Some(s) => network
                .chain
                .session_status(op.account, s.session_id)
                .await
                .map_err(Failure::from)?,
            None => leash_core::SessionState::Revoked,
        };
        if on_chain == leash_core::SessionState::Revoked {
            return settled(
                "failed",
                None,
                Some("its session was revoked before it landed".into()),
            )
            .await;
        }
        // Revoked here only: not sent again; it waits for the owner's on-chain revocation.
        return Ok(false);
    }
    // Sent again, the same bytes: the EntryPoint's nonce lets them land at most once. A later round finds the
    // receipt; the lane stays closed until then. A refusal (already known, nonce taken) changes nothing here.
    match service.inner.submitter.send(&network.chain, &user_op).await {
        Ok(_) => {
            db.settle_operation(op.hash, "sent", None, None, None).await?;
        }
        Err(e) => {
            tracing::warn!(hash = %op.hash, error = %e, "an operation in doubt was not taken again")
        }
    }
    Ok(false)
}

/// Whether the operation's nonce is used on chain.
async fn nonce_used(
    service: &Service,
    op: &OperationRow,
    user_op: &UserOperation,
) -> Result<bool, ApiError> {
    let chain = &service.network().chain;
    let key = NonceKey::from_nonce(user_op.nonce);
    let current = EntryPoint::new(chain.entry_point, &chain.provider)
        .getNonce(op.account, key.raw())
        .call()
        .await
        .map_err(|e| ApiError::from(Failure::network(format!("getNonce: {e}"))))?;
    Ok(current > user_op.nonce)
}

/// The EntryPoint's `UserOperationEvent` for the operation, in the last 100,000 blocks: whether its calls
/// succeeded, and its transaction.
async fn event_of(service: &Service, op: &OperationRow) -> Result<Option<(bool, B256)>, ApiError> {
    use alloy::{providers::Provider, rpc::types::Filter, sol_types::SolEvent};
    let chain = &service.network().chain;
    let latest =
        chain.provider.get_block_number().await.map_err(|e| Failure::network(e.to_string()))?;
    let filter = Filter::new()
        .address(chain.entry_point)
        .event_signature(EntryPoint::UserOperationEvent::SIGNATURE_HASH)
        .topic1(op.hash)
        .from_block(latest.saturating_sub(100_000))
        .to_block(latest);
    let logs =
        chain.provider.get_logs(&filter).await.map_err(|e| Failure::network(e.to_string()))?;
    Ok(logs.first().and_then(|log| {
        let event = EntryPoint::UserOperationEvent::decode_log_data(log.data()).ok()?;
        Some((event.success, log.transaction_hash?))
    }))
}

/// What a replica leaves behind when it dies after recording an operation: signed and recorded, on a lane it
/// still holds, and sent or not (`sent`). For fault tests; returns the operation's hash.
#[doc(hidden)]
pub async fn crash_after_recording(
    service: &Service,
    tenant: &Tenant,
    row: &SessionRow,
    calls: &[Call],
    sent: bool,
) -> Result<B256, ApiError> {
    let agent = agent(service, tenant, row)?;
    let lane = lease_lane(service, &row.account, &lease_holder(service)).await?;
    let signed =
        agent.sign_operation(calls, Lane::new(lane as u32)).await.map_err(Failure::from)?;
    let hash = signed.user_op_hash;
    let record = signed_row(tenant, row, lane, &signed, None, calls_hash(calls));
    if !service.db().record_signed(&record, &service.config().replica).await? {
        return Err(revoked());
    }
    if sent {
        agent.send_signed(signed).await.map_err(Failure::from)?;
    }
    Ok(hash)
}
