//! A devnet starts with the whole stack where its deployment says, its helpers do what they say, and
//! several run side by side.

use std::time::{Duration, Instant};

use alloy::{
    network::TransactionBuilder,
    primitives::{address, Address, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use leash_contracts::{
    bindings::{
        DevToken, DexRouter, EntryPoint, GameItems, LeashAccountFactory, LeashFactoryStaker,
        YieldVault,
    },
    ENTRYPOINT_V07,
};
use leash_devnet::{
    Deployment, Devnet, DevnetError, Mining, DEX_USDC_RESERVES, DEX_WETH_RESERVES,
    FACTORY_STAKE_ETH, WETH_PRICE_IN_USDC,
};

fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

fn deployment(devnet: &Devnet) -> &Deployment {
    devnet.deployment().expect("the devnet was started with the stack")
}

#[tokio::test]
async fn every_contract_has_code_at_its_address() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    assert_eq!(d.entry_point, ENTRYPOINT_V07);
    assert_eq!(d.entry_point, address!("0000000071727De22E5E9d8BAf0edAc6f37da032"));
    assert_eq!(d.chain_id, 31337);

    let contracts = [
        ("EntryPoint", d.entry_point),
        ("SessionKeyValidator", d.session_key_validator),
        ("LeashAccountFactory", d.account_factory),
        ("LeashFactoryStaker", d.factory_staker),
        ("LeashAccount implementation", d.account_implementation),
        ("USDC", d.usdc),
        ("WETH", d.weth),
        ("DAI", d.dai),
        ("GameItems", d.game_items),
        ("DexRouter", d.dex_router),
        ("YieldVault", d.yield_vault),
        ("Permit2", d.permit2),
        ("DevCollection", d.collection),
        ("Seaport", d.seaport),
        ("ConduitController", d.seaport_conduit_controller),
        ("Aave Pool", d.aave.pool),
        ("Aave PoolConfigurator", d.aave.pool_configurator),
        ("Aave PoolAddressesProvider", d.aave.pool_addresses_provider),
        ("Aave ACLManager", d.aave.acl_manager),
        ("Aave oracle", d.aave.oracle),
        ("Aave data provider", d.aave.pool_data_provider),
    ];
    for (name, address) in contracts {
        let code = devnet.provider().get_code_at(address).await.expect("eth_getCode");
        assert!(!code.is_empty(), "{name} has no code at {address}");
    }

    // The deployment proxy and the EntryPoint hold the code they have on every chain (what `leash network
    // check` compares).
    let proxy = devnet.provider().get_code_at(leash_contracts::CREATE2_DEPLOYER).await.unwrap();
    assert_eq!(proxy.as_ref(), &leash_contracts::release::CREATE2_DEPLOYER_CODE[..]);
    let entry_point = devnet.provider().get_code_at(ENTRYPOINT_V07).await.unwrap();
    assert_eq!(
        alloy::primitives::keccak256(&entry_point),
        leash_contracts::release::ENTRYPOINT_V07_CODE_HASH
    );

    let factory = LeashAccountFactory::new(d.account_factory, devnet.provider());
    assert_eq!(
        factory.implementation().call().await.expect("implementation()"),
        d.account_implementation
    );
    let items = GameItems::new(d.game_items, devnet.provider());
    assert_eq!(items.LEGENDARY_MIN().call().await.expect("LEGENDARY_MIN()"), U256::from(1_000_000));
}

#[tokio::test]
async fn the_factory_staker_fronts_the_factory_with_a_days_stake_owned_by_the_deployer() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    let staker = LeashFactoryStaker::new(d.factory_staker, devnet.provider());
    assert_eq!(staker.factory().call().await.unwrap(), d.account_factory);
    assert_eq!(staker.owner().call().await.unwrap(), d.deployer);
    let info = EntryPoint::new(ENTRYPOINT_V07, devnet.provider())
        .getDepositInfo(d.factory_staker)
        .call()
        .await
        .unwrap();
    assert!(info.staked);
    assert_eq!(U256::from(info.stake), units(FACTORY_STAKE_ETH, 18));
    assert_eq!(info.unstakeDelaySec, 86_400);
}

#[tokio::test]
async fn every_fresh_devnet_has_the_addresses_tools_expect() {
    let (a, b) = tokio::join!(Devnet::start(), Devnet::builder().chain_id(7).start());
    let (a, b) = (a.expect("a devnet starts"), b.expect("a devnet starts"));
    assert_eq!(deployment(&a), &Deployment::fresh(31_337));
    assert_eq!(deployment(&b), &Deployment::fresh(7));
    assert_eq!(deployment(&b).session_key_validator, deployment(&a).session_key_validator);
}

#[tokio::test]
async fn tokens_have_their_decimals_and_the_router_its_rates_and_reserves() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    let provider = devnet.provider();

    let usdc = DevToken::new(d.usdc, provider);
    let weth = DevToken::new(d.weth, provider);
    let vault = YieldVault::new(d.yield_vault, provider);
    assert_eq!(usdc.decimals().call().await.expect("decimals()"), 6);
    assert_eq!(usdc.symbol().call().await.expect("symbol()"), "USDC");
    assert_eq!(usdc.name().call().await.expect("name()"), "USD Coin (devnet)");
    assert_eq!(weth.decimals().call().await.expect("decimals()"), 18);
    assert_eq!(weth.symbol().call().await.expect("symbol()"), "WETH");
    assert_eq!(vault.decimals().call().await.expect("decimals()"), 6);
    assert_eq!(vault.asset().call().await.expect("asset()"), d.usdc);

    for (symbol, token) in &d.tokens {
        let on_chain = DevToken::new(token.address, provider);
        assert_eq!(&on_chain.symbol().call().await.expect("symbol()"), symbol);
        assert_eq!(
            on_chain.decimals().call().await.expect("decimals()"),
            token.decimals,
            "{symbol}"
        );
        assert_eq!(on_chain.name().call().await.expect("name()"), token.name, "{symbol}");
    }
    assert_eq!(d.token("USDC").map(|t| t.address), Some(d.usdc));
    assert_eq!(d.token("WETH").map(|t| t.address), Some(d.weth));

    let router = DexRouter::new(d.dex_router, provider);
    let one_weth = units(1, 18);
    let price = units(WETH_PRICE_IN_USDC, 6);
    assert_eq!(router.getAmountOut(one_weth, d.weth, d.usdc).call().await.expect("quote"), price);
    let back = router.getAmountOut(price, d.usdc, d.weth).call().await.expect("quote");
    assert!(back <= one_weth && one_weth - back < U256::from(1_000_000_000u64), "{back}");

    assert_eq!(
        usdc.balanceOf(d.dex_router).call().await.expect("balanceOf"),
        units(DEX_USDC_RESERVES, 6)
    );
    assert_eq!(
        weth.balanceOf(d.dex_router).call().await.expect("balanceOf"),
        units(DEX_WETH_RESERVES, 18)
    );
}

#[tokio::test]
async fn a_dev_account_swaps_on_the_router() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    let alice = devnet.dev_accounts()[1];
    devnet.mint_usdc(alice, units(6_000, 6)).await.expect("mint");

    let usdc = DevToken::new(d.usdc, devnet.provider());
    let weth = DevToken::new(d.weth, devnet.provider());
    let router = DexRouter::new(d.dex_router, devnet.provider());
    usdc.approve(d.dex_router, units(6_000, 6))
        .from(alice)
        .send()
        .await
        .expect("approve is sent")
        .get_receipt()
        .await
        .expect("approve is mined");
    let receipt = router
        .swapExactTokensForTokens(units(6_000, 6), U256::ZERO, d.usdc, d.weth, alice, U256::MAX)
        .from(alice)
        .send()
        .await
        .expect("swap is sent")
        .get_receipt()
        .await
        .expect("swap is mined");
    assert!(receipt.status());
    let got = weth.balanceOf(alice).call().await.expect("balanceOf");
    assert!(
        got > units(1, 18) * U256::from(2) - U256::from(1_000_000_000u64) && got <= units(2, 18),
        "{got}"
    );
    assert_eq!(usdc.balanceOf(alice).call().await.expect("balanceOf"), U256::ZERO);
}

#[tokio::test]
async fn dev_keys_are_anvils_funded_accounts() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    assert_eq!(devnet.dev_keys().len(), 10);
    let accounts = devnet.dev_accounts();
    assert_eq!(accounts[0], address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
    for account in &accounts {
        let balance = devnet.provider().get_balance(*account).await.expect("eth_getBalance");
        assert_eq!(balance, units(10_000, 18), "{account} is untouched by the deployment");
        let nonce = devnet.provider().get_transaction_count(*account).await.expect("nonce");
        assert_eq!(nonce, 0, "{account} is untouched by the deployment");
    }

    // The provider signs for any dev account; on an automining devnet a receipt comes back at once.
    let to = Address::repeat_byte(0x42);
    let started = Instant::now();
    let receipt = devnet
        .provider()
        .send_transaction(
            TransactionRequest::default()
                .with_from(accounts[3])
                .with_to(to)
                .with_value(U256::from(7)),
        )
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined");
    assert_eq!(receipt.from, accounts[3]);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(devnet.provider().get_balance(to).await.expect("balance"), U256::from(7));
}

#[tokio::test]
async fn helpers_fund_mint_deposit_and_move_the_clock() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    let provider = devnet.provider();
    let account = Address::repeat_byte(0xa1);

    devnet.fund(account, units(5, 18)).await.expect("fund");
    assert_eq!(provider.get_balance(account).await.expect("balance"), units(5, 18));

    devnet.mint_usdc(account, units(100, 6)).await.expect("mint");
    devnet.mint(d.weth, account, units(2, 18)).await.expect("mint WETH");
    let usdc = DevToken::new(d.usdc, provider);
    assert_eq!(usdc.balanceOf(account).call().await.expect("balanceOf"), units(100, 6));
    let weth = DevToken::new(d.weth, provider);
    assert_eq!(weth.balanceOf(account).call().await.expect("balanceOf"), units(2, 18));

    devnet.deposit_to_entry_point(account, units(1, 18)).await.expect("deposit");
    devnet.deposit_to_entry_point(account, units(1, 18)).await.expect("deposit");
    let entry_point = EntryPoint::new(d.entry_point, provider);
    assert_eq!(entry_point.balanceOf(account).call().await.expect("balanceOf"), units(2, 18));

    let latest = || async { provider.get_block_number().await.expect("block number") };
    let timestamp = |number: u64| async move {
        provider
            .get_block_by_number(number.into())
            .await
            .expect("block")
            .expect("exists")
            .header
            .timestamp
    };
    let now = timestamp(latest().await).await;
    devnet.set_next_block_timestamp(now + 1_000).await.expect("set timestamp");
    devnet.mine().await.expect("mine");
    assert_eq!(timestamp(latest().await).await, now + 1_000);
    devnet.increase_time(Duration::from_secs(86_400)).await.expect("increase time");
    devnet.mine().await.expect("mine");
    assert!(timestamp(latest().await).await >= now + 1_000 + 86_400);
}

#[tokio::test]
async fn snapshot_and_revert() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let account = Address::repeat_byte(0xb2);
    let usdc = DevToken::new(deployment(&devnet).usdc, devnet.provider());

    let snapshot = devnet.snapshot().await.expect("snapshot");
    devnet.mint_usdc(account, units(1, 6)).await.expect("mint");
    assert_eq!(usdc.balanceOf(account).call().await.expect("balanceOf"), units(1, 6));
    devnet.revert(snapshot).await.expect("revert");
    assert_eq!(usdc.balanceOf(account).call().await.expect("balanceOf"), U256::ZERO);

    // The deployer's nonce went back too; the helpers keep working.
    devnet.mint_usdc(account, units(2, 6)).await.expect("mint after revert");
    assert_eq!(usdc.balanceOf(account).call().await.expect("balanceOf"), units(2, 6));

    let err = devnet.revert(snapshot).await.expect_err("a snapshot is used once");
    assert!(matches!(err, DevnetError::UnknownSnapshot(_)), "{err}");
}

#[tokio::test]
async fn two_devnets_run_in_parallel_on_their_own_ports_and_chains() {
    let (a, b) = tokio::join!(
        Devnet::builder().chain_id(1001).start(),
        Devnet::builder().chain_id(1002).start()
    );
    let (a, b) = (a.expect("devnet a starts"), b.expect("devnet b starts"));
    assert_ne!(a.port(), b.port());
    assert_ne!(a.pid(), b.pid());
    assert_eq!(a.chain_id(), 1001);
    assert_eq!(b.chain_id(), 1002);
    assert_eq!(a.provider().get_chain_id().await.expect("chain id"), 1001);
    assert_eq!(b.provider().get_chain_id().await.expect("chain id"), 1002);
    assert_eq!(deployment(&a).chain_id, 1001);
    // Same deployer, same nonces: the same addresses on every devnet.
    assert_eq!(deployment(&a).session_key_validator, deployment(&b).session_key_validator);

    // What happens on one stays there.
    let account = Address::repeat_byte(0xc3);
    a.fund(account, U256::from(1)).await.expect("fund");
    assert_eq!(b.provider().get_balance(account).await.expect("balance"), U256::ZERO);
}

#[tokio::test]
async fn many_devnets_start_at_once() {
    let starts = (0..6).map(|i| Devnet::builder().chain_id(2000 + i).start());
    let devnets = futures_join_all(starts).await;
    let mut ports = Vec::new();
    for (i, devnet) in devnets.into_iter().enumerate() {
        let devnet = devnet.expect("every devnet starts");
        assert_eq!(devnet.chain_id(), 2000 + i as u64);
        ports.push(devnet.port());
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6);
}

/// Joins futures without another dependency.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("the task does not panic"));
    }
    out
}

#[tokio::test]
async fn manual_mining_mines_only_on_request_and_helpers_still_work() {
    let devnet = Devnet::builder().automine(false).start().await.expect("the devnet starts");
    assert_eq!(devnet.mining(), Mining::Manual);
    let provider = devnet.provider();
    let before = provider.get_block_number().await.expect("block number");

    let to = Address::repeat_byte(0xd4);
    let pending = provider
        .send_transaction(TransactionRequest::default().with_to(to).with_value(U256::from(1)))
        .await
        .expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        provider.get_block_number().await.expect("block number"),
        before,
        "nothing mined by itself"
    );
    devnet.mine().await.expect("mine");
    assert!(pending.get_receipt().await.expect("mined").status());

    devnet.mint_usdc(to, units(1, 6)).await.expect("mint mines its own block");
    let usdc = DevToken::new(deployment(&devnet).usdc, provider);
    assert_eq!(usdc.balanceOf(to).call().await.expect("balanceOf"), units(1, 6));
}

#[tokio::test]
async fn interval_mining_makes_blocks_by_itself() {
    let devnet = Devnet::builder()
        .block_time(Duration::from_secs(1))
        .start()
        .await
        .expect("the devnet starts");
    let provider = devnet.provider();
    let before = provider.get_block_number().await.expect("block number");
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert!(provider.get_block_number().await.expect("block number") > before);
}

#[tokio::test]
async fn a_sub_second_block_time_is_refused() {
    let err = Devnet::builder()
        .block_time(Duration::from_millis(500))
        .start()
        .await
        .expect_err("anvil cannot mine every half second");
    assert!(matches!(err, DevnetError::InvalidSetting(_)), "{err}");
}

#[tokio::test]
async fn a_bare_devnet_has_no_contracts() {
    let devnet = Devnet::builder().bare().start().await.expect("the devnet starts");
    assert!(devnet.deployment().is_none());
    let code = devnet.provider().get_code_at(ENTRYPOINT_V07).await.expect("eth_getCode");
    assert!(code.is_empty());
    let err =
        devnet.mint_usdc(Address::ZERO, U256::from(1)).await.expect_err("no USDC on a bare devnet");
    assert!(matches!(err, DevnetError::NotDeployed { .. }), "{err}");
}

#[tokio::test]
async fn a_bad_anvil_argument_is_reported_with_anvils_stderr() {
    let err =
        Devnet::builder().arg("--no-such-flag").start().await.expect_err("anvil refuses the flag");
    let DevnetError::AnvilExited { stderr, .. } = &err else { panic!("unexpected error: {err}") };
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

#[tokio::test]
async fn a_missing_anvil_path_is_reported() {
    let err = Devnet::builder()
        .anvil_path("/nonexistent/anvil")
        .start()
        .await
        .expect_err("there is no anvil there");
    assert!(matches!(err, DevnetError::AnvilMissingAt { .. }), "{err}");
    assert!(err.to_string().contains("make toolchain"), "{err}");
}

#[tokio::test]
async fn a_start_that_takes_too_long_is_reported() {
    let err = Devnet::builder()
        .startup_timeout(Duration::ZERO)
        .start()
        .await
        .expect_err("nothing starts in no time");
    assert!(matches!(err, DevnetError::RpcTimeout { .. }), "{err}");
    assert!(err.to_string().contains("startup_timeout"), "{err}");
}

#[test]
fn anvil_not_found_says_to_run_make_toolchain() {
    let err = DevnetError::AnvilNotFound { searched: "/x/node_modules".into() };
    assert!(err.to_string().contains("run `make toolchain`"), "{err}");
    assert!(err.to_string().contains("LEASH_ANVIL"), "{err}");
}

#[tokio::test]
async fn the_deployment_round_trips_through_json() {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let d = deployment(&devnet);
    let json = serde_json::to_value(d).expect("serialises");
    assert_eq!(json["tokens"]["USDC"]["decimals"], 6);
    assert!(json["sessionKeyValidator"].is_string());
    let back: Deployment = serde_json::from_value(json).expect("deserialises");
    assert_eq!(&back, d);
}
