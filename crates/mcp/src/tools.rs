//! The tools: what an agent may ask of a served session.

use crate::{outputs::*, ServedSession as Served};
use alloy::{
    dyn_abi::{DynSolValue, FunctionExt},
    hex,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use leash_contracts::bindings::DevToken;
use leash_core::{format_units, parse_function, CallEntry};
use leash_sdk::{lanes::Lane, report::StandingReport, Failure, FailureKind};
use leash_store::{record_sent, Sent, Store};
use rmcp::{
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router, ServerHandler,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::{collections::BTreeMap, sync::Arc};

type Result<T, E = Failure> = std::result::Result<T, E>;

/// A typed result as structured content (and its JSON as text, for clients that read only text).
fn output(value: impl serde::Serialize) -> CallToolResult {
    let mut value = serde_json::to_value(value).expect("outputs serialise");
    leash_sdk::report::checksum_addresses(&mut value);
    CallToolResult::structured(value)
}

/// The MCP server: the tools over the served sessions.
#[derive(Clone)]
pub struct LeashMcp {
    sessions: Arc<BTreeMap<String, Arc<Served>>>,
    /// Where sent operations and the audit log are kept (the same records as the command line's).
    store: Arc<dyn Store>,
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
    /// The nonce lane, a name or a number ("payroll", 3): operations on different lanes never wait on each other.
    #[serde(default, deserialize_with = "lane")]
    #[schemars(schema_with = "lane_schema")]
    lane: Option<String>,
    /// Wait for the receipt (the default); false returns the operation's hash once the bundler accepts it.
    wait: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The resource's URL.
    url: String,
    /// The HTTP method (default GET).
    method: Option<String>,
    /// A JSON body to send.
    body: Option<Value>,
    /// The most to pay for this request, with its unit ("0.10 USDC"); a larger price is refused before signing.
    max: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperationInput {
    /// The session's name; may be left out when the server serves one session.
    session: Option<String>,
    /// The UserOperation hash send_calls returned.
    user_op_hash: String,
}

/// A lane as a name or a whole number of 32 bits; any other number is refused rather than read as a name (which
/// would hash it to another lane and let operations meant to be ordered race).
fn lane<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    use leash_core::written::Scalar;
    match Option::<Scalar>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Scalar::Text(name)) => Ok(Some(name)),
        Some(Scalar::Number(n)) => match n
            .as_f64()
            .filter(|v| v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(v))
        {
            Some(lane) => Ok(Some((lane as u32).to_string())),
            None => Err(serde::de::Error::custom(format!(
                "lane {n} is not a whole number from 0 to 4294967295; give a number in that range or a name"
            ))),
        },
        Some(Scalar::Bool(_)) => Err(serde::de::Error::custom("a lane is a name or a number, not a boolean")),
    }
}

fn lane_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A lane name, or a lane number from 0 to 4294967295",
        "anyOf": [
            { "type": "string" },
            { "type": "integer", "minimum": 0, "maximum": 4294967295u64 },
            { "type": "null" }
        ]
    })
}

type ToolResult = std::result::Result<CallToolResult, CallToolResult>;

/// A tool error an agent can act on: the kind, the rule, what to do, and (for policy refusals) what is left.
fn tool_error(failure: Failure) -> CallToolResult {
    let mut value = failure.to_json();
    value["error"]["message"] = json!(leash_sdk::bundler::scrub_urls(&failure.message));
    CallToolResult::structured_error(value)
}

impl LeashMcp {
    /// A server for `sessions`, recording what it sends in `store`.
    pub fn new(sessions: Vec<Served>, store: Arc<dyn Store>) -> Self {
        let sessions =
            sessions.into_iter().map(|served| (served.name.clone(), Arc::new(served))).collect();
        Self { sessions: Arc::new(sessions), store, tool_router: Self::tool_router() }
    }

    /// The names of the served sessions.
    pub fn session_names(&self) -> Vec<String> {
        self.sessions.keys().cloned().collect()
    }
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

    /// Records a sent operation; the send stands whatever the store says, so its failure is only logged.
    async fn record(
        &self,
        session: &str,
        chain_id: u64,
        account: alloy::primitives::Address,
        hash: B256,
        sent: Sent,
    ) {
        if let Err(e) =
            record_sent(self.store.as_ref(), Some(session), chain_id, account, hash, sent).await
        {
            tracing::warn!(%hash, "the operation was not recorded: {e}");
        }
    }

    /// Where the session stands and what each action has left now, in words and in machine form.
    async fn allowances(served: &Served) -> Result<StandingReport> {
        let standing = served.agent.view().standing().await?;
        Ok(standing.report(&served.session, &served.tokens))
    }

    async fn resolve_calls(served: &Served, calls: &[CallEntry]) -> Result<Vec<leash_core::Call>> {
        if calls.is_empty() {
            return Err(Failure::bad_input("`calls` is empty: give at least one call"));
        }
        let names = served.names();
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.resolve(&names).map_err(|e| Failure::from(e).context(format!("call {}", i + 1)))
            })
            .collect()
    }

    /// A policy refusal with what is left this period, so the agent can plan within its limits.
    async fn refusal(served: &Served, failure: Failure) -> CallToolResult {
        let mut value = failure.to_json();
        if failure.kind == FailureKind::Policy {
            if let Ok(left) = Self::allowances(served).await {
                value["error"]["whatIsLeft"] = json!(left);
            }
        }
        CallToolResult::structured_error(value)
    }

    #[tool(
        description = "The smart account this session acts for, its chain, and the session in use (name, id, key kind).",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = result_or_error::<AccountOutput>()
    )]
    async fn get_account(&self, Parameters(input): Parameters<SessionInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let grant = &served.grant;
        let deployed = served
            .agent
            .chain()
            .provider
            .get_code_at(grant.account)
            .await
            .map(|code| !code.is_empty())
            .map_err(|e| tool_error(Failure::network(format!("eth_getCode: {e}"))))?;
        Ok(output(AccountOutput {
            account: grant.account.to_string(),
            owner: grant.owner.to_string(),
            deployed,
            chain: ChainOutput { network: served.network.clone(), chain_id: served.chain_id },
            granted_on_chains: grant.chains.iter().map(|c| c.chain_id).collect(),
            session: SessionOutput {
                name: served.name.clone(),
                id: grant.session_id.to_string(),
                title: served.session.policy.name.clone(),
                key_kind: served.session.key.kind.name().into(),
            },
            served_sessions: self.names(),
        }))
    }

    #[tool(
        description = "The session's envelope in plain words and in machine form, with what each action has left in the current period (uses, amounts, window).",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = result_or_error::<PermissionsOutput>()
    )]
    async fn get_permissions(&self, Parameters(input): Parameters<SessionInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let session = &served.session;
        let policy = &session.policy;
        let actions = policy
            .actions
            .iter()
            .enumerate()
            .map(|(index, a)| ActionOutput {
                index,
                name: a.name.clone(),
                function: a.function.as_ref().map(|f| f.full_signature()),
                target: match a.target {
                    leash_core::Target::Contract(address) => address.to_string(),
                    _ => "any".into(),
                },
            })
            .collect();
        let now = Self::allowances(&served).await.map_err(tool_error)?;
        Ok(output(PermissionsOutput {
            session: served.name.clone(),
            envelope: session.describe(&served.tokens),
            valid_after: policy.valid_after.0,
            valid_until: policy.valid_until.map(|t| t.0),
            max_ops: policy.max_ops.as_ref().map(|m| m.count.into()),
            gas_budget_wei: policy.effective_gas_budget().map(|g| g.to_string()),
            gas_budget_is_default: policy.gas_budget_is_default(),
            sudo: policy.sudo,
            sign_any: policy.signing.any,
            actions,
            now,
        }))
    }

    #[tool(
        description = "Balances of the account (or another owner): native ETH and ERC-20 tokens by symbol or address.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = result_or_error::<BalancesOutput>()
    )]
    async fn get_balance(&self, Parameters(input): Parameters<BalanceInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let names = served.names();
        let owner = names
            .address(input.owner.as_deref().unwrap_or("self"))
            .map_err(|e| tool_error(e.into()))?;
        let provider = &served.agent.chain().provider;
        let rpc = |e: String| tool_error(Failure::network(e));
        let mut balances = Vec::new();
        let wanted = input.token.as_deref();
        if wanted.is_none() || wanted == Some("ETH") {
            let wei = provider
                .get_balance(owner)
                .await
                .map_err(|e| rpc(format!("eth_getBalance: {e}")))?;
            balances.push(BalanceOutput {
                symbol: "ETH".into(),
                address: None,
                raw: wei.to_string(),
                amount: Some(format_units(wei, 18)),
            });
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
                let address = names.address(token).map_err(|e| tool_error(e.into()))?;
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
            balances.push(BalanceOutput {
                symbol,
                address: Some(address.to_string()),
                raw: raw.to_string(),
                amount: decimals.map(|d| format_units(raw, d)),
            });
        }
        Ok(output(BalancesOutput { owner: owner.to_string(), balances }))
    }

    #[tool(
        description = "Calls a view function and decodes its result. `function` is a signature with outputs, e.g. \"balanceOf(address owner) returns (uint256)\".",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = result_or_error::<ReadOutput>()
    )]
    async fn read_contract(&self, Parameters(input): Parameters<ReadInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let names = served.names();
        let entry = CallEntry {
            to: input.to.clone(),
            function: Some(input.function.clone()),
            args: input.args.clone(),
            value: None,
            data: None,
        };
        let call = entry.resolve(&names).map_err(|e| tool_error(e.into()))?;
        let function = parse_function(&input.function).map_err(|e| tool_error(e.into()))?;
        let tx = TransactionRequest::default().to(call.target).input(call.data.into());
        let returned = served.agent.chain().provider.call(tx).await.map_err(|e| {
            tool_error(Failure::failed(format!("the call reverted or failed: {e}")))
        })?;
        let decoded = if function.outputs.is_empty() {
            json!(hex::encode_prefixed(&returned))
        } else {
            let values = function.abi_decode_output(&returned).map_err(|e| {
                tool_error(Failure::bad_input(format!(
                    "the result does not decode as the outputs of {}: {e}",
                    function.signature()
                )))
            })?;
            Value::Array(values.iter().map(to_json).collect())
        };
        Ok(output(ReadOutput {
            to: call.target.to_string(),
            function: function.full_signature(),
            result: decoded,
        }))
    }

    #[tool(
        description = "Pre-flights a batch of calls against the session's policy and the chain's counters, without signing: allowed with the window it may run in, or the rule that refuses it and what is left.",
        annotations(read_only_hint = true, open_world_hint = false),
        output_schema = result_or_error::<ExplainOutput>()
    )]
    async fn explain_calls(&self, Parameters(input): Parameters<CallsInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let calls = Self::resolve_calls(&served, &input.calls).await.map_err(tool_error)?;
        let explanation = served.agent.explain(&calls).await.map_err(|e| tool_error(e.into()))?;
        match &explanation.verdict {
            Ok(allowed) => Ok(output(ExplainOutput {
                allowed: true,
                message: explanation.message.clone(),
                valid_after: Some(allowed.valid_after),
                valid_until: Some(allowed.valid_until),
                action_per_call: Some(allowed.call_actions.clone()),
                rule: None,
                rejection: None,
                what_is_left: None,
            })),
            Err(rejection) => {
                let left = Self::allowances(&served).await.ok();
                Ok(output(ExplainOutput {
                    allowed: false,
                    message: explanation.message.clone(),
                    valid_after: None,
                    valid_until: None,
                    action_per_call: None,
                    rule: Some(rejection.rule().into()),
                    rejection: Some(rejection.to_json(&served.session, &served.tokens)),
                    what_is_left: left,
                }))
            }
        }
    }

    #[tool(
        description = "Sends a batch of calls as one UserOperation signed by the session key. Runs the pre-flight first and never signs what it refuses (the error names the rule and what is left). Waits for the receipt unless wait is false.",
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true),
        output_schema = result_or_error::<SendOutput>()
    )]
    async fn send_calls(&self, Parameters(input): Parameters<SendInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let calls = Self::resolve_calls(&served, &input.calls).await.map_err(tool_error)?;
        let lane = match input.lane.as_deref() {
            None => Lane::from(0),
            Some(name) => name.parse::<u32>().map(Lane::from).unwrap_or_else(|_| Lane::named(name)),
        };
        let refuse =
            |e: leash_sdk::Error| Failure::with_rejection(e, &served.session, &served.tokens);
        let submitted = match served.agent.submit(&calls, lane).await {
            Ok(submitted) => submitted,
            Err(e) => return Err(Self::refusal(&served, refuse(e)).await),
        };
        let (chain_id, account) = (served.chain_id, served.grant.account);
        let name = served.name.as_str();
        // Recorded as soon as the bundler has it: a wait that fails still leaves the operation to follow.
        self.record(name, chain_id, account, submitted.user_op_hash, Sent::Submitted).await;
        if input.wait == Some(false) {
            return Ok(output(SendOutput {
                status: "submitted".into(),
                user_op_hash: submitted.user_op_hash.to_string(),
                lane: submitted.lane,
                granted: submitted.granted,
                transaction_hash: None,
                success: None,
                gas_used: None,
                gas_cost_wei: None,
            }));
        }
        let hash = submitted.user_op_hash;
        let outcome = served.agent.wait_outcome(hash).await.map_err(|e| {
            // Whatever went wrong while waiting, the bundler has the operation: it may still land, and sending
            // again would pay twice. Say so, with the hash to follow.
            let mut failure = refuse(e);
            failure.hint = Some(format!(
                "the operation {hash} may still land: do not send it again; follow it with get_operation"
            ));
            let mut value = failure.to_json();
            value["error"]["userOpHash"] = json!(hash);
            CallToolResult::structured_error(value)
        })?;
        let included =
            Sent::Included { transaction: outcome.transaction_hash, success: outcome.success };
        self.record(name, chain_id, account, hash, included).await;
        // Recorded as reverted before the revert becomes the tool's error.
        let outcome = outcome.succeeded().map_err(|e| tool_error(refuse(e)))?;
        Ok(output(SendOutput {
            status: "included".into(),
            user_op_hash: submitted.user_op_hash.to_string(),
            lane: submitted.lane,
            granted: submitted.granted,
            transaction_hash: Some(outcome.transaction_hash.to_string()),
            success: Some(outcome.success),
            gas_used: Some(outcome.actual_gas_used.to_string()),
            gas_cost_wei: Some(outcome.actual_gas_cost.to_string()),
        }))
    }

    #[tool(
        description = "Fetches an HTTP resource that may charge with x402, paying once from the smart account with the session key, within the session's signing rules (payee, amount per payment, payments per period). A payment the rules refuse is never signed; the error names the rule. Returns the resource, what was paid and what is left this period.",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true),
        output_schema = result_or_error::<PayOutput>()
    )]
    async fn pay_for_resource(&self, Parameters(input): Parameters<PayInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let bad = |message: String| tool_error(Failure::bad_input(message));
        let method = input.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
        let method = method
            .parse::<reqwest::Method>()
            .map_err(|_| bad(format!("`{method}` is not an HTTP method (GET, POST, ...)")))?;
        let mut payer = leash_x402::Payer::new(served.agent.clone());
        if let Some(text) = &input.max {
            let amount = leash_core::parse_amount(text, &served.tokens)
                .map_err(|e| bad(format!("max {text}: {e}")))?;
            let token =
                amount.unit.as_deref().and_then(|unit| served.tokens.get(unit)).ok_or_else(|| {
                    bad(format!(
                        "max {text}: write the most to pay in a token, with its symbol, e.g. \"0.10 USDC\""
                    ))
                })?;
            payer = payer.max(token.address, amount.raw);
        }
        let mut request = payer.request(method, &input.url);
        if let Some(body) = &input.body {
            request = request.json(body);
        }
        let request = request.build().map_err(|e| bad(format!("{}: {e}", input.url)))?;
        let paid = match payer.send(request).await {
            Ok(paid) => paid,
            Err(leash_x402::Error::Refused(e)) => {
                return Err(Self::refusal(&served, Failure::from(e)).await)
            }
            Err(e @ leash_x402::Error::OverMax { .. }) => {
                let mut failure = Failure::new(FailureKind::Policy, e.to_string());
                failure.rule = Some("MaxPerRequest".into());
                return Err(tool_error(failure));
            }
            Err(leash_x402::Error::Sdk(e)) => return Err(tool_error(e.into())),
            Err(e @ leash_x402::Error::Http { .. }) => {
                return Err(tool_error(Failure::network(e.to_string())))
            }
            Err(e) => return Err(tool_error(Failure::new(FailureKind::Failed, e.to_string()))),
        };
        let status = paid.status.as_u16();
        let text = String::from_utf8_lossy(&paid.body).into_owned();
        let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        let mut payments_left = Vec::new();
        if let Some(payment) = &paid.payment {
            for left in
                served.agent.payments_left(payment.authorization.token).await.unwrap_or_default()
            {
                payments_left.push(PaymentsLeftOutput {
                    left: left.left,
                    per_period: left.count,
                    per_payment: left.per_payment.map(|v| v.to_string()),
                    next_period: left.next_period,
                });
            }
        }
        let paid = paid.payment.map(|p| {
            let a = &p.authorization;
            let amount_text = served.tokens.symbol_of(a.token).and_then(|symbol| {
                served
                    .tokens
                    .get(symbol)
                    .map(|t| format!("{} {symbol}", format_units(a.value, t.decimals)))
            });
            PaidOutput {
                amount: a.value.to_string(),
                amount_text,
                token: a.token.to_string(),
                to: a.to.to_string(),
                transaction: p.receipt.transaction.clone(),
                network: p.receipt.network.clone(),
            }
        });
        Ok(output(PayOutput { status, body, paid, payments_left }))
    }

    #[tool(
        description = "Status and receipt of an operation sent earlier: pending, included (with its transaction and whether its calls succeeded), or unknown.",
        annotations(read_only_hint = true, open_world_hint = true),
        output_schema = result_or_error::<OperationOutput>()
    )]
    async fn get_operation(&self, Parameters(input): Parameters<OperationInput>) -> ToolResult {
        let served = self.served(input.session.as_deref()).map_err(tool_error)?;
        let hash: B256 = input.user_op_hash.trim().parse().map_err(|_| {
            tool_error(Failure::bad_input(format!(
                "`{}` is not a 32-byte hash",
                input.user_op_hash
            )))
        })?;
        let Some(bundler) = &served.bundler else {
            return Err(tool_error(Failure::bad_input("the network has no bundler")));
        };
        let network =
            |e: leash_sdk::bundler::BundlerError| tool_error(leash_sdk::Error::from(e).into());
        if let Some(receipt) = bundler.get_user_operation_receipt(hash).await.map_err(network)? {
            return Ok(output(OperationOutput {
                status: "included".into(),
                user_op_hash: hash.to_string(),
                transaction_hash: Some(receipt.receipt.transaction_hash.to_string()),
                success: Some(receipt.success),
                gas_cost_wei: Some(receipt.actual_gas_cost.to_string()),
                receipt: Some(json!(receipt)),
            }));
        }
        let pending = bundler.get_user_operation_by_hash(hash).await.map_err(network)?;
        Ok(output(OperationOutput {
            status: if pending.is_some() { "pending" } else { "unknown" }.into(),
            user_op_hash: hash.to_string(),
            transaction_hash: None,
            success: None,
            gas_cost_wei: None,
            receipt: None,
        }))
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
