//! The EntryPoint's refusals: `FailedOp(opIndex, reason)` and `FailedOpWithRevert(opIndex, reason, inner)`,
//! where `reason` is the `AAxx` code and text and `inner` the revert data of the account or paymaster that
//! refused. Reading `inner` (a module's own errors) is the business of whoever knows that module, not of a
//! bundler.

use alloy::{primitives::Bytes, sol_types::SolError};
use leash_contracts::bindings::EntryPoint::{FailedOp, FailedOpWithRevert};

/// An EntryPoint refusal of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPointRevert {
    /// Which operation of the bundle.
    pub op_index: usize,
    /// The EntryPoint's code and text, e.g. `AA23 reverted`.
    pub reason: String,
    /// The revert data of the account or paymaster, when the EntryPoint passed it on (`FailedOpWithRevert`).
    pub inner: Option<Bytes>,
}

impl EntryPointRevert {
    /// Decodes `FailedOp` / `FailedOpWithRevert` revert data; `None` for anything else.
    ///
    /// ```
    /// use alloy::sol_types::SolError;
    /// use leash_contracts::bindings::EntryPoint::FailedOp;
    /// use leash_userop::EntryPointRevert;
    ///
    /// let data = FailedOp { opIndex: alloy::primitives::U256::ZERO, reason: "AA25 invalid account nonce".into() }
    ///     .abi_encode();
    /// let revert = EntryPointRevert::decode(&data).unwrap();
    /// assert_eq!(revert.code(), "AA25");
    /// assert_eq!(revert.inner, None);
    /// ```
    pub fn decode(data: &[u8]) -> Option<Self> {
        if let Ok(failed) = FailedOpWithRevert::abi_decode(data) {
            return Some(Self {
                op_index: failed.opIndex.saturating_to(),
                reason: failed.reason,
                inner: Some(failed.inner),
            });
        }
        FailedOp::abi_decode(data).ok().map(|failed| Self {
            op_index: failed.opIndex.saturating_to(),
            reason: failed.reason,
            inner: None,
        })
    }

    /// The `AAxx` code alone (the whole reason when it has no such prefix).
    pub fn code(&self) -> &str {
        self.reason.split_whitespace().next().unwrap_or(&self.reason)
    }
}
