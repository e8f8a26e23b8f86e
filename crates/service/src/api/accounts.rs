//! A tenant's smart accounts: registered by owner and salt (the address is the factory's), revoked all at once,
//! and the owner's operations relayed once the owner signed them elsewhere.

use super::{body::Body, check_name, ApiError, Caller};
use crate::{
    db::{AccountRow, NewAudit, Tenant},
    send::smart_account,
    Service,
};
use alloy::primitives::{Address, B256};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use leash_sdk::{
    prepare_owner_operation_for, revoke_call, userop::UserOperation, Failure, SmartAccount,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// An account to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewAccount {
    /// Its name within the tenant.
    name: String,
    /// The owner's address: the key that signs grants and revocations, kept by the owner, never here.
    #[schema(value_type = String)]
    owner: Address,
    /// The CREATE2 salt (default zero): one owner can have several accounts.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    salt: B256,
}

/// An account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Account {
    name: String,
    #[schema(value_type = String)]
    address: Address,
    #[schema(value_type = String)]
    owner: Address,
    #[schema(value_type = String)]
    factory: Address,
    #[schema(value_type = String)]
    salt: B256,
}

impl From<&AccountRow> for Account {
    fn from(row: &AccountRow) -> Self {
        Self {
            name: row.name.clone(),
            address: row.address,
            owner: row.owner,
            factory: row.factory,
            salt: row.salt,
        }
    }
}

/// The tenant's accounts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Accounts {
    accounts: Vec<Account>,
}

/// An operation for the owner to sign: sign `userOpHash` (raw, no prefix) with the owner's key, put the 65-byte
/// signature in `userOperation.signature`, and post it to `/v1/accounts/{name}/owner-operations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerOperation {
    #[schema(value_type = Object)]
    user_operation: UserOperation,
    #[schema(value_type = String)]
    user_op_hash: B256,
}

impl OwnerOperation {
    pub(crate) async fn prepare(
        service: &Service,
        account: &SmartAccount,
        revoke: Option<B256>,
    ) -> Result<Self, ApiError> {
        let chain = &service.network().chain;
        let (user_operation, user_op_hash) = prepare_owner_operation_for(
            chain,
            &service.inner.submitter,
            account,
            &[revoke_call(chain, revoke)],
        )
        .await
        .map_err(Failure::from)?;
        Ok(Self { user_operation, user_op_hash })
    }
}

/// What a revocation did here and what the owner signs for the chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Revoked {
    /// The sessions revoked here now: they sign nothing more and their keys are destroyed.
    revoked: Vec<String>,
    /// The owner's on-chain revocation, to sign.
    owner_operation: OwnerOperation,
}

impl Revoked {
    pub(crate) fn new(revoked: Vec<String>, owner_operation: OwnerOperation) -> Self {
        Self { revoked, owner_operation }
    }
}

/// An owner's operation, signed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SignedOwnerOperation {
    #[schema(value_type = Object)]
    user_operation: UserOperation,
}

/// What became of an owner's operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerOutcome {
    #[schema(value_type = String)]
    user_op_hash: B256,
    /// `landed` or `reverted`.
    state: String,
    #[schema(value_type = String)]
    transaction_hash: B256,
}

pub(crate) async fn find(
    service: &Service,
    tenant: &Tenant,
    name: &str,
) -> Result<AccountRow, ApiError> {
    service
        .db()
        .account(tenant.id, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account `{name}`")))
}

/// Registers an account (tenant).
#[utoipa::path(post, path = "/v1/accounts", request_body = NewAccount,
    responses((status = 201, body = Account), (status = 409, description = "the name or the account is taken")))]
pub(crate) async fn create(
    State(service): State<Service>,
    caller: Caller,
    Body(new): Body<NewAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let tenant = caller.tenant()?;
    check_name("account", &new.name)?;
    if new.owner == Address::ZERO {
        return Err(ApiError::bad_input(
            "`owner` is the zero address; give the owner key's address",
        ));
    }
    let network = service.network();
    let account = SmartAccount::counterfactual(
        &network.chain.provider,
        network.factory,
        new.owner,
        new.salt,
        vec![network.chain.module],
    )
    .await
    .map_err(Failure::from)?;
    let row = AccountRow {
        id: 0,
        name: new.name.clone(),
        address: account.address,
        owner: account.owner,
        factory: account.factory,
        salt: account.salt,
        validators: account.validators,
    };
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "account.create",
        subject: &new.name,
        result: "ok",
        detail: json!({ "address": row.address, "owner": row.owner }),
    };
    match service
        .db()
        .create_account(tenant.id, &row, service.config().lanes_per_account, audit)
        .await?
    {
        Some(_) => Ok((StatusCode::CREATED, Json(Account::from(&row)))),
        None => Err(ApiError::conflict(format!("an account named `{}` exists already", new.name))),
    }
}

/// The tenant's accounts (tenant).
#[utoipa::path(get, path = "/v1/accounts", responses((status = 200, body = Accounts)))]
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Accounts>, ApiError> {
    let tenant = caller.tenant()?;
    let accounts = service.db().accounts(tenant.id).await?;
    Ok(Json(Accounts { accounts: accounts.iter().map(Account::from).collect() }))
}

/// One account (tenant).
#[utoipa::path(get, path = "/v1/accounts/{name}", responses((status = 200, body = Account)))]
pub(crate) async fn show(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Account>, ApiError> {
    let tenant = caller.tenant()?;
    Ok(Json(Account::from(&find(&service, &tenant, &name).await?)))
}

/// Revokes every session of the account here at once, and prepares the owner's on-chain "revoke all" (tenant).
#[utoipa::path(post, path = "/v1/accounts/{name}/revoke-all", responses((status = 200, body = Revoked)))]
pub(crate) async fn revoke_all(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let tenant = caller.tenant()?;
    let account = find(&service, &tenant, &name).await?;
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "account.revoke-all",
        subject: &name,
        result: "ok",
        detail: json!({ "address": account.address }),
    };
    let revoked = service.db().revoke_sessions(tenant.id, account.id, &[], audit).await?;
    let owner_operation = OwnerOperation::prepare(&service, &smart_account(&account), None).await?;
    Ok(Json(Revoked::new(revoked, owner_operation)))
}

/// Sends an operation the owner signed (a revocation this service prepared, or any other) and waits for it
/// (tenant).
#[utoipa::path(post, path = "/v1/accounts/{name}/owner-operations", request_body = SignedOwnerOperation,
    responses((status = 200, body = OwnerOutcome)))]
pub(crate) async fn owner_operation(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
    Body(signed): Body<SignedOwnerOperation>,
) -> Result<Json<OwnerOutcome>, ApiError> {
    let tenant = caller.tenant()?;
    let account = find(&service, &tenant, &name).await?;
    let op = signed.user_operation;
    if op.sender != account.address {
        return Err(ApiError::bad_input(format!(
            "the operation's sender is {}, not account `{name}` ({})",
            op.sender, account.address
        )));
    }
    let chain = &service.network().chain;
    // Only the owner's own operations are relayed: the owner's nonce key (no validator named) and the owner's
    // signature over the operation's hash. Anything else would be refused by the account; it is refused here
    // before it costs the bundler a simulation.
    if leash_sdk::lanes::NonceKey::from_nonce(op.nonce).validator().is_some() {
        return Err(ApiError::bad_input(
            "the operation's nonce is not the owner's (its key names a validator)",
        ));
    }
    let hash = op
        .hash(chain.entry_point, chain.chain_id)
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
    let signer = alloy::primitives::Signature::try_from(op.signature.as_ref())
        .ok()
        .and_then(|s| s.recover_address_from_prehash(&hash).ok());
    if signer != Some(account.owner) {
        return Err(ApiError::bad_input(format!(
            "`userOperation.signature` must be the owner's ({}) 65-byte signature of the operation's hash {hash}",
            account.owner
        )));
    }
    let submitter = &service.inner.submitter;
    let sent = async {
        let hash = submitter.send(chain, &op).await?;
        submitter.wait(hash, service.config().inclusion_wait).await
    }
    .await;
    let (result, outcome) = match sent {
        Ok(outcome) => {
            (if outcome.success { "landed" } else { "reverted" }.to_owned(), Ok(outcome))
        }
        Err(e) => {
            let failure = Failure::from(e);
            (format!("failed: {}", failure.kind.name()), Err(failure))
        }
    };
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "owner-operation.send",
        subject: &name,
        result: &result,
        detail: json!({ "nonce": op.nonce.to_string() }),
    };
    service.db().audit(audit).await?;
    let outcome = outcome?;
    Ok(Json(OwnerOutcome {
        user_op_hash: outcome.user_op_hash,
        state: result,
        transaction_hash: outcome.transaction_hash,
    }))
}
