//! The leash SDK: what an agent, a backend or a tool needs to act through a session key.
//!
//! Where it sits (docs/architecture.md): above the policy model (`leash-core`) and the UserOperation types
//! (`leash-userop`); below the store (`leash-store`), the local stack (`leash-devnet`) and the surfaces (the
//! `leash` command and its MCP server).
//!
//! A session key acts for a smart account only inside the envelope its owner granted, and the session-key
//! validator module checks every UserOperation against it on chain. This crate is the off-chain half:
//!
//! - [`SmartAccount`]: the account's counterfactual address and the factory call that deploys it.
//! - [`Owner`]: the owner's operations: grant a session by transaction, approve a lazy or multichain grant with
//!   one signature ([`SignedGrant`]), revoke one session or all.
//! - [`SessionAgent`]: the agent's side. [`SessionAgent::explain`] runs the pre-flight (`leash-core`'s
//!   evaluator against the chain's counters); [`SessionAgent::send`] never signs what the pre-flight rejects,
//!   and reports the rule by name ([`Error::rule`]). [`SessionAgent::status`] reads what is left this period.
//! - [`userop`]: UserOperation v0.7 wire types and hash; [`lanes`]: nonce lanes, so independent tasks never
//!   wait on each other; [`bundler`] and [`paymaster`]: ERC-4337 and ERC-7677 JSON-RPC clients; [`Submitter`]:
//!   a bundler, or `handleOps` straight to the EntryPoint on a local chain.
//! - [`signer`]: ECDSA, P-256 and WebAuthn session keys behind one trait; [`keystore`]: keys at rest in Web3
//!   Secret Storage v3 files; [`GrantDocument`]: what an agent needs besides its key.
//!
//! The whole lifecycle on a local chain (anvil with EntryPoint v0.7 and the contracts):
//!
//! ```
//! use alloy::primitives::{aliases::U96, Address, B256, U256};
//! use leash_core::{encode_call, Action, Call, Session, PublicKey, SessionPolicy};
//! use leash_sdk::{lanes::Lane, signer::{EcdsaSigner, SessionSigner}, Chain, Owner, SessionAgent, SmartAccount, Submitter};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let devnet = leash_devnet::Devnet::start().await?;
//! let stack = devnet.deployment().unwrap().clone();
//! let provider = devnet.provider().clone();
//! let chain = Chain::connect(provider.clone(), stack.session_key_validator, "devnet").await?;
//! let submitter = Arc::new(Submitter::direct(provider.clone(), devnet.dev_accounts()[0]));
//!
//! // The owner's account, with the session module installed at deployment.
//! let owner_key = alloy::signers::local::PrivateKeySigner::random();
//! let account = SmartAccount::counterfactual(
//!     &provider, stack.account_factory, owner_key.address(), B256::ZERO, vec![stack.session_key_validator],
//! ).await?;
//! devnet.fund(account.address, U256::from(10u128.pow(18))).await?;
//! devnet.mint_usdc(account.address, U256::from(1_000_000_000u64)).await?;
//! let owner = Owner::new(owner_key, account.clone())?;
//!
//! // A session: USDC transfers, at most 100 USDC in total.
//! let key = Arc::new(EcdsaSigner::random());
//! let policy = SessionPolicy::builder()
//!     .action(Action::call(stack.usdc, "transfer(address to, uint256 amount)")?
//!         .with_amount_cap("amount", U96::from(100_000_000u64))?)
//!     .build()?;
//! let session = Session { key: PublicKey { kind: key.kind(), public: key.signer_bytes() }, policy };
//! owner.execute(&chain, &submitter, &[]).await?; // deploys the account
//! owner.grant(&chain, &submitter, &session).await?;
//!
//! let agent = SessionAgent::builder(chain, account.address, session, key).submitter(submitter).build()?;
//! let pay = |amount: u64| Call {
//!     target: stack.usdc,
//!     value: U256::ZERO,
//!     data: encode_call("transfer(address,uint256)", &[Address::repeat_byte(9).into_word().into(), U256::from(amount)]).unwrap(),
//! };
//! agent.send(&[pay(60_000_000)], Lane::from(0)).await?;
//! let refused = agent.send(&[pay(60_000_000)], Lane::from(0)).await.unwrap_err();
//! assert_eq!(refused.rule(), Some("AmountLimitExceeded"));
//! # Ok(())
//! # }
//! ```

pub mod account;
pub mod agent;
pub mod bundler;
pub mod chain;
mod error;
pub mod failure;
pub mod fs;
pub mod gas;
pub mod grant;
pub mod keystore;
pub mod lanes;
pub mod owner;
pub mod paymaster;
pub mod payment;
pub mod presets;
pub mod release;
pub mod report;
pub mod signer;
pub mod submit;
pub mod view;
pub use leash_userop as userop;

pub use account::SmartAccount;
pub use agent::{
    Explanation, SentOperation, SessionAgent, SessionAgentBuilder, SessionStatus, SignedMessage,
    SignedOperation, Submitted,
};
pub use chain::Chain;
pub use error::{Error, Result};
pub use failure::{Failure, FailureKind};
pub use grant::GrantDocument;
pub use owner::{
    prepare_owner_operation, prepare_owner_operation_for, revoke_call, Owner, SignedGrant,
};
pub use payment::{PaymentsLeft, TransferAuthorization, TransferRequest};
pub use submit::{OpOutcome, Submitter};
pub use view::{describe_allowance, SessionView, Standing};
