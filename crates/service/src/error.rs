//! What a request that did not succeed answers: an HTTP status and `{"error": {code, message, rule, hint,
//! rejection}}`. Messages name what to fix; none carries a token, a key, a URL's path or a row's ciphertext.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use leash_sdk::{Failure, FailureKind};
use serde_json::{json, Value};
use std::time::Duration;

/// A request's failure.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code a client can branch on: `unauthorized`, `forbidden`, `not-found`, `conflict`, `bad-input`,
    /// `refused` (the session's policy), `revoked`, `rate-limited`, `busy`, `network`, `failed`.
    pub code: &'static str,
    /// What happened and what to do, in words.
    pub message: String,
    /// The session rule that refused, for `refused`.
    pub rule: Option<String>,
    /// The refusal in machine form.
    pub rejection: Option<Value>,
    /// For `rate-limited` and `busy`: when to try again.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A failure with `status` and `code`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            rule: None,
            rejection: None,
            retry_after: None,
        }
    }

    /// 400: the request is wrong.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-input", message)
    }

    /// 404: no such record for this caller (another tenant's records are not found, not forbidden: their
    /// existence is not told).
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", format!("{what} does not exist"))
    }

    /// 403: the caller's token may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 409: the name is taken, or the record is not in a state that allows this.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// Prefixes the message with what it is about.
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// 500: the service failed; the details go to the log, not the caller.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the service failed; the operator's log has the details",
        )
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        Self::internal(error)
    }
}

impl From<crate::seal::SealError> for ApiError {
    fn from(error: crate::seal::SealError) -> Self {
        Self::internal(error)
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        let (status, code) = match failure.kind {
            FailureKind::BadInput => (StatusCode::BAD_REQUEST, "bad-input"),
            FailureKind::Policy => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            FailureKind::Network => (StatusCode::BAD_GATEWAY, "network"),
            FailureKind::Failed => (StatusCode::UNPROCESSABLE_ENTITY, "failed"),
        };
        let mut message = failure.to_string();
        if let Some(hint) = &failure.hint {
            message = format!("{message} ({hint})");
        }
        Self {
            status,
            code,
            message,
            rule: failure.rule,
            rejection: failure.detail,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "code": self.code,
                "message": leash_sdk::bundler::scrub_urls(&self.message),
                "rule": self.rule,
                "rejection": self.rejection,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
