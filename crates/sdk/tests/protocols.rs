//! The example policies for real protocols (`examples/policies/uniswap-*.toml`, ...) against those protocols'
//! npm releases on the devnet, through the local bundler: each allowed call lands on the protocol and moves the
//! tokens it should; each refusal is named by the rule before signing, and by the module (through the
//! bundler's simulation) when the call is signed and sent anyway.

mod common;

use alloy::{
    primitives::{aliases::U24, Address, Bytes, U160, U256},
    sol_types::SolCall,
};
use common::{approve, lands, refused, refused_everywhere, token_balance, usdc, Stack};
use leash_contracts::bindings::uniswap::{ISwapRouter, SwapRouter, UniswapV2Router02};
use leash_core::Call;
use leash_sdk::SessionAgent;

/// Somebody the bot must never pay.
const STRANGER: Address = alloy::primitives::address!("5757575757575757575757575757575757575757");

async fn granted(stack: &Stack, file: &str) -> SessionAgent {
    let agent = stack.agent(stack.example(file));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    agent
}

/// A packed Uniswap V3 path: token, fee (3 bytes), token, ...
fn v3_path(tokens: &[Address], fees: &[u32]) -> Bytes {
    let mut path = tokens[0].to_vec();
    for (fee, token) in fees.iter().zip(&tokens[1..]) {
        path.extend_from_slice(&fee.to_be_bytes()[1..]);
        path.extend_from_slice(token.as_slice());
    }
    path.into()
}

fn exact_input_single(
    stack: &Stack,
    token_out: Address,
    recipient: Address,
    amount_in: U256,
) -> Call {
    let d = stack.deployment();
    let params = ISwapRouter::ExactInputSingleParams {
        tokenIn: d.usdc,
        tokenOut: token_out,
        fee: U24::from(if token_out == d.weth { 500 } else { 3000 }),
        recipient,
        deadline: U256::MAX,
        amountIn: amount_in,
        amountOutMinimum: U256::from(1),
        sqrtPriceLimitX96: U160::ZERO,
    };
    Call {
        target: d.uniswap.v3_swap_router,
        value: U256::ZERO,
        data: SwapRouter::exactInputSingleCall { params }.abi_encode().into(),
    }
}

fn exact_input(stack: &Stack, path: Bytes, recipient: Address, amount_in: U256) -> Call {
    let params = ISwapRouter::ExactInputParams {
        path,
        recipient,
        deadline: U256::MAX,
        amountIn: amount_in,
        amountOutMinimum: U256::from(1),
    };
    Call {
        target: stack.deployment().uniswap.v3_swap_router,
        value: U256::ZERO,
        data: SwapRouter::exactInputCall { params }.abi_encode().into(),
    }
}

#[tokio::test]
async fn uniswap_v3_bot_swaps_listed_tokens_to_itself_within_its_daily_cap() {
    let stack = Stack::start_bundled().await;
    let bot = granted(&stack, "uniswap-v3-bot.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let router = d.uniswap.v3_swap_router;

    lands(&bot, &[approve(d.usdc, router, usdc(2_000))], "approve the V3 router").await;
    let usdc_before = token_balance(&stack, d.usdc, account).await;
    lands(
        &bot,
        &[exact_input_single(&stack, d.weth, account, usdc(600))],
        "USDC -> WETH on one pool",
    )
    .await;
    assert!(token_balance(&stack, d.weth, account).await > U256::ZERO, "WETH came to the account");
    assert_eq!(token_balance(&stack, d.usdc, account).await, usdc_before - usdc(600));

    // Along a path: USDC -(0.05%)-> WETH -(0.3%)-> DAI, every hop read from the packed bytes.
    let path = v3_path(&[d.usdc, d.weth, d.dai], &[500, 3000]);
    lands(&bot, &[exact_input(&stack, path, account, usdc(300))], "USDC -> WETH -> DAI").await;
    assert!(token_balance(&stack, d.dai, account).await > U256::ZERO, "DAI came to the account");

    // The output sent elsewhere, on one pool and along a path.
    refused_everywhere(
        &bot,
        &[exact_input_single(&stack, d.weth, STRANGER, usdc(10))],
        "ArgumentRuleFailed",
        "WETH to a stranger",
    )
    .await;
    let path = v3_path(&[d.usdc, d.weth], &[500]);
    refused_everywhere(
        &bot,
        &[exact_input(&stack, path, STRANGER, usdc(10))],
        "ArgumentRuleFailed",
        "a path swap to a stranger",
    )
    .await;
    // Routed through a token off the list (the stranger's address stands for it).
    let path = v3_path(&[d.usdc, STRANGER, d.weth], &[500, 3000]);
    refused_everywhere(
        &bot,
        &[exact_input(&stack, path, account, usdc(10))],
        "ArgumentRuleFailed",
        "a hop through an unlisted token",
    )
    .await;
    // A fee tier off the list.
    let path = v3_path(&[d.usdc, d.weth], &[10_000]);
    refused(&bot, &[exact_input(&stack, path, account, usdc(10))], "ArgumentRuleFailed", "fee 1%")
        .await;
    // Four tokens: more hops than the rule's bound.
    let path = v3_path(&[d.usdc, d.weth, d.dai, d.weth], &[500, 3000, 3000]);
    refused_everywhere(
        &bot,
        &[exact_input(&stack, path, account, usdc(10))],
        "TooManyElements",
        "four tokens",
    )
    .await;
    // Trailing bytes after the last token: the router would ignore them, the module refuses the path.
    let mut path = v3_path(&[d.usdc, d.weth], &[500]).to_vec();
    path.extend_from_slice(d.usdc.as_slice());
    refused_everywhere(
        &bot,
        &[exact_input(&stack, path.into(), account, usdc(10))],
        "MalformedArguments",
        "a path with trailing bytes",
    )
    .await;
    // The daily cap: 600 of 1,000 USDC spent on one pool today.
    refused_everywhere(
        &bot,
        &[exact_input_single(&stack, d.weth, account, usdc(401))],
        "AmountLimitExceeded",
        "over the day's cap",
    )
    .await;
    lands(
        &bot,
        &[exact_input_single(&stack, d.weth, account, usdc(400))],
        "the rest of the day's cap",
    )
    .await;
}

fn v2_swap(stack: &Stack, path: Vec<Address>, to: Address, amount_in: U256) -> Call {
    let d = stack.deployment();
    let call = UniswapV2Router02::swapExactTokensForTokensCall {
        amountIn: amount_in,
        amountOutMin: U256::from(1),
        path,
        to,
        deadline: U256::MAX,
    };
    Call { target: d.uniswap.v2_router, value: U256::ZERO, data: call.abi_encode().into() }
}

#[tokio::test]
async fn uniswap_v2_bot_buys_weth_along_listed_routes_only() {
    let stack = Stack::start_bundled().await;
    let bot = granted(&stack, "uniswap-v2-bot.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;

    lands(&bot, &[approve(d.usdc, d.uniswap.v2_router, usdc(1_000))], "approve the V2 router")
        .await;
    lands(&bot, &[v2_swap(&stack, vec![d.usdc, d.weth], account, usdc(300))], "USDC -> WETH").await;
    let weth = token_balance(&stack, d.weth, account).await;
    assert!(weth > U256::ZERO, "WETH came to the account");
    // Through DAI: a V2 pair USDC/DAI does not exist, so this route is refused by the router, not the policy;
    // the policy allows it (three listed tokens, USDC first, WETH last) and the pre-flight says so.
    let through_dai = v2_swap(&stack, vec![d.usdc, d.dai, d.weth], account, usdc(10));
    let explained = bot.explain(&[through_dai]).await.unwrap();
    assert!(
        explained.verdict.is_ok(),
        "a listed route is within the policy: {}",
        explained.message
    );

    refused_everywhere(
        &bot,
        &[v2_swap(&stack, vec![d.usdc, d.weth], STRANGER, usdc(10))],
        "ArgumentRuleFailed",
        "WETH to a stranger",
    )
    .await;
    refused_everywhere(
        &bot,
        &[v2_swap(&stack, vec![d.usdc, STRANGER, d.weth], account, usdc(10))],
        "ArgumentRuleFailed",
        "through an unlisted token",
    )
    .await;
    refused_everywhere(
        &bot,
        &[v2_swap(&stack, vec![d.usdc, d.dai], account, usdc(10))],
        "ArgumentRuleFailed",
        "ending on DAI",
    )
    .await;
    refused_everywhere(
        &bot,
        &[v2_swap(&stack, vec![d.usdc, d.weth, d.usdc, d.weth], account, usdc(10))],
        "ArgumentRuleFailed",
        "four tokens (len(path) <= 3)",
    )
    .await;
    refused_everywhere(
        &bot,
        &[v2_swap(&stack, vec![], account, usdc(10))],
        "NoSuchElement",
        "an empty route",
    )
    .await;
}
