//! The HTTP API: routes, who may call them, and the OpenAPI document generated from the types.
//!
//! Every request but `/healthz` and `/openapi.json` carries `Authorization: Bearer TOKEN`: the admin token
//! (tenants, the whole audit log), a tenant's token (its accounts, sessions, operations and audit log), or an
//! agent's token (its own session only). A record of another tenant is answered as not found, never as
//! forbidden, so a token learns nothing about what it may not reach.

mod accounts;
mod auth;
mod body;
mod mcp;
mod operations;
mod sessions;
mod tenants;

pub use crate::error::ApiError;
pub use auth::Caller;

use crate::Service;
use axum::{extract::DefaultBodyLimit, routing::get, routing::post, Json, Router};
use utoipa::OpenApi;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "leash serve", description = "Session keys for many tenants' agents, enforced on chain."),
    paths(
        tenants::create, tenants::list,
        accounts::create, accounts::list, accounts::show, accounts::revoke_all, accounts::owner_operation,
        sessions::create, sessions::list, sessions::show, sessions::grant, sessions::explain, sessions::send,
        sessions::revoke,
        operations::show, operations::audit,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The service's routes.
pub fn router(service: Service) -> Router {
    let max_body = service.config().max_body;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/v1/tenants", post(tenants::create).get(tenants::list))
        .route("/v1/accounts", post(accounts::create).get(accounts::list))
        .route("/v1/accounts/{name}", get(accounts::show))
        .route("/v1/accounts/{name}/revoke-all", post(accounts::revoke_all))
        .route("/v1/accounts/{name}/owner-operations", post(accounts::owner_operation))
        .route("/v1/sessions", post(sessions::create).get(sessions::list))
        .route("/v1/sessions/{name}", get(sessions::show))
        .route("/v1/sessions/{name}/grant", post(sessions::grant))
        .route("/v1/sessions/{name}/explain", post(sessions::explain))
        .route("/v1/sessions/{name}/send", post(sessions::send))
        .route("/v1/sessions/{name}/revoke", post(sessions::revoke))
        .route("/v1/operations/{hash}", get(operations::show))
        .route("/v1/audit", get(operations::audit))
        .nest_service(
            "/v1/mcp",
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(service.clone(), mcp::authenticate))
                // A body that is not JSON gets JSON-RPC's parse error, as from `leash mcp`.
                .layer(axum::middleware::from_fn(leash_mcp::http::require_json))
                .service(mcp::service(service.clone())),
        )
        .fallback(|| async { ApiError::not_found("this path") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(service)
}

/// Names of tenants, accounts and sessions are the store's plain names ([`leash_store::check_name`]): up to 64
/// letters, digits, `.`, `_` or `-`, not starting with a dot.
fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    leash_store::check_name(leash_store::Record::Account, name).map_err(|_| {
        ApiError::bad_input(format!(
            "the {what} name must be 1 to 64 letters, digits, `.`, `_` or `-`, not starting with a dot"
        ))
    })
}
