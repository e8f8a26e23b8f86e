//! JSON-RPC errors with the codes of JSON-RPC 2.0 and ERC-7769 (the ERC-4337 bundler API).

use serde::Serialize;
use serde_json::Value;

/// The request is not valid JSON.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters: missing or malformed fields, wrong EntryPoint, gas too low or underpriced,
/// duplicates.
pub const INVALID_PARAMS: i64 = -32602;
/// The bundler failed on its side.
pub const INTERNAL_ERROR: i64 = -32603;
/// Rejected by the EntryPoint's simulation, during account creation or validation.
pub const REJECTED_BY_ACCOUNT: i64 = -32500;
/// Rejected by the paymaster's `validatePaymasterUserOp`.
pub const REJECTED_BY_PAYMASTER: i64 = -32501;
/// Rejected by an ERC-7562 opcode or storage rule.
pub const BANNED_OPCODE_OR_STORAGE: i64 = -32502;
/// Out of its time range: expired, or expiring too soon, or not yet valid.
pub const OUT_OF_TIME_RANGE: i64 = -32503;
/// An entity is throttled or banned, or over its mempool quota.
pub const THROTTLED: i64 = -32504;
/// An entity's stake or unstake delay is too low.
pub const STAKE_TOO_LOW: i64 = -32505;
/// An aggregator the bundler does not support.
pub const UNSUPPORTED_AGGREGATOR: i64 = -32506;
/// The account's or the paymaster's signature is invalid.
pub const INVALID_SIGNATURE: i64 = -32507;
/// The paymaster's deposit cannot cover the operation.
pub const PAYMASTER_DEPOSIT_TOO_LOW: i64 = -32508;
/// The execution phase reverted (gas estimation).
pub const EXECUTION_REVERTED: i64 = -32521;

/// An error answer: code, message, and data for programs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RpcError {
    /// One of the constants of this module.
    pub code: i64,
    /// What went wrong and, where it helps, what to change.
    pub message: String,
    /// Details (the rule, revert data), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// Adds `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// `-32602`.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// `-32603`; the node's error is reported, since the bundler's own node is local.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// The ERC-7769 code for an EntryPoint `AAxx` reason.
pub fn code_for_reason(reason: &str) -> i64 {
    let code = reason.get(..4).unwrap_or_default();
    match code {
        "AA22" | "AA32" => OUT_OF_TIME_RANGE,
        "AA24" | "AA34" => INVALID_SIGNATURE,
        "AA31" => PAYMASTER_DEPOSIT_TOO_LOW,
        c if c.starts_with("AA3") => REJECTED_BY_PAYMASTER,
        _ => REJECTED_BY_ACCOUNT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_point_reasons_map_to_their_codes() {
        assert_eq!(code_for_reason("AA22 expired or not due"), OUT_OF_TIME_RANGE);
        assert_eq!(code_for_reason("AA24 signature error"), INVALID_SIGNATURE);
        assert_eq!(code_for_reason("AA34 signature error"), INVALID_SIGNATURE);
        assert_eq!(code_for_reason("AA31 paymaster deposit too low"), PAYMASTER_DEPOSIT_TOO_LOW);
        assert_eq!(code_for_reason("AA33 reverted"), REJECTED_BY_PAYMASTER);
        assert_eq!(code_for_reason("AA23 reverted"), REJECTED_BY_ACCOUNT);
        assert_eq!(code_for_reason("AA25 invalid account nonce"), REJECTED_BY_ACCOUNT);
        assert_eq!(code_for_reason(""), REJECTED_BY_ACCOUNT);
    }
}
