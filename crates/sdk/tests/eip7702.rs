//! An EOA as the account (EIP-7702): it delegates to the account implementation by its own type-4 transaction,
//! and its sessions then work on its own address as on a smart account's, through the local bundler (ERC-7562).

use crate::common;

use alloy::{primitives::Address, providers::Provider};
use common::{pay_merchant_policy as pay_merchant, transfer, usdc, Stack, MERCHANT};
use leash_sdk::{lanes::Lane, Error};

fn rule_of(error: &Error) -> &str {
    error.rule().unwrap_or_else(|| panic!("a policy rejection, got {error:?}"))
}

#[tokio::test]
async fn an_eoa_delegates_and_its_sessions_land_are_refused_and_revoked_as_on_a_smart_account() {
    let stack = Stack::start_eip7702().await.bundled().await;
    let eoa = stack.account.address;
    assert_eq!(eoa, stack.account.owner, "the account is the owner's own address");
    let code = stack.devnet.provider().get_code_at(eoa).await.unwrap();
    assert_eq!(code, stack.account.delegation(), "the EOA delegates to the implementation");
    assert!(
        stack.owner.delegate(&stack.chain).await.unwrap().is_none(),
        "delegating again does nothing"
    );

    let agent = stack.agent(pay_merchant(&stack, 100));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();

    let sent =
        agent.send(&[transfer(stack.usdc(), MERCHANT, usdc(60))], Lane::from(0)).await.unwrap();
    assert!(sent.outcome.success);
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(60), "paid from the EOA");

    // Over the cap: refused before signing, and by the module when sent anyway (the bundler's simulation).
    let over = [transfer(stack.usdc(), MERCHANT, usdc(50))];
    assert_eq!(
        rule_of(&agent.send(&over, Lane::from(0)).await.unwrap_err()),
        "AmountLimitExceeded"
    );
    let refused = agent.send_unchecked(&over, Lane::from(0)).await.unwrap_err();
    assert!(matches!(refused, Error::Rejected { .. }), "{refused:?}");
    assert_eq!(rule_of(&refused), "AmountLimitExceeded");

    let session_id = agent.session().id().unwrap();
    stack.owner.revoke(&stack.chain, &stack.submitter, session_id).await.unwrap();
    let revoked = agent
        .send_unchecked(&[transfer(stack.usdc(), MERCHANT, usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&revoked), "SessionIsRevoked");
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(60));
}

#[tokio::test]
async fn an_eoa_that_has_not_delegated_is_told_to_delegate_first() {
    let stack = Stack::start().await;
    let key = alloy::signers::local::PrivateKeySigner::random();
    let account = leash_sdk::SmartAccount::eip7702(
        key.address(),
        stack.deployment().account_implementation,
        vec![stack.chain.module],
    );
    let owner = leash_sdk::Owner::new(key, account).unwrap();
    let error = owner.execute(&stack.chain, &stack.submitter, &[]).await.unwrap_err();
    assert!(
        error.to_string().contains("does not delegate to the leash account implementation"),
        "{error}"
    );

    // An implementation address without the implementation's code: nothing is signed or sent.
    let key = alloy::signers::local::PrivateKeySigner::random();
    stack.devnet.fund(key.address(), alloy::primitives::U256::from(10u128.pow(18))).await.unwrap();
    let nowhere = leash_sdk::SmartAccount::eip7702(
        key.address(),
        Address::repeat_byte(0x99),
        vec![stack.chain.module],
    );
    let owner = leash_sdk::Owner::new(key.clone(), nowhere).unwrap();
    let error = owner.delegate(&stack.chain).await.unwrap_err();
    assert!(error.to_string().contains("no leash account implementation"), "{error}");
    let provider = stack.devnet.provider();
    assert_eq!(provider.get_transaction_count(key.address()).await.unwrap(), 0, "nothing sent");
}

/// The EOA's authorisation, sent by someone else (a relayer) without initialising: `delegate` initialises it.
/// Then it delegates to another contract and back: `delegate` clears the other delegation first, then delegates
/// and initialises in a later block, and the sessions of before do not come back.
#[tokio::test]
async fn a_relayed_or_foreign_delegation_is_initialised_and_earlier_sessions_stay_dead() {
    let stack = Stack::start().await;
    let key = alloy::signers::local::PrivateKeySigner::random();
    let d = stack.deployment().clone();
    let account = leash_sdk::SmartAccount::eip7702(
        key.address(),
        d.account_implementation,
        vec![stack.chain.module],
    );
    stack.devnet.fund(key.address(), alloy::primitives::U256::from(10u128.pow(19))).await.unwrap();
    stack.devnet.mint_usdc(key.address(), usdc(1_000)).await.unwrap();

    relay_delegation(&stack, &key, d.account_implementation).await;
    let owner = leash_sdk::Owner::new(key.clone(), account.clone()).unwrap();
    let initialised = owner.delegate(&stack.chain).await.unwrap();
    assert!(initialised.is_some(), "the relayed delegation was initialised");

    let mut agent_stack = stack;
    agent_stack.account = account.clone();
    agent_stack.owner = owner.clone();
    let agent = agent_stack.agent(pay_merchant(&agent_stack, 100));
    owner.grant(&agent_stack.chain, &agent_stack.submitter, agent.session()).await.unwrap();
    agent.send(&[transfer(agent_stack.usdc(), MERCHANT, usdc(1))], Lane::from(0)).await.unwrap();

    // Elsewhere (any contract: USDC here) and back.
    relay_delegation(&agent_stack, &key, d.usdc).await;
    assert!(!account.is_deployed(agent_stack.devnet.provider()).await.unwrap());
    let provider = agent_stack.devnet.provider();
    let (block, nonce) = (
        provider.get_block_number().await.unwrap(),
        provider.get_transaction_count(key.address()).await.unwrap(),
    );
    owner.delegate(&agent_stack.chain).await.unwrap().expect("delegated again");
    assert!(
        provider.get_block_number().await.unwrap() >= block + 2,
        "two blocks: the old delegation cleared, then the new one with initializeEoa"
    );
    assert_eq!(
        provider.get_transaction_count(key.address()).await.unwrap(),
        nonce + 4,
        "two transactions from the EOA, each with its own authorisation"
    );
    let dead = agent
        .send_unchecked(&[transfer(agent_stack.usdc(), MERCHANT, usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&dead), "SessionVoidedByRevokeAll");
}

/// A type-4 transaction from a dev account carrying `key`'s authorisation to delegate to `to`, calling nothing.
async fn relay_delegation(
    stack: &Stack,
    key: &alloy::signers::local::PrivateKeySigner,
    to: Address,
) {
    use alloy::{
        eips::eip7702::Authorization,
        network::{TransactionBuilder, TransactionBuilder7702},
        primitives::U256,
        rpc::types::TransactionRequest,
        signers::SignerSync,
    };
    let provider = stack.devnet.provider();
    let nonce = provider.get_transaction_count(key.address()).await.unwrap();
    let authorization =
        Authorization { chain_id: U256::from(stack.chain.chain_id), address: to, nonce };
    let signature = key.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let tx = TransactionRequest::default()
        .with_from(stack.devnet.dev_accounts()[1])
        .with_to(stack.devnet.dev_accounts()[1])
        .with_authorization_list(vec![authorization.into_signed(signature)]);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
}
