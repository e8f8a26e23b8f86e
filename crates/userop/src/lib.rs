//! `leash-userop`: the ERC-4337 v0.7 parts that a client and a bundler share, and nothing of leash's policies.
//!
//! Where it sits: below the SDK (`leash-sdk`, which builds, signs and sends operations) and the local bundler
//! (`leash-bundler`, which validates and bundles them); each depends on this crate and neither on the other.
//!
//! - [`UserOperation`]: the v0.7 operation in its JSON form (ERC-7769), its packed form and its hash;
//! - [`NonceKey`] and [`Lane`]: how a nonce names the validator and an independent sequence;
//! - [`rpc`]: the answers of the bundler API (receipts, operations by hash, gas estimates);
//! - [`EntryPointRevert`]: the EntryPoint's `FailedOp` / `FailedOpWithRevert`.

mod nonce;
mod operation;
mod revert;
pub mod rpc;

pub use nonce::{Lane, NonceKey};
pub use operation::{
    hash_packed, Factory, Paymaster, UserOpError, UserOperation, UserOperationBuilder,
    MAX_GAS_VALUE, PAYMASTER_DATA_OFFSET,
};
pub use revert::EntryPointRevert;
