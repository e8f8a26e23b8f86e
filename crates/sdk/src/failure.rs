//! A failure in the words a person or an agent acts on: which kind it is (the input, the policy, the network,
//! or something else), what happened, the rule that refused, what to do about it, and a policy rejection in
//! machine form. The `leash` command line prints it (and exits with a code per kind); the MCP server returns it
//! as a tool error. Both build it from the same errors, so the same failure reads the same on both.

use crate::{bundler::BundlerError, keystore::KeystoreError, Error};
use leash_core::{Session, TokenTable};
use serde_json::{json, Value};

/// The kinds of failure a caller can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Something failed that is neither the input, the policy nor the network (an execution reverted).
    Failed,
    /// The input is wrong: a missing or malformed file, a wrong password, an unknown name.
    BadInput,
    /// The session's policy refused the operation, before signing or on chain.
    Policy,
    /// A node, bundler or paymaster could not be reached or failed.
    Network,
}

impl FailureKind {
    /// The exit code of the `leash` command for this kind, also given to MCP clients so that scripts and agents
    /// read one number: 1 failed, 2 bad input (like a usage error), 3 policy, 4 network.
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::Failed => 1,
            Self::BadInput => 2,
            Self::Policy => 3,
            Self::Network => 4,
        }
    }

    /// The kind's name in JSON: `failed`, `bad-input`, `policy`, `network`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::BadInput => "bad-input",
            Self::Policy => "policy",
            Self::Network => "network",
        }
    }
}

/// A failure: what happened, in words, and what to do about it.
#[derive(Debug)]
pub struct Failure {
    /// Its kind.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// The rule that refused a policy rejection.
    pub rule: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// A policy rejection in machine form.
    pub detail: Option<Value>,
}

/// What to do when a node or bundler cannot be reached.
pub const NETWORK_HINT: &str = "check the network's URLs (`leash network list`); for the local stack, start it with `leash devnet`";

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), rule: None, hint: None, detail: None }
    }

    /// Wrong input.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(FailureKind::BadInput, message)
    }

    /// A node, bundler or paymaster failed.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Network, message)
    }

    /// Anything else.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Failed, message)
    }

    /// With what to do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, doing: impl std::fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    /// A failure of the SDK, with the policy rejection's machine form when the policy refused.
    pub fn with_rejection(error: Error, session: &Session, tokens: &TokenTable) -> Self {
        let detail = match &error {
            Error::PreFlight { rejection, .. } => Some(rejection.to_json(session, tokens)),
            Error::Rejected { rejection: Some(rejection), .. } => {
                Some(rejection.to_json(session, tokens))
            }
            _ => None,
        };
        let mut failure = Self::from(error);
        failure.detail = detail;
        failure
    }

    /// `{"error": {kind, exitCode, message, rule, hint, rejection}}`; URLs in the message show scheme, host and port only
    /// (bundler and node URLs carry API keys in their paths).
    pub fn to_json(&self) -> Value {
        json!({
            "error": {
                "kind": self.kind.name(),
                "exitCode": self.kind.exit_code(),
                "message": crate::bundler::scrub_urls(&self.message),
                "rule": self.rule,
                "hint": self.hint,
                "rejection": self.detail,
            }
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::bundler::scrub_urls(&self.message))
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let rule = error.rule().map(str::to_owned);
        let kind = match &error {
            Error::PreFlight { .. } | Error::Rejected { .. } => FailureKind::Policy,
            Error::Rpc { .. } | Error::Timeout(_) | Error::Paymaster(_) => FailureKind::Network,
            Error::Bundler(e) => return bundler_failure(e),
            Error::Keystore(e) => return keystore_failure(e),
            Error::Policy(_)
            | Error::Setup(_)
            | Error::Grant(_)
            | Error::GrantUnreadable { .. }
            | Error::GrantMalformed { .. }
            | Error::UserOp(_) => FailureKind::BadInput,
            _ => FailureKind::Failed,
        };
        let mut failure = Failure::new(kind, error.to_string());
        failure.rule = rule;
        if kind == FailureKind::Network {
            failure.hint = Some(NETWORK_HINT.into());
        }
        failure
    }
}

impl From<KeystoreError> for Failure {
    fn from(error: KeystoreError) -> Self {
        keystore_failure(&error)
    }
}

impl From<leash_core::Error> for Failure {
    fn from(error: leash_core::Error) -> Self {
        Failure::bad_input(error.to_string())
    }
}

fn keystore_failure(error: &KeystoreError) -> Failure {
    // A keystore that cannot be read or decrypted is always a matter of input: the file or the password.
    Failure::bad_input(error.to_string())
}

fn bundler_failure(error: &BundlerError) -> Failure {
    match error {
        BundlerError::Rejected { .. } => {
            // The bundler refused for a reason other than the session's policy (those come back as
            // `Error::Rejected` with their rule): unfunded account, gas prices, an op already pending.
            let message = error.to_string();
            let underpriced = error
                .rejection()
                .is_some_and(|r| r.kind == crate::bundler::RejectionKind::Underpriced);
            let hint = if underpriced {
                Some("the bundler's price is above what the operation offers (it moves with the base fee): send it again; leash offers the bundler's own price when it has a price method")
            } else if message.contains("AA21") {
                Some("the account cannot pay for gas: send it ETH (`leash account fund` on the devnet) or deposit for it in the EntryPoint")
            } else if message.contains("STO-022")
                || (message.contains("unstaked factory") && message.contains("accessed"))
            {
                Some("a bundler refuses to deploy an account and grant a session in one operation unless the factory is staked: deploy the account first with `leash account deploy`")
            } else {
                None
            };
            let failure = Failure::failed(message);
            match hint {
                Some(hint) => failure.with_hint(hint),
                None => failure,
            }
        }
        BundlerError::InvalidUrl(_) => Failure::bad_input(error.to_string()),
        BundlerError::TooCostly { .. } => Failure::failed(error.to_string()).with_hint(
            "a bundler's gas estimate that makes one operation cost this much is suspect: use another bundler, or, if the cost is right, raise max_operation_cost for this network in networks.toml",
        ),
        BundlerError::Overpriced { .. } => Failure::failed(error.to_string()).with_hint(
            "use another bundler, or, if its price is right (a fee spike the node does not show yet), raise bundler_price_limit for this network in networks.toml",
        ),
        BundlerError::Gone { hash, .. } => Failure::network(error.to_string()).with_hint(format!(
            "once the bundler is back, `leash operation show {hash}` says whether it landed"
        )),
        _ => Failure::network(error.to_string()).with_hint(NETWORK_HINT),
    }
}
