//! Who is calling: the bearer token, looked up by its hash, and the caller's tenant's rate limit.

use crate::{
    db::{SessionRow, Tenant},
    error::ApiError,
    token::{self, Kind},
    Service,
};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, StatusCode},
};
use subtle::ConstantTimeEq;

/// The caller a request's token names.
#[derive(Debug)]
pub enum Caller {
    /// The admin.
    Admin,
    /// A tenant.
    Tenant(Tenant),
    /// An agent: one session of a tenant.
    Agent {
        /// Its tenant.
        tenant: Tenant,
        /// Its session.
        session: Box<SessionRow>,
    },
}

impl Caller {
    /// The tenant, for a tenant's token; an agent's or the admin's is refused.
    pub(crate) fn tenant(self) -> Result<Tenant, ApiError> {
        match self {
            Caller::Tenant(tenant) => Ok(tenant),
            _ => Err(ApiError::forbidden("this takes the tenant's token")),
        }
    }

    /// The name the audit log records.
    pub(crate) fn actor(&self) -> String {
        match self {
            Caller::Admin => "admin".into(),
            Caller::Tenant(_) => "tenant".into(),
            Caller::Agent { session, .. } => format!("agent:{}", session.name),
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid token is required: send `Authorization: Bearer <token>`",
    )
}

impl FromRequestParts<Service> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ApiError> {
        // The scheme is case-insensitive (RFC 9110, 11.1).
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(unauthorized)?;
        let hash = token::hash(token);
        let caller = match Kind::of(token) {
            // Compared in constant time: the answer must not tell how much of a guess was right.
            Some(Kind::Admin) if bool::from(hash.ct_eq(&service.inner.admin)) => Caller::Admin,
            Some(Kind::Tenant) => {
                Caller::Tenant(service.db().tenant_by_token(&hash).await?.ok_or_else(unauthorized)?)
            }
            Some(Kind::Agent) => {
                let session =
                    service.db().session_by_agent_token(&hash).await?.ok_or_else(unauthorized)?;
                let tenant = service.db().tenant(session.tenant_id).await?;
                Caller::Agent { tenant, session: Box::new(session) }
            }
            _ => return Err(unauthorized()),
        };
        let tenant = match &caller {
            Caller::Admin => None,
            Caller::Tenant(tenant) | Caller::Agent { tenant, .. } => Some(tenant.id),
        };
        if let Some(tenant) = tenant {
            if let Err(wait) = service.inner.limits.take(tenant, std::time::Instant::now()) {
                let mut limited = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "this tenant is over its request rate; retry after the time in `Retry-After`",
                );
                limited.retry_after = Some(wait);
                return Err(limited);
            }
        }
        Ok(caller)
    }
}
