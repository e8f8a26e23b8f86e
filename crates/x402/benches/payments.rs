//! x402 payments on the local stack: one agent paying a leash-served endpoint (the `charge` middleware, settling
//! through `LocalFacilitator` on the devnet). Prints the time from the request to the paid resource (the 402, the
//! authorisation, the retry, the facilitator's check, the handler, the settlement transaction, the response) over
//! sequential payments, and the payments per second of one agent paying from several tasks at once, then a JSON
//! line.
//!
//! `cargo bench -p leash-x402 --bench payments` (LEASH_PAYMENTS and LEASH_PAYMENT_TASKS change the sizes).

// The report is what the benchmark is run for: it goes to standard output.
#![allow(clippy::disallowed_macros)]

use alloy::primitives::{Address, U256};
use leash_core::PolicyFile;
use leash_devnet::LocalStack;
use leash_x402::{LocalFacilitator, Payer, Paywall, Price};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn serve(stack: &LocalStack, pay_to: Address) -> String {
    let facilitator = LocalFacilitator::connect(
        stack.devnet.rpc_url().as_str(),
        stack.devnet.dev_keys()[2].clone(),
    )
    .await
    .expect("the facilitator connects");
    let price = Price {
        chain_id: stack.chain.chain_id,
        asset: stack.deployment().usdc,
        amount: U256::from(10_000),
        pay_to,
        token_name: "USD Coin (devnet)".into(),
        token_version: "2".into(),
        max_timeout_seconds: 300,
        description: None,
    };
    let paywall = Arc::new(Paywall::new(price, Arc::new(facilitator)));
    let app = axum::Router::new()
        .route("/answer", axum::routing::get(|| async { "42" }))
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/answer", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn pay(payer: &Payer, url: &str) -> Duration {
    let started = Instant::now();
    let request = payer.request(reqwest::Method::GET, url).build().unwrap();
    let paid = payer.send(request).await.expect("the payment settles");
    assert!(paid.payment.expect("paid").receipt.success);
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let payments = env("LEASH_PAYMENTS", 100);
    let tasks = env("LEASH_PAYMENT_TASKS", 8);
    let stack = LocalStack::start().await.expect("the local stack starts");
    // The example's seller, paid by the example's session with room for every payment of the run.
    let seller = alloy::primitives::address!("416e737765727300000000000000000000000001");
    let url = serve(&stack, seller).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies/x402-payments.toml");
    let text = std::fs::read_to_string(path).expect("the example policy is there");
    let policy =
        PolicyFile::parse(&text.replace("count = 100", "count = 10000"), path, &stack.context())
            .expect("the policy reads");
    let agent = stack.agent(policy).expect("the agent builds");
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.expect("granted");
    let payer = Payer::new(Arc::new(agent));

    // Sequential: each payment from the request to the paid resource.
    let mut times = Vec::with_capacity(payments);
    for _ in 0..payments {
        times.push(pay(&payer, &url).await);
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    let total: Duration = times.iter().sum();
    println!(
        "{payments} sequential payments: 402 to paid resource p50 {:.1} ms, p99 {:.1} ms, {:.1} payments/s",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        payments as f64 / total.as_secs_f64()
    );

    // Concurrent: one agent, `tasks` payments in flight at a time (each takes its own slot of the day).
    let started = Instant::now();
    let per_task = payments / tasks;
    let runs = (0..tasks).map(|_| {
        let (payer, url) = (payer.clone(), url.clone());
        tokio::spawn(async move {
            for _ in 0..per_task {
                pay(&payer, &url).await;
            }
        })
    });
    for run in futures::future::join_all(runs).await {
        run.expect("a task pays");
    }
    let concurrent = started.elapsed();
    let rate = (per_task * tasks) as f64 / concurrent.as_secs_f64();
    println!("{} payments from {tasks} tasks of one agent: {rate:.1} payments/s", per_task * tasks);
    println!(
        "{}",
        serde_json::json!({
            "payments": payments,
            "p50_ms": p50.as_secs_f64() * 1e3,
            "p99_ms": p99.as_secs_f64() * 1e3,
            "sequential_per_second": payments as f64 / total.as_secs_f64(),
            "tasks": tasks,
            "concurrent_per_second": rate,
        })
    );
}
