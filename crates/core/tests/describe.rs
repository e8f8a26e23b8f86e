//! A policy's envelope in words: amounts in their token's units, addresses by the names the file gives them,
//! each limit's period said once, and the open part of a period as hours, weekdays or days of the month.

use alloy::primitives::{address, Address};
use leash_core::{PolicyContext, PolicyFile};

const USDC: Address = address!("00000000000000000000000000000000000005dc");
const WETH: Address = address!("0000000000000000000000000000000000000e7e");
const ROUTER: Address = address!("00000000000000000000000000000000000000aa");

fn describe(policy: &str) -> Vec<String> {
    let mut context = PolicyContext::default();
    context.tokens.insert("USDC", USDC, 6);
    context.tokens.insert("WETH", WETH, 18);
    context.addresses.insert("router".into(), ROUTER);
    context.account = Some(Address::repeat_byte(0x5e));
    let (policy, names) = PolicyFile::parse_named(policy, "policy.toml", &context).unwrap();
    policy.describe_named(&context.tokens, &names)
}

#[test]
fn names_and_units_replace_raw_numbers() {
    let lines = describe(
        r#"
        version = 1
        [addresses]
        acme = "0x00000000000000000000000000000000000ac3e0"
        [session]
        valid_until = "2030-01-01T00:00:00Z"
        [[action]]
        target = "USDC"
        function = "transfer(address to, uint256 amount)"
        rules = [{ arg = "to", eq = "acme" }, { arg = "amount", lte = "5 USDC" }]
        [[action]]
        target = "USDC"
        function = "approve(address spender, uint256 amount)"
        rules = [{ arg = "spender", eq = "router" }, { arg = "amount", lte = "100 USDC" }]
        max_uses = 2
        [[action]]
        target = "router"
        function = "swap(uint256 amountIn, uint256 amountOutMin, address tokenIn, address tokenOut, address to)"
        rules = [{ arg = "tokenIn", eq = "USDC" }, { arg = "tokenOut", eq = "WETH" }, { arg = "to", eq = "self" }]
        spend = { arg = "amountIn", max = "1000 USDC" }
        period = "daily"
        "#,
    );
    let text = lines.join("\n");
    assert!(text.contains("to = acme (0x"), "{text}");
    assert!(text.contains("amount ≤ 5 USDC"), "{text}");
    assert!(text.contains("spender = router ("), "{text}");
    assert!(text.contains("amount ≤ 100 USDC"), "{text}");
    assert!(text.contains("to = self ("), "{text}");
    assert!(
        text.contains("at most 1000 USDC per day"),
        "the router's amountIn in tokenIn's units: {text}"
    );
    assert!(!text.contains("1000000000"), "no raw amount: {text}");
    assert!(!text.contains("281474976710655"), "no raw end of time: {text}");
}

#[test]
fn a_period_is_said_once_with_the_part_of_it_that_is_open() {
    let lines = describe(
        r#"
        version = 1
        [session]
        valid_until = "2030-01-01T00:00:00Z"
        [[action]]
        name = "pay rent"
        target = "USDC"
        function = "transfer(address to, uint256 amount)"
        spend = { arg = "amount", max = "100 USDC" }
        max_uses = 1
        period = { monthly = true, active_for = "1 day" }
        [[action]]
        name = "trade"
        target = "USDC"
        function = "approve(address spender, uint256 amount)"
        max_uses = 5
        period = { every = "1 day", active_from = "8 hours", active_for = "12 hours" }
        [[action]]
        name = "weekly keeper"
        target = "USDC"
        function = "approve(address spender, uint256 amount)"
        max_uses = 3
        period = { every = "7 days", start = "2026-01-05T00:00:00Z", active_for = "5 days" }
        "#,
    );
    let text = lines.join("\n");
    assert!(
        text.contains(
            "at most 100 USDC and 1 call per calendar month, only on day 1 of each month"
        ),
        "{text}"
    );
    assert_eq!(text.matches("per calendar month").count(), 1, "said once: {text}");
    assert!(text.contains("5 calls per day, only between 08:00 and 20:00 UTC each day"), "{text}");
    assert!(
        text.contains("3 calls per week, only from Monday 00:00 to Saturday 00:00 UTC each week"),
        "2026-01-05 is a Monday: {text}"
    );
}

#[test]
fn a_refusal_lists_what_is_allowed_once() {
    use leash_contracts::bindings::SessionKeyValidator::{
        SelectorNotAllowed, SessionKeyValidatorErrors,
    };
    let mut context = PolicyContext::default();
    context.tokens.insert("USDC", USDC, 6);
    let policy = PolicyFile::parse(
        r#"
        version = 1
        [session]
        valid_until = "2030-01-01T00:00:00Z"
        [[action]]
        target = "USDC"
        function = "transfer(address to, uint256 amount)"
        spend = { arg = "amount", max = "5 USDC" }
        [[action]]
        target = "USDC"
        function = "transfer(address to, uint256 amount)"
        spend = { arg = "amount", max = "50 USDC" }
        period = "weekly"
        "#,
        "policy.toml",
        &context,
    )
    .unwrap();
    let session = leash_core::Session { key: leash_core::PublicKey::ecdsa(Address::ZERO), policy };
    let refused = leash_core::Rejection::Module(SessionKeyValidatorErrors::SelectorNotAllowed(
        SelectorNotAllowed {
            callIndex: alloy::primitives::U256::ZERO,
            selector: [0x09, 0x5e, 0xa7, 0xb3].into(),
            allowed: [0xa9, 0x05, 0x9c, 0xbb].into(),
        },
    ));
    let message = refused.explain(&session, &context.tokens);
    assert_eq!(message.matches("transfer(address,uint256)").count(), 1, "{message}");
}

/// Rules by path read as the paths the file wrote, amounts in the token the route starts with.
#[test]
fn rules_by_path_are_said_by_their_path() {
    let mut context = PolicyContext::default();
    context.tokens.insert("USDC", USDC, 6);
    context.tokens.insert("WETH", WETH, 18);
    context.tokens.insert("DAI", Address::repeat_byte(0xda), 18);
    context.addresses.insert("uniswap_v3_router".into(), ROUTER);
    context.addresses.insert("uniswap_v2_router".into(), Address::repeat_byte(0x22));
    context.account = Some(Address::repeat_byte(0x5e));
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    let text = |file: &str| {
        let body = std::fs::read_to_string(examples.join(file)).unwrap();
        let (policy, names) = PolicyFile::parse_named(&body, file, &context).unwrap();
        policy.describe_named(&context.tokens, &names).join("\n")
    };
    let v3 = text("uniswap-v3-bot.toml");
    for said in [
        "params.tokenIn = USDC",
        "params.recipient = self",
        "params.path.token[0] = USDC",
        "params.path.token[*] one of USDC",
        "params.path.fee[*] one of 500, 3000",
        "at most 1000 USDC per day",
    ] {
        assert!(v3.contains(said), "`{said}` is not in:\n{v3}");
    }
    assert!(!v3.contains("1000000000"), "amounts are in USDC:\n{v3}");
    assert!(!v3.contains("the value a path"), "every path has its name:\n{v3}");
    let v2 = text("uniswap-v2-bot.toml");
    for said in ["path[0] = USDC", "path[-1] = WETH", "len(path) ≤ 3", "at most 1000 USDC per day"]
    {
        assert!(v2.contains(said), "`{said}` is not in:\n{v2}");
    }
}
