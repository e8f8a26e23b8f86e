//! The answers of the bundler JSON-RPC API (ERC-7769) for EntryPoint v0.7, as real bundlers send them and not
//! only as the specification shows them: quantities as hex strings, decimal strings or JSON numbers; optional
//! fields absent or `null`; a zero address for "no paymaster"; `entrypoint` for `entryPoint`;
//! `verificationGas` for `verificationGasLimit`. Encoding gives the canonical shape.

use crate::UserOperation;
use alloy::primitives::{Address, Bloom, Bytes, LogData, B256, U256, U64};
use serde::{Deserialize, Deserializer, Serialize};

/// The answer of `eth_estimateUserOperationGas`.
///
/// The paymaster limits are `None` when the bundler left them out (or sent `null`), which bundlers do for
/// operations without a paymaster. Older bundlers name the verification limit `verificationGas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "WireGasEstimate")]
pub struct GasEstimate {
    /// `preVerificationGas`.
    pub pre_verification_gas: U256,
    /// `verificationGasLimit`.
    pub verification_gas_limit: U256,
    /// `callGasLimit`.
    pub call_gas_limit: U256,
    /// `paymasterVerificationGasLimit`, if estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// `paymasterPostOpGasLimit`, if estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
}

impl GasEstimate {
    /// Writes the estimate into `op`: the three gas values, and the paymaster limits the bundler estimated
    /// when `op` has a paymaster (others keep their value).
    pub fn apply_to(&self, op: &mut UserOperation) {
        op.pre_verification_gas = self.pre_verification_gas;
        op.verification_gas_limit = self.verification_gas_limit;
        op.call_gas_limit = self.call_gas_limit;
        if let Some(paymaster) = &mut op.paymaster {
            if let Some(gas) = self.paymaster_verification_gas_limit {
                paymaster.verification_gas_limit = gas;
            }
            if let Some(gas) = self.paymaster_post_op_gas_limit {
                paymaster.post_op_gas_limit = gas;
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireGasEstimate {
    pre_verification_gas: U256,
    #[serde(default)]
    verification_gas_limit: Option<U256>,
    #[serde(default)]
    verification_gas: Option<U256>,
    call_gas_limit: U256,
    #[serde(default)]
    paymaster_verification_gas_limit: Option<U256>,
    #[serde(default)]
    paymaster_post_op_gas_limit: Option<U256>,
}

impl TryFrom<WireGasEstimate> for GasEstimate {
    type Error = &'static str;

    fn try_from(wire: WireGasEstimate) -> Result<Self, Self::Error> {
        Ok(Self {
            pre_verification_gas: wire.pre_verification_gas,
            verification_gas_limit: wire
                .verification_gas_limit
                .or(wire.verification_gas)
                .ok_or("missing field `verificationGasLimit`")?,
            call_gas_limit: wire.call_gas_limit,
            paymaster_verification_gas_limit: wire.paymaster_verification_gas_limit,
            paymaster_post_op_gas_limit: wire.paymaster_post_op_gas_limit,
        })
    }
}

/// A log in a receipt. Block and transaction fields are optional because not every bundler sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLog {
    /// The emitting contract.
    pub address: Address,
    /// The topics.
    pub topics: Vec<B256>,
    /// The data.
    pub data: Bytes,
    /// The block.
    #[serde(
        default,
        with = "alloy::serde::quantity::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_number: Option<u64>,
    /// The block hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<B256>,
    /// The bundle transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_hash: Option<B256>,
    /// The transaction's index in its block.
    #[serde(
        default,
        with = "alloy::serde::quantity::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_index: Option<u64>,
    /// The log's index in its block.
    #[serde(
        default,
        with = "alloy::serde::quantity::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub log_index: Option<u64>,
    /// Removed by a reorganisation.
    #[serde(default, deserialize_with = "lenient_bool_or_null")]
    pub removed: bool,
}

impl ReceiptLog {
    /// The log as alloy's consensus log, to decode events with `SolEvent::decode_log`.
    pub fn to_log(&self) -> alloy::primitives::Log {
        alloy::primitives::Log {
            address: self.address,
            data: LogData::new_unchecked(self.topics.clone(), self.data.clone()),
        }
    }
}

/// The receipt of the transaction that carried a bundle (all of its operations, not only one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleReceipt {
    /// The bundle transaction.
    pub transaction_hash: B256,
    /// Its index in the block.
    #[serde(
        default,
        with = "alloy::serde::quantity::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_index: Option<u64>,
    /// The block hash.
    pub block_hash: B256,
    /// The block number.
    #[serde(with = "alloy::serde::quantity")]
    pub block_number: u64,
    /// The bundler's sending address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// The EntryPoint, normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
    /// Gas used by the whole bundle transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<U256>,
    /// Gas used in the block up to and including this transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cumulative_gas_used: Option<U256>,
    /// The price per gas the bundler paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_gas_price: Option<U256>,
    /// Whether the bundle transaction succeeded (`0x1`, `1` or `true`).
    #[serde(
        default,
        deserialize_with = "lenient_opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<bool>,
    /// All logs of the bundle transaction.
    #[serde(default, deserialize_with = "null_as_default")]
    pub logs: Vec<ReceiptLog>,
    /// The logs bloom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_bloom: Option<Bloom>,
}

/// The answer of `eth_getUserOperationReceipt` for an included operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationReceipt {
    /// The operation's hash.
    pub user_op_hash: B256,
    /// The EntryPoint (some bundlers leave it out or spell it `entrypoint`).
    #[serde(default, alias = "entrypoint", skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Address>,
    /// The account.
    pub sender: Address,
    /// The operation's nonce.
    pub nonce: U256,
    /// The paymaster; `None` when absent, `null` or the zero address.
    #[serde(
        default,
        deserialize_with = "nonzero_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub paymaster: Option<Address>,
    /// What the operation paid, in wei.
    pub actual_gas_cost: U256,
    /// The gas it was charged for.
    pub actual_gas_used: U256,
    /// Whether its execution succeeded.
    #[serde(deserialize_with = "lenient_bool")]
    pub success: bool,
    /// The revert reason when it failed (often hex revert data); `None` when empty.
    #[serde(
        default,
        deserialize_with = "nonempty_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    /// The logs the operation emitted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub logs: Vec<ReceiptLog>,
    /// The bundle transaction's receipt.
    pub receipt: BundleReceipt,
}

/// The answer of `eth_getUserOperationByHash`: the operation and, once included, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationByHash {
    /// The operation.
    pub user_operation: UserOperation,
    /// The EntryPoint it was sent to.
    #[serde(alias = "entrypoint")]
    pub entry_point: Address,
    /// The block, once included (`None` while pending: absent, `null`, or zero).
    #[serde(
        default,
        deserialize_with = "nonzero_u64",
        serialize_with = "alloy::serde::quantity::opt::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_number: Option<u64>,
    /// The block hash, once included.
    #[serde(default, deserialize_with = "nonzero_hash", skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<B256>,
    /// The bundle transaction, once included.
    #[serde(default, deserialize_with = "nonzero_hash", skip_serializing_if = "Option::is_none")]
    pub transaction_hash: Option<B256>,
}

impl UserOperationByHash {
    /// Whether the operation is in a block (rather than in the bundler's mempool).
    pub const fn is_included(&self) -> bool {
        self.transaction_hash.is_some()
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn nonzero_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Address>, D::Error> {
    Ok(Option::<Address>::deserialize(deserializer)?.filter(|address| !address.is_zero()))
}

fn nonzero_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<B256>, D::Error> {
    Ok(Option::<B256>::deserialize(deserializer)?.filter(|hash| !hash.is_zero()))
}

fn nonzero_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<U64>::deserialize(deserializer)?.map(|n| n.to::<u64>()).filter(|n| *n != 0))
}

fn nonempty_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|text| !text.is_empty() && text != "0x"))
}

/// `true`/`false`, `1`/`0`, `"0x1"`/`"0x0"`, `"true"`/`"false"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum LenientBool {
    Bool(bool),
    Number(u64),
    Text(String),
}

impl LenientBool {
    fn into_bool<E: serde::de::Error>(self) -> Result<bool, E> {
        match self {
            Self::Bool(value) => Ok(value),
            Self::Number(0) => Ok(false),
            Self::Number(1) => Ok(true),
            Self::Text(text) => match text.as_str() {
                "0x0" | "0x00" | "0" | "false" => Ok(false),
                "0x1" | "0x01" | "1" | "true" => Ok(true),
                _ => Err(E::custom(format!("expected a boolean, got {text:?}"))),
            },
            Self::Number(other) => Err(E::custom(format!("expected a boolean, got {other}"))),
        }
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    LenientBool::deserialize(deserializer)?.into_bool()
}

fn lenient_opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Option::<LenientBool>::deserialize(deserializer)?.map(LenientBool::into_bool).transpose()
}

fn lenient_bool_or_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(lenient_opt_bool(deserializer)?.unwrap_or(false))
}
