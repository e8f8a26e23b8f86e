//! The MCP tools for each agent, over streamable HTTP at `/v1/mcp`: the agent's token picks its session, and the
//! tools reach that session only. Stateless (no MCP session is kept between requests), so any replica answers
//! any request; every send goes through the same path as the HTTP API's (leased lanes, recorded before sent).

use super::{sessions, ApiError, Caller};
use crate::{
    db::{SessionRow, Tenant},
    Service,
};
use alloy::primitives::B256;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leash_core::CallEntry;
use rmcp::{
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        session::never::NeverSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    },
    ServerHandler,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The agent a request's token names, put in the request by [`authenticate`] for the tools to read.
#[derive(Clone, Debug)]
struct Agent {
    tenant: Tenant,
    session: SessionRow,
}

/// The MCP service mounted at `/v1/mcp`.
pub(crate) fn service(service: Service) -> StreamableHttpService<AgentTools, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    // Stateless and plain JSON answers: no replica keeps anything between requests. The bearer token, not the
    // Host header, is what keeps a page elsewhere from driving the tools.
    config.legacy_session_mode = false;
    config.json_response = true;
    config.max_request_body_bytes = service.config().max_body;
    StreamableHttpService::new(
        move || Ok(AgentTools { service: service.clone(), tool_router: AgentTools::tool_router() }),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Lets only an agent's token through, with its session attached to the request.
pub(crate) async fn authenticate(
    State(service): State<Service>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match <Caller as axum::extract::FromRequestParts<Service>>::from_request_parts(
        &mut parts, &service,
    )
    .await
    {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    match caller {
        Caller::Agent { tenant, session } => {
            parts.extensions.insert(Agent { tenant, session: *session });
            next.run(Request::from_parts(parts, body)).await
        }
        _ => ApiError::forbidden("the MCP tools take an agent's token").into_response(),
    }
}

/// The tools.
#[derive(Clone)]
pub(crate) struct AgentTools {
    service: Service,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for AgentTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentTools")
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CallsInput {
    /// The calls, run in order as one operation (all or none): `{to, function, args, value}` with token symbols,
    /// contract names and units ("10 USDC"), or `{to, data}`.
    calls: Vec<CallEntry>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SendInput {
    /// The calls, run in order as one operation (all or none).
    calls: Vec<CallEntry>,
    /// An idempotency key: the same key again answers the operation already made (up to 128 characters).
    request_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OperationInput {
    /// The operation's hash (0x…).
    hash: String,
}

fn agent(parts: &axum::http::request::Parts) -> Result<Agent, CallToolResult> {
    parts
        .extensions
        .get::<Agent>()
        .cloned()
        .ok_or_else(|| failure(ApiError::forbidden("no agent token")))
}

fn failure(error: ApiError) -> CallToolResult {
    CallToolResult::structured_error(json!({
        "error": { "code": error.code, "message": error.message, "rule": error.rule, "rejection": error.rejection }
    }))
}

fn answer<T: serde::Serialize>(result: Result<T, ApiError>) -> CallToolResult {
    match result {
        Ok(value) => {
            CallToolResult::structured(serde_json::to_value(value).expect("answers serialise"))
        }
        Err(e) => failure(e),
    }
}

#[tool_router]
impl AgentTools {
    #[tool(
        description = "Your session: its name, account, state, and what each action has left now.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_session(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> CallToolResult {
        let agent = match agent(&parts) {
            Ok(agent) => agent,
            Err(e) => return e,
        };
        let standing = sessions::standing(&self.service, &agent.session).await;
        answer(standing.map(|standing| {
            json!({
                "name": agent.session.name,
                "account": agent.session.account.address,
                "sessionId": agent.session.session_id,
                "state": agent.session.state,
                "standing": standing,
            })
        }))
    }

    #[tool(
        description = "Checks calls against your session's policy and counters now, without signing: allowed, or the rule that refuses.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn explain_calls(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(input): Parameters<CallsInput>,
    ) -> CallToolResult {
        match agent(&parts) {
            Ok(agent) => {
                answer(sessions::verdict(&self.service, &agent.session, &input.calls).await)
            }
            Err(e) => e,
        }
    }

    #[tool(
        description = "Sends calls as one operation from your account and waits for it: landed or reverted, or refused with the rule. Give a requestId to make retries safe.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_calls(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(input): Parameters<SendInput>,
    ) -> CallToolResult {
        let agent = match agent(&parts) {
            Ok(agent) => agent,
            Err(e) => return e,
        };
        let actor = format!("agent:{}", agent.session.name);
        let sent = sessions::send_calls(
            &self.service,
            &agent.tenant,
            &agent.session,
            &input.calls,
            input.request_id.as_deref(),
            &actor,
        )
        .await;
        answer(sent)
    }

    #[tool(
        description = "An operation your session sent, by hash: signed, sent, landed, reverted or failed.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_operation(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(input): Parameters<OperationInput>,
    ) -> CallToolResult {
        let agent = match agent(&parts) {
            Ok(agent) => agent,
            Err(e) => return e,
        };
        let missing = || ApiError::not_found(format!("operation {}", input.hash));
        let result = async {
            let hash: B256 = input
                .hash
                .parse()
                .map_err(|_| ApiError::bad_input("`hash` must be 32 bytes of hex"))?;
            let op = self.service.db().operation(hash).await?.ok_or_else(missing)?;
            if op.session_id != Some(agent.session.id) {
                return Err(missing());
            }
            Ok(crate::send::Operation::from(op).with_receipt(&self.service).await)
        }
        .await;
        answer(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AgentTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("leash serve", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Act for a smart account through your session key. get_session says what you may still do, \
                 explain_calls checks a batch, send_calls acts. Refusals name the rule.",
            )
    }
}
