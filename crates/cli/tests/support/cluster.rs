//! Replicas of `leash serve` as separate processes on one PostgreSQL, one devnet and its local bundler: what the
//! load and fault test and the service benchmark run on.

#![allow(dead_code, unreachable_pub)]

use alloy::{
    primitives::{Address, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
};
use leash_devnet::Devnet;
use leash_service::postgres::LocalPostgres;
use serde_json::{json, Value};
use std::{process::Stdio, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// 2026-06-01T00:00:00Z.
pub const GENESIS: u64 = 1_780_272_000;
pub const ADMIN: &str = "leash_admin_load-test-admin-token-0123456789abcdef";
pub const KEK: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

pub const POLICY: &str = r#"
version = 1
[session]
name = "payouts"
valid_from = "2026-01-01T00:00:00Z"
valid_until = "2027-12-31T23:59:59Z"
gas_budget = "5 ETH"

[[action]]
name = "pay USDC"
target = "USDC"
function = "transfer(address to, uint256 amount)"
spend = { arg = "amount", max = "1000 USDC" }
"#;

pub struct Cluster {
    pub devnet: Devnet,
    pub bundler: leash_bundler::LocalBundler,
    pub postgres: LocalPostgres,
    pub database_url: String,
    pub replicas: Vec<Replica>,
    home: tempfile::TempDir,
}

pub struct Replica {
    pub name: String,
    pub url: String,
    pub child: Option<Child>,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Cluster {
    pub async fn start(replicas: usize, lease_seconds: u64) -> Cluster {
        let devnet = Devnet::builder()
            .arg("--timestamp")
            .arg(GENESIS.to_string())
            .start()
            .await
            .expect("devnet starts");
        let key = devnet.dev_keys().last().unwrap().clone();
        let config = leash_bundler::BundlerConfig::new(devnet.rpc_url().clone(), key);
        let bundler = leash_bundler::LocalBundler::start(config).await.expect("the bundler starts");
        let postgres = LocalPostgres::start().await.expect("PostgreSQL starts");
        let database_url = postgres.create_database("leash").await.unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut cluster =
            Cluster { devnet, bundler, postgres, database_url, replicas: Vec::new(), home };
        for i in 0..replicas {
            let replica = cluster.spawn(&format!("r{i}"), lease_seconds).await;
            cluster.replicas.push(replica);
        }
        cluster
    }

    async fn spawn(&self, name: &str, lease_seconds: u64) -> Replica {
        let mut command = leash_serve();
        command
            .args(["--network", "devnet", "--listen", "127.0.0.1:0", "--replica", name])
            .args(["--rate", "100000", "--burst", "100000", "--lanes", "4", "--connections", "12"])
            .args(["--lease-seconds", &lease_seconds.to_string()])
            .env("LEASH_HOME", self.home.path())
            .env("LEASH_DATABASE_URL", &self.database_url)
            .env("LEASH_KEK", KEK)
            .env("LEASH_ADMIN_TOKEN", ADMIN)
            .env("LEASH_RPC_URL", self.devnet.rpc_url().as_str())
            .env("LEASH_BUNDLER_URL", self.bundler.url().as_str())
            .env("LEASH_LOG", "info");
        let (child, url, said, mut lines) = listening(command).await;
        let log = Arc::new(std::sync::Mutex::new(said));
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Replica { name: name.to_owned(), url, child: Some(child), log }
    }

    /// Kills replica `i` at once (SIGKILL): no shutdown, leases left held, operations left in doubt.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.replicas[i].child.take() {
            child.kill().await.unwrap();
        }
    }

    pub fn usdc(&self) -> Address {
        self.devnet.deployment().unwrap().usdc
    }

    pub async fn usdc_balance(&self, who: Address) -> U256 {
        leash_contracts::bindings::DevUsdc::new(self.usdc(), self.devnet.provider())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.database_url)
            .await
            .unwrap()
    }
}

/// `leash serve`, its standard error piped, killed when dropped, and (on Linux) when the test's runtime ends.
pub fn leash_serve() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leash"));
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and the closure allocates nothing.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Starts `command` and reads its standard error until it says where it listens: the process, its URL, what
/// it said so far, and the rest of its standard error.
pub async fn listening(
    mut command: Command,
) -> (Child, String, Vec<String>, tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) {
    let mut child = command.spawn().expect("leash serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("leash serve says where it listens")
            .unwrap()
            .unwrap_or_else(|| panic!("leash serve exited: {said:?}"));
        said.push(line.clone());
        if let Some(rest) = line.strip_prefix("leash serve listening on ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            return (child, url, said, lines);
        }
    }
}

/// An HTTP client that knows the replicas.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            http: reqwest::Client::builder().timeout(Duration::from_secs(90)).build().unwrap(),
        }
    }
}

impl Client {
    /// One request; `Err` when the replica did not answer (connection refused or dropped).
    pub async fn call(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    pub async fn ok(
        &self,
        base: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, value) =
            self.call(base, method, path, token, body).await.expect("the replica answers");
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        value
    }
}

/// An agent: its tenant's index, its session's name and its token.
#[derive(Clone, Debug)]
pub struct Agent {
    pub tenant: usize,
    pub session: String,
    pub token: String,
}

/// What every tenant pays: a payee per tenant, so its balance counts the tenant's landed payments.
pub fn payee(tenant: usize) -> Address {
    let mut bytes = [0x99u8; 20];
    bytes[18..].copy_from_slice(&(tenant as u16).to_be_bytes());
    Address::from(bytes)
}

pub fn owner(tenant: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(0x1000 + tenant))).unwrap()
}

/// Creates `tenants` tenants, each with one funded account and `agents_each` granted sessions, through
/// `base`; returns the agents.
pub async fn populate(
    cluster: &Cluster,
    client: &Client,
    base: &str,
    tenants: usize,
    agents_each: usize,
) -> Vec<Agent> {
    let mut agents = Vec::new();
    for t in 0..tenants {
        let created = client
            .ok(base, "POST", "/v1/tenants", ADMIN, Some(json!({ "name": format!("tenant-{t}") })))
            .await;
        let token = created["token"].as_str().unwrap().to_owned();
        let owner = owner(t);
        let account = client
            .ok(
                base,
                "POST",
                "/v1/accounts",
                &token,
                Some(json!({ "name": "main", "owner": owner.address() })),
            )
            .await;
        let address: Address = account["address"].as_str().unwrap().parse().unwrap();
        cluster.devnet.fund(address, U256::from(100u128 * 10u128.pow(18))).await.unwrap();
        cluster.devnet.mint_usdc(address, U256::from(10u64.pow(12))).await.unwrap();
        for a in 0..agents_each {
            let name = format!("agent-{a}");
            let created = client
                .ok(
                    base,
                    "POST",
                    "/v1/sessions",
                    &token,
                    Some(json!({ "name": name, "account": "main", "policy": POLICY })),
                )
                .await;
            let digest: B256 = created["grantDigest"].as_str().unwrap().parse().unwrap();
            let signature = owner.sign_hash_sync(&digest).unwrap();
            let body = json!({ "signature": alloy::hex::encode_prefixed(signature.as_bytes()) });
            client
                .ok(base, "POST", &format!("/v1/sessions/{name}/grant"), &token, Some(body))
                .await;
            agents.push(Agent {
                tenant: t,
                session: name,
                token: created["agentToken"].as_str().unwrap().to_owned(),
            });
        }
    }
    agents
}

/// A payment of 0.01 USDC to the tenant's payee, with an idempotency key.
pub fn payment(agent: &Agent, request_id: &str) -> Value {
    json!({
        "calls": [{ "to": "USDC", "function": "transfer(address,uint256)", "args": [payee(agent.tenant).to_string(), "0.01 USDC"] }],
        "requestId": request_id,
    })
}
