//! What each tool returns, typed: the tool's `outputSchema` is generated from these types, so the schema an agent
//! reads is the shape it gets. Numbers that can pass 2^53 are decimal strings; addresses are checksummed.

use leash_sdk::report::StandingReport;
use rmcp::{handler::server::tool::schema_for_output, model::JsonObject};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// A tool's output schema: its result `T`, or the error object every tool returns when it refuses or fails
/// (`isError: true`). Clients that check structured content against the schema accept both.
pub(crate) fn result_or_error<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let mut success = (*schema_for_output::<T>()).clone();
    let defs = success.remove("$defs");
    let dialect = success.remove("$schema");
    let error = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["kind", "exitCode", "message", "rule", "hint", "rejection"],
                "properties": {
                    "kind": { "enum": ["failed", "bad-input", "policy", "network"] },
                    "exitCode": { "type": "integer" },
                    "message": { "type": "string" },
                    "rule": { "type": ["string", "null"] },
                    "hint": { "type": ["string", "null"] },
                    "rejection": { "type": ["object", "null"] },
                    "whatIsLeft": { "type": "object" },
                    "userOpHash": { "type": "string" }
                }
            }
        }
    });
    let mut root = JsonObject::new();
    if let Some(dialect) = dialect {
        root.insert("$schema".into(), dialect);
    }
    root.insert("type".into(), json!("object"));
    root.insert("anyOf".into(), json!([Value::Object(success), error]));
    if let Some(defs) = defs {
        root.insert("$defs".into(), defs);
    }
    Arc::new(root)
}

/// `get_account`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountOutput {
    /// The smart account.
    pub(crate) account: String,
    /// Its owner.
    pub(crate) owner: String,
    /// Whether it has code on the chain.
    pub(crate) deployed: bool,
    /// The chain served.
    pub(crate) chain: ChainOutput,
    /// Every chain the session is granted on.
    pub(crate) granted_on_chains: Vec<u64>,
    /// The session in use.
    pub(crate) session: SessionOutput,
    /// The sessions this server serves.
    pub(crate) served_sessions: Vec<String>,
}

/// A network and its chain id.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChainOutput {
    /// The network's name.
    pub(crate) network: String,
    /// Its chain id.
    pub(crate) chain_id: u64,
}

/// A served session.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionOutput {
    /// Its name.
    pub(crate) name: String,
    /// Its id (the hash of the packed session).
    pub(crate) id: String,
    /// The policy's title, if it has one.
    pub(crate) title: Option<String>,
    /// `ecdsa`, `p256` or `webauthn`.
    pub(crate) key_kind: String,
}

/// `get_permissions`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PermissionsOutput {
    /// The session's name.
    pub(crate) session: String,
    /// The envelope in words, one line per limit.
    pub(crate) envelope: Vec<String>,
    /// When the session starts (Unix seconds).
    pub(crate) valid_after: u64,
    /// When it ends; `null` for no end.
    pub(crate) valid_until: Option<u64>,
    /// Operations allowed per period; `null` for no limit.
    pub(crate) max_ops: Option<u64>,
    /// The gas budget in wei (a decimal string); `null` when a paymaster pays instead.
    pub(crate) gas_budget_wei: Option<String>,
    /// Whether the budget is the default one (the policy stated none).
    pub(crate) gas_budget_is_default: bool,
    /// Whether the session may call anything (sudo).
    pub(crate) sudo: bool,
    /// Whether it may sign any message for the account.
    pub(crate) sign_any: bool,
    /// Its actions.
    pub(crate) actions: Vec<ActionOutput>,
    /// Where it stands now and what is left.
    pub(crate) now: StandingReport,
}

/// One action of a session.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionOutput {
    /// Its index.
    pub(crate) index: usize,
    /// Its name, if any.
    pub(crate) name: Option<String>,
    /// The function it allows, if it names one.
    pub(crate) function: Option<String>,
    /// The contract it may call, or `any`.
    pub(crate) target: String,
}

/// `get_balance`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BalancesOutput {
    /// Whose balances.
    pub(crate) owner: String,
    /// One per asset.
    pub(crate) balances: Vec<BalanceOutput>,
}

/// One balance.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BalanceOutput {
    /// `ETH`, a token symbol, or the address asked for.
    pub(crate) symbol: String,
    /// The token's address; `null` for ETH.
    pub(crate) address: Option<String>,
    /// In raw units (a decimal string).
    pub(crate) raw: String,
    /// In the token's unit, when its decimals are known.
    pub(crate) amount: Option<String>,
}

/// `read_contract`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReadOutput {
    /// The contract.
    pub(crate) to: String,
    /// The function called.
    pub(crate) function: String,
    /// The decoded outputs in order (numbers as decimal strings), or the raw result in hex when the function
    /// declares no outputs.
    pub(crate) result: Value,
}

/// `explain_calls`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExplainOutput {
    /// Whether the policy allows the batch now.
    pub(crate) allowed: bool,
    /// Why, in words.
    pub(crate) message: String,
    /// When allowed: the earliest time it may run (Unix seconds).
    pub(crate) valid_after: Option<u64>,
    /// When allowed: the latest time it may run.
    pub(crate) valid_until: Option<u64>,
    /// When allowed: the action each call is charged to (`null` for a call under sudo).
    pub(crate) action_per_call: Option<Vec<Option<usize>>>,
    /// When refused: the rule.
    pub(crate) rule: Option<String>,
    /// When refused: the refusal in machine form.
    pub(crate) rejection: Option<Value>,
    /// When refused: what is left, to plan within the limits.
    pub(crate) what_is_left: Option<StandingReport>,
}

/// `send_calls`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendOutput {
    /// `submitted` (not waited for) or `included`.
    pub(crate) status: String,
    /// The UserOperation hash: `get_operation` follows it.
    pub(crate) user_op_hash: String,
    /// The nonce lane it used.
    pub(crate) lane: u32,
    /// Whether this operation granted the session too.
    pub(crate) granted: bool,
    /// Once included: the transaction.
    pub(crate) transaction_hash: Option<String>,
    /// Once included: whether its calls succeeded.
    pub(crate) success: Option<bool>,
    /// Once included: the gas it was charged for (a decimal string).
    pub(crate) gas_used: Option<String>,
    /// Once included: what it paid, in wei (a decimal string).
    pub(crate) gas_cost_wei: Option<String>,
}

/// `get_operation`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationOutput {
    /// `included`, `pending` (with the bundler) or `unknown`.
    pub(crate) status: String,
    /// The UserOperation hash.
    pub(crate) user_op_hash: String,
    /// Once included: the transaction.
    pub(crate) transaction_hash: Option<String>,
    /// Once included: whether its calls succeeded.
    pub(crate) success: Option<bool>,
    /// Once included: what it paid, in wei (a decimal string).
    pub(crate) gas_cost_wei: Option<String>,
    /// Once included: the bundler's whole receipt.
    pub(crate) receipt: Option<Value>,
}

/// `pay_for_resource`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PayOutput {
    /// The resource's final HTTP status.
    pub(crate) status: u16,
    /// Its body: JSON when it is JSON, else text.
    pub(crate) body: Value,
    /// The payment, when the resource asked for one.
    pub(crate) paid: Option<PaidOutput>,
    /// What the session's counted payment scopes for the paid token have left this period.
    pub(crate) payments_left: Vec<PaymentsLeftOutput>,
}

/// A payment made.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaidOutput {
    /// Raw token units (a decimal string).
    pub(crate) amount: String,
    /// The amount in the token's units ("0.01 USDC"), when the token is known.
    pub(crate) amount_text: Option<String>,
    /// The token.
    pub(crate) token: String,
    /// The payee.
    pub(crate) to: String,
    /// The settlement transaction.
    pub(crate) transaction: String,
    /// The network it settled on.
    pub(crate) network: String,
}

/// A counted payment scope's standing.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentsLeftOutput {
    /// Payments still possible this period.
    pub(crate) left: u16,
    /// Payments allowed per period.
    pub(crate) per_period: u16,
    /// The most one payment may carry (raw units), when capped.
    pub(crate) per_payment: Option<String>,
    /// When the next period opens (unix seconds), if ever.
    pub(crate) next_period: Option<u64>,
}
