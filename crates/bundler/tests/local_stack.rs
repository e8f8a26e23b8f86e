//! The local bundler on the local stack: operations land through it, and it refuses what the rules forbid.

use alloy::primitives::{address, Address, U256};
use leash_core::{Call, PolicyFile};
use leash_devnet::LocalStack;
use leash_sdk::lanes::Lane;

const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");

fn usdc(amount: u64) -> U256 {
    U256::from(amount) * U256::from(1_000_000u64)
}

fn transfer(token: Address, to: Address, amount: U256) -> Call {
    Call {
        target: token,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[to.into_word().into(), amount],
        )
        .unwrap(),
    }
}

#[tokio::test]
async fn a_session_operation_lands_through_the_bundler() {
    let stack = LocalStack::start().await.expect("stack starts");
    let policy = PolicyFile::parse(
        r#"
version = 1
[session]
valid_until = "2027-12-31T00:00:00Z"
[[action]]
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{ arg = "to", eq = "0x4d65726368616e74000000000000000000000001" }]
spend = { arg = "amount", max = "100 USDC" }
"#,
        "inline.toml",
        &stack.context(),
    )
    .unwrap();
    let agent = stack.agent(policy).unwrap();
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let usdc_address = stack.deployment().usdc;
    let sent = agent
        .send(&[transfer(usdc_address, MERCHANT, usdc(40))], Lane::named("pay"))
        .await
        .unwrap();
    assert!(sent.outcome.success);
    assert_eq!(stack.balance_of(usdc_address, MERCHANT).await.unwrap(), usdc(40));
    let receipt = stack
        .bundler_client()
        .get_user_operation_receipt(sent.user_op_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.sender, stack.account.address);
    assert!(receipt.success);
}

mod bad_input {
    use super::*;
    use alloy::{
        signers::{local::PrivateKeySigner, SignerSync},
        transports::http::reqwest,
    };
    use leash_core::encode_execute;
    use leash_sdk::{
        bundler::BundlerClient,
        lanes::{Lane, NonceKey},
        userop::UserOperation,
    };
    use serde_json::{json, Value};

    async fn post(stack: &LocalStack, body: &str) -> Value {
        reqwest::Client::new()
            .post(stack.bundler.url().clone())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the bundler answers")
            .json()
            .await
            .expect("the answer is JSON")
    }

    fn code(answer: &Value) -> i64 {
        answer["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("expected an error, got {answer}"))
    }

    /// An owner operation (empty batch) signed by `key`.
    async fn owner_op(stack: &LocalStack, key: &PrivateKeySigner, sequence: u64) -> UserOperation {
        let (max_fee, priority) = stack.chain.fees().await.unwrap();
        let mut op = UserOperation::builder(stack.account.address)
            .nonce_key(NonceKey::owner(Lane::from(0)), sequence)
            .call_data(encode_execute(&[]))
            .verification_gas_limit(300_000)
            .call_gas_limit(100_000)
            .pre_verification_gas(60_000)
            .fees(max_fee, priority)
            .build()
            .unwrap();
        let hash = op.hash(stack.bundler.entry_point(), stack.chain.chain_id).unwrap();
        op.signature = key.sign_hash_sync(&hash).unwrap().as_bytes().to_vec().into();
        op
    }

    fn rejection(error: leash_sdk::bundler::BundlerError) -> (i64, String) {
        let rejection = error.rejection().expect("a JSON-RPC error").clone();
        (rejection.code, rejection.message)
    }

    #[tokio::test]
    async fn malformed_requests_get_the_standard_codes_and_the_server_keeps_serving() {
        let stack = LocalStack::start().await.unwrap();
        assert_eq!(code(&post(&stack, "{not json").await), -32700);
        assert_eq!(code(&post(&stack, r#"{"jsonrpc":"2.0","id":1}"#).await), -32600);
        assert_eq!(code(&post(&stack, r#"[]"#).await), -32600);
        assert_eq!(code(&post(&stack, r#"7"#).await), -32600);
        assert_eq!(
            code(
                &post(&stack, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":{}}"#)
                    .await
            ),
            -32600
        );
        let unknown =
            post(&stack, r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[]}"#)
                .await;
        assert_eq!(code(&unknown), -32601);
        assert_eq!(unknown["id"], json!(1));
        let missing = post(
            &stack,
            r#"{"jsonrpc":"2.0","id":2,"method":"eth_sendUserOperation","params":[{"sender":"0x01"},"0x0000000071727De22E5E9d8BAf0edAc6f37da032"]}"#,
        )
        .await;
        assert_eq!(code(&missing), -32602);
        assert!(
            missing["error"]["message"].as_str().unwrap().starts_with("invalid UserOperation"),
            "{missing}"
        );
        let no_params =
            post(&stack, r#"{"jsonrpc":"2.0","id":3,"method":"eth_getUserOperationReceipt"}"#)
                .await;
        assert_eq!(code(&no_params), -32602);
        let bad_hash = post(
            &stack,
            r#"{"jsonrpc":"2.0","id":4,"method":"eth_getUserOperationByHash","params":["0x12"]}"#,
        )
        .await;
        assert_eq!(code(&bad_hash), -32602);

        // A batch answers each request in order, good and bad.
        let batch = post(
            &stack,
            r#"[{"jsonrpc":"2.0","id":5,"method":"eth_chainId"},{"jsonrpc":"2.0","id":6,"method":"nope"}]"#,
        )
        .await;
        assert_eq!(batch[0]["result"], json!("0x7a69"));
        assert_eq!(code(&batch[1]), -32601);

        // Still serving.
        let client = stack.bundler_client();
        assert_eq!(client.chain_id().await.unwrap(), 31_337);
        assert_eq!(client.supported_entry_points().await.unwrap(), [stack.bundler.entry_point()]);
    }

    #[tokio::test]
    async fn a_wrong_entry_point_a_bad_signature_bad_gas_and_duplicates_are_refused() {
        let stack = LocalStack::start().await.unwrap();
        let owner_key =
            PrivateKeySigner::from_bytes(&alloy::primitives::B256::repeat_byte(0x42)).unwrap();
        let client = stack.bundler_client();

        let wrong = BundlerClient::new(stack.bundler.url().as_str())
            .unwrap()
            .with_entry_point(address!("5FF137D4b0FDCD49DcA30c7CF57E578a026d2789"));
        let (code, message) = rejection(
            wrong.send_user_operation(&owner_op(&stack, &owner_key, 1).await).await.unwrap_err(),
        );
        assert_eq!(code, -32602);
        assert!(message.contains("unsupported EntryPoint"), "{message}");

        let stranger = PrivateKeySigner::random();
        let (code, message) = rejection(
            client.send_user_operation(&owner_op(&stack, &stranger, 1).await).await.unwrap_err(),
        );
        assert_eq!(code, -32507, "{message}");

        let mut cheap = owner_op(&stack, &owner_key, 1).await;
        cheap.max_fee_per_gas = U256::from(1);
        cheap.max_priority_fee_per_gas = U256::from(1);
        let (code, message) = rejection(client.send_user_operation(&cheap).await.unwrap_err());
        assert_eq!(code, -32602);
        assert!(message.starts_with("underpriced"), "{message}");

        let mut thin = owner_op(&stack, &owner_key, 1).await;
        thin.pre_verification_gas = U256::from(1_000);
        let (code, message) = rejection(client.send_user_operation(&thin).await.unwrap_err());
        assert_eq!(code, -32602);
        assert!(message.contains("preVerificationGas"), "{message}");

        let mut heavy = owner_op(&stack, &owner_key, 1).await;
        heavy.verification_gas_limit = U256::from(100_000_000);
        let hash = heavy.hash(stack.bundler.entry_point(), stack.chain.chain_id).unwrap();
        heavy.signature = owner_key.sign_hash_sync(&hash).unwrap().as_bytes().to_vec().into();
        let (code, message) = rejection(client.send_user_operation(&heavy).await.unwrap_err());
        assert_eq!(code, -32602);
        assert!(message.contains("more than the"), "{message}");
        assert!(message.contains("lower verificationGasLimit"), "{message}");

        let stale = owner_op(&stack, &owner_key, 0).await; // sequence 0 was used to deploy the account
        let (code, message) = rejection(client.send_user_operation(&stale).await.unwrap_err());
        assert_eq!(code, -32500);
        assert!(message.starts_with("AA25"), "{message}");

        let op = owner_op(&stack, &owner_key, 1).await;
        let hash = client.send_user_operation(&op).await.expect("a good operation is accepted");
        let (code, message) = rejection(client.send_user_operation(&op).await.unwrap_err());
        assert_eq!(code, -32602);
        assert!(message.contains("already"), "{message}");
        let receipt = client
            .wait_for_receipt(
                hash,
                std::time::Duration::from_millis(20),
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert!(receipt.success);
        let found = client.get_user_operation_by_hash(hash).await.unwrap().unwrap();
        assert_eq!(found.transaction_hash, Some(receipt.receipt.transaction_hash));
        assert_eq!(found.user_operation, op);
    }
}

mod estimates {
    use super::*;
    use leash_core::encode_execute;
    use leash_sdk::{
        lanes::{Lane, NonceKey},
        userop::UserOperation,
    };

    /// An owner operation with `call_data` and a dummy signature (estimation tolerates it).
    async fn unsigned(stack: &LocalStack, call_data: alloy::primitives::Bytes) -> UserOperation {
        let (max_fee, priority) = stack.chain.fees().await.unwrap();
        UserOperation::builder(stack.account.address)
            .nonce_key(NonceKey::owner(Lane::from(0)), 1)
            .call_data(call_data)
            .verification_gas_limit(300_000)
            .call_gas_limit(500_000)
            .pre_verification_gas(60_000)
            .fees(max_fee, priority)
            .signature(vec![0x11u8; 65])
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn an_estimate_covers_the_calls_needs_nothing_without_them_and_names_a_reverting_call() {
        let stack = LocalStack::start().await.unwrap();
        let client = stack.bundler_client();
        let usdc_address = stack.deployment().usdc;

        let paying =
            unsigned(&stack, encode_execute(&[transfer(usdc_address, MERCHANT, usdc(1))])).await;
        let estimate = client.estimate_user_operation_gas(&paying).await.unwrap();
        assert!(estimate.call_gas_limit > U256::from(30_000), "{estimate:?}");
        assert!(estimate.verification_gas_limit > U256::from(10_000), "{estimate:?}");

        // The EntryPoint makes no call for empty call data.
        let empty = unsigned(&stack, Default::default()).await;
        let estimate = client.estimate_user_operation_gas(&empty).await.unwrap();
        assert_eq!(estimate.call_gas_limit, U256::ZERO);

        // The account holds 10,000 USDC; a transfer of 20,000 reverts in execution.
        let too_much =
            unsigned(&stack, encode_execute(&[transfer(usdc_address, MERCHANT, usdc(20_000))]))
                .await;
        let error = client.estimate_user_operation_gas(&too_much).await.unwrap_err();
        let rejection = error.rejection().expect("a JSON-RPC error");
        assert_eq!(rejection.code, -32521, "{}", rejection.message);
        assert!(
            rejection.message.starts_with("the operation's execution reverts"),
            "{}",
            rejection.message
        );
    }
}
