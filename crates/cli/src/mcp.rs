//! `leash mcp`: AI agents act through session keys by tool calls (Model Context Protocol, over stdio or
//! streamable HTTP).
//!
//! The server holds the session keys it was started with and nothing else: no owner key, so nothing an agent
//! asks for can widen a session. Every send runs the pre-flight first and never signs what it refuses; the
//! chain enforces the same envelope anyway. No tool returns key material, and logs carry none.

use crate::{
    calls::CallEntry,
    failure::{Failure, Result},
    home::Home,
    network::{Network, Networks},
    password::KeyPassword,
    session::{names, with_rejection, Stored},
};
use alloy::{
    dyn_abi::{DynSolValue, FunctionExt},
    hex,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use leash_contracts::bindings::DevToken;
use leash_core::{format_units, parse_function, TokenTable};
use leash_sdk::{lanes::Lane, SessionAgent};
use rmcp::{
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router, ServerHandler, ServiceExt,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc};

/// Options of `leash mcp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A session to serve; repeat for several (each agent names its own in tool calls).
    #[arg(long = "session", value_name = "NAME", required = true)]
    sessions: Vec<String>,
    /// Serve over streamable HTTP instead of standard input and output.
    #[arg(long)]
    http: bool,
    /// Where HTTP listens. Requests must name a loopback host (DNS-rebinding protection), so reach it from
    /// elsewhere through a tunnel or a reverse proxy; the bearer token guards it either way.
    #[arg(long, default_value = "127.0.0.1:8765", requires = "http")]
    listen: SocketAddr,
    /// A file holding the bearer token HTTP clients must send; else $LEASH_MCP_TOKEN; else a random token is
    /// generated and shown once on standard error.
    #[arg(long, value_name = "FILE", requires = "http")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    password: KeyPassword,
}

/// One served session: its document, network and agent.
struct Served {
    stored: Stored,
    network: Network,
    agent: SessionAgent,
    tokens: TokenTable,
}

/// The MCP server: the tools over the served sessions.
#[derive(Clone)]
pub(crate) struct LeashMcp {
    sessions: Arc<BTreeMap<String, Arc<Served>>>,
    /// Where sent operations and the audit log are kept (the same records as the command line's).
    home: Home,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for LeashMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the agents hold keys.
        f.debug_struct("LeashMcp")
            .field("sessions", &self.sessions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Which session a tool call acts for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BalanceInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// "ETH", a token symbol ("USDC") or a token address; all known tokens when left out.
    token: Option<String>,
    /// Whose balance: an address, a name, or "self" (the default: the smart account).
    owner: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The contract: 0x…, a token symbol or a contract name.
    to: String,
    /// The function with its outputs, e.g. "balanceOf(address owner) returns (uint256)".
    function: String,
    /// The arguments, in order, as strings.
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallsInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The calls, run in order as one operation.
    calls: Vec<CallEntry>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The calls, run in order as one operation (all or none).
    calls: Vec<CallEntry>,
    /// The nonce lane ("payroll", "3"): operations on different lanes never wait on each other.
    lane: Option<String>,
    /// Wait for the receipt (the default); false returns the operation's hash once the bundler accepts it.
    wait: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The UserOperation hash send_calls returned.
    user_op_hash: String,
}

type ToolResult = std::result::Result<CallToolResult, CallToolResult>;

/// A tool error an agent can act on: the kind, the rule, what to do, and (for policy refusals) what is left.
fn tool_error(failure: Failure) -> CallToolResult {
    let mut value = failure.to_json();
    value["error"]["message"] = json!(leash_sdk::bundler::scrub_urls(&failure.message));
    CallToolResult::structured_error(value)
}

#[tool_router(router = tool_router)]
impl LeashMcp {
    fn served(&self, name: Option<&str>) -> Result<Arc<Served>> {
        match name {
            Some(name) => self.sessions.get(name).cloned().ok_or_else(|| {
                Failure::bad_input(format!(
                    "this server does not serve a session named `{name}`; it serves: {}",
                    self.names().join(", ")
                ))
            }),
            None if self.sessions.len() == 1 => {
                Ok(self.sessions.values().next().expect("one").clone())
            }
            None => Err(Failure::bad_input(format!(
                "several sessions are served ({}); name yours in the `session` argument",
                self.names().join(", ")
            ))),
        }
    }

    fn names(&self) -> Vec<String> {
        self.sessions.keys().cloned().collect()
    }

    /// What each action has left now, in words and in machine form.
    async fn allowances(served: &Served) -> Result<Value> {
        let standing = served.stored.standing(served.agent.chain(), &served.tokens).await?;
        let state = &standing.status.chain;
        Ok(json!({
            "state": standing.label,
            "now": standing.status.now,
            "operationsThisPeriod": state.session.uses,
            "gasSpentWei": state.session.gas_spent.to_string(),
            "left": standing.left,
            "allowances": standing.allowances,
        }))
    }

    async fn resolve_calls(served: &Served, calls: &[CallEntry]) -> Result<Vec<leash_core::Call>> {
        if calls.is_empty() {
            return Err(Failure::bad_input("`calls` is empty: give at least one call"));
        }
        let names = names(&served.stored, &served.network, &served.tokens);
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| c.resolve(&names).map_err(|f| f.context(format!("call {}", i + 1))))
            .collect()
    }

    /// A policy refusal with what is left this period, so the agent can plan within its limits.
    async fn refusal(served: &Served, failure: Failure) -> CallToolResult {
        let mut value = failure.to_json();
        if failure.kind == crate::failure::Kind::Policy {
            if let Ok(left) = Self::allowances(served).await {
                value["error"]["whatIsLeft"] = left;
            }
        }
        CallToolResult::structured_error(value)
    }

    #[tool(
        description = "The smart account this session acts for, its chain, and the session in use (name, id, key kind)."
    )]
    async fn get_account(&self, Parameters(input): Parameters<SessionInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let grant = &served.stored.grant;
        let deployed = served
            .agent
            .chain()
            .provider
            .get_code_at(grant.account)
            .await
            .map(|code| !code.is_empty())
            .map_err(|e| tool_error(Failure::network(format!("eth_getCode: {e}"))))?;
        Ok(CallToolResult::structured(json!({
            "account": grant.account,
            "owner": grant.owner,
            "deployed": deployed,
            "chain": { "network": served.network.name, "chainId": served.network.chain_id },
            "grantedOnChains": grant.chains.iter().map(|c| c.chain_id).collect::<Vec<_>>(),
            "session": {
                "name": served.stored.name,
                "id": grant.session_id,
                "title": served.stored.session.policy.name,
                "keyKind": crate::keystore::kind_name(served.stored.session.key.kind),
            },
            "servedSessions": self.names(),
        })))
    }

    #[tool(
        description = "The session's envelope in plain words and in machine form, with what each action has left in the current period (uses, amounts, window)."
    )]
    async fn get_permissions(&self, Parameters(input): Parameters<SessionInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let session = &served.stored.session;
        let policy = &session.policy;
        let actions: Vec<Value> = policy
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                json!({
                    "index": i,
                    "name": a.name,
                    "function": a.function.as_ref().map(|f| f.full_signature()),
                    "target": match a.target { leash_core::Target::Contract(address) => json!(address), _ => json!("any") },
                })
            })
            .collect();
        let now = Self::allowances(&served).await.map_err(tool_error)?;
        Ok(CallToolResult::structured(json!({
            "session": served.stored.name,
            "envelope": session.describe(&served.tokens),
            "validAfter": policy.valid_after.0,
            "validUntil": policy.valid_until.map(|t| t.0),
            "maxOps": policy.max_ops.as_ref().map(|m| m.count),
            "gasBudgetWei": policy.effective_gas_budget().map(|g| g.to_string()),
            "gasBudgetIsDefault": policy.gas_budget_is_default(),
            "sudo": policy.sudo,
            "signAny": policy.signing.any,
            "actions": actions,
            "now": now,
        })))
    }

    #[tool(
        description = "Balances of the account (or another owner): native ETH and ERC-20 tokens by symbol or address."
    )]
    async fn get_balance(&self, Parameters(input): Parameters<BalanceInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let names = names(&served.stored, &served.network, &served.tokens);
        let owner = names.address(input.owner.as_deref().unwrap_or("self")).map_err(tool_error)?;
        let provider = &served.agent.chain().provider;
        let rpc = |e: String| tool_error(Failure::network(e));
        let mut balances = Vec::new();
        let wanted = input.token.as_deref();
        if wanted.is_none() || wanted == Some("ETH") {
            let wei = provider
                .get_balance(owner)
                .await
                .map_err(|e| rpc(format!("eth_getBalance: {e}")))?;
            balances.push(
                json!({ "token": "ETH", "raw": wei.to_string(), "amount": format_units(wei, 18) }),
            );
        }
        let tokens: Vec<(String, alloy::primitives::Address, Option<u8>)> = match wanted {
            None => served
                .tokens
                .symbols()
                .map(|s| {
                    (
                        s.to_owned(),
                        served.tokens.get(s).expect("listed").address,
                        served.tokens.get(s).map(|t| t.decimals),
                    )
                })
                .collect(),
            Some("ETH") => Vec::new(),
            Some(token) => {
                let address = names.address(token).map_err(tool_error)?;
                let known = served.tokens.symbol_of(address).and_then(|s| served.tokens.get(s));
                vec![(token.to_owned(), address, known.map(|t| t.decimals))]
            }
        };
        for (symbol, address, decimals) in tokens {
            let raw: U256 = DevToken::new(address, provider)
                .balanceOf(owner)
                .call()
                .await
                .map_err(|e| rpc(format!("balanceOf on {address}: {e}")))?;
            let amount = decimals.map(|d| format_units(raw, d));
            balances.push(json!({ "token": symbol, "address": address, "raw": raw.to_string(), "amount": amount }));
        }
        Ok(CallToolResult::structured(json!({ "owner": owner, "balances": balances })))
    }

    #[tool(
        description = "Calls a view function and decodes its result. `function` is a signature with outputs, e.g. \"balanceOf(address owner) returns (uint256)\"."
    )]
    async fn read_contract(&self, Parameters(input): Parameters<ReadInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let names = names(&served.stored, &served.network, &served.tokens);
        let entry = CallEntry {
            to: input.to.clone(),
            function: Some(input.function.clone()),
            args: input.args.clone(),
            value: None,
            data: None,
        };
        let call = entry.resolve(&names).map_err(tool_error)?;
        let function = parse_function(&input.function).map_err(|e| tool_error(e.into()))?;
        let tx = TransactionRequest::default().to(call.target).input(call.data.into());
        let output = served.agent.chain().provider.call(tx).await.map_err(|e| {
            tool_error(Failure::failed(format!("the call reverted or failed: {e}")))
        })?;
        let decoded = if function.outputs.is_empty() {
            json!(hex::encode_prefixed(&output))
        } else {
            let values = function.abi_decode_output(&output).map_err(|e| {
                tool_error(Failure::bad_input(format!(
                    "the result does not decode as the outputs of {}: {e}",
                    function.signature()
                )))
            })?;
            Value::Array(values.iter().map(to_json).collect())
        };
        Ok(CallToolResult::structured(
            json!({ "to": call.target, "function": function.full_signature(), "result": decoded }),
        ))
    }

    #[tool(
        description = "Pre-flights a batch of calls against the session's policy and the chain's counters, without signing: allowed with the window it may run in, or the rule that refuses it and what is left."
    )]
    async fn explain_calls(&self, Parameters(input): Parameters<CallsInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let calls = Self::resolve_calls(&served, &input.calls).await.map_err(tool_error)?;
        let explanation = served.agent.explain(&calls).await.map_err(|e| tool_error(e.into()))?;
        match &explanation.verdict {
            Ok(allowed) => Ok(CallToolResult::structured(json!({
                "allowed": true,
                "message": explanation.message,
                "validAfter": allowed.valid_after,
                "validUntil": allowed.valid_until,
                "actionPerCall": allowed.call_actions,
            }))),
            Err(rejection) => {
                let left = Self::allowances(&served).await.ok();
                Ok(CallToolResult::structured(json!({
                    "allowed": false,
                    "rule": rejection.rule(),
                    "message": explanation.message,
                    "rejection": rejection.to_json(&served.stored.session, &served.tokens),
                    "whatIsLeft": left,
                })))
            }
        }
    }

    #[tool(
        description = "Sends a batch of calls as one UserOperation signed by the session key. Runs the pre-flight first and never signs what it refuses (the error names the rule and what is left). Waits for the receipt unless wait is false."
    )]
    async fn send_calls(&self, Parameters(input): Parameters<SendInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let calls = Self::resolve_calls(&served, &input.calls).await.map_err(tool_error)?;
        let lane = match input.lane.as_deref() {
            None => Lane::from(0),
            Some(name) => name.parse::<u32>().map(Lane::from).unwrap_or_else(|_| Lane::named(name)),
        };
        let refuse =
            |e: leash_sdk::Error| with_rejection(e, &served.stored.session, &served.tokens);
        let submitted = match served.agent.submit(&calls, lane).await {
            Ok(submitted) => submitted,
            Err(e) => return Err(Self::refusal(&served, refuse(e)).await),
        };
        let (chain_id, account) = (served.network.chain_id, served.stored.grant.account);
        let name = served.stored.name.as_str();
        if input.wait == Some(false) {
            crate::session::remember_submitted(
                &self.home,
                name,
                chain_id,
                account,
                submitted.user_op_hash,
            )
            .await;
            return Ok(CallToolResult::structured(json!({
                "status": "submitted",
                "userOpHash": submitted.user_op_hash,
                "lane": submitted.lane,
                "granted": submitted.granted,
            })));
        }
        let outcome =
            served.agent.wait(submitted.user_op_hash).await.map_err(|e| tool_error(refuse(e)))?;
        crate::session::remember(&self.home, Some(name), chain_id, account, &outcome).await;
        Ok(CallToolResult::structured(json!({
            "status": "included",
            "userOpHash": submitted.user_op_hash,
            "lane": submitted.lane,
            "granted": submitted.granted,
            "transactionHash": outcome.transaction_hash,
            "success": outcome.success,
            "gasUsed": outcome.actual_gas_used.to_string(),
            "gasCostWei": outcome.actual_gas_cost.to_string(),
        })))
    }

    #[tool(
        description = "Status and receipt of an operation sent earlier: pending, included (with its transaction and whether its calls succeeded), or unknown."
    )]
    async fn get_operation(&self, Parameters(input): Parameters<OperationInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let hash: B256 = input.user_op_hash.trim().parse().map_err(|_| {
            tool_error(Failure::bad_input(format!(
                "`{}` is not a 32-byte hash",
                input.user_op_hash
            )))
        })?;
        let submitter = served.network.submitter().map_err(tool_error)?;
        let leash_sdk::Submitter::Bundler(bundler) = submitter else {
            return Err(tool_error(Failure::bad_input("the network has no bundler")));
        };
        let network =
            |e: leash_sdk::bundler::BundlerError| tool_error(leash_sdk::Error::from(e).into());
        if let Some(receipt) = bundler.get_user_operation_receipt(hash).await.map_err(network)? {
            return Ok(CallToolResult::structured(
                json!({ "status": "included", "userOpHash": hash, "receipt": receipt }),
            ));
        }
        let pending = bundler.get_user_operation_by_hash(hash).await.map_err(network)?;
        Ok(CallToolResult::structured(json!({
            "status": if pending.is_some() { "pending" } else { "unknown" },
            "userOpHash": hash,
        })))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LeashMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("leash", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Act for a smart account through a session key. Call get_permissions to learn what you may do and \
                 what is left this period, explain_calls to check a batch, send_calls to act. Refusals name the rule.",
            )
    }
}

/// Decoded ABI values as JSON: numbers as decimal strings (they overflow JSON numbers), addresses checksummed.
fn to_json(value: &DynSolValue) -> Value {
    match value {
        DynSolValue::Bool(b) => json!(b),
        DynSolValue::Int(i, _) => json!(i.to_string()),
        DynSolValue::Uint(u, _) => json!(u.to_string()),
        DynSolValue::Address(a) => json!(a.to_string()),
        DynSolValue::FixedBytes(word, size) => json!(hex::encode_prefixed(&word[..*size])),
        DynSolValue::Bytes(bytes) => json!(hex::encode_prefixed(bytes)),
        DynSolValue::String(s) => json!(s),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        other => json!(format!("{other:?}")),
    }
}

/// Loads the sessions and their keys, then serves until the client leaves (stdio) or Ctrl-C (HTTP).
pub(crate) async fn run(args: Args, home: &Home, networks: &Networks) -> Result<()> {
    let mut sessions = BTreeMap::new();
    for name in &args.sessions {
        let stored = Stored::load(home, name).await?;
        let network = stored.network(networks)?;
        let chain = network.connect().await?;
        let key = stored.open_key(&args.password)?;
        let agent = stored.agent(home, &network, chain, key.into_shared()).await?;
        let tokens = stored.tokens(&network);
        sessions.insert(name.clone(), Arc::new(Served { stored, network, agent, tokens }));
    }
    let server = LeashMcp {
        sessions: Arc::new(sessions),
        home: home.clone(),
        tool_router: LeashMcp::tool_router(),
    };
    if args.http {
        crate::mcp_http::serve(server, args.listen, args.token_file.as_deref()).await
    } else {
        tracing::info!(sessions = ?server.names(), "serving MCP on standard input and output");
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Failure::failed(format!("the MCP session did not start: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| Failure::failed(format!("the MCP session failed: {e}")))?;
        Ok(())
    }
}
