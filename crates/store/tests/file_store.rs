//! The file store keeps every record whole, refuses to replace or misread one, and says which record and file
//! is at fault.

use alloy::{
    primitives::{address, aliases::U96, Address, B256},
    signers::local::PrivateKeySigner,
};
use leash_core::{Action, GrantTarget, PublicKey, Session, SessionPolicy, TokenTable};
use leash_sdk::{
    keystore::{EncryptedKey, Keystore, ScryptParams},
    lanes::Lane,
    signer::{SessionKey, SignerKind},
    GrantDocument, Owner, SmartAccount,
};
use leash_store::{
    AccountRecord, AuditEvent, FileStore, LaneLease, OperationState, Record, SentOperation, Store,
    StoreError,
};
use std::path::Path;

const USDC: Address = address!("00000000000000000000000000000000000005dc");

fn store() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("home"));
    (dir, store)
}

fn encrypted() -> (SessionKey, EncryptedKey) {
    let key = SessionKey::random(SignerKind::Ecdsa);
    let document = Keystore::encrypt(&key, "pw", ScryptParams::light_for_tests()).unwrap();
    (key, document)
}

async fn grant() -> GrantDocument {
    let owner_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
    let account = SmartAccount {
        address: Address::repeat_byte(0xac),
        factory: Address::repeat_byte(0xfa),
        owner: owner_key.address(),
        salt: B256::ZERO,
        validators: vec![Address::repeat_byte(0x3d)],
    };
    let owner = Owner::new(owner_key, account.clone()).unwrap();
    let policy = SessionPolicy::builder()
        .name("pay")
        .action(
            Action::call(USDC, "transfer(address to, uint256 amount)")
                .unwrap()
                .with_amount_cap("amount", U96::from(5_000_000u64))
                .unwrap(),
        )
        .build()
        .unwrap();
    let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(0x5e)), policy };
    let target = GrantTarget {
        chain_id: 1,
        module: Address::repeat_byte(0x3d),
        account: account.address,
        epoch: 0,
    };
    let signed = owner.approve(&session, &[target]).await.unwrap();
    GrantDocument::new(&session, account.owner, &signed, TokenTable::default()).unwrap()
}

fn account(name: &str) -> AccountRecord {
    AccountRecord {
        name: name.into(),
        address: Address::repeat_byte(1),
        owner: Address::repeat_byte(2),
        owner_key: "owner".into(),
        factory: Address::repeat_byte(3),
        salt: B256::repeat_byte(4),
        validators: vec![Address::repeat_byte(5)],
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn keys_are_stored_encrypted_and_opened_with_the_password() {
    let (_dir, store) = store();
    let (key, document) = encrypted();
    store.put_key("agent", &document, false).await.unwrap();
    let stored = store.key("agent").await.unwrap();
    assert_eq!(stored.document, document);
    assert_eq!(mode(&stored.source), 0o600);
    assert_eq!(mode(&store.keystores()), 0o700);
    let opened = Keystore::decrypt(&stored.source, &stored.document, "pw").unwrap();
    assert_eq!(opened.identity(), key.identity());
    assert!(Keystore::decrypt(&stored.source, &stored.document, "wrong").is_err());
    // The secret is nowhere in the stored bytes.
    let secret = alloy::hex::encode(key.secret_bytes().as_slice());
    assert!(!String::from_utf8_lossy(document.as_bytes()).contains(&secret));

    assert!(matches!(
        store.put_key("agent", &encrypted().1, false).await,
        Err(StoreError::Exists { record: Record::Key, .. })
    ));
    assert_eq!(store.key("agent").await.unwrap().document, document, "not replaced");
    store.put_key("agent", &encrypted().1, true).await.unwrap();
    assert_ne!(store.key("agent").await.unwrap().document, document, "replaced when asked");

    assert_eq!(store.key_names().await.unwrap(), ["agent"]);
    store.remove_key("agent").await.unwrap();
    assert!(matches!(
        store.key("agent").await,
        Err(StoreError::NotFound { record: Record::Key, .. })
    ));
    assert!(matches!(store.remove_key("agent").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test]
async fn names_that_could_leave_the_directory_are_refused() {
    let (_dir, store) = store();
    for name in ["../x", "a/b", ".hidden", "", &"x".repeat(65)] {
        assert!(
            matches!(
                store.key(name).await,
                Err(StoreError::InvalidName { record: Record::Key, .. })
            ),
            "{name:?}"
        );
        assert!(
            matches!(store.session(name).await, Err(StoreError::InvalidName { .. })),
            "{name:?}"
        );
        assert!(
            matches!(
                store.put_account(&account(name), false).await,
                Err(StoreError::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
    assert!(!store.root().exists(), "nothing was written");
}

#[tokio::test]
async fn accounts_round_trip_and_a_damaged_one_names_its_file_and_line() {
    let (_dir, store) = store();
    store.put_account(&account("treasury"), false).await.unwrap();
    store.put_account(&account("bots"), false).await.unwrap();
    assert_eq!(store.account("treasury").await.unwrap(), account("treasury"));
    assert_eq!(store.account_names().await.unwrap(), ["bots", "treasury"]);

    let path = store.root().join("accounts/bots.json");
    std::fs::write(&path, "{\n  \"name\": \"bots\",\n  \"extra\": 1\n}\n").unwrap();
    let error = store.account("bots").await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::Corrupt { record: Record::Account, .. }), "{text}");
    assert!(text.contains("accounts/bots.json:3:"), "{text}");
    assert!(std::error::Error::source(&error).is_some(), "the cause is kept");

    store.remove_account("bots").await.unwrap();
    assert_eq!(store.account_names().await.unwrap(), ["treasury"]);
}

#[tokio::test]
async fn a_session_is_stored_whole_and_read_back_verified() {
    let (_dir, store) = store();
    let (_, key) = encrypted();
    let grant = grant().await;
    store.put_session("pay", &key, &grant).await.unwrap();
    let record = store.session("pay").await.unwrap();
    assert_eq!(record.grant, grant);
    assert_eq!(record.key.document, key);
    assert_eq!(record.session.id().unwrap(), grant.session_id);
    assert_eq!(mode(&store.session_dir("pay").unwrap()), 0o700);
    assert_eq!(mode(&record.key.source), 0o600);

    // Never replaced, and no staging directory is left behind by the refusal.
    assert!(matches!(
        store.put_session("pay", &encrypted().1, &grant).await,
        Err(StoreError::Exists { record: Record::Session, .. })
    ));
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

    assert_eq!(store.session_names().await.unwrap(), ["pay"]);
    store.remove_session("pay").await.unwrap();
    assert!(store.session_names().await.unwrap().is_empty());
    assert!(matches!(store.session("pay").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test]
async fn a_lane_has_one_holder_until_its_lease_ends_or_is_given_up() {
    let (_dir, store) = store();
    let account = Address::repeat_byte(0xac);
    let lease = |holder: &str, until| LaneLease { account, lane: 7, holder: holder.into(), until };

    assert_eq!(store.lease_lane(&lease("a", 100), 10).await.unwrap(), lease("a", 100));
    // Another holder gets the live lease back, not the lane.
    assert_eq!(store.lease_lane(&lease("b", 200), 50).await.unwrap(), lease("a", 100));
    // The holder may extend it.
    assert_eq!(store.lease_lane(&lease("a", 150), 60).await.unwrap(), lease("a", 150));
    // Other lanes and accounts are independent.
    let other = LaneLease { lane: 8, ..lease("b", 200) };
    assert_eq!(store.lease_lane(&other, 60).await.unwrap(), other);
    // Once it ends, another may take it.
    assert_eq!(store.lease_lane(&lease("b", 300), 150).await.unwrap(), lease("b", 300));

    // Only the holder gives it up.
    store.release_lane(account, Lane::new(7), "a").await.unwrap();
    assert_eq!(store.lease_lane(&lease("c", 400), 160).await.unwrap(), lease("b", 300));
    store.release_lane(account, Lane::new(7), "b").await.unwrap();
    assert_eq!(store.lease_lane(&lease("c", 400), 160).await.unwrap(), lease("c", 400));
}

#[tokio::test]
async fn sent_operations_are_recorded_and_updated_by_hash() {
    let (_dir, store) = store();
    let sent = |hash: u8, at| SentOperation {
        hash: B256::repeat_byte(hash),
        chain_id: 31_337,
        account: Address::repeat_byte(0xac),
        session: Some("pay".into()),
        sent_at: at,
        state: OperationState::Sent,
        transaction_hash: None,
    };
    store.record_operation(&sent(2, 20)).await.unwrap();
    store.record_operation(&sent(1, 10)).await.unwrap();
    let landed = SentOperation {
        state: OperationState::Landed,
        transaction_hash: Some(B256::repeat_byte(9)),
        ..sent(2, 20)
    };
    store.record_operation(&landed).await.unwrap();
    assert_eq!(store.operation(B256::repeat_byte(2)).await.unwrap(), Some(landed.clone()));
    assert_eq!(store.operation(B256::repeat_byte(3)).await.unwrap(), None);
    assert_eq!(store.operations().await.unwrap(), [sent(1, 10), landed]);
}

#[tokio::test]
async fn the_audit_log_keeps_every_event_in_order() {
    let (_dir, store) = store();
    assert!(store.audit_log().await.unwrap().is_empty());
    let event = |time, action: &str| AuditEvent {
        time,
        action: action.into(),
        subject: "pay".into(),
        detail: serde_json::json!({ "chainId": 1 }),
    };
    store.append_audit(&event(1, "session.create")).await.unwrap();
    store.append_audit(&event(2, "session.revoke")).await.unwrap();
    assert_eq!(
        store.audit_log().await.unwrap(),
        [event(1, "session.create"), event(2, "session.revoke")]
    );

    // A damaged line is reported with its number, not skipped.
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
