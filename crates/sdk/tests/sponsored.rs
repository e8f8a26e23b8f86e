//! Sponsored sessions: an ERC-7677 paymaster service names the paymaster, the session's "must use paymaster"
//! rule checks it, and the paymaster (not the account) pays on chain.

use crate::common;

use alloy::{
    primitives::{aliases::U96, Address},
    providers::Provider,
};
use common::{transfer, usdc, Stack};
use leash_core::{Action, SessionPolicy};
use leash_sdk::{lanes::Lane, paymaster::PaymasterClient, Error};
use serde_json::{json, Value};
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::{Arc, Mutex},
};

/// A minimal ERC-7677 service answering for `paymaster`; records the methods it was asked.
fn paymaster_service(paymaster: Address) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let request: Value = serde_json::from_slice(&body).unwrap();
            let method = request["method"].as_str().unwrap_or_default().to_string();
            // The request carries [userOp, entryPoint, chainId, context] (ERC-7677).
            assert_eq!(request["params"].as_array().map(Vec::len), Some(4), "{request}");
            seen.lock().unwrap().push(method.clone());
            let result = match method.as_str() {
                "pm_getPaymasterStubData" => json!({
                    "paymaster": paymaster, "paymasterData": "0x",
                    "paymasterVerificationGasLimit": "0x186a0", "paymasterPostOpGasLimit": "0xc350",
                    "sponsor": { "name": "devnet sponsor" }, "isFinal": false
                }),
                _ => json!({ "paymaster": paymaster, "paymasterData": "0x" }),
            };
            let reply =
                json!({ "jsonrpc": "2.0", "id": request["id"], "result": result }).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, calls)
}

fn sponsored_policy(stack: &Stack, paymaster: Address) -> SessionPolicy {
    SessionPolicy::builder()
        .paymaster(paymaster)
        .action(
            Action::call(stack.usdc(), "transfer(address to, uint256 amount)")
                .unwrap()
                .with_amount_cap("amount", U96::from(50_000_000u64))
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// A granted session that requires `paymaster`, whose agent asks the ERC-7677 service at `url`.
async fn sponsored_agent(
    stack: &Stack,
    paymaster: Address,
    url: &str,
    context: Value,
) -> leash_sdk::SessionAgent {
    let signer = Arc::new(leash_sdk::signer::EcdsaSigner::random());
    let session = leash_core::Session {
        key: leash_core::PublicKey::ecdsa(signer.address()),
        policy: sponsored_policy(stack, paymaster),
    };
    stack.owner.grant(&stack.chain, &stack.submitter, &session).await.unwrap();
    leash_sdk::SessionAgent::builder(stack.chain.clone(), stack.account.address, session, signer)
        .submitter(stack.submitter.clone())
        .paymaster(PaymasterClient::new(url, stack.chain.chain_id).unwrap(), context)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_paymaster_pays_and_the_session_requires_it() {
    let stack = Stack::start().await;
    let paymaster = stack.deployment().dev_paymaster;
    let (url, calls) = paymaster_service(paymaster);

    // Without the paymaster, the session's rule refuses before signing.
    let unsponsored = stack.agent(sponsored_policy(&stack, paymaster));
    stack.owner.grant(&stack.chain, &stack.submitter, unsponsored.session()).await.unwrap();
    let error = unsponsored
        .send(&[transfer(stack.usdc(), Address::repeat_byte(5), usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::PreFlight { .. }), "{error}");
    assert_eq!(error.rule(), Some("PaymasterRequired"));

    // With the service, the paymaster sponsors: the account's ether does not move.
    let agent = sponsored_agent(&stack, paymaster, &url, json!({ "policy": "devnet" })).await;
    let balance = stack.devnet.provider().get_balance(stack.account.address).await.unwrap();
    let sent = agent
        .send(&[transfer(stack.usdc(), Address::repeat_byte(5), usdc(20))], Lane::from(0))
        .await
        .unwrap();
    assert!(sent.outcome.success);
    assert_eq!(stack.usdc_balance(Address::repeat_byte(5)).await, usdc(20));
    assert_eq!(
        stack.devnet.provider().get_balance(stack.account.address).await.unwrap(),
        balance,
        "the account paid no gas"
    );
    assert_eq!(*calls.lock().unwrap(), ["pm_getPaymasterStubData", "pm_getPaymasterData"]);

    // A service that names another paymaster does not get around the rule.
    let (other_url, _) = paymaster_service(Address::repeat_byte(0x66));
    let agent = sponsored_agent(&stack, paymaster, &other_url, json!({})).await;
    let error = agent
        .send(&[transfer(stack.usdc(), Address::repeat_byte(5), usdc(1))], Lane::from(0))
        .await
        .unwrap_err();
    assert_eq!(error.rule(), Some("PaymasterRequired"));
}
