//! x402 payments for leash accounts.
//!
//! Where it sits (docs/architecture.md): above the SDK. An agent pays for HTTP resources from its smart account,
//! the session key signing an EIP-3009 authorisation that the account's ERC-1271 accepts only inside the
//! session's signing rules; and an agent sells its own HTTP service, paid into its own account.
//!
//! - [`pay`]: [`Payer`], an HTTP client that answers `402 Payment Required` with an authorisation from
//!   [`leash_sdk::SessionAgent::authorize_transfer`] (the pre-flight first: a refused payment is never signed,
//!   and the refusal names the rule), and returns the resource with its settlement receipt.
//! - [`sell`]: [`charge`], an axum middleware that offers a [`Price`], verifies and settles payments through a
//!   [`Facilitator`], and serves only paid requests.
//! - [`facilitator`]: a remote x402 facilitator over HTTP, or the seller settling by itself.
//! - [`wire`]: the x402 v2 messages and headers.
//!
//! How much a session may pay per period, and why the chain enforces it, is in docs/payments.md.

pub mod facilitator;
pub mod pay;
pub mod sell;
pub mod wire;

mod error;

pub use error::Error;
pub use facilitator::{Facilitator, LocalFacilitator, RemoteFacilitator};
pub use pay::{Paid, Payer, Payment};
pub use sell::{charge, Paywall, Price};
