//! The JSON body of a request, with a failure the caller can act on: 415 without `Content-Type:
//! application/json`, 413 past the size limit, 400 naming the field that is wrong or unknown.

use crate::error::ApiError;
use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

/// A JSON body of type `T` (whose fields are all known: unknown ones are refused).
#[derive(Debug)]
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "bad-input",
                    "send the body as JSON with `Content-Type: application/json`",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "bad-input",
                        "the body is larger than this service accepts",
                    )
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::bad_input(format!("the body does not fit: {}", e.body_text()))
                }
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_input(format!("the body is not JSON: {}", e.body_text()))
                }
                other => ApiError::bad_input(other.body_text()),
            }),
        }
    }
}
