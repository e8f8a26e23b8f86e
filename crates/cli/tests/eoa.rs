//! An EOA as the account (EIP-7702) through the binary: `account create --eip7702`, `account deploy` (the EOA's
//! own type-4 transaction), then a session on its address: a payment lands, one out of policy is refused with
//! its rule (exit code 3), revoke ends it; `account deploy --reinitialize` voids every session of before.

use crate::common;

use alloy::{primitives::Address, providers::Provider};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eoa_account_runs_a_session_through_the_binary() {
    let Stack { devnet, cli, bundler: _bundler } = stack().await;
    cli.run_with(&["keystore", "create", "owner"], &[("LEASH_PASSWORD", OWNER_PASSWORD)])
        .await
        .ok();
    let owner = cli.key_address("owner").await;
    let created = cli
        .run(&["--json", "account", "create", "eoa", "--owner", "owner", "--eip7702"])
        .await
        .ok()
        .json();
    matches_schema("account-create", &created);
    assert_eq!(
        created["address"].as_str().unwrap().parse::<Address>().unwrap(),
        owner,
        "the EOA's own address"
    );
    assert_eq!(created["eip7702"], true);
    let salted =
        cli.run(&["account", "create", "x", "--owner", "owner", "--eip7702", "--salt", "a"]).await;
    assert_eq!(salted.code, 2, "an EOA has one address: {}", salted.text());

    cli.run(&["account", "fund", "eoa", "--eth", "1 ETH", "--token", "1000 USDC"]).await.ok();
    // Nothing to start afresh before the EOA delegates: said, and nothing sent.
    let early = cli.run(&["account", "deploy", "eoa", "--reinitialize"]).await;
    assert_eq!(early.code, 2, "{}", early.text());
    assert!(early.stderr.contains("delegate it first"), "{}", early.stderr);
    assert_eq!(devnet.provider().get_transaction_count(owner).await.unwrap(), 0);
    let deployed = cli.run(&["--json", "account", "deploy", "eoa"]).await.ok().json();
    matches_schema("account-deploy", &deployed);
    assert!(deployed["delegation"].is_string(), "{deployed}");
    let code = devnet.provider().get_code_at(owner).await.unwrap();
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00], "the EOA delegates");
    // Done already: said without asking for the owner's password.
    let again = cli
        .run_with(&["--json", "account", "deploy", "eoa"], &[("LEASH_OWNER_PASSWORD", "")])
        .await
        .ok()
        .json();
    assert_eq!(again["alreadyDeployed"], true);
    let status = cli.run(&["--json", "account", "status", "eoa"]).await.ok().json();
    assert_eq!(status["deployed"], true);
    assert_eq!(status["modules"][0]["name"], "SessionKeyValidator (session keys)");

    cli.pay_session("shop", "eoa").await;
    let sent = cli
        .run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "50 USDC"])
        .await
        .ok()
        .json();
    assert_eq!(sent["operation"]["success"], true);
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, alloy::primitives::U256::from(50_000_000u64));
    let refused = cli
        .run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "101 USDC"])
        .await;
    assert_eq!(refused.code, 3, "{}", refused.text());
    assert_eq!(refused.json()["error"]["rule"], "ArgumentRuleFailed");

    cli.run(&["session", "revoke", "shop"]).await.ok();
    let revoked =
        cli.run(&["--json", "session", "send", "shop", "USDC", PAY, MERCHANT_TEXT, "1 USDC"]).await;
    assert_eq!(revoked.code, 3, "{}", revoked.text());
    assert_eq!(revoked.json()["error"]["rule"], "SessionIsRevoked");
    assert_eq!(usdc_balance(&devnet, MERCHANT).await, alloy::primitives::U256::from(50_000_000u64));

    // A new storage epoch (for an EOA that came back by another route): the sessions of before stop.
    cli.pay_session("later", "eoa").await;
    let pay = ["--json", "session", "send", "later", "USDC", PAY, MERCHANT_TEXT, "1 USDC"];
    assert_eq!(cli.run(&pay).await.ok().json()["operation"]["success"], true);
    let fresh =
        cli.run(&["--json", "account", "deploy", "eoa", "--reinitialize"]).await.ok().json();
    matches_schema("account-deploy", &fresh);
    assert!(fresh["reinitialized"].is_string(), "{fresh}");
    let voided = cli.run(&pay).await;
    assert_eq!(voided.code, 3, "{}", voided.text());
    assert_eq!(voided.json()["error"]["rule"], "SessionVoidedByRevokeAll");
    let status = cli.run(&["--json", "account", "status", "eoa"]).await.ok().json();
    assert_eq!(status["modules"][0]["name"], "SessionKeyValidator (session keys)");
    cli.run(&["account", "create", "smart", "--owner", "owner"]).await.ok();
    let not_eoa = cli.run(&["account", "deploy", "smart", "--reinitialize"]).await;
    assert_eq!(not_eoa.code, 2, "{}", not_eoa.text());
    assert!(not_eoa.stderr.contains("--reinitialize is for EOA accounts"), "{}", not_eoa.stderr);
}
