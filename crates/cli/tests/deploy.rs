//! `leash deploy` and `leash network check` against a chain that has none of leash: a built-in network (Base
//! Sepolia's preset, its RPC URL pointed at a bare anvil), deployed from a key whose nonce is far from zero.

use crate::common;

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use common::*;
use leash_contracts::release;
use leash_devnet::Devnet;
use serde_json::Value;

fn addresses_of(status: &Value) -> Vec<(String, Address, String)> {
    status["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["address"].as_str().unwrap().parse().unwrap(),
                c["presence"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The environment of a run on Base Sepolia's preset (its URL from networks.toml, none from the environment).
const ON_BASE_SEPOLIA: [(&str, &str); 3] =
    [("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", ""), ("LEASH_NETWORK", "base-sepolia")];

/// A data directory with `key` imported as `deployer`.
async fn with_deployer(key: &alloy::signers::local::PrivateKeySigner) -> Cli {
    let cli = Cli::new(String::new(), String::new());
    let key_file = cli.write("deployer.key", &format!("{}\n", alloy::hex::encode(key.to_bytes())));
    cli.run(&["keystore", "import", "deployer", "--private-key-file", key_file.to_str().unwrap()])
        .await
        .ok();
    cli
}

/// Base Sepolia's preset, its RPC URL pointed at `chain`.
fn as_base_sepolia(cli: &Cli, chain: &Devnet) {
    cli.write(
        "networks.toml",
        &format!("[networks.base-sepolia]\nrpc_url = \"{}\"\n", chain.rpc_url()),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_puts_the_release_at_its_addresses_once_and_check_says_so() {
    let chain = Devnet::builder().chain_id(84532).bare().start().await.expect("anvil starts");
    let key = chain.dev_keys()[3].clone();
    let from = key.address();
    // Far from a fresh key: the addresses must not depend on the sender's nonce.
    chain
        .provider()
        .raw_request::<_, ()>("anvil_setNonce".into(), (from, U256::from(1234)))
        .await
        .unwrap();

    let cli = with_deployer(&key).await;
    as_base_sepolia(&cli, &chain);
    let env = ON_BASE_SEPOLIA;

    // Nothing there yet: the check names what is missing and fails.
    let before = cli.run_with(&["--json", "network", "check"], &env).await;
    assert_eq!(before.code, 1, "{}", before.text());
    matches_schema("network-check", &before.json());
    assert_eq!(before.json()["complete"], false);
    let missing = addresses_of(&before.json()["status"]);
    assert!(missing
        .iter()
        .any(|(name, _, presence)| name == "EntryPoint v0.7" && presence == "missing"));
    assert!(missing
        .iter()
        .any(|(name, _, presence)| name == "SessionKeyValidator" && presence == "missing"));

    let deploy = ["--json", "deploy", "--from", "deployer", "--stake", "1 ETH"];
    let first = cli.run_with(&deploy, &env).await.ok().json();
    matches_schema("deploy", &first);
    let sent: Vec<&str> =
        first["sent"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        sent,
        [
            "EntryPoint v0.7",
            "LeashAccount",
            "SessionKeyValidator",
            "LeashAccountFactory",
            "LeashFactoryStaker",
            "LeashFactoryStaker stake"
        ]
    );

    // A second run changes nothing.
    let nonce = chain.provider().get_transaction_count(from).await.unwrap();
    let second = cli.run_with(&deploy, &env).await.ok().json();
    assert_eq!(second["sent"], serde_json::json!([]));
    assert_eq!(
        chain.provider().get_transaction_count(from).await.unwrap(),
        nonce,
        "nothing was sent"
    );
    let human = cli.run_with(&["deploy", "--from", "deployer"], &env).await.ok();
    assert!(human.stdout.contains("nothing to deploy"), "{}", human.stdout);

    // Every contract is at the release's address, as on the devnet, with the release's code; the front is staked.
    let front_owner = from.to_string();
    let after =
        cli.run_with(&["--json", "network", "check", "--front-owner", &front_owner], &env).await;
    assert_eq!(after.code, 0, "{}", after.text());
    matches_schema("network-check", &after.json());
    let status = &after.json()["status"];
    assert_eq!(status["chainId"], 84532);
    let deployed = addresses_of(status);
    assert!(deployed.iter().all(|(_, _, presence)| presence == "deployed"), "{deployed:?}");
    let at = |name: &str| deployed.iter().find(|(n, _, _)| n == name).unwrap().1;
    assert_eq!(at("SessionKeyValidator"), release::SESSION_KEY_VALIDATOR);
    assert_eq!(at("LeashAccountFactory"), release::ACCOUNT_FACTORY);
    assert_eq!(at("LeashAccount"), release::ACCOUNT_IMPLEMENTATION);
    assert_eq!(at("LeashFactoryStaker"), release::factory_front(from).address);
    assert_eq!(status["stake"]["staked"], true);
    assert_eq!(status["stake"]["unstakeDelay"], 86_400);
    assert_eq!(status["stake"]["amount"], "1000000000000000000");

    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = devnet.deployment().unwrap();
    assert_eq!(
        (d.session_key_validator, d.account_factory, d.account_implementation),
        (at("SessionKeyValidator"), at("LeashAccountFactory"), at("LeashAccount")),
        "the devnet's release contracts are where leash deploy put them"
    );
}

/// Staking is the front's owner's alone: another sender is told so before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_fronts_owner_stakes_it_bad_stakes_and_a_preset_without_rpc_url_are_refused() {
    let chain = Devnet::builder().chain_id(84532).bare().start().await.expect("anvil starts");
    let key = chain.dev_keys()[4].clone();
    let cli = with_deployer(&key).await;
    let env = ON_BASE_SEPOLIA;

    let unset = cli.run_with(&["network", "check"], &env).await;
    assert_eq!(unset.code, 2, "{}", unset.text());
    assert!(unset.stderr.contains("network `base-sepolia` has no rpc_url"), "{}", unset.stderr);
    assert!(unset.stderr.contains("[networks.base-sepolia]"), "{}", unset.stderr);

    as_base_sepolia(&cli, &chain);
    let nonce = chain.provider().get_transaction_count(key.address()).await.unwrap();
    let other = Address::repeat_byte(0x77).to_string();
    let refused = cli
        .run_with(
            &["deploy", "--from", "deployer", "--front-owner", &other, "--stake", "1 ETH"],
            &env,
        )
        .await;
    assert_ne!(refused.code, 0, "{}", refused.text());
    assert!(refused.stderr.contains("only the front's owner"), "{}", refused.stderr);
    // A stake of nothing, or not in ether, is bad input, answered before anything is opened or sent.
    for stake in ["0 ETH", "1 USDC"] {
        let bad = cli.run_with(&["deploy", "--from", "deployer", "--stake", stake], &env).await;
        assert_eq!(bad.code, 2, "{stake}: {}", bad.text());
        assert!(bad.stderr.contains("--stake"), "{stake}: {}", bad.stderr);
    }
    assert_eq!(chain.provider().get_transaction_count(key.address()).await.unwrap(), nonce);

    // A transaction of the deployer's still waiting (an earlier run's, say): nothing is sent on top of it.
    chain.provider().raw_request::<_, ()>("evm_setAutomine".into(), (false,)).await.unwrap();
    let waiting = alloy::rpc::types::TransactionRequest::default()
        .from(key.address())
        .to(key.address())
        .value(U256::from(1));
    let _ = chain.provider().send_transaction(waiting).await.unwrap();
    let refused = cli.run_with(&["deploy", "--from", "deployer"], &env).await;
    assert_ne!(refused.code, 0, "{}", refused.text());
    assert!(
        refused.stderr.contains("1 transaction(s) waiting to be included"),
        "{}",
        refused.stderr
    );
    let pending = chain.provider().get_transaction_count(key.address()).pending().await.unwrap();
    assert_eq!(pending, nonce + 1, "only the waiting transaction");
}

/// Code that is not the release's at one of its addresses is named, and `deploy` sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_code_at_a_release_address_stops_deploy() {
    let chain = Devnet::builder().chain_id(84532).bare().start().await.expect("anvil starts");
    let key = chain.dev_keys()[5].clone();
    chain
        .provider()
        .raw_request::<_, ()>(
            "anvil_setCode".into(),
            (
                release::SESSION_KEY_VALIDATOR,
                alloy::primitives::Bytes::from(vec![0x60, 0x00, 0x60, 0x00, 0xf3]),
            ),
        )
        .await
        .unwrap();
    let cli = with_deployer(&key).await;
    as_base_sepolia(&cli, &chain);
    let env = ON_BASE_SEPOLIA;

    let check = cli.run_with(&["--json", "network", "check"], &env).await;
    assert_eq!(check.code, 1, "{}", check.text());
    let module = addresses_of(&check.json()["status"])
        .into_iter()
        .find(|(name, _, _)| name == "SessionKeyValidator")
        .unwrap();
    assert_eq!(module.2, "different");
    let human = cli.run_with(&["network", "check"], &env).await;
    assert!(human.stdout.contains("OTHER CODE"), "{}", human.stdout);

    let nonce = chain.provider().get_transaction_count(key.address()).await.unwrap();
    let refused = cli.run_with(&["deploy", "--from", "deployer"], &env).await;
    assert_ne!(refused.code, 0, "{}", refused.text());
    assert!(refused.stderr.contains("not this release's"), "{}", refused.stderr);
    assert_eq!(
        chain.provider().get_transaction_count(key.address()).await.unwrap(),
        nonce,
        "nothing sent"
    );
}
