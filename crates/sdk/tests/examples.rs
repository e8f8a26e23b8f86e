//! Every example policy in `examples/policies` on anvil with the real EntryPoint v0.7 and contracts, sent
//! through the local bundler (so every operation also passes the ERC-7562 validation rules): the session is
//! granted by transaction, the calls the example is written for land, and the calls it exists to stop are
//! refused before signing with the module's rule, and by the bundler's simulation with the same rule when the
//! pre-flight is bypassed.

use crate::common;

use alloy::{
    primitives::{address, Address, Bytes, U256},
    providers::Provider,
    sol_types::SolCall,
};
use common::{
    approve, lands, refused, refused_everywhere, token_balance, transfer, usdc, Stack, ETH,
};
use leash_contracts::bindings::{DexRouter, GameItems, YieldVault};
use leash_core::{Call, SessionPolicy, Timestamp};
use leash_sdk::SessionAgent;

const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");
const ALICE: Address = address!("A11cE00000000000000000000000000000000001");
const BOB: Address = address!("B0B0000000000000000000000000000000000002");
const CAROL: Address = address!("Ca40100000000000000000000000000000000003");
const STRANGER: Address = address!("5757575757575757575757575757575757575757");

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const GOLD: u64 = 1;
const WOOD: u64 = 2;
const LEGENDARY_SWORD: u64 = 1_000_001;

fn at(time: &str) -> u64 {
    Timestamp::parse(time).unwrap().0
}

/// Moves the chain's clock to `time` with a block mined at it, so that the next operation states `time` and
/// executes a moment later.
async fn set_clock(stack: &Stack, time: u64) {
    stack.devnet.set_next_block_timestamp(time).await.unwrap();
    stack.devnet.mine().await.unwrap();
    assert_eq!(stack.chain.now().await.unwrap(), time);
}

/// 00:00 UTC of the day after `time`.
fn next_midnight(time: u64) -> u64 {
    (time / DAY + 1) * DAY
}

/// 00:00 UTC of the first Monday after `time` (1970-01-01 was a Thursday).
fn next_monday(time: u64) -> u64 {
    let day = time / DAY;
    (day + 7 - (day + 3) % 7) * DAY
}

/// The session of `file`, granted by the owner's transaction.
async fn granted(stack: &Stack, file: &str) -> SessionAgent {
    let agent = stack.agent(stack.example(file));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    agent
}

fn native(to: Address, wei: U256) -> Call {
    Call { target: to, value: wei, data: Bytes::new() }
}

fn milli_eth(amount: u64) -> U256 {
    U256::from(amount) * U256::from(ETH / 1_000)
}

/// The WETH the devnet router pays for `amount` USDC (its fixed rate: 1 WETH per 3,000 USDC, rounded down).
fn weth_for(amount: u64) -> U256 {
    let wad = U256::from(ETH);
    let rate = wad * wad / usdc(1) / U256::from(3_000);
    usdc(amount) * rate / wad
}

/// 100 USDC to the merchant once on day one of each month of 2027; the same checks hold for both spellings.
async fn pays_the_merchant_once_on_day_one_of_each_month(file: &str) {
    let stack = Stack::start_bundled().await;
    let agent = granted(&stack, file).await;
    let pay = |to: Address, amount: u64| vec![transfer(stack.usdc(), to, usdc(amount))];
    let account = stack.account.address;

    set_clock(&stack, at("2027-01-01T00:00:10Z")).await;
    let before = stack.usdc_balance(account).await;
    refused_everywhere(&agent, &pay(STRANGER, 100), "ArgumentRuleFailed", "another recipient")
        .await;
    refused_everywhere(&agent, &pay(MERCHANT, 101), "AmountLimitExceeded", "101 USDC").await;
    assert_eq!(stack.usdc_balance(account).await, before);
    assert_eq!(stack.usdc_balance(STRANGER).await, U256::ZERO);
    assert_eq!(stack.usdc_balance(MERCHANT).await, U256::ZERO);

    lands(&agent, &pay(MERCHANT, 100), "January's payment").await;
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(100));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(100));

    refused_everywhere(&agent, &pay(MERCHANT, 100), "UseLimitExceeded", "a second January payment")
        .await;
    refused(&agent, &pay(MERCHANT, 1), "UseLimitExceeded", "even a small one").await;

    set_clock(&stack, at("2027-01-15T12:00:00Z")).await;
    refused_everywhere(&agent, &pay(MERCHANT, 100), "OutsidePeriodWindow", "mid-January").await;

    set_clock(&stack, at("2027-02-01T00:00:10Z")).await;
    refused(&agent, &pay(MERCHANT, 101), "AmountLimitExceeded", "101 USDC in February").await;
    lands(&agent, &pay(MERCHANT, 100), "February's payment").await;
    refused(&agent, &pay(MERCHANT, 100), "UseLimitExceeded", "a second February payment").await;
    assert_eq!(stack.usdc_balance(MERCHANT).await, usdc(200));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(200));
}

#[tokio::test]
async fn subscription_pays_once_on_day_one_of_each_month() {
    pays_the_merchant_once_on_day_one_of_each_month("subscription.toml").await;
}

#[tokio::test]
async fn subscription_windows_pays_once_in_each_window() {
    pays_the_merchant_once_on_day_one_of_each_month("subscription-windows.toml").await;
}

#[tokio::test]
async fn trading_bot_swaps_usdc_for_weth_in_trading_hours_within_its_caps() {
    let stack = Stack::start_bundled().await;
    let agent = granted(&stack, "trading-bot.toml").await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let swap = |amount_in: u64, to: Address, deadline: u64| Call {
        target: d.dex_router,
        value: U256::ZERO,
        data: DexRouter::swapExactTokensForTokensCall {
            amountIn: usdc(amount_in),
            amountOutMin: weth_for(amount_in) * U256::from(99) / U256::from(100),
            tokenIn: d.usdc,
            tokenOut: d.weth,
            to,
            deadline: U256::from(deadline),
        }
        .abi_encode()
        .into(),
    };

    let morning = at("2027-03-10T10:00:00Z");
    set_clock(&stack, morning).await;
    let usdc_before = stack.usdc_balance(account).await;
    lands(
        &agent,
        &[approve(d.usdc, d.dex_router, usdc(1_000)), swap(600, account, morning + HOUR)],
        "approve the router and buy WETH",
    )
    .await;
    assert_eq!(stack.usdc_balance(account).await, usdc_before - usdc(600));
    assert_eq!(token_balance(&stack, d.weth, account).await, weth_for(600));

    // Proceeds elsewhere than the account.
    refused_everywhere(
        &agent,
        &[swap(100, STRANGER, morning + HOUR)],
        "ArgumentRuleFailed",
        "a swap paying a stranger",
    )
    .await;
    assert_eq!(token_balance(&stack, d.weth, STRANGER).await, U256::ZERO);
    // USDC is a target only for `approve`: a transfer is another function.
    refused_everywhere(
        &agent,
        &[transfer(d.usdc, STRANGER, usdc(10))],
        "SelectorNotAllowed",
        "a USDC transfer to a stranger",
    )
    .await;
    assert_eq!(stack.usdc_balance(STRANGER).await, U256::ZERO);
    // Another contract, or plain ETH to an address: not a target of any action.
    let mut elsewhere = swap(100, account, morning + HOUR);
    elsewhere.target = STRANGER;
    refused(&agent, &[elsewhere], "TargetNotAllowed", "the same swap through another router").await;
    refused_everywhere(
        &agent,
        &[native(STRANGER, milli_eth(1))],
        "TargetNotAllowed",
        "ETH to a stranger",
    )
    .await;
    refused(
        &agent,
        &[native(d.dex_router, milli_eth(1))],
        "NativeTransferNotAllowed",
        "ETH to the router without a call",
    )
    .await;
    // An approval above its rule's bound.
    refused(
        &agent,
        &[approve(d.usdc, d.dex_router, usdc(1_001))],
        "ArgumentRuleFailed",
        "approving more than 1,000 USDC",
    )
    .await;

    // 600 of the day's 1,000 USDC are spent.
    refused_everywhere(
        &agent,
        &[swap(401, account, morning + HOUR)],
        "AmountLimitExceeded",
        "past the daily cap",
    )
    .await;
    lands(&agent, &[swap(400, account, morning + HOUR)], "the rest of the daily cap").await;
    assert_eq!(stack.usdc_balance(account).await, usdc_before - usdc(1_000));
    assert_eq!(token_balance(&stack, d.weth, account).await, weth_for(600) + weth_for(400));
    refused(&agent, &[swap(1, account, morning + HOUR)], "AmountLimitExceeded", "one more USDC")
        .await;

    // After trading hours, swapping stops; approving (no period) does not.
    let evening = at("2027-03-10T21:00:00Z");
    set_clock(&stack, evening).await;
    refused_everywhere(
        &agent,
        &[swap(100, account, evening + HOUR)],
        "OutsidePeriodWindow",
        "a swap at 21:00",
    )
    .await;
    lands(&agent, &[approve(d.usdc, d.dex_router, usdc(500))], "an approval at 21:00").await;

    // The next morning the cap is back.
    let next_morning = at("2027-03-11T08:00:10Z");
    set_clock(&stack, next_morning).await;
    lands(&agent, &[swap(300, account, next_morning + HOUR)], "the next morning's swap").await;
    assert_eq!(
        token_balance(&stack, d.weth, account).await,
        weth_for(600) + weth_for(400) + weth_for(300)
    );

    // Every operation was charged to the gas budget at its limits times its max fee.
    let budget = agent.session().policy.gas_budget.unwrap();
    let spent = agent.status().await.unwrap().chain.session.gas_spent;
    assert!(spent > 0 && spent < budget, "spent {spent} of {budget}");
    // With fees this high, one more operation would cost more than the budget has left.
    stack
        .devnet
        .provider()
        .raw_request::<_, ()>(
            "anvil_setNextBlockBaseFeePerGas".into(),
            (U256::from(1_000_000_000_000u64),),
        )
        .await
        .unwrap();
    stack.devnet.mine().await.unwrap();
    let usdc_before = stack.usdc_balance(account).await;
    refused_everywhere(
        &agent,
        &[swap(100, account, next_morning + 2 * HOUR)],
        "GasBudgetExceeded",
        "a swap at 1,000 gwei",
    )
    .await;
    assert_eq!(stack.usdc_balance(account).await, usdc_before);
    assert_eq!(agent.status().await.unwrap().chain.session.gas_spent, spent);
}

#[tokio::test]
async fn payroll_pays_the_team_up_to_5000_usdc_a_day() {
    let stack = Stack::start_bundled().await;
    let agent = granted(&stack, "payroll.toml").await;
    let pay = |to: Address, amount: u64| transfer(stack.usdc(), to, usdc(amount));
    let account = stack.account.address;

    // A whole day ahead, whatever the hour the devnet started at.
    let day_one = next_midnight(stack.chain.now().await.unwrap()) + 10;
    set_clock(&stack, day_one).await;
    let before = stack.usdc_balance(account).await;
    refused(
        &agent,
        &[pay(ALICE, 10), pay(STRANGER, 10)],
        "ArgumentRuleFailed",
        "someone else smuggled into a batch",
    )
    .await;
    lands(&agent, &[pay(ALICE, 2_000)], "alice's pay").await;
    lands(&agent, &[pay(BOB, 2_000), pay(CAROL, 1_000)], "bob's and carol's pay").await;
    assert_eq!(stack.usdc_balance(ALICE).await, usdc(2_000));
    assert_eq!(stack.usdc_balance(BOB).await, usdc(2_000));
    assert_eq!(stack.usdc_balance(CAROL).await, usdc(1_000));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(5_000));

    refused_everywhere(&agent, &[pay(STRANGER, 10)], "ArgumentRuleFailed", "someone else").await;
    refused_everywhere(&agent, &[pay(ALICE, 1)], "AmountLimitExceeded", "past 5,000 USDC today")
        .await;
    assert_eq!(stack.usdc_balance(STRANGER).await, U256::ZERO);
    assert_eq!(stack.usdc_balance(account).await, before - usdc(5_000));

    set_clock(&stack, day_one + DAY).await;
    refused(&agent, &[pay(ALICE, 5_001)], "AmountLimitExceeded", "5,001 USDC the next day").await;
    lands(&agent, &[pay(CAROL, 5_000)], "the next day's 5,000 USDC").await;
    assert_eq!(stack.usdc_balance(CAROL).await, usdc(6_000));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(10_000));
}

#[tokio::test]
async fn agent_payment_pays_sub_agents_5_usdc_at_a_time_50_in_all_and_tips_in_eth() {
    let stack = Stack::start_bundled().await;
    let agent = granted(&stack, "agent-payment.toml").await;
    let pay = |amount: u64| transfer(stack.usdc(), STRANGER, usdc(amount));
    let account = stack.account.address;
    // Tips are capped per UTC day: all of them fall in the day that starts here.
    set_clock(&stack, next_midnight(stack.chain.now().await.unwrap()) + 10).await;
    let before = stack.usdc_balance(account).await;

    lands(&agent, &[pay(5)], "5 USDC").await;
    assert_eq!(stack.usdc_balance(STRANGER).await, usdc(5));
    // The per-call bound is an argument rule; the 50 USDC is the session's spending cap.
    refused_everywhere(&agent, &[pay(6)], "ArgumentRuleFailed", "6 USDC in one call").await;
    refused(
        &agent,
        &[transfer(stack.usdc(), Address::ZERO, usdc(1))],
        "ArgumentRuleFailed",
        "paying the zero address",
    )
    .await;
    lands(&agent, &vec![pay(5); 9], "nine more payments of 5 USDC").await;
    assert_eq!(stack.usdc_balance(STRANGER).await, usdc(50));
    refused_everywhere(&agent, &[pay(1)], "AmountLimitExceeded", "past 50 USDC in all").await;
    assert_eq!(stack.usdc_balance(STRANGER).await, usdc(50));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(50));

    let provider = stack.devnet.provider();
    let tipped = provider.get_balance(STRANGER).await.unwrap();
    lands(&agent, &[native(STRANGER, milli_eth(1))], "a 0.001 ETH tip").await;
    assert_eq!(provider.get_balance(STRANGER).await.unwrap() - tipped, milli_eth(1));
    refused_everywhere(
        &agent,
        &[native(STRANGER, milli_eth(2))],
        "ValuePerCallExceeded",
        "a 0.002 ETH tip",
    )
    .await;
    // Tips stop at 0.01 ETH a day.
    lands(&agent, &vec![native(STRANGER, milli_eth(1)); 9], "nine more tips").await;
    refused(&agent, &[native(STRANGER, milli_eth(1))], "ValueLimitExceeded", "an eleventh tip")
        .await;
    assert_eq!(provider.get_balance(STRANGER).await.unwrap() - tipped, milli_eth(10));
}

/// Gives the account `amount` of item `id`.
///
/// `GameItems.mint` to the account reverts: minting to a contract calls `onERC1155Received`, and the account
/// has neither an ERC-1155 receiver nor a fallback handler for it
/// (`ERC7579MissingFallbackHandler(0xf23a6e61)`). The balance is written where OpenZeppelin's
/// `ERC1155._balances[id][account]` lives (slot 0) instead.
/// Mints game items to the account through the collection's open faucet (the account accepts ERC-1155).
async fn give_items(stack: &Stack, id: u64, amount: u64) {
    GameItems::new(stack.deployment().game_items, stack.devnet.provider())
        .mint(stack.account.address, U256::from(id), U256::from(amount))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(items(stack, stack.account.address, id).await, U256::from(amount));
}

async fn items(stack: &Stack, who: Address, id: u64) -> U256 {
    GameItems::new(stack.deployment().game_items, stack.devnet.provider())
        .balanceOf(who, U256::from(id))
        .call()
        .await
        .unwrap()
}

fn give(stack: &Stack, from: Address, to: Address, id: u64, amount: u64) -> Call {
    Call {
        target: stack.deployment().game_items,
        value: U256::ZERO,
        data: GameItems::safeTransferFromCall {
            from,
            to,
            id: U256::from(id),
            value: U256::from(amount),
            data: Bytes::new(),
        }
        .abi_encode()
        .into(),
    }
}

#[tokio::test]
async fn game_assets_trade_gold_and_materials_never_legendaries() {
    let stack = Stack::start_bundled().await;
    let agent = granted(&stack, "game-assets.toml").await;
    let account = stack.account.address;
    let player = STRANGER;

    give_items(&stack, GOLD, 1_000).await;
    give_items(&stack, WOOD, 500).await;
    give_items(&stack, LEGENDARY_SWORD, 1).await;

    lands(&agent, &[give(&stack, account, player, GOLD, 100)], "100 gold").await;
    lands(
        &agent,
        &[give(&stack, account, player, WOOD, 50), give(&stack, account, player, GOLD, 10)],
        "wood and gold in one batch",
    )
    .await;
    assert_eq!(items(&stack, player, GOLD).await, U256::from(110));
    assert_eq!(items(&stack, player, WOOD).await, U256::from(50));
    assert_eq!(items(&stack, account, GOLD).await, U256::from(890));
    assert_eq!(items(&stack, account, WOOD).await, U256::from(450));

    refused_everywhere(
        &agent,
        &[give(&stack, account, player, LEGENDARY_SWORD, 1)],
        "ArgumentRuleFailed",
        "a legendary item",
    )
    .await;
    assert_eq!(items(&stack, account, LEGENDARY_SWORD).await, U256::from(1));
    assert_eq!(items(&stack, player, LEGENDARY_SWORD).await, U256::ZERO);
    refused(
        &agent,
        &[
            give(&stack, account, player, GOLD, 1),
            give(&stack, account, player, LEGENDARY_SWORD, 1),
        ],
        "ArgumentRuleFailed",
        "a legendary item behind gold in a batch",
    )
    .await;
    refused(
        &agent,
        &[give(&stack, account, player, GOLD, 1_001)],
        "ArgumentRuleFailed",
        "more than 1,000 of an item",
    )
    .await;
    refused(
        &agent,
        &[give(&stack, player, account, GOLD, 1)],
        "ArgumentRuleFailed",
        "items from another holder",
    )
    .await;
    refused(
        &agent,
        &[Call {
            target: stack.deployment().game_items,
            value: U256::ZERO,
            data: GameItems::setApprovalForAllCall { operator: player, approved: true }
                .abi_encode()
                .into(),
        }],
        "SelectorNotAllowed",
        "approving a player for every item",
    )
    .await;

    // The same session with its daily operation limit lowered to 3, to reach it.
    let mut policy = stack.example("game-assets.toml");
    policy.max_ops.as_mut().unwrap().count = 3;
    let limited = stack.agent(policy);
    stack.owner.grant(&stack.chain, &stack.submitter, limited.session()).await.unwrap();
    for trade in 0..3 {
        lands(&limited, &[give(&stack, account, player, GOLD, 1)], &format!("trade {trade}")).await;
    }
    refused_everywhere(
        &limited,
        &[give(&stack, account, player, GOLD, 1)],
        "SessionUseLimitExceeded",
        "a fourth operation today",
    )
    .await;
    assert_eq!(items(&stack, player, GOLD).await, U256::from(113));
}

/// keeper.toml as the devnet reads it, but without the vault's share token (yUSDC) among the tokens.
///
/// With yUSDC listed, the policy file reader refuses `spend = { arg = "assets", max = "10000 USDC" }` on the
/// vault's `deposit` ("is in USDC but the action's target is yUSDC"), though an ERC-4626 deposit's `assets`
/// are in the underlying token.
fn keeper_policy(stack: &Stack) -> SessionPolicy {
    stack.example("keeper.toml")
}

#[tokio::test]
async fn keeper_sweeps_usdc_into_the_vault_three_times_in_the_monday_window() {
    let stack = Stack::start_bundled().await;
    let agent = stack.agent(keeper_policy(&stack));
    stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await.unwrap();
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let deposit = |amount: u64, receiver: Address| Call {
        target: d.yield_vault,
        value: U256::ZERO,
        data: YieldVault::depositCall { assets: usdc(amount), receiver }.abi_encode().into(),
    };
    let sweep =
        |amount: u64| vec![approve(d.usdc, d.yield_vault, usdc(amount)), deposit(amount, account)];
    let shares = || async {
        YieldVault::new(d.yield_vault, stack.devnet.provider())
            .balanceOf(account)
            .call()
            .await
            .unwrap()
    };

    // The session ends as the 2027-01-04 window would open, so the window used is the next Monday's.
    let monday = next_monday(stack.chain.now().await.unwrap());
    assert!(monday < at("2027-01-04T00:00:00Z"), "no Monday window left in keeper.toml's session");
    set_clock(&stack, monday + 10).await;
    let before = stack.usdc_balance(account).await;
    lands(&agent, &sweep(1_000), "the first sweep").await;
    // The vault is empty before: shares are minted one for one.
    assert_eq!(shares().await, usdc(1_000));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(1_000));
    assert_eq!(stack.usdc_balance(d.yield_vault).await, usdc(1_000));

    refused_everywhere(
        &agent,
        &[deposit(100, STRANGER)],
        "ArgumentRuleFailed",
        "a deposit for someone else",
    )
    .await;
    refused(
        &agent,
        &[approve(d.usdc, STRANGER, usdc(100))],
        "ArgumentRuleFailed",
        "approving someone else",
    )
    .await;
    assert_eq!(
        YieldVault::new(d.yield_vault, stack.devnet.provider())
            .balanceOf(STRANGER)
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );

    lands(&agent, &sweep(2_000), "the second sweep").await;
    lands(&agent, &sweep(3_000), "the third sweep").await;
    assert_eq!(shares().await, usdc(6_000));
    refused_everywhere(&agent, &sweep(100), "UseLimitExceeded", "a fourth sweep this week").await;
    assert_eq!(shares().await, usdc(6_000));
    assert_eq!(stack.usdc_balance(account).await, before - usdc(6_000));

    set_clock(&stack, monday + DAY + HOUR).await;
    refused_everywhere(&agent, &sweep(100), "OutsidePeriodWindow", "a sweep on Tuesday").await;
    assert_eq!(shares().await, usdc(6_000));
}
