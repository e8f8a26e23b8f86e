//! Getting a signed UserOperation on chain: through an ERC-4337 bundler, or, for local use, straight to the
//! EntryPoint's `handleOps` from a funded key.

use crate::{bundler::BundlerClient, chain::Chain, userop::UserOperation, Error, Result};
use alloy::{
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolEvent, SolInterface},
};
use leash_contracts::bindings::{
    EntryPoint::{self, UserOperationEvent, UserOperationRevertReason},
    SessionKeyValidator::SessionKeyValidatorErrors,
};
use leash_core::Rejection;
use leash_userop::EntryPointRevert;
use std::{collections::HashMap, sync::Mutex, time::Duration};

/// What happened to an included operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpOutcome {
    /// The UserOperation hash.
    pub user_op_hash: B256,
    /// The transaction that included it.
    pub transaction_hash: B256,
    /// Whether its calls succeeded.
    pub success: bool,
    /// Wei it paid (in JSON `gasCostWei`, a decimal string, as in every leash output).
    #[serde(rename = "gasCostWei", serialize_with = "crate::report::decimal")]
    pub actual_gas_cost: U256,
    /// Gas it used (in JSON `gasUsed`, a decimal string).
    #[serde(rename = "gasUsed", serialize_with = "crate::report::decimal")]
    pub actual_gas_used: U256,
    /// The calls' revert data when they failed.
    pub revert_reason: Option<Bytes>,
}

impl OpOutcome {
    /// The outcome if its calls succeeded, else [`Error::ExecutionReverted`] with the revert data.
    pub fn succeeded(self) -> Result<Self> {
        if self.success {
            return Ok(self);
        }
        Err(Error::ExecutionReverted {
            hash: self.user_op_hash,
            reason: self.revert_reason.as_ref().map_or("no reason".into(), ToString::to_string),
        })
    }
}

/// Where operations go.
#[derive(Debug)]
pub enum Submitter {
    /// An ERC-4337 bundler.
    Bundler(BundlerClient),
    /// `handleOps` sent directly by `provider`'s wallet (local chains; the sender is the beneficiary).
    Direct {
        /// A provider with a funded wallet.
        provider: DynProvider,
        /// Who receives the gas refund.
        beneficiary: Address,
        /// Outcomes of the operations sent, by hash.
        outcomes: Mutex<HashMap<B256, OpOutcome>>,
        /// One `handleOps` at a time: the wallet's transactions must not race for its account nonce.
        sending: tokio::sync::Mutex<()>,
    },
}

/// The EntryPoint's reason and the module's rule inside a failed simulation or transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRejection {
    /// The EntryPoint's code and text, e.g. `AA23 reverted`.
    pub code: String,
    /// The module's error, when the account's validation reverted with one.
    pub rejection: Option<Rejection>,
}

/// Decodes `FailedOp` / `FailedOpWithRevert` revert data from the EntryPoint, and the module's rule inside it.
pub fn decode_entry_point_revert(data: &[u8]) -> Option<ChainRejection> {
    EntryPointRevert::decode(data).map(|failed| ChainRejection {
        rejection: failed.inner.as_deref().and_then(|inner| decode_module_revert(inner)),
        code: failed.reason,
    })
}

/// Decodes the session-key module's revert data into the rule that rejected.
pub fn decode_module_revert(data: &[u8]) -> Option<Rejection> {
    if let Ok(error) = SessionKeyValidatorErrors::abi_decode(data) {
        return Some(Rejection::Module(error));
    }
    // Panic(0x11): arithmetic overflow.
    let panic = [0x4e, 0x48, 0x7b, 0x71];
    (data.len() == 36 && data[..4] == panic && data[35] == 0x11).then_some(Rejection::Overflow)
}

impl Submitter {
    /// Direct submission from `provider`'s wallet, refunds to `beneficiary`.
    pub fn direct(provider: DynProvider, beneficiary: Address) -> Self {
        Self::Direct {
            provider,
            beneficiary,
            outcomes: Mutex::new(HashMap::new()),
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// The fees an operation offers: the node's, raised to the bundler's own price when it has a price method
    /// (a bundler with a floor of its own refuses anything under it), but never past the client's price limit
    /// times the node's price ([`BundlerError::Overpriced`](crate::bundler::BundlerError::Overpriced)).
    ///
    /// The node's price the limit counts from is the higher of its EIP-1559 estimate and its `eth_gasPrice`
    /// (for the tip: `eth_maxPriorityFeePerGas`): bundlers derive their price from the latter (base fee plus
    /// the node's suggested tip), while the estimate follows the tips actually paid in recent blocks, which on
    /// a quiet chain are next to nothing. The tip is limited on its own: a tip as high as the whole price would
    /// make every operation pay that whole price, whatever the base fee. Its reference is at least a hundredth
    /// of the node's price: chains without tips (Arbitrum's node suggests none) still leave bundlers the small
    /// tip they ask there.
    pub async fn fees(&self, chain: &Chain) -> Result<(u128, u128)> {
        let (max_fee, priority) = chain.fees().await?;
        match self {
            Submitter::Bundler(bundler) => match bundler.gas_price().await? {
                Some((bundler_max, bundler_priority)) => {
                    let limit = bundler.price_limit();
                    let node_max = max_fee.max(chain.gas_price().await?);
                    let node_tip =
                        priority.max(chain.max_priority_fee().await?).max(node_max / 100);
                    for (what, asked, node) in [
                        ("maxFeePerGas", bundler_max, node_max),
                        ("maxPriorityFeePerGas", bundler_priority, node_tip),
                    ] {
                        if asked > node.saturating_mul(limit.into()) {
                            return Err(crate::bundler::BundlerError::Overpriced {
                                url: bundler.url().to_owned(),
                                what,
                                asked,
                                node,
                                limit,
                            }
                            .into());
                        }
                    }
                    let max_fee = max_fee.max(bundler_max);
                    Ok((max_fee, priority.max(bundler_priority).min(max_fee)))
                }
                None => Ok((max_fee, priority)),
            },
            Submitter::Direct { .. } => Ok((max_fee, priority)),
        }
    }

    /// Sends `op` and returns its hash. Direct submission first simulates `handleOps` so that a rejection comes
    /// back with the EntryPoint's code and the module's rule, then sends it and waits for inclusion.
    pub async fn send(&self, chain: &Chain, op: &UserOperation) -> Result<B256> {
        match self {
            Submitter::Bundler(bundler) => Ok(bundler.send_user_operation(op).await?),
            Submitter::Direct { provider, beneficiary, outcomes, sending } => {
                let _turn = sending.lock().await;
                let hash = op.hash(chain.entry_point, chain.chain_id)?;
                let call =
                    EntryPoint::handleOpsCall { ops: vec![op.pack()?], beneficiary: *beneficiary };
                let tx = TransactionRequest::default()
                    .from(*beneficiary)
                    .to(chain.entry_point)
                    .input(Bytes::from(call.abi_encode()).into());
                if let Err(e) = provider.call(tx.clone()).await {
                    let data = e.as_error_resp().and_then(|r| r.as_revert_data());
                    return Err(match data.as_ref().and_then(|d| decode_entry_point_revert(d)) {
                        Some(rejected) => rejected_error(rejected),
                        None => Error::rpc(&chain.label, format!("handleOps simulation: {e}")),
                    });
                }
                let receipt = provider
                    .send_transaction(tx)
                    .await
                    .map_err(|e| Error::rpc(&chain.label, format!("handleOps: {e}")))?
                    .with_timeout(Some(Duration::from_secs(60)))
                    .get_receipt()
                    .await
                    .map_err(|e| Error::rpc(&chain.label, format!("handleOps receipt: {e}")))?;
                let mut outcome = None;
                let mut revert_reason = None;
                for log in receipt.inner.logs() {
                    if let Ok(event) = UserOperationEvent::decode_log(&log.inner) {
                        if event.userOpHash == hash {
                            outcome = Some(OpOutcome {
                                user_op_hash: hash,
                                transaction_hash: receipt.transaction_hash,
                                success: event.success,
                                actual_gas_cost: event.actualGasCost,
                                actual_gas_used: event.actualGasUsed,
                                revert_reason: None,
                            });
                        }
                    } else if let Ok(event) = UserOperationRevertReason::decode_log(&log.inner) {
                        if event.userOpHash == hash {
                            revert_reason = Some(event.revertReason.clone());
                        }
                    }
                }
                let mut outcome = outcome.ok_or_else(|| {
                    Error::rpc(
                        &chain.label,
                        format!(
                            "handleOps {} emitted no event for {hash}",
                            receipt.transaction_hash
                        ),
                    )
                })?;
                outcome.revert_reason = revert_reason;
                outcomes.lock().expect("outcomes lock").insert(hash, outcome);
                Ok(hash)
            }
        }
    }

    /// Waits for `hash` to be included, up to `timeout`.
    pub async fn wait(&self, hash: B256, timeout: Duration) -> Result<OpOutcome> {
        match self {
            Submitter::Bundler(bundler) => {
                let receipt =
                    bundler.wait_for_receipt(hash, Duration::from_millis(200), timeout).await?;
                Ok(OpOutcome {
                    user_op_hash: hash,
                    transaction_hash: receipt.receipt.transaction_hash,
                    success: receipt.success,
                    actual_gas_cost: receipt.actual_gas_cost,
                    actual_gas_used: receipt.actual_gas_used,
                    revert_reason: receipt.reason.as_ref().and_then(|r| r.parse().ok()),
                })
            }
            Submitter::Direct { outcomes, .. } => outcomes
                .lock()
                .expect("outcomes lock")
                .get(&hash)
                .cloned()
                .ok_or(Error::Timeout(hash)),
        }
    }
}

fn rejected_error(rejected: ChainRejection) -> Error {
    Error::Rejected {
        rule: rejected.rejection.as_ref().map(|r| r.rule().to_string()),
        message: match &rejected.rejection {
            Some(r) => format!("{} ({})", r.rule(), rejected.code),
            None => rejected.code.clone(),
        },
        code: rejected.code,
        rejection: rejected.rejection.map(Box::new),
    }
}

/// Turns a bundler rejection's revert data into the module's rule where it carries one.
pub(crate) fn rule_of_bundler_error(error: &crate::bundler::BundlerError) -> Option<Rejection> {
    let data = match error {
        // An execution-phase revert is the called contract's, never the session's rule.
        crate::bundler::BundlerError::Rejected { rejection, .. }
            if rejection.kind != crate::bundler::RejectionKind::ExecutionReverted =>
        {
            rejection.revert_data()?
        }
        _ => return None,
    };
    decode_entry_point_revert(&data)
        .and_then(|r| r.rejection)
        .or_else(|| decode_module_revert(&data))
}
