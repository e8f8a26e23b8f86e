//! The session lifecycle on anvil with the real EntryPoint v0.7 and contracts: grant by transaction, lazy
//! grant, multichain grant, use, status, batching, lanes, revoke one and all. Allowed calls land; disallowed
//! ones are refused before signing with the rule named, and the chain agrees when the pre-flight is bypassed.

use crate::common;

use alloy::{
    primitives::{address, keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    sol_types::SolValue,
};
use common::{pay_merchant_policy, transfer, usdc, Stack, MERCHANT};
use leash_contracts::{
    bindings::{EntryPoint, LeashAccount, SessionKeyValidator},
    release,
};
use leash_core::{
    calls_hash, grant_digest, grant_root_digest, message_digest, use_digest, Action, ArgRule,
    CallScope, Condition, GrantTarget, Period, PublicKey, Session, SessionPolicy, SessionState,
    Target, Timestamp, TypedDataRequest, TypedDataScope,
};
use leash_devnet::Devnet;
use leash_sdk::{
    lanes::Lane,
    signer::{P256Signer, SessionSigner, WebAuthnSigner},
    userop::UserOperation,
    Error,
};
use std::sync::Arc;

fn rule_of(error: &Error) -> String {
    error.rule().unwrap_or_else(|| panic!("expected a policy rejection, got {error}")).to_string()
}

#[tokio::test]
async fn hashes_and_digests_equal_the_contracts() {
    let stack = Stack::start().await;
    let now = stack.chain.now().await.unwrap();
    assert!(
        (common::GENESIS..common::GENESIS + 3_600).contains(&now),
        "the test clock starts at GENESIS: {now}"
    );
    let policy = pay_merchant_policy(&stack, 100);
    let session = Session { key: PublicKey::ecdsa(Address::repeat_byte(7)), policy };
    let module = SessionKeyValidator::new(stack.chain.module, stack.devnet.provider());
    let id = session.id().unwrap();
    assert_eq!(module.hashSession(session.encode().unwrap()).call().await.unwrap(), id);
    let action = &session.policy.actions[0];
    let account = stack.account.address;
    let chain_id = stack.chain.chain_id;
    // The module reads the packed action where the Rust side put its fields: the whole monthly cap is left.
    let allowance = module
        .actionAllowance(
            account,
            id,
            action.encode().unwrap(),
            alloy::primitives::aliases::U48::from(now),
        )
        .call()
        .await
        .unwrap();
    assert_eq!(allowance.periodIndex, action.period.resolve(now).unwrap().index);
    assert_eq!(allowance.usesLeft, U256::MAX);
    assert_eq!(allowance.amountLeft, U256::from(100_000_000u64));
    assert_eq!(allowance.valueLeft, U256::MAX);
    assert_eq!(
        module.grantDigest(account, id, 3).call().await.unwrap(),
        grant_digest(chain_id, stack.chain.module, account, id, 3)
    );
    let root = B256::repeat_byte(9);
    assert_eq!(module.grantRootDigest(root).call().await.unwrap(), grant_root_digest(root));
    let op_hash = B256::repeat_byte(5);
    // The calls hash binds the actions charged, in order; under sudo none is and it hashes empty bytes.
    let action_hash = action.hash().unwrap();
    let charged = calls_hash(&[action_hash, B256::repeat_byte(3)]);
    assert_eq!(charged, keccak256([action_hash.0, [3u8; 32]].concat()));
    for calls in [charged, calls_hash(&[])] {
        assert_eq!(
            module
                .useDigest(op_hash, id, alloy::primitives::aliases::U48::from(1_234_567u64), calls)
                .call()
                .await
                .unwrap(),
            use_digest(op_hash, id, 1_234_567, calls)
        );
    }
    assert_eq!(
        module.messageDigest(account, id, root).call().await.unwrap(),
        message_digest(chain_id, stack.chain.module, account, id, root)
    );

    // The UserOperation hash equals EntryPoint.getUserOpHash, with and without factory and paymaster.
    let entry_point = EntryPoint::new(stack.chain.entry_point, stack.devnet.provider());
    let op = UserOperation::builder(account)
        .nonce(U256::from(77))
        .call_data(Bytes::from(vec![1, 2, 3]))
        .factory(Address::repeat_byte(1), Bytes::from(vec![4, 5]))
        .call_gas_limit(100_000)
        .verification_gas_limit(200_000)
        .pre_verification_gas(50_000)
        .fees(3_000_000_000, 1_000_000_000)
        .paymaster(Address::repeat_byte(2), 40_000, 10_000, Bytes::from(vec![9]))
        .signature(Bytes::from(vec![0xaa; 65]))
        .build()
        .unwrap();
    assert_eq!(
        entry_point.getUserOpHash(op.pack().unwrap()).call().await.unwrap(),
        op.hash(stack.chain.entry_point, chain_id).unwrap()
    );
    let _ = (op.pack().unwrap()).abi_encode();
}

#[tokio::test]
async fn grant_by_transaction_then_use_within_limits() {
    let stack = Stack::start().await;
    let agent = stack.agent(pay_merchant_policy(&stack, 100));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    assert_eq!(agent.status().await.unwrap().state, SessionState::Enabled);

    let before = stack.usdc_balance(MERCHANT).await;
    let sent =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(60))], Lane::from(0)).await.unwrap();
    assert!(sent.outcome.success);
    assert_eq!(stack.usdc_balance(MERCHANT).await - before, usdc(60));

    // The counters moved: 40 USDC left this month.
    let status = agent.status().await.unwrap();
    assert_eq!(status.allowances[0].amount_left, Some(usdc(40)));

    // Without the key, the session explains and reads its status as the agent does.
    let view =
        leash_sdk::SessionView::new(stack.chain.clone(), agent.account(), agent.session().clone())
            .unwrap()
            .tokens(agent.view().tokens_table().clone());
    assert_eq!(view.status().await.unwrap().allowances, status.allowances);
    for amount in [40, 41] {
        let calls = [transfer(stack.usdc(), MERCHANT, usdc(amount))];
        let (seen, explained) =
            (view.explain(&calls).await.unwrap(), agent.explain(&calls).await.unwrap());
        assert_eq!(seen.verdict, explained.verdict, "{amount} USDC");
        assert_eq!(seen.message, explained.message);
    }
    assert_eq!(
        view.explain(&[transfer(stack.usdc(), MERCHANT, usdc(41))])
            .await
            .unwrap()
            .verdict
            .unwrap_err()
            .rule(),
        "AmountLimitExceeded"
    );

    // Over the cap: refused before signing, naming the rule and the amounts in USDC.
    let error =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(41))], Lane::from(0)).await.unwrap_err();
    assert!(matches!(error, Error::PreFlight { .. }), "{error}");
    assert_eq!(rule_of(&error), "AmountLimitExceeded");
    assert!(
        error.to_string().contains("101 USDC") && error.to_string().contains("100 USDC"),
        "{error}"
    );
    // A monthly cap says when it resets: the first second of the next calendar month.
    let now = stack.chain.now().await.unwrap();
    let next_month = Period::monthly().next_open(now).unwrap();
    assert!(
        error.to_string().contains(&format!("the limit resets at {}", Timestamp(next_month))),
        "{error}"
    );

    // Another recipient: refused before signing; sent anyway, the chain refuses with the same rule.
    let stranger = Address::repeat_byte(0x99);
    let error =
        agent.send(&[transfer(stack.usdc(), stranger, usdc(1))], Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "ArgumentRuleFailed");
    let chain_error = agent
        .send_unchecked(&[transfer(stack.usdc(), stranger, usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert!(matches!(chain_error, Error::Rejected { .. }), "{chain_error}");
    assert_eq!(rule_of(&chain_error), "ArgumentRuleFailed");
    assert!(chain_error.to_string().contains("AA23"), "{chain_error}");
    assert_eq!(stack.usdc_balance(stranger).await, U256::ZERO);

    // Another token: TargetNotAllowed on both sides.
    let weth = stack.deployment().weth;
    let error =
        agent.send(&[transfer(weth, MERCHANT, U256::from(1))], Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "TargetNotAllowed");
    let chain_error = agent
        .send_unchecked(&[transfer(weth, MERCHANT, U256::from(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&chain_error), "TargetNotAllowed");
}

#[tokio::test]
async fn batches_are_checked_call_by_call_and_charged_together() {
    let stack = Stack::start().await;
    let agent = stack.agent(pay_merchant_policy(&stack, 100));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let batch = vec![transfer(stack.usdc(), MERCHANT, usdc(30)); 3];
    let before = stack.usdc_balance(MERCHANT).await;
    agent.send(&batch, Lane::from(0)).await.unwrap();
    assert_eq!(stack.usdc_balance(MERCHANT).await - before, usdc(90));

    // Two more calls of 5: the second crosses the cap, so the whole batch is refused (call 2).
    let batch =
        vec![transfer(stack.usdc(), MERCHANT, usdc(5)), transfer(stack.usdc(), MERCHANT, usdc(6))];
    let error = agent.send(&batch, Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "AmountLimitExceeded");
    assert!(error.to_string().contains("call 2"), "{error}");
    // A call smuggled into the batch to another recipient is refused as a whole.
    let batch = vec![
        transfer(stack.usdc(), MERCHANT, usdc(1)),
        transfer(stack.usdc(), Address::repeat_byte(3), usdc(1)),
    ];
    assert_eq!(
        rule_of(&agent.send_unchecked(&batch, Lane::from(0)).await.unwrap_err()),
        "ArgumentRuleFailed"
    );
}

#[tokio::test]
async fn lazy_grant_installs_the_session_with_its_first_operation() {
    let stack = Stack::start().await;
    let policy = pay_merchant_policy(&stack, 100);
    let signer: Arc<dyn SessionSigner> = Arc::new(leash_sdk::signer::EcdsaSigner::random());
    let session = Session {
        key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() },
        policy: policy.clone(),
    };
    let epoch = stack.chain.epoch(stack.account.address).await.unwrap();
    let target = GrantTarget {
        chain_id: stack.chain.chain_id,
        module: stack.chain.module,
        account: stack.account.address,
        epoch,
    };
    let approval = stack.owner.approve(&session, &[target]).await.unwrap();

    let agent = leash_sdk::SessionAgent::builder(
        stack.chain.clone(),
        stack.account.address,
        session,
        signer,
    )
    .submitter(stack.submitter.clone())
    .lazy_grant(approval.proof_for(stack.chain.chain_id).unwrap())
    .build()
    .unwrap();
    assert_eq!(agent.status().await.unwrap().state, SessionState::None);
    let sent =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(10))], Lane::from(0)).await.unwrap();
    assert!(sent.granted);
    assert_eq!(agent.status().await.unwrap().state, SessionState::Enabled);
    // The next operation uses the granted session (no grant data).
    let sent =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(10))], Lane::from(0)).await.unwrap();
    assert!(!sent.granted);
}

#[tokio::test]
async fn one_owner_signature_grants_on_two_chains_and_never_crosses_them() {
    let devnet_a = common::devnet(31_337).await;
    // Chain B's stack is deployed by another address from another nonce: the release's contracts land where
    // they did on chain A all the same (the CREATE2 deployment proxy, the release's salt and init code).
    let devnet_b = Devnet::builder()
        .chain_id(31_338)
        .arg("--timestamp")
        .arg(common::GENESIS.to_string())
        .deployer(address!("00000000000000000000000000000000000b0b0b"), 41)
        .start()
        .await
        .expect("devnet starts");
    let (da, db) = (devnet_a.deployment().unwrap().clone(), devnet_b.deployment().unwrap().clone());
    assert_ne!(da.deployer, db.deployer);
    assert_ne!(da.usdc, db.usdc, "the devnet's own contracts follow the deployer's nonces");
    for (name, on_a, on_b, published) in [
        (
            "module",
            da.session_key_validator,
            db.session_key_validator,
            release::SESSION_KEY_VALIDATOR,
        ),
        ("factory", da.account_factory, db.account_factory, release::ACCOUNT_FACTORY),
        (
            "implementation",
            da.account_implementation,
            db.account_implementation,
            release::ACCOUNT_IMPLEMENTATION,
        ),
    ] {
        assert_eq!(on_a, on_b, "the {name} has one address on both chains");
        assert_eq!(on_a, published, "the {name} is at the release's address");
    }
    let a = Stack::start_with(devnet_a, B256::ZERO).await;
    let b = Stack::start_with(devnet_b, B256::ZERO).await;
    assert_eq!(
        a.account.address, b.account.address,
        "same owner and salt give the same account on both chains"
    );

    // A native payment to the merchant: its target is the same address on both chains (the devnets' tokens are
    // not, their deployers differ).
    let policy = SessionPolicy::builder()
        .name("tip the merchant")
        .valid_until(Timestamp::parse("2030-01-01T00:00:00Z").unwrap())
        .action(
            Action::new(Target::Contract(MERCHANT), CallScope::NativeTransfer)
                .with_max_value_per_call(10u128.pow(16)),
        )
        .build()
        .unwrap();
    let tip =
        leash_core::Call { target: MERCHANT, value: U256::from(10u64.pow(15)), data: Bytes::new() };
    let signer: Arc<dyn SessionSigner> = Arc::new(leash_sdk::signer::EcdsaSigner::random());
    let session =
        Session { key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() }, policy };
    let targets: Vec<GrantTarget> = [&a, &b]
        .iter()
        .map(|s| GrantTarget {
            chain_id: s.chain.chain_id,
            module: s.chain.module,
            account: s.account.address,
            epoch: 0,
        })
        .collect();
    let approval = a.owner.approve(&session, &targets).await.unwrap();

    // Chain B's proof on chain A does not verify: the grant is bound to its chain.
    let crossed = leash_sdk::SessionAgent::builder(
        a.chain.clone(),
        a.account.address,
        session.clone(),
        signer.clone(),
    )
    .submitter(a.submitter.clone())
    .lazy_grant(approval.proof_for(b.chain.chain_id).unwrap())
    .build()
    .unwrap();
    let error =
        crossed.send_unchecked(std::slice::from_ref(&tip), Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "InvalidGrantSignature");

    for stack in [&a, &b] {
        let agent = leash_sdk::SessionAgent::builder(
            stack.chain.clone(),
            stack.account.address,
            session.clone(),
            signer.clone(),
        )
        .submitter(stack.submitter.clone())
        .lazy_grant(approval.proof_for(stack.chain.chain_id).unwrap())
        .build()
        .unwrap();
        let before = stack.chain.provider.get_balance(MERCHANT).await.unwrap();
        let sent = agent.send(std::slice::from_ref(&tip), Lane::from(0)).await.unwrap();
        assert!(sent.granted && sent.outcome.success);
        let after = stack.chain.provider.get_balance(MERCHANT).await.unwrap();
        assert_eq!(after - before, tip.value);
    }
}

#[tokio::test]
async fn revoke_one_and_revoke_all() {
    let stack = Stack::start().await;
    let first = stack.agent(pay_merchant_policy(&stack, 100));
    let second = stack.agent(pay_merchant_policy(&stack, 50));
    for agent in [&first, &second] {
        stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap();
    }

    stack.owner.revoke(&stack.chain, &stack.submitter, first.session_id()).await.unwrap();
    assert_eq!(first.status().await.unwrap().state, SessionState::Revoked);
    let error =
        first.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "SessionIsRevoked");
    let error = first
        .send_unchecked(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&error), "SessionIsRevoked");
    // The other session is untouched.
    second.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap();

    stack.owner.revoke_all(&stack.chain, &stack.submitter).await.unwrap();
    assert_eq!(second.status().await.unwrap().state, SessionState::None);
    // Granted, then voided by the revoke-all: the pre-flight and the chain name it so.
    let error =
        second.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap_err();
    assert_eq!(rule_of(&error), "SessionVoidedByRevokeAll");
    let error = second
        .send_unchecked(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&error), "SessionVoidedByRevokeAll");
}

#[tokio::test]
async fn independent_lanes_run_in_parallel_without_colliding() {
    let stack = Stack::start().await;
    let agent = stack.agent(pay_merchant_policy(&stack, 1_000));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let sends = (0..8u32).map(|lane| {
        let agent = &agent;
        let call = transfer(stack.usdc(), MERCHANT, usdc(1));
        async move {
            agent.send(std::slice::from_ref(&call), Lane::from(lane)).await?;
            agent.send(&[call], Lane::from(lane)).await
        }
    });
    let results = futures::future::join_all(sends).await;
    let mut lanes = std::collections::HashSet::new();
    for result in results {
        let sent = result.expect("every lane's operations land");
        lanes.insert(sent.lane);
    }
    assert_eq!(lanes.len(), 8);
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(16));
}

#[tokio::test]
async fn p256_and_webauthn_session_keys_are_verified_on_chain() {
    let stack = Stack::start().await;
    let signers: [Arc<dyn SessionSigner>; 2] =
        [Arc::new(P256Signer::random()), Arc::new(WebAuthnSigner::random())];
    for signer in signers {
        let agent = stack.agent_with(pay_merchant_policy(&stack, 100), signer.clone());
        stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
        let sent =
            agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(2))], Lane::from(0)).await.unwrap();
        assert!(sent.outcome.success, "{:?} key", signer.kind());
    }
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(4));
}

#[tokio::test]
async fn the_first_session_operation_deploys_the_account_and_grants_the_session() {
    let stack = Stack::start().await;
    // A second account of the same owner, never deployed: only its address exists.
    let fresh = leash_sdk::SmartAccount::counterfactual(
        stack.devnet.provider(),
        stack.account.factory,
        stack.account.owner,
        B256::repeat_byte(1),
        vec![stack.chain.module],
    )
    .await
    .unwrap();
    assert!(!fresh.is_deployed(stack.devnet.provider()).await.unwrap());
    stack.devnet.fund(fresh.address, U256::from(common::ETH)).await.unwrap();
    stack.devnet.mint_usdc(fresh.address, usdc(100)).await.unwrap();

    let policy = pay_merchant_policy(&stack, 100);
    let signer: Arc<dyn SessionSigner> = Arc::new(leash_sdk::signer::EcdsaSigner::random());
    let session =
        Session { key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() }, policy };
    let target = GrantTarget {
        chain_id: stack.chain.chain_id,
        module: stack.chain.module,
        account: fresh.address,
        epoch: 0,
    };
    let owner = leash_sdk::Owner::new(
        alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap(),
        fresh.clone(),
    )
    .unwrap();
    let approval = owner.approve(&session, &[target]).await.unwrap();
    let agent =
        leash_sdk::SessionAgent::builder(stack.chain.clone(), fresh.address, session, signer)
            .deploy(fresh.clone())
            .lazy_grant(approval.proof_for(stack.chain.chain_id).unwrap())
            .submitter(stack.submitter.clone())
            .build()
            .unwrap();
    let sent =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(10))], Lane::from(0)).await.unwrap();
    assert!(sent.granted && sent.outcome.success);
    assert!(fresh.is_deployed(stack.devnet.provider()).await.unwrap());
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(10));
}

#[tokio::test]
async fn misuse_gets_a_clear_error_and_sends_nothing() {
    let stack = Stack::start().await;
    let agent = stack.agent(pay_merchant_policy(&stack, 100));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let error = agent.send(&[], Lane::from(0)).await.unwrap_err();
    assert!(
        matches!(error, Error::Setup(_)) && error.to_string().contains("at least one call"),
        "{error}"
    );
    assert!(agent.explain(&[]).await.is_err());
    // The lane's nonce was not consumed: the next operation on it lands.
    agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap();

    // An owner built with a key that is not the account's owner is refused up front.
    let stranger = alloy::signers::local::PrivateKeySigner::random();
    let error = leash_sdk::Owner::new(stranger, stack.account.clone()).unwrap_err();
    assert!(error.to_string().contains("is not the account's owner"), "{error}");
}

/// The account's ERC-1271 answer to `verifier` for `hash` and `signature`.
async fn erc1271(stack: &Stack, verifier: Address, hash: B256, signature: Bytes) -> [u8; 4] {
    let account = LeashAccount::new(stack.account.address, &stack.chain.provider);
    account.isValidSignature(hash, signature).from(verifier).call().await.unwrap().0
}

#[tokio::test]
async fn the_session_signs_typed_data_only_within_its_scope_and_the_account_agrees() {
    let stack = Stack::start().await;
    let permit =
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)";
    let policy = SessionPolicy::builder()
        .valid_until(Timestamp::parse("2030-01-01T00:00:00Z").unwrap())
        .sign_typed_data(TypedDataScope {
            name: Some("permit the merchant".into()),
            verifier: stack.usdc(),
            type_hash: keccak256(permit),
            nested: vec![],
            rules: vec![
                ArgRule {
                    offset: 32,
                    path: vec![],
                    condition: Condition::Eq(MERCHANT.into_word().into()),
                },
                ArgRule { offset: 64, path: vec![], condition: Condition::Lte(usdc(100)) },
            ],
            encode_type: Some(permit.into()),
            max_uses: None,
        })
        .build()
        .unwrap();
    let agent = stack.agent(policy);
    let request = |spender: Address, value: U256| TypedDataRequest {
        verifier: stack.usdc(),
        domain_separator: B256::repeat_byte(0x44),
        type_hash: keccak256(permit),
        fields: (stack.account.address, spender, value, U256::ZERO, U256::from(2_000_000_000u64))
            .abi_encode_params()
            .into(),
        slot: None,
    };

    // Not granted yet: nothing is signed.
    let error = agent.sign_typed_data(&request(MERCHANT, usdc(10))).await.unwrap_err();
    assert_eq!(rule_of(&error), "SessionNotLive");

    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let signed = agent.sign_typed_data(&request(MERCHANT, usdc(100))).await.unwrap();
    assert_eq!(signed.scope, Some(0));
    assert_eq!(
        erc1271(&stack, stack.usdc(), signed.hash, signed.signature.clone()).await,
        [0x16, 0x26, 0xba, 0x7e],
        "the verifier the scope names accepts it"
    );
    assert_eq!(
        erc1271(&stack, Address::repeat_byte(0x77), signed.hash, signed.signature).await,
        [0xff; 4],
        "another verifier does not"
    );

    // Over the cap, or to another spender: refused before signing, naming the rule.
    let error = agent.sign_typed_data(&request(MERCHANT, usdc(101))).await.unwrap_err();
    assert!(matches!(error, Error::SigningRefused { .. }), "{error}");
    assert_eq!(rule_of(&error), "SigningRuleFailed");
    let error =
        agent.sign_typed_data(&request(Address::repeat_byte(9), usdc(1))).await.unwrap_err();
    assert_eq!(rule_of(&error), "SigningRuleFailed");

    // Revoked: nothing more is signed, and what was signed before is no longer valid.
    let earlier = agent.sign_typed_data(&request(MERCHANT, usdc(1))).await.unwrap();
    stack.owner.revoke(&stack.chain, &stack.submitter, agent.session_id()).await.unwrap();
    let error = agent.sign_typed_data(&request(MERCHANT, usdc(1))).await.unwrap_err();
    assert_eq!(rule_of(&error), "SessionNotLive");
    assert_eq!(erc1271(&stack, stack.usdc(), earlier.hash, earlier.signature).await, [0xff; 4]);
}
