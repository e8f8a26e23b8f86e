//! The seed scenarios on fresh local stacks: what lands, what is refused and by which rule (before signing and
//! by the bundler and the chain when signed anyway), and where the money and items went.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use leash_contracts::bindings::{DexRouter, GameItems};
use leash_demo::{
    scenarios::{self, MERCHANT, OTHER_MERCHANT, PLAYER, SHOP, STRANGER, VENDOR},
    LocalStack, Outcome, Scenario, Silent,
};
use std::collections::BTreeSet;

fn usdc(amount: u64) -> U256 {
    U256::from(amount) * U256::from(1_000_000u64)
}

async fn stack() -> LocalStack {
    LocalStack::start().await.expect("the local stack starts")
}

async fn usdc_of(stack: &LocalStack, who: Address) -> U256 {
    stack.balance_of(stack.deployment().usdc, who).await.unwrap()
}

async fn items_of(stack: &LocalStack, who: Address, id: u64) -> U256 {
    GameItems::new(stack.deployment().game_items, stack.devnet.provider())
        .balanceOf(who, U256::from(id))
        .call()
        .await
        .unwrap()
}

/// Checks the landed count and the rules of the rejections, in order; every rejection is refused by the
/// pre-flight and, signed anyway, by the bundler or the chain, naming the same rule.
fn assert_story(scenario: &Scenario, landed: usize, rules: &[&str]) {
    assert_eq!(scenario.landed(), landed, "{scenario:#?}");
    assert_eq!(scenario.rejected_rules(), rules, "{scenario:#?}");
    for step in &scenario.steps {
        if let Outcome::Rejected { rule: Some(rule), preflight, enforced_by } = &step.outcome {
            assert!(!preflight.starts_with("allowed"), "{}: {preflight}", step.attempted);
            // The local bundler refuses in its simulation with the EntryPoint's code and the module's error.
            assert!(
                enforced_by.contains(&format!("AA23 reverted: {rule}")),
                "{}: signed anyway, expected {rule} on chain, got: {enforced_by}",
                step.attempted
            );
        }
    }
}

/// The attempts of `scenario` (not its setup facts), with each one's outcome kind.
fn attempts(scenario: &Scenario) -> Vec<(&str, &str)> {
    scenario
        .steps
        .iter()
        .filter_map(|s| match &s.outcome {
            Outcome::Landed { .. } => Some((s.attempted.as_str(), "landed")),
            Outcome::Rejected { .. } => Some((s.attempted.as_str(), "rejected")),
            Outcome::Paid { .. } => Some((s.attempted.as_str(), "paid")),
            Outcome::Done { .. } => None,
        })
        .collect()
}

fn bundles(scenario: &Scenario) -> BTreeSet<B256> {
    scenario
        .steps
        .iter()
        .filter_map(|s| match s.outcome {
            Outcome::Landed { transaction_hash, .. } => Some(transaction_hash),
            _ => None,
        })
        .collect()
}

const SUBSCRIPTION_RULES: [&str; 3] =
    ["AmountLimitExceeded", "ArgumentRuleFailed", "UseLimitExceeded"];

#[tokio::test]
async fn subscription_pays_the_merchant_on_day_one_of_each_month_of_2027() {
    let stack = stack().await;
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::subscription(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 12, &SUBSCRIPTION_RULES);
    let january = &attempts(&scenario)[..4];
    assert_eq!(
        january,
        [
            ("pay 101 USDC to the merchant on 2027-01-01", "rejected"),
            ("pay 100 USDC to another merchant on 2027-01-01", "rejected"),
            ("pay 100 USDC to the merchant on 2027-01-01", "landed"),
            ("pay 100 USDC to the merchant again on 2027-01-01", "rejected"),
        ]
    );
    let december = attempts(&scenario).last().copied();
    assert_eq!(december, Some(("pay 100 USDC to the merchant on 2027-12-01", "landed")));
    assert_eq!(usdc_of(&stack, MERCHANT).await, usdc(1_200));
    assert_eq!(usdc_of(&stack, OTHER_MERCHANT).await, U256::ZERO);
    assert_eq!(usdc_of(&stack, account).await, before - usdc(1_200));
}

#[tokio::test]
async fn defi_bot_swaps_moves_nothing_elsewhere_and_stops_at_its_gas_budget() {
    let stack = stack().await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::defi_bot(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 4, &["SelectorNotAllowed", "GasBudgetExceeded"]);
    let tried: Vec<&str> = attempts(&scenario).iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(tried, ["landed", "landed", "rejected", "landed", "landed", "rejected"]);
    assert_eq!(usdc_of(&stack, STRANGER).await, U256::ZERO);
    assert_eq!(usdc_of(&stack, account).await, before - usdc(600 + 300 + 10 + 10));
    let router = DexRouter::new(d.dex_router, stack.devnet.provider());
    let mut weth = U256::ZERO;
    for amount in [600, 300, 10, 10] {
        weth += router.getAmountOut(usdc(amount), d.usdc, d.weth).call().await.unwrap();
    }
    assert_eq!(stack.balance_of(d.weth, account).await.unwrap(), weth);
}

#[tokio::test]
async fn uniswap_bot_swaps_on_uniswap_v3_between_listed_tokens_back_to_itself() {
    let stack = stack().await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::uniswap_bot(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 2, &["ArgumentRuleFailed", "ArgumentRuleFailed"]);
    let tried: Vec<&str> = attempts(&scenario).iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(tried, ["landed", "landed", "rejected", "rejected"]);
    assert_eq!(usdc_of(&stack, account).await, before - usdc(500 + 200));
    assert!(stack.balance_of(d.weth, account).await.unwrap() > U256::ZERO, "WETH came back");
    assert!(stack.balance_of(d.dai, account).await.unwrap() > U256::ZERO, "DAI came back");
    assert_eq!(stack.balance_of(d.weth, STRANGER).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn aave_treasury_supplies_and_withdraws_for_the_account_only() {
    let stack = stack().await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::aave_treasury(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 2, &["ArgumentRuleFailed"]);
    let a_usdc = d.aave.reserve("USDC").unwrap().a_token;
    assert_eq!(stack.balance_of(a_usdc, account).await.unwrap(), usdc(1_500));
    assert_eq!(usdc_of(&stack, account).await, before - usdc(1_500));
    assert_eq!(usdc_of(&stack, STRANGER).await, U256::ZERO);
}

#[tokio::test]
async fn nft_buyer_buys_on_seaport_until_its_daily_cap() {
    let stack = stack().await;
    let d = stack.deployment().clone();
    let account = stack.account.address;
    let scenario = scenarios::nft_buyer(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 4, &["ValueLimitExceeded"]);
    let nft = leash_contracts::bindings::DevCollection::new(d.collection, stack.devnet.provider());
    assert_eq!(nft.balanceOf(account).call().await.unwrap(), U256::from(4));
    assert_ne!(nft.ownerOf(U256::from(5)).call().await.unwrap(), account, "the fifth stays listed");
}

#[tokio::test]
async fn game_agent_trades_gold_and_wood_never_the_legendary_sword() {
    let stack = stack().await;
    let account = stack.account.address;
    let scenario = scenarios::game_agent(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 2, &["ArgumentRuleFailed"]);
    assert_eq!(items_of(&stack, PLAYER, 1).await, U256::from(110));
    assert_eq!(items_of(&stack, PLAYER, 2).await, U256::from(50));
    assert_eq!(items_of(&stack, account, 1).await, U256::from(890));
    assert_eq!(items_of(&stack, PLAYER, 1_000_001).await, U256::ZERO);
    assert_eq!(items_of(&stack, account, 1_000_001).await, U256::from(1));
}

#[tokio::test]
async fn agent_payment_pays_the_sub_agents_account_5_usdc_at_a_time() {
    let stack = stack().await;
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::agent_payment(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 2, &["ArgumentRuleFailed"]);
    let sub_agent = scenarios::sub_agent(&stack).await.unwrap();
    assert!(sub_agent.is_deployed(stack.devnet.provider()).await.unwrap());
    assert_ne!(sub_agent.address, account);
    assert_eq!(usdc_of(&stack, sub_agent.address).await, usdc(10));
    assert_eq!(usdc_of(&stack, account).await, before - usdc(10));
}

#[tokio::test]
async fn revocation_stops_the_session_before_signing_and_on_chain() {
    let stack = stack().await;
    let scenario = scenarios::revocation(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 1, &["SessionIsRevoked"]);
    assert_eq!(
        attempts(&scenario),
        [
            ("pay the shop 10 USDC", "landed"),
            ("pay the shop 10 USDC after the revocation", "rejected")
        ]
    );
    assert_eq!(usdc_of(&stack, SHOP).await, usdc(10));

    // The JSON form: camelCase fields, outcomes tagged by kind.
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["name"], "revocation");
    let kinds: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["done", "landed", "done", "rejected"]);
    let landed = &json["steps"][1]["outcome"];
    assert!(landed["userOpHash"].is_string() && landed["transactionHash"].is_string());
    assert!(landed["gasUsed"].is_string());
    let rejected = &json["steps"][3]["outcome"];
    assert_eq!(rejected["rule"], "SessionIsRevoked");
    assert!(rejected["preflight"].is_string() && rejected["enforcedBy"].is_string());
}

#[tokio::test]
async fn multichain_grants_one_session_on_two_chains_with_one_signature() {
    let stack = stack().await;
    let scenario = scenarios::multichain(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 2, &[]);
    assert_eq!(
        attempts(&scenario),
        [
            ("pay the vendor 25 USDC on chain 31337, granting the session on the way", "landed"),
            ("pay the vendor 25 USDC on chain 31338, granting the session on the way", "landed"),
        ]
    );
    assert_eq!(bundles(&scenario).len(), 2);
    assert_eq!(usdc_of(&stack, VENDOR).await, usdc(25));
}

#[tokio::test]
async fn nonce_lanes_let_eight_tasks_pay_in_parallel() {
    let stack = stack().await;
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::nonce_lanes(&stack, &Silent).await.unwrap();

    assert_story(&scenario, 24, &[]);
    for task in 0..8 {
        assert_eq!(usdc_of(&stack, scenarios::supplier(task)).await, usdc(3), "supplier {task}");
    }
    assert_eq!(usdc_of(&stack, account).await, before - usdc(24));
    // Operations of different lanes shared bundle transactions.
    let bundles = bundles(&scenario).len();
    assert!(bundles < 24, "{bundles} bundles for 24 operations");
    let Outcome::Done { detail } = &scenario.steps.last().unwrap().outcome else {
        panic!("the last step counts the bundles: {scenario:#?}");
    };
    assert!(
        detail.starts_with(&format!(
            "24 operations on 8 lanes landed in {bundles} bundle transactions"
        )),
        "{detail}"
    );
    let staked = stack.devnet.provider().get_balance(stack.chain.entry_point).await.unwrap();
    assert!(staked >= U256::from(leash_demo::ETH), "the EntryPoint holds the stake");
}

#[tokio::test]
async fn x402_market_pays_the_sub_agent_per_answer_within_the_days_count() {
    let stack = stack().await;
    let account = stack.account.address;
    let before = usdc_of(&stack, account).await;
    let scenario = scenarios::x402_market(&stack, &Silent).await.unwrap();

    let sub_agent = scenarios::sub_agent(&stack).await.unwrap().address;
    let paid: Vec<&Outcome> = scenario
        .steps
        .iter()
        .map(|s| &s.outcome)
        .filter(|o| matches!(o, Outcome::Paid { .. }))
        .collect();
    assert_eq!(paid.len(), 3, "{scenario:#?}");
    for outcome in paid {
        let Outcome::Paid { amount, to, transaction } = outcome else { unreachable!() };
        assert_eq!((amount.as_str(), *to), ("0.01 USDC", sub_agent));
        assert!(transaction.starts_with("0x"), "{transaction}");
    }
    assert_eq!(
        scenario.rejected_rules(),
        ["SigningRuleFailed", "SigningRuleFailed", "SigningUsesExceeded"],
        "{scenario:#?}"
    );
    for step in &scenario.steps {
        if let Outcome::Rejected { enforced_by, .. } = &step.outcome {
            // Signed anyway, the token asked the account, whose module refused the signature.
            assert!(
                enforced_by.contains("InvalidAuthorizationSignature"),
                "{}: {enforced_by}",
                step.attempted
            );
        }
    }
    assert_eq!(usdc_of(&stack, sub_agent).await, U256::from(30_000u64), "three answers paid");
    assert_eq!(before - usdc_of(&stack, account).await, U256::from(30_000u64));
}

#[tokio::test]
async fn run_all_tells_every_story_on_one_stack() {
    let started = std::time::Instant::now();
    let all = leash_demo::run_all(&Silent).await.unwrap();
    eprintln!("run_all took {:.1} s", started.elapsed().as_secs_f64());

    let told: Vec<(&str, usize, Vec<&str>)> =
        all.iter().map(|s| (s.name, s.landed(), s.rejected_rules())).collect();
    assert_eq!(
        told,
        [
            ("defi_bot", 4, vec!["SelectorNotAllowed", "GasBudgetExceeded"]),
            ("uniswap_bot", 2, vec!["ArgumentRuleFailed", "ArgumentRuleFailed"]),
            ("aave_treasury", 2, vec!["ArgumentRuleFailed"]),
            ("nft_buyer", 4, vec!["ValueLimitExceeded"]),
            ("game_agent", 2, vec!["ArgumentRuleFailed"]),
            ("agent_payment", 2, vec!["ArgumentRuleFailed"]),
            ("revocation", 1, vec!["SessionIsRevoked"]),
            ("multichain", 2, vec![]),
            ("nonce_lanes", 24, vec![]),
            (
                "x402_market",
                0,
                vec!["SigningRuleFailed", "SigningRuleFailed", "SigningUsesExceeded"]
            ),
            ("subscription", 12, SUBSCRIPTION_RULES.to_vec()),
        ],
        "{all:#?}"
    );
}
