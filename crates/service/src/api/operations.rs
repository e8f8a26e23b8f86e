//! Operations by hash, and the audit log.

use super::{ApiError, Caller};
use crate::{db::AuditEntry, send::Operation, Service};
use alloy::primitives::B256;
use axum::{
    extract::{Path, Query, State},
    Json,
};
use serde::{Deserialize, Serialize};

/// An operation this service sent, with its receipt once included (its tenant, or the agent whose session sent
/// it).
#[utoipa::path(get, path = "/v1/operations/{hash}", responses((status = 200, body = Operation)))]
pub(crate) async fn show(
    State(service): State<Service>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<Json<Operation>, ApiError> {
    let hash: B256 = hash
        .parse()
        .map_err(|_| ApiError::bad_input("the operation hash must be 32 bytes of hex (0x…)"))?;
    let missing = || ApiError::not_found(format!("operation {hash}"));
    let op = service.db().operation(hash).await?.ok_or_else(missing)?;
    let visible = match &caller {
        Caller::Tenant(tenant) => op.tenant_id == tenant.id,
        Caller::Agent { session, .. } => op.session_id == Some(session.id),
        Caller::Admin => false,
    };
    if !visible {
        return Err(missing());
    }
    Ok(Json(crate::send::Operation::from(op).with_receipt(&service).await))
}

/// Which part of the audit log to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Entries after this `seq` (default 0: from the start).
    after: Option<i64>,
    /// At most this many (default and maximum 1000).
    limit: Option<i64>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditPage {
    entries: Vec<AuditEntry>,
    /// The `after` for the next page; absent at the end.
    next: Option<i64>,
}

/// The audit log: a tenant reads its own, the admin reads everyone's.
#[utoipa::path(get, path = "/v1/audit", params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub(crate) async fn audit(
    State(service): State<Service>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_input(e.body_text()))?;
    let tenant = match caller {
        Caller::Admin => None,
        Caller::Tenant(tenant) => Some(tenant.id),
        Caller::Agent { .. } => {
            return Err(ApiError::forbidden("the audit log takes the tenant's token"))
        }
    };
    let limit = query.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_input("`limit` must be 1 to 1000"));
    }
    let entries = service.db().audit_log(tenant, query.after.unwrap_or(0), limit).await?;
    let next = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.seq)).flatten();
    Ok(Json(AuditPage { entries, next }))
}
