//! `leash serve` under load (`make bench`): operations per second through one replica and through three, the
//! p50/p99 latency of an explain and of a send, and the resident memory of one replica holding 10,000 sessions
//! of 1,000 tenants. Replicas are release builds of `leash serve` as separate processes on one PostgreSQL, the
//! devnet and its local bundler, all on this machine.

// A benchmark's report is its standard output.
#![allow(clippy::disallowed_macros)]

#[path = "../tests/support/cluster.rs"]
mod cluster;

use cluster::*;
use serde_json::json;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const SENDS: usize = 300;
const EXPLAINS: usize = 1_000;
const IN_FLIGHT: usize = 16;

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let cluster = Cluster::start(3, 60).await;
    let client = Client::default();
    let first = cluster.replicas[0].url.clone();
    let agents = populate(&cluster, &client, &first, 10, 4).await;
    let all: Vec<String> = cluster.replicas.iter().map(|r| r.url.clone()).collect();

    // Warm up: every account deployed and every session granted by its first operation.
    let warm = sends(&client, &agents, std::slice::from_ref(&first), agents.len(), "warm").await;
    assert_eq!(warm.failures, 0);

    let explain = explains(&client, &agents, &first).await;
    println!(
        "explain through one replica: {EXPLAINS} requests, p50 {:.1} ms, p99 {:.1} ms, {:.0} requests/s",
        explain.p(50.0),
        explain.p(99.0),
        explain.per_second()
    );
    for (label, replicas) in [("one replica", vec![first.clone()]), ("three replicas", all.clone())]
    {
        let result = sends(&client, &agents, &replicas, SENDS, label).await;
        println!(
            "send (to inclusion) through {label}: {SENDS} operations, {:.1} operations/s, p50 {:.0} ms, p99 {:.0} ms, {} retried",
            result.per_second(),
            result.p(50.0),
            result.p(99.0),
            result.failures
        );
    }

    // Memory: one replica, 10,000 sessions of 1,000 tenants in the database, each read once through it.
    let pid = cluster.replicas[2].child.as_ref().unwrap().id().unwrap();
    let before = rss_kib(pid);
    let started = Instant::now();
    hold_sessions(&client, &cluster.replicas[2].url, 1_000, 10).await;
    let after = rss_kib(pid);
    println!(
        "memory of one replica: {:.1} MiB before, {:.1} MiB after creating and reading 10,000 sessions of 1,000 tenants ({:.0} s)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
}

struct Timings {
    millis: Vec<f64>,
    elapsed: Duration,
    failures: usize,
}

impl Timings {
    fn p(&self, percentile: f64) -> f64 {
        let mut sorted = self.millis.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let i = ((percentile / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[i]
    }

    fn per_second(&self) -> f64 {
        self.millis.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `count` payments spread over the agents and `replicas`, `IN_FLIGHT` at a time; each timed to its answer
/// (included, since a send waits for its receipt). A busy answer is retried and counted.
async fn sends(
    client: &Client,
    agents: &[Agent],
    replicas: &[String],
    count: usize,
    tag: &str,
) -> Timings {
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (client, agent, base, permits) = (
            client.clone(),
            agents[i % agents.len()].clone(),
            replicas[i % replicas.len()].clone(),
            permits.clone(),
        );
        let request_id = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let path = format!("/v1/sessions/{}/send", agent.session);
            let mut retries = 0;
            let started = Instant::now();
            loop {
                let (status, answer) = client
                    .call(&base, "POST", &path, &agent.token, Some(payment(&agent, &request_id)))
                    .await
                    .unwrap();
                match status {
                    200 => {
                        assert_eq!(answer["state"], "landed", "{answer}");
                        return (started.elapsed().as_secs_f64() * 1000.0, retries);
                    }
                    503 | 429 => {
                        retries += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => panic!("{status} {answer}"),
                }
            }
        }));
    }
    let mut millis = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (ms, retries) = task.await.unwrap();
        millis.push(ms);
        failures += retries;
    }
    Timings { millis, elapsed: started.elapsed(), failures }
}

async fn explains(client: &Client, agents: &[Agent], base: &str) -> Timings {
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..EXPLAINS {
        let (client, agent, base, permits) =
            (client.clone(), agents[i % agents.len()].clone(), base.to_owned(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let started = Instant::now();
            let path = format!("/v1/sessions/{}/explain", agent.session);
            let mut body = payment(&agent, "explain");
            body.as_object_mut().unwrap().remove("requestId");
            let answer = client.ok(&base, "POST", &path, &agent.token, Some(body)).await;
            assert_eq!(answer["allowed"], true, "{answer}");
            started.elapsed().as_secs_f64() * 1000.0
        }));
    }
    let mut millis = Vec::new();
    for task in tasks {
        millis.push(task.await.unwrap());
    }
    Timings { millis, elapsed: started.elapsed(), failures: 0 }
}

/// Creates `tenants` tenants with one account and `sessions_each` sessions each through `base`, then reads
/// every session once through it.
async fn hold_sessions(client: &Client, base: &str, tenants: usize, sessions_each: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for t in 0..tenants {
        let (client, base, permits) = (client.clone(), base.to_owned(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let created = client
                .ok(
                    &base,
                    "POST",
                    "/v1/tenants",
                    ADMIN,
                    Some(json!({ "name": format!("held-{t}") })),
                )
                .await;
            let token = created["token"].as_str().unwrap().to_owned();
            let owner = owner(10_000 + t);
            client
                .ok(
                    &base,
                    "POST",
                    "/v1/accounts",
                    &token,
                    Some(json!({ "name": "main", "owner": owner.address() })),
                )
                .await;
            for s in 0..sessions_each {
                let body = json!({ "name": format!("s{s}"), "account": "main", "policy": POLICY });
                client.ok(&base, "POST", "/v1/sessions", &token, Some(body)).await;
            }
            for s in 0..sessions_each {
                client.ok(&base, "GET", &format!("/v1/sessions/s{s}"), &token, None).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
