//! Results as the surfaces show them: one shape for the same data on the command line (`--json`) and in the MCP
//! server's tool results. Integers that can pass 2^53 (wei, token amounts) are decimal strings, addresses are
//! checksummed, times are Unix seconds, "no end" is `null`, and a session's state is a stable word with a sentence
//! beside it.

use crate::view::{describe_allowance, Standing};
use leash_core::{format_units, Session, TokenTable};
use schemars::JsonSchema;
use serde::Serialize;

/// Where a session stands and what it has left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandingReport {
    /// `enabled`, `revoked`, `void` or `not-granted`.
    pub state: String,
    /// The state in a sentence.
    pub state_text: String,
    /// The chain's time, in Unix seconds.
    pub now: u64,
    /// Operations in the current period, against the session's operation limit.
    pub operations_this_period: u64,
    /// Gas the session has spent, in wei (a decimal string).
    pub gas_spent_wei: String,
    /// What each action has left now; empty when the session cannot act.
    pub allowances: Vec<AllowanceReport>,
    /// The same in words.
    pub left: Vec<String>,
}

/// What one action has left now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowanceReport {
    /// The action's index in the session.
    pub action: usize,
    /// The action's name, if the policy gave one.
    pub name: Option<String>,
    /// Whether the action is inside one of its usable windows now.
    pub usable_now: bool,
    /// When the current window ends (Unix seconds); `null` for no end.
    pub window_ends: Option<u64>,
    /// Calls left; `null` when uncounted.
    pub uses_left: Option<u64>,
    /// Amount left under the cap, in the token's raw units (a decimal string); `null` without a cap.
    pub amount_left: Option<String>,
    /// The same with its unit, e.g. "40 USDC", when the token is known.
    pub amount_left_text: Option<String>,
    /// Native value left under the cap, in wei (a decimal string); `null` without a cap.
    pub value_left_wei: Option<String>,
    /// The allowance in words.
    pub text: String,
}

/// A lifetime window ends at the module's 2^48 - 1: that is no end.
const NO_END: u64 = (1 << 48) - 1;

impl Standing {
    /// This standing as the surfaces show it.
    pub fn report(&self, session: &Session, tokens: &TokenTable) -> StandingReport {
        let allowances = self
            .allowances
            .iter()
            .map(|a| {
                let action = &session.policy.actions[a.action];
                let token = action.cap_token(tokens).map(|(s, d)| (s.to_owned(), d));
                AllowanceReport {
                    action: a.action,
                    name: action.name.clone(),
                    usable_now: a.period.is_some(),
                    window_ends: a.window_ends.filter(|end| *end < NO_END),
                    uses_left: a.uses_left,
                    amount_left: a.amount_left.map(|x| x.to_string()),
                    amount_left_text: a.amount_left.zip(token).map(
                        |(amount, (symbol, decimals))| {
                            format!("{} {symbol}", format_units(amount, decimals))
                        },
                    ),
                    value_left_wei: a.value_left.map(|x| x.to_string()),
                    text: describe_allowance(session, a, tokens),
                }
            })
            .collect();
        let chain = &self.status.chain;
        StandingReport {
            state: self.state.to_owned(),
            state_text: self.label.to_owned(),
            now: self.status.now,
            operations_this_period: chain.session.uses.into(),
            gas_spent_wei: chain.session.gas_spent.to_string(),
            allowances,
            left: self.left.clone(),
        }
    }
}

/// Serializes a `U256` as a decimal string (`#[serde(serialize_with = "leash_sdk::report::decimal")]`): the
/// number a person reads, and one a JSON parser cannot round; serde writes `U256` in hex.
pub fn decimal<S: serde::Serializer>(
    value: &alloy::primitives::U256,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

/// Writes every address in `value` (a string of `0x` and 40 hex digits) in its EIP-55 checksummed form, the one
/// address convention of leash's JSON: serde writes addresses in lower case, people and block explorers in mixed
/// case. What others produced is passed on as it is: a contract's decoded `result` (a `bytes20` is not an address)
/// and a bundler's `receipt`.
///
/// ```
/// let mut value = serde_json::json!({ "owner": "0x4d65726368616e74000000000000000000000001", "n": "12" });
/// leash_sdk::report::checksum_addresses(&mut value);
/// assert_eq!(value["owner"], "0x4D65726368616E74000000000000000000000001");
/// ```
pub fn checksum_addresses(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) if text.len() == 42 && text.starts_with("0x") => {
            if let Ok(address) = text.parse::<alloy::primitives::Address>() {
                *text = address.to_checksum(None);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(checksum_addresses),
        Value::Object(fields) => fields
            .iter_mut()
            .filter(|(key, _)| !matches!(key.as_str(), "result" | "receipt"))
            .for_each(|(_, value)| checksum_addresses(value)),
        _ => {}
    }
}
