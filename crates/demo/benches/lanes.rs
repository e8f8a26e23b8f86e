//! Nonce lanes through the local bundler: 200 session operations sent from 8 lanes at once, against the same
//! 200 from one lane, each waiting for its receipt before the next. Prints both times and the ratio, then a
//! JSON line.
//!
//! `cargo bench -p leash-demo --bench lanes` (LEASH_LANE_OPS and LEASH_LANES change the sizes).

// The report is what the benchmark is run for: it goes to standard output.
#![allow(clippy::disallowed_macros)]

use alloy::primitives::{address, Address, U256};
use futures::future::join_all;
use leash_core::{Call, PolicyFile};
use leash_demo::{LocalStack, ETH};
use leash_sdk::{lanes::Lane, SessionAgent};
use std::time::{Duration, Instant};

const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pay(usdc: Address) -> Call {
    Call {
        target: usdc,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[MERCHANT.into_word().into(), U256::from(1)],
        )
        .expect("transfer encodes"),
    }
}

/// Sends `count` payments on `lane`, one after the other, each waiting for its receipt.
async fn one_lane(agent: &SessionAgent, usdc: Address, lane: Lane, count: usize) {
    for _ in 0..count {
        let sent = agent.send(&[pay(usdc)], lane).await.expect("the payment lands");
        assert!(sent.outcome.success);
    }
}

#[tokio::main]
async fn main() {
    let ops = env("LEASH_LANE_OPS", 200);
    let lanes = env("LEASH_LANES", 8);
    let stack = LocalStack::start().await.expect("the local stack starts");
    // Parallel operations of one account need a staked account (ERC-7562 UREP-010/011).
    stack.stake_account(U256::from(ETH)).await.expect("the account stakes");
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
        "bench.toml",
        &stack.context(),
    )
    .expect("the policy reads");
    let agent = stack.agent(policy).expect("the agent builds");
    stack
        .owner
        .grant(&stack.chain, &stack.submitter, agent.session())
        .await
        .expect("the session is granted");
    let usdc = stack.deployment().usdc;

    let started = Instant::now();
    one_lane(&agent, usdc, Lane::named("sequential"), ops).await;
    let sequential = started.elapsed();

    let started = Instant::now();
    let tasks = (0..lanes).map(|i| {
        let count = ops / lanes + usize::from(i < ops % lanes);
        one_lane(&agent, usdc, Lane::named(&format!("task-{i}")), count)
    });
    join_all(tasks).await;
    let parallel = started.elapsed();

    let paid = stack.balance_of(usdc, MERCHANT).await.expect("balance");
    assert_eq!(paid, U256::from(2 * ops), "every payment landed");
    let ratio = sequential.as_secs_f64() / parallel.as_secs_f64();
    let per_second = |d: Duration| ops as f64 / d.as_secs_f64();
    println!("nonce lanes through the local bundler, {ops} session operations (USDC transfers):");
    println!(
        "  1 lane, each waiting for its receipt: {:>7.2} s  ({:.1} ops/s)",
        sequential.as_secs_f64(),
        per_second(sequential)
    );
    println!(
        "  {lanes} lanes in parallel:                {:>7.2} s  ({:.1} ops/s)",
        parallel.as_secs_f64(),
        per_second(parallel)
    );
    println!("  ratio: {ratio:.1}x (target: at least 4x)");
    println!(
        "{{\"ops\":{ops},\"lanes\":{lanes},\"sequential_s\":{:.3},\"parallel_s\":{:.3},\"ratio\":{ratio:.2}}}",
        sequential.as_secs_f64(),
        parallel.as_secs_f64()
    );
}
