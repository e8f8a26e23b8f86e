//! The JSON-RPC endpoint: parsing requests (single or batched), the six ERC-4337 methods, and error answers.

use crate::{
    bundle,
    error::{self, RpcError},
    mempool::{Known, Waiting},
    simulate, State,
};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, U256},
    providers::Provider,
};
use axum::{body::Bytes, extract::State as Shared, http::StatusCode, response::IntoResponse, Json};
use leash_userop::{rpc::UserOperationByHash, UserOperation};
use serde_json::{json, Value};
use std::sync::Arc;

/// Answers one HTTP POST: a request or a batch. Never fails: every problem becomes a JSON-RPC error.
pub(crate) async fn handle(Shared(state): Shared<Arc<State>>, body: Bytes) -> impl IntoResponse {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            let error = RpcError::new(
                error::PARSE_ERROR,
                format!("parse error: the body is not JSON ({e})"),
            );
            return (StatusCode::OK, Json(answer(Value::Null, Err(error))));
        }
    };
    let response = match request {
        Value::Array(batch) if batch.is_empty() => answer(
            Value::Null,
            Err(RpcError::new(error::INVALID_REQUEST, "invalid request: empty batch")),
        ),
        Value::Array(batch) => {
            let mut answers = Vec::with_capacity(batch.len());
            for request in batch {
                answers.push(one(&state, request).await);
            }
            Value::Array(answers)
        }
        request => one(&state, request).await,
    };
    (StatusCode::OK, Json(response))
}

fn answer(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": error }),
    }
}

async fn one(state: &State, request: Value) -> Value {
    let Value::Object(request) = request else {
        let error =
            RpcError::new(error::INVALID_REQUEST, "invalid request: expected a JSON-RPC object");
        return answer(Value::Null, Err(error));
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        let error = RpcError::new(
            error::INVALID_REQUEST,
            "invalid request: `method` is missing or not a string",
        );
        return answer(id, Err(error));
    };
    let params = match request.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(params)) => params.clone(),
        Some(_) => {
            let error =
                RpcError::new(error::INVALID_REQUEST, "invalid request: `params` must be an array");
            return answer(id, Err(error));
        }
    };
    let result = dispatch(state, method, &params).await;
    if let Err(e) = &result {
        tracing::debug!(method, code = e.code, message = %e.message, "refused");
    }
    answer(id, result)
}

async fn dispatch(state: &State, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match method {
        "eth_chainId" => Ok(json!(U256::from(state.chain_id))),
        "eth_supportedEntryPoints" => Ok(json!([state.config.entry_point])),
        "eth_sendUserOperation" => {
            let op = user_operation(state, params)?;
            send(state, op).await.map(|hash| json!(hash))
        }
        "eth_estimateUserOperationGas" => {
            let op = user_operation(state, params)?;
            let estimate = simulate::estimate(&state.provider, state.config.entry_point, &op).await?;
            let mut answer = json!({
                "preVerificationGas": estimate.pre_verification_gas,
                "verificationGasLimit": estimate.verification_gas_limit,
                "callGasLimit": estimate.call_gas_limit,
            });
            if let Some(paymaster) = &op.paymaster {
                answer["paymasterVerificationGasLimit"] = json!(paymaster.verification_gas_limit);
                answer["paymasterPostOpGasLimit"] = json!(paymaster.post_op_gas_limit);
            }
            Ok(answer)
        }
        "eth_getUserOperationByHash" => {
            let hash = hash_param(params)?;
            let pool = state.pool.lock().expect("mempool lock");
            let found = match pool.get(&hash) {
                None => return Ok(Value::Null),
                Some(Known::Waiting(op) | Known::Bundling(op)) => UserOperationByHash {
                    user_operation: op.clone(),
                    entry_point: state.config.entry_point,
                    block_number: None,
                    block_hash: None,
                    transaction_hash: None,
                },
                Some(Known::Included(included)) => UserOperationByHash {
                    user_operation: included.0.clone(),
                    entry_point: state.config.entry_point,
                    block_number: Some(included.1.receipt.block_number),
                    block_hash: Some(included.1.receipt.block_hash),
                    transaction_hash: Some(included.1.receipt.transaction_hash),
                },
            };
            Ok(json!(found))
        }
        "eth_getUserOperationReceipt" => {
            let hash = hash_param(params)?;
            let pool = state.pool.lock().expect("mempool lock");
            Ok(match pool.get(&hash) {
                Some(Known::Included(included)) => json!(included.1),
                _ => Value::Null,
            })
        }
        other => Err(RpcError::new(
            error::METHOD_NOT_FOUND,
            format!(
                "method {other:?} not found; this bundler serves eth_sendUserOperation, eth_estimateUserOperationGas, eth_getUserOperationByHash, eth_getUserOperationReceipt, eth_supportedEntryPoints and eth_chainId"
            ),
        )),
    }
}

/// `[userOperation, entryPoint]`, checked.
fn user_operation(state: &State, params: &[Value]) -> Result<UserOperation, RpcError> {
    let [op, entry_point, ..] = params else {
        return Err(RpcError::invalid_params(
            "expected two parameters: the UserOperation and the EntryPoint",
        ));
    };
    let entry_point: Address = serde_json::from_value(entry_point.clone()).map_err(|e| {
        RpcError::invalid_params(format!("the EntryPoint parameter is not an address: {e}"))
    })?;
    if entry_point != state.config.entry_point {
        return Err(RpcError::invalid_params(format!(
            "unsupported EntryPoint {entry_point}; this bundler serves {} (v0.7)",
            state.config.entry_point
        )));
    }
    let op: UserOperation = serde_json::from_value(op.clone())
        .map_err(|e| RpcError::invalid_params(format!("invalid UserOperation: {e}")))?;
    op.validate().map_err(|e| RpcError::invalid_params(format!("invalid UserOperation: {e}")))?;
    Ok(op)
}

fn hash_param(params: &[Value]) -> Result<B256, RpcError> {
    let [hash, ..] = params else {
        return Err(RpcError::invalid_params("expected one parameter: the UserOperation hash"));
    };
    serde_json::from_value(hash.clone()).map_err(|e| {
        RpcError::invalid_params(format!("the UserOperation hash is not 32 bytes of hex: {e}"))
    })
}

/// `eth_sendUserOperation`: static checks, the traced simulation, then the mempool.
async fn send(state: &State, op: UserOperation) -> Result<B256, RpcError> {
    let block = state
        .provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| RpcError::internal(format!("eth_getBlockByNumber: {e}")))?
        .ok_or_else(|| RpcError::internal("the node has no latest block"))?;
    let base_fee = U256::from(block.header.base_fee_per_gas.unwrap_or_default());
    if op.max_priority_fee_per_gas > op.max_fee_per_gas {
        return Err(RpcError::invalid_params(format!(
            "maxPriorityFeePerGas {} is above maxFeePerGas {}",
            op.max_priority_fee_per_gas, op.max_fee_per_gas
        )));
    }
    if op.max_fee_per_gas < base_fee {
        return Err(RpcError::invalid_params(format!(
            "underpriced: maxFeePerGas {} wei is below the block's base fee {base_fee} wei",
            op.max_fee_per_gas
        ))
        .with_data(json!({ "baseFee": base_fee })));
    }
    let min_pvg = simulate::min_pre_verification_gas(&op)?;
    if op.pre_verification_gas < U256::from(min_pvg) {
        return Err(RpcError::invalid_params(format!(
            "preVerificationGas {} is below the {min_pvg} this operation's calldata needs",
            op.pre_verification_gas
        )));
    }
    // An operation that does not fit in a block alone could never be bundled: refuse it now rather than let it
    // wait for a receipt that never comes.
    let fits = U256::from(block.header.gas_limit)
        .saturating_sub(U256::from(bundle::BUNDLE_GAS + bundle::OP_GAS_IN_BUNDLE));
    if op.max_gas() > fits {
        return Err(RpcError::invalid_params(format!(
            "the operation's gas limits add up to {}, more than the {fits} a block of gas limit {} leaves for \
             one operation; lower verificationGasLimit or callGasLimit",
            op.max_gas(),
            block.header.gas_limit
        ))
        .with_data(json!({ "blockGasLimit": block.header.gas_limit })));
    }
    if op.verification_gas_limit.is_zero() {
        return Err(RpcError::invalid_params("verificationGasLimit is 0; estimate the gas first"));
    }
    let hash = op
        .hash(state.config.entry_point, state.chain_id)
        .map_err(|e| RpcError::invalid_params(format!("invalid UserOperation: {e}")))?;
    // Refuse duplicates before paying for a simulation; the quota is checked again with the stake known.
    state.pool.lock().expect("mempool lock").admit(hash, &op, true)?;

    let validated = simulate::validate(
        &state.provider,
        state.config.entry_point,
        &op,
        hash,
        state.config.stake,
        block.header.number,
        block.header.timestamp,
    )
    .await?;
    let mut pool = state.pool.lock().expect("mempool lock");
    let staked = validated.entities.sender_staked;
    let replaces = pool.admit(hash, &op, staked)?;
    pool.insert(Waiting { hash, op }, replaces);
    drop(pool);
    state.wake.notify_one();
    Ok(hash)
}
