//! An agent sells answers over x402 and another pays for one from its session, on the local stack.
//!
//! `cargo run -p leash-x402 --example pay_and_sell`
//!
//! The seller is an axum service behind [`leash_x402::charge`], paid into its own address and settling by itself
//! ([`leash_x402::LocalFacilitator`]). The buyer's session may sign USDC payment authorisations to that seller
//! only, at most 0.01 USDC each and 3 a day (docs/payments.md): the first three answers are paid, the fourth is
//! refused before anything is signed.

// This example's output is its point.
#![allow(clippy::disallowed_macros)]

use alloy::primitives::{Address, U256};
use leash_core::PolicyFile;
use leash_devnet::LocalStack;
use leash_x402::{LocalFacilitator, Payer, Paywall, Price};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stack = LocalStack::start().await?;
    let seller = Address::repeat_byte(0x5e);

    // The seller: 0.01 USDC per answer, paid to `seller`, settled with a devnet key's gas.
    let facilitator = LocalFacilitator::connect(
        stack.devnet.rpc_url().as_str(),
        stack.devnet.dev_keys()[2].clone(),
    )
    .await?;
    // The token's EIP-712 name and version come from the chain.
    let price = Price::of_token(
        stack.devnet.provider(),
        stack.deployment().usdc,
        U256::from(10_000),
        seller,
    )
    .await?;
    let paywall = Arc::new(Paywall::new(price, Arc::new(facilitator)));
    let app = axum::Router::new()
        .route("/answer", axum::routing::get(|| async { "42" }))
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/answer", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The buyer: a session that may pay the seller, at most 0.01 USDC each and 3 times a day.
    let policy = PolicyFile::parse(
        &format!(
            r#"
version = 1
[session]
valid_until = "2030-01-01T00:00:00Z"
[[signing.typed_data]]
verifier = "USDC"
type = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
rules = [{{ field = "to", eq = "{seller}" }}, {{ field = "value", lte = "0.01 USDC" }}]
max_uses = {{ count = 3, per = "1 day" }}
"#
        ),
        "buyer.toml",
        &stack.context(),
    )?;
    let agent = stack.agent(policy)?;
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await?;
    let payer = Payer::new(Arc::new(agent)).max(stack.deployment().usdc, U256::from(10_000));

    for n in 1..=4 {
        let request = payer.request(reqwest::Method::GET, &url).build()?;
        match payer.send(request).await {
            Ok(paid) => {
                let payment = paid.payment.expect("the seller charges");
                println!(
                    "answer {n}: {} (paid {} raw USDC units, settled in {})",
                    String::from_utf8_lossy(&paid.body),
                    payment.authorization.value,
                    payment.receipt.transaction
                );
            }
            Err(refused) => {
                println!("answer {n}: refused by {}: {refused}", refused.rule().unwrap_or("?"))
            }
        }
    }
    Ok(())
}
