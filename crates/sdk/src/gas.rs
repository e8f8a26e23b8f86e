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
