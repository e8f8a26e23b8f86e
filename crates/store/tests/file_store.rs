//! The file store passes the conformance suite every store passes, and what only files have: modes, damaged
//! files named with their line, no staging directory left behind.

use alloy::primitives::{Address, B256};
use leash_store::{
    conformance::{self, account, encrypted, grant},
    FileStore, OperationState, Record, SentOperation, Store, StoreError,
};
use std::path::Path;

fn store() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("home"));
    (dir, store)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_file_store_passes_the_conformance_suite() {
    let (_dir, store) = store();
    conformance::run(&store).await;
}

#[tokio::test]
async fn keys_are_files_only_their_user_reads() {
    let (_dir, store) = store();
    store.put_key("agent", &encrypted().1, false).await.unwrap();
    let stored = store.key("agent").await.unwrap();
    assert_eq!(mode(&stored.source), 0o600);
    assert_eq!(mode(&store.keystores()), 0o700);
}

#[tokio::test]
async fn names_that_could_leave_the_directory_write_nothing() {
    let (_dir, store) = store();
    conformance::names_that_are_not_plain_are_refused(&store).await;
    assert!(!store.root().exists(), "nothing was written");
}

#[tokio::test]
async fn a_damaged_account_names_its_file_and_line() {
    let (_dir, store) = store();
    store.put_account(&account("bots"), false).await.unwrap();
    let path = store.root().join("accounts/bots.json");
    std::fs::write(&path, "{\n  \"name\": \"bots\",\n  \"extra\": 1\n}\n").unwrap();
    let error = store.account("bots").await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::Corrupt { record: Record::Account, .. }), "{text}");
    assert!(text.contains("accounts/bots.json:3:"), "{text}");
    assert!(std::error::Error::source(&error).is_some(), "the cause is kept");
}

#[tokio::test]
async fn a_session_directory_is_private_whole_and_checked_when_read() {
    let (_dir, store) = store();
    let grant = grant().await;
    store.put_session("pay", &encrypted().1, &grant).await.unwrap();
    let record = store.session("pay").await.unwrap();
    assert_eq!(mode(&store.session_dir("pay").unwrap()), 0o700);
    assert_eq!(mode(&record.key.source), 0o600);

    // The refused second session leaves no staging directory behind.
    assert!(store.put_session("pay", &encrypted().1, &grant).await.is_err());
    let entries: Vec<_> = std::fs::read_dir(store.root().join("sessions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, ["pay"]);

    // A grant document altered on disk is refused, naming the file.
    let path = store.session_dir("pay").unwrap().join("grant.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["account"] = serde_json::json!(Address::repeat_byte(0xee));
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let error = store.session("pay").await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { record: Record::Session, .. }), "{error}");
    assert!(error.to_string().contains("grant.json"), "{error}");
}

#[tokio::test]
async fn a_damaged_audit_line_is_reported_with_its_number() {
    let (_dir, store) = store();
    conformance::the_audit_log_keeps_every_event_in_order(&store).await;
    let path = store.root().join("audit.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{not json\n");
    std::fs::write(&path, text).unwrap();
    let error = store.audit_log().await.unwrap_err();
    assert!(error.to_string().contains("audit.jsonl:3"), "{error}");
}

#[tokio::test]
async fn an_operation_landing_keeps_the_time_it_was_sent_and_is_audited_once_per_step() {
    let (_dir, store) = store();
    let hash = B256::repeat_byte(7);
    let account = Address::repeat_byte(0xac);
    store
        .record_operation(&SentOperation {
            hash,
            chain_id: 1,
            account,
            session: Some("pay".into()),
            sent_at: 5,
            state: OperationState::Sent,
            transaction_hash: None,
        })
        .await
        .unwrap();
    let included =
        leash_store::Sent::Included { transaction: B256::repeat_byte(8), success: false };
    leash_store::record_sent(&store, Some("pay"), 1, account, hash, included).await.unwrap();
    let recorded = store.operation(hash).await.unwrap().unwrap();
    assert_eq!(recorded.sent_at, 5, "the time it was sent");
    assert_eq!(recorded.state, OperationState::Reverted);
    assert_eq!(recorded.transaction_hash, Some(B256::repeat_byte(8)));
    let log = store.audit_log().await.unwrap();
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["operation.reverted"]);
}
