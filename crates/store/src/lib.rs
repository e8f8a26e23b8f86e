//! `leash-store`: where leash keeps what outlives a command: session and owner keys (encrypted, never in
//! clear), smart accounts, grant documents, lane leases, the operations it sent and an audit log.
//!
//! Where it sits: above the SDK, whose types it stores ([`EncryptedKey`](leash_sdk::keystore::EncryptedKey),
//! [`GrantDocument`](leash_sdk::GrantDocument)), and below the surfaces that share it: the `leash` command
//! line and the MCP server. They hold an `Arc<dyn Store>`, so a service can keep the same records in a
//! database by implementing [`Store`]; [`FileStore`] keeps them in a directory (`~/.leash`).
//!
//! ```
//! use leash_store::{AccountRecord, FileStore, Store};
//! use alloy::primitives::{Address, B256};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leash_store::StoreError> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = FileStore::new(dir.path());
//! let record = AccountRecord {
//!     name: "treasury".into(),
//!     address: Address::repeat_byte(1),
//!     owner: Address::repeat_byte(2),
//!     owner_key: "owner".into(),
//!     factory: Address::repeat_byte(3),
//!     salt: B256::ZERO,
//!     validators: vec![],
//!     eip7702: false,
//! };
//! store.put_account(&record, false).await?;
//! assert_eq!(store.account("treasury").await?, record);
//! assert_eq!(store.account_names().await?, ["treasury"]);
//! // Records are never replaced by accident.
//! assert!(store.put_account(&record, false).await.is_err());
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod file;
mod journal;
mod records;

pub use error::{Record, StoreError};
pub use file::FileStore;
pub use journal::{audit, now, record_sent, Sent};
pub use records::{
    check_name, AccountRecord, AuditEvent, LaneLease, OperationState, SentOperation, SessionRecord,
    StoredKey,
};

use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use leash_sdk::{keystore::EncryptedKey, lanes::Lane, GrantDocument};

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The records leash keeps. Every write is whole or not at all; names are plain ([`check_name`]). Keys are
/// stored as encrypted documents: a store never sees a key in clear.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Where the records are, for messages (a directory, a database).
    fn location(&self) -> String;

    /// The key `name`.
    async fn key(&self, name: &str) -> Result<StoredKey>;
    /// Stores a key; refuses to replace an existing one unless `replace`.
    async fn put_key(&self, name: &str, key: &EncryptedKey, replace: bool) -> Result<()>;
    /// Deletes the key `name`.
    async fn remove_key(&self, name: &str) -> Result<()>;
    /// The names of the keys, sorted.
    async fn key_names(&self) -> Result<Vec<String>>;

    /// The account `name`.
    async fn account(&self, name: &str) -> Result<AccountRecord>;
    /// Stores an account under its name; refuses to replace an existing one unless `replace`.
    async fn put_account(&self, record: &AccountRecord, replace: bool) -> Result<()>;
    /// Deletes the account record `name` (the account on chain is untouched).
    async fn remove_account(&self, name: &str) -> Result<()>;
    /// The names of the accounts, sorted.
    async fn account_names(&self) -> Result<Vec<String>>;

    /// The session `name`: its key and its grant document, verified.
    async fn session(&self, name: &str) -> Result<SessionRecord>;
    /// Stores a new session, its key and its grant together or not at all; never replaces one.
    async fn put_session(
        &self,
        name: &str,
        key: &EncryptedKey,
        grant: &GrantDocument,
    ) -> Result<()>;
    /// Deletes the session `name`, its key with it.
    async fn remove_session(&self, name: &str) -> Result<()>;
    /// The names of the sessions, sorted.
    async fn session_names(&self) -> Result<Vec<String>>;

    /// Takes the lease on `(account, lane)` for `holder` until `lease.until` unless another holder's lease
    /// is still live at `now`; returns the lease that holds the lane afterwards (the caller's when taken).
    async fn lease_lane(&self, lease: &LaneLease, now: u64) -> Result<LaneLease>;
    /// Gives the lease up, if `holder` holds it.
    async fn release_lane(&self, account: Address, lane: Lane, holder: &str) -> Result<()>;

    /// Records a sent operation, or its new state (by hash).
    async fn record_operation(&self, operation: &SentOperation) -> Result<()>;
    /// The sent operation with this hash.
    async fn operation(&self, hash: B256) -> Result<Option<SentOperation>>;
    /// Every sent operation, oldest first.
    async fn operations(&self) -> Result<Vec<SentOperation>>;

    /// Appends an event to the audit log.
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The audit log, oldest first.
    async fn audit_log(&self) -> Result<Vec<AuditEvent>>;
}
