//! Bundling: takes waiting operations, validates them together with `handleOps` (dropping any the EntryPoint
//! refuses), sends the bundle, and records each operation's receipt from the EntryPoint's events.

use crate::{mempool::Waiting, State};
use alloy::{
    primitives::{Bytes, B256, U256},
    providers::Provider,
    rpc::types::{Log, TransactionReceipt, TransactionRequest},
    sol,
    sol_types::{SolCall, SolEvent},
};
use leash_contracts::bindings::EntryPoint::{self, UserOperationEvent, UserOperationRevertReason};
use leash_userop::{
    rpc::{BundleReceipt, ReceiptLog, UserOperationReceipt},
    EntryPointRevert,
};
use std::{sync::Arc, time::Duration};

sol! {
    /// Emitted by the EntryPoint after validating a bundle, before executing it.
    event BeforeExecution();
}

/// Gas a bundle needs beyond its operations' limits: the EntryPoint's own work and the calldata, ...
pub(crate) const BUNDLE_GAS: u64 = 100_000;
/// ... and per operation.
pub(crate) const OP_GAS_IN_BUNDLE: u64 = 40_000;

const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
const RECEIPT_POLL: Duration = Duration::from_millis(10);

/// Bundles whenever operations wait; runs until the bundler stops.
pub(crate) async fn run(state: Arc<State>) {
    loop {
        state.wake.notified().await;
        // Let operations sent at the same moment join the same bundle.
        tokio::time::sleep(state.config.bundle_delay).await;
        loop {
            let batch = state.pool.lock().expect("mempool lock").take(state.config.max_bundle_size);
            if batch.is_empty() {
                break;
            }
            bundle(&state, batch).await;
        }
    }
}

async fn bundle(state: &State, mut batch: Vec<Waiting>) {
    // The second validation (ERC-7562): the whole bundle through `handleOps`, as it will run on chain.
    loop {
        if batch.is_empty() {
            return;
        }
        match simulate(state, &batch).await {
            Ok(()) => break,
            Err(Some((index, reason))) => {
                let dropped = batch.remove(index.min(batch.len() - 1));
                tracing::warn!(user_op_hash = %dropped.hash, %reason, "dropped from the bundle");
                state.pool.lock().expect("mempool lock").drop_op(dropped.hash);
            }
            Err(None) => {
                for dropped in batch {
                    state.pool.lock().expect("mempool lock").drop_op(dropped.hash);
                }
                return;
            }
        }
    }
    match send(state, &batch).await {
        Ok(receipt) => record(state, &batch, &receipt),
        Err(e) => {
            tracing::error!(error = %e, ops = batch.len(), "bundle transaction failed");
            let mut pool = state.pool.lock().expect("mempool lock");
            for dropped in &batch {
                pool.drop_op(dropped.hash);
            }
        }
    }
}

fn handle_ops(state: &State, batch: &[Waiting]) -> TransactionRequest {
    // Every operation packed when it was admitted; skipping one here would shift the EntryPoint's indices.
    let ops = batch.iter().map(|w| w.op.pack().expect("an admitted operation packs")).collect();
    let call = EntryPoint::handleOpsCall { ops, beneficiary: state.config.beneficiary() };
    TransactionRequest::default()
        .from(state.config.signer.address())
        .to(state.config.entry_point)
        .input(Bytes::from(call.abi_encode()).into())
}

/// `Err(Some((index, reason)))` names the operation the EntryPoint refused; `Err(None)` is any other failure.
async fn simulate(state: &State, batch: &[Waiting]) -> Result<(), Option<(usize, String)>> {
    match state.provider.call(handle_ops(state, batch)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let data = e.as_error_resp().and_then(|r| r.as_revert_data());
            let failed = data.as_ref().and_then(|d| {
                use alloy::sol_types::SolError;
                let index = EntryPoint::FailedOp::abi_decode(d)
                    .map(|f| f.opIndex)
                    .or_else(|_| EntryPoint::FailedOpWithRevert::abi_decode(d).map(|f| f.opIndex))
                    .ok()?;
                let reason = EntryPointRevert::decode(d).map(|r| r.reason).unwrap_or_default();
                Some((index.saturating_to::<usize>(), reason))
            });
            if failed.is_none() {
                tracing::error!(error = %e, "bundle simulation failed");
            }
            Err(failed)
        }
    }
}

async fn send(state: &State, batch: &[Waiting]) -> Result<TransactionReceipt, String> {
    // Enough for every operation's limits plus the EntryPoint's own work and the calldata.
    let limits: U256 =
        batch.iter().map(|w| w.op.max_gas()).fold(U256::ZERO, |a, b| a.saturating_add(b));
    let gas = limits
        .saturating_add(U256::from(BUNDLE_GAS + OP_GAS_IN_BUNDLE * batch.len() as u64))
        .saturating_to::<u64>();
    let tx = handle_ops(state, batch).gas_limit(gas);
    let pending = state.wallet.send_transaction(tx).await.map_err(|e| format!("handleOps: {e}"))?;
    let hash = *pending.tx_hash();
    let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
    loop {
        match state.provider.get_transaction_receipt(hash).await {
            Ok(Some(receipt)) => return Ok(receipt),
            Ok(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(RECEIPT_POLL).await
            }
            Ok(None) => {
                return Err(format!("no receipt for bundle {hash} after {RECEIPT_TIMEOUT:?}"))
            }
            Err(e) => return Err(format!("eth_getTransactionReceipt {hash}: {e}")),
        }
    }
}

fn record(state: &State, batch: &[Waiting], receipt: &TransactionReceipt) {
    let logs = receipt.inner.logs();
    let bundle = bundle_receipt(receipt);
    let mut pool = state.pool.lock().expect("mempool lock");
    let mut start = 0;
    let mut reasons: Vec<(B256, Bytes)> = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        if log.topic0() == Some(&BeforeExecution::SIGNATURE_HASH) {
            start = i + 1;
        } else if let Ok(reverted) = UserOperationRevertReason::decode_log(&log.inner) {
            reasons.push((reverted.userOpHash, reverted.revertReason.clone()));
        } else if let Ok(event) = UserOperationEvent::decode_log(&log.inner) {
            let hash = event.userOpHash;
            if let Some(waiting) = batch.iter().find(|w| w.hash == hash) {
                let reason = reasons.iter().find(|(h, _)| *h == hash).map(|(_, r)| r.to_string());
                let op_receipt = UserOperationReceipt {
                    user_op_hash: hash,
                    entry_point: Some(state.config.entry_point),
                    sender: event.sender,
                    nonce: event.nonce,
                    paymaster: (!event.paymaster.is_zero()).then_some(event.paymaster),
                    actual_gas_cost: event.actualGasCost,
                    actual_gas_used: event.actualGasUsed,
                    success: event.success,
                    reason,
                    logs: logs[start..i].iter().map(receipt_log).collect(),
                    receipt: bundle.clone(),
                };
                pool.included(hash, waiting.op.clone(), op_receipt);
            }
            start = i + 1;
        }
    }
    for waiting in batch {
        if !matches!(pool.get(&waiting.hash), Some(crate::mempool::Known::Included(_))) {
            tracing::error!(user_op_hash = %waiting.hash, "the bundle emitted no event for the operation");
            pool.drop_op(waiting.hash);
        }
    }
}

fn receipt_log(log: &Log) -> ReceiptLog {
    ReceiptLog {
        address: log.address(),
        topics: log.topics().to_vec(),
        data: log.data().data.clone(),
        block_number: log.block_number,
        block_hash: log.block_hash,
        transaction_hash: log.transaction_hash,
        transaction_index: log.transaction_index,
        log_index: log.log_index,
        removed: log.removed,
    }
}

fn bundle_receipt(receipt: &TransactionReceipt) -> BundleReceipt {
    BundleReceipt {
        transaction_hash: receipt.transaction_hash,
        transaction_index: receipt.transaction_index,
        block_hash: receipt.block_hash.unwrap_or_default(),
        block_number: receipt.block_number.unwrap_or_default(),
        from: Some(receipt.from),
        to: receipt.to,
        gas_used: Some(U256::from(receipt.gas_used)),
        cumulative_gas_used: Some(U256::from(receipt.inner.cumulative_gas_used())),
        effective_gas_price: Some(U256::from(receipt.effective_gas_price)),
        status: Some(receipt.status()),
        logs: receipt.inner.logs().iter().map(receipt_log).collect(),
        logs_bloom: Some(*receipt.inner.logs_bloom()),
    }
}
