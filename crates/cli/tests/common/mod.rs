//! The harness the command-line tests share: a data directory, the local stack, and the binary run as a
//! script would run it.
#![allow(dead_code)]

use alloy::primitives::{address, Address, U256};
use leash_contracts::bindings::DevToken;
use leash_devnet::Devnet;
use serde_json::Value;
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

pub(crate) const OWNER_PASSWORD: &str = "owner-correct-horse-7";
pub(crate) const SESSION_PASSWORD: &str = "session-battery-staple-9";
pub(crate) const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");

pub(crate) const POLICY: &str = r#"
version = 1

[addresses]
merchant = "0x4d65726368616e74000000000000000000000001"

[session]
name = "merchant payments"
valid_until = "2030-01-01T00:00:00Z"

[[action]]
name = "pay the merchant"
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{ arg = "to", eq = "merchant" }, { arg = "amount", lte = "100 USDC" }]
spend = { arg = "amount", max = "150 USDC" }
period = "monthly"
"#;

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    pub(crate) fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A data directory, the local stack, and every output the binary printed (for the secrets check).
pub(crate) struct Cli {
    pub(crate) home: tempfile::TempDir,
    pub(crate) rpc_url: String,
    pub(crate) bundler_url: String,
    pub(crate) outputs: std::sync::Mutex<Vec<String>>,
}

impl Cli {
    pub(crate) fn new(rpc_url: String, bundler_url: String) -> Self {
        Self {
            home: tempfile::tempdir().expect("a temporary directory"),
            rpc_url,
            bundler_url,
            outputs: Default::default(),
        }
    }

    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `leash ARGS` with the passwords in the environment.
    pub(crate) async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[]).await
    }

    /// `leash ARGS` with the data directory, the stack's URLs and the passwords in its environment.
    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_leash"));
        command
            .args(args)
            .env("LEASH_HOME", self.home())
            .env("LEASH_RPC_URL", &self.rpc_url)
            .env("LEASH_BUNDLER_URL", &self.bundler_url)
            .env("LEASH_PASSWORD", SESSION_PASSWORD)
            .env("LEASH_OWNER_PASSWORD", OWNER_PASSWORD)
            .env("LEASH_LOG", "debug")
            .env_remove("LEASH_NETWORK")
            .env_remove("LEASH_PAYMASTER_URL")
            .env_remove("LEASH_MCP_TOKEN")
            .kill_on_drop(true);
        command
    }

    /// Runs `leash ARGS` with `env` on top of the defaults (an empty value removes the variable).
    pub(crate) async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.stdin(std::process::Stdio::null());
        for (key, value) in env {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        let output = command.output().await.expect("the leash binary runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.outputs.lock().unwrap().push(run.text());
        run
    }

    /// The address of keystore `name`.
    pub(crate) async fn key_address(&self, name: &str) -> alloy::primitives::Address {
        let info = self.run(&["--json", "keystore", "info", name]).await.ok().json();
        info["address"].as_str().expect("an address").parse().expect("a valid address")
    }

    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.home().join(name);
        std::fs::write(&path, contents).expect("a test file is written");
        path
    }

    /// Creates session `name` on `account` under [`POLICY`] (payments to the merchant); returns the policy file.
    pub(crate) async fn pay_session(&self, name: &str, account: &str) -> PathBuf {
        let policy = self.write("pay.toml", POLICY);
        let file = policy.to_str().unwrap();
        self.run(&["session", "create", name, "--policy", file, "--account", account]).await.ok();
        policy
    }

    /// Owner key `owner`, account `main` funded with 1 ETH and 1,000 USDC.
    pub(crate) async fn owner_and_account(&self) -> Value {
        self.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
            .await
            .ok();
        let account = self
            .run(&["--json", "account", "create", "main", "--owner", "owner"])
            .await
            .ok()
            .json();
        self.run(&["account", "fund", "main", "--eth", "1 ETH", "--token", "1000 USDC"]).await.ok();
        self.run(&["account", "deploy", "main"]).await.ok();
        account
    }
}

pub(crate) struct Stack {
    pub(crate) devnet: Devnet,
    /// Kept alive for the test's length (bind it: `..` would drop it).
    pub(crate) bundler: leash_bundler::LocalBundler,
    pub(crate) cli: Cli,
}

pub(crate) async fn stack() -> Stack {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let bundler = leash_demo::start_bundler(&devnet, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the bundler starts");
    let cli = Cli::new(devnet.rpc_url().to_string(), bundler.url().to_string());
    Stack { devnet, bundler, cli }
}

pub(crate) async fn usdc_balance(devnet: &Devnet, owner: Address) -> U256 {
    let usdc = devnet.deployment().unwrap().usdc;
    DevToken::new(usdc, devnet.provider()).balanceOf(owner).call().await.expect("balanceOf")
}

pub(crate) const PAY: &str = "transfer(address,uint256)";
pub(crate) const MERCHANT_TEXT: &str = "0x4d65726368616e74000000000000000000000001";

/// Checks `value`, what `leash --json COMMAND` printed, against the command's definition in the JSON Schema
/// committed at docs/schemas/cli.json (`command` names it: `session-status`).
pub(crate) fn matches_schema(command: &str, value: &Value) {
    let errors = schema_errors(command, value);
    assert!(errors.is_empty(), "{command}: {value:#} does not match its schema: {errors:#?}");
}

/// What is wrong with `value` as `command`'s output, by docs/schemas/cli.json.
pub(crate) fn schema_errors(command: &str, value: &Value) -> Vec<String> {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/schemas/cli.json"
        ))
        .expect("docs/schemas/cli.json");
        serde_json::from_str(&text).expect("the schema is JSON")
    });
    assert!(schema["$defs"].get(command).is_some(), "docs/schemas/cli.json defines no `{command}`");
    let mut rooted = schema.clone();
    rooted["$ref"] = Value::String(format!("#/$defs/{command}"));
    let validator = jsonschema::validator_for(&rooted).expect("a valid JSON Schema");
    validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

/// A leash-served x402 endpoint selling `/answer` at 0.01 USDC to `pay_to`, settling from a devnet key.
pub(crate) async fn x402_seller(devnet: &leash_devnet::Devnet, pay_to: Address) -> String {
    let facilitator = leash_x402::LocalFacilitator::connect(
        devnet.rpc_url().as_str(),
        devnet.dev_keys()[2].clone(),
    )
    .await
    .unwrap();
    // The token's EIP-712 name and version as the chain says them.
    let usdc = devnet.deployment().unwrap().usdc;
    let price = leash_x402::Price::of_token(devnet.provider(), usdc, U256::from(10_000u64), pay_to)
        .await
        .unwrap();
    assert_eq!(
        (price.token_name.as_str(), price.token_version.as_str()),
        ("USD Coin (devnet)", "2")
    );
    let paywall =
        std::sync::Arc::new(leash_x402::Paywall::new(price, std::sync::Arc::new(facilitator)));
    let app = axum::Router::new()
        .route(
            "/answer",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "answer": 42 })) }),
        )
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/answer", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
