//! Tenants: created by the admin, each with its token (shown once) and its data key (kept wrapped).

use super::{body::Body, check_name, ApiError, Caller};
use crate::{db::NewAudit, seal::DataKey, token, Service};
use axum::{extract::State, http::StatusCode, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A tenant to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    /// Its name: 1 to 64 letters, digits, `.`, `_` or `-`.
    name: String,
}

/// A tenant created, with its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedTenant {
    /// Its name.
    name: String,
    /// Its bearer token, shown this once: the service keeps only its hash.
    token: String,
}

/// The tenants.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Tenants {
    /// Their names.
    tenants: Vec<String>,
}

fn admin(caller: Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Admin => Ok(()),
        _ => Err(ApiError::forbidden("this takes the admin token")),
    }
}

/// Creates a tenant (admin).
#[utoipa::path(post, path = "/v1/tenants", request_body = NewTenant,
    responses((status = 201, body = CreatedTenant), (status = 409, description = "the name is taken")))]
pub(crate) async fn create(
    State(service): State<Service>,
    caller: Caller,
    Body(new): Body<NewTenant>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    admin(caller)?;
    check_name("tenant", &new.name)?;
    let kek = &service.inner.kek;
    let wrapped = kek.wrap(&new.name, &DataKey::generate())?;
    let (token, hash) = token::generate(token::Kind::Tenant);
    let audit = NewAudit {
        tenant_id: None,
        actor: "admin",
        action: "tenant.create",
        subject: &new.name,
        result: "ok",
        detail: json!({ "kek": kek.id() }),
    };
    match service.db().create_tenant(&new.name, &hash, &wrapped, kek.id(), audit).await? {
        Some(_) => Ok((
            StatusCode::CREATED,
            Json(CreatedTenant { name: new.name, token: token.to_string() }),
        )),
        None => Err(ApiError::conflict(format!("a tenant named `{}` exists already", new.name))),
    }
}

/// Lists the tenants (admin).
#[utoipa::path(get, path = "/v1/tenants", responses((status = 200, body = Tenants)))]
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Tenants>, ApiError> {
    admin(caller)?;
    Ok(Json(Tenants { tenants: service.db().tenant_names().await? }))
}
