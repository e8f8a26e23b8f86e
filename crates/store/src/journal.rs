//! What the surfaces write after they send: the operation, by hash, and for a session's sends a line of the
//! audit log. The operation is on chain (or with the bundler) whatever happens here, so these return the store's
//! error for the caller to report, never to fail the send with.

use crate::{AuditEvent, OperationState, Result, SentOperation, Store};
use alloy::primitives::{Address, B256};
use serde_json::json;

/// The clock, in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Appends `action` on `subject` to the audit log, now.
pub async fn audit(
    store: &dyn Store,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<()> {
    store
        .append_audit(&AuditEvent {
            time: now(),
            action: action.into(),
            subject: subject.into(),
            detail,
        })
        .await
}

/// Where a sent operation stands, as the sender knows it.
#[derive(Clone, Copy, Debug)]
pub enum Sent {
    /// Accepted by the bundler, not waited for.
    Submitted,
    /// Included in `transaction`; `success` says whether its calls succeeded.
    Included {
        /// The bundle transaction.
        transaction: B256,
        /// Whether its calls succeeded.
        success: bool,
    },
}

/// Records an operation `session` sent (or the owner, when `None`) and, for a session's, an audit line:
/// `operation.send` when the bundler accepts it, `operation.landed` or `operation.reverted` once it is in a block.
/// The owner's operations are audited by the commands that send them, in their own words.
pub async fn record_sent(
    store: &dyn Store,
    session: Option<&str>,
    chain_id: u64,
    account: Address,
    hash: B256,
    sent: Sent,
) -> Result<()> {
    let (state, transaction_hash, success) = match sent {
        Sent::Submitted => (OperationState::Sent, None, None),
        Sent::Included { transaction, success: true } => {
            (OperationState::Landed, Some(transaction), Some(true))
        }
        Sent::Included { transaction, success: false } => {
            (OperationState::Reverted, Some(transaction), Some(false))
        }
    };
    // An update keeps the time it was first sent.
    let sent_at = match sent {
        Sent::Submitted => now(),
        Sent::Included { .. } => store.operation(hash).await?.map_or_else(now, |op| op.sent_at),
    };
    store
        .record_operation(&SentOperation {
            hash,
            chain_id,
            account,
            session: session.map(str::to_owned),
            sent_at,
            state,
            transaction_hash,
        })
        .await?;
    let Some(session) = session else { return Ok(()) };
    let action = match sent {
        Sent::Submitted => "operation.send",
        Sent::Included { success: true, .. } => "operation.landed",
        Sent::Included { success: false, .. } => "operation.reverted",
    };
    audit(
        store,
        action,
        session,
        json!({ "userOpHash": hash, "chainId": chain_id, "account": account, "success": success }),
    )
    .await
}
