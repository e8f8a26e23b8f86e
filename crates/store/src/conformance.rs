//! The conformance suite every [`Store`] passes: the same checks run against the file store and against the
//! PostgreSQL store (`leash-service`), so a surface can swap one for the other. Each check panics with what
//! went wrong; [`run`] runs them all on an empty store.

use crate::{
    AccountRecord, AuditEvent, LaneLease, OperationState, Record, SentOperation, Store, StoreError,
};
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

const USDC: Address = address!("00000000000000000000000000000000000005dc");

/// A new session key and its encrypted document (password `pw`).
pub fn encrypted() -> (SessionKey, EncryptedKey) {
    let key = SessionKey::random(SignerKind::Ecdsa);
    let document =
        Keystore::encrypt(&key, "pw", ScryptParams::light_for_tests()).expect("encrypts");
    (key, document)
}

/// A grant document the owner signed for a small session.
pub async fn grant() -> GrantDocument {
    let owner_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("a key");
    let account = SmartAccount {
        address: Address::repeat_byte(0xac),
        factory: Address::repeat_byte(0xfa),
        owner: owner_key.address(),
        salt: B256::ZERO,
        validators: vec![Address::repeat_byte(0x3d)],
        eip7702: false,
    };
    let owner = Owner::new(owner_key, account.clone()).expect("the owner");
    let policy = SessionPolicy::builder()
        .name("pay")
        .action(
            Action::call(USDC, "transfer(address to, uint256 amount)")
                .expect("a function")
                .with_amount_cap("amount", U96::from(5_000_000u64))
                .expect("a cap"),
        )
        .build()
        .expect("a policy");
    let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(0x5e)), policy };
    let target = GrantTarget {
        chain_id: 1,
        module: Address::repeat_byte(0x3d),
        account: account.address,
        epoch: 0,
    };
    let signed = owner.approve(&session, &[target]).await.expect("approved");
    GrantDocument::new(&session, account.owner, &signed, TokenTable::default()).expect("a document")
}

/// An account record named `name`.
pub fn account(name: &str) -> AccountRecord {
    AccountRecord {
        name: name.into(),
        address: Address::repeat_byte(1),
        owner: Address::repeat_byte(2),
        owner_key: "owner".into(),
        factory: Address::repeat_byte(3),
        salt: B256::repeat_byte(4),
        validators: vec![Address::repeat_byte(5)],
        eip7702: false,
    }
}

/// Runs every check on an empty store.
pub async fn run(store: &dyn Store) {
    names_that_are_not_plain_are_refused(store).await;
    keys_are_kept_encrypted_never_replaced_unless_asked(store).await;
    accounts_round_trip(store).await;
    a_session_is_stored_whole_and_read_back_verified(store).await;
    a_lane_has_one_holder_until_its_lease_ends_or_is_given_up(store).await;
    sent_operations_are_recorded_and_updated_by_hash(store).await;
    the_audit_log_keeps_every_event_in_order(store).await;
}

/// Names that could leave a directory or a namespace are refused, and nothing is written.
pub async fn names_that_are_not_plain_are_refused(store: &dyn Store) {
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
        assert!(
            matches!(
                store.put_key(name, &encrypted().1, false).await,
                Err(StoreError::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
    assert!(store.account_names().await.expect("lists").is_empty());
    assert!(store.key_names().await.expect("lists").is_empty());
}

/// Keys are stored as their encrypted documents, open with their password only, and are never replaced
/// unless asked.
pub async fn keys_are_kept_encrypted_never_replaced_unless_asked(store: &dyn Store) {
    let (key, document) = encrypted();
    store.put_key("agent", &document, false).await.expect("stored");
    let stored = store.key("agent").await.expect("read");
    assert_eq!(stored.document, document);
    let opened = Keystore::decrypt(&stored.source, &stored.document, "pw").expect("opens");
    assert_eq!(opened.identity(), key.identity());
    assert!(Keystore::decrypt(&stored.source, &stored.document, "wrong").is_err());
    let secret = alloy::hex::encode(key.secret_bytes().as_slice());
    assert!(!String::from_utf8_lossy(stored.document.as_bytes()).contains(&secret));

    assert!(matches!(
        store.put_key("agent", &encrypted().1, false).await,
        Err(StoreError::Exists { record: Record::Key, .. })
    ));
    assert_eq!(store.key("agent").await.expect("read").document, document, "not replaced");
    store.put_key("agent", &encrypted().1, true).await.expect("replaced");
    assert_ne!(store.key("agent").await.expect("read").document, document, "replaced when asked");

    assert_eq!(store.key_names().await.expect("lists"), ["agent"]);
    store.remove_key("agent").await.expect("removed");
    assert!(matches!(
        store.key("agent").await,
        Err(StoreError::NotFound { record: Record::Key, .. })
    ));
    assert!(matches!(store.remove_key("agent").await, Err(StoreError::NotFound { .. })));
}

/// Accounts round-trip, are listed by name, never replaced unless asked, and removed.
pub async fn accounts_round_trip(store: &dyn Store) {
    store.put_account(&account("treasury"), false).await.expect("stored");
    store.put_account(&account("bots"), false).await.expect("stored");
    assert_eq!(store.account("treasury").await.expect("read"), account("treasury"));
    assert_eq!(store.account_names().await.expect("lists"), ["bots", "treasury"]);
    let moved = AccountRecord { salt: B256::repeat_byte(9), ..account("bots") };
    assert!(matches!(store.put_account(&moved, false).await, Err(StoreError::Exists { .. })));
    store.put_account(&moved, true).await.expect("replaced");
    assert_eq!(store.account("bots").await.expect("read"), moved);
    // An EOA account (EIP-7702) keeps what it is.
    let eoa = AccountRecord { eip7702: true, ..account("eoa") };
    store.put_account(&eoa, false).await.expect("stored");
    assert_eq!(store.account("eoa").await.expect("read"), eoa);
    store.remove_account("eoa").await.expect("removed");
    store.remove_account("bots").await.expect("removed");
    store.remove_account("treasury").await.expect("removed");
    assert!(store.account_names().await.expect("lists").is_empty());
    assert!(matches!(
        store.account("bots").await,
        Err(StoreError::NotFound { record: Record::Account, .. })
    ));
}

/// A session's key and grant are stored together, never replaced, read back verified, and removed together.
pub async fn a_session_is_stored_whole_and_read_back_verified(store: &dyn Store) {
    let (_, key) = encrypted();
    let grant = grant().await;
    store.put_session("pay", &key, &grant).await.expect("stored");
    let record = store.session("pay").await.expect("read");
    assert_eq!(record.grant, grant);
    assert_eq!(record.key.document, key);
    assert_eq!(record.session.id().expect("an id"), grant.session_id);
    assert!(matches!(
        store.put_session("pay", &encrypted().1, &grant).await,
        Err(StoreError::Exists { record: Record::Session, .. })
    ));
    assert_eq!(store.session("pay").await.expect("read").key.document, key, "not replaced");
    assert_eq!(store.session_names().await.expect("lists"), ["pay"]);
    store.remove_session("pay").await.expect("removed");
    assert!(store.session_names().await.expect("lists").is_empty());
    assert!(matches!(store.session("pay").await, Err(StoreError::NotFound { .. })));
}

/// A lane has one holder until its lease ends or is given up; lanes and accounts are independent.
pub async fn a_lane_has_one_holder_until_its_lease_ends_or_is_given_up(store: &dyn Store) {
    let account = Address::repeat_byte(0xac);
    let lease = |holder: &str, until| LaneLease { account, lane: 7, holder: holder.into(), until };
    assert_eq!(store.lease_lane(&lease("a", 100), 10).await.expect("leased"), lease("a", 100));
    assert_eq!(store.lease_lane(&lease("b", 200), 50).await.expect("answered"), lease("a", 100));
    assert_eq!(store.lease_lane(&lease("a", 150), 60).await.expect("extended"), lease("a", 150));
    let other = LaneLease { lane: 8, ..lease("b", 200) };
    assert_eq!(store.lease_lane(&other, 60).await.expect("leased"), other);
    assert_eq!(store.lease_lane(&lease("b", 300), 150).await.expect("taken over"), lease("b", 300));
    store.release_lane(account, Lane::new(7), "a").await.expect("no-op");
    assert_eq!(store.lease_lane(&lease("c", 400), 160).await.expect("answered"), lease("b", 300));
    store.release_lane(account, Lane::new(7), "b").await.expect("released");
    assert_eq!(store.lease_lane(&lease("c", 400), 160).await.expect("leased"), lease("c", 400));
}

/// Sent operations are recorded, updated by hash, and listed oldest first.
pub async fn sent_operations_are_recorded_and_updated_by_hash(store: &dyn Store) {
    let sent = |hash: u8, at| SentOperation {
        hash: B256::repeat_byte(hash),
        chain_id: 31_337,
        account: Address::repeat_byte(0xac),
        session: Some("pay".into()),
        sent_at: at,
        state: OperationState::Sent,
        transaction_hash: None,
    };
    store.record_operation(&sent(2, 20)).await.expect("recorded");
    store.record_operation(&sent(1, 10)).await.expect("recorded");
    let landed = SentOperation {
        state: OperationState::Landed,
        transaction_hash: Some(B256::repeat_byte(9)),
        ..sent(2, 20)
    };
    store.record_operation(&landed).await.expect("updated");
    assert_eq!(store.operation(B256::repeat_byte(2)).await.expect("read"), Some(landed.clone()));
    assert_eq!(store.operation(B256::repeat_byte(3)).await.expect("read"), None);
    assert_eq!(store.operations().await.expect("lists"), [sent(1, 10), landed]);
}

/// The audit log keeps every event, in the order appended.
pub async fn the_audit_log_keeps_every_event_in_order(store: &dyn Store) {
    let before = store.audit_log().await.expect("read").len();
    let event = |time, action: &str| AuditEvent {
        time,
        action: action.into(),
        subject: "pay".into(),
        detail: serde_json::json!({ "chainId": 1 }),
    };
    store.append_audit(&event(2, "session.create")).await.expect("appended");
    store.append_audit(&event(1, "session.revoke")).await.expect("appended");
    let log = store.audit_log().await.expect("read");
    assert_eq!(log[before..], [event(2, "session.create"), event(1, "session.revoke")]);
}
