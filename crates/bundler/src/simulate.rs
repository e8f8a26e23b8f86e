//! Simulating one operation: `simulateValidation` under the ERC-7562 tracer before it enters the mempool, and
//! `simulateHandleOp` plus the execution's gas for `eth_estimateUserOperationGas`.

use crate::{
    error::{self, RpcError},
    rules::{self, Entities},
    trace,
};
use alloy::{
    eips::BlockId,
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolError},
};
use leash_contracts::bindings::{EntryPoint, EntryPointSimulations};
use leash_userop::{EntryPointRevert, UserOperation};
use serde_json::json;

/// What counts as staked (ERC-7562 SREP-010).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StakePolicy {
    /// `MIN_STAKE_VALUE`, in wei.
    pub min_stake: U256,
    /// `MIN_UNSTAKE_DELAY`, in seconds.
    pub min_unstake_delay: u64,
}

impl StakePolicy {
    fn staked(&self, info: &EntryPointSimulations::StakeInfo) -> bool {
        info.stake >= self.min_stake && info.unstakeDelaySec >= U256::from(self.min_unstake_delay)
    }
}

/// A validation that passed: the simulation's result and the entities' stake.
#[derive(Clone, Debug)]
pub struct Validated {
    /// Gas used before execution, including `preVerificationGas`.
    pub pre_op_gas: U256,
    /// The operation's entities.
    pub entities: Entities,
    /// The latest time the operation is valid (`None`: no limit).
    pub valid_until: Option<u64>,
}

/// The `validationData` word: signature failure, aggregator, and validity window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationData {
    /// The low 160 bits: 0 valid, 1 signature failure, otherwise an aggregator.
    pub authorizer: Address,
    /// 0 = no expiry.
    pub valid_until: u64,
    /// Not valid before.
    pub valid_after: u64,
}

impl ValidationData {
    /// Splits the packed word.
    pub fn parse(word: U256) -> Self {
        let bytes = word.to_be_bytes::<32>();
        let valid_after =
            u64::from_be_bytes([0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]);
        let valid_until = u64::from_be_bytes([
            0, 0, bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11],
        ]);
        Self { authorizer: Address::from_slice(&bytes[12..]), valid_until, valid_after }
    }

    fn signature_failed(&self) -> bool {
        self.authorizer == Address::with_last_byte(1)
    }
}

/// How long before expiry an operation must still be valid to be accepted, in seconds.
pub const MIN_VALIDITY: u64 = 10;

pub(crate) fn to_simulation(
    op: &UserOperation,
) -> Result<EntryPointSimulations::PackedUserOperation, RpcError> {
    Ok(pack(op)?.into())
}

fn pack(op: &UserOperation) -> Result<EntryPoint::PackedUserOperation, RpcError> {
    op.pack().map_err(|e| RpcError::invalid_params(format!("invalid UserOperation: {e}")))
}

/// Turns EntryPoint revert data into the standard error: the `AAxx` reason and its code, with the account's or
/// paymaster's own revert data (`innerRevertData`) for a client that knows how to read it.
pub fn rejection(data: &[u8], context: &str) -> RpcError {
    match EntryPointRevert::decode(data) {
        Some(rejected) => {
            RpcError::new(error::code_for_reason(&rejected.reason), rejected.reason.clone())
                .with_data(json!({
                    "reason": rejected.reason,
                    "innerRevertData": rejected.inner,
                    "revertData": Bytes::copy_from_slice(data),
                }))
        }
        None => RpcError::new(error::REJECTED_BY_ACCOUNT, format!("{context} reverted"))
            .with_data(json!({ "revertData": Bytes::copy_from_slice(data) })),
    }
}

/// Validates `op` at `block` (whose time is `now`) under the tracer: the EntryPoint's checks, the signature, the
/// time range and the ERC-7562 rules. `user_op_hash` is the operation's hash.
///
/// An operation that neither creates its account nor has a paymaster has one validation phase, the account's; it
/// is simulated untraced and its `validateUserOp` traced alone, which costs the node a third less than tracing the
/// whole simulation. Any other operation is traced whole.
pub async fn validate(
    provider: &DynProvider,
    entry_point: Address,
    op: &UserOperation,
    user_op_hash: B256,
    stake: StakePolicy,
    block: u64,
    now: u64,
) -> Result<Validated, RpcError> {
    let (result, traced) = if op.factory.is_none() && op.paymaster.is_none() {
        validate_account_alone(provider, entry_point, op, user_op_hash, BlockId::number(block))
            .await?
    } else {
        let traced = trace::trace_validation(provider, entry_point, to_simulation(op)?)
            .await
            .map_err(RpcError::internal)?;
        if traced.reverted() {
            return Err(rejection(&traced.output, "simulateValidation"));
        }
        (validation_result(&traced.output)?, traced)
    };

    let account = ValidationData::parse(result.returnInfo.accountValidationData);
    let paymaster = ValidationData::parse(result.returnInfo.paymasterValidationData);
    for (data, who) in [(account, "account"), (paymaster, "paymaster")] {
        if data.signature_failed() {
            return Err(RpcError::new(
                error::INVALID_SIGNATURE,
                format!("the {who}'s signature is invalid"),
            ));
        }
        if !data.authorizer.is_zero() {
            return Err(RpcError::new(
                error::UNSUPPORTED_AGGREGATOR,
                format!(
                    "the {who} names the aggregator {}, which this bundler does not support",
                    data.authorizer
                ),
            ));
        }
        check_time_range(data, now, who)?;
    }

    let entities = Entities {
        sender: op.sender,
        factory: op.factory.as_ref().map(|f| f.address),
        paymaster: op.paymaster.as_ref().map(|p| p.address),
        sender_staked: stake.staked(&result.senderInfo),
        factory_staked: stake.staked(&result.factoryInfo),
        paymaster_staked: stake.staked(&result.paymasterInfo),
    };
    let violations = rules::check(&traced, &entities, entry_point);
    if let Some(first) = violations.first() {
        return Err(RpcError::new(
            error::BANNED_OPCODE_OR_STORAGE,
            format!("{} ({}): {}", first.rule, first.entity, first.message),
        )
        .with_data(json!({ "violations": violations })));
    }
    let valid_until =
        [account.valid_until, paymaster.valid_until].into_iter().filter(|t| *t != 0).min();
    Ok(Validated { pre_op_gas: result.returnInfo.preOpGas, entities, valid_until })
}

async fn validate_account_alone(
    provider: &DynProvider,
    entry_point: Address,
    op: &UserOperation,
    user_op_hash: B256,
    block: BlockId,
) -> Result<(EntryPointSimulations::ValidationResult, trace::Trace), RpcError> {
    let simulation = EntryPointSimulations::simulateValidationCall { userOp: to_simulation(op)? };
    let tx = TransactionRequest::default()
        .to(entry_point)
        .input(Bytes::from(simulation.abi_encode()).into());
    let overrides = json!({ entry_point.to_string(): {
        "code": leash_contracts::bindings::entry_point_simulations_runtime_code()
    } });
    let entry_point_contract = EntryPoint::new(entry_point, provider);
    let deposit = entry_point_contract.balanceOf(op.sender).block(block);
    let (simulated, deposit) = tokio::join!(
        provider.raw_request::<_, Bytes>("eth_call".into(), (&tx, block, overrides)),
        deposit.call()
    );
    let output = match simulated {
        Ok(output) => output,
        Err(e) => match e.as_error_resp().and_then(|r| r.as_revert_data()) {
            Some(data) => return Err(rejection(&data, "simulateValidation")),
            None => return Err(RpcError::internal(format!("simulateValidation: {e}"))),
        },
    };
    let result = validation_result(&output)?;
    let deposit = deposit.map_err(|e| RpcError::internal(format!("balanceOf: {e}")))?;
    // What the EntryPoint asks the account to pay when its deposit does not cover the prefund.
    let missing_funds = result.returnInfo.prefund.saturating_sub(deposit);
    let traced = trace::trace_account_validation(
        provider,
        entry_point,
        pack(op)?,
        user_op_hash,
        missing_funds,
        block,
    )
    .await
    .map_err(RpcError::internal)?;
    if traced.reverted() {
        return Err(RpcError::internal(format!(
            "the account's validateUserOp reverted when traced alone, though simulateValidation passed: {}",
            describe_revert(&traced.output)
        )));
    }
    Ok((result, traced))
}

fn validation_result(output: &[u8]) -> Result<EntryPointSimulations::ValidationResult, RpcError> {
    EntryPointSimulations::simulateValidationCall::abi_decode_returns(output)
        .map_err(|e| RpcError::internal(format!("cannot read simulateValidation's result: {e}")))
}

fn check_time_range(data: ValidationData, now: u64, who: &str) -> Result<(), RpcError> {
    if data.valid_after > now {
        return Err(RpcError::new(
            error::OUT_OF_TIME_RANGE,
            format!(
                "the {who}'s validation is not valid before {} (the chain's time is {now})",
                data.valid_after
            ),
        )
        .with_data(json!({ "validAfter": data.valid_after, "now": now })));
    }
    if data.valid_until != 0 && data.valid_until < now + MIN_VALIDITY {
        return Err(RpcError::new(
            error::OUT_OF_TIME_RANGE,
            format!(
                "the {who}'s validation expires at {}, less than {MIN_VALIDITY} s after the chain's time {now}",
                data.valid_until
            ),
        )
        .with_data(json!({ "validUntil": data.valid_until, "now": now })));
    }
    Ok(())
}

/// Gas limits for `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// `preVerificationGas`.
    pub pre_verification_gas: U256,
    /// `verificationGasLimit`.
    pub verification_gas_limit: U256,
    /// `callGasLimit`.
    pub call_gas_limit: U256,
}

/// Estimates `op`'s gas with one `simulateHandleOp` under the node's native call tracer: validation from its
/// result (a failed signature is tolerated, so a dummy one works), the execution from the gas the account's
/// call used, and `preVerificationGas` from the operation's calldata. The account need not exist yet: the
/// simulation creates it.
pub async fn estimate(
    provider: &DynProvider,
    entry_point: Address,
    op: &UserOperation,
) -> Result<Estimate, RpcError> {
    let mut probe = op.clone();
    // Room to measure; the estimate replaces these.
    if probe.verification_gas_limit.is_zero() {
        probe.verification_gas_limit = U256::from(2_000_000);
    }
    if probe.call_gas_limit.is_zero() {
        probe.call_gas_limit = U256::from(5_000_000);
    }
    let frame = simulate_handle_op(provider, entry_point, &probe).await?;
    if frame.error.is_some() {
        return Err(rejection(&frame.output, "simulateHandleOp"));
    }
    let result = EntryPointSimulations::simulateHandleOpCall::abi_decode_returns(&frame.output)
        .map_err(|e| RpcError::internal(format!("cannot read simulateHandleOp's result: {e}")))?;
    let pre_verification_gas = U256::from(pre_verification_gas(op)?);
    let validation = result.preOpGas.saturating_sub(probe.pre_verification_gas);
    // A margin for the real signature and for warm/cold differences, as bundlers add.
    let verification_gas_limit = validation * U256::from(13) / U256::from(10) + U256::from(10_000);

    // The EntryPoint makes no call for an operation without call data: it needs no execution gas.
    if op.call_data.is_empty() {
        return Ok(Estimate {
            pre_verification_gas,
            verification_gas_limit,
            call_gas_limit: U256::ZERO,
        });
    }
    let execution = frame.execution(entry_point, op.sender).ok_or_else(|| {
        RpcError::internal(
            "simulateHandleOp's trace has no call from the EntryPoint to the account",
        )
    })?;
    if execution.error.is_some() {
        return Err(RpcError::new(
            error::EXECUTION_REVERTED,
            format!("the operation's execution reverts: {}", describe_revert(&execution.output)),
        )
        .with_data(json!({ "revertData": execution.output })));
    }
    // The EntryPoint keeps 1/64 of the gas back and needs some for itself around the call; and the block the
    // operation lands in is not the one simulated: state written once per block (a Uniswap V2 pair's price
    // accumulators, two fresh slots) costs tens of thousands more there. Unused gas is refunded.
    let mut call_gas_limit =
        execution.gas_used * U256::from(12) / U256::from(10) + U256::from(50_000);
    // What a call used is not always what it needs: each nested call gets only 63/64 of what is left (EIP-150),
    // and a refund counts against the use only at the end. So the estimate is run once more with it, and raised
    // by a quarter until the execution succeeds (within the probe's limit, where it did).
    for _ in 0..8 {
        if call_gas_limit >= probe.call_gas_limit {
            call_gas_limit = probe.call_gas_limit;
            break;
        }
        let mut check = probe.clone();
        check.call_gas_limit = call_gas_limit;
        let frame = simulate_handle_op(provider, entry_point, &check).await?;
        if frame.error.is_none()
            && frame.execution(entry_point, op.sender).is_some_and(|e| e.error.is_none())
        {
            break;
        }
        call_gas_limit = call_gas_limit * U256::from(5) / U256::from(4);
    }
    Ok(Estimate { pre_verification_gas, verification_gas_limit, call_gas_limit })
}

/// `simulateHandleOp` of `op`, traced with the call tracer (the EntryPoint's simulation code set over it).
async fn simulate_handle_op(
    provider: &DynProvider,
    entry_point: Address,
    op: &UserOperation,
) -> Result<CallFrame, RpcError> {
    let call = EntryPointSimulations::simulateHandleOpCall {
        op: to_simulation(op)?,
        target: Address::ZERO,
        targetCallData: Bytes::new(),
    };
    let tx =
        TransactionRequest::default().to(entry_point).input(Bytes::from(call.abi_encode()).into());
    let options = json!({
        "tracer": "callTracer",
        "stateOverrides": { entry_point.to_string(): {
            "code": leash_contracts::bindings::entry_point_simulations_runtime_code()
        } },
    });
    provider
        .raw_request("debug_traceCall".into(), (&tx, "latest", options))
        .await
        .map_err(|e| RpcError::internal(format!("simulateHandleOp: {e}")))
}

/// `innerHandleOp(bytes,UserOpInfo,bytes)`: the EntryPoint calls itself with it to run an operation's execution.
const INNER_HANDLE_OP: [u8; 4] = [0x00, 0x42, 0xdc, 0x53];

/// A frame of the node's `callTracer`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallFrame {
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    input: Bytes,
    #[serde(default)]
    output: Bytes,
    #[serde(default)]
    gas_used: U256,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    calls: Vec<CallFrame>,
}

impl CallFrame {
    /// The account's execution: the call to `sender` inside the EntryPoint's `innerHandleOp` self-call.
    fn execution(&self, entry_point: Address, sender: Address) -> Option<&CallFrame> {
        let inner = self
            .calls
            .iter()
            .find(|c| c.to == Some(entry_point) && c.input.starts_with(&INNER_HANDLE_OP))?;
        inner.calls.iter().find(|c| c.to == Some(sender))
    }
}

fn describe_revert(data: &[u8]) -> String {
    if let Ok(message) = alloy::sol_types::Revert::abi_decode(data) {
        return message.reason;
    }
    if data.is_empty() {
        "no reason".into()
    } else {
        Bytes::copy_from_slice(data).to_string()
    }
}

/// `preVerificationGas` as public bundlers ask it (the reference bundler's overheads, as alto applies them): the
/// calldata of the operation's ABI encoding at its costliest (nonce, gas limits and fees at their widest, the
/// signature and paymaster data as non-zero bytes, so that signing or repricing cannot make it fall short: 16
/// gas per non-zero byte, 4 per zero byte), 21,000 for the bundle's transaction, 18,300 per operation and 4 per
/// 32-byte word of the encoding. alto sizes the signature and paymaster data by their hex text, `0x` included
/// (twice their bytes, plus two): so does this, since an operation leash's bundler accepts must be one those
/// bundlers accept. Estimates give this, and operations below it are refused.
pub fn pre_verification_gas(op: &UserOperation) -> Result<u64, RpcError> {
    use alloy::sol_types::SolValue;
    let widest = U256::from(u128::MAX);
    let mut costliest = op.clone();
    costliest.nonce = U256::MAX;
    costliest.call_gas_limit = widest;
    costliest.verification_gas_limit = widest;
    costliest.pre_verification_gas = U256::MAX;
    costliest.max_fee_per_gas = widest;
    costliest.max_priority_fee_per_gas = widest;
    if let Some(paymaster) = costliest.paymaster.as_mut() {
        paymaster.verification_gas_limit = widest;
        paymaster.post_op_gas_limit = widest;
    }
    let mut packed = pack(&costliest)?;
    let as_hex_text = |bytes: &Bytes| Bytes::from(vec![0xff; 2 * bytes.len() + 2]);
    packed.signature = as_hex_text(&packed.signature);
    packed.paymasterAndData = as_hex_text(&packed.paymasterAndData);
    // The fields one after the other, as alto encodes them (no leading offset to a tuple).
    let encoded = packed.abi_encode_params();
    let calldata: u64 = encoded.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum();
    // 4 per word, counted as alto counts them: (length + 31) / 32 words unrounded, the total rounded.
    let words_gas = (encoded.len() as u64 + 31 + 4) / 8;
    Ok(calldata + 21_000 + PER_OP_OVERHEAD + words_gas)
}

/// The least `preVerificationGas` accepted: [`pre_verification_gas`], the public rule.
pub fn min_pre_verification_gas(op: &UserOperation) -> Result<u64, RpcError> {
    pre_verification_gas(op)
}

/// Per-operation overhead of `handleOps` outside the operation's metered gas.
const PER_OP_OVERHEAD: u64 = 18_300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_handle_op_is_the_entry_points_selector() {
        let artifact: serde_json::Value =
            serde_json::from_str(include_str!("../../contracts/artifacts/EntryPoint.json"))
                .unwrap();
        let abi: alloy::json_abi::JsonAbi =
            serde_json::from_value(artifact["abi"].clone()).unwrap();
        assert_eq!(abi.function("innerHandleOp").unwrap()[0].selector(), INNER_HANDLE_OP);
    }

    #[test]
    fn validation_data_splits_into_authorizer_and_window() {
        let word = (U256::from(1_700_000_000u64) << 208)
            | (U256::from(1_800_000_000u64) << 160)
            | U256::from(1);
        let data = ValidationData::parse(word);
        assert_eq!(data.valid_after, 1_700_000_000);
        assert_eq!(data.valid_until, 1_800_000_000);
        assert!(data.signature_failed());
        assert!(!ValidationData::parse(U256::ZERO).signature_failed());
    }

    #[test]
    fn time_range_refuses_expired_soon_expiring_and_early_operations() {
        let data = |after, until| ValidationData {
            authorizer: Address::ZERO,
            valid_until: until,
            valid_after: after,
        };
        assert!(check_time_range(data(0, 0), 1_000, "account").is_ok());
        assert!(check_time_range(data(900, 2_000), 1_000, "account").is_ok());
        assert_eq!(
            check_time_range(data(0, 999), 1_000, "account").unwrap_err().code,
            error::OUT_OF_TIME_RANGE
        );
        assert_eq!(
            check_time_range(data(0, 1_005), 1_000, "account").unwrap_err().code,
            error::OUT_OF_TIME_RANGE
        );
        assert_eq!(
            check_time_range(data(1_001, 0), 1_000, "account").unwrap_err().code,
            error::OUT_OF_TIME_RANGE
        );
    }
}
