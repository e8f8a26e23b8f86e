//! What can go wrong paying or selling, in words a user can act on.

use alloy::primitives::{Address, U256};

/// An x402 failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP request failed (connection, TLS, timeout).
    #[error("request to {url} failed: {message}")]
    Http {
        /// The URL asked.
        url: String,
        /// What failed.
        message: String,
    },
    /// A message that is not x402 v2 (a header, a body, a facilitator's answer).
    #[error("{0}")]
    Malformed(String),
    /// No offer of the resource can be paid from this account on this chain.
    #[error("no offer can be paid with an EIP-3009 authorisation on {chain}; the resource offered: {offered}")]
    NoOffer {
        /// The chain the agent pays on.
        chain: String,
        /// What was offered.
        offered: String,
    },
    /// The resource asks more than the caller's maximum: refused before signing.
    #[error("the resource asks {asked} raw units of {token}, over the maximum of {max} per request: nothing was signed")]
    OverMax {
        /// Raw units asked.
        asked: U256,
        /// The caller's maximum.
        max: U256,
        /// The token.
        token: Address,
    },
    /// The session's signing rules refuse the payment: nothing was signed. The inner error names the rule.
    #[error("{0}")]
    Refused(leash_sdk::Error),
    /// The SDK failed (the chain could not be read).
    #[error("{0}")]
    Sdk(leash_sdk::Error),
    /// The resource did not serve the signed payment (the facilitator found it invalid, it did not settle, or no
    /// receipt came back). The authorisation was handed over: until it expires, whoever holds it may still settle
    /// it, so check the token's `authorizationState` for its nonce before paying again.
    #[error("{url} did not serve the payment: {reason}. The signed authorisation (nonce {nonce}) may still be settled until {valid_before}: check it before paying again")]
    PaymentRefused {
        /// The URL paid.
        url: String,
        /// The resource's reason.
        reason: String,
        /// The authorisation's nonce.
        nonce: alloy::primitives::B256,
        /// When it expires (unix seconds).
        valid_before: u64,
    },
    /// The request's body is a stream, which cannot be sent again with a payment.
    #[error("the request's body cannot be sent twice; give it as bytes to pay for it")]
    BodyNotRepeatable,
}

impl Error {
    pub(crate) fn http(url: &str, error: impl std::fmt::Display) -> Self {
        Self::Http { url: url.to_string(), message: error.to_string() }
    }

    /// The rule that refused the payment before signing, like a refused operation's.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Self::Refused(e) => e.rule(),
            Self::OverMax { .. } => Some("MaxPerRequest"),
            _ => None,
        }
    }
}
