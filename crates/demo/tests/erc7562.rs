//! The local bundler enforces ERC-7562 on real validation code: test-only validator modules that read
//! TIMESTAMP or a foreign contract's storage are refused with the rule's code, one that keeps to the account's
//! own storage is accepted and lands. An operation with only an account phase has its `validateUserOp` traced
//! alone; what that records is held to what the whole simulation's trace records.

use alloy::{
    eips::BlockId,
    primitives::{address, Address, Bytes, U256},
    providers::Provider,
    sol,
    sol_types::SolCall,
};
use leash_bundler::trace::{trace_account_validation, trace_validation, Trace};
use leash_contracts::{
    bindings::{
        testing::{CleanValidator, ClockValidator, Oracle, OracleValidator},
        EntryPoint, EntryPointSimulations,
    },
    ENTRYPOINT_V07,
};
use leash_core::{encode_execute, Call, PolicyFile};
use leash_demo::LocalStack;
use leash_sdk::{
    bundler::BundlerError,
    lanes::{Lane, NonceKey},
    userop::UserOperation,
};
use serde_json::Value;
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

#[tokio::test]
async fn a_validator_reading_the_clock_is_refused_with_op_011_when_the_whole_simulation_is_traced()
{
    // A paymaster adds a phase, so the bundler traces the whole simulation rather than the account alone.
    let stack = LocalStack::start().await.unwrap();
    let module = ClockValidator::deploy(stack.devnet.provider()).await.unwrap();
    install(&stack, *module.address()).await;
    let mut op = op_for(&stack, *module.address()).await;
    op.paymaster = UserOperation::builder(op.sender)
        .paymaster(stack.deployment().dev_paymaster, 100_000, 50_000, Bytes::new())
        .build()
        .unwrap()
        .paymaster;
    let (code, message) =
        refusal(stack.bundler_client().send_user_operation(&op).await.unwrap_err());
    assert_eq!(code, -32502, "{message}");
    assert!(message.starts_with("OP-011 (account)"), "{message}");
    assert!(message.contains("TIMESTAMP"), "{message}");
}

/// Traces `op`'s account validation both ways at the latest block: the whole `simulateValidation`, and
/// `validateUserOp` alone with the prefund the EntryPoint would ask for.
async fn both_traces(stack: &LocalStack, op: &UserOperation) -> (Trace, Trace) {
    let provider = stack.devnet.provider();
    let block = provider.get_block_number().await.unwrap();
    let whole =
        trace_validation(provider, ENTRYPOINT_V07, op.pack().unwrap().into()).await.unwrap();
    assert!(!whole.reverted(), "the simulation passes: {:?}", whole.error);
    let result =
        EntryPointSimulations::simulateValidationCall::abi_decode_returns(&whole.output).unwrap();
    let deposit =
        EntryPoint::new(ENTRYPOINT_V07, provider).balanceOf(op.sender).call().await.unwrap();
    let hash = op.hash(ENTRYPOINT_V07, stack.chain.chain_id).unwrap();
    let alone = trace_account_validation(
        provider,
        ENTRYPOINT_V07,
        op.pack().unwrap(),
        hash,
        result.returnInfo.prefund.saturating_sub(deposit),
        BlockId::number(block),
    )
    .await
    .unwrap();
    assert!(!alone.reverted(), "validateUserOp passes alone: {:?}", alone.error);
    assert_eq!(provider.get_block_number().await.unwrap(), block, "no block came between");
    (whole, alone)
}

#[tokio::test]
async fn the_account_traced_alone_records_what_the_whole_simulation_records() {
    let stack = LocalStack::start().await.unwrap();
    let provider = stack.devnet.provider().clone();

    // Test validators that break the rules and keep to them: the same violations, storage and calls either way.
    let oracle = Oracle::deploy(&provider).await.unwrap();
    let modules = [
        *ClockValidator::deploy(&provider).await.unwrap().address(),
        *OracleValidator::deploy(&provider, *oracle.address()).await.unwrap().address(),
        *CleanValidator::deploy(&provider).await.unwrap().address(),
    ];
    for module in modules {
        install(&stack, module).await;
        let (whole, alone) = both_traces(&stack, &op_for(&stack, module).await).await;
        assert_eq!(whole.phases.len(), 1);
        assert_eq!(alone.phases, whole.phases, "module {module}");
        assert_eq!(alone.keccak, whole.keccak, "module {module}");
    }

    // A session operation through the leash module, signed for real.
    let policy = PolicyFile::parse(
        r#"
version = 1
[session]
valid_until = "2030-01-01T00:00:00Z"
[[action]]
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{ arg = "to", eq = "0x4d65726368616e74000000000000000000000001" }]
spend = { arg = "amount", max = "1 USDC" }
"#,
        "session.toml",
        &stack.context(),
    )
    .unwrap();
    let agent = stack.agent(policy).unwrap();
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let merchant = address!("4d65726368616e74000000000000000000000001");
    let pay = Call {
        target: stack.deployment().usdc,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[merchant.into_word().into(), U256::from(1)],
        )
        .unwrap(),
    };
    // The operation is taken back from the bundler after it lands, and judged again at the block before it.
    let before: Value = provider.raw_request("evm_snapshot".into(), ()).await.unwrap();
    let sent = agent.send(&[pay], Lane::named("fidelity")).await.unwrap();
    let op = stack
        .bundler_client()
        .get_user_operation_by_hash(sent.user_op_hash)
        .await
        .unwrap()
        .expect("the bundler knows the operation")
        .user_operation;
    let _: Value = provider.raw_request("evm_revert".into(), (before,)).await.unwrap();
    let (whole, alone) = both_traces(&stack, &op).await;
    assert_eq!(whole.phases.len(), 1);
    let phase = &alone.phases[0];
    assert!(!phase.storage.is_empty(), "the module's storage is recorded");
    assert!(phase.violations.is_empty(), "{:?}", phase.violations);
    assert_eq!(alone.phases, whole.phases);
    assert_eq!(alone.keccak, whole.keccak);
}
