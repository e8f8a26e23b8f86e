//! The seed scenarios: agents acting through session keys on the [`LocalStack`], each told as the steps it
//! attempted and what became of them.
//!
//! A step [landed](Outcome::Landed), was [rejected](Outcome::Rejected) or is a setup fact
//! ([done](Outcome::Done)). A rejection records two verdicts: the pre-flight's, which refuses before anything
//! is signed, and then what the bundler and the chain say when the same calls are signed and sent anyway. The
//! second is the point of leash: the session's envelope holds on chain, whatever the agent's software does.
//!
//! The scenarios assert nothing: they report what happened, for people ([`Progress`]) and for tools
//! ([`Scenario`] serializes to JSON).

use alloy::{
    primitives::{address, aliases::U24, Address, Bytes, B256, U160, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use leash_contracts::bindings::{
    uniswap::{ISwapRouter, SwapRouter},
    DevCollection, DexRouter, GameItems,
};
use leash_core::{
    encode_call, Call, GrantTarget, PolicyFile, PublicKey, Session, SessionPolicy, Timestamp,
};
use leash_devnet::{seaport::Listing, Aave, LocalStack, StackError, StackOptions, ETH};
use leash_sdk::{
    lanes::Lane,
    signer::{EcdsaSigner, SessionSigner},
    Error, Owner, SentOperation, SessionAgent, SmartAccount,
};
use serde::Serialize;
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// One scenario's story: what the agent attempted, step by step, and what happened.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// A short name, e.g. `subscription`.
    pub name: &'static str,
    /// What the scenario shows, in a sentence.
    pub title: String,
    /// The steps, in the order they happened.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// How many operations landed.
    pub fn landed(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.outcome, Outcome::Landed { .. })).count()
    }

    /// The rules that rejected operations, in order (`?` where no rule was named).
    pub fn rejected_rules(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| match &s.outcome {
                Outcome::Rejected { rule, .. } => Some(rule.as_deref().unwrap_or("?")),
                _ => None,
            })
            .collect()
    }
}

/// One thing an agent or the owner attempted.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What was attempted, e.g. "pay 100 USDC to the merchant on 2027-03-01".
    pub attempted: String,
    /// What became of it.
    pub outcome: Outcome,
}

/// What became of a step.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// The operation was included and its calls succeeded.
    #[serde(rename_all = "camelCase")]
    Landed {
        /// The UserOperation's hash.
        user_op_hash: B256,
        /// The bundle transaction that carried it.
        transaction_hash: B256,
        /// The gas the operation used (in JSON a decimal string, as in every leash output).
        #[serde(serialize_with = "leash_sdk::report::decimal")]
        gas_used: U256,
    },
    /// The operation was refused.
    #[serde(rename_all = "camelCase")]
    Rejected {
        /// The rule that refused it (the module's error name), when one was named.
        rule: Option<String>,
        /// The pre-flight's verdict in words (it refuses before anything is signed).
        preflight: String,
        /// What the bundler or the chain said when the operation was signed and sent anyway.
        enforced_by: String,
    },
    /// An x402 payment was signed by the session key and settled: the seller served the resource.
    #[serde(rename_all = "camelCase")]
    Paid {
        /// What was paid, e.g. "0.01 USDC".
        amount: String,
        /// The payee.
        to: Address,
        /// The settlement transaction.
        transaction: String,
    },
    /// A setup fact: a session granted or revoked, an account staked, a chain started.
    #[serde(rename_all = "camelCase")]
    Done {
        /// What was done, in words.
        detail: String,
    },
}

/// Follows the scenarios as they run, e.g. to print them.
pub trait Progress: Send + Sync {
    /// A scenario starts.
    fn started(&self, scenario: &str, title: &str);
    /// A step of `scenario` finished.
    fn step(&self, scenario: &str, step: &Step);
    /// Something is about to be waited for: an operation's inclusion, a chain, a transaction.
    fn waiting(&self, what: &str);
}

/// A [`Progress`] that reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _scenario: &str, _title: &str) {}
    fn step(&self, _scenario: &str, _step: &Step) {}
    fn waiting(&self, _what: &str) {}
}

/// Why a scenario could not run to its end. A refused operation is not an error: it is a step.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The local stack failed.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The SDK failed other than by refusing an operation (network, bad input).
    #[error(transparent)]
    Sdk(#[from] Error),
    /// Any other setup step.
    #[error("{0}")]
    Setup(String),
}

impl From<leash_core::Error> for DemoError {
    fn from(error: leash_core::Error) -> Self {
        Self::Sdk(error.into())
    }
}

impl From<leash_devnet::DevnetError> for DemoError {
    fn from(error: leash_devnet::DevnetError) -> Self {
        Self::Stack(error.into())
    }
}

/// Runs the eleven scenarios on one [`LocalStack`], each with its own session, and returns their stories.
pub async fn run_all(progress: &dyn Progress) -> Result<Vec<Scenario>, DemoError> {
    progress.waiting("the local stack (anvil, contracts, bundler, the owner's account) to start");
    let stack = LocalStack::start().await?;
    // The chain's clock only moves forward. The subscription walks it through every month of 2027 to
    // December, where the trading bot's example session (valid until 2027-12-31) is about to end; every
    // other scenario works from the clock as it finds it. So the subscription runs last.
    Ok(vec![
        defi_bot(&stack, progress).await?,
        uniswap_bot(&stack, progress).await?,
        aave_treasury(&stack, progress).await?,
        nft_buyer(&stack, progress).await?,
        game_agent(&stack, progress).await?,
        agent_payment(&stack, progress).await?,
        revocation(&stack, progress).await?,
        multichain(&stack, progress).await?,
        nonce_lanes(&stack, progress).await?,
        x402_market(&stack, progress).await?,
        subscription(&stack, progress).await?,
    ])
}

/// subscription.toml's merchant.
pub const MERCHANT: Address = address!("4d65726368616e74000000000000000000000001");
/// A merchant the subscription does not pay.
pub const OTHER_MERCHANT: Address = address!("4d65726368616e74000000000000000000000002");
/// Somebody nobody means to pay.
pub const STRANGER: Address = address!("5757575757575757575757575757575757575757");
/// The player the game agent trades with.
pub const PLAYER: Address = address!("506c617965720000000000000000000000000001");
/// The shop the revoked session pays.
pub const SHOP: Address = address!("53686f7000000000000000000000000000000001");
/// The vendor paid on both chains.
pub const VENDOR: Address = address!("56656e646f720000000000000000000000000001");
/// The sub-agent's owner key (a fixed development key, so its account's address is the same on every run).
const SUB_AGENT_KEY: B256 = B256::repeat_byte(0x5a);

const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// The subscription of `subscription.toml`: 100 USDC to the merchant once on day one of each month of 2027.
/// Every month's payment lands; in January a second payment, 101 USDC and another merchant are refused.
pub async fn subscription(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "subscription",
        "A streaming subscription pays the merchant 100 USDC on day one of each month of 2027, and nothing else",
        progress,
    );
    let agent = run.grant(stack, example(stack, "subscription.toml")?).await?;
    let usdc_token = stack.deployment().usdc;
    let pay = |to: Address, amount: u64| [transfer(usdc_token, to, usdc(amount))];
    for month in 1..=12 {
        let day_one = format!("2027-{month:02}-01");
        // Ten seconds into the day: the payment window is day one, 00:00 to 24:00 UTC.
        run.set_clock(stack, Timestamp::parse(&format!("{day_one}T00:00:10Z"))?.0).await?;
        let first_month = month == 1;
        if first_month {
            let over_cap = format!("pay 101 USDC to the merchant on {day_one}");
            run.attempt(&agent, over_cap, &pay(MERCHANT, 101), Lane::DEFAULT).await?;
            let elsewhere = format!("pay 100 USDC to another merchant on {day_one}");
            run.attempt(&agent, elsewhere, &pay(OTHER_MERCHANT, 100), Lane::DEFAULT).await?;
        }
        let payment = format!("pay 100 USDC to the merchant on {day_one}");
        run.attempt(&agent, payment, &pay(MERCHANT, 100), Lane::DEFAULT).await?;
        if first_month {
            let again = format!("pay 100 USDC to the merchant again on {day_one}");
            run.attempt(&agent, again, &pay(MERCHANT, 100), Lane::DEFAULT).await?;
        }
    }
    Ok(run.finish())
}

/// The trading bot of `trading-bot.toml` in trading hours: swaps through the router land, a USDC transfer to
/// an arbitrary address is refused; then the same bot with a small gas budget swaps until the budget refuses.
pub async fn defi_bot(stack: &LocalStack, progress: &dyn Progress) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "defi_bot",
        "A trading bot swaps USDC for WETH through the router, never moves funds elsewhere, and stops at its gas budget",
        progress,
    );
    let morning = next_time_of_day(stack.chain.now().await?, 10 * HOUR);
    run.set_clock(stack, morning).await?;
    run.done(
        "wait for trading hours (08:00-20:00 UTC)",
        format!("the chain's clock is at {}", Timestamp(morning)),
    );
    let bot = run.grant(stack, example(stack, "trading-bot.toml")?).await?;
    let d = stack.deployment();
    let swap = |amount: u64| buy_weth(stack, amount, morning + HOUR);
    let approve_and_swap = [approve(d.usdc, d.dex_router, usdc(1_000)), swap(600).await?];
    let first = "approve the router for 1,000 USDC and swap 600 USDC for WETH";
    run.attempt(&bot, first, &approve_and_swap, Lane::DEFAULT).await?;
    run.attempt(&bot, "swap 300 USDC for WETH", &[swap(300).await?], Lane::DEFAULT).await?;
    let transfer_away = format!("transfer 10 USDC to {STRANGER}, an arbitrary address");
    let stray = [transfer(d.usdc, STRANGER, usdc(10))];
    run.attempt(&bot, transfer_away, &stray, Lane::DEFAULT).await?;

    let budgeted = run.grant(stack, small_gas_budget(stack, &run).await?).await?;
    // A bounded loop: the budget is sized for two swaps, so the third is refused.
    for n in 1..=5 {
        let attempted = format!("swap 10 USDC for WETH with the small gas budget ({n})");
        let outcome = run.attempt(&budgeted, attempted, &[swap(10).await?], Lane::DEFAULT).await?;
        if matches!(outcome, Outcome::Rejected { .. }) {
            break;
        }
    }
    Ok(run.finish())
}

/// The trading bot of `uniswap-v3-bot.toml` on the real Uniswap V3: a swap on one pool and one along a packed
/// path land; a route through a token off its list, and a swap whose output goes to someone else, are refused.
pub async fn uniswap_bot(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "uniswap_bot",
        "A trading bot swaps on Uniswap V3 between listed tokens only, the output always back to the account",
        progress,
    );
    let bot = run.grant(stack, example(stack, "uniswap-v3-bot.toml")?).await?;
    let d = stack.deployment();
    let account = stack.account.address;
    let router = d.uniswap.v3_swap_router;
    let first =
        "approve the Uniswap V3 router for 1,000 USDC and swap 500 USDC for WETH on the 0.05% pool";
    let calls = [
        approve(d.usdc, router, usdc(1_000)),
        v3_single(router, d.usdc, d.weth, 500, account, usdc(500)),
    ];
    run.attempt(&bot, first, &calls, Lane::DEFAULT).await?;
    let path = v3_path(&[d.usdc, d.weth, d.dai], &[500, 3_000]);
    let along = "swap 200 USDC for DAI along the path USDC -(0.05%)-> WETH -(0.3%)-> DAI";
    run.attempt(&bot, along, &[v3_path_swap(router, path, account, usdc(200))], Lane::DEFAULT)
        .await?;
    let path = v3_path(&[d.usdc, STRANGER, d.weth], &[500, 3_000]);
    let off_list =
        format!("swap 100 USDC for WETH routed through {STRANGER}, a token off the list");
    run.attempt(&bot, off_list, &[v3_path_swap(router, path, account, usdc(100))], Lane::DEFAULT)
        .await?;
    let elsewhere = format!("swap 100 USDC for WETH with the output sent to {STRANGER}");
    let calls = [v3_single(router, d.usdc, d.weth, 500, STRANGER, usdc(100))];
    run.attempt(&bot, elsewhere, &calls, Lane::DEFAULT).await?;
    Ok(run.finish())
}

/// The treasury key of `aave-treasury.toml` on the real Aave V3: it supplies USDC for the account and takes
/// some back; a withdrawal to another address is refused.
pub async fn aave_treasury(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "aave_treasury",
        "A treasury key supplies USDC to Aave V3 and withdraws it, for the account only",
        progress,
    );
    let treasury = run.grant(stack, example(stack, "aave-treasury.toml")?).await?;
    let d = stack.deployment();
    let account = stack.account.address;
    let pool = d.aave.pool;
    let call = |data: Bytes| Call { target: pool, value: U256::ZERO, data };
    let supply =
        [approve(d.usdc, pool, usdc(2_000)), call(Aave::supply_call(d.usdc, usdc(2_000), account))];
    run.attempt(&treasury, "approve the pool and supply 2,000 USDC", &supply, Lane::DEFAULT)
        .await?;
    let back = [call(Aave::withdraw_call(d.usdc, usdc(500), account))];
    run.attempt(&treasury, "withdraw 500 USDC to the account", &back, Lane::DEFAULT).await?;
    let away = format!("withdraw 500 USDC to {STRANGER}");
    let calls = [call(Aave::withdraw_call(d.usdc, usdc(500), STRANGER))];
    run.attempt(&treasury, away, &calls, Lane::DEFAULT).await?;
    Ok(run.finish())
}

/// The NFT buyer of `nft-buyer.toml` on the real Seaport 1.6: it buys listed tokens of the collection until its
/// 2 ETH day is spent; the next purchase is refused.
pub async fn nft_buyer(stack: &LocalStack, progress: &dyn Progress) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "nft_buyer",
        "An NFT buyer buys from one collection on Seaport, at most 0.5 ETH a purchase and 2 ETH a day",
        progress,
    );
    let buyer = run.grant(stack, example(stack, "nft-buyer.toml")?).await?;
    let prices = [(1, 500), (2, 500), (3, 500), (4, 450), (5, 400)];
    for (id, milli) in prices {
        let buy = list(stack, &run, id, milli).await?;
        let attempted = format!("buy Leash Punk #{id} for {} ETH", milli as f64 / 1_000.0);
        run.attempt(&buyer, attempted, &[buy], Lane::DEFAULT).await?;
    }
    Ok(run.finish())
}

/// A seller (anvil's dev account 1) mints token `id` of the devnet's collection and lists it on Seaport for
/// `milli` thousandths of an ETH; returns the call that buys it.
async fn list(
    stack: &LocalStack,
    run: &Recorder<'_>,
    id: u64,
    milli: u64,
) -> Result<Call, DemoError> {
    let d = stack.deployment();
    let seller_key = stack
        .devnet
        .dev_keys()
        .get(1)
        .cloned()
        .ok_or_else(|| DemoError::Setup("the devnet has no second dev account".into()))?;
    let seller = seller_key.address();
    let nft = DevCollection::new(d.collection, stack.devnet.provider());
    let setup = |e: alloy::contract::Error| DemoError::Setup(format!("listing on Seaport: {e}"));
    let pending = |e: alloy::providers::PendingTransactionError| {
        DemoError::Setup(format!("listing on Seaport: {e}"))
    };
    nft.mint(seller, U256::from(id))
        .from(seller)
        .send()
        .await
        .map_err(setup)?
        .watch()
        .await
        .map_err(pending)?;
    if !nft.isApprovedForAll(seller, d.seaport).call().await.map_err(setup)? {
        let approval = nft.setApprovalForAll(d.seaport, true).from(seller).send().await;
        approval.map_err(setup)?.watch().await.map_err(pending)?;
    }
    let price = U256::from(milli) * U256::from(ETH / 1_000);
    let listing = Listing::new(seller, d.collection, U256::from(id), price);
    let signature = listing
        .sign(&seller_key, d.seaport, d.chain_id)
        .map_err(|e| DemoError::Setup(format!("signing the listing: {e}")))?;
    run.done(
        format!("the seller lists Leash Punk #{id} for {} ETH", milli as f64 / 1_000.0),
        format!("order {} signed by {seller}", listing.order_hash()),
    );
    Ok(Call {
        target: d.seaport,
        value: listing.total_price(),
        data: listing.fulfill_call(signature),
    })
}

/// `exactInputSingle` on the V3 router: `amount_in` of `token_in` for at least one unit of `token_out`.
fn v3_single(
    router: Address,
    token_in: Address,
    token_out: Address,
    fee: u32,
    recipient: Address,
    amount_in: U256,
) -> Call {
    let params = ISwapRouter::ExactInputSingleParams {
        tokenIn: token_in,
        tokenOut: token_out,
        fee: U24::from(fee),
        recipient,
        deadline: U256::MAX,
        amountIn: amount_in,
        amountOutMinimum: U256::from(1),
        sqrtPriceLimitX96: U160::ZERO,
    };
    let data = SwapRouter::exactInputSingleCall { params }.abi_encode();
    Call { target: router, value: U256::ZERO, data: data.into() }
}

/// `exactInput` on the V3 router along a packed `path`.
fn v3_path_swap(router: Address, path: Bytes, recipient: Address, amount_in: U256) -> Call {
    let params = ISwapRouter::ExactInputParams {
        path,
        recipient,
        deadline: U256::MAX,
        amountIn: amount_in,
        amountOutMinimum: U256::from(1),
    };
    let data = SwapRouter::exactInputCall { params }.abi_encode();
    Call { target: router, value: U256::ZERO, data: data.into() }
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

/// Gas the small budget allows, in gas units at the held fee. The pre-flight and the chain charge an
/// operation its gas limits: the SDK's default limits for a one-call operation (750,000 gas) when it is
/// judged, the bundler's tighter estimate (about 260,000 for a swap) when it is sent. Two swaps fit in
/// 1,200,000 gas (the second is judged at ~270,000 + 750,000); a third (~520,000 + 750,000) does not.
const SMALL_BUDGET_GAS: u128 = 1_200_000;

/// trading-bot.toml with its 0.05 ETH gas budget (over a thousand swaps on the devnet) replaced by one for
/// two swaps.
async fn small_gas_budget(
    stack: &LocalStack,
    run: &Recorder<'_>,
) -> Result<SessionPolicy, DemoError> {
    let max_fee = hold_base_fee(stack, run).await?;
    let budget = SMALL_BUDGET_GAS * max_fee;
    let text = std::fs::read_to_string(example_path("trading-bot.toml"))
        .map_err(|e| DemoError::Setup(format!("trading-bot.toml: {e}")))?;
    let original = r#"gas_budget = "0.05 ETH""#;
    if !text.contains(original) {
        return Err(DemoError::Setup(format!("trading-bot.toml no longer says `{original}`")));
    }
    let variant = text
        .replace(original, &format!(r#"gas_budget = "{budget} wei""#))
        .replace(r#"name = "trading bot""#, r#"name = "trading bot, small gas budget""#);
    Ok(PolicyFile::parse(&variant, "trading-bot (small gas budget).toml", &stack.context())?)
}

/// Base fee at which EIP-1559 stops lowering it under empty-ish blocks (a decrease of an eighth rounds to 0).
const FLOOR_BASE_FEE: u64 = 7;

/// Sets the devnet's base fee to where an idle chain settles, so that every operation from here on pays the
/// same `maxFeePerGas` and a gas budget counts operations exactly; returns that fee.
async fn hold_base_fee(stack: &LocalStack, run: &Recorder<'_>) -> Result<u128, DemoError> {
    run.waiting("the devnet's base fee to settle at its floor");
    stack
        .devnet
        .provider()
        .raw_request::<_, ()>(
            "anvil_setNextBlockBaseFeePerGas".into(),
            (U256::from(FLOOR_BASE_FEE),),
        )
        .await
        .map_err(|e| DemoError::Setup(format!("anvil_setNextBlockBaseFeePerGas: {e}")))?;
    stack.devnet.mine().await?;
    let max_fee = settled_max_fee(stack).await?;
    run.done(
        "hold the devnet's base fee at its floor",
        format!(
            "base fee {FLOOR_BASE_FEE} wei, so every operation offers {max_fee} wei per gas; a budget of {SMALL_BUDGET_GAS} gas is {} wei",
            SMALL_BUDGET_GAS * max_fee
        ),
    );
    Ok(max_fee)
}

/// How long to wait for the fee estimate to show the held base fee.
const FEE_SETTLING: Duration = Duration::from_secs(5);

/// The `maxFeePerGas` operations will offer, once the fee estimate shows the held base fee. anvil answers
/// `eth_feeHistory` from a cache it fills after each block, so under load the estimate can trail the chain
/// for a moment; a budget sized at a stale fee would allow a different number of operations.
async fn settled_max_fee(stack: &LocalStack) -> Result<u128, DemoError> {
    let deadline = Instant::now() + FEE_SETTLING;
    loop {
        let (max_fee, priority) = stack.chain.fees().await?;
        if max_fee.saturating_sub(priority) <= 2 * u128::from(FLOOR_BASE_FEE) {
            return Ok(max_fee);
        }
        if Instant::now() > deadline {
            return Err(DemoError::Setup(format!(
                "the fee estimate still offers {max_fee} wei per gas {FEE_SETTLING:?} after the base fee was set to {FLOOR_BASE_FEE} wei"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A router swap of `amount` USDC for at least 99% of the WETH it quotes, proceeds to the account.
async fn buy_weth(stack: &LocalStack, amount: u64, deadline: u64) -> Result<Call, DemoError> {
    let d = stack.deployment();
    let quote = DexRouter::new(d.dex_router, stack.devnet.provider())
        .getAmountOut(usdc(amount), d.usdc, d.weth)
        .call()
        .await
        .map_err(|e| DemoError::Setup(format!("DexRouter.getAmountOut: {e}")))?;
    let data = DexRouter::swapExactTokensForTokensCall {
        amountIn: usdc(amount),
        amountOutMin: quote * U256::from(99) / U256::from(100),
        tokenIn: d.usdc,
        tokenOut: d.weth,
        to: stack.account.address,
        deadline: U256::from(deadline),
    };
    Ok(Call { target: d.dex_router, value: U256::ZERO, data: data.abi_encode().into() })
}

/// Game items, as `GameItems` numbers them.
const GOLD: u64 = 1;
const WOOD: u64 = 2;
const LEGENDARY_SWORD: u64 = 1_000_001;

/// The game agent of `game-assets.toml`: gold and materials trade, a legendary item never moves.
pub async fn game_agent(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "game_agent",
        "A game agent trades gold and crafting materials for the player, but never a legendary item",
        progress,
    );
    for (id, amount, what) in [
        (GOLD, 1_000, "1,000 gold"),
        (WOOD, 500, "500 wood"),
        (LEGENDARY_SWORD, 1, "a legendary sword"),
    ] {
        mint_items(stack, &run, id, amount, what).await?;
    }
    let agent = run.grant(stack, example(stack, "game-assets.toml")?).await?;
    let give = |id: u64, amount: u64| give_items(stack, id, amount);
    run.attempt(&agent, "give the player 100 gold", &[give(GOLD, 100)], Lane::DEFAULT).await?;
    let batch = [give(WOOD, 50), give(GOLD, 10)];
    run.attempt(&agent, "give the player 50 wood and 10 gold in one batch", &batch, Lane::DEFAULT)
        .await?;
    let sword = [give(LEGENDARY_SWORD, 1)];
    run.attempt(&agent, "give the player the legendary sword", &sword, Lane::DEFAULT).await?;
    Ok(run.finish())
}

/// Mints game items to the account through the collection's open faucet, from the first dev account.
async fn mint_items(
    stack: &LocalStack,
    run: &Recorder<'_>,
    id: u64,
    amount: u64,
    what: &str,
) -> Result<(), DemoError> {
    run.waiting(&format!("{what} to be minted to the account"));
    let failed = |e: &dyn std::fmt::Display| DemoError::Setup(format!("GameItems.mint({id}): {e}"));
    let receipt = GameItems::new(stack.deployment().game_items, stack.devnet.provider())
        .mint(stack.account.address, U256::from(id), U256::from(amount))
        .send()
        .await
        .map_err(|e| failed(&e))?
        .get_receipt()
        .await
        .map_err(|e| failed(&e))?;
    if !receipt.status() {
        return Err(failed(&"the transaction reverted"));
    }
    run.done(
        format!("mint {what} to the account"),
        format!("minted in transaction {}", receipt.transaction_hash),
    );
    Ok(())
}

/// `safeTransferFrom(account, PLAYER, id, amount, "")` on the game's collection.
fn give_items(stack: &LocalStack, id: u64, amount: u64) -> Call {
    let data = GameItems::safeTransferFromCall {
        from: stack.account.address,
        to: PLAYER,
        id: U256::from(id),
        value: U256::from(amount),
        data: Bytes::new(),
    };
    Call {
        target: stack.deployment().game_items,
        value: U256::ZERO,
        data: data.abi_encode().into(),
    }
}

/// The orchestrator of `agent-payment.toml` pays a sub-agent's own leash account for work, 5 USDC at a time;
/// 6 USDC in one call is refused.
pub async fn agent_payment(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "agent_payment",
        "An orchestrator agent pays a sub-agent's account for work, at most 5 USDC per call",
        progress,
    );
    let sub_agent = sub_agent_account(stack, &run).await?;
    let orchestrator = run.grant(stack, example(stack, "agent-payment.toml")?).await?;
    let pay = |amount: u64| [transfer(stack.deployment().usdc, sub_agent, usdc(amount))];
    for task in ["a summary", "a translation"] {
        let attempted = format!("pay the sub-agent 5 USDC for {task}");
        run.attempt(&orchestrator, attempted, &pay(5), Lane::DEFAULT).await?;
    }
    run.attempt(&orchestrator, "pay the sub-agent 6 USDC in one call", &pay(6), Lane::DEFAULT)
        .await?;
    Ok(run.finish())
}

/// An orchestrator buys answers from the sub-agent's HTTP endpoint, paying each with x402 from its session:
/// an EIP-3009 authorisation signed by the session key, settled into the sub-agent's own account. A payment
/// over the per-call cap, to another payee or past the day's count is refused before signing, and, signed
/// anyway, refused by the token (which asks the account, which asks the module).
pub async fn x402_market(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "x402_market",
        "An orchestrator pays a sub-agent's x402 endpoint per answer from its session, at most 3 answers a day",
        progress,
    );
    let sub_agent = sub_agent_account(stack, &run).await?;
    let d = stack.deployment();
    let price = |amount: u64, pay_to: Address| leash_x402::Price {
        chain_id: stack.chain.chain_id,
        asset: d.usdc,
        amount: U256::from(amount),
        pay_to,
        token_name: "USD Coin (devnet)".into(),
        token_version: "2".into(),
        max_timeout_seconds: 300,
        description: Some("an answer".into()),
    };
    // The sub-agent settles its own sales, paying the gas from a devnet key.
    let facilitator = Arc::new(
        leash_x402::LocalFacilitator::connect(
            stack.devnet.rpc_url().as_str(),
            stack.devnet.dev_keys()[2].clone(),
        )
        .await
        .map_err(|e| DemoError::Setup(format!("the sub-agent's facilitator: {e}")))?,
    );
    let answers = sell(price(CENT, sub_agent), facilitator.clone()).await?;
    let dear = sell(price(2 * CENT, sub_agent), facilitator.clone()).await?;
    let elsewhere = sell(price(CENT, STRANGER), facilitator).await?;
    run.done(
        "the sub-agent sells answers over x402 at 0.01 USDC, paid into its own account",
        format!("serving {answers}/answer"),
    );

    let key = Arc::new(EcdsaSigner::random());
    let policy = x402_policy(stack, sub_agent)?;
    let orchestrator = Arc::new(run.grant_with(stack, policy, key).await?);
    let payer = leash_x402::Payer::new(orchestrator.clone());
    for question in ["first", "second"] {
        run.buy(&payer, format!("buy the {question} answer for 0.01 USDC"), &answers).await?;
    }
    let forced = |value: u64, to: Address, slot: u16| {
        let request = leash_sdk::TransferRequest {
            token: d.usdc,
            to,
            value: U256::from(value),
            valid_for: Duration::from_secs(300),
        };
        (request, slot)
    };
    // Signed anyway in the day's free slot, so what refuses them is the module's rules, not a spent nonce.
    run.refused(&payer, "buy an answer priced 0.02 USDC", &dear, forced(2 * CENT, sub_agent, 2))
        .await?;
    run.refused(&payer, "pay a stranger's endpoint", &elsewhere, forced(CENT, STRANGER, 2)).await?;
    run.buy(&payer, "buy the third answer for 0.01 USDC", &answers).await?;
    run.refused(&payer, "buy a fourth answer the same day", &answers, forced(CENT, sub_agent, 3))
        .await?;
    Ok(run.finish())
}

/// 0.01 USDC in raw units.
const CENT: u64 = 10_000;

/// The orchestrator's x402 session: USDC payments to the sub-agent only, at most 0.01 USDC each and 3 a day.
fn x402_policy(stack: &LocalStack, sub_agent: Address) -> Result<SessionPolicy, DemoError> {
    let text = format!(
        r#"version = 1

[session]
name = "orchestrator x402 payments"
valid_until = "2028-01-01T00:00:00Z"

[[signing.typed_data]]
name = "pay the sub-agent per answer"
verifier = "USDC"
type = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
rules = [{{ field = "to", eq = "{sub_agent}" }}, {{ field = "value", lte = "0.01 USDC" }}]
max_uses = {{ count = 3, per = "1 day" }}
"#
    );
    Ok(PolicyFile::parse(&text, "x402-market.toml", &stack.context())?)
}

/// Serves `/answer` at `price` on a free local port, for as long as the process runs; its base URL.
async fn sell(
    price: leash_x402::Price,
    facilitator: Arc<leash_x402::LocalFacilitator>,
) -> Result<String, DemoError> {
    let paywall = Arc::new(leash_x402::Paywall::new(price, facilitator));
    let app = axum::Router::new()
        .route(
            "/answer",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "answer": 42 })) }),
        )
        .layer(axum::middleware::from_fn_with_state(paywall, leash_x402::charge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Setup(format!("the sub-agent's endpoint: {e}")))?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| DemoError::Setup(format!("the endpoint's address: {e}")))?
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// The sub-agent's leash account: its own owner, the session module installed; deployed or not.
pub async fn sub_agent(stack: &LocalStack) -> Result<SmartAccount, DemoError> {
    let d = stack.deployment();
    Ok(SmartAccount::counterfactual(
        stack.devnet.provider(),
        d.factory_staker,
        sub_agent_owner()?.address(),
        B256::ZERO,
        vec![d.session_key_validator],
    )
    .await?)
}

fn sub_agent_owner() -> Result<PrivateKeySigner, DemoError> {
    PrivateKeySigner::from_bytes(&SUB_AGENT_KEY)
        .map_err(|e| DemoError::Setup(format!("sub-agent key: {e}")))
}

/// The sub-agent's account, deployed by its owner's first operation through the bundler if it is not yet.
async fn sub_agent_account(stack: &LocalStack, run: &Recorder<'_>) -> Result<Address, DemoError> {
    let account = sub_agent(stack).await?;
    let address = account.address;
    if account.is_deployed(stack.devnet.provider()).await? {
        return Ok(address);
    }
    // The deployment's gas comes from the account's own balance.
    stack.devnet.fund(address, U256::from(ETH / 10)).await?;
    run.waiting("the sub-agent's account to be deployed");
    let owner = Owner::new(sub_agent_owner()?, account)?;
    let outcome = owner.execute(&stack.chain, &stack.submitter, &[]).await?;
    run.done(
        "deploy the sub-agent's own leash account",
        format!("account {address} deployed in transaction {}", outcome.transaction_hash),
    );
    Ok(address)
}

/// A session pays a shop; the owner revokes it; its next payment is refused before signing and on chain.
pub async fn revocation(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "revocation",
        "The owner revokes a session: its next operation is refused, before signing and on chain",
        progress,
    );
    let agent = run.grant(stack, pay_policy(stack, "pay the shop", SHOP)?).await?;
    let pay = [transfer(stack.deployment().usdc, SHOP, usdc(10))];
    run.attempt(&agent, "pay the shop 10 USDC", &pay, Lane::DEFAULT).await?;
    run.waiting("the owner's revocation to be included");
    let id = agent.session_id();
    let outcome = stack.owner.revoke(&stack.chain, &stack.submitter, id).await?;
    run.done(
        "revoke the session by owner transaction",
        format!("session {id} revoked in transaction {}", outcome.transaction_hash),
    );
    run.attempt(&agent, "pay the shop 10 USDC after the revocation", &pay, Lane::DEFAULT).await?;
    Ok(run.finish())
}

/// The second chain's id.
const SECOND_CHAIN_ID: u64 = 31_338;

/// One owner signature approves a session on two chains; on each, the session's first operation grants it
/// and lands. Starts the second chain itself (same owner, same account address).
pub async fn multichain(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "multichain",
        "One owner signature approves a session on two chains; each chain's first operation grants it",
        progress,
    );
    run.waiting(&format!("a second chain ({SECOND_CHAIN_ID}) to start"));
    let second =
        LocalStack::start_with(StackOptions { chain_id: SECOND_CHAIN_ID, ..Default::default() })
            .await?;
    run.done(
        format!("start a second chain ({SECOND_CHAIN_ID})"),
        format!("the owner's account is {} on both chains", second.account.address),
    );
    let signer: Arc<dyn SessionSigner> = Arc::new(EcdsaSigner::random());
    let policy = pay_policy(stack, "pay the vendor on every chain", VENDOR)?;
    let session =
        Session { key: PublicKey { kind: signer.kind(), public: signer.signer_bytes() }, policy };
    let chains = [stack, &second];
    let mut targets = Vec::new();
    for chain in chains {
        targets.push(grant_target(chain).await?);
    }
    let approval = stack.owner.approve(&session, &targets).await?;
    run.done(
        "approve the session on both chains with one owner signature",
        format!(
            "signed the root {} of the grants for chains {} and {SECOND_CHAIN_ID}",
            approval.grant.root, stack.chain.chain_id
        ),
    );
    for chain in chains {
        let chain_id = chain.chain.chain_id;
        let proof = approval.proof_for(chain_id).ok_or_else(|| {
            DemoError::Setup(format!("the approval has no proof for chain {chain_id}"))
        })?;
        let agent = SessionAgent::builder(
            chain.chain.clone(),
            chain.account.address,
            session.clone(),
            signer.clone(),
        )
        .submitter(chain.submitter.clone())
        .tokens(chain.tokens())
        .lazy_grant(proof)
        .build()?;
        let pay = [transfer(chain.deployment().usdc, VENDOR, usdc(25))];
        let attempted =
            format!("pay the vendor 25 USDC on chain {chain_id}, granting the session on the way");
        run.attempt(&agent, attempted, &pay, Lane::DEFAULT).await?;
    }
    Ok(run.finish())
}

async fn grant_target(stack: &LocalStack) -> Result<GrantTarget, DemoError> {
    let account = stack.account.address;
    Ok(GrantTarget {
        chain_id: stack.chain.chain_id,
        module: stack.chain.module,
        account,
        epoch: stack.chain.epoch(account).await?,
    })
}

/// Independent tasks, each on its own nonce lane.
const TASKS: u8 = 8;
/// Payments each task makes, one after the other.
const PAYMENTS_PER_TASK: u32 = 3;

/// Eight independent tasks pay eight suppliers three times each, in parallel, each on its own nonce lane;
/// the bundler carries their operations together. The account stakes first: the bundler lets an unstaked
/// account have only four operations waiting (ERC-7562 UREP-010).
pub async fn nonce_lanes(
    stack: &LocalStack,
    progress: &dyn Progress,
) -> Result<Scenario, DemoError> {
    let run = Recorder::start(
        "nonce_lanes",
        "Eight tasks pay in parallel, each on its own nonce lane, and share bundles",
        progress,
    );
    stake(stack, &run).await?;
    let agent = run.grant(stack, parallel_payouts(stack)?).await?;
    let started = Instant::now();
    let tasks = (0..TASKS).map(|task| pay_supplier(stack, &run, &agent, task));
    for finished in futures::future::join_all(tasks).await {
        finished?;
    }
    let elapsed = started.elapsed();
    let (operations, bundles) = run.landed_and_bundles();
    run.done(
        "count the bundle transactions that carried the tasks' operations",
        format!(
            "{operations} operations on {TASKS} lanes landed in {bundles} bundle transactions, in {:.2} s",
            elapsed.as_secs_f64()
        ),
    );
    Ok(run.finish())
}

/// The owner stakes the account with the EntryPoint: 1 ETH, locked for a day.
async fn stake(stack: &LocalStack, run: &Recorder<'_>) -> Result<(), DemoError> {
    run.waiting("the owner's stake to be included");
    let outcome = stack.stake_account(U256::from(ETH)).await?;
    run.done(
        "stake the account with the EntryPoint (1 ETH, unstake delay 1 day)",
        format!("staked in transaction {}", outcome.transaction_hash),
    );
    Ok(())
}

/// One task: three payments of 1 USDC to its supplier on the task's own lane.
async fn pay_supplier(
    stack: &LocalStack,
    run: &Recorder<'_>,
    agent: &SessionAgent,
    task: u8,
) -> Result<(), DemoError> {
    let lane = Lane::named(&format!("supplier {task}"));
    let pay = [transfer(stack.deployment().usdc, supplier(task), usdc(1))];
    for n in 1..=PAYMENTS_PER_TASK {
        let attempted = format!(
            "task {task} on {lane}: pay supplier {task} 1 USDC ({n} of {PAYMENTS_PER_TASK})"
        );
        run.attempt(agent, attempted, &pay, lane).await?;
    }
    Ok(())
}

/// The supplier task `task` pays.
pub fn supplier(task: u8) -> Address {
    Address::repeat_byte(0xa0 + task)
}

/// USDC payouts of up to 10 USDC a call, without a total: parallel operations are judged against counters
/// that the others have not moved yet, and a total would make the later ones fail in the bundle.
fn parallel_payouts(stack: &LocalStack) -> Result<SessionPolicy, DemoError> {
    let text = r#"
version = 1

[session]
name = "parallel payouts"
valid_until = "2030-01-01T00:00:00Z"

[[action]]
name = "pay a supplier"
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{ arg = "amount", lte = "10 USDC" }, { arg = "to", neq = "0x0000000000000000000000000000000000000000" }]
"#;
    Ok(PolicyFile::parse(text, "parallel-payouts.toml", &stack.context())?)
}

/// USDC transfers to `to` only, at most 100 USDC a month, until 2030 (so that it holds wherever the other
/// scenarios left the clock).
fn pay_policy(stack: &LocalStack, name: &str, to: Address) -> Result<SessionPolicy, DemoError> {
    let text = format!(
        r#"
version = 1

[session]
name = "{name}"
valid_until = "2030-01-01T00:00:00Z"

[[action]]
name = "{name}"
target = "USDC"
function = "transfer(address to, uint256 amount)"
rules = [{{ arg = "to", eq = "{to}" }}]
spend = {{ arg = "amount", max = "100 USDC" }}
period = "monthly"
"#
    );
    Ok(PolicyFile::parse(&text, format!("{name}.toml"), &stack.context())?)
}

/// Records a scenario's steps and reports each to the [`Progress`] as it happens. Steps may be recorded from
/// tasks running side by side.
struct Recorder<'a> {
    name: &'static str,
    title: String,
    progress: &'a dyn Progress,
    steps: Mutex<Vec<Step>>,
}

impl<'a> Recorder<'a> {
    fn start(name: &'static str, title: &str, progress: &'a dyn Progress) -> Self {
        progress.started(name, title);
        Self { name, title: title.into(), progress, steps: Mutex::new(Vec::new()) }
    }

    fn waiting(&self, what: &str) {
        self.progress.waiting(what);
    }

    fn record(&self, attempted: impl Into<String>, outcome: Outcome) -> Outcome {
        let step = Step { attempted: attempted.into(), outcome };
        self.progress.step(self.name, &step);
        let outcome = step.outcome.clone();
        self.steps.lock().unwrap_or_else(PoisonError::into_inner).push(step);
        outcome
    }

    fn done(&self, attempted: impl Into<String>, detail: impl Into<String>) {
        self.record(attempted, Outcome::Done { detail: detail.into() });
    }

    /// Sends `calls` on `lane` and records whether they landed or how they were refused.
    async fn attempt(
        &self,
        agent: &SessionAgent,
        attempted: impl Into<String>,
        calls: &[Call],
        lane: Lane,
    ) -> Result<Outcome, DemoError> {
        let attempted = attempted.into();
        self.waiting(&attempted);
        let outcome = land_or_refuse(agent, calls, lane).await?;
        Ok(self.record(attempted, outcome))
    }

    /// An agent for `policy` with a fresh key, its session granted by the owner's transaction.
    async fn grant(
        &self,
        stack: &LocalStack,
        policy: SessionPolicy,
    ) -> Result<SessionAgent, DemoError> {
        let name = policy.name.clone().unwrap_or_else(|| "unnamed".into());
        let agent = stack.agent(policy)?;
        self.waiting(&format!("the owner's grant of \"{name}\" to be included"));
        let outcome = stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await?;
        self.done(
            format!("grant the session \"{name}\" by owner transaction"),
            format!(
                "session {} granted in transaction {}",
                agent.session_id(),
                outcome.transaction_hash
            ),
        );
        Ok(agent)
    }

    /// An agent for `policy` signing with `key`, its session granted by the owner's transaction.
    async fn grant_with(
        &self,
        stack: &LocalStack,
        policy: SessionPolicy,
        key: Arc<EcdsaSigner>,
    ) -> Result<SessionAgent, DemoError> {
        let name = policy.name.clone().unwrap_or_else(|| "unnamed".into());
        let agent = stack.agent_with(policy, key)?;
        self.waiting(&format!("the owner's grant of \"{name}\" to be included"));
        let outcome = stack.owner.grant(&stack.chain, &stack.submitter, agent.session()).await?;
        self.done(
            format!("grant the session \"{name}\" by owner transaction"),
            format!(
                "session {} granted in transaction {}",
                agent.session_id(),
                outcome.transaction_hash
            ),
        );
        Ok(agent)
    }

    /// Fetches `{url}/answer` through `payer` and records the payment, or how it was refused.
    async fn buy(
        &self,
        payer: &leash_x402::Payer,
        attempted: impl Into<String>,
        url: &str,
    ) -> Result<Outcome, DemoError> {
        let attempted = attempted.into();
        self.waiting(&attempted);
        let request = payer
            .request(reqwest::Method::GET, &format!("{url}/answer"))
            .build()
            .map_err(|e| DemoError::Setup(e.to_string()))?;
        let outcome = match payer.send(request).await {
            Ok(leash_x402::Paid { payment: Some(payment), .. }) => Outcome::Paid {
                amount: format!(
                    "{} USDC",
                    leash_core::format_units(payment.authorization.value, 6)
                ),
                to: payment.authorization.to,
                transaction: payment.receipt.transaction,
            },
            Ok(paid) => {
                return Err(DemoError::Setup(format!(
                    "{url} served without asking to be paid ({})",
                    paid.status
                )))
            }
            Err(e) => return Err(DemoError::Setup(format!("the payment failed: {e}"))),
        };
        Ok(self.record(attempted, outcome))
    }

    /// Tries to buy `{url}/answer`, which the session's rules refuse: records the pre-flight's refusal, then
    /// what the seller's facilitator (the token, the account, the module) says to `forced`, signed anyway.
    async fn refused(
        &self,
        payer: &leash_x402::Payer,
        attempted: &str,
        url: &str,
        forced: (leash_sdk::TransferRequest, u16),
    ) -> Result<Outcome, DemoError> {
        self.waiting(attempted);
        let request = payer
            .request(reqwest::Method::GET, &format!("{url}/answer"))
            .build()
            .map_err(|e| DemoError::Setup(e.to_string()))?;
        let (rule, preflight) = match payer.send(request).await {
            Err(e @ leash_x402::Error::Refused(_)) => (e.rule().map(str::to_string), e.to_string()),
            Ok(paid) => {
                return Err(DemoError::Setup(format!(
                    "{url} was paid although the session forbids it ({})",
                    paid.status
                )))
            }
            Err(e) => {
                return Err(DemoError::Setup(format!("the payment failed unexpectedly: {e}")))
            }
        };
        let (transfer, slot) = forced;
        let authorization = payer.agent().authorize_transfer_unchecked(&transfer, slot).await?;
        let request = payer
            .request(reqwest::Method::GET, &format!("{url}/answer"))
            .build()
            .map_err(|e| DemoError::Setup(e.to_string()))?;
        let enforced_by = match payer.send_signed(request, &authorization).await {
            Err(leash_x402::Error::PaymentRefused { reason, .. }) => reason,
            Err(e) => e.to_string(),
            Ok(paid) => format!("nothing: signed anyway, it was paid and served ({})", paid.status),
        };
        Ok(self.record(attempted, Outcome::Rejected { rule, preflight, enforced_by }))
    }

    /// Moves the chain's clock to `time`, with a block mined there.
    async fn set_clock(&self, stack: &LocalStack, time: u64) -> Result<(), DemoError> {
        self.waiting(&format!("the chain's clock to move to {}", Timestamp(time)));
        Ok(stack.set_clock(time).await?)
    }

    /// How many operations landed so far, and in how many distinct bundle transactions.
    fn landed_and_bundles(&self) -> (usize, usize) {
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let transactions: Vec<B256> = steps
            .iter()
            .filter_map(|s| match s.outcome {
                Outcome::Landed { transaction_hash, .. } => Some(transaction_hash),
                _ => None,
            })
            .collect();
        let bundles = transactions.iter().collect::<BTreeSet<_>>().len();
        (transactions.len(), bundles)
    }

    fn finish(self) -> Scenario {
        let steps = self.steps.into_inner().unwrap_or_else(PoisonError::into_inner);
        Scenario { name: self.name, title: self.title, steps }
    }
}

/// Sends `calls`. When they are refused before signing, signs and sends them anyway, without the pre-flight,
/// to show that the bundler and the chain refuse them too.
async fn land_or_refuse(
    agent: &SessionAgent,
    calls: &[Call],
    lane: Lane,
) -> Result<Outcome, DemoError> {
    match agent.send(calls, lane).await {
        Ok(sent) => Ok(landed(&sent)),
        Err(Error::PreFlight { rule, message, .. }) => Ok(Outcome::Rejected {
            rule: Some(rule),
            preflight: message,
            enforced_by: sent_anyway(agent, calls, lane).await?,
        }),
        // The pre-flight let it through, but the bundler or the chain did not.
        Err(refused @ (Error::Rejected { .. } | Error::Bundler(_))) => Ok(Outcome::Rejected {
            rule: refused.rule().map(str::to_string),
            preflight: "allowed: the pre-flight found no rule against it".into(),
            enforced_by: refused.to_string(),
        }),
        Err(other) => Err(other.into()),
    }
}

/// What the bundler and the chain say to `calls` signed without the pre-flight.
async fn sent_anyway(
    agent: &SessionAgent,
    calls: &[Call],
    lane: Lane,
) -> Result<String, DemoError> {
    match agent.send_unchecked(calls, lane).await {
        // The bundler's or the chain's own words (the EntryPoint's code and the module's error).
        Err(Error::Rejected { code, .. }) => Ok(code),
        Err(refused @ Error::Bundler(_)) => Ok(refused.to_string()),
        Err(other) => Err(other.into()),
        // The envelope did not hold on chain: say so rather than hide it.
        Ok(sent) => Ok(format!(
            "nothing: signed anyway, it was included in transaction {} ({})",
            sent.outcome.transaction_hash,
            if sent.outcome.success { "its calls succeeded" } else { "its calls reverted" }
        )),
    }
}

fn landed(sent: &SentOperation) -> Outcome {
    Outcome::Landed {
        user_op_hash: sent.user_op_hash,
        transaction_hash: sent.outcome.transaction_hash,
        gas_used: sent.outcome.actual_gas_used,
    }
}

/// The example policy `file` of `examples/policies`, read against the stack's tokens and names.
fn example(stack: &LocalStack, file: &str) -> Result<SessionPolicy, DemoError> {
    Ok(PolicyFile::load(example_path(file), &stack.context())?)
}

fn example_path(file: &str) -> String {
    format!("{}/{file}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies"))
}

/// The first `time_of_day` (seconds after 00:00 UTC) after `now`.
fn next_time_of_day(now: u64, time_of_day: u64) -> u64 {
    let today = now / DAY * DAY + time_of_day;
    if today > now {
        today
    } else {
        today + DAY
    }
}

/// `amount` whole USDC in raw units (6 decimals).
fn usdc(amount: u64) -> U256 {
    U256::from(amount) * U256::from(1_000_000u64)
}

/// An ERC-20 `transfer(to, amount)` on `token`.
fn transfer(token: Address, to: Address, amount: U256) -> Call {
    let data = encode_call("transfer(address,uint256)", &[to.into_word().into(), amount])
        .expect("transfer(address,uint256) takes two words");
    Call { target: token, value: U256::ZERO, data }
}

/// An ERC-20 `approve(spender, amount)` on `token`.
fn approve(token: Address, spender: Address, amount: U256) -> Call {
    let data = encode_call("approve(address,uint256)", &[spender.into_word().into(), amount])
        .expect("approve(address,uint256) takes two words");
    Call { target: token, value: U256::ZERO, data }
}
