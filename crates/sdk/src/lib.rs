//! The leash SDK: what an agent, a backend or a tool needs to act through a session key.
//!
//! A session key acts for a smart account only inside the envelope its owner granted, and the
//! session-key validator module checks every UserOperation against it on chain. This crate is the
//! off-chain half. [`signer`] holds the keys that sign for a session ([`signer::SessionSigner`] and its
//! ECDSA, P-256 and WebAuthn implementations), each producing exactly the signature bytes the module
//! verifies; [`keystore`] keeps those keys at rest in password-encrypted Web3 Secret Storage v3 files.
//!
//! ```
//! use alloy::primitives::B256;
//! use leash_sdk::signer::{SessionKey, SessionSigner, SignerKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leash_sdk::signer::SignerError> {
//! let key = SessionKey::random(SignerKind::P256).into_shared();
//! // `key.kind()` and `key.signer_bytes()` go into the session; the signature into the UserOperation.
//! let signature = key.sign_digest(B256::repeat_byte(0x11)).await?;
//! assert_eq!(signature.len(), 64);
//! # Ok(())
//! # }
//! ```

pub mod account;
pub mod agent;
pub mod bundler;
pub mod chain;
mod error;
mod fs;
pub mod gas;
pub mod grant;
pub mod keystore;
pub mod lanes;
pub mod owner;
pub mod paymaster;
pub mod signer;
pub mod submit;
pub mod userop;

pub use account::SmartAccount;
pub use agent::{Explanation, SentOperation, SessionAgent, SessionAgentBuilder, SessionStatus};
pub use chain::Chain;
pub use error::{Error, Result};
pub use grant::GrantDocument;
pub use owner::{Owner, SignedGrant};
pub use submit::{OpOutcome, Submitter};
