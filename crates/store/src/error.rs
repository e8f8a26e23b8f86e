//! Why a store operation failed.

use std::{fmt, io, path::PathBuf};

/// The kinds of record a store keeps, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A key (keystore).
    Key,
    /// A smart account.
    Account,
    /// A session (its key and grant document).
    Session,
    /// A lane lease.
    Lease,
    /// A sent operation.
    Operation,
    /// An audit event.
    AuditEvent,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::Account => "account",
            Self::Session => "session",
            Self::Lease => "lane lease",
            Self::Operation => "sent operation",
            Self::AuditEvent => "audit event",
        })
    }
}

/// Why a store operation failed. Each variant keeps its cause as its `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No record by that name.
    #[error("no {record} named `{name}` in {location}")]
    NotFound {
        /// What was looked for.
        record: Record,
        /// Its name.
        name: String,
        /// Where.
        location: String,
    },
    /// A record by that name exists and replacing it was not asked for.
    #[error("a {record} named `{name}` exists already")]
    Exists {
        /// What.
        record: Record,
        /// Its name.
        name: String,
    },
    /// The name cannot be a record's name.
    #[error(
        "`{name}` is not a valid {record} name: use up to 64 letters, digits, `.`, `_` or `-`, not starting \
         with `.`"
    )]
    InvalidName {
        /// What was named.
        record: Record,
        /// The name.
        name: String,
    },
    /// A stored record cannot be read back.
    #[error("{location}: not a valid {record}: {source}")]
    Corrupt {
        /// What.
        record: Record,
        /// Where (a file and its line, a row).
        location: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The storage itself failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl From<StoreError> for leash_sdk::Failure {
    /// Always a matter of input (a name, a file), with what to do where there is something to do.
    fn from(error: StoreError) -> Self {
        let hint = match &error {
            StoreError::NotFound { record: Record::Key, .. } => {
                Some("`leash keystore list` shows the keys")
            }
            StoreError::NotFound { record: Record::Account, .. } => {
                Some("`leash account create NAME --owner KEY` records one")
            }
            StoreError::NotFound { record: Record::Session, .. } => {
                Some("`leash session list` shows the sessions")
            }
            StoreError::Exists { record: Record::Session, .. } => Some("choose another name"),
            StoreError::Exists { .. } => Some("choose another name, or pass --force to replace it"),
            _ => None,
        };
        let failure = leash_sdk::Failure::bad_input(error.to_string());
        match hint {
            Some(hint) => failure.with_hint(hint),
            None => failure,
        }
    }
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }

    pub(crate) fn corrupt(
        record: Record,
        location: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Corrupt { record, location: location.to_string(), source: source.into() }
    }
}
