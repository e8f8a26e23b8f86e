//! The records a [`Store`](crate::Store) keeps.

use crate::{Record, StoreError};
use alloy::primitives::{Address, B256};
use leash_core::Session;
use leash_sdk::{keystore::EncryptedKey, GrantDocument, SmartAccount};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A key as stored: its encrypted keystore document and where it came from (for messages).
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The key's name.
    pub name: String,
    /// Where it is stored: a file, or a label for a database row.
    pub source: PathBuf,
    /// The encrypted document; [`Keystore::decrypt`](leash_sdk::keystore::Keystore::decrypt) opens it.
    pub document: EncryptedKey,
}

/// A smart account by name: where it is and how it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountRecord {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: Address,
    /// Its owner.
    pub owner: Address,
    /// The name of the owner's key in the store.
    pub owner_key: String,
    /// The factory that deploys it.
    pub factory: Address,
    /// The CREATE2 salt.
    pub salt: B256,
    /// The validators installed at deployment.
    pub validators: Vec<Address>,
    /// The owner's EOA as its own account (EIP-7702): `address` is the owner's, `factory` the implementation it
    /// delegates to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eip7702: bool,
}

impl AccountRecord {
    /// The account as the SDK sees it.
    pub fn smart_account(&self) -> SmartAccount {
        SmartAccount {
            address: self.address,
            factory: self.factory,
            owner: self.owner,
            salt: self.salt,
            validators: self.validators.clone(),
            eip7702: self.eip7702,
        }
    }
}

/// A session as stored: its key and its grant document, checked, with the session the document grants.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// Its name.
    pub name: String,
    /// The session key, encrypted.
    pub key: StoredKey,
    /// The grant document.
    pub grant: GrantDocument,
    /// The session the grant document holds (verified against its id and the owner's signature).
    pub session: Session,
}

/// A lane held by one process or task until `until`, so that two senders never race for one nonce sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaneLease {
    /// The account.
    pub account: Address,
    /// The lane's number.
    pub lane: u32,
    /// Who holds it (a process, a worker).
    pub holder: String,
    /// Until when, in Unix seconds.
    pub until: u64,
}

/// Where a sent operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationState {
    /// Accepted by the bundler, not yet seen in a block.
    Sent,
    /// In a block, its calls succeeded.
    Landed,
    /// In a block, its calls reverted (it paid for gas).
    Reverted,
}

/// An operation leash sent, by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SentOperation {
    /// The UserOperation hash.
    pub hash: B256,
    /// The chain.
    pub chain_id: u64,
    /// The account.
    pub account: Address,
    /// The session that signed it, if one did (else the owner).
    pub session: Option<String>,
    /// When it was sent, in Unix seconds.
    pub sent_at: u64,
    /// Where it stands.
    pub state: OperationState,
    /// The transaction that included it, once known.
    pub transaction_hash: Option<B256>,
}

/// One line of the audit log: who did what to which record. It never holds key material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditEvent {
    /// When, in Unix seconds.
    pub time: u64,
    /// What was done, e.g. `session.create`, `session.revoke`, `operation.send`.
    pub action: String,
    /// The record it was done to, e.g. the session's name.
    pub subject: String,
    /// The rest, as JSON (ids, hashes, chains).
    pub detail: serde_json::Value,
}

/// Names become file names and keys, so they stay plain: up to 64 letters, digits, `.`, `_` or `-`, not
/// starting with a dot.
///
/// ```
/// use leash_store::{check_name, Record};
///
/// assert!(check_name(Record::Session, "payroll-2027").is_ok());
/// assert!(check_name(Record::Session, "../etc").is_err());
/// assert!(check_name(Record::Key, ".hidden").is_err());
/// ```
pub fn check_name(record: Record, name: &str) -> Result<(), StoreError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        Ok(())
    } else {
        Err(StoreError::InvalidName { record, name: name.to_owned() })
    }
}
