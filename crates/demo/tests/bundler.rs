//! The local bundler on the local stack: operations land through it, and it refuses what the rules forbid.

use alloy::primitives::{address, Address, U256};
use leash_core::{Call, PolicyFile};
use leash_demo::LocalStack;
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
