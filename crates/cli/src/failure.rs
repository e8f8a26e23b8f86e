//! Why a command failed ([`leash_sdk::Failure`], shared with the MCP server), and the exit code that tells a
//! script which kind of failure it was.

pub(crate) use leash_sdk::failure::{Failure, FailureKind as Kind};
use std::process::ExitCode;

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

/// A failure whose output the command has already shown (a check that found something missing prints what it
/// found, as JSON or for people): it only sets the exit code.
pub(crate) fn already_shown(kind: Kind) -> Failure {
    Failure::new(kind, String::new())
}

/// Whether `failure` is one of [`already_shown`]'s.
pub(crate) fn is_already_shown(failure: &Failure) -> bool {
    failure.message.is_empty()
}

/// How a failure ends the process.
pub(crate) trait Exit {
    /// The process's exit code: 1 failed, 2 bad input, 3 policy, 4 network.
    fn exit_code(&self) -> ExitCode;
    /// For people, on standard error.
    fn print(&self);
}

impl Exit for Failure {
    fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.exit_code())
    }

    fn print(&self) {
        // URLs may carry API keys in their paths: `Display` shows scheme, host and port only.
        eprintln!("error: {self}");
        if let Some(rule) = &self.rule {
            eprintln!("  rule: {rule}");
        }
        if let Some(hint) = &self.hint {
            eprintln!("  hint: {hint}");
        }
    }
}
