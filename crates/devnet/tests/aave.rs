//! Aave V3 on a devnet: the market's registry knows every part where the deployment says, the USDC and WETH
//! reserves are listed with their tokens and prices, and a plain account supplies USDC, borrows WETH against it,
//! repays and withdraws.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use leash_contracts::bindings::{
    aave::{AToken, AaveOracle, Pool, PoolAddressesProvider},
    DevToken,
};
use leash_devnet::{Aave, Deployment, Devnet, AAVE_MARKET_ID, WETH_PRICE_IN_USDC};

fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

async fn start() -> (Devnet, Deployment) {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let deployment = devnet.deployment().expect("the devnet deploys the stack").clone();
    (devnet, deployment)
}

fn data(call: impl SolCall) -> Bytes {
    call.abi_encode().into()
}

/// Each call with a fixed gas limit: an estimate taken in one second and mined in the next is short, because the
/// pool then also accrues its reserves' interest for the elapsed time.
async fn send(devnet: &Devnet, from: Address, to: Address, input: Bytes) {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(to)
        .with_input(input)
        .with_gas_limit(3_000_000);
    let receipt = devnet
        .provider()
        .send_transaction(tx.clone())
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("mined");
    if !receipt.status() {
        // The same call on the state it met (one transaction per block here), for its revert data.
        let block = receipt.block_number.expect("mined") - 1;
        let why = devnet.provider().call(tx).block(block.into()).await;
        panic!("a call to {to} reverted in block {}: {why:?}", block + 1);
    }
}

#[tokio::test]
async fn the_market_is_where_the_deployment_says_with_usdc_and_weth_listed() {
    let (devnet, d) = start().await;
    let provider = devnet.provider();
    let aave = &d.aave;
    let registry = PoolAddressesProvider::new(aave.pool_addresses_provider, provider);
    assert_eq!(registry.getMarketId().call().await.unwrap(), AAVE_MARKET_ID);
    assert_eq!(registry.getPool().call().await.unwrap(), aave.pool);
    assert_eq!(registry.getPoolConfigurator().call().await.unwrap(), aave.pool_configurator);
    assert_eq!(registry.getACLManager().call().await.unwrap(), aave.acl_manager);
    assert_eq!(registry.getPriceOracle().call().await.unwrap(), aave.oracle);
    assert_eq!(registry.getPoolDataProvider().call().await.unwrap(), aave.pool_data_provider);

    let pool = Pool::new(aave.pool, provider);
    assert_eq!(pool.getReservesList().call().await.unwrap(), vec![d.usdc, d.weth]);
    let oracle = AaveOracle::new(aave.oracle, provider);
    for (symbol, asset, decimals, dollars) in
        [("USDC", d.usdc, 6u8, 1u64), ("WETH", d.weth, 18, WETH_PRICE_IN_USDC)]
    {
        let reserve = aave.reserve(symbol).expect("listed");
        assert_eq!(reserve.asset, asset);
        let data = pool.getReserveData(asset).call().await.unwrap();
        assert_eq!(data.aTokenAddress, reserve.a_token, "{symbol}");
        assert_eq!(data.stableDebtTokenAddress, reserve.stable_debt_token, "{symbol}");
        assert_eq!(data.variableDebtTokenAddress, reserve.variable_debt_token, "{symbol}");
        let a_token = AToken::new(reserve.a_token, provider);
        assert_eq!(a_token.symbol().call().await.unwrap(), format!("a{symbol}"));
        assert_eq!(a_token.decimals().call().await.unwrap(), decimals);
        assert_eq!(a_token.UNDERLYING_ASSET_ADDRESS().call().await.unwrap(), asset);
        assert_eq!(oracle.getSourceOfAsset(asset).call().await.unwrap(), reserve.price_feed);
        assert_eq!(
            oracle.getAssetPrice(asset).call().await.unwrap(),
            units(dollars, 8),
            "{symbol}"
        );
    }
}

#[tokio::test]
async fn an_account_supplies_usdc_borrows_weth_repays_and_withdraws() {
    let (devnet, d) = start().await;
    let provider = devnet.provider();
    let aave = &d.aave;
    let [_, user, lender, ..] = devnet.dev_accounts()[..] else {
        panic!("anvil has ten dev accounts")
    };
    let usdc = DevToken::new(d.usdc, provider);
    let weth = DevToken::new(d.weth, provider);
    let a_usdc = AToken::new(aave.reserve("USDC").unwrap().a_token, provider);
    let pool = Pool::new(aave.pool, provider);

    // Someone supplies WETH, so there is some to borrow.
    devnet.mint(d.weth, lender, units(10, 18)).await.unwrap();
    let approve = |spender: Address| DevToken::approveCall { spender, value: U256::MAX };
    send(&devnet, lender, d.weth, data(approve(aave.pool))).await;
    send(&devnet, lender, aave.pool, Aave::supply_call(d.weth, units(10, 18), lender)).await;

    let supplied = units(1_000, 6);
    devnet.mint_usdc(user, supplied).await.unwrap();
    send(&devnet, user, d.usdc, data(approve(aave.pool))).await;
    send(&devnet, user, aave.pool, Aave::supply_call(d.usdc, supplied, user)).await;
    assert_eq!(usdc.balanceOf(user).call().await.unwrap(), U256::ZERO);
    assert_eq!(a_usdc.balanceOf(user).call().await.unwrap(), supplied);
    let account = pool.getUserAccountData(user).call().await.unwrap();
    // $1,000 of collateral in the oracle's 8 decimals, 75% of it borrowable.
    assert_eq!(account.totalCollateralBase, units(1_000, 8));
    assert_eq!(account.availableBorrowsBase, units(750, 8));

    // Borrow 0.1 WETH ($300) at the variable rate, then repay it all.
    let borrowed = units(1, 17);
    let borrow = Pool::borrowCall {
        asset: d.weth,
        amount: borrowed,
        interestRateMode: U256::from(2),
        referralCode: 0,
        onBehalfOf: user,
    };
    send(&devnet, user, aave.pool, data(borrow)).await;
    assert_eq!(weth.balanceOf(user).call().await.unwrap(), borrowed);
    // Interest accrues by the second: repaying "everything" (max) needs a little more than was borrowed.
    devnet.mint(d.weth, user, units(1, 16)).await.unwrap();
    send(&devnet, user, d.weth, data(approve(aave.pool))).await;
    let repay = Pool::repayCall {
        asset: d.weth,
        amount: U256::MAX,
        interestRateMode: U256::from(2),
        onBehalfOf: user,
    };
    send(&devnet, user, aave.pool, data(repay)).await;
    assert_eq!(pool.getUserAccountData(user).call().await.unwrap().totalDebtBase, U256::ZERO);

    // Withdraw part to the account itself, then the rest ("max").
    send(&devnet, user, aave.pool, Aave::withdraw_call(d.usdc, units(400, 6), user)).await;
    assert_eq!(usdc.balanceOf(user).call().await.unwrap(), units(400, 6));
    // Nobody borrows USDC, so its suppliers earn nothing: 600 USDC are left, to the unit.
    assert_eq!(a_usdc.balanceOf(user).call().await.unwrap(), units(600, 6));
    send(&devnet, user, aave.pool, Aave::withdraw_call(d.usdc, U256::MAX, user)).await;
    assert_eq!(a_usdc.balanceOf(user).call().await.unwrap(), U256::ZERO);
    assert_eq!(usdc.balanceOf(user).call().await.unwrap(), supplied);
}
