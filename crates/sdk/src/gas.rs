//! Gas limits for operations when no bundler estimates them (direct submission on a local chain).
//!
//! They are deliberately generous: the EntryPoint refunds what is not used, but a session's gas budget is
//! charged the limits, so a bundler's estimate (tighter) is used whenever a bundler is configured.

/// Gas limits of one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasLimits {
    /// `verificationGasLimit`.
    pub verification: u128,
    /// `callGasLimit`.
    pub call: u128,
    /// `preVerificationGas`.
    pub pre_verification: u128,
}

impl GasLimits {
    /// Limits for an operation with `calls` calls; `deploys` when it creates the account, `grants` when it grants
    /// the session lazily (which writes the session's record only: its actions prove themselves on first use,
    /// within each call's share).
    pub fn default_for(calls: usize, deploys: bool, grants: bool) -> Self {
        let mut verification = 250_000 + 40_000 * calls as u128;
        if deploys {
            verification += 450_000;
        }
        if grants {
            verification += 80_000;
        }
        Self { verification, call: 100_000 + 300_000 * calls as u128, pre_verification: 60_000 }
    }
}

/// A bundler's estimate, applied to `op` with headroom on its verification gas: an account that pays its
/// prefund with little gas left is reported out of gas by some nodes' tracers (anvil 1.7.1's, fixed upstream
/// since), which a bundler's ERC-7562 safe mode then refuses ("account internally reverts on oog"). The EntryPoint
/// refunds what is not used; a session's gas budget is charged its limits, so the headroom is a quarter.
///
/// Refuses the estimate when the operation could then cost more than the bundler client's limit (every gas
/// limit, the paymaster's included, times `maxFeePerGas`).
pub(crate) fn apply_estimate(
    bundler: &crate::bundler::BundlerClient,
    estimate: &leash_userop::rpc::GasEstimate,
    op: &mut leash_userop::UserOperation,
) -> Result<(), crate::bundler::BundlerError> {
    estimate.apply_to(op);
    op.verification_gas_limit += op.verification_gas_limit / alloy::primitives::U256::from(4);
    check_cost(bundler, op)
}

/// Refuses `op` when it could cost more than the bundler client's limit (every gas limit, the paymaster's
/// included, times `maxFeePerGas`).
pub(crate) fn check_cost(
    bundler: &crate::bundler::BundlerClient,
    op: &leash_userop::UserOperation,
) -> Result<(), crate::bundler::BundlerError> {
    let cost = max_cost(op);
    if cost > bundler.cost_limit() {
        return Err(crate::bundler::BundlerError::TooCostly {
            url: bundler.url().to_owned(),
            cost,
            limit: bundler.cost_limit(),
        });
    }
    Ok(())
}

/// The most `op` can charge: every gas limit times `maxFeePerGas`.
fn max_cost(op: &leash_userop::UserOperation) -> alloy::primitives::U256 {
    let paymaster = op
        .paymaster
        .as_ref()
        .map(|p| p.verification_gas_limit.saturating_add(p.post_op_gas_limit))
        .unwrap_or_default();
    op.pre_verification_gas
        .saturating_add(op.verification_gas_limit)
        .saturating_add(op.call_gas_limit)
        .saturating_add(paymaster)
        .saturating_mul(op.max_fee_per_gas)
}
