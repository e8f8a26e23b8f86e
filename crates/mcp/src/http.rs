//! Streamable HTTP on a loopback address, every request carrying the bearer token.

use crate::LeashMcp;
use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use leash_sdk::Failure;
use rand::RngCore;
use rmcp::transport::streamable_http_server::{
    session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use std::{net::SocketAddr, path::Path, sync::Arc};

type Result<T, E = Failure> = std::result::Result<T, E>;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Serves `server` at `http://LISTEN/mcp` until Ctrl-C. The bearer token comes from `token_file`, else
/// `$LEASH_MCP_TOKEN`, else a random one shown once on standard error.
pub async fn serve(server: LeashMcp, listen: SocketAddr, token_file: Option<&Path>) -> Result<()> {
    let (token, generated) = token(token_file)?;
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let token = Arc::new(token);
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(require_json))
        .layer(middleware::from_fn_with_state(token.clone(), require_token));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::bad_input(format!("cannot listen on {listen}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("the listening address is unknown: {e}")))?;
    // Standard error, not a log: a generated token is shown this once, and only here.
    eprintln!("leash mcp listening on http://{address}/mcp");
    if generated {
        eprintln!(
            "bearer token (shown once; clients send `Authorization: Bearer <token>`): {}",
            token.as_str()
        );
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Failure::failed(format!("the MCP HTTP server stopped: {e}")))
}

/// The token from the file, else `$LEASH_MCP_TOKEN`, else a new random one (and whether it was generated).
fn token(file: Option<&Path>) -> Result<(Zeroizing<String>, bool)> {
    let token = match file {
        Some(path) => {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(format!("cannot read the token file {}: {e}", path.display()))
            })?);
            Some(Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_owned()))
        }
        None => std::env::var("LEASH_MCP_TOKEN").ok().map(Zeroizing::new),
    };
    match token {
        Some(token) if token.len() < 16 => Err(Failure::bad_input(
            "the bearer token is shorter than 16 characters; use a long random one",
        )),
        Some(token) => Ok((token, false)),
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Ok((Zeroizing::new(alloy::hex::encode(bytes)), true))
        }
    }
}

/// Most bytes one JSON-RPC request may carry.
const MAX_BODY: usize = 1 << 20;

/// Answers a POST whose body is not JSON with the JSON-RPC parse error (-32700), as JSON-RPC 2.0 requires, rather
/// than a bare HTTP error; a body past 1 MiB is refused (413).
pub async fn require_json(request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body could not be read whole (at most 1 MiB): {e}"),
            )
                .into_response()
        }
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        let error = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32700, "message": format!("parse error: the body is not JSON ({e})") },
        });
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// Refuses any request without `Authorization: Bearer <token>` (401).
async fn require_token(
    State(token): State<Arc<Zeroizing<String>>>,
    request: Request,
    next: Next,
) -> Response {
    // The scheme is case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` are `Bearer`.
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim_start());
    match given {
        // Compared in constant time (lengths aside): the answer must not tell how much of a guess was right.
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => {
            next.run(request).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required: send `Authorization: Bearer <token>`",
        )
            .into_response(),
    }
}
