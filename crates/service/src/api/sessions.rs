//! Agents' sessions: created from a policy document with a key made and sealed here, granted by the owner's
//! signature made elsewhere, explained, sent through, and revoked.

use super::{accounts, body::Body, check_name, ApiError, Caller};
use crate::{
    db::{NewAudit, SessionRow, Tenant},
    send::{self, smart_account, Operation},
    token, Service,
};
use alloy::{
    primitives::{Address, Bytes, Signature, B256},
    signers::local::PrivateKeySigner,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use leash_core::{
    grant_root_digest, CallEntry, GrantTarget, MultichainGrant, Names, PolicyContext, PolicyFile,
    PublicKey, Session,
};
use leash_sdk::{
    report::StandingReport, signer::SignerKind, Failure, GrantDocument, SessionView, SignedGrant,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// A session to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewSession {
    /// Its name within the tenant.
    name: String,
    /// The account (by name) it acts for.
    account: String,
    /// The policy document, in leash's policy file format (TOML, human units).
    policy: String,
}

/// A session created, pending the owner's signature.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatedSession {
    name: String,
    #[schema(value_type = String)]
    session_id: B256,
    #[schema(value_type = String)]
    account: Address,
    /// The session key's address (the key itself never leaves the service).
    #[schema(value_type = String)]
    key: Address,
    /// `pending`: the owner signs `grantDigest` (raw, no prefix) and the tenant posts the signature to
    /// `/v1/sessions/{name}/grant`.
    state: String,
    #[schema(value_type = String)]
    grant_digest: B256,
    /// The same as EIP-712 typed data (`eth_signTypedData_v4`), for the owner's wallet: it shows what is signed
    /// (the root of the session's grants) and signs `grantDigest`.
    #[schema(value_type = Object)]
    grant_typed_data: Value,
    /// The agent's bearer token, shown this once: it reaches this session only.
    agent_token: String,
    /// The envelope in words.
    envelope: Vec<String>,
    /// What in the policy may not mean what it seems.
    warnings: Vec<String>,
}

/// A session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionInfo {
    name: String,
    account: String,
    #[schema(value_type = String)]
    session_id: B256,
    /// `pending`, `granted` or `revoked` (here; `standing` says where it stands on chain).
    state: String,
    /// Where it stands on chain and what each action has left; absent while pending or revoked here.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    standing: Option<StandingReport>,
}

/// The tenant's sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Sessions {
    sessions: Vec<SessionInfo>,
}

/// The owner's signature of a session's grant digest.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantSignature {
    /// 65 bytes, hex: the owner's ECDSA signature of `grantDigest`.
    #[schema(value_type = String)]
    signature: Bytes,
}

/// Calls, as one operation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Calls {
    /// The calls, in order (all or none): `{to, function, args, value}` with names and units, or `{to, data}`.
    #[schema(value_type = Vec<Object>)]
    calls: Vec<CallEntry>,
}

/// Calls to send.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SendCalls {
    #[schema(value_type = Vec<Object>)]
    calls: Vec<CallEntry>,
    /// An idempotency key: a retried request with the same key answers the operation already made instead of
    /// making another (up to 128 characters).
    request_id: Option<String>,
}

/// A pre-flight verdict.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Verdict {
    allowed: bool,
    /// The rule that refuses, when refused.
    rule: Option<String>,
    message: String,
    #[schema(value_type = Option<Object>)]
    rejection: Option<Value>,
}

/// The caller's session `name`: a tenant's any, an agent's its own (any other is not found).
async fn find(
    service: &Service,
    caller: Caller,
    name: &str,
) -> Result<(Tenant, SessionRow), ApiError> {
    let missing = || ApiError::not_found(format!("session `{name}`"));
    match caller {
        Caller::Tenant(tenant) => {
            let row = service.db().session(tenant.id, name).await?.ok_or_else(missing)?;
            Ok((tenant, row))
        }
        Caller::Agent { tenant, session } if session.name == name => Ok((tenant, *session)),
        Caller::Agent { .. } => Err(missing()),
        Caller::Admin => Err(ApiError::forbidden("this takes a tenant's or an agent's token")),
    }
}

fn pending_document(row: &SessionRow) -> Result<GrantDocument, ApiError> {
    serde_json::from_value(row.session.clone())
        .map_err(|e| ApiError::internal(format!("stored session: {e}")))
}

fn session_of(row: &SessionRow) -> Result<Session, ApiError> {
    pending_document(row)?.session().map_err(|e| ApiError::internal(format!("stored session: {e}")))
}

/// The view of a session without its key, for explanations and status.
fn view(service: &Service, row: &SessionRow) -> Result<SessionView, ApiError> {
    let network = service.network();
    let mut view = SessionView::new(network.chain.clone(), row.account.address, session_of(row)?)
        .map_err(|e| ApiError::internal(format!("session: {e}")))?
        .deploy(smart_account(&row.account))
        .tokens(network.tokens.clone());
    if let Ok(grant) = send::granted_document(row) {
        if let Some(proof) = grant.proof_for(network.chain.chain_id) {
            view = view.lazy_grant(proof);
        }
    }
    Ok(view)
}

/// Creates a session for one of the tenant's accounts: the key is made here and sealed; the owner signs the
/// returned `grantDigest` (tenant).
#[utoipa::path(post, path = "/v1/sessions", request_body = NewSession,
    responses((status = 201, body = CreatedSession), (status = 400, description = "the policy is wrong")))]
pub(crate) async fn create(
    State(service): State<Service>,
    caller: Caller,
    Body(new): Body<NewSession>,
) -> Result<(StatusCode, Json<CreatedSession>), ApiError> {
    let tenant = caller.tenant()?;
    check_name("session", &new.name)?;
    let account = accounts::find(&service, &tenant, &new.account).await?;
    let network = service.network();
    let context = PolicyContext {
        tokens: network.tokens.clone(),
        addresses: network.addresses.clone(),
        account: Some(account.address),
    };
    let (policy, names) = PolicyFile::parse_named(&new.policy, "policy", &context)
        .map_err(|e| ApiError::from(Failure::from(e)).context("the policy"))?;
    let key = PrivateKeySigner::random_with(&mut rand::rngs::OsRng);
    let secret = Zeroizing::new(key.to_bytes().0);
    let session = Session {
        key: PublicKey { kind: SignerKind::Ecdsa, public: key.address().to_vec().into() },
        policy,
    };
    let session_id = session.id().map_err(|e| ApiError::bad_input(format!("the policy: {e}")))?;
    let chain = &network.chain;
    let epoch = chain.epoch(account.address).await.map_err(Failure::from)?;
    let target = GrantTarget {
        chain_id: chain.chain_id,
        module: chain.module,
        account: account.address,
        epoch,
    };
    let grant = MultichainGrant::new(session_id, &[target]);
    let grant_digest = grant.digest();
    let unsigned = SignedGrant { grant, owner_signature: Bytes::new() };
    let document = GrantDocument::new(&session, account.owner, &unsigned, network.tokens.clone())
        .map_err(|e| ApiError::bad_input(format!("the policy: {e}")))?;
    let (agent_token, agent_hash) = token::generate(token::Kind::Agent);
    let data_key = service.inner.kek.unwrap(&tenant.name, &tenant.data_key)?;
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "session.create",
        subject: &new.name,
        result: "ok",
        detail: json!({ "sessionId": session_id, "account": account.address, "key": key.address() }),
    };
    let created = service
        .db()
        .create_session(
            tenant.id,
            account.id,
            &new.name,
            session_id,
            &serde_json::to_value(&document).expect("documents serialise"),
            &agent_hash,
            |id| data_key.seal_session_key(tenant.id, id, secret.as_slice()),
            audit,
        )
        .await?;
    if created.is_none() {
        return Err(ApiError::conflict(format!("a session named `{}` exists already", new.name)));
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedSession {
            name: new.name,
            session_id,
            account: account.address,
            key: key.address(),
            state: "pending".into(),
            grant_digest,
            grant_typed_data: grant_typed_data(document.root),
            agent_token: agent_token.to_string(),
            envelope: session.policy.describe_named(&network.tokens, &names),
            warnings: session.policy.warnings(),
        }),
    ))
}

/// The grant's root as EIP-712 typed data: domain `{name: "leash", version: "1"}` (no chain, no contract: one
/// signature for every chain of the grant), `SessionGrantRoot(bytes32 root)`. Its signing hash is
/// [`grant_root_digest`].
pub(crate) fn grant_typed_data(root: B256) -> Value {
    json!({
        "types": {
            "EIP712Domain": [{ "name": "name", "type": "string" }, { "name": "version", "type": "string" }],
            "SessionGrantRoot": [{ "name": "root", "type": "bytes32" }],
        },
        "primaryType": "SessionGrantRoot",
        "domain": { "name": "leash", "version": "1" },
        "message": { "root": root },
    })
}

/// The tenant's sessions (tenant).
#[utoipa::path(get, path = "/v1/sessions", responses((status = 200, body = Sessions)))]
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Sessions>, ApiError> {
    let tenant = caller.tenant()?;
    let sessions = service
        .db()
        .sessions(tenant.id)
        .await?
        .into_iter()
        .map(|(name, account, state, session_id)| SessionInfo {
            name,
            account,
            session_id,
            state,
            standing: None,
        })
        .collect();
    Ok(Json(Sessions { sessions }))
}

/// A session, and where it stands on chain (tenant, or the session's agent).
#[utoipa::path(get, path = "/v1/sessions/{name}", responses((status = 200, body = SessionInfo)))]
pub(crate) async fn show(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<SessionInfo>, ApiError> {
    let (_, row) = find(&service, caller, &name).await?;
    let standing = standing(&service, &row).await?;
    Ok(Json(SessionInfo {
        name: row.name,
        account: row.account.name,
        session_id: row.session_id,
        state: row.state,
        standing,
    }))
}

/// Where a granted session stands on chain and what each action has left; none while pending or revoked here.
pub(crate) async fn standing(
    service: &Service,
    row: &SessionRow,
) -> Result<Option<StandingReport>, ApiError> {
    if row.state != "granted" {
        return Ok(None);
    }
    let view = view(service, row)?;
    let standing = view.standing().await.map_err(Failure::from)?;
    Ok(Some(standing.report(view.session(), &service.network().tokens)))
}

/// Takes the owner's signature of the session's grant digest: the session's first operation grants it on chain
/// (tenant).
#[utoipa::path(post, path = "/v1/sessions/{name}/grant", request_body = GrantSignature,
    responses((status = 200, body = SessionInfo), (status = 400, description = "not the owner's signature")))]
pub(crate) async fn grant(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<GrantSignature>,
) -> Result<Json<SessionInfo>, ApiError> {
    if !matches!(caller, Caller::Tenant(_)) {
        return Err(ApiError::forbidden("this takes the tenant's token"));
    }
    let (tenant, row) = find(&service, caller, &name).await?;
    if row.state != "pending" {
        return Err(ApiError::conflict(format!("session `{name}` is {}, not pending", row.state)));
    }
    let mut document = pending_document(&row)?;
    let signer = Signature::try_from(body.signature.as_ref())
        .ok()
        .and_then(|s| s.recover_address_from_prehash(&grant_root_digest(document.root)).ok());
    if signer != Some(row.account.owner) {
        return Err(ApiError::bad_input(format!(
            "the signature is not the owner's ({}) over the grant digest {}",
            row.account.owner,
            grant_root_digest(document.root)
        )));
    }
    document.owner_signature = body.signature;
    document
        .verify()
        .map_err(|e| ApiError::bad_input(format!("the grant does not verify: {e}")))?;
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "session.grant",
        subject: &name,
        result: "ok",
        detail: json!({ "sessionId": row.session_id, "owner": row.account.owner }),
    };
    let stored = serde_json::to_value(&document).expect("documents serialise");
    if !service.db().grant_session(row.id, &stored, audit).await? {
        return Err(ApiError::conflict(format!("session `{name}` is not pending any more")));
    }
    Ok(Json(SessionInfo {
        name: row.name,
        account: row.account.name,
        session_id: row.session_id,
        state: "granted".into(),
        standing: None,
    }))
}

fn resolve(
    service: &Service,
    row: &SessionRow,
    calls: &[CallEntry],
) -> Result<Vec<leash_core::Call>, ApiError> {
    if calls.is_empty() {
        return Err(ApiError::bad_input("`calls` is empty: give at least one call"));
    }
    let network = service.network();
    let names = Names {
        tokens: &network.tokens,
        addresses: &network.addresses,
        account: row.account.address,
    };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.resolve(&names).map_err(|e| ApiError::bad_input(format!("call {}: {e}", i + 1)))
        })
        .collect()
}

/// Runs the pre-flight on `calls`: would the session's policy and counters allow them now (tenant, or the
/// session's agent).
#[utoipa::path(post, path = "/v1/sessions/{name}/explain", request_body = Calls,
    responses((status = 200, body = Verdict)))]
pub(crate) async fn explain(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<Calls>,
) -> Result<Json<Verdict>, ApiError> {
    let (_, row) = find(&service, caller, &name).await?;
    Ok(Json(verdict(&service, &row, &body.calls).await?))
}

/// The pre-flight's verdict on `calls` for the session `row`.
pub(crate) async fn verdict(
    service: &Service,
    row: &SessionRow,
    calls: &[CallEntry],
) -> Result<Verdict, ApiError> {
    let calls = resolve(service, row, calls)?;
    let view = view(service, row)?;
    let explanation = view.explain(&calls).await.map_err(Failure::from)?;
    Ok(match explanation.verdict {
        Ok(_) => {
            Verdict { allowed: true, rule: None, message: explanation.message, rejection: None }
        }
        Err(rejection) => Verdict {
            allowed: false,
            rule: Some(rejection.rule().to_string()),
            message: explanation.message,
            rejection: Some(rejection.to_json(view.session(), &service.network().tokens)),
        },
    })
}

/// Sends `calls` as one operation and waits for it (the session's agent only). Answers `landed` or `reverted`
/// once included; `signed` or `sent` when its fate is not known yet (look it up at `/v1/operations/{hash}`).
#[utoipa::path(post, path = "/v1/sessions/{name}/send", request_body = SendCalls,
    responses((status = 200, body = Operation), (status = 422, description = "refused by the session's policy"),
        (status = 503, description = "every nonce lane of the account is busy")))]
pub(crate) async fn send(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<SendCalls>,
) -> Result<Json<Operation>, ApiError> {
    if !matches!(caller, Caller::Agent { .. }) {
        return Err(ApiError::forbidden("only the session's agent token sends"));
    }
    let actor = caller.actor();
    let (tenant, row) = find(&service, caller, &name).await?;
    let request_id = body.request_id.as_deref();
    Ok(Json(send_calls(&service, &tenant, &row, &body.calls, request_id, &actor).await?))
}

/// Checks and sends `calls` for the session `row` (see [`send::send`]).
pub(crate) async fn send_calls(
    service: &Service,
    tenant: &Tenant,
    row: &SessionRow,
    calls: &[CallEntry],
    request_id: Option<&str>,
    actor: &str,
) -> Result<Operation, ApiError> {
    if let Some(id) = request_id {
        if id.is_empty() || id.len() > 128 {
            return Err(ApiError::bad_input("`requestId` must be 1 to 128 characters"));
        }
    }
    send::granted_document(row)?;
    let calls = resolve(service, row, calls)?;
    send::send(service, tenant, row, &calls, request_id, actor).await
}

/// Revokes the session here at once (it signs nothing more; its key is destroyed) and prepares the owner's
/// on-chain revocation (tenant).
#[utoipa::path(post, path = "/v1/sessions/{name}/revoke", responses((status = 200, body = accounts::Revoked)))]
pub(crate) async fn revoke(
    State(service): State<Service>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<accounts::Revoked>, ApiError> {
    let tenant = caller.tenant()?;
    let row = service
        .db()
        .session(tenant.id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("session `{name}`")))?;
    let audit = NewAudit {
        tenant_id: Some(tenant.id),
        actor: "tenant",
        action: "session.revoke",
        subject: &name,
        result: "ok",
        detail: json!({ "sessionId": row.session_id }),
    };
    let revoked = service.db().revoke_sessions(tenant.id, row.account.id, &[row.id], audit).await?;
    let owner_operation = accounts::OwnerOperation::prepare(
        &service,
        &smart_account(&row.account),
        Some(row.session_id),
    )
    .await?;
    Ok(Json(accounts::Revoked::new(revoked, owner_operation)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_data_a_wallet_signs_hashes_to_the_grant_digest() {
        let root = B256::repeat_byte(0xab);
        let typed: alloy::dyn_abi::TypedData =
            serde_json::from_value(grant_typed_data(root)).unwrap();
        assert_eq!(typed.eip712_signing_hash().unwrap(), grant_root_digest(root));
    }
}
