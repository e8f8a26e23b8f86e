//! Runs an EntryPoint simulation under the ERC-7562 collector tracer (`tracer.js`) and reads what it saw.

use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolValue},
};
use leash_contracts::bindings::{EntryPoint, EntryPointSimulations};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const TRACER: &str = include_str!("tracer.js");

/// Which validation phase a traced call belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseKind {
    /// Account creation through the factory.
    Factory,
    /// The account's `validateUserOp`.
    Account,
    /// The paymaster's `validatePaymasterUserOp`.
    Paymaster,
}

impl PhaseKind {
    /// The entity's name, as the rules speak of it.
    pub fn entity(self) -> &'static str {
        match self {
            Self::Factory => "factory",
            Self::Account => "account",
            Self::Paymaster => "paymaster",
        }
    }
}

/// An opcode rule the tracer decided while stepping.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OpcodeUse {
    /// `OP-011`, `OP-012`, `OP-013` or `OP-080`.
    pub rule: String,
    /// The opcode's name.
    pub opcode: String,
    /// The contract that executed it.
    pub address: Address,
}

/// A `*CALL` made during validation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSite {
    /// `CALL`, `CALLCODE`, `DELEGATECALL` or `STATICCALL`.
    pub opcode: String,
    /// The caller (its storage context).
    pub from: Address,
    /// The callee.
    pub to: Address,
    /// Wei sent.
    pub value: U256,
    /// The first four bytes of the call data (`0x` when shorter).
    pub selector: Bytes,
    /// Whether the callee had code.
    pub has_code: bool,
}

/// An `EXTCODE*` use during validation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeAccess {
    /// `EXTCODESIZE`, `EXTCODECOPY` or `EXTCODEHASH`.
    pub opcode: String,
    /// The contract that asked.
    pub from: Address,
    /// The address asked about.
    pub to: Address,
    /// Whether it had code.
    pub has_code: bool,
}

/// A contract creation during validation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Creation {
    /// `CREATE2` (`CREATE` is reported as an OP-011 opcode).
    pub opcode: String,
    /// The creating contract.
    pub from: Address,
}

/// Whether a slot was only read, or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Access {
    /// `SLOAD` / `TLOAD` only.
    #[serde(rename = "r")]
    Read,
    /// `SSTORE` / `TSTORE`.
    #[serde(rename = "w")]
    Write,
}

/// What one validation phase did.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// The phase.
    pub kind: PhaseKind,
    /// The contract the EntryPoint called to open it.
    pub target: Address,
    /// Opcode rules broken.
    pub violations: Vec<OpcodeUse>,
    /// Storage touched, by contract and slot.
    pub storage: BTreeMap<Address, BTreeMap<B256, Access>>,
    /// Calls made.
    pub calls: Vec<CallSite>,
    /// `EXTCODE*` uses.
    pub extcode: Vec<CodeAccess>,
    /// Creations.
    pub creates: Vec<Creation>,
    /// Whether something ran out of gas.
    pub oog: bool,
}

/// The tracer's result.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Trace {
    /// The validation phases, in order.
    pub phases: Vec<Phase>,
    /// `KECCAK256` inputs seen during validation (32 to 256 bytes).
    pub keccak: Vec<Bytes>,
    /// The simulation's return or revert data.
    pub output: Bytes,
    /// The node's error for the top call (a revert), if any.
    pub error: Option<String>,
}

impl Trace {
    /// Whether the simulation reverted.
    pub fn reverted(&self) -> bool {
        self.error.is_some()
    }
}

/// The tracer's source with the phase-opening selectors filled in, for a whole EntryPoint simulation.
pub fn tracer_source() -> String {
    source(Value::Null)
}

/// The tracer's source for the account's `validateUserOp` traced alone (see [`trace_account_validation`]).
pub fn account_tracer_source(entry_point: Address, sender: Address) -> String {
    source(json!({
        "kind": "account",
        "target": format!("{sender:#x}"),
        "selector": Bytes::from(VALIDATE_USER_OP.to_vec()).to_string(),
        // Lower case, as the tracer writes the addresses it compares this one with.
        "entryPoint": format!("{entry_point:#x}"),
    }))
}

fn source(alone: Value) -> String {
    let selectors = [
        (CREATE_SENDER, "factory"),
        (VALIDATE_USER_OP, "account"),
        (VALIDATE_PAYMASTER_USER_OP, "paymaster"),
    ];
    let mut phases = Map::new();
    for (selector, kind) in selectors {
        phases.insert(Bytes::from(selector.to_vec()).to_string(), json!(kind));
    }
    TRACER
        .replace("__PHASES__", &Value::Object(phases).to_string())
        .replace("__ALONE__", &alone.to_string())
}

/// `createSender(bytes)`: the EntryPoint's SenderCreator, which calls the factory.
pub const CREATE_SENDER: [u8; 4] = [0x57, 0x0e, 0x1a, 0x36];
/// `validateUserOp(PackedUserOperation,bytes32,uint256)` (IAccount, v0.7).
pub const VALIDATE_USER_OP: [u8; 4] = [0x19, 0x82, 0x2f, 0x7c];
/// `validatePaymasterUserOp(PackedUserOperation,bytes32,uint256)` (IPaymaster, v0.7).
pub const VALIDATE_PAYMASTER_USER_OP: [u8; 4] = [0x52, 0xb7, 0x51, 0x2c];

/// Traces `simulateValidation(op)` at the latest block, with `EntryPointSimulations` in place of the
/// EntryPoint's code.
pub async fn trace_validation(
    provider: &DynProvider,
    entry_point: Address,
    op: EntryPointSimulations::PackedUserOperation,
) -> Result<Trace, String> {
    let call = EntryPointSimulations::simulateValidationCall { userOp: op };
    let tx =
        TransactionRequest::default().to(entry_point).input(Bytes::from(call.abi_encode()).into());
    let options = json!({
        "tracer": tracer_source(),
        "stateOverrides": { entry_point.to_string(): {
            "code": leash_contracts::bindings::entry_point_simulations_runtime_code()
        } },
    });
    provider
        .raw_request::<_, Trace>("debug_traceCall".into(), (tx, "latest", options))
        .await
        .map_err(|e| format!("debug_traceCall: {e}"))
}

/// Traces the account's `validateUserOp(op, user_op_hash, missing_funds)` alone, called from the EntryPoint's
/// address with the gas the EntryPoint gives it, at `block`: the account phase of `simulateValidation`, without
/// the EntryPoint's own checks, which the caller runs untraced at the same block. The node calls the tracer for
/// every opcode at a fixed cost, and the EntryPoint's own opcodes are a third of a simulation's; an operation that
/// neither creates its account nor has a paymaster has no other phase, so this records all its rules need.
pub async fn trace_account_validation(
    provider: &DynProvider,
    entry_point: Address,
    op: EntryPoint::PackedUserOperation,
    user_op_hash: B256,
    missing_funds: U256,
    block: BlockId,
) -> Result<Trace, String> {
    let sender = op.sender;
    let gas = U256::from_be_slice(&op.accountGasLimits[..16]).saturating_to::<u64>();
    let mut input = VALIDATE_USER_OP.to_vec();
    input.extend((op, user_op_hash, missing_funds).abi_encode_params());
    let tx = TransactionRequest::default()
        .from(entry_point)
        .to(sender)
        .gas_limit(gas.saturating_add(intrinsic_gas(&input)))
        .input(Bytes::from(input).into());
    let options = json!({ "tracer": account_tracer_source(entry_point, sender) });
    provider
        .raw_request::<_, Trace>("debug_traceCall".into(), (tx, block, options))
        .await
        .map_err(|e| format!("debug_traceCall: {e}"))
}

/// A transaction's gas before its first opcode (EIP-2028 calldata prices), so that the traced call's frame gets
/// what remains: the gas limit the EntryPoint would give it.
fn intrinsic_gas(input: &[u8]) -> u64 {
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    21_000 + 4 * zeros + 16 * (input.len() as u64 - zeros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    #[test]
    fn phase_selectors_are_the_v07_interfaces() {
        let selector = |signature: &str| <[u8; 4]>::try_from(&keccak256(signature)[..4]).unwrap();
        let packed = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)";
        assert_eq!(selector("createSender(bytes)"), CREATE_SENDER);
        assert_eq!(
            selector(&format!("validateUserOp({packed},bytes32,uint256)")),
            VALIDATE_USER_OP
        );
        assert_eq!(
            selector(&format!("validatePaymasterUserOp({packed},bytes32,uint256)")),
            VALIDATE_PAYMASTER_USER_OP
        );
    }

    #[test]
    fn the_tracer_is_filled_in() {
        let source = tracer_source();
        assert!(!source.contains("__PHASES__"));
        assert!(source.contains("\"0x570e1a36\":\"factory\""));
        assert!(source.contains("\"0x19822f7c\":\"account\""));
    }
}
