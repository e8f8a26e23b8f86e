//! Why a command failed, and the exit code that tells a script which kind of failure it was.

use leash_sdk::{bundler::BundlerError, keystore::KeystoreError};
use serde_json::{json, Value};
use std::process::ExitCode;

/// The kinds of failure a script can tell apart by the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Something failed that is neither the input, the policy nor the network (an execution reverted). Exit 1.
    Failed,
    /// The input is wrong: a missing or malformed file, a wrong password, an unknown name. Exit 2, like a
    /// usage error.
    BadInput,
    /// The session's policy refused the operation, before signing or on chain. Exit 3.
    Policy,
    /// A node, bundler or paymaster could not be reached or failed. Exit 4.
    Network,
}

impl Kind {
    pub(crate) const fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::BadInput => 2,
            Kind::Policy => 3,
            Kind::Network => 4,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::BadInput => "bad-input",
            Kind::Policy => "policy",
            Kind::Network => "network",
        }
    }
}

/// A failed command: what happened, in words, and what to do about it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// The rule that refused a policy rejection.
    pub(crate) rule: Option<String>,
    /// What to do about it.
    pub(crate) hint: Option<String>,
    /// A policy rejection in machine form.
    pub(crate) detail: Option<Value>,
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), rule: None, hint: None, detail: None }
    }

    pub(crate) fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Kind::BadInput, message)
    }

    pub(crate) fn network(message: impl Into<String>) -> Self {
        Self::new(Kind::Network, message)
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done.
    pub(crate) fn context(mut self, doing: impl std::fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.exit_code())
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "error": {
                "kind": self.kind.name(),
                "exitCode": self.kind.exit_code(),
                "message": leash_sdk::bundler::scrub_urls(&self.message),
                "rule": self.rule,
                "hint": self.hint,
                "rejection": self.detail,
            }
        })
    }

    /// For people, on standard error.
    pub(crate) fn print(&self) {
        // URLs may carry API keys in their paths: show scheme, host and port only.
        eprintln!("error: {}", leash_sdk::bundler::scrub_urls(&self.message));
        if let Some(rule) = &self.rule {
            eprintln!("  rule: {rule}");
        }
        if let Some(hint) = &self.hint {
            eprintln!("  hint: {hint}");
        }
    }
}

impl From<leash_sdk::Error> for Failure {
    fn from(error: leash_sdk::Error) -> Self {
        use leash_sdk::Error as E;
        let rule = error.rule().map(str::to_owned);
        let kind = match &error {
            E::PreFlight { .. } | E::Rejected { .. } => Kind::Policy,
            E::Rpc { .. } | E::Timeout(_) | E::Paymaster(_) => Kind::Network,
            E::Bundler(e) => return bundler_failure(e),
            E::Keystore(e) => return keystore_failure(e),
            E::Policy(_) | E::Setup(_) | E::Grant(_) | E::UserOp(_) => Kind::BadInput,
            _ => Kind::Failed,
        };
        let mut failure = Failure::new(kind, error.to_string());
        failure.rule = rule;
        if kind == Kind::Network {
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

const NETWORK_HINT: &str = "check the network's URLs (`leash network list`); for the local stack, start it with `leash devnet`";

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
            let hint = if message.contains("AA21") {
                Some("the account cannot pay for gas: send it ETH (`leash account fund` on the devnet) or deposit for it in the EntryPoint")
            } else if message.contains("STO-022") {
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
        _ => Failure::network(error.to_string()).with_hint(NETWORK_HINT),
    }
}
