//! What can go wrong while starting, deploying to or driving a devnet.

use std::{path::PathBuf, time::Duration};

use alloy::{primitives::B256, transports::TransportError};

/// Result of a devnet operation.
pub type Result<T, E = DevnetError> = std::result::Result<T, E>;

/// Errors of the devnet. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// No anvil binary was found.
    #[error(
        "anvil was not found (looked in: {searched}); run `make toolchain` in the leash checkout to \
         install the pinned one, or set {env} to the path of an anvil binary",
        env = crate::ANVIL_ENV
    )]
    AnvilNotFound {
        /// The places that were looked at, in order.
        searched: String,
    },

    /// `LEASH_ANVIL` (or the builder's anvil path) names a file that does not exist.
    #[error(
        "anvil was set to {path}, which does not exist; fix the path or unset {env} to use the pinned \
         toolchain (`make toolchain`)",
        env = crate::ANVIL_ENV
    )]
    AnvilMissingAt {
        /// The configured path.
        path: PathBuf,
    },

    /// The operating system refused to start anvil.
    #[error("could not start anvil at {path}: {source}")]
    Spawn {
        /// The binary that was started.
        path: PathBuf,
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },

    /// anvil exited before its RPC server was listening, usually because of a bad argument or a taken
    /// port.
    #[error("anvil exited before it was ready ({status}); its stderr:\n{stderr}")]
    AnvilExited {
        /// The exit status, as the operating system reports it.
        status: String,
        /// What anvil wrote to stderr (the last few kilobytes).
        stderr: String,
    },

    /// anvil did not start listening, or its RPC did not answer, within the start-up timeout.
    #[error(
        "anvil's RPC{at} did not answer within {} seconds; the machine may be overloaded: raise \
         `DevnetBuilder::startup_timeout`",
        timeout.as_secs_f32(),
        at = url.as_deref().map(|url| format!(" at {url}")).unwrap_or_default()
    )]
    RpcTimeout {
        /// The RPC URL, when anvil said where it listens.
        url: Option<String>,
        /// How long was waited.
        timeout: Duration,
    },

    /// anvil printed something this crate does not understand at start-up.
    #[error("could not read anvil's start-up output: {0}; is it anvil 1.x (the pinned version is 1.7.1)?")]
    UnexpectedOutput(String),

    /// A builder setting is not possible.
    #[error("invalid devnet setting: {0}")]
    InvalidSetting(String),

    /// A contract of the local stack could not be deployed.
    #[error("deploying {contract} failed: {reason}")]
    Deploy {
        /// The contract, as named in `contracts/src`.
        contract: &'static str,
        /// What happened.
        reason: String,
    },

    /// A transaction sent by a helper reverted.
    #[error("{action} reverted in transaction {tx_hash}")]
    Reverted {
        /// What the helper was doing.
        action: &'static str,
        /// The transaction.
        tx_hash: B256,
    },

    /// The helper needs the deployed stack, but the devnet was started bare.
    #[error("this devnet was started bare (without the leash contracts); {action} needs them: start it without `DevnetBuilder::bare`")]
    NotDeployed {
        /// What needed the deployment.
        action: &'static str,
    },

    /// A JSON-RPC call to anvil failed.
    #[error("devnet RPC call {method} failed: {source}")]
    Rpc {
        /// The JSON-RPC method.
        method: &'static str,
        /// The transport or RPC error.
        #[source]
        source: TransportError,
    },

    /// anvil refused to revert to a snapshot (it does not exist, or was used already).
    #[error("anvil has no snapshot {0}; a snapshot can be reverted to only once")]
    UnknownSnapshot(alloy::primitives::U256),
}

impl DevnetError {
    pub(crate) fn rpc(method: &'static str) -> impl FnOnce(TransportError) -> Self {
        move |source| Self::Rpc { method, source }
    }
}
