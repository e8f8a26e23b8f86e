//! Errors of the session lifecycle: a rejection by policy (before signing or by the chain), bad input, or the
//! network.

use crate::{
    bundler::BundlerError, keystore::KeystoreError, signer::SignerError, userop::UserOpError,
};
use alloy::primitives::B256;

/// What went wrong. Policy rejections carry the rule's name and a sentence a person understands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pre-flight evaluator refused the calls; nothing was signed.
    #[error("rejected before signing by rule {rule}: {message}")]
    PreFlight {
        /// The rule (the module's error name).
        rule: String,
        /// Why, in words.
        message: String,
        /// The machine form.
        rejection: Box<leash_core::Rejection>,
    },
    /// The session may not sign this message for the account (the module would refuse the signature); nothing
    /// was signed.
    #[error("signing refused before signing by rule {rule}: {message}")]
    SigningRefused {
        /// A short rule name (`SigningRuleFailed`, `SigningScopeMissing`, `SessionNotLive`, ...).
        rule: String,
        /// Why, in words.
        message: String,
    },
    /// The EntryPoint or the module refused the operation on chain (or in the bundler's simulation).
    #[error("rejected on chain ({code}){}: {message}", rule.as_ref().map(|r| format!(" by rule {r}")).unwrap_or_default())]
    Rejected {
        /// The EntryPoint's code, e.g. `AA23 reverted` or `AA24 signature error`.
        code: String,
        /// The module's rule, when the inner revert names one.
        rule: Option<String>,
        /// Why, in words.
        message: String,
        /// The module's rule in machine form, when known.
        rejection: Option<Box<leash_core::Rejection>>,
    },
    /// The operation was included but its calls reverted.
    #[error("operation {hash} was included but its execution reverted: {reason}")]
    ExecutionReverted {
        /// The UserOperation hash.
        hash: B256,
        /// The revert reason as far as it can be decoded.
        reason: String,
    },
    /// A contract read or transaction failed at the RPC level.
    #[error("RPC error at {url}: {message}")]
    Rpc {
        /// Which endpoint.
        url: String,
        /// What was asked and what it said.
        message: String,
        /// The transport's or the contract binding's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The bundler failed or refused.
    #[error(transparent)]
    Bundler(#[from] BundlerError),
    /// The paymaster service failed or refused.
    #[error(transparent)]
    Paymaster(#[from] crate::paymaster::PaymasterError),
    /// The session key could not sign.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// A UserOperation field is out of range.
    #[error(transparent)]
    UserOp(#[from] UserOpError),
    /// A keystore could not be read or written.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// The policy model refused the input.
    #[error(transparent)]
    Policy(#[from] leash_core::Error),
    /// The SDK was set up or called in a way that cannot work (no submitter, no calls, wrong owner key).
    #[error("{0}")]
    Setup(String),
    /// A grant document is malformed or does not fit this chain.
    #[error("grant document: {0}")]
    Grant(String),
    /// A grant document could not be read.
    #[error("grant document: cannot read {}: {source}", .path.display())]
    GrantUnreadable {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A grant document is not JSON of the document's shape.
    #[error("grant document: {}:{}:{}: {source}", .path.display(), .source.line(), .source.column())]
    GrantMalformed {
        /// The file.
        path: std::path::PathBuf,
        /// Where and why parsing failed.
        #[source]
        source: serde_json::Error,
    },
    /// The owner's key could not sign (a remote signer or hardware wallet failed or refused).
    #[error("the owner key could not sign: {0}")]
    OwnerSigning(#[source] alloy::signers::Error),
    /// Waiting for an operation timed out.
    #[error("operation {0} was not included in time")]
    Timeout(B256),
}

impl Error {
    /// The rule that rejected the operation, before signing or on chain.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Error::PreFlight { rule, .. } | Error::SigningRefused { rule, .. } => Some(rule),
            Error::Rejected { rule, .. } => rule.as_deref(),
            _ => None,
        }
    }

    /// Whether the operation was refused by policy (as opposed to bad input or the network).
    pub fn is_policy_rejection(&self) -> bool {
        matches!(
            self,
            Error::PreFlight { .. } | Error::Rejected { .. } | Error::SigningRefused { .. }
        )
    }

    pub(crate) fn rpc(url: &str, error: impl std::fmt::Display) -> Self {
        Error::Rpc { url: url.to_string(), message: error.to_string(), source: None }
    }

    /// A failed read: `message` names it (and says what went wrong), `source` is the cause.
    pub(crate) fn read(
        url: &str,
        message: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Rpc { url: url.to_string(), message, source: Some(Box::new(source)) }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
