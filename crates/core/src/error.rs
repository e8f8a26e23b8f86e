//! Errors of the policy model.

use std::path::PathBuf;

/// What went wrong building, reading or encoding a policy. Messages say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unit or amount could not be read ("100 USD", "1 dya", too many decimals).
    #[error("{0}")]
    Unit(String),
    /// A time could not be read.
    #[error("{0}")]
    Time(String),
    /// A function signature or argument name could not be resolved.
    #[error("{0}")]
    Abi(String),
    /// A rule names an argument but the action has no function signature.
    #[error("the rule on `{0}` names an argument, but the action has no function signature to find it in")]
    NoAbi(String),
    /// The policy is inconsistent (window end before start, zero uses, too many rules...).
    #[error("{0}")]
    Invalid(String),
    /// A session, an action or a signature does not fit the packed wire format (docs/encoding.md): a count
    /// past 255, more than 32 rules, a session or action past 65,535 bytes, a key of the wrong length.
    #[error("{0}")]
    Encoding(String),
    /// Bytes are not a well-formed packed session or action: truncated, followed by trailing bytes, of another
    /// format version, or with a count or length that does not match what follows.
    #[error("{0}")]
    Malformed(String),
    /// A call as written (by a person, a batch file or an agent) cannot be read: an unknown name, a wrong
    /// argument count, an amount in the wrong unit.
    #[error("{0}")]
    Call(String),
    /// A policy file is malformed; names the file, line and column.
    #[error("{path}:{line}:{column}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A policy file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
