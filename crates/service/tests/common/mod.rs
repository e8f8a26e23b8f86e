//! The stack the service's tests run on: a devnet with the local bundler, a PostgreSQL server of the test's
//! own, and replicas of the service on loopback ports.

#![allow(dead_code, unreachable_pub)]

use alloy::{
    primitives::{Address, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
};
use leash_core::TokenTable;
use leash_devnet::Devnet;
use leash_sdk::{bundler::BundlerClient, Chain};
use leash_service::{postgres::LocalPostgres, Config, Db, LocalKek, Network, Service};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::{net::SocketAddr, sync::Arc};

/// 2026-06-01T00:00:00Z: the test policies run in 2026-2027 whatever the date.
pub const GENESIS: u64 = 1_780_272_000;
pub const ADMIN: &str = "leash_admin_test-admin-token-of-32-characters";
pub const ETH: u128 = 1_000_000_000_000_000_000;

pub const PAYOUTS: &str = r#"
version = 1
[session]
name = "payouts"
valid_from = "2026-01-01T00:00:00Z"
valid_until = "2027-12-31T23:59:59Z"
gas_budget = "0.5 ETH"

[[action]]
name = "pay USDC"
target = "USDC"
function = "transfer(address to, uint256 amount)"
spend = { arg = "amount", max = "100 USDC" }
"#;

pub struct Stack {
    pub devnet: Devnet,
    pub bundler: leash_bundler::LocalBundler,
    pub postgres: LocalPostgres,
    pub network: Network,
    pub kek_hex: String,
    databases: std::sync::atomic::AtomicUsize,
}

pub struct Replica {
    pub url: String,
    pub service: Service,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Replica {
    /// Stops serving (what a crash looks like from outside: no more answers).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl Stack {
    pub async fn start() -> Stack {
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
        let d = devnet.deployment().unwrap().clone();
        let chain = Chain::connect(devnet.provider().clone(), d.session_key_validator, "devnet")
            .await
            .unwrap();
        let mut tokens = TokenTable::default();
        for (symbol, token) in &d.tokens {
            tokens.insert(symbol.clone(), token.address, token.decimals);
        }
        let addresses = d.named_contracts().into_iter().map(|(n, a)| (n.to_owned(), a)).collect();
        let network = Network {
            name: "devnet".into(),
            chain,
            bundler: BundlerClient::new(bundler.url().as_str()).unwrap(),
            factory: d.factory_staker,
            tokens,
            addresses,
        };
        Stack { devnet, bundler, postgres, network, kek_hex: "42".repeat(32), databases: 0.into() }
    }

    pub fn kek(&self) -> Arc<LocalKek> {
        Arc::new(LocalKek::from_hex("test", &self.kek_hex).unwrap())
    }

    /// A new empty database.
    pub async fn database(&self) -> String {
        let n = self.databases.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.postgres.create_database(&format!("leash_{n}")).await.expect("database")
    }

    pub async fn replica(&self, url: &str, config: Config) -> Replica {
        let db = Db::connect(url, 10).await.expect("the database connects and migrates");
        let service = Service::new(db, self.network.clone(), self.kek(), ADMIN, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(service.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Replica { url: format!("http://{address}"), service, stop: Some(stop), task }
    }

    pub fn usdc(&self) -> Address {
        self.devnet.deployment().unwrap().usdc
    }

    pub async fn usdc_balance(&self, who: Address) -> U256 {
        use leash_contracts::bindings::DevUsdc;
        DevUsdc::new(self.usdc(), self.devnet.provider()).balanceOf(who).call().await.unwrap()
    }
}

/// A stack with one replica of the service on a new database, and a client of it.
pub async fn served(config: Config) -> (Stack, Replica, Client) {
    let stack = Stack::start().await;
    let url = stack.database().await;
    let replica = stack.replica(&url, config).await;
    let client = Client::new(&replica.url);
    (stack, replica, client)
}

/// The calls of a request body (`{"calls": [...]}`), resolved as the service resolves them for `account`.
pub fn calls_of(stack: &Stack, account: Address, body: &Value) -> Vec<leash_core::Call> {
    let names = leash_core::Names {
        tokens: &stack.network.tokens,
        addresses: &stack.network.addresses,
        account,
    };
    body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let entry: leash_core::CallEntry = serde_json::from_value(entry.clone()).unwrap();
            entry.resolve(&names).unwrap()
        })
        .collect()
}

/// A client of one replica.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client { base: base.to_owned(), http: reqwest::Client::new() }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (status, value) = self.call(method, path, token, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }
}

/// A tenant with one funded account (owned by `owner`) and one granted session; returns
/// (tenant token, agent token, account address).
pub struct Tenant {
    pub token: String,
    pub agent: String,
    pub account: Address,
    pub session: String,
    pub account_name: String,
}

pub fn owner_key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).unwrap()
}

pub async fn tenant(
    stack: &Stack,
    client: &Client,
    name: &str,
    owner: &PrivateKeySigner,
    salt: u64,
) -> Tenant {
    tenant_named(stack, client, name, owner, salt, "main", "payouts").await
}

/// [`tenant`] with the account and the session named.
pub async fn tenant_named(
    stack: &Stack,
    client: &Client,
    name: &str,
    owner: &PrivateKeySigner,
    salt: u64,
    account_name: &str,
    session_name: &str,
) -> Tenant {
    let created =
        client.ok("POST", "/v1/tenants", Some(ADMIN), Some(json!({ "name": name }))).await;
    let token = created["token"].as_str().unwrap().to_owned();
    let account = client
        .ok(
            "POST",
            "/v1/accounts",
            Some(&token),
            Some(json!({ "name": account_name, "owner": owner.address(), "salt": B256::from(U256::from(salt)) })),
        )
        .await;
    let address: Address = account["address"].as_str().unwrap().parse().unwrap();
    stack.devnet.fund(address, U256::from(10 * ETH)).await.unwrap();
    stack.devnet.mint_usdc(address, U256::from(1_000_000_000_000u64)).await.unwrap();
    let (session, agent) =
        session(client, &token, session_name, account_name, PAYOUTS, owner).await;
    Tenant { token, agent, account: address, session, account_name: account_name.into() }
}

/// Creates a session and has the owner grant it; returns (name, agent token).
pub async fn session(
    client: &Client,
    token: &str,
    name: &str,
    account: &str,
    policy: &str,
    owner: &PrivateKeySigner,
) -> (String, String) {
    let created = client
        .ok(
            "POST",
            "/v1/sessions",
            Some(token),
            Some(json!({ "name": name, "account": account, "policy": policy })),
        )
        .await;
    let digest: B256 = created["grantDigest"].as_str().unwrap().parse().unwrap();
    let signature = owner.sign_hash_sync(&digest).unwrap();
    client
        .ok(
            "POST",
            &format!("/v1/sessions/{name}/grant"),
            Some(token),
            Some(json!({ "signature": alloy::hex::encode_prefixed(signature.as_bytes()) })),
        )
        .await;
    (name.to_owned(), created["agentToken"].as_str().unwrap().to_owned())
}

pub fn pay(to: Address, usdc: u64) -> Value {
    json!({ "calls": [{ "to": "USDC", "function": "transfer(address,uint256)", "args": [to.to_string(), format!("{usdc} USDC")] }] })
}
