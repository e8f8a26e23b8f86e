//! Uniswap V2 and V3 from their npm releases on a devnet: the pairs and pools are where the deployment says,
//! priced at the devnet's prices, and a plain account swaps on both versions for what QuoterV2 and the V2
//! router quote.

use alloy::{
    primitives::{aliases::U24, Address, Bytes, U160, U256},
    providers::Provider,
};
use leash_contracts::bindings::{
    uniswap::{
        IQuoterV2, ISwapRouter, QuoterV2, SwapRouter, UniswapV2Factory, UniswapV2Pair,
        UniswapV2Router02, UniswapV3Factory, UniswapV3Pool,
    },
    DevToken,
};
use leash_devnet::{Deployment, Devnet, Uniswap, UNISWAP_POOL_WETH, WETH_PRICE_IN_USDC};

fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

async fn start() -> (Devnet, Deployment, Uniswap) {
    let devnet = Devnet::start().await.expect("the devnet starts");
    let deployment = devnet.deployment().expect("the devnet deploys the stack").clone();
    let uniswap = deployment.uniswap.clone();
    (devnet, deployment, uniswap)
}

/// `a` is within `per_mille`/1000 of `b`.
fn close(a: U256, b: U256, per_mille: u64) -> bool {
    a.abs_diff(b) * U256::from(1_000) <= b * U256::from(per_mille)
}

#[tokio::test]
async fn pairs_and_pools_are_seeded_at_the_devnet_price() {
    let (devnet, d, uniswap) = start().await;
    let provider = devnet.provider();
    assert_eq!(d, Deployment::fresh(31_337));
    for (name, address) in [
        ("UniswapV2Factory", uniswap.v2_factory),
        ("UniswapV2Router02", uniswap.v2_router),
        ("UniswapV3Factory", uniswap.v3_factory),
        ("SwapRouter", uniswap.v3_swap_router),
        ("QuoterV2", uniswap.v3_quoter),
        ("NonfungiblePositionManager", uniswap.v3_position_manager),
    ] {
        let code = provider.get_code_at(address).await.expect("eth_getCode");
        assert!(!code.is_empty(), "{name} has no code at {address}");
    }

    // The routers' CREATE2 addresses are the ones the factories created, holding the seeded amounts.
    let v2_factory = UniswapV2Factory::new(uniswap.v2_factory, provider);
    let worth = UNISWAP_POOL_WETH * WETH_PRICE_IN_USDC;
    for (name, (a, b), (amount_a, amount_b)) in [
        ("USDC/WETH", (d.usdc, d.weth), (units(worth, 6), units(UNISWAP_POOL_WETH, 18))),
        ("WETH/DAI", (d.weth, d.dai), (units(UNISWAP_POOL_WETH, 18), units(worth, 18))),
    ] {
        let pair = uniswap.v2_pairs[name];
        assert_eq!(v2_factory.getPair(a, b).call().await.expect("getPair"), pair, "{name}");
        let reserves = UniswapV2Pair::new(pair, provider).getReserves().call().await.unwrap();
        let (reserve_a, reserve_b) = if a < b {
            (reserves._reserve0, reserves._reserve1)
        } else {
            (reserves._reserve1, reserves._reserve0)
        };
        assert_eq!((U256::from(reserve_a), U256::from(reserve_b)), (amount_a, amount_b), "{name}");
    }
    assert_eq!(uniswap.v2_pairs.len(), 2);

    let v3_factory = UniswapV3Factory::new(uniswap.v3_factory, provider);
    for (name, (a, b), fee) in [
        ("USDC/WETH/500", (d.usdc, d.weth), 500u32),
        ("USDC/WETH/3000", (d.usdc, d.weth), 3000),
        ("WETH/DAI/3000", (d.weth, d.dai), 3000),
    ] {
        let pool = uniswap.v3_pools[name];
        let created = v3_factory.getPool(a, b, U24::from(fee)).call().await.expect("getPool");
        assert_eq!(created, pool, "{name}");
        let pool = UniswapV3Pool::new(pool, provider);
        assert!(pool.liquidity().call().await.expect("liquidity") > 0, "{name}");
        // 1 WETH = 3,000 USDC = 3,000 DAI, as raw token1 per raw token0.
        let (token0, token1) = if a < b { (a, b) } else { (b, a) };
        let raw = |token: Address| if token == d.usdc { units(3_000, 6) } else { units(3_000, 18) };
        let (per0, per1) = if token0 == d.weth {
            (units(1, 18), raw(token1))
        } else {
            (raw(token0), units(1, 18))
        };
        let price = pool.slot0().call().await.expect("slot0").sqrtPriceX96;
        let price = U256::from(price);
        // price^2 / 2^192 = per1 / per0, to within rounding.
        let lhs = price * price / (U256::from(1) << 96) * per0;
        let rhs = per1 << 96;
        assert!(close(lhs, rhs, 1), "{name}: sqrtPriceX96 {price}");
    }
    assert_eq!(uniswap.v3_pools.len(), 3);
}

/// A swap's gas, stated rather than estimated: the estimate runs in a block whose timestamp may equal the last
/// swap's, where a pair skips its price accumulators, and the swap then lands a second later and needs more.
const SWAP_GAS: u64 = 1_000_000;

#[tokio::test]
async fn a_plain_account_swaps_on_v2_and_v3_for_what_is_quoted() {
    let (devnet, d, uniswap) = start().await;
    let provider = devnet.provider();
    let trader = devnet.dev_accounts()[1];
    let usdc = DevToken::new(d.usdc, provider);
    let weth = DevToken::new(d.weth, provider);
    let dai = DevToken::new(d.dai, provider);
    let amount_in = units(3_000, 6);
    devnet.mint_usdc(trader, amount_in * U256::from(3)).await.expect("mint");
    for spender in [uniswap.v2_router, uniswap.v3_swap_router] {
        let approve = usdc.approve(spender, U256::MAX).from(trader).send().await.expect("sent");
        assert!(approve.get_receipt().await.expect("mined").status());
    }
    let one_weth = units(1, 18);

    // V2: 3,000 USDC for about 1 WETH, less the 0.3% fee and the price impact on a 3,000,000 USDC pair.
    let router = UniswapV2Router02::new(uniswap.v2_router, provider);
    let path = vec![d.usdc, d.weth];
    let quoted = router.getAmountsOut(amount_in, path.clone()).call().await.expect("getAmountsOut");
    let quoted = quoted[1];
    assert!(quoted < one_weth && close(quoted, one_weth, 5), "{quoted}");
    let swap = router
        .swapExactTokensForTokens(amount_in, quoted, path, trader, U256::MAX)
        .from(trader)
        .gas(SWAP_GAS)
        .send()
        .await
        .expect("sent");
    assert!(swap.get_receipt().await.expect("mined").status());
    let v2_out = weth.balanceOf(trader).call().await.expect("balanceOf");
    assert_eq!(v2_out, quoted);

    // V3, one pool: 3,000 USDC through the 0.05% USDC/WETH pool.
    let quoter = QuoterV2::new(uniswap.v3_quoter, provider);
    let quoted = quoter
        .quoteExactInputSingle(IQuoterV2::QuoteExactInputSingleParams {
            tokenIn: d.usdc,
            tokenOut: d.weth,
            amountIn: amount_in,
            fee: U24::from(500),
            sqrtPriceLimitX96: U160::ZERO,
        })
        .call()
        .await
        .expect("quoteExactInputSingle")
        .amountOut;
    assert!(quoted < one_weth && close(quoted, one_weth, 3), "{quoted}");
    let swap_router = SwapRouter::new(uniswap.v3_swap_router, provider);
    let swap = swap_router
        .exactInputSingle(ISwapRouter::ExactInputSingleParams {
            tokenIn: d.usdc,
            tokenOut: d.weth,
            fee: U24::from(500),
            recipient: trader,
            deadline: U256::MAX,
            amountIn: amount_in,
            amountOutMinimum: quoted,
            sqrtPriceLimitX96: U160::ZERO,
        })
        .from(trader)
        .gas(SWAP_GAS)
        .send()
        .await
        .expect("sent");
    assert!(swap.get_receipt().await.expect("mined").status());
    let v3_out = weth.balanceOf(trader).call().await.expect("balanceOf") - v2_out;
    assert_eq!(v3_out, quoted);

    // V3, two pools: USDC -> WETH (0.05%) -> DAI (0.3%), a packed path: token, fee (3 bytes), token, ...
    let path: Bytes = [
        d.usdc.as_slice(),
        &500u32.to_be_bytes()[1..],
        d.weth.as_slice(),
        &3000u32.to_be_bytes()[1..],
        d.dai.as_slice(),
    ]
    .concat()
    .into();
    let quoted = quoter
        .quoteExactInput(path.clone(), amount_in)
        .call()
        .await
        .expect("quoteExactInput")
        .amountOut;
    // Both fees (0.35%), and the price impact of this swap and the one before on the full-range pools.
    let three_thousand_dai = units(3_000, 18);
    assert!(quoted < three_thousand_dai && close(quoted, three_thousand_dai, 10), "{quoted}");
    let swap = swap_router
        .exactInput(ISwapRouter::ExactInputParams {
            path,
            recipient: trader,
            deadline: U256::MAX,
            amountIn: amount_in,
            amountOutMinimum: quoted,
        })
        .from(trader)
        .gas(SWAP_GAS)
        .send()
        .await
        .expect("sent");
    assert!(swap.get_receipt().await.expect("mined").status());
    assert_eq!(dai.balanceOf(trader).call().await.expect("balanceOf"), quoted);
    assert_eq!(usdc.balanceOf(trader).call().await.expect("balanceOf"), U256::ZERO);
}
