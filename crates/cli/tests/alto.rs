//! leash through a bundler it did not write: Pimlico's alto 0.0.18 from npm (`tools/alto.sh` installs it, bound
//! to the loopback), its ERC-7562 safe mode on, against the devnet's anvil, on its `/v2/rpc` API (the one that
//! checks preVerificationGas, as hosted endpoints do). Run by `make test-alto`.
//!
//! - a session's first operation deploys its account through the staked factory front, grants the session and
//!   pays; an out-of-policy send is refused before signing (exit 3);
//! - sent anyway, the module's refusal comes back from alto's simulation with its rule, read from the message
//!   text where alto puts the revert bytes;
//! - a first operation through the bare (unstaked) factory is refused by alto's storage rules, with the hint;
//! - operations offer at least alto's own price (`pimlico_getUserOperationGasPrice`);
//! - an error without a `code` is read as alto's refusal, not as a network failure;
//! - leash's own bundler asks at least the preVerificationGas alto requires.

use crate::common;

use alloy::{
    primitives::{aliases::U96, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use common::*;
use leash_core::{Action, Condition, PublicKey, Session, SessionPolicy, Timestamp};
use leash_devnet::Devnet;
use leash_sdk::{
    bundler::{BundlerClient, BundlerError},
    lanes::Lane,
    signer::{EcdsaSigner, SessionSigner},
    userop::UserOperation,
    Chain, Error, Owner, SessionAgent, SmartAccount, Submitter,
};
use std::{net::TcpListener, process::Stdio, sync::Arc, time::Duration};

/// alto's standard price is twice the node's: operations that only asked the node would be under it.
const PRICE_PERCENT: &str = "100,200,300";

/// alto, running against `devnet` until dropped.
struct Alto {
    _process: tokio::process::Child,
    /// Its `/v2/rpc` endpoint.
    url: String,
}

impl Alto {
    async fn start(devnet: &Devnet) -> Alto {
        let bin = std::env::var("LEASH_ALTO")
            .expect("LEASH_ALTO names alto's command: run `make test-alto`");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let key = |i: usize| format!("0x{}", alloy::hex::encode(devnet.dev_keys()[i].to_bytes()));
        let process = tokio::process::Command::new(bin)
            .args(["--entrypoints", "0x0000000071727De22E5E9d8BAf0edAc6f37da032"])
            .args(["--executor-private-keys", &key(5)])
            .args(["--utility-private-key", &key(6)])
            .args(["--rpc-url", devnet.rpc_url().as_str()])
            .args(["--port", &port.to_string()])
            .args(["--safe-mode", "true"])
            .args(["--gas-price-multipliers", PRICE_PERCENT])
            .args(["--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("alto starts");
        let url = format!("http://127.0.0.1:{port}/v2/rpc");
        let client = BundlerClient::new(&url).unwrap();
        // It deploys its simulations contract first; until then it does not listen.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            match client.chain_id().await {
                Ok(chain_id) => {
                    assert_eq!(chain_id, devnet.chain_id());
                    break;
                }
                Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("alto does not answer: {e}"),
            }
        }
        Alto { _process: process, url }
    }
}

fn pay_merchant(usdc: Address, cap: u64) -> SessionPolicy {
    SessionPolicy::builder()
        .name("pay the merchant")
        .valid_until(Timestamp::parse("2030-01-01T00:00:00Z").unwrap())
        .action(
            Action::call(usdc, "transfer(address to, uint256 amount)")
                .unwrap()
                .with_arg_rule("to", Condition::Eq(MERCHANT.into_word().into()))
                .unwrap()
                .with_amount_cap("amount", U96::from(cap * 1_000_000))
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs alto from npm: `make test-alto`"]
async fn the_cli_through_alto() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    let alto = Alto::start(&devnet).await;
    let through_alto = [("LEASH_BUNDLER_URL", alto.url.as_str())];

    // The devnet network names the staked front: the first operation deploys, grants and pays.
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    cli.run(&["account", "create", "main", "--owner", "owner"]).await.ok();
    cli.run(&["account", "fund", "main", "--eth", "1 ETH", "--token", "1000 USDC"]).await.ok();
    let policy = cli.pay_session("shop", "main").await;
    let sent = cli
        .run_with(
            &["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "50 USDC"],
            &through_alto,
        )
        .await
        .ok()
        .json();
    assert_eq!(sent["granted"], true, "{sent}");
    assert_eq!(sent["operation"]["success"], true, "{sent}");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, U256::from(50_000_000u64));
    let refused = cli
        .run_with(
            &["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "101 USDC"],
            &through_alto,
        )
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(refused.json()["error"]["rule"], "ArgumentRuleFailed");

    // Through the bare factory, a first operation that also grants writes the module's storage from an
    // unstaked factory's deployment: alto refuses it, and the hint says what to do.
    let d = devnet.deployment().unwrap();
    let bare_network = format!(
            "[networks.bare]\nchain_id = {}\nrpc_url = \"{}\"\nbundler_url = \"{}\"\nfactory = \"{}\"\nmodule = \"{}\"\n\
             tokens = {{ USDC = {{ address = \"{}\", decimals = 6 }} }}\n",
            devnet.chain_id(),
            devnet.rpc_url(),
            alto.url,
            d.account_factory,
            d.session_key_validator,
            d.usdc
        );
    cli.write("networks.toml", &bare_network);
    let bare = [("LEASH_NETWORK", "bare"), ("LEASH_RPC_URL", ""), ("LEASH_BUNDLER_URL", "")];
    cli.run_with(&["account", "create", "fresh", "--owner", "owner", "--salt", "bare"], &bare)
        .await
        .ok();
    cli.run_with(&["account", "fund", "fresh", "--eth", "1 ETH", "--token", "10 USDC"], &bare)
        .await
        .ok();
    cli.run_with(
        &["session", "create", "lazy", "--policy", policy.to_str().unwrap(), "--account", "fresh"],
        &bare,
    )
    .await
    .ok();
    let refused = cli
        .run_with(&["session", "send", "lazy", "USDC", PAY, MERCHANT_TEXT, "1 USDC"], &bare)
        .await;
    assert_eq!(refused.code, 1, "a bundler's refusal, not the network's: {}", refused.text());
    assert!(refused.stderr.contains("unless the factory is staked"), "{}", refused.stderr);

    // alto's price is twice the node's: over a limit of one time the node's, nothing is offered to it.
    cli.write("networks.toml", &format!("{bare_network}bundler_price_limit = 1\n"));
    let overpriced = cli
        .run_with(&["session", "send", "lazy", "USDC", PAY, MERCHANT_TEXT, "1 USDC"], &bare)
        .await;
    assert_eq!(overpriced.code, 1, "{}", overpriced.text());
    assert!(
        overpriced.stderr.contains("more than 1 times the node's price of"),
        "{}",
        overpriced.stderr
    );
    assert!(overpriced.stderr.contains("bundler_price_limit"), "{}", overpriced.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs alto from npm: `make test-alto`"]
async fn the_sdk_through_alto() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let alto = Alto::start(&devnet).await;
    let d = devnet.deployment().unwrap().clone();
    let provider = devnet.provider().clone();
    let chain = Chain::connect(provider.clone(), d.session_key_validator, "devnet").await.unwrap();
    let client = BundlerClient::new(&alto.url).unwrap();
    let submitter = Arc::new(Submitter::Bundler(client.clone()));

    // alto's own price, above the node's.
    let (alto_max, alto_priority) =
        client.gas_price().await.unwrap().expect("alto has a price method");
    let (node_max, _) = chain.fees().await.unwrap();
    assert!(alto_max > node_max, "alto asks {alto_max}, the node {node_max}");

    // An account through the staked front, granted by an owner operation sent through alto.
    let owner_key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x51)).unwrap();
    let account = SmartAccount::counterfactual(
        &provider,
        d.factory_staker,
        owner_key.address(),
        B256::ZERO,
        vec![d.session_key_validator],
    )
    .await
    .unwrap();
    devnet.fund(account.address, U256::from(10u128.pow(19))).await.unwrap();
    devnet.mint_usdc(account.address, U256::from(1_000_000_000u64)).await.unwrap();
    let owner = Owner::new(owner_key, account.clone()).unwrap();
    let signer: Arc<dyn SessionSigner> = Arc::new(EcdsaSigner::random());
    let session = Session {
        key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() },
        policy: pay_merchant(d.usdc, 100),
    };
    owner.grant(&chain, &submitter, &session).await.expect("granted through alto");
    let agent = SessionAgent::builder(chain.clone(), account.address, session, signer)
        .submitter(submitter.clone())
        .build()
        .unwrap();

    // The operation offers alto's price, which moves with the base fee: at least its lower value around the
    // signing, and above the node's (alto's standard tier is twice the node's here).
    let (before, _) = client.gas_price().await.unwrap().unwrap();
    let signed = agent.sign_operation(&[transfer(d.usdc, 60)], Lane::from(0)).await.unwrap();
    let (after, _) = client.gas_price().await.unwrap().unwrap();
    let (node_max, _) = chain.fees().await.unwrap();
    assert!(signed.op.max_fee_per_gas >= U256::from(before.min(after)), "offers alto's price");
    assert!(signed.op.max_fee_per_gas > U256::from(node_max), "more than the node's price alone");
    assert!(signed.op.max_priority_fee_per_gas >= U256::from(alto_priority));
    // leash's own bundler asks at least what alto requires (alto's estimate is its requirement plus 10%).
    let leash_rule = leash_bundler::simulate::pre_verification_gas(&signed.op).unwrap();
    let alto_estimate: u64 = signed.op.pre_verification_gas.to();
    eprintln!("preVerificationGas of a session operation: leash asks {leash_rule}, alto estimates {alto_estimate}");
    assert!(
        leash_rule * 11 >= alto_estimate * 10,
        "leash asks {leash_rule}, alto estimated {alto_estimate}"
    );
    let submitted = agent.send_signed(signed).await.unwrap();
    // Included before the next one is simulated (alto simulates against the chain's nonce).
    assert!(agent.wait(submitted.user_op_hash).await.unwrap().success);

    // Over the cap and sent without the pre-flight: alto's simulation refuses it, and the module's rule is read
    // from the revert bytes in its message.
    let refused = agent.send_unchecked(&[transfer(d.usdc, 50)], Lane::from(0)).await.unwrap_err();
    assert!(matches!(refused, Error::Rejected { .. }), "{refused:?}");
    assert_eq!(refused.rule(), Some("AmountLimitExceeded"), "{refused}");

    // A client whose limit is the node's price refuses alto's (twice the node's) before signing anything.
    let strict =
        Submitter::Bundler(BundlerClient::builder(&alto.url).price_limit(1).build().unwrap());
    match strict.fees(&chain).await.unwrap_err() {
        Error::Bundler(BundlerError::Overpriced { asked, node, limit: 1, .. }) => {
            assert!(asked > node, "alto asks {asked}, the node {node}")
        }
        other => panic!("read as {other:?}"),
    }

    // An error object without a code is alto refusing, not the network failing.
    let mut nonsense = UserOperation::builder(Address::repeat_byte(1)).build().unwrap();
    nonsense.verification_gas_limit = U256::from(1);
    match client.send_user_operation(&nonsense).await.unwrap_err() {
        BundlerError::Rejected { rejection, .. } => {
            assert_eq!(rejection.code, 0, "alto sent no code");
            assert!(rejection.message.contains("verificationGasLimit"), "{}", rejection.message);
        }
        other => panic!("read as {other:?}"),
    }
}

fn transfer(usdc: Address, whole: u64) -> leash_core::Call {
    leash_core::Call {
        target: usdc,
        value: U256::ZERO,
        data: leash_core::encode_call(
            "transfer(address,uint256)",
            &[MERCHANT.into_word().into(), U256::from(whole * 1_000_000)],
        )
        .unwrap(),
    }
}
