//! The on-chain side of leash as the Rust crates see it.
//!
//! Where it sits (docs/architecture.md): under every other crate. Its `rpc` feature adds contract instances
//! that call through a provider and `deploy`; without it the bindings are types, calls, events, errors and
//! bytecode only.
//!
//! The Solidity contracts in `contracts/` are the source of truth: the session-key validator module reads a
//! session's contents from each UserOperation's signature and checks them against what the owner granted.
//! This crate holds the numbers those contents are encoded with (signer kinds, period kinds, rule operators,
//! flags) and the addresses every deployment shares, so the policy model and the SDK encode exactly what the
//! module decodes. A test reads `contracts/src/SessionTypes.sol` and fails when the two drift apart.
//!
//! ```
//! use leash_contracts::{ActionFlags, RuleOp, ENTRYPOINT_V07};
//!
//! // "transfer on USDC, amount summed against a cap": the flags byte of such an action.
//! let flags = ActionFlags::AMOUNT_CAP;
//! assert_eq!(flags, 8);
//! assert_eq!(RuleOp::OneOf as u8, 7);
//! assert_eq!(ENTRYPOINT_V07.to_string(), "0x0000000071727De22E5E9d8BAf0edAc6f37da032");
//! ```

use alloy::primitives::{address, Address, B256};

pub mod bindings;
mod encoding;
pub mod release;

pub use encoding::{
    ActionFlags, PeriodKind, RuleOp, SessionFlags, SignatureMode, SignerKind, StepKind,
    FORMAT_VERSION, RULE_PATH,
};

/// ERC-4337 EntryPoint v0.7 at its canonical address.
pub const ENTRYPOINT_V07: Address = address!("0000000071727De22E5E9d8BAf0edAc6f37da032");

/// ERC-4337 EntryPoint v0.6 at its canonical address (a session may never call it).
pub const ENTRYPOINT_V06: Address = address!("5FF137D4b0FDCD49DcA30c7CF57E578a026d2789");

/// ERC-4337 EntryPoint v0.8 at its canonical address (a session may never call it).
pub const ENTRYPOINT_V08: Address = address!("4337084D9E255Ff0702461CF8895CE9E3b5Ff108");

/// The canonical EntryPoints (v0.6, v0.7, v0.8): their deposit, stake and nonce functions act for the account
/// that calls them, so the module refuses every session call to them (`ForbiddenTarget`), sudo included.
pub const ENTRYPOINTS: [Address; 3] = [ENTRYPOINT_V06, ENTRYPOINT_V07, ENTRYPOINT_V08];

/// The deterministic deployment proxy (present on anvil and most chains) that puts EntryPoint v0.7 at
/// [`ENTRYPOINT_V07`].
pub const CREATE2_DEPLOYER: Address = address!("4e59b44847b379578588920cA78FbF26c0B4956C");

/// The CREATE2 salt of the canonical EntryPoint v0.7 deployment.
pub const ENTRYPOINT_V07_SALT: B256 =
    alloy::primitives::b256!("90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3");

/// The session-key module's compiled artifact (its JSON ABI under `abi`): the policy model reads its errors'
/// field names from it to show a refusal's fields by name.
pub const SESSION_KEY_VALIDATOR_ARTIFACT: &str =
    include_str!("../artifacts/SessionKeyValidator.json");

/// Most argument rules one action may hold.
pub const MAX_RULES: usize = 32;

/// Most calls one session UserOperation may batch.
pub const MAX_BATCH: usize = 32;
