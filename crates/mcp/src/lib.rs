//! `leash-mcp`: AI agents act through session keys by tool calls (Model Context Protocol), over standard input
//! and output or streamable HTTP ([`http`]).
//!
//! Where it sits (docs/architecture.md): on top of the SDK (the agents that explain, sign and send) and the store
//! (where what it sends is recorded, with the command line's records); `leash mcp` opens the keys and hands the
//! served sessions over.
//!
//! The server holds the session keys it was started with and nothing else: no owner key, so nothing an agent
//! asks for can widen a session. Every send runs the pre-flight first and never signs what it refuses; the
//! chain enforces the same envelope anyway. No tool returns key material, and logs carry none.

pub mod http;
mod outputs;
mod tools;

pub use tools::LeashMcp;

use alloy::primitives::Address;
use leash_core::{Names, Session, TokenTable};
use leash_sdk::{bundler::BundlerClient, Failure, GrantDocument, SessionAgent};
use rmcp::ServiceExt;
use std::collections::BTreeMap;

/// One served session: its grant, its network, and the agent that holds its key.
#[derive(Debug)]
pub struct ServedSession {
    /// The session's name (tool calls name it).
    pub name: String,
    /// Its grant document.
    pub grant: GrantDocument,
    /// The session the document grants.
    pub session: Session,
    /// The network's name.
    pub network: String,
    /// The chain.
    pub chain_id: u64,
    /// Contracts the network names (`router`), for calls and balances.
    pub addresses: BTreeMap<String, Address>,
    /// Token symbols.
    pub tokens: TokenTable,
    /// The agent, with the session's key.
    pub agent: std::sync::Arc<SessionAgent>,
    /// The network's bundler, to look up operations by hash.
    pub bundler: Option<BundlerClient>,
}

impl ServedSession {
    /// The names calls may use: tokens, the network's contracts, and `self` for the account.
    pub(crate) fn names(&self) -> Names<'_> {
        Names { tokens: &self.tokens, addresses: &self.addresses, account: self.grant.account }
    }
}

/// Serves `server` on standard input and output until the client leaves.
pub async fn serve_stdio(server: LeashMcp) -> Result<(), Failure> {
    tracing::info!(sessions = ?server.session_names(), "serving MCP on standard input and output");
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Failure::failed(format!("the MCP session did not start: {e}")))?;
    running.waiting().await.map_err(|e| Failure::failed(format!("the MCP session failed: {e}")))?;
    Ok(())
}
