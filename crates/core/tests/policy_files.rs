//! Policy files: every shipped example reads, and each kind of bad input gives an error naming the file, the
//! line and the problem.

use alloy::primitives::{address, Address, U256};
use leash_core::{
    policy_schema, CallScope, Condition, Error, Period, PolicyContext, PolicyFile, Target,
};
use std::path::Path;

const ACCOUNT: Address = address!("00000000000000000000000000000000000000aa");
const USDC: Address = address!("0000000000000000000000000000000000005dc0");
const WETH: Address = address!("0000000000000000000000000000000000000e78");

fn context() -> PolicyContext {
    let mut context = PolicyContext::default();
    context.tokens.insert("USDC", USDC, 6);
    context.tokens.insert("WETH", WETH, 18);
    context.tokens.insert("DAI", Address::repeat_byte(0xd0), 18);
    let names = [
        ("router", 0x70),
        ("game", 0x6a),
        ("vault", 0x7a),
        ("uniswap_v2_router", 0x72),
        ("uniswap_v3_router", 0x73),
        ("aave_pool", 0xaa),
        ("seaport", 0x5e),
        ("collection", 0xc0),
        ("permit2", 0x22),
    ];
    for (name, byte) in names {
        context.addresses.insert(name.into(), Address::repeat_byte(byte));
    }
    context.account = Some(ACCOUNT);
    context
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies")
}

#[test]
fn every_example_policy_reads() {
    let mut read = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        let policy = PolicyFile::load(&path, &context())
            .unwrap_or_else(|e| panic!("{} does not read: {e}", path.display()));
        assert!(
            !policy.actions.is_empty() || !policy.signing.is_empty(),
            "{} allows nothing",
            path.display()
        );
        read += 1;
    }
    assert!(read >= 7, "only {read} example policies");
}

#[test]
fn subscription_reads_as_written() {
    let policy = PolicyFile::load(examples().join("subscription.toml"), &context()).unwrap();
    let action = &policy.actions[0];
    assert_eq!(action.target, Target::Contract(USDC));
    assert_eq!(action.call, CallScope::Function([0xa9, 0x05, 0x9c, 0xbb].into()));
    assert_eq!(action.amount_cap.as_ref().unwrap().offset, 32);
    assert_eq!(U256::from(action.amount_cap.as_ref().unwrap().cap), U256::from(100_000_000u64));
    assert_eq!(action.max_uses, Some(1));
    let merchant = address!("4d65726368616e74000000000000000000000001");
    assert_eq!(action.rules[0].offset, 0);
    assert_eq!(action.rules[0].condition, Condition::Eq(merchant.into_word().into()));
    assert!(matches!(action.period, Period::Monthly { active } if active.duration == 86_400));

    // Both spellings allow exactly the first day of each month of 2027.
    let windows =
        PolicyFile::load(examples().join("subscription-windows.toml"), &context()).unwrap();
    let compact = &policy.actions[0].period;
    let explicit = &windows.actions[0].period;
    for t in (1_798_761_600u64..1_830_297_600).step_by(3_541) {
        assert_eq!(compact.resolve(t).is_ok(), explicit.resolve(t).is_ok(), "at {t}");
    }
}

#[test]
fn self_and_names_resolve() {
    let policy = PolicyFile::load(examples().join("trading-bot.toml"), &context()).unwrap();
    let to = &policy.actions[0].rules[2];
    assert_eq!(to.offset, 128);
    assert_eq!(to.condition, Condition::Eq(ACCOUNT.into_word().into()));
    assert_eq!(policy.gas_budget, Some(50_000_000_000_000_000));
}

/// Reads `body` as `bad.toml` and returns (line, message).
fn error_of(body: &str) -> (usize, String) {
    match PolicyFile::parse(body, "policies/bad.toml", &context()) {
        Err(Error::File { path, line, message, .. }) => {
            assert_eq!(path, Path::new("policies/bad.toml"));
            (line, message)
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

const HEAD: &str = "version = 1\n[session]\nvalid_until = \"2027-01-01T00:00:00Z\"\n[[action]]\ntarget = \"USDC\"\n";

#[test]
fn bad_input_names_file_line_and_problem() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("syntax", "version = 1\n[session\n", 2, "unclosed table"),
        (
            "unknown field",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nspending = 3\n"),
            7,
            "unknown field `spending`",
        ),
        (
            "wrong unit",
            &format!("{HEAD}function = \"native\"\nperiod = \"1 dya\"\n"),
            7,
            "not a period",
        ),
        (
            "wrong unit in an amount",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nspend = {{ arg = \"amount\", max = \"100 USD\" }}\n"),
            7,
            "unknown token `USD`",
        ),
        (
            "amount overflow",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nspend = {{ arg = \"amount\", max = \"100000000000000000000000 USDC\" }}\n"),
            7,
            "96 bits",
        ),
        (
            "too many decimals",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nrules = [{{ arg = \"amount\", lte = \"0.0000001 USDC\" }}]\n"),
            7,
            "7 decimals",
        ),
        (
            "unknown token as target",
            "version = 1\n[session]\n[[action]]\ntarget = \"EURC\"\nfunction = \"any\"\n",
            4,
            "`EURC` is not an address",
        ),
        (
            "window end before start",
            "version = 1\n[session]\nvalid_from = \"2027-01-01T00:00:00Z\"\nvalid_until = \"2026-01-01T00:00:00Z\"\n",
            4,
            "before valid_from",
        ),
        (
            "period window end before start",
            &format!("{HEAD}function = \"native\"\nperiod = {{ windows = [[\"2027-02-01T00:00:00Z\", \"2027-01-01T00:00:00Z\"]] }}\n"),
            7,
            "not after its start",
        ),
        (
            "argument not in the ABI",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nrules = [{{ arg = \"recipient\", eq = \"self\" }}]\n"),
            7,
            "no argument named `recipient` (its arguments: to, amount)",
        ),
        (
            "dynamic argument",
            &format!("{HEAD}function = \"mint(string name, uint256 amount)\"\nrules = [{{ arg = \"name\", eq = 1 }}]\n"),
            7,
            "dynamic type",
        ),
        (
            "bad time",
            "version = 1\n[session]\nvalid_until = \"next tuesday\"\n",
            3,
            "not an RFC 3339 time",
        ),
        (
            "two operators in one rule",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nrules = [{{ arg = \"amount\", lte = 1, gte = 0 }}]\n"),
            7,
            "exactly one of eq",
        ),
        ("unsupported version", "version = 2\n[session]\n", 1, "version 2 is not supported"),
        (
            "value of the wrong type",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nrules = [{{ arg = \"to\", eq = 5 }}]\n"),
            7,
            "not a value for an argument of type address",
        ),
        (
            "cap in another token",
            &format!("{HEAD}function = \"transfer(address to, uint256 amount)\"\nspend = {{ arg = \"amount\", max = \"1 WETH\" }}\n"),
            7,
            "is in WETH but the action's target is USDC",
        ),
    ];
    for (name, body, line, expected) in cases {
        let (got_line, message) = error_of(body);
        assert!(message.contains(expected), "{name}: message `{message}` lacks `{expected}`");
        assert_eq!(got_line, *line, "{name}: `{message}`");
    }
}

#[test]
fn error_display_starts_with_file_and_line() {
    let err = PolicyFile::parse("version = 1\n[session\n", "p.toml", &context()).unwrap_err();
    assert!(err.to_string().starts_with("p.toml:2:"), "{err}");
}

#[test]
fn missing_file_is_reported_with_its_path() {
    let err = PolicyFile::load("/nonexistent/policy.toml", &context()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/policy.toml"), "{err}");
}

#[test]
fn schema_describes_every_top_level_field() {
    let schema = policy_schema();
    let properties = schema["properties"].as_object().expect("object schema");
    for field in ["version", "tokens", "addresses", "session", "action"] {
        assert!(properties.contains_key(field), "schema lacks `{field}`");
    }
    assert_eq!(schema["additionalProperties"], false);
    let text = schema.to_string();
    for field in
        ["valid_until", "gas_budget", "max_ops", "spend", "one_of", "active_for", "windows"]
    {
        assert!(text.contains(field), "schema lacks `{field}`");
    }
}

#[test]
fn bad_named_address_points_at_its_line() {
    let (line, message) = error_of("version = 1\n[addresses]\nbob = \"0x12\"\n[session]\n");
    assert_eq!(line, 3);
    assert!(message.contains("[addresses] bob: `0x12` is not an address"), "{message}");
}

#[test]
fn a_vault_deposit_takes_the_underlying_token_units() {
    let mut context = context();
    context.tokens.insert("yUSDC", Address::repeat_byte(0x7a), 6);
    let policy = PolicyFile::load(examples().join("keeper.toml"), &context).unwrap();
    assert_eq!(
        U256::from(policy.actions[1].amount_cap.as_ref().unwrap().cap),
        U256::from(10_000_000_000u64)
    );
}

/// The schema committed for editors and validators must be the one the types generate
/// (`LEASH_UPDATE_SCHEMA=1 cargo test -p leash-core --test integration policy_files` rewrites it).
#[test]
fn committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy.schema.json");
    let fresh = serde_json::to_string_pretty(&policy_schema()).unwrap() + "\n";
    if std::env::var_os("LEASH_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/policy.schema.json is out of date: run `LEASH_UPDATE_SCHEMA=1 cargo test -p leash-core --test integration policy_files`"
    );
}

#[test]
fn rules_on_the_spent_argument_read_in_the_tokens_units() {
    use leash_contracts::bindings::SessionKeyValidator::{
        ArgumentRuleFailed, SessionKeyValidatorErrors,
    };
    use leash_core::{PublicKey, Rejection, Session};

    let policy = PolicyFile::parse(
        r#"
        version = 1
        [session]
        [[action]]
        target = "USDC"
        function = "transfer(address to, uint256 amount)"
        rules = [{ arg = "amount", lte = "100 USDC" }, { arg = "to", neq = "0x00000000000000000000000000000000000000aa" }]
        spend = { arg = "amount", max = "150 USDC" }
        "#,
        "inline.toml",
        &context(),
    )
    .unwrap();
    let session = Session { key: PublicKey::ecdsa(Address::ZERO), policy };
    let tokens = context().tokens;
    let words = session.describe(&tokens).join("\n");
    assert!(words.contains("amount ≤ 100 USDC"), "{words}");
    assert!(words.contains("at most 150 USDC"), "{words}");

    let refused = |rule: u64, op: u8, value: U256| {
        Rejection::Module(SessionKeyValidatorErrors::ArgumentRuleFailed(ArgumentRuleFailed {
            callIndex: U256::ZERO,
            ruleIndex: U256::from(rule),
            op,
            value: value.into(),
        }))
        .explain(&session, &tokens)
    };
    assert_eq!(
        refused(0, 5, U256::from(101_000_000u64)),
        "call 1: amount is 101 USDC; the policy requires amount ≤ 100 USDC"
    );
    // A rule on an argument the cap does not count keeps its own form (here an address).
    let to = U256::from_be_slice(ACCOUNT.as_slice());
    assert!(refused(1, 1, to).contains(&format!("to is {ACCOUNT}")), "{}", refused(1, 1, to));
}

const POLICY_HEAD: &str = r#"
version = 1
[addresses]
merchant = "0x1111111111111111111111111111111111111111"
permit2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
[session]
valid_until = "2027-01-01T00:00:00Z"
gas_budget = "0.01 ETH"
"#;

fn read(body: &str) -> Result<leash_core::SessionPolicy, Error> {
    PolicyFile::parse(&format!("{POLICY_HEAD}{body}"), "signing.toml", &context())
}

#[test]
fn typed_data_signing_reads_types_fields_and_nested_structs() {
    use alloy::primitives::keccak256;
    let policy = read(
        r#"
        [[signing.typed_data]]
        name = "USDC permits for the merchant"
        verifier = "USDC"
        type = "Permit(address owner, address spender, uint256 value, uint256 nonce, uint256 deadline)"
        rules = [{ field = "spender", eq = "merchant" }, { field = "value", lte = "100 USDC" }]

        [[signing.typed_data]]
        verifier = "permit2"
        type = "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
        rules = [{ field = "spender", eq = "merchant" }, { field = "details.amount", lte = "100 USDC" }, { field = "details.token", eq = "USDC" }]
        "#,
    )
    .unwrap();
    assert!(!policy.signing.any);
    let [permit, single] = &policy.signing.typed_data[..] else { panic!("two scopes") };
    assert_eq!(permit.verifier, USDC);
    assert_eq!(
        permit.type_hash,
        keccak256(
            "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
        )
    );
    assert!(permit.nested.is_empty());
    let merchant = address!("1111111111111111111111111111111111111111");
    assert_eq!(permit.rules[0].offset, 32);
    assert_eq!(permit.rules[0].condition, Condition::Eq(merchant.into_word().into()));
    assert_eq!(permit.rules[1].offset, 64);
    assert_eq!(permit.rules[1].condition, Condition::Lte(U256::from(100_000_000u64)));

    assert_eq!(
        single.type_hash,
        keccak256(
            "PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)\
             PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)"
        )
    );
    // One nested struct: its hash is the primary type's first word, its 4 fields follow the primary's 3.
    assert_eq!(single.nested.len(), 1);
    assert_eq!(single.nested[0].field, 0);
    assert_eq!(single.nested[0].length, 128);
    assert_eq!(
        single.nested[0].type_hash,
        keccak256("PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)")
    );
    let offsets: Vec<u16> = single.rules.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [32, 96 + 32, 96]);

    // Described field by field.
    let session = leash_core::Session {
        key: leash_core::PublicKey::ecdsa(Address::repeat_byte(1)),
        policy: policy.clone(),
    };
    let lines = session.describe(&context().tokens);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("may sign USDC permits for the merchant (Permit typed data)")
                && l.contains("value ≤ 100 USDC")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("details.amount ≤")), "{lines:?}");
}

#[test]
fn signing_must_say_what_or_opt_in_to_anything() {
    let empty = read("[signing]\n").unwrap_err().to_string();
    assert!(empty.contains("typed_data") && empty.contains("any = true"), "{empty}");
    let off = read("[signing]\nany = false\n").unwrap_err().to_string();
    assert!(off.contains("any = true"), "{off}");

    let policy = read("[signing]\nany = true\n").unwrap();
    assert!(policy.signing.any && policy.signing.typed_data.is_empty());
    let session =
        leash_core::Session { key: leash_core::PublicKey::ecdsa(Address::repeat_byte(1)), policy };
    assert_ne!(session.to_onchain().unwrap().flags & leash_contracts::SessionFlags::SIGN_ANY, 0);
    let lines = session.describe(&context().tokens);
    assert!(lines.iter().any(|l| l.contains("may sign any message")), "{lines:?}");

    // Unknown fields, bad types, unknown fields of the type, and the old place of `signing`.
    let unknown = read("[signing]\nany = true\nverifiers = []\n").unwrap_err().to_string();
    assert!(unknown.contains("unknown field `verifiers`"), "{unknown}");
    let bad =
        read("[[signing.typed_data]]\nverifier = \"USDC\"\ntype = \"Permit(address owner\"\n")
            .unwrap_err()
            .to_string();
    assert!(bad.contains("not closed"), "{bad}");
    let field = read(
        "[[signing.typed_data]]\nverifier = \"USDC\"\ntype = \"Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)\"\nrules = [{ field = \"amount\", lte = \"1 USDC\" }]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(field.contains("no field `amount`") && field.contains("spender"), "{field}");
    let moved = PolicyFile::parse(
        "version = 1\n[session]\nsigning = { verifiers = [] }\n[[action]]\ntarget = \"USDC\"\nfunction = \"any\"\n",
        "old.toml",
        &context(),
    )
    .unwrap_err()
    .to_string();
    assert!(moved.contains("top-level [signing]"), "{moved}");
}

#[test]
fn a_counted_signing_scope_reads_its_count_period_and_fields() {
    let policy = PolicyFile::load(examples().join("x402-payments.toml"), &context()).unwrap();
    let [scope] = &policy.signing.typed_data[..] else { panic!("one scope") };
    let limit = scope.max_uses.as_ref().expect("counted");
    assert_eq!(limit.count, 100);
    assert_eq!(limit.period, Period::every(86_400));
    // TransferWithAuthorization(from, to, value, validAfter, validBefore, nonce): words 3, 4 and 5.
    assert_eq!((limit.valid_after, limit.valid_before, limit.nonce), (96, 128, 160));
    let text = policy.describe(&context().tokens).join("\n");
    assert!(
        text.contains("at most 100 such messages take effect per day (at most 1 USDC)"),
        "{text}"
    );

    // A type without EIP-3009's fields cannot be counted; a zero count and overlapping windows are errors.
    let head = r#"
        [[signing.typed_data]]
        verifier = "USDC"
        type = "Voucher(address to,uint256 value,uint64 notBefore,uint64 deadline,bytes32 salt)"
        "#;
    let voucher = read(&format!("{head}max_uses = {{ count = 5, per = \"1 hour\" }}\n"))
        .unwrap_err()
        .to_string();
    assert!(voucher.contains("max_uses counts EIP-3009 messages"), "{voucher}");
    let eip3009 = r#"
        [[signing.typed_data]]
        verifier = "USDC"
        type = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
        "#;
    let zero = read(&format!("{eip3009}max_uses = {{ count = 0, per = \"1 hour\" }}\n"))
        .unwrap_err()
        .to_string();
    let overlapping = read(&format!(
        "{eip3009}max_uses = {{ count = 1, per = {{ windows = [[\"2027-01-02T00:00:00Z\", \"2027-01-03T00:00:00Z\"], [\"2027-01-01T00:00:00Z\", \"2027-01-10T00:00:00Z\"]] }} }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(overlapping.contains("windows overlap or are out of order"), "{overlapping}");
    assert!(zero.contains("max_uses count 0 is out of range: write 1 to 65,535"), "{zero}");
}
