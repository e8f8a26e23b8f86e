//! The local bundler enforces ERC-7562 on real validation code: test-only validator modules that read
//! TIMESTAMP or a foreign contract's storage are refused with the rule's code, one that keeps to the account's
//! own storage is accepted and lands. A new account's first session operation, which writes the account's records
//! while it is created, needs the staked factory (STO-022). An operation with only an account phase has its `validateUserOp` traced
//! alone; what that records is held to what the whole simulation's trace records.

use alloy::{
    eips::BlockId,
    primitives::{address, Address, Bytes, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
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
use leash_core::{encode_execute, Call, GrantTarget, PolicyFile, PublicKey, Session};
use leash_devnet::{LocalStack, ETH};
use leash_sdk::{
    bundler::BundlerError,
    lanes::{Lane, NonceKey},
    signer::{EcdsaSigner, SessionSigner},
    userop::UserOperation,
    Owner, SessionAgent, SmartAccount,
};
use serde_json::Value;
use std::sync::Arc;
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

const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");

const PAY_THE_MERCHANT: &str = r#"
version = 1
[session]
valid_until = "2030-01-01T00:00:00Z"
[[action]]
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{ arg = "to", eq = "0x4d65726368616e74000000000000000000000001" }]
spend = { arg = "amount", max = "1 USDC" }
"#;

fn pay_the_merchant(stack: &LocalStack) -> Call {
    Call {
        target: stack.deployment().usdc,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[MERCHANT.into_word().into(), U256::from(1)],
        )
        .unwrap(),
    }
}

#[tokio::test]
async fn a_new_accounts_first_session_operation_needs_the_staked_factory() {
    // The operation deploys the account, grants the session (writing the account's records in the module) and
    // pays. Through the bare factory the bundler refuses it (STO-022); through the devnet's staked front of the
    // same factory, which gives the same address, it lands.
    let stack = LocalStack::start().await.unwrap();
    let d = stack.deployment().clone();
    let provider = stack.devnet.provider().clone();
    let owner_key = PrivateKeySigner::random();
    let signer: Arc<dyn SessionSigner> = Arc::new(EcdsaSigner::random());
    let policy = PolicyFile::parse(PAY_THE_MERCHANT, "pay.toml", &stack.context()).unwrap();
    let session =
        Session { key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() }, policy };
    let mut address = None;
    for (factory, staked) in [(d.account_factory, false), (d.factory_staker, true)] {
        let account = SmartAccount::counterfactual(
            &provider,
            factory,
            owner_key.address(),
            B256::ZERO,
            vec![d.session_key_validator],
        )
        .await
        .unwrap();
        assert_eq!(*address.get_or_insert(account.address), account.address, "one address");
        if !staked {
            stack.devnet.fund(account.address, U256::from(ETH)).await.unwrap();
            stack.devnet.mint_usdc(account.address, U256::from(1_000_000)).await.unwrap();
        }
        let owner = Owner::new(owner_key.clone(), account.clone()).unwrap();
        let target = GrantTarget {
            chain_id: stack.chain.chain_id,
            module: d.session_key_validator,
            account: account.address,
            epoch: stack.chain.epoch(account.address).await.unwrap(),
        };
        let approval = owner.approve(&session, &[target]).await.unwrap();
        let agent = SessionAgent::builder(
            stack.chain.clone(),
            account.address,
            session.clone(),
            signer.clone(),
        )
        .submitter(stack.submitter.clone())
        .tokens(stack.tokens())
        .deploy(account.clone())
        .lazy_grant(approval.proof_for(stack.chain.chain_id).unwrap())
        .build()
        .unwrap();
        let sent = agent.send(&[pay_the_merchant(&stack)], Lane::DEFAULT).await;
        let code = provider.get_code_at(account.address).await.unwrap();
        if staked {
            let sent = sent.expect("the staked factory's operation lands");
            assert!(sent.granted, "the first operation granted the session");
            assert!(!code.is_empty(), "the first operation deployed the account");
            assert_eq!(stack.balance_of(d.usdc, MERCHANT).await.unwrap(), U256::from(1));
        } else {
            let refused = sent.expect_err("the bare factory's operation is refused").to_string();
            assert!(refused.contains("STO-022"), "{refused}");
            assert!(code.is_empty(), "nothing was deployed");
        }
    }
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
    let policy = PolicyFile::parse(PAY_THE_MERCHANT, "pay.toml", &stack.context()).unwrap();
    let agent = stack.agent(policy).unwrap();
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let pay = pay_the_merchant(&stack);
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
