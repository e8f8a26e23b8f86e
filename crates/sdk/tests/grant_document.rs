//! The grant document: what an agent needs besides its key, saved and loaded with every field checked.

use crate::common;

use alloy::{
    primitives::{address, aliases::U96, Address, B256},
    signers::local::PrivateKeySigner,
};
use common::{transfer, usdc, Stack};
use leash_core::{Action, GrantTarget, PublicKey, Session, SessionPolicy, TokenTable};
use leash_sdk::{
    keystore::{CreateOptions, Keystore, ScryptParams},
    lanes::Lane,
    signer::{EcdsaSigner, SessionKey, SessionSigner},
    GrantDocument, Owner, SessionAgent, SmartAccount,
};
use std::sync::Arc;

const USDC: Address = address!("00000000000000000000000000000000000005dc");

fn owner() -> (Owner, SmartAccount) {
    let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
    let account = SmartAccount {
        address: Address::repeat_byte(0xac),
        factory: Address::repeat_byte(0xfa),
        owner: key.address(),
        salt: B256::ZERO,
        validators: vec![Address::repeat_byte(0x3d)],
        eip7702: false,
    };
    (Owner::new(key, account.clone()).unwrap(), account)
}

async fn document() -> (GrantDocument, Session) {
    let (owner, account) = owner();
    let policy = SessionPolicy::builder()
        .name("pay")
        .action(
            Action::call(USDC, "transfer(address to, uint256 amount)")
                .unwrap()
                .named("pay anyone")
                .with_amount_cap("amount", U96::from(5_000_000u64))
                .unwrap(),
        )
        .build()
        .unwrap();
    let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(0x5e)), policy };
    let targets = [1u64, 10, 8453].map(|chain_id| GrantTarget {
        chain_id,
        module: Address::repeat_byte(0x3d),
        account: account.address,
        epoch: 0,
    });
    let signed = owner.approve(&session, &targets).await.unwrap();
    (GrantDocument::new(&session, account.owner, &signed, TokenTable::default()).unwrap(), session)
}

#[tokio::test]
async fn round_trips_through_a_file_with_names_and_abi() {
    let (document, session) = document().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grant.json");
    document.save(&path, false).unwrap();
    let (loaded, decoded) = GrantDocument::load(&path).unwrap();
    assert_eq!(loaded, document);
    assert_eq!(decoded.id().unwrap(), session.id().unwrap());
    // The document holds the session and its actions packed, as the module reads them.
    assert_eq!(loaded.session, session.encode().unwrap());
    assert_eq!(loaded.actions[0].encoded, session.policy.actions[0].encode().unwrap());
    assert_eq!(decoded.policy.actions[0].name.as_deref(), Some("pay anyone"));
    assert_eq!(decoded.policy.actions[0].argument_name(32, &[]).as_deref(), Some("amount"));
    assert_eq!(loaded.proof_for(10).unwrap().proof.len(), 2);
    assert!(loaded.proof_for(137).is_none());
}

#[tokio::test]
async fn never_overwrites_without_asking() {
    let (document, _) = document().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grant.json");
    std::fs::write(&path, "keep me").unwrap();
    let error = document.save(&path, false).unwrap_err();
    assert!(error.to_string().contains("exists"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    document.save(&path, true).unwrap();
    GrantDocument::load(&path).unwrap();
}

#[tokio::test]
async fn altered_documents_are_refused() {
    let (document, _) = document().await;
    let cases: Vec<(&str, GrantDocument)> = vec![
        ("altered", {
            // A bigger cap than the owner signed (amountCap sits at bytes 47..59 of a packed action).
            let mut d = document.clone();
            let mut action = d.actions[0].encoded.to_vec();
            action[50] = 0xff;
            d.actions[0].encoded = action.into();
            d
        }),
        ("truncated", {
            let mut d = document.clone();
            d.session = d.session.slice(..d.session.len() - 1);
            d
        }),
        ("after its end", {
            let mut d = document.clone();
            d.actions[0].encoded = [d.actions[0].encoded.as_ref(), &[0]].concat().into();
            d
        }),
        ("altered", {
            let mut d = document.clone();
            d.chains[1].epoch = 1;
            d
        }),
        ("does not lead to the root", {
            let mut d = document.clone();
            d.chains[0].proof.reverse();
            d
        }),
        ("not the owner", {
            let mut d = document.clone();
            d.owner = Address::repeat_byte(1);
            d
        }),
        ("not the account the owner signed for", {
            // An agent would act for an account the owner never granted.
            let mut d = document.clone();
            d.account = Address::repeat_byte(0xee);
            d
        }),
        ("not supported", {
            let mut d = document.clone();
            d.version = 3;
            d
        }),
        ("grant the session again", {
            // A version 1 document (ABI-encoded for the earlier module) names what to do.
            let mut d = document.clone();
            d.version = 1;
            d
        }),
    ];
    for (expected, altered) in cases {
        let error = altered.verify().unwrap_err();
        assert!(error.to_string().contains(expected), "expected `{expected}`: {error}");
    }
}

#[tokio::test]
async fn malformed_json_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grant.json");
    std::fs::write(&path, "{\n  \"version\": 1,\n  \"surprise\": true\n}").unwrap();
    let error = GrantDocument::load(&path).unwrap_err();
    // The cause is kept, not flattened: a caller tells a parse error from an unreadable file by its type.
    let cause = std::error::Error::source(&error).expect("the parse error is the source");
    assert!(cause.downcast_ref::<serde_json::Error>().is_some(), "{cause}");
    let error = error.to_string();
    assert!(
        error.contains("grant.json:3:") && error.contains("unknown field `surprise`"),
        "{error}"
    );
    let missing = GrantDocument::load(dir.path().join("absent.json")).unwrap_err();
    let cause = std::error::Error::source(&missing).expect("the I/O error is the source");
    assert_eq!(
        cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );
}

#[tokio::test]
async fn an_agent_runs_from_its_keystore_and_grant_document() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The operator: creates the session key in a keystore and the grant document for the agent.
    let secret = SessionKey::from(EcdsaSigner::random());
    let options = CreateOptions::new().scrypt(ScryptParams::light_for_tests());
    Keystore::create_with(dir.path().join("agent.key"), &secret, "correct horse", options).unwrap();
    let policy = SessionPolicy::builder()
        .action(
            Action::call(stack.usdc(), "transfer(address to, uint256 amount)")
                .unwrap()
                .with_amount_cap("amount", U96::from(20_000_000u64))
                .unwrap(),
        )
        .build()
        .unwrap();
    let session =
        Session { key: PublicKey { kind: secret.kind(), public: secret.signer_bytes() }, policy };
    let epoch = stack.chain.epoch(stack.account.address).await.unwrap();
    let target = GrantTarget {
        chain_id: stack.chain.chain_id,
        module: stack.chain.module,
        account: stack.account.address,
        epoch,
    };
    let signed = stack.owner.approve(&session, &[target]).await.unwrap();
    GrantDocument::new(&session, stack.account.owner, &signed, stack.tokens())
        .unwrap()
        .save(dir.path().join("grant.json"), false)
        .unwrap();

    // The agent: only the two files and the password.
    let key: Arc<dyn SessionSigner> =
        Keystore::open(dir.path().join("agent.key"), "correct horse").unwrap().into_shared();
    let (document, session) = GrantDocument::load(dir.path().join("grant.json")).unwrap();
    let agent = SessionAgent::builder(stack.chain.clone(), document.account, session, key)
        .lazy_grant(document.proof_for(stack.chain.chain_id).unwrap())
        .submitter(stack.submitter.clone())
        .tokens(document.tokens.clone())
        .build()
        .unwrap();
    let to = Address::repeat_byte(0x77);
    let sent = agent.send(&[transfer(stack.usdc(), to, usdc(15))], Lane::from(0)).await.unwrap();
    assert!(sent.granted);
    assert_eq!(stack.usdc_balance(to).await, usdc(15));
    let error =
        agent.send(&[transfer(stack.usdc(), to, usdc(6))], Lane::from(0)).await.unwrap_err();
    assert_eq!(error.rule(), Some("AmountLimitExceeded"));
    assert!(error.to_string().contains("21 USDC"), "{error}");
}
