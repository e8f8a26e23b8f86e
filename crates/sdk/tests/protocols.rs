//! The example policies for real protocols (`examples/policies/uniswap-*.toml`, ...) against those protocols'
//! npm releases on the devnet, through the local bundler: each allowed call lands on the protocol and moves the
//! tokens it should; each refusal is named by the rule before signing, and by the module (through the
//! bundler's simulation) when the call is signed and sent anyway.

use crate::common;

use alloy::{
    network::TransactionBuilder,
    primitives::{aliases::U24, keccak256, Address, Bytes, B256, U160, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolValue},
};
use common::{approve, lands, refused, refused_everywhere, token_balance, usdc, Stack};
use leash_contracts::bindings::{
    uniswap::{ISwapRouter, SwapRouter, UniswapV2Router02},
    DevCollection,
};
use leash_core::{Call, TypedDataRequest};
use leash_devnet::{
    permit2::{self, TransferPermit, PERMIT2},
    seaport::Listing,
    Aave,
};
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
    // The refusal names the rule of the action the call was judged against (the path swap's hop rule, not the
    // single-pool action's rule at the same index).
    let path = v3_path(&[d.usdc, STRANGER, d.weth], &[500, 3000]);
    let explained = bot.explain(&[exact_input(&stack, path, account, usdc(10))]).await.unwrap();
    assert!(explained.message.contains("params.path.token[*]"), "{}", explained.message);
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

/// Lists token `id` of the devnet's collection for `price` wei, from anvil's dev account 1 (minted, Seaport
/// approved), and returns the call that buys it and the wei it takes.
async fn listed(stack: &Stack, collection: Address, id: u64, price: U256) -> Call {
    let d = stack.deployment();
    let seller_key = stack.devnet.dev_keys()[1].clone();
    let seller = seller_key.address();
    let provider = stack.devnet.provider();
    if collection == d.collection {
        let nft = DevCollection::new(d.collection, provider);
        let minted = nft.mint(seller, U256::from(id)).from(seller).send().await.unwrap();
        assert!(minted.get_receipt().await.unwrap().status());
        let approved = nft.setApprovalForAll(d.seaport, true).from(seller).send().await.unwrap();
        assert!(approved.get_receipt().await.unwrap().status());
    }
    let listing = Listing::new(seller, collection, U256::from(id), price);
    let signature = listing.sign(&seller_key, d.seaport, d.chain_id).unwrap();
    Call { target: d.seaport, value: listing.total_price(), data: listing.fulfill_call(signature) }
}

fn milli_eth(amount: u64) -> U256 {
    U256::from(amount) * U256::from(common::ETH / 1_000)
}

#[tokio::test]
async fn nft_buyer_buys_from_its_collection_within_its_per_purchase_and_daily_caps() {
    let stack = Stack::start_bundled().await;
    let buyer = granted(&stack, "nft-buyer.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let nft = DevCollection::new(d.collection, stack.devnet.provider());

    let first = listed(&stack, d.collection, 1, milli_eth(400)).await;
    lands(&buyer, &[first], "buy token 1 for 0.4 ETH").await;
    assert_eq!(
        nft.ownerOf(U256::from(1)).call().await.unwrap(),
        account,
        "the NFT is the account's"
    );

    // Another collection (any other contract in the order's offer), and more than 0.5 ETH a purchase.
    let other = listed(&stack, STRANGER, 2, milli_eth(100)).await;
    refused_everywhere(&buyer, &[other], "ArgumentRuleFailed", "another collection").await;
    let dear = listed(&stack, d.collection, 3, milli_eth(600)).await;
    refused_everywhere(&buyer, &[dear], "ValuePerCallExceeded", "0.6 ETH for one").await;

    // 0.4 + 3 × 0.5 = 1.9 ETH today; 0.2 ETH more passes the 2 ETH day.
    for id in 4..=6 {
        let call = listed(&stack, d.collection, id, milli_eth(500)).await;
        lands(&buyer, &[call], "buy for 0.5 ETH").await;
    }
    let over = listed(&stack, d.collection, 7, milli_eth(200)).await;
    refused_everywhere(&buyer, &[over], "ValueLimitExceeded", "past 2 ETH today").await;
    assert_eq!(nft.balanceOf(account).call().await.unwrap(), U256::from(4));
}

#[tokio::test]
async fn aave_treasury_supplies_and_withdraws_usdc_for_the_account_only() {
    let stack = Stack::start_bundled().await;
    let treasury = granted(&stack, "aave-treasury.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let pool = d.aave.pool;
    let a_usdc = d.aave.reserve("USDC").unwrap().a_token;
    let call = |data: Bytes| Call { target: pool, value: U256::ZERO, data };

    let supply =
        [approve(d.usdc, pool, usdc(1_000)), call(Aave::supply_call(d.usdc, usdc(1_000), account))];
    lands(&treasury, &supply, "approve and supply 1,000 USDC").await;
    assert_eq!(token_balance(&stack, a_usdc, account).await, usdc(1_000), "aUSDC to the account");

    lands(&treasury, &[call(Aave::withdraw_call(d.usdc, usdc(400), account))], "withdraw 400 USDC")
        .await;
    assert_eq!(token_balance(&stack, a_usdc, account).await, usdc(600));

    refused_everywhere(
        &treasury,
        &[call(Aave::withdraw_call(d.usdc, usdc(100), STRANGER))],
        "ArgumentRuleFailed",
        "withdraw to another address",
    )
    .await;
    refused_everywhere(
        &treasury,
        &[call(Aave::supply_call(d.usdc, usdc(100), STRANGER))],
        "ArgumentRuleFailed",
        "supply on behalf of another address",
    )
    .await;
    refused_everywhere(
        &treasury,
        &[call(Aave::withdraw_call(d.weth, U256::from(1), account))],
        "ArgumentRuleFailed",
        "another asset",
    )
    .await;
    assert_eq!(token_balance(&stack, d.usdc, STRANGER).await, U256::ZERO);
}

/// The merchant of `permit2-payments.toml`.
const MERCHANT: Address = alloy::primitives::address!("4d65726368616e74000000000000000000000001");

#[tokio::test]
async fn permit2_payments_sign_one_time_transfers_the_merchant_can_use_once() {
    let stack = Stack::start_bundled().await;
    let payer = granted(&stack, "permit2-payments.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    lands(&payer, &[approve(d.usdc, PERMIT2, usdc(1_000))], "approve Permit2 for USDC").await;

    // The message as the policy's type lays it out: the primary fields (the nested struct by its hash), then
    // the nested struct's own fields.
    let permit = |amount: U256, spender: Address, nonce: u64| {
        let permitted = (d.usdc, amount).abi_encode_params();
        let nested_hash = keccak256(
            [keccak256("TokenPermissions(address token,uint256 amount)").as_slice(), &permitted]
                .concat(),
        );
        let primary = (nested_hash, spender, U256::from(nonce), U256::MAX).abi_encode_params();
        TypedDataRequest {
            verifier: PERMIT2,
            domain_separator: permit2::domain(d.chain_id).separator(),
            type_hash: keccak256(
                "PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline)TokenPermissions(address token,uint256 amount)",
            ),
            fields: [primary, permitted].concat().into(),
            slot: None,
        }
    };
    let signed = payer.sign_typed_data(&permit(usdc(100), MERCHANT, 7)).await.unwrap();
    let transfer = TransferPermit {
        token: d.usdc,
        amount: usdc(100),
        spender: MERCHANT,
        nonce: U256::from(7),
        deadline: U256::MAX,
    };
    assert_eq!(signed.hash, transfer.signing_hash(d.chain_id), "the digest Permit2 checks");

    // The merchant takes 100 USDC with it through Permit2, which asks the account (ERC-1271); once only.
    let provider = stack.devnet.provider();
    let _: () = provider.raw_request("anvil_impersonateAccount".into(), (MERCHANT,)).await.unwrap();
    stack.devnet.fund(MERCHANT, U256::from(common::ETH)).await.unwrap();
    let take = || {
        TransactionRequest::default()
            .with_from(MERCHANT)
            .with_to(PERMIT2)
            .with_input(transfer.transfer_call(
                account,
                MERCHANT,
                usdc(100),
                signed.signature.clone(),
            ))
            .with_gas_limit(500_000)
    };
    // Sent as the impersonated merchant (anvil signs nothing for it), then its receipt awaited.
    let hash: B256 = provider.raw_request("eth_sendTransaction".into(), (take(),)).await.unwrap();
    let receipt = loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
            break receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert!(receipt.status(), "Permit2 accepted the session's signature");
    assert_eq!(token_balance(&stack, d.usdc, MERCHANT).await, usdc(100));
    assert!(provider.call(take()).await.is_err(), "a used permit is refused");

    // Over the cap, or for another spender: never signed.
    for (request, step) in [
        (permit(usdc(101), MERCHANT, 8), "101 USDC"),
        (permit(usdc(10), STRANGER, 9), "a stranger"),
    ] {
        let error = payer.sign_typed_data(&request).await.unwrap_err();
        assert!(matches!(error, leash_sdk::Error::SigningRefused { .. }), "{step}: {error}");
        assert_eq!(error.rule(), Some("SigningRuleFailed"), "{step}: {error}");
    }
}
