//! The x402 reference implementation from the npm registry (`@x402/core`, `@x402/evm`, `@x402/express`,
//! `@x402/fetch`, pinned in package.json), run as child processes from `tools/x402/`, and the local stack.

#![allow(dead_code, unreachable_pub)]

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use leash_core::{PolicyFile, SessionPolicy};
use leash_devnet::LocalStack;
use leash_sdk::{signer::EcdsaSigner, SessionAgent};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One of the reference programs, killed when dropped.
#[derive(Debug)]
pub struct Node {
    pub url: String,
    _child: Child,
}

/// Starts `tools/x402/<script>` with `env` and waits for the line that says where it listens.
pub async fn start(script: &str, env: &[(&str, String)]) -> Node {
    let mut command = Command::new("node");
    command
        .arg(root().join("tools/x402").join(script))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        // Their logs on request only: LEASH_TEST_LOG=1.
        .stderr(if std::env::var_os("LEASH_TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true);
    let mut child = command.spawn().expect("node runs (make toolchain installs the packages)");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .next_line()
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{script} exited before listening"));
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    Node { url: ready["url"].as_str().unwrap().to_string(), _child: child }
}

/// Runs the reference client (`@x402/fetch` from an EOA) against `url`; its JSON report.
pub async fn reference_pay(url: &str, payer: &PrivateKeySigner) -> serde_json::Value {
    let output = Command::new("node")
        .arg(root().join("tools/x402/pay.mjs"))
        .arg(url)
        .env("X402_PAYER_KEY", payer.to_bytes().to_string())
        .stderr(Stdio::inherit())
        .output()
        .await
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("pay.mjs printed no report ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

/// The local stack with the chain's clock at this machine's: the reference facilitator checks authorisation
/// windows against its own clock.
pub async fn stack() -> LocalStack {
    let stack = LocalStack::start().await.expect("the local stack starts");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    stack.set_clock(now).await.unwrap();
    stack
}

/// The reference facilitator, settling from one of the devnet's keys.
pub async fn facilitator(stack: &LocalStack) -> Node {
    let key = stack.devnet.dev_keys()[3].clone();
    start(
        "facilitator.mjs",
        &[
            ("X402_FACILITATOR_KEY", key.to_bytes().to_string()),
            ("X402_RPC_URL", stack.devnet.rpc_url().to_string()),
            ("X402_CHAIN_ID", stack.chain.chain_id.to_string()),
        ],
    )
    .await
}

/// The reference resource server selling `/answer` at `price` raw USDC units to `pay_to`.
pub async fn resource(stack: &LocalStack, facilitator: &Node, pay_to: Address, price: u64) -> Node {
    start(
        "resource.mjs",
        &[
            ("X402_FACILITATOR_URL", facilitator.url.clone()),
            ("X402_PAY_TO", pay_to.to_string()),
            ("X402_ASSET", stack.deployment().usdc.to_string()),
            ("X402_PRICE", price.to_string()),
            ("X402_CHAIN_ID", stack.chain.chain_id.to_string()),
        ],
    )
    .await
}

/// The example policy `name` read with the stack's names, and `[addresses]` overridden by `names`.
pub fn example(stack: &LocalStack, name: &str, names: &[(&str, Address)]) -> SessionPolicy {
    let mut context = stack.context();
    for (name, address) in names {
        context.addresses.insert((*name).into(), *address);
    }
    PolicyFile::load(root().join("examples/policies").join(name), &context)
        .expect("example policy reads")
}

/// An agent for `policy` granted by the owner, and its key (to forge what the pre-flight would refuse).
pub async fn granted(
    stack: &LocalStack,
    policy: SessionPolicy,
) -> (Arc<SessionAgent>, Arc<EcdsaSigner>) {
    let key = Arc::new(EcdsaSigner::random());
    let agent = stack.agent_with(policy, key.clone()).unwrap();
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    (Arc::new(agent), key)
}

pub async fn usdc_of(stack: &LocalStack, who: Address) -> U256 {
    stack.balance_of(stack.deployment().usdc, who).await.unwrap()
}

/// The devnet USDC's price of `amount` raw units, paid to `pay_to`.
pub fn price(stack: &LocalStack, pay_to: Address, amount: u64) -> leash_x402::Price {
    leash_x402::Price {
        chain_id: stack.chain.chain_id,
        asset: stack.deployment().usdc,
        amount: U256::from(amount),
        pay_to,
        token_name: "USD Coin (devnet)".into(),
        token_version: "2".into(),
        max_timeout_seconds: 300,
        description: None,
    }
}
