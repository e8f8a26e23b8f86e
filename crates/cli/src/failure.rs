//! Why a command failed ([`leash_sdk::Failure`], shared with the MCP server), and the exit code that tells a
//! script which kind of failure it was.

pub(crate) use leash_sdk::failure::{Failure, FailureKind as Kind};
use std::process::ExitCode;

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

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
