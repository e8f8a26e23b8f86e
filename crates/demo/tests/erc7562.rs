//! The local bundler enforces ERC-7562 on real validation code: test-only validator modules that read
//! TIMESTAMP or a foreign contract's storage are refused with the rule's code, one that keeps to the account's
//! own storage is accepted and lands.

use alloy::{
    primitives::{Address, Bytes, U256},
    sol,
    sol_types::SolCall,
};
use leash_contracts::bindings::testing::{CleanValidator, ClockValidator, Oracle, OracleValidator};
use leash_core::{encode_execute, Call};
use leash_demo::LocalStack;
use leash_sdk::{
    bundler::BundlerError,
    lanes::{Lane, NonceKey},
    userop::UserOperation,
};
use std::time::Duration;

sol! {
    function installModule(uint256 moduleTypeId, address module, bytes initData);
}

const VALIDATOR: u64 = 1;

/// Installs `module` as a validator of the stack's account, by the owner.
async fn install(stack: &LocalStack, module: Address) {
    let data =
        installModuleCall { moduleTypeId: U256::from(VALIDATOR), module, initData: Bytes::new() };
    let call =
        Call { target: stack.account.address, value: U256::ZERO, data: data.abi_encode().into() };
    stack
        .owner
        .execute(&stack.chain, &stack.submitter, &[call])
        .await
        .expect("the owner installs the module");
}

/// An empty operation routed to `module` (the nonce key names the validator).
async fn op_for(stack: &LocalStack, module: Address) -> UserOperation {
    let (max_fee, priority) = stack.chain.fees().await.unwrap();
    UserOperation::builder(stack.account.address)
        .nonce_key(NonceKey::session(module, Lane::from(0)), 0)
        .call_data(encode_execute(&[]))
        .verification_gas_limit(300_000)
        .call_gas_limit(100_000)
        .pre_verification_gas(60_000)
        .fees(max_fee, priority)
        .signature(vec![0u8; 65])
        .build()
        .unwrap()
}

fn refusal(error: BundlerError) -> (i64, String) {
    let rejection = error.rejection().expect("the bundler refuses with a JSON-RPC error").clone();
    (rejection.code, rejection.message)
}

#[tokio::test]
async fn a_validator_reading_the_clock_is_refused_with_op_011() {
    let stack = LocalStack::start().await.unwrap();
    let module = ClockValidator::deploy(stack.devnet.provider()).await.unwrap();
    install(&stack, *module.address()).await;
    let op = op_for(&stack, *module.address()).await;
    let (code, message) =
        refusal(stack.bundler_client().send_user_operation(&op).await.unwrap_err());
    assert_eq!(code, -32502, "{message}");
    assert!(message.starts_with("OP-011 (account)"), "{message}");
    assert!(message.contains("TIMESTAMP"), "{message}");
    assert_eq!(stack.bundler.waiting(), 0);
}

#[tokio::test]
async fn a_validator_reading_foreign_storage_is_refused_with_sto_021() {
    let stack = LocalStack::start().await.unwrap();
    let provider = stack.devnet.provider();
    let oracle = Oracle::deploy(provider).await.unwrap();
    oracle.setPrice(U256::from(3_000)).send().await.unwrap().get_receipt().await.unwrap();
    let module = OracleValidator::deploy(provider, *oracle.address()).await.unwrap();
    install(&stack, *module.address()).await;
    let op = op_for(&stack, *module.address()).await;
    let (code, message) =
        refusal(stack.bundler_client().send_user_operation(&op).await.unwrap_err());
    assert_eq!(code, -32502, "{message}");
    assert!(message.starts_with("STO-021 (account)"), "{message}");
    assert!(message.contains(&oracle.address().to_string()), "{message}");
}

#[tokio::test]
async fn a_validator_keeping_to_the_accounts_storage_is_accepted_and_lands() {
    let stack = LocalStack::start().await.unwrap();
    let module = CleanValidator::deploy(stack.devnet.provider()).await.unwrap();
    install(&stack, *module.address()).await;
    let op = op_for(&stack, *module.address()).await;
    let client = stack.bundler_client();
    let hash = client.send_user_operation(&op).await.expect("the bundler accepts it");
    let receipt = client
        .wait_for_receipt(hash, Duration::from_millis(20), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(receipt.success);
    let uses = module.uses(stack.account.address).call().await.unwrap();
    assert_eq!(uses, U256::from(1));
}
